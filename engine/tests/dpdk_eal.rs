//! The DPDK wrapper against a live EAL: virtual devices (`net_ring0` loops
//! its transmit queue back to its receive queue, `net_null0` makes and eats
//! packets), no hugepages, no PCI. One test, because the EAL can be
//! initialised once per process.

#![cfg(feature = "dpdk")]

mod common;

use common::TempDir;

use engine::dpdk::{
    Burst, Eal, EalArgs, Error, FlowMetadata, LcoreId, Mempool, Port, PortConfig, QueueId,
};
use engine::psp::buf::PacketBuf;
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::{Spi, Version};
use engine::wire::{self, ETHERNET_HEADER_LEN as ETH};

/// Ethernet / IPv4 / UDP / payload.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ETH + 28];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (28 + payload.len()) as u16;
    wire::ipv4_emit(
        &mut f[ETH..],
        "10.0.0.1".parse().unwrap(),
        "10.0.0.2".parse().unwrap(),
        17,
        0,
        64,
        ip_len,
    );
    wire::udp_emit(&mut f[ETH + 20..], 4242, 5353, 8 + payload.len() as u16);
    f.extend_from_slice(payload);
    f
}

/// The reference tool's captures, each with the cleartext it decrypts to.
fn reference_captures() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    common::reference::captures(|b| engine::pcap::decode(b).unwrap().remove(0).data)
}

/// The reference tool's master keys (tests/reference/cfg/decrypt.cfg).
fn reference_masters() -> engine::psp::kdf::MasterKeyPair {
    use engine::psp::kdf::{MasterKey, MasterKeyPair};
    let (k0, k1) = common::reference::master_key_bytes();
    MasterKeyPair::new(MasterKey::from_bytes(&k0).unwrap(), MasterKey::from_bytes(&k1).unwrap())
}

#[test]
fn eal_ports_mbufs_and_psp_in_place() {
    let prefix = format!("pspgw-test-{}", std::process::id());
    let list = EalArgs::new()
        .file_prefix(&prefix)
        .memory_mb(256)
        .vdev("net_ring0")
        .vdev("net_null0")
        .build();
    if let Some(note) = &list.note {
        eprintln!("{note}");
    }
    let mut eal = Eal::init(&list.args).expect("EAL init");
    let run_dir = TempDir(eal.runtime_dir().to_owned());
    assert!(run_dir.0.ends_with(&prefix), "{}", run_dir.0.display());
    eal.set_remove_runtime_dir(true);
    assert_eq!(Eal::init(&list.args).unwrap_err(), Error::EalAlreadyInitialized);
    assert_eq!((eal.lcore_count(), LcoreId::current()), (1, Some(eal.main_lcore())));

    // Errors say what failed.
    let e = Port::by_name(&eal, "net_nosuch0").unwrap_err();
    assert!(matches!(e, Error::NoSuchPort { .. }), "{e:?}");
    assert!(e.to_string().contains("\"net_nosuch0\""), "{e}");
    let e = Mempool::new(&eal, "pspgw_bad", 63, 100_000, Mempool::DEFAULT_DATA_ROOM).unwrap_err();
    assert!(e.to_string().starts_with("rte_pktmbuf_pool_create failed: "), "{e}");
    assert_eq!(e.errno(), Some(22), "{e}");

    let pool = Mempool::new(&eal, "pspgw_test", 1023, 32, Mempool::DEFAULT_DATA_ROOM).unwrap();
    let start = pool.avail_count();
    assert_eq!((start, pool.size(), pool.in_use_count()), (1023, 1023, 0));
    let meta = FlowMetadata::register(&eal).unwrap();

    // net_ring0: one queue each way, looped back.
    let mut ring = Port::by_name(&eal, "net_ring0").unwrap();
    assert_eq!(Port::by_name(&eal, "net_ring0").unwrap_err(), Error::PortInUse(ring.id().0));
    assert_eq!(ring.info().unwrap().driver, "net_ring");
    let cfg = PortConfig { rx_queues: 1, tx_queues: 1, rx_desc: 256, tx_desc: 256, rss: true };
    ring.configure(&cfg, &pool).unwrap();
    assert!(!ring.rss_enabled());
    ring.start().unwrap();
    ring.mac_addr().unwrap(); // net_ring's is all zeroes
    match ring.set_promiscuous(true) {
        Ok(()) => assert!(ring.promiscuous().unwrap()),
        Err(e) => assert!(e.to_string().contains("rte_eth_promiscuous_enable"), "{e}"),
    }
    assert_eq!(ring.stats().unwrap().opackets, 0);

    // A PSP tunnel whose output keeps the input's MAC addresses, so that
    // decap gives back the very frame.
    let masters = common::masters(0x11);
    let spi = Spi(0x1234);
    let version = Version::AesGcm128;
    let enc = common::tunnel(spi, version, &masters);
    let frame = udp_frame(b"a datagram through the PSP tunnel and back");

    // Encap in place on an mbuf: the inner packet does not move.
    let mut m = pool.alloc().unwrap();
    assert_eq!((m.len(), m.headroom()), (0, usize::from(Mempool::HEADROOM)));
    m.extend_from_slice(&frame).unwrap();
    assert_eq!(m.data(), &frame[..]);
    let inner = m.data()[ETH..].as_ptr();
    let len = enc.encap(&mut m, 7, true).unwrap();
    let front = enc.overhead_front();
    assert_eq!(m.len(), len);
    assert_eq!(len, frame.len() + front + 16);
    assert_eq!(m.data()[ETH + front..].as_ptr(), inner, "encap moved the inner packet");
    assert_ne!(&m.data()[ETH + front..len - 16], &frame[ETH..], "not encrypted");
    assert_eq!(m.flow_metadata(meta), None);
    m.set_flow_metadata(meta, Some(0xfeed));
    assert_eq!(m.flow_metadata(meta), Some(0xfeed));

    // Out through net_ring0 and back in.
    let mut rxq = ring.rx_queue(QueueId(0)).unwrap();
    let mut txq = ring.tx_queue(QueueId(0)).unwrap();
    let e = ring.rx_queue(QueueId(0)).unwrap_err();
    assert!(e.to_string().contains("already has a handle"), "{e}");
    let e = ring.tx_queue(QueueId(1)).unwrap_err();
    assert!(e.to_string().contains("tx queue 1: not configured"), "{e}");
    let mut burst: Burst = Burst::new();
    burst.push(m).unwrap();
    assert_eq!(txq.tx_burst(&mut burst), 1);
    assert!(burst.is_empty());
    assert_eq!(rxq.rx_burst(&mut burst), 1);
    let mut m = burst.pop().unwrap();
    assert_eq!(m.len(), len);
    assert_eq!(m.flow_metadata(meta), Some(0xfeed));

    // Decap in place: the original frame, where it was.
    let mut cache = KeyCache::new(4);
    let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
    let info = decap(&mut m, &mut keys, DecapOptions::default()).unwrap();
    assert_eq!((info.spi, info.iv, info.sample), (spi, 7, true));
    assert_eq!(m.data(), &frame[..]);
    assert_eq!(m.data()[ETH..].as_ptr(), inner, "decap moved the inner packet");
    m.set_flow_metadata(meta, None);
    assert_eq!(m.flow_metadata(meta), None);
    drop(m);
    assert_eq!(pool.avail_count(), start, "the mbuf went back to the pool");

    // A full burst each way, allocated in bulk.
    assert!(pool.alloc_bulk(&mut burst, 64));
    assert!(burst.is_full() && burst.len() == 32);
    for (i, m) in burst.iter_mut().enumerate() {
        m.extend_from_slice(&frame).unwrap();
        enc.encap(m, 100 + i as u64, false).unwrap();
    }
    assert_eq!(txq.tx_burst(&mut burst), 32);
    let mut got = 0;
    while got < 32 {
        let n = rxq.rx_burst(&mut burst);
        assert!(n > 0, "net_ring0 lost packets: {got} of 32");
        got += n;
    }
    for (i, m) in burst.iter_mut().enumerate() {
        let info = decap(m, &mut keys, DecapOptions::default()).unwrap();
        assert_eq!(info.iv, 100 + i as u64, "order kept");
        assert_eq!(m.data(), &frame[..]);
    }
    // retain frees what it drops; clear frees the rest.
    let mut i = 0;
    burst.retain(|_| {
        i += 1;
        i % 2 == 0
    });
    assert_eq!(burst.len(), 16);
    assert_eq!(pool.avail_count(), start - 16);
    burst.clear();
    assert!(burst.is_empty());
    // The PSP reference tool's 22 test captures, out through net_ring0 and
    // back, decapsulated in place on mbufs: each gives back its cleartext.
    let reference = reference_captures();
    assert_eq!(reference.len(), 22);
    let ref_masters = reference_masters();
    let mut ref_cache = KeyCache::new(4);
    for (name, psp, clear) in &reference {
        let mut m = pool.alloc().unwrap();
        m.extend_from_slice(psp).unwrap();
        burst.push(m).unwrap();
        assert_eq!(txq.tx_burst(&mut burst), 1, "{name}");
        assert_eq!(rxq.rx_burst(&mut burst), 1, "{name}");
        let mut m = burst.pop().unwrap();
        let mut keys = CachedKeys { masters: &ref_masters, cache: &mut ref_cache };
        decap(&mut m, &mut keys, DecapOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.data(), &clear[..], "{name}");
    }
    assert_eq!(rxq.multi_seg_dropped(), 0);
    let s = ring.stats().unwrap();
    assert_eq!((s.opackets, s.ipackets, s.oerrors, s.ierrors), (55, 55, 0, 0));
    drop((rxq, txq));
    assert_eq!(pool.avail_count(), start);

    // Multi-segment mbufs are refused: chain two by hand.
    let a = pool.alloc().unwrap().into_raw();
    let b = pool.alloc().unwrap().into_raw();
    // SAFETY: a and b are fresh mbufs this test owns; chaining them is
    // what rte_pktmbuf_chain does for one-segment heads.
    #[allow(unsafe_code)]
    let e = unsafe {
        (*a).next = b;
        (*a).nb_segs = 2;
        engine::dpdk::Mbuf::from_raw(a).unwrap_err()
    };
    assert_eq!(e, Error::MultiSegment(2));
    assert_eq!(pool.avail_count(), start, "the refused chain was freed");

    // net_null0 with two queues each way: RSS where the device has it.
    let mut null = Port::by_name(&eal, "net_null0").unwrap();
    let info = null.info().unwrap();
    assert_eq!(info.driver, "net_null");
    assert_ne!(null.mac_addr().unwrap().0, [0; 6], "net_null's is random");
    null.configure(&PortConfig { rx_queues: 2, tx_queues: 2, ..PortConfig::default() }, &pool)
        .unwrap();
    assert_eq!(null.rss_enabled(), info.rss_hash_types != 0);
    null.start().unwrap();
    {
        let mut rxq = null.rx_queue(QueueId(1)).unwrap();
        let mut txq = null.tx_queue(QueueId(1)).unwrap();
        let n = rxq.rx_burst(&mut burst);
        assert!(n > 0, "net_null0 makes packets");
        assert_eq!(pool.avail_count(), start - n as u32);
        assert_eq!(txq.tx_burst(&mut burst), n, "net_null0 takes everything");
        assert!(burst.is_empty());
    }
    null.stop().unwrap();
    assert_eq!(pool.avail_count(), start, "no mbuf leaked");

    // Teardown: ports, then the pool, then the EAL.
    drop(null);
    drop(ring);
    assert_eq!(eal.live_handles(), 1);
    drop(pool);
    assert_eq!(eal.live_handles(), 0);
    assert!(run_dir.0.join("config").exists());
    eal.cleanup().unwrap();
    assert!(!run_dir.0.exists(), "runtime directory left behind");
}
