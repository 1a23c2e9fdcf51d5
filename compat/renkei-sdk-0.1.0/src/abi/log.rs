//! `tracing` across the boundary.
//!
//! Each plugin library has its own copy of `tracing-core` and so its own global dispatcher: events
//! emitted in plugin code never reach the host's subscriber on their own. The host therefore hands
//! the plugin a [`HostLog`] of `extern "C"` callbacks; the plugin installs, as its global default,
//! a small subscriber that formats events and spans and calls them. The callbacks run on the
//! calling host thread, so forwarded events nest inside the host's current span.

use abi_stable::{StableAbi, std_types::RStr};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::Level;
use tracing_core::{
    Event, Interest, Metadata, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};

/// Where a plugin's log output goes. Implemented by the host.
pub trait LogSink: Send + Sync + 'static {
    fn enabled(&self, level: Level, target: &str) -> bool;
    fn event(&self, level: Level, target: &str, message: &str);
    /// Opens a span; the returned id must not be 0.
    fn span_new(&self, level: Level, target: &str, name: &str, fields: &str) -> u64;
    fn span_enter(&self, id: u64);
    fn span_exit(&self, id: u64);
    fn span_close(&self, id: u64);
}

/// The FFI form of a [`LogSink`]: a context pointer and `extern "C"` trampolines.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostLog {
    pub context: usize,
    pub enabled: extern "C" fn(context: usize, level: u8, target: RStr<'_>) -> bool,
    pub event: extern "C" fn(context: usize, level: u8, target: RStr<'_>, message: RStr<'_>),
    pub span_new: extern "C" fn(
        context: usize,
        level: u8,
        target: RStr<'_>,
        name: RStr<'_>,
        fields: RStr<'_>,
    ) -> u64,
    pub span_enter: extern "C" fn(context: usize, id: u64),
    pub span_exit: extern "C" fn(context: usize, id: u64),
    pub span_close: extern "C" fn(context: usize, id: u64),
}

fn level_code(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        _ => 5,
    }
}

fn level_of(code: u8) -> Level {
    match code {
        1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        4 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

type SinkBox = Arc<dyn LogSink>;

fn sink(context: usize) -> &'static SinkBox {
    // SAFETY: `context` is the address of a `SinkBox` leaked by `HostLog::new`, never freed.
    unsafe { &*(context as *const SinkBox) }
}

// Host-side trampolines: a panic here would unwind through plugin frames, so each is guarded.
extern "C" fn t_enabled(context: usize, level: u8, target: RStr<'_>) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        sink(context).enabled(level_of(level), target.as_str())
    }))
    .unwrap_or(false)
}

extern "C" fn t_event(context: usize, level: u8, target: RStr<'_>, message: RStr<'_>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        sink(context).event(level_of(level), target.as_str(), message.as_str())
    }));
}

extern "C" fn t_span_new(
    context: usize,
    level: u8,
    target: RStr<'_>,
    name: RStr<'_>,
    fields: RStr<'_>,
) -> u64 {
    catch_unwind(AssertUnwindSafe(|| {
        sink(context).span_new(
            level_of(level),
            target.as_str(),
            name.as_str(),
            fields.as_str(),
        )
    }))
    .unwrap_or(0)
}

extern "C" fn t_span_enter(context: usize, id: u64) {
    let _ = catch_unwind(AssertUnwindSafe(|| sink(context).span_enter(id)));
}

extern "C" fn t_span_exit(context: usize, id: u64) {
    let _ = catch_unwind(AssertUnwindSafe(|| sink(context).span_exit(id)));
}

extern "C" fn t_span_close(context: usize, id: u64) {
    let _ = catch_unwind(AssertUnwindSafe(|| sink(context).span_close(id)));
}

impl HostLog {
    /// Wraps a sink for a plugin library. The sink is leaked on purpose: plugin libraries are
    /// never unloaded, so whatever they may call must live as long as the process.
    pub fn new(sink: Arc<dyn LogSink>) -> HostLog {
        let leaked: &'static SinkBox = Box::leak(Box::new(sink));
        HostLog {
            context: leaked as *const SinkBox as usize,
            enabled: t_enabled,
            event: t_event,
            span_new: t_span_new,
            span_enter: t_span_enter,
            span_exit: t_span_exit,
            span_close: t_span_close,
        }
    }
}

// ---- plugin side ------------------------------------------------------------------------------

static INSTALLED: OnceLock<HostLog> = OnceLock::new();

/// Installs the forwarding subscriber and the panic hook in this (plugin) library. The first
/// sink wins: one library serves one host.
pub(crate) fn install(host: HostLog) {
    let mut first = false;
    INSTALLED.get_or_init(|| {
        first = true;
        host
    });
    if first {
        let _ = tracing::subscriber::set_global_default(Forwarder {
            host,
            refs: Mutex::new(HashMap::new()),
        });
    }
    install_panic_hook();
}

/// Replaces the default panic hook, which would print the panic message (possibly with data the
/// plugin was handling) to stderr. The message goes to the host log instead, where the host
/// scrubs known secrets; the caught panic itself becomes an error value.
pub(crate) fn install_panic_hook() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        std::panic::set_hook(Box::new(|info| {
            if let Some(host) = INSTALLED.get() {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let msg = format!("plugin panicked at {location}: {payload}");
                (host.event)(
                    host.context,
                    1,
                    "renkei::plugin::panic".into(),
                    msg.as_str().into(),
                );
            }
        }));
    });
}

struct Forwarder {
    host: HostLog,
    /// Reference counts of open spans (tracing clones span handles).
    refs: Mutex<HashMap<u64, usize>>,
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.rest.is_empty() {
                self.rest.push(' ');
            }
            let _ = write!(self.rest, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            if !self.rest.is_empty() {
                self.rest.push(' ');
            }
            let _ = write!(self.rest, "{}={value}", field.name());
        }
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The host's filter may change at run time: ask it every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        (self.host.enabled)(
            self.host.context,
            level_code(metadata.level()),
            metadata.target().into(),
        )
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        let meta = span.metadata();
        let id = (self.host.span_new)(
            self.host.context,
            level_code(meta.level()),
            meta.target().into(),
            meta.name().into(),
            fields.rest.as_str().into(),
        );
        // 0 means the host refused the span; tracing ids must be non-zero, so use a sentinel
        // the host ignores.
        let id = if id == 0 { u64::MAX } else { id };
        *self
            .refs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id)
            .or_insert(0) += 1;
        Id::from_u64(id)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = match (fields.message.is_empty(), fields.rest.is_empty()) {
            (_, true) => fields.message,
            (true, false) => fields.rest,
            (false, false) => format!("{} {}", fields.message, fields.rest),
        };
        let meta = event.metadata();
        (self.host.event)(
            self.host.context,
            level_code(meta.level()),
            meta.target().into(),
            text.as_str().into(),
        );
    }

    fn enter(&self, span: &Id) {
        (self.host.span_enter)(self.host.context, span.into_u64());
    }

    fn exit(&self, span: &Id) {
        (self.host.span_exit)(self.host.context, span.into_u64());
    }

    fn clone_span(&self, id: &Id) -> Id {
        *self
            .refs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id.into_u64())
            .or_insert(0) += 1;
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let raw = id.into_u64();
        let mut refs = self.refs.lock().unwrap_or_else(|e| e.into_inner());
        let closed = match refs.get_mut(&raw) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                refs.remove(&raw);
                true
            }
        };
        drop(refs);
        if closed {
            (self.host.span_close)(self.host.context, raw);
        }
        closed
    }
}
