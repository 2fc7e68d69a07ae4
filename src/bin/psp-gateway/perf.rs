//! `--perf-print`: latency of key generation, flow insertion and the whole
//! on-demand path (miss to first packet out), as count, mean, p50, p99 and
//! max. Samples are kept in a bounded buffer (the newest overwrite the
//! oldest) so a long run does not grow memory. Every sample is also
//! counted in fixed buckets, the histograms of the metrics endpoint.

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

    /// `count N, mean X us, p50 Y us, p99 Z us, max W us` (over the kept
    /// samples), or `no samples`.
    pub fn summary(&self) -> String {
        let s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if s.ns.is_empty() {
            return "no samples".into();
        }
        let mut v = s.ns.clone();
        v.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1000.0;
        format!(
            "count {}, mean {mean:.1} us, p50 {:.1} us, p99 {:.1} us, max {:.1} us",
            s.count,
            us(pct(0.5)),
            us(pct(0.99)),
            us(*v.last().unwrap_or(&0))
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
