//! The control plane's own tokio runtime: one worker thread, off the packet
//! cores, running the gRPC server (and its pool refill task) and clients.

use crate::admin::{Admin, StatusSource};
use crate::server::{Gateway, TunnelBackend};
use crate::tls::{error_chain, TlsIdentity};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

/// Name of the runtime's threads (`psp-rpc`).
pub const THREAD_NAME: &str = "psp-rpc";

/// A dedicated multi-thread tokio runtime with a single worker.
///
/// The gateway binary builds it on its main (non-packet) core before the
/// packet cores start; nothing here runs on a DPDK lcore.
#[derive(Debug)]
pub struct RpcRuntime {
    rt: tokio::runtime::Runtime,
}

impl RpcRuntime {
    /// Builds the runtime: 1 worker thread named [`THREAD_NAME`], I/O and
    /// timers enabled.
    pub fn new() -> std::io::Result<RpcRuntime> {
        Self::with_thread_start(|| {})
    }

    /// As [`RpcRuntime::new`], running `start` first on each of its threads
    /// (the gateway pins them off the packet cores' CPUs).
    pub fn with_thread_start(
        start: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<RpcRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name(THREAD_NAME)
            .on_thread_start(start)
            .enable_all()
            .build()?;
        Ok(RpcRuntime { rt })
    }

    /// The runtime's handle, to spawn more work on it.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.handle()
    }

    /// Runs a future (a client request, say) to completion on the runtime,
    /// blocking the calling thread.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Binds `addr` (port 0: an ephemeral port) and serves `gateway` on it
    /// in plaintext (the DOCA application's way), with its pool refill
    /// task, until [`RunningServer::shutdown`].
    pub fn start_server<B: TunnelBackend>(
        &self,
        addr: SocketAddr,
        gateway: Gateway<B>,
    ) -> std::io::Result<RunningServer> {
        self.start::<B, NoStatus>(addr, gateway, None, None)
    }

    /// As [`RpcRuntime::start_server`], over mutual TLS: every peer must
    /// present a certificate chaining to `tls`'s CA, or its connection is
    /// refused during the handshake; the server presents `tls`'s
    /// certificate chain.
    pub fn start_server_tls<B: TunnelBackend>(
        &self,
        addr: SocketAddr,
        gateway: Gateway<B>,
        tls: &TlsIdentity,
    ) -> std::io::Result<RunningServer> {
        self.start::<B, NoStatus>(addr, gateway, Some(tls), None)
    }

    /// [`RpcRuntime::start_server_tls`] with `Some`, else
    /// [`RpcRuntime::start_server`].
    pub fn start_server_with<B: TunnelBackend>(
        &self,
        addr: SocketAddr,
        gateway: Gateway<B>,
        tls: Option<&TlsIdentity>,
    ) -> std::io::Result<RunningServer> {
        self.start::<B, NoStatus>(addr, gateway, tls, None)
    }

    /// As [`RpcRuntime::start_server_with`], with the `Admin` service
    /// (`psp-gateway status`) beside the others, answered by `status`.
    pub fn start_server_with_status<B: TunnelBackend, S: StatusSource>(
        &self,
        addr: SocketAddr,
        gateway: Gateway<B>,
        tls: Option<&TlsIdentity>,
        status: Arc<S>,
    ) -> std::io::Result<RunningServer> {
        let admin = Admin::new(status, gateway.rpc_counters(), tls.is_some());
        self.start(addr, gateway, tls, Some(admin))
    }

    fn start<B: TunnelBackend, S: StatusSource>(
        &self,
        addr: SocketAddr,
        gateway: Gateway<B>,
        tls: Option<&TlsIdentity>,
        admin: Option<Admin<S>>,
    ) -> std::io::Result<RunningServer> {
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls.server_config()).map_err(|e| {
                std::io::Error::other(format!(
                    "TLS with {}: {}",
                    tls.files().cert.display(),
                    error_chain(&e)
                ))
            })?;
        }
        let listener = self.rt.block_on(tokio::net::TcpListener::bind(addr))?;
        let local_addr = listener.local_addr()?;
        let refill = self.rt.spawn(gateway.refill_task());
        let (tx, rx) = oneshot::channel::<()>();
        // The builder's tcp_nodelay applies only to sockets tonic accepts
        // itself; these it does not, and without it a response of more than
        // one segment waits ~40 ms for the peer's delayed ACK (Nagle).
        let incoming = tokio_stream::StreamExt::map(TcpListenerStream::new(listener), |s| {
            if let Ok(s) = &s {
                let _ = s.set_nodelay(true);
            }
            s
        });
        let serve = builder
            .tcp_nodelay(true)
            .add_service(gateway.clone().into_session_service())
            .add_optional_service(admin.map(Admin::into_service))
            .add_service(gateway.into_service())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            });
        let server = self.rt.spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!("gRPC server stopped: {}", error_chain(&e));
            }
        });
        tracing::info!(%local_addr, mutual_tls = tls.is_some(), "PSP_Gateway service listening");
        Ok(RunningServer { local_addr, shutdown: Some(tx), server: Some(server), refill })
    }
}

/// The status source of a server without the `Admin` service (never made).
enum NoStatus {}

#[tonic::async_trait]
impl StatusSource for NoStatus {
    async fn status(&self) -> Result<crate::pb_ext::StatusResponse, tonic::Status> {
        match *self {}
    }
}

/// A server started by [`RpcRuntime::start_server`] or
/// [`RpcRuntime::start_server_tls`].
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    refill: JoinHandle<()>,
}

impl RunningServer {
    /// The address it listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the
    /// server to end.
    pub fn shutdown(mut self, rt: &RpcRuntime) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = rt.block_on(server);
        }
        self.refill.abort();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // Dropped without shutdown: signal it, do not wait.
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.refill.abort();
    }
}
