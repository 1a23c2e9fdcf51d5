//! The SBPS plugin, built as a cdylib and loaded by the host, driven over loopback against the
//! SBPS emulator exactly as a shop server would drive it. Assertions about the gateway side read
//! the emulator's own state, never the plugin's account of it.
//!
//! Test names cite the rule they guard (`docs/rules.md`).

use crate::support::{capturing_subscriber, instantiate, registry_of, sbps_values};
use renkei_emulator_sbps::{
    CommitStatus, Config as EmulatorConfig, DEFAULT_HASH_KEY, ErrorCode, Fault, Function,
    MerchantConfig, Payment, PaymentStatus, SbpsEmulator, TEST_TOKEN_DECLINE_LIMIT,
    TEST_TOKEN_VISA,
};
use renkei_host::{DriveError, Driver, Execution, GatewayInstance, PluginRegistry};
use renkei_sdk::{
    CardData, ConfigValue, CustomerRef, Effect, ErrorKind, GatewayError, Money, Operation,
    OrderRef, PaymentSource, PaymentState, RefundExtent, Secret, Settlement, TransactionRef,
};
use std::collections::BTreeMap;
use std::time::Duration;

const ORDER: &str = "100000924506";

/// One emulator, the plugin loaded from its cdylib, and a driver.
struct Rig {
    emulator: SbpsEmulator,
    gateway: GatewayInstance,
    driver: Driver,
    // The registry owns the loaded library; keep it for the instance's lifetime.
    _registry: PluginRegistry,
}

async fn rig() -> Rig {
    let emulator = SbpsEmulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let v = sbps_values(&emulator);
    rig_on(emulator, v)
}

/// A rig whose plugin configuration is `values` with `changes` applied (`None` removes a key).
async fn rig_changed(changes: &[(&'static str, Option<&str>)]) -> Rig {
    let emulator = SbpsEmulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let mut v = sbps_values(&emulator);
    for (key, value) in changes {
        v.retain(|(k, _)| k != key);
        if let Some(value) = value {
            v.push((key, (*value).to_owned()));
        }
    }
    rig_on(emulator, v)
}

fn rig_on(emulator: SbpsEmulator, mut values: Vec<(&'static str, String)>) -> Rig {
    for (k, v) in renkei_tests::SBPS_TEST_TIMING {
        if !values.iter().any(|(key, _)| *key == k) {
            values.push((k, v.to_owned()));
        }
    }
    let registry = registry_of(&["renkei-plugin-sbps"]);
    let values: BTreeMap<String, ConfigValue> = values
        .into_iter()
        .map(|(k, v)| {
            let v = match k {
                "store_card" => ConfigValue::Boolean(v == "true"),
                _ => ConfigValue::Text(v),
            };
            (k.to_owned(), v)
        })
        .collect();
    let gateway = instantiate(&registry, "sbps-it", "sbps", values);
    Rig {
        emulator,
        gateway,
        driver: Driver::new(Duration::from_secs(10)),
        _registry: registry,
    }
}

fn steps(x: &Execution) -> Vec<&str> {
    x.exchanges.iter().map(|e| e.step.as_str()).collect()
}

fn gateway_error(e: &DriveError) -> &GatewayError {
    e.gateway_error()
        .unwrap_or_else(|| panic!("expected a gateway error, got {e}"))
}

fn reference(t: &Option<TransactionRef>) -> String {
    t.as_ref().expect("a transaction reference").to_string()
}

fn captured() -> PaymentState {
    PaymentState::Captured {
        settlement: Settlement::NotReported,
    }
}

fn token(t: &str) -> PaymentSource {
    PaymentSource::Token {
        token: Secret::new(t),
        key: Some(Secret::new("any-token-key")),
    }
}

impl Rig {
    async fn run(&self, op: &Operation, key: &str) -> Result<Execution, DriveError> {
        self.driver.execute(&self.gateway, op, key).await
    }

    async fn authorize_with(
        &self,
        amount: i64,
        source: PaymentSource,
        customer: Option<&str>,
        key: &str,
    ) -> Result<Execution, DriveError> {
        self.run(
            &Operation::Authorize {
                order: OrderRef::new(ORDER),
                amount: Money::jpy(amount),
                source,
                customer: customer.map(CustomerRef::new),
                description: Some("テスト商品".into()),
            },
            key,
        )
        .await
    }

    /// Authorizes `amount` with the Visa test token; answers the tracking id.
    async fn authorize(&self, amount: i64) -> String {
        let x = self
            .authorize_with(
                amount,
                token(TEST_TOKEN_VISA),
                Some("cust01"),
                "authorize:1",
            )
            .await
            .expect("authorization");
        assert_eq!(steps(&x), ["authorize", "commit"]);
        assert_eq!(x.outcome.state, PaymentState::Authorized);
        reference(&x.outcome.transaction)
    }

    async fn capture(
        &self,
        tracking_id: &str,
        authorized: i64,
        amount: Option<i64>,
    ) -> Result<Execution, DriveError> {
        self.run(
            &Operation::Capture {
                order: OrderRef::new(ORDER),
                transaction: TransactionRef::new(tracking_id),
                authorized: Money::jpy(authorized),
                amount: amount.map(Money::jpy),
            },
            "capture:1",
        )
        .await
    }

    async fn void(&self, tracking_id: &str, authorized: i64) -> Result<Execution, DriveError> {
        self.run(
            &Operation::Void {
                order: OrderRef::new(ORDER),
                transaction: TransactionRef::new(tracking_id),
                authorized: Money::jpy(authorized),
            },
            "void:1",
        )
        .await
    }

    async fn refund(
        &self,
        tracking_id: &str,
        captured: i64,
        amount: Option<i64>,
    ) -> Result<Execution, DriveError> {
        self.run(
            &Operation::Refund {
                order: OrderRef::new(ORDER),
                transaction: TransactionRef::new(tracking_id),
                captured: Money::jpy(captured),
                amount: amount.map(Money::jpy),
            },
            "refund:1",
        )
        .await
    }

    async fn change(
        &self,
        tracking_id: &str,
        authorized: i64,
        new_amount: i64,
        key: &str,
    ) -> Result<Execution, DriveError> {
        self.run(
            &Operation::ChangeAmount {
                order: OrderRef::new(ORDER),
                transaction: TransactionRef::new(tracking_id),
                authorized: Money::jpy(authorized),
                new_amount: Money::jpy(new_amount),
            },
            key,
        )
        .await
    }

    async fn inquire(&self, tracking_id: &str) -> Result<Execution, DriveError> {
        self.run(
            &Operation::Inquire {
                order: OrderRef::new(ORDER),
                transaction: TransactionRef::new(tracking_id),
            },
            "inquire:1",
        )
        .await
    }

    /// Returns once the request a one-shot latency fault holds has reached SBPS and waits there:
    /// the fault is used up when it fires. Polling the emulator, not a fixed sleep, keeps the
    /// race deterministic on a loaded machine.
    async fn held(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.emulator.faults().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the held request never reached the emulator"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Runs `op` with its `function` request held at SBPS for 500 ms while `tool` acts in
    /// the SBPS tool meanwhile (G-8); answers the error `op` must end in.
    async fn racing_the_tool<T: std::fmt::Debug>(
        &self,
        function: Function,
        op: impl Future<Output = Result<T, DriveError>>,
        tool: impl FnOnce(&SbpsEmulator),
    ) -> DriveError {
        self.emulator
            .install_fault(Fault::latency(500).on_function(function));
        let (result, ()) = tokio::join!(op, async {
            self.held().await;
            tool(&self.emulator);
        });
        result.unwrap_err()
    }

    /// The emulator's record of a payment.
    fn payment(&self, tracking_id: &str) -> Payment {
        self.emulator
            .payment(tracking_id)
            .unwrap_or_else(|| panic!("emulator has no payment {tracking_id}"))
    }
}

// ---- authorize (G-9) --------------------------------------------------------------------------

#[tokio::test]
async fn g2_authorize_commits_and_capture_sells_the_authorized_amount() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    let p = rig.payment(&t);
    assert_eq!(p.authorized_amount, 1080);
    assert_eq!(p.payment_status, PaymentStatus::Authorized);
    assert_eq!(p.commit_status, CommitStatus::Committed);
    // The order code, then a tag unique to this attempt: letters and digits only, as every
    // recorded real order_id is, within SBPS's 38 characters.
    assert!(
        p.order_id.starts_with(ORDER)
            && p.order_id.len() <= 38
            && p.order_id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{}",
        p.order_id
    );
    assert_eq!(p.cust_code, "cust01");

    let x = rig.capture(&t, 1080, None).await.unwrap();
    assert_eq!(steps(&x), ["inquiry", "sales"]);
    assert_eq!(x.outcome.state, captured());
    assert_eq!(x.outcome.captured, Some(Money::jpy(1080)));
    let p = rig.payment(&t);
    assert_eq!(p.payment_status, PaymentStatus::Sold);
    assert_eq!(p.captured_amount, 1080);
}

#[tokio::test]
async fn the_approval_number_comes_back_through_3des_and_plaintext_alike() {
    for encrypted in [true, false] {
        let rig = if encrypted {
            rig().await
        } else {
            rig_changed(&[("des_key", None), ("des_iv", None)]).await
        };
        let x = rig
            .authorize_with(1080, token(TEST_TOKEN_VISA), Some("cust01"), "a:1")
            .await
            .unwrap();
        assert_eq!(x.outcome.authorization_code.as_deref(), Some("123456"));
        assert!(
            x.outcome.notes.iter().any(|n| n == "card brand V"),
            "{:?}",
            x.outcome.notes
        );
        let t = reference(&x.outcome.transaction);
        let x = rig.capture(&t, 1080, None).await.unwrap();
        assert_eq!(x.outcome.state, captured(), "encrypted={encrypted}");
    }
}

#[tokio::test]
async fn raw_test_card_data_authorizes_through_00111_with_3des() {
    let rig = rig().await;
    let card = PaymentSource::Card(CardData {
        number: Secret::new("4111111111111111"),
        expiry: Secret::new("203012"),
        security_code: Some(Secret::new("123")),
        holder: None,
    });
    let x = rig
        .authorize_with(2000, card, None, "card:1")
        .await
        .unwrap();
    let p = rig.payment(&reference(&x.outcome.transaction));
    assert_eq!(p.auth_function, "ST01-00111-101");
    assert!(p.card.masked_number.ends_with("1111"));
    assert_eq!(p.cust_code, ORDER, "a guest order is its own customer");
}

#[tokio::test]
async fn g9_a_pre_order_release_charges_the_stored_card_or_reauthorizes_a_previous_payment() {
    let rig = rig_changed(&[("store_card", Some("true"))]).await;
    let first = rig
        .authorize_with(1000, token(TEST_TOKEN_VISA), Some("cust-g9"), "checkout:1")
        .await
        .unwrap();
    let first = reference(&first.outcome.transaction);
    // Release through the stored card: no token any more.
    let x = rig
        .authorize_with(
            3000,
            PaymentSource::StoredCustomer(CustomerRef::new("cust-g9")),
            None,
            "release:1",
        )
        .await
        .unwrap();
    assert_eq!(steps(&x), ["authorize", "commit"]);
    let stored = rig.payment(&reference(&x.outcome.transaction));
    assert_eq!(stored.authorized_amount, 3000);
    assert_eq!(stored.commit_status, CommitStatus::Committed);
    // Release through the previous payment's card.
    let x = rig
        .authorize_with(
            4000,
            PaymentSource::PreviousTransaction(TransactionRef::new(&*first)),
            None,
            "release:2",
        )
        .await
        .unwrap();
    assert_eq!(steps(&x), ["reauthorize", "commit"]);
    let again = rig.payment(&reference(&x.outcome.transaction));
    assert_eq!(again.reauthorization_of.as_deref(), Some(first.as_str()));
    assert_eq!(again.authorized_amount, 4000);
    assert_eq!(
        rig.payment(&first).payment_status,
        PaymentStatus::Authorized,
        "the previous payment is untouched"
    );
    // Without a stored card, SBPS refuses knowingly.
    let e = rig
        .authorize_with(
            500,
            PaymentSource::StoredCustomer(CustomerRef::new("nobody")),
            None,
            "release:3",
        )
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
}

#[tokio::test]
async fn a_declined_card_is_declined_with_the_raw_code_and_meaning() {
    let rig = rig().await;
    let e = rig
        .authorize_with(1080, token(TEST_TOKEN_DECLINE_LIMIT), None, "decline:1")
        .await
        .unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::Declined);
    assert_eq!(g.gateway_code.as_deref(), Some("10122999"));
    assert_eq!(
        g.gateway_message.as_deref(),
        Some("クレジットカード利用限度額超過")
    );
    assert_eq!(e.effect(), Effect::NotApplied);
    assert!(rig.emulator.dump().payments.is_empty());
}

#[tokio::test]
async fn a_replayed_authorization_cannot_authorize_twice() {
    let rig = rig().await;
    rig.authorize_with(1080, token(TEST_TOKEN_VISA), None, "same-action")
        .await
        .unwrap();
    // The same shop action again (a replay): same order_id, SBPS's duplicate check (96).
    let e = rig
        .authorize_with(1080, token(TEST_TOKEN_VISA), None, "same-action")
        .await
        .unwrap_err();
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("10196999"));
    assert_eq!(e.effect(), Effect::MayHaveApplied);
    assert_eq!(rig.emulator.dump().payments.len(), 1);
    // A new action (the customer retries) gets a new order_id.
    rig.authorize_with(1080, token(TEST_TOKEN_VISA), None, "another-action")
        .await
        .unwrap();
    assert_eq!(rig.emulator.dump().payments.len(), 2);
}

// ---- capture (S-1, G-2, G-3, G-5) -------------------------------------------------------------

#[tokio::test]
async fn s1_capture_uses_the_shops_current_amount_when_it_is_lower() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    let x = rig.capture(&t, 1080, Some(980)).await.unwrap();
    assert_eq!(x.outcome.captured, Some(Money::jpy(980)));
    assert_eq!(
        x.outcome.transaction.as_ref().map(|t| t.as_str()),
        Some(t.as_str())
    );
    let p = rig.payment(&t);
    assert_eq!(p.payment_status, PaymentStatus::Sold);
    assert_eq!(p.captured_amount, 980);
    assert_eq!(p.authorized_amount, 1080);
}

#[tokio::test]
async fn s1_capture_above_the_authorization_reauthorizes_captures_the_new_and_voids_the_old() {
    let rig = rig().await;
    let old = rig.authorize(1080).await;
    let x = rig.capture(&old, 1080, Some(1500)).await.unwrap();
    assert_eq!(
        steps(&x),
        ["inquiry", "reauthorize", "commit", "sales", "void_replaced"]
    );
    let new = reference(&x.outcome.transaction);
    assert_ne!(new, old);
    assert_eq!(reference(&x.outcome.replaced), old);
    assert_eq!(x.outcome.captured, Some(Money::jpy(1500)));
    assert_eq!(x.outcome.authorized, Some(Money::jpy(1500)));

    let n = rig.payment(&new);
    assert_eq!(n.reauthorization_of.as_deref(), Some(old.as_str()));
    assert_eq!(n.payment_status, PaymentStatus::Sold);
    assert_eq!(n.captured_amount, 1500);
    assert_eq!(n.commit_status, CommitStatus::Committed);
    assert_eq!(rig.payment(&old).payment_status, PaymentStatus::Cancelled);
    // And the plugin's own inquiry agrees.
    assert_eq!(
        rig.inquire(&old).await.unwrap().outcome.state,
        PaymentState::Voided
    );
    assert_eq!(rig.inquire(&new).await.unwrap().outcome.state, captured());
}

#[tokio::test]
async fn capture_commits_an_authorization_that_sbps_reports_uncommitted() {
    let rig = rig().await;
    // The commit after the authorization is lost (SBPS never sees it): the outcome says so…
    rig.emulator
        .install_fault(Fault::http_status(503).on_function(Function::Commit));
    let x = rig
        .authorize_with(1080, token(TEST_TOKEN_VISA), None, "a:1")
        .await
        .unwrap();
    let t = reference(&x.outcome.transaction);
    assert!(
        x.outcome
            .notes
            .iter()
            .any(|n| n.contains("capture will commit"))
    );
    assert_eq!(rig.payment(&t).commit_status, CommitStatus::Uncommitted);
    // …and the capture heals it.
    let x = rig.capture(&t, 1080, None).await.unwrap();
    assert_eq!(steps(&x), ["inquiry", "commit", "sales"]);
    let p = rig.payment(&t);
    assert_eq!(p.commit_status, CommitStatus::Committed);
    assert_eq!(p.payment_status, PaymentStatus::Sold);
}

#[tokio::test]
async fn g3_capturing_a_captured_payment_is_already_done_and_sells_nothing_more() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.capture(&t, 1080, Some(700)).await.unwrap();
    let e = rig.capture(&t, 1080, None).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
    assert_eq!(e.effect(), Effect::NotApplied);
    assert_eq!(rig.payment(&t).captured_amount, 700);
}

#[tokio::test]
async fn g3_a_capture_racing_the_sbps_tool_hears_already_sold_41() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    // The sale waits at SBPS while the operator sells in the SBPS tool (G-8).
    let e = rig
        .racing_the_tool(Function::Sales, rig.capture(&t, 1080, None), |sbps| {
            sbps.admin_capture(&t, None).unwrap();
        })
        .await;
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::AlreadyDone);
    assert_eq!(g.gateway_code.as_deref(), Some("10141999"));
    assert_eq!(
        g.gateway_message.as_deref(),
        Some("売上処理が完了済みのため、処理を中止しました。")
    );
}

#[tokio::test]
async fn g5_a_voided_authorization_is_never_captured() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.void(&t, 1080).await.unwrap();
    let e = rig.capture(&t, 1080, None).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
    assert_eq!(rig.payment(&t).payment_status, PaymentStatus::Cancelled);
    // Through the wire too: the sale of a payment cancelled behind the plugin's back (40).
    let t = {
        let x = rig
            .authorize_with(1080, token(TEST_TOKEN_VISA), None, "second:1")
            .await
            .unwrap();
        reference(&x.outcome.transaction)
    };
    let e = rig
        .racing_the_tool(Function::Sales, rig.capture(&t, 1080, None), |sbps| {
            sbps.admin_cancel(&t).unwrap();
        })
        .await;
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("10140999"));
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
}

#[tokio::test]
async fn an_over_authorization_refusal_79_is_rejected() {
    // The plugin never asks for more than authorized (it re-authorizes), so SBPS's 79 is
    // provoked: the reply is forced, the plumbing is real.
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.emulator.install_fault(
        Fault::gateway_error_with(ErrorCode::parse("10179999").unwrap())
            .on_function(Function::Sales),
    );
    let e = rig.capture(&t, 1080, Some(1000)).await.unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::Rejected);
    assert_eq!(g.gateway_code.as_deref(), Some("10179999"));
    assert_eq!(rig.payment(&t).payment_status, PaymentStatus::Authorized);
}

// ---- void (G-4, G-8) --------------------------------------------------------------------------

#[tokio::test]
async fn g4_void_before_capture_cancels_the_authorization() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    let x = rig.void(&t, 1080).await.unwrap();
    assert_eq!(steps(&x), ["inquiry", "cancel"]);
    assert_eq!(x.outcome.state, PaymentState::Voided);
    assert_eq!(rig.payment(&t).payment_status, PaymentStatus::Cancelled);
    assert_eq!(
        rig.inquire(&t).await.unwrap().outcome.state,
        PaymentState::Voided
    );
    // Again: already cancelled, nothing sent but the inquiry.
    let e = rig.void(&t, 1080).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
    assert_eq!(e.exchanges().len(), 1);
}

#[tokio::test]
async fn g8_a_void_never_refunds_a_payment_captured_in_the_sbps_tool() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.emulator.admin_capture(&t, Some(1000)).unwrap();
    let e = rig.void(&t, 1080).await.unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::Rejected);
    assert_eq!(g.gateway_code.as_deref(), Some("payment_status=2"));
    let p = rig.payment(&t);
    assert_eq!(p.payment_status, PaymentStatus::Sold, "not refunded");
    assert_eq!(p.refunded_total, 0);
    // Inquiry detects the drift.
    let x = rig.inquire(&t).await.unwrap();
    assert_eq!(x.outcome.state, captured());
}

#[tokio::test]
async fn a_void_racing_the_sbps_tool_hears_already_cancelled_45() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    let e = rig
        .racing_the_tool(Function::CancelOrRefund, rig.void(&t, 1080), |sbps| {
            sbps.admin_cancel(&t).unwrap();
        })
        .await;
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("10145999"));
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
}

// ---- refund (S-4) -----------------------------------------------------------------------------

#[tokio::test]
async fn s4_cancel_after_capture_is_a_card_refund() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.capture(&t, 1080, None).await.unwrap();
    let x = rig.refund(&t, 1080, None).await.unwrap();
    assert_eq!(steps(&x), ["inquiry", "refund"]);
    assert_eq!(
        x.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Full,
            settlement: Settlement::NotReported
        }
    );
    assert_eq!(x.outcome.refunded, Some(Money::jpy(1080)));
    let p = rig.payment(&t);
    assert_eq!(p.payment_status, PaymentStatus::Refunded);
    assert_eq!(p.refunded_total, 1080);
}

#[tokio::test]
async fn partial_refunds_then_the_remainder() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.capture(&t, 1080, None).await.unwrap();
    let x = rig.refund(&t, 1080, Some(300)).await.unwrap();
    assert_eq!(steps(&x), ["partial_refund"]);
    assert_eq!(
        x.outcome.state,
        PaymentState::Refunded {
            extent: RefundExtent::Partial,
            settlement: Settlement::NotReported
        }
    );
    assert_eq!(x.outcome.refunded, Some(Money::jpy(300)));
    assert_eq!(rig.payment(&t).refunded_total, 300);
    // The host's journal says 780 remain; a full refund refunds exactly that.
    let x = rig.refund(&t, 780, None).await.unwrap();
    assert_eq!(steps(&x), ["inquiry", "refund_remainder"]);
    assert_eq!(x.outcome.refunded, Some(Money::jpy(780)));
    let p = rig.payment(&t);
    assert_eq!(p.refunded_total, 1080);
    assert_eq!(p.refundable(), 0);
}

#[tokio::test]
async fn an_already_refunded_payment_is_never_refunded_twice() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.capture(&t, 1080, None).await.unwrap();
    rig.refund(&t, 1080, None).await.unwrap();
    let e = rig.refund(&t, 1080, None).await.unwrap_err();
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("101K1999"));
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
    assert_eq!(rig.payment(&t).refunded_total, 1080);
    // A refund racing one made in the SBPS tool hears "already refunded" (46).
    let t = {
        let x = rig
            .authorize_with(1080, token(TEST_TOKEN_VISA), None, "second:1")
            .await
            .unwrap();
        reference(&x.outcome.transaction)
    };
    rig.capture(&t, 1080, None).await.unwrap();
    let e = rig
        .racing_the_tool(
            Function::CancelOrRefund,
            rig.refund(&t, 1080, None),
            |sbps| {
                sbps.admin_refund(&t).unwrap();
            },
        )
        .await;
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("10146999"));
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
    assert_eq!(rig.payment(&t).refunded_total, 1080);
}

#[tokio::test]
async fn a_refund_before_capture_is_refused_without_voiding() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    let e = rig.refund(&t, 1080, None).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
    assert_eq!(rig.payment(&t).payment_status, PaymentStatus::Authorized);
    // A partial refund goes straight to SBPS, which refuses it before sales (K0).
    let e = rig.refund(&t, 1080, Some(100)).await.unwrap_err();
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("101K0999"));
}

// ---- amount change ----------------------------------------------------------------------------

#[tokio::test]
async fn change_amount_up_then_down_replaces_the_authorization_each_time() {
    let rig = rig().await;
    let first = rig.authorize(1080).await;
    let up = rig.change(&first, 1080, 2000, "change:1").await.unwrap();
    assert_eq!(
        steps(&up),
        ["inquiry", "reauthorize", "commit", "void_replaced"]
    );
    let second = reference(&up.outcome.transaction);
    assert_eq!(reference(&up.outcome.replaced), first);
    assert_eq!(up.outcome.state, PaymentState::Authorized);
    assert_eq!(up.outcome.authorized, Some(Money::jpy(2000)));

    let down = rig.change(&second, 2000, 800, "change:2").await.unwrap();
    let third = reference(&down.outcome.transaction);
    assert_eq!(reference(&down.outcome.replaced), second);

    assert_eq!(rig.payment(&first).payment_status, PaymentStatus::Cancelled);
    assert_eq!(
        rig.payment(&second).payment_status,
        PaymentStatus::Cancelled
    );
    let p = rig.payment(&third);
    assert_eq!(p.payment_status, PaymentStatus::Authorized);
    assert_eq!(p.commit_status, CommitStatus::Committed);
    assert_eq!(p.authorized_amount, 800);
    assert_eq!(p.reauthorization_of.as_deref(), Some(second.as_str()));
    // The replacement captures like any authorization.
    let x = rig.capture(&third, 800, None).await.unwrap();
    assert_eq!(x.outcome.captured, Some(Money::jpy(800)));
}

#[tokio::test]
async fn g7_an_amount_change_after_capture_is_not_sent() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    rig.capture(&t, 1080, None).await.unwrap();
    let before = rig.emulator.dump().payments.len();
    let e = rig.change(&t, 1080, 1500, "change:1").await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
    assert_eq!(e.exchanges().len(), 1);
    assert_eq!(
        rig.emulator.dump().payments.len(),
        before,
        "no re-authorization"
    );
}

// ---- inquiry and transport-level refusals -----------------------------------------------------

#[tokio::test]
async fn inquiry_of_an_unknown_tracking_id_is_rejected() {
    let rig = rig().await;
    let e = rig.inquire("99999999999999").await.unwrap_err();
    assert_eq!(gateway_error(&e).gateway_code.as_deref(), Some("10112027"));
    assert_eq!(gateway_error(&e).kind, ErrorKind::Rejected);
}

#[tokio::test]
async fn a_wrong_hash_key_is_an_authentication_failure() {
    // Basic credentials right, hash key wrong: SBPS answers 09 without a root id.
    let rig = rig_changed(&[
        ("hash_key", Some("NOT-THE-HASH-KEY")),
        ("basic_password", Some(DEFAULT_HASH_KEY)),
    ])
    .await;
    let e = rig.inquire("00000000000001").await.unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::Authentication);
    assert_eq!(g.gateway_code.as_deref(), Some("10109999"));
    assert_eq!(g.gateway_message.as_deref(), Some("ハッシュ値エラー"));
}

#[tokio::test]
async fn bad_basic_credentials_are_an_authentication_failure() {
    let rig = rig_changed(&[("basic_password", Some("wrong-password"))]).await;
    let e = rig.inquire("00000000000001").await.unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.kind, ErrorKind::Authentication);
    assert_eq!(g.gateway_code.as_deref(), Some("HTTP 401"));
    assert_eq!(e.effect(), Effect::NotApplied);
}

#[tokio::test]
async fn an_expired_request_is_rejected_by_the_sbps_clock() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    // SBPS's clock runs 11 minutes ahead: request_date + 600 s has passed on arrival.
    rig.emulator.advance_clock(Duration::from_secs(660));
    let e = rig.capture(&t, 1080, None).await.unwrap_err();
    let g = gateway_error(&e);
    assert_eq!(g.gateway_code.as_deref(), Some("10110999"));
    assert_eq!(g.kind, ErrorKind::Rejected);
    assert_eq!(rig.payment(&t).payment_status, PaymentStatus::Authorized);
}

#[tokio::test]
async fn a_broken_or_lost_reply_is_never_a_success() {
    let rig = rig().await;
    let t = rig.authorize(1080).await;
    for fault in [Fault::malformed(), Fault::http_status(500)] {
        rig.emulator
            .install_fault(fault.clone().on_function(Function::Inquiry));
        let e = rig.inquire(&t).await.unwrap_err();
        assert_eq!(gateway_error(&e).kind, ErrorKind::Protocol, "{fault:?}");
        // MG01 is declared read-only: whatever its reply, nothing moved.
        assert_eq!(e.effect(), Effect::NotApplied, "{fault:?}");
    }
    // The sale is applied but its reply is cut: the outcome is unknown, not a failure.
    rig.emulator
        .install_fault(Fault::cut_body().on_function(Function::Sales));
    let e = rig.capture(&t, 1080, None).await.unwrap_err();
    assert_eq!(e.effect(), Effect::MayHaveApplied);
    // Resolution by inquiry, then a replay is "already done".
    assert_eq!(rig.inquire(&t).await.unwrap().outcome.state, captured());
    let e = rig.capture(&t, 1080, None).await.unwrap_err();
    assert_eq!(gateway_error(&e).kind, ErrorKind::AlreadyDone);
}

// ---- secrets ----------------------------------------------------------------------------------

#[tokio::test]
async fn no_hash_key_password_3des_key_or_token_reaches_a_log_an_error_or_debug_output() {
    const HASH: &str = "canary-hash-7f3a9c";
    const PASSWORD: &str = "canary-basic-pw-41d2";
    const DES_KEY: &str = "CANARY3DESKEY-0123456789";
    const DES_IV: &str = "CANARYIV";
    const TOKEN_KEY: &str = "canary-token-key-99";
    let config = EmulatorConfig {
        merchants: vec![MerchantConfig {
            hash_key: HASH.into(),
            basic_password: Some(PASSWORD.into()),
            des_key: DES_KEY.into(),
            des_iv: DES_IV.into(),
            ..MerchantConfig::default()
        }],
        ..EmulatorConfig::default()
    };
    let emulator = SbpsEmulator::start(config).await.unwrap();
    let mut v = sbps_values(&emulator);
    v.retain(|(k, _)| !["hash_key", "des_key", "des_iv"].contains(k));
    v.extend([
        ("hash_key", HASH.to_owned()),
        ("basic_password", PASSWORD.to_owned()),
        ("des_key", DES_KEY.to_owned()),
        ("des_iv", DES_IV.to_owned()),
    ]);

    let (subscriber, out) = capturing_subscriber();
    let guard = tracing::subscriber::set_default(subscriber);
    // tracing-core computes a callsite's interest from the registering thread's subscriber alone
    // while a single dispatcher is alive: a parallel test without one could then switch the
    // host's plugin-forwarding callsites off for everybody. A second live dispatcher keeps every
    // callsite asking the current thread's subscriber.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();

    let rig = rig_on(emulator, v);
    let mut printed = Vec::new();
    let x = rig
        .authorize_with(
            1080,
            PaymentSource::Token {
                token: Secret::new(TEST_TOKEN_VISA),
                key: Some(Secret::new(TOKEN_KEY)),
            },
            Some("cust01"),
            "canary:1",
        )
        .await
        .unwrap();
    printed.push(format!("{x:?} {:?}", rig.gateway));
    let t = reference(&x.outcome.transaction);
    printed.push(format!("{:?}", rig.capture(&t, 1080, Some(2000)).await));
    printed.push(format!("{:?}", rig.inquire(&t).await));
    // Errors: a refusal, a broken reply, a wrong password.
    printed.push(format!("{:?}", rig.void(&t, 1080).await));
    rig.emulator
        .install_fault(Fault::malformed().on_function(Function::Inquiry));
    let e = rig.inquire(&t).await.unwrap_err();
    printed.push(format!("{e} {e:?}"));
    drop(guard);

    let logs = out.text();
    // The capture is real: the plugin's own events reached the host's subscriber.
    assert!(
        logs.contains("plugin=sbps") && logs.contains("SBPS: sending"),
        "no plugin log captured:\n{logs}"
    );
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for secret in [
        HASH,
        PASSWORD,
        DES_KEY,
        DES_IV,
        TOKEN_KEY,
        "CANARY3DES",
        "canary-",
    ] {
        assert!(
            !everything.contains(secret),
            "secret {secret:?} leaked:\n{everything}"
        );
    }
}
