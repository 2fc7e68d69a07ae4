//! The cores over `VecBuf` packets: what goes up to the control plane,
//! what comes back, and what a full ring or an empty pool costs.

use super::*;
use crate::flows::{FlowBatch, FlowClient, FlowProgrammer};
use crate::pipeline::PipelineConfig;
use crate::psp::buf::{Error as BufError, VecBuf};
use crate::tables::{ReplicatedTables, VipPair};
use crate::testkit::{frame, masters_b, tunnel, v6, FlowRequest, DST, SRC};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A packet: a buffer and its flow metadata, as an mbuf has.
#[derive(Debug)]
struct Pkt {
    buf: VecBuf,
    meta: Option<u32>,
}

impl Pkt {
    fn new(data: &[u8]) -> Pkt {
        Pkt { buf: VecBuf::new(data), meta: None }
    }
}

impl PacketBuf for Pkt {
    fn data(&self) -> &[u8] {
        self.buf.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.buf.data_mut()
    }
    fn headroom(&self) -> usize {
        self.buf.headroom()
    }
    fn tailroom(&self) -> usize {
        self.buf.tailroom()
    }
    fn prepend(&mut self, n: usize) -> Result<(), BufError> {
        self.buf.prepend(n)
    }
    fn append(&mut self, n: usize) -> Result<(), BufError> {
        self.buf.append(n)
    }
    fn trim_front(&mut self, n: usize) -> Result<(), BufError> {
        self.buf.trim_front(n)
    }
    fn trim_back(&mut self, n: usize) -> Result<(), BufError> {
        self.buf.trim_back(n)
    }
}

/// A burst of at most `cap` packets.
#[derive(Debug)]
struct Burst {
    v: Vec<Pkt>,
    cap: usize,
}

impl Burst {
    fn with(cap: usize, packets: impl IntoIterator<Item = Pkt>) -> Burst {
        let v: Vec<Pkt> = packets.into_iter().collect();
        assert!(v.len() <= cap);
        Burst { v, cap }
    }
}

impl PacketBurst for Burst {
    type Packet = Pkt;
    fn route(&mut self, mut route: impl FnMut(Pkt) -> Option<Pkt>) {
        self.v = std::mem::take(&mut self.v).into_iter().filter_map(&mut route).collect();
    }
    fn push(&mut self, p: Pkt) -> Result<(), Pkt> {
        if self.is_full() {
            return Err(p);
        }
        self.v.push(p);
        Ok(())
    }
    fn is_full(&self) -> bool {
        self.v.len() >= self.cap
    }
}

/// A pool with `left` packets to give.
#[derive(Debug, Clone)]
struct Pool {
    left: Arc<AtomicUsize>,
}

impl Pool {
    fn new(left: usize) -> Pool {
        Pool { left: Arc::new(AtomicUsize::new(left)) }
    }
}

impl Packets for Pool {
    type Packet = Pkt;
    fn copy(&self, data: &[u8]) -> Option<Pkt> {
        self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).ok()?;
        Some(Pkt::new(data))
    }
    fn flow_metadata(&self, p: &Pkt) -> Option<u32> {
        p.meta
    }
    fn set_flow_metadata(&self, p: &mut Pkt, value: Option<u32>) {
        p.meta = value;
    }
}

struct Rig {
    datapath: SoftwareDatapath,
    prog: FlowProgrammer<ReplicatedTables>,
    client: FlowClient,
    rings: CoreRings<Pkt>,
}

fn rig(cfg: PipelineConfig, cores: usize, to_control: usize) -> Rig {
    let (datapath, prog, client) = SoftwareDatapath::new(cfg, cores, 7);
    assert_eq!(datapath.len(), cores);
    Rig { datapath, prog, client, rings: CoreRings::new(cores, to_control, 8) }
}

/// The datapath's cores on `rings`, seeded with 1.
fn cores(
    datapath: SoftwareDatapath,
    rings: &CoreRings<Pkt>,
    pool: Pool,
    snapshots: Option<Duration>,
) -> Vec<GatewayCore<'_, Pool>> {
    datapath.into_cores(
        &masters_b(),
        CoreSetup { packets: pool, rings, seed: 1, snapshots, vf_ports: None },
    )
}

/// Submits `requests` and runs the programmer and `cores` until they are
/// visible to every core.
fn program(
    prog: &mut FlowProgrammer<ReplicatedTables>,
    client: &FlowClient,
    cores: &mut [GatewayCore<'_, Pool>],
    requests: Vec<FlowRequest>,
) {
    client.submit(FlowBatch { id: 1, requests }).unwrap();
    for _ in 0..10 {
        prog.run_once();
        for c in cores.iter_mut() {
            c.poll(&mut Burst::with(0, []));
        }
        if let Some(done) = client.poll() {
            assert!(done.result.is_ok(), "{:?}", done.result);
            return;
        }
    }
    panic!("the batch never completed");
}

fn insert(dst: Ipv4Addr, spi: u32) -> FlowRequest {
    FlowRequest::InsertTunnel {
        pair: VipPair::new(SRC, dst),
        encap: tunnel(spi, v6()),
        hw_key: None,
    }
}

/// The UDP destination port of an IPv6-outer PSP packet.
fn udp_dst(p: &Pkt) -> u16 {
    let d = p.data();
    u16::from_be_bytes([d[14 + 40 + 2], d[14 + 40 + 3]])
}

#[test]
fn a_miss_goes_up_and_its_resubmitted_packet_leaves_encrypted() {
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 1, 4);
    let rings = &rings;
    let mut cores = cores(datapath, rings, Pool::new(0), None);
    let f = frame(SRC, DST, b"first packet to a new peer");
    let (mut rx, mut out) = (Burst::with(32, [Pkt::new(&f)]), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut out);
    assert!(out.v.is_empty() && rx.v.is_empty(), "held by the control plane, not sent");
    let up = rings.to_control.pop().expect("the miss went up");
    assert_eq!(up.why, ToControl::Miss { pair: VipPair::new(SRC, DST) });
    assert_eq!(up.packet.data(), &f[..], "a miss goes up untouched");

    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x21)]);
    rings.resubmit[0].push(up.packet).unwrap();
    let mut out = Burst::with(32, []);
    assert_eq!(cores[0].poll(&mut out), 1);
    assert_eq!(out.v.len(), 1);
    assert_eq!(udp_dst(&out.v[0]), 1000, "PSP over UDP 1000");
    assert_eq!(out.v[0].data().len(), f.len() + 40 + 8 + 16 + 16, "outer IPv6, UDP, PSP, ICV");
    let s = cores[0].control_stats();
    assert_eq!((s.to_control, s.resubmitted, s.control_ring_full), (1, 1, 0));

    // Traffic from the VM now goes straight out.
    let (mut rx, mut out) = (Burst::with(32, [Pkt::new(&f)]), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut out);
    assert_eq!(out.v.len(), 1);
    assert!(rings.to_control.is_empty());
}

#[test]
fn resubmission_stops_when_the_burst_is_full() {
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 1, 4);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    // Without its tunnel, a resubmitted packet goes up as a miss again.
    let other = Ipv4Addr::new(10, 9, 9, 9);
    rings.resubmit[0].push(Pkt::new(&frame(SRC, other, b"no tunnel yet"))).unwrap();
    assert_eq!(cores[0].poll(&mut Burst::with(2, [])), 0);
    let up = rings.to_control.pop().unwrap();
    assert_eq!(up.why, ToControl::Miss { pair: VipPair::new(SRC, other) });

    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x24)]);
    for _ in 0..3 {
        rings.resubmit[0].push(Pkt::new(&frame(SRC, DST, b"held"))).unwrap();
    }
    let mut out = Burst::with(2, []);
    assert_eq!(cores[0].poll(&mut out), 2);
    assert_eq!(rings.resubmit[0].len(), 1, "the third waits for the next turn");
    assert_eq!(cores[0].control_stats().resubmitted, 3);
}

#[test]
fn a_full_control_ring_frees_and_counts() {
    let r = rig(PipelineConfig::default(), 1, 1);
    let mut cores = cores(r.datapath, &r.rings, Pool::new(0), None);
    let misses = (1..=3).map(|i| Pkt::new(&frame(SRC, Ipv4Addr::new(10, 0, 0, i), b"m")));
    let (mut rx, mut out) = (Burst::with(32, misses), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut out);
    let s = cores[0].control_stats();
    assert_eq!((s.to_control, s.control_ring_full), (1, 2));
    let first = r.rings.to_control.pop().unwrap();
    assert_eq!(first.why, ToControl::Miss { pair: VipPair::new(SRC, Ipv4Addr::new(10, 0, 0, 1)) });
    assert_eq!(cores[0].snapshot().control, s);
}

#[test]
fn sampled_packets_are_mirrored_up_with_the_sentinel_while_buffers_last() {
    let cfg = PipelineConfig { log2_sample_rate: 1, ..PipelineConfig::default() };
    let Rig { datapath, mut prog, client, rings } = rig(cfg, 1, 64);
    let mut cores = cores(datapath, &rings, Pool::new(2), None);
    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x22)]);
    let f = frame(SRC, DST, b"sample me");
    let (mut rx, mut out) = (Burst::with(32, (0..32).map(|_| Pkt::new(&f))), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut out);
    assert_eq!(out.v.len(), 32, "sampling copies; the original still leaves");
    let sampled = cores[0].pipeline().stats().egress_sampling.packets;
    assert!((3..32).contains(&sampled), "1 in 2 of 32 drawn: {sampled}");
    let mut mirrors = 0;
    while let Some(up) = rings.to_control.pop() {
        let meta = cfg.egress_sample_meta_indicator;
        assert_eq!(up.why, ToControl::Sampled { meta });
        assert_eq!(up.packet.meta, Some(meta), "the mirror carries the sentinel");
        assert_eq!(udp_dst(&up.packet), 1000, "the mirror is of the encrypted packet");
        mirrors += 1;
    }
    assert_eq!(mirrors, 2, "the pool had two buffers");
    let s = cores[0].control_stats();
    assert_eq!((s.to_control, s.mirror_no_mbuf), (2, sampled - 2));
}

#[test]
fn snapshots_are_published_every_4096_polls_at_most() {
    let r = rig(PipelineConfig::default(), 1, 4);
    let mut cores = cores(r.datapath, &r.rings, Pool::new(0), Some(Duration::ZERO));
    let mut rx = Burst::with(32, [Pkt::new(&frame(SRC, DST, b"count me"))]);
    cores[0].host_to_net(&mut rx, &mut Burst::with(32, []));
    for _ in 0..4095 {
        cores[0].poll(&mut Burst::with(32, []));
    }
    assert!(r.rings.snapshots[0].is_empty(), "the clock is read once per 4096 polls");
    cores[0].poll(&mut Burst::with(32, []));
    let snap = r.rings.snapshots[0].pop().expect("published on the 4096th poll");
    assert_eq!(snap.control.to_control, 1);
    assert_eq!(snap.pipes.egress_acl_miss.packets, 1);
}

#[test]
fn each_core_gets_its_own_resubmit_ring_and_pipeline() {
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 2, 4);
    assert_eq!(rings.cores(), 2);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    assert_eq!(cores.len(), 2);
    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x23)]);
    rings.resubmit[1].push(Pkt::new(&frame(SRC, DST, b"for core 1"))).unwrap();
    let mut out = Burst::with(32, []);
    assert_eq!(cores[0].poll(&mut out), 0);
    assert_eq!(cores[1].poll(&mut out), 1);
    assert_eq!(cores[1].control_stats().resubmitted, 1);
    // Core i's IVs are its own 2^48 range: core 1's first is 2^48 + 1.
    let iv = &out.v[0].data()[14 + 40 + 8 + 8..14 + 40 + 8 + 16];
    assert_eq!(u64::from_be_bytes(iv.try_into().unwrap()), (1 << 48) | 1);
}

fn arp_frame() -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    f[..6].fill(0xff);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f
}

#[test]
fn the_offload_core_sends_misses_arp_and_samples_up_and_drops_the_rest() {
    let cfg = PipelineConfig::default();
    let rings = CoreRings::<Pkt>::new(1, 3, 2);
    let pool = Pool::new(0);
    let mut core = OffloadCore::new(cfg, pool.clone(), &rings.to_control, &rings.resubmit[0]);
    let mut sampled = Pkt::new(&frame(SRC, DST, b"mirror"));
    pool.set_flow_metadata(&mut sampled, Some(cfg.ingress_sample_meta_indicator));
    let rx = [
        Pkt::new(&frame(SRC, DST, b"miss")),
        Pkt::new(&arp_frame()),
        Pkt::new(&[0u8; 9]),
        sampled,
        Pkt::new(&frame(SRC, DST, b"one too many")),
    ];
    let (mut rx, mut out) = (Burst::with(32, rx), Burst::with(32, []));
    core.net_to_host(&mut rx, &mut out);
    assert!(rx.v.is_empty() && out.v.is_empty());
    let s = core.stats();
    assert_eq!((s.misses, s.arp, s.other, s.sampled, s.control_ring_full), (2, 1, 1, 1, 1));
    let whys: Vec<ToControl> =
        std::iter::from_fn(|| rings.to_control.pop()).map(|c| c.why).collect();
    let meta = cfg.ingress_sample_meta_indicator;
    assert_eq!(
        whys,
        [
            ToControl::Miss { pair: VipPair::new(SRC, DST) },
            ToControl::Rss,
            ToControl::Sampled { meta }
        ]
    );

    // Held packets leave as they are, through the PF, while the burst has room.
    rings.resubmit[0].push(Pkt::new(&frame(SRC, DST, b"held 1"))).unwrap();
    rings.resubmit[0].push(Pkt::new(&frame(SRC, DST, b"held 2"))).unwrap();
    let mut out = Burst::with(1, []);
    assert_eq!(core.poll(&mut out), 1);
    assert_eq!(out.v[0].data(), &frame(SRC, DST, b"held 1")[..]);
    assert_eq!(core.poll(&mut Burst::with(4, [])), 1);
    assert_eq!(core.stats().resubmitted, 2);
}

#[test]
fn with_several_unsecured_ports_each_packet_goes_to_its_destinations_port() {
    use crate::pipeline::VfPorts;
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 1, 4);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    // Tunnels to ourselves (the keys derive from our own masters) and
    // their ACL pairs: what we encrypt we decrypt.
    let nobody = Ipv4Addr::new(10, 9, 9, 9);
    let acl = |spi, dst| FlowRequest::InsertAcl {
        spi: crate::psp::Spi(spi),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(dst),
    };
    let requests = vec![insert(DST, 0x21), insert(nobody, 0x22), acl(0x21, DST), acl(0x22, nobody)];
    program(&mut prog, &client, &mut cores, requests);
    let clear = [
        frame(SRC, DST, b"to port 1, first"),
        frame(SRC, DST, b"to port 1, second"),
        frame(SRC, nobody, b"no port has it"),
        frame(SRC, DST, b"to port 1, third"),
    ];
    let (mut rx, mut wire) =
        (Burst::with(32, clear.iter().map(|f| Pkt::new(f))), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut wire);
    assert_eq!(wire.v.len(), 4, "all encrypted");

    let ports = VfPorts::new(&[vec![IpAddr::V4(SRC)], vec![IpAddr::V4(DST)]]).unwrap();
    let mut outs = [Burst::with(32, []), Burst::with(2, [])];
    cores[0].deliver_to_ports(&mut wire, &mut outs, &ports);
    assert!(wire.v.is_empty());
    assert!(outs[0].v.is_empty(), "port 0's VMs are not the destination");
    let inner: Vec<&[u8]> = outs[1].v.iter().map(|p| &p.data()[12..]).collect();
    assert_eq!(inner, [&clear[0][12..], &clear[1][12..]], "decrypted, in order, up to room");
    let s = cores[0].control_stats();
    assert_eq!((s.no_vf_port, s.vf_out_full), (1, 1));
    assert_eq!(cores[0].pipeline().stats().ingress_acl.packets, 4, "all four admitted");
}

#[test]
fn with_several_ports_each_sends_only_its_own_vms_sources() {
    use crate::pipeline::VfPorts;
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 1, 4);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    let other = Ipv4Addr::new(10, 0, 0, 3);
    let mut ports = VfPorts::new(&[vec![IpAddr::V4(SRC)], vec![IpAddr::V4(other)]]).unwrap();
    ports.set_decap_dmac(0, Some(crate::wire::MacAddr([2, 0, 0, 0, 1, 1])));
    cores[0].deliver_by(ports);
    // A session each: port 0's VM and port 1's, both to DST.
    let theirs = FlowRequest::InsertTunnel {
        pair: VipPair::new(other, DST),
        encap: tunnel(0x32, v6()),
        hw_key: None,
    };
    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x31), theirs]);
    let burst = |src| Burst::with(32, [Pkt::new(&frame(src, DST, b"x"))]);
    let mut wire = Burst::with(32, []);
    // SRC is port 0's VM: from port 1 it is a spoof, freed and counted.
    cores[0].host_to_net_from(1, &mut burst(SRC), &mut wire);
    assert!(wire.v.is_empty());
    assert_eq!(cores[0].control_stats().vf_src_refused, 1);
    cores[0].host_to_net_from(0, &mut burst(SRC), &mut wire);
    assert_eq!(wire.v.len(), 1, "port 0 may send SRC");
    wire.v.clear();
    cores[0].host_to_net_from(1, &mut burst(other), &mut wire);
    assert_eq!(wire.v.len(), 1, "port 1 may send its own VM's");
    assert_eq!(cores[0].control_stats().vf_src_refused, 1);
    // ARP carries no IP source to check; it goes up, tagged with its port.
    let mut arp = frame(other, DST, b"");
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    cores[0].host_to_net_from(1, &mut Burst::with(32, [Pkt::new(&arp)]), &mut wire);
    let up = rings.to_control.pop().expect("ARP to the control plane");
    assert_eq!((up.why, up.vf), (ToControl::Rss, Some(1)));
}

#[test]
fn decrypted_packets_get_their_ports_decap_mac() {
    use crate::pipeline::VfPorts;
    let Rig { datapath, mut prog, client, rings } = rig(PipelineConfig::default(), 1, 4);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    let acl = FlowRequest::InsertAcl {
        spi: crate::psp::Spi(0x41),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    };
    program(&mut prog, &client, &mut cores, vec![insert(DST, 0x41), acl]);
    let (mut rx, mut wire) =
        (Burst::with(32, [Pkt::new(&frame(SRC, DST, b"y"))]), Burst::with(32, []));
    cores[0].host_to_net(&mut rx, &mut wire);
    let mut ports = VfPorts::new(&[vec![IpAddr::V4(SRC)], vec![IpAddr::V4(DST)]]).unwrap();
    let vm = crate::wire::MacAddr([2, 0, 0, 0, 4, 4]);
    ports.set_decap_dmac(1, Some(vm));
    let mut outs = [Burst::with(32, []), Burst::with(32, [])];
    cores[0].deliver_to_ports(&mut wire, &mut outs, &ports);
    assert_eq!(outs[1].v.len(), 1);
    assert_eq!(&outs[1].v[0].data()[..6], &vm.0, "port 1's VM MAC");
    assert_eq!(&outs[1].v[0].data()[12..], &frame(SRC, DST, b"y")[12..]);
}

#[test]
fn frames_from_the_control_plane_go_out_their_port() {
    let Rig { datapath, rings, .. } = rig(PipelineConfig::default(), 2, 4);
    let mut cores = cores(datapath, &rings, Pool::new(0), None);
    for (port, text) in [(1u8, &b"answer on 1"[..]), (0, b"answer on 0"), (7, b"no port 7")] {
        rings.to_host[1].push(ToHost { port, packet: Pkt::new(text) }).unwrap();
    }
    let mut outs = [Burst::with(32, []), Burst::with(32, [])];
    assert_eq!(cores[0].to_hosts(&mut outs), 0, "core 0's ring is empty");
    assert_eq!(cores[1].to_hosts(&mut outs), 2);
    assert_eq!(outs[0].v[0].data(), b"answer on 0");
    assert_eq!(outs[1].v[0].data(), b"answer on 1");
    let s = cores[1].control_stats();
    assert_eq!((s.to_host, s.to_host_dropped), (3, 1));
    // A full burst frees what does not fit.
    let mut full = [Burst::with(0, [])];
    rings.to_host[1].push(ToHost { port: 0, packet: Pkt::new(b"z") }).unwrap();
    assert_eq!(cores[1].to_hosts(&mut full), 0);
    assert_eq!(cores[1].control_stats().to_host_dropped, 2);
}
