//! Who may ask and what: the requester's address against the configured
//! and directory peers, and a `MultiTunnelRequest` validated completely
//! (versions, virtual addresses, duplicates, reverse parameters) before
//! anything is installed.

use super::{Gateway, PeerMap, TunnelBackend};
use crate::params::{parse_virt_ip, TunnelParams};
use crate::pb;
use engine::psp::Version;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use tonic::{Request, Status};

/// The virtual addresses one requester may use: its static ones and the
/// directory's.
pub(super) struct Allowed<'a> {
    ip: IpAddr,
    fixed: Option<&'a HashSet<IpAddr>>,
    directory: Arc<PeerMap>,
}

impl Allowed<'_> {
    fn contains(&self, src: &IpAddr) -> bool {
        self.fixed.is_some_and(|f| f.contains(src))
            || self.directory.get(&self.ip).is_some_and(|d| d.contains(src))
    }
}

/// One validated requested tunnel.
pub(super) struct Validated {
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) reverse: Option<TunnelParams>,
}

impl<B: TunnelBackend> Gateway<B> {
    pub(super) fn peer_allowed<T>(
        &self,
        req: &Request<T>,
    ) -> Result<(IpAddr, Allowed<'_>), Status> {
        let ip = req
            .remote_addr()
            .map(|a| a.ip().to_canonical())
            .ok_or_else(|| Status::permission_denied("requester address unknown"))?;
        let fixed = self.inner.config.peers.get(&ip);
        let directory =
            Arc::clone(&self.inner.directory_peers.read().unwrap_or_else(|e| e.into_inner()));
        if fixed.is_none() && !directory.contains_key(&ip) {
            return Err(Status::permission_denied(format!("{ip} is not a configured peer")));
        }
        Ok((ip, Allowed { ip, fixed, directory }))
    }

    pub(super) fn validate(
        &self,
        allowed: &Allowed<'_>,
        req: &pb::MultiTunnelRequest,
    ) -> Result<(Version, Vec<Validated>), Status> {
        let cfg = &self.inner.config;
        if req.tunnels.is_empty() {
            return Err(Status::invalid_argument("no tunnels requested"));
        }
        if req.tunnels.len() > cfg.max_tunnels_per_request {
            return Err(Status::invalid_argument(format!(
                "{} tunnels requested, at most {} per request",
                req.tunnels.len(),
                cfg.max_tunnels_per_request
            )));
        }
        let version = req
            .psp_versions_accepted
            .iter()
            .filter_map(|&v| u8::try_from(v).ok().and_then(Version::from_wire))
            .find(|v| cfg.versions.contains(v))
            .ok_or_else(|| {
                // At most a few of the offered versions: the message is
                // an HTTP/2 header, the list the peer's to make long.
                let offered = &req.psp_versions_accepted;
                let more = match offered.len() {
                    n if n > 8 => format!(" ... ({n} in all)"),
                    _ => String::new(),
                };
                Status::failed_precondition(format!(
                    "no acceptable PSP version in {:?}{more}; this gateway allows {:?}",
                    &offered[..offered.len().min(8)],
                    cfg.versions.iter().map(|v| v.wire()).collect::<Vec<_>>()
                ))
            })?;
        let mut seen = HashSet::with_capacity(req.tunnels.len());
        let mut out = Vec::with_capacity(req.tunnels.len());
        for (i, t) in req.tunnels.iter().enumerate() {
            let bad =
                |e: crate::params::ParamError| Status::invalid_argument(format!("tunnel {i}: {e}"));
            let src = parse_virt_ip(&t.virt_src_ip, t.inner_type).map_err(bad)?;
            let dst = parse_virt_ip(&t.virt_dst_ip, t.inner_type).map_err(bad)?;
            if src.is_ipv6() != dst.is_ipv6() {
                return Err(Status::invalid_argument(format!(
                    "tunnel {i}: virtual addresses {src} and {dst} are of two IP versions"
                )));
            }
            if !cfg.local_virt_ips.contains(&dst) {
                return Err(Status::not_found(format!("tunnel {i}: {dst} is not served here")));
            }
            if !allowed.contains(&src) {
                return Err(Status::permission_denied(format!(
                    "tunnel {i}: requester may not use virtual address {src}"
                )));
            }
            if !seen.insert((src, dst)) {
                return Err(Status::invalid_argument(format!(
                    "tunnel {i}: ({src}, {dst}) requested twice"
                )));
            }
            let reverse = match &t.reverse_params {
                None => None,
                Some(p) => {
                    let p = TunnelParams::from_wire(p).map_err(|e| {
                        Status::invalid_argument(format!("tunnel {i}: reverse_params: {e}"))
                    })?;
                    if !cfg.versions.contains(&p.version) {
                        return Err(Status::invalid_argument(format!(
                            "tunnel {i}: reverse_params: PSP version {} not allowed here",
                            p.version.wire()
                        )));
                    }
                    Some(p)
                }
            };
            out.push(Validated { src, dst, reverse });
        }
        Ok((version, out))
    }
}
