//! Tests of the flow programmer and its software backend.

use super::*;
use crate::pipeline::{Action, PipelineConfig, PortRole};
use crate::psp::buf::VecBuf;
use crate::tables::{ReplicatedTables, VipPair};
use crate::testkit::{masters_b, tunnel, v6, Gw, DST};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

fn dst(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

/// Our VM in these tests.
const ME: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

/// The session from [`ME`] to `dst(i)`.
fn sess(i: u32) -> VipPair {
    VipPair::new(ME, dst(i))
}

fn insert(i: u32, spi: u32) -> FlowRequest {
    FlowRequest::InsertTunnel { pair: sess(i), encap: tunnel(spi, v6()), hw_key: None }
}

#[test]
fn batches_become_visible_on_every_core_thread() {
    const CORES: usize = 4;
    const BATCHES: u32 = 20;
    const PER_BATCH: u32 = 50;
    let (backend, readers) = ReplicatedTables::new(CORES, 4096, 16, 1);
    let (mut prog, client) = FlowProgrammer::new(backend, FlowConfig::default());
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            let stop = stop.clone();
            thread::spawn(move || {
                // A packet core: refresh between "bursts", look things up,
                // and check that versions only move forward and every
                // version holds whole batches.
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    r.refresh();
                    let t = r.tables();
                    assert!(t.version() >= last);
                    last = t.version();
                    assert_eq!(t.tunnels() % PER_BATCH as usize, 0, "a batch is all or nothing");
                    std::hint::spin_loop();
                }
                r.tables().tunnels()
            })
        })
        .collect();
    let encap = tunnel(1, v6());
    for b in 0..BATCHES {
        let requests = (0..PER_BATCH)
            .map(|i| FlowRequest::InsertTunnel {
                pair: sess(b * PER_BATCH + i),
                encap: encap.clone(),
                hw_key: None,
            })
            .collect();
        client.submit(FlowBatch { id: u64::from(b), requests }).unwrap();
    }
    let mut done = Vec::new();
    while done.len() < BATCHES as usize {
        prog.run_once();
        while let Some(c) = client.poll() {
            let v = c.result.expect("accepted");
            // Completed means every core uses version v or later.
            assert!(prog.backend().visible_version() >= v);
            done.push(c.id);
        }
        thread::yield_now();
    }
    assert_eq!(done, (0..u64::from(BATCHES)).collect::<Vec<_>>(), "in order");
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        assert_eq!(h.join().unwrap(), (BATCHES * PER_BATCH) as usize);
    }
    assert_eq!(prog.tunnels(), (BATCHES * PER_BATCH) as usize);
    assert_eq!(prog.in_flight(), 0);
}

#[test]
fn programmer_waits_for_a_core_that_has_not_refreshed() {
    let (backend, mut readers) = ReplicatedTables::new(2, 16, 16, 1);
    let (mut prog, client) = FlowProgrammer::new(backend, FlowConfig::default());
    client.submit(FlowBatch { id: 1, requests: vec![insert(1, 1)] }).unwrap();
    assert_eq!(prog.run_once().committed, 1);
    client.submit(FlowBatch { id: 2, requests: vec![insert(2, 2)] }).unwrap();
    // Core 1 still reads version 0 ... but the spare (version 0's copy)
    // is held by both cores: nothing can be written yet.
    let p = prog.run_once();
    assert!(p.waiting && p.committed == 0);
    assert!(client.poll().is_none(), "batch 1 is not visible on every core");
    readers[0].refresh();
    assert!(prog.run_once().waiting);
    readers[1].refresh();
    let p = prog.run_once();
    assert_eq!((p.completed, p.committed), (1, 1));
    assert_eq!(client.poll().unwrap(), Completion { id: 1, result: Ok(1) });
    readers.iter_mut().for_each(|r| assert!(r.refresh()));
    assert_eq!(prog.run_once().completed, 1);
    assert_eq!(client.poll().unwrap(), Completion { id: 2, result: Ok(2) });
    // Both copies hold both entries (the log was replayed).
    assert_eq!(readers[0].tables().tunnels(), 2);
    client.submit(FlowBatch { id: 3, requests: vec![] }).unwrap();
    prog.run_once();
    readers.iter_mut().for_each(|r| {
        r.refresh();
    });
    prog.run_once();
    assert_eq!(client.poll().unwrap().id, 3);
    assert_eq!(readers[1].tables().tunnels(), 2);
}

#[test]
fn max_tunnels_refuses_and_changes_nothing() {
    let cfg = PipelineConfig { max_tunnels: 2, max_acl_entries: 1, ..Default::default() };
    let mut g = Gw::new(cfg, 2);
    let c = g.program(vec![insert(1, 1), insert(2, 2), insert(3, 3)]);
    assert_eq!(c.result, Err(FlowError::TooManyTunnels { index: 2, max: 2, pair: sess(3) }));
    assert!(c.result.unwrap_err().to_string().contains("max_tunnels (2) reached"));
    assert_eq!(g.prog.tunnels(), 0);
    assert_eq!(g.cores[0].tables().tunnels(), 0);
    assert!(g.program(vec![insert(1, 1), insert(2, 2)]).result.is_ok());
    let before = g.cores[1].tables().version();
    let c = g.program(vec![insert(3, 3)]);
    assert!(matches!(c.result, Err(FlowError::TooManyTunnels { index: 0, .. })));
    assert_eq!(g.cores[1].tables().version(), before, "nothing published");
    assert!(g.cores[1].tables().egress(ME, dst(3)).is_none());
    // Replacing does not count; removing makes room, even in one batch,
    // and the slot is reused within the limit.
    assert!(g.program(vec![insert(2, 22)]).result.is_ok());
    assert!(g
        .program(vec![FlowRequest::RemoveTunnel { pair: sess(1) }, insert(3, 3)])
        .result
        .is_ok());
    assert_eq!(g.cores[0].tables().tunnels(), 2);
    assert!(g.cores[0].tables().egress(ME, dst(3)).unwrap().slot < 2);
    // A refused batch is undone completely, including removals before the
    // failing request.
    let c =
        g.program(vec![FlowRequest::RemoveTunnel { pair: sess(2) }, insert(4, 4), insert(5, 5)]);
    assert!(matches!(c.result, Err(FlowError::TooManyTunnels { index: 2, .. })));
    assert!(g.cores[0].tables().egress(ME, dst(2)).is_some());
    assert!(g.program(vec![insert(6, 6)]).result.is_err(), "still full");
    // The ACL limit too.
    let a = |s| FlowRequest::InsertAcl { spi: Spi(s), src: IpAddr::V4(DST), dst: IpAddr::V4(ME) };
    assert!(g.program(vec![a(1)]).result.is_ok());
    assert!(g.program(vec![a(1)]).result.is_ok(), "an existing pair is a no-op");
    assert!(matches!(
        g.program(vec![a(2)]).result,
        Err(FlowError::TooManyAclEntries { max: 1, .. })
    ));
}

#[test]
fn reinstalling_the_same_spi_is_refused() {
    let mut g = Gw::new(PipelineConfig::default(), 1);
    assert!(g.program(vec![insert(1, 7)]).result.is_ok());
    assert_eq!(
        g.program(vec![insert(1, 7)]).result,
        Err(FlowError::SpiReused { index: 0, pair: sess(1), spi: Spi(7) })
    );
    assert!(g.program(vec![insert(1, 8)]).result.is_ok());
    // The same SPI under another key (a peer that restarted with new master
    // keys and counts its SPIs from 1 again) is a new tunnel.
    let cfg = tunnel(8, v6()).config().clone();
    let other_key = crate::psp::kdf::DerivedKey::from_bytes(&[0x5a; 32]).unwrap();
    let restarted = Arc::new(Encapsulator::new(cfg, &other_key).unwrap());
    let c = g.program(vec![FlowRequest::InsertTunnel {
        pair: sess(1),
        encap: restarted,
        hw_key: None,
    }]);
    assert!(c.result.is_ok(), "{:?}", c.result);
    assert_eq!(g.cores[0].tables().egress(ME, dst(1)).unwrap().encap.key_check(), {
        other_key.check_value()
    });
}

#[test]
fn refused_batches_do_not_hold_up_others() {
    let (backend, mut readers) = ReplicatedTables::new(1, 4, 4, 1);
    let cfg = FlowConfig { max_tunnels: 1, ..FlowConfig::default() };
    let (mut prog, client) = FlowProgrammer::new(backend, cfg);
    client.submit(FlowBatch { id: 1, requests: vec![insert(1, 1)] }).unwrap();
    client.submit(FlowBatch { id: 2, requests: vec![insert(2, 2)] }).unwrap();
    client
        .submit(FlowBatch { id: 3, requests: vec![FlowRequest::RemoveTunnel { pair: sess(9) }] })
        .unwrap();
    let p = prog.run_once();
    assert_eq!((p.committed, p.refused), (2, 1));
    assert!(matches!(client.poll().unwrap(), Completion { id: 2, result: Err(_) }));
    readers[0].refresh();
    prog.run_once();
    assert_eq!(client.poll().unwrap(), Completion { id: 1, result: Ok(1) });
    assert_eq!(client.poll().unwrap(), Completion { id: 3, result: Ok(1) }, "one publication");
}

#[test]
fn held_packets_are_resubmitted_after_insertion() {
    let m = masters_b();
    let mut g = Gw::new(PipelineConfig::default(), 1);
    let mut held: HeldPackets<VecBuf> = HeldPackets::new(8, 2);
    let f = crate::testkit::frame(crate::testkit::SRC, DST, b"wait for me");
    let mut asked = 0;
    for _ in 0..3 {
        let mut b = VecBuf::new(&f);
        if let Action::Miss { pair } = g.cores[0].process(PortRole::Unsecured, &mut b, 0, &m).action
        {
            let (new, out) = held.hold(pair.dst, b);
            asked += usize::from(new);
            assert_eq!(
                matches!(out, HoldOutcome::DroppedOldest(_)),
                asked == 1 && held.stats().held == 3
            );
        }
    }
    assert_eq!((asked, held.waiting(IpAddr::V4(DST)), held.stats().dropped_oldest), (1, 2, 1));
    assert!(g
        .program(vec![FlowRequest::InsertTunnel {
            pair: VipPair::new(crate::testkit::SRC, DST),
            encap: tunnel(3, v6()),
            hw_key: None
        }])
        .result
        .is_ok());
    let mut out = Vec::new();
    held.release(IpAddr::V4(DST), |mut b| {
        out.push(g.cores[0].process(PortRole::Rss, &mut b, 0, &m).action)
    });
    assert_eq!(out, [Action::Forward(PortRole::Secure); 2]);
    let pair = VipPair::new(crate::testkit::SRC, DST);
    assert_eq!(g.cores[0].tunnel_counter(pair).unwrap().packets, 2);
}

#[test]
fn slots_stay_below_the_limit_under_churn() {
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let cfg = PipelineConfig { max_tunnels: 8, ..Default::default() };
    let mut g = Gw::new(cfg, 1);
    let encs: Vec<_> = (0..64).map(|s| tunnel(s, v6())).collect();
    let mut spi_of = [u32::MAX; 16];
    for _ in 0..300 {
        let n = 1 + rng.next_u32() % 4;
        let mut reqs = Vec::new();
        for _ in 0..n {
            let d = rng.next_u32() % 16;
            if rng.next_u32() % 2 == 0 {
                let s = loop {
                    let s = rng.next_u32() % 64;
                    if s != spi_of[d as usize] {
                        break s;
                    }
                };
                reqs.push(FlowRequest::InsertTunnel {
                    pair: sess(d),
                    encap: encs[s as usize].clone(),
                    hw_key: None,
                });
            } else {
                reqs.push(FlowRequest::RemoveTunnel { pair: sess(d) });
            }
        }
        let ok = g.program(reqs.clone()).result.is_ok();
        if ok {
            for r in &reqs {
                match r {
                    FlowRequest::InsertTunnel { pair, encap, .. } => {
                        spi_of[(v4(pair.dst) & 15) as usize] = encap.config().spi.0
                    }
                    FlowRequest::RemoveTunnel { pair } => {
                        spi_of[(v4(pair.dst) & 15) as usize] = u32::MAX
                    }
                    _ => {}
                }
            }
        }
        let t = g.cores[0].tables();
        assert!(t.tunnels() <= 8);
        assert_eq!(t.tunnels(), g.prog.tunnels());
        let mut slots = Vec::new();
        for d in 0..16 {
            let e = t.egress(ME, dst(d));
            assert_eq!(e.is_some(), spi_of[d as usize] != u32::MAX);
            if let Some(e) = e {
                assert!(e.slot < 8);
                assert_eq!(e.encap.config().spi.0, spi_of[d as usize]);
                slots.push(e.slot);
            }
        }
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), t.tunnels(), "slots are unique");
    }
}

/// A backend that records what it applied and fails the commits it is
/// told to, like a NIC refusing an entry.
#[derive(Default)]
struct Flaky {
    fail_next: bool,
    applied: Vec<usize>,
    version: u64,
}

impl FlowBackend for Flaky {
    fn ready(&mut self) -> bool {
        true
    }
    fn commit(&mut self, ops: &[TableOp]) -> Result<u64, BackendFailure> {
        if std::mem::take(&mut self.fail_next) {
            return Err(BackendFailure("entry refused by the NIC".into()));
        }
        self.applied.push(ops.len());
        self.version += 1;
        Ok(self.version)
    }
    fn visible_version(&self) -> u64 {
        self.version
    }
}

fn acl(spi: u32, i: u32) -> FlowRequest {
    FlowRequest::InsertAcl { spi: Spi(spi), src: dst(i), dst: IpAddr::V4(ME) }
}

#[test]
fn a_failed_commit_fails_each_of_its_batches_and_takes_them_back() {
    let cfg = FlowConfig { max_tunnels: 3, max_acl_entries: 2, ..FlowConfig::default() };
    let (mut prog, client) = FlowProgrammer::new(Flaky::default(), cfg);
    client.submit(FlowBatch { id: 1, requests: vec![insert(1, 0x10), acl(0x20, 1)] }).unwrap();
    prog.run_once();
    prog.run_once(); // completions are reported once visible, on the next turn
    assert_eq!(client.poll().map(|c| c.result), Some(Ok(1)));
    let (tunnels, acls) = (prog.tunnels(), prog.acl_entries());

    // Two batches merged into one commit, which the backend refuses:
    // a replacement of dst 1, a removal, new tunnels and ACL entries.
    prog.backend.fail_next = true;
    client.submit(FlowBatch { id: 2, requests: vec![insert(1, 0x11), insert(2, 0x12)] }).unwrap();
    let removal = FlowRequest::RemoveAcl { spi: Spi(0x20), src: dst(1), dst: IpAddr::V4(ME) };
    client
        .submit(FlowBatch { id: 3, requests: vec![removal, acl(0x21, 2), insert(3, 0x13)] })
        .unwrap();
    let p = prog.run_once();
    assert_eq!((p.committed, p.refused, p.completed), (0, 2, 2), "{p:?}");
    for id in [2, 3] {
        let c = client.poll().expect("a completion per batch");
        assert_eq!(c.id, id);
        let Err(FlowError::Backend(BackendFailure(msg))) = c.result else { panic!("{c:?}") };
        assert_eq!(msg, "entry refused by the NIC");
    }
    assert_eq!((prog.tunnels(), prog.acl_entries()), (tunnels, acls), "nothing of them is kept");
    assert_eq!(prog.in_flight(), 0);
    assert_eq!(prog.backend.applied, vec![2], "only the first commit reached the backend");

    // The index is as before: the same requests go through now, within the
    // same limits (3 tunnels, 2 ACL entries: slots and counts were given
    // back), and the replacement of dst 1 is not taken for a reused SPI.
    client.submit(FlowBatch { id: 4, requests: vec![insert(1, 0x11), insert(2, 0x12)] }).unwrap();
    let removal = FlowRequest::RemoveAcl { spi: Spi(0x20), src: dst(1), dst: IpAddr::V4(ME) };
    client
        .submit(FlowBatch { id: 5, requests: vec![removal, acl(0x21, 2), insert(3, 0x13)] })
        .unwrap();
    prog.run_once();
    prog.run_once();
    assert_eq!(client.poll().map(|c| (c.id, c.result)), Some((4, Ok(2))));
    assert_eq!(client.poll().map(|c| (c.id, c.result)), Some((5, Ok(2))));
    assert_eq!((prog.tunnels(), prog.acl_entries()), (3, 1));
    assert_eq!(prog.backend.applied, vec![2, 5], "one op per request of the merged commit");
}

fn v4(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => unreachable!("the tests' destinations are IPv4"),
    }
}
