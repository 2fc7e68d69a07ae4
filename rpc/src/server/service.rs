//! The tonic services: `PSP_Gateway` (tunnel parameters, installed all or
//! nothing; key rotation) and `psp_gateway_ext.Session/Hello`, with every
//! call's outcome counted.

use super::validate::{Allowed, Validated};
use super::{lock, record, BackendError, EgressTunnel, Gateway, Install, TunnelBackend};
use crate::counters::Method;
use crate::pb;
use crate::pb_ext;
use engine::psp::keygen::SpiKey;
use engine::psp::Spi;
use std::net::IpAddr;
use tonic::{Request, Response, Status};

impl<B: TunnelBackend> Gateway<B> {
    /// Installs everything or nothing.
    fn install(&self, tunnels: &[Validated], keys: &[SpiKey]) -> Result<(), BackendError> {
        let items: Vec<Install> = tunnels
            .iter()
            .zip(keys)
            .map(|(t, k)| Install {
                spi: k.spi,
                peer_virt_ip: t.src,
                local_virt_ip: t.dst,
                egress: t.reverse.as_ref().map(|p| EgressTunnel {
                    local_virt_ip: t.dst,
                    peer_virt_ip: t.src,
                    params: p.clone(),
                }),
            })
            .collect();
        self.inner.backend.install_all(&items)
    }

    fn handle_tunnels(
        &self,
        allowed: &Allowed<'_>,
        req: &pb::MultiTunnelRequest,
    ) -> Result<Vec<pb::TunnelParameters>, Status> {
        let (version, tunnels) = self.validate(allowed, req)?;
        let cfg = &self.inner.config;
        let mut issued = lock(&self.inner.install);
        let have = self.inner.backend.tunnel_count();
        if have.saturating_add(tunnels.len()) > cfg.max_tunnels {
            return Err(Status::resource_exhausted(format!(
                "{} tunnels requested, {} of {} in use",
                tunnels.len(),
                have,
                cfg.max_tunnels
            )));
        }
        let keys = self
            .inner
            .pool
            .take(version, tunnels.len())
            .map_err(|e| Status::resource_exhausted(e.to_string()))?;
        self.install(&tunnels, &keys).map_err(|e| match e {
            BackendError::Full => Status::resource_exhausted(e.to_string()),
            BackendError::Failed(_) => Status::internal(e.to_string()),
        })?;
        let retired: Vec<(Spi, IpAddr, IpAddr)> = tunnels
            .iter()
            .zip(&keys)
            .filter_map(|(t, k)| record(&mut issued, (t.src, t.dst), k.spi))
            .collect();
        if !retired.is_empty() {
            self.inner.backend.remove_ingress_acls(&retired);
        }
        drop(issued);
        let mac = cfg.local_mac.map(|m| m.to_string()).unwrap_or_default();
        let ip = cfg.local_ip.to_string();
        Ok(keys
            .iter()
            .map(|k| pb::TunnelParameters {
                mac_addr: mac.clone(),
                ip_addr: ip.clone(),
                psp_version: u32::from(version.wire()),
                spi: k.spi.0,
                encryption_key: k.key.as_bytes().to_vec(),
                virt_cookie: cfg.virt_cookie.unwrap_or(0),
                encap_type: 0,
            })
            .collect())
    }
}

// The handlers; the trait impls below count their outcomes.
impl<B: TunnelBackend> Gateway<B> {
    async fn serve_request_tunnels(
        &self,
        request: Request<pb::MultiTunnelRequest>,
    ) -> Result<Response<pb::MultiTunnelResponse>, Status> {
        let (peer, allowed) = self.peer_allowed(&request)?;
        let mut req = request.into_inner();
        let result = match self.admit(peer, req.tunnels.len()) {
            // Installing waits for the datapath: off the async worker.
            Ok(()) => tokio::task::block_in_place(|| self.handle_tunnels(&allowed, &req)),
            Err(s) => Err(s),
        };
        for t in req.tunnels.iter_mut() {
            if let Some(p) = t.reverse_params.as_mut() {
                p.wipe_key();
            }
        }
        match result {
            Ok(tunnels_params) => {
                tracing::info!(
                    %peer,
                    request_id = req.request_id,
                    tunnels = tunnels_params.len(),
                    "tunnel parameters issued"
                );
                Ok(Response::new(pb::MultiTunnelResponse {
                    request_id: req.request_id,
                    tunnels_params,
                }))
            }
            Err(status) => {
                tracing::warn!(%peer, request_id = req.request_id, code = ?status.code(), msg = status.message(), "tunnel request refused");
                Err(status)
            }
        }
    }

    async fn serve_key_rotation(
        &self,
        request: Request<pb::KeyRotationRequest>,
    ) -> Result<Response<pb::KeyRotationResponse>, Status> {
        let (peer, _) = self.peer_allowed(&request)?;
        self.admit(peer, 1)?;
        let req = request.into_inner();
        // As DOCA's gateway: the request rotates the master key whatever
        // `issue_new_keys` says. We issue no keys with the answer (the
        // response has no field for them); peers learn of the new key
        // epoch through Session/Hello, or ask again when theirs break.
        let gap = self.inner.config.min_peer_rotation_gap;
        let last = *lock(&self.inner.last_rotation);
        if let Some(ago) = last.map(|t| t.elapsed()).filter(|ago| *ago < gap) {
            tracing::warn!(%peer, request_id = req.request_id, "key rotation refused: too soon");
            return Err(Status::resource_exhausted(format!(
                "master key rotated {ago:.1?} ago; at most one rotation per {gap:?}"
            )));
        }
        tokio::task::block_in_place(|| self.rotate_locked());
        self.inner.pool.refill().await;
        tracing::info!(%peer, request_id = req.request_id, issue_new_keys = req.issue_new_keys,
            "master key rotated");
        Ok(Response::new(pb::KeyRotationResponse { request_id: req.request_id }))
    }

    async fn serve_hello(
        &self,
        request: Request<pb_ext::HelloRequest>,
    ) -> Result<Response<pb_ext::HelloResponse>, Status> {
        let (peer, _) = self.peer_allowed(&request)?;
        self.admit(peer, 1)?;
        Ok(Response::new(pb_ext::HelloResponse {
            request_id: request.into_inner().request_id,
            instance_id: self.inner.instance_id,
            key_epoch: self.key_epoch(),
        }))
    }
}

#[tonic::async_trait]
impl<B: TunnelBackend> pb::psp_gateway_server::PspGateway for Gateway<B> {
    async fn request_multiple_tunnel_params(
        &self,
        request: Request<pb::MultiTunnelRequest>,
    ) -> Result<Response<pb::MultiTunnelResponse>, Status> {
        let r = self.serve_request_tunnels(request).await;
        self.inner.counters.outcome(Method::RequestTunnels, &r);
        r
    }

    async fn request_key_rotation(
        &self,
        request: Request<pb::KeyRotationRequest>,
    ) -> Result<Response<pb::KeyRotationResponse>, Status> {
        let r = self.serve_key_rotation(request).await;
        self.inner.counters.outcome(Method::KeyRotation, &r);
        r
    }
}

#[tonic::async_trait]
impl<B: TunnelBackend> pb_ext::session_server::Session for Gateway<B> {
    async fn hello(
        &self,
        request: Request<pb_ext::HelloRequest>,
    ) -> Result<Response<pb_ext::HelloResponse>, Status> {
        let r = self.serve_hello(request).await;
        self.inner.counters.outcome(Method::Hello, &r);
        r
    }
}
