//! Common handling of every card endpoint (`docs/protocols/fregi.md` §11.1): paths, methods, content types,
//! character sets, EUC-JP replies, line endings, the IP allow-list, HTTP framing.

use std::time::Duration;

use renkei_emulator_fregi::LineEnding;

use crate::support::*;

#[tokio::test]
async fn s11_1_get_and_post_give_the_same_answers() {
    let (_emu, client) = started().await;
    let params = card_auth(VISA, 1234);
    let by_get = client.get("authm.cgi", &borrowed(&params)).await;
    let by_post = client.post_owned("authm.cgi", &params).await;
    assert!(by_get.is_ok() && by_post.is_ok());
    assert_eq!(by_get.lines.len(), by_post.lines.len());
    let sale = [
        ("SHOPID", SHOP),
        ("AUTHCODE", by_get.line(1)),
        ("SEQNO", by_get.line(2)),
    ];
    let sale_get = client.get("sale.cgi", &sale).await;
    assert_eq!(sale_get.lines, ["OK", by_get.line(2)]);
    let again = client.get("sale.cgi", &sale).await;
    let again_post = client.sale(by_get.line(2)).await;
    assert_eq!(again.raw, again_post.raw);
    assert_eq!(again.ng_code(), "S1-1-121");
}

#[tokio::test]
async fn s11_1_connect_and_connecttest_are_the_same_gateway() {
    let (_emu, client) = started().await;
    let query = form(&borrowed(&card_auth(VISA, 100)));
    let auth = client.get_path("/connecttest/authm.cgi", &query).await;
    assert!(auth.is_ok());
    let sale = client.sale(auth.line(2)).await;
    assert!(sale.is_ok(), "shared book by default: {:?}", sale.lines);

    let separate = emulator_with(|c| c.separate_environments = true).await;
    let client = Client::new(&separate);
    let auth = client.get_path("/connecttest/authm.cgi", &query).await;
    assert_eq!(client.sale(auth.line(2)).await.ng_code(), "S1-1-120");
    let test_sale = client
        .get_path(
            "/connecttest/sale.cgi",
            &form(&[
                ("SHOPID", SHOP),
                ("AUTHCODE", auth.line(1)),
                ("SEQNO", auth.line(2)),
            ]),
        )
        .await;
    assert!(test_sale.is_ok());
}

#[tokio::test]
async fn s2_replies_are_euc_jp_text_plain_with_lf() {
    let (_emu, client) = started().await;
    let (_, seqno) = client.authorize(100).await;
    client.authcancel(&seqno).await;
    let reply = client.sale(&seqno).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "text/plain; charset=EUC-JP");
    assert!(std::str::from_utf8(&reply.raw).is_err(), "not UTF-8");
    // 承認取消 in EUC-JP, by hand.
    let needle = [0xbe, 0xb5, 0xc7, 0xa7, 0xbc, 0xe8, 0xbe, 0xc3];
    assert!(reply.raw.windows(needle.len()).any(|w| w == needle));
    assert!(reply.raw.ends_with(b")\n"));
    assert!(!reply.raw.contains(&b'\r'));
}

#[tokio::test]
async fn s11_1_crlf_switch() {
    let emu = emulator_with(|c| c.line_ending = LineEnding::CrLf).await;
    let client = Client::new(&emu);
    let auth = client.post_owned("authm.cgi", &card_auth(VISA, 100)).await;
    let expected = format!("OK\r\n{}\r\n{}\r\n\r\n", auth.line(1), auth.line(2));
    assert_eq!(auth.raw, expected.as_bytes());
    let ng = client.sale("00000000000000000999").await;
    assert!(ng.raw.starts_with(b"NG\r\nS1-1-120("));
    assert!(ng.raw.ends_with(b")\r\n"));
}

#[tokio::test]
async fn s11_1_post_with_another_content_type_has_no_parameters() {
    let (emu, client) = started().await;
    let body = form(&borrowed(&card_auth(VISA, 100))).into_bytes();
    let multipart = client
        .post_raw(
            "/connect/authm.cgi",
            "multipart/form-data; boundary=x",
            body.clone(),
        )
        .await;
    assert_eq!(multipart.ng_code(), "A1-1-10");
    let json = client
        .post_raw("/connect/authm.cgi", "application/json", body.clone())
        .await;
    assert_eq!(json.ng_code(), "A1-1-10");
    let with_charset = client
        .post_raw(
            "/connect/authm.cgi",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            body,
        )
        .await;
    assert!(with_charset.is_ok(), "{:?}", with_charset.lines);
    assert_eq!(emu.transactions().len(), 1);
}

#[tokio::test]
async fn s11_1_charcode_decodes_free_text() {
    let (emu, client) = started().await;
    // 「テスト」 in EUC-JP, Shift_JIS and UTF-8, percent-encoded by hand.
    let cases: [(Option<&str>, &[u8]); 5] = [
        (Some("euc"), &[0xa5, 0xc6, 0xa5, 0xb9, 0xa5, 0xc8]),
        (Some("sjis"), &[0x83, 0x65, 0x83, 0x58, 0x83, 0x67]),
        (
            Some("utf8"),
            &[0xe3, 0x83, 0x86, 0xe3, 0x82, 0xb9, 0xe3, 0x83, 0x88],
        ),
        (
            None,
            &[0xe3, 0x83, 0x86, 0xe3, 0x82, 0xb9, 0xe3, 0x83, 0x88],
        ),
        (None, &[0xa5, 0xc6, 0xa5, 0xb9, 0xa5, 0xc8]),
    ];
    for (charcode, free) in cases {
        let mut body = form(&borrowed(&card_auth(VISA, 100)));
        body.push_str(&format!("&FREE={}", encode_bytes(free)));
        if let Some(charcode) = charcode {
            body.push_str(&format!("&CHARCODE={charcode}"));
        }
        let reply = post_authm_form(&client, body).await;
        // テスト is full-width: decoded by CHARCODE (or guessed), then refused, because FREE
        // takes half-width characters only (F-REGI spec §1.2; A1-1-190 is a stand-in).
        assert_eq!(reply.ng_code(), "A1-1-190", "CHARCODE={charcode:?}");
    }
    assert!(
        emu.transactions().is_empty(),
        "a refused FREE makes no record"
    );
    // Half-width text is taken as sent, whatever CHARCODE says.
    for charcode in ["euc", "sjis", "utf8"] {
        let mut body = form(&borrowed(&card_auth(VISA, 100)));
        body.push_str(&format!(
            "&FREE=T-shirt%20%26%20shipping&CHARCODE={charcode}"
        ));
        let reply = post_authm_form(&client, body).await;
        assert!(reply.is_ok(), "{:?}", reply.lines);
        let tx = emu.transaction(reply.line(2)).unwrap();
        assert_eq!(tx.free.as_deref(), Some("T-shirt & shipping"));
    }
}

#[tokio::test]
async fn s11_1_ip_allow_list_refuses_with_empty_403() {
    let emu = emulator_with(|c| c.allowed_ips = vec!["10.9.9.9".parse().unwrap()]).await;
    let client = Client::new(&emu);
    let refused = client.post_owned("authm.cgi", &card_auth(VISA, 100)).await;
    assert_eq!(refused.status, 403);
    assert!(refused.raw.is_empty());
    assert!(emu.transactions().is_empty());
    // The control surface is not behind the allow-list.
    assert_eq!(client.control("GET", "dump", &[]).await.0, 200);

    let allowed = emulator_with(|c| c.allowed_ips = vec!["127.0.0.1".parse().unwrap()]).await;
    assert!(
        Client::new(&allowed)
            .post_owned("authm.cgi", &card_auth(VISA, 100))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn s11_1_unknown_paths_and_methods() {
    let (emu, client) = started().await;
    assert_eq!(client.get_path("/connect/nosuch.cgi", "").await.status, 404);
    assert_eq!(
        client
            .get_path("/connect/__emulator__/dump", "")
            .await
            .status,
        404
    );
    assert_eq!(client.get_path("/other/authm.cgi", "").await.status, 404);
    let (raw, _) = raw_exchange(
        emu.addr(),
        b"DELETE /connect/sale.cgi HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let (status, headers, _) = split_response(&raw);
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("GET, POST"));
}

#[tokio::test]
async fn http_keep_alive_pipelining_chunked_and_expect_continue() {
    let (emu, client) = started().await;
    let (authcode, seqno) = client.authorize(100).await;
    let sale_body = form(&[("SHOPID", SHOP), ("AUTHCODE", &authcode), ("SEQNO", &seqno)]);
    let info =
        format!("GET /__emulator__/info?SHOPID={SHOP}&SEQNO={seqno} HTTP/1.1\r\nHost: x\r\n\r\n");
    let chunked = format!(
        "POST /connect/sale.cgi HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{sale_body}\r\n0\r\n\r\n",
        sale_body.len()
    );
    let expect = format!(
        "POST /connect/sale.cgi HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sale_body}",
        sale_body.len()
    );
    // Three requests pipelined on one connection.
    let (raw, ending) = raw_exchange(
        emu.addr(),
        format!("{chunked}{info}{expect}").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(ending, Ending::Eof, "Connection: close on the last request");
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert!(
        text.contains(&format!("\r\n\r\nOK\n{seqno}\n")),
        "chunked sale processed"
    );
    assert!(text.contains("\nS1-1-121("), "second sale refused");
}

#[tokio::test]
async fn http_1_0_closes_after_the_reply() {
    let emu = emulator().await;
    let (raw, ending) = raw_exchange(
        emu.addr(),
        format!("GET /connect/sale.cgi?SHOPID={SHOP}&AUTHCODE=000000&SEQNO=5 HTTP/1.0\r\n\r\n")
            .as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(ending, Ending::Eof);
    let (status, headers, body) = split_response(&raw);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(body.starts_with(b"NG\nS1-1-120("));
}

#[tokio::test]
async fn http_malformed_request_gets_400() {
    let emu = emulator().await;
    let (raw, _) = raw_exchange(emu.addr(), b"HELLO\r\n\r\n", Duration::from_secs(5)).await;
    assert_eq!(split_response(&raw).0, 400);
}

/// Posts an `authm` form body exactly as given (pre-encoded extras included).
async fn post_authm_form(client: &Client, body: String) -> Reply {
    client
        .post_raw(
            "/connect/authm.cgi",
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        )
        .await
}
