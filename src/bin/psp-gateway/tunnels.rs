//! Building egress tunnels (encap data and key) from issued parameters,
//! and the completions registry through which the gRPC side waits for the
//! flow programmer.

use engine::flows::FlowError;
use engine::pipeline::OuterVersion;
use engine::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use engine::psp::Mode;
use engine::wire::MacAddr;
use rpc::params::TunnelParams;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What every tunnel of this gateway shares: our side of the outer headers.
#[derive(Debug, Clone, Copy)]
pub struct TunnelFactory {
    /// The uplink's MAC (outer source).
    pub uplink_mac: MacAddr,
    /// The next hop's MAC (`-n`). Without it, the uplink MAC the peer
    /// sent with its parameters (peers on one L2 segment, as a fleet on a
    /// switch), else broadcast.
    pub nexthop_mac: Option<MacAddr>,
    /// The uplink's IP address (outer source).
    pub uplink_ip: IpAddr,
    /// `-o/--crypt-offset`.
    pub crypt_offset: u8,
    /// `--outer-ip-type`.
    pub outer: OuterVersion,
    /// `--mode`: in transport mode the outer addresses are not written
    /// (the VM's IP header stays outermost).
    pub mode: Mode,
}

/// Why a tunnel could not be built from a peer's parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    /// Our uplink address and the peer's are not both of `--outer-ip-type`.
    #[error("outer addresses {src} -> {dst} do not fit --outer-ip-type {outer:?}")]
    OuterMismatch {
        /// Our uplink address.
        src: IpAddr,
        /// The peer's address.
        dst: IpAddr,
        /// `--outer-ip-type`.
        outer: OuterVersion,
    },
    /// The encapsulator refused the parameters (key, crypt offset).
    #[error(transparent)]
    Encap(#[from] engine::psp::encap::Error),
}

impl TunnelFactory {
    /// The sending half of a tunnel to the peer that issued `p`.
    pub fn build(&self, p: &TunnelParams) -> Result<Encapsulator, TunnelError> {
        let outer = match (self.outer, self.uplink_ip, p.ip) {
            (OuterVersion::Ipv6, IpAddr::V6(src), IpAddr::V6(dst)) => OuterIp::V6 { src, dst },
            (OuterVersion::Ipv4, IpAddr::V4(src), IpAddr::V4(dst)) => OuterIp::V4 { src, dst },
            (outer, src, dst) => return Err(TunnelError::OuterMismatch { src, dst, outer }),
        };
        let cfg = EncapConfig {
            mode: self.mode,
            version: p.version,
            spi: p.spi,
            crypt_offset: self.crypt_offset,
            vc: p.virt_cookie,
            eth: Some(EthAddrs {
                src: self.uplink_mac,
                dst: self.nexthop_mac.or(p.mac).unwrap_or(MacAddr([0xff; 6])),
            }),
            outer,
            ttl: 64,
        };
        Ok(Encapsulator::new(cfg, &p.key)?)
    }
}

/// Results of flow batches, by id, for threads that wait on them.
#[derive(Debug, Default)]
pub struct Completions {
    state: Mutex<Waits>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct Waits {
    done: HashMap<u64, Result<u64, FlowError>>,
    /// Batches whose waiter gave up: their result is dropped on arrival
    /// (kept, it would stay in `done` forever).
    abandoned: HashSet<u64>,
}

impl Completions {
    /// Records the result of batch `id` and wakes its waiter.
    pub fn complete(&self, id: u64, result: Result<u64, FlowError>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.abandoned.remove(&id) {
            return;
        }
        s.done.insert(id, result);
        self.cv.notify_all();
    }

    /// Waits up to `timeout` for batch `id`; after a timeout its result is
    /// not kept.
    pub fn wait(&self, id: u64, timeout: Duration) -> Option<Result<u64, FlowError>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = s.done.remove(&id) {
                return Some(r);
            }
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                s.abandoned.insert(id);
                return None;
            };
            s = self.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Results and abandoned ids held (both bounded by the waits in flight).
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.done.len(), s.abandoned.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_after_its_waiter_gave_up_is_not_kept() {
        let c = Completions::default();
        assert!(c.wait(7, Duration::from_millis(1)).is_none());
        c.complete(7, Ok(1));
        assert_eq!(c.held(), (0, 0), "the late result stayed");
        // A waiter that is in time gets its result, and nothing stays.
        c.complete(8, Ok(2));
        assert!(matches!(c.wait(8, Duration::from_millis(1)), Some(Ok(2))));
        assert_eq!(c.held(), (0, 0));
    }
}
