//! One manager on virtual time: the paths of a session's setup, the
//! timers, the bounds and the session checks.

use super::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

type M = TunnelManager<u32, &'static str>;
type C = Command<u32, &'static str>;

fn ms(n: u64) -> Time {
    Time::from_start(Duration::from_millis(n))
}

fn dst(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

/// The session from our VM 10.0.0.1 to 10.0.0.`n`.
fn pair(n: u8) -> VipPair {
    VipPair { src: dst(1), dst: dst(n) }
}

fn peer(n: u16) -> Peer {
    Peer::from(([127, 0, 0, 1], 50150 + n))
}

/// A manager with 10.0.0.2 and 10.0.0.3 behind peer 2, 10.0.0.4 behind peer 4.
fn manager(cfg: Config) -> M {
    let mut m = M::new(cfg, Time::ZERO);
    for (d, p) in [(2, 2), (3, 2), (4, 4)] {
        m.handle(Time::ZERO, Event::Directory { dst: dst(d), peer: Some(peer(p)) });
    }
    assert!(drain(&mut m).is_empty());
    m
}

fn drain(m: &mut M) -> Vec<C> {
    std::iter::from_fn(|| m.poll_command()).filter(|c| !matches!(c, Command::Notice(_))).collect()
}

fn drain_all(m: &mut M) -> Vec<C> {
    std::iter::from_fn(|| m.poll_command()).collect()
}

fn miss(m: &mut M, now: Time, d: u8, p: u32) {
    m.handle(now, Event::Miss { pair: pair(d), packet: p });
}

/// The one request in `cmds`.
fn request_of(cmds: &[C]) -> (RequestId, IpAddr, Peer) {
    let r: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Request { id, pair, peer } => Some((*id, pair.dst, *peer)),
            _ => None,
        })
        .collect();
    assert_eq!(r.len(), 1, "one request expected in {cmds:?}");
    r[0]
}

fn resubmitted(cmds: &[C]) -> Vec<u32> {
    cmds.iter().filter_map(|c| if let Command::Resubmit(p) = c { Some(*p) } else { None }).collect()
}

fn dropped(cmds: &[C]) -> Vec<u32> {
    cmds.iter().filter_map(|c| if let Command::Drop(p) = c { Some(*p) } else { None }).collect()
}

/// Answers and installs `id` for `d` at `now`; returns the commands.
fn bring_up(m: &mut M, now: Time, d: u8, id: RequestId) -> Vec<C> {
    m.handle(now, Event::Answer { pair: pair(d), id, result: Ok("tunnel") });
    let cmds = drain(m);
    assert!(
        matches!(cmds[..], [Command::Install { id: i, pair: x, tunnel: "tunnel" }] if i == id && x == pair(d)),
        "{cmds:?}"
    );
    m.handle(now, Event::Installed { pair: pair(d), id, result: Ok(()) });
    drain_all(m)
}

#[test]
fn on_demand_setup_holds_then_resubmits_in_order() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (id, d, p) = request_of(&drain(&mut m));
    assert_eq!((d, p), (dst(2), peer(2)));
    miss(&mut m, ms(1), 2, 2);
    miss(&mut m, ms(2), 2, 3);
    assert!(drain(&mut m).is_empty(), "later misses share the request");
    assert_eq!(m.held(pair(2)), 3);
    let cmds = bring_up(&mut m, ms(7), 2, id);
    assert_eq!(resubmitted(&cmds), [1, 2, 3]);
    assert!(cmds.contains(&Command::Notice(Notice::TunnelUp {
        pair: pair(2),
        waited: Some(Duration::from_millis(7))
    })));
    assert!(m.is_up(pair(2)) && m.held(pair(2)) == 0);
    // A packet that missed just before the install is resubmitted at once.
    miss(&mut m, ms(8), 2, 4);
    assert_eq!(resubmitted(&drain(&mut m)), [4]);
    let c = m.counters();
    assert_eq!((c.misses, c.resubmitted, c.tunnels_up, c.requests_failed), (4, 4, 1, 0));
}

#[test]
fn concurrent_misses_share_one_request_per_destination() {
    let mut m = manager(Config::default());
    for p in 0..30 {
        miss(&mut m, ms(p as u64), [2, 3, 4][p as usize % 3], p);
    }
    let cmds = drain(&mut m);
    let mut asked: Vec<_> = cmds
        .iter()
        .filter_map(|c| if let Command::Request { pair, .. } = c { Some(pair.dst) } else { None })
        .collect();
    asked.sort();
    assert_eq!(asked, [dst(2), dst(3), dst(4)]);
    assert_eq!((m.held(pair(2)), m.held(pair(3)), m.held(pair(4))), (10, 10, 10));
}

#[test]
fn a_miss_while_installing_asks_nothing() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (id, ..) = request_of(&drain(&mut m));
    m.handle(ms(1), Event::Answer { pair: pair(2), id, result: Ok("t") });
    assert_eq!(drain(&mut m).len(), 1);
    miss(&mut m, ms(2), 2, 2);
    assert!(drain(&mut m).is_empty(), "no second request while the first answer is installed");
    m.handle(ms(3), Event::Installed { pair: pair(2), id, result: Ok(()) });
    assert_eq!(resubmitted(&drain(&mut m)), [1, 2]);
}

/// Fails the request for `d` `failures` times from `now`; returns each
/// retry's delay in ms, the last request's id and when it went out.
fn fail_n(m: &mut M, d: u8, failures: usize) -> (Vec<u64>, RequestId, Time) {
    miss(m, ms(0), d, 0);
    let (mut id, ..) = request_of(&drain(m));
    let mut now = ms(0);
    let mut delays = Vec::new();
    for _ in 0..failures {
        m.handle(now, Event::Answer { pair: pair(d), id, result: Err("refused".into()) });
        assert!(drain(m).is_empty());
        // Woken at every timer (a lower bound) until the retry goes out.
        let mut wake = now;
        let mut cmds = Vec::new();
        for _ in 0..4 {
            wake = m.poll_timeout().expect("a retry is scheduled");
            m.handle(wake, Event::Tick);
            cmds = drain(m);
            if !cmds.is_empty() {
                break;
            }
        }
        id = request_of(&cmds).0;
        delays.push(wake.since(now).as_millis() as u64);
        now = wake;
    }
    (delays, id, now)
}

#[test]
fn retries_back_off_from_100_ms_doubling_to_5_s() {
    let mut m = manager(Config::default());
    let (delays, ..) = fail_n(&mut m, 2, 9);
    assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    assert_eq!(m.counters().requests_failed, 9);
    assert_eq!(m.held(pair(2)), 1, "the packet waits through the retries");
}

#[test]
fn back_off_restarts_after_a_success() {
    let mut m = manager(Config::default());
    let (_, id, now) = fail_n(&mut m, 2, 3);
    let cmds = bring_up(&mut m, now, 2, id);
    assert_eq!(resubmitted(&cmds), [0]);
    // The directory moves 10.0.0.2: a new request, which fails once.
    m.handle(now, Event::Directory { dst: dst(2), peer: Some(peer(4)) });
    let (id, _, p) = request_of(&drain(&mut m));
    assert_eq!(p, peer(4));
    m.handle(now, Event::Answer { pair: pair(2), id, result: Err("x".into()) });
    let n = drain_all(&mut m);
    assert!(
        matches!(n[..], [Command::Notice(Notice::RequestFailed { retry_in, .. })]
        if retry_in == Duration::from_millis(100)),
        "{n:?}"
    );
}

#[test]
fn a_silent_peer_times_out_and_its_late_answer_is_ignored() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (first, ..) = request_of(&drain(&mut m));
    assert_eq!(m.poll_timeout(), Some(ms(2000)));
    m.handle(ms(1999), Event::Tick);
    assert!(drain(&mut m).is_empty());
    m.handle(ms(2000), Event::Tick);
    let n = drain_all(&mut m);
    assert!(
        matches!(&n[..], [Command::Notice(Notice::RequestFailed { why, retry_in, .. })]
        if why == "request timed out" && *retry_in == Duration::from_millis(100)),
        "{n:?}"
    );
    m.handle(ms(2100), Event::Tick);
    let (second, ..) = request_of(&drain(&mut m));
    assert_ne!(first, second);
    // The first answer, late: ignored, nothing installed.
    m.handle(ms(2150), Event::Answer { pair: pair(2), id: first, result: Ok("late") });
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.counters().stale_answers, 1);
    let cmds = bring_up(&mut m, ms(2200), 2, second);
    assert_eq!(resubmitted(&cmds), [1]);
}

#[test]
fn held_packets_are_bounded_per_destination_and_in_destinations() {
    let cfg = Config { held_destinations: 2, held_per_destination: 4, ..Config::default() };
    let mut m = manager(cfg);
    for p in 0..6 {
        miss(&mut m, ms(0), 2, p);
    }
    let cmds = drain(&mut m);
    assert_eq!(dropped(&cmds), [0, 1], "the oldest go");
    let (id, ..) = request_of(&cmds);
    miss(&mut m, ms(0), 3, 10);
    miss(&mut m, ms(0), 4, 20);
    let cmds = drain(&mut m);
    assert_eq!(dropped(&cmds), [20], "a third destination is refused");
    assert_eq!(m.counters().held_dropped, 3);
    assert_eq!(resubmitted(&bring_up(&mut m, ms(1), 2, id)), [2, 3, 4, 5]);
    // Its room is free again.
    miss(&mut m, ms(2), 4, 21);
    assert!(dropped(&drain(&mut m)).is_empty());
    assert_eq!(m.held(pair(4)), 1);
}

#[test]
fn out_of_order_and_duplicate_answers() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (a, ..) = request_of(&drain(&mut m));
    miss(&mut m, ms(0), 3, 2);
    let (b, ..) = request_of(&drain(&mut m));
    // b's answer first, then a's; an answer under the wrong destination
    // and a repeated one change nothing.
    m.handle(ms(1), Event::Answer { pair: pair(2), id: b, result: Ok("wrong") });
    assert!(drain(&mut m).is_empty());
    assert_eq!(resubmitted(&bring_up(&mut m, ms(2), 3, b)), [2]);
    assert_eq!(resubmitted(&bring_up(&mut m, ms(3), 2, a)), [1]);
    m.handle(ms(4), Event::Answer { pair: pair(2), id: a, result: Ok("again") });
    m.handle(ms(4), Event::Installed { pair: pair(2), id: a, result: Ok(()) });
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.counters().tunnels_up, 2);
    assert_eq!(m.counters().stale_answers, 2);
}

#[test]
fn a_refused_install_is_retried() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (id, ..) = request_of(&drain(&mut m));
    m.handle(ms(1), Event::Answer { pair: pair(2), id, result: Ok("t") });
    drain(&mut m);
    m.handle(ms(1), Event::Installed { pair: pair(2), id, result: Err("table full".into()) });
    assert!(drain(&mut m).is_empty());
    m.handle(ms(101), Event::Tick);
    let (retry, ..) = request_of(&drain(&mut m));
    assert_eq!(resubmitted(&bring_up(&mut m, ms(102), 2, retry)), [1]);
}

#[test]
fn destinations_nobody_serves_are_dropped() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 9, 7);
    assert_eq!(dropped(&drain(&mut m)), [7]);
    assert_eq!((m.counters().misses, m.counters().no_peer), (1, 1));
}

#[test]
fn connect_asks_without_a_miss_once() {
    let mut m = manager(Config::default());
    m.handle(ms(0), Event::Connect { pair: pair(4) });
    let (id, _, p) = request_of(&drain(&mut m));
    assert_eq!(p, peer(4));
    m.handle(ms(0), Event::Connect { pair: pair(4) });
    miss(&mut m, ms(0), 4, 1);
    assert!(drain(&mut m).is_empty());
    let cmds = bring_up(&mut m, ms(1), 4, id);
    assert!(cmds.contains(&Command::Notice(Notice::TunnelUp {
        pair: pair(4),
        waited: Some(Duration::from_millis(1))
    })));
    m.handle(ms(2), Event::Connect { pair: pair(4) });
    assert!(drain(&mut m).is_empty(), "up already");
}

#[test]
fn leaving_the_directory_removes_the_tunnel_and_drops_held_packets() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (id, ..) = request_of(&drain(&mut m));
    bring_up(&mut m, ms(1), 2, id);
    miss(&mut m, ms(2), 3, 2);
    let (late, ..) = request_of(&drain(&mut m));
    m.handle(ms(3), Event::Directory { dst: dst(2), peer: None });
    assert!(matches!(drain(&mut m)[..], [Command::Remove { pair: d }] if d == pair(2)));
    m.handle(ms(3), Event::Directory { dst: dst(3), peer: None });
    assert_eq!(dropped(&drain(&mut m)), [2]);
    m.handle(ms(4), Event::Answer { pair: pair(3), id: late, result: Ok("t") });
    assert!(drain(&mut m).is_empty());
    miss(&mut m, ms(5), 2, 3);
    assert_eq!(dropped(&drain(&mut m)), [3]);
}

#[test]
fn leaving_the_directory_withdraws_a_tunnel_the_peer_made_too() {
    let mut m = manager(Config::default());
    // 10.0.0.3's gateway asked us first: only its reverse tunnel is here.
    m.handle(ms(0), Event::ReverseTunnel { pair: pair(3), installed: true });
    drain(&mut m);
    let view = |m: &M| m.tunnels().find(|t| t.dst == dst(3)).map(|t| (t.state, t.reverse));
    assert_eq!(view(&m), Some((TunnelState::ReverseOnly, true)));
    m.handle(ms(1), Event::Directory { dst: dst(3), peer: None });
    assert!(matches!(drain(&mut m)[..], [Command::Remove { pair: d }] if d == pair(3)));
    assert_eq!(view(&m), Some((TunnelState::Idle, false)));
    assert_eq!(m.counters().withdrawn, 1);
    // Gone already: a second leave removes nothing.
    m.handle(ms(2), Event::Directory { dst: dst(3), peer: Some(peer(2)) });
    m.handle(ms(3), Event::Directory { dst: dst(3), peer: None });
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.counters().withdrawn, 1);
}

#[test]
fn the_views_show_each_destination_and_peer() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    miss(&mut m, ms(0), 2, 2);
    let (id, ..) = request_of(&drain(&mut m));
    let state = |m: &M, d| m.tunnels().find(|t| t.dst == dst(d)).map(|t| (t.state, t.held));
    assert_eq!(state(&m, 2), Some((TunnelState::Requesting, 2)));
    assert_eq!(state(&m, 4), Some((TunnelState::Idle, 0)));
    bring_up(&mut m, ms(1), 2, id);
    assert_eq!(state(&m, 2), Some((TunnelState::Up, 0)));
    let mut peers: Vec<(Peer, usize)> = m.peers().map(|p| (p.peer, p.destinations)).collect();
    peers.sort();
    assert_eq!(peers, [(peer(2), 2), (peer(4), 1)]);
    assert_eq!(m.tunnels().count(), 3);
}

#[test]
fn shutdown_drops_every_held_packet() {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    miss(&mut m, ms(0), 4, 2);
    drain(&mut m);
    m.handle(ms(1), Event::Shutdown);
    let mut d = dropped(&drain(&mut m));
    d.sort();
    assert_eq!(d, [1, 2]);
}

/// A manager with the tunnel to 10.0.0.2 up; returns it and the time.
fn up_to_peer_2() -> (M, Time) {
    let mut m = manager(Config::default());
    miss(&mut m, ms(0), 2, 1);
    let (id, ..) = request_of(&drain(&mut m));
    bring_up(&mut m, ms(1), 2, id);
    (m, ms(1))
}

/// Runs the session check of peer 2 due at or after `now`, answered with
/// `result` 1 ms later; returns the commands and the time after.
fn check(m: &mut M, now: Time, result: Result<Session, String>) -> (Vec<C>, Time) {
    let mut due = now;
    let mut cmds = Vec::new();
    for _ in 0..10 {
        due = m.poll_timeout().expect("a timer").max(due);
        m.handle(due, Event::Tick);
        cmds = drain(m);
        if !cmds.is_empty() {
            break;
        }
    }
    let hello: Vec<_> = cmds
        .iter()
        .filter_map(|c| if let Command::Hello { id, peer } = c { Some((*id, *peer)) } else { None })
        .collect();
    assert_eq!(hello.len(), 1, "{cmds:?}");
    assert_eq!(hello[0].1, peer(2));
    let t = due + Duration::from_millis(1);
    m.handle(t, Event::Hello { peer: peer(2), id: hello[0].0, result });
    (drain_all(m), t)
}

fn known(instance_id: u64, key_epoch: u64) -> Result<Session, String> {
    Ok(Session::Known { instance_id, key_epoch })
}

#[test]
fn sessions_are_checked_every_half_second_while_tunnels_exist() {
    let (mut m, now) = up_to_peer_2();
    assert_eq!(m.poll_timeout(), Some(now), "checked as soon as the tunnel is up");
    let (_, t1) = check(&mut m, now, known(1, 0));
    let (_, t2) = check(&mut m, t1, known(1, 0));
    assert_eq!(t2.since(t1), Duration::from_millis(500));
    assert_eq!(m.counters().rekeys, 0);
}

#[test]
fn a_restarted_peer_is_re_keyed() {
    let (mut m, now) = up_to_peer_2();
    let (_, t) = check(&mut m, now, known(1, 0));
    let (cmds, _) = check(&mut m, t, known(2, 0));
    assert!(cmds.contains(&Command::Notice(Notice::Rekeying {
        peer: peer(2),
        why: RekeyReason::Restarted,
        tunnels: 1
    })));
    let (_, d, p) = request_of(&cmds);
    assert_eq!((d, p), (dst(2), peer(2)));
    assert!(m.is_up(pair(2)), "the old tunnel sends until the new one is in");
    assert_eq!((m.counters().peer_restarts, m.counters().rekeys), (1, 1));
}

#[test]
fn a_rotated_peer_is_re_keyed_with_reverse_tunnels_too() {
    let (mut m, now) = up_to_peer_2();
    // 10.0.0.3 (also behind peer 2) has a tunnel from peer 2's reverse
    // parameters.
    m.handle(now, Event::ReverseTunnel { pair: pair(3), installed: true });
    let (_, t) = check(&mut m, now, known(1, 0));
    let (cmds, _) = check(&mut m, t, known(1, 1));
    let mut asked: Vec<_> = cmds
        .iter()
        .filter_map(|c| if let Command::Request { pair, .. } = c { Some(pair.dst) } else { None })
        .collect();
    asked.sort();
    assert_eq!(asked, [dst(2), dst(3)]);
    assert_eq!((m.counters().peer_rotations, m.counters().rekeys), (1, 2));
}

#[test]
fn a_peer_without_sessions_is_re_keyed_when_back() {
    let (mut m, now) = up_to_peer_2();
    let (_, t) = check(&mut m, now, Ok(Session::Unknown));
    let (cmds, t) = check(&mut m, t, Err("connection refused".into()));
    assert!(matches!(&cmds[..], [Command::Notice(Notice::PeerUnreachable { .. })]));
    let (cmds, t) = check(&mut m, t, Err("connection refused".into()));
    assert!(cmds.is_empty(), "said once");
    let (cmds, _) = check(&mut m, t, Ok(Session::Unknown));
    let (_, d, _) = request_of(&cmds);
    assert_eq!(d, dst(2));
    assert_eq!(m.counters().peer_restarts, 1);
}

#[test]
fn a_silent_session_check_times_out() {
    let (mut m, now) = up_to_peer_2();
    m.handle(now, Event::Tick);
    let hello = drain(&mut m);
    let Some(Command::Hello { id, .. }) = hello.first() else { panic!("{hello:?}") };
    let id = *id;
    m.handle(now + Duration::from_millis(400), Event::Tick);
    assert!(matches!(drain_all(&mut m)[..], [Command::Notice(Notice::PeerUnreachable { .. })]));
    m.handle(
        now + Duration::from_millis(450),
        Event::Hello { peer: peer(2), id, result: known(1, 0) },
    );
    assert_eq!(m.counters().stale_answers, 1);
    // Asked again on time.
    m.handle(now + Duration::from_millis(500), Event::Tick);
    assert!(matches!(drain(&mut m)[..], [Command::Hello { .. }]));
}

#[test]
fn a_rotation_during_a_request_asks_again_after_it() {
    let (mut m, now) = up_to_peer_2();
    let (_, t) = check(&mut m, now, known(1, 0));
    let (cmds, t) = check(&mut m, t, known(1, 1));
    let (first, ..) = request_of(&cmds);
    // The peer rotates again while that request is on its way: its answer
    // may carry the old key, so it is installed and asked for once more.
    let (cmds, t) = check(&mut m, t, known(1, 2));
    assert!(cmds.iter().all(|c| !matches!(c, Command::Request { .. })), "{cmds:?}");
    let cmds = bring_up(&mut m, t, 2, first);
    let (second, ..) = request_of(&cmds);
    assert_ne!(first, second);
    bring_up(&mut m, t, 2, second);
    assert_eq!(m.counters().tunnels_up, 3);
    assert_eq!(m.counters().rekeys, 2);
}

#[test]
fn our_master_key_rotates_on_its_timer() {
    let cfg = Config { rotation: Some(Duration::from_secs(2)), ..Config::default() };
    let mut m = manager(cfg);
    assert_eq!(m.poll_timeout(), Some(ms(2000)));
    m.handle(ms(1999), Event::Tick);
    assert!(drain(&mut m).is_empty());
    m.handle(ms(2000), Event::Tick);
    assert!(matches!(drain(&mut m)[..], [Command::RotateMasterKey]));
    assert_eq!(m.poll_timeout(), Some(ms(4000)));
    m.handle(ms(4100), Event::Tick);
    assert!(matches!(drain(&mut m)[..], [Command::RotateMasterKey]));
    assert_eq!(m.counters().rotations, 2);
}

#[test]
fn two_of_our_vms_to_one_destination_are_two_sessions() {
    // The peer admits each SPI from one inner source: 10.0.0.1 and
    // 10.0.0.5 sending to 10.0.0.2 need a tunnel each, asked separately.
    let mut m = manager(Config::default());
    let other = VipPair { src: dst(5), dst: dst(2) };
    miss(&mut m, ms(0), 2, 1);
    m.handle(ms(0), Event::Miss { pair: other, packet: 2 });
    let asked: Vec<(VipPair, Peer)> = drain(&mut m)
        .iter()
        .filter_map(|c| match c {
            Command::Request { pair, peer, .. } => Some((*pair, *peer)),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [(pair(2), peer(2)), (other, peer(2))]);
    assert_eq!((m.held(pair(2)), m.held(other)), (1, 1));
    // 10.0.0.1's tunnel up: its packet goes, 10.0.0.5's still waits.
    m.handle(ms(1), Event::Miss { pair: pair(2), packet: 3 });
    drain(&mut m);
    let (id1, id2) = (RequestId(1), RequestId(2));
    assert_eq!(resubmitted(&bring_up(&mut m, ms(2), 2, id1)), [1, 3]);
    assert!(m.is_up(pair(2)) && !m.is_up(other) && m.held(other) == 1);
    m.handle(ms(3), Event::Answer { pair: other, id: id2, result: Ok("t5") });
    assert!(matches!(drain(&mut m)[..], [Command::Install { pair: p, .. }] if p == other));
    m.handle(ms(3), Event::Installed { pair: other, id: id2, result: Ok(()) });
    assert_eq!(resubmitted(&drain(&mut m)), [2]);
    // The view lists both sessions under the one destination's peer.
    let mut views: Vec<(Option<IpAddr>, TunnelState)> =
        m.tunnels().filter(|t| t.dst == dst(2)).map(|t| (t.src, t.state)).collect();
    views.sort_by_key(|v| v.0);
    assert_eq!(views, [(Some(dst(1)), TunnelState::Up), (Some(dst(5)), TunnelState::Up)]);
    // A move re-keys both; leaving the directory removes both.
    m.handle(ms(4), Event::Directory { dst: dst(2), peer: Some(peer(4)) });
    let cmds = drain_all(&mut m);
    assert!(cmds.contains(&Command::Notice(Notice::Rekeying {
        peer: peer(4),
        why: RekeyReason::Moved,
        tunnels: 2
    })));
    let mut again: Vec<VipPair> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::Request { pair, peer: p, .. } if *p == peer(4) => Some(*pair),
            _ => None,
        })
        .collect();
    again.sort();
    assert_eq!(again, [pair(2), other]);
    m.handle(ms(5), Event::Directory { dst: dst(2), peer: None });
    let mut removed: Vec<VipPair> = drain(&mut m)
        .iter()
        .filter_map(|c| if let Command::Remove { pair } = c { Some(*pair) } else { None })
        .collect();
    removed.sort();
    assert_eq!(removed, [pair(2), other]);
}
