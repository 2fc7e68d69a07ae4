//! The state machine: per-session request phases (a session is a
//! [`VipPair`]: one of our VMs and a remote one), the directory's
//! destinations, per-peer session watches, the held packets and the
//! timers.

use super::{
    Command, Config, Event, Notice, Peer, PeerView, RekeyReason, RequestId, Session, Time,
    TunnelCounters, TunnelState, TunnelView,
};
use crate::flows::{HeldPackets, HoldOutcome};
use crate::tables::VipPair;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

/// Where a session's tunnel setup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing on its way.
    Idle,
    /// Request `id` is with the peer; it fails at `deadline`.
    Requesting { id: RequestId, deadline: Time },
    /// The answer to `id` is being installed.
    Installing { id: RequestId },
    /// The last attempt failed; the next one goes out at `at`.
    Waiting { at: Time },
}

/// One session (its peer is its destination's, in the directory).
#[derive(Debug)]
struct SessionState {
    /// Our tunnel for it is installed.
    ours: bool,
    /// A tunnel made from its peer's reverse parameters is installed.
    reverse: bool,
    phase: Phase,
    /// The last back-off delay; `None` after a success or a re-key.
    delay: Option<Duration>,
    /// Re-key asked while a request or install was on its way: ask again
    /// once it is done (its answer may predate the peer's new keys).
    again: bool,
    /// When the first of the packets now held missed.
    first_miss: Option<Time>,
}

impl SessionState {
    fn new() -> SessionState {
        SessionState {
            ours: false,
            reverse: false,
            phase: Phase::Idle,
            delay: None,
            again: false,
            first_miss: None,
        }
    }

    fn has_tunnel(&self) -> bool {
        self.ours || self.reverse
    }
}

/// What we know of one peer's session.
#[derive(Debug, Default)]
struct PeerWatch {
    /// The destinations behind it (inner addresses).
    dsts: Vec<IpAddr>,
    /// Its last answer, if it ever answered.
    last: Option<Session>,
    /// Whether the last check failed.
    unreachable: bool,
    /// The check on its way, and when it times out.
    checking: Option<(RequestId, Time)>,
    /// When the next check is due (`None`: as soon as it has a tunnel).
    next_check: Option<Time>,
}

/// The tunnel manager (see the [module](super) documentation). `P`: packet
/// handles; `T`: issued tunnels, opaque.
#[derive(Debug)]
pub struct TunnelManager<P, T> {
    cfg: Config,
    /// Every session known (from a miss, `-z` or a peer's reverse tunnel).
    sessions: HashMap<VipPair, SessionState>,
    /// The directory: destination -> the peer serving it.
    placed: HashMap<IpAddr, Peer>,
    /// Destination -> the sources of its sessions in `sessions`.
    srcs: HashMap<IpAddr, Vec<IpAddr>>,
    peers: HashMap<Peer, PeerWatch>,
    held: HeldPackets<P, VipPair>,
    commands: VecDeque<Command<P, T>>,
    next_id: u64,
    /// No timer is due before this (a lower bound: a scan at it may find
    /// nothing due and set the next one).
    wake: Option<Time>,
    next_rotation: Option<Time>,
    counters: TunnelCounters,
}

impl<P, T> TunnelManager<P, T> {
    /// A manager started at `now`, with an empty directory.
    pub fn new(cfg: Config, now: Time) -> TunnelManager<P, T> {
        let next_rotation = cfg.rotation.map(|every| now + every);
        TunnelManager {
            held: HeldPackets::new(cfg.held_destinations, cfg.held_per_destination),
            cfg,
            sessions: HashMap::new(),
            placed: HashMap::new(),
            srcs: HashMap::new(),
            peers: HashMap::new(),
            commands: VecDeque::new(),
            next_id: 1,
            wake: next_rotation,
            next_rotation,
            counters: TunnelCounters::default(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> TunnelCounters {
        self.counters
    }

    /// The next command to carry out, oldest first.
    pub fn poll_command(&mut self) -> Option<Command<P, T>> {
        self.commands.pop_front()
    }

    /// When to pass [`Event::Tick`] next (nothing is due before).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.wake
    }

    /// Whether our tunnel for `pair` is installed.
    pub fn is_up(&self, pair: VipPair) -> bool {
        self.sessions.get(&pair).is_some_and(|d| d.ours)
    }

    /// Packets held for `pair`.
    pub fn held(&self, pair: VipPair) -> usize {
        self.held.waiting(pair)
    }

    /// The peer serving `dst`, if the directory places it.
    pub fn peer_of(&self, dst: IpAddr) -> Option<Peer> {
        self.placed.get(&dst).copied()
    }

    /// Every session the manager knows (from a miss, `-z` or a peer's
    /// reverse tunnel), then every destination of the directory without
    /// one (`src: None`, idle), in no order.
    pub fn tunnels(&self) -> impl Iterator<Item = TunnelView> + '_ {
        let sessions = self.sessions.iter().map(|(&pair, d)| TunnelView {
            dst: pair.dst,
            src: Some(pair.src),
            peer: self.peer_of(pair.dst),
            state: match d.phase {
                Phase::Requesting { .. } => TunnelState::Requesting,
                Phase::Installing { .. } => TunnelState::Installing,
                Phase::Waiting { .. } => TunnelState::Waiting,
                Phase::Idle if d.ours => TunnelState::Up,
                Phase::Idle if d.reverse => TunnelState::ReverseOnly,
                Phase::Idle => TunnelState::Idle,
            },
            ours: d.ours,
            reverse: d.reverse,
            held: self.held.waiting(pair),
        });
        let idle = self.placed.iter().filter(|(dst, _)| !self.srcs.contains_key(dst)).map(
            |(&dst, &peer)| TunnelView {
                dst,
                src: None,
                peer: Some(peer),
                state: TunnelState::Idle,
                ours: false,
                reverse: false,
                held: 0,
            },
        );
        sessions.chain(idle)
    }

    /// Every peer serving a destination or watched, in no order.
    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.peers.iter().map(|(&peer, w)| PeerView {
            peer,
            session: w.last,
            unreachable: w.unreachable,
            destinations: w.dsts.len(),
        })
    }

    /// Takes one event at `now`; its commands wait in
    /// [`poll_command`](Self::poll_command).
    pub fn handle(&mut self, now: Time, event: Event<P, T>) {
        match event {
            Event::Miss { pair, packet } => self.missed(now, pair, packet),
            Event::Answer { pair, id, result } => self.answered(now, pair, id, result),
            Event::Installed { pair, id, result } => self.installed(now, pair, id, result),
            Event::Hello { peer, id, result } => self.checked(now, peer, id, result),
            Event::ReverseTunnel { pair, installed } => {
                self.session(pair).reverse = installed;
                if installed {
                    self.wake_at(now); // its peer may be due for a check
                }
            }
            Event::Directory { dst, peer } => self.directory(now, dst, peer),
            Event::Connect { pair } => {
                if self.placed.contains_key(&pair.dst) {
                    let d = self.session(pair);
                    if d.phase == Phase::Idle && !d.ours {
                        self.request(now, pair);
                    }
                }
            }
            Event::Tick => self.tick(now),
            Event::Shutdown => {
                let pairs: Vec<VipPair> = self.sessions.keys().copied().collect();
                for pair in pairs {
                    self.discard(pair);
                }
            }
        }
    }

    /// The state of `pair`, made (idle) if it is new.
    fn session(&mut self, pair: VipPair) -> &mut SessionState {
        let srcs = &mut self.srcs;
        self.sessions.entry(pair).or_insert_with(|| {
            srcs.entry(pair.dst).or_default().push(pair.src);
            SessionState::new()
        })
    }

    /// The sessions to `dst`.
    fn sessions_to(&self, dst: IpAddr) -> impl Iterator<Item = VipPair> + '_ {
        self.srcs.get(&dst).into_iter().flatten().map(move |&src| VipPair { src, dst })
    }

    /// The sessions to `dst` with a tunnel installed (ours or the peer's).
    fn tunnels_to(&self, dst: IpAddr) -> impl Iterator<Item = VipPair> + '_ {
        self.sessions_to(dst).filter(|p| self.sessions.get(p).is_some_and(SessionState::has_tunnel))
    }

    fn wake_at(&mut self, t: Time) {
        self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }

    fn fresh_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    fn missed(&mut self, now: Time, pair: VipPair, packet: P) {
        self.counters.misses += 1;
        if !self.placed.contains_key(&pair.dst) {
            self.counters.no_peer += 1;
            self.commands.push_back(Command::Drop(packet));
            return;
        }
        let d = self.session(pair);
        let (ours, idle) = (d.ours, d.phase == Phase::Idle);
        let (new, outcome) = self.held.hold(pair, packet);
        if new {
            if let Some(d) = self.sessions.get_mut(&pair) {
                d.first_miss.get_or_insert(now);
            }
        }
        match outcome {
            HoldOutcome::Held => {}
            HoldOutcome::DroppedOldest(p) | HoldOutcome::Refused(p) => {
                self.counters.held_dropped += 1;
                self.commands.push_back(Command::Drop(p));
            }
        }
        if ours {
            // The tunnel came up while this packet was on its way.
            self.release(pair);
        } else if idle {
            self.request(now, pair);
        }
    }

    /// Sends a request for `pair` (the caller checked that none is on its
    /// way).
    fn request(&mut self, now: Time, pair: VipPair) {
        let id = self.fresh_id();
        let deadline = now + self.cfg.request_timeout;
        let Some(peer) = self.peer_of(pair.dst) else { return };
        let Some(d) = self.sessions.get_mut(&pair) else { return };
        d.phase = Phase::Requesting { id, deadline };
        d.again = false;
        self.commands.push_back(Command::Request { id, pair, peer });
        self.wake_at(deadline);
    }

    fn answered(&mut self, now: Time, pair: VipPair, id: RequestId, result: Result<T, String>) {
        let current = self.sessions.get(&pair).map(|d| d.phase);
        if !matches!(current, Some(Phase::Requesting { id: i, .. }) if i == id) {
            self.counters.stale_answers += 1;
            return;
        }
        match result {
            Ok(tunnel) => {
                if let Some(d) = self.sessions.get_mut(&pair) {
                    d.phase = Phase::Installing { id };
                }
                self.commands.push_back(Command::Install { id, pair, tunnel });
            }
            Err(why) => self.failed(now, pair, why),
        }
    }

    fn installed(&mut self, now: Time, pair: VipPair, id: RequestId, result: Result<(), String>) {
        let Some(d) = self.sessions.get_mut(&pair) else { return };
        if d.phase != (Phase::Installing { id }) {
            return;
        }
        if let Err(why) = result {
            self.failed(now, pair, why);
            return;
        }
        d.phase = Phase::Idle;
        d.ours = true;
        d.delay = None;
        let again = std::mem::take(&mut d.again);
        let waited = d.first_miss.take().map(|t| now.since(t));
        self.counters.tunnels_up += 1;
        self.commands.push_back(Command::Notice(Notice::TunnelUp { pair, waited }));
        self.release(pair);
        self.wake_at(now); // its peer may be due for a check
        if again {
            self.request(now, pair);
        }
    }

    fn failed(&mut self, now: Time, pair: VipPair, why: String) {
        let Some(d) = self.sessions.get_mut(&pair) else { return };
        self.counters.requests_failed += 1;
        let delay = d.delay.map_or(self.cfg.retry_min, |r| (r * 2).min(self.cfg.retry_max));
        d.delay = Some(delay);
        d.again = false;
        d.phase = Phase::Waiting { at: now + delay };
        self.commands.push_back(Command::Notice(Notice::RequestFailed {
            pair,
            why,
            retry_in: delay,
        }));
        self.wake_at(now + delay);
    }

    fn release(&mut self, pair: VipPair) {
        let commands = &mut self.commands;
        let n = self.held.release(pair, |p| commands.push_back(Command::Resubmit(p)));
        self.counters.resubmitted += n as u64;
        if let Some(d) = self.sessions.get_mut(&pair) {
            d.first_miss = None;
        }
    }

    fn discard(&mut self, pair: VipPair) {
        let commands = &mut self.commands;
        let n = self.held.discard(pair, |p| commands.push_back(Command::Drop(p)));
        self.counters.held_dropped += n as u64;
        if let Some(d) = self.sessions.get_mut(&pair) {
            d.first_miss = None;
        }
    }

    fn directory(&mut self, now: Time, dst: IpAddr, peer: Option<Peer>) {
        let before = match peer {
            Some(p) => self.placed.insert(dst, p),
            None => self.placed.remove(&dst),
        };
        if before == peer {
            return;
        }
        if let Some(w) = before.and_then(|p| self.peers.get_mut(&p)) {
            w.dsts.retain(|x| *x != dst);
        }
        let pairs: Vec<VipPair> = self.sessions_to(dst).collect();
        let Some(peer) = peer else {
            // Behind no peer now: nothing will be asked, nothing sent,
            // whichever side made the tunnels (the peer's reverse ones too).
            for pair in pairs {
                let Some(d) = self.sessions.get_mut(&pair) else { continue };
                let had = d.has_tunnel();
                d.ours = false;
                d.reverse = false;
                d.phase = Phase::Idle;
                d.delay = None;
                d.again = false;
                if had {
                    self.counters.withdrawn += 1;
                    self.commands.push_back(Command::Remove { pair });
                }
                self.discard(pair);
            }
            return;
        };
        self.peers.entry(peer).or_default().dsts.push(dst);
        if before.is_none() {
            return;
        }
        // Moved: what the old peer gave or will give is of no use.
        let tunnels = self.tunnels_to(dst).count();
        if tunnels > 0 {
            self.commands.push_back(Command::Notice(Notice::Rekeying {
                peer,
                why: RekeyReason::Moved,
                tunnels,
            }));
        }
        for pair in pairs {
            let Some(d) = self.sessions.get_mut(&pair) else { continue };
            if d.has_tunnel() {
                self.rekey(now, pair);
            } else if matches!(d.phase, Phase::Requesting { .. } | Phase::Waiting { .. }) {
                self.request(now, pair);
            } else if matches!(d.phase, Phase::Installing { .. }) {
                d.again = true;
            }
        }
    }

    /// Asks for `pair`'s tunnel again: now, or once what is on its way is
    /// done.
    fn rekey(&mut self, now: Time, pair: VipPair) {
        let Some(d) = self.sessions.get_mut(&pair) else { return };
        self.counters.rekeys += 1;
        d.delay = None;
        match d.phase {
            Phase::Requesting { .. } | Phase::Installing { .. } => d.again = true,
            Phase::Idle | Phase::Waiting { .. } => self.request(now, pair),
        }
    }

    fn checked(&mut self, now: Time, peer: Peer, id: RequestId, result: Result<Session, String>) {
        let Some(w) = self.peers.get_mut(&peer) else { return };
        if !matches!(w.checking, Some((i, _)) if i == id) {
            self.counters.stale_answers += 1;
            return;
        }
        w.checking = None;
        let session = match result {
            Ok(s) => s,
            Err(why) => {
                if !std::mem::replace(&mut w.unreachable, true) {
                    self.commands.push_back(Command::Notice(Notice::PeerUnreachable { peer, why }));
                }
                return;
            }
        };
        let was_unreachable = std::mem::replace(&mut w.unreachable, false);
        let why = match (w.last.replace(session), session) {
            (
                Some(Session::Known { instance_id: a, .. }),
                Session::Known { instance_id: b, .. },
            ) if a != b => {
                self.counters.peer_restarts += 1;
                RekeyReason::Restarted
            }
            (Some(Session::Known { key_epoch: a, .. }), Session::Known { key_epoch: b, .. })
                if a != b =>
            {
                self.counters.peer_rotations += 1;
                RekeyReason::Rotated
            }
            (Some(Session::Unknown), Session::Unknown) if was_unreachable => {
                self.counters.peer_restarts += 1;
                RekeyReason::Back
            }
            _ => return,
        };
        let behind = w.dsts.clone();
        let pairs: Vec<VipPair> = behind.into_iter().flat_map(|dst| self.tunnels_to(dst)).collect();
        self.commands.push_back(Command::Notice(Notice::Rekeying {
            peer,
            why,
            tunnels: pairs.len(),
        }));
        for pair in pairs {
            self.rekey(now, pair);
        }
    }

    /// Acts on every timer due at `now` and finds the next one.
    fn tick(&mut self, now: Time) {
        if self.wake.is_none_or(|w| w > now) {
            return;
        }
        let mut next: Option<Time> = None;
        let mut soonest = |t: Time| next = Some(next.map_or(t, |n: Time| n.min(t)));
        // Requests: retries due, timeouts passed.
        let mut retry = Vec::new();
        let mut timed_out = Vec::new();
        for (&pair, d) in &self.sessions {
            match d.phase {
                Phase::Waiting { at } if at <= now => retry.push(pair),
                Phase::Requesting { deadline, .. } if deadline <= now => timed_out.push(pair),
                Phase::Waiting { at: t } | Phase::Requesting { deadline: t, .. } => soonest(t),
                Phase::Idle | Phase::Installing { .. } => {}
            }
        }
        // Session checks: timeouts passed, checks due for peers with tunnels.
        let mut check_failed = Vec::new();
        let mut check = Vec::new();
        for (&peer, w) in &self.peers {
            match w.checking {
                Some((id, deadline)) if deadline <= now => check_failed.push((peer, id)),
                Some((_, deadline)) => soonest(deadline),
                None => {
                    if !w.dsts.iter().any(|&dst| self.tunnels_to(dst).next().is_some()) {
                        continue;
                    }
                    match w.next_check {
                        Some(t) if t > now => soonest(t),
                        _ => check.push(peer),
                    }
                }
            }
        }
        if let Some(t) = self.next_rotation {
            if t <= now {
                let every = self.cfg.rotation.unwrap_or(Duration::from_secs(1));
                self.next_rotation = Some(now + every);
                self.counters.rotations += 1;
                self.commands.push_back(Command::RotateMasterKey);
            }
        }
        if let Some(t) = self.next_rotation {
            soonest(t);
        }
        self.wake = next;
        for pair in retry {
            self.request(now, pair);
        }
        for pair in timed_out {
            self.failed(now, pair, "request timed out".into());
        }
        for (peer, id) in check_failed {
            self.checked(now, peer, id, Err("session check timed out".into()));
            // Checked again at its next_check, already set.
            if let Some(t) = self.peers.get(&peer).and_then(|w| w.next_check) {
                self.wake_at(t.max(now));
            }
        }
        for peer in check {
            let id = self.fresh_id();
            let deadline = now + self.cfg.check_timeout;
            let next_check = now + self.cfg.peer_check;
            if let Some(w) = self.peers.get_mut(&peer) {
                w.checking = Some((id, deadline));
                w.next_check = Some(next_check);
                self.commands.push_back(Command::Hello { id, peer });
                self.wake_at(deadline);
                self.wake_at(next_check);
            }
        }
    }
}
