//! `--stat-print` in DOCA mode: the NIC's counters (each entry's, read with
//! `doca_flow_resource_query_entry`, and each pipe's miss counter, read
//! with `doca_flow_resource_query_pipe_miss`, as NVIDIA's
//! `show_static_flow_counts` and `show_session_flow_count` read them)
//! summed by the software counter each entry feeds ([`DocaEntry::counter`])
//! into a [`PipeStats`], so they print in the software path's format
//! ([`stat_lines`]). Counters the software pipeline has no field for (the
//! NIC-only entries, the pipes' misses without a software twin) follow
//! under their own names. Sans-IO: [`CounterSource`] is the backend's FFI,
//! or a fake in the tests.

use super::backend::DocaError;
use super::translate::{EntryKey, PipeId};
use crate::pipeline::stats::{stat_line, stat_lines, Counter, PipeStats};
use std::sync::{Arc, Mutex};

/// Where the NIC's counters are read.
pub trait CounterSource {
    /// The counter of one entry.
    fn entry(&self, key: EntryKey) -> Result<Counter, DocaError>;
    /// The miss counter of one pipe.
    fn pipe_miss(&self, pipe: PipeId) -> Result<Counter, DocaError>;
}

/// The software counter a pipe's misses feed, if it has one.
pub fn miss_counter_name(pipe: PipeId) -> &'static str {
    match pipe {
        PipeId::EgressAcl => "egress_acl_miss",
        PipeId::IngressDecrypt => "ingress_decrypt_match_miss",
        PipeId::Decrypt => "ingress_decrypt_miss",
        PipeId::Decap => "decap_miss",
        PipeId::EncapEncrypt => "encap_encrypt_miss",
        PipeId::Rss => "rss_miss",
        PipeId::IngressRoot => "ingress_root_miss",
        PipeId::IngressMiss => "ingress_miss_miss",
        PipeId::SyndromeStats => "syndrome_stats_miss",
        PipeId::IngressAcl => "ingress_acl_miss",
        PipeId::IngressAclIpv6 => "ingress_acl_ipv6_miss",
        PipeId::IngressSrcIp6 => "ingress_src_ip6_miss",
        PipeId::InnerIpClassifier => "inner_ip_classifier_miss",
        PipeId::IngressSampling => "ingress_sampling_miss",
        PipeId::Empty => "egress_root_miss",
        PipeId::EgressDstIp6 => "egress_dst_ip6_miss",
        PipeId::EgressAclIpv6 => "egress_acl_ipv6_miss",
        PipeId::EgressSampling => "egress_sampling_miss",
        PipeId::FwdToRss => "fwd_to_rss_miss",
        PipeId::IngressFloodIpv4 => "ingress_flood_ipv4_miss",
        PipeId::IngressFloodIpv6 => "ingress_flood_ipv6_miss",
        PipeId::EgressFlood => "egress_flood_miss",
    }
}

/// The NIC's counters at one time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicCounters {
    /// Summed into the software pipeline's counters.
    pub pipes: PipeStats,
    /// Counters with no software field, by name, in the order first seen.
    pub nic_only: Vec<(&'static str, Counter)>,
    /// Queries the NIC refused.
    pub failed: usize,
}

impl NicCounters {
    /// Reads every entry's counter (`entries`: each entry's key and the
    /// counter it feeds) and every pipe's miss counter (`misses`).
    pub fn collect<S: CounterSource + ?Sized>(
        src: &S,
        entries: impl IntoIterator<Item = (EntryKey, &'static str)>,
        misses: impl IntoIterator<Item = PipeId>,
    ) -> NicCounters {
        let mut n = NicCounters::default();
        // An empty name: an entry without a counter (ordered-list entries).
        for (key, name) in entries.into_iter().filter(|(_, n)| !n.is_empty()) {
            match src.entry(key) {
                Ok(c) => n.add(name, c),
                Err(_) => n.failed += 1,
            }
        }
        for pipe in misses {
            match src.pipe_miss(pipe) {
                Ok(c) => n.add(miss_counter_name(pipe), c),
                Err(_) => n.failed += 1,
            }
        }
        n
    }

    /// Adds `c` to the counter called `name`.
    pub fn add(&mut self, name: &'static str, c: Counter) {
        let mut found = false;
        self.pipes.for_each_mut(|n, into| {
            if n == name {
                into.add(&c);
                found = true;
            }
        });
        if found {
            return;
        }
        match self.nic_only.iter_mut().find(|(n, _)| *n == name) {
            Some((_, into)) => into.add(&c),
            None => self.nic_only.push((name, c)),
        }
    }

    /// The `--stat-print` lines: the software counters' lines, then the
    /// NIC-only ones (non-zero, in the same format), then the failures.
    pub fn lines(&self) -> Vec<String> {
        let mut v = stat_lines(&self.pipes);
        v.extend(
            self.nic_only.iter().filter(|(_, c)| c.packets > 0).map(|&(n, c)| stat_line(n, c)),
        );
        if self.failed > 0 {
            v.push(format!("  ({} NIC counter queries failed)", self.failed));
        }
        v
    }
}

/// The latest [`NicCounters`] the backend read, for the printer's thread.
#[derive(Debug, Clone, Default)]
pub struct NicCounterReader {
    latest: Arc<Mutex<Option<NicCounters>>>,
}

impl NicCounterReader {
    /// Publishes a reading.
    pub fn publish(&self, n: NicCounters) {
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
    }

    /// The latest reading, if there was one.
    pub fn latest(&self) -> Option<NicCounters> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psp::decap::Syndrome;
    use crate::psp::Spi;
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    /// Counters by entry and by pipe; `None` entries are refused.
    struct Fake {
        entries: HashMap<EntryKey, Option<Counter>>,
        misses: HashMap<PipeId, Counter>,
    }

    impl CounterSource for Fake {
        fn entry(&self, key: EntryKey) -> Result<Counter, DocaError> {
            self.entries.get(&key).copied().flatten().ok_or(DocaError::Entries(1))
        }
        fn pipe_miss(&self, pipe: PipeId) -> Result<Counter, DocaError> {
            self.misses.get(&pipe).copied().ok_or(DocaError::Entries(1))
        }
    }

    fn c(packets: u64, bytes: u64) -> Counter {
        Counter { packets, bytes }
    }

    #[test]
    fn nic_counters_sum_into_the_software_counters_and_print_alike() {
        let (t1, t2) = (
            EntryKey::Tunnel(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 1)),
            EntryKey::Tunnel(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 2)),
        );
        let acl = EntryKey::Acl(Spi(7), Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 9, 1));
        let ns = EntryKey::Static(PipeId::IngressRoot, 0);
        let icv = EntryKey::Syndrome(Syndrome::IcvFail);
        let gone = EntryKey::Tunnel(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 9));
        let fake = Fake {
            entries: HashMap::from([
                (t1, Some(c(10, 1000))),
                (t2, Some(c(5, 700))),
                (acl, Some(c(3, 300))),
                (ns, Some(c(2, 172))),
                (icv, Some(c(1, 90))),
                (gone, None),
            ]),
            misses: HashMap::from([
                (PipeId::EgressAcl, c(4, 256)),
                (PipeId::SyndromeStats, c(0, 0)),
            ]),
        };
        let n = NicCounters::collect(
            &fake,
            [
                (t1, "egress_acl"),
                (t2, "egress_acl"),
                (acl, "ingress_acl"),
                (ns, "vf_ns_to_rss"),
                (icv, "icv_fail"),
                (gone, "egress_acl"),
            ],
            [PipeId::EgressAcl, PipeId::SyndromeStats],
        );
        // The software counters, as a software core with the same traffic
        // would hold them.
        let mut want = PipeStats {
            egress_acl: c(15, 1700),
            egress_acl_miss: c(4, 256),
            ingress_acl: c(3, 300),
            ..Default::default()
        };
        *want.syndrome_mut(Syndrome::IcvFail) = c(1, 90);
        assert_eq!(n.pipes, want);
        assert_eq!(n.nic_only, [("vf_ns_to_rss", c(2, 172)), ("syndrome_stats_miss", c(0, 0))]);
        assert_eq!(n.failed, 1);
        // Printed in the software path's format: its lines first, then
        // the NIC-only non-zero ones alike, then the failures.
        let mut lines = stat_lines(&want);
        lines.push(stat_line("vf_ns_to_rss", c(2, 172)));
        lines.push("  (1 NIC counter queries failed)".into());
        assert_eq!(n.lines(), lines);
        assert_eq!(
            n.lines()[0],
            format!("  {:<32} {:>12} {:>16}", "egress_acl", 15, 1700),
            "the --stat-print line of the software path"
        );
    }

    #[test]
    fn the_reader_sees_the_latest_reading() {
        let r = NicCounterReader::default();
        assert_eq!(r.latest(), None);
        let mut n = NicCounters::default();
        n.add("egress_acl", c(1, 2));
        r.clone().publish(n.clone());
        assert_eq!(r.latest(), Some(n));
    }

    #[test]
    fn every_pipe_miss_has_a_distinct_name() {
        let all = [
            PipeId::Rss,
            PipeId::IngressRoot,
            PipeId::IngressMiss,
            PipeId::IngressDecrypt,
            PipeId::Decrypt,
            PipeId::Decap,
            PipeId::EncapEncrypt,
            PipeId::IngressSampling,
            PipeId::IngressAcl,
            PipeId::InnerIpClassifier,
            PipeId::IngressSrcIp6,
            PipeId::IngressAclIpv6,
            PipeId::SyndromeStats,
            PipeId::Empty,
            PipeId::EgressDstIp6,
            PipeId::EgressAclIpv6,
            PipeId::EgressAcl,
            PipeId::EgressSampling,
            PipeId::FwdToRss,
            PipeId::IngressFloodIpv4,
            PipeId::IngressFloodIpv6,
            PipeId::EgressFlood,
        ];
        let names: std::collections::HashSet<_> =
            all.iter().map(|&p| miss_counter_name(p)).collect();
        assert_eq!(names.len(), all.len());
    }
}
