//! The packet core of an offloaded pipeline (`OffloadCore`, the DOCA
//! backend's miss path) on real mbufs, without a NIC: RSS traffic is
//! classified by its bytes and flow metadata and handed to the control
//! plane; held packets come back through the resubmit ring toward the PF.
//! Runs the EAL with `--no-huge` and no device.

mod common;

use crossbeam::queue::ArrayQueue;
use engine::cores::{BurstHandler, ControlPacket, OffloadCore, ToControl};
use engine::dpdk::Burst;
use engine::dpdk::{Eal, EalArgs, FlowMetadata, Mbuf, Mempool, PoolPackets};
use engine::pipeline::PipelineConfig;
use engine::psp::buf::PacketBuf;

fn frame(ethertype: u16, dst: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    if ethertype == 0x0800 {
        engine::wire::ipv4_emit(&mut f[14..], [10, 0, 0, 1].into(), dst.into(), 17, 0, 64, 28);
    }
    f
}

#[test]
fn rss_traffic_goes_up_and_held_packets_go_out_the_pf() {
    let list = EalArgs::new().hugepages(engine::dpdk::Hugepages::Off).build();
    let mut eal = Eal::init(&list.args).expect("EAL init");
    eal.set_remove_runtime_dir(true);
    let meta = FlowMetadata::register(&eal).unwrap();
    let pool = Mempool::new(&eal, "pspgw_offload", 511, 0, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let cfg = PipelineConfig::default();
    let to_control: ArrayQueue<ControlPacket<Mbuf>> = ArrayQueue::new(3);
    let resubmit: ArrayQueue<Mbuf> = ArrayQueue::new(8);
    let mut core = OffloadCore::new(cfg, PoolPackets::new(&pool, meta), &to_control, &resubmit);

    let mbuf = |bytes: &[u8], m: Option<u32>| {
        let mut b = pool.alloc().expect("mbuf");
        b.extend_from_slice(bytes).unwrap();
        b.set_flow_metadata(meta, m);
        b
    };
    let mut rx: Burst = Burst::new();
    let mut out: Burst = Burst::new();
    let _ = rx.push(mbuf(&frame(0x0800, [10, 0, 0, 2]), None));
    let _ = rx.push(mbuf(&frame(0x0800, [10, 0, 0, 3]), Some(cfg.egress_sample_meta_indicator)));
    let _ = rx.push(mbuf(&frame(0x0806, [0; 4]), None));
    let _ = rx.push(mbuf(&frame(0x86dd, [0; 4]), None));
    // The control ring holds 3: the fourth for it is freed and counted.
    let _ = rx.push(mbuf(&frame(0x0800, [10, 0, 0, 4]), None));
    core.net_to_host(&mut rx, &mut out);
    assert!(rx.is_empty() && out.is_empty(), "nothing goes out on its own");
    let up: Vec<ToControl> = std::iter::from_fn(|| to_control.pop()).map(|c| c.why).collect();
    assert_eq!(
        up,
        vec![
            ToControl::Miss { pair: engine::tables::VipPair::new([10, 0, 0, 1], [10, 0, 0, 2]) },
            ToControl::Sampled { meta: cfg.egress_sample_meta_indicator },
            ToControl::Rss,
        ]
    );
    let s = core.stats();
    assert_eq!((s.misses, s.sampled, s.arp, s.other, s.control_ring_full), (2, 1, 1, 1, 1));

    // Held packets: back out, in order, as many as the burst has room for.
    for i in 0..5u8 {
        resubmit.push(mbuf(&frame(0x0800, [10, 0, 1, i]), None)).unwrap();
    }
    assert_eq!(core.poll(&mut out), 5);
    let mut dsts: Vec<u8> = Vec::new();
    out.route(|m| {
        dsts.push(m.data()[33]);
        None
    });
    assert_eq!(dsts, vec![0, 1, 2, 3, 4]);
    assert_eq!(core.stats().resubmitted, 5);

    // An IPv6 neighbour solicitation from the VF (NVIDIA's vf_ns_to_rss)
    // goes up like ARP, and is counted on its own.
    let mut ns = vec![0u8; 14 + 40 + 24];
    ns[12..14].copy_from_slice(&[0x86, 0xdd]);
    ns[14] = 0x60;
    ns[14 + 5] = 24; // payload length
    ns[14 + 6] = 58; // ICMPv6
    ns[14 + 40] = 135;
    let _ = rx.push(mbuf(&ns, None));
    core.net_to_host(&mut rx, &mut out);
    assert_eq!(to_control.pop().map(|c| c.why), Some(ToControl::Rss));
    assert_eq!((core.stats().nd, core.stats().other), (1, 1));
    drop(pool);
    eal.cleanup().unwrap();
}
