//! Building egress tunnels (encap data and key) from issued parameters,
//! and the completions registry through which the gRPC side waits for the
//! flow programmer.

use engine::flows::FlowError;
use engine::pipeline::OuterVersion;
use engine::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use engine::psp::Mode;
use engine::wire::MacAddr;
use rpc::params::TunnelParams;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What every tunnel of this gateway shares: our side of the outer headers.
#[derive(Debug, Clone, Copy)]
pub struct TunnelFactory {
    /// The uplink's MAC (outer source).
    pub uplink_mac: MacAddr,
    /// The next hop's MAC (`-n`; broadcast when not given).
    pub nexthop_mac: MacAddr,
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

impl TunnelFactory {
    /// The sending half of a tunnel to the peer that issued `p`.
    pub fn build(&self, p: &TunnelParams) -> Result<Encapsulator, String> {
        let outer = match (self.outer, self.uplink_ip, p.ip) {
            (OuterVersion::Ipv6, IpAddr::V6(src), IpAddr::V6(dst)) => OuterIp::V6 { src, dst },
            (OuterVersion::Ipv4, IpAddr::V4(src), IpAddr::V4(dst)) => OuterIp::V4 { src, dst },
            (_, src, dst) => {
                return Err(format!(
                    "outer addresses {src} -> {dst} do not fit --outer-ip-type {:?}",
                    self.outer
                ))
            }
        };
        let cfg = EncapConfig {
            mode: self.mode,
            version: p.version,
            spi: p.spi,
            crypt_offset: self.crypt_offset,
            vc: p.virt_cookie,
            eth: Some(EthAddrs { src: self.uplink_mac, dst: self.nexthop_mac }),
            outer,
            ttl: 64,
        };
        Encapsulator::new(cfg, &p.key).map_err(|e| e.to_string())
    }
}

/// Results of flow batches, by id, for threads that wait on them.
#[derive(Debug, Default)]
pub struct Completions {
    done: Mutex<HashMap<u64, Result<u64, FlowError>>>,
    cv: Condvar,
}

impl Completions {
    /// Records the result of batch `id` and wakes its waiter.
    pub fn complete(&self, id: u64, result: Result<u64, FlowError>) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.insert(id, result);
        self.cv.notify_all();
    }

    /// Waits up to `timeout` for batch `id`.
    pub fn wait(&self, id: u64, timeout: Duration) -> Option<Result<u64, FlowError>> {
        let deadline = std::time::Instant::now() + timeout;
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = done.remove(&id) {
                return Some(r);
            }
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            done = self.cv.wait_timeout(done, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
