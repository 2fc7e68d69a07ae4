//! The PSP reference tool's test set (`tests/reference/` of the
//! workspace): shared by the EAL tests (through `common`) and the
//! pipeline's unit tests (through `#[path]`), which name the pcap decoder
//! differently, so it is passed in.

use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference")
}

/// Every encrypted capture of `cases.txt`: its name, its frame, and the
/// cleartext frame it decrypts to. `first_frame` gives a pcap file's first
/// frame.
pub fn captures(first_frame: impl Fn(&[u8]) -> Vec<u8>) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = dir();
    let frame = |name: &str| {
        first_frame(&std::fs::read(dir.join("pcap").join(format!("{name}.pcap"))).unwrap())
    };
    let cases = std::fs::read_to_string(dir.join("cases.txt")).unwrap();
    cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), frame(f[0]), frame(f[2]))
        })
        .collect()
}

/// The two master keys of `cfg/decrypt.cfg`, 32 bytes each.
pub fn master_key_bytes() -> ([u8; 32], [u8; 32]) {
    let text = std::fs::read_to_string(dir().join("cfg/decrypt.cfg")).unwrap();
    let k: Vec<u8> = text.split_whitespace().map(|t| u8::from_str_radix(t, 16).unwrap()).collect();
    (k[..32].try_into().unwrap(), k[32..64].try_into().unwrap())
}
