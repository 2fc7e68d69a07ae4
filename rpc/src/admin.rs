//! `psp_gateway_ext.Admin`: the operator's read-only window on a gateway
//! (`psp-gateway status`). The gateway supplies the answer through
//! [`StatusSource`]; this service decides who may ask: loopback callers
//! always, others only when the server runs mutual TLS (their certificate,
//! checked in the handshake, is the authorization). No key material is in
//! the answer.

use crate::counters::{Method, RpcCounters};
use crate::pb_ext;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Where the answer comes from (the gateway's control plane).
#[tonic::async_trait]
pub trait StatusSource: Send + Sync + 'static {
    /// The gateway's status now.
    async fn status(&self) -> Result<pb_ext::StatusResponse, Status>;
}

/// The `Admin` service over a [`StatusSource`].
pub struct Admin<S> {
    source: Arc<S>,
    counters: Arc<RpcCounters>,
    mutual_tls: bool,
}

impl<S> Clone for Admin<S> {
    fn clone(&self) -> Self {
        Admin {
            source: Arc::clone(&self.source),
            counters: Arc::clone(&self.counters),
            mutual_tls: self.mutual_tls,
        }
    }
}

impl<S: StatusSource> Admin<S> {
    /// The service; `mutual_tls`: whether the server it is added to
    /// authenticates every client.
    pub fn new(source: Arc<S>, counters: Arc<RpcCounters>, mutual_tls: bool) -> Admin<S> {
        Admin { source, counters, mutual_tls }
    }

    /// The tonic service to add to a server.
    pub fn into_service(self) -> pb_ext::admin_server::AdminServer<Admin<S>> {
        pb_ext::admin_server::AdminServer::new(self)
            .max_decoding_message_size(4096)
            .max_encoding_message_size(64 << 20)
    }

    fn allowed<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if self.mutual_tls {
            return Ok(());
        }
        match req.remote_addr() {
            Some(a) if a.ip().to_canonical().is_loopback() => Ok(()),
            Some(a) => Err(Status::permission_denied(format!(
                "status is served to loopback callers only when the service runs without \
                 mutual TLS ({} is not loopback)",
                a.ip()
            ))),
            None => Err(Status::permission_denied("requester address unknown")),
        }
    }
}

#[tonic::async_trait]
impl<S: StatusSource> pb_ext::admin_server::Admin for Admin<S> {
    async fn status(
        &self,
        request: Request<pb_ext::StatusRequest>,
    ) -> Result<Response<pb_ext::StatusResponse>, Status> {
        let r = match self.allowed(&request) {
            Ok(()) => self.source.status().await,
            Err(s) => Err(s),
        };
        self.counters.outcome(Method::Status, &r);
        r.map(Response::new)
    }
}
