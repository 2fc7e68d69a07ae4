//! The tables, shared by the two sides of the datapath: the match tables
//! the pipes look up, the egress ACL (inner IPv4 or IPv6 source and
//! destination, a [`VipPair`] -> tunnel) and the ingress ACL ((SPI, inner
//! source and destination) entries), and their
//! replica ([`ReplicatedTables`], read by the packet cores through a
//! [`TableReader`]).
//!
//! [`crate::pipeline`] reads the tables; [`crate::flows`] writes them. A
//! [`Tables`] value is immutable while packet cores read it; only the flow
//! programmer changes one, through [`TableOp`]s, when no core holds it.
//! This module depends on neither of them.

mod replica;
mod sessions;

pub use replica::{ReplicatedTables, TableReader};
pub use sessions::{SessionCount, SessionCounters, SessionTotals};

use crate::psp::encap::Encapsulator;
use crate::psp::kdf::DerivedKey;
use crate::psp::Spi;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// A fast hasher for the tables' integer keys (one multiply and a fold).
///
/// Table contents come from the control plane, not from packets, so a
/// keyed (SipHash) hasher buys nothing against flooding here; the seed
/// still makes layouts differ between processes.
#[derive(Debug, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a step; a short tail padded, its length mixed in.
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(b));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut b = [0u8; 8];
            b[..tail.len()].copy_from_slice(tail);
            self.write_u64(u64::from_le_bytes(b) ^ ((tail.len() as u64) << 59));
        }
    }
    // One step for each fixed-width integer: the keys are `VipPair` and
    // `(u32, VipPair)`, whose addresses hash as `IpAddr` (its discriminant
    // goes through write_isize, an IPv6 address through write_u128); the
    // defaults would go byte by byte.
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    #[inline]
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    #[inline]
    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

/// Builds [`FastHasher`]s from a seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHash {
    /// The seed.
    pub seed: u64,
}

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}

/// A session's two inner addresses, as a packet carries them: on egress
/// (the egress ACL's key) the local VM (`src`) and the remote VM (`dst`),
/// in the ingress ACL the remote VM (`src`) and ours (`dst`). DOCA 3.x
/// keys its sessions the same way (`ip_pair { src_vip, dst_vip }`): the
/// peer admits a tunnel's SPI from one inner source to one of its VMs
/// only, so two VMs of ours sending to one remote VM need a tunnel each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipPair {
    /// The inner source (on egress our VM, on ingress the remote one).
    pub src: IpAddr,
    /// The inner destination (on egress the remote VM, on ingress ours).
    pub dst: IpAddr,
}

impl VipPair {
    /// The pair (`src`, `dst`).
    pub fn new(src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> VipPair {
        VipPair { src: src.into(), dst: dst.into() }
    }
}

impl fmt::Display for VipPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.src, self.dst)
    }
}

/// An egress ACL entry: the tunnel a session is sent through.
#[derive(Debug, Clone)]
pub struct TunnelEntry {
    /// Index of the tunnel's per-core state (counters, IV counter).
    pub slot: u32,
    /// Unique per installed entry: a core seeing a new generation in a slot
    /// restarts the slot's counters and IV counter.
    pub generation: u64,
    /// The encap data and expanded key ("crypto id" in DOCA Flow terms).
    pub encap: Arc<Encapsulator>,
}

/// The raw encryption key of an egress tunnel, for a backend that programs
/// keys into hardware key slots (DOCA Flow's `crypto_id`s). The software
/// pipeline never sees it: it encrypts with the expanded key inside
/// [`TunnelEntry::encap`], and [`Tables`] drop this on insert.
///
/// Shared, not copied, between the request and the table op (one copy of
/// the bytes); wiped when the last holder drops it ([`DerivedKey`] is
/// `ZeroizeOnDrop`); redacted in `Debug`.
#[derive(Clone)]
pub struct HwKey(Arc<DerivedKey>);

impl HwKey {
    /// Takes the key.
    pub fn new(key: DerivedKey) -> HwKey {
        HwKey(Arc::new(key))
    }

    /// The key bytes (16 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for HwKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HwKey({} bits, <redacted>)", self.0.len() * 8)
    }
}

/// An ingress ACL entry: one permitted (SPI, inner source, inner
/// destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclEntry {
    /// Index of the entry's per-core counters.
    pub slot: u32,
    /// Unique per installed entry (see [`TunnelEntry::generation`]).
    pub generation: u64,
}

/// Why the ingress ACL refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclReject {
    /// No entry has this SPI.
    UnknownSpi,
    /// The SPI is permitted, but not from this source to this destination
    /// (another VM's SPI, or another peer VM's).
    WrongSource,
}

/// One change to [`Tables`], already validated and with its slot chosen.
#[derive(Debug, Clone)]
pub enum TableOp {
    /// Insert or replace the egress entry of a session; with the
    /// tunnel's raw key when the backend programs hardware key slots (the
    /// software tables ignore it, so their entries stay as small as before).
    SetTunnel(VipPair, TunnelEntry, Option<HwKey>),
    /// Remove the egress entry of a session.
    DelTunnel(VipPair),
    /// Insert or replace an ingress ACL entry: `spi` from `pair.src` (the
    /// peer's VM) to `pair.dst` (ours).
    SetAcl(Spi, VipPair, AclEntry),
    /// Remove an ingress ACL entry.
    DelAcl(Spi, VipPair),
}

/// The egress and ingress ACL tables, at one version.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    version: u64,
    egress: HashMap<VipPair, TunnelEntry, FastHash>,
    acl: HashMap<(u32, VipPair), AclEntry, FastHash>,
    /// SPI -> number of permitted entries, to tell an unknown SPI from a
    /// wrong source or destination.
    acl_spis: HashMap<u32, u32, FastHash>,
}

impl Tables {
    /// Empty tables (version 0) with room reserved for `tunnels` egress
    /// entries and `acl` ingress pairs.
    pub fn with_capacity(tunnels: usize, acl: usize, seed: u64) -> Tables {
        let h = FastHash { seed };
        Tables {
            version: 0,
            egress: HashMap::with_capacity_and_hasher(tunnels, h),
            acl: HashMap::with_capacity_and_hasher(acl, h),
            acl_spis: HashMap::with_capacity_and_hasher(acl, h),
        }
    }

    /// The publication these tables belong to (0 before the first).
    #[inline]
    pub fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn set_version(&mut self, v: u64) {
        self.version = v;
    }

    /// The egress ACL: the tunnel of a packet from inner source `src` to
    /// inner destination `dst`.
    #[inline]
    pub fn egress(&self, src: impl Into<IpAddr>, dst: impl Into<IpAddr>) -> Option<&TunnelEntry> {
        self.egress.get(&VipPair { src: src.into(), dst: dst.into() })
    }

    /// The ingress ACL: the entry of (`spi`, inner `src`, inner `dst`), or
    /// why there is none.
    #[inline]
    pub fn ingress_acl(
        &self,
        spi: Spi,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Result<&AclEntry, AclReject> {
        match self.acl.get(&(spi.0, VipPair { src: src.into(), dst: dst.into() })) {
            Some(e) => Ok(e),
            None if self.acl_spis.contains_key(&spi.0) => Err(AclReject::WrongSource),
            None => Err(AclReject::UnknownSpi),
        }
    }

    /// Whether any ingress ACL pair has `spi`.
    #[inline]
    pub fn knows_spi(&self, spi: Spi) -> bool {
        self.acl_spis.contains_key(&spi.0)
    }

    /// Every egress entry.
    pub fn egress_entries(&self) -> impl Iterator<Item = (VipPair, &TunnelEntry)> {
        self.egress.iter().map(|(pair, e)| (*pair, e))
    }

    /// Every ingress ACL entry.
    pub fn acl_pairs(&self) -> impl Iterator<Item = (Spi, VipPair, &AclEntry)> {
        self.acl.iter().map(|((spi, pair), e)| (Spi(*spi), *pair, e))
    }

    /// Number of egress entries.
    pub fn tunnels(&self) -> usize {
        self.egress.len()
    }

    /// Number of ingress ACL pairs.
    pub fn acl_entries(&self) -> usize {
        self.acl.len()
    }

    /// Applies one change.
    pub fn apply(&mut self, op: &TableOp) {
        match op {
            TableOp::SetTunnel(pair, e, _) => {
                self.egress.insert(*pair, e.clone());
            }
            TableOp::DelTunnel(pair) => {
                self.egress.remove(pair);
            }
            TableOp::SetAcl(spi, pair, e) => {
                if self.acl.insert((spi.0, *pair), *e).is_none() {
                    *self.acl_spis.entry(spi.0).or_insert(0) += 1;
                }
            }
            TableOp::DelAcl(spi, pair) => {
                if self.acl.remove(&(spi.0, *pair)).is_some() {
                    if let Some(n) = self.acl_spis.get_mut(&spi.0) {
                        *n -= 1;
                        if *n == 0 {
                            self.acl_spis.remove(&spi.0);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash(k: impl Hash) -> u64 {
        FastHash { seed: 7 }.hash_one(k)
    }

    #[test]
    fn fast_hash_tells_table_keys_apart() {
        use std::collections::HashSet;
        // A /16 of IPv4 destinations, the same in IPv6, and ACL pairs:
        // every key its own hash, and the two families never collide.
        let mut seen = HashSet::new();
        for i in 0..=u16::MAX {
            let [a, b] = i.to_be_bytes();
            let v4 = IpAddr::from([10, 0, a, b]);
            let v6 = IpAddr::from(std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i));
            assert!(seen.insert(hash(v4)), "{v4}");
            assert!(seen.insert(hash(v6)), "{v6}");
            assert!(seen.insert(hash((u32::from(i) | 0x8000_0000, v4))));
        }
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_ne!(hash(mapped), hash(IpAddr::from([10, 0, 0, 1])));
        // Byte strings: the tail's length counts.
        let bytes = |b: &[u8]| {
            let mut h = FastHash { seed: 7 }.build_hasher();
            h.write(b);
            h.finish()
        };
        assert_ne!(bytes(&[0]), bytes(&[0, 0]));
        assert_ne!(bytes(&[1; 8]), bytes(&[1; 9]));
        assert_ne!(bytes(&[]), bytes(&[0]));
    }

    #[test]
    fn acl_reasons_and_spi_refcount() {
        let mut t = Tables::with_capacity(4, 4, 1);
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), "fd00::2".parse().unwrap());
        let (me, me6): (IpAddr, IpAddr) = ([10, 0, 9, 9].into(), "fd00::9".parse().unwrap());
        let e = AclEntry { slot: 0, generation: 1 };
        let (pa, pb) = (VipPair { src: a, dst: me }, VipPair { src: b, dst: me6 });
        t.apply(&TableOp::SetAcl(Spi(5), pa, e));
        t.apply(&TableOp::SetAcl(Spi(5), pb, AclEntry { slot: 1, generation: 2 }));
        t.apply(&TableOp::SetAcl(Spi(5), pb, AclEntry { slot: 1, generation: 2 }));
        assert_eq!(t.ingress_acl(Spi(5), a, me), Ok(&e));
        assert_eq!(t.ingress_acl(Spi(6), a, me), Err(AclReject::UnknownSpi));
        assert_eq!(t.ingress_acl(Spi(5), [1, 1, 1, 1], me), Err(AclReject::WrongSource));
        // The right source to another of our VMs: not this SPI's.
        assert_eq!(t.ingress_acl(Spi(5), a, [10, 0, 9, 8]), Err(AclReject::WrongSource));
        // An IPv4 address and its IPv4-mapped IPv6 form are two sources.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(t.ingress_acl(Spi(5), mapped, me), Err(AclReject::WrongSource));
        assert_eq!(t.ingress_acl(Spi(5), b, me6), Ok(&AclEntry { slot: 1, generation: 2 }));
        t.apply(&TableOp::DelAcl(Spi(5), pa));
        assert_eq!(t.ingress_acl(Spi(5), a, me), Err(AclReject::WrongSource));
        t.apply(&TableOp::DelAcl(Spi(5), pb));
        t.apply(&TableOp::DelAcl(Spi(5), pb));
        assert_eq!(t.ingress_acl(Spi(5), a, me), Err(AclReject::UnknownSpi));
        assert_eq!(t.acl_entries(), 0);
    }

    /// The software tables keep no copy of a tunnel's raw key, and the key
    /// never shows in `Debug`.
    #[test]
    fn raw_keys_are_not_kept_and_not_printed() {
        let key = HwKey::new(DerivedKey::from_bytes(&[0x5a; 16]).unwrap());
        let held = key.clone();
        let e = TunnelEntry {
            slot: 0,
            generation: 1,
            encap: crate::testkit::tunnel(7, crate::testkit::v6()),
        };
        let pair = VipPair::new([10, 0, 0, 9], [10, 0, 0, 1]);
        let op = TableOp::SetTunnel(pair, e, Some(key));
        let text = format!("{op:?}");
        assert!(text.contains("HwKey(128 bits, <redacted>)"), "{text}");
        assert!(!text.contains("90, 90") && !text.contains("5a5a"), "{text}");
        let mut t = Tables::with_capacity(1, 1, 1);
        t.apply(&op);
        drop(op);
        assert!(t.egress([10, 0, 0, 9], [10, 0, 0, 1]).is_some());
        // Another source to the same destination is another session.
        assert!(t.egress([10, 0, 0, 8], [10, 0, 0, 1]).is_none());
        assert_eq!(Arc::strong_count(&held.0), 1);
        assert_eq!(held.as_bytes(), &[0x5a; 16]);
    }

    #[test]
    fn hasher_spreads_sequential_keys() {
        let h = FastHash { seed: 0 };
        let mut buckets = [0u32; 64];
        for k in 0u32..64 * 64 {
            buckets[(h.hash_one(k) & 63) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 16), "{buckets:?}");
        let mut top = [0u32; 128];
        for k in 0u32..128 * 64 {
            top[(h.hash_one(k) >> 57) as usize] += 1;
        }
        assert!(top.iter().all(|&n| n > 16), "{top:?}");
    }
}
