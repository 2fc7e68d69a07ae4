//! Criterion benches of flow programming and table lookups.
//!
//! - `flows/insert_latency`: one insert, from `submit` to the completion
//!   that says every core uses it. One core thread spins on `refresh` like
//!   a packet core between bursts; the bench thread is the programmer.
//!   100k tunnels are installed beforehand.
//! - `flows/batch/N`: a batch of N inserts, submit to visible everywhere,
//!   in inserts/s (the removal that restores the table is not timed).
//! - `lookup_1M/*`: the egress ACL and ingress ACL lookups with 1M entries
//!   each, random keys (hits), and the pipeline's host-to-net miss path
//!   (parse, root, egress ACL miss) with 1M tunnels, per packet.
//!
//! Run: `cargo bench -p engine --bench flows`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use engine::flows::{FlowBatch, FlowClient, FlowConfig, FlowProgrammer, FlowRequest};
use engine::pipeline::{LcorePipeline, PipelineConfig, PortRole};
use engine::psp::buf::VecBuf;
use engine::psp::encap::{EncapConfig, Encapsulator, OuterIp};
use engine::psp::kdf::{DerivedKey, MasterKey, MasterKeyPair};
use engine::psp::{Mode, Spi, Version};
use engine::tables::{
    AclEntry, ReplicatedTables, TableOp, TableReader, Tables, TunnelEntry, VipPair,
};
use engine::wire::{ipv4_emit, udp_emit};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MILLION: u32 = 1 << 20;

fn encap(spi: u32) -> Arc<Encapsulator> {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm128,
        spi: Spi(spi),
        crypt_offset: 0,
        vc: None,
        eth: None,
        outer: OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() },
        ttl: 64,
    };
    Arc::new(Encapsulator::new(cfg, &DerivedKey::from_bytes(&[7; 16]).unwrap()).unwrap())
}

/// The source of the frames [`frame`] builds: the one local VM.
const VM: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);

/// The session from [`VM`] to `dst(i)`.
fn sess(i: u32) -> VipPair {
    VipPair::new(VM, dst(i))
}

fn dst(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

/// xorshift: random table keys without a dependency.
fn keys(n: usize, range: u32) -> Vec<u32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % u64::from(range)) as u32
        })
        .collect()
}

struct Rig {
    prog: FlowProgrammer<ReplicatedTables>,
    client: FlowClient,
    stop: Arc<AtomicBool>,
    core: Option<thread::JoinHandle<()>>,
    id: u64,
}

impl Rig {
    fn new(preload: u32) -> Rig {
        let (backend, mut readers) = ReplicatedTables::new(1, 1 << 18, 16, 1);
        let cfg = FlowConfig { max_tunnels: 1 << 18, ..FlowConfig::default() };
        let (prog, client) = FlowProgrammer::new(backend, cfg);
        let stop = Arc::new(AtomicBool::new(false));
        let mut r: TableReader = readers.pop().unwrap();
        let s = stop.clone();
        let core = Some(thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                r.refresh();
                black_box(r.tables().version());
                std::hint::spin_loop();
            }
        }));
        let mut rig = Rig { prog, client, stop, core, id: 0 };
        let e = encap(1);
        let reqs: Vec<_> = (0..preload)
            .map(|i| FlowRequest::InsertTunnel {
                pair: sess(MILLION + i),
                encap: e.clone(),
                hw_key: None,
            })
            .collect();
        rig.run(reqs);
        rig
    }

    /// Submits a batch and drives the programmer until it is visible.
    fn run(&mut self, requests: Vec<FlowRequest>) -> Duration {
        self.id += 1;
        let t = Instant::now();
        self.client.submit(FlowBatch { id: self.id, requests }).unwrap();
        loop {
            self.prog.run_once();
            if let Some(c) = self.client.poll() {
                assert!(c.result.is_ok());
                return t.elapsed();
            }
            std::hint::spin_loop();
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.core.take() {
            h.join().unwrap();
        }
    }
}

fn flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("flows");
    let mut rig = Rig::new(100_000);
    let e = encap(2);
    g.bench_function("insert_latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rig.run(vec![FlowRequest::InsertTunnel {
                    pair: sess(1),
                    encap: e.clone(),
                    hw_key: None,
                }]);
                rig.run(vec![FlowRequest::RemoveTunnel { pair: sess(1) }]);
            }
            total
        })
    });
    for n in [1u32, 64, 1024, 16384] {
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(format!("batch/{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let ins = (0..n)
                        .map(|i| FlowRequest::InsertTunnel {
                            pair: sess(i),
                            encap: e.clone(),
                            hw_key: None,
                        })
                        .collect();
                    total += rig.run(ins);
                    rig.run((0..n).map(|i| FlowRequest::RemoveTunnel { pair: sess(i) }).collect());
                }
                total
            })
        });
    }
    g.finish();
}

fn frame(dst: IpAddr) -> Vec<u8> {
    let IpAddr::V4(dst) = dst else { unreachable!("IPv4 destinations") };
    let mut f = vec![0u8; 14 + 28 + 64];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    ipv4_emit(&mut f[14..], VM, dst, 17, 0, 64, 92);
    udp_emit(&mut f[34..], 1, 2, 72);
    f
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup_1M");
    let e = encap(1);
    let mut t = Tables::with_capacity(MILLION as usize, MILLION as usize, 1);
    for i in 0..MILLION {
        let te = TunnelEntry { slot: i, generation: u64::from(i), encap: e.clone() };
        t.apply(&TableOp::SetTunnel(sess(i), te, None));
        let ae = AclEntry { slot: i, generation: u64::from(i) };
        t.apply(&TableOp::SetAcl(Spi(i + 1), VipPair::new(dst(i), VM), ae));
    }
    let ks = keys(1 << 16, MILLION);
    g.throughput(Throughput::Elements(ks.len() as u64));
    g.bench_function("egress_acl", |b| {
        b.iter(|| {
            let mut s = 0u64;
            for &k in &ks {
                s += u64::from(t.egress(VM, dst(k)).map_or(0, |e| e.slot));
            }
            black_box(s)
        })
    });
    g.bench_function("ingress_acl", |b| {
        b.iter(|| {
            let mut s = 0u64;
            for &k in &ks {
                s += u64::from(t.ingress_acl(Spi(k + 1), dst(k), VM).map_or(0, |e| e.slot));
            }
            black_box(s)
        })
    });
    drop(t);

    // The pipeline with 1M tunnels: the host-to-net miss path.
    let (backend, mut readers) = ReplicatedTables::new(1, MILLION as usize, 16, 1);
    let fc = FlowConfig { max_tunnels: MILLION as usize, ..FlowConfig::default() };
    let (mut prog, client) = FlowProgrammer::new(backend, fc);
    let reqs = (0..MILLION).map(|i| FlowRequest::InsertTunnel {
        pair: sess(i),
        encap: e.clone(),
        hw_key: None,
    });
    client.submit(FlowBatch { id: 1, requests: reqs.collect() }).unwrap();
    prog.run_once();
    let reader = readers.pop().unwrap();
    let cfg = PipelineConfig { max_tunnels: MILLION as usize, ..PipelineConfig::default() };
    let mut core = LcorePipeline::new(cfg, 0, reader);
    core.refresh();
    assert_eq!(core.tables().tunnels(), MILLION as usize);
    let masters = MasterKeyPair::new(
        MasterKey::from_bytes(&[1; 32]).unwrap(),
        MasterKey::from_bytes(&[2; 32]).unwrap(),
    );
    let frames: Vec<_> = ks[..32].iter().map(|&k| frame(dst(MILLION + k))).collect();
    let mut bufs: Vec<_> = frames.iter().map(|f| VecBuf::new(f)).collect();
    g.throughput(Throughput::Elements(32));
    g.bench_function("pipeline_miss_burst32", |b| {
        b.iter(|| {
            for buf in bufs.iter_mut() {
                black_box(core.process(PortRole::Unsecured, buf, 1, &masters));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = flows, lookup
}
criterion_main!(benches);
