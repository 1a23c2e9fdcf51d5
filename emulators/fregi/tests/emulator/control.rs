//! The control surface under `/__emulator__/` and the admin-screen actions (G-8, F-5).

use renkei_emulator_fregi::{Config, Dump, Origin, STATUSES, Status, banner};

use crate::support::*;

#[tokio::test]
async fn s10_3_info_by_seqno_and_id_and_its_errors() {
    let (_emu, client) = started().await;
    let (authcode, seqno) = client
        .authorize_with(with(card_auth(VISA, 4321), &[("ID", "ord-7")]))
        .await;
    let info = client.info(&seqno).await;
    assert_eq!(info.content_type, "text/plain; charset=EUC-JP");
    assert_eq!(
        info.lines,
        [
            "OK",
            seqno.as_str(),
            "ord-7",
            "10",
            "4321",
            authcode.as_str(),
            "0",
            ""
        ]
    );
    let by_id = client.info_by_id("ord-7").await;
    assert_eq!(by_id.lines, info.lines);
    let unknown = client.info("00000000000000000999").await;
    assert_eq!(
        unknown.ng(),
        "X1-1-120(照会時の指定された取引は存在しません)"
    );
    let unknown_id = client.info_by_id("nope").await;
    assert_eq!(unknown_id.ng_code(), "X1-1-120");
    let nothing = client
        .get_path("/__emulator__/info", &form(&[("SHOPID", SHOP)]))
        .await;
    assert_eq!(nothing.ng_code(), "X1-1-110");
    let no_shop = client
        .get_path("/__emulator__/info", &form(&[("SEQNO", &seqno)]))
        .await;
    assert_eq!(no_shop.ng_code(), "X1-1-10");
}

#[tokio::test]
async fn s11_9_dump_reset_and_clock_endpoints() {
    let (_emu, client) = started().await;
    let (_, seqno) = client
        .authorize_with(with(
            card_auth(VISA, 100),
            &[("MONTHLY", "1"), ("CUSTOMERID", "c-1")],
        ))
        .await;
    let (status, dump) = client.control("GET", "dump", &[]).await;
    assert_eq!(status, 200);
    let dump: Dump = serde_json::from_value(dump).unwrap();
    assert_eq!(dump.transactions.len(), 1);
    assert_eq!(dump.transactions[0].seqno, seqno);
    assert_eq!(dump.transactions[0].status, Status::Authorized);
    assert_eq!(dump.customers[0].customer_id, "c-1");
    assert_eq!(dump.customers[0].state, "承認有効");
    assert!(
        !serde_json::to_string(&dump).unwrap().contains(VISA),
        "no full card number in a dump"
    );
    assert!(
        dump.now_jst.starts_with("2026-01-15T10:00"),
        "{}",
        dump.now_jst
    );

    let (_, clock) = client
        .control("POST", "clock", &[("set", "2026-02-01T09:30:00")])
        .await;
    assert!(
        clock["now_jst"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-01T09:30:0")
    );
    let (_, clock) = client
        .control("POST", "clock", &[("advance", "86400")])
        .await;
    assert!(
        clock["now_jst"]
            .as_str()
            .unwrap()
            .starts_with("2026-02-02T09:30:0")
    );
    assert_eq!(
        client
            .control("POST", "clock", &[("set", "yesterday")])
            .await
            .0,
        400
    );
    assert_eq!(client.control("POST", "clock", &[]).await.0, 400);
    let (_, read) = client.control("GET", "clock", &[]).await;
    assert!(read["now"].as_i64().unwrap() >= T0 + 17 * 86_400);

    assert_eq!(client.control("POST", "reset", &[]).await.0, 200);
    let after: Dump = serde_json::from_value(client.control("GET", "dump", &[]).await.1).unwrap();
    assert!(after.transactions.is_empty() && after.customers.is_empty());
    assert!(after.now < T0 + 60, "clock back to its start");
    let (_, again) = client.authorize(100).await;
    assert_eq!(again, seqno, "SEQNO counter restarts");
    assert_eq!(client.control("GET", "nothing-here", &[]).await.0, 404);
    assert_eq!(client.control("GET", "reset", &[]).await.0, 404);
}

#[tokio::test]
async fn f11_statuses_endpoint_lists_the_manuals_ten_labels() {
    let (_emu, client) = started().await;
    let (_, statuses) = client.control("GET", "statuses", &[]).await;
    let labels: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "承認済",
            "承認取消",
            "承認失敗",
            "売上済（未伝送）",
            "売上済（伝送済）",
            "売上取消（未伝送）",
            "売上取消（伝送済）",
            "売上失敗",
            "予約（未オーソリ）",
            "通常処理（有効性確認済み）"
        ]
    );
    assert_eq!(STATUSES.len(), 10);
    let (_, codes) = client.control("GET", "codes", &[]).await;
    let f10 = codes
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ng"]["code"] == "S1-1-121")
        .unwrap();
    assert_eq!(
        f10["ng"]["message"],
        "売上処理時の指定された取引は売上受付済みです"
    );
    assert_eq!(f10["verbatim"], true);
}

#[tokio::test]
async fn f5_admin_amount_change_makes_a_later_shop_sale_fail() {
    let (emu, client) = started().await;
    let (_, old) = client
        .authorize_with(with(card_auth(VISA, 5000), &[("ID", "order-5")]))
        .await;
    let (status, answer) = client
        .control(
            "POST",
            "admin/change_amount",
            &[("SHOPID", SHOP), ("SEQNO", &old), ("PAY", "4500")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let new = answer["outcome"]["seqno"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(answer["outcome"]["transaction"]["origin"], "admin");

    // The shop's record is authorization-cancelled; its capture is refused.
    assert_eq!(client.status(&old).await, "12");
    assert_eq!(
        client.sale(&old).await.ng(),
        "S1-1-122(売上処理時の指定された取引は承認取消済みです)"
    );
    // The operator captures in the admin screen.
    let sold = emu.admin_sale(SHOP, &new).unwrap();
    assert_eq!(
        (sold.transaction.status, sold.transaction.amount),
        (Status::SoldPending, 4500)
    );
    assert_eq!(sold.transaction.updated_by, Origin::Admin);
    // Drift is visible by inquiry on the order's ID (G-8).
    let by_id = client.info_by_id("order-5").await;
    assert_eq!(
        (by_id.line(1), by_id.line(3), by_id.line(4)),
        (new.as_str(), "20", "4500")
    );
}

#[tokio::test]
async fn g8_admin_cancel_sale_and_sale_change_through_the_rust_api() {
    let (emu, client) = started().await;
    let (_, authorized) = client.authorize(1000).await;
    let cancelled = emu.admin_cancel(SHOP, &authorized).unwrap();
    assert_eq!(cancelled.transaction.status, Status::AuthorizationCancelled);
    assert_eq!(client.sale(&authorized).await.ng_code(), "S1-1-122");

    let (_, sold) = client.authorize(1000).await;
    client.sale(&sold).await;
    let refund = emu.admin_cancel(SHOP, &sold).unwrap();
    assert_eq!(refund.transaction.status, Status::SaleCancelledPending);
    let twice = emu.admin_cancel(SHOP, &sold).unwrap_err();
    assert_eq!(twice.code, "A2-1-123");

    let (_, sold) = client.authorize(1000).await;
    client.sale(&sold).await;
    let partial = emu.admin_sale_change(SHOP, &sold, 700).unwrap();
    assert_eq!(
        (partial.transaction.status, partial.transaction.amount),
        (Status::SoldPending, 700)
    );
    assert_eq!(client.status(&sold).await, "30");
    assert_eq!(
        emu.admin_change_amount(SHOP, &sold, 100).unwrap_err().code,
        "A3-1-123"
    );

    let (status, refused) = client
        .control("POST", "admin/sale", &[("SHOPID", SHOP), ("SEQNO", &sold)])
        .await;
    assert_eq!(status, 422);
    assert_eq!(refused["code"], "S1-1-123");
    assert_eq!(client.control("POST", "admin/unknown", &[]).await.0, 404);
}

#[tokio::test]
async fn tokens_can_be_registered_over_http() {
    let (emu, client) = started().await;
    let (status, _) = client
        .control(
            "POST",
            "tokens",
            &[
                ("token", "tok-1"),
                ("pan", "5555555555554444"),
                ("exp_month", "1"),
                ("exp_year", "29"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let (_, seqno) = client
        .authorize_with(owned(&[
            ("SHOPID", SHOP),
            ("PAY", "100"),
            ("TOKEN", "tok-1"),
        ]))
        .await;
    assert_eq!(emu.transaction(&seqno).unwrap().card, "555555******4444");
    assert_eq!(
        client
            .control("POST", "tokens", &[("token", "tok-2")])
            .await
            .0,
        400
    );
}

#[test]
fn banner_names_the_shop_and_the_decline_cards() {
    let config = Config::default();
    let text = banner("127.0.0.1:8080".parse().unwrap(), &config);
    assert!(text.contains("http://127.0.0.1:8080/connect/"));
    assert!(text.contains("SHOPID:        12345"));
    for rule in &config.decline_rules {
        assert!(
            text.contains(&rule.pan) && text.contains(&rule.code),
            "{}",
            rule.pan
        );
    }
    for token in &config.tokens {
        assert!(text.contains(&token.token));
    }
}

/// The README's tables are documentation of data: they must not drift from it.
#[test]
fn readme_documents_every_reason_and_status() {
    let readme = include_str!("../../README.md");
    for entry in renkei_emulator_fregi::catalogue() {
        let text = entry
            .ng
            .message
            .split_once("時の")
            .map_or(entry.ng.message.as_str(), |(_, t)| t);
        assert!(
            readme.contains(text),
            "README lacks {} {text}",
            entry.ng.code
        );
    }
    for row in STATUSES {
        assert!(
            readme.contains(&format!("| `{}` | {} |", row.code, row.label)),
            "README lacks {}",
            row.label
        );
    }
}
