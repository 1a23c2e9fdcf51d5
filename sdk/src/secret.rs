//! A string that must never be printed.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret value (hash key, Basic-auth password, 3DES key, card token, card number).
///
/// `Debug` and `Display` print a placeholder, it has no `Serialize`, and the only way to read it
/// is the explicitly named [`Secret::expose`], so a secret cannot reach a log, an error or a
/// panic message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// What stands for a secret wherever one is shown or journaled. Plain ASCII without `\`
    /// or `~`, so a plugin can write it into a body of any charset its gateway speaks
    /// (Shift_JIS and EUC-JP read every other ASCII byte as ASCII), and a byte-level redaction
    /// of such a body stays valid in that charset. SDK 0.1.0 wrote `«redacted»`, which
    /// Shift_JIS cannot encode; plugins built against 0.1.0 still journal that form.
    pub const PLACEHOLDER: &'static str = "[redacted]";

    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for building a request or a signature. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::PLACEHOLDER)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::PLACEHOLDER)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_is_written_alike_in_every_charset_a_gateway_speaks() {
        let p = Secret::PLACEHOLDER;
        for charset in [
            encoding_rs::SHIFT_JIS,
            encoding_rs::EUC_JP,
            encoding_rs::UTF_8,
        ] {
            let (bytes, _, unmappable) = charset.encode(p);
            assert!(!unmappable, "{} cannot encode {p}", charset.name());
            assert_eq!(
                &*bytes,
                p.as_bytes(),
                "{} writes {p} differently",
                charset.name()
            );
        }
        // JIS X 0201 reads these two ASCII bytes as the yen sign and the overline.
        assert!(!p.contains(['\\', '~']));
    }

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("canary-9f2e");
        assert!(!format!("{s:?} {s} {s:#?}").contains("canary"));
        assert_eq!(s.expose(), "canary-9f2e");
    }
}
