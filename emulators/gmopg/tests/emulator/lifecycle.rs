//! The rules of §7: which cancel on which day, 180 days, concurrency; and §2.2's Japanese
//! client fields.

use std::time::Duration;

use renkei_emulator_gmopg::{Api, CancelDateRule, Fault, Status};

use crate::support::*;

#[tokio::test]
async fn s7_1_void_on_the_day() {
    let (emu, client) = started().await;
    let ids = client.authorized("void-1", "AUTH", 100).await;
    let auth = emu.transaction("void-1").unwrap();
    // 13:59 later is still 2026-01-15 in Japan (23:59 JST).
    emu.advance_clock(Duration::from_secs(13 * 3600 + 59 * 60));
    client
        .alter(&ids, "RETURN", None)
        .await
        .assert_errors(&["E11010003"]);
    client
        .alter(&ids, "RETURNX", None)
        .await
        .assert_errors(&["E11010003"]);
    let reply = client.alter(&ids, "VOID", None).await;
    reply.assert_ok();
    // A cancel gets a new TranID and approval.
    assert_ne!(reply.get("TranID"), Some(auth.tran_id.as_str()));
    let t = emu.transaction("void-1").unwrap();
    assert_eq!((t.status, t.amount), (Status::Void, 100));
    assert_eq!(client.search("void-1").await.get("Status"), Some("VOID"));
    // Nothing more can be done with it.
    client
        .alter(&ids, "VOID", None)
        .await
        .assert_errors(&["E11010003"]);
    client
        .change(&ids, "AUTH", 50)
        .await
        .assert_errors(&["E11010003"]);
}

#[tokio::test]
async fn s7_1_return_after_the_day_in_the_same_month() {
    let (emu, client) = started().await;
    let ids = client.authorized("ret-1", "CAPTURE", 100).await;
    // 14:00 later is 2026-01-16 00:00 JST.
    emu.advance_clock(Duration::from_secs(14 * 3600));
    client
        .alter(&ids, "VOID", None)
        .await
        .assert_errors(&["E11010003"]);
    client
        .alter(&ids, "RETURNX", None)
        .await
        .assert_errors(&["E11010003"]);
    client.alter(&ids, "RETURN", None).await.assert_ok();
    assert_eq!(emu.transaction("ret-1").unwrap().status, Status::Return);
}

#[tokio::test]
async fn s7_1_returnx_from_the_next_month() {
    let (emu, client) = started().await;
    let ids = client.authorized("retx-1", "AUTH", 100).await;
    emu.advance_clock(Duration::from_secs(17 * DAY)); // 2026-02-01
    client
        .alter(&ids, "RETURN", None)
        .await
        .assert_errors(&["E11010003"]);
    client
        .alter(&ids, "VOID", None)
        .await
        .assert_errors(&["E11010003"]);
    client.alter(&ids, "RETURNX", None).await.assert_ok();
    assert_eq!(emu.transaction("retx-1").unwrap().status, Status::Returnx);
}

/// §10.4: once sold, the day of the sale counts, not the day of the authorization.
#[tokio::test]
async fn s7_1_the_reference_date_of_a_sale_is_its_capture() {
    let (emu, client) = started().await;
    let ids = client.authorized("ref-1", "AUTH", 100).await;
    emu.advance_clock(Duration::from_secs(3 * DAY));
    client.alter(&ids, "SALES", Some(100)).await.assert_ok();
    client
        .alter(&ids, "RETURN", None)
        .await
        .assert_errors(&["E11010003"]);
    client.alter(&ids, "VOID", None).await.assert_ok();
}

#[tokio::test]
async fn s10_4_cancel_date_rule_any_accepts_every_cancel_code() {
    let emu = emulator_with(|c| c.cancel_date_rule = CancelDateRule::Any).await;
    let client = Client::new(&emu);
    let ids = client.authorized("any-1", "AUTH", 100).await;
    client.alter(&ids, "RETURN", None).await.assert_ok();
}

#[tokio::test]
async fn s7_4_after_180_days_nothing_can_be_altered_or_changed() {
    let (emu, client) = started().await;
    let ids = client.authorized("old-1", "AUTH", 100).await;
    let cap = client.authorized("old-2", "CAPTURE", 100).await;
    emu.advance_clock(Duration::from_secs(180 * DAY));
    // Day 180 is still allowed.
    client.change(&ids, "AUTH", 90).await.assert_ok();
    emu.advance_clock(Duration::from_secs(DAY));
    client
        .alter(&ids, "SALES", Some(90))
        .await
        .assert_errors(&["E11010010"]);
    client
        .change(&ids, "AUTH", 80)
        .await
        .assert_errors(&["E11010010"]);
    client
        .alter(&cap, "RETURNX", None)
        .await
        .assert_errors(&["E11010010"]);
    let t = emu.transaction("old-1").unwrap();
    assert_eq!((t.status, t.amount), (Status::Auth, 90));
}

/// §7.7: while a request on a transaction is held, another one on it is E90010001 and has no
/// effect; the held one is processed afterwards.
#[tokio::test]
async fn s7_7_a_request_on_a_transaction_being_processed_is_e90010001() {
    let (emu, client) = started().await;
    let ids = client.entered("busy-1", "AUTH", 100).await;
    emu.install_fault(Fault::latency(600).on_api(Api::ExecTran));
    let held = {
        let ids = ids.clone();
        let client = Client::new(&emu);
        tokio::spawn(async move { client.exec_token(&ids, "TESTTOKEN-OK").await })
    };
    // Wait until the emulator holds it.
    for _ in 0..100 {
        if emu.held_requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(emu.held_requests(), 1);
    client
        .exec_token(&ids, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E90010001"]);
    client
        .alter(&ids, "VOID", None)
        .await
        .assert_errors(&["E90010001"]);
    client
        .entry("busy-1", "AUTH", 100)
        .await
        .assert_errors(&["E90010001"]);
    // A search is a read: it answers the state before the held request.
    assert_eq!(
        client.search("busy-1").await.get("Status"),
        Some("UNPROCESSED")
    );
    held.await.unwrap().assert_ok();
    assert_eq!(emu.held_requests(), 0);
    assert_eq!(emu.transaction("busy-1").unwrap().status, Status::Auth);
    // Free again: the replay is the ordinary E11010001.
    client
        .exec_token(&ids, "TESTTOKEN-OK")
        .await
        .assert_errors(&["E11010001"]);
}

/// §2.2/§2.3: a Japanese ClientField1 (with Windows-31J-only characters) goes in percent-encoded
/// Windows-31J and comes back raw Windows-31J, in ExecTran's echo and in SearchTrade.
#[tokio::test]
async fn s2_2_a_japanese_client_field_round_trips_in_windows_31j() {
    let (_emu, client) = started().await;
    let ids = client.entered("jp-1", "AUTH", 100).await;
    let field = "～－￠￡￢①ほげほげ";
    let reply = client
        .post(
            "ExecTran",
            &[
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("OrderID", &ids.order),
                ("Token", "TESTTOKEN-OK"),
                ("ClientField1", field),
                ("ClientField2", "2"),
                ("ClientFieldFlag", "1"),
            ],
        )
        .await;
    reply.assert_ok();
    assert_eq!(reply.content_type, "text/plain;charset=Windows-31J");
    assert_eq!(reply.get("ClientField1"), Some(field));
    assert_eq!(reply.get("ClientField2"), Some("2"));
    assert_eq!(reply.get("ClientField3"), Some(""));
    let raw = encoding_rs::SHIFT_JIS.encode(field).0.into_owned();
    assert!(
        reply.raw.windows(raw.len()).any(|w| w == raw.as_slice()),
        "the value is sent raw, not percent-encoded"
    );
    // S1: ～ is 0x8160 in Windows-31J.
    assert_eq!(&raw[..2], b"\x81\x60");
    let search = client.search("jp-1").await;
    assert_eq!(search.get("ClientField1"), Some(field));
    assert!(search.raw.windows(raw.len()).any(|w| w == raw.as_slice()));
    // Without the flag, no echo.
    let other = client.entered("jp-2", "AUTH", 100).await;
    let reply = client.exec_token(&other, "TESTTOKEN-OK").await;
    assert_eq!(reply.get("ClientField1"), None);
}

#[tokio::test]
async fn s4_2_client_fields_over_100_bytes_are_refused() {
    let (_emu, client) = started().await;
    let ids = client.entered("cf-1", "AUTH", 100).await;
    // 51 double-byte characters are 102 Windows-31J bytes.
    let long = "あ".repeat(51);
    let reply = client
        .post(
            "ExecTran",
            &[
                ("AccessID", &ids.access_id),
                ("AccessPass", &ids.access_pass),
                ("OrderID", &ids.order),
                ("Token", "TESTTOKEN-OK"),
                ("ClientField1", &long),
                ("ClientField3", &long),
                ("ClientFieldFlag", "2"),
            ],
        )
        .await;
    reply.assert_errors(&["E01320012", "E01340012", "E01400007"]);
}

/// §7.7 holds only the transaction a held request is about: other orders go on, and many
/// clients at once each get their own transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_7_other_orders_are_not_held_and_parallel_clients_do_not_collide() {
    let (emu, client) = started().await;
    let held_ids = client.entered("held-1", "AUTH", 100).await;
    emu.install_fault(Fault::latency(500).on_order("held-1"));
    let held = {
        let client = Client::new(&emu);
        tokio::spawn(async move { client.exec_token(&held_ids, "TESTTOKEN-OK").await })
    };
    let mut tasks = Vec::new();
    for n in 0..16 {
        let client = Client::new(&emu);
        tasks.push(tokio::spawn(async move {
            client
                .authorized(&format!("par-{n}"), "AUTH", 100 + n)
                .await
        }));
    }
    let mut access_ids = std::collections::HashSet::new();
    for task in tasks {
        assert!(access_ids.insert(task.await.unwrap().access_id));
    }
    held.await.unwrap().assert_ok();
    assert_eq!(emu.book().len(), 17);
}
