use super::*;
use crate::psp::buf::{PacketBuf, VecBuf};
use crate::psp::encap::{Encapsulator, EthAddrs};
use crate::psp::kdf::DerivedKey;
use crate::psp::Version;
use crate::tables::HwKey;
use crate::tables::{AclEntry, TunnelEntry};
use std::sync::Arc;

pub(crate) fn ports() -> DocaPorts {
    DocaPorts {
        secure: 0,
        unsecured: 1,
        secure_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        unsecured_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        next_hop_mac: MacAddr([2, 0, 0, 0, 0, 3]),
    }
}

fn encap_cfg(spi: u32, outer: OuterIp, vc: Option<u64>) -> EncapConfig {
    EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm128,
        spi: Spi(spi),
        crypt_offset: 0,
        vc,
        eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
        outer,
        ttl: 64,
    }
}

fn v6() -> OuterIp {
    OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() }
}

fn v4() -> OuterIp {
    OuterIp::V4 { src: Ipv4Addr::new(172, 16, 0, 1), dst: Ipv4Addr::new(172, 16, 0, 2) }
}

/// Our VM, the inner source of every tunnel here.
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 1);
/// A distinct 16-byte key per SPI.
fn key_of(spi: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (spi as u8).wrapping_mul(31).wrapping_add(i as u8 * 7) ^ 0xa5;
    }
    k
}

fn tunnel(dst: [u8; 4], spi: u32) -> TableOp {
    let key = DerivedKey::from_bytes(&key_of(spi)).unwrap();
    let e = Encapsulator::new(encap_cfg(spi, v6(), None), &key).unwrap();
    TableOp::SetTunnel(
        crate::tables::VipPair::new(ME, Ipv4Addr::from(dst)),
        TunnelEntry { slot: 0, generation: u64::from(spi), encap: Arc::new(e) },
        Some(HwKey::new(key)),
    )
}

fn udp4_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ETH + 20 + 8 + payload.len()];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let (s, d) = (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 2));
    crate::wire::ipv4_emit(&mut f[ETH..], s, d, 17, 0x28, 64, (28 + payload.len()) as u16);
    crate::wire::udp_emit(&mut f[ETH + 20..], 1234, 5678, (8 + payload.len()) as u16);
    f[ETH + 28..].copy_from_slice(payload);
    f
}

fn get(spec: &[DocaPipeSpec], id: PipeId) -> &DocaPipeSpec {
    spec.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no {}", id.name()))
}

#[test]
fn pipes_without_sampling() {
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let pipes = t.pipes();
    let ids: Vec<_> = pipes.iter().map(|p| p.name).collect();
    assert_eq!(
        ids,
        [
            "rss_pipe",
            "syndrome_stats_pipe",
            "decap_pipe",
            "ingress_acl_pipe",
            "ingress_acl_ipv6_pipe",
            "ingress_src_ip6_pipe",
            "inner_ip_classifier_pipe",
            "decrypt_pipe",
            "ingress_decrypt_pipe",
            "encap_encrypt_pipe",
            "egress_acl_pipe",
            "egress_acl_ipv6_pipe",
            "egress_dst_ip6_pipe",
            "empty_pipe",
            "ingress_miss_pipe",
            "ingress_root_pipe"
        ]
    );
    // Every pipe a pipe or a fixed entry forwards to exists, and a pipe's
    // targets were created before it.
    for e in t.static_entries() {
        if let Some(Fwd::Pipe(to) | Fwd::OrderedList(to, _)) = e.fwd {
            assert!(pipes.iter().any(|q| q.id == to), "{} forwards to {}", e.counter, to.name());
        }
    }
    for (i, p) in pipes.iter().enumerate() {
        for f in [p.fwd, p.fwd_miss].into_iter().flatten() {
            if let Fwd::Pipe(to) | Fwd::OrderedList(to, _) = f {
                let j = pipes.iter().position(|q| q.id == to).expect("target exists");
                assert!(j < i, "{} forwards to {} created later", p.name, to.name());
            }
        }
    }
    let rss = get(&pipes, PipeId::Rss);
    assert_eq!((rss.fwd, rss.domain), (Some(Fwd::RssPerEntry), Domain::Egress));

    let syn = get(&pipes, PipeId::SyndromeStats);
    assert_eq!(syn.domain, Domain::SecureIngress);
    assert_eq!(syn.matches, [(Field::PspSyndrome, Value::PerEntry)]);
    assert_eq!((syn.fwd, syn.fwd_miss, syn.nr_entries), (Some(Fwd::Drop), Some(Fwd::Drop), 2));

    let acl = get(&pipes, PipeId::IngressAcl);
    assert_eq!((acl.domain, acl.direction), (Domain::SecureIngress, Direction::NetToHost));
    assert_eq!(
        acl.matches,
        [
            (Field::PspSyndrome, Value::PerEntry),
            (Field::TunPsp, Value::Exact(1)),
            (Field::PspSpi, Value::PerEntry),
            (Field::InnerIp4, Value::Exact(1)),
            (Field::InnerIp4Src, Value::PerEntry),
            (Field::InnerIp4Dst, Value::PerEntry),
        ]
    );
    assert!(acl.actions.is_empty());
    assert_eq!(acl.fwd, Some(Fwd::OrderedList(PipeId::Decap, None)));
    assert_eq!(acl.fwd_miss, Some(Fwd::Pipe(PipeId::SyndromeStats)));
    assert_eq!(acl.nr_entries, 1 << 16);
    let decap = get(&pipes, PipeId::Decap);
    let mac = |ethertype| PipeAction::DecapL2 {
        dst: ports().unsecured_mac,
        src: ports().secure_mac,
        ethertype,
    };
    assert_eq!(
        (decap.kind, decap.actions.clone()),
        (PipeType::OrderedList, vec![mac(0x0800), mac(0x86dd)])
    );
    assert_eq!(
        (decap.fwd, decap.fwd_miss),
        (Some(Fwd::Port(PortRole::Unsecured)), Some(Fwd::Pipe(PipeId::SyndromeStats)))
    );

    let dec = get(&pipes, PipeId::IngressDecrypt);
    assert!(dec.actions.is_empty());
    assert!(dec.matches.contains(&(Field::OuterUdpDstPort, Value::Exact(1000))));
    assert_eq!(
        (dec.fwd, dec.fwd_miss),
        (Some(Fwd::OrderedList(PipeId::Decrypt, Some(0))), None),
        "misses take DOCA's default (dropped), as NVIDIA's MATCH_INGR_DECRYPT"
    );
    let decrypt = get(&pipes, PipeId::Decrypt);
    assert_eq!(
        (decrypt.kind, decrypt.actions.clone()),
        (PipeType::OrderedList, vec![PipeAction::Decrypt])
    );
    assert_eq!(
        (decrypt.fwd, decrypt.fwd_miss),
        (Some(Fwd::Pipe(PipeId::InnerIpClassifier)), Some(Fwd::Pipe(PipeId::SyndromeStats)))
    );

    let eacl = get(&pipes, PipeId::EgressAcl);
    assert_eq!((eacl.domain, eacl.direction), (Domain::SecureEgress, Direction::HostToNet));
    assert_eq!(
        eacl.matches,
        [
            (Field::OuterIp4, Value::Exact(1)),
            (Field::OuterIp4Dst, Value::PerEntry),
            (Field::OuterIp4Src, Value::PerEntry)
        ]
    );
    assert!(eacl.actions.is_empty());
    let ee = get(&pipes, PipeId::EncapEncrypt);
    assert_eq!(
        ee.actions,
        [
            PipeAction::EncryptEncap { outer: OuterVersion::Ipv4, mode: Mode::Tunnel, len: 58 },
            PipeAction::EncryptEncap { outer: OuterVersion::Ipv6, mode: Mode::Tunnel, len: 78 },
        ]
    );
    assert_eq!((ee.kind, ee.nr_entries), (PipeType::OrderedList, (1 << 16) + 2));
    // The miss path: to the control plane, like Action::Miss.
    assert_eq!(
        (eacl.fwd, eacl.fwd_miss),
        (Some(Fwd::OrderedList(PipeId::EncapEncrypt, None)), Some(Fwd::Pipe(PipeId::Rss)))
    );
    assert_eq!(
        (ee.fwd, ee.fwd_miss),
        (Some(Fwd::Port(PortRole::Secure)), Some(Fwd::Pipe(PipeId::Rss)))
    );

    let empty = get(&pipes, PipeId::Empty);
    assert!(empty.is_root);
    assert_eq!((empty.domain, empty.fwd), (Domain::SecureEgress, Some(Fwd::Changeable)));

    let root = get(&pipes, PipeId::IngressRoot);
    assert_eq!((root.kind, root.is_root, root.domain), (PipeType::Basic, true, Domain::Default));
}

#[test]
fn pipes_with_sampling_and_maintain_order_refused() {
    let cfg = PipelineConfig { log2_sample_rate: 3, ..Default::default() };
    let t = Translator::new(cfg, ports()).unwrap();
    let pipes = t.pipes();
    let dec = get(&pipes, PipeId::Decrypt);
    assert_eq!(dec.fwd, Some(Fwd::Pipe(PipeId::IngressSampling)));
    let ee = get(&pipes, PipeId::EncapEncrypt);
    assert_eq!(ee.fwd, Some(Fwd::Pipe(PipeId::EgressSampling)));
    // Every pipe a pipe or an entry forwards to exists; a pipe's own
    // targets come before it.
    for (i, p) in pipes.iter().enumerate() {
        for f in [p.fwd, p.fwd_miss].into_iter().flatten() {
            if let Fwd::Pipe(to) | Fwd::Flood(to) = f {
                let j = pipes.iter().position(|q| q.id == to).expect("target exists");
                assert!(j < i, "{} forwards to {} created later", p.name, to.name());
            }
        }
    }
    for e in t.static_entries() {
        if let Some(Fwd::Pipe(to) | Fwd::Flood(to)) = e.fwd {
            assert!(pipes.iter().any(|q| q.id == to), "{} forwards to {}", e.counter, to.name());
        }
        if let Some(Fwd::Flood(to)) = e.fwd {
            assert_eq!(get(&pipes, to).kind, PipeType::Flood);
        }
    }
    // --maintain-order used a mirror; NVIDIA 3.3 has no such mode.
    let cfg = PipelineConfig { log2_sample_rate: 3, maintain_order: true, ..Default::default() };
    assert_eq!(Translator::new(cfg, ports()).unwrap_err(), TranslateError::MaintainOrder);
    let cfg = PipelineConfig { maintain_order: true, ..Default::default() };
    assert!(Translator::new(cfg, ports()).is_ok(), "without sampling it changes nothing");
}

#[test]
fn sampling_threshold_for_every_rate() {
    for n in 1..=16u8 {
        let threshold = Translator::sample_threshold(n);
        // Sampled: parser_meta.random not below the threshold, 1 in 2^n
        // of the 16-bit values exactly.
        let sampled = (0..=u16::MAX).filter(|&r| r >= threshold).count();
        assert_eq!(sampled, 1 << (16 - n), "rate {n}");
        let cfg = PipelineConfig { log2_sample_rate: n, ..Default::default() };
        let t = Translator::new(cfg, ports()).unwrap();
        let not_sampled = t
            .static_entries()
            .into_iter()
            .find(|e| e.pipe == PipeId::EgressSampling && e.condition.is_some())
            .unwrap();
        assert_eq!(not_sampled.matches, [(Field::Random, Value::Exact(u32::from(threshold)))]);
    }
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    assert!(t.pipes().iter().all(|p| p.id != PipeId::EgressSampling));
    let cfg = PipelineConfig { log2_sample_rate: 17, ..Default::default() };
    assert_eq!(Translator::new(cfg, ports()).unwrap_err(), TranslateError::SampleRate(17));
}

#[test]
fn static_entries_root_syndromes_and_decrypt() {
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let e = t.static_entries();
    let syn: Vec<_> = e.iter().filter(|x| x.pipe == PipeId::SyndromeStats).collect();
    assert_eq!(syn.len(), 2);
    assert_eq!(syn[0].key, EntryKey::Syndrome(Syndrome::IcvFail));
    assert_eq!(syn[0].matches, [(Field::PspSyndrome, Value::Exact(1))]);
    assert_eq!(syn[0].counter, "icv_fail");
    assert_eq!(syn[1].matches, [(Field::PspSyndrome, Value::Exact(2))]);
    assert_eq!(syn[1].counter, "bad_trailer");

    let root: Vec<_> = e.iter().filter(|x| x.pipe == PipeId::IngressRoot).collect();
    assert_eq!(root.len(), 9);
    // From the secure port, UDP over both families to decryption; the
    // rest from the unsecured port to the egress root.
    for (i, r) in root.iter().enumerate() {
        let port = if i < 2 { 0 } else { 1 };
        assert_eq!(r.matches[0], (Field::PortId, Value::Exact(port)), "{i}");
        let to = if i < 2 { PipeId::IngressDecrypt } else { PipeId::Empty };
        assert_eq!(r.fwd, Some(Fwd::Pipe(to)), "{i}");
    }
    let miss: Vec<_> = e.iter().filter(|x| x.pipe == PipeId::IngressMiss).collect();
    let got: Vec<_> = miss.iter().map(|m| (m.priority, m.counter, m.fwd)).collect();
    assert_eq!(
        got,
        [
            (1, "vf_ns_to_rss", Some(Fwd::RssIpv6)),
            (2, "miss_to_egress_ipv6_icmp", Some(Fwd::Pipe(PipeId::Empty))),
            (3, "vf_arp_to_rss", Some(Fwd::RssIpv4)),
            (4, "root_default_drop", Some(Fwd::Drop)),
        ]
    );
    assert_eq!(get(&t.pipes(), PipeId::IngressRoot).nr_entries, 12);
    let dec = e.iter().find(|x| x.pipe == PipeId::IngressDecrypt).unwrap();
    assert_eq!(dec.matches, [(Field::PortId, Value::Exact(0))]);

    // Outer IPv4 configured: the same root (it takes both families).
    let cfg = PipelineConfig { outer: OuterVersion::Ipv4, ..Default::default() };
    let t4 = Translator::new(cfg, ports()).unwrap();
    let root4: Vec<_> =
        t4.static_entries().into_iter().filter(|x| x.pipe == PipeId::IngressRoot).collect();
    assert_eq!(
        root4.iter().map(|r| &r.matches).collect::<Vec<_>>(),
        root.iter().map(|r| &r.matches).collect::<Vec<_>>()
    );

    // Ingress ACL disabled: one entry letting every clean packet through.
    let cfg = PipelineConfig { disable_ingress_acl: true, ..Default::default() };
    let t = Translator::new(cfg, ports()).unwrap();
    let acl: Vec<_> =
        t.static_entries().into_iter().filter(|x| x.pipe == PipeId::IngressAcl).collect();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].matches, [(Field::PspSyndrome, Value::Exact(0))]);
    assert_eq!(get(&t.pipes(), PipeId::IngressAcl).nr_entries, 1);
}

#[test]
fn tunnels_and_acls_inserted_and_removed() {
    let mut t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let src = Ipv4Addr::new(10, 0, 0, 9);
    let acl = AclEntry { slot: 0, generation: 1 };
    let steps = t
        .translate(&[
            tunnel([10, 0, 0, 1], 0x100),
            TableOp::SetAcl(Spi(0x55), crate::tables::VipPair::new(src, ME), acl),
        ])
        .unwrap();
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(
        steps[0],
        Step::ProgramKey {
            crypto_id: 1,
            dst: Ipv4Addr::new(10, 0, 0, 1),
            spi: Spi(0x100),
            key: PspKeyCfg::new(&key_of(0x100)).unwrap(),
        }
    );
    // The encap-encrypt entry at the slot's index (list 1: into IPv6),
    // then the match entry that forwards to it.
    let Step::Add(o) = &steps[1] else { panic!("{:?}", steps[1]) };
    assert_eq!((o.pipe, o.key), (PipeId::EncapEncrypt, EntryKey::Crypto(1)));
    let EntryAction::Encrypt { action_idx, crypto_id, encap_data } = &o.action else { panic!() };
    assert_eq!((*action_idx, *crypto_id, encap_data.len()), (1, 1, 78));
    assert_eq!(o.fwd, Some(Fwd::Port(PortRole::Secure)));
    let Step::Add(e) = &steps[2] else { panic!("{:?}", steps[2]) };
    assert_eq!(
        (e.pipe, e.key),
        (PipeId::EgressAcl, EntryKey::Tunnel(ME, Ipv4Addr::new(10, 0, 0, 1)))
    );
    // The session's two addresses, as NVIDIA's MATCH_EGR_ACL_IPV4: a
    // second VM of ours to the same destination is another entry.
    assert_eq!(
        e.matches,
        [
            (Field::OuterIp4Dst, Value::Exact(0x0a00_0001)),
            (Field::OuterIp4Src, Value::Exact(0x0a00_0901))
        ]
    );
    assert_eq!(
        (&e.action, e.fwd),
        (&EntryAction::Template, Some(Fwd::OrderedList(PipeId::EncapEncrypt, Some(1))))
    );
    let Step::Add(a) = &steps[3] else { panic!("{:?}", steps[3]) };
    assert_eq!((a.pipe, a.key), (PipeId::IngressAcl, EntryKey::Acl(Spi(0x55), src, ME)));
    assert_eq!(
        a.matches,
        [
            (Field::PspSyndrome, Value::Exact(0)),
            (Field::PspSpi, Value::Exact(0x55)),
            (Field::InnerIp4Src, Value::Exact(0x0a00_0009)),
            (Field::InnerIp4Dst, Value::Exact(0x0a00_0901)),
        ]
    );
    assert_eq!(a.fwd, Some(Fwd::OrderedList(PipeId::Decap, Some(0))));
    assert_eq!(steps[4], Step::Flush { release: vec![] });
    assert_eq!(t.crypto_id(ME, Ipv4Addr::new(10, 0, 0, 1)), Some(1));

    let steps = t
        .translate(&[
            TableOp::DelTunnel(crate::tables::VipPair::new(ME, Ipv4Addr::new(10, 0, 0, 1))),
            TableOp::DelAcl(Spi(0x55), crate::tables::VipPair::new(src, ME)),
        ])
        .unwrap();
    assert_eq!(
        steps,
        [
            Step::Remove(EntryKey::Tunnel(ME, Ipv4Addr::new(10, 0, 0, 1))),
            Step::Remove(EntryKey::Crypto(1)),
            Step::Remove(EntryKey::Acl(Spi(0x55), src, ME)),
            Step::Flush { release: vec![1] },
        ]
    );
    assert_eq!(t.crypto_id(ME, Ipv4Addr::new(10, 0, 0, 1)), None);
    // Removing what is not there does nothing.
    assert_eq!(
        t.translate(&[TableOp::DelTunnel(crate::tables::VipPair::new(
            ME,
            Ipv4Addr::new(1, 1, 1, 1)
        ))])
        .unwrap(),
        [Step::Flush { release: vec![] }]
    );
}

#[test]
fn crypto_ids_are_reused_and_replacement_is_hitless() {
    let mut t =
        Translator::new(PipelineConfig { max_tunnels: 2, ..Default::default() }, ports()).unwrap();
    assert_eq!(t.crypto_ids().all().collect::<Vec<_>>(), [1, 2, 3]);
    t.translate(&[tunnel([10, 0, 0, 1], 1), tunnel([10, 0, 0, 2], 2)]).unwrap();
    let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!((t.crypto_id(ME, a), t.crypto_id(ME, b)), (Some(1), Some(2)));
    // Replacing a's tunnel: new slot programmed, its encap-encrypt entry
    // added, the match entry moved to it, the old one removed, the old
    // slot released only after the flush.
    let steps = t.translate(&[tunnel([10, 0, 0, 1], 11)]).unwrap();
    assert!(matches!(steps[0], Step::ProgramKey { crypto_id: 3, spi: Spi(11), .. }));
    let Step::Add(o) = &steps[1] else { panic!("{:?}", steps[1]) };
    assert!(matches!(o.action, EntryAction::Encrypt { crypto_id: 3, .. }));
    assert_eq!(o.key, EntryKey::Crypto(3));
    let Step::Update(e) = &steps[2] else { panic!("{:?}", steps[2]) };
    assert_eq!(e.fwd, Some(Fwd::OrderedList(PipeId::EncapEncrypt, Some(3))));
    assert_eq!(steps[3], Step::Remove(EntryKey::Crypto(1)));
    assert_eq!(steps[4], Step::Flush { release: vec![1] });
    // The freed slot is the next one handed out.
    t.translate(&[TableOp::DelTunnel(crate::tables::VipPair::new(ME, b))]).unwrap();
    let steps = t.translate(&[tunnel([10, 0, 0, 3], 3)]).unwrap();
    assert!(matches!(steps[0], Step::ProgramKey { crypto_id: 2, .. }), "{steps:?}");
    // Full: replacing both in one batch needs the flush between them.
    let steps = t.translate(&[tunnel([10, 0, 0, 1], 21), tunnel([10, 0, 0, 3], 23)]).unwrap();
    let kinds: Vec<_> = steps
        .iter()
        .map(|s| match s {
            Step::ProgramKey { crypto_id, .. } => format!("key{crypto_id}"),
            Step::Add(e) => format!("add{:?}", e.key),
            Step::Update(_) => "update".to_owned(),
            Step::Remove(k) => format!("remove{k:?}"),
            Step::Flush { release } => format!("flush{release:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "key1",
            "addCrypto(1)",
            "update",
            "removeCrypto(3)",
            "flush[3]",
            "key3",
            "addCrypto(3)",
            "update",
            "removeCrypto(2)",
            "flush[2]"
        ]
    );
}

#[test]
fn translate_is_all_or_nothing() {
    let mut t =
        Translator::new(PipelineConfig { max_tunnels: 1, ..Default::default() }, ports()).unwrap();
    // Two slots (max + 1 spare); a third new tunnel has none.
    let err = t
        .translate(&[tunnel([10, 0, 0, 1], 1), tunnel([10, 0, 0, 2], 2), tunnel([10, 0, 0, 3], 3)])
        .unwrap_err();
    assert_eq!(err, TranslateError::NoCryptoId(Ipv4Addr::new(10, 0, 0, 3), 2));
    assert_eq!(t.crypto_id(ME, Ipv4Addr::new(10, 0, 0, 1)), None);
    let steps = t.translate(&[tunnel([10, 0, 0, 1], 1)]).unwrap();
    assert!(matches!(steps[0], Step::ProgramKey { crypto_id: 1, .. }));
}

/// The encap data equals what the software encapsulator prepends, except
/// the per-packet fields the hardware fills in.
#[test]
fn encap_data_is_the_software_encap_header() {
    let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let dst = Ipv4Addr::new(192, 168, 1, 2);
    for (outer, vc, crypt_offset) in [
        (v6(), None, 0),
        (v6(), Some(0x1122_3344_5566_7788), 2),
        (v4(), None, 1),
        (v4(), Some(9), 0),
    ] {
        let mut cfg = encap_cfg(0x8000_0042, outer, vc);
        cfg.crypt_offset = crypt_offset;
        let data = t.encap_data(dst, &cfg).unwrap();
        let e = Encapsulator::new(cfg.clone(), &key).unwrap();
        let frame = udp4_frame(b"offloaded");
        let mut b = VecBuf::new(&frame);
        e.encap(&mut b, 0, false).unwrap();
        let out = b.data();
        assert_eq!(data.len(), e.overhead_front() + ETH);
        let mut want = out[..data.len()].to_vec();
        // Per-packet fields: zero in the encap data, filled by hardware.
        let (ip_len, udp_at) = match outer {
            OuterIp::V6 { .. } => (IPV6_HEADER_LEN, ETH + IPV6_HEADER_LEN),
            OuterIp::V4 { .. } => (IPV4_MIN_HEADER_LEN, ETH + IPV4_MIN_HEADER_LEN),
        };
        let mut patch =
            |r: std::ops::Range<usize>, from: &[u8]| want[r.clone()].copy_from_slice(&from[r]);
        match outer {
            OuterIp::V6 { .. } => {
                patch(ETH..ETH + 4, &data); // version, traffic class, flow label
                patch(ETH + 4..ETH + 6, &data); // payload length
            }
            OuterIp::V4 { .. } => {
                patch(ETH + 1..ETH + 4, &data); // TOS, total length
                patch(ETH + 10..ETH + 12, &data); // checksum
            }
        }
        patch(udp_at..udp_at + 2, &data); // source port (flow entropy)
        patch(udp_at + 4..udp_at + 6, &data); // UDP length
        if vc.is_some() && crypt_offset < 2 {
            // The VC lies inside the encrypted region: the encap data holds
            // it in clear, for the hardware to encrypt like the software.
            patch(udp_at + 24..udp_at + 32, &data);
        }
        assert_eq!(data, want, "{outer:?} vc {vc:?}");
        // And those fields are the template's: zero lengths, the SPI, IV 0.
        assert_eq!(&data[udp_at + 2..udp_at + 4], &1000u16.to_be_bytes());
        let psp = &data[udp_at + 8..];
        assert_eq!(psp[0], 4, "next header");
        assert_eq!(&psp[4..8], &0x8000_0042u32.to_be_bytes());
        assert_eq!(&psp[8..16], &[0; 8], "IV");
        assert_eq!(psp[3] & PSP_SAMPLE_BIT, 0);
        assert_eq!(
            data.len(),
            encap_len(
                Mode::Tunnel,
                if ip_len == 40 { OuterVersion::Ipv6 } else { OuterVersion::Ipv4 },
                vc.is_some()
            )
        );
    }
    // No Ethernet addresses in the tunnel: ours and the next hop's.
    let mut cfg = encap_cfg(1, v6(), None);
    cfg.eth = None;
    let data = t.encap_data(dst, &cfg).unwrap();
    assert_eq!(&data[..6], &ports().next_hop_mac.0);
    assert_eq!(&data[6..12], &ports().secure_mac.0);
    // Transport mode is not offloaded.
    cfg.mode = Mode::Transport;
    assert!(matches!(t.encap_data(dst, &cfg), Err(TranslateError::Encap { .. })));
}

#[test]
fn names_match_the_software_counters() {
    use crate::pipeline::PipeStats;
    let mut names = Vec::new();
    PipeStats::default().for_each(|n, _| names.push(n));
    let t = Translator::new(PipelineConfig { log2_sample_rate: 1, ..Default::default() }, ports())
        .unwrap();
    for e in t.static_entries() {
        // The vestigial empty pipe has no software counterpart, nor have
        // the NIC-only entries (the software root leaves neighbour
        // solicitations to the egress path).
        if e.pipe == PipeId::Empty || NIC_ONLY_COUNTERS.contains(&e.counter) || e.counter.is_empty()
        {
            continue;
        }
        assert!(names.contains(&e.counter), "{} feeds no software counter", e.counter);
    }
    for p in [PipeId::EgressAcl, PipeId::IngressAcl, PipeId::IngressDecrypt, PipeId::EgressSampling]
    {
        let stem = p.name().trim_end_matches("_pipe");
        assert!(names.contains(&stem), "{stem}");
    }
}

/// The memory image of a key slot's words: what DOCA reads as the key.
fn slot_bytes(k: &PspKeyCfg) -> Vec<u8> {
    k.words().iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// Each tunnel's key slot gets exactly that tunnel's key bytes, and the
/// egress entry that names the slot carries the same tunnel's SPI.
#[test]
fn key_slots_get_the_exact_key_of_the_tunnels_spi() {
    let mut t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let mut ops = Vec::new();
    let mut want = Vec::new();
    for (i, (spi, version)) in [
        (0x1001u32, Version::AesGcm128),
        (0x8000_2002, Version::AesGcm256),
        (0x3003, Version::AesGmac128),
    ]
    .into_iter()
    .enumerate()
    {
        let key: Vec<u8> = (0..version.key_len())
            .map(|j| (spi as u8) ^ (j as u8).wrapping_mul(13) ^ 0x5c)
            .collect();
        let dk = DerivedKey::from_bytes(&key).unwrap();
        let cfg = EncapConfig { version, ..encap_cfg(spi, v6(), None) };
        let e = Encapsulator::new(cfg, &dk).unwrap();
        let dst = Ipv4Addr::new(10, 0, 1, i as u8);
        let entry = TunnelEntry { slot: i as u32, generation: 1, encap: Arc::new(e) };
        ops.push(TableOp::SetTunnel(
            crate::tables::VipPair::new(ME, dst),
            entry,
            Some(HwKey::new(dk)),
        ));
        want.push((dst, Spi(spi), key));
    }
    let steps = t.translate(&ops).unwrap();
    for (dst, spi, key) in &want {
        let programmed: Vec<_> = steps
            .iter()
            .filter_map(|s| match s {
                Step::ProgramKey { crypto_id, dst: d, spi: sp, key } if d == dst => {
                    Some((*crypto_id, *sp, key))
                }
                _ => None,
            })
            .collect();
        assert_eq!(programmed.len(), 1, "{dst}");
        let (crypto_id, programmed_spi, slot) = programmed[0];
        assert_eq!(programmed_spi, *spi);
        assert_eq!(slot_bytes(slot), *key, "{dst}: slot {crypto_id}");
        let bits = if key.len() == 16 { KeyBits::K128 } else { KeyBits::K256 };
        assert_eq!(slot.bits(), bits);
        // The tunnel's match entry goes to the slot's encap-encrypt entry,
        // which encapsulates with this SPI.
        let fwd = steps
            .iter()
            .find_map(|s| match s {
                Step::Add(e) if e.key == EntryKey::Tunnel(ME, *dst) => e.fwd,
                _ => None,
            })
            .unwrap();
        assert_eq!(fwd, Fwd::OrderedList(PipeId::EncapEncrypt, Some(crypto_id)));
        let entry = steps
            .iter()
            .find_map(|s| match s {
                Step::Add(e) if e.key == EntryKey::Crypto(crypto_id) => Some(e),
                _ => None,
            })
            .unwrap();
        let EntryAction::Encrypt { crypto_id: id, encap_data, .. } = &entry.action else {
            panic!("{entry:?}")
        };
        assert_eq!(*id, crypto_id);
        let psp = ETH + IPV6_HEADER_LEN + UDP_HEADER_LEN;
        assert_eq!(encap_data[psp + 4..psp + 8], spi.0.to_be_bytes());
    }
}

#[test]
fn key_material_is_redacted_in_debug() {
    let key = [0xa5u8; 32];
    let dk = DerivedKey::from_bytes(&key).unwrap();
    let cfg = EncapConfig { version: Version::AesGcm256, ..encap_cfg(9, v6(), None) };
    let e = Encapsulator::new(cfg, &dk).unwrap();
    let op = TableOp::SetTunnel(
        crate::tables::VipPair::new(ME, Ipv4Addr::new(10, 0, 0, 1)),
        TunnelEntry { slot: 0, generation: 1, encap: Arc::new(e) },
        Some(HwKey::new(dk)),
    );
    let mut t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let steps = t.translate(std::slice::from_ref(&op)).unwrap();
    let Step::ProgramKey { key: slot, .. } = &steps[0] else { panic!("{steps:?}") };
    assert_eq!(slot_bytes(slot), key);
    let word = u32::from_ne_bytes([0xa5; 4]);
    for text in [format!("{op:?}"), format!("{steps:?}"), format!("{slot:?}")] {
        assert!(text.contains("redacted"), "{text}");
        for leak in [word.to_string(), format!("{word:x}"), format!("{word:X}"), "165, 165".into()]
        {
            assert!(!text.contains(&leak), "{leak} in {text}");
        }
    }
}

#[test]
fn a_tunnel_without_its_raw_key_or_with_the_wrong_length_is_refused() {
    let mut t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let dst = Ipv4Addr::new(10, 0, 0, 1);
    let TableOp::SetTunnel(_, entry, _) = tunnel([10, 0, 0, 1], 5) else { unreachable!() };
    let err = t
        .translate(&[TableOp::SetTunnel(crate::tables::VipPair::new(ME, dst), entry.clone(), None)])
        .unwrap_err();
    assert_eq!(err, TranslateError::NoKey(dst, Spi(5)));
    // A 256-bit key for a 128-bit version.
    let wide = HwKey::new(DerivedKey::from_bytes(&[1; 32]).unwrap());
    let err = t
        .translate(&[TableOp::SetTunnel(crate::tables::VipPair::new(ME, dst), entry, Some(wide))])
        .unwrap_err();
    assert_eq!(err, TranslateError::KeyLength { dst, spi: Spi(5), got: 32, want: 16 });
    assert_eq!(t.crypto_id(ME, dst), None);
}
