//! Checks a file before it is handed to the dynamic loader.
//!
//! `dlopen` maps a library's segments as the program headers describe them. A truncated file
//! whose headers are intact maps fine, and the process dies of SIGBUS when the loader touches a
//! page past the end of the file. So on ELF platforms the host reads the headers itself and
//! refuses a file whose loadable segments do not fit in it.

use std::path::Path;

/// Why a file is not a library the host may pass to the loader.
pub fn check(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if cfg!(target_os = "linux") {
        check_elf(&bytes)
    } else {
        Ok(())
    }
}

/// The integer of `N` bytes at `at`, read with `from` = [little-endian, big-endian].
fn int_at<const N: usize, T>(
    b: &[u8],
    at: usize,
    le: bool,
    [from_le, from_be]: [fn([u8; N]) -> T; 2],
) -> Option<T> {
    let s: [u8; N] = b.get(at..at + N)?.try_into().ok()?;
    Some(if le { from_le(s) } else { from_be(s) })
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    int_at(b, at, le, [u16::from_le_bytes, u16::from_be_bytes])
}

fn u64_at(b: &[u8], at: usize, le: bool) -> Option<u64> {
    int_at(b, at, le, [u64::from_le_bytes, u64::from_be_bytes])
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    int_at(b, at, le, [u32::from_le_bytes, u32::from_be_bytes])
}

const PT_LOAD: u32 = 1;
const ET_DYN: u16 = 3;

/// ELF64 only: every platform Renkei builds plugins for is 64-bit.
fn check_elf(b: &[u8]) -> Result<(), String> {
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if b.get(4) != Some(&2) {
        return Err("not a 64-bit ELF file".into());
    }
    let le = match b.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return Err("bad ELF byte order".into()),
    };
    let short = || "truncated ELF header".to_owned();
    if u16_at(b, 16, le).ok_or_else(short)? != ET_DYN {
        return Err("an ELF file, but not a shared library".into());
    }
    let phoff = u64_at(b, 32, le).ok_or_else(short)? as usize;
    let phentsize = u16_at(b, 54, le).ok_or_else(short)? as usize;
    let phnum = u16_at(b, 56, le).ok_or_else(short)? as usize;
    if phentsize < 56 {
        return Err("bad ELF program header size".into());
    }
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let kind = u32_at(b, at, le).ok_or("truncated program headers")?;
        if kind != PT_LOAD {
            continue;
        }
        let offset = u64_at(b, at + 8, le).ok_or("truncated program headers")?;
        let size = u64_at(b, at + 32, le).ok_or("truncated program headers")?;
        let end = offset.checked_add(size).ok_or("bad segment bounds")?;
        if end > b.len() as u64 {
            return Err(format!(
                "truncated: a loadable segment ends at byte {end}, the file has {}",
                b.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_and_short_files_are_refused() {
        assert!(check_elf(b"").is_err());
        assert!(check_elf(b"MZ\x90\x00").is_err());
        assert!(check_elf(b"\x7fELF\x02\x01\x01").is_err());
    }

    #[test]
    fn the_running_test_binary_is_not_a_shared_library_or_is_whole() {
        // A real ELF file passes the segment check (test binaries are PIE, i.e. ET_DYN).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if cfg!(target_os = "linux") {
            assert!(check_elf(&me).is_ok());
            assert!(check_elf(&me[..me.len().min(8192)]).is_err());
        }
    }
}
