//! `--perf-print`: latency of key generation, flow insertion and the whole
//! on-demand path (miss to first packet out), as count, mean, p50, p99 and
//! max. Samples are kept in a bounded buffer (the newest overwrite the
//! oldest) so a long run does not grow memory. Every sample is also
//! counted in fixed buckets, the histograms of the metrics endpoint.
//!
//! At exit `--perf-print` also splits each packet core's time per packet
//! into rx/tx bursts, pipeline and AES-GCM: rx/tx and the burst handler are
//! measured (one poll in [`engine::dpdk::TIME_ONE_POLL_IN`] is timed), the
//! AES-GCM part is estimated from the startup check
//! ([`engine::aead_check`]) at the mean frame size the core encrypted and
//! decrypted, and the pipeline is the handler's time less that estimate.

use engine::aead_check::Measurement;
use engine::cores::{GatewayCore, Packets};
use engine::dpdk::CoreStats;
use engine::psp::aead::{self, CLASS_SIZES};
use engine::psp::Version;
use std::sync::Mutex;
use std::time::Duration;

/// Samples kept per metric.
const MAX_SAMPLES: usize = 100_000;

/// One latency metric.
#[derive(Debug, Default)]
pub struct Latency {
    inner: Mutex<Samples>,
}

#[derive(Debug, Default)]
struct Samples {
    ns: Vec<u64>,
    next: usize,
    count: u64,
    sum_ns: u128,
    /// Samples at most [`BUCKETS_NS`]`[i]` (not cumulative).
    buckets: [u64; BUCKETS_NS.len()],
}

/// Histogram bucket bounds, 10 us to 2.5 s: key generation and insertion
/// take microseconds, a miss to its first packet milliseconds, a request
/// that is retried seconds.
pub const BUCKETS_NS: [u64; 17] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
];

/// A latency histogram: cumulative counts per bucket bound of
/// [`BUCKETS_NS`], the number of samples and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// Samples at most each bound (cumulative).
    pub cumulative: [u64; BUCKETS_NS.len()],
    /// All samples.
    pub count: u64,
    /// Their sum, in nanoseconds.
    pub sum_ns: u128,
}

impl Latency {
    /// Records one sample.
    pub fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.count += 1;
        s.sum_ns += u128::from(ns);
        if let Some(i) = BUCKETS_NS.iter().position(|&b| ns <= b) {
            s.buckets[i] += 1;
        }
        if s.ns.len() < MAX_SAMPLES {
            s.ns.push(ns);
        } else {
            let i = s.next;
            s.ns[i] = ns;
            s.next = (i + 1) % MAX_SAMPLES;
        }
    }

    /// Every sample so far, by bucket.
    pub fn histogram(&self) -> Histogram {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut cumulative = [0; BUCKETS_NS.len()];
        let mut total = 0;
        for (c, n) in cumulative.iter_mut().zip(s.buckets) {
            total += n;
            *c = total;
        }
        Histogram { cumulative, count: s.count, sum_ns: s.sum_ns }
    }

    /// Count (all samples), mean, p50, p99 and max (over the kept samples),
    /// or `None` before the first sample.
    pub fn stats(&self) -> Option<LatencyStats> {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.ns.is_empty() {
            return None;
        }
        let mut v = s.ns.clone();
        v.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Some(LatencyStats {
            count: s.count,
            mean_us: v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1000.0,
            p50_us: us(pct(0.5)),
            p99_us: us(pct(0.99)),
            max_us: us(*v.last().unwrap_or(&0)),
        })
    }

    /// `count N, mean X us, p50 Y us, p99 Z us, max W us`, or `no samples`.
    pub fn summary(&self) -> String {
        match self.stats() {
            None => "no samples".into(),
            Some(s) => format!(
                "count {}, mean {:.1} us, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
                s.count, s.mean_us, s.p50_us, s.p99_us, s.max_us
            ),
        }
    }
}

/// One latency metric's figures, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyStats {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

/// The metrics `--perf-print` reports.
#[derive(Debug, Default)]
pub struct PerfMetrics {
    /// Obtaining an SPI and key for the way back of a tunnel we request,
    /// with its ingress ACL entry visible on every core (the key is taken
    /// from the pre-generated pool; the ACL insertion is most of it).
    pub key_gen: Latency,
    /// A table change, from request to visible on every packet core.
    pub insertion: Latency,
    /// First missed packet to a destination until its held packets are
    /// resubmitted through the new tunnel.
    pub miss_to_first_packet: Latency,
}

/// One packet core's time per packet, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// In `rx_burst` and `tx_burst` (measured).
    pub rxtx_ns: f64,
    /// In the burst handler less the AES-GCM estimate.
    pub pipeline_ns: f64,
    /// AES-GCM (estimated from the startup check).
    pub aead_ns: f64,
}

/// The split of `packets` timed packets that spent `rxtx_ns` in bursts and
/// `handler_ns` in the handler, of which AES-GCM is estimated at
/// `aead_ns` per packet (the pipeline never below 0). None without packets.
pub fn split(packets: u64, rxtx_ns: u64, handler_ns: u64, aead_ns: f64) -> Option<Split> {
    if packets == 0 {
        return None;
    }
    let n = packets as f64;
    let handler = handler_ns as f64 / n;
    let aead_ns = aead_ns.min(handler);
    Some(Split { rxtx_ns: rxtx_ns as f64 / n, pipeline_ns: handler - aead_ns, aead_ns })
}

/// ns of one AES-GCM operation on `size` bytes, linear between the startup
/// check's sizes ([`CLASS_SIZES`], `ns[i]` at `CLASS_SIZES[i]`), the last
/// slope beyond them, the first size's figure below it.
pub fn aead_ns_at(ns: [f64; 3], size: f64) -> f64 {
    let x = CLASS_SIZES.map(|s| s as f64);
    if size <= x[0] {
        return ns[0];
    }
    let i = if size <= x[1] { 0 } else { 1 };
    ns[i] + (ns[i + 1] - ns[i]) * (size - x[i]) / (x[i + 1] - x[i])
}

/// AES-GCM ns per packet for `packets` of mean `mean_size` bytes, sealed
/// (`open` false) or opened, by the implementation the policy picks there.
fn aead_estimate(m: &Measurement, version: Version, open: bool, packets: u64, bytes: u64) -> f64 {
    if packets == 0 {
        return 0.0;
    }
    let key_len = version.key_len();
    let mean = bytes as f64 / packets as f64;
    let imp = aead::policy().get(open, key_len, mean as usize);
    let ns = [0, 1, 2].map(|c| m.ns(open, key_len, c, imp));
    packets as f64 * aead_ns_at(ns, mean)
}

/// One packet core's split per packet over its timed polls, the AES-GCM
/// part estimated from the startup check `measured` at the mean frame size
/// of what it sealed and opened. None before any timed packet.
pub fn core_split<P: Packets>(
    s: &CoreStats,
    h: &GatewayCore<'_, P>,
    measured: &Measurement,
    version: Version,
) -> Option<Split> {
    let p = h.pipeline().stats();
    let (seal, open) = (p.fwd_to_wire, p.fwd_to_unsecured);
    let total = seal.packets + open.packets;
    let aead = if total == 0 {
        0.0
    } else {
        (aead_estimate(measured, version, false, seal.packets, seal.bytes)
            + aead_estimate(measured, version, true, open.packets, open.bytes))
            / total as f64
    };
    split(s.timed.packets, s.timed.rxtx_ns, s.timed.handler_ns, aead)
}

/// `--perf-print` at exit: each packet core's split per packet.
pub fn print_core_split<P: Packets>(
    cores: &[CoreStats],
    handlers: &[GatewayCore<'_, P>],
    measured: &Measurement,
    version: Version,
) {
    for (s, h) in cores.iter().zip(handlers) {
        match core_split(s, h, measured, version) {
            Some(x) => println!(
                "perf core {}: per packet rx/tx {:.1} ns, pipeline {:.1} ns, AES-GCM {:.1} ns \
                 (rx/tx and pipeline+AES-GCM measured over {} packets of one poll in {}; \
                 AES-GCM estimated from the startup check at the mean frame size)",
                s.cpu,
                x.rxtx_ns,
                x.pipeline_ns,
                x.aead_ns,
                s.timed.packets,
                engine::dpdk::TIME_ONE_POLL_IN
            ),
            None => println!("perf core {}: no timed packets", s.cpu),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_per_packet() {
        assert_eq!(split(0, 10, 10, 1.0), None);
        // 100 packets, 2 us in bursts, 5 us handling of which AES-GCM 30 ns each.
        let s = split(100, 2_000, 5_000, 30.0).unwrap();
        assert_eq!(s, Split { rxtx_ns: 20.0, pipeline_ns: 20.0, aead_ns: 30.0 });
        // An estimate above what the handler took is capped at it.
        let s = split(10, 100, 200, 50.0).unwrap();
        assert_eq!(s, Split { rxtx_ns: 10.0, pipeline_ns: 0.0, aead_ns: 20.0 });
    }

    #[test]
    fn aead_interpolates_between_check_sizes() {
        let ns = [40.0, 120.0, 280.0];
        assert_eq!(aead_ns_at(ns, 32.0), 40.0);
        assert_eq!(aead_ns_at(ns, 64.0), 40.0);
        assert_eq!(aead_ns_at(ns, 288.0), 80.0);
        assert_eq!(aead_ns_at(ns, 512.0), 120.0);
        assert_eq!(aead_ns_at(ns, 956.0), 200.0);
        assert_eq!(aead_ns_at(ns, 1400.0), 280.0);
        // Beyond the last size, the last slope.
        assert_eq!(aead_ns_at(ns, 1844.0), 360.0);
    }

    #[test]
    fn percentiles() {
        let l = Latency::default();
        assert_eq!(l.summary(), "no samples");
        for us in 1..=100u64 {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(l.summary(), "count 100, mean 50.5 us, p50 51.0 us, p99 99.0 us, max 100.0 us");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let l = Latency::default();
        for us in [5, 10, 11, 600, 3_000_000] {
            l.record(Duration::from_micros(us));
        }
        let h = l.histogram();
        assert_eq!(h.count, 5);
        assert_eq!(h.sum_ns, (5 + 10 + 11 + 600 + 3_000_000) * 1000);
        // 5 and 10 us in the first (<= 10 us), 11 in the second, 600 us
        // under 1 ms; 3 s is past the last bound (only in the count).
        assert_eq!(h.cumulative[0], 2);
        assert_eq!(h.cumulative[1], 3);
        assert_eq!(h.cumulative[5], 3);
        assert_eq!(h.cumulative[6], 4);
        assert_eq!(h.cumulative[BUCKETS_NS.len() - 1], 4);
    }

    #[test]
    fn bounded() {
        let l = Latency::default();
        for i in 0..(MAX_SAMPLES as u64 + 10) {
            l.record(Duration::from_nanos(i));
        }
        let s = l.inner.lock().unwrap();
        assert_eq!((s.ns.len(), s.count), (MAX_SAMPLES, MAX_SAMPLES as u64 + 10));
    }
}
