//! A secret the gateway sends back never rests in the journal in clear (SDK 0.2): reply bodies
//! are journaled in the plugin's redacted form (`Gateway::journal_reply`), as request bodies
//! already were, and a per-payment secret (GMO-PG's `AccessPass`) travels in the payment's
//! handle (`Outcome::handle`), whose secret parts the host seals before journaling and hands
//! back to the plugin on later operations (`Context::handle`). The plugin's `interpret` still
//! reads the reply as received.
//!
//! The gateway here is the template plugin (Kumo Pay) built in-process and wrapped: Kumo Pay's
//! `authorization_code` stands in for a secret the gateway sends back.

use crate::support::journal_path;
use renkei_emulator_kumopay::{Config as KumoConfig, TEST_TOKEN_OK, TemplateEmulator};
use renkei_host::journal::{self, JournalStore, ReplyRecord};
use renkei_host::seal::HandleKey;
use renkei_host::{Executor, GatewayInstance};
use renkei_plugin_template::KumoPay;
use renkei_sdk::abi::export::in_process;
use renkei_sdk::{
    Config, ConfigError, ConfigValue, Context, Gateway, GatewayError, Handle, HttpResponse,
    Manifest, Money, Operation, OrderRef, PaymentDates, PaymentSource, ReplyCopy, Secret, Step,
    TransactionRef,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// How the wrapper makes the journal copy.
trait Redaction: Send + Sync + 'static {
    fn copy(reply: &HttpResponse) -> ReplyCopy;
    /// Whether the wrapper moves the authorization code into the payment's handle, as a secret
    /// part, instead of reporting it.
    const CODE_IN_HANDLE: bool = false;
}

/// The handle each `prepare` was given, by order code (tests run side by side in one process).
static HANDLES_SEEN: LazyLock<Mutex<HashMap<String, Vec<Option<Handle>>>>> =
    LazyLock::new(Mutex::default);

/// The payment dates each `prepare` was given, by order code.
static DATES_SEEN: LazyLock<Mutex<HashMap<String, Vec<PaymentDates>>>> =
    LazyLock::new(Mutex::default);

fn handles_seen(order: &str) -> Vec<Option<Handle>> {
    HANDLES_SEEN
        .lock()
        .unwrap()
        .get(order)
        .cloned()
        .unwrap_or_default()
}

/// Kumo Pay, with its journal copies made by `R`.
struct Wrapped<R> {
    kumo: KumoPay,
    _r: std::marker::PhantomData<R>,
}

impl<R: Redaction> Gateway for Wrapped<R> {
    fn manifest() -> Manifest {
        KumoPay::manifest()
    }

    fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Wrapped {
            kumo: KumoPay::from_config(config)?,
            _r: std::marker::PhantomData,
        })
    }

    fn prepare(&self, op: &Operation, ctx: &Context<'_>) -> Result<Step, GatewayError> {
        HANDLES_SEEN
            .lock()
            .unwrap()
            .entry(op.order().to_string())
            .or_default()
            .push(ctx.handle.cloned());
        DATES_SEEN
            .lock()
            .unwrap()
            .entry(op.order().to_string())
            .or_default()
            .push(ctx.dates);
        self.kumo.prepare(op, ctx)
    }

    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        match self.kumo.interpret(op, ctx, state, reply)? {
            Step::Done(mut o) if R::CODE_IN_HANDLE && o.authorization_code.is_some() => {
                let code = o.authorization_code.take().unwrap_or_default();
                let id = o.transaction.as_ref().map(TransactionRef::to_string);
                o.handle = Some(
                    Handle::new()
                        .public("payment", id.unwrap_or_default())
                        .secret("code", Secret::new(code)),
                );
                Ok(Step::Done(o))
            }
            step => Ok(step),
        }
    }

    fn journal_reply(&self, _: &Operation, _: &[u8], reply: &HttpResponse) -> ReplyCopy {
        R::copy(reply)
    }
}

/// Replaces the value of `authorization_code`, keeping the document's shape.
struct CutsAuthorizationCode;

impl Redaction for CutsAuthorizationCode {
    fn copy(reply: &HttpResponse) -> ReplyCopy {
        let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(&reply.body) else {
            return ReplyCopy::Redacted(Secret::PLACEHOLDER.as_bytes().into());
        };
        if let Some(code) = doc.get_mut("authorization_code") {
            *code = Secret::PLACEHOLDER.into();
        }
        ReplyCopy::Redacted(serde_json::to_vec(&doc).unwrap().into())
    }
}

/// Redacts as [`CutsAuthorizationCode`], and keeps the code in the handle as a secret part.
struct CodeInHandle;

impl Redaction for CodeInHandle {
    fn copy(reply: &HttpResponse) -> ReplyCopy {
        CutsAuthorizationCode::copy(reply)
    }
    const CODE_IN_HANDLE: bool = true;
}

/// A redaction that panics: nothing of the reply may be journaled then.
struct Panics;

impl Redaction for Panics {
    fn copy(_: &HttpResponse) -> ReplyCopy {
        panic!("cannot redact this reply")
    }
}

struct Rig {
    _emulator: TemplateEmulator,
    gateway: Arc<GatewayInstance>,
    executor: Executor,
    journal: Arc<dyn JournalStore>,
    path: std::path::PathBuf,
}

async fn rig<R: Redaction>(label: &str) -> Rig {
    rig_with::<R>(label, None).await
}

async fn rig_with<R: Redaction>(label: &str, key: Option<HandleKey>) -> Rig {
    let emulator = TemplateEmulator::start(KumoConfig {
        merchant_id: "m_1".into(),
        api_key: "key-reply-copy".into(),
        signing_key: "sk_reply_copy".into(),
        ..KumoConfig::default()
    })
    .await
    .unwrap();
    let values: BTreeMap<String, ConfigValue> = [
        ("endpoint", emulator.endpoint_url()),
        ("merchant_id", "m_1".into()),
        ("api_key", "key-reply-copy".into()),
        ("signing_key", "sk_reply_copy".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), ConfigValue::Text(v)))
    .collect();
    let manifest = Wrapped::<R>::manifest();
    let config = Config::validate(&manifest, &values).unwrap();
    let gateway = GatewayInstance::from_parts(
        "kumopay",
        manifest,
        in_process::<Wrapped<R>>(&config).unwrap(),
    );
    let path = journal_path(label);
    let journal: Arc<dyn JournalStore> = Arc::from(journal::sqlite::open(&path).unwrap());
    Rig {
        _emulator: emulator,
        gateway: Arc::new(gateway),
        executor: executor(&journal, key),
        journal,
        path,
    }
}

fn executor(journal: &Arc<dyn JournalStore>, key: Option<HandleKey>) -> Executor {
    let e = Executor::new(journal.clone(), Duration::from_secs(5));
    match key {
        Some(key) => e.with_handle_key(key),
        None => e,
    }
}

fn capture(order: &str, transaction: &TransactionRef) -> Operation {
    Operation::Capture {
        order: OrderRef::new(order),
        transaction: transaction.clone(),
        authorized: Money::jpy(1080),
        amount: None,
    }
}

/// Every byte of the rig's SQLite journal (database and write-ahead log), as text.
fn journal_bytes(r: &Rig) -> String {
    let path = r.path.clone();
    let mut all = Vec::new();
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    for p in [path, wal] {
        if let Ok(bytes) = std::fs::read(&p) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Authorizes `order` through a rig whose plugin keeps the code in the handle, then captures
/// it; answers the code and what the capture's `prepare` was handed.
async fn authorize_then_capture(r: &Rig, order: &str) -> (String, Handle) {
    let authorized = r
        .executor
        .execute(
            &r.gateway,
            &authorization(order),
            &format!("{order}:authorize:1"),
        )
        .await
        .unwrap();
    let stored = authorized.order.as_ref().unwrap().handle.clone().unwrap();
    // The code is in no journaled form: Kumo Pay's codes are `A-` and the payment's id, which
    // the handle's public part names.
    let code = format!("A-{}", stored.public["payment"]);
    let transaction = authorized.outcome.transaction.clone().unwrap();
    r.executor
        .execute(
            &r.gateway,
            &capture(order, &transaction),
            &format!("{order}:capture:1"),
        )
        .await
        .unwrap();
    let seen = handles_seen(order);
    let at_capture = seen
        .last()
        .cloned()
        .flatten()
        .expect("the capture got a handle");
    (code, at_capture)
}

#[tokio::test]
async fn a_secret_in_the_handle_is_sealed_in_the_journal_and_handed_back_to_the_plugin() {
    let label = "handle-sealed";
    let r = rig_with::<CodeInHandle>(label, Some(HandleKey::generate())).await;
    let (code, at_capture) = authorize_then_capture(&r, "hs-1").await;
    assert_eq!(
        at_capture.get_secret("code").map(Secret::expose),
        Some(code.as_str())
    );
    let order = r.journal.order(&OrderRef::new("hs-1")).unwrap().unwrap();
    let stored = order.handle.unwrap();
    assert!(stored.sealed.is_some());
    assert_eq!(stored.secret_names, vec!["code".to_owned()]);
    let bytes = journal_bytes(&r);
    assert!(
        bytes.contains(&stored.public["payment"]),
        "the public part is journaled"
    );
    assert!(
        !bytes.contains(&code),
        "the secret rests in the journal in clear"
    );
}

#[tokio::test]
async fn without_a_key_the_secret_lives_in_memory_and_a_restarted_host_hands_back_the_rest() {
    let label = "handle-memory";
    let r = rig_with::<CodeInHandle>(label, None).await;
    let (code, at_capture) = authorize_then_capture(&r, "hm-1").await;
    assert_eq!(
        at_capture.get_secret("code").map(Secret::expose),
        Some(code.as_str())
    );
    assert!(!journal_bytes(&r).contains(&code));
    // A host started afresh on the same journal: the handle's public part, not its secret.
    let restarted = executor(&r.journal, None);
    let order = r.journal.order(&OrderRef::new("hm-1")).unwrap().unwrap();
    let transaction = order.transaction.clone().unwrap();
    restarted
        .execute(
            &r.gateway,
            &Operation::Refund {
                order: OrderRef::new("hm-1"),
                transaction,
                captured: Money::jpy(1080),
                amount: None,
            },
            "hm-1:refund:1",
        )
        .await
        .unwrap();
    let at_refund = handles_seen("hm-1").last().cloned().flatten().unwrap();
    assert_eq!(at_refund.get("payment"), at_capture.get("payment"));
    assert_eq!(at_refund.get_secret("code"), None);
    // The operations were handed the payment's dates as journaled: none before the
    // authorization, the authorization's at the capture, both at the refund (a gateway that
    // refunds by the sale's month reads `captured_at`).
    let dates = DATES_SEEN.lock().unwrap()["hm-1"].clone();
    assert_eq!(dates.len(), 3, "{dates:?}");
    assert_eq!(dates[0], PaymentDates::default());
    let authorized_at = dates[1]
        .authorized_at
        .expect("the capture knows the authorization");
    assert_eq!(dates[1].captured_at, None);
    assert_eq!(dates[2].authorized_at, Some(authorized_at));
    let captured_at = dates[2].captured_at.expect("the refund knows the capture");
    assert!(captured_at >= authorized_at);
    assert_eq!(
        Some(captured_at.unix_millis),
        r.journal
            .order(&OrderRef::new("hm-1"))
            .unwrap()
            .unwrap()
            .captured_at_ms
    );
}

fn authorization(order: &str) -> Operation {
    Operation::Authorize {
        order: OrderRef::new(order),
        amount: Money::jpy(1080),
        source: PaymentSource::Token {
            token: Secret::new(TEST_TOKEN_OK),
            key: None,
        },
        customer: None,
        description: None,
    }
}

/// The journaled reply bodies of the operation `done` recorded, as text.
fn journaled_replies(j: &dyn JournalStore, done: &renkei_host::Completed) -> Vec<String> {
    j.exchanges(done.operation.id)
        .unwrap()
        .into_iter()
        .map(|x| match x.reply {
            Some(ReplyRecord::Reply { body, .. }) => String::from_utf8(body).unwrap(),
            other => panic!("no reply journaled: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_reply_is_journaled_in_the_plugins_redacted_form_and_read_as_received() {
    let r = rig::<CutsAuthorizationCode>("reply-copy-redacted").await;
    let op = authorization("rc-1");
    let done = r
        .executor
        .execute(&r.gateway, &op, "rc-1:authorize:1")
        .await
        .unwrap();
    // `interpret` read the reply as the gateway sent it…
    let code = done.outcome.authorization_code.clone().expect("a code");
    assert!(code.starts_with("A-pay_"), "{code}");
    // …and the journal holds the plugin's copy, with the same shape and without the value.
    let replies = journaled_replies(&*r.journal, &done);
    assert_eq!(replies.len(), 1);
    assert!(!replies[0].contains(&code), "{}", replies[0]);
    let doc: serde_json::Value = serde_json::from_str(&replies[0]).unwrap();
    assert_eq!(doc["authorization_code"], Secret::PLACEHOLDER);
    assert_eq!(doc["amount"], 1080);
}

#[tokio::test]
async fn a_plugin_that_panics_while_redacting_gets_nothing_of_the_reply_journaled() {
    let r = rig::<Panics>("reply-copy-panics").await;
    let op = authorization("rc-2");
    let done = r
        .executor
        .execute(&r.gateway, &op, "rc-2:authorize:1")
        .await
        .unwrap();
    let code = done.outcome.authorization_code.clone().expect("a code");
    let replies = journaled_replies(&*r.journal, &done);
    assert_eq!(replies, vec![Secret::PLACEHOLDER.to_owned()]);
    assert!(!replies[0].contains(&code));
}
