//! The handshake: a plain C static every plugin exports (since SDK 0.2.0) that tells the host
//! which SDK it was built against, before the host touches anything of abi_stable.
//!
//! The host has to know a plugin's SDK version to pick the root-module type it initialises (the
//! native one, or a frozen copy of an older one), and abi_stable's own header is itself a Rust
//! type of one abi_stable version. So the version is also written here, in a layout that never
//! changes: a symbol named [`HANDSHAKE_SYMBOL`] holding a `#[repr(C)]` [`Handshake`] of 64
//! bytes, alignment 4:
//!
//! | offset | size | field | value |
//! | --- | --- | --- | --- |
//! | 0 | 8 | `magic` | the bytes `RENKEIHS` ([`HANDSHAKE_MAGIC`]) |
//! | 8 | 4 | `layout` | `u32`, native byte order: 1 ([`HANDSHAKE_LAYOUT`]) |
//! | 12 | 52 | `sdk_version` | the SDK's semantic version in ASCII, NUL-terminated, NUL-padded |
//!
//! A later layout may only add bytes after these 64 and must raise `layout`; every host reads
//! the first 64 bytes of any layout from 1 up. Libraries without the symbol (every plugin built
//! against 0.1.0) are read through abi_stable's `LibHeader::version_strings()` instead.

/// The symbol's name. Never changes.
pub const HANDSHAKE_SYMBOL: &str = "renkei_plugin_handshake";

/// The first eight bytes of every handshake.
pub const HANDSHAKE_MAGIC: [u8; 8] = *b"RENKEIHS";

/// The handshake layout this SDK writes.
pub const HANDSHAKE_LAYOUT: u32 = 1;

/// Room for the version text, its terminating NUL included.
pub const HANDSHAKE_VERSION_BYTES: usize = 52;

/// The never-changing C layout of the handshake (see the module docs for the byte table).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub magic: [u8; 8],
    pub layout: u32,
    pub sdk_version: [u8; HANDSHAKE_VERSION_BYTES],
}

/// The handshake of a library built against this SDK: what `export_gateway!` exports.
pub const THIS_SDK: Handshake = Handshake::new(crate::SDK_VERSION);

/// Why a library's handshake symbol cannot be read. The library is refused: a plugin that
/// writes the symbol but not the layout is broken or not a Renkei plugin at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("its handshake symbol does not start with the Renkei magic bytes")]
    BadMagic,
    #[error("its handshake has layout {0}; layouts start at 1")]
    BadLayout(u32),
    #[error("its handshake's SDK version is not NUL-terminated ASCII text")]
    UnterminatedVersion,
    #[error("its handshake's SDK version {0:?} is not a semantic version")]
    BadVersion(String),
}

impl Handshake {
    /// A layout-1 handshake naming `version`. Evaluated at compile time in every plugin; a
    /// version too long for the field fails that compilation.
    pub const fn new(version: &str) -> Handshake {
        let bytes = version.as_bytes();
        assert!(
            bytes.len() < HANDSHAKE_VERSION_BYTES,
            "SDK version too long for the handshake"
        );
        let mut sdk_version = [0u8; HANDSHAKE_VERSION_BYTES];
        let mut i = 0;
        while i < bytes.len() {
            sdk_version[i] = bytes[i];
            i += 1;
        }
        Handshake {
            magic: HANDSHAKE_MAGIC,
            layout: HANDSHAKE_LAYOUT,
            sdk_version,
        }
    }

    /// The SDK version the handshake names, or why it names none.
    pub fn sdk_version(&self) -> Result<semver::Version, HandshakeError> {
        if self.magic != HANDSHAKE_MAGIC {
            return Err(HandshakeError::BadMagic);
        }
        if self.layout < 1 {
            return Err(HandshakeError::BadLayout(self.layout));
        }
        let end = self
            .sdk_version
            .iter()
            .position(|b| *b == 0)
            .ok_or(HandshakeError::UnterminatedVersion)?;
        let text = std::str::from_utf8(&self.sdk_version[..end])
            .ok()
            .filter(|t| t.is_ascii())
            .ok_or(HandshakeError::UnterminatedVersion)?;
        semver::Version::parse(text).map_err(|_| HandshakeError::BadVersion(text.to_owned()))
    }
}

/// Reads the handshake of an opened library: `None` when it exports no such symbol.
pub fn read(library: &libloading::Library) -> Option<Handshake> {
    let name = format!("{HANDSHAKE_SYMBOL}\0");
    // SAFETY: a data symbol is looked up as a pointer to it. Whoever exports this name promises
    // the 64-byte layout above; the bytes are copied out and every value of them is checked.
    unsafe {
        let symbol = library.get::<*const Handshake>(name.as_bytes()).ok()?;
        let address: *const Handshake = *symbol;
        if address.is_null() {
            return None;
        }
        Some(std::ptr::read_unaligned(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn the_handshake_layout_is_the_documented_64_bytes() {
        assert_eq!(size_of::<Handshake>(), 64);
        assert_eq!(align_of::<Handshake>(), 4);
        assert_eq!(offset_of!(Handshake, magic), 0);
        assert_eq!(offset_of!(Handshake, layout), 8);
        assert_eq!(offset_of!(Handshake, sdk_version), 12);
        assert_eq!(HANDSHAKE_SYMBOL, "renkei_plugin_handshake");
        assert_eq!(&HANDSHAKE_MAGIC, b"RENKEIHS");
    }

    #[test]
    fn this_sdks_handshake_names_this_sdks_version() {
        assert_eq!(THIS_SDK.layout, 1);
        assert_eq!(THIS_SDK.sdk_version(), Ok(crate::sdk_version()));
    }

    #[test]
    fn a_later_layout_is_read_by_its_first_64_bytes() {
        let mut h = Handshake::new("0.7.1");
        h.layout = 2;
        assert_eq!(h.sdk_version(), Ok(semver::Version::new(0, 7, 1)));
    }

    #[test]
    fn a_handshake_without_the_magic_bytes_is_refused() {
        let mut h = THIS_SDK;
        h.magic = *b"RENKEIHT";
        assert_eq!(h.sdk_version(), Err(HandshakeError::BadMagic));
    }

    #[test]
    fn layout_zero_is_refused() {
        let mut h = THIS_SDK;
        h.layout = 0;
        assert_eq!(h.sdk_version(), Err(HandshakeError::BadLayout(0)));
    }

    #[test]
    fn a_version_without_its_nul_or_not_ascii_is_refused() {
        let mut h = THIS_SDK;
        h.sdk_version = [b'1'; HANDSHAKE_VERSION_BYTES];
        assert_eq!(h.sdk_version(), Err(HandshakeError::UnterminatedVersion));
        let mut h = Handshake::new("0.2.0");
        h.sdk_version[1] = 0xC3;
        assert_eq!(h.sdk_version(), Err(HandshakeError::UnterminatedVersion));
    }

    #[test]
    fn a_version_that_is_not_semver_is_refused_with_its_text() {
        assert_eq!(
            Handshake::new("two").sdk_version(),
            Err(HandshakeError::BadVersion("two".into()))
        );
        assert_eq!(
            Handshake::new("").sdk_version(),
            Err(HandshakeError::BadVersion(String::new()))
        );
    }

    #[test]
    fn the_longest_version_that_fits_is_read_back() {
        let long = format!("1.0.0-{}", "a".repeat(HANDSHAKE_VERSION_BYTES - 7));
        assert_eq!(long.len(), HANDSHAKE_VERSION_BYTES - 1);
        assert_eq!(
            Handshake::new(&long).sdk_version().map(|v| v.to_string()),
            Ok(long)
        );
    }
}
