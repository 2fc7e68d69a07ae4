//! The gateway pipeline on a DPDK packet core, end to end on `net_pcap`
//! ports: the first packets to a destination miss, go to the control plane
//! and are held; the control plane installs the tunnel through the flow
//! programmer and resubmits them, and they leave encrypted, in order. From
//! the uplink, PSP packets are decrypted and ACL-checked: good ones reach
//! the host, sampled ones are also mirrored to the control plane, and wrong
//! sources, unknown SPIs, bad ICVs and garbage are counted and dropped.

#![cfg(feature = "dpdk")]

mod common;

use common::{masters, read_pcap, write_pcap, TempDir};

use crossbeam::queue::ArrayQueue;
use engine::dpdk::{
    run_lcores, ControlPacket, CoreQueues, Eal, EalArgs, FlowMetadata, GatewayCore, Mbuf, Mempool,
    Port, PortConfig, QueueId, ToControl,
};
use engine::flows::ReplicatedTables;
use engine::flows::{FlowBatch, FlowConfig, FlowProgrammer, FlowRequest, HeldPackets, HoldOutcome};
use engine::pipeline::{LcorePipeline, PipelineConfig};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions, Syndrome};
use engine::psp::encap::Encapsulator;
use engine::psp::{buf::PacketBuf, buf::VecBuf, Spi, Version};
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
fn misses_are_held_tunnelled_and_resubmitted_and_ingress_is_checked() {
    let dir = TempDir::new("pspgw-gw");
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

    let host_vdev = format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        p("host_in.pcap").display(),
        p("host_out.pcap").display()
    );
    let net_vdev = format!(
        "net_pcap1,rx_pcap={},tx_pcap={}",
        p("net_in.pcap").display(),
        p("wire_out.pcap").display()
    );
    let list = EalArgs::new().memory_mb(256).vdev(&host_vdev).vdev(&net_vdev).build();
    let mut eal = Eal::init(&list.args).expect("EAL init");
    let _run_dir = TempDir(eal.runtime_dir().to_owned());
    eal.set_remove_runtime_dir(true);
    let meta = FlowMetadata::register(&eal).unwrap();
    let pool = Mempool::new(&eal, "pspgw_gw", 2047, 64, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let mut host = Port::by_name(&eal, "net_pcap0").unwrap();
    let mut net = Port::by_name(&eal, "net_pcap1").unwrap();
    for port in [&mut host, &mut net] {
        port.configure(&PortConfig::default(), &pool).unwrap();
        port.start().unwrap();
    }

    // Flow programmer, one core; the ACL entry for our SPI is published
    // before the core starts, so no good packet races it.
    let cfg = PipelineConfig { log2_sample_rate: 0, ..PipelineConfig::default() };
    let (backend, mut readers) = ReplicatedTables::new(1, cfg.max_tunnels, cfg.max_acl_entries, 9);
    let (mut programmer, client) = FlowProgrammer::new(backend, FlowConfig::default());
    let acl = FlowRequest::InsertAcl { spi: our_spi, src: remote.parse().unwrap() };
    client.submit(FlowBatch { id: 1, requests: vec![acl] }).unwrap();
    programmer.run_once();

    let to_control: ArrayQueue<ControlPacket> = ArrayQueue::new(256);
    let resubmit: ArrayQueue<Mbuf> = ArrayQueue::new(256);
    let pipe = LcorePipeline::new(cfg, 0, readers.remove(0));
    let mut cores = [GatewayCore::new(pipe, &ours, &pool, meta, &to_control, &resubmit, 5)];
    let stop = AtomicBool::new(false);
    let to_peer = Arc::new(common::tunnel(peer_spi, Version::AesGcm128, &peer));
    let (mut misses, mut arps, mut samples, mut released) = (0, 0, 0u64, 0);
    let stats = {
        let queues = vec![CoreQueues {
            unsecured_rx: host.rx_queue(QueueId(0)).unwrap(),
            unsecured_tx: host.tx_queue(QueueId(0)).unwrap(),
            secure_rx: net.rx_queue(QueueId(0)).unwrap(),
            secure_tx: net.tx_queue(QueueId(0)).unwrap(),
        }];
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
                            ToControl::Miss { dst } => {
                                misses += 1;
                                let (first, outcome) = held.hold(dst, cp.mbuf);
                                assert!(matches!(outcome, HoldOutcome::Held), "held: {outcome:?}");
                                if first {
                                    let req = FlowRequest::InsertTunnel {
                                        dst,
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
                    } else if released == 40 && quiet_since.elapsed() > Duration::from_millis(200) {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                stop.store(true, Ordering::Relaxed);
            });
            run_lcores(&eal, &[0], queues, &mut cores, true, &stop).expect("packet core")
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
    assert!(st.malformed.packets >= 1, "{st:?}");
    let cs = cores[0].control_stats();
    assert_eq!((cs.to_control, cs.resubmitted, cs.control_ring_full), (40 + 2 + sampled, 40, 0));
    assert_eq!(stats[0].resubmitted, 40);
    assert_eq!(stats[0].tx_secure, 40);
    assert_eq!(stats[0].tx_unsecured, 20);
    drop(cores);
    drop((host, net, pool));
    eal.cleanup().unwrap();
}
