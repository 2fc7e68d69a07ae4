//! Packet cores on real DPDK ports: two `net_pcap` devices, each with two
//! queues (one per core), replay captures through `engine::dpdk::run_lcores`
//! with a PSP handler. Clear frames from the unsecured port must leave the
//! secure port as PSP that the peer decrypts; PSP frames from the peer must
//! reach the unsecured port decrypted. One test: one EAL per process.

#![cfg(feature = "dpdk")]

mod common;

use common::psp_core::{udp_frame, PspHandler};
use common::{masters, read_pcap, write_pcap, TempDir};

use engine::dpdk::{run_lcores, CoreQueues, Eal, EalArgs, Mempool, Port, PortConfig};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::{buf::PacketBuf, buf::VecBuf, Spi, Version};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn frame(i: usize) -> Vec<u8> {
    let (src, dst) = ("192.168.1.1".parse().unwrap(), "192.168.1.2".parse().unwrap());
    udp_frame(src, dst, i, 1300)
}

#[test]
fn two_packet_cores_encrypt_and_decrypt_pcap_traffic() {
    let cpus: Vec<u32> = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        vec![0, 1]
    } else {
        vec![0]
    };
    let dir = TempDir::new("pspgw-lcores");
    let p = |name: &str| dir.file(name);
    let (ours, peer) = (masters(1), masters(7));
    let peer_spi = Spi(0x8000_0005); // the peer gave us this SPI
    let our_spi = Spi(9); // we gave the peer this one

    // Per queue: clear frames from the VMs, PSP frames from the peer.
    let per_q = 60;
    let mut clear_all = Vec::new();
    let mut vdev_host = String::from("net_pcap0");
    let mut vdev_wire = String::from("net_pcap1");
    for q in 0..cpus.len() {
        let clear: Vec<Vec<u8>> = (0..per_q).map(|i| frame(q * 1000 + i)).collect();
        let from_peer = common::tunnel(our_spi, Version::AesGcm256, &ours);
        let psp: Vec<Vec<u8>> = clear
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut b = VecBuf::new(f);
                from_peer.encap(&mut b, i as u64 + 1, false).unwrap();
                b.data().to_vec()
            })
            .collect();
        write_pcap(&p(&format!("clear{q}.pcap")), &clear);
        write_pcap(&p(&format!("psp{q}.pcap")), &psp);
        vdev_host += &format!(
            ",rx_pcap={},tx_pcap={}",
            p(&format!("clear{q}.pcap")).display(),
            p(&format!("host_out{q}.pcap")).display()
        );
        vdev_wire += &format!(
            ",rx_pcap={},tx_pcap={}",
            p(&format!("psp{q}.pcap")).display(),
            p(&format!("wire_out{q}.pcap")).display()
        );
        clear_all.extend(clear);
    }

    let list = EalArgs::new().memory_mb(256).vdev(&vdev_host).vdev(&vdev_wire).build();
    let mut eal = Eal::init(&list.args).expect("EAL init");
    let _run_dir = TempDir(eal.runtime_dir().to_owned());
    eal.set_remove_runtime_dir(true);
    let pool = Mempool::new(&eal, "pspgw_lcores", 2047, 64, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let queues = cpus.len() as u16;
    let cfg = PortConfig { rx_queues: queues, tx_queues: queues, ..PortConfig::default() };
    let mut host = Port::by_name(&eal, "net_pcap0").unwrap();
    let mut net = Port::by_name(&eal, "net_pcap1").unwrap();
    for port in [&mut host, &mut net] {
        port.configure(&cfg, &pool).unwrap();
        port.start().unwrap();
    }

    let done = Arc::new(AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    let expected = (2 * per_q * cpus.len()) as u64;
    let stats = {
        let core_queues = CoreQueues::claim_all(&host, &net, queues).unwrap();
        let mut handlers: Vec<PspHandler> = cpus
            .iter()
            .map(|_| {
                let to_peer = common::tunnel(peer_spi, Version::AesGcm256, &peer);
                PspHandler::new(to_peer, ours.clone(), done.clone())
            })
            .collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                let t0 = Instant::now();
                while done.load(Ordering::Relaxed) < expected
                    && t0.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                stop.store(true, Ordering::Relaxed);
            });
            run_lcores(&eal, &cpus, core_queues, &mut handlers, true, &stop).expect("packet cores")
        })
    };
    assert_eq!(done.load(Ordering::Relaxed), expected, "every packet handled");
    for port in [&mut host, &mut net] {
        port.stop().unwrap(); // flushes the tx pcaps
    }

    assert_eq!(stats.len(), cpus.len());
    for (i, s) in stats.iter().enumerate() {
        assert_eq!(s.cpu, cpus[i]);
        assert_eq!((s.rx_unsecured, s.tx_secure), (per_q as u64, per_q as u64), "{s:?}");
        assert_eq!((s.rx_secure, s.tx_unsecured, s.tx_full), (per_q as u64, per_q as u64, 0));
        assert!(s.backoff.empty_polls > 0);
    }
    // The wire carries PSP the peer can open; the VMs get the clear frames.
    let (mut wire_out, mut host_out) = (Vec::new(), Vec::new());
    for q in 0..cpus.len() {
        wire_out.extend(read_pcap(&p(&format!("wire_out{q}.pcap"))));
        host_out.extend(read_pcap(&p(&format!("host_out{q}.pcap"))));
    }
    assert_eq!(wire_out.len(), clear_all.len());
    let mut peer_cache = KeyCache::new(8);
    for (w, c) in wire_out.iter().zip(&clear_all) {
        assert_ne!(w, c);
        let mut b = VecBuf::new(w);
        let mut keys = CachedKeys { masters: &peer, cache: &mut peer_cache };
        let info = decap(&mut b, &mut keys, DecapOptions::default()).expect("peer decrypts");
        assert_eq!(info.spi, peer_spi);
        assert_eq!(b.data(), &c[..]);
    }
    assert_eq!(host_out, clear_all);
    drop((host, net, pool));
    eal.cleanup().unwrap();
}
