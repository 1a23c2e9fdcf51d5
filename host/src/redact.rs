//! Scrubbing known secret values out of text that came from a plugin.
//!
//! The SDK's `Secret` type already keeps secrets out of formatting, but a plugin author can still
//! write `panic!("{}", key.expose())`. The host knows every secret it configured, so it removes
//! them from anything a plugin says before that reaches a log or an error.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Secrets shorter than this are not scrubbed: replacing "1" everywhere would destroy messages
/// without protecting anything.
const MIN_LEN: usize = 4;

#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
    /// How many times a secret had to be removed. Scrubbing is the host's safety net, never the
    /// plugin's job done for it: the conformance suite certifies that this stays at zero.
    scrubbed: Arc<AtomicU64>,
}

impl Redactor {
    pub fn add(&self, secret: &str) {
        if secret.len() >= MIN_LEN {
            let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
            if !secrets.iter().any(|s| s == secret) {
                secrets.push(secret.to_owned());
                // Longest first, so a secret containing another is replaced whole.
                secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Cow::Borrowed(text);
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                let hits = out.matches(s.as_str()).count() as u64;
                self.scrubbed.fetch_add(hits, Ordering::Relaxed);
                out = Cow::Owned(out.replace(s.as_str(), renkei_sdk::Secret::PLACEHOLDER));
            }
        }
        out
    }

    /// How many secret occurrences this redactor has removed so far, from any text of any
    /// instance of its library (the redactor is per library, see `loader`).
    pub fn scrubbed(&self) -> u64 {
        self.scrubbed.load(Ordering::Relaxed)
    }

    pub fn scrub_error(&self, mut e: renkei_sdk::GatewayError) -> renkei_sdk::GatewayError {
        e.message = self.scrub(&e.message).into_owned();
        e.gateway_message = e.gateway_message.map(|m| self.scrub(&m).into_owned());
        // Codes come from the plugin too, and a plugin's output is not trusted to be clean.
        e.gateway_code = e.gateway_code.map(|c| self.scrub(&c).into_owned());
        for c in &mut e.other_codes {
            *c = self.scrub(c).into_owned();
        }
        e
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.secrets.read().map(|s| s.len()).unwrap_or(0);
        write!(f, "Redactor({n} secrets)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_of_a_plugins_error_is_scrubbed_codes_included() {
        let r = Redactor::default();
        r.add("hunter2-long");
        let mut e = renkei_sdk::GatewayError::gateway(
            renkei_sdk::ErrorKind::Rejected,
            "C-hunter2-long",
            Some("m hunter2-long".into()),
            "x hunter2-long",
        );
        e.other_codes = vec!["D-hunter2-long".into()];
        let e = r.scrub_error(e);
        assert!(!format!("{e} {e:?}").contains("hunter2-long"), "{e:?}");
        assert_eq!(e.other_codes, ["D-[redacted]"]);
    }

    #[test]
    fn known_secrets_are_replaced_and_short_ones_ignored() {
        let r = Redactor::default();
        r.add("hunter2-long");
        r.add("abc");
        assert_eq!(r.scrubbed(), 0);
        assert_eq!(r.scrub("key=hunter2-long abc"), "key=[redacted] abc");
        assert_eq!(r.scrubbed(), 1);
    }
}
