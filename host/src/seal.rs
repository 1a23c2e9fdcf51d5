//! The secret parts of payment handles (`renkei_sdk::Handle`), sealed before they reach the
//! journal.
//!
//! A gateway may hand out a per-payment secret that every later operation needs (GMO-PG's
//! `AccessPass`). The journal is the host's one durable store, and it is read by operators, sent
//! to backups and shared by hosts; a secret must never rest in it in clear. With a
//! [`HandleKey`], the secret parts are sealed with ChaCha20-Poly1305 (a fresh random nonce each
//! time, the gateway and order as associated data, so a sealed blob cannot be moved to another
//! order), and the journal holds only the sealed bytes and the parts' names. Without a key, the
//! host keeps the secret parts in memory for its lifetime and journals only their names: after a
//! restart the plugin gets the handle without them and must say so (an operation refused before
//! anything is sent), never guess.

use crate::journal::StoredHandle;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use renkei_sdk::{Handle, OrderRef, Secret};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

/// The format byte in front of every sealed blob.
const FORMAT: u8 = 1;
const NONCE_BYTES: usize = 12;

/// The key that seals secret handle parts: 32 bytes, given as 64 hex digits.
#[derive(Clone)]
pub struct HandleKey(Key);

/// Why a key could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandleKeyError {
    #[error("a handle key is 64 hex digits (32 bytes); this one has {0} characters")]
    Length(usize),
    #[error("a handle key is hex digits only")]
    NotHex,
}

impl HandleKey {
    /// Reads 64 hex digits (surrounding whitespace ignored, so a key file may end in a newline).
    pub fn from_hex(text: &str) -> Result<HandleKey, HandleKeyError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(HandleKeyError::Length(text.len()));
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(text, &mut key).map_err(|_| HandleKeyError::NotHex)?;
        Ok(HandleKey(key.into()))
    }

    /// A fresh random key.
    pub fn generate() -> HandleKey {
        HandleKey(ChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// The key as 64 hex digits, to write to a key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for HandleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleKey({})", Secret::PLACEHOLDER)
    }
}

/// What ties a sealed blob to its payment.
fn associated(gateway: &str, order: &OrderRef) -> Vec<u8> {
    format!("renkei-handle\0{gateway}\0{order}").into_bytes()
}

/// Seals `parts` for `gateway`'s `order`: format byte, nonce, ciphertext, as hex.
pub(crate) fn seal(
    key: &HandleKey,
    gateway: &str,
    order: &OrderRef,
    parts: &BTreeMap<String, Secret>,
) -> String {
    let plain: BTreeMap<&str, &str> = parts
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose()))
        .collect();
    let plain = serde_json::to_vec(&plain).expect("a map of strings serialises");
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated(gateway, order);
    let sealed = ChaCha20Poly1305::new(&key.0)
        .encrypt(
            &nonce,
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .expect("ChaCha20-Poly1305 seals any message this size");
    let bytes: Vec<u8> = std::iter::once(FORMAT).chain(nonce).chain(sealed).collect();
    hex::encode(bytes)
}

/// Opens what [`seal`] made for the same gateway and order; `None` when it was sealed with
/// another key, for another payment, or altered.
pub(crate) fn open(
    key: &HandleKey,
    gateway: &str,
    order: &OrderRef,
    sealed: &str,
) -> Option<BTreeMap<String, Secret>> {
    let bytes = hex::decode(sealed).ok()?;
    let (&format, rest) = bytes.split_first()?;
    if format != FORMAT || rest.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
    let aad = associated(gateway, order);
    let plain = ChaCha20Poly1305::new(&key.0)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .ok()?;
    let parts: BTreeMap<String, String> = serde_json::from_slice(&plain).ok()?;
    Some(
        parts
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
    )
}

/// The executor's keeper of handles: turns a plugin's [`Handle`] into what the journal stores,
/// and back.
#[derive(Default)]
pub(crate) struct Handles {
    key: Option<HandleKey>,
    /// Without a key: the secret parts of each (gateway, order)'s latest handle, for this
    /// process's lifetime.
    memory: Mutex<HashMap<(String, OrderRef), BTreeMap<String, Secret>>>,
}

impl Handles {
    pub(crate) fn with_key(key: HandleKey) -> Handles {
        Handles {
            key: Some(key),
            memory: Mutex::default(),
        }
    }

    /// What the journal keeps of `handle` for `gateway`'s `order`.
    pub(crate) fn store(&self, gateway: &str, order: &OrderRef, handle: &Handle) -> StoredHandle {
        let secret_names = handle.secret.keys().cloned().collect();
        let sealed = match (&self.key, handle.secret.is_empty()) {
            (_, true) => None,
            (Some(key), false) => Some(seal(key, gateway, order, &handle.secret)),
            (None, false) => {
                self.memory
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((gateway.to_owned(), order.clone()), handle.secret.clone());
                None
            }
        };
        StoredHandle {
            public: handle.public.clone(),
            secret_names,
            sealed,
        }
    }

    /// The handle `stored` stands for, with every secret part this host can recover. A part it
    /// cannot (sealed with another key, or kept in the memory of a host that stopped) is left
    /// out, and said in the log by name.
    pub(crate) fn open(&self, gateway: &str, order: &OrderRef, stored: &StoredHandle) -> Handle {
        let secret = match (&stored.sealed, &self.key) {
            (Some(sealed), Some(key)) => open(key, gateway, order, sealed),
            (Some(_), None) => None,
            (None, _) if stored.secret_names.is_empty() => Some(BTreeMap::new()),
            (None, _) => self
                .memory
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(gateway.to_owned(), order.clone()))
                .cloned(),
        };
        let secret = secret.unwrap_or_else(|| {
            tracing::warn!(
                %gateway,
                %order,
                parts = ?stored.secret_names,
                "the secret parts of the payment's handle cannot be recovered here (no key, \
                 another key, or kept in the memory of a host that stopped); the plugin gets \
                 the handle without them"
            );
            BTreeMap::new()
        });
        Handle {
            public: stored.public.clone(),
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> Handle {
        Handle::new()
            .public("AccessID", "id-1")
            .secret("AccessPass", Secret::new("pass-canary-7"))
    }

    #[test]
    fn a_sealed_handle_holds_no_secret_in_clear_and_opens_only_for_its_own_payment() {
        let handles = Handles::with_key(HandleKey::generate());
        let order = OrderRef::new("o-1");
        let stored = handles.store("gmopg", &order, &handle());
        let journaled = serde_json::to_string(&stored).unwrap();
        assert!(!journaled.contains("pass-canary-7"), "{journaled}");
        assert!(journaled.contains("id-1") && journaled.contains("AccessPass"));
        assert_eq!(handles.open("gmopg", &order, &stored), handle());
        // Another order, another gateway, another key: the secret stays shut.
        let public_only = Handle::new().public("AccessID", "id-1");
        assert_eq!(
            handles.open("gmopg", &OrderRef::new("o-2"), &stored),
            public_only
        );
        assert_eq!(handles.open("sbps", &order, &stored), public_only);
        let other = Handles::with_key(HandleKey::generate());
        assert_eq!(other.open("gmopg", &order, &stored), public_only);
        // Altered bytes do not open.
        let mut altered = stored.clone();
        let s = altered.sealed.as_mut().unwrap();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        assert_eq!(handles.open("gmopg", &order, &altered), public_only);
    }

    #[test]
    fn without_a_key_secret_parts_live_in_memory_only() {
        let handles = Handles::default();
        let order = OrderRef::new("o-1");
        let stored = handles.store("gmopg", &order, &handle());
        assert_eq!(stored.sealed, None);
        assert_eq!(stored.secret_names, vec!["AccessPass".to_owned()]);
        assert!(
            !serde_json::to_string(&stored)
                .unwrap()
                .contains("pass-canary-7")
        );
        assert_eq!(handles.open("gmopg", &order, &stored), handle());
        // A host that starts afresh has only the public parts.
        let restarted = Handles::default();
        assert_eq!(
            restarted.open("gmopg", &order, &stored),
            Handle::new().public("AccessID", "id-1")
        );
    }

    #[test]
    fn a_key_is_64_hex_digits_and_never_printed() {
        let key = HandleKey::generate();
        let again = HandleKey::from_hex(&format!("{}\n", key.to_hex())).unwrap();
        assert_eq!(again.0, key.0);
        assert!(!format!("{key:?}").contains(&key.to_hex()));
        assert_eq!(
            HandleKey::from_hex("abc").unwrap_err(),
            HandleKeyError::Length(3)
        );
        assert_eq!(
            HandleKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            HandleKeyError::NotHex
        );
        // A sign is no hex digit (`u8::from_str_radix` would take "+f").
        assert_eq!(
            HandleKey::from_hex(&"+f".repeat(32)).unwrap_err(),
            HandleKeyError::NotHex
        );
    }
}
