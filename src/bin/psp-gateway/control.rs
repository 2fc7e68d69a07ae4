//! The control-plane thread: the driver of the tunnel manager
//! ([`engine::tunnels`]). It drives the flow programmer, turns what the
//! packet cores send up (misses), the gRPC calls' outcomes, the reverse
//! tunnels the gRPC service made and the clock into the manager's events,
//! and carries out its commands: calls to peers ([`PeerCalls`]), flow
//! batches, resubmissions to the cores' rings, frees, our key rotation.
//! The decisions (hold, share, retry, back off, re-key, bound) are the
//! manager's; the mbufs stay here ([`HeldMbufs`]).

use crate::backend::FlowHandle;
use crate::config::PerfPrint;
use crate::held::{HeldMbufs, PacketId};
use crate::observe::{Observation, Query};
use crate::peers::{Outcome, PeerCalls, Requests};
use crate::stats::ControlCounters;
use crossbeam::queue::ArrayQueue;
use engine::config::Backend;
use engine::cores::{ControlPacket, CoreSnapshot, ToControl, ToHost};
use engine::dpdk::Mbuf;
use engine::flows::{FlowBackend, FlowBatch, FlowProgrammer, FlowRequest};
use engine::pipeline::PipeStats;
use engine::psp::buf::PacketBuf;
use engine::tunnels::{Command, Config, Event, Notice, RequestId, Time, TunnelManager, VipPair};
use rpc::directory::view::Change;
use rpc::directory::Health;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// DOCA mode: the NIC's latest counters as `--stat-print` lines
    /// (`None` before the first reading), printed instead of the cores'.
    pub nic_lines: Option<NicLines>,
    /// `--stats-json`: a report at every interval.
    pub json: Option<Arc<crate::stats_json::StatsJson>>,
}

/// What the control plane answers besides the cores and the peers: the
/// operator's queries and the directory's changes.
#[derive(Default)]
pub struct Inputs {
    /// [`Query`]s from the metrics endpoint and the status service.
    pub queries: Option<crossbeam::channel::Receiver<Query>>,
    /// Destinations whose peer the directory changed.
    pub directory: Option<crossbeam::channel::Receiver<Vec<Change>>>,
    /// The directory task's state.
    pub directory_health: Option<Arc<std::sync::Mutex<Health>>>,
}

/// The NIC's counters as `--stat-print` lines, from any thread.
pub type NicLines = Box<dyn Fn() -> Option<Vec<String>> + Send>;

/// The answers to the VMs' ARP requests and neighbour solicitations
/// (software datapath): each names the MAC of the port it came in on and
/// goes back out of that port, through a packet core's ring.
pub struct Neighbours<'a> {
    /// Each unsecured port's MAC.
    pub macs: Vec<engine::wire::MacAddr>,
    /// The VMs' own addresses (never answered for).
    pub local: Vec<IpAddr>,
    /// The cores' rings to the unsecured ports.
    pub to_host: &'a [ArrayQueue<ToHost<Mbuf>>],
}

/// Our side of the sessions: a missed packet asks for its own (source,
/// destination) session when its source is one of our VMs; `-z` asks at
/// startup for the `-c/--config` sessions of each remote VIP, else for
/// (`--local-virt-ip`, remote).
pub struct Sources {
    /// Every virtual IP of our unsecured ports.
    pub local: HashSet<IpAddr>,
    /// `-c/--config` sessions: remote VIP -> the local VIPs asking.
    pub sessions: HashMap<IpAddr, Vec<IpAddr>>,
    /// `--local-virt-ip`.
    pub default: IpAddr,
}

impl Sources {
    /// Our VMs `local`, the `-c/--config` sessions as (remote VIP, local
    /// VIP), `--local-virt-ip`.
    pub fn new(
        local: impl IntoIterator<Item = IpAddr>,
        sessions: &[(IpAddr, IpAddr)],
        default: IpAddr,
    ) -> Sources {
        let mut by_remote: HashMap<IpAddr, Vec<IpAddr>> = HashMap::new();
        for &(remote, local) in sessions {
            by_remote.entry(remote).or_default().push(local);
        }
        Sources { local: local.into_iter().collect(), sessions: by_remote, default }
    }

    /// The sessions `-z` asks for to `dst`.
    pub fn at_startup(&self, dst: IpAddr) -> Vec<VipPair> {
        match self.sessions.get(&dst) {
            Some(locals) => locals.iter().map(|&src| VipPair { src, dst }).collect(),
            None => vec![VipPair { src: self.default, dst }],
        }
    }

    /// Whether `src` is one of our VMs: a session is asked for only then
    /// (a peer would admit the SPI from that source).
    pub fn is_ours(&self, src: IpAddr) -> bool {
        self.local.contains(&src)
    }
}

/// A flow batch of ours on its way.
enum Pending {
    /// The manager's install of `id` for a session, submitted at the
    /// instant.
    Install(VipPair, RequestId, Instant),
    /// A removal (nobody waits for it).
    Remove,
}

/// The control-plane thread's state, over the flow backend `B` (the
/// software tables or DOCA Flow): the miss path is the same for both.
pub struct ControlPlane<'a, B: FlowBackend> {
    dp: Arc<FlowHandle>,
    programmer: FlowProgrammer<B>,
    to_control: &'a ArrayQueue<ControlPacket<Mbuf>>,
    resubmit: &'a [ArrayQueue<Mbuf>],
    next_core: usize,
    manager: TunnelManager<PacketId, FlowRequest>,
    mbufs: HeldMbufs,
    calls: PeerCalls,
    pending: HashMap<u64, Pending>,
    start: Instant,
    printing: Printing<'a>,
    latest: Vec<Option<CoreSnapshot>>,
    last_print: Instant,
    show_rss: bool,
    driver: ControlCounters,
    inputs: Inputs,
    /// Destinations the command line or tunnels file places: the
    /// directory does not move them.
    pinned: HashSet<IpAddr>,
    static_peers: HashSet<SocketAddr>,
    sources: Sources,
    neighbours: Option<Neighbours<'a>>,
    next_host_core: usize,
}

impl<'a, B: FlowBackend> ControlPlane<'a, B> {
    /// A control plane over the datapath's rings.
    pub fn new(
        dp: Arc<FlowHandle>,
        programmer: FlowProgrammer<B>,
        to_control: &'a ArrayQueue<ControlPacket<Mbuf>>,
        resubmit: &'a [ArrayQueue<Mbuf>],
        req: Requests,
        show_rss: bool,
        printing: Printing<'a>,
    ) -> ControlPlane<'a, B> {
        let cfg = Config { rotation: req.rotation, ..Config::default() };
        let mut manager = TunnelManager::new(cfg, Time::ZERO);
        let pinned = req.peer_of.keys().copied().collect();
        let static_peers = req.peer_of.values().copied().collect();
        let sources =
            Sources::new(req.local_virt_ips.iter().copied(), &req.sessions, req.local_virt_ip);
        for (&dst, &peer) in &req.peer_of {
            manager.handle(Time::ZERO, Event::Directory { dst, peer: Some(peer) });
        }
        let calls = PeerCalls::new(req, Arc::clone(&dp), cfg.request_timeout, cfg.check_timeout);
        let latest = vec![None; printing.snapshots.len()];
        ControlPlane {
            dp,
            programmer,
            to_control,
            resubmit,
            next_core: 0,
            manager,
            mbufs: HeldMbufs::default(),
            calls,
            pending: HashMap::new(),
            start: Instant::now(),
            printing,
            latest,
            last_print: Instant::now(),
            show_rss,
            driver: ControlCounters::default(),
            inputs: Inputs::default(),
            pinned,
            static_peers,
            sources,
            neighbours: None,
            next_host_core: 0,
        }
    }

    /// Answers the VMs' ARP requests and neighbour solicitations.
    pub fn with_neighbours(mut self, neighbours: Neighbours<'a>) -> Self {
        self.neighbours = Some(neighbours);
        self
    }

    /// Takes queries and directory changes from `inputs` too.
    pub fn with_inputs(mut self, inputs: Inputs) -> Self {
        self.inputs = inputs;
        self
    }

    /// The control plane now, for the operator.
    fn observe(&self) -> Observation {
        Observation {
            control: self.counters(),
            cores: self.latest.iter().enumerate().filter_map(|(i, s)| Some((i, (*s)?))).collect(),
            tunnels: self.manager.tunnels().collect(),
            peers: self.manager.peers().collect(),
            static_peers: self.static_peers.clone(),
            directory: self
                .inputs
                .directory_health
                .as_ref()
                .map(|h| h.lock().unwrap_or_else(|e| e.into_inner()).clone()),
            sessions: self.programmer.backend().sessions(),
        }
    }

    /// The directory's changes, then the operator's queries.
    fn take_inputs(&mut self) -> bool {
        let mut busy = false;
        let now = self.now();
        while let Some(changes) = self.inputs.directory.as_ref().and_then(|r| r.try_recv().ok()) {
            busy = true;
            for c in changes {
                if self.pinned.contains(&c.dst) {
                    continue;
                }
                self.driver.directory_updates += 1;
                match c.peer {
                    Some(p) => {
                        tracing::info!(dst = %c.dst, peer = %p, "directory: destination placed")
                    }
                    None => tracing::info!(dst = %c.dst, "directory: destination withdrawn"),
                }
                self.manager.handle(now, Event::Directory { dst: c.dst, peer: c.peer });
            }
        }
        while let Some(Query(reply)) = self.inputs.queries.as_ref().and_then(|r| r.try_recv().ok())
        {
            busy = true;
            let _ = reply.send(self.observe());
        }
        busy
    }

    fn now(&self) -> Time {
        Time::from_start(self.start.elapsed())
    }

    /// The manager's counters with the driver's and the cores' latest.
    pub fn counters(&self) -> ControlCounters {
        let ports =
            crate::stats::PortCounters::sum(self.latest.iter().flatten().map(|s| s.control));
        ControlCounters { tunnels: self.manager.counters(), ports, ..self.driver }
    }

    /// Asks for tunnels to every mapped destination now (`-z`); failures
    /// are retried.
    pub fn connect_all(&mut self) {
        let now = self.now();
        let dsts: Vec<IpAddr> = self.calls.requests().peer_of.keys().copied().collect();
        for pair in dsts.into_iter().flat_map(|dst| self.sources.at_startup(dst)) {
            self.manager.handle(now, Event::Connect { pair });
        }
        self.carry_out();
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
        // Held packets are freed here, not leaked.
        self.manager.handle(self.now(), Event::Shutdown);
        self.carry_out();
        // The sessions as they stood (software; DOCA counts none).
        if self.printing.stat_print {
            if let Some(t) = self.programmer.backend().sessions() {
                crate::stats::session_lines(&t).iter().for_each(|l| println!("{l}"));
            }
        }
    }

    /// One turn; returns whether anything happened.
    pub fn turn(&mut self) -> bool {
        let mut busy = self.programmer.run_once() != engine::flows::Progress::default();
        busy |= self.take_inputs();
        while let Some(c) = self.dp.flows.poll() {
            busy = true;
            match self.pending.remove(&c.id) {
                Some(Pending::Install(pair, id, submitted)) => {
                    if c.result.is_ok() {
                        self.dp.perf.insertion.record(submitted.elapsed());
                    }
                    let result = c.result.map(|_| ()).map_err(|e| e.to_string());
                    self.manager.handle(self.now(), Event::Installed { pair, id, result });
                }
                Some(Pending::Remove) => {}
                None => self.dp.completions.complete(c.id, c.result),
            }
        }
        while let Some(outcome) = self.calls.try_recv() {
            busy = true;
            let event = match outcome {
                Outcome::Answer { pair, id, result } => {
                    // The manager's events carry reasons as text, for its log lines.
                    let result = result
                        .and_then(|p| self.dp.insert_tunnel(pair, &p).map_err(|e| e.to_string()));
                    Event::Answer { pair, id, result }
                }
                Outcome::Hello { peer, id, result } => Event::Hello { peer, id, result },
            };
            self.manager.handle(self.now(), event);
        }
        while let Ok((pair, installed)) = self.dp.egress_events.try_recv() {
            busy = true;
            self.manager.handle(self.now(), Event::ReverseTunnel { pair, installed });
        }
        self.carry_out();
        while let Some(cp) = self.to_control.pop() {
            busy = true;
            match cp.why {
                ToControl::Miss { pair } => {
                    if !self.sources.is_ours(pair.src) {
                        // No peer would admit it: nothing to ask for.
                        self.driver.misses_foreign_src += 1;
                        continue;
                    }
                    let packet = self.mbufs.insert(cp.packet);
                    self.manager.handle(self.now(), Event::Miss { pair, packet });
                    // At once: the mbufs in transit stay few.
                    self.carry_out();
                }
                ToControl::Rss => {
                    self.driver.rss += 1;
                    if let Some(port) = cp.vf {
                        self.answer_neighbour(port, cp.packet);
                    }
                }
                ToControl::Sampled { meta } => {
                    self.driver.sampled += 1;
                    if self.show_rss {
                        tracing::info!(
                            meta = format_args!("{meta:#x}"),
                            len = cp.packet.len(),
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
        if self.last_print.elapsed() >= self.printing.every {
            self.last_print = Instant::now();
            self.print();
        }
        let now = self.now();
        if self.manager.poll_timeout().is_some_and(|t| t <= now) {
            self.manager.handle(now, Event::Tick);
            busy |= self.carry_out();
        }
        busy
    }

    /// Carries out the manager's commands; returns whether there were any.
    fn carry_out(&mut self) -> bool {
        let mut any = false;
        while let Some(command) = self.manager.poll_command() {
            any = true;
            match command {
                Command::Request { id, pair, peer } => self.calls.request(id, pair, peer),
                Command::Install { id, pair, tunnel } => {
                    if let Err(why) =
                        self.submit(vec![tunnel], Pending::Install(pair, id, Instant::now()))
                    {
                        self.manager
                            .handle(self.now(), Event::Installed { pair, id, result: Err(why) });
                    }
                }
                Command::Remove { pair } => {
                    let (src, dst) = (pair.src, pair.dst);
                    tracing::info!(%src, %dst, "tunnel withdrawn (its peer left the directory)");
                    if let Err(why) =
                        self.submit(vec![FlowRequest::RemoveTunnel { pair }], Pending::Remove)
                    {
                        tracing::warn!(%src, %dst, %why, "tunnel not removed");
                    }
                }
                Command::Resubmit(p) => {
                    let Some(m) = self.mbufs.take(p) else { continue };
                    let ring = &self.resubmit[self.next_core % self.resubmit.len()];
                    self.next_core += 1;
                    if ring.push(m).is_err() {
                        self.driver.resubmit_ring_full += 1;
                    }
                }
                Command::Drop(p) => drop(self.mbufs.take(p)),
                Command::Hello { id, peer } => self.calls.hello(id, peer),
                Command::RotateMasterKey => self.calls.rotate(),
                Command::Notice(n) => self.notice(n),
            }
        }
        any
    }

    /// Answers an ARP request or neighbour solicitation from unsecured
    /// port `port` in its own mbuf and hands it to a core for that port;
    /// anything else is freed (counted).
    fn answer_neighbour(&mut self, port: u8, mut m: Mbuf) {
        use engine::wire::neighbour::{answer, Responder, REPLY_MAX_LEN};
        let Some(n) = &self.neighbours else { return };
        let Some(&mac) = n.macs.get(usize::from(port)) else { return };
        let mut reply = [0u8; REPLY_MAX_LEN];
        let a = match answer(&Responder { mac, local: &n.local }, m.data(), &mut reply) {
            Ok(a) => a,
            Err(why) => {
                self.driver.neighbour_unanswered += 1;
                tracing::debug!(port, %why, "neighbour query not answered");
                return;
            }
        };
        // The reply in place of the request: an mbuf holds either.
        let resized = match a.len.checked_sub(m.len()) {
            Some(more) => m.append(more),
            None => m.trim_back(m.len() - a.len),
        };
        if resized.is_err() {
            self.driver.neighbour_unanswered += 1;
            return;
        }
        m.data_mut().copy_from_slice(&reply[..a.len]);
        let ring = &n.to_host[self.next_host_core % n.to_host.len().max(1)];
        self.next_host_core += 1;
        if self.show_rss {
            tracing::info!(port, query = ?a.query, target = %a.target, asker = %a.asker,
                "neighbour query answered");
        }
        match ring.push(ToHost { port, packet: m }) {
            Ok(()) => self.driver.neighbour_answers += 1,
            Err(_) => self.driver.neighbour_unanswered += 1,
        }
    }

    fn submit(&mut self, requests: Vec<FlowRequest>, pending: Pending) -> Result<(), String> {
        let id = self.dp.next_batch.fetch_add(1, Ordering::Relaxed);
        self.dp.flows.submit(FlowBatch { id, requests }).map_err(|_| "flow request ring full")?;
        self.pending.insert(id, pending);
        Ok(())
    }

    fn notice(&self, n: Notice) {
        match n {
            Notice::TunnelUp { pair, waited } => {
                tracing::info!(src = %pair.src, dst = %pair.dst, "tunnel up");
                if let Some(w) = waited {
                    self.dp.perf.miss_to_first_packet.record(w);
                }
            }
            Notice::RequestFailed { pair, why, retry_in } => {
                let (src, dst) = (pair.src, pair.dst);
                tracing::warn!(%src, %dst, %why, ?retry_in, "tunnel request failed");
            }
            Notice::PeerUnreachable { peer, why } => {
                tracing::warn!(%peer, %why, "peer unreachable");
            }
            Notice::Rekeying { peer, why, tunnels } => {
                tracing::info!(%peer, tunnels, "{why}: re-keying");
            }
        }
    }

    /// Prints the periodic counters and latencies, as configured.
    pub fn print(&self) {
        if self.printing.stat_print || self.printing.json.is_some() {
            let tunnels = crate::stats::TunnelGauges::of(self.manager.tunnels());
            let gauges = tunnels.rows();
            let control = self.counters();
            // DOCA: the NIC's lines; software: the cores' latest snapshots.
            let nic = self.printing.nic_lines.as_ref().map(|nic| nic());
            let snaps: Vec<CoreSnapshot> = match nic {
                Some(_) => Vec::new(),
                None => self.latest.iter().flatten().copied().collect(),
            };
            let pipes = nic.is_none().then(|| PipeStats::sum(snaps.iter().map(|s| &s.pipes)));
            if self.printing.stat_print {
                if let Some(p) = &pipes {
                    crate::stats::print_periodic(&snaps, p, &control, &gauges);
                    if let Some(t) = self.programmer.backend().sessions() {
                        crate::stats::session_lines(&t).iter().for_each(|l| println!("{l}"));
                    }
                } else if let Some(lines) = &nic {
                    crate::stats::print_nic(lines.as_deref(), &control, &gauges);
                }
            }
            if let Some(json) = &self.printing.json {
                use crate::stats_json::{CoreReport, Kind, Report};
                let cores: Vec<CoreReport> = snaps
                    .iter()
                    .map(|s| CoreReport {
                        control: Some(s.control),
                        key_cache: Some(s.key_cache),
                        ..Default::default()
                    })
                    .collect();
                json.write(&Report {
                    kind: Kind::Periodic,
                    backend: if nic.is_some() { Backend::Doca } else { Backend::Software },
                    pipes: pipes.as_ref(),
                    nic: nic.as_ref().and_then(|l| l.as_deref()),
                    control: &control,
                    tunnels: Some(tunnels),
                    cores: &cores,
                    perf: Some(&self.dp.perf),
                });
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_sessions_come_from_the_config_else_the_first_local_vip() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let (r1, r2) = (ip("10.0.1.1"), ip("10.0.1.2"));
        let (l1, l2, d) = (ip("10.0.0.1"), ip("10.0.0.3"), ip("10.0.0.9"));
        let s = Sources::new([l1, l2, d], &[(r1, l1), (r1, l2), (r2, l2)], d);
        // Two of our VMs name r1: two sessions, one tunnel each.
        assert_eq!(s.at_startup(r1), [VipPair { src: l1, dst: r1 }, VipPair { src: l2, dst: r1 }]);
        assert_eq!(s.at_startup(r2), [VipPair { src: l2, dst: r2 }]);
        let other = ip("10.0.1.3");
        assert_eq!(s.at_startup(other), [VipPair { src: d, dst: other }]);
        assert!(s.is_ours(l2) && !s.is_ours(r1));
    }
}
