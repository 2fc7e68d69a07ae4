//! Per-session counters: each packet core's packets and bytes per egress
//! tunnel slot and per ingress ACL slot ([`TunnelEntry::slot`],
//! [`AclEntry::slot`]). One array per core, written by that core alone
//! with plain loads and stores (no read-modify-write, no lock, no
//! allocation: on x86 and Arm these are ordinary moves), tagged with the
//! entry's generation so a reused slot restarts at zero; the control
//! thread sums the cores' arrays for the entries the tables hold
//! ([`Tables::sessions`]).
//!
//! The generation is stored with `Release` after the counts are reset and
//! loaded with `Acquire` by a reader, so a reader never credits a new
//! entry with its predecessor's counts. A reader racing a core that is
//! just moving a slot to a newer entry may report the older entry as
//! zero; the control thread reads the tables it published last, whose
//! entries the cores are moving to, so this is a momentary under-count of
//! an entry on its way out.
//!
//! [`TunnelEntry::slot`]: super::TunnelEntry::slot
//! [`AclEntry::slot`]: super::AclEntry::slot

use super::{Tables, VipPair};
use crate::psp::Spi;
use std::sync::atomic::{
    fence, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use std::sync::Arc;

/// Packets and bytes of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCount {
    /// Packets.
    pub packets: u64,
    /// Bytes (frame length as the pipe saw it).
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Slot {
    generation: AtomicU64,
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl Slot {
    #[inline]
    fn hit(&self, generation: u64, len: usize) {
        // Only this core writes the slot: its own last store is what it loads.
        if self.generation.load(Relaxed) != generation {
            self.packets.store(0, Relaxed);
            self.bytes.store(0, Relaxed);
            self.generation.store(generation, Release);
        }
        self.packets.store(self.packets.load(Relaxed) + 1, Relaxed);
        self.bytes.store(self.bytes.load(Relaxed) + len as u64, Relaxed);
    }

    fn read(&self, generation: u64) -> SessionCount {
        if self.generation.load(Acquire) != generation {
            return SessionCount::default();
        }
        let c =
            SessionCount { packets: self.packets.load(Relaxed), bytes: self.bytes.load(Relaxed) };
        // Moved to a newer entry while read: report the old one as zero.
        fence(Acquire);
        if self.generation.load(Relaxed) != generation {
            return SessionCount::default();
        }
        c
    }
}

/// One packet core's session counters.
#[derive(Debug)]
pub struct SessionCounters {
    egress: Box<[Slot]>,
    ingress: Box<[Slot]>,
}

impl SessionCounters {
    /// Counters for `tunnels` egress and `acl` ingress slots, allocated now.
    pub fn new(tunnels: usize, acl: usize) -> Arc<SessionCounters> {
        let slots = |n: usize| (0..n).map(|_| Slot::default()).collect();
        Arc::new(SessionCounters { egress: slots(tunnels), ingress: slots(acl) })
    }

    /// Counts a packet through egress slot `slot` (entry `generation`).
    #[inline]
    pub fn egress_hit(&self, slot: u32, generation: u64, len: usize) {
        if let Some(s) = self.egress.get(slot as usize) {
            s.hit(generation, len);
        }
    }

    /// Counts a packet admitted by ingress ACL slot `slot`.
    #[inline]
    pub fn ingress_hit(&self, slot: u32, generation: u64, len: usize) {
        if let Some(s) = self.ingress.get(slot as usize) {
            s.hit(generation, len);
        }
    }

    /// This core's count of egress slot `slot` for entry `generation`.
    pub fn egress(&self, slot: u32, generation: u64) -> SessionCount {
        self.egress.get(slot as usize).map_or_else(SessionCount::default, |s| s.read(generation))
    }

    /// This core's count of ingress slot `slot` for entry `generation`.
    pub fn ingress(&self, slot: u32, generation: u64) -> SessionCount {
        self.ingress.get(slot as usize).map_or_else(SessionCount::default, |s| s.read(generation))
    }
}

/// Every session's count, summed over cores: egress per (inner source,
/// destination), ingress per (SPI, inner source, inner destination).
/// Sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTotals {
    /// Per egress tunnel: its inner source and destination and the peer's
    /// SPI.
    pub egress: Vec<(VipPair, Spi, SessionCount)>,
    /// Per ingress ACL entry: the SPI we issued, the peer's VM (inner
    /// source) and ours (inner destination).
    pub ingress: Vec<(Spi, VipPair, SessionCount)>,
}

impl Tables {
    /// The sessions these tables hold, counted by `cores`.
    pub fn sessions(&self, cores: &[Arc<SessionCounters>]) -> SessionTotals {
        let sum = |f: &dyn Fn(&SessionCounters) -> SessionCount| {
            cores.iter().fold(SessionCount::default(), |mut a, c| {
                let n = f(c);
                a.packets += n.packets;
                a.bytes += n.bytes;
                a
            })
        };
        let mut egress: Vec<_> = self
            .egress_entries()
            .map(|(pair, e)| (pair, e.encap.config().spi, sum(&|c| c.egress(e.slot, e.generation))))
            .collect();
        egress.sort_by_key(|(pair, _, _)| (pair.dst, pair.src));
        let mut ingress: Vec<_> = self
            .acl_pairs()
            .map(|(spi, pair, e)| (spi, pair, sum(&|c| c.ingress(e.slot, e.generation))))
            .collect();
        ingress.sort_by_key(|(spi, pair, _)| (pair.src, pair.dst, spi.0));
        SessionTotals { egress, ingress }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_slot_restart_with_a_new_generation() {
        let c = SessionCounters::new(4, 2);
        c.egress_hit(1, 7, 100);
        c.egress_hit(1, 7, 50);
        c.ingress_hit(0, 3, 60);
        c.egress_hit(9, 7, 1); // beyond the slots: ignored
        assert_eq!(c.egress(1, 7), SessionCount { packets: 2, bytes: 150 });
        assert_eq!(c.egress(1, 8), SessionCount::default(), "another entry's");
        assert_eq!(c.ingress(0, 3), SessionCount { packets: 1, bytes: 60 });
        c.egress_hit(1, 8, 10);
        assert_eq!(c.egress(1, 8), SessionCount { packets: 1, bytes: 10 });
        assert_eq!(c.egress(1, 7), SessionCount::default());
    }
}
