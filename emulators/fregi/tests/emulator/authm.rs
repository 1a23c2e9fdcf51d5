//! `authm.cgi` (`docs/protocols/fregi.md` §11.2), tokens, customers, `salem.cgi`.

use renkei_emulator_fregi::{AuthcodeStyle, Config, FREGI_TEST_CARD, Status};

use crate::support::*;

#[tokio::test]
async fn s11_2_authm_approves_a_luhn_valid_card() {
    let (emu, client) = started().await;
    let reply = client.post_owned("authm.cgi", &card_auth(VISA, 1000)).await;
    assert_eq!(reply.status, 200);
    assert!(reply.is_ok(), "{:?}", reply.lines);
    assert_eq!(
        reply.lines.len(),
        4,
        "OK / AUTHCODE / SEQNO / additional info"
    );
    let (authcode, seqno) = (reply.line(1), reply.line(2));
    assert_eq!(authcode.len(), 6);
    assert!(authcode.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(seqno.len(), 20);
    assert!(seqno.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(reply.line(3), "", "no additional info unless REQUIRECOM=1");
    let tx = emu.transaction(seqno).unwrap();
    assert_eq!(
        (tx.status, tx.amount, tx.authcode.as_str()),
        (Status::Authorized, 1000, authcode)
    );
    assert_eq!(tx.card, "411111******1111");
    assert_eq!(client.status(seqno).await, "10");
}

#[tokio::test]
async fn s11_2_seqnos_are_zero_padded_and_increasing_from_the_configured_start() {
    let emu = emulator_with(|c| c.seqno_start = 1_287_483).await;
    let client = Client::new(&emu);
    let (_, first) = client.authorize(500).await;
    let (_, second) = client.authorize(500).await;
    assert_eq!(first, "00000000000001287483");
    assert_eq!(second, "00000000000001287484");
}

#[tokio::test]
async fn s11_1_authcodes_are_seedable_and_can_be_letters() {
    let codes = |style| async move {
        let emu = emulator_with(|c| {
            c.seed = Some(42);
            c.authcode_style = style;
        })
        .await;
        let client = Client::new(&emu);
        let mut codes = Vec::new();
        for _ in 0..3 {
            codes.push(client.authorize(100).await.0);
        }
        codes
    };
    let digits = codes(AuthcodeStyle::Digits).await;
    assert_eq!(
        digits,
        codes(AuthcodeStyle::Digits).await,
        "same seed, same codes"
    );
    let letters = codes(AuthcodeStyle::Letters).await;
    for code in &letters {
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_alphabetic()), "{code}");
    }
}

#[tokio::test]
async fn s11_2_requirecom_reports_the_brand_on_the_fourth_line() {
    let (_emu, client) = started().await;
    let visa = client
        .post_owned(
            "authm.cgi",
            &with(card_auth(VISA, 100), &[("REQUIRECOM", "1")]),
        )
        .await;
    assert_eq!(visa.line(3), "visa");
    let master = client
        .post_owned(
            "authm.cgi",
            &with(card_auth("5555555555554444", 100), &[("REQUIRECOM", "1")]),
        )
        .await;
    assert_eq!(master.line(3), "master");
}

#[tokio::test]
async fn s7_fregi_test_card_approves_with_scode_111_and_declines_with_123() {
    let (_emu, client) = started().await;
    let ok = client
        .post_owned(
            "authm.cgi",
            &with(card_auth(FREGI_TEST_CARD, 100), &[("SCODE", "111")]),
        )
        .await;
    assert!(ok.is_ok(), "{:?}", ok.lines);
    let declined = client
        .post_owned(
            "authm.cgi",
            &with(
                card_auth(FREGI_TEST_CARD, 100),
                &[("SCODE", "123"), ("ID", "order-123")],
            ),
        )
        .await;
    assert_eq!(declined.ng_code(), "JCN-G44");
    // The decline is recorded as 承認失敗 (record_declines, default on).
    let info = client.info_by_id("order-123").await;
    assert_eq!(info.line(3), "11");
    assert_eq!(info.line(5), "", "no AUTHCODE on a decline");
}

#[tokio::test]
async fn s11_2_configured_decline_cards_answer_their_codes() {
    let (emu, client) = started().await;
    let rules = Config::default().decline_rules;
    assert!(rules.len() >= 5);
    for rule in rules.iter().filter(|r| r.scode.is_none()) {
        let reply = client
            .post_owned("authm.cgi", &card_auth(&rule.pan, 100))
            .await;
        assert_eq!(
            reply.ng(),
            format!("{}({})", rule.code, rule.message),
            "card {}",
            rule.pan
        );
    }
    let failed = emu
        .transactions()
        .iter()
        .filter(|t| t.status == Status::AuthorizationFailed)
        .count();
    assert_eq!(failed, rules.iter().filter(|r| r.scode.is_none()).count());
}

#[tokio::test]
async fn s11_2_record_declines_switch_off_leaves_no_record() {
    let emu = emulator_with(|c| c.record_declines = false).await;
    let client = Client::new(&emu);
    let reply = client
        .post_owned("authm.cgi", &card_auth("4000000000000010", 100))
        .await;
    assert_eq!(reply.ng_code(), "JCN-G12");
    assert!(emu.transactions().is_empty());
}

#[tokio::test]
async fn s11_2_per_card_limit_declines_with_jcn_g55() {
    let (_emu, client) = started().await;
    let limit = Config::default().card_limits[0].clone();
    let at_limit = client
        .post_owned("authm.cgi", &card_auth(&limit.pan, limit.limit))
        .await;
    assert!(at_limit.is_ok(), "{:?}", at_limit.lines);
    let above = client
        .post_owned("authm.cgi", &card_auth(&limit.pan, limit.limit + 1))
        .await;
    assert_eq!(above.ng_code(), "JCN-G55");
}

#[tokio::test]
async fn f7_authm_refuses_1_and_10_000_000_and_accepts_2_and_9_999_999() {
    let (emu, client) = started().await;
    for (pay, expected) in [
        (1, Some("A1-1-22")),
        (10_000_000, Some("A1-1-21")),
        (2, None),
        (9_999_999, None),
    ] {
        let reply = client.post_owned("authm.cgi", &card_auth(VISA, pay)).await;
        match expected {
            Some(code) => assert_eq!(reply.ng_code(), code, "PAY={pay}"),
            None => {
                assert!(reply.is_ok(), "PAY={pay}: {:?}", reply.lines);
                assert_eq!(emu.transaction(reply.line(2)).unwrap().amount, pay);
            }
        }
    }
    assert_eq!(
        emu.transactions().len(),
        2,
        "refused amounts create no record"
    );
}

/// Every parameter error of §11.2, each creating no record.
#[tokio::test]
async fn s11_2_parameter_errors_have_their_codes_and_create_no_record() {
    let emu = emulator_with(|c| c.shops.push("54321".into())).await;
    let client = Client::new(&emu);
    let base = card_auth(VISA, 1000);
    let cases: Vec<(&str, Pairs, &str)> = vec![
        ("no SHOPID", without(base.clone(), &["SHOPID"]), "A1-1-10"),
        (
            "unknown SHOPID",
            with(base.clone(), &[("SHOPID", "99999")]),
            "A1-1-10",
        ),
        ("no PAY", without(base.clone(), &["PAY"]), "A1-1-20"),
        (
            "PAY with comma",
            with(base.clone(), &[("PAY", "1,000")]),
            "A1-1-23",
        ),
        (
            "no card",
            without(base.clone(), &["PAN1", "PAN2", "PAN3", "PAN4"]),
            "A1-1-30",
        ),
        (
            "bad Luhn",
            with(base.clone(), &[("PAN4", "1112")]),
            "A1-1-31",
        ),
        ("short PAN", without(base.clone(), &["PAN4"]), "A1-1-31"),
        (
            "letters in PAN",
            with(base.clone(), &[("PAN2", "11a1")]),
            "A1-1-31",
        ),
        (
            "PAN and TOKEN",
            with(base.clone(), &[("TOKEN", "TESTTOKEN-OK")]),
            "A1-1-32",
        ),
        (
            "no month",
            without(base.clone(), &["CARDEXPIRY1"]),
            "A1-1-40",
        ),
        (
            "month 13",
            with(base.clone(), &[("CARDEXPIRY1", "13")]),
            "A1-1-41",
        ),
        (
            "no year",
            without(base.clone(), &["CARDEXPIRY2"]),
            "A1-1-50",
        ),
        (
            "4-digit year",
            with(base.clone(), &[("CARDEXPIRY2", "2030")]),
            "A1-1-51",
        ),
        (
            "expired",
            with(
                base.clone(),
                &[("CARDEXPIRY1", "12"), ("CARDEXPIRY2", "25")],
            ),
            "A1-1-52",
        ),
        (
            "bad ID",
            with(base.clone(), &[("ID", "order_1")]),
            "A1-1-61",
        ),
        (
            "ID too long",
            with(base.clone(), &[("ID", "123456789012345678901")]),
            "A1-1-61",
        ),
        ("no name", without(base.clone(), &["CARDNAME"]), "A1-1-70"),
        (
            "non-ASCII name",
            with(base.clone(), &[("CARDNAME", "山田太郎")]),
            "A1-1-71",
        ),
        (
            "SCODE too long",
            with(base.clone(), &[("SCODE", "12345")]),
            "A1-1-131",
        ),
        (
            "SCODE letters",
            with(base.clone(), &[("SCODE", "12a")]),
            "A1-1-132",
        ),
        (
            "MONTHLY without CUSTOMERID",
            with(base.clone(), &[("MONTHLY", "1")]),
            "A1-1-160",
        ),
        (
            "bad CUSTOMERID",
            with(base.clone(), &[("MONTHLY", "1"), ("CUSTOMERID", "a b")]),
            "A1-1-161",
        ),
        (
            "unknown customer",
            owned(&[("SHOPID", SHOP), ("PAY", "100"), ("CUSTOMERID", "nobody")]),
            "A1-1-162",
        ),
        (
            "unknown token",
            owned(&[("SHOPID", SHOP), ("PAY", "100"), ("TOKEN", "nope")]),
            "A1-1-170",
        ),
        (
            "expired token",
            owned(&[
                ("SHOPID", SHOP),
                ("PAY", "100"),
                ("TOKEN", "TESTTOKEN-EXPIRED"),
            ]),
            "A1-1-171",
        ),
    ];
    for (what, params, code) in cases {
        let reply = client.post_owned("authm.cgi", &params).await;
        assert_eq!(reply.ng_code(), code, "{what}: {:?}", reply.lines);
        assert!(
            reply.ng().starts_with(&format!("{code}(承認処理時の")),
            "{what}: {}",
            reply.ng()
        );
    }
    assert!(
        emu.transactions().is_empty(),
        "validation failures create no record"
    );
}

#[tokio::test]
async fn s11_2_security_code_required_by_shop_option() {
    let emu = emulator_with(|c| c.require_scode = true).await;
    let client = Client::new(&emu);
    assert_eq!(
        client
            .post_owned("authm.cgi", &card_auth(VISA, 100))
            .await
            .ng_code(),
        "A1-1-130"
    );
    let ok = client
        .post_owned(
            "authm.cgi",
            &with(card_auth(VISA, 100), &[("SCODE", "111")]),
        )
        .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn s11_1_validation_order_first_failure_wins() {
    let (_emu, client) = started().await;
    let base = card_auth(VISA, 1000);
    // SHOPID before required fields.
    let r = client
        .post_owned("authm.cgi", &without(base.clone(), &["SHOPID", "PAY"]))
        .await;
    assert_eq!(r.ng_code(), "A1-1-10");
    // Required fields before formats.
    let r = client
        .post_owned(
            "authm.cgi",
            &with(without(base.clone(), &["PAY"]), &[("PAN4", "0000")]),
        )
        .await;
    assert_eq!(r.ng_code(), "A1-1-20");
    let r = client
        .post_owned(
            "authm.cgi",
            &with(without(base.clone(), &["CARDEXPIRY2"]), &[("PAY", "1")]),
        )
        .await;
    assert_eq!(r.ng_code(), "A1-1-50");
    // Formats before lookups and card checks.
    let r = client
        .post_owned(
            "authm.cgi",
            &with(base.clone(), &[("PAY", "1"), ("CARDEXPIRY2", "20")]),
        )
        .await;
    assert_eq!(r.ng_code(), "A1-1-22");
}

#[tokio::test]
async fn s11_2_duplicate_id_is_refused_unless_the_holder_failed() {
    let (_emu, client) = started().await;
    client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-1")]))
        .await;
    let dup = client
        .post_owned(
            "authm.cgi",
            &with(card_auth(VISA, 100), &[("ID", "order-1")]),
        )
        .await;
    assert_eq!(dup.ng_code(), "A1-1-60");
    // A declined attempt does not hold its ID.
    let declined = client
        .post_owned(
            "authm.cgi",
            &with(card_auth("4000000000000010", 100), &[("ID", "order-2")]),
        )
        .await;
    assert_eq!(declined.ng_code(), "JCN-G12");
    client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-2")]))
        .await;

    let lenient = emulator_with(|c| c.reject_duplicate_id = false).await;
    let client = Client::new(&lenient);
    client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-1")]))
        .await;
    client
        .authorize_with(with(card_auth(VISA, 100), &[("ID", "order-1")]))
        .await;
}

#[tokio::test]
async fn s11_2_without_id_the_seqno_is_the_id() {
    let (_emu, client) = started().await;
    let (_, seqno) = client.authorize(100).await;
    assert_eq!(client.info(&seqno).await.line(2), seqno);
}

#[tokio::test]
async fn s11_2_saletogether_sells_at_once() {
    let (_emu, client) = started().await;
    let (_, seqno) = client
        .authorize_with(with(card_auth(VISA, 100), &[("SALETOGETHER", "1")]))
        .await;
    assert_eq!(client.status(&seqno).await, "20");
}

#[tokio::test]
async fn s11_2_tokens_approve_decline_and_expire() {
    let (emu, client) = started().await;
    let token = |t: &str| owned(&[("SHOPID", SHOP), ("PAY", "500"), ("TOKEN", t)]);
    let (_, seqno) = client.authorize_with(token("TESTTOKEN-OK")).await;
    assert_eq!(emu.transaction(&seqno).unwrap().card, "411111******1111");
    assert_eq!(
        client
            .post_owned("authm.cgi", &token("TESTTOKEN-DECLINE"))
            .await
            .ng_code(),
        "JCN-G12"
    );
    assert_eq!(
        client
            .post_owned("authm.cgi", &token("TESTTOKEN-EXPIRED"))
            .await
            .ng_code(),
        "A1-1-171"
    );
    assert_eq!(
        client
            .post_owned("authm.cgi", &token("unknown"))
            .await
            .ng_code(),
        "A1-1-170"
    );
    // Reusable by default; single use on request.
    client.authorize_with(token("TESTTOKEN-OK")).await;
    let strict = emulator_with(|c| c.single_use_tokens = true).await;
    let client = Client::new(&strict);
    client.authorize_with(token("TESTTOKEN-OK")).await;
    assert_eq!(
        client
            .post_owned("authm.cgi", &token("TESTTOKEN-OK"))
            .await
            .ng_code(),
        "A1-1-170"
    );
}

#[tokio::test]
async fn s11_8_monthly_registers_the_card_and_customerid_charges_it() {
    let (emu, client) = started().await;
    client
        .authorize_with(with(
            card_auth(VISA, 100),
            &[("MONTHLY", "1"), ("CUSTOMERID", "cust-1")],
        ))
        .await;
    let info = client
        .post(
            "customerinfo.cgi",
            &[
                ("SHOPID", SHOP),
                ("CUSTOMERID", "cust-1"),
                ("GETEXPIRE", "1"),
            ],
        )
        .await;
    assert_eq!(info.lines, ["OK", "1111", "12", "30"]);
    let short = client
        .post(
            "customerinfo.cgi",
            &[("SHOPID", SHOP), ("CUSTOMERID", "cust-1")],
        )
        .await;
    assert_eq!(short.lines, ["OK", "1111"]);

    // Charge the stored card.
    let (_, seqno) = client
        .authorize_with(owned(&[
            ("SHOPID", SHOP),
            ("PAY", "700"),
            ("CUSTOMERID", "cust-1"),
        ]))
        .await;
    let tx = emu.transaction(&seqno).unwrap();
    assert_eq!(
        (tx.amount, tx.customer_id.as_deref()),
        (700, Some("cust-1"))
    );

    // MONTHLY=0 ignores CUSTOMERID next to card data.
    client
        .authorize_with(with(
            card_auth("5555555555554444", 100),
            &[("CUSTOMERID", "cust-2")],
        ))
        .await;
    let unknown = client
        .post(
            "customerinfo.cgi",
            &[("SHOPID", SHOP), ("CUSTOMERID", "cust-2")],
        )
        .await;
    assert_eq!(unknown.ng_code(), "C1-1-162");

    let leave = client
        .post(
            "leavecustomer.cgi",
            &[("SHOPID", SHOP), ("CUSTOMERID", "cust-1")],
        )
        .await;
    assert_eq!(leave.lines, ["OK"]);
    let gone = client
        .post(
            "leavecustomer.cgi",
            &[("SHOPID", SHOP), ("CUSTOMERID", "cust-1")],
        )
        .await;
    assert_eq!(gone.ng_code(), "C2-1-162");
    let missing = client.post("customerinfo.cgi", &[("SHOPID", SHOP)]).await;
    assert_eq!(missing.ng_code(), "C1-1-160");
}

#[tokio::test]
async fn s11_8_salem_sells_now_or_reserves_until_the_batch_date() {
    let (emu, client) = started().await;
    client
        .authorize_with(with(
            card_auth(VISA, 100),
            &[("MONTHLY", "1"), ("CUSTOMERID", "c1")],
        ))
        .await;
    let now = client
        .post(
            "salem.cgi",
            &[("SHOPID", SHOP), ("CUSTOMERID", "c1"), ("PAY", "3000")],
        )
        .await;
    assert!(now.is_ok(), "{:?}", now.lines);
    assert_eq!(client.status(now.line(2)).await, "20");

    let later = client
        .post(
            "salem.cgi",
            &[
                ("SHOPID", SHOP),
                ("CUSTOMERID", "c1"),
                ("PAY", "3000"),
                ("SALEDATE", "2026/01/20"),
            ],
        )
        .await;
    assert_eq!(later.line(1), "", "a reservation has no AUTHCODE yet");
    let reserved = later.line(2).to_owned();
    assert_eq!(client.status(&reserved).await, "40");
    emu.run_batch();
    assert_eq!(
        client.status(&reserved).await,
        "40",
        "not due before its date"
    );
    emu.advance_clock(std::time::Duration::from_secs(5 * 86_400));
    let report = emu.run_batch();
    assert_eq!(report.reservations_sold, 1);
    assert_eq!(client.status(&reserved).await, "20");
    assert_eq!(emu.transaction(&reserved).unwrap().authcode.len(), 6);

    let bad_date = client
        .post(
            "salem.cgi",
            &[
                ("SHOPID", SHOP),
                ("CUSTOMERID", "c1"),
                ("PAY", "3000"),
                ("SALEDATE", "2026-99"),
            ],
        )
        .await;
    assert_eq!(bad_date.ng_code(), "M1-1-180");
    // A declined stored card: 売上失敗.
    client
        .authorize_with(with(
            card_auth("4000000000000069", 100),
            &[("MONTHLY", "1"), ("CUSTOMERID", "c2")],
        ))
        .await;
    let declined = client
        .post(
            "salem.cgi",
            &[
                ("SHOPID", SHOP),
                ("CUSTOMERID", "c2"),
                ("PAY", "20000"),
                ("ID", "m-2"),
            ],
        )
        .await;
    assert_eq!(declined.ng_code(), "JCN-G55");
    let info = client.info_by_id("m-2").await;
    assert_eq!(info.line(3), "22");
}

/// `FREE` takes half-width characters only (F-REGI spec §1.2): full-width text, kana (half-width too)
/// and control characters are refused with `A1-1-190` (a stand-in) and make no record.
#[tokio::test]
async fn free_that_is_not_half_width_is_a1_1_190_and_makes_no_record() {
    let (emu, client) = started().await;
    for free in ["Ｔシャツ", "ﾃｽﾄ", "送料", "tab\there", "\u{3000}"] {
        let params = with(
            card_auth(VISA, 100),
            &[("FREE", free), ("CHARCODE", "utf8")],
        );
        let reply = client.post_owned("authm.cgi", &params).await;
        assert_eq!(reply.ng_code(), "A1-1-190", "{free:?}");
    }
    assert!(emu.transactions().is_empty());
    let params = with(card_auth(VISA, 100), &[("FREE", "T-shirt ~ 100% {ok}")]);
    let (_, seqno) = client.authorize_with(params).await;
    assert_eq!(
        emu.transaction(&seqno).unwrap().free.as_deref(),
        Some("T-shirt ~ 100% {ok}")
    );
}
