//! The control plane's gRPC driver: the tunnel manager's requests and
//! session checks as tasks on the gRPC runtime (one client per peer, kept
//! between calls), their outcomes back over a channel, converted from the
//! rpc crate's types to the manager's.

use crate::backend::{FlowHandle, GatewayBackend};
use crossbeam::channel::{Receiver, Sender};
use engine::psp::Version;
use engine::tunnels::{Peer, RequestId, Session, VipPair};
use rpc::client::{Client, PeerSession, TunnelRequest};
use rpc::params::TunnelParams;
use rpc::server::Gateway;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the control plane needs to request tunnels.
pub struct Requests {
    /// The gRPC runtime.
    pub rt: tokio::runtime::Handle,
    /// Our service (its pool gives our reverse SPIs and keys).
    pub gateway: Gateway<GatewayBackend>,
    /// Which peer serves each remote virtual address.
    pub peer_of: HashMap<IpAddr, SocketAddr>,
    /// Our virtual address (inner source) when no other is known.
    pub local_virt_ip: IpAddr,
    /// Every virtual address of our unsecured ports' VMs.
    pub local_virt_ips: Vec<IpAddr>,
    /// `-c/--config` sessions: (remote VIP, the local VIP asking).
    pub sessions: Vec<(IpAddr, IpAddr)>,
    /// The PSP version we offer.
    pub version: Version,
    /// Our virtualization cookie for the way back, if cookies are on.
    pub virt_cookie: Option<u64>,
    /// Mutual TLS toward peers, when configured.
    pub tls: Option<Arc<rpc::tls::TlsIdentity>>,
    /// `--key-rotation-interval`.
    pub rotation: Option<Duration>,
}

/// A finished call.
pub enum Outcome {
    /// A tunnel request's answer.
    Answer {
        /// Asked for.
        pair: VipPair,
        /// The manager's id of the request.
        id: RequestId,
        /// The peer's parameters, or why there are none.
        result: Result<TunnelParams, String>,
    },
    /// A session check's answer.
    Hello {
        /// Asked.
        peer: Peer,
        /// The manager's id of the check.
        id: RequestId,
        /// The session, or why there is none.
        result: Result<Session, String>,
    },
}

/// One gRPC client per peer, kept between requests (a connection costs a
/// TCP and maybe a TLS handshake; tonic reconnects a broken one).
#[derive(Default)]
struct Clients(std::sync::Mutex<HashMap<SocketAddr, Client>>);

impl Clients {
    async fn get(
        &self,
        svc: SocketAddr,
        timeout: Duration,
        tls: Option<&rpc::tls::TlsIdentity>,
    ) -> Result<Client, String> {
        if let Some(c) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&svc) {
            return Ok(c.clone());
        }
        let c = Client::connect_with(&svc.to_string(), timeout, tls)
            .await
            .map_err(|e| e.to_string())?;
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(svc, c.clone());
        Ok(c)
    }

    /// Drops the client after a transport failure: the next call dials again.
    fn forget(&self, svc: SocketAddr) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&svc);
    }
}

/// Carries out the manager's calls to peers.
pub struct PeerCalls {
    req: Requests,
    dp: Arc<FlowHandle>,
    clients: Arc<Clients>,
    tx: Sender<Outcome>,
    rx: Receiver<Outcome>,
    request_timeout: Duration,
    check_timeout: Duration,
}

impl PeerCalls {
    /// Calls with the manager's timeouts.
    pub fn new(
        req: Requests,
        dp: Arc<FlowHandle>,
        request_timeout: Duration,
        check_timeout: Duration,
    ) -> PeerCalls {
        let (tx, rx) = crossbeam::channel::unbounded();
        let clients = Arc::default();
        PeerCalls { req, dp, clients, tx, rx, request_timeout, check_timeout }
    }

    /// The configuration.
    pub fn requests(&self) -> &Requests {
        &self.req
    }

    /// A finished call, if any.
    pub fn try_recv(&self) -> Option<Outcome> {
        self.rx.try_recv().ok()
    }

    /// Asks `svc` for a tunnel from our VM `pair.src` to `pair.dst`, with
    /// our reverse parameters.
    pub fn request(&self, id: RequestId, pair: VipPair, svc: SocketAddr) {
        let (local, dst) = (pair.src, pair.dst);
        let tx = self.tx.clone();
        let gateway = self.req.gateway.clone();
        let (version, cookie) = (self.req.version, self.req.virt_cookie);
        let dp = Arc::clone(&self.dp);
        let tls = self.req.tls.clone();
        let clients = Arc::clone(&self.clients);
        let timeout = self.request_timeout;
        self.req.rt.spawn(async move {
            let result = async {
                let mut client = clients.get(svc, timeout, tls.as_deref()).await?;
                // Our SPI for the way back, admitted before the peer can use it.
                let t0 = Instant::now();
                let gw = gateway.clone();
                let mine =
                    tokio::task::spawn_blocking(move || gw.issue_reverse(version, dst, local))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                dp.perf.key_gen.record(t0.elapsed());
                let reverse = TunnelParams {
                    mac: Some(dp.factory.uplink_mac),
                    ip: dp.factory.uplink_ip,
                    version,
                    spi: mine.spi,
                    key: mine.key.clone(),
                    virt_cookie: cookie,
                    encap_type: 0,
                };
                let issued = client
                    .request_tunnels(
                        &[version],
                        &[TunnelRequest { virt_src: local, virt_dst: dst, reverse: Some(reverse) }],
                    )
                    .await
                    .map_err(|e| {
                        if e.is_transport() {
                            clients.forget(svc);
                        }
                        e.to_string()
                    })?;
                issued
                    .into_iter()
                    .next()
                    .map(|t| t.params)
                    .ok_or_else(|| "empty answer".to_string())
            }
            .await;
            let _ = tx.send(Outcome::Answer { pair, id, result });
        });
    }

    /// Asks `svc` for its session.
    pub fn hello(&self, id: RequestId, svc: SocketAddr) {
        let (tx, clients, tls) = (self.tx.clone(), self.clients.clone(), self.req.tls.clone());
        let timeout = self.check_timeout;
        self.req.rt.spawn(async move {
            let check = async {
                let mut c = clients.get(svc, timeout, tls.as_deref()).await?;
                match tokio::time::timeout(timeout, c.hello()).await {
                    Ok(Ok(PeerSession::Known { instance_id, key_epoch })) => {
                        Ok(Session::Known { instance_id, key_epoch })
                    }
                    Ok(Ok(PeerSession::Unknown)) => Ok(Session::Unknown),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("session check timed out".to_string()),
                }
            };
            let result = check.await;
            if result.is_err() {
                clients.forget(svc);
            }
            let _ = tx.send(Outcome::Hello { peer: svc, id, result });
        });
    }

    /// Our own master-key rotation, on the gRPC runtime: it withdraws ACL
    /// entries through the flow programmer, which the control thread runs.
    pub fn rotate(&self) {
        let gateway = self.req.gateway.clone();
        self.req.rt.spawn(async move {
            gateway.rotate_master_key().await;
            tracing::info!(epoch = gateway.key_epoch(), "master key rotated (timer)");
        });
    }
}
