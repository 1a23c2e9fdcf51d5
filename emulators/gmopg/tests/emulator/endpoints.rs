//! Each endpoint's success and its errors (§4, §5, §10).

use renkei_emulator_gmopg::{DECLINE_CODES, Status, decline_card, decline_token};

use crate::support::*;

/// A request's fields and the `ErrInfo` list it must get.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn s4_1_entry_tran_registers_an_unprocessed_transaction() {
    let (emu, client) = started().await;
    let reply = client.entry("order-1", "AUTH", 1500).await;
    reply.assert_ok();
    assert_eq!(reply.keys(), ["AccessID", "AccessPass"]);
    assert!(is_hex32(&reply.must("AccessID")) && is_hex32(&reply.must("AccessPass")));
    let t = emu.transaction("order-1").unwrap();
    assert_eq!(t.status, Status::Unprocessed);
    assert_eq!((t.amount, t.job_cd.as_str()), (1500, "AUTH"));
    assert!(emu.book().is_empty(), "a registration moves no money");
}

#[tokio::test]
async fn s4_1_entry_tran_errors() {
    let (emu, client) = started().await;
    let cases: &[Case] = &[
        (
            &[("OrderID", "o"), ("JobCd", "AUTH"), ("Amount", "1")],
            &["E01010001", "E01020001"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", "wrong"),
                ("OrderID", "o"),
                ("JobCd", "AUTH"),
                ("Amount", "1"),
            ],
            &["E01030002"],
        ),
        // S1 cassette: OrderID=null&JobCd=null&Amount=null.
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "null"),
                ("JobCd", "null"),
                ("Amount", "null"),
            ],
            &["E01050002", "E01060006"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("JobCd", "AUTH"),
                ("Amount", "1"),
            ],
            &["E01040001"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "a_b"),
                ("Amount", "1"),
            ],
            &["E01040013", "E01050001"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", &"x".repeat(28)),
                ("JobCd", "AUTH"),
            ],
            &["E01040003", "E01060001"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "o"),
                ("JobCd", "AUTH"),
                ("Amount", "10000000"),
            ],
            &["E01060005"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "o"),
                ("JobCd", "AUTH"),
                ("Amount", "9999999"),
                ("Tax", "1"),
            ],
            &["E01490005"],
        ),
        (
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "o"),
                ("JobCd", "AUTH"),
                ("Amount", "0"),
                ("Tax", "x"),
            ],
            &["E01060001", "E01070006"],
        ),
    ];
    for (pairs, expected) in cases {
        client
            .post("EntryTran", pairs)
            .await
            .assert_errors(expected);
    }
    // 27 characters is allowed.
    client.entry(&"A".repeat(27), "AUTH", 1).await.assert_ok();
    // CHECK needs no amount.
    client
        .post(
            "EntryTran",
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "chk-1"),
                ("JobCd", "CHECK"),
            ],
        )
        .await
        .assert_ok();
    assert_eq!(emu.transactions().len(), 2, "refused entries leave nothing");
}

#[tokio::test]
async fn s7_5_a_duplicate_order_id_is_e01040010_even_after_a_cancel() {
    let (emu, client) = started().await;
    let ids = client.authorized("dup-1", "AUTH", 100).await;
    client
        .entry("dup-1", "AUTH", 100)
        .await
        .assert_errors(&["E01040010"]);
    client.alter(&ids, "VOID", None).await.assert_ok();
    client
        .entry("dup-1", "CAPTURE", 5)
        .await
        .assert_errors(&["E01040010"]);
    assert_eq!(emu.transactions().len(), 1);
    // Another shop may use the same id.
}

#[tokio::test]
async fn s4_2_exec_tran_with_a_token_authorizes() {
    let (emu, client) = started().await;
    let ids = client.entered("exec-1", "AUTH", 1000).await;
    let reply = client.exec_token(&ids, "TESTTOKEN-OK").await;
    reply.assert_ok();
    assert_eq!(
        reply.keys(),
        [
            "ACS",
            "OrderID",
            "Forward",
            "Method",
            "PayTimes",
            "Approve",
            "TranID",
            "TranDate",
            "CheckString"
        ]
    );
    assert_eq!(reply.get("ACS"), Some("0"));
    assert_eq!(reply.get("OrderID"), Some("exec-1"));
    assert_eq!(reply.must("Approve").len(), 7);
    let tran_id = reply.must("TranID");
    assert!(
        tran_id.len() == 28 && tran_id.bytes().all(|b| b.is_ascii_digit()),
        "{tran_id}"
    );
    // 2026-01-15 10:00 JST.
    assert!(
        reply.must("TranDate").starts_with("2026011510"),
        "{}",
        reply.text()
    );
    assert!(is_hex32(&reply.must("CheckString")));
    let t = emu.transaction("exec-1").unwrap();
    assert_eq!(t.status, Status::Auth);
    assert_eq!(t.card_no, "************1111");
    assert_eq!(emu.book().len(), 1);
}

#[tokio::test]
async fn s4_2_capture_check_and_sauth_jobs() {
    let (emu, client) = started().await;
    for (order, job, status) in [
        ("cap-1", "CAPTURE", Status::Capture),
        ("chk-1", "CHECK", Status::Check),
        ("sauth-1", "SAUTH", Status::Sauth),
    ] {
        client.authorized(order, job, 700).await;
        assert_eq!(emu.transaction(order).unwrap().status, status);
    }
}

#[tokio::test]
async fn s4_2_a_second_exec_tran_is_e11010001_and_authorizes_nothing_more() {
    let (emu, client) = started().await;
    let ids = client.authorized("twice-1", "AUTH", 1000).await;
    let before = emu.transaction("twice-1").unwrap();
    client
        .exec_token(&ids, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E11010001"]);
    let after = emu.transaction("twice-1").unwrap();
    assert_eq!(
        (after.status, after.tran_id),
        (before.status, before.tran_id)
    );
}

#[tokio::test]
async fn s4_2_card_number_and_expiry() {
    let (emu, client) = started().await;
    let ids = client.entered("card-1", "AUTH", 300).await;
    let exec = |card: &'static str, expire: &'static str| {
        let ids = ids.clone();
        let client = &client;
        async move {
            client
                .post(
                    "ExecTran",
                    &[
                        ("AccessID", &ids.access_id),
                        ("AccessPass", &ids.access_pass),
                        ("OrderID", &ids.order),
                        ("Method", "1"),
                        ("CardNo", card),
                        ("Expire", expire),
                    ],
                )
                .await
        }
    };
    exec("4111x11111111111", "3012")
        .await
        .assert_errors(&["E01170006"]);
    exec("411111111", "3012")
        .await
        .assert_errors(&["E01170011"]);
    exec("4111111111111111", "301")
        .await
        .assert_errors(&["E01180003"]);
    exec("4111111111111111", "3013")
        .await
        .assert_errors(&["E01180008"]);
    // The current JST month is 2026-01: 2512 has expired.
    exec("4111111111111111", "2512")
        .await
        .assert_errors(&["42G830000"]);
    assert_eq!(
        emu.transaction("card-1").unwrap().status,
        Status::Unprocessed
    );
    let ok = exec("4111111111111111", "2601").await;
    ok.assert_ok();
    assert_eq!(emu.transaction("card-1").unwrap().expire, "2601");
}

/// S1 cassette `exec_tran_got_error_if_missing_options`: every problem is listed.
#[tokio::test]
async fn s5_1_every_problem_found_is_listed() {
    let (_emu, client) = started().await;
    let reply = client
        .post(
            "ExecTran",
            &[
                ("AccessID", "null"),
                ("AccessPass", "null"),
                ("OrderID", "null"),
                ("Method", "1"),
                ("PayTimes", "1"),
                ("CardNo", "null"),
                ("Expire", "null"),
                ("ClientFieldFlag", "0"),
                ("ShopID", SHOP),
                ("ShopPass", PASS),
            ],
        )
        .await;
    reply.assert_errors(&[
        "E01090008",
        "E01100008",
        "E01110002",
        "E01170011",
        "E01170006",
        "E01180006",
    ]);
    assert_eq!(reply.get("ErrCode"), Some("E01|E01|E01|E01|E01|E01"));
    // AlterTran with bad ids lists them and the lookup, not the missing amount.
    let bad = Ids {
        order: "x".into(),
        access_id: "null".into(),
        access_pass: "null".into(),
    };
    client
        .alter(&bad, "SALES", None)
        .await
        .assert_errors(&["E01090008", "E01100008", "E01110002"]);
}

#[tokio::test]
async fn s10_5_each_decline_token_and_card_answers_its_code_and_moves_nothing() {
    let (emu, client) = started().await;
    for (n, code) in DECLINE_CODES.iter().enumerate() {
        let order = format!("decl-{n}");
        let ids = client.entered(&order, "AUTH", 100).await;
        let reply = client.exec_token(&ids, &decline_token(code)).await;
        reply.assert_errors(&[code]);
        assert_eq!(reply.codes(), [format!("G{}", &code[3..5])]);
        let card = decline_card(code);
        let by_card = client
            .post(
                "ExecTran",
                &[
                    ("AccessID", &ids.access_id),
                    ("AccessPass", &ids.access_pass),
                    ("OrderID", &order),
                    ("CardNo", &card),
                    ("Expire", "3012"),
                ],
            )
            .await;
        by_card.assert_errors(&[code]);
        assert_eq!(emu.transaction(&order).unwrap().status, Status::Unprocessed);
        // §10.6: the same AccessID may be executed again after a decline.
        client.exec_token(&ids, "TESTTOKEN-OK").await.assert_ok();
    }
    client
        .exec_token(
            &client.entered("unknown-tok", "AUTH", 1).await,
            "NO-SUCH-TOKEN",
        )
        .await
        .assert_errors(&["E01170001"]);
}

#[tokio::test]
async fn s10_5_the_multi_error_token_fails_two_checks_at_once() {
    let (emu, client) = started().await;
    let ids = client.entered("multi-1", "AUTH", 100).await;
    let reply = client.exec_token(&ids, "TESTTOKEN-MULTI").await;
    reply.assert_errors(&["E01170006", "E01180008"]);
    assert_eq!(reply.get("ErrCode"), Some("E01|E01"));
    assert!(emu.book().is_empty());
}

#[tokio::test]
async fn s10_5_the_limit_token_declines_above_ten_thousand_yen() {
    let (_emu, client) = started().await;
    let over = client.entered("lim-1", "AUTH", 10_001).await;
    client
        .exec_token(&over, "TESTTOKEN-LIMIT")
        .await
        .assert_errors(&["42G550000"]);
    let under = client.entered("lim-2", "AUTH", 10_000).await;
    client
        .exec_token(&under, "TESTTOKEN-LIMIT")
        .await
        .assert_ok();
}

#[tokio::test]
async fn s10_5_single_use_tokens_when_configured() {
    let emu = emulator_with(|c| c.single_use_tokens = true).await;
    let client = Client::new(&emu);
    let a = client.entered("su-1", "AUTH", 1).await;
    let b = client.entered("su-2", "AUTH", 1).await;
    client.exec_token(&a, "TESTTOKEN-OK").await.assert_ok();
    client
        .exec_token(&b, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E01170001"]);
    emu.add_token(renkei_emulator_gmopg::TestToken {
        token: "TESTTOKEN-OK".into(),
        card_no: "4111111111111111".into(),
        expire: "3012".into(),
        errors: vec![],
    });
    client.exec_token(&b, "TESTTOKEN-OK").await.assert_ok();
}

#[tokio::test]
async fn s4_2_ids_of_another_shop_or_order_do_not_match() {
    let emu = emulator_with(|c| {
        c.shops.push(renkei_emulator_gmopg::Shop {
            shop_id: "tshop00099999".into(),
            shop_pass: "other999".into(),
        })
    })
    .await;
    let client = Client::new(&emu);
    let ids = client.entered("own-1", "AUTH", 100).await;
    let mut wrong_pass = ids.clone();
    wrong_pass.access_pass = "0".repeat(32);
    client
        .exec_token(&wrong_pass, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E01110002"]);
    let mut wrong_order = ids.clone();
    wrong_order.order = "own-2".into();
    client
        .exec_token(&wrong_order, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E01110002"]);
    let other_shop = client
        .post(
            "ExecTran",
            &[
                ("ShopID", "tshop00099999"),
                ("ShopPass", "other999"),
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("OrderID", &ids.order),
                ("Token", "TESTTOKEN-OK"),
            ],
        )
        .await;
    other_shop.assert_errors(&["E01110002"]);
    // The other shop may use the same order id, and cannot see ours.
    let other = client
        .post(
            "EntryTran",
            &[
                ("ShopID", "tshop00099999"),
                ("ShopPass", "other999"),
                ("OrderID", "own-1"),
                ("JobCd", "AUTH"),
                ("Amount", "5"),
            ],
        )
        .await;
    other.assert_ok();
    assert_eq!(emu.transactions().len(), 2);
}

#[tokio::test]
async fn s4_3_sales_captures_at_the_authorized_amount() {
    let (emu, client) = started().await;
    let ids = client.authorized("sale-1", "AUTH", 2500).await;
    let auth = emu.transaction("sale-1").unwrap();
    // §10.3: another amount is refused.
    client
        .alter(&ids, "SALES", Some(2400))
        .await
        .assert_errors(&["E01060010"]);
    client
        .alter(&ids, "SALES", None)
        .await
        .assert_errors(&["E01060001"]);
    assert_eq!(emu.transaction("sale-1").unwrap().status, Status::Auth);
    let reply = client.alter(&ids, "SALES", Some(2500)).await;
    reply.assert_ok();
    assert_eq!(
        reply.keys(),
        [
            "AccessID",
            "AccessPass",
            "Forward",
            "Approve",
            "TranID",
            "TranDate"
        ]
    );
    // S1 cassette: SALES keeps the authorization's Approve and TranID.
    assert_eq!(reply.get("TranID"), Some(auth.tran_id.as_str()));
    assert_eq!(reply.get("Approve"), Some(auth.approve.as_str()));
    assert_eq!(reply.get("AccessID"), Some(ids.access_id.as_str()));
    assert_eq!(emu.transaction("sale-1").unwrap().status, Status::Sales);
    // A second SALES does nothing.
    client
        .alter(&ids, "SALES", Some(2500))
        .await
        .assert_errors(&["E11010003"]);
}

#[tokio::test]
async fn s4_3_alter_tran_errors() {
    let (emu, client) = started().await;
    let entered = client.entered("alt-1", "AUTH", 100).await;
    client
        .alter(&entered, "SALES", Some(100))
        .await
        .assert_errors(&["E11010002"]);
    client
        .alter(&entered, "VOID", None)
        .await
        .assert_errors(&["E11010002"]);
    client
        .alter(&entered, "CAPTURE", None)
        .await
        .assert_errors(&["E01050002"]);
    let captured = client.authorized("alt-2", "CAPTURE", 100).await;
    client
        .alter(&captured, "SALES", Some(100))
        .await
        .assert_errors(&["E11010003"]);
    let checked = client.authorized("alt-3", "CHECK", 0).await;
    client
        .alter(&checked, "VOID", None)
        .await
        .assert_errors(&["E11010003"]);
    let missing_shop = client
        .post(
            "AlterTran",
            &[
                ("AccessID", &captured.access_id),
                ("AccessPass", &captured.access_pass),
                ("JobCd", "VOID"),
            ],
        )
        .await;
    missing_shop.assert_errors(&["E01010001", "E01020001"]);
    assert_eq!(emu.transaction("alt-2").unwrap().status, Status::Capture);
}

#[tokio::test]
async fn s4_4_change_tran_changes_an_authorization_with_a_new_tran_id() {
    let (emu, client) = started().await;
    let ids = client.authorized("chg-1", "AUTH", 1000).await;
    let before = emu.transaction("chg-1").unwrap();
    let reply = client.change(&ids, "AUTH", 1200).await;
    reply.assert_ok();
    assert_eq!(reply.get("AccessID"), Some(ids.access_id.as_str()));
    assert_eq!(reply.get("AccessPass"), Some(ids.access_pass.as_str()));
    assert_ne!(reply.get("TranID"), Some(before.tran_id.as_str()));
    let t = emu.transaction("chg-1").unwrap();
    assert_eq!((t.status, t.amount), (Status::Auth, 1200));
    // §7.2: then SALES at the new amount.
    client
        .alter(&ids, "SALES", Some(1000))
        .await
        .assert_errors(&["E01060010"]);
    client.alter(&ids, "SALES", Some(1200)).await.assert_ok();
    // §7.3: a partial refund of a sale.
    client
        .change(&ids, "AUTH", 900)
        .await
        .assert_errors(&["E11010003"]);
    client.change(&ids, "CAPTURE", 900).await.assert_ok();
    let t = emu.transaction("chg-1").unwrap();
    assert_eq!((t.status, t.amount), (Status::Sales, 900));
    assert_eq!(
        t.captured_amount,
        Some(1200),
        "what was captured, 300 of it refunded since"
    );
}

#[tokio::test]
async fn s4_4_change_tran_errors() {
    let (emu, client) = started().await;
    let entered = client.entered("chge-1", "AUTH", 100).await;
    client
        .change(&entered, "AUTH", 50)
        .await
        .assert_errors(&["E11010002"]);
    client
        .change(&entered, "SALES", 50)
        .await
        .assert_errors(&["E01050002"]);
    let ids = client.authorized("chge-2", "AUTH", 100).await;
    client
        .change(&ids, "CAPTURE", 50)
        .await
        .assert_errors(&["E11010003"]);
    client
        .change(&ids, "AUTH", 0)
        .await
        .assert_errors(&["E01060001"]);
    client
        .change(&ids, "AUTH", 10_000_000)
        .await
        .assert_errors(&["E01060005"]);
    // The limit card declines a raise above its limit and keeps the old amount.
    let lim = client.entered("chge-3", "AUTH", 5000).await;
    client.exec_token(&lim, "TESTTOKEN-LIMIT").await.assert_ok();
    client
        .change(&lim, "AUTH", 10_001)
        .await
        .assert_errors(&["42G550000"]);
    assert_eq!(emu.transaction("chge-3").unwrap().amount, 5000);
    client.change(&lim, "AUTH", 10_000).await.assert_ok();
}

#[tokio::test]
async fn s4_5_search_trade_answers_every_field() {
    let (_emu, client) = started().await;
    let ids = client.entered("srch-1", "AUTH", 100).await;
    let reply = client.search("srch-1").await;
    reply.assert_ok();
    assert_eq!(
        reply.keys(),
        [
            "OrderID",
            "Status",
            "ProcessDate",
            "JobCd",
            "AccessID",
            "AccessPass",
            "ItemCode",
            "Amount",
            "Tax",
            "SiteID",
            "MemberID",
            "CardNo",
            "Expire",
            "Method",
            "PayTimes",
            "Forward",
            "TranID",
            "Approve",
            "ClientField1",
            "ClientField2",
            "ClientField3"
        ]
    );
    // As S1's cassette: a registered, unexecuted transaction.
    assert_eq!(reply.get("Status"), Some("UNPROCESSED"));
    assert!(reply.must("ProcessDate").starts_with("202601151000"));
    assert_eq!(reply.get("JobCd"), Some("AUTH"));
    assert_eq!(reply.get("AccessPass"), Some(ids.access_pass.as_str()));
    assert_eq!(reply.get("Amount"), Some("100"));
    assert_eq!(reply.get("Tax"), Some("0"));
    assert_eq!(reply.get("TranID"), Some(""));
    client.exec_token(&ids, "TESTTOKEN-OK").await.assert_ok();
    let reply = client.search("srch-1").await;
    assert_eq!(reply.get("Status"), Some("AUTH"));
    assert_eq!(reply.get("CardNo"), Some("************1111"));
    assert_eq!(reply.get("Expire"), Some("3012"));
    assert_eq!(reply.get("Method"), Some("1"));
    assert_eq!(reply.get("Forward"), Some("2a99662"));
    assert_eq!(reply.must("TranID").len(), 28);
}

#[tokio::test]
async fn s10_2_search_trade_for_an_unknown_order_is_e01110002() {
    let (_emu, client) = started().await;
    client.search("nobody").await.assert_errors(&["E01110002"]);
    client
        .post("SearchTrade", &[("ShopID", SHOP), ("ShopPass", PASS)])
        .await
        .assert_errors(&["E01040001"]);
    client
        .post(
            "SearchTrade",
            &[("ShopID", SHOP), ("ShopPass", "nope"), ("OrderID", "x")],
        )
        .await
        .assert_errors(&["E01030002"]);
}
