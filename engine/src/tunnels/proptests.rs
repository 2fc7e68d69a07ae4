//! Property test: under any interleaving of misses, answers (in order,
//! out of order, stale, failed), installs, session answers, reverse
//! tunnels, directory changes and time, every packet handed to the
//! manager comes back exactly once (resubmitted or dropped, never both),
//! every answer is installed at most once, and the counters agree with
//! the commands.

use super::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Op {
    Miss(u8),
    Answer { pick: usize, ok: bool },
    Stale { id: u64, session: u8 },
    Installed { pick: usize, ok: bool },
    Hello { pick: usize, instance: u8, epoch: u8, fail: bool },
    Reverse { session: u8, on: bool },
    Directory { dst: u8, peer: u8 },
    Connect(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..10).prop_map(Op::Miss),
        2 => (any::<usize>(), prop::bool::weighted(0.7)).prop_map(|(pick, ok)| Op::Answer { pick, ok }),
        1 => (0u64..40, 0u8..10).prop_map(|(id, session)| Op::Stale { id, session }),
        2 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(pick, ok)| Op::Installed { pick, ok }),
        1 => (any::<usize>(), 0u8..2, 0u8..3, any::<bool>())
            .prop_map(|(pick, instance, epoch, fail)| Op::Hello { pick, instance, epoch, fail }),
        1 => (0u8..10, any::<bool>()).prop_map(|(session, on)| Op::Reverse { session, on }),
        1 => (0u8..5, 0u8..3).prop_map(|(dst, peer)| Op::Directory { dst, peer }),
        1 => (0u8..10).prop_map(Op::Connect),
        2 => (0u16..3000).prop_map(Op::Advance),
    ]
}

fn dst(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + n))
}

/// Session `n`: one of two VMs of ours (10.0.1.1, 10.0.1.2) to `dst(n % 5)`.
fn session(n: u8) -> VipPair {
    VipPair { src: IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1 + n / 5 % 2)), dst: dst(n % 5) }
}

fn peer(n: u8) -> Peer {
    Peer::from(([127, 0, 0, 1], 50150 + n as u16))
}

/// The driver's view, and the invariants checked on every command.
#[derive(Default)]
struct Model {
    /// Packets with the manager.
    live: HashSet<u64>,
    next_packet: u64,
    requests: Vec<(RequestId, VipPair)>,
    asked: HashMap<RequestId, VipPair>,
    installs: Vec<(RequestId, VipPair)>,
    installed: HashSet<RequestId>,
    hellos: Vec<(RequestId, Peer)>,
    resubmits: u64,
    drops: u64,
    ups: u64,
}

impl Model {
    fn drain(&mut self, m: &mut TunnelManager<u64, u64>) -> Result<(), TestCaseError> {
        while let Some(c) = m.poll_command() {
            match c {
                Command::Request { id, pair, .. } => {
                    prop_assert!(self.asked.insert(id, pair).is_none(), "request id reused");
                    self.requests.push((id, pair));
                }
                Command::Install { id, pair, tunnel } => {
                    prop_assert_eq!(tunnel, id.0, "the answer to this request");
                    prop_assert_eq!(self.asked.get(&id), Some(&pair));
                    prop_assert!(self.installed.insert(id), "answer {:?} installed twice", id);
                    self.installs.push((id, pair));
                }
                Command::Resubmit(p) => {
                    prop_assert!(self.live.remove(&p), "packet {} given back twice", p);
                    self.resubmits += 1;
                }
                Command::Drop(p) => {
                    prop_assert!(self.live.remove(&p), "packet {} given back twice", p);
                    self.drops += 1;
                }
                Command::Hello { id, peer } => self.hellos.push((id, peer)),
                Command::Notice(Notice::TunnelUp { .. }) => self.ups += 1,
                Command::Remove { .. } | Command::RotateMasterKey | Command::Notice(_) => {}
            }
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let cfg = Config {
        rotation: Some(Duration::from_secs(3)),
        held_destinations: 3,
        held_per_destination: 4,
        ..Config::default()
    };
    let mut m: TunnelManager<u64, u64> = TunnelManager::new(cfg, Time::ZERO);
    let mut now = Time::ZERO;
    // 10.0.0.2-4 behind two peers; 10.0.0.5-6 behind none at first.
    for (d, p) in [(0, 0), (1, 0), (2, 1)] {
        m.handle(now, Event::Directory { dst: dst(d), peer: Some(peer(p)) });
    }
    let mut model = Model::default();
    for op in ops {
        let event = match op {
            Op::Miss(d) => {
                model.next_packet += 1;
                model.live.insert(model.next_packet);
                Event::Miss { pair: session(d), packet: model.next_packet }
            }
            Op::Answer { pick, ok } if !model.requests.is_empty() => {
                let (id, pair) = model.requests.remove(pick % model.requests.len());
                let result = if ok { Ok(id.0) } else { Err("refused".into()) };
                Event::Answer { pair, id, result }
            }
            Op::Stale { id, session: n } => {
                Event::Answer { pair: session(n), id: RequestId(id + 1000), result: Ok(id + 1000) }
            }
            Op::Installed { pick, ok } if !model.installs.is_empty() => {
                let (id, pair) = model.installs.remove(pick % model.installs.len());
                let result = if ok { Ok(()) } else { Err("refused".into()) };
                Event::Installed { pair, id, result }
            }
            Op::Hello { pick, instance, epoch, fail } if !model.hellos.is_empty() => {
                let (id, peer) = model.hellos.remove(pick % model.hellos.len());
                let result = if fail {
                    Err("unreachable".into())
                } else {
                    Ok(Session::Known { instance_id: instance as u64, key_epoch: epoch as u64 })
                };
                Event::Hello { peer, id, result }
            }
            Op::Reverse { session: n, on } => {
                Event::ReverseTunnel { pair: session(n), installed: on }
            }
            Op::Directory { dst: d, peer: p } => {
                Event::Directory { dst: dst(d), peer: (p < 2).then(|| peer(p)) }
            }
            Op::Connect(n) => Event::Connect { pair: session(n) },
            Op::Advance(n) => {
                now = now + Duration::from_millis(n as u64);
                Event::Tick
            }
            Op::Answer { .. } | Op::Installed { .. } | Op::Hello { .. } => Event::Tick,
        };
        m.handle(now, event);
        model.drain(&mut m)?;
    }
    m.handle(now, Event::Shutdown);
    model.drain(&mut m)?;
    prop_assert!(model.live.is_empty(), "packets never given back: {:?}", model.live);
    let c = m.counters();
    prop_assert_eq!(c.resubmitted, model.resubmits);
    prop_assert_eq!(c.held_dropped + c.no_peer, model.drops);
    prop_assert_eq!(c.misses, model.next_packet);
    prop_assert_eq!(c.tunnels_up, model.ups);
    prop_assert!(model.ups <= model.installed.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_packet_comes_back_once_and_no_answer_is_installed_twice(
        ops in prop::collection::vec(op(), 1..200)
    ) {
        run(ops)?;
    }
}
