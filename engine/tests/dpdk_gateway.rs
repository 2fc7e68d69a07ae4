//! The gateway pipeline on a DPDK packet core, end to end on `net_pcap`
//! ports: the first packets to a destination miss, go to the control plane
//! and are held; the control plane installs the tunnel through the flow
//! programmer and resubmits them, and they leave encrypted, in order. From
//! the uplink, PSP packets are decrypted and ACL-checked: good ones reach
//! the host, sampled ones are also mirrored to the control plane, and wrong
//! sources, unknown SPIs, bad ICVs and garbage are counted and dropped.
//!
//! Then a core is fed every hostile kind of packet (truncated, oversized,
//! wrong version, wrong crypt offset, missing or wrong cookie, corrupted
//! ciphertext or ICV, spoofed inner source) interleaved with valid ones,
//! both ways: every valid packet comes out, in order, every hostile one is
//! counted under its own reason, and the core keeps going.
//!
//! The EAL starts once per process, and `net_pcap` opens its captures when
//! the EAL probes it: both cases write their captures first, then share
//! one EAL with a pair of ports each.

#![cfg(feature = "dpdk")]

mod common;

use common::{masters, read_pcap, write_pcap, TempDir};

use crossbeam::queue::ArrayQueue;
use engine::cores::{ControlPacket, CoreSnapshot, GatewayCore, ToControl};
use engine::dpdk::{
    run_lcores, CoreQueues, Eal, EalArgs, FlowMetadata, Mbuf, Mempool, PoolPackets, Port,
    PortConfig,
};
use engine::flows::{FlowBatch, FlowConfig, FlowProgrammer, FlowRequest, HeldPackets, HoldOutcome};
use engine::pipeline::{DropReason, LcorePipeline, PipeStats, PipelineConfig};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions, Syndrome};
use engine::psp::encap::{EncapConfig, Encapsulator, OuterIp};
use engine::psp::kdf::MasterKeyPair;
use engine::psp::{buf::PacketBuf, buf::VecBuf, Mode, Spi, Version};
use engine::tables::ReplicatedTables;
use engine::wire::{self, ETHERNET_HEADER_LEN as ETH};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ipv4_frame(src: &str, dst: &str, i: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..64 + i * 13).map(|j| (i * 7 + j) as u8).collect();
    let mut f = vec![0u8; ETH + 28];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (28 + payload.len()) as u16;
    wire::ipv4_emit(&mut f[ETH..], src.parse().unwrap(), dst.parse().unwrap(), 17, 0, 64, ip_len);
    wire::udp_emit(&mut f[ETH + 20..], 40000 + i as u16, 5001, 8 + payload.len() as u16);
    f.extend_from_slice(&payload);
    f
}

fn seal(e: &Encapsulator, frame: &[u8], iv: u64, sample: bool) -> Vec<u8> {
    let mut b = VecBuf::new(frame);
    e.encap(&mut b, iv, sample).unwrap();
    b.data().to_vec()
}

#[test]
fn gateway_cores_on_net_pcap() {
    let dir = TempDir::new("pspgw-gw");
    let misses = MissesCase::write_inputs(&dir);
    let hostile = HostileCase::write_inputs(&dir);
    let vdev = |i: u32, rx: &str, tx: &str| {
        let (rx, tx) = (dir.file(rx), dir.file(tx));
        format!("net_pcap{i},rx_pcap={},tx_pcap={}", rx.display(), tx.display())
    };
    let list = EalArgs::new()
        .memory_mb(256)
        .vdev(vdev(0, "host_in.pcap", "host_out.pcap"))
        .vdev(vdev(1, "net_in.pcap", "wire_out.pcap"))
        .vdev(vdev(2, "hostile_host_in.pcap", "hostile_host_out.pcap"))
        .vdev(vdev(3, "hostile_net_in.pcap", "hostile_wire_out.pcap"))
        .build();
    let mut eal = Eal::init(&list.args).expect("EAL init");
    let _run_dir = TempDir(eal.runtime_dir().to_owned());
    eal.set_remove_runtime_dir(true);
    let meta = FlowMetadata::register(&eal).unwrap();
    misses.run(&eal, meta, &dir);
    hostile.run(&eal, meta, &dir);
    eal.cleanup().unwrap();
}

/// Misses held and resubmitted; ingress checked.
struct MissesCase {
    ours: MasterKeyPair,
    peer: MasterKeyPair,
    our_spi: Spi,
    peer_spi: Spi,
    remote: &'static str,
    to_remote: Vec<Vec<u8>>,
    good: Vec<Vec<u8>>,
    sampled: u64,
}

impl MissesCase {
    fn write_inputs(dir: &TempDir) -> MissesCase {
        let p = |name: &str| dir.file(name);
        let (ours, peer) = (masters(1), masters(7));
        let (our_spi, peer_spi) = (Spi(3), Spi(0x8000_0011));
        let (vm, remote) = ("10.0.0.1", "10.0.0.2");

        // Host side: 40 packets to a destination without a tunnel yet, two ARP,
        // two IPv6 (no rule: dropped), one runt.
        let to_remote: Vec<Vec<u8>> = (0..40).map(|i| ipv4_frame(vm, remote, i)).collect();
        let mut host_in = to_remote.clone();
        let mut arp = vec![0xffu8; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.resize(60, 0);
        host_in.extend([arp.clone(), arp]);
        let mut v6 = vec![0u8; 74];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        host_in.extend([v6.clone(), v6, vec![1, 2, 3]]);

        // Uplink side: PSP from the peer, sealed with the key of our SPI.
        let from_peer = common::tunnel(our_spi, Version::AesGcm128, &ours);
        let good: Vec<Vec<u8>> = (0..20).map(|i| ipv4_frame(remote, vm, 100 + i)).collect();
        let mut net_in: Vec<Vec<u8>> = good
            .iter()
            .enumerate()
            .map(|(i, f)| seal(&from_peer, f, i as u64 + 1, i % 7 == 0))
            .collect();
        let sampled = (0..20).filter(|i| i % 7 == 0).count() as u64;
        for i in 0..5 {
            // A valid SPI, but not for this inner source.
            net_in.push(seal(&from_peer, &ipv4_frame("10.0.0.99", vm, i), 100 + i as u64, false));
            // An SPI we never gave anyone (its key still derives): unknown.
            net_in.push(seal(
                &common::tunnel(Spi(77), Version::AesGcm128, &ours),
                &ipv4_frame(remote, vm, i),
                1,
                false,
            ));
            // Tampered.
            let mut bad = seal(&from_peer, &ipv4_frame(remote, vm, i), 200 + i as u64, false);
            *bad.last_mut().unwrap() ^= 1;
            net_in.push(bad);
        }
        let mut garbage = vec![0x5au8; 90];
        garbage[12..14].copy_from_slice(&[0x86, 0xdd]);
        net_in.push(garbage);
        write_pcap(&p("host_in.pcap"), &host_in);
        write_pcap(&p("net_in.pcap"), &net_in);
        MissesCase { ours, peer, our_spi, peer_spi, remote, to_remote, good, sampled }
    }

    fn run(self, eal: &Eal, meta: FlowMetadata, dir: &TempDir) {
        let p = |name: &str| dir.file(name);
        let MissesCase { ours, peer, our_spi, peer_spi, remote, to_remote, good, sampled } = self;
        let pool = Mempool::new(eal, "pspgw_gw", 2047, 64, Mempool::DEFAULT_DATA_ROOM).unwrap();
        let mut host = Port::by_name(eal, "net_pcap0").unwrap();
        let mut net = Port::by_name(eal, "net_pcap1").unwrap();
        for port in [&mut host, &mut net] {
            port.configure(&PortConfig::default(), &pool).unwrap();
            port.start().unwrap();
        }

        // Flow programmer, one core; the ACL entry for our SPI is published
        // before the core starts, so no good packet races it.
        // Sampling on, so S-bit packets from the peer are mirrored; at 1 in
        // 2^16 none of our 40 egress packets is (the core's draw is seeded).
        let cfg = PipelineConfig { log2_sample_rate: 16, ..PipelineConfig::default() };
        let (backend, mut readers) =
            ReplicatedTables::new(1, cfg.max_tunnels, cfg.max_acl_entries, 9);
        let (mut programmer, client) = FlowProgrammer::new(backend, FlowConfig::default());
        let acl = FlowRequest::InsertAcl {
            spi: our_spi,
            src: remote.parse().unwrap(),
            dst: VM.parse().unwrap(),
        };
        client.submit(FlowBatch { id: 1, requests: vec![acl] }).unwrap();
        programmer.run_once();

        let to_control: ArrayQueue<ControlPacket<Mbuf>> = ArrayQueue::new(256);
        let resubmit: ArrayQueue<Mbuf> = ArrayQueue::new(256);
        let pipe = LcorePipeline::new(cfg, 0, readers.remove(0));
        let packets = PoolPackets::new(&pool, meta);
        let mut cores = [GatewayCore::new(pipe, &ours, packets, &to_control, &resubmit, 5)];
        let stop = AtomicBool::new(false);
        let to_peer = Arc::new(common::tunnel(peer_spi, Version::AesGcm128, &peer));
        let (mut misses, mut arps, mut samples, mut released) = (0, 0, 0u64, 0);
        let stats = {
            let queues = CoreQueues::claim_all(&host, &net, 1).unwrap();
            std::thread::scope(|s| {
                // The control plane.
                s.spawn(|| {
                    let mut held: HeldPackets<Mbuf> = HeldPackets::new(16, 64);
                    let t0 = Instant::now();
                    let mut quiet_since = Instant::now();
                    while t0.elapsed() < Duration::from_secs(20) {
                        let mut busy = programmer.run_once() != engine::flows::Progress::default();
                        while let Some(c) = client.poll() {
                            busy = true;
                            c.result.expect("batch applied");
                            if c.id == 2 {
                                released += held.release(remote.parse().unwrap(), |m| {
                                    resubmit.push(m).expect("resubmit ring has room")
                                });
                            }
                        }
                        while let Some(cp) = to_control.pop() {
                            busy = true;
                            match cp.why {
                                ToControl::Miss { pair } => {
                                    misses += 1;
                                    let (first, outcome) = held.hold(pair.dst, cp.packet);
                                    assert!(
                                        matches!(outcome, HoldOutcome::Held),
                                        "held: {outcome:?}"
                                    );
                                    if first {
                                        let req = FlowRequest::InsertTunnel {
                                            pair,
                                            encap: to_peer.clone(),
                                            hw_key: None,
                                        };
                                        client
                                            .submit(FlowBatch { id: 2, requests: vec![req] })
                                            .unwrap();
                                    }
                                }
                                ToControl::Rss => arps += 1,
                                ToControl::Sampled { .. } => samples += 1,
                            }
                        }
                        if busy {
                            quiet_since = Instant::now();
                        } else if released == 40
                            && quiet_since.elapsed() > Duration::from_millis(200)
                        {
                            break;
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    stop.store(true, Ordering::Relaxed);
                });
                run_lcores(eal, &[0], queues, &mut cores, true, &stop).expect("packet core")
            })
        };
        for port in [&mut host, &mut net] {
            port.stop().unwrap(); // flushes the tx pcaps
        }
        assert_eq!((misses, released, arps, samples), (40, 40, 2, sampled));

        // Held packets left encrypted toward the peer, in order.
        let wire_out = read_pcap(&p("wire_out.pcap"));
        assert_eq!(wire_out.len(), 40);
        let mut cache = KeyCache::new(4);
        for (w, want) in wire_out.iter().zip(&to_remote) {
            let mut b = VecBuf::new(w);
            let mut keys = CachedKeys { masters: &peer, cache: &mut cache };
            assert_eq!(decap(&mut b, &mut keys, DecapOptions::default()).unwrap().spi, peer_spi);
            assert_eq!(b.data(), &want[..]);
        }
        // Only the good PSP packets reached the host, decrypted, in order.
        assert_eq!(read_pcap(&p("host_out.pcap")), good);

        let st = cores[0].pipeline().stats();
        assert_eq!(st.egress_acl_miss.packets, 40);
        assert_eq!(st.egress_acl.packets, 40);
        assert_eq!(st.fwd_to_wire.packets, 40);
        assert_eq!(st.vf_arp_to_rss.packets, 2);
        assert_eq!(st.root_default_drop.packets, 2);
        assert_eq!(st.ingress_sampling.packets, sampled);
        assert_eq!(st.ingress_acl_wrong_source.packets, 5);
        assert_eq!(st.ingress_acl_unknown_spi.packets, 5);
        assert_eq!(st.syndrome(Syndrome::IcvFail).packets, 5);
        assert_eq!(st.fwd_to_unsecured.packets, 20);
        // The runt from the host, the garbage from the uplink.
        assert_eq!((st.truncated.packets, st.malformed.packets), (1, 1), "{st}");
        let cs = cores[0].control_stats();
        assert_eq!(
            (cs.to_control, cs.resubmitted, cs.control_ring_full),
            (40 + 2 + sampled, 40, 0)
        );
        assert_eq!(stats[0].resubmitted, 40);
        assert_eq!(stats[0].tx_secure, 40);
        assert_eq!(stats[0].tx_unsecured, 20);
        drop(cores);
        drop((host, net, pool));
    }
}

/// The cookie the hostile case's gateway expects.
const VC: u64 = 0x0000_0001_5053_5047;
/// The hostile case's frame limit (an uplink MTU of 1010).
const MAX_FRAME: usize = 1024;

/// An IPv4/UDP frame of exactly `len` bytes.
fn sized_frame(src: &str, dst: &str, len: usize, tag: u8) -> Vec<u8> {
    let mut f = ipv4_frame(src, dst, 0);
    f.truncate(ETH + 28);
    f.resize(len, tag);
    let ip_len = (len - ETH) as u16;
    wire::ipv4_emit(&mut f[ETH..], src.parse().unwrap(), dst.parse().unwrap(), 17, 0, 64, ip_len);
    wire::udp_emit(&mut f[ETH + 20..], 40000, 5001, ip_len - 20);
    f
}

/// A peer's sender with a cookie and a crypt offset of its own.
fn sender(spi: Spi, key_of: &MasterKeyPair, crypt_offset: u8, vc: Option<u64>) -> Encapsulator {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm256,
        spi,
        crypt_offset,
        vc,
        eth: None,
        outer: OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() },
        ttl: 64,
    };
    Encapsulator::new(cfg, &key_of.derive(spi, Version::AesGcm256)).unwrap()
}

/// Hostile packets interleaved with valid ones, both ways.
struct HostileCase {
    ours: MasterKeyPair,
    peer: MasterKeyPair,
    /// Valid frames from the host, to a tunnel already in.
    host_good: Vec<Vec<u8>>,
    /// The inner frames of the valid PSP packets, as the host gets them.
    net_good: Vec<Vec<u8>>,
    /// How many hostile packets of each reason were sent.
    want: Vec<(DropReason, u64)>,
    total: u64,
}

const PSP_AT: usize = ETH + 40 + 8;
const A: &str = "10.1.0.1";
const B: &str = "10.1.0.2";
const VM: &str = "10.0.0.1";
const REMOTE: &str = "10.2.0.9";

impl HostileCase {
    fn write_inputs(dir: &TempDir) -> HostileCase {
        let (ours, peer) = (masters(11), masters(21));
        // Two peers, each with an SPI of ours: A seals with crypt offset 0
        // (its cookie encrypted), B with 2 (its cookie in clear).
        let from_a = sender(Spi(0x31), &ours, 0, Some(VC));
        let from_b = sender(Spi(0x8000_0032), &ours, 2, Some(VC));
        let seal = |e: &Encapsulator, f: &[u8], iv: u64| {
            let mut b = VecBuf::new(f);
            e.encap(&mut b, iv, false).unwrap();
            b.data().to_vec()
        };
        let mut want: Vec<(DropReason, u64)> = Vec::new();
        let mut count = |r: DropReason| match want.iter_mut().find(|(w, _)| *w == r) {
            Some((_, n)) => *n += 1,
            None => want.push((r, 1)),
        };
        let (mut net_in, mut net_good) = (Vec::new(), Vec::new());
        for i in 0..66u64 {
            // A valid packet from A or B, then a hostile one.
            let (e, src) = if i % 2 == 0 { (&from_a, A) } else { (&from_b, B) };
            let inner = ipv4_frame(src, VM, i as usize % 40);
            net_in.push(seal(e, &inner, 1000 + i));
            net_good.push(inner);
            let good = seal(&from_a, &ipv4_frame(A, VM, 3), 5000 + i);
            let n = good.len();
            let (bad, reason) = match i % 11 {
                0 => (good[..60 + i as usize % 20].to_vec(), DropReason::Truncated),
                1 => (good[..n - 1 - i as usize % 16].to_vec(), DropReason::Truncated),
                2 => {
                    let big = seal(&from_a, &sized_frame(A, VM, MAX_FRAME, 1), 5000 + i);
                    (big, DropReason::Oversized)
                }
                3 => {
                    let mut b = good.clone();
                    b[PSP_AT + 3] = (b[PSP_AT + 3] & !0x3c) | (9 << 2);
                    (b, DropReason::Syndrome(Syndrome::UnknownVersion))
                }
                4 => {
                    let mut b = good.clone();
                    b[PSP_AT + 2] = 63;
                    (b, DropReason::Syndrome(Syndrome::BadCryptOffset))
                }
                5 => {
                    let no_vc = sender(Spi(0x31), &ours, 0, None);
                    (seal(&no_vc, &ipv4_frame(A, VM, 3), 5000 + i), DropReason::VcMismatch)
                }
                6 => {
                    let other = sender(Spi(0x31), &ours, 2, Some(VC + 1));
                    (seal(&other, &ipv4_frame(A, VM, 3), 5000 + i), DropReason::VcMismatch)
                }
                7 => {
                    let mut b = good.clone();
                    b[PSP_AT + 40] ^= 0x10; // ciphertext
                    (b, DropReason::Syndrome(Syndrome::IcvFail))
                }
                8 => {
                    let mut b = good.clone();
                    b[n - 3] ^= 0x01; // ICV
                    (b, DropReason::Syndrome(Syndrome::IcvFail))
                }
                // B's valid SPI and key, A's inner source.
                9 => (seal(&from_b, &ipv4_frame(A, VM, 3), 5000 + i), DropReason::AclWrongSource),
                _ => {
                    // Lengths rewritten: too short for the PSP header and ICV.
                    let mut b = good[..PSP_AT + 20].to_vec();
                    let udp_len = 28u16.to_be_bytes();
                    b[ETH + 4..ETH + 6].copy_from_slice(&udp_len);
                    b[ETH + 40 + 4..ETH + 40 + 6].copy_from_slice(&udp_len);
                    (b, DropReason::Syndrome(Syndrome::BadTrailer))
                }
            };
            net_in.push(bad);
            count(reason);
        }
        // From the host: valid frames to REMOTE between truncated, oversized,
        // too long to encapsulate and malformed ones.
        let (mut host_in, mut host_good) = (Vec::new(), Vec::new());
        for i in 0..40usize {
            let f = ipv4_frame(VM, REMOTE, i);
            host_in.push(f.clone());
            host_good.push(f);
            let (bad, reason) = match i % 4 {
                0 => (ipv4_frame(VM, REMOTE, i)[..30 + i].to_vec(), DropReason::Truncated),
                1 => (sized_frame(VM, REMOTE, MAX_FRAME + 1 + i, 2), DropReason::Oversized),
                // 1000 bytes plus 80 of tunnel overhead: over the limit.
                2 => (sized_frame(VM, REMOTE, 1000, 3), DropReason::EncapOversized),
                _ => {
                    let mut f = ipv4_frame(VM, REMOTE, i);
                    f[ETH] = 0x43; // IHL 3
                    (f, DropReason::Malformed)
                }
            };
            host_in.push(bad);
            count(reason);
        }
        // Longer than an mbuf: net_pcap chains it, the receive queue
        // frees it (rx_multi_seg); it never reaches the pipeline.
        let jumbo = sized_frame(VM, REMOTE, 3000, 4);
        let total = (net_in.len() + host_in.len()) as u64;
        net_in.insert(7, jumbo.clone());
        host_in.insert(7, jumbo);
        write_pcap(&dir.file("hostile_net_in.pcap"), &net_in);
        write_pcap(&dir.file("hostile_host_in.pcap"), &host_in);
        HostileCase { ours, peer, host_good, net_good, want, total }
    }

    fn run(self, eal: &Eal, meta: FlowMetadata, dir: &TempDir) {
        let pool =
            Mempool::new(eal, "pspgw_hostile", 2047, 64, Mempool::DEFAULT_DATA_ROOM).unwrap();
        let mut host = Port::by_name(eal, "net_pcap2").unwrap();
        let mut net = Port::by_name(eal, "net_pcap3").unwrap();
        for port in [&mut host, &mut net] {
            port.configure(&PortConfig::default(), &pool).unwrap();
            port.start().unwrap();
        }
        let cfg = PipelineConfig {
            expected_vc: Some(VC),
            max_frame_len: MAX_FRAME,
            ..PipelineConfig::default()
        };
        let (backend, mut readers) =
            ReplicatedTables::new(1, cfg.max_tunnels, cfg.max_acl_entries, 3);
        let (mut programmer, client) = FlowProgrammer::new(backend, FlowConfig::default());
        let to_peer = Arc::new(common::tunnel(Spi(0x77), Version::AesGcm128, &self.peer));
        let requests = vec![
            FlowRequest::InsertAcl {
                spi: Spi(0x31),
                src: A.parse().unwrap(),
                dst: VM.parse().unwrap(),
            },
            FlowRequest::InsertAcl {
                spi: Spi(0x8000_0032),
                src: B.parse().unwrap(),
                dst: VM.parse().unwrap(),
            },
            FlowRequest::InsertTunnel {
                pair: engine::tables::VipPair {
                    src: VM.parse().unwrap(),
                    dst: REMOTE.parse().unwrap(),
                },
                encap: to_peer,
                hw_key: None,
            },
        ];
        client.submit(FlowBatch { id: 1, requests }).unwrap();
        // Published before the core starts: its first poll picks the
        // tables up, before its first burst.
        programmer.run_once();

        let to_control: ArrayQueue<ControlPacket<Mbuf>> = ArrayQueue::new(64);
        let resubmit: ArrayQueue<Mbuf> = ArrayQueue::new(64);
        let snapshots: ArrayQueue<CoreSnapshot> = ArrayQueue::new(1);
        let pipe = LcorePipeline::new(cfg, 0, readers.remove(0));
        let packets = PoolPackets::new(&pool, meta);
        let mut cores = [GatewayCore::new(pipe, &self.ours, packets, &to_control, &resubmit, 1)];
        cores[0].publish_snapshots(&snapshots, Duration::from_millis(1));
        let stop = AtomicBool::new(false);
        let t0 = Instant::now();
        let stats = {
            let queues = CoreQueues::claim_all(&host, &net, 1).unwrap();
            std::thread::scope(|s| {
                // Stops the core once it has taken every packet (or after
                // 20 s: a core that stalls fails the checks below).
                s.spawn(|| {
                    while t0.elapsed() < Duration::from_secs(20) {
                        if let Some(snap) = snapshots.pop() {
                            if snap.pipes.ingress_root.packets == self.total {
                                break;
                            }
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    stop.store(true, Ordering::Relaxed);
                });
                run_lcores(eal, &[0], queues, &mut cores, true, &stop).expect("packet core")
            })
        };
        assert!(t0.elapsed() < Duration::from_secs(20), "the core stalled");
        for port in [&mut host, &mut net] {
            port.stop().unwrap();
        }

        // Every valid packet came out, in order.
        assert_eq!(read_pcap(&dir.file("hostile_host_out.pcap")), self.net_good);
        let wire_out = read_pcap(&dir.file("hostile_wire_out.pcap"));
        assert_eq!(wire_out.len(), self.host_good.len());
        let mut cache = KeyCache::new(4);
        for (w, want) in wire_out.iter().zip(&self.host_good) {
            let mut b = VecBuf::new(w);
            let mut keys = CachedKeys { masters: &self.peer, cache: &mut cache };
            decap(&mut b, &mut keys, DecapOptions::default()).unwrap();
            assert_eq!(b.data(), &want[..]);
        }
        // Every hostile one was counted under its reason, and nothing else
        // was dropped.
        let st: PipeStats = *cores[0].pipeline().stats();
        for &(reason, n) in &self.want {
            assert_eq!(st.dropped(reason).packets, n, "{}: {st}", reason.counter_name());
        }
        let hostile: u64 = self.want.iter().map(|w| w.1).sum();
        assert_eq!(st.dropped_total(), hostile, "{st}");
        assert_eq!(st.ingress_root.packets, self.total);
        assert_eq!(st.fwd_to_unsecured.packets, self.net_good.len() as u64);
        assert_eq!(st.fwd_to_wire.packets, self.host_good.len() as u64);
        assert_eq!(self.want.len(), 10, "every kind was sent: {:?}", self.want);
        assert_eq!(stats[0].rx_secure + stats[0].rx_unsecured, self.total);
        assert_eq!(stats[0].rx_multi_seg, 2);
        assert_eq!(cores[0].control_stats().to_control, 0);
        drop(cores);
        drop((host, net, pool));
    }
}
