//! What the operator sees of a running gateway: the control thread answers
//! [`Query`]s with an [`Observation`] (its counters, the cores' latest
//! snapshots, the tunnel manager's tunnels and peers), taken between two
//! of its turns so every part is of the same instant. The metrics endpoint
//! and `psp_gateway_ext.Admin/Status` ask through an [`Observer`]; nothing
//! is gathered while nobody asks.

use crate::backend::{FlowHandle, GatewayBackend};
use crate::metrics;
use crate::stats::ControlCounters;
use engine::cores::CoreSnapshot;
use engine::tables::{SessionCount, SessionTotals, VipPair};
use engine::tunnels::{PeerView, Session, TunnelView};
use rpc::pb_ext;
use rpc::server::Gateway;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The control plane at one instant.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Its counters.
    pub control: ControlCounters,
    /// Each core's latest snapshot, by core index (cores that have not
    /// reported yet are left out).
    pub cores: Vec<(usize, CoreSnapshot)>,
    /// Every destination the tunnel manager knows.
    pub tunnels: Vec<TunnelView>,
    /// Every peer it knows.
    pub peers: Vec<PeerView>,
    /// Peers named by the command line or tunnels file (the others came
    /// from the directory).
    pub static_peers: HashSet<SocketAddr>,
    /// Directory state, when `--directory` is given.
    pub directory: Option<rpc::directory::Health>,
    /// Per-session counters from the flow backend (`None` on DOCA, which
    /// does not count per session).
    pub sessions: Option<SessionTotals>,
}

/// A request for an [`Observation`], answered by the control thread.
pub struct Query(pub tokio::sync::oneshot::Sender<Observation>);

/// How long an answer may take (the control thread turns every few
/// hundred microseconds; longer means it is stuck or stopping).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the control thread; serves the metrics and the status service.
pub struct Observer {
    queries: crossbeam::channel::Sender<Query>,
    gateway: Gateway<GatewayBackend>,
    dp: Arc<FlowHandle>,
    started: Instant,
    session_limit: usize,
}

impl Observer {
    /// An observer sending its queries on `queries`; the metrics carry
    /// the `session_limit` busiest sessions each way.
    pub fn new(
        queries: crossbeam::channel::Sender<Query>,
        gateway: Gateway<GatewayBackend>,
        dp: Arc<FlowHandle>,
        session_limit: usize,
    ) -> Observer {
        Observer { queries, gateway, dp, started: Instant::now(), session_limit }
    }

    /// The control plane now.
    pub async fn observe(&self) -> Result<Observation, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queries.send(Query(tx)).map_err(|_| "the control plane has stopped".to_string())?;
        if let Some(t) = self.dp.control_thread.get() {
            t.unpark();
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(_)) => Err("the control plane has stopped".into()),
            Err(_) => Err(format!("the control plane did not answer in {ANSWER_TIMEOUT:?}")),
        }
    }

    /// Everything the metrics endpoint shows, from an observation.
    pub fn metrics_input<'a>(&'a self, obs: &'a Observation) -> metrics::Input<'a> {
        metrics::Input {
            obs,
            rpc: self.gateway.rpc_counters().snapshot(),
            key_epoch: self.gateway.key_epoch(),
            pool: self.gateway.pool_stats(),
            uptime: self.started.elapsed(),
            perf: &self.dp.perf,
            session_limit: self.session_limit,
        }
    }

    /// The metrics text of the control plane now.
    pub async fn scrape(&self) -> Result<String, String> {
        let obs = self.observe().await?;
        Ok(metrics::render(&self.metrics_input(&obs)))
    }
}

#[tonic::async_trait]
impl rpc::admin::StatusSource for Observer {
    async fn status(&self) -> Result<pb_ext::StatusResponse, tonic::Status> {
        let obs = self.observe().await.map_err(tonic::Status::unavailable)?;
        let input = self.metrics_input(&obs);
        // In address order (IPv4 before IPv6), as the operator reads them.
        let mut views = obs.tunnels.clone();
        views.sort_by_key(|t| (t.dst, t.src));
        let mut peer_views = obs.peers.clone();
        peer_views.sort_by_key(|p| p.peer);
        let none = SessionTotals::default();
        let sessions = obs.sessions.as_ref().unwrap_or(&none);
        let tunnels: Vec<pb_ext::TunnelStatus> = views
            .iter()
            .map(|t| {
                let s = tunnel_sessions(sessions, t.src, t.dst);
                pb_ext::TunnelStatus {
                    virt_dst: t.dst.to_string(),
                    virt_src: t.src.map(|s| s.to_string()).unwrap_or_default(),
                    peer: t.peer.map(|p| p.to_string()).unwrap_or_default(),
                    state: t.state.name().into(),
                    ours: t.ours,
                    reverse: t.reverse,
                    held: t.held as u64,
                    tx_packets: s.tx.packets,
                    tx_bytes: s.tx.bytes,
                    rx_packets: s.rx.packets,
                    rx_bytes: s.rx.bytes,
                    tx_spi: s.tx_spi,
                }
            })
            .collect();
        let peers: Vec<pb_ext::PeerStatus> = peer_views
            .iter()
            .map(|p| {
                let (instance_id, key_epoch) = match p.session {
                    Some(Session::Known { instance_id, key_epoch }) => (instance_id, key_epoch),
                    _ => (0, 0),
                };
                pb_ext::PeerStatus {
                    addr: p.peer.to_string(),
                    instance_id,
                    key_epoch,
                    reachable: !p.unreachable,
                    destinations: p.destinations as u32,
                    source: if obs.static_peers.contains(&p.peer) { "static" } else { "directory" }
                        .into(),
                }
            })
            .collect();
        let counters = metrics::families(&input)
            .into_iter()
            .filter(|f| !f.name.starts_with(metrics::SESSION_PREFIX))
            .flat_map(|f| {
                f.samples.into_iter().map(move |(labels, value)| pb_ext::CounterValue {
                    name: f.name.clone(),
                    labels,
                    value,
                })
            })
            .collect();
        Ok(pb_ext::StatusResponse {
            instance_id: self.gateway.instance_id(),
            key_epoch: self.gateway.key_epoch(),
            version: crate::config::VERSION.into(),
            uptime_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            tunnels,
            peers,
            counters,
            session_counters: obs.sessions.is_some(),
        })
    }
}

/// One session's counters: its egress tunnel, and every ingress ACL entry
/// admitting the other way, from its remote VM to our VM (one per SPI we
/// gave it).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TunnelSessions {
    /// Into our tunnel to it.
    pub tx: SessionCount,
    /// The SPI of that tunnel (0: none installed).
    pub tx_spi: u32,
    /// From it, admitted.
    pub rx: SessionCount,
}

/// The counters of the session (`src`, `dst`) in `totals` (without `src`:
/// no egress).
pub fn tunnel_sessions(totals: &SessionTotals, src: Option<IpAddr>, dst: IpAddr) -> TunnelSessions {
    let mut out = TunnelSessions::default();
    let ours = |p: &VipPair| Some(p.src) == src && p.dst == dst;
    if let Some((_, spi, n)) = totals.egress.iter().find(|(p, _, _)| ours(p)) {
        out.tx = *n;
        out.tx_spi = spi.0;
    }
    // Ingress the other way: from the remote VM to ours (without a
    // session, to any of ours).
    let back = |p: &VipPair| p.src == dst && src.is_none_or(|s| p.dst == s);
    for (_, _, n) in totals.ingress.iter().filter(|(_, p, _)| back(p)) {
        out.rx.packets += n.packets;
        out.rx.bytes += n.bytes;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::psp::Spi;

    #[test]
    fn a_destination_gets_its_tunnel_and_every_ingress_spi() {
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        let n = |packets, bytes| SessionCount { packets, bytes };
        let (me, other): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.5".parse().unwrap());
        let totals = SessionTotals {
            egress: vec![
                (VipPair { src: me, dst: a }, Spi(0x10), n(5, 700)),
                (VipPair { src: other, dst: a }, Spi(0x12), n(2, 2)),
                (VipPair { src: me, dst: b }, Spi(0x11), n(1, 1)),
            ],
            ingress: vec![
                (Spi(0x20), VipPair { src: a, dst: me }, n(3, 300)),
                (Spi(0x21), VipPair { src: a, dst: me }, n(1, 60)),
                (Spi(0x23), VipPair { src: a, dst: other }, n(7, 70)),
                (Spi(0x22), VipPair { src: b, dst: me }, n(9, 9)),
            ],
        };
        let s = tunnel_sessions(&totals, Some(me), a);
        assert_eq!(s, TunnelSessions { tx: n(5, 700), tx_spi: 0x10, rx: n(4, 360) });
        let s = tunnel_sessions(&totals, Some(other), a);
        assert_eq!(s, TunnelSessions { tx: n(2, 2), tx_spi: 0x12, rx: n(7, 70) });
        // A directory destination without a session: what it sent any of ours.
        let s = tunnel_sessions(&totals, None, a);
        assert_eq!(s, TunnelSessions { tx: n(0, 0), tx_spi: 0, rx: n(11, 430) });
        let none = tunnel_sessions(&totals, Some(me), "10.0.0.9".parse().unwrap());
        assert_eq!(none, TunnelSessions::default());
    }
}
