//! The control surface (§11.8): book, dump, clock, tokens, the management screen, the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use renkei_emulator_gmopg::{AdminAction, Origin, Status};

use crate::support::*;

#[tokio::test]
async fn s10_1_plugin_config_names_endpoint_shop_and_pass() {
    let (emu, _client) = started().await;
    let config = emu.plugin_config();
    let keys: Vec<&str> = config.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["endpoint", "shop_id", "shop_pass"]);
    assert_eq!(config[0].1, format!("http://{}/payment/", emu.addr()));
    assert_eq!(config[1].1, "tshop00042424");
    assert_eq!(config[2].1, "Rk7cNq2x");
    assert!(
        !emu.banner().contains("Rk7cNq2x"),
        "the banner does not print the pass"
    );
    assert!(!format!("{:?}", emu.config()).contains("Rk7cNq2x"));
}

#[tokio::test]
async fn s11_8_the_book_over_http_holds_executed_transactions_only() {
    let (_emu, client) = started().await;
    client.entered("book-1", "AUTH", 100).await;
    let (status, book) = client.control_get("book").await;
    assert_eq!(status, 200);
    assert_eq!(book, serde_json::json!([]));
    client.authorized("book-2", "AUTH", 100).await;
    let (_, book) = client.control_get("book").await;
    assert_eq!(book.as_array().unwrap().len(), 1);
    assert_eq!(book[0]["order_id"], "book-2");
    assert!(
        book[0]["state"]
            .as_str()
            .unwrap()
            .starts_with("AUTH, amount 100")
    );
    let (_, dump) = client.control_get("dump").await;
    assert_eq!(dump["transactions"].as_array().unwrap().len(), 2);
    assert!(
        dump["now_jst"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-15T10:00:")
    );
    let text = dump.to_string();
    assert!(!text.contains("AccessPass") && !text.contains("access_pass"));
    assert!(
        !text.contains("4111111111111111"),
        "card numbers are masked"
    );
    let (status, one) = client.control_get("transactions/book-2").await;
    assert_eq!((status, one["status"].as_str()), (200, Some("AUTH")));
    assert_eq!(client.control_get("transactions/none").await.0, 404);
}

#[tokio::test]
async fn s11_8_clock_over_http() {
    let (emu, client) = started().await;
    let (status, clock) = client.control_post("clock?advance=86400", None).await;
    assert_eq!(status, 200);
    assert!(
        clock["now_jst"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-16T10:00:")
    );
    client
        .control_post("clock?set=2026-03-01T09:00:00", None)
        .await;
    assert!((emu.now() - (T0 + 45 * 86_400 - 3600)).abs() <= 2);
    assert_eq!(client.control_post("clock", None).await.0, 400);
}

#[tokio::test]
async fn s11_8_tokens_over_http_and_reset() {
    let (emu, client) = started().await;
    let (status, _) = client
        .control_post(
            "tokens",
            Some(serde_json::json!({"token": "MY-TOKEN", "card_no": "4000000000000020"})),
        )
        .await;
    assert_eq!(status, 200);
    let ids = client.entered("tok-1", "AUTH", 100).await;
    client
        .exec_token(&ids, "MY-TOKEN")
        .await
        .assert_errors(&["42G020000"]);
    emu.install_fault(renkei_emulator_gmopg::Fault::reset());
    let (status, _) = client.control_post("reset", None).await;
    assert_eq!(status, 200);
    assert!(emu.transactions().is_empty() && emu.faults().is_empty());
    let ids = client.entered("tok-1", "AUTH", 100).await;
    client
        .exec_token(&ids, "MY-TOKEN")
        .await
        .assert_errors(&["E01170001"]);
}

/// GMO-PG's management screen changes a transaction without telling the shop; SearchTrade
/// shows it (drift).
#[tokio::test]
async fn s11_8_management_screen_capture_cancel_and_change() {
    let (emu, client) = started().await;
    let ids = client.authorized("adm-1", "AUTH", 1000).await;
    let t = emu.admin_change_amount("adm-1", 800).unwrap();
    assert_eq!((t.amount, t.updated_by), (800, Origin::Admin));
    let t = emu.admin_capture("adm-1").unwrap();
    assert_eq!((t.status, t.amount), (Status::Sales, 800));
    assert_eq!(client.search("adm-1").await.get("Status"), Some("SALES"));
    // The shop's SALES now finds it already sold.
    client
        .alter(&ids, "SALES", Some(800))
        .await
        .assert_errors(&["E11010003"]);
    emu.advance_clock(Duration::from_secs(DAY));
    let t = emu.admin_cancel("adm-1").unwrap();
    assert_eq!(t.status, Status::Return, "the date picks the cancel");
    assert_eq!(emu.admin_cancel("adm-1").unwrap_err().infos, ["E11010003"]);
    assert_eq!(
        emu.admin(AdminAction::Capture, "nobody", None)
            .unwrap_err()
            .infos,
        ["E01110002"]
    );
    // Over HTTP.
    client.authorized("adm-2", "AUTH", 500).await;
    let (status, body) = client
        .control_post("admin/change_amount?order_id=adm-2&amount=450", None)
        .await;
    assert_eq!(
        (status, body["transaction"]["amount"].as_u64()),
        (200, Some(450))
    );
    let (status, body) = client
        .control_post("admin/capture?order_id=adm-2", None)
        .await;
    assert_eq!(
        (status, body["transaction"]["status"].as_str()),
        (200, Some("SALES"))
    );
    let (status, body) = client
        .control_post("admin/capture?order_id=adm-2", None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["err_info"][0], "E11010003");
    let (_, dump) = client.control_get("dump").await;
    let history = dump["transactions"][1]["history"].as_array().unwrap();
    assert!(history.iter().any(|e| e["by"] == "admin"));
}

/// `renkei certify plugins/gmopg` starts the binary and reads its first stdout line.
#[test]
fn s10_1_the_binary_prints_its_endpoint_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_renkei-emulator-gmopg"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.unwrap();
    let url = line.trim();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/payment/"),
        "{url}"
    );
}
