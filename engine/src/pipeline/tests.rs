//! Tests of the pipes on `VecBuf` frames: two gateways, A sending to B.

use super::*;
use crate::psp::buf::{PacketBuf, VecBuf};
use crate::psp::decap::Syndrome;
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use crate::psp::kdf::{MasterKey, MasterKeyPair};
use crate::psp::{Mode, Spi, Version};
use crate::testkit::{frame, masters_b, tunnel, v6, FlowRequest, Gw, DST, SRC};
use crate::wire::{self, MacAddr};
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::sync::Arc;

const PSP_AT: usize = 14 + 40 + 8;

fn insert_tunnel(dst: Ipv4Addr, spi: u32) -> FlowRequest {
    FlowRequest::InsertTunnel { dst: IpAddr::V4(dst), encap: tunnel(spi, v6()), hw_key: None }
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
        let v = g.core().process(Port::Secure, &mut b, 0, &m);
        assert_eq!(v.action, Action::Forward(Port::Unsecured), "{name}");
        assert_eq!(b.data(), &clear[..], "{name}");
        let s = g.cores[0].stats();
        assert_eq!((s.ingress_decrypt.packets, s.fwd_to_unsecured.packets), (1, 1), "{name}");
        assert_adds_up(s);
        // One bit flipped in the ICV: counted and dropped, never forwarded.
        let mut bad = psp.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        let v = g.core().process(Port::Secure, &mut VecBuf::new(&bad), 0, &m);
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
    let v = a.core().process(Port::Unsecured, &mut b, 1, &m);
    assert_eq!(v, Verdict { action: Action::Forward(Port::Secure), mirror_to_rss: None });
    assert_eq!(psp_header(b.data()), (0x10, 1, false), "core 0's IVs start at 1");
    // The second core writes IVs in its own 2^48 range.
    let mut b1 = VecBuf::new(&f);
    a.cores[1].process(Port::Unsecured, &mut b1, 1, &m);
    assert_eq!(psp_header(b1.data()).1, (1 << 48) | 1);
    // B decrypts it back to the original inner frame.
    let cfg_b = PipelineConfig { decap_dmac: Some(MacAddr([0xd; 6])), ..PipelineConfig::default() };
    let mut gb = Gw::new(cfg_b, 1);
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x10), src: IpAddr::V4(SRC) }]);
    let v = gb.core().process(Port::Secure, &mut b, 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Unsecured));
    let mut want = f.clone();
    want[..6].copy_from_slice(&[0xd; 6]);
    want[6..12].copy_from_slice(&[0xa; 6]);
    assert_eq!(b.data(), &want[..]);
    // Counters: pipe and entry, both gateways.
    let s = a.cores[0].stats();
    assert_eq!((s.egress_acl.packets, s.fwd_to_wire.packets), (1, 1));
    assert_eq!(s.egress_acl.bytes, f.len() as u64);
    assert_eq!(a.cores[0].tunnel_counter(DST), Some(Counter { packets: 1, bytes: f.len() as u64 }));
    assert_eq!(gb.cores[0].acl_counter(Spi(0x10), SRC).unwrap().packets, 1);
    assert_eq!(gb.cores[0].stats().ingress_acl.packets, 1);
    let total = PipeStats::sum(a.cores.iter().map(|c| c.stats()));
    assert_eq!(total.fwd_to_wire.packets, 2);
    assert_adds_up(&total);
    assert_adds_up(gb.cores[0].stats());
}

#[test]
fn egress_acl_miss_goes_to_the_control_plane() {
    let mut a = Gw::new(PipelineConfig::default(), 1);
    let f = frame(SRC, DST, b"x");
    let mut b = VecBuf::new(&f);
    let v = a.core().process(Port::Unsecured, &mut b, 0, &masters_b());
    assert_eq!(v, Verdict { action: Action::Miss { dst: IpAddr::V4(DST) }, mirror_to_rss: None });
    assert_eq!(b.data(), &f[..], "a miss leaves the packet untouched");
    let s = *a.core().stats();
    assert_eq!((s.egress_acl_miss.packets, s.rss.packets, s.egress_acl.packets), (1, 1, 0));
    // After insertion the resubmitted packet (from RSS) goes through.
    a.program(vec![insert_tunnel(DST, 0x11)]);
    let v = a.core().process(Port::Rss, &mut b, 0, &masters_b());
    assert_eq!(v.action, Action::Forward(Port::Secure));
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
        let v = a.core().process(Port::Unsecured, &mut b, random, &m);
        assert_eq!(v.action, Action::Forward(Port::Secure));
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
    assert_eq!(off.core().process(Port::Unsecured, &mut b, 0, &m).mirror_to_rss, None);
    assert!(!psp_header(b.data()).2);
    assert_eq!(off.core().stats().empty_pipe_not_sampled.packets, 0);

    // N = 32: only random 0 samples.
    let mut all = Gw::new(PipelineConfig { log2_sample_rate: 40, ..cfg }, 1);
    all.program(vec![insert_tunnel(DST, 0x12)]);
    for (r, want) in [(0u32, true), (1 << 31, false), (u32::MAX, false)] {
        let mut b = VecBuf::new(&f);
        let v = all.core().process(Port::Unsecured, &mut b, r, &m);
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
        FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) },
        FlowRequest::InsertAcl { spi: Spi(0x21), src: IpAddr::V4(other) },
    ]);
    let meta = PipelineConfig::default().ingress_sample_meta_indicator;
    let cases = [
        (0x20, SRC, false, Action::Forward(Port::Unsecured), None),
        (0x20, SRC, true, Action::Forward(Port::Unsecured), Some(meta)),
        (0x22, SRC, false, Action::Drop(DropReason::AclUnknownSpi), None),
        // The wrong SPI for this source: permitted only from `other`.
        (0x21, SRC, false, Action::Drop(DropReason::AclWrongSource), None),
        // Sampling comes before the ACL: a rejected packet is still mirrored.
        (0x21, SRC, true, Action::Drop(DropReason::AclWrongSource), Some(meta)),
    ];
    for (spi, src, sample, action, mirror) in cases {
        let mut b = psp_packet(spi, src, sample);
        let v = gb.core().process(Port::Secure, &mut b, 0, &m);
        assert_eq!(v, Verdict { action, mirror_to_rss: mirror }, "{spi:#x} {src} {sample}");
    }
    let s = *gb.core().stats();
    assert_eq!(s.ingress_decrypt.packets, 5);
    assert_eq!(s.ingress_sampling.packets, 2);
    // Sampling off: the S bit is not acted on, nothing is copied up.
    let mut off = Gw::new(PipelineConfig::default(), 1);
    off.program(vec![FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) }]);
    let mut b = psp_packet(0x20, SRC, true);
    let v = off.core().process(Port::Secure, &mut b, 0, &m);
    assert_eq!(v, Verdict { action: Action::Forward(Port::Unsecured), mirror_to_rss: None });
    assert_eq!(off.core().stats().ingress_sampling.packets, 0);
    assert_eq!(s.ingress_acl.packets, 2);
    assert_eq!(s.ingress_acl_unknown_spi.packets, 1);
    assert_eq!(s.ingress_acl_wrong_source.packets, 2);
    assert_eq!(gb.core().acl_counter(Spi(0x20), SRC).unwrap().packets, 2);
    assert_eq!(gb.core().acl_counter(Spi(0x21), other).unwrap().packets, 0);
    assert_adds_up(&s);

    // Removing the pair closes it again.
    gb.program(vec![FlowRequest::RemoveAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) }]);
    let v = gb.core().process(Port::Secure, &mut psp_packet(0x20, SRC, false), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclUnknownSpi));

    // disable_ingress_acl: anything that decrypts passes.
    let mut open = Gw::new(PipelineConfig { disable_ingress_acl: true, ..Default::default() }, 1);
    let v = open.core().process(Port::Secure, &mut psp_packet(0x77, SRC, false), 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Unsecured));
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
    let v = gb.core().process(Port::Secure, &mut VecBuf::new(&bad), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    // A packet for another receiver (other master keys): ICV fails too.
    // (A core's key cache serves one master key pair and its rotations.)
    let other = MasterKeyPair::new(
        MasterKey::from_bytes(&[1; 32]).unwrap(),
        MasterKey::from_bytes(&[2; 32]).unwrap(),
    );
    let mut gc = Gw::new(PipelineConfig { disable_ingress_acl: true, ..Default::default() }, 1);
    let v = gc.core().process(Port::Secure, &mut VecBuf::new(&good), 0, &other);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    let v = gb.core().process(Port::Secure, &mut VecBuf::new(&bad), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::IcvFail)));
    let mut ver = good.clone();
    ver[PSP_AT + 3] = (9 << 2) | 1;
    let v = gb.core().process(Port::Secure, &mut VecBuf::new(&ver), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::Syndrome(Syndrome::UnknownVersion)));
    let mut short = good[..PSP_AT + 20].to_vec();
    let udp_len = (short.len() - PSP_AT + 8) as u16;
    short[14 + 4..14 + 6].copy_from_slice(&udp_len.to_be_bytes());
    short[14 + 40 + 4..14 + 40 + 6].copy_from_slice(&udp_len.to_be_bytes());
    let v = gb.core().process(Port::Secure, &mut VecBuf::new(&short), 0, &m);
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
    let cases: Vec<(Port, Vec<u8>, Action)> = vec![
        (Port::Unsecured, arp.clone(), Action::Forward(Port::Rss)),
        (Port::Secure, arp, Action::Drop(DropReason::RootDefault)),
        (Port::Unsecured, ip6, Action::Drop(DropReason::RootDefault)),
        (Port::Secure, f.clone(), Action::Drop(DropReason::RootDefault)),
        (Port::Secure, psp_v4_outer, Action::Drop(DropReason::RootDefault)),
        (Port::Secure, not_udp, Action::Drop(DropReason::NotPsp)),
        (Port::Secure, not_1000, Action::Drop(DropReason::NotPsp)),
        (Port::Unsecured, vec![], Action::Drop(DropReason::Truncated)),
        (Port::Unsecured, f[..13].to_vec(), Action::Drop(DropReason::Truncated)),
        (Port::Unsecured, f[..30].to_vec(), Action::Drop(DropReason::Truncated)),
        (Port::Secure, psp[..14].to_vec(), Action::Drop(DropReason::Truncated)),
        (Port::Secure, psp[..60].to_vec(), Action::Drop(DropReason::Truncated)),
        (Port::Unsecured, bad_ihl, Action::Drop(DropReason::Malformed)),
    ];
    for (from, data, want) in &cases {
        let v = g.core().process(*from, &mut VecBuf::new(data), 0, &m);
        assert_eq!(v.action, *want, "{from:?} {} bytes", data.len());
    }
    // No headroom: the encapsulator refuses, counted, dropped.
    let v = g.core().process(Port::Unsecured, &mut VecBuf::with_room(&f, 8, 64), 0, &m);
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
    let v = g4.core().process(Port::Secure, &mut VecBuf::new(&psp), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let mut b = VecBuf::new(&f);
    let outer = OuterIp::V4 { src: Ipv4Addr::new(1, 1, 1, 1), dst: Ipv4Addr::new(2, 2, 2, 2) };
    tunnel(1, outer).encap(&mut b, 1, false).unwrap();
    let v = g4.core().process(Port::Secure, &mut b, 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Unsecured));
}

#[test]
fn replacing_a_tunnel_restarts_its_state() {
    let m = masters_b();
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x50)]);
    let f = frame(SRC, DST, b"abc");
    for _ in 0..3 {
        g.core().process(Port::Unsecured, &mut VecBuf::new(&f), 0, &m);
    }
    assert_eq!(g.core().tunnel_counter(DST).unwrap().packets, 3);
    assert!(g.program(vec![insert_tunnel(DST, 0x51)]).result.is_ok());
    assert_eq!(g.core().tunnel_counter(DST).unwrap().packets, 0);
    let mut b = VecBuf::new(&f);
    g.core().process(Port::Unsecured, &mut b, 0, &m);
    assert_eq!(psp_header(b.data()), (0x51, 1, false), "new SPI, IVs from 1");
    assert_eq!(g.core().tunnel_counter(DST).unwrap().packets, 1);
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

fn sealed(e: &Encapsulator, src: Ipv4Addr) -> Vec<u8> {
    let mut b = VecBuf::new(&frame(src, DST, b"net to host payload"));
    e.encap(&mut b, 7, false).unwrap();
    b.data().to_vec()
}

/// Every counter's packets, by name, in print order.
fn packets_by_name(s: &PipeStats) -> Vec<(&'static str, u64)> {
    let mut v = Vec::new();
    s.for_each(|n, c| v.push((n, c.packets)));
    v
}

/// Runs one packet from `from` through core 0 and checks that it is
/// dropped for `want`, without a mirror, and that exactly these counters
/// went up, by one each: `ingress_root`, the reason's own counter and the
/// pipes it passed on the way (`path`). Nothing is forwarded.
fn assert_dropped(g: &mut Gw, from: Port, data: &[u8], want: DropReason, path: &[&str]) {
    let before = *g.core().stats();
    let mut b = VecBuf::new(data);
    let v = g.core().process(from, &mut b, 1, &masters_b());
    let what = format!("{from:?}, {} bytes, want {want:?}", data.len());
    assert_eq!(v, Verdict { action: Action::Drop(want), mirror_to_rss: None }, "{what}");
    let after = *g.core().stats();
    let mut changed = Vec::new();
    for ((name, was), (_, now)) in packets_by_name(&before).into_iter().zip(packets_by_name(&after))
    {
        if now != was {
            assert_eq!(now, was + 1, "{name}: {what}");
            changed.push(name);
        }
    }
    let mut expect = vec!["ingress_root", want.counter_name()];
    expect.extend_from_slice(path);
    changed.sort_unstable();
    expect.sort_unstable();
    assert_eq!(changed, expect, "{what}");
    assert_eq!(after.dropped(want).packets, before.dropped(want).packets + 1);
    assert_adds_up(&after);
}

fn assert_forwarded(g: &mut Gw, from: Port, data: &[u8]) -> Vec<u8> {
    let mut b = VecBuf::new(data);
    let v = g.core().process(from, &mut b, 1, &masters_b());
    let to = if from == Port::Secure { Port::Unsecured } else { Port::Secure };
    assert_eq!(v, Verdict { action: Action::Forward(to), mirror_to_rss: None }, "{from:?}");
    b.data().to_vec()
}

fn gateway_b(cfg: PipelineConfig, acl: &[(u32, Ipv4Addr)]) -> Gw {
    let mut g = Gw::new(cfg, 1);
    let requests = acl
        .iter()
        .map(|&(spi, src)| FlowRequest::InsertAcl { spi: Spi(spi), src: IpAddr::V4(src) });
    assert!(g.program(requests.collect()).result.is_ok());
    g
}

/// Rewrites the outer IPv6 payload length and UDP length of a PSP frame
/// cut at `cut`, so only the PSP part is short.
fn cut_consistently(psp: &[u8], cut: usize) -> Vec<u8> {
    let mut short = psp[..cut].to_vec();
    let udp_len = ((cut - PSP_AT) as u16 + 8).to_be_bytes();
    short[14 + 4..14 + 6].copy_from_slice(&udp_len);
    short[14 + 40 + 4..14 + 40 + 6].copy_from_slice(&udp_len);
    short
}

#[test]
fn hostile_truncated_frames_are_counted_as_truncated() {
    let mut g = gateway_b(PipelineConfig::default(), &[(0x70, SRC)]);
    g.program(vec![insert_tunnel(DST, 0x70)]);
    let psp = psp_packet(0x70, SRC, false).data().to_vec();
    // Cut anywhere: Ethernet, outer IPv6, UDP, PSP header, payload, ICV.
    let n = psp.len();
    for cut in
        [0, 1, 13, 14, 20, 53, 54, 60, PSP_AT, PSP_AT + 8, PSP_AT + 16, PSP_AT + 30, n - 16, n - 1]
    {
        assert_dropped(&mut g, Port::Secure, &psp[..cut], DropReason::Truncated, &[]);
    }
    // Cut with the lengths rewritten to match: the outer headers are whole
    // and the PSP packet is too short for its header and ICV, which is
    // DOCA's bad trailer (syndrome bit 1).
    for cut in [PSP_AT, PSP_AT + 8, PSP_AT + 16, PSP_AT + 31] {
        let short = cut_consistently(&psp, cut);
        let want = DropReason::Syndrome(Syndrome::BadTrailer);
        assert_dropped(&mut g, Port::Secure, &short, want, &[]);
    }
    // From the host: IPv4 cut short.
    let f = frame(SRC, DST, b"to be cut short");
    for cut in [0, 13, 14, 20, 33, 34, f.len() - 1] {
        assert_dropped(&mut g, Port::Unsecured, &f[..cut], DropReason::Truncated, &[]);
    }
    // The whole packets still pass.
    assert_forwarded(&mut g, Port::Secure, &psp);
    assert_forwarded(&mut g, Port::Unsecured, &f);
}

#[test]
fn hostile_oversized_frames_are_dropped_both_ways() {
    const MAX: usize = 300;
    let cfg = PipelineConfig { max_frame_len: MAX, ..PipelineConfig::default() };
    let mut g = gateway_b(cfg, &[(0x71, SRC)]);
    g.program(vec![insert_tunnel(DST, 0x71)]);
    let overhead = tunnel(0x71, v6()).overhead();
    assert_eq!(overhead, 40 + 8 + 16 + 16);
    // The longest frame that fits once encapsulated leaves at exactly MAX.
    let fits = frame(SRC, DST, &vec![7; MAX - overhead - 14 - 28]);
    let sent = assert_forwarded(&mut g, Port::Unsecured, &fits);
    assert_eq!((sent.len(), psp_header(&sent).1), (MAX, 1));
    // One byte more: egress_oversized, before the IV is taken.
    let over = frame(SRC, DST, &vec![7; MAX - overhead - 14 - 28 + 1]);
    assert_dropped(&mut g, Port::Unsecured, &over, DropReason::EncapOversized, &["egress_acl"]);
    // Ethernet padding does not count: only the IP packet is encapsulated.
    let mut padded = fits.clone();
    padded.resize(fits.len() + 40, 0);
    let again = assert_forwarded(&mut g, Port::Unsecured, &padded);
    assert_eq!((again.len(), psp_header(&again).1), (MAX, 2));
    // Received frames longer than MAX, from either port: oversized.
    let mut b = VecBuf::new(&frame(SRC, DST, &vec![7; MAX - overhead - 14 - 28 + 1]));
    tunnel(0x71, v6()).encap(&mut b, 9, false).unwrap();
    assert_eq!(b.data().len(), MAX + 1);
    assert_dropped(&mut g, Port::Secure, b.data(), DropReason::Oversized, &[]);
    let big = frame(SRC, DST, &vec![7; MAX + 1 - 14 - 28]);
    assert_dropped(&mut g, Port::Unsecured, &big, DropReason::Oversized, &[]);
    assert_dropped(&mut g, Port::Rss, &big, DropReason::Oversized, &[]);
    // A received frame of exactly MAX is taken.
    assert_forwarded(&mut g, Port::Secure, &sent);
}

#[test]
fn hostile_wrong_versions_are_dropped() {
    let mut g = gateway_b(PipelineConfig::default(), &[(0x72, SRC)]);
    let good = psp_packet(0x72, SRC, false).data().to_vec();
    assert_eq!((good[PSP_AT + 3] >> 2) & 0xf, 1, "sent as AES-GCM-256");
    let with_version = |v: u8| {
        let mut p = good.clone();
        p[PSP_AT + 3] = (p[PSP_AT + 3] & !0x3c) | (v << 2);
        p
    };
    // 4..=15 are versions no one implements.
    for v in 4..16 {
        let want = DropReason::Syndrome(Syndrome::UnknownVersion);
        assert_dropped(&mut g, Port::Secure, &with_version(v), want, &[]);
    }
    // A known version that is not the sender's: the key derives for that
    // version (another length, another key) and the ICV fails. The gateway
    // issues SPIs of every version, so no known version is refused as such.
    for v in [0, 2, 3] {
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, Port::Secure, &with_version(v), want, &[]);
    }
    assert_forwarded(&mut g, Port::Secure, &good);
}

#[test]
fn hostile_wrong_crypt_offsets_are_dropped() {
    let mut g = gateway_b(PipelineConfig::default(), &[(0x73, SRC)]);
    let good = psp_packet(0x73, SRC, false).data().to_vec();
    // Header (16) + payload + ICV (16): the largest offset in the payload.
    let max_co = (good.len() - PSP_AT - 32) / 4;
    let with_offset = |co: usize| {
        let mut p = good.clone();
        p[PSP_AT + 2] = co as u8;
        p
    };
    for co in [max_co + 1, max_co + 2, 63] {
        let want = DropReason::Syndrome(Syndrome::BadCryptOffset);
        assert_dropped(&mut g, Port::Secure, &with_offset(co), want, &[]);
    }
    // Inside the payload but not the sender's: the header is authenticated.
    for co in [1, 2, max_co] {
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, Port::Secure, &with_offset(co), want, &[]);
    }
    // The reserved bits above the offset.
    let want = DropReason::Syndrome(Syndrome::MalformedHeader);
    assert_dropped(&mut g, Port::Secure, &with_offset(0x40), want, &[]);
    // A sender that uses a crypt offset (and a cookie in clear) passes.
    let co2 = sealed(&tunnel_with(0x73, Version::AesGcm256, 2, None), SRC);
    assert_forwarded(&mut g, Port::Secure, &co2);
    assert_forwarded(&mut g, Port::Secure, &good);
}

#[test]
fn hostile_virtualization_cookie_mismatch_is_dropped() {
    const VC: u64 = 0x0000_1234_5053_5047;
    let cfg = PipelineConfig { expected_vc: Some(VC), ..PipelineConfig::default() };
    let mut g = gateway_b(cfg, &[(0x74, SRC)]);
    let path = &["ingress_decrypt"];
    // Crypt offset 0 encrypts the cookie; 2 leaves it in clear.
    for co in [0, 2] {
        let right = sealed(&tunnel_with(0x74, Version::AesGcm256, co, Some(VC)), SRC);
        assert_forwarded(&mut g, Port::Secure, &right);
        let none = sealed(&tunnel_with(0x74, Version::AesGcm256, co, None), SRC);
        assert_dropped(&mut g, Port::Secure, &none, DropReason::VcMismatch, path);
        let other = sealed(&tunnel_with(0x74, Version::AesGcm256, co, Some(VC ^ 1)), SRC);
        assert_dropped(&mut g, Port::Secure, &other, DropReason::VcMismatch, path);
        // Rewriting the cookie in flight breaks the ICV.
        let mut rewritten = right.clone();
        rewritten[PSP_AT + 23] ^= 1;
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, Port::Secure, &rewritten, want, &[]);
    }
    // Without an expected cookie, cookies are not checked.
    let mut open = gateway_b(PipelineConfig::default(), &[(0x74, SRC)]);
    for vc in [None, Some(VC ^ 1)] {
        let p = sealed(&tunnel_with(0x74, Version::AesGcm256, 0, vc), SRC);
        assert_forwarded(&mut open, Port::Secure, &p);
    }
}

#[test]
fn hostile_corrupted_ciphertext_or_icv_is_dropped_as_icv_fail() {
    let mut g = gateway_b(PipelineConfig::default(), &[(0x75, SRC)]);
    let good = psp_packet(0x75, SRC, false).data().to_vec();
    let n = good.len();
    let want = DropReason::Syndrome(Syndrome::IcvFail);
    // Ciphertext (first and last byte), ICV (first and last byte), and the
    // authenticated header: next header, SPI (bit 31 picks the other master
    // key), IV.
    for at in [PSP_AT + 16, n - 17, n - 16, n - 1, PSP_AT, PSP_AT + 4, PSP_AT + 7, PSP_AT + 15] {
        for bit in [0, 7] {
            let mut bad = good.clone();
            bad[at] ^= 1 << bit;
            assert_dropped(&mut g, Port::Secure, &bad, want, &[]);
        }
    }
    assert_forwarded(&mut g, Port::Secure, &good);
}

#[test]
fn hostile_spoofed_inner_source_with_another_peers_spi_is_dropped() {
    // Two peers, each with the key of the SPI this gateway issued to it.
    let (a, b) = (SRC, Ipv4Addr::new(10, 9, 9, 9));
    let mut g = gateway_b(PipelineConfig::default(), &[(0x76, a), (0x77, b)]);
    let path = &["ingress_decrypt"];
    // B, with its valid SPI and key, claims A's inner source; and back.
    let spoof = DropReason::AclWrongSource;
    assert_dropped(&mut g, Port::Secure, psp_packet(0x77, a, false).data(), spoof, path);
    assert_dropped(&mut g, Port::Secure, psp_packet(0x76, b, false).data(), spoof, path);
    // Nor does a third address pass under either SPI.
    let c = Ipv4Addr::new(172, 16, 0, 1);
    assert_dropped(&mut g, Port::Secure, psp_packet(0x77, c, false).data(), spoof, path);
    // From their own addresses both pass.
    assert_forwarded(&mut g, Port::Secure, psp_packet(0x76, a, false).data());
    assert_forwarded(&mut g, Port::Secure, psp_packet(0x77, b, false).data());
    assert_eq!(g.core().acl_counter(Spi(0x76), a).unwrap().packets, 1);
    assert_eq!(g.core().acl_counter(Spi(0x77), b).unwrap().packets, 1);
}

#[test]
fn authentic_packet_with_a_bad_inner_packet_is_dropped_as_bad_inner() {
    // Only a key holder can make one: seal an inner "IPv4" packet whose
    // length field disagrees with what is there, by hand.
    let mut g = gateway_b(PipelineConfig::default(), &[(0x78, SRC)]);
    let good = psp_packet(0x78, SRC, false).data().to_vec();
    let mut bad = good.clone();
    let inner_at = PSP_AT + 16;
    bad[inner_at + 2..inner_at + 4].copy_from_slice(&9999u16.to_be_bytes());
    let n = bad.len();
    let key = crate::psp::aead::AeadKey::new(
        Version::AesGcm256,
        &masters_b().derive(Spi(0x78), Version::AesGcm256),
    )
    .unwrap();
    let nonce: [u8; 12] = bad[PSP_AT + 4..PSP_AT + 16].try_into().unwrap();
    let (aad, rest) = bad[PSP_AT..n - 16].split_at_mut(16);
    let icv = key.seal(nonce, aad, rest);
    bad[n - 16..].copy_from_slice(&icv);
    let want = DropReason::Syndrome(Syndrome::BadInner);
    assert_dropped(&mut g, Port::Secure, &bad, want, &[]);
    assert_forwarded(&mut g, Port::Secure, &good);
}

#[test]
fn a_tunnel_out_of_ivs_drops_as_iv_exhausted() {
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x79)]);
    let f = frame(SRC, DST, b"last ivs");
    g.core().set_tunnel_iv(DST, (1 << 48) - 2);
    let sent = assert_forwarded(&mut g, Port::Unsecured, &f);
    assert_eq!(psp_header(&sent).1, (1 << 48) - 1, "the last IV of core 0");
    assert_dropped(&mut g, Port::Unsecured, &f, DropReason::IvExhausted, &["egress_acl"]);
    assert_dropped(&mut g, Port::Unsecured, &f, DropReason::IvExhausted, &["egress_acl"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes, and valid packets with random corruption, through
    /// both directions: never a panic, and the counters add up.
    #[test]
    fn random_frames_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..200),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        random in any::<u32>(),
        which in 0u8..4,
    ) {
        let m = masters_b();
        let cfg = PipelineConfig {
            log2_sample_rate: 1,
            max_tunnels: 4,
            max_acl_entries: 4,
            ..PipelineConfig::default()
        };
        let mut g = Gw::new(cfg, 1);
        g.program(vec![
            insert_tunnel(DST, 0x60),
            FlowRequest::InsertAcl { spi: Spi(0x60), src: IpAddr::V4(SRC) },
        ]);
        let mut bytes = match which {
            0 => data.clone(),
            1 => frame(SRC, DST, &data),
            _ => psp_packet(0x60, SRC, random & 1 == 0).data().to_vec(),
        };
        if which != 0 && !bytes.is_empty() {
            for (at, x) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if which == 3 {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
        }
        for from in [Port::Secure, Port::Unsecured, Port::Rss] {
            let mut b = VecBuf::new(&bytes);
            let v = g.core().process(from, &mut b, random, &m);
            if let Action::Forward(_) = v.action {
                prop_assert!(!b.data().is_empty());
            }
            // Also without any head- or tailroom.
            let mut tight = VecBuf::with_room(&bytes, 0, 0);
            let _ = g.core().process(from, &mut tight, random, &m);
        }
        let s = *g.core().stats();
        assert_adds_up(&s);
        prop_assert_eq!(s.ingress_root.packets, 6);
    }
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
    let insert = FlowRequest::InsertTunnel { dst: IpAddr::V4(DST), encap, hw_key: None };
    assert!(a.program(vec![insert]).result.is_ok());
    let m = masters_b();
    let f = frame(SRC, DST, b"transport mode payload, kept secret");
    let mut b = VecBuf::new(&f);
    let v = a.core().process(Port::Unsecured, &mut b, 1, &m);
    assert_eq!(v.action, Action::Forward(Port::Secure));
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
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) }]);
    let mut rb = VecBuf::new(&wire);
    let v = gb.core().process(Port::Secure, &mut rb, 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Unsecured));
    assert_eq!(&rb.data()[12..], &f[12..], "the VM's packet back, byte for byte");
    assert_eq!(gb.cores[0].acl_counter(Spi(0x20), SRC).unwrap().packets, 1);
    // Another source on the same SPI: refused by the ACL.
    let mut other = frame(Ipv4Addr::new(192, 168, 1, 9), DST, b"spoof");
    let mut ob = VecBuf::new(&other);
    a.core().process(Port::Unsecured, &mut ob, 1, &m);
    other = ob.data().to_vec();
    let v = gb.core().process(Port::Secure, &mut VecBuf::new(&other), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclWrongSource));
    assert_adds_up(gb.cores[0].stats());

    // A tunnel-mode gateway: its root drops outer IPv4 (it expects IPv6);
    // with outer IPv4 it decrypts but drops the transport packet.
    let mut gt = Gw::new(PipelineConfig::default(), 1);
    gt.program(vec![FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) }]);
    let v = gt.core().process(Port::Secure, &mut VecBuf::new(&wire), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let cfg4 = PipelineConfig { outer: OuterVersion::Ipv4, ..PipelineConfig::default() };
    let mut gt4 = Gw::new(cfg4, 1);
    gt4.program(vec![FlowRequest::InsertAcl { spi: Spi(0x20), src: IpAddr::V4(SRC) }]);
    let v = gt4.core().process(Port::Secure, &mut VecBuf::new(&wire), 0, &m);
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
    let v = a.core().process(Port::Unsecured, &mut VecBuf::new(&f), 1, &m);
    assert_eq!(v.action, Action::Miss { dst: dst6 });
    let insert = FlowRequest::InsertTunnel { dst: dst6, encap: tunnel(0x30, v6()), hw_key: None };
    assert!(a.program(vec![insert]).result.is_ok());
    let mut b = VecBuf::new(&f);
    let v = a.core().process(Port::Unsecured, &mut b, 1, &m);
    assert_eq!(v.action, Action::Forward(Port::Secure));
    let wire = b.data().to_vec();
    assert_eq!((wire[PSP_AT], psp_header(&wire).0), (41, 0x30), "next header IPv6, our SPI");
    assert!(!wire.windows(6).any(|w| w == b"secret"));
    assert_eq!(a.cores[0].tunnel_counter(dst6).unwrap().packets, 1);

    let mut gb = Gw::new(cfg, 1);
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x30), src: src6 }]);
    let mut rb = VecBuf::new(&wire);
    let v = gb.core().process(Port::Secure, &mut rb, 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Unsecured));
    assert_eq!(&rb.data()[12..], &f[12..]);
    assert_eq!(gb.cores[0].acl_counter(Spi(0x30), src6).unwrap().packets, 1);
    // The same SPI from another IPv6 source, or IPv4: wrong source.
    let mut gw2 = Gw::new(cfg, 1);
    gw2.program(vec![FlowRequest::InsertAcl {
        spi: Spi(0x30),
        src: "fd00:10::9".parse().unwrap(),
    }]);
    let v = gw2.core().process(Port::Secure, &mut VecBuf::new(&wire), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::AclWrongSource));

    // Neighbour solicitation (ICMPv6 135) and advertisement (136): RSS.
    for t in [135u8, 136] {
        let nd = frame6("fd00:10::1", "ff02::1:ff00:2", 58, &[t, 0, 0, 0, 0, 0, 0, 0]);
        let v = a.core().process(Port::Unsecured, &mut VecBuf::new(&nd), 0, &m);
        assert_eq!(v.action, Action::Forward(Port::Rss), "{t}");
    }
    // Other ICMPv6 (an echo request) takes the tunnel path.
    let echo = frame6("fd00:10::1", "fd00:10::2", 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    let v = a.core().process(Port::Unsecured, &mut VecBuf::new(&echo), 0, &m);
    assert_eq!(v.action, Action::Forward(Port::Secure));
    let s = a.cores[0].stats();
    assert_eq!((s.vf_nd_to_rss.packets, s.rss.packets), (2, 3));
    // IPv4 with inner IPv6, IPv6 with inner IPv4: dropped at the root.
    let v = a.core().process(Port::Unsecured, &mut VecBuf::new(&frame(SRC, DST, b"v4")), 0, &m);
    assert_eq!(v.action, Action::Drop(DropReason::RootDefault));
    let mut g4 = Gw::new(PipelineConfig::default(), 1);
    let v = g4.core().process(Port::Unsecured, &mut VecBuf::new(&f), 0, &m);
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
    let insert = FlowRequest::InsertTunnel { dst: dst6, encap: tunnel_with(0x40, 1), hw_key: None };
    assert!(a.program(vec![insert]).result.is_ok());
    let m = masters_b();
    let mut tcp = [0u8; 32];
    tcp[12] = 8 << 4; // data offset: 32 bytes
    let f = frame6("fd00:10::1", "fd00:10::2", 6, &tcp);
    let mut b = VecBuf::new(&f);
    assert_eq!(
        a.core().process(Port::Unsecured, &mut b, 1, &m).action,
        Action::Forward(Port::Secure)
    );
    let wire = b.data().to_vec();
    assert_eq!((&wire[12..14], wire[14 + 6]), (&[0x86, 0xdd][..], 17), "the VM's IPv6, now UDP");
    assert_eq!(&wire[22..54], &f[22..54], "the VMs' addresses on the wire");
    assert_eq!(wire[54 + 8], 6, "PSP next header: TCP");
    let mut gb = Gw::new(cfg, 1);
    gb.program(vec![FlowRequest::InsertAcl { spi: Spi(0x40), src: src6 }]);
    let mut rb = VecBuf::new(&wire);
    assert_eq!(
        gb.core().process(Port::Secure, &mut rb, 0, &m).action,
        Action::Forward(Port::Unsecured)
    );
    assert_eq!(&rb.data()[12..], &f[12..]);
    // Crypt offset 10: 40 bytes past the IV, more than the 32 there are.
    let insert =
        FlowRequest::InsertTunnel { dst: dst6, encap: tunnel_with(0x41, 10), hw_key: None };
    assert!(a.program(vec![insert]).result.is_ok());
    let v = a.core().process(Port::Unsecured, &mut VecBuf::new(&f), 1, &m);
    assert_eq!(v.action, Action::Drop(DropReason::EncapFailed));
    assert_adds_up(a.cores[0].stats());
}
