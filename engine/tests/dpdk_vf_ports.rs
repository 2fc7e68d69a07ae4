//! Several unsecured ports on real DPDK ports: two `net_pcap` "VFs" and a
//! `net_pcap` uplink on one packet core (`CoreQueues::claim_all_ports`).
//! Clear frames from either VF must leave the uplink as PSP; PSP frames
//! from the peer must reach, decrypted, the VF whose VMs own their inner
//! destination (`VfPorts`), and one that no VF owns none; the poll loop
//! says which VF each burst came from (`host_to_net_from`), and sends what
//! the handler gives for the VFs (`to_hosts`: the control plane's
//! neighbour answers) out of the VF it names. One test: one EAL per
//! process.

#![cfg(feature = "dpdk")]

mod common;

use common::psp_core::{udp_frame, PspHandler};
use common::{masters, read_pcap, write_pcap, TempDir};

use engine::cores::{BurstHandler, Packets};
use engine::dpdk::{
    run_lcores, Burst, CoreQueues, Eal, EalArgs, FlowMetadata, Mempool, PoolPackets, Port,
    PortConfig,
};
use engine::pipeline::{vf::inner_dst, VfPorts};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::{buf::PacketBuf, buf::VecBuf, Spi, Version};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn frame(src: Ipv4Addr, dst: Ipv4Addr, i: usize) -> Vec<u8> {
    udp_frame(src, dst, i, 900)
}

/// The PSP core, delivering by the inner destination.
struct VfHandler<'p> {
    psp: PspHandler,
    ports: VfPorts,
    unowned: u64,
    /// Packets received per VF, as the poll loop names them.
    from_port: [u64; 2],
    /// A frame to send out of VF 1, once, through `to_hosts`.
    answer: Option<(PoolPackets<'p>, Vec<u8>)>,
}

impl BurstHandler<Burst> for VfHandler<'_> {
    fn host_to_net(&mut self, _rx: &mut Burst, _out: &mut Burst) {
        unreachable!("the poll loop names the port");
    }

    fn host_to_net_from(&mut self, port: u8, rx: &mut Burst, out: &mut Burst) {
        let mut n = 0;
        rx.route(|m| {
            n += 1;
            Some(m)
        });
        self.from_port[usize::from(port)] += n;
        self.psp.host_to_net(rx, out);
    }

    fn to_hosts(&mut self, outs: &mut [Burst]) -> usize {
        let Some((pool, frame)) = self.answer.take() else { return 0 };
        let m = pool.copy(&frame).expect("an mbuf");
        outs[1].push(m).expect("room");
        1
    }

    fn net_to_host(&mut self, rx: &mut Burst, out: &mut Burst) {
        self.net_to_ports(rx, core::slice::from_mut(out));
    }

    fn net_to_ports(&mut self, rx: &mut Burst, outs: &mut [Burst]) {
        self.psp.decrypt(rx);
        // Into each port's burst, in order; what no port owns stays and is freed.
        let (ports, unowned) = (&self.ports, &mut self.unowned);
        rx.route(|m| match ports.deliver_frame(m.data()).map(usize::from) {
            Some(p) if p < outs.len() => outs[p].push(m).err(),
            _ => {
                *unowned += 1;
                Some(m)
            }
        });
    }
}

#[test]
fn two_vfs_share_one_uplink_and_get_their_own_vms_traffic() {
    let dir = TempDir::new("pspgw-vfports");
    let p = |name: &str| dir.file(name);
    let (ours, peer) = (masters(1), masters(7));
    let (peer_spi, our_spi) = (Spi(0x8000_0005), Spi(9));
    let vm = |i| Ipv4Addr::new(192, 168, 1, i);
    let remote = Ipv4Addr::new(192, 168, 2, 2);
    // VF 0 has 192.168.1.1, VF 1 has 192.168.1.3.
    let from_vf0: Vec<Vec<u8>> = (0..40).map(|i| frame(vm(1), remote, i)).collect();
    let from_vf1: Vec<Vec<u8>> = (0..30).map(|i| frame(vm(3), remote, 100 + i)).collect();
    // From the peer: to either VM in turn, and a few to nobody's.
    let to_vms: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            let dst = match i % 5 {
                4 => vm(9),
                k if k % 2 == 0 => vm(1),
                _ => vm(3),
            };
            frame(remote, dst, 200 + i)
        })
        .collect();
    let from_peer = common::tunnel(our_spi, Version::AesGcm256, &ours);
    let psp: Vec<Vec<u8>> = to_vms
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut b = VecBuf::new(f);
            from_peer.encap(&mut b, i as u64 + 1, false).unwrap();
            b.data().to_vec()
        })
        .collect();
    write_pcap(&p("vf0_in.pcap"), &from_vf0);
    write_pcap(&p("vf1_in.pcap"), &from_vf1);
    write_pcap(&p("psp_in.pcap"), &psp);
    let vdev = |n: usize, rx: &str, tx: &str| {
        format!("net_pcap{n},rx_pcap={},tx_pcap={}", p(rx).display(), p(tx).display())
    };
    let list = EalArgs::new()
        .memory_mb(256)
        .vdev(vdev(0, "vf0_in.pcap", "vf0_out.pcap"))
        .vdev(vdev(1, "vf1_in.pcap", "vf1_out.pcap"))
        .vdev(vdev(2, "psp_in.pcap", "wire_out.pcap"))
        .build();
    let mut eal = Eal::init(&list.args).expect("EAL init");
    let _run_dir = TempDir(eal.runtime_dir().to_owned());
    eal.set_remove_runtime_dir(true);
    let pool = Mempool::new(&eal, "pspgw_vfports", 2047, 64, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let cfg = PortConfig { rx_queues: 1, tx_queues: 1, ..PortConfig::default() };
    let mut vf0 = Port::by_name(&eal, "net_pcap0").unwrap();
    let mut vf1 = Port::by_name(&eal, "net_pcap1").unwrap();
    let mut net = Port::by_name(&eal, "net_pcap2").unwrap();
    for port in [&mut vf0, &mut vf1, &mut net] {
        port.configure(&cfg, &pool).unwrap();
        port.start().unwrap();
    }

    let done = Arc::new(AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    let expected = (from_vf0.len() + from_vf1.len() + psp.len()) as u64;
    let ports = VfPorts::new(&[vec![IpAddr::V4(vm(1))], vec![IpAddr::V4(vm(3))]]).unwrap();
    let answer = frame(vm(2), vm(3), 999);
    let (stats, unowned, from_port) = {
        let core_queues = CoreQueues::claim_all_ports(&[&vf0, &vf1], &net, 1).unwrap();
        assert_eq!(core_queues[0].more_unsecured.len(), 1);
        let to_peer = common::tunnel(peer_spi, Version::AesGcm256, &peer);
        let psp = PspHandler::new(to_peer, ours.clone(), done.clone());
        let packets = PoolPackets::new(&pool, FlowMetadata::register(&eal).unwrap());
        let answer = Some((packets, answer.clone()));
        let mut handlers = vec![VfHandler { psp, ports, unowned: 0, from_port: [0; 2], answer }];
        let stats = std::thread::scope(|s| {
            s.spawn(|| {
                let t0 = Instant::now();
                while done.load(Ordering::Relaxed) < expected
                    && t0.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                stop.store(true, Ordering::Relaxed);
            });
            run_lcores(&eal, &[0], core_queues, &mut handlers, true, &stop).expect("packet core")
        });
        (stats, handlers[0].unowned, handlers[0].from_port)
    };
    assert_eq!(done.load(Ordering::Relaxed), expected, "every packet handled");
    for port in [&mut vf0, &mut vf1, &mut net] {
        port.stop().unwrap(); // flushes the tx pcaps
    }
    let s = &stats[0];
    assert_eq!((s.rx_unsecured, s.tx_secure), (70, 70), "{s:?}");
    assert_eq!((s.rx_secure, s.tx_unsecured, s.tx_full), (50, 41, 0), "{s:?}");
    assert_eq!(unowned, 10, "the frames to 192.168.1.9");
    assert_eq!(from_port, [40, 30], "each burst named by its VF");

    // The uplink carries PSP only, the peer opens it: both VFs' frames.
    let wire_out = read_pcap(&p("wire_out.pcap"));
    assert_eq!(wire_out.len(), 70);
    let mut peer_cache = KeyCache::new(8);
    let mut opened = Vec::new();
    for w in &wire_out {
        let mut b = VecBuf::new(w);
        let mut keys = CachedKeys { masters: &peer, cache: &mut peer_cache };
        let info = decap(&mut b, &mut keys, DecapOptions::default()).expect("peer decrypts");
        assert_eq!(info.spi, peer_spi);
        opened.push(b.data().to_vec());
    }
    let mut sent: Vec<Vec<u8>> = from_vf0.iter().chain(&from_vf1).cloned().collect();
    sent.sort();
    opened.sort();
    assert_eq!(opened, sent);
    // Each VF got its own VM's frames, decrypted, in order.
    let want = |ip: Ipv4Addr| -> Vec<Vec<u8>> {
        to_vms.iter().filter(|f| inner_dst(f) == Some(IpAddr::V4(ip))).cloned().collect()
    };
    assert_eq!(read_pcap(&p("vf0_out.pcap")), want(vm(1)));
    // VF 1 also got the handler's own frame, first (before any traffic).
    let vf1_out = read_pcap(&p("vf1_out.pcap"));
    assert_eq!(vf1_out.first(), Some(&answer));
    assert_eq!(vf1_out[1..], want(vm(3))[..]);
    drop((vf0, vf1, net, pool));
    eal.cleanup().unwrap();
}
