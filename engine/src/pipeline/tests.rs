//! Tests of the pipes on `VecBuf` frames: two gateways, A sending to B.

use super::*;
use crate::psp::buf::{PacketBuf, VecBuf};
use crate::psp::decap::Syndrome;
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use crate::psp::kdf::{MasterKey, MasterKeyPair};
use crate::psp::{Mode, Spi, Version};
use crate::tables::{SessionCount, SessionTotals, VipPair};
use crate::testkit::{frame, masters_b, tunnel, v6, FlowRequest, Gw, DST, SRC};
use crate::wire::{self, MacAddr};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

const PSP_AT: usize = 14 + 40 + 8;

fn insert_tunnel(dst: Ipv4Addr, spi: u32) -> FlowRequest {
    FlowRequest::InsertTunnel {
        pair: VipPair::new(SRC, dst),
        encap: tunnel(spi, v6()),
        hw_key: None,
    }
}

fn psp_header(d: &[u8]) -> (u32, u64, bool) {
    let spi = u32::from_be_bytes(d[PSP_AT + 4..PSP_AT + 8].try_into().unwrap());
    let iv = u64::from_be_bytes(d[PSP_AT + 8..PSP_AT + 16].try_into().unwrap());
    (spi, iv, d[PSP_AT + 3] & 0x80 != 0)
}

/// The invariants every core's counters keep.
fn assert_adds_up(s: &PipeStats) {
    let syn: u64 = s.syndrome_stats.iter().map(|c| c.packets).sum();
    assert_eq!(
        s.ingress_root.packets,
        s.vf_arp_to_rss.packets
            + s.vf_nd_to_rss.packets
            + s.root_default_drop.packets
            + s.malformed.packets
            + s.truncated.packets
            + s.oversized.packets
            + s.egress_acl_miss.packets
            + s.egress_acl.packets
            + s.ingress_decrypt_miss.packets
            + syn
            + s.ingress_decrypt.packets,
        "{s}"
    );
    assert_eq!(
        s.egress_acl.packets,
        s.egress_encap_fail.packets
            + s.egress_oversized.packets
            + s.egress_iv_exhausted.packets
            + s.fwd_to_wire.packets,
        "{s}"
    );
    assert_eq!(
        s.ingress_decrypt.packets,
        s.vc_mismatch.packets
            + s.ingress_mode_mismatch.packets
            + s.ingress_acl.packets
            + s.ingress_acl_unknown_spi.packets
            + s.ingress_acl_wrong_source.packets,
        "{s}"
    );
    assert_eq!(s.ingress_acl.packets, s.fwd_to_unsecured.packets);
    // Every packet has one verdict: dropped under one reason, forwarded,
    // or handed to the control plane (a miss or ARP).
    assert_eq!(
        s.ingress_root.packets,
        s.dropped_total()
            + s.fwd_to_wire.packets
            + s.fwd_to_unsecured.packets
            + s.vf_arp_to_rss.packets
            + s.vf_nd_to_rss.packets
            + s.egress_acl_miss.packets,
        "{s}"
    );
    assert_eq!(
        s.rss.packets,
        s.vf_arp_to_rss.packets
            + s.vf_nd_to_rss.packets
            + s.egress_acl_miss.packets
            + s.egress_sampling.packets
            + s.ingress_sampling.packets,
        "{s}"
    );
}

#[path = "../../tests/common/reference.rs"]
mod reference;

mod hostile;

#[test]
fn reference_captures_decrypt_through_the_pipeline() {
    // The reference's master keys (tests/reference/cfg/decrypt.cfg).
    let (k0, k1) = reference::master_key_bytes();
    let m = MasterKeyPair::new(
        MasterKey::from_bytes(&k0).unwrap(),
        MasterKey::from_bytes(&k1).unwrap(),
    );
    let captures = reference::captures(|b| crate::pcap::decode(b).unwrap().remove(0).data);
    assert_eq!(captures.len(), 22);
    for (name, psp, clear) in captures {
        let outer = if name.starts_with("v4") { OuterVersion::Ipv4 } else { OuterVersion::Ipv6 };
        let mode = if name.contains("transport") { Mode::Transport } else { Mode::Tunnel };
        let cfg =
            PipelineConfig { outer, mode, disable_ingress_acl: true, ..PipelineConfig::default() };
        let mut g = Gw::new(cfg, 1);
        let mut b = VecBuf::new(&psp);
        let v = g.core().process(PortRole::Secure, &mut b, 0, &m);
        assert_eq!(v.action, Action::Forward(PortRole::Unsecured), "{name}");
        assert_eq!(b.data(), &clear[..], "{name}");
        let s = g.cores[0].stats();
        assert_eq!((s.ingress_decrypt.packets, s.fwd_to_unsecured.packets), (1, 1), "{name}");
        assert_adds_up(s);
        // One bit flipped in the ICV: counted and dropped, never forwarded.
        let mut bad = psp.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        let v = g.core().process(PortRole::Secure, &mut VecBuf::new(&bad), 0, &m);
        assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)), "{name}");
        assert_adds_up(g.cores[0].stats());
    }
}

#[test]
fn egress_acl_hit_encrypts_to_the_secure_port() {
    let mut a = Gw::new(PipelineConfig::default(), 2);
    assert!(a.program(vec![insert_tunnel(DST, 0x10)]).result.is_ok());
    let m = masters_b();
    let f = frame(SRC, DST, b"hello through the tunnel");
    let mut b = VecBuf::new(&f);
    let v = a.core().process(PortRole::Unsecured, &mut b, 1, &m);
    assert_eq!(v, Verdict { action: Action::Forward(PortRole::Secure), mirror_to_rss: None });
    assert_eq!(psp_header(b.data()), (0x10, 1, false), "core 0's IVs start at 1");
    // The second core writes IVs in its own 2^48 range.
    let mut b1 = VecBuf::new(&f);
    a.cores[1].process(PortRole::Unsecured, &mut b1, 1, &m);
    assert_eq!(psp_header(b1.data()).1, (1 << 48) | 1);
    // B decrypts it back to the original inner frame.
    let cfg_b = PipelineConfig { decap_dmac: Some(MacAddr([0xd; 6])), ..PipelineConfig::default() };
    let mut gb = Gw::new(cfg_b, 1);
    gb.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x10),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let v = gb.core().process(PortRole::Secure, &mut b, 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Unsecured));
    let mut want = f.clone();
    want[..6].copy_from_slice(&[0xd; 6]);
    want[6..12].copy_from_slice(&[0xa; 6]);
    assert_eq!(b.data(), &want[..]);
    // Counters: pipe and entry, both gateways.
    let s = a.cores[0].stats();
    assert_eq!((s.egress_acl.packets, s.fwd_to_wire.packets), (1, 1));
    assert_eq!(s.egress_acl.bytes, f.len() as u64);
    assert_eq!(
        a.cores[0].tunnel_counter(VipPair::new(SRC, DST)),
        Some(Counter { packets: 1, bytes: f.len() as u64 })
    );
    assert_eq!(gb.cores[0].acl_counter(Spi(0x10), SRC, DST).unwrap().packets, 1);
    assert_eq!(gb.cores[0].stats().ingress_acl.packets, 1);
    let total = PipeStats::sum(a.cores.iter().map(|c| c.stats()));
    assert_eq!(total.fwd_to_wire.packets, 2);
    assert_adds_up(&total);
    // Per session, summed over the cores by the control side: egress per
    // destination, ingress per (SPI, inner source).
    let n = |packets, bytes| SessionCount { packets, bytes };
    let len = f.len() as u64;
    assert_eq!(
        a.prog.backend().sessions(),
        SessionTotals {
            egress: vec![(VipPair::new(SRC, DST), Spi(0x10), n(2, 2 * len))],
            ingress: vec![]
        }
    );
    // Clear bytes both ways, as the ACL pipes count them: the frame before
    // encapsulation, the frame after decapsulation (the same length here).
    let ing = gb.prog.backend().sessions().ingress;
    assert_eq!(ing, vec![(Spi(0x10), VipPair::new(SRC, DST), n(1, len))]);
    // A new tunnel to the same destination starts from zero.
    assert!(a.program(vec![insert_tunnel(DST, 0x11)]).result.is_ok());
    assert_eq!(
        a.prog.backend().sessions().egress,
        vec![(VipPair::new(SRC, DST), Spi(0x11), n(0, 0))]
    );
    assert_adds_up(gb.cores[0].stats());
}

#[test]
fn egress_acl_miss_goes_to_the_control_plane() {
    let mut a = Gw::new(PipelineConfig::default(), 1);
    let f = frame(SRC, DST, b"x");
    let mut b = VecBuf::new(&f);
    let v = a.core().process(PortRole::Unsecured, &mut b, 0, &masters_b());
    assert_eq!(
        v,
        Verdict { action: Action::Miss { pair: VipPair::new(SRC, DST) }, mirror_to_rss: None }
    );
    assert_eq!(b.data(), &f[..], "a miss leaves the packet untouched");
    let s = *a.core().stats();
    assert_eq!((s.egress_acl_miss.packets, s.rss.packets, s.egress_acl.packets), (1, 1, 0));
    // After insertion the resubmitted packet (from RSS) goes through.
    a.program(vec![insert_tunnel(DST, 0x11)]);
    let v = a.core().process(PortRole::Rss, &mut b, 0, &masters_b());
    assert_eq!(v.action, Action::Forward(PortRole::Secure));
    assert_adds_up(a.core().stats());
}

#[test]
fn egress_sampling_one_in_two_to_the_n() {
    let cfg =
        PipelineConfig { log2_sample_rate: 2, maintain_order: true, ..PipelineConfig::default() };
    let mut a = Gw::new(cfg, 1);
    a.program(vec![insert_tunnel(DST, 0x12)]);
    let m = masters_b();
    let f = frame(SRC, DST, b"sample me");
    let mut sampled = Vec::new();
    for random in 0u32..16 {
        let mut b = VecBuf::new(&f);
        let v = a.core().process(PortRole::Unsecured, &mut b, random, &m);
        assert_eq!(v.action, Action::Forward(PortRole::Secure));
        let s_bit = psp_header(b.data()).2;
        assert_eq!(s_bit, v.mirror_to_rss.is_some());
        if let Some(meta) = v.mirror_to_rss {
            assert_eq!(meta, cfg.egress_sample_meta_indicator);
            sampled.push(random);
        }
    }
    assert_eq!(sampled, [0, 4, 8, 12], "random & 0b11 == 0");
    let s = *a.core().stats();
    assert_eq!(s.egress_sampling.packets, 4);
    assert_eq!(s.empty_pipe_not_sampled.packets, 12);
    assert_eq!(s.rss.packets, 4);
    assert_adds_up(&s);

    // Off: never sampled, no second mirror.
    let mut off = Gw::new(PipelineConfig { maintain_order: true, ..PipelineConfig::default() }, 1);
    off.program(vec![insert_tunnel(DST, 0x12)]);
    let mut b = VecBuf::new(&f);
    assert_eq!(off.core().process(PortRole::Unsecured, &mut b, 0, &m).mirror_to_rss, None);
    assert!(!psp_header(b.data()).2);
    assert_eq!(off.core().stats().empty_pipe_not_sampled.packets, 0);

    // N = 32: only random 0 samples.
    let mut all = Gw::new(PipelineConfig { log2_sample_rate: 40, ..cfg }, 1);
    all.program(vec![insert_tunnel(DST, 0x12)]);
    for (r, want) in [(0u32, true), (1 << 31, false), (u32::MAX, false)] {
        let mut b = VecBuf::new(&f);
        let v = all.core().process(PortRole::Unsecured, &mut b, r, &m);
        assert_eq!(v.mirror_to_rss.is_some(), want, "{r:#x}");
    }
}

/// A PSP packet from A to B: SPI `spi`, inner source `src`.
fn psp_packet(spi: u32, src: Ipv4Addr, sample: bool) -> VecBuf {
    let mut b = VecBuf::new(&frame(src, DST, b"net to host payload"));
    tunnel(spi, v6()).encap(&mut b, 99, sample).unwrap();
    b
}

#[test]
fn ingress_sampling_and_acl() {
    let m = masters_b();
    // Sampling on (`--sample-rate 1`): S-bit packets are mirrored.
    let mut gb = Gw::new(PipelineConfig { log2_sample_rate: 1, ..PipelineConfig::default() }, 1);
    let other = Ipv4Addr::new(10, 9, 9, 9);
    gb.program(vec![
        FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC), dst: IpAddr::V4(DST) },
        FlowRequest::InsertAcl { spi: Spi(0x21), src: IpAddr::V4(other), dst: IpAddr::V4(DST) },
    ]);
    let meta = PipelineConfig::default().ingress_sample_meta_indicator;
    let cases = [
        (0x20, SRC, false, Action::Forward(PortRole::Unsecured), None),
        (0x20, SRC, true, Action::Forward(PortRole::Unsecured), Some(meta)),
        (0x22, SRC, false, Action::Drop(DropReason::AclUnknownSpi), None),
        // The wrong SPI for this source: permitted only from `other`.
        (0x21, SRC, false, Action::Drop(DropReason::AclWrongSource), None),
        // Sampling comes before the ACL: a rejected packet is still mirrored.
        (0x21, SRC, true, Action::Drop(DropReason::AclWrongSource), Some(meta)),
    ];
    for (spi, src, sample, action, mirror) in cases {
        let mut b = psp_packet(spi, src, sample);
        let v = gb.core().process(PortRole::Secure, &mut b, 0, &m);
        assert_eq!(v, Verdict { action, mirror_to_rss: mirror }, "{spi:#x} {src} {sample}");
    }
    let s = *gb.core().stats();
    assert_eq!(s.ingress_decrypt.packets, 5);
    assert_eq!(s.ingress_sampling.packets, 2);
    // Sampling off: the S bit is not acted on, nothing is copied up.
    let mut off = Gw::new(PipelineConfig::default(), 1);
    off.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x20),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let mut b = psp_packet(0x20, SRC, true);
    let v = off.core().process(PortRole::Secure, &mut b, 0, &m);
    assert_eq!(v, Verdict { action: Action::Forward(PortRole::Unsecured), mirror_to_rss: None });
    assert_eq!(off.core().stats().ingress_sampling.packets, 0);
    assert_eq!(s.ingress_acl.packets, 2);
    assert_eq!(s.ingress_acl_unknown_spi.packets, 1);
    assert_eq!(s.ingress_acl_wrong_source.packets, 2);
    assert_eq!(gb.core().acl_counter(Spi(0x20), SRC, DST).unwrap().packets, 2);
    assert_eq!(gb.core().acl_counter(Spi(0x21), other, DST).unwrap().packets, 0);
    assert_adds_up(&s);

    // Removing the pair closes it again.
    gb.program(vec![FlowRequest::RemoveAcl {
        spi: Spi(0x20),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let v = gb.core().process(PortRole::Secure, &mut psp_packet(0x20, SRC, false), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclUnknownSpi));

    // disable_ingress_acl: anything that decrypts passes.
    let mut open = Gw::new(PipelineConfig { disable_ingress_acl: true, ..Default::default() }, 1);
    let v = open.core().process(PortRole::Secure, &mut psp_packet(0x77, SRC, false), 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Unsecured));
    assert_eq!(open.core().stats().ingress_acl.packets, 1);
}

#[test]
fn bad_icv_and_syndromes_are_counted_and_dropped() {
    let m = masters_b();
    let mut gb = Gw::new(PipelineConfig { disable_ingress_acl: true, ..Default::default() }, 1);
    let good = psp_packet(0x30, SRC, false).data().to_vec();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    let v = gb.core().process(PortRole::Secure, &mut VecBuf::new(&bad), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    // A packet for another receiver (other master keys): ICV fails too.
    // (A core's key cache serves one master key pair and its rotations.)
    let other = MasterKeyPair::new(
        MasterKey::from_bytes(&[1; 32]).unwrap(),
        MasterKey::from_bytes(&[2; 32]).unwrap(),
    );
    let mut gc = Gw::new(PipelineConfig { disable_ingress_acl: true, ..Default::default() }, 1);
    let v = gc.core().process(PortRole::Secure, &mut VecBuf::new(&good), 0, &other);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    let v = gb.core().process(PortRole::Secure, &mut VecBuf::new(&bad), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    let mut ver = good.clone();
    ver[PSP_AT + 3] = (9 << 2) | 1;
    let v = gb.core().process(PortRole::Secure, &mut VecBuf::new(&ver), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::UnknownVersion)));
    let mut short = good[..PSP_AT + 20].to_vec();
    let udp_len = (short.len() - PSP_AT + 8) as u16;
    short[14 + 4..14 + 6].copy_from_slice(&udp_len.to_be_bytes());
    short[14 + 40 + 4..14 + 40 + 6].copy_from_slice(&udp_len.to_be_bytes());
    let v = gb.core().process(PortRole::Secure, &mut VecBuf::new(&short), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::BadTrailer)));
    let s = *gb.core().stats();
    assert_eq!(s.syndrome(Syndrome::IcvFail).packets, 2);
    assert_eq!(s.syndrome(Syndrome::UnknownVersion).packets, 1);
    assert_eq!(s.syndrome(Syndrome::BadTrailer).packets, 1);
    assert!(s.to_string().contains("icv_fail"));
    assert_adds_up(&s);
}

#[test]
fn root_rules_truncated_and_garbage_frames() {
    let m = masters_b();
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x40)]);
    let f = frame(SRC, DST, b"abc");
    let mut arp = f.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut ip6 = f.clone();
    ip6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let psp = psp_packet(1, SRC, false).data().to_vec();
    let mut psp_v4_outer = Vec::new();
    {
        let mut b = VecBuf::new(&f);
        let outer = OuterIp::V4 { src: Ipv4Addr::new(1, 1, 1, 1), dst: Ipv4Addr::new(2, 2, 2, 2) };
        tunnel(1, outer).encap(&mut b, 1, false).unwrap();
        psp_v4_outer.extend_from_slice(b.data());
    }
    let mut not_udp = psp.clone();
    not_udp[14 + 6] = 6;
    let mut not_1000 = psp.clone();
    not_1000[14 + 40 + 3] = 0xe9;
    let mut bad_ihl = f.clone();
    bad_ihl[14] = 0x44;
    let cases: Vec<(PortRole, Vec<u8>, Action)> = vec![
        (PortRole::Unsecured, arp.clone(), Action::Forward(PortRole::Rss)),
        (PortRole::Secure, arp, Action::Drop(DropReason::RootDefault)),
        (PortRole::Unsecured, ip6, Action::Drop(DropReason::RootDefault)),
        (PortRole::Secure, f.clone(), Action::Drop(DropReason::RootDefault)),
        (PortRole::Secure, psp_v4_outer, Action::Drop(DropReason::RootDefault)),
        (PortRole::Secure, not_udp, Action::Drop(DropReason::NotPsp)),
        (PortRole::Secure, not_1000, Action::Drop(DropReason::NotPsp)),
        (PortRole::Unsecured, vec![], Action::Drop(DropReason::Truncated)),
        (PortRole::Unsecured, f[..13].to_vec(), Action::Drop(DropReason::Truncated)),
        (PortRole::Unsecured, f[..30].to_vec(), Action::Drop(DropReason::Truncated)),
        (PortRole::Secure, psp[..14].to_vec(), Action::Drop(DropReason::Truncated)),
        (PortRole::Secure, psp[..60].to_vec(), Action::Drop(DropReason::Truncated)),
        (PortRole::Unsecured, bad_ihl, Action::Drop(DropReason::Malformed)),
    ];
    for (from, data, want) in &cases {
        let v = g.core().process(*from, &mut VecBuf::new(data), 0, &m);
        assert_eq!(v.action, *want, "{from:?} {} bytes", data.len());
    }
    // No headroom: the encapsulator refuses, counted, dropped.
    let v = g.core().process(PortRole::Unsecured, &mut VecBuf::with_room(&f, 8, 64), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::EncapFailed));
    let s = *g.core().stats();
    assert_eq!(s.root_default_drop.packets, 4);
    assert_eq!(s.ingress_decrypt_miss.packets, 2);
    assert_eq!((s.truncated.packets, s.malformed.packets), (5, 1));
    assert_eq!(s.egress_encap_fail.packets, 1);
    assert_eq!(s.ingress_root.packets, cases.len() as u64 + 1);
    assert_adds_up(&s);

    // Outer IPv4 configured: IPv4 PSP is taken, IPv6 is not.
    let mut g4 = Gw::new(
        PipelineConfig {
            outer: OuterVersion::Ipv4,
            disable_ingress_acl: true,
            ..Default::default()
        },
        1,
    );
    let v = g4.core().process(PortRole::Secure, &mut VecBuf::new(&psp), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let mut b = VecBuf::new(&f);
    let outer = OuterIp::V4 { src: Ipv4Addr::new(1, 1, 1, 1), dst: Ipv4Addr::new(2, 2, 2, 2) };
    tunnel(1, outer).encap(&mut b, 1, false).unwrap();
    let v = g4.core().process(PortRole::Secure, &mut b, 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Unsecured));
}

#[test]
fn replacing_a_tunnel_restarts_its_state() {
    let m = masters_b();
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x50)]);
    let f = frame(SRC, DST, b"abc");
    for _ in 0..3 {
        g.core().process(PortRole::Unsecured, &mut VecBuf::new(&f), 0, &m);
    }
    assert_eq!(g.core().tunnel_counter(VipPair::new(SRC, DST)).unwrap().packets, 3);
    assert!(g.program(vec![insert_tunnel(DST, 0x51)]).result.is_ok());
    assert_eq!(g.core().tunnel_counter(VipPair::new(SRC, DST)).unwrap().packets, 0);
    let mut b = VecBuf::new(&f);
    g.core().process(PortRole::Unsecured, &mut b, 0, &m);
    assert_eq!(psp_header(b.data()), (0x51, 1, false), "new SPI, IVs from 1");
    assert_eq!(g.core().tunnel_counter(VipPair::new(SRC, DST)).unwrap().packets, 1);
}

/// A tunnel to B with its own version, crypt offset and cookie.
fn tunnel_with(spi: u32, version: Version, crypt_offset: u8, vc: Option<u64>) -> Encapsulator {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version,
        spi: Spi(spi),
        crypt_offset,
        vc,
        eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
        outer: v6(),
        ttl: 64,
    };
    Encapsulator::new(cfg, &masters_b().derive(Spi(spi), version)).unwrap()
}

/// `--mode transport`: the VM's IPv4 header stays outermost (UDP 1000 and
/// PSP after it), the secure port takes IPv4 even with outer IPv6
/// configured, the ACL checks (SPI, the VM's source), and a gateway in
/// the other mode drops the packet as `ingress_mode_mismatch`.
#[test]
fn transport_mode_end_to_end_and_mode_mismatch() {
    let mut a = Gw::new(PipelineConfig { mode: Mode::Transport, ..PipelineConfig::default() }, 1);
    let mut cfg = EncapConfig { mode: Mode::Transport, ..tunnel(0x20, v6()).config().clone() };
    cfg.crypt_offset = 1;
    let key = masters_b().derive(Spi(0x20), Version::AesGcm256);
    let encap = Arc::new(Encapsulator::new(cfg, &key).unwrap());
    // The second session misuses the first one's SPI and key (a broken or
    // hostile sender): B's ACL must refuse it.
    let spoofer = Ipv4Addr::new(192, 168, 1, 9);
    let inserts = [SRC, spoofer].map(|src| FlowRequest::InsertTunnel {
        pair: VipPair::new(src, DST),
        encap: Arc::clone(&encap),
        hw_key: None,
    });
    assert!(a.program(inserts.to_vec()).result.is_ok());
    let m = masters_b();
    let f = frame(SRC, DST, b"transport mode payload, kept secret");
    let mut b = VecBuf::new(&f);
    let v = a.core().process(PortRole::Unsecured, &mut b, 1, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Secure));
    let wire = b.data().to_vec();
    // Ethernet (uplink MACs), the VM's IPv4 header (protocol now UDP),
    // UDP to 1000, PSP with next header 17 (the VM's UDP).
    assert_eq!(&wire[..12], &[[0xb; 6], [0xa; 6]].concat()[..]);
    assert_eq!(&wire[12..14], &[0x08, 0x00]);
    let ip = wire::Ipv4Packet::new_checked(&wire[14..]).unwrap();
    assert_eq!((ip.src(), ip.dst(), ip.protocol()), (SRC, DST, 17));
    assert_eq!(u16::from_be_bytes([wire[36], wire[37]]), 1000);
    assert_eq!((wire[42], u32::from_be_bytes(wire[46..50].try_into().unwrap())), (17, 0x20));
    assert!(!wire.windows(6).any(|w| w == b"secret"));

    // B in transport mode, outer IPv6 configured (it does not matter).
    let cfg_b = PipelineConfig { mode: Mode::Transport, ..PipelineConfig::default() };
    let mut gb = Gw::new(cfg_b, 1);
    gb.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x20),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let mut rb = VecBuf::new(&wire);
    let v = gb.core().process(PortRole::Secure, &mut rb, 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Unsecured));
    assert_eq!(&rb.data()[12..], &f[12..], "the VM's packet back, byte for byte");
    assert_eq!(gb.cores[0].acl_counter(Spi(0x20), SRC, DST).unwrap().packets, 1);
    // Another source on the same SPI: refused by the ACL.
    let mut other = frame(spoofer, DST, b"spoof");
    let mut ob = VecBuf::new(&other);
    a.core().process(PortRole::Unsecured, &mut ob, 1, &m);
    other = ob.data().to_vec();
    let v = gb.core().process(PortRole::Secure, &mut VecBuf::new(&other), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclWrongSource));
    assert_adds_up(gb.cores[0].stats());

    // A tunnel-mode gateway: its root drops outer IPv4 (it expects IPv6);
    // with outer IPv4 it decrypts but drops the transport packet.
    let mut gt = Gw::new(PipelineConfig::default(), 1);
    gt.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x20),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let v = gt.core().process(PortRole::Secure, &mut VecBuf::new(&wire), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let cfg4 = PipelineConfig { outer: OuterVersion::Ipv4, ..PipelineConfig::default() };
    let mut gt4 = Gw::new(cfg4, 1);
    gt4.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x20),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    let v = gt4.core().process(PortRole::Secure, &mut VecBuf::new(&wire), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::ModeMismatch));
    assert_eq!(gt4.cores[0].stats().ingress_mode_mismatch.packets, 1);
    assert_adds_up(gt4.cores[0].stats());
}

fn frame6(src: &str, dst: &str, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + payload.len()];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    wire::ipv6_emit(
        &mut f[14..],
        wire::Ipv6Fields {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            next_header,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            payload_len: payload.len() as u16,
        },
    );
    f[54..].copy_from_slice(payload);
    f
}

/// `--inner-ip-type ipv6`: IPv6 from the unsecured port is looked up by
/// its destination (a miss, then the tunnel), encrypted in tunnel mode
/// (next header 41), decrypted by a peer whose ACL permits (SPI, IPv6
/// source); ND goes to RSS like ARP; IPv4 is dropped at the root, as
/// IPv6 is with inner IPv4.
#[test]
fn inner_ipv6_through_the_pipeline_and_nd_to_rss() {
    let cfg = PipelineConfig { inner: InnerVersion::Ipv6, ..PipelineConfig::default() };
    let (src6, dst6): (IpAddr, IpAddr) =
        ("fd00:10::1".parse().unwrap(), "fd00:10::2".parse().unwrap());
    let mut a = Gw::new(cfg, 1);
    let m = masters_b();
    let f =
        frame6("fd00:10::1", "fd00:10::2", 17, b"\x04\xd2\x16\x2e\x00\x1dxxsecret ipv6 payload");
    let v = a.core().process(PortRole::Unsecured, &mut VecBuf::new(&f), 1, &m);
    assert_eq!(v.action, Action::Miss { pair: VipPair::new(src6, dst6) });
    let insert = FlowRequest::InsertTunnel {
        pair: VipPair::new(src6, dst6),
        encap: tunnel(0x30, v6()),
        hw_key: None,
    };
    assert!(a.program(vec![insert]).result.is_ok());
    let mut b = VecBuf::new(&f);
    let v = a.core().process(PortRole::Unsecured, &mut b, 1, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Secure));
    let wire = b.data().to_vec();
    assert_eq!((wire[PSP_AT], psp_header(&wire).0), (41, 0x30), "next header IPv6, our SPI");
    assert!(!wire.windows(6).any(|w| w == b"secret"));
    assert_eq!(a.cores[0].tunnel_counter(VipPair::new(src6, dst6)).unwrap().packets, 1);

    let mut gb = Gw::new(cfg, 1);
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x30), src: src6, dst: dst6 }]);
    let mut rb = VecBuf::new(&wire);
    let v = gb.core().process(PortRole::Secure, &mut rb, 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Unsecured));
    assert_eq!(&rb.data()[12..], &f[12..]);
    assert_eq!(gb.cores[0].acl_counter(Spi(0x30), src6, dst6).unwrap().packets, 1);
    // The same SPI from another IPv6 source, or IPv4: wrong source.
    let mut gw2 = Gw::new(cfg, 1);
    gw2.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x30),
        src: "fd00:10::9".parse().unwrap(),
        dst: dst6,
    }]);
    let v = gw2.core().process(PortRole::Secure, &mut VecBuf::new(&wire), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclWrongSource));

    // Neighbour solicitation (ICMPv6 135) and advertisement (136): RSS.
    for t in [135u8, 136] {
        let nd = frame6("fd00:10::1", "ff02::1:ff00:2", 58, &[t, 0, 0, 0, 0, 0, 0, 0]);
        let v = a.core().process(PortRole::Unsecured, &mut VecBuf::new(&nd), 0, &m);
        assert_eq!(v.action, Action::Forward(PortRole::Rss), "{t}");
    }
    // Other ICMPv6 (an echo request) takes the tunnel path.
    let echo = frame6("fd00:10::1", "fd00:10::2", 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    let v = a.core().process(PortRole::Unsecured, &mut VecBuf::new(&echo), 0, &m);
    assert_eq!(v.action, Action::Forward(PortRole::Secure));
    let s = a.cores[0].stats();
    assert_eq!((s.vf_nd_to_rss.packets, s.rss.packets), (2, 3));
    // IPv4 with inner IPv6, IPv6 with inner IPv4: dropped at the root.
    let v = a.core().process(PortRole::Unsecured, &mut VecBuf::new(&frame(SRC, DST, b"v4")), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let mut g4 = Gw::new(PipelineConfig::default(), 1);
    let v = g4.core().process(PortRole::Unsecured, &mut VecBuf::new(&f), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    assert_adds_up(a.cores[0].stats());
    assert_adds_up(gb.cores[0].stats());
}

/// Transport mode with inner IPv6: the VM's IPv6 header stays outermost
/// (next header UDP, then PSP with next header TCP) and comes back byte
/// for byte. With DOCA 3.x's default crypt offset for IPv6 (10 words, 40
/// bytes into the L4 header) a bare 32-byte TCP header cannot be sent:
/// `egress_encap_fail`, as the README says.
#[test]
fn transport_mode_with_inner_ipv6() {
    let cfg = PipelineConfig {
        inner: InnerVersion::Ipv6,
        mode: Mode::Transport,
        ..PipelineConfig::default()
    };
    let (src6, dst6): (IpAddr, IpAddr) =
        ("fd00:10::1".parse().unwrap(), "fd00:10::2".parse().unwrap());
    let tunnel_with = |spi, crypt_offset| {
        let key = masters_b().derive(Spi(spi), Version::AesGcm256);
        let c = EncapConfig {
            mode: Mode::Transport,
            crypt_offset,
            ..tunnel(spi, v6()).config().clone()
        };
        Arc::new(Encapsulator::new(c, &key).unwrap())
    };
    let mut a = Gw::new(cfg, 1);
    let insert = FlowRequest::InsertTunnel {
        pair: VipPair::new(src6, dst6),
        encap: tunnel_with(0x40, 1),
        hw_key: None,
    };
    assert!(a.program(vec![insert]).result.is_ok());
    let m = masters_b();
    let mut tcp = [0u8; 32];
    tcp[12] = 8 << 4; // data offset: 32 bytes
    let f = frame6("fd00:10::1", "fd00:10::2", 6, &tcp);
    let mut b = VecBuf::new(&f);
    assert_eq!(
        a.core().process(PortRole::Unsecured, &mut b, 1, &m).action,
        Action::Forward(PortRole::Secure)
    );
    let wire = b.data().to_vec();
    assert_eq!((&wire[12..14], wire[14 + 6]), (&[0x86, 0xdd][..], 17), "the VM's IPv6, now UDP");
    assert_eq!(&wire[22..54], &f[22..54], "the VMs' addresses on the wire");
    assert_eq!(wire[54 + 8], 6, "PSP next header: TCP");
    let mut gb = Gw::new(cfg, 1);
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x40), src: src6, dst: dst6 }]);
    let mut rb = VecBuf::new(&wire);
    assert_eq!(
        gb.core().process(PortRole::Secure, &mut rb, 0, &m).action,
        Action::Forward(PortRole::Unsecured)
    );
    assert_eq!(&rb.data()[12..], &f[12..]);
    // Crypt offset 10: 40 bytes past the IV, more than the 32 there are.
    let insert = FlowRequest::InsertTunnel {
        pair: VipPair::new(src6, dst6),
        encap: tunnel_with(0x41, 10),
        hw_key: None,
    };
    assert!(a.program(vec![insert]).result.is_ok());
    let v = a.core().process(PortRole::Unsecured, &mut VecBuf::new(&f), 1, &m);
    assert_eq!(v.action, Action::Drop(DropReason::EncapFailed));
    assert_adds_up(a.cores[0].stats());
}

#[test]
fn the_egress_acl_matches_the_inner_source_too() {
    // A tunnel is a session (our VM, the remote VM): another VM of ours
    // sending to the same destination misses, for a tunnel of its own
    // (the peer admits the first tunnel's SPI from SRC only).
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x7a)]);
    let mut b = VecBuf::new(&frame(SRC, DST, b"mine"));
    let v = g.core().process(PortRole::Unsecured, &mut b, 0, &masters_b());
    assert_eq!(v.action, Action::Forward(PortRole::Secure));
    let other = Ipv4Addr::new(192, 168, 1, 7);
    let mut b = VecBuf::new(&frame(other, DST, b"another vm"));
    let v = g.core().process(PortRole::Unsecured, &mut b, 0, &masters_b());
    assert_eq!(v.action, Action::Miss { pair: VipPair::new(other, DST) });
    assert_eq!(g.core().stats().egress_acl_miss.packets, 1);
}

#[test]
fn an_spi_admits_its_own_session_only() {
    // B gave SPI 0x10 for SRC -> DST. A sender using it toward another of
    // B's VMs (a hostile or broken peer) is refused, as NVIDIA's
    // MATCH_INGR_ACL_IPV4 refuses it: (SPI, inner source, inner
    // destination).
    let other_vm = Ipv4Addr::new(192, 168, 2, 3);
    let mut a = Gw::new(PipelineConfig::default(), 1);
    let inserts = [DST, other_vm].map(|dst| FlowRequest::InsertTunnel {
        pair: VipPair::new(SRC, dst),
        encap: tunnel(0x10, v6()),
        hw_key: None,
    });
    assert!(a.program(inserts.to_vec()).result.is_ok());
    let m = masters_b();
    let mut gb = Gw::new(PipelineConfig::default(), 1);
    gb.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x10),
        src: IpAddr::V4(SRC),
        dst: IpAddr::V4(DST),
    }]);
    for (dst, want) in [
        (DST, Action::Forward(PortRole::Unsecured)),
        (other_vm, Action::Drop(DropReason::AclWrongSource)),
    ] {
        let mut b = VecBuf::new(&frame(SRC, dst, b"for one VM only"));
        let v = a.core().process(PortRole::Unsecured, &mut b, 1, &m);
        assert_eq!(v.action, Action::Forward(PortRole::Secure));
        let v = gb.core().process(PortRole::Secure, &mut b, 0, &m);
        assert_eq!(v.action, want, "to {dst}");
    }
    assert_eq!(gb.core().stats().ingress_acl_wrong_source.packets, 1);
    assert_eq!(gb.cores[0].acl_counter(Spi(0x10), SRC, other_vm), None);
}
