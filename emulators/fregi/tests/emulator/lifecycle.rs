//! Transitions and state errors of `sale`, `authcancel`, `salecancel`, `authchange`,
//! `salechange` (`docs/protocols/fregi.md` §11.3–11.7, §10.1), and the batch (§10.4).

use std::time::Duration;

use renkei_emulator_fregi::{RepeatSale, Status};

use crate::support::*;

/// Puts a fresh transaction into each reachable state: returns its SEQNO.
async fn in_state(client: &Client, status: &str) -> String {
    match status {
        "10" => client.authorize(1000).await.1,
        "11" => {
            let reply = client
                .post_owned(
                    "authm.cgi",
                    &with(card_auth("4000000000000010", 1000), &[("ID", "failed-1")]),
                )
                .await;
            assert_eq!(reply.ng_code(), "JCN-G12");
            let info = client.info_by_id("failed-1").await;
            info.line(1).to_owned()
        }
        "12" => {
            let seqno = client.authorize(1000).await.1;
            assert!(client.authcancel(&seqno).await.is_ok());
            seqno
        }
        "20" => {
            let seqno = client.authorize(1000).await.1;
            assert!(client.sale(&seqno).await.is_ok());
            seqno
        }
        "30" => {
            let seqno = in_state_boxed(client, "20").await;
            assert!(client.salecancel(&seqno).await.is_ok());
            seqno
        }
        other => panic!("no recipe for {other}"),
    }
}

fn in_state_boxed<'a>(
    client: &'a Client,
    status: &'a str,
) -> std::pin::Pin<Box<dyn Future<Output = String> + 'a>> {
    Box::pin(in_state(client, status))
}

/// A SEQNO no test creates: every script answers its `-120` for it.
const UNKNOWN_SEQNO: &str = "00000000000000009999";

/// A lifecycle script as the state-error tables name it.
#[derive(Clone, Copy, Debug)]
enum Op {
    Sale,
    AuthCancel,
    SaleCancel,
    AuthChange(u32),
    SaleChange(u32),
}

async fn apply(client: &Client, op: Op, seqno: &str) -> Reply {
    match op {
        Op::Sale => client.sale(seqno).await,
        Op::AuthCancel => client.authcancel(seqno).await,
        Op::SaleCancel => client.salecancel(seqno).await,
        Op::AuthChange(pay) => client.authchange(seqno, pay).await,
        Op::SaleChange(pay) => client.salechange(seqno, pay).await,
    }
}

/// For each `(status, code)` in turn, `op` on a fresh transaction in `status` is refused with
/// `code` (the state rows of `docs/protocols/fregi.md` §10.1).
async fn assert_refused_in_states(client: &Client, op: Op, cases: &[(&str, &str)]) {
    for &(status, code) in cases {
        let seqno = in_state(client, status).await;
        let reply = apply(client, op, &seqno).await;
        assert_eq!(reply.ng_code(), code, "{op:?} in {status}");
    }
}

/// Posts `script` once per `(params, nnn)` and expects `<prefix>-1-<nnn>` each time.
async fn assert_ng_rows(
    client: &Client,
    script: &str,
    prefix: &str,
    rows: &[(&[(&str, &str)], &str)],
) {
    for &(params, nnn) in rows {
        let reply = client.post(script, params).await;
        assert_eq!(reply.ng_code(), format!("{prefix}-1-{nnn}"), "{script}");
    }
}

#[tokio::test]
async fn s11_3_sale_moves_10_to_20_and_answers_the_same_seqno() {
    let (emu, client) = started().await;
    let (_, seqno) = client.authorize(1000).await;
    let sale = client.sale(&seqno).await;
    assert_eq!(sale.lines, ["OK", seqno.as_str()]);
    let tx = emu.transaction(&seqno).unwrap();
    assert_eq!(tx.status, Status::SoldPending);
    assert_eq!(tx.status_label, "売上済（未伝送）");
    assert!(tx.sold_at.is_some());
}

#[tokio::test]
async fn f10_sale_on_sold_transaction_gives_manual_message() {
    let (emu, client) = started().await;
    let seqno = in_state(&client, "20").await;
    let again = client.sale(&seqno).await;
    assert_eq!(
        again.ng(),
        "S1-1-121(売上処理時の指定された取引は売上受付済みです)"
    );
    // Byte-exact EUC-JP of the manual's words (encoded by hand, not by the emulator's code).
    let euc: &[u8] = &[
        0xc7, 0xe4, 0xbe, 0xe5, 0xbd, 0xe8, 0xcd, 0xfd, 0xbb, 0xfe, 0xa4, 0xce, 0xbb, 0xd8, 0xc4,
        0xea, 0xa4, 0xb5, 0xa4, 0xec, 0xa4, 0xbf, 0xbc, 0xe8, 0xb0, 0xfa, 0xa4, 0xcf, 0xc7, 0xe4,
        0xbe, 0xe5, 0xbc, 0xf5, 0xc9, 0xd5, 0xba, 0xd1, 0xa4, 0xdf, 0xa4, 0xc7, 0xa4, 0xb9,
    ];
    let mut expected = b"NG\nS1-1-121(".to_vec();
    expected.extend_from_slice(euc);
    expected.extend_from_slice(b")\n");
    assert_eq!(again.raw, expected);
    // Also after transmission.
    emu.run_batch();
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-121(売上処理時の指定された取引は売上受付済みです)"
    );
}

#[tokio::test]
async fn f10_sale_on_authorization_cancelled_transaction_gives_manual_message() {
    let (emu, client) = started().await;
    let seqno = in_state(&client, "12").await;
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-122(売上処理時の指定された取引は承認取消済みです)"
    );
    assert_eq!(
        emu.transaction(&seqno).unwrap().status,
        Status::AuthorizationCancelled
    );
}

#[tokio::test]
async fn s11_3_sale_errors() {
    let emu = emulator_with(|c| c.shops.push("54321".into())).await;
    let client = Client::new(&emu);
    assert_refused_in_states(&client, Op::Sale, &[("30", "S1-1-123"), ("11", "S1-1-126")]).await;
    assert_eq!(
        client.sale("00000000000099999999").await.ng_code(),
        "S1-1-120"
    );
    assert_eq!(
        client.sale("99999999999999999999").await.ng_code(),
        "S1-1-120"
    );
    assert_eq!(
        client.post("sale.cgi", &[("SHOPID", SHOP)]).await.ng_code(),
        "S1-1-110"
    );
    assert_eq!(client.sale("12-34").await.ng_code(), "S1-1-110");
    assert_eq!(
        client.post("sale.cgi", &[("SEQNO", "1")]).await.ng_code(),
        "S1-1-10"
    );
    // Another shop's transaction does not exist for this shop.
    let (_, seqno) = client.authorize(100).await;
    let other = client
        .post("sale.cgi", &[("SHOPID", "54321"), ("SEQNO", &seqno)])
        .await;
    assert_eq!(other.ng_code(), "S1-1-120");
    assert_eq!(client.status(&seqno).await, "10");
    // Leading zeros are optional.
    assert!(client.sale(seqno.trim_start_matches('0')).await.is_ok());
}

#[tokio::test]
async fn s11_3_sale_checks_a_sent_authcode() {
    let (_emu, client) = started().await;
    let (authcode, seqno) = client.authorize(100).await;
    let wrong = if authcode == "000000" {
        "000001"
    } else {
        "000000"
    };
    let refused = client
        .post(
            "sale.cgi",
            &[("SHOPID", SHOP), ("SEQNO", &seqno), ("AUTHCODE", wrong)],
        )
        .await;
    assert_eq!(refused.ng_code(), "S1-1-120");
    let ok = client
        .post(
            "sale.cgi",
            &[("SHOPID", SHOP), ("SEQNO", &seqno), ("AUTHCODE", &authcode)],
        )
        .await;
    assert!(ok.is_ok());

    let lenient = emulator_with(|c| c.check_sale_authcode = false).await;
    let client = Client::new(&lenient);
    let (_, seqno) = client.authorize(100).await;
    assert!(
        client
            .post(
                "sale.cgi",
                &[("SHOPID", SHOP), ("SEQNO", &seqno), ("AUTHCODE", "XXXXXX")]
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn s11_3_sale_after_the_capture_window_is_s1_1_125_and_stays_authorized() {
    let (emu, client) = started().await;
    let (_, seqno) = client.authorize(100).await;
    emu.advance_clock(Duration::from_secs(61 * 86_400));
    assert_eq!(
        client.sale(&seqno).await.ng(),
        "S1-1-125(売上処理時の指定された取引は売上処理期限を超過しています)"
    );
    assert_eq!(client.status(&seqno).await, "10");
    let (_, fresh) = client.authorize(100).await;
    emu.advance_clock(Duration::from_secs(59 * 86_400));
    assert!(client.sale(&fresh).await.is_ok(), "inside the window");
}

#[tokio::test]
async fn s9_6_repeat_sale_can_be_idempotent() {
    let emu = emulator_with(|c| c.repeat_sale = RepeatSale::IdempotentOk).await;
    let client = Client::new(&emu);
    let seqno = in_state(&client, "20").await;
    assert_eq!(client.sale(&seqno).await.lines, ["OK", seqno.as_str()]);
    assert_eq!(
        client.sale(&in_state(&client, "12").await).await.ng_code(),
        "S1-1-122"
    );
}

#[tokio::test]
async fn s11_4_authcancel_transitions_and_errors() {
    let (_emu, client) = started().await;
    let seqno = in_state(&client, "10").await;
    let cancel = client.authcancel(&seqno).await;
    assert_eq!(cancel.lines, ["OK"]);
    assert_eq!(cancel.raw, b"OK\n");
    assert_eq!(client.status(&seqno).await, "12");
    assert_eq!(
        client.authcancel(&seqno).await.ng(),
        "A2-1-122(承認取消時の指定された取引は承認取消済みです)"
    );
    assert_refused_in_states(
        &client,
        Op::AuthCancel,
        &[("20", "A2-1-121"), ("30", "A2-1-123"), ("11", "A2-1-126")],
    )
    .await;
    assert_eq!(client.authcancel(UNKNOWN_SEQNO).await.ng_code(), "A2-1-120");
    assert_eq!(
        client
            .post("authcancel.cgi", &[("SHOPID", SHOP), ("SEQNO", "1")])
            .await
            .ng_code(),
        "A2-1-110"
    );
}

#[tokio::test]
async fn s11_5_salecancel_transitions_and_errors() {
    let (emu, client) = started().await;
    let sold = in_state(&client, "20").await;
    assert_eq!(client.salecancel(&sold).await.lines, ["OK", sold.as_str()]);
    assert_eq!(client.status(&sold).await, "30");
    assert_eq!(
        client.salecancel(&sold).await.ng(),
        "S2-1-123(売上取消時の指定された取引は売上取消済みです)"
    );
    // A transmitted sale can be cancelled too; its cancellation waits for the next batch.
    let transmitted = in_state(&client, "20").await;
    emu.run_batch();
    assert_eq!(client.status(&transmitted).await, "21");
    assert!(client.salecancel(&transmitted).await.is_ok());
    assert_eq!(client.status(&transmitted).await, "30");

    assert_refused_in_states(
        &client,
        Op::SaleCancel,
        &[("10", "S2-1-124"), ("12", "S2-1-122"), ("11", "S2-1-126")],
    )
    .await;
    assert_eq!(client.salecancel(UNKNOWN_SEQNO).await.ng_code(), "S2-1-120");
}

#[tokio::test]
async fn s11_6_authchange_issues_a_new_seqno_and_cancels_the_old_one() {
    let (emu, client) = started().await;
    let (old_code, old) = client
        .authorize_with(with(card_auth(VISA, 1000), &[("ID", "order-9")]))
        .await;
    let change = client.authchange(&old, 1500).await;
    assert!(change.is_ok(), "{:?}", change.lines);
    assert_eq!(change.lines.len(), 3, "OK / new SEQNO / new AUTHCODE");
    let (new, new_code) = (change.line(1).to_owned(), change.line(2).to_owned());
    assert_ne!(new, old);
    assert_eq!(new.len(), 20);
    assert_eq!(new_code.len(), 6);
    let _ = old_code;

    let old_info = client.info(&old).await;
    assert_eq!(old_info.line(3), "12");
    assert_eq!(old_info.line(7), new, "replaced-by");
    let new_info = client.info(&new).await;
    assert_eq!(
        (new_info.line(2), new_info.line(3), new_info.line(4)),
        ("order-9", "10", "1500")
    );
    assert_eq!(new_info.line(5), new_code);
    assert_eq!(
        emu.transaction(&new).unwrap().replaces.as_deref(),
        Some(old.as_str())
    );

    assert_eq!(client.sale(&old).await.ng_code(), "S1-1-122");
    assert!(client.sale(&new).await.is_ok());
    // The ID now stands for the live transaction.
    let by_id = client.info_by_id("order-9").await;
    assert_eq!(by_id.line(1), new);
}

#[tokio::test]
async fn f3_authchange_decline_leaves_the_old_authorization_intact() {
    let (_emu, client) = started().await;
    let (_, old) = client
        .authorize_with(card_auth("4000000000000069", 9_000))
        .await;
    let refused = client.authchange(&old, 12_000).await;
    assert_eq!(refused.ng_code(), "JCN-G55");
    let info = client.info(&old).await;
    assert_eq!(
        (info.line(3), info.line(4), info.line(7)),
        ("10", "9000", "")
    );
    assert!(
        client.sale(&old).await.is_ok(),
        "the old amount can still be captured"
    );
}

#[tokio::test]
async fn s11_6_authchange_errors() {
    let (emu, client) = started().await;
    assert_refused_in_states(
        &client,
        Op::AuthChange(500),
        &[
            ("20", "A3-1-121"),
            ("12", "A3-1-122"),
            ("30", "A3-1-123"),
            ("11", "A3-1-126"),
        ],
    )
    .await;
    assert_eq!(
        client.authchange(UNKNOWN_SEQNO, 500).await.ng_code(),
        "A3-1-120"
    );
    let live = in_state(&client, "10").await;
    assert_eq!(client.authchange(&live, 1).await.ng_code(), "A3-1-22");
    assert_eq!(
        client.authchange(&live, 10_000_000).await.ng_code(),
        "A3-1-21"
    );
    assert_eq!(
        client
            .post("authchange.cgi", &[("SHOPID", SHOP), ("SEQNO", &live)])
            .await
            .ng_code(),
        "A3-1-20"
    );
    assert_eq!(client.status(&live).await, "10", "refusals change nothing");
    emu.advance_clock(Duration::from_secs(61 * 86_400));
    assert_eq!(client.authchange(&live, 500).await.ng_code(), "A3-1-125");
}

#[tokio::test]
async fn s11_6_authchange_with_the_same_amount_still_rotates() {
    let (_emu, client) = started().await;
    let (_, old) = client.authorize(1000).await;
    let change = client.authchange(&old, 1000).await;
    assert!(change.is_ok());
    assert_ne!(change.line(1), old);
    assert_eq!(client.status(&old).await, "12");
}

#[tokio::test]
async fn s11_6_cancelfirst_only_when_permitted() {
    // Not permitted: treated as 0, the old authorization survives a decline.
    let (_emu, client) = started().await;
    let old = declined_cancel_first_change(&client).await;
    assert_eq!(client.status(&old).await, "10");

    // Permitted: the old one is cancelled first and stays cancelled.
    let emu = emulator_with(|c| c.cancel_first_permitted = true).await;
    let client = Client::new(&emu);
    let old = declined_cancel_first_change(&client).await;
    assert_eq!(client.status(&old).await, "12");
    let (_, other) = client.authorize(100).await;
    let ok = authchange_cancel_first(&client, &other, "200").await;
    assert!(ok.is_ok());
    assert_eq!(client.info(&other).await.line(7), ok.line(1));
}

async fn authchange_cancel_first(client: &Client, seqno: &str, pay: &str) -> Reply {
    client
        .post(
            "authchange.cgi",
            &[
                ("SHOPID", SHOP),
                ("SEQNO", seqno),
                ("PAY", pay),
                ("CANCELFIRST", "1"),
            ],
        )
        .await
}

/// Authorizes 9,000 yen on a card whose limit is below 20,000 and asks `CANCELFIRST` to raise
/// it to 20,000: the change is declined (`JCN-G55`). Returns the old SEQNO.
async fn declined_cancel_first_change(client: &Client) -> String {
    let (_, old) = client
        .authorize_with(card_auth("4000000000000069", 9_000))
        .await;
    let r = authchange_cancel_first(client, &old, "20000").await;
    assert_eq!(r.ng_code(), "JCN-G55");
    old
}

#[tokio::test]
async fn s11_7_salechange_replaces_the_sale() {
    let (emu, client) = started().await;
    let old = in_state(&client, "20").await;
    let change = client.salechange(&old, 600).await;
    assert!(change.is_ok(), "{:?}", change.lines);
    let new = change.line(1).to_owned();
    assert_eq!(change.line(2).len(), 6);
    assert_eq!(client.status(&old).await, "30");
    assert_eq!(client.info(&old).await.line(7), new);
    let new_info = client.info(&new).await;
    assert_eq!((new_info.line(3), new_info.line(4)), ("20", "600"));
    // From a transmitted sale as well.
    emu.run_batch();
    let again = client.salechange(&new, 500).await;
    assert!(again.is_ok());
    assert_eq!(client.status(&new).await, "30");
}

#[tokio::test]
async fn s11_7_salechange_errors_and_decline() {
    let (_emu, client) = started().await;
    assert_refused_in_states(
        &client,
        Op::SaleChange(500),
        &[
            ("10", "S3-1-124"),
            ("12", "S3-1-122"),
            ("30", "S3-1-123"),
            ("11", "S3-1-126"),
        ],
    )
    .await;
    assert_eq!(
        client.salechange(UNKNOWN_SEQNO, 500).await.ng_code(),
        "S3-1-120"
    );
    let sold = in_state(&client, "20").await;
    assert_eq!(
        client.salechange(&sold, 10_000_000).await.ng(),
        "S3-1-21(売上金額変更時の金額が大きすぎます)"
    );
    assert_eq!(client.salechange(&sold, 1).await.ng_code(), "S3-1-22");
    // An increase is allowed by default.
    assert!(client.salechange(&sold, 5_000).await.is_ok());

    let (_, limited) = client
        .authorize_with(card_auth("4000000000000069", 9_000))
        .await;
    assert!(client.sale(&limited).await.is_ok());
    assert_eq!(
        client.salechange(&limited, 20_000).await.ng_code(),
        "JCN-G55"
    );
    assert_eq!(
        client.status(&limited).await,
        "20",
        "decline leaves the sale"
    );
}

#[tokio::test]
async fn s11_7_salechange_increase_can_be_forbidden() {
    let emu = emulator_with(|c| c.salechange_forbid_increase = true).await;
    let client = Client::new(&emu);
    let sold = in_state(&client, "20").await;
    assert_eq!(client.salechange(&sold, 1001).await.ng_code(), "S3-1-21");
    assert!(client.salechange(&sold, 999).await.is_ok());
}

#[tokio::test]
async fn s10_4_batch_transmits_sales_and_cancellations() {
    let (emu, client) = started().await;
    let sold = in_state(&client, "20").await;
    let cancelled_before = in_state(&client, "30").await;
    let authorized = in_state(&client, "10").await;
    let (status, report) = client.control("POST", "batch", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(report["sales_transmitted"], 1);
    assert_eq!(report["cancellations_transmitted"], 1);
    let sold_info = client.info(&sold).await;
    assert_eq!((sold_info.line(3), sold_info.line(6)), ("21", "1"));
    assert_eq!(client.status(&cancelled_before).await, "31");
    assert_eq!(client.status(&authorized).await, "10");
    // 21 → salecancel → 30 → batch → 31.
    assert!(client.salecancel(&sold).await.is_ok());
    let info = client.info(&sold).await;
    assert_eq!((info.line(3), info.line(6)), ("30", "0"));
    emu.run_batch();
    assert_eq!(client.status(&sold).await, "31");
}

#[tokio::test]
async fn s10_4_untransmitted_cancellations_can_stay_30() {
    let emu = emulator_with(|c| c.batch_transmits_untransmitted_cancellations = false).await;
    let client = Client::new(&emu);
    let never_sent = in_state(&client, "30").await;
    let sent = in_state(&client, "20").await;
    emu.run_batch();
    assert!(client.salecancel(&sent).await.is_ok());
    emu.run_batch();
    assert_eq!(client.status(&never_sent).await, "30");
    assert_eq!(client.status(&sent).await, "31");
}

#[tokio::test]
async fn s10_4_batch_runs_by_itself_when_the_clock_passes_21_00() {
    let (emu, client) = started().await;
    let sold = in_state(&client, "20").await;
    emu.advance_clock(Duration::from_secs(10 * 3600)); // 20:00 JST
    assert_eq!(client.status(&sold).await, "20");
    let (_, clock) = client
        .control("POST", "clock", &[("advance", "3601")])
        .await; // 21:00:01
    assert!(
        clock["now_jst"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-15T21:00")
    );
    assert_eq!(client.status(&sold).await, "21");
    let late = in_state(&client, "20").await;
    assert_eq!(
        client.status(&late).await,
        "20",
        "sold after the cut-off: next batch"
    );

    let manual = emulator_with(|c| c.auto_batch_at = None).await;
    let client = Client::new(&manual);
    let sold = in_state(&client, "20").await;
    manual.advance_clock(Duration::from_secs(2 * 86_400));
    assert_eq!(client.status(&sold).await, "20");
}

#[tokio::test]
async fn f11_reservations_release_to_10_or_fail_to_41() {
    let (emu, client) = started().await;
    let reserve = |pan: &'static str| {
        let params = card_auth(pan, 2000);
        let emu = &emu;
        async move { emu.admin_reserve(&borrowed(&params)).unwrap().seqno }
    };
    let good = reserve(VISA).await;
    assert_eq!(client.status(&good).await, "40");
    assert_eq!(client.sale(&good).await.ng_code(), "S1-1-127");
    let released = emu.admin_release(SHOP, &good).unwrap();
    assert_eq!(released.transaction.status, Status::Authorized);
    assert_eq!(released.authcode.len(), 6);
    assert!(client.sale(&good).await.is_ok());

    let bad = reserve("4000000000000010").await;
    let refused = emu.admin_release(SHOP, &bad).unwrap_err();
    assert_eq!(refused.code, "JCN-G12");
    let tx = emu.transaction(&bad).unwrap();
    assert_eq!(
        (tx.status.code(), tx.status_label.as_str()),
        ("41", "通常処理（有効性確認済み）")
    );

    // A reservation can be cancelled like an authorization.
    let dropped = reserve(VISA).await;
    assert!(client.authcancel(&dropped).await.is_ok());
    assert_eq!(client.status(&dropped).await, "12");
}

/// The inquiry extension reports each of the ten statuses with its code (`docs/protocols/fregi.md` §10.3).
#[tokio::test]
async fn f11_info_reports_every_status() {
    let (emu, client) = started().await;
    let mut seen = std::collections::BTreeMap::new();
    for code in ["10", "11", "12", "20", "30"] {
        seen.insert(code.to_owned(), in_state(&client, code).await);
    }
    let transmitted = in_state(&client, "20").await;
    let cancel_transmitted = in_state(&client, "30").await;
    emu.run_batch();
    seen.insert("21".into(), transmitted);
    seen.insert("31".into(), cancel_transmitted);
    // Re-create 20 and 30 after the batch.
    seen.insert("20".into(), in_state(&client, "20").await);
    seen.insert("30".into(), in_state(&client, "30").await);
    client
        .authorize_with(with(
            card_auth("4000000000000069", 100),
            &[("MONTHLY", "1"), ("CUSTOMERID", "lim")],
        ))
        .await;
    let failed_sale = client
        .post(
            "salem.cgi",
            &[
                ("SHOPID", SHOP),
                ("CUSTOMERID", "lim"),
                ("PAY", "50000"),
                ("ID", "s22"),
            ],
        )
        .await;
    assert_eq!(failed_sale.ng_code(), "JCN-G55");
    let by_id = client.info_by_id("s22").await;
    seen.insert("22".into(), by_id.line(1).to_owned());
    let reserved = emu
        .admin_reserve(&borrowed(&card_auth(VISA, 100)))
        .unwrap()
        .seqno;
    seen.insert("40".into(), reserved);
    let release_failed = emu
        .admin_reserve(&borrowed(&card_auth("4000000000000036", 100)))
        .unwrap()
        .seqno;
    assert!(emu.admin_release(SHOP, &release_failed).is_err());
    seen.insert("41".into(), release_failed);

    assert_eq!(seen.len(), 10);
    for (code, seqno) in &seen {
        let info = client.info(seqno).await;
        assert_eq!(info.lines.len(), 8, "{:?}", info.lines);
        assert_eq!(info.line(1), seqno);
        assert_eq!(&info.line(3), code, "{seqno}");
        assert_eq!(
            info.line(6),
            if code == "21" || code == "31" {
                "1"
            } else {
                "0"
            }
        );
        let status = Status::from_code(code).unwrap();
        assert_eq!(emu.transaction(seqno).unwrap().status_label, status.label());
    }
}

/// The common rows of the §10.1 table for every script that names a transaction: SHOPID missing
/// or unknown (`-10`), SEQNO missing or malformed (`-110`), not found (`-120`), and the amount
/// errors of the two change scripts.
#[tokio::test]
async fn s10_1_shop_seqno_and_amount_errors_of_every_lifecycle_script() {
    let (emu, client) = started().await;
    let (_, live) = client.authorize(100).await;
    let scripts = [
        ("sale.cgi", "S1", "SEQNO"),
        ("authcancel.cgi", "A2", "CANCELSEQNO"),
        ("salecancel.cgi", "S2", "CANCELSEQNO"),
        ("authchange.cgi", "A3", "SEQNO"),
        ("salechange.cgi", "S3", "SEQNO"),
    ];
    for (script, prefix, field) in scripts {
        let rows: [(&[(&str, &str)], &str); 6] = [
            (&[(field, &live), ("PAY", "100")], "10"),
            (&[("SHOPID", "99999"), (field, &live), ("PAY", "100")], "10"),
            (&[("SHOPID", SHOP), ("PAY", "100")], "110"),
            (&[("SHOPID", SHOP), (field, "12x"), ("PAY", "100")], "110"),
            (
                &[
                    ("SHOPID", SHOP),
                    (field, "123456789012345678901"),
                    ("PAY", "100"),
                ],
                "110",
            ),
            (
                &[
                    ("SHOPID", SHOP),
                    (field, "00000000000000008888"),
                    ("PAY", "100"),
                ],
                "120",
            ),
        ];
        assert_ng_rows(&client, script, prefix, &rows).await;
    }
    for (script, prefix) in [("authchange.cgi", "A3"), ("salechange.cgi", "S3")] {
        let rows: [(&[(&str, &str)], &str); 4] = [
            (&[("SHOPID", SHOP), ("SEQNO", &live)], "20"),
            (
                &[("SHOPID", SHOP), ("SEQNO", &live), ("PAY", "1,000")],
                "23",
            ),
            (&[("SHOPID", SHOP), ("SEQNO", &live), ("PAY", "1")], "22"),
            (
                &[("SHOPID", SHOP), ("SEQNO", &live), ("PAY", "10000000")],
                "21",
            ),
        ];
        assert_ng_rows(&client, script, prefix, &rows).await;
    }
    assert_eq!(
        client.status(&live).await,
        "10",
        "no refusal changed anything"
    );
    assert_eq!(emu.transactions().len(), 1, "and none created a record");
}

/// Production clients send `AUTHCODE` with every sale (`docs/protocols/fregi.md` §4.2, S5, S6), so the emulator
/// requires it where the transaction has one: without it the sale is refused (`S1-1-111`, a
/// stand-in) and the transaction stays authorized. The admin screen's capture needs none.
#[tokio::test]
async fn s11_3_sale_without_authcode_is_s1_1_111_and_changes_nothing() {
    let (emu, client) = started().await;
    let (_, seqno) = client.authorize(100).await;
    for pairs in [
        vec![("SHOPID", SHOP), ("SEQNO", seqno.as_str())],
        vec![
            ("SHOPID", SHOP),
            ("AUTHCODE", ""),
            ("SEQNO", seqno.as_str()),
        ],
    ] {
        let refused = client.post("sale.cgi", &pairs).await;
        assert_eq!(
            refused.ng(),
            "S1-1-111(売上処理時の承認番号が指定されていません)"
        );
    }
    assert_eq!(client.status(&seqno).await, "10");
    assert!(client.sale(&seqno).await.is_ok());

    let (_, by_admin) = client.authorize(100).await;
    assert!(emu.admin_sale(SHOP, &by_admin).is_ok());
    assert_eq!(client.status(&by_admin).await, "20");

    let lenient = emulator_with(|c| c.require_sale_authcode = false).await;
    let client = Client::new(&lenient);
    let (_, seqno) = client.authorize(100).await;
    assert!(
        client
            .post("sale.cgi", &[("SHOPID", SHOP), ("SEQNO", &seqno)])
            .await
            .is_ok()
    );
}
