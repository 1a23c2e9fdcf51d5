//! 3DES field encryption used when `encrypted_flg=1` (§5.2).
//!
//! DES-EDE3 in CBC mode with the merchant's 24-byte key and 8-byte IV, **no PKCS padding**: the
//! Shift_JIS plaintext is right-padded with ASCII spaces to a multiple of 8 bytes, and the
//! ciphertext travels as base64. Each field is encrypted on its own, starting from the IV.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use des::TdesEde3;

use crate::codec::{decode_sjis, encode_sjis};

const BLOCK: usize = 8;

/// A field that cannot be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// Key longer than 24 bytes or IV not 8 bytes.
    #[error("the 3DES key must be at most 24 bytes and the IV exactly 8 bytes")]
    BadKey,
    /// The field is not base64.
    #[error("encrypted field is not base64")]
    Base64,
    /// The ciphertext is not a whole number of 8-byte blocks.
    #[error("encrypted field is not a multiple of 8 bytes")]
    BlockLength,
    /// The plaintext is not Shift_JIS (wrong key or IV, or not encrypted at all).
    #[error("decrypted field is not Shift_JIS text")]
    Text,
}

/// The per-merchant field cipher.
#[derive(Clone)]
pub struct FieldCipher {
    cipher: TdesEde3,
    iv: [u8; BLOCK],
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("FieldCipher(..)")
    }
}

impl FieldCipher {
    /// Key up to 24 bytes (zero-padded, as the Java reference client does) and an 8-byte IV.
    pub fn new(key: &[u8], iv: &[u8]) -> Result<Self, CipherError> {
        if key.len() > 24 || iv.len() != BLOCK {
            return Err(CipherError::BadKey);
        }
        let mut full_key = [0u8; 24];
        full_key[..key.len()].copy_from_slice(key);
        let cipher = TdesEde3::new_from_slice(&full_key).map_err(|_| CipherError::BadKey)?;
        let mut iv_bytes = [0u8; BLOCK];
        iv_bytes.copy_from_slice(iv);
        Ok(Self {
            cipher,
            iv: iv_bytes,
        })
    }

    /// Encrypts one field value: Shift_JIS, space padding, 3DES-CBC, base64.
    /// The empty string stays empty (zero blocks).
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut buf = encode_sjis(plaintext).into_owned();
        let padded = buf.len().div_ceil(BLOCK) * BLOCK;
        buf.resize(padded, b' ');
        let encryptor =
            cbc::Encryptor::<TdesEde3>::inner_iv_init(self.cipher.clone(), &self.iv.into());
        // The buffer is a whole number of blocks, so NoPadding cannot fail.
        let out = encryptor
            .encrypt_padded_mut::<NoPadding>(&mut buf, padded)
            .map(|c| c.to_vec())
            .unwrap_or_default();
        STANDARD.encode(out)
    }

    /// Decrypts one field value and strips the space padding.
    pub fn decrypt(&self, wire: &str) -> Result<String, CipherError> {
        let mut buf = STANDARD
            .decode(wire.trim())
            .map_err(|_| CipherError::Base64)?;
        if buf.len() % BLOCK != 0 {
            return Err(CipherError::BlockLength);
        }
        let decryptor =
            cbc::Decryptor::<TdesEde3>::inner_iv_init(self.cipher.clone(), &self.iv.into());
        let plain = decryptor
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CipherError::BlockLength)?;
        let end = plain.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        let text = decode_sjis(&plain[..end]).ok_or(CipherError::Text)?;
        if text.chars().any(|c| c.is_control()) {
            // Garbage from a wrong key almost always contains control bytes.
            return Err(CipherError::Text);
        }
        Ok(text.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> FieldCipher {
        FieldCipher::new(b"ABCDEFGHIJKLMNOPQRSTUVWX", b"12345678").unwrap()
    }

    #[test]
    fn research_test_vectors() {
        let c = cipher();
        assert_eq!(c.encrypt("4242424242424242"), "5vT/EfuukW1PQxa2WH9DMg==");
        assert_eq!(c.encrypt("202412"), "QwPNqQ7RkLk=");
        assert_eq!(c.encrypt("V"), "LkNTJ4t+niI=");
        assert_eq!(c.encrypt("2"), "OHgSV6AnY+U=");
        assert_eq!(
            c.decrypt("5vT/EfuukW1PQxa2WH9DMg==").unwrap(),
            "4242424242424242"
        );
        assert_eq!(c.decrypt("QwPNqQ7RkLk=").unwrap(), "202412");
        assert_eq!(c.decrypt("LkNTJ4t+niI=").unwrap(), "V");
    }

    #[test]
    fn multibyte_round_trip_and_errors() {
        let c = cipher();
        let wire = c.encrypt("テスト");
        assert_eq!(c.decrypt(&wire).unwrap(), "テスト");
        assert_eq!(c.encrypt(""), "");
        assert_eq!(c.decrypt("not base64!"), Err(CipherError::Base64));
        assert_eq!(c.decrypt("AAAA"), Err(CipherError::BlockLength));
        assert!(FieldCipher::new(b"short", b"1234567").is_err());
        // A shorter key is zero-padded rather than refused.
        assert!(FieldCipher::new(b"short", b"12345678").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn encrypt_then_decrypt_gives_back_the_trimmed_text(text in "[!-~ァ-ン日本語商品][ -~ァ-ン日本語商品]{0,30}[!-~ァ-ン日本語商品]") {
            let c = cipher();
            let wire = c.encrypt(&text);
            proptest::prop_assert_eq!(base64::engine::general_purpose::STANDARD.decode(&wire).unwrap().len() % 8, 0);
            proptest::prop_assert_eq!(c.decrypt(&wire).unwrap(), text);
        }
    }
}
