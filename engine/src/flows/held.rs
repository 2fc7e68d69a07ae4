//! Packets held while their tunnel is being set up.
//!
//! A packet that misses the egress ACL goes to the control plane, which
//! asks the peer for an SPI and key. Meanwhile its packets wait here: a
//! bounded queue per destination (the oldest is dropped, counted and given
//! back to the caller to free when a queue is full), a bounded number of
//! destinations, and everything of a destination handed back once its
//! tunnel is installed (or given up). A destination is a key `K` (the
//! tunnel manager's is the session, a [`crate::tables::VipPair`]); `P` is
//! the packet handle (an `Mbuf` in the datapath, a `VecBuf` or an integer
//! in tests). All memory is reserved at creation: holding and releasing
//! never allocate.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

/// What [`HeldPackets::hold`] did with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum HoldOutcome<P> {
    /// Queued.
    Held,
    /// Queued, and the destination's oldest packet was dropped to make
    /// room: free it.
    DroppedOldest(P),
    /// Not queued: too many destinations are waiting already. Free it.
    Refused(P),
}

/// Counters of [`HeldPackets`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldStats {
    /// Packets queued.
    pub held: u64,
    /// Oldest packets dropped because their queue was full.
    pub dropped_oldest: u64,
    /// Packets refused because the destination table was full.
    pub refused: u64,
    /// Packets handed back by `release` (to be resubmitted).
    pub released: u64,
    /// Packets handed back by `discard` (to be freed).
    pub discarded: u64,
}

/// Bounded per-destination queues of packets waiting for a tunnel, by
/// destination key `K`.
#[derive(Debug)]
pub struct HeldPackets<P, K = IpAddr> {
    index: HashMap<K, usize>,
    queues: Vec<VecDeque<P>>,
    free: Vec<usize>,
    per_dst: usize,
    stats: HeldStats,
}

impl<P, K: Hash + Eq> HeldPackets<P, K> {
    /// Room for `max_dsts` destinations of `per_dst` packets each (at
    /// least 1 of each).
    pub fn new(max_dsts: usize, per_dst: usize) -> HeldPackets<P, K> {
        let (max_dsts, per_dst) = (max_dsts.max(1), per_dst.max(1));
        HeldPackets {
            index: HashMap::with_capacity(max_dsts),
            queues: (0..max_dsts).map(|_| VecDeque::with_capacity(per_dst)).collect(),
            free: (0..max_dsts).rev().collect(),
            per_dst,
            stats: HeldStats::default(),
        }
    }

    /// Queues `p` for `dst`. Returns whether `dst` was new (the caller
    /// asks the control plane for a tunnel only then) and what happened.
    pub fn hold(&mut self, dst: K, p: P) -> (bool, HoldOutcome<P>) {
        let (new, q) = match self.index.get(&dst) {
            Some(&q) => (false, q),
            None => match self.free.pop() {
                Some(q) => {
                    self.index.insert(dst, q);
                    (true, q)
                }
                None => {
                    self.stats.refused += 1;
                    return (false, HoldOutcome::Refused(p));
                }
            },
        };
        let queue = &mut self.queues[q];
        let dropped = if queue.len() == self.per_dst { queue.pop_front() } else { None };
        queue.push_back(p);
        self.stats.held += 1;
        match dropped {
            Some(old) => {
                self.stats.dropped_oldest += 1;
                (new, HoldOutcome::DroppedOldest(old))
            }
            None => (new, HoldOutcome::Held),
        }
    }

    fn take(&mut self, dst: K, mut f: impl FnMut(P)) -> usize {
        let Some(q) = self.index.remove(&dst) else { return 0 };
        let n = self.queues[q].len();
        self.queues[q].drain(..).for_each(&mut f);
        self.free.push(q);
        n
    }

    /// The tunnel to `dst` is installed: hands its packets to `resubmit`,
    /// oldest first. Returns how many.
    pub fn release(&mut self, dst: K, resubmit: impl FnMut(P)) -> usize {
        let n = self.take(dst, resubmit);
        self.stats.released += n as u64;
        n
    }

    /// No tunnel will come for `dst`: hands its packets to `free`.
    pub fn discard(&mut self, dst: K, free: impl FnMut(P)) -> usize {
        let n = self.take(dst, free);
        self.stats.discarded += n as u64;
        n
    }

    /// Packets waiting for `dst`.
    pub fn waiting(&self, dst: K) -> usize {
        self.index.get(&dst).map_or(0, |&q| self.queues[q].len())
    }

    /// Destinations waiting.
    pub fn destinations(&self) -> usize {
        self.index.len()
    }

    /// The counters.
    pub fn stats(&self) -> HeldStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn bounded_per_destination_and_in_destinations() {
        let (a, b, c) =
            (Ipv4Addr::new(1, 0, 0, 1), Ipv4Addr::new(1, 0, 0, 2), Ipv4Addr::new(9, 9, 9, 9));
        let mut h: HeldPackets<u32> = HeldPackets::new(2, 3);
        assert_eq!(h.hold(IpAddr::V4(a), 1), (true, HoldOutcome::Held));
        assert_eq!(h.hold(IpAddr::V4(a), 2), (false, HoldOutcome::Held));
        assert_eq!(h.hold(IpAddr::V4(a), 3), (false, HoldOutcome::Held));
        assert_eq!(h.hold(IpAddr::V4(a), 4), (false, HoldOutcome::DroppedOldest(1)));
        assert_eq!(h.hold(IpAddr::V4(b), 10), (true, HoldOutcome::Held));
        assert_eq!(h.hold(IpAddr::V4(c), 20), (false, HoldOutcome::Refused(20)));
        assert_eq!(
            (
                h.waiting(IpAddr::V4(a)),
                h.waiting(IpAddr::V4(b)),
                h.waiting(IpAddr::V4(c)),
                h.destinations()
            ),
            (3, 1, 0, 2)
        );
        let mut out = Vec::new();
        assert_eq!(h.release(IpAddr::V4(a), |p| out.push(p)), 3);
        assert_eq!(out, [2, 3, 4], "oldest first, the dropped one gone");
        assert_eq!(h.release(IpAddr::V4(a), |p| out.push(p)), 0);
        // The freed queue serves a new destination.
        assert_eq!(h.hold(IpAddr::V4(c), 21), (true, HoldOutcome::Held));
        let mut freed = Vec::new();
        assert_eq!(h.discard(IpAddr::V4(b), |p| freed.push(p)), 1);
        assert_eq!(freed, [10]);
        let s = h.stats();
        assert_eq!((s.held, s.dropped_oldest, s.refused, s.released, s.discarded), (6, 1, 1, 3, 1));
        // Every packet is accounted for: held = waiting + released +
        // discarded + dropped.
        assert_eq!(
            s.held,
            h.waiting(IpAddr::V4(c)) as u64 + s.released + s.discarded + s.dropped_oldest
        );
    }
}
