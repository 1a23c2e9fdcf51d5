//! The functions and their transitions (§9.1, §10.5), the inquiry, the configuration switches,
//! the management-tool actions (G-8, S-3), the control endpoints, and parallel safety.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use renkei_emulator_sbps::{AdminError, RefundAfterPartial, SalesMode, TestCard, TestToken};
use support::*;

#[tokio::test]
async fn authorization_creates_an_authorized_uncommitted_payment() {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize("auth-ok", 1080).await;
    assert_eq!(
        client.statuses(&tracking_id).await,
        ("0".into(), "1".into())
    );
    let payment = emulator.payment(&tracking_id).unwrap();
    assert_eq!(payment.authorized_amount, 1080);
    assert_eq!(payment.order_id, "auth-ok");
    assert_eq!(payment.card.masked_number, "************1111");

    // res_sps_info appears when asked for, empty while no card is stored for the customer.
    let asked = Req::head(AUTH_TOKEN)
        .field("cust_code", "cust-info")
        .field("order_id", "auth-info")
        .field("item_id", "i")
        .field("amount", "100")
        .field("sps_cust_info_return_flg", "1")
        .group("pay_method_info", |g| g.field("dealings_type", "10"))
        .group("pay_option_manage", |g| {
            g.field("token", "TOKEN-MASTER").field("token_key", "k")
        })
        .dated()
        .signed();
    let reply = client.send(&asked).await.ok();
    assert_eq!(reply.tag("res_sps_cust_no").as_deref(), Some(""));
    assert_eq!(reply.tag("res_sps_payment_no").as_deref(), Some(""));
    assert_eq!(
        reply.tag("cardbrand_code"),
        None,
        "brand only when cardbrand_return_flg=1"
    );
}

#[tokio::test]
async fn raw_card_authorizations_00111_and_00101_approve_luhn_valid_future_cards() {
    let (emulator, client) = started().await;
    for (id, order, number, brand) in [
        (AUTH_CARD, "card-1", "4242424242424242", "V"),
        (AUTH_CARD, "card-2", "5555555555554444", "M"),
        (AUTH_LEGACY, "card-3", "3566002020360505", "J"),
        (AUTH_LEGACY, "card-4", "378282246310005", "A"),
    ] {
        let reply = client
            .send(&card_auth(id, order, 500, number, "202401", "123").signed())
            .await
            .ok();
        assert_eq!(
            reply.tag("cardbrand_code").as_deref(),
            Some(brand),
            "{number}"
        );
        assert_eq!(reply.root_id().as_deref(), Some(id));
    }
    assert_eq!(emulator.dump().payments.len(), 4);
}

#[tokio::test]
async fn section_10_5_auth_scripted_declines_carry_the_id() {
    let (emulator, client) = started().await;
    let cases = [
        ("4000000000100000", "203012", "123", "10123999"), // ends 0000: card unusable
        ("4000000000000002", "203012", "123", "10122999"), // ends 0002: limit exceeded
        ("4000000000000127", "203012", "000", "10161999"), // cvv-fail card with 000
        ("4242424242424242", "202312", "123", "10127999"), // expired before the clock's month
        ("4242424242424241", "203012", "123", "10127999"), // fails Luhn
    ];
    for (i, (number, expiry, cvv, code)) in cases.iter().enumerate() {
        let reply = client
            .send(&card_auth(AUTH_CARD, &format!("decl-{i}"), 500, number, expiry, cvv).signed())
            .await;
        reply.ng(code, Some(AUTH_CARD));
    }
    // The cvv-fail card approves with another security code.
    client
        .send(
            &card_auth(
                AUTH_CARD,
                "decl-ok",
                500,
                "4000000000000127",
                "203012",
                "123",
            )
            .signed(),
        )
        .await
        .ok();
    assert_eq!(emulator.dump().payments.len(), 1);
    // Token cards go through the same script.
    client
        .refused_token_auth("decl-tok", 500, "TOKEN-DECLINE-LIMIT", "10122999")
        .await;
}

#[tokio::test]
async fn section_10_5_auth_unknown_and_expired_tokens() {
    let (emulator, client) = started().await;
    client
        .refused_token_auth("tok-1", 500, "NO-SUCH-TOKEN", "101T1999")
        .await;
    client
        .refused_token_auth("tok-2", 500, "TOKEN-EXPIRED", "101T2999")
        .await;
    // TOKENVALUE only goes with its own token_key.
    client
        .refused_token_auth("tok-3", 500, "TOKENVALUE", "101T1999")
        .await;
    // A token registered at run time works at once.
    emulator
        .register_token(TestToken::new(
            "RUNTIME-TOKEN",
            TestCard::new("4111111111111111"),
        ))
        .unwrap();
    client
        .send_token_auth("tok-4", 500, "RUNTIME-TOKEN")
        .await
        .ok();
}

#[tokio::test]
async fn section_10_5_auth_duplicate_order_id_is_10196999_without_id() {
    let (emulator, client) = started().await;
    client.authorize("dup-1", 500).await;
    client
        .send_token_auth("dup-1", 500, "TOKEN-VISA")
        .await
        .ng("10196999", None);
    // By default a declined attempt uses up its order id too.
    client
        .refused_token_auth("dup-2", 500, "TOKEN-DECLINE-UNUSABLE", "10123999")
        .await;
    client
        .send_token_auth("dup-2", 500, "TOKEN-VISA")
        .await
        .ng("10196999", None);
    assert_eq!(emulator.dump().payments.len(), 1);

    // Switched off, the retry after a decline goes through.
    let mut config = test_config();
    config.rules.declined_order_id_is_used = false;
    let emulator = start_with(config).await;
    let client = Client::new(&emulator);
    client
        .refused_token_auth("dup-3", 500, "TOKEN-DECLINE-UNUSABLE", "10123999")
        .await;
    client
        .send_token_auth("dup-3", 500, "TOKEN-VISA")
        .await
        .ok();
}

fn stored_card_auth(order_id: &str, token: Option<&str>, store: bool) -> String {
    Req::head(AUTH_TOKEN)
        .field("cust_code", "member-7")
        .field("order_id", order_id)
        .field("item_id", "i")
        .field("amount", "700")
        .field("sps_cust_info_return_flg", "1")
        .group("pay_method_info", |g| g.field("dealings_type", "10"))
        .group("pay_option_manage", |g| {
            let g = match token {
                Some(t) => g.field("token", t).field("token_key", "k"),
                None => g,
            };
            g.field("cust_manage_flg", if store { "1" } else { "0" })
                .field("cardbrand_return_flg", "1")
        })
        .dated()
        .signed()
}

#[tokio::test]
async fn section_10_5_auth_charges_the_stored_card_when_no_token_is_given() {
    let (emulator, client) = started().await;
    client
        .send(&stored_card_auth("stored-0", None, false))
        .await
        .ng("10195999", Some(AUTH_TOKEN));
    let stored = client
        .send(&stored_card_auth("stored-1", Some("TOKEN-JCB"), true))
        .await
        .ok();
    let cust_no = stored.tag("res_sps_cust_no").unwrap();
    assert_eq!(cust_no.len(), 12);
    assert_eq!(stored.tag("res_sps_payment_no").as_deref(), Some("001"));
    let charged = client
        .send(&stored_card_auth("stored-2", None, false))
        .await
        .ok();
    assert_eq!(
        charged.tag("cardbrand_code").as_deref(),
        Some("J"),
        "the stored JCB card was charged"
    );
    assert_eq!(charged.tag("res_sps_cust_no"), Some(cust_no));
    assert_eq!(emulator.dump().stored_cards.len(), 1);
}

#[tokio::test]
async fn section_10_5_commit_once_only_10160999() {
    let (_emulator, client) = started().await;
    let tracking_id = client.authorize("commit-1", 1000).await;
    let commit = on_payment(COMMIT, &tracking_id).signed();
    let first = client.send(&commit).await.ok();
    assert_eq!(
        first.tag("res_tracking_id"),
        None,
        "a commit reply has no tracking id"
    );
    assert_eq!(
        client.statuses(&tracking_id).await,
        ("1".into(), "1".into())
    );
    client.send(&commit).await.ng("10160999", Some(COMMIT));
    // Commit after sales on a never-committed payment, and after a cancel.
    let sold = client.authorize("commit-2", 1000).await;
    client.send_on_payment(SALES, &sold).await.ok();
    client.refused_on_payment(COMMIT, &sold, "10160999").await;
    let cancelled = client.authorize("commit-3", 1000).await;
    client.send_on_payment(CANCEL, &cancelled).await.ok();
    client
        .refused_on_payment(COMMIT, &cancelled, "10160999")
        .await;
}

#[tokio::test]
async fn section_10_5_sales_accepts_less_refuses_more_10179999() {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize_and_commit("sales-1", 1080).await;
    client
        .refused_with_amount(SALES, &tracking_id, 1081, "10179999")
        .await;
    assert_eq!(
        client.statuses(&tracking_id).await.1,
        "1",
        "a refused sale changes nothing"
    );
    let reply = client.send_with_amount(SALES, &tracking_id, 500).await.ok();
    assert_eq!(
        reply.tag("res_process_date").as_deref(),
        Some("20240102000000"),
        "sales date at 000000"
    );
    assert_eq!(
        client.statuses(&tracking_id).await,
        ("1".into(), "2".into())
    );
    let payment = emulator.payment(&tracking_id).unwrap();
    assert_eq!(
        (payment.authorized_amount, payment.captured_amount),
        (1080, 500)
    );
    // Without amount, the full authorized amount is sold, with or without a commit.
    let uncommitted = client.authorize("sales-2", 1080).await;
    client.send_on_payment(SALES, &uncommitted).await.ok();
    let payment = emulator.payment(&uncommitted).unwrap();
    assert_eq!(payment.captured_amount, 1080);
    assert_eq!(
        client.statuses(&uncommitted).await,
        ("0".into(), "2".into()),
        "commit_status stays 0"
    );
}

#[tokio::test]
async fn section_10_5_double_sales_10141999_and_sales_after_cancel_10140999() {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize_and_commit("double-1", 1000).await;
    let sale = on_payment(SALES, &tracking_id).signed();
    client.send(&sale).await.ok();
    client.send(&sale).await.ng("10141999", Some(SALES));
    client
        .send_with_amount(PARTIAL_REFUND, &tracking_id, 100)
        .await
        .ok();
    client.send(&sale).await.ng("10141999", Some(SALES));
    let cancelled = client.authorize_and_commit("double-2", 1000).await;
    client.send_on_payment(CANCEL_REFUND, &cancelled).await.ok();
    client
        .refused_on_payment(SALES, &cancelled, "10140999")
        .await;
    assert_eq!(
        emulator.payment(&tracking_id).unwrap().captured_amount,
        1000
    );
}

#[tokio::test]
async fn section_10_5_cancel_or_refund_00303_voids_before_sales_refunds_after() {
    let (emulator, client) = started().await;
    // Void before sales: 1 → 3, actual time as process date; twice → 45.
    let voided = client.authorize_and_commit("303-1", 1000).await;
    let cancel = on_payment(CANCEL_REFUND, &voided).signed();
    let reply = client.send(&cancel).await.ok();
    assert_eq!(reply.tag("res_process_date").as_deref(), Some(NOW));
    assert_eq!(
        client.statuses(&voided).await,
        ("1".into(), "3".into()),
        "commit_status kept"
    );
    client
        .send(&cancel)
        .await
        .ng("10145999", Some(CANCEL_REFUND));
    // Refund after sales: 2 → 4, date-only process date; twice → 46.
    let refunded = client.authorize_and_commit("303-2", 1000).await;
    client.send_on_payment(SALES, &refunded).await.ok();
    let refund = on_payment(CANCEL_REFUND, &refunded).signed();
    let reply = client.send(&refund).await.ok();
    assert_eq!(
        reply.tag("res_process_date").as_deref(),
        Some("20240102000000")
    );
    assert_eq!(client.statuses(&refunded).await, ("1".into(), "4".into()));
    assert_eq!(emulator.payment(&refunded).unwrap().refunded_total, 1000);
    client
        .send(&refund)
        .await
        .ng("10146999", Some(CANCEL_REFUND));
}

#[tokio::test]
async fn section_10_5_cancel_only_00305() {
    let (_emulator, client) = started().await;
    let tracking_id = client.authorize("305-1", 1000).await;
    let cancel = on_payment(CANCEL, &tracking_id).signed();
    client.send(&cancel).await.ok();
    assert_eq!(client.statuses(&tracking_id).await.1, "3");
    client.send(&cancel).await.ng("10152999", Some(CANCEL));
    let sold = client.authorize("305-2", 1000).await;
    client.send_on_payment(SALES, &sold).await.ok();
    client.refused_on_payment(CANCEL, &sold, "10149999").await;
    assert_eq!(client.statuses(&sold).await.1, "2");
}

#[tokio::test]
async fn section_10_5_partial_refund_00307() {
    let (emulator, client) = started().await;
    let tracking_id = client.authorize_and_commit("307-1", 1000).await;
    client
        .refused_with_amount(PARTIAL_REFUND, &tracking_id, 100, "101K0999")
        .await;
    client.send_with_amount(SALES, &tracking_id, 800).await.ok();
    client
        .refused_with_amount(PARTIAL_REFUND, &tracking_id, 801, "101K1999")
        .await;
    let reply = client
        .send_with_amount(PARTIAL_REFUND, &tracking_id, 300)
        .await
        .ok();
    assert_eq!(
        reply.tag("res_process_date").as_deref(),
        Some("20240102000000")
    );
    assert_eq!(
        client.statuses(&tracking_id).await.1,
        "4",
        "refunded after the first partial refund"
    );
    // The same request again refunds again (no duplicate detection), up to the sold amount.
    client
        .send_with_amount(PARTIAL_REFUND, &tracking_id, 300)
        .await
        .ok();
    client
        .refused_with_amount(PARTIAL_REFUND, &tracking_id, 300, "101K1999")
        .await;
    assert_eq!(emulator.payment(&tracking_id).unwrap().refunded_total, 600);
    // 00303 then refunds the remaining 200 (default of open question 4).
    client
        .send_on_payment(CANCEL_REFUND, &tracking_id)
        .await
        .ok();
    assert_eq!(emulator.payment(&tracking_id).unwrap().refunded_total, 800);
    client
        .refused_with_amount(PARTIAL_REFUND, &tracking_id, 1, "101K1999")
        .await;
    // On a cancelled authorization: 45.
    let cancelled = client.authorize("307-2", 1000).await;
    client.send_on_payment(CANCEL_REFUND, &cancelled).await.ok();
    client
        .refused_with_amount(PARTIAL_REFUND, &cancelled, 1, "10145999")
        .await;
    // Amount is required.
    let no_amount = on_payment(PARTIAL_REFUND, &tracking_id).signed();
    client.send(&no_amount).await.ng("10103008", None);
}

#[tokio::test]
async fn switch_refund_after_partial_refund_already_refunded() {
    let mut config = test_config();
    config.rules.refund_after_partial_refund = RefundAfterPartial::AlreadyRefunded;
    let emulator = start_with(config).await;
    let client = Client::new(&emulator);
    let tracking_id = client.authorize("switch-303", 1000).await;
    client.send_on_payment(SALES, &tracking_id).await.ok();
    client
        .send_with_amount(PARTIAL_REFUND, &tracking_id, 100)
        .await
        .ok();
    client
        .refused_on_payment(CANCEL_REFUND, &tracking_id, "10146999")
        .await;
    assert_eq!(emulator.payment(&tracking_id).unwrap().refunded_total, 100);
}

fn reauth(
    source: &str,
    order_id: &str,
    control: &str,
    detail: &str,
    extra: impl FnOnce(Req) -> Req,
) -> String {
    let base = Req::head(REAUTH_TOKEN)
        .field("tracking_id", source)
        .field("cust_code", "member-7")
        .field("order_id", order_id)
        .field("item_id", "i")
        .field("amount", "1500");
    extra(base)
        .group("pay_option_manage", |g| {
            g.field("cardbrand_return_flg", "1")
                .field("pay_info_control_type", control)
                .field("pay_info_detail_control_type", detail)
        })
        .field("encrypted_flg", "0")
        .dated()
        .signed()
}

#[tokio::test]
async fn section_10_5_reauth_makes_a_new_payment_and_leaves_the_old_one_untouched() {
    let (emulator, client) = started().await;
    let old = client.authorize_and_commit("reauth-src", 1000).await;
    client.send_on_payment(SALES, &old).await.ok();
    let before = emulator.payment(&old).unwrap();

    let reply = client
        .send(&reauth(&old, "reauth-1", "B", "B", |r| r))
        .await
        .ok();
    let new = reply.tag("res_tracking_id").unwrap();
    assert_ne!(new, old);
    assert_eq!(
        reply.tag("cardbrand_code").as_deref(),
        Some("V"),
        "card of the old payment reused"
    );
    assert_eq!(
        emulator.payment(&old).unwrap(),
        before,
        "the old payment is untouched"
    );
    let created = emulator.payment(&new).unwrap();
    assert_eq!(created.authorized_amount, 1500);
    assert_eq!(created.reauthorization_of.as_deref(), Some(old.as_str()));
    assert_eq!(
        client.statuses(&new).await,
        ("0".into(), "1".into()),
        "needs its own commit"
    );

    // R: the token in the request; M: the stored card.
    let with_token = reauth(&old, "reauth-2", "R", "B", |r| r);
    client.send(&with_token).await.ng("10103227", None);
    let with_token = Req::head(REAUTH_TOKEN)
        .field("tracking_id", &old)
        .field("cust_code", "member-7")
        .field("order_id", "reauth-3")
        .field("item_id", "i")
        .field("amount", "1500")
        .group("pay_option_manage", |g| {
            g.field("token", "TOKEN-MASTER")
                .field("token_key", "k")
                .field("cardbrand_return_flg", "1")
                .field("pay_info_control_type", "R")
                .field("pay_info_detail_control_type", "B")
        })
        .dated()
        .signed();
    assert_eq!(
        client
            .send(&with_token)
            .await
            .ok()
            .tag("cardbrand_code")
            .as_deref(),
        Some("M")
    );
    client
        .send(&reauth(&old, "reauth-4", "M", "B", |r| r))
        .await
        .ng("10195999", Some(REAUTH_TOKEN));
    // B with card data in the request is not allowed.
    let with_card = reauth(&old, "reauth-5", "B", "B", |r| {
        r.group("pay_method_info", |g| {
            g.field("cc_number", "4242424242424242")
                .field("cc_expiration", "203001")
        })
    });
    client
        .send(&with_card)
        .await
        .ng("10113200", Some(REAUTH_TOKEN));
    // Duplicate order id and unknown source.
    client
        .send(&reauth(&old, "reauth-1", "B", "B", |r| r))
        .await
        .ng("10196999", None);
    client
        .send(&reauth("99999999999999", "reauth-6", "B", "B", |r| r))
        .await
        .ng("10112027", Some(REAUTH_TOKEN));
}

#[tokio::test]
async fn section_10_5_inquiry_reports_statuses_1_to_4_and_commit_status() {
    let (emulator, client) = started().await;
    let t = client.authorize("mg-1", 1000).await;
    assert_eq!(client.statuses(&t).await, ("0".into(), "1".into()));
    client.send_on_payment(COMMIT, &t).await.ok();
    assert_eq!(client.statuses(&t).await, ("1".into(), "1".into()));
    client.send_on_payment(SALES, &t).await.ok();
    assert_eq!(client.statuses(&t).await, ("1".into(), "2".into()));
    client.send_on_payment(CANCEL_REFUND, &t).await.ok();
    assert_eq!(client.statuses(&t).await, ("1".into(), "4".into()));
    let c = client.authorize("mg-2", 1000).await;
    client.send_on_payment(CANCEL_REFUND, &c).await.ok();
    assert_eq!(client.statuses(&c).await, ("0".into(), "3".into()));

    // Card number masking by response_info_type; the inquiry changes nothing.
    let history_before = emulator.payment(&t).unwrap().history.len();
    let type0 = client.send_inquiry(&t, "0").await.ok();
    assert_eq!(type0.tag("cc_number"), None);
    assert_eq!(type0.tag("res_status").as_deref(), Some("0"));
    let type1 = client.send_inquiry(&t, "1").await.ok();
    assert_eq!(type1.tag("cc_number").as_deref(), Some("****************"));
    let type2 = client.send_inquiry(&t, "2").await.ok();
    assert_eq!(type2.tag("cc_number").as_deref(), Some("************1111"));
    assert_eq!(type2.tag("cc_expiration").as_deref(), Some("203012"));
    assert_eq!(type2.tag("dealings_type").as_deref(), Some("10"));
    assert_eq!(type2.tag("cardbrand_code").as_deref(), Some("V"));
    assert_eq!(type2.tag("divide_times").as_deref(), Some(""));
    assert_eq!(emulator.payment(&t).unwrap().history.len(), history_before);
}

#[tokio::test]
async fn section_10_4_target_lookup_errors() {
    let (emulator, client) = started().await;
    let t = client.authorize("lookup-1", 1000).await;
    let auth_tx = emulator.payment(&t).unwrap().auth_sps_transaction_id;
    client
        .refused_on_payment(SALES, "00000000009999", "10112027")
        .await;
    client
        .send_inquiry("00000000009999", "0")
        .await
        .ng("10112027", Some(INQUIRY));
    // By sps_transaction_id alone (as one WooCommerce client does).
    let by_tx = Req::head(COMMIT)
        .field("sps_transaction_id", &auth_tx)
        .field("processing_datetime", NOW)
        .dated()
        .signed();
    client.send(&by_tx).await.ok();
    let unknown_tx = Req::head(SALES)
        .field("sps_transaction_id", "C99999001ST0100131101999")
        .dated()
        .signed();
    client.send(&unknown_tx).await.ng("10111026", Some(SALES));
    // Both given, naming different payments.
    let other = client.authorize("lookup-2", 1000).await;
    let mismatch = Req::head(SALES)
        .field("sps_transaction_id", &auth_tx)
        .field("tracking_id", &other)
        .dated()
        .signed();
    client.send(&mismatch).await.ng("10111026", Some(SALES));
    assert_eq!(client.statuses(&other).await.1, "1");
}

#[tokio::test]
async fn switch_auto_sales_mode() {
    let mut config = test_config();
    config.merchants[0].sales_mode = SalesMode::Auto;
    let emulator = start_with(config).await;
    let client = Client::new(&emulator);
    let t = client.authorize("auto-1", 1000).await;
    client
        .refused_on_payment(CANCEL_REFUND, &t, "10159999")
        .await;
    client.send_on_payment(COMMIT, &t).await.ok();
    assert_eq!(
        client.statuses(&t).await,
        ("1".into(), "2".into()),
        "the commit sold it"
    );
    assert_eq!(emulator.payment(&t).unwrap().captured_amount, 1000);
    client.refused_on_payment(SALES, &t, "10137999").await;
}

#[tokio::test]
async fn switch_require_commit_before_sales() {
    let mut config = test_config();
    config.rules.require_commit_before_sales = true;
    let emulator = start_with(config).await;
    let client = Client::new(&emulator);
    let t = client.authorize("rc-1", 1000).await;
    client.refused_on_payment(SALES, &t, "10160999").await;
    client.send_on_payment(COMMIT, &t).await.ok();
    client.send_on_payment(SALES, &t).await.ok();
}

#[tokio::test]
async fn section_10_5_sales_window_10142999() {
    let (_emulator, client) = started().await;
    let t = client.authorize("window-1", 1000).await;
    // Authorized in January: sales dated up to 30 April are fine, 1 May is too late.
    let late = Req::head(SALES)
        .field("tracking_id", &t)
        .field("processing_datetime", "20240501000000")
        .dated()
        .signed();
    client.send(&late).await.ng("10142999", Some(SALES));
    let last_day = Req::head(SALES)
        .field("tracking_id", &t)
        .field("processing_datetime", "20240430235959")
        .dated()
        .signed();
    assert_eq!(
        client
            .send(&last_day)
            .await
            .ok()
            .tag("res_process_date")
            .as_deref(),
        Some("20240430000000")
    );
}

#[tokio::test]
async fn g8_s3_admin_tool_actions_change_state_without_telling_the_shop() {
    let (emulator, client) = started().await;
    let t = client.authorize_and_commit("admin-1", 1000).await;
    // Partial capture in the management tool: the shop's inquiry sees it sold.
    let after = emulator.admin_capture(&t, Some(600)).unwrap();
    assert_eq!(after.captured_amount, 600);
    assert_eq!(client.statuses(&t).await.1, "2");
    client.refused_on_payment(SALES, &t, "10141999").await;
    // Partial refund, then refund of the rest.
    emulator.admin_partial_refund(&t, 100).unwrap();
    assert_eq!(client.statuses(&t).await.1, "4");
    assert!(matches!(
        emulator.admin_partial_refund(&t, 501),
        Err(AdminError::Refused { .. })
    ));
    let refunded = emulator.admin_refund(&t).unwrap();
    assert_eq!(refunded.refunded_total, 600);
    let sources: Vec<_> = refunded
        .history
        .iter()
        .map(|h| h.operation.as_str())
        .collect();
    assert_eq!(
        sources,
        [
            "ST01-00131-101",
            "ST02-00101-101",
            "admin_capture",
            "admin_partial_refund",
            "admin_refund"
        ]
    );
    assert!(matches!(
        emulator.admin_cancel("00000000009999"),
        Err(AdminError::UnknownPayment(_))
    ));

    // The same through the control endpoints.
    let t2 = client.authorize("admin-2", 1000).await;
    let control = Control::new(&emulator);
    let captured: serde_json::Value = control
        .post_json(
            "/admin/capture",
            &serde_json::json!({ "tracking_id": t2, "amount": 400 }),
        )
        .await;
    assert_eq!(captured["captured_amount"], 400);
    assert_eq!(captured["payment_status"], 2);
    let refused = control
        .post("/admin/capture", &serde_json::json!({ "tracking_id": t2 }))
        .await;
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["reason"], "41999");
    let partial = control
        .post(
            "/admin/partial_refund",
            &serde_json::json!({ "tracking_id": t2, "amount": 150 }),
        )
        .await;
    assert_eq!(partial.status(), 200);
    assert_eq!(client.statuses(&t2).await.1, "4");
    let unknown = control
        .post("/admin/refund", &serde_json::json!({ "tracking_id": "1" }))
        .await;
    assert_eq!(unknown.status(), 404);
    let dump: serde_json::Value = control.get_json("/dump").await;
    let p2 = dump["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["tracking_id"] == t2.as_str())
        .unwrap();
    assert_eq!(p2["refunded_total"], 150);
    assert_eq!(
        p2["history"].as_array().unwrap().last().unwrap()["source"],
        "admin"
    );
}

#[tokio::test]
async fn control_endpoints_reset_dump_clock_and_tokens() {
    let (emulator, client) = started().await;
    let control = Control::new(&emulator);
    client.authorize("ctl-1", 1000).await;

    let clock: serde_json::Value = control.get_json("/clock").await;
    assert_eq!(clock["now"], NOW);
    assert_eq!(clock["frozen"], true);
    let moved: serde_json::Value = control
        .post_json("/clock", &serde_json::json!({ "advance_secs": 61 }))
        .await;
    assert_eq!(moved["now"], "20240102030506");
    let set: serde_json::Value = control
        .post_json("/clock", &serde_json::json!({ "set": "20250101000000" }))
        .await;
    assert_eq!(set["now"], "20250101000000");
    assert_eq!(emulator.now().to_string(), "20250101000000");

    let token = serde_json::json!({ "token": "HTTP-TOKEN", "card": { "number": "5555555555554444", "expiration": "203001" } });
    assert_eq!(control.post("/tokens", &token).await.status(), 200);
    let bad =
        serde_json::json!({ "token": "BAD", "card": { "number": "55x", "expiration": "203001" } });
    assert_eq!(control.post("/tokens", &bad).await.status(), 400);

    let dump: serde_json::Value = control.get_json("/dump").await;
    assert_eq!(dump["payments"].as_array().unwrap().len(), 1);
    assert!(
        dump["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["token"] == "HTTP-TOKEN")
    );
    assert!(
        !dump.to_string().contains("5555555555554444"),
        "no full card numbers in dumps"
    );
    assert_eq!(control.get("/payments/00000000000001").await.status(), 200);
    assert_eq!(control.get("/payments/00000000000042").await.status(), 404);

    assert_eq!(control.post_empty("/reset").await.status(), 200);
    let dump = emulator.dump();
    assert!(dump.payments.is_empty() && dump.used_order_ids.is_empty());
    assert_eq!(
        dump.now.to_string(),
        NOW,
        "reset restores the configured clock"
    );
    assert!(!dump.tokens.iter().any(|t| t.token == "HTTP-TOKEN"));
    // Counters restart: the next authorization gets tracking id 1 again, and the order id is free.
    assert_eq!(client.authorize("ctl-1", 1000).await, "00000000000001");
    assert_eq!(control.get("/nope").await.status(), 404);
}

/// 1,000 concurrent operations across 100 payments: 5 captures of different amounts and
/// 5 partial refunds of 150 on each, all in flight at once. Whatever the interleaving, the end
/// state must be one that some serial order produces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_operations_leave_a_serializable_state() {
    const PAYMENTS: usize = 100;
    const REFUND: u32 = 150;
    let sale_amounts = [1000u32, 900, 800, 700, 600];
    let (emulator, client) = started().await;

    let mut setup = tokio::task::JoinSet::new();
    for i in 0..PAYMENTS {
        let client = client.clone();
        setup.spawn(async move {
            (
                i,
                client.authorize_and_commit(&format!("par-{i}"), 1000).await,
            )
        });
    }
    let mut tracking = vec![String::new(); PAYMENTS];
    while let Some(done) = setup.join_next().await {
        let (i, t) = done.unwrap();
        tracking[i] = t;
    }

    // Build the 1,000 operations and shuffle them deterministically.
    let mut ops: Vec<(usize, Option<u32>)> = Vec::with_capacity(PAYMENTS * 10);
    for i in 0..PAYMENTS {
        ops.extend(sale_amounts.iter().map(|a| (i, Some(*a))));
        ops.extend((0..5).map(|_| (i, None)));
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for k in (1..ops.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ops.swap(k, (seed % (k as u64 + 1)) as usize);
    }
    let tracking = Arc::new(tracking);
    let barrier = Arc::new(tokio::sync::Barrier::new(ops.len()));
    let mut running = tokio::task::JoinSet::new();
    for (i, sale) in ops {
        let client = client.clone();
        let tracking = Arc::clone(&tracking);
        let barrier = Arc::clone(&barrier);
        running.spawn(async move {
            let body = match sale {
                Some(amount) => with_amount(SALES, &tracking[i], amount).signed(),
                None => with_amount(PARTIAL_REFUND, &tracking[i], REFUND).signed(),
            };
            barrier.wait().await;
            let reply = client.send(&body).await;
            (i, sale, reply.result(), reply.err_code())
        });
    }

    #[derive(Default, Debug)]
    struct Seen {
        sales_ok: Vec<u32>,
        sales_dup: usize,
        refunds_ok: u32,
        refunds_before_sale: u32,
        refunds_over: u32,
    }
    let mut seen: HashMap<usize, Seen> = HashMap::new();
    while let Some(done) = running.join_next().await {
        let (i, sale, result, code) = done.unwrap();
        let s = seen.entry(i).or_default();
        match (sale, result.as_str(), code.as_str()) {
            (Some(amount), "OK", _) => s.sales_ok.push(amount),
            (Some(_), "NG", "10141999") => s.sales_dup += 1,
            (None, "OK", _) => s.refunds_ok += 1,
            (None, "NG", "101K0999") => s.refunds_before_sale += 1,
            (None, "NG", "101K1999") => s.refunds_over += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    let dump = emulator.dump();
    let (mut total_captured, mut total_sold_ok, mut total_refunded) = (0u64, 0u64, 0u64);
    for (i, t) in tracking.iter().enumerate() {
        let s = &seen[&i];
        let p = dump.payments.iter().find(|p| &p.tracking_id == t).unwrap();
        assert_eq!(
            s.sales_ok.len(),
            1,
            "payment {t} captured exactly once: {s:?}"
        );
        assert_eq!(s.sales_dup, 4);
        assert_eq!(p.captured_amount, s.sales_ok[0]);
        assert_eq!(p.refunded_total, REFUND * s.refunds_ok, "{t}: {s:?}");
        assert!(p.refunded_total <= p.captured_amount);
        assert_eq!(s.refunds_ok + s.refunds_before_sale + s.refunds_over, 5);
        // A refund was refused for excess only if the remainder really was below 150.
        if s.refunds_over > 0 {
            assert!(p.captured_amount - p.refunded_total < REFUND, "{t}: {s:?}");
        }
        let expected_status = if s.refunds_ok > 0 { 4 } else { 2 };
        assert_eq!(p.payment_status.code(), expected_status);
        let sales_in_history = p.history.iter().filter(|h| h.operation == SALES).count();
        assert_eq!(sales_in_history, 1);
        total_captured += u64::from(p.captured_amount);
        total_sold_ok += u64::from(s.sales_ok[0]);
        total_refunded += u64::from(p.refunded_total);
    }
    assert_eq!(total_captured, total_sold_ok);
    let refunds_ok: u64 = seen.values().map(|s| u64::from(s.refunds_ok)).sum();
    assert_eq!(total_refunded, refunds_ok * u64::from(REFUND));
}

#[tokio::test]
async fn section_10_4_merchants_are_isolated() {
    let mut config = test_config();
    config.merchants.push(renkei_emulator_sbps::MerchantConfig {
        merchant_id: "12345".into(),
        service_id: "002".into(),
        hash_key: "OTHERKEY".into(),
        ..Default::default()
    });
    let emulator = start_with(config).await;
    let client = Client::new(&emulator);
    let ours = client.authorize("shared-order", 1000).await;
    // The second merchant signs with its own key and authenticates as 12345002.
    let auth = Req::new(AUTH_TOKEN)
        .field("merchant_id", "12345")
        .field("service_id", "002")
        .field("cust_code", "c")
        .field("order_id", "shared-order")
        .field("item_id", "i")
        .field("amount", "500")
        .group("pay_method_info", |g| g.field("dealings_type", "10"))
        .group("pay_option_manage", |g| {
            g.field("token", "TOKEN-VISA").field("token_key", "k")
        })
        .dated();
    let hash = auth.hash_with("OTHERKEY");
    let reply = client
        .send_as(&auth.signed_with(&hash), "12345002", "OTHERKEY")
        .await
        .ok();
    let other = reply.tag("res_tracking_id").unwrap();
    assert_ne!(
        other, ours,
        "order ids are per merchant; tracking ids are global"
    );
    // Our key cannot sign for them, and their payments are invisible to us.
    client
        .send_inquiry(&other, "0")
        .await
        .ng("10112027", Some(INQUIRY));
    let cross = Req::new(INQUIRY)
        .field("merchant_id", "12345")
        .field("service_id", "002")
        .field("tracking_id", &other)
        .dated();
    client.send(&cross.signed()).await.ng("10114001", None);
}

#[tokio::test]
async fn section_6_7_reauth_with_card_data_00113() {
    let (emulator, client) = started().await;
    let old = client.authorize("r113-src", 1000).await;
    let body = Req::head("ST01-00113-101")
        .field("tracking_id", &old)
        .field("cust_code", "c")
        .field("order_id", "r113-1")
        .field("item_id", "i")
        .field("amount", "2000")
        .group("pay_method_info", |g| {
            g.field("cc_number", "5555555555554444")
                .field("cc_expiration", "203001")
                .field("dealings_type", "61")
                .field("divide_times", "3")
        })
        .group("pay_option_manage", |g| {
            g.field("cardbrand_return_flg", "1")
                .field("pay_info_control_type", "R")
                .field("pay_info_detail_control_type", "R")
        })
        .dated()
        .signed();
    let reply = client.send(&body).await.ok();
    assert_eq!(reply.tag("cardbrand_code").as_deref(), Some("M"));
    let new = emulator
        .payment(&reply.tag("res_tracking_id").unwrap())
        .unwrap();
    assert_eq!(
        (new.dealings_type.as_str(), new.divide_times.as_deref()),
        ("61", Some("3"))
    );
    assert_eq!(client.statuses(&old).await.1, "1");
}
