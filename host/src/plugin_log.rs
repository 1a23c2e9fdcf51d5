//! The host end of a plugin's `tracing` forwarding: re-emits plugin events and spans into the
//! host's subscriber, tagged with the plugin's gateway id, with secrets scrubbed.

use crate::redact::Redactor;
use renkei_sdk::abi::log::LogSink;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::{Level, Span};

/// Target of every re-emitted plugin event, so a host can filter plugins as a whole
/// (`RUST_LOG=renkei_plugin=debug`).
pub const TARGET: &str = "renkei_plugin";

pub(crate) struct PluginLog {
    plugin: String,
    redactor: Redactor,
    spans: Mutex<HashMap<u64, Span>>,
    next_span: AtomicU64,
}

impl PluginLog {
    pub(crate) fn new(plugin: &str, redactor: Redactor) -> PluginLog {
        PluginLog {
            plugin: plugin.to_owned(),
            redactor,
            spans: Mutex::new(HashMap::new()),
            next_span: AtomicU64::new(1),
        }
    }
}

macro_rules! with_level {
    ($level:expr, $mac:ident ! ( $($args:tt)* )) => {
        match $level {
            Level::ERROR => tracing::$mac!(target: TARGET, Level::ERROR, $($args)*),
            Level::WARN => tracing::$mac!(target: TARGET, Level::WARN, $($args)*),
            Level::INFO => tracing::$mac!(target: TARGET, Level::INFO, $($args)*),
            Level::DEBUG => tracing::$mac!(target: TARGET, Level::DEBUG, $($args)*),
            _ => tracing::$mac!(target: TARGET, Level::TRACE, $($args)*),
        }
    };
}

impl LogSink for PluginLog {
    fn enabled(&self, level: Level, _target: &str) -> bool {
        match level {
            Level::ERROR => tracing::enabled!(target: TARGET, Level::ERROR),
            Level::WARN => tracing::enabled!(target: TARGET, Level::WARN),
            Level::INFO => tracing::enabled!(target: TARGET, Level::INFO),
            Level::DEBUG => tracing::enabled!(target: TARGET, Level::DEBUG),
            _ => tracing::enabled!(target: TARGET, Level::TRACE),
        }
    }

    fn event(&self, level: Level, target: &str, message: &str) {
        let message = self.redactor.scrub(message);
        with_level!(
            level,
            event!(plugin = %self.plugin, plugin_target = %target, "{}", message)
        );
    }

    fn span_new(&self, level: Level, target: &str, name: &str, fields: &str) -> u64 {
        let fields = self.redactor.scrub(fields);
        let span = with_level!(
            level,
            span!("plugin", plugin = %self.plugin, plugin_target = %target, name = %name, fields = %fields)
        );
        let id = self.next_span.fetch_add(1, Ordering::Relaxed);
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, span);
        id
    }

    fn span_enter(&self, id: u64) {
        let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(span) = spans.get(&id) {
            span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        }
    }

    fn span_exit(&self, id: u64) {
        let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(span) = spans.get(&id) {
            span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }

    fn span_close(&self, id: u64) {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}
