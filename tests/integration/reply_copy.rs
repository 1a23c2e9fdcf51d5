//! Reply bodies reach the journal in the plugin's redacted form (SDK 0.2,
//! `Gateway::journal_reply`), as request bodies already do: a gateway that hands out a
//! per-transaction secret (GMO-PG's `AccessPass`) must not have it rest in the journal in clear.
//! The plugin's `interpret` still reads the reply as received.
//!
//! The gateway here is the template plugin (Kumo Pay) built in-process and wrapped: Kumo Pay's
//! `authorization_code` stands in for a secret the gateway sends back.

use crate::support::journal_path;
use renkei_emulator_kumopay::{Config as KumoConfig, TEST_TOKEN_OK, TemplateEmulator};
use renkei_host::journal::{self, JournalStore, ReplyRecord};
use renkei_host::{Executor, GatewayInstance};
use renkei_plugin_template::KumoPay;
use renkei_sdk::abi::export::in_process;
use renkei_sdk::{
    Config, ConfigError, ConfigValue, Context, Gateway, GatewayError, HttpResponse, Manifest,
    Money, Operation, OrderRef, PaymentSource, ReplyCopy, Secret, Step,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How the wrapper makes the journal copy.
trait Redaction: Send + Sync + 'static {
    fn copy(reply: &HttpResponse) -> ReplyCopy;
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
        self.kumo.prepare(op, ctx)
    }

    fn interpret(
        &self,
        op: &Operation,
        ctx: &Context<'_>,
        state: &[u8],
        reply: &HttpResponse,
    ) -> Result<Step, GatewayError> {
        self.kumo.interpret(op, ctx, state, reply)
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
}

async fn rig<R: Redaction>(label: &str) -> Rig {
    let emulator = TemplateEmulator::start(KumoConfig {
        merchant_id: "m_1".into(),
        api_key: "key-reply-copy".into(),
        signing_key: "sk_reply_copy".into(),
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
    let journal: Arc<dyn JournalStore> =
        Arc::from(journal::sqlite::open(&journal_path(label)).unwrap());
    Rig {
        _emulator: emulator,
        gateway: Arc::new(gateway),
        executor: Executor::new(journal.clone(), Duration::from_secs(5)),
        journal,
    }
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
