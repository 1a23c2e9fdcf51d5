//! The wire: HTTP layer (§10.2), envelope and reply layout (§1, §7), the request pipeline and
//! its error shapes (§10.3), the published hash and 3DES vectors (§4.5, §5.2).

mod support;

use std::time::Duration;

use support::*;

const VECTOR_3_TOKEN_AUTH: &str = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><sps-api-request id=\"ST01-00131-101\">\
<merchant_id>99999</merchant_id><service_id>001</service_id><cust_code>cust01</cust_code><order_id>order-0001</order_id>\
<item_id>item01</item_id><item_name>g2WDWINnj6SVaQ==</item_name><amount>1080</amount>\
<sps_cust_info_return_flg>0</sps_cust_info_return_flg><pay_method_info><dealings_type>10</dealings_type></pay_method_info>\
<pay_option_manage><token>TOKENVALUE</token><token_key>TOKENKEYVALUE</token_key><cust_manage_flg>0</cust_manage_flg>\
<cardbrand_return_flg>1</cardbrand_return_flg></pay_option_manage><encrypted_flg>0</encrypted_flg>\
<request_date>20240102030405</request_date><limit_second>600</limit_second>\
<sps_hashcode>468da3b81edc11a27ffa1a4206488ec0a7702ba9</sps_hashcode></sps-api-request>";

const VECTOR_2_COMMIT: &str = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><sps-api-request id=\"ST02-00101-101\">\
<merchant_id>99999</merchant_id><service_id>001</service_id><tracking_id>00000000000001</tracking_id>\
<processing_datetime></processing_datetime><request_date>20240102030405</request_date><limit_second>600</limit_second>\
<sps_hashcode>8974f4bcd9df4c4005cc3daee32aeaa7f95f18d5</sps_hashcode></sps-api-request>";

const VECTOR_1_SALES: &str = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><sps-api-request id=\"ST02-00201-101\">\
<merchant_id>99999</merchant_id><service_id>001</service_id><tracking_id>00000000000001</tracking_id>\
<processing_datetime>20240102030405</processing_datetime><pay_option_manage><amount>1000</amount></pay_option_manage>\
<request_date>20240102030405</request_date><sps_hashcode>e05ff8a73a9f293ca287e7ddbcf4bb187866dc24</sps_hashcode></sps-api-request>";

#[tokio::test]
async fn section_4_5_hash_vectors_are_accepted_end_to_end() {
    // The test's own hash implementation agrees with the published vectors...
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        hashcode(
            &v(&[
                "99999",
                "001",
                "00000000000001",
                "20240102030405",
                "1000",
                "20240102030405"
            ]),
            HASH_KEY
        ),
        "e05ff8a73a9f293ca287e7ddbcf4bb187866dc24"
    );
    // ...and the emulator accepts the three documents that carry them, verbatim.
    let (emulator, client) = started().await;
    let auth = client.send(VECTOR_3_TOKEN_AUTH).await.ok();
    assert_eq!(
        auth.tag("res_tracking_id").as_deref(),
        Some("00000000000001")
    );
    assert_eq!(auth.tag("cardbrand_code").as_deref(), Some("V"));
    client.send(VECTOR_2_COMMIT).await.ok();
    let sales = client.send(VECTOR_1_SALES).await.ok();
    assert_eq!(
        sales.tag("res_process_date").as_deref(),
        Some("20240102000000")
    );
    let payment = emulator.payment("00000000000001").unwrap();
    assert_eq!(
        (payment.authorized_amount, payment.captured_amount),
        (1080, 1000)
    );
    assert_eq!(payment.card.masked_number, "************4242");

    // The same sales document with one value changed no longer matches its hash.
    let tampered = VECTOR_1_SALES.replace("<amount>1000</amount>", "<amount>1001</amount>");
    let fresh = start().await;
    Client::new(&fresh)
        .send(&tampered)
        .await
        .ng("10109999", None);
}

#[tokio::test]
async fn section_5_2_des_vectors_and_encrypted_flg_round_trip() {
    assert_eq!(des_encrypt("4242424242424242"), "5vT/EfuukW1PQxa2WH9DMg==");
    assert_eq!(des_encrypt("202412"), "QwPNqQ7RkLk=");
    assert_eq!(des_encrypt("V"), "LkNTJ4t+niI=");
    assert_eq!(des_encrypt("2"), "OHgSV6AnY+U=");

    let (_emulator, client) = started().await;
    let auth = Req::head(AUTH_CARD)
        .field("cust_code", "cust01")
        .field("order_id", "enc-1")
        .field("item_id", "item01")
        .field("amount", "1500")
        .group("pay_method_info", |g| {
            g.encrypted("cc_number", "4242424242424242")
                .encrypted("cc_expiration", "203012")
                .encrypted("security_code", "123")
                .encrypted("dealings_type", "10")
        })
        .group("pay_option_manage", |g| {
            g.field("cust_manage_flg", "0")
                .field("cardbrand_return_flg", "1")
        })
        .field("encrypted_flg", "1")
        .dated();
    let reply = client.send(&auth.signed()).await.ok();
    assert_eq!(
        reply.tag("cardbrand_code").as_deref(),
        Some("LkNTJ4t+niI="),
        "brand V, encrypted"
    );
    assert_eq!(des_decrypt(&reply.tag("cc_company_code").unwrap()), "99665");
    assert_eq!(des_decrypt(&reply.tag("recognized_no").unwrap()), "123456");
    let tracking_id = reply.tag("res_tracking_id").unwrap();
    assert_eq!(tracking_id.len(), 14, "the tracking id is never encrypted");

    let inquiry = Req::head(INQUIRY)
        .field("tracking_id", &tracking_id)
        .field("response_info_type", "2")
        .group("pay_option_manage", |g| {
            g.field("cardbrand_return_flg", "1")
        })
        .field("encrypted_flg", "1")
        .dated();
    let reply = client.send(&inquiry.signed()).await.ok();
    assert_eq!(
        des_decrypt(&reply.tag("cc_number").unwrap()),
        "************4242"
    );
    assert_eq!(des_decrypt(&reply.tag("cc_expiration").unwrap()), "203012");
    assert_eq!(des_decrypt(&reply.tag("payment_status").unwrap()), "1");
    assert_eq!(des_decrypt(&reply.tag("commit_status").unwrap()), "0");
    assert_eq!(
        reply.tag("res_status").as_deref(),
        Some("0"),
        "outside res_pay_method_info stays plain"
    );

    // Plaintext card data under encrypted_flg=1 does not decrypt: type 04 of the field.
    let bad = Req::head(AUTH_CARD)
        .field("cust_code", "cust01")
        .field("order_id", "enc-2")
        .field("item_id", "item01")
        .field("amount", "1500")
        .group("pay_method_info", |g| {
            g.field("cc_number", "4242424242424242")
                .encrypted("cc_expiration", "203012")
                .encrypted("dealings_type", "10")
        })
        .field("encrypted_flg", "1")
        .dated();
    client.send(&bad.signed()).await.ng("10104200", None);
}

#[tokio::test]
async fn replies_have_the_sandbox_layout_byte_for_byte() {
    let (_emulator, client) = started().await;
    let auth = client
        .send_token_auth("layout-1", 1000, "TOKEN-VISA")
        .await
        .ok();
    assert_eq!(
        auth.content_type.as_deref(),
        Some("text/xml;charset=Shift_JIS")
    );
    let expected_auth = "<?xml version='1.0' encoding='Shift_JIS' ?>\n  <sps-api-response id=\"ST01-00131-101\">\n\
    \x20   <res_result>OK</res_result>\n    <res_sps_transaction_id>C99999001ST010013110100000000001</res_sps_transaction_id>\n\
    \x20   <res_tracking_id>00000000000001</res_tracking_id>\n    <res_pay_method_info>\n      <cc_company_code>99665</cc_company_code>\n\
    \x20     <cardbrand_code>V</cardbrand_code>\n      <recognized_no>123456</recognized_no>\n      \n    </res_pay_method_info>\n\
    \x20   <res_process_date>20240102030405</res_process_date>\n    <res_err_code/>\n    <res_date>20240102030405</res_date>\n\
    \x20 </sps-api-response>\n";
    assert_eq!(auth.text, expected_auth);

    let commit = client.send_on_payment(COMMIT, "00000000000001").await.ok();
    let expected_commit = "<?xml version='1.0' encoding='Shift_JIS' ?>\n  <sps-api-response id=\"ST02-00101-101\">\n\
    \x20   <res_result>OK</res_result>\n    <res_sps_transaction_id>C99999001ST020010110100000000002</res_sps_transaction_id>\n\
    \x20   <res_process_date>20240102030405</res_process_date>\n    <res_err_code/>\n    <res_date>20240102030405</res_date>\n\
    \x20 </sps-api-response>\n";
    assert_eq!(commit.text, expected_commit);

    let again = client.send_on_payment(COMMIT, "00000000000001").await;
    let expected_ng = "<?xml version='1.0' encoding='Shift_JIS' ?>\n  <sps-api-response id=\"ST02-00101-101\">\n\
    \x20   <res_result>NG</res_result>\n    <res_err_code>10160999</res_err_code>\n    <res_date>20240102030405</res_date>\n\
    \x20 </sps-api-response>\n";
    assert_eq!(again.text, expected_ng);
}

#[tokio::test]
async fn section_10_2_only_post_to_the_api_path_is_served() {
    let emulator = start().await;
    let http = reqwest::Client::new();
    let body = token_auth("path-1", 100, "TOKEN-VISA").signed();
    let get = http
        .get(emulator.endpoint_url())
        .basic_auth(BASIC_USER, Some(HASH_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    let other = format!("{}/api/other.do", emulator.base_url());
    let post = http
        .post(other)
        .basic_auth(BASIC_USER, Some(HASH_KEY))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404);
    assert_eq!(
        http.get(emulator.base_url()).send().await.unwrap().status(),
        404
    );
    // The Content-Type of the request is ignored (clients send five different ones).
    let odd = http
        .post(emulator.endpoint_url())
        .basic_auth(BASIC_USER, Some(HASH_KEY))
        .header("Content-Type", "application/xhtml+xml")
        .body(sjis(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 200);
    assert!(
        emulator.dump().payments.len() == 1,
        "only the well-addressed request created a payment"
    );
}

#[tokio::test]
async fn section_10_2_bad_basic_credentials_get_401_without_xml() {
    let (emulator, client) = started().await;
    let body = token_auth("auth-1", 100, "TOKEN-VISA").signed();
    for (user, password) in [(BASIC_USER, "wrong"), ("99999002", HASH_KEY), ("", "")] {
        let reply = client
            .try_send(sjis(&body), Some((user, password)))
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{user}:{password}");
        assert!(reply.raw.is_empty(), "no XML body on 401");
    }
    let anonymous = client.try_send(sjis(&body), None).await.unwrap();
    assert_eq!(anonymous.status, 401);
    assert!(emulator.dump().payments.is_empty());
}

#[tokio::test]
async fn section_10_3_step_1_malformed_xml_is_99900999_without_id() {
    let (_emulator, client) = started().await;
    for body in [
        "not xml at all",
        "<sps-api-request id=\"ST02-00101-101\"><merchant_id>99999</service_id></sps-api-request>",
        "<other-root id=\"ST02-00101-101\"></other-root>",
        "<sps-api-request><merchant_id>99999</merchant_id></sps-api-request>",
        "<sps-api-request id=\"ST02-00101-101\"><merchant_id>99999",
    ] {
        client.send(body).await.ng("99900999", None);
    }
}

#[tokio::test]
async fn section_10_3_step_3_unknown_function_id_is_mmm02000_without_id() {
    let (_emulator, client) = started().await;
    let body = Req::head("MG02-00101-101")
        .field("cust_code", "c")
        .dated()
        .signed();
    client.send(&body).await.ng("10102000", None);
    let docomo = Req::head("ST01-00101-401").dated().signed();
    client.send(&docomo).await.ng("40102000", None);
}

#[tokio::test]
async fn section_10_3_step_4_field_validation_errors_have_no_id() {
    let (emulator, client) = started().await;
    // Missing tracking_id (and no sps_transaction_id).
    let no_target = Req::head(COMMIT)
        .field("processing_datetime", NOW)
        .dated()
        .signed();
    client.send(&no_target).await.ng("10103027", None);
    // dealings_type longer than 2: the code recorded from the real sandbox.
    let long_dealings = Req::head(AUTH_CARD)
        .field("cust_code", "c")
        .field("order_id", "v-1")
        .field("item_id", "i")
        .field("amount", "100")
        .group("pay_method_info", |g| {
            g.field("cc_number", "4242424242424242")
                .field("cc_expiration", "203001")
                .field("dealings_type", "1000")
        })
        .field("encrypted_flg", "0")
        .dated()
        .signed();
    client.send(&long_dealings).await.ng("10105202", None);
    // Bad processing_datetime format.
    let bad_date = Req::head(COMMIT)
        .field("tracking_id", "00000000000001")
        .field("processing_datetime", "20241340000000")
        .dated()
        .signed();
    client.send(&bad_date).await.ng("10106029", None);
    // A space inside a numeric value.
    let spaced = Req::head(SALES)
        .field("tracking_id", "00000000000001")
        .group("pay_option_manage", |g| g.field("amount", "10 0"))
        .dated()
        .signed();
    client.send(&spaced).await.ng("10104008", None);
    // A newline inside a value.
    let newline = Req::head(COMMIT)
        .field("tracking_id", "0000000\n0000001")
        .dated()
        .signed();
    client.send(&newline).await.ng("10104027", None);
    // Missing request_date, missing hash.
    let undated = Req::head(COMMIT)
        .field("tracking_id", "00000000000001")
        .signed();
    client.send(&undated).await.ng("10103023", None);
    let unhashed = "<sps-api-request id=\"ST02-00101-101\"><merchant_id>99999</merchant_id><service_id>001</service_id>\
        <tracking_id>00000000000001</tracking_id><request_date>20240102030405</request_date></sps-api-request>";
    client.send(unhashed).await.ng("10103025", None);
    assert!(emulator.dump().payments.is_empty());
}

#[tokio::test]
async fn section_10_3_step_5_merchant_must_match_the_basic_auth_merchant() {
    let (_emulator, client) = started().await;
    let other_merchant = Req::new(COMMIT)
        .field("merchant_id", "11111")
        .field("service_id", SERVICE_ID)
        .field("tracking_id", "1")
        .dated()
        .signed();
    client.send(&other_merchant).await.ng("10114001", None);
    let other_service = Req::new(COMMIT)
        .field("merchant_id", MERCHANT_ID)
        .field("service_id", "002")
        .field("tracking_id", "1")
        .dated()
        .signed();
    client.send(&other_service).await.ng("10114002", None);
}

#[tokio::test]
async fn section_4_1_hash_mismatch_is_10109999_without_id() {
    let (emulator, client) = started().await;
    let request = token_auth("hash-1", 1000, "TOKEN-VISA");
    // Wrong key.
    let wrong_key = hashcode(&["99999".to_string()], "OTHERKEY");
    client
        .send(&request.clone().signed_with(&wrong_key))
        .await
        .ng("10109999", None);
    // Upper-case hex of the right hash: the hash is compared as SBPS writes it, lower case.
    client
        .send(&request.clone().signed_with(&request.hash().to_uppercase()))
        .await
        .ng("10109999", None);
    // A client that hashes the base64 text of item_name instead of the decoded name.
    let wire_hashed = Req::head(AUTH_TOKEN)
        .field("cust_code", "cust01")
        .field("order_id", "hash-2")
        .field("item_id", "item01")
        .field("item_name", "g2WDWINnj6SVaQ==")
        .field("amount", "1000")
        .group("pay_method_info", |g| g.field("dealings_type", "10"))
        .group("pay_option_manage", |g| {
            g.field("token", "TOKEN-VISA").field("token_key", "K")
        })
        .dated()
        .signed();
    client.send(&wire_hashed).await.ng("10109999", None);
    assert!(emulator.dump().payments.is_empty());
    // The right hash over the decoded name is accepted.
    client.send(&request.signed()).await.ok();
}

#[tokio::test]
async fn section_10_3_step_8_expired_request_is_10110999_without_id() {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize("exp-1", 1000).await;
    let commit = on_payment(COMMIT, &tracking_id).signed();
    // Default validity 600 s: at +600 s still valid, at +601 s expired.
    emulator.advance_clock(Duration::from_secs(601));
    client.send(&commit).await.ng("10110999", None);
    let with_limit = Req::head(COMMIT)
        .field("tracking_id", &tracking_id)
        .field("processing_datetime", NOW)
        .dated()
        .field("limit_second", "900")
        .signed();
    client.send(&with_limit).await.ok();

    let (emulator, client) = started().await;
    let tracking_id = client.authorize("exp-2", 1000).await;
    emulator.advance_clock(Duration::from_secs(600));
    client.send_on_payment(COMMIT, &tracking_id).await.ok();
    // A request dated in the future is not refused (the sandbox took 5-6 s of skew).
    emulator.set_clock("20240102025900".parse().unwrap());
    client.send_inquiry(&tracking_id, "0").await.ok();
}

#[tokio::test]
async fn section_7_2_identifier_shapes() {
    let (_emulator, client) = started().await;
    let first = client.send_token_auth("id-1", 100, "TOKEN-VISA").await.ok();
    let second = client.send_token_auth("id-2", 100, "TOKEN-VISA").await.ok();
    let t1: u64 = first.tag("res_tracking_id").unwrap().parse().unwrap();
    let t2: u64 = second.tag("res_tracking_id").unwrap().parse().unwrap();
    assert_eq!(t2, t1 + 1, "tracking ids count up by one");
    let tx = second.tag("res_sps_transaction_id").unwrap();
    assert_eq!(tx.len(), 32);
    assert!(tx.starts_with("C99999001ST0100131101"), "{tx}");
    assert_ne!(tx, first.tag("res_sps_transaction_id").unwrap());
    let inquiry = client.send_inquiry(&format!("{t1:014}"), "0").await.ok();
    assert!(
        inquiry
            .tag("res_sps_transaction_id")
            .unwrap()
            .starts_with("C99999001MG0100101101")
    );
}
