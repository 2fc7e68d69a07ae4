//! Helpers shared by the EAL-backed integration tests: temporary
//! directories, classic pcap files for `net_pcap` ports, master keys and
//! tunnels, and (`psp_core`) a PSP packet core and its UDP frames.

#![allow(dead_code)] // each test binary uses a subset

#[cfg(feature = "dpdk")]
pub mod psp_core;
pub mod reference;

use engine::psp::encap::{EncapConfig, Encapsulator, OuterIp};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use engine::psp::{Mode, Spi, Version};
use std::path::{Path, PathBuf};

/// A directory removed when dropped, whatever happens to the test.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir, unique per process.
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// A path inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `frames` as a classic pcap (Ethernet, microseconds).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    std::fs::write(path, engine::pcap::encode_frames(frames)).unwrap();
}

/// The frames of a pcap, as `net_pcap` writes them.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let records = engine::pcap::decode(&std::fs::read(path).unwrap()).unwrap();
    records.into_iter().map(|r| r.data).collect()
}

/// Master keys `[a; 32]` and `[a + 1; 32]`.
pub fn masters(a: u8) -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[a; 32]).unwrap(),
        MasterKey::from_bytes(&[a + 1; 32]).unwrap(),
    )
}

/// A tunnel-mode sender over outer IPv6 with the key of `spi` under
/// `key_of` (the receiver's master keys).
pub fn tunnel(spi: Spi, version: Version, key_of: &MasterKeyPair) -> Encapsulator {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version,
        spi,
        crypt_offset: 0,
        vc: None,
        eth: None,
        outer: OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() },
        ttl: 64,
    };
    Encapsulator::new(cfg, &key_of.derive(spi, version)).unwrap()
}
