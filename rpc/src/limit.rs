//! Per-peer rate limiting of the key-exchange service: a token bucket per
//! requesting address, refilled at `rate` tokens a second up to `rate`
//! (one second of burst). A request costs one token per tunnel, and at
//! least one, so a flood of small or invalid requests is limited as well
//! as a flood of tunnels; one peer cannot exhaust key generation or the
//! tunnel table for the others. Sans-IO: the caller passes the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A refused request: when the peer may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit of {rate} tunnels/s for this peer; retry in {retry_in:?}")]
pub struct Limited {
    /// The configured rate.
    pub rate: u32,
    /// How long until the request would be admitted.
    pub retry_in: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// May go negative: a request larger than the burst is admitted on a
    /// full bucket and leaves a debt, so it is served at the average rate.
    tokens: f64,
    at: Instant,
}

/// Token buckets by peer address.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: u32,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// `rate` tokens a second per peer (at least 1).
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter { rate: rate.max(1), buckets: HashMap::new() }
    }

    /// Takes `cost` tokens (at least one) from `peer`'s bucket at `now`, or
    /// says how long to wait. A refused request takes nothing.
    pub fn admit(&mut self, peer: IpAddr, cost: usize, now: Instant) -> Result<(), Limited> {
        let rate = f64::from(self.rate);
        let cost = (cost.max(1) as f64).min(f64::from(u32::MAX));
        let b = self.buckets.entry(peer).or_insert(Bucket { tokens: rate, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.at = now.max(b.at);
        // Larger than the burst: needs a full bucket.
        let need = cost.min(rate);
        if b.tokens + 1e-9 >= need {
            b.tokens -= cost;
            return Ok(());
        }
        let retry_in = Duration::from_secs_f64(((need - b.tokens) / rate).max(0.0));
        Err(Limited { rate: self.rate, retry_in })
    }

    /// Peers with a bucket (bounded by the configured peers: the service
    /// checks the peer before the limit).
    pub fn peers(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(100);
        // One second of burst.
        for _ in 0..10 {
            l.admit(ip(1), 10, t0).unwrap();
        }
        let e = l.admit(ip(1), 1, t0).unwrap_err();
        assert_eq!(e.rate, 100);
        assert!(e.retry_in > Duration::ZERO && e.retry_in <= Duration::from_millis(10), "{e:?}");
        // Refused requests take nothing: 10 ms later one token is there.
        l.admit(ip(1), 1, t0 + Duration::from_millis(10)).unwrap();
        l.admit(ip(1), 1, t0 + Duration::from_millis(10)).unwrap_err();
        // Half a second refills half the bucket, never more than the burst.
        l.admit(ip(1), 50, t0 + Duration::from_millis(510)).unwrap();
        l.admit(ip(1), 1, t0 + Duration::from_millis(510)).unwrap_err();
        l.admit(ip(1), 100, t0 + Duration::from_secs(100)).unwrap();
        l.admit(ip(1), 1, t0 + Duration::from_secs(100)).unwrap_err();
    }

    #[test]
    fn peers_are_independent() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(5);
        l.admit(ip(1), 5, t0).unwrap();
        l.admit(ip(1), 1, t0).unwrap_err();
        l.admit(ip(2), 5, t0).unwrap();
        assert_eq!(l.peers(), 2);
    }

    #[test]
    fn zero_cost_counts_as_one_and_large_requests_leave_a_debt() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(10);
        for _ in 0..10 {
            l.admit(ip(1), 0, t0).unwrap();
        }
        l.admit(ip(1), 0, t0).unwrap_err();
        // 30 tunnels at 10/s: admitted on a full bucket, then 3 s of debt.
        let t1 = t0 + Duration::from_secs(1);
        l.admit(ip(1), 30, t1).unwrap();
        let e = l.admit(ip(1), 1, t1 + Duration::from_millis(1500)).unwrap_err();
        // 5 tokens of debt left: 0.6 s until one token is there.
        assert!(e.retry_in.as_millis().abs_diff(600) <= 1, "{e:?}");
        l.admit(ip(1), 1, t1 + Duration::from_millis(3100)).unwrap();
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut l = RateLimiter::new(2);
        l.admit(ip(1), 2, t0).unwrap();
        l.admit(ip(1), 1, t0 - Duration::from_secs(3)).unwrap_err();
    }
}
