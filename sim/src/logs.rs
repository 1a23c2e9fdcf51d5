//! Every log line the process emits, watched for canary secrets.
//!
//! The simulation configures secrets (a hash key, card tokens, a token key) that contain a
//! canary string; the host must never let one reach a log line. This layer sees every event at
//! every level of Renkei's crates (and debug of the libraries under them) whatever the printed
//! filter is, and keeps the lines that contain a canary.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

static CANARIES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HITS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the process's subscriber: printed logs to stderr filtered by `RUST_LOG` (else
/// `printed`: `error` for the command line, `off` for tests, whose stderr is not captured),
/// plus the canary watch. Returns false when another subscriber was installed first (then log
/// lines cannot be watched, and the run says so).
pub fn install(printed: &str) -> bool {
    *INSTALLED.get_or_init(|| {
        let printed = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(printed)),
            );
        let watched = CanaryLayer.with_filter(
            Targets::new()
                .with_default(LevelFilter::DEBUG)
                .with_target("renkei", LevelFilter::TRACE),
        );
        tracing_subscriber::registry()
            .with(printed)
            .with(watched)
            .try_init()
            .is_ok()
    })
}

/// Whether log lines are being watched.
pub fn watching() -> bool {
    INSTALLED.get().copied().unwrap_or(false)
}

/// Adds a canary to watch for.
pub fn watch(canary: &str) {
    CANARIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(canary.to_owned());
}

/// The log lines seen so far that contain `canary`.
pub fn hits(canary: &str) -> Vec<String> {
    HITS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| l.contains(canary))
        .cloned()
        .collect()
}

struct CanaryLayer;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl<S: tracing::Subscriber> Layer<S> for CanaryLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let canaries = CANARIES.lock().unwrap_or_else(|e| e.into_inner());
        if canaries.is_empty() {
            return;
        }
        let mut line = Line(event.metadata().target().to_owned());
        event.record(&mut line);
        if canaries.iter().any(|c| line.0.contains(c.as_str())) {
            HITS.lock().unwrap_or_else(|e| e.into_inner()).push(line.0);
        }
    }
}
