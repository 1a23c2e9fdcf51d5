//! The F-REGI plugin, built as a cdylib and loaded by the host, driven over loopback against the
//! F-REGI emulator exactly as a shop server would drive it. Every assertion about the gateway's
//! side reads the emulator's own state, not the plugin's account of it.
//!
//! Test names cite the rule they guard (`docs/rules.md`).

use crate::support::{fregi_values, instantiate, registry_of};
use renkei_emulator_fregi::{
    Config as EmulatorConfig, Fault, FregiEmulator, LineEnding, Script, Status,
};
use renkei_host::{DriveError, Driver, Execution, GatewayInstance, PluginRegistry};
use renkei_sdk::{
    CardData, Effect, ErrorKind, Money, Operation, OrderRef, PaymentSource, PaymentState,
    RefundExtent, Secret, Settlement, TransactionRef,
};
use renkei_tests::fregi_seqno;
use std::time::Duration;

const SHOP: &str = "12345";

/// One emulator, the plugin loaded from its cdylib, and a driver.
struct Rig {
    emulator: FregiEmulator,
    gateway: GatewayInstance,
    driver: Driver,
    // The registry owns the loaded library; keep it for the instance's lifetime.
    _registry: PluginRegistry,
}

fn emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        // No automatic batch at 21:00 JST: tests that cross it would see 伝送済 by surprise.
        auto_batch_at: None,
        ..EmulatorConfig::default()
    }
}

async fn rig() -> Rig {
    rig_with(emulator_config(), true).await
}

async fn rig_with(config: EmulatorConfig, inquiry: bool) -> Rig {
    let emulator = FregiEmulator::start(config).await.expect("emulator starts");
    let registry = registry_of(&["renkei-plugin-fregi"]);
    let values = fregi_values(&emulator, inquiry);
    let gateway = instantiate(&registry, "fregi-it", "fregi", values);
    Rig {
        emulator,
        gateway,
        driver: Driver::new(Duration::from_secs(10)),
        _registry: registry,
    }
}

fn token(t: &str) -> PaymentSource {
    PaymentSource::Token {
        token: Secret::new(t),
        key: None,
    }
}

fn seqno(t: &Option<TransactionRef>) -> String {
    t.as_ref().expect("a transaction reference").to_string()
}

fn steps(x: &Execution) -> Vec<&str> {
    x.exchanges.iter().map(|e| e.step.as_str()).collect()
}

fn gateway_error(e: &DriveError) -> &renkei_sdk::GatewayError {
    e.gateway_error()
        .unwrap_or_else(|| panic!("expected a gateway error, got {e}"))
}

impl Rig {
    async fn run(&self, op: &Operation) -> Result<Execution, DriveError> {
        let key = format!("{}:{}", op.order(), op.kind());
        self.driver.execute(&self.gateway, op, &key).await
    }

    /// Authorizes `amount` with a test token; answers the SEQNO.
    async fn authorize_with(&self, order: &str, amount: i64, source: PaymentSource) -> String {
        let x = self
            .run(&Operation::Authorize {
                order: OrderRef::new(order),
                amount: Money::jpy(amount),
                source,
                customer: None,
                description: None,
            })
            .await
            .expect("authorization");
        assert_eq!(x.outcome.state, PaymentState::Authorized);
        assert_eq!(steps(&x), ["authm"]);
        seqno(&x.outcome.transaction)
    }

    async fn authorize(&self, order: &str, amount: i64) -> String {
        self.authorize_with(order, amount, token("TESTTOKEN-OK"))
            .await
    }

    async fn capture(
        &self,
        order: &str,
        seqno: &str,
        authorized: i64,
        amount: Option<i64>,
    ) -> Result<Execution, DriveError> {
        self.run(&Operation::Capture {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(seqno),
            authorized: Money::jpy(authorized),
            amount: amount.map(Money::jpy),
        })
        .await
    }

    async fn void(
        &self,
        order: &str,
        seqno: &str,
        authorized: i64,
    ) -> Result<Execution, DriveError> {
        self.run(&Operation::Void {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(seqno),
            authorized: Money::jpy(authorized),
        })
        .await
    }

    async fn refund(
        &self,
        order: &str,
        seqno: &str,
        captured: i64,
        amount: Option<i64>,
    ) -> Result<Execution, DriveError> {
        self.run(&Operation::Refund {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(seqno),
            captured: Money::jpy(captured),
            amount: amount.map(Money::jpy),
        })
        .await
    }

    async fn inquire(&self, order: &str, seqno: &str) -> Result<Execution, DriveError> {
        self.run(&Operation::Inquire {
            order: OrderRef::new(order),
            transaction: TransactionRef::new(seqno),
        })
        .await
    }

    /// The emulator's record of `seqno`: status and amount.
    fn status(&self, seqno: &str) -> (Status, u32) {
        let t = self
            .emulator
            .transaction(fregi_seqno(seqno))
            .unwrap_or_else(|| panic!("emulator has no SEQNO {seqno}"));
        (t.status, t.amount)
    }
}

// ---- capture (F-1, F-2, F-3) --------------------------------------------------------------

#[tokio::test]
async fn f1_capture_at_the_authorized_amount_is_one_sale() {
    let rig = rig().await;
    let seq = rig.authorize("100000924506", 1080).await;
    assert_eq!(rig.status(&seq), (Status::Authorized, 1080));

    let x = rig.capture("100000924506", &seq, 1080, None).await.unwrap();
    assert_eq!(steps(&x), ["sale"]);
    assert_eq!(
        x.outcome.state,
        PaymentState::Captured {
            settlement: Settlement::Pending
        }
    );
    assert_eq!(seqno(&x.outcome.transaction), seq);
    assert_eq!(x.outcome.captured, Some(Money::jpy(1080)));
    assert_eq!(rig.status(&seq), (Status::SoldPending, 1080));
}

#[tokio::test]
async fn f2_capture_at_a_changed_amount_reauthorizes_first() {
    let rig = rig().await;
    for (order, shop_amount) in [("100000000001", 1500), ("100000000002", 800)] {
        let old = rig.authorize(order, 1080).await;
        let x = rig
            .capture(order, &old, 1080, Some(shop_amount))
            .await
            .unwrap();
        assert_eq!(steps(&x), ["authchange", "sale"], "{order}");
        let new = seqno(&x.outcome.transaction);
        assert_ne!(new, old);
        assert_eq!(x.outcome.replaced, Some(TransactionRef::new(old.as_str())));
        assert_eq!(x.outcome.captured, Some(Money::jpy(shop_amount)));
        // F-REGI's side: the old authorization is cancelled and points to the new one, which is
        // sold at the shop's amount (the shop amount is final).
        let old_record = rig.emulator.transaction(fregi_seqno(&old)).unwrap();
        assert_eq!(old_record.status, Status::AuthorizationCancelled);
        assert_eq!(old_record.replaced_by.as_deref(), Some(fregi_seqno(&new)));
        // The new reference carries the new authorization's AUTHCODE, which its sale sent.
        let new_record = rig.emulator.transaction(fregi_seqno(&new)).unwrap();
        assert_eq!(new, format!("{}-{}", new_record.seqno, new_record.authcode));
        assert_eq!(rig.status(&new), (Status::SoldPending, shop_amount as u32));
    }
}

#[tokio::test]
async fn f3_a_refused_amount_change_captures_nothing() {
    let rig = rig().await;
    // This test card authorizes up to 10,000 yen.
    let seq = rig
        .authorize_with("100000000003", 8000, token("TESTTOKEN-LIMIT"))
        .await;
    let e = rig
        .capture("100000000003", &seq, 8000, Some(12_000))
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::Declined);
    assert_eq!(error.gateway_code.as_deref(), Some("JCN-G55"));
    assert!(error.message.contains("nothing was captured"), "{error}");
    assert!(error.message.contains("F-3"), "{error}");
    // Only the amount change was sent, and its refusal proves nothing moved.
    assert_eq!(e.exchanges().len(), 1);
    assert_eq!(e.exchanges()[0].step, "authchange");
    assert_eq!(e.effect(), Effect::NotApplied);
    // Nothing captured at F-REGI: the authorization stands unchanged, no sale anywhere.
    assert_eq!(rig.status(&seq), (Status::Authorized, 8000));
    assert!(
        rig.emulator
            .transactions()
            .iter()
            .all(|t| !matches!(t.status, Status::SoldPending | Status::SoldTransmitted)),
        "{:?}",
        rig.emulator.dump()
    );
    // F-3's first choice: capture the old amount and settle the difference elsewhere.
    let x = rig.capture("100000000003", &seq, 8000, None).await.unwrap();
    assert_eq!(steps(&x), ["sale"]);
    assert_eq!(rig.status(&seq), (Status::SoldPending, 8000));
}

// ---- void and refund (F-6) ----------------------------------------------------------------

#[tokio::test]
async fn f6_void_before_capture_is_an_authorization_cancel() {
    let rig = rig().await;
    let seq = rig.authorize("100000000004", 2200).await;
    let x = rig.void("100000000004", &seq, 2200).await.unwrap();
    assert_eq!(steps(&x), ["authcancel"]);
    assert_eq!(x.outcome.state, PaymentState::Voided);
    assert_eq!(rig.status(&seq).0, Status::AuthorizationCancelled);
    // Voiding again: already done (replay-safe).
    let e = rig.void("100000000004", &seq, 2200).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
}

#[tokio::test]
async fn f6_refund_before_the_transmission_batch_cancels_the_sale() {
    let rig = rig().await;
    let seq = rig.authorize("100000000005", 3300).await;
    rig.capture("100000000005", &seq, 3300, None).await.unwrap();
    let x = rig.refund("100000000005", &seq, 3300, None).await.unwrap();
    assert_eq!(steps(&x), ["salecancel"]);
    assert_eq!(
        x.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::Pending
        }
    );
    assert_eq!(x.outcome.refunded, Some(Money::jpy(3300)));
    let t = rig.emulator.transaction(fregi_seqno(&seq)).unwrap();
    assert_eq!(t.status, Status::SaleCancelledPending);
    assert!(
        !t.sale_transmitted,
        "the sale never reached the card company"
    );
}

#[tokio::test]
async fn f6_refund_after_the_transmission_batch_cancels_the_transmitted_sale() {
    let rig = rig().await;
    let seq = rig.authorize("100000000006", 4400).await;
    rig.capture("100000000006", &seq, 4400, None).await.unwrap();
    rig.emulator.run_batch();
    assert_eq!(rig.status(&seq).0, Status::SoldTransmitted);
    let inquiry = rig.inquire("100000000006", &seq).await.unwrap();
    assert_eq!(
        inquiry.outcome.state,
        PaymentState::Captured {
            settlement: Settlement::Settled
        }
    );

    let x = rig.refund("100000000006", &seq, 4400, None).await.unwrap();
    assert_eq!(steps(&x), ["salecancel"]);
    let t = rig.emulator.transaction(fregi_seqno(&seq)).unwrap();
    assert_eq!(t.status, Status::SaleCancelledPending);
    assert!(t.sale_transmitted);
    // The cancellation itself goes out with the next batch: 売上取消（伝送済）.
    rig.emulator.run_batch();
    let inquiry = rig.inquire("100000000006", &seq).await.unwrap();
    assert_eq!(
        inquiry.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::Settled
        }
    );
    assert_eq!(inquiry.outcome.gateway_status.as_deref(), Some("31"));
}

#[tokio::test]
async fn partial_refund_replaces_the_sale_by_a_smaller_one_through_salechange() {
    let rig = rig().await;
    let seq = rig.authorize("100000000007", 1080).await;
    rig.capture("100000000007", &seq, 1080, None).await.unwrap();
    let x = rig
        .refund("100000000007", &seq, 1080, Some(300))
        .await
        .unwrap();
    assert_eq!(steps(&x), ["salechange"]);
    assert_eq!(
        x.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            settlement: Settlement::Pending
        }
    );
    let new = seqno(&x.outcome.transaction);
    assert_eq!(x.outcome.replaced, Some(TransactionRef::new(seq.as_str())));
    assert_eq!(rig.status(&new), (Status::SoldPending, 780));
    assert_eq!(rig.status(&seq).0, Status::SaleCancelledPending);
    // The rest can be refunded on the new SEQNO.
    let x = rig.refund("100000000007", &new, 780, None).await.unwrap();
    assert_eq!(steps(&x), ["salecancel"]);
    assert_eq!(rig.status(&new).0, Status::SaleCancelledPending);
}

// ---- amounts (F-7, F-8) -------------------------------------------------------------------

#[tokio::test]
async fn f7_one_yen_is_refused_before_anything_is_sent() {
    let rig = rig().await;
    let seq = rig.authorize("100000000008", 1080).await;
    let before = rig.emulator.transactions();

    let e = rig
        .capture("100000000008", &seq, 1080, Some(1))
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::InvalidRequest);
    assert!(gateway_error(&e).message.contains("F-7"), "{e}");
    assert!(e.exchanges().is_empty(), "nothing may be sent");
    assert_eq!(e.effect(), Effect::NotApplied);

    let e = rig
        .run(&Operation::Authorize {
            order: OrderRef::new("100000000009"),
            amount: Money::jpy(1),
            source: token("TESTTOKEN-OK"),
            customer: None,
            description: None,
        })
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::InvalidRequest);
    assert!(e.exchanges().is_empty());

    assert_eq!(rig.emulator.transactions(), before, "F-REGI saw nothing");
}

#[tokio::test]
async fn f8_zero_yen_is_no_payment_needed_which_voids_the_authorization() {
    let rig = rig().await;
    let seq = rig.authorize("100000000010", 1080).await;
    // Points brought the bill to 0: a capture of 0 yen does not exist at F-REGI.
    let e = rig
        .capture("100000000010", &seq, 1080, Some(0))
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("F-8"), "{error}");
    assert!(error.message.contains("void"), "{error}");
    assert!(e.exchanges().is_empty());
    assert_eq!(rig.status(&seq).0, Status::Authorized);
    // What the host does instead when the operator switches to 決済不要 (G-11): void.
    let x = rig.void("100000000010", &seq, 1080).await.unwrap();
    assert_eq!(x.outcome.state, PaymentState::Voided);
    assert_eq!(rig.status(&seq).0, Status::AuthorizationCancelled);
}

// ---- already captured / already cancelled (F-10, G-3) -------------------------------------

#[tokio::test]
async fn f10_capture_of_an_already_captured_transaction_fails_with_the_manual_words() {
    let rig = rig().await;
    let seq = rig.authorize("100000924506", 1080).await;
    rig.capture("100000924506", &seq, 1080, None).await.unwrap();
    let e = rig
        .capture("100000924506", &seq, 1080, None)
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::AlreadyDone);
    assert_eq!(error.message, "already captured");
    assert_eq!(
        error.gateway_message.as_deref(),
        Some("売上処理時の指定された取引は売上受付済みです")
    );
    assert_eq!(e.effect(), Effect::NotApplied);
    assert_eq!(rig.status(&seq), (Status::SoldPending, 1080));
}

#[tokio::test]
async fn f10_capture_of_an_already_cancelled_transaction_fails_with_the_manual_words() {
    let rig = rig().await;
    let seq = rig.authorize("100000923704", 1080).await;
    rig.void("100000923704", &seq, 1080).await.unwrap();
    let e = rig
        .capture("100000923704", &seq, 1080, None)
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::Rejected);
    assert!(error.message.starts_with("already voided"), "{error}");
    assert_eq!(
        error.gateway_message.as_deref(),
        Some("売上処理時の指定された取引は承認取消済みです")
    );
    assert_eq!(rig.status(&seq).0, Status::AuthorizationCancelled);
}

#[tokio::test]
async fn g3_bulk_capture_reports_each_order_and_goes_on() {
    let rig = rig().await;
    let sold = rig.authorize("100000924506", 1080).await;
    rig.capture("100000924506", &sold, 1080, None)
        .await
        .unwrap();
    let voided = rig.authorize("100000923704", 2000).await;
    rig.void("100000923704", &voided, 2000).await.unwrap();
    let fresh = rig.authorize("100000925000", 3000).await;

    let mut report = Vec::new();
    for (order, seq, amount) in [
        ("100000924506", &sold, 1080),
        ("100000923704", &voided, 2000),
        ("100000925000", &fresh, 3000),
    ] {
        match rig.capture(order, seq, amount, None).await {
            Ok(_) => report.push(format!("{order}: captured")),
            Err(e) => {
                let error = gateway_error(&e);
                report.push(format!(
                    "{order}:{}",
                    error.gateway_message.as_deref().unwrap_or(&error.message)
                ));
            }
        }
    }
    assert_eq!(
        report,
        [
            "100000924506:売上処理時の指定された取引は売上受付済みです",
            "100000923704:売上処理時の指定された取引は承認取消済みです",
            "100000925000: captured",
        ]
    );
    assert_eq!(rig.status(&fresh).0, Status::SoldPending);
}

// ---- amount change (F-4, F-5, F-9) --------------------------------------------------------

#[tokio::test]
async fn f4_a_direct_amount_change_sends_authchange() {
    let rig = rig().await;
    let old = rig.authorize("100000000011", 1080).await;
    let x = rig
        .run(&Operation::ChangeAmount {
            order: OrderRef::new("100000000011"),
            transaction: TransactionRef::new(old.as_str()),
            authorized: Money::jpy(1080),
            new_amount: Money::jpy(2160),
        })
        .await
        .unwrap();
    assert_eq!(steps(&x), ["authchange"]);
    assert_eq!(x.outcome.state, PaymentState::Authorized);
    let new = seqno(&x.outcome.transaction);
    assert_eq!(rig.status(&new), (Status::Authorized, 2160));
    assert_eq!(rig.status(&old).0, Status::AuthorizationCancelled);
}

#[tokio::test]
async fn f9_an_amount_change_after_sale_is_refused_as_not_linked() {
    let rig = rig().await;
    let seq = rig.authorize("100000000012", 1080).await;
    rig.capture("100000000012", &seq, 1080, None).await.unwrap();
    let e = rig
        .run(&Operation::ChangeAmount {
            order: OrderRef::new("100000000012"),
            transaction: TransactionRef::new(seq.as_str()),
            authorized: Money::jpy(1080),
            new_amount: Money::jpy(2000),
        })
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::Rejected);
    assert!(error.message.contains("not linked"), "{error}");
    assert_eq!(rig.status(&seq), (Status::SoldPending, 1080));
}

#[tokio::test]
async fn f5_an_amount_changed_in_the_admin_screen_shows_as_replaced_and_capture_is_refused() {
    let rig = rig().await;
    let seq = rig.authorize("100000000013", 1080).await;
    let admin = rig
        .emulator
        .admin_change_amount(SHOP, fregi_seqno(&seq), 1500)
        .expect("admin change");
    let inquiry = rig.inquire("100000000013", &seq).await.unwrap();
    // Not "voided": the payment lives on under the new SEQNO (sim01), so the old one cannot
    // say the payment's state; it names its successor.
    assert!(
        matches!(&inquiry.outcome.state, PaymentState::Unknown { raw }
            if raw.starts_with("12") && raw.contains(&admin.seqno)),
        "{:?}",
        inquiry.outcome.state
    );
    assert!(
        inquiry
            .outcome
            .notes
            .iter()
            .any(|n| n.contains(&admin.seqno)),
        "{:?}",
        inquiry.outcome.notes
    );
    let e = rig
        .capture("100000000013", &seq, 1080, None)
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
    assert_eq!(rig.status(&admin.seqno).0, Status::Authorized);
}

// ---- inquiry (emulator extension) ---------------------------------------------------------

#[tokio::test]
async fn g8_inquiry_through_the_emulator_extension_follows_the_transaction() {
    let rig = rig().await;
    let seq = rig.authorize("100000000014", 5000).await;
    let x = rig.inquire("100000000014", &seq).await.unwrap();
    assert_eq!(steps(&x), ["info"]);
    assert_eq!(x.outcome.state, PaymentState::Authorized);
    assert_eq!(x.outcome.gateway_status.as_deref(), Some("10"));
    assert_eq!(x.outcome.authorized, Some(Money::jpy(5000)));
    let authcode = rig
        .emulator
        .transaction(fregi_seqno(&seq))
        .unwrap()
        .authcode;
    assert_eq!(x.outcome.authorization_code, Some(authcode));

    // A capture made in F-REGI's admin screen is visible (drift detection, G-8).
    rig.emulator
        .admin_sale(SHOP, fregi_seqno(&seq))
        .expect("admin sale");
    let x = rig.inquire("100000000014", &seq).await.unwrap();
    assert_eq!(
        x.outcome.state,
        PaymentState::Captured {
            settlement: Settlement::Pending
        }
    );
    assert_eq!(x.outcome.gateway_status.as_deref(), Some("20"));

    let e = rig
        .inquire("100000000014", "99999999999999999999")
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
}

#[tokio::test]
async fn inquiry_is_unsupported_without_the_emulator_extension() {
    let rig = rig_with(emulator_config(), false).await;
    let seq = rig.authorize("100000000015", 5000).await;
    let e = rig.inquire("100000000015", &seq).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Unsupported);
    assert!(e.exchanges().is_empty());
}

// ---- wire details ---------------------------------------------------------------------------

#[tokio::test]
async fn crlf_replies_work_end_to_end() {
    let rig = rig_with(
        EmulatorConfig {
            line_ending: LineEnding::CrLf,
            ..emulator_config()
        },
        true,
    )
    .await;
    let old = rig.authorize("100000000016", 1080).await;
    let x = rig
        .capture("100000000016", &old, 1080, Some(1200))
        .await
        .unwrap();
    let new = seqno(&x.outcome.transaction);
    assert_eq!(rig.status(&new), (Status::SoldPending, 1200));
    let e = rig
        .capture("100000000016", &new, 1200, None)
        .await
        .unwrap_err();
    assert_eq!(
        gateway_error(&e).gateway_message.as_deref(),
        Some("売上処理時の指定された取引は売上受付済みです")
    );
}

#[tokio::test]
async fn free_text_reaches_f_regi_half_width_and_test_cards_work() {
    let rig = rig().await;
    let x = rig
        .run(&Operation::Authorize {
            order: OrderRef::new("100000000017"),
            amount: Money::jpy(1980),
            source: PaymentSource::Card(CardData {
                number: Secret::new("4980111111111111"),
                expiry: Secret::new("203012"),
                security_code: Some(Secret::new("111")),
                holder: Some(Secret::new("TARO YAMADA")),
            }),
            customer: None,
            // Full-width ASCII and the ideographic space fold to half-width (F-REGI spec §1.2).
            description: Some("Ｔ－ｓｈｉｒｔ\u{3000}& shipping (tax incl.)".into()),
        })
        .await
        .unwrap();
    let t = rig
        .emulator
        .transaction(fregi_seqno(&seqno(&x.outcome.transaction)))
        .unwrap();
    assert_eq!(t.free.as_deref(), Some("T-shirt & shipping (tax incl.)"));
    assert_eq!(t.id, "100000000017");
    assert_eq!(t.amount, 1980);
    // Kana cannot be written half-width: refused before anything reaches F-REGI.
    let before = rig.emulator.transactions();
    let e = rig
        .run(&Operation::Authorize {
            order: OrderRef::new("100000000019"),
            amount: Money::jpy(1980),
            source: token("TESTTOKEN-OK"),
            customer: None,
            description: Some("Tシャツ".into()),
        })
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("FREE"), "{}", error.message);
    assert_eq!(rig.emulator.transactions(), before, "F-REGI saw nothing");

    // F-REGI's published test card declines with security code 123.
    let e = rig
        .run(&Operation::Authorize {
            order: OrderRef::new("100000000018"),
            amount: Money::jpy(1980),
            source: PaymentSource::Card(CardData {
                number: Secret::new("4980111111111111"),
                expiry: Secret::new("203012"),
                security_code: Some(Secret::new("123")),
                holder: Some(Secret::new("TARO YAMADA")),
            }),
            customer: None,
            description: None,
        })
        .await
        .unwrap_err();
    let error = gateway_error(&e);
    assert_eq!(error.kind, ErrorKind::Declined);
    assert_eq!(error.gateway_code.as_deref(), Some("JCN-G44"));
}

#[tokio::test]
async fn replies_that_are_not_ok_or_ng_are_never_read_as_success() {
    let rig = rig().await;
    for (i, fault) in [
        Fault::malformed(),
        Fault::http_status(500),
        Fault::cut_body(),
    ]
    .into_iter()
    .enumerate()
    {
        let order = format!("10000000002{i}");
        let seq = rig.authorize(&order, 1080).await;
        rig.emulator.install_fault(
            fault
                .on_script(Script::Sale)
                .on_seqno(fregi_seqno(seq.as_str())),
        );
        let e = rig.capture(&order, &seq, 1080, None).await.unwrap_err();
        assert_eq!(e.effect(), Effect::MayHaveApplied, "{e}");
        if let Some(error) = e.gateway_error() {
            assert_eq!(error.kind, ErrorKind::Protocol, "{error}");
        }
        // Whatever the emulator did, the host learns it by inquiry, not by a guess.
        let state = rig.inquire(&order, &seq).await.unwrap().outcome.state;
        let (status, _) = rig.status(&seq);
        let expect = if status == Status::SoldPending {
            PaymentState::Captured {
                settlement: Settlement::Pending,
            }
        } else {
            PaymentState::Authorized
        };
        assert_eq!(state, expect);
    }
}
