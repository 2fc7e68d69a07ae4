use super::*;
use crate::pipeline::tables::HwKey;
use crate::pipeline::tables::{AclEntry, TunnelEntry};
use crate::psp::buf::{PacketBuf, VecBuf};
use crate::psp::encap::{Encapsulator, EthAddrs};
use crate::psp::kdf::DerivedKey;
use crate::psp::Version;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub(super) fn ports() -> DocaPorts {
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
        IpAddr::V4(Ipv4Addr::from(dst)),
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
            "ingress_acl_pipe",
            "ingress_decrypt_pipe",
            "egress_acl_pipe",
            "empty_pipe",
            "ingress_root_pipe"
        ]
    );
    // Every pipe a pipe forwards to exists and was created before it.
    for (i, p) in pipes.iter().enumerate() {
        for f in [p.fwd, p.fwd_miss].into_iter().flatten() {
            if let Fwd::Pipe(to) = f {
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
        ]
    );
    assert_eq!(
        acl.actions,
        [PipeAction::DecapL2 { dst: ports().unsecured_mac, src: ports().secure_mac }]
    );
    assert_eq!(acl.fwd, Some(Fwd::Port(Port::Unsecured)));
    assert_eq!(acl.fwd_miss, Some(Fwd::Pipe(PipeId::SyndromeStats)));
    assert_eq!(acl.nr_entries, 1 << 16);

    let dec = get(&pipes, PipeId::IngressDecrypt);
    assert_eq!(dec.actions, [PipeAction::Decrypt]);
    assert!(dec.matches.contains(&(Field::OuterUdpDstPort, Value::Exact(1000))));
    assert_eq!((dec.fwd, dec.fwd_miss), (Some(Fwd::Pipe(PipeId::IngressAcl)), Some(Fwd::Drop)));

    let eacl = get(&pipes, PipeId::EgressAcl);
    assert_eq!((eacl.domain, eacl.direction), (Domain::SecureEgress, Direction::HostToNet));
    assert_eq!(
        eacl.matches,
        [(Field::OuterIp4, Value::Exact(1)), (Field::OuterIp4Dst, Value::PerEntry)]
    );
    assert_eq!(
        eacl.actions,
        [
            PipeAction::EncryptEncap {
                outer: OuterVersion::Ipv6,
                mode: Mode::Tunnel,
                len_with_vc: 86
            },
            PipeAction::EncryptEncap {
                outer: OuterVersion::Ipv4,
                mode: Mode::Tunnel,
                len_with_vc: 66
            },
        ]
    );
    // The miss path: to the control plane, like Action::Miss.
    assert_eq!(
        (eacl.fwd, eacl.fwd_miss),
        (Some(Fwd::Port(Port::Secure)), Some(Fwd::Pipe(PipeId::Rss)))
    );

    let empty = get(&pipes, PipeId::Empty);
    assert!(empty.is_root);
    assert_eq!((empty.domain, empty.fwd), (Domain::Egress, Some(Fwd::Pipe(PipeId::EgressAcl))));

    let root = get(&pipes, PipeId::IngressRoot);
    assert_eq!((root.kind, root.is_root, root.domain), (PipeType::Control, true, Domain::Default));
}

#[test]
fn transport_mode_is_refused() {
    let cfg = PipelineConfig { mode: crate::psp::Mode::Transport, ..Default::default() };
    let e = Translator::new(cfg, ports()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--mode transport: the DOCA Flow translation builds tunnel-mode pipes only"
    );
}

#[test]
fn inner_ipv6_is_refused() {
    let cfg = PipelineConfig { inner: crate::pipeline::InnerVersion::Ipv6, ..Default::default() };
    let e = Translator::new(cfg, ports()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--inner-ip-type ipv6: the DOCA Flow translation has no inner IPv6 pipes yet"
    );
}

#[test]
fn pipes_with_sampling_and_maintain_order() {
    let cfg = PipelineConfig { log2_sample_rate: 3, maintain_order: true, ..Default::default() };
    let t = Translator::new(cfg, ports()).unwrap();
    let pipes = t.pipes();
    let dec = get(&pipes, PipeId::IngressDecrypt);
    assert_eq!(dec.fwd, Some(Fwd::Pipe(PipeId::IngressSampling)));
    let is = get(&pipes, PipeId::IngressSampling);
    assert_eq!(is.mirror, Some(Mirror::ToRss));
    assert_eq!(
        (is.fwd, is.fwd_miss),
        (Some(Fwd::Pipe(PipeId::IngressAcl)), Some(Fwd::Pipe(PipeId::IngressAcl)))
    );
    assert_eq!(is.actions, [PipeAction::SetMeta { pkt_meta: 0x1111_1111, sample_bit: false }]);
    assert!(is.matches.contains(&(Field::PspSDVerV, Value::Masked { value: 0x80, mask: 0x80 })));

    let eacl = get(&pipes, PipeId::EgressAcl);
    assert_eq!(eacl.fwd, Some(Fwd::Pipe(PipeId::EgressSampling)));
    let es = get(&pipes, PipeId::EgressSampling);
    assert_eq!(es.domain, Domain::SecureEgress);
    assert_eq!(es.matches, [(Field::Random, Value::Masked { value: 0, mask: 0b111 })]);
    assert_eq!(es.actions, [PipeAction::SetMeta { pkt_meta: 0x2222_2222, sample_bit: true }]);
    assert_eq!(es.mirror, Some(Mirror::ToRss));
    assert_eq!(
        (es.fwd, es.fwd_miss),
        (Some(Fwd::Port(Port::Secure)), Some(Fwd::Pipe(PipeId::EmptyNotSampled)))
    );
    let ens = get(&pipes, PipeId::EmptyNotSampled);
    assert_eq!((ens.mirror, ens.fwd), (Some(Mirror::Drop), Some(Fwd::Port(Port::Secure))));

    let t = Translator::new(PipelineConfig { log2_sample_rate: 3, ..Default::default() }, ports())
        .unwrap();
    assert_eq!(get(&t.pipes(), PipeId::EmptyNotSampled).mirror, None);
}

#[test]
fn sampling_mask_for_every_rate() {
    for n in 0..=16u8 {
        let mask = Translator::sample_mask(n);
        // 1 in 2^n values of a 16-bit random number match `r & mask == 0`.
        let hits = (0..=u16::MAX).filter(|r| r & mask == 0).count();
        if n == 0 {
            assert_eq!(mask, 0);
            let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
            assert!(t.pipes().iter().all(|p| p.id != PipeId::EgressSampling));
        } else {
            assert_eq!(hits, 1 << (16 - n), "rate {n}");
            let cfg = PipelineConfig { log2_sample_rate: n, ..Default::default() };
            let t = Translator::new(cfg, ports()).unwrap();
            let es = get(&t.pipes(), PipeId::EgressSampling).clone();
            assert_eq!(
                es.matches,
                [(Field::Random, Value::Masked { value: 0, mask: u32::from(mask) })]
            );
        }
    }
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
    assert_eq!(root.len(), 6);
    // Both outer families from the secure port to decryption.
    for (r, ethertype, csum) in [(root[0], 0x0800, 1), (root[1], 0x86dd, 0)] {
        assert_eq!(r.fwd, Some(Fwd::Pipe(PipeId::IngressDecrypt)));
        assert!(r.matches.contains(&(Field::PortId, Value::Masked { value: 0, mask: 0xffff })));
        assert!(r
            .matches
            .contains(&(Field::OuterEthType, Value::Masked { value: ethertype, mask: 0xffff })));
        assert!(r
            .matches
            .contains(&(Field::OuterIp4ChecksumOk, Value::Masked { value: csum, mask: u32::MAX })));
    }
    // From the unsecured port, IPv4 and IPv6 go to the secure port's egress root.
    for r in &root[2..4] {
        assert_eq!(r.fwd, Some(Fwd::Port(Port::Secure)));
        assert!(r.matches.contains(&(Field::PortId, Value::Masked { value: 1, mask: 0xffff })));
    }
    assert_eq!((root[4].counter, root[4].fwd), ("vf_arp_to_rss", Some(Fwd::Pipe(PipeId::Rss))));
    assert_eq!((root[5].counter, root[5].fwd), ("root_default_drop", Some(Fwd::Drop)));
    assert!(root.windows(2).all(|w| w[0].priority < w[1].priority));
    assert_eq!(get(&t.pipes(), PipeId::IngressRoot).nr_entries, 6);
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
            TableOp::SetAcl(Spi(0x55), IpAddr::V4(src), acl),
        ])
        .unwrap();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert_eq!(
        steps[0],
        Step::ProgramKey {
            crypto_id: 1,
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            spi: Spi(0x100),
            key: PspKeyCfg::new(&key_of(0x100)).unwrap(),
        }
    );
    let Step::Add(e) = &steps[1] else { panic!("{:?}", steps[1]) };
    assert_eq!(
        (e.pipe, e.key),
        (PipeId::EgressAcl, EntryKey::Tunnel(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))))
    );
    assert_eq!(e.matches, [(Field::OuterIp4Dst, Value::Exact(0x0a00_0001))]);
    let EntryAction::Encrypt { action_idx, crypto_id, encap_data } = &e.action else { panic!() };
    assert_eq!((*action_idx, *crypto_id, encap_data.len()), (0, 1, 78));
    let Step::Add(a) = &steps[2] else { panic!("{:?}", steps[2]) };
    assert_eq!((a.pipe, a.key), (PipeId::IngressAcl, EntryKey::Acl(Spi(0x55), IpAddr::V4(src))));
    assert_eq!(
        a.matches,
        [
            (Field::PspSyndrome, Value::Exact(0)),
            (Field::PspSpi, Value::Exact(0x55)),
            (Field::InnerIp4Src, Value::Exact(0x0a00_0009)),
        ]
    );
    assert_eq!(steps[3], Step::Flush { release: vec![] });
    assert_eq!(t.crypto_id(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), Some(1));

    let steps = t
        .translate(&[
            TableOp::DelTunnel(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            TableOp::DelAcl(Spi(0x55), IpAddr::V4(src)),
        ])
        .unwrap();
    assert_eq!(
        steps,
        [
            Step::Remove(EntryKey::Tunnel(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))),
            Step::Remove(EntryKey::Acl(Spi(0x55), IpAddr::V4(src))),
            Step::Flush { release: vec![1] },
        ]
    );
    assert_eq!(t.crypto_id(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), None);
    // Removing what is not there does nothing.
    assert_eq!(
        t.translate(&[TableOp::DelTunnel(IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)))]).unwrap(),
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
    assert_eq!((t.crypto_id(IpAddr::V4(a)), t.crypto_id(IpAddr::V4(b))), (Some(1), Some(2)));
    // Replacing a's tunnel: new slot programmed, entry updated, old slot
    // released only after the flush.
    let steps = t.translate(&[tunnel([10, 0, 0, 1], 11)]).unwrap();
    assert!(matches!(steps[0], Step::ProgramKey { crypto_id: 3, spi: Spi(11), .. }));
    let Step::Update(e) = &steps[1] else { panic!("{:?}", steps[1]) };
    assert!(matches!(e.action, EntryAction::Encrypt { crypto_id: 3, .. }));
    assert_eq!(steps[2], Step::Flush { release: vec![1] });
    // The freed slot is the next one handed out.
    t.translate(&[TableOp::DelTunnel(IpAddr::V4(b))]).unwrap();
    let steps = t.translate(&[tunnel([10, 0, 0, 3], 3)]).unwrap();
    assert!(matches!(steps[0], Step::ProgramKey { crypto_id: 2, .. }), "{steps:?}");
    // Full: replacing both in one batch needs the flush between them.
    let steps = t.translate(&[tunnel([10, 0, 0, 1], 21), tunnel([10, 0, 0, 3], 23)]).unwrap();
    let kinds: Vec<_> = steps
        .iter()
        .map(|s| match s {
            Step::ProgramKey { crypto_id, .. } => format!("key{crypto_id}"),
            Step::Update(_) => "update".to_owned(),
            Step::Flush { release } => format!("flush{release:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["key1", "update", "flush[3]", "key3", "update", "flush[2]"]);
}

#[test]
fn translate_is_all_or_nothing() {
    let mut t =
        Translator::new(PipelineConfig { max_tunnels: 1, ..Default::default() }, ports()).unwrap();
    // Two slots (max + 1 spare); a third new tunnel has none.
    let err = t
        .translate(&[tunnel([10, 0, 0, 1], 1), tunnel([10, 0, 0, 2], 2), tunnel([10, 0, 0, 3], 3)])
        .unwrap_err();
    assert_eq!(err, TranslateError::NoCryptoId(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 2));
    assert_eq!(t.crypto_id(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), None);
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
        let data = t.encap_data(IpAddr::V4(dst), &cfg).unwrap();
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
    let data = t.encap_data(IpAddr::V4(dst), &cfg).unwrap();
    assert_eq!(&data[..6], &ports().next_hop_mac.0);
    assert_eq!(&data[6..12], &ports().secure_mac.0);
    // Transport mode is not offloaded.
    cfg.mode = Mode::Transport;
    assert!(matches!(t.encap_data(IpAddr::V4(dst), &cfg), Err(TranslateError::Encap { .. })));
}

#[test]
fn names_match_the_software_counters() {
    use crate::pipeline::PipeStats;
    let mut names = Vec::new();
    PipeStats::default().for_each(|n, _| names.push(n));
    let t = Translator::new(PipelineConfig { log2_sample_rate: 1, ..Default::default() }, ports())
        .unwrap();
    for e in t.static_entries() {
        // The vestigial empty pipe has no software counterpart.
        if e.pipe == PipeId::Empty {
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
        let key: Vec<u8> =
            (0..version.key_len()).map(|j| (spi as u8) ^ (j as u8 * 13) ^ 0x5c).collect();
        let dk = DerivedKey::from_bytes(&key).unwrap();
        let cfg = EncapConfig { version, ..encap_cfg(spi, v6(), None) };
        let e = Encapsulator::new(cfg, &dk).unwrap();
        let dst = Ipv4Addr::new(10, 0, 1, i as u8);
        let entry = TunnelEntry { slot: i as u32, generation: 1, encap: Arc::new(e) };
        ops.push(TableOp::SetTunnel(IpAddr::V4(dst), entry, Some(HwKey::new(dk))));
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
        // The entry that uses the slot encapsulates with this SPI.
        let entry = steps
            .iter()
            .find_map(|s| match s {
                Step::Add(e) if e.key == EntryKey::Tunnel(IpAddr::V4(*dst)) => Some(e),
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
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
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
    let err = t.translate(&[TableOp::SetTunnel(IpAddr::V4(dst), entry.clone(), None)]).unwrap_err();
    assert_eq!(err, TranslateError::NoKey(IpAddr::V4(dst), Spi(5)));
    // A 256-bit key for a 128-bit version.
    let wide = HwKey::new(DerivedKey::from_bytes(&[1; 32]).unwrap());
    let err = t.translate(&[TableOp::SetTunnel(IpAddr::V4(dst), entry, Some(wide))]).unwrap_err();
    assert_eq!(
        err,
        TranslateError::KeyLength { dst: IpAddr::V4(dst), spi: Spi(5), got: 32, want: 16 }
    );
    assert_eq!(t.crypto_id(IpAddr::V4(dst)), None);
}
