//! A packet core for the EAL tests: encrypts toward a peer, decrypts with
//! our keys, in place and in order; and the clear UDP frames it is fed.

use engine::cores::BurstHandler;
use engine::dpdk::Burst;
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::encap::Encapsulator;
use engine::psp::kdf::MasterKeyPair;
use engine::wire::{self, ETHERNET_HEADER_LEN as ETH};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An Ethernet/IPv4/UDP frame from `src` to `dst`, number `i`: UDP source
/// port 1000 + i and up to `max_payload` - 1 bytes of payload, both
/// derived from `i`.
pub fn udp_frame(src: Ipv4Addr, dst: Ipv4Addr, i: usize, max_payload: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..(i * 37) % max_payload).map(|j| (i + j) as u8).collect();
    let mut f = vec![0u8; ETH + 28];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    wire::ipv4_emit(&mut f[ETH..], src, dst, 17, 0, 64, (28 + payload.len()) as u16);
    wire::udp_emit(&mut f[ETH + 20..], 1000 + i as u16, 5001, 8 + payload.len() as u16);
    f.extend_from_slice(&payload);
    f
}

/// Encrypts toward the peer, decrypts what the peer sent with our keys;
/// counts every packet it is handed in `done`.
pub struct PspHandler {
    pub to_peer: Encapsulator,
    pub iv: u64,
    pub ours: MasterKeyPair,
    pub cache: KeyCache,
    pub done: Arc<AtomicU64>,
}

impl PspHandler {
    /// A handler with a fresh key cache, from IV 1.
    pub fn new(to_peer: Encapsulator, ours: MasterKeyPair, done: Arc<AtomicU64>) -> PspHandler {
        PspHandler { to_peer, iv: 0, ours, cache: KeyCache::new(64), done }
    }

    /// Keeps, decrypted, what decrypts; counts the whole burst.
    pub fn decrypt(&mut self, rx: &mut Burst) {
        let n = rx.len() as u64;
        rx.retain(|m| {
            let mut keys = CachedKeys { masters: &self.ours, cache: &mut self.cache };
            decap(m, &mut keys, DecapOptions::default()).is_ok()
        });
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

impl BurstHandler<Burst> for PspHandler {
    // In place and in order: keep what passes, then hand the burst over.
    fn host_to_net(&mut self, rx: &mut Burst, out: &mut Burst) {
        let n = rx.len() as u64;
        rx.retain(|m| {
            self.iv += 1;
            self.to_peer.encap(m, self.iv, false).is_ok()
        });
        core::mem::swap(rx, out);
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn net_to_host(&mut self, rx: &mut Burst, out: &mut Burst) {
        self.decrypt(rx);
        core::mem::swap(rx, out);
    }
}
