//! Two managers back to back, as quinn's `Pair`: gateways A (10.0.0.1) and
//! B (10.0.0.2), each a [`TunnelManager`] with a model of what its driver,
//! gRPC service and datapath do, over a virtual network with latency. A
//! key is valid at its issuer while the issuer runs the same instance and
//! has rotated at most once since (two master-key slots).

use super::*;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// A key as its issuer gave it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    instance: u64,
    epoch: u64,
    spi: u32,
}

/// What travels, and where it lands.
#[derive(Debug)]
enum Msg {
    /// An event for gateway `to`'s manager (dropped if `to` restarted
    /// since: the calls of a dead process die with it).
    Event { to: usize, life: u64, event: Event<u64, Key> },
    /// A tunnel request reaching gateway `to`'s service.
    Serve { to: usize, from: usize, life: u64, id: RequestId, reverse: Key },
    /// A session check reaching `to`.
    Hello { to: usize, from: usize, life: u64, id: RequestId },
    /// An install finishing on `at`'s packet cores.
    Installed { at: usize, life: u64, pair: VipPair, id: RequestId, key: Key },
    /// One packet from `from` to the other gateway.
    Send { from: usize },
}

/// One gateway.
struct Gw {
    virt: IpAddr,
    svc: Peer,
    cfg: Config,
    m: TunnelManager<u64, Key>,
    /// Serving (false: down, calls are refused).
    up: bool,
    /// Accepting calls and never answering.
    silent: bool,
    instance: u64,
    /// Bumped per restart; messages to an older life are lost.
    life: u64,
    epoch: u64,
    next_spi: u32,
    /// What the packet cores send with, by inner destination.
    egress: HashMap<IpAddr, Key>,
    next_packet: u64,
    resubmitted: Vec<u64>,
    dropped: Vec<u64>,
    requests: u64,
    /// Packets this gateway received with a valid key / a dead one.
    received: u64,
    rejected: u64,
}

impl Gw {
    fn new(n: u8, cfg: Config, now: Time) -> Gw {
        Gw {
            virt: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
            svc: Peer::from(([127, 0, 0, 1], 50150 + n as u16)),
            cfg,
            m: TunnelManager::new(cfg, now),
            up: true,
            silent: false,
            instance: n as u64 * 1000,
            life: 0,
            epoch: 0,
            next_spi: 1,
            egress: HashMap::new(),
            next_packet: n as u64 * 1_000_000,
            resubmitted: Vec::new(),
            dropped: Vec::new(),
            requests: 0,
            received: 0,
            rejected: 0,
        }
    }

    fn issue(&mut self) -> Key {
        self.next_spi += 1;
        Key { instance: self.instance, epoch: self.epoch, spi: self.next_spi }
    }

    fn accepts(&self, k: Key) -> bool {
        self.up && k.instance == self.instance && self.epoch - k.epoch <= 1
    }
}

/// The two gateways and the network between them.
struct Pair {
    now: Time,
    gws: [Gw; 2],
    queue: BTreeMap<(Time, u64), Msg>,
    seq: u64,
    /// One way, for every call.
    latency: Duration,
    /// Time a service takes to issue a tunnel (key generation).
    serve_delay: Duration,
    install_delay: Duration,
}

const A: usize = 0;
const B: usize = 1;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Pair {
    fn new(cfg: Config) -> Pair {
        Pair::with(cfg, cfg)
    }

    fn with(a: Config, b: Config) -> Pair {
        let mut p = Pair {
            now: Time::ZERO,
            gws: [Gw::new(1, a, Time::ZERO), Gw::new(2, b, Time::ZERO)],
            queue: BTreeMap::new(),
            seq: 0,
            latency: ms(1),
            serve_delay: Duration::ZERO,
            install_delay: Duration::from_micros(100),
        };
        for i in [A, B] {
            p.directory(i);
        }
        p
    }

    /// A's session to B.
    fn ab(&self) -> VipPair {
        VipPair { src: self.gws[A].virt, dst: self.gws[B].virt }
    }

    /// Gateway `i`'s directory: the other one serves its address.
    fn directory(&mut self, i: usize) {
        let (dst, peer) = (self.gws[1 - i].virt, Some(self.gws[1 - i].svc));
        self.gws[i].m.handle(self.now, Event::Directory { dst, peer });
    }

    fn at(&mut self, after: Duration, msg: Msg) {
        self.seq += 1;
        self.queue.insert((self.now + after, self.seq), msg);
    }

    fn event(&mut self, to: usize, after: Duration, event: Event<u64, Key>) {
        let life = self.gws[to].life;
        self.at(after, Msg::Event { to, life, event });
    }

    /// `from` sends one packet every `every` for `for_`, starting now.
    fn traffic(&mut self, from: usize, every: Duration, for_: Duration) {
        let n = for_.as_micros() / every.as_micros();
        for k in 0..n as u32 {
            self.at(every * k, Msg::Send { from });
        }
    }

    /// Runs everything due until `until` (relative to now).
    fn run(&mut self, until: Duration) {
        let end = self.now + until;
        loop {
            self.carry_out();
            let msg = self.queue.keys().next().copied();
            let timers = self.gws.iter().filter_map(|g| g.m.poll_timeout()).min();
            let next = [msg.map(|(t, _)| t), timers].into_iter().flatten().min();
            match next {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => break,
            }
            if msg.is_some_and(|(t, _)| t <= self.now) {
                let (_, m) = self.queue.pop_first().expect("a message");
                self.deliver(m);
            } else {
                for g in &mut self.gws {
                    g.m.handle(self.now, Event::Tick);
                }
            }
        }
        self.now = end;
        for g in &mut self.gws {
            g.m.handle(end, Event::Tick);
        }
        self.carry_out();
    }

    fn deliver(&mut self, m: Msg) {
        let now = self.now;
        match m {
            Msg::Event { to, life, event } => {
                if self.gws[to].life == life {
                    self.gws[to].m.handle(now, event);
                }
            }
            Msg::Serve { to, from, life, id, reverse } => {
                // The asker's session, and ours the other way.
                let pair = VipPair { src: self.gws[from].virt, dst: self.gws[to].virt };
                let back = VipPair { src: pair.dst, dst: pair.src };
                let g = &mut self.gws[to];
                if g.silent {
                    return;
                }
                if !g.up || g.life != life {
                    return self.event(
                        from,
                        self.latency,
                        Event::Answer { pair, id, result: Err("connection refused".into()) },
                    );
                }
                // The reverse tunnel goes in before the answer leaves.
                g.egress.insert(back.dst, reverse);
                g.m.handle(now, Event::ReverseTunnel { pair: back, installed: true });
                let key = g.issue();
                let after = self.serve_delay + self.latency;
                self.event(from, after, Event::Answer { pair, id, result: Ok(key) });
            }
            Msg::Hello { to, from, life, id } => {
                let g = &self.gws[to];
                let peer = g.svc;
                let result = match (g.up && g.life == life, g.silent) {
                    (_, true) => return,
                    (true, _) => Ok(Session::Known { instance_id: g.instance, key_epoch: g.epoch }),
                    (false, _) => Err("connection refused".to_string()),
                };
                self.event(from, self.latency, Event::Hello { peer, id, result });
            }
            Msg::Installed { at, life, pair, id, key } => {
                if self.gws[at].life == life {
                    self.gws[at].egress.insert(pair.dst, key);
                    self.gws[at].m.handle(now, Event::Installed { pair, id, result: Ok(()) });
                }
            }
            Msg::Send { from } if !self.gws[from].up => {}
            Msg::Send { from } => {
                let pair = VipPair { src: self.gws[from].virt, dst: self.gws[1 - from].virt };
                match self.gws[from].egress.get(&pair.dst).copied() {
                    Some(key) => self.arrive(1 - from, key),
                    None => {
                        let g = &mut self.gws[from];
                        g.next_packet += 1;
                        let packet = g.next_packet;
                        g.m.handle(now, Event::Miss { pair, packet });
                    }
                }
            }
        }
    }

    fn arrive(&mut self, at: usize, key: Key) {
        let g = &mut self.gws[at];
        if g.accepts(key) {
            g.received += 1;
        } else {
            g.rejected += 1;
        }
    }

    /// Carries out both managers' commands, as their drivers would.
    fn carry_out(&mut self) {
        loop {
            let mut any = false;
            for i in [A, B] {
                while let Some(c) = self.gws[i].m.poll_command() {
                    any = true;
                    if self.gws[i].up {
                        self.command(i, c);
                    }
                }
            }
            if !any {
                break;
            }
        }
    }

    fn command(&mut self, i: usize, c: Command<u64, Key>) {
        let j = 1 - i;
        let life = self.gws[j].life;
        match c {
            Command::Request { id, pair, peer } => {
                let want = VipPair { src: self.gws[i].virt, dst: self.gws[j].virt };
                assert_eq!((pair, peer), (want, self.gws[j].svc));
                self.gws[i].requests += 1;
                let reverse = self.gws[i].issue();
                self.at(self.latency, Msg::Serve { to: j, from: i, life, id, reverse });
            }
            Command::Install { id, pair, tunnel } => {
                let life = self.gws[i].life;
                let msg = Msg::Installed { at: i, life, pair, id, key: tunnel };
                self.at(self.install_delay, msg);
            }
            Command::Remove { pair } => {
                self.gws[i].egress.remove(&pair.dst);
            }
            Command::Resubmit(p) => {
                self.gws[i].resubmitted.push(p);
                let key = self.gws[i].egress.get(&self.gws[j].virt).copied();
                self.arrive(j, key.expect("resubmitted through an installed tunnel"));
            }
            Command::Drop(p) => self.gws[i].dropped.push(p),
            Command::Hello { id, peer } => {
                assert_eq!(peer, self.gws[j].svc);
                self.at(self.latency, Msg::Hello { to: j, from: i, life, id });
            }
            Command::RotateMasterKey => self.gws[i].epoch += 1,
            Command::Notice(_) => {}
        }
    }

    /// Gateway `i` dies now and comes back (new instance, new keys, empty
    /// tables, a new manager) after `down`.
    fn restart(&mut self, i: usize, down: Duration) {
        let g = &mut self.gws[i];
        g.up = false;
        g.life += 1;
        g.instance += 1;
        g.epoch = 0;
        g.egress.clear();
        self.run(down);
        let g = &mut self.gws[i];
        g.m = TunnelManager::new(g.cfg, self.now);
        g.up = true;
        self.directory(i);
    }
}

#[test]
fn pair_sets_up_both_ways_on_the_first_packet() {
    let mut p = Pair::new(Config::default());
    p.at(Duration::ZERO, Msg::Send { from: A });
    p.run(ms(10));
    // Request 1 ms there, answer 1 ms back, install 0.1 ms: up at 2.1 ms.
    assert!(p.gws[A].m.is_up(p.ab()));
    assert_eq!((p.gws[A].resubmitted.len(), p.gws[B].received), (1, 1));
    // B sends back through the reverse tunnel A gave it: no miss there.
    p.traffic(B, ms(1), ms(5));
    p.run(ms(10));
    assert_eq!((p.gws[A].received, p.gws[B].m.counters().misses), (5, 0));
    // Both check each other's session, and nothing is re-keyed.
    p.run(ms(2000));
    let (a, b) = (p.gws[A].m.counters(), p.gws[B].m.counters());
    assert_eq!((a.tunnels_up, a.rekeys, b.rekeys, a.requests_failed), (1, 0, 0, 0));
    assert_eq!(p.gws[A].requests + p.gws[B].requests, 1, "one key exchange for both ways");
}

#[test]
fn pair_shares_one_request_among_concurrent_misses() {
    let mut p = Pair::new(Config::default());
    p.latency = ms(20);
    p.traffic(A, ms(1), ms(30));
    p.run(ms(100));
    assert_eq!(p.gws[A].requests, 1);
    // 40 ms round trip: all 30 packets missed and were held.
    let a = p.gws[A].m.counters();
    assert_eq!(a.misses, a.resubmitted);
    assert_eq!(p.gws[B].received, 30);
    assert!(p.gws[A].dropped.is_empty());
}

#[test]
fn pair_restarted_peer_is_re_keyed_and_traffic_recovers() {
    let mut p = Pair::new(Config::default());
    p.traffic(A, ms(10), ms(6000));
    p.traffic(B, ms(10), ms(6000));
    p.run(ms(2000));
    assert_eq!(p.gws[B].rejected, 0);
    p.restart(B, ms(500));
    let back = p.now;
    p.run(ms(1000));
    // A saw the new instance within a check and asked again; B's new
    // manager got A's tunnel back from A's reverse parameters.
    let a = p.gws[A].m.counters();
    assert_eq!(a.peer_restarts, 1);
    assert!(a.rekeys >= 1);
    let key = p.gws[A].egress[&p.gws[B].virt];
    assert_eq!(key.instance, p.gws[B].instance);
    let rejected = p.gws[B].rejected;
    p.run(ms(2500));
    assert_eq!(p.gws[B].rejected, rejected, "nothing lost after recovery");
    assert!(p.now.since(back) >= ms(3000));
    // Under 1 s of A's packets to B (100/s) went to the dead keys.
    assert!(rejected < 100, "{rejected} rejected");
}

#[test]
fn pair_rotations_lose_no_packet() {
    let cfg = Config { rotation: Some(ms(2000)), ..Config::default() };
    let mut p = Pair::new(cfg);
    p.traffic(A, ms(5), ms(12_000));
    p.traffic(B, ms(7), ms(12_000));
    p.run(ms(12_100));
    let (a, b) = (p.gws[A].m.counters(), p.gws[B].m.counters());
    assert_eq!((a.rotations, b.rotations), (6, 6));
    assert!(a.peer_rotations >= 5 && b.peer_rotations >= 5, "{a:?} {b:?}");
    assert_eq!((p.gws[A].rejected, p.gws[B].rejected), (0, 0));
    assert!(p.gws[B].received > 2000 && p.gws[A].received > 1500);
}

fn a_tunnels_up(p: &Pair) -> u64 {
    p.gws[A].m.counters().tunnels_up
}

#[test]
fn pair_rotation_during_a_rekey_asks_again() {
    // Slow calls (200 ms each way, 300 ms to issue) so that the peer's
    // second rotation is seen while the re-key for its first is on its way.
    let cfg = Config { check_timeout: ms(1000), ..Config::default() };
    let mut p = Pair::new(cfg);
    p.at(Duration::ZERO, Msg::Send { from: A });
    p.run(ms(1000));
    p.latency = ms(200);
    p.serve_delay = ms(300);
    assert!(p.gws[A].m.is_up(p.ab()));
    p.gws[B].epoch += 1;
    // A's checks (every 500 ms, 400 ms round trip) see epoch 1, ask again
    // (answered 700 ms later); B rotates again meanwhile.
    p.run(ms(450));
    assert_eq!(p.gws[A].m.counters().peer_rotations, 1);
    // The re-key was served at epoch 1 (at 1.6 s); its answer lands at
    // 2.1 s, after A's check served at 1.7 s saw epoch 2.
    p.run(ms(200));
    p.gws[B].epoch += 1;
    p.run(ms(3000));
    assert_eq!(p.gws[A].requests, 3, "first, re-key, and again after it");
    assert_eq!(a_tunnels_up(&p), 3);
    let a = p.gws[A].m.counters();
    assert_eq!(a.peer_rotations, 2);
    let key = p.gws[A].egress[&p.gws[B].virt];
    assert_eq!(key.epoch, p.gws[B].epoch, "the last key is of the newest epoch");
    assert!(p.gws[B].accepts(key));
}

#[test]
fn pair_silent_peer_backs_off_and_holds_a_bounded_queue() {
    let mut p = Pair::new(Config::default());
    p.gws[B].silent = true;
    p.traffic(A, Duration::from_micros(500), ms(8000));
    p.run(ms(8000));
    let a = p.gws[A].m.counters();
    // Timeouts at 2 s, then retries after 0.1, 0.2, 0.4 s (each timing
    // out after 2 s): 4 requests in 8 s.
    assert_eq!(p.gws[A].requests, 4);
    assert_eq!(a.requests_failed, 3);
    assert_eq!(p.gws[A].m.held(p.ab()), 64);
    assert_eq!(a.held_dropped, 16_000 - 64);
    // B answers again: the held packets go out, in order.
    p.gws[B].silent = false;
    p.run(ms(10_000));
    let a = p.gws[A].m.counters();
    assert_eq!(a.tunnels_up, 1);
    let r = &p.gws[A].resubmitted;
    assert_eq!(r.len(), 64);
    assert!(r.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*r.last().unwrap(), 1_000_000 + 16_000, "the newest kept");
}
