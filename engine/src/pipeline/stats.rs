//! Packet and byte counters of every pipe, per packet core.
//!
//! Each core owns its [`PipeStats`] (plain `u64`s, cache-aligned, no
//! atomics); a printer sums copies of them with [`PipeStats::add`].

use crate::psp::decap::Syndrome;
use core::fmt;

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Packets.
    pub packets: u64,
    /// Bytes (frame length as the pipe saw it).
    pub bytes: u64,
}

impl Counter {
    /// Counts one packet of `bytes` bytes.
    #[inline]
    pub fn hit(&mut self, bytes: usize) {
        self.packets += 1;
        self.bytes += bytes as u64;
    }

    /// Adds another counter.
    #[inline]
    pub fn add(&mut self, o: &Counter) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// The counters of every pipe (DOCA Flow pipe and entry names), for one
/// core or summed over all.
#[repr(align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeStats {
    /// `ingress_root_pipe`: every packet submitted.
    pub ingress_root: Counter,
    /// `root_default_drop`: traffic no root entry takes (see
    /// [`super::DropReason::RootDefault`]).
    pub root_default_drop: Counter,
    /// `vf_arp_to_rss`: ARP from the unsecured port, to the control plane.
    pub vf_arp_to_rss: Counter,
    /// Frames whose headers are truncated or invalid.
    pub malformed: Counter,
    /// `egress_acl_pipe` hits (a tunnel exists for the destination).
    pub egress_acl: Counter,
    /// `egress_acl_pipe` misses, sent to the control plane.
    pub egress_acl_miss: Counter,
    /// Packets the tunnel's encapsulator refused (no room, too long, ...).
    pub egress_encap_fail: Counter,
    /// `egress_sampling_pipe` hits: S bit set and mirrored to RSS.
    pub egress_sampling: Counter,
    /// `empty_pipe_not_sampled`: unsampled packets through the second
    /// mirror resource when `maintain_order` is on.
    pub empty_pipe_not_sampled: Counter,
    /// Sent to the secure port.
    pub fwd_to_wire: Counter,
    /// `ingress_decrypt_pipe`: PSP packets that decrypted.
    pub ingress_decrypt: Counter,
    /// `ingress_decrypt_pipe` misses: secure-port traffic that is not PSP.
    pub ingress_decrypt_miss: Counter,
    /// `syndrome_stats_pipe`: failures by syndrome, in
    /// [`Syndrome::ALL`] order.
    pub syndrome_stats: [Counter; 6],
    /// `ingress_sampling_pipe` hits: S bit set, mirrored to RSS.
    pub ingress_sampling: Counter,
    /// `ingress_acl_pipe` accepts (or every decrypted packet when the ACL
    /// is disabled).
    pub ingress_acl: Counter,
    /// `ingress_acl_pipe` rejects: no pair with this SPI.
    pub ingress_acl_unknown_spi: Counter,
    /// `ingress_acl_pipe` rejects: SPI permitted, not from this source.
    pub ingress_acl_wrong_source: Counter,
    /// Sent to the unsecured port.
    pub fwd_to_unsecured: Counter,
    /// `rss_pipe`: everything handed to the control plane (misses, ARP,
    /// sampling mirrors).
    pub rss: Counter,
}

impl PipeStats {
    /// The counter of a syndrome.
    #[inline]
    pub fn syndrome_mut(&mut self, s: Syndrome) -> &mut Counter {
        &mut self.syndrome_stats[s.bit().trailing_zeros() as usize]
    }

    /// The counter of a syndrome.
    pub fn syndrome(&self, s: Syndrome) -> Counter {
        self.syndrome_stats[s.bit().trailing_zeros() as usize]
    }

    /// Adds another core's counters.
    pub fn add(&mut self, o: &PipeStats) {
        let mut rows = [Counter::default(); 32];
        let mut n = 0;
        o.for_each(|_, c| {
            rows[n] = c;
            n += 1;
        });
        let mut i = 0;
        self.for_each_mut(|_, c| {
            c.add(&rows[i]);
            i += 1;
        });
    }

    /// Sums many cores' counters.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a PipeStats>) -> PipeStats {
        let mut s = PipeStats::default();
        all.into_iter().for_each(|o| s.add(o));
        s
    }

    /// Calls `f` with each counter and its name.
    pub fn for_each(&self, mut f: impl FnMut(&'static str, Counter)) {
        let mut copy = *self;
        copy.for_each_mut(|n, c| f(n, *c));
    }

    fn for_each_mut(&mut self, mut f: impl FnMut(&'static str, &mut Counter)) {
        f("ingress_root", &mut self.ingress_root);
        f("root_default_drop", &mut self.root_default_drop);
        f("vf_arp_to_rss", &mut self.vf_arp_to_rss);
        f("malformed", &mut self.malformed);
        f("egress_acl", &mut self.egress_acl);
        f("egress_acl_miss", &mut self.egress_acl_miss);
        f("egress_encap_fail", &mut self.egress_encap_fail);
        f("egress_sampling", &mut self.egress_sampling);
        f("empty_pipe_not_sampled", &mut self.empty_pipe_not_sampled);
        f("fwd_to_wire", &mut self.fwd_to_wire);
        f("ingress_decrypt", &mut self.ingress_decrypt);
        f("ingress_decrypt_miss", &mut self.ingress_decrypt_miss);
        for (s, c) in Syndrome::ALL.iter().zip(self.syndrome_stats.iter_mut()) {
            f(s.name(), c);
        }
        f("ingress_sampling", &mut self.ingress_sampling);
        f("ingress_acl", &mut self.ingress_acl);
        f("ingress_acl_unknown_spi", &mut self.ingress_acl_unknown_spi);
        f("ingress_acl_wrong_source", &mut self.ingress_acl_wrong_source);
        f("fwd_to_unsecured", &mut self.fwd_to_unsecured);
        f("rss", &mut self.rss);
    }
}

impl fmt::Display for PipeStats {
    /// One `name packets bytes` line per non-zero counter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut r = Ok(());
        self.for_each(|name, c| {
            if r.is_ok() && c.packets > 0 {
                r = writeln!(f, "{name:<26} {:>14} pkts {:>16} bytes", c.packets, c.bytes);
            }
        });
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_print() {
        let mut a = PipeStats::default();
        a.ingress_root.hit(100);
        a.syndrome_mut(Syndrome::BadInner).hit(60);
        let mut b = a;
        b.rss.hit(1);
        let s = PipeStats::sum([&a, &b]);
        assert_eq!(s.ingress_root, Counter { packets: 2, bytes: 200 });
        assert_eq!(s.syndrome(Syndrome::BadInner).packets, 2);
        assert_eq!(s.rss.packets, 1);
        let text = s.to_string();
        assert!(text.contains("bad_inner"), "{text}");
        assert!(!text.contains("icv_fail"));
        assert_eq!(core::mem::align_of::<PipeStats>(), 64);
    }
}
