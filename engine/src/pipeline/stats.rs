//! Packet and byte counters of every pipe, per packet core.
//!
//! Each core owns its [`PipeStats`] (plain `u64`s, cache-aligned, no
//! atomics); a printer sums copies of them with [`PipeStats::add`].
//!
//! A drop is counted through one table, `drop_counters!` below: each
//! [`DropReason`] names its counter (the field, whose name is the one
//! `--stat-print` and the metrics print), and the pipeline's counting
//! ([`PipeStats::count_drop`]), the reading ([`PipeStats::dropped`]) and
//! the name ([`DropReason::counter_name`]) all come from it.

use super::DropReason;
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
    /// IPv6 neighbour solicitations and advertisements from the unsecured
    /// port, to the control plane (inner IPv6).
    pub vf_nd_to_rss: Counter,
    /// Frames whose headers hold invalid values.
    pub malformed: Counter,
    /// Frames shorter than their headers (Ethernet, IP, UDP) announce.
    pub truncated: Counter,
    /// Frames longer than [`super::PipelineConfig::max_frame_len`], from
    /// any port.
    pub oversized: Counter,
    /// `egress_acl_pipe` hits (a tunnel exists for the destination).
    pub egress_acl: Counter,
    /// `egress_acl_pipe` misses, sent to the control plane.
    pub egress_acl_miss: Counter,
    /// Packets the tunnel's encapsulator refused (no room, too long, ...).
    pub egress_encap_fail: Counter,
    /// Packets whose encapsulation would exceed
    /// [`super::PipelineConfig::max_frame_len`].
    pub egress_oversized: Counter,
    /// Packets dropped because this core used up its IVs of the tunnel.
    pub egress_iv_exhausted: Counter,
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
    pub syndrome_stats: [Counter; Syndrome::ALL.len()],
    /// `ingress_sampling_pipe` hits: S bit set, mirrored to RSS.
    pub ingress_sampling: Counter,
    /// Decrypted packets without the virtualization cookie this gateway
    /// expects ([`super::PipelineConfig::expected_vc`]).
    pub vc_mismatch: Counter,
    /// Decrypted packets of the other mode (tunnel or transport) than
    /// this gateway's ([`super::PipelineConfig::mode`]).
    pub ingress_mode_mismatch: Counter,
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
        let mut rows = [Counter::default(); 48];
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

    pub(crate) fn for_each_mut(&mut self, mut f: impl FnMut(&'static str, &mut Counter)) {
        f("ingress_root", &mut self.ingress_root);
        f("root_default_drop", &mut self.root_default_drop);
        f("vf_arp_to_rss", &mut self.vf_arp_to_rss);
        f("vf_nd_to_rss", &mut self.vf_nd_to_rss);
        f("malformed", &mut self.malformed);
        f("truncated", &mut self.truncated);
        f("oversized", &mut self.oversized);
        f("egress_acl", &mut self.egress_acl);
        f("egress_acl_miss", &mut self.egress_acl_miss);
        f("egress_encap_fail", &mut self.egress_encap_fail);
        f("egress_oversized", &mut self.egress_oversized);
        f("egress_iv_exhausted", &mut self.egress_iv_exhausted);
        f("egress_sampling", &mut self.egress_sampling);
        f("empty_pipe_not_sampled", &mut self.empty_pipe_not_sampled);
        f("fwd_to_wire", &mut self.fwd_to_wire);
        f("ingress_decrypt", &mut self.ingress_decrypt);
        f("ingress_decrypt_miss", &mut self.ingress_decrypt_miss);
        for (s, c) in Syndrome::ALL.iter().zip(self.syndrome_stats.iter_mut()) {
            f(s.name(), c);
        }
        f("ingress_sampling", &mut self.ingress_sampling);
        f("vc_mismatch", &mut self.vc_mismatch);
        f("ingress_mode_mismatch", &mut self.ingress_mode_mismatch);
        f("ingress_acl", &mut self.ingress_acl);
        f("ingress_acl_unknown_spi", &mut self.ingress_acl_unknown_spi);
        f("ingress_acl_wrong_source", &mut self.ingress_acl_wrong_source);
        f("fwd_to_unsecured", &mut self.fwd_to_unsecured);
        f("rss", &mut self.rss);
    }
}

/// The one table from drop reason to counter: `Reason => field` for every
/// [`DropReason`] but `Syndrome`, whose counters are
/// [`PipeStats::syndrome_stats`] (named by [`Syndrome::name`]). The field's
/// name is the counter's printed name ([`PipeStats::for_each`] prints the
/// same; a test checks the two agree).
macro_rules! drop_counters {
    ($($reason:ident => $field:ident),* $(,)?) => {
        impl DropReason {
            /// The name of the [`PipeStats`] counter that counts this
            /// reason (as `--stat-print` prints it).
            pub const fn counter_name(self) -> &'static str {
                match self {
                    $(DropReason::$reason => stringify!($field),)*
                    DropReason::Syndrome(s) => s.name(),
                }
            }
        }

        impl PipeStats {
            /// Counts one dropped packet of `bytes` bytes in the counter of
            /// `reason`: how the pipeline counts every drop.
            #[inline]
            pub fn count_drop(&mut self, reason: DropReason, bytes: usize) {
                match reason {
                    $(DropReason::$reason => self.$field.hit(bytes),)*
                    DropReason::Syndrome(s) => self.syndrome_mut(s).hit(bytes),
                }
            }

            /// The counter a drop for `reason` is counted in: each reason
            /// has its own.
            pub fn dropped(&self, reason: DropReason) -> Counter {
                match reason {
                    $(DropReason::$reason => self.$field,)*
                    DropReason::Syndrome(s) => self.syndrome(s),
                }
            }

            /// Packets dropped, over every reason.
            pub fn dropped_total(&self) -> u64 {
                let syn: u64 = self.syndrome_stats.iter().map(|c| c.packets).sum();
                syn $(+ self.$field.packets)*
            }
        }
    };
}

drop_counters! {
    RootDefault => root_default_drop,
    Malformed => malformed,
    Truncated => truncated,
    Oversized => oversized,
    NotPsp => ingress_decrypt_miss,
    VcMismatch => vc_mismatch,
    ModeMismatch => ingress_mode_mismatch,
    AclUnknownSpi => ingress_acl_unknown_spi,
    AclWrongSource => ingress_acl_wrong_source,
    EncapFailed => egress_encap_fail,
    EncapOversized => egress_oversized,
    IvExhausted => egress_iv_exhausted,
}

/// One `--stat-print` line: a counter's name, packets and bytes (the
/// gateway prints the software pipeline's and the NIC's counters alike).
pub fn stat_line(name: &str, c: Counter) -> String {
    format!("  {name:<32} {:>12} {:>16}", c.packets, c.bytes)
}

/// The `--stat-print` lines of every counter that is not zero, in
/// [`PipeStats::for_each`] order.
pub fn stat_lines(p: &PipeStats) -> Vec<String> {
    let mut v = Vec::new();
    p.for_each(|name, c| {
        if c.packets > 0 {
            v.push(stat_line(name, c));
        }
    });
    v
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

    /// Counting a drop for a reason moves exactly the counter `dropped`
    /// reads for it, the one printed under its `counter_name`, and no
    /// other.
    #[test]
    fn count_drop_increments_exactly_the_counter_dropped_reads() {
        let mut n = 0;
        for r in DropReason::all() {
            n += 1;
            let mut s = PipeStats::default();
            s.count_drop(r, 100);
            assert_eq!(s.dropped(r), Counter { packets: 1, bytes: 100 }, "{r:?}");
            assert_eq!(s.dropped_total(), 1, "{r:?}");
            let mut moved = Vec::new();
            s.for_each(|name, c| {
                if c != Counter::default() {
                    moved.push(name);
                }
            });
            assert_eq!(moved, [r.counter_name()], "{r:?}");
            for other in DropReason::all().filter(|&o| o != r) {
                assert_eq!(s.dropped(other), Counter::default(), "{r:?} moved {other:?}");
            }
        }
        assert!(n > Syndrome::ALL.len(), "{n} reasons");
    }

    #[test]
    fn every_drop_reason_has_a_counter_of_its_own() {
        // Number every counter by its position, then look each reason up
        // both ways: by `dropped` and by its printed name.
        let mut s = PipeStats::default();
        let mut n = 0;
        s.for_each_mut(|_, c| {
            n += 1;
            c.packets = n;
        });
        assert!(n <= 48, "PipeStats::add copies through 48 rows, there are {n} counters");
        let mut by_name = std::collections::HashMap::new();
        s.for_each(|name, c| assert!(by_name.insert(name, c.packets).is_none(), "{name} twice"));
        let mut reasons = vec![
            DropReason::RootDefault,
            DropReason::Malformed,
            DropReason::Truncated,
            DropReason::Oversized,
            DropReason::NotPsp,
            DropReason::VcMismatch,
            DropReason::ModeMismatch,
            DropReason::AclUnknownSpi,
            DropReason::AclWrongSource,
            DropReason::EncapFailed,
            DropReason::EncapOversized,
            DropReason::IvExhausted,
        ];
        reasons.extend(Syndrome::ALL.map(DropReason::Syndrome));
        // `DropReason::all` lists each of them once.
        let all: Vec<DropReason> = DropReason::all().collect();
        let listed: std::collections::HashSet<DropReason> = all.iter().copied().collect();
        assert_eq!(listed.len(), all.len(), "{all:?}");
        assert_eq!(listed, reasons.iter().copied().collect(), "DropReason::all() misses some");
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for r in reasons {
            let name = r.counter_name();
            assert!(seen.insert(name), "{r:?} shares {name}");
            assert_eq!(by_name.get(name), Some(&s.dropped(r).packets), "{r:?}");
            total += s.dropped(r).packets;
        }
        assert_eq!(s.dropped_total(), total);
        for name in ["truncated", "oversized", "egress_oversized", "vc_mismatch"] {
            assert!(by_name.contains_key(name), "{name}");
        }
    }
}
