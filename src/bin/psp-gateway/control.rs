//! The control plane's thread: it drives the flow programmer, takes what
//! the packet cores send up (misses, ARP, sampling mirrors), holds missed
//! packets per destination while a tunnel is requested from the peer that
//! the tunnel map places the destination behind, installs the tunnel, and
//! resubmits the held packets. Requests run on the gRPC runtime; failed
//! peers are retried with back-off; held packets stay bounded.
//!
//! Re-keying without an operator: every [`PEER_CHECK`] the control plane
//! asks each peer it has tunnels to for its session (`Session/Hello`: a
//! random instance id per peer process and the peer's master-key epoch).
//! A new instance id means the peer restarted with new master keys, so
//! every SPI it gave us is dead; a new epoch means it rotated, so the SPIs
//! it gave us stop working at its next rotation. Either way we ask again
//! for every tunnel to that peer (with our reverse parameters, so its
//! tunnels back to us are renewed too). A peer without the session service
//! (DOCA) is re-keyed when it answers again after being unreachable. With
//! `--key-rotation-interval` this gateway rotates its own master key on a
//! timer; peers notice within [`PEER_CHECK`] and re-key long before the
//! next rotation invalidates the old key.

use crate::backend::{Backend, Datapath};
use crate::config::PerfPrint;
use crossbeam::channel::{Receiver, Sender};
use crossbeam::queue::ArrayQueue;
use engine::dpdk::{ControlPacket, CoreSnapshot, Mbuf, ToControl};
use engine::flows::{FlowBackend, FlowBatch, FlowProgrammer, HeldPackets, HoldOutcome};
use engine::psp::Version;
use rpc::client::{Client, PeerSession, TunnelRequest};
use rpc::params::TunnelParams;
use rpc::server::Gateway;
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// First retry delay after a failed request; doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long one key exchange may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// How often each peer with tunnels is asked for its session.
pub const PEER_CHECK: Duration = Duration::from_millis(500);
/// How long a session check may take (a slow peer is a down peer here).
const CHECK_TIMEOUT: Duration = Duration::from_millis(400);

/// Counters of the control plane, printed with the stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct ControlCounters {
    /// Missed packets received from the cores.
    pub misses: u64,
    /// Missed packets to destinations no peer serves (dropped).
    pub no_peer: u64,
    /// Held packets dropped (queue full or refused).
    pub held_dropped: u64,
    /// Held packets resubmitted after their tunnel came up.
    pub resubmitted: u64,
    /// Resubmissions lost to a full core ring.
    pub resubmit_ring_full: u64,
    /// Tunnels set up by our requests.
    pub tunnels_up: u64,
    /// Requests that failed (each is retried).
    pub requests_failed: u64,
    /// ARP and other traffic sent up by the cores (dropped).
    pub rss: u64,
    /// Sampled packets received.
    pub sampled: u64,
    /// Peers found restarted (new instance id, or back after being
    /// unreachable when they have no session service).
    pub peer_restarts: u64,
    /// Peers found to have rotated their master key.
    pub peer_rotations: u64,
    /// Tunnels asked for again because their peer restarted or rotated.
    pub rekeys: u64,
    /// Master-key rotations of our own (`--key-rotation-interval`).
    pub rotations: u64,
}

/// What the control plane needs to request tunnels.
pub struct Requests {
    /// The gRPC runtime.
    pub rt: tokio::runtime::Handle,
    /// Our service (its pool gives our reverse SPIs and keys).
    pub gateway: Gateway<Backend>,
    /// Which peer serves each remote virtual address.
    pub peer_of: HashMap<Ipv4Addr, SocketAddr>,
    /// Our virtual address (inner source).
    pub local_virt_ip: Ipv4Addr,
    /// The PSP version we offer.
    pub version: Version,
    /// Our virtualization cookie for the way back, if cookies are on.
    pub virt_cookie: Option<u64>,
    /// Mutual TLS toward peers, when configured.
    pub tls: Option<Arc<rpc::tls::TlsIdentity>>,
    /// `--key-rotation-interval`.
    pub rotation: Option<Duration>,
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

/// What the control plane knows of one peer's session.
#[derive(Debug, Default)]
struct PeerWatch {
    /// The virtual addresses behind it.
    dsts: Vec<Ipv4Addr>,
    /// Its last answer, if it ever answered.
    last: Option<PeerSession>,
    /// Whether the last check failed.
    unreachable: bool,
    /// A check is on its way.
    checking: bool,
    next_check: Option<Instant>,
}

/// What the control plane prints while it runs.
pub struct Printing<'a> {
    /// Where the cores publish their counters.
    pub snapshots: &'a [ArrayQueue<CoreSnapshot>],
    /// `--stat-print`.
    pub stat_print: bool,
    /// `--perf-print`.
    pub perf_print: Option<PerfPrint>,
    /// How often.
    pub every: Duration,
}

struct Retry {
    at: Instant,
    delay: Duration,
}

/// The control-plane thread's state, over the flow backend `B` (the
/// software tables or DOCA Flow): the miss path is the same for both.
pub struct ControlPlane<'a, B: FlowBackend> {
    dp: Arc<Datapath>,
    programmer: FlowProgrammer<B>,
    to_control: &'a ArrayQueue<ControlPacket>,
    resubmit: &'a [ArrayQueue<Mbuf>],
    next_core: usize,
    held: HeldPackets<Mbuf>,
    req: Requests,
    /// Tunnel batches for destinations with held packets, by batch id,
    /// with when they were submitted.
    pending: HashMap<u64, (Ipv4Addr, Instant)>,
    /// When the first packet to a destination missed.
    first_miss: HashMap<Ipv4Addr, Instant>,
    printing: Printing<'a>,
    latest: Vec<Option<CoreSnapshot>>,
    last_print: Instant,
    /// Destinations with a request in flight.
    requesting: HashSet<Ipv4Addr>,
    /// Destinations whose tunnel is up.
    up: HashSet<Ipv4Addr>,
    retries: HashMap<Ipv4Addr, Retry>,
    results_tx: Sender<(Ipv4Addr, Result<TunnelParams, String>)>,
    results_rx: Receiver<(Ipv4Addr, Result<TunnelParams, String>)>,
    clients: Arc<Clients>,
    peers: HashMap<SocketAddr, PeerWatch>,
    checks_tx: Sender<(SocketAddr, Result<PeerSession, String>)>,
    checks_rx: Receiver<(SocketAddr, Result<PeerSession, String>)>,
    next_rotation: Option<Instant>,
    show_rss: bool,
    /// Counters.
    pub counters: ControlCounters,
}

impl<'a, B: FlowBackend> ControlPlane<'a, B> {
    /// A control plane over the datapath's rings.
    pub fn new(
        dp: Arc<Datapath>,
        programmer: FlowProgrammer<B>,
        to_control: &'a ArrayQueue<ControlPacket>,
        resubmit: &'a [ArrayQueue<Mbuf>],
        req: Requests,
        show_rss: bool,
        printing: Printing<'a>,
    ) -> ControlPlane<'a, B> {
        let (results_tx, results_rx) = crossbeam::channel::unbounded();
        let (checks_tx, checks_rx) = crossbeam::channel::unbounded();
        let latest = vec![None; printing.snapshots.len()];
        let mut peers: HashMap<SocketAddr, PeerWatch> = HashMap::new();
        for (&dst, &svc) in &req.peer_of {
            peers.entry(svc).or_default().dsts.push(dst);
        }
        let next_rotation = req.rotation.map(|every| Instant::now() + every);
        ControlPlane {
            dp,
            programmer,
            to_control,
            resubmit,
            next_core: 0,
            held: HeldPackets::new(1024, 64),
            req,
            pending: HashMap::new(),
            first_miss: HashMap::new(),
            printing,
            latest,
            last_print: Instant::now(),
            requesting: HashSet::new(),
            up: HashSet::new(),
            retries: HashMap::new(),
            results_tx,
            results_rx,
            clients: Arc::default(),
            peers,
            checks_tx,
            checks_rx,
            next_rotation,
            show_rss,
            counters: ControlCounters::default(),
        }
    }

    /// Asks for tunnels to every mapped destination now (`-z`); failures
    /// are retried, one attempt per destination per round.
    pub fn connect_all(&mut self) {
        let dsts: Vec<Ipv4Addr> = self.req.peer_of.keys().copied().collect();
        for dst in dsts {
            self.request(dst);
        }
    }

    /// Runs until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) {
        let _ = self.dp.control_thread.set(std::thread::current());
        while !stop.load(Ordering::Relaxed) {
            if self.turn() {
                continue;
            }
            if self.programmer.in_flight() > 0 {
                // A batch waits for the cores to see it: check again soon.
                // (Not yield_now: on a busy core that can cost a whole
                // scheduler slice, milliseconds.)
                std::thread::park_timeout(Duration::from_micros(10));
            } else {
                // Woken at once when the gRPC side submits a batch.
                std::thread::park_timeout(Duration::from_micros(200));
            }
        }
    }

    /// One turn; returns whether anything happened.
    pub fn turn(&mut self) -> bool {
        let mut busy = self.programmer.run_once() != engine::flows::Progress::default();
        while let Some(c) = self.dp.flows.poll() {
            busy = true;
            match self.pending.remove(&c.id) {
                Some((dst, submitted)) => {
                    if c.result.is_ok() {
                        self.dp.perf.insertion.record(submitted.elapsed());
                    }
                    self.tunnel_installed(dst, c.result.is_ok())
                }
                None => self.dp.completions.complete(c.id, c.result),
            }
        }
        while let Ok((dst, result)) = self.results_rx.try_recv() {
            busy = true;
            self.requesting.remove(&dst);
            match result.and_then(|p| self.dp.insert_tunnel(dst, &p)) {
                Ok(request) => {
                    let id = self.dp.next_batch.fetch_add(1, Ordering::Relaxed);
                    let requests = vec![request];
                    if self.dp.flows.submit(FlowBatch { id, requests }).is_ok() {
                        self.pending.insert(id, (dst, Instant::now()));
                    } else {
                        self.failed(dst, "flow request ring full".into());
                    }
                }
                Err(e) => self.failed(dst, e),
            }
        }
        while let Some(cp) = self.to_control.pop() {
            busy = true;
            match cp.why {
                ToControl::Miss { dst } => self.missed(dst, cp.mbuf),
                ToControl::Rss => self.counters.rss += 1,
                ToControl::Sampled { meta } => {
                    self.counters.sampled += 1;
                    if self.show_rss {
                        tracing::info!(
                            meta = format_args!("{meta:#x}"),
                            len = cp.mbuf.len(),
                            "sampled packet"
                        );
                    }
                }
            }
        }
        for (slot, ring) in self.latest.iter_mut().zip(self.printing.snapshots) {
            if let Some(s) = ring.pop() {
                *slot = Some(s);
            }
        }
        let now = Instant::now();
        if now.duration_since(self.last_print) >= self.printing.every {
            self.last_print = now;
            self.print();
        }
        let due: Vec<Ipv4Addr> =
            self.retries.iter().filter(|(_, r)| r.at <= now).map(|(d, _)| *d).collect();
        for dst in due {
            busy = true;
            self.request(dst);
        }
        while let Ok((svc, result)) = self.checks_rx.try_recv() {
            busy = true;
            self.checked(svc, result);
        }
        self.check_peers(now);
        if self.next_rotation.is_some_and(|t| t <= now) {
            busy = true;
            self.rotate(now);
        }
        busy
    }

    /// Whether we send to `dst` through a tunnel (ours or made from a
    /// peer's reverse parameters).
    fn has_tunnel(&self, dst: Ipv4Addr) -> bool {
        self.up.contains(&dst)
            || self.dp.egress.lock().unwrap_or_else(|e| e.into_inner()).contains(&dst)
    }

    /// Starts the session checks that are due, for peers we have tunnels to.
    fn check_peers(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .peers
            .iter()
            .filter(|(_, w)| !w.checking && w.next_check.is_none_or(|t| t <= now))
            .filter(|(_, w)| w.dsts.iter().any(|d| self.has_tunnel(*d)))
            .map(|(svc, _)| *svc)
            .collect();
        for svc in due {
            let Some(w) = self.peers.get_mut(&svc) else { continue };
            w.checking = true;
            w.next_check = Some(now + PEER_CHECK);
            let (tx, clients, tls) =
                (self.checks_tx.clone(), self.clients.clone(), self.req.tls.clone());
            self.req.rt.spawn(async move {
                let check = async {
                    let mut c = clients.get(svc, CHECK_TIMEOUT, tls.as_deref()).await?;
                    match tokio::time::timeout(CHECK_TIMEOUT, c.hello()).await {
                        Ok(Ok(s)) => Ok(s),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("session check timed out".to_string()),
                    }
                };
                let result = check.await;
                if result.is_err() {
                    clients.forget(svc);
                }
                let _ = tx.send((svc, result));
            });
        }
    }

    /// A peer's session answer: re-key its tunnels if it restarted or
    /// rotated since the last answer.
    fn checked(&mut self, svc: SocketAddr, result: Result<PeerSession, String>) {
        let Some(w) = self.peers.get_mut(&svc) else { return };
        w.checking = false;
        let now = match result {
            Ok(s) => s,
            Err(why) => {
                if !w.unreachable {
                    tracing::warn!(peer = %svc, %why, "peer unreachable");
                }
                w.unreachable = true;
                return;
            }
        };
        let was_unreachable = std::mem::replace(&mut w.unreachable, false);
        let before = w.last.replace(now);
        let why = match (before, now) {
            (
                Some(PeerSession::Known { instance_id: a, .. }),
                PeerSession::Known { instance_id: b, .. },
            ) if a != b => {
                self.counters.peer_restarts += 1;
                "peer restarted (new instance)"
            }
            (
                Some(PeerSession::Known { key_epoch: a, .. }),
                PeerSession::Known { key_epoch: b, .. },
            ) if a != b => {
                self.counters.peer_rotations += 1;
                "peer rotated its master key"
            }
            (Some(PeerSession::Unknown), PeerSession::Unknown) if was_unreachable => {
                self.counters.peer_restarts += 1;
                "peer back after being unreachable (no session service: may have restarted)"
            }
            _ => return,
        };
        let all = w.dsts.clone();
        let dsts: Vec<Ipv4Addr> = all.into_iter().filter(|d| self.has_tunnel(*d)).collect();
        tracing::info!(peer = %svc, tunnels = dsts.len(), "{why}: re-keying");
        for dst in dsts {
            self.counters.rekeys += 1;
            self.retries.remove(&dst);
            self.request(dst);
        }
    }

    /// Our own master-key rotation (`--key-rotation-interval`), on the
    /// gRPC runtime: it withdraws ACL entries through the flow programmer,
    /// which this thread runs.
    fn rotate(&mut self, now: Instant) {
        let Some(every) = self.req.rotation else { return };
        self.next_rotation = Some(now + every);
        self.counters.rotations += 1;
        let gateway = self.req.gateway.clone();
        self.req.rt.spawn(async move {
            gateway.rotate_master_key().await;
            tracing::info!(epoch = gateway.key_epoch(), "master key rotated (timer)");
        });
    }

    fn missed(&mut self, dst: Ipv4Addr, m: Mbuf) {
        self.counters.misses += 1;
        if !self.req.peer_of.contains_key(&dst) {
            self.counters.no_peer += 1;
            return; // m dropped: freed
        }
        let (new, outcome) = self.held.hold(dst, m);
        if new {
            self.first_miss.entry(dst).or_insert_with(Instant::now);
        }
        match outcome {
            HoldOutcome::Held => {}
            HoldOutcome::DroppedOldest(_) | HoldOutcome::Refused(_) => {
                self.counters.held_dropped += 1
            }
        }
        if self.up.contains(&dst) {
            // The tunnel came up while this packet was on its way: resubmit.
            self.release(dst);
        } else if !self.requesting.contains(&dst) && !self.retries.contains_key(&dst) {
            self.request(dst);
        }
    }

    fn request(&mut self, dst: Ipv4Addr) {
        let Some(&svc) = self.req.peer_of.get(&dst) else { return };
        if !self.requesting.insert(dst) {
            return;
        }
        let tx = self.results_tx.clone();
        let gateway = self.req.gateway.clone();
        let (local, version, cookie) =
            (self.req.local_virt_ip, self.req.version, self.req.virt_cookie);
        let factory = self.dp.factory;
        let dp = Arc::clone(&self.dp);
        let tls = self.req.tls.clone();
        let clients = Arc::clone(&self.clients);
        self.req.rt.spawn(async move {
            let result = async {
                let mut client = clients.get(svc, RPC_TIMEOUT, tls.as_deref()).await?;
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
                    mac: Some(factory.uplink_mac),
                    ip: factory.uplink_ip,
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
            let _ = tx.send((dst, result));
        });
    }

    /// Prints the periodic counters and latencies, as configured.
    pub fn print(&self) {
        if self.printing.stat_print {
            let snaps: Vec<CoreSnapshot> = self.latest.iter().flatten().copied().collect();
            crate::stats::print_periodic(&snaps, &self.counters);
        }
        if let Some(which) = self.printing.perf_print {
            crate::stats::print_perf(&self.dp.perf, which);
        }
    }

    /// The latencies alone, at exit.
    pub fn print_perf_only(&self) {
        if let Some(which) = self.printing.perf_print {
            crate::stats::print_perf(&self.dp.perf, which);
        }
    }

    fn failed(&mut self, dst: Ipv4Addr, why: String) {
        self.counters.requests_failed += 1;
        let delay = self.retries.get(&dst).map_or(RETRY_MIN, |r| (r.delay * 2).min(RETRY_MAX));
        tracing::warn!(%dst, %why, retry_in = ?delay, "tunnel request failed");
        self.retries.insert(dst, Retry { at: Instant::now() + delay, delay });
    }

    fn tunnel_installed(&mut self, dst: Ipv4Addr, ok: bool) {
        if !ok {
            self.failed(dst, "flow programmer refused the tunnel".into());
            return;
        }
        self.retries.remove(&dst);
        self.up.insert(dst);
        self.counters.tunnels_up += 1;
        tracing::info!(%dst, "tunnel up");
        self.release(dst);
    }

    fn release(&mut self, dst: Ipv4Addr) {
        let (rings, mut next) = (self.resubmit, self.next_core);
        let (mut sent, mut lost) = (0, 0);
        self.held.release(dst, |m| {
            match rings[next % rings.len()].push(m) {
                Ok(()) => sent += 1,
                Err(_) => lost += 1,
            }
            next += 1;
        });
        self.next_core = next;
        if let Some(t) = self.first_miss.remove(&dst) {
            self.dp.perf.miss_to_first_packet.record(t.elapsed());
        }
        self.counters.resubmitted += sent;
        self.counters.resubmit_ring_full += lost;
    }
}
