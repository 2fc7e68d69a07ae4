//! Hostile input through the pipes: truncated, oversized and corrupted
//! frames, wrong versions, crypt offsets and cookies, spoofed sources, and
//! a tunnel out of IVs. Each drop is checked against its one reason and
//! the counters on its path.

use super::*;
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
fn assert_dropped(g: &mut Gw, from: PortRole, data: &[u8], want: DropReason, path: &[&str]) {
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

fn assert_forwarded(g: &mut Gw, from: PortRole, data: &[u8]) -> Vec<u8> {
    let mut b = VecBuf::new(data);
    let v = g.core().process(from, &mut b, 1, &masters_b());
    let to = if from == PortRole::Secure { PortRole::Unsecured } else { PortRole::Secure };
    assert_eq!(v, Verdict { action: Action::Forward(to), mirror_to_rss: None }, "{from:?}");
    b.data().to_vec()
}

fn gateway_b(cfg: PipelineConfig, acl: &[(u32, Ipv4Addr)]) -> Gw {
    let mut g = Gw::new(cfg, 1);
    let requests = acl.iter().map(|&(spi, src)| FlowRequest::InsertAcl {
        spi: Spi(spi),
        src: IpAddr::V4(src),
        dst: IpAddr::V4(DST),
    });
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
        assert_dropped(&mut g, PortRole::Secure, &psp[..cut], DropReason::Truncated, &[]);
    }
    // Cut with the lengths rewritten to match: the outer headers are whole
    // and the PSP packet is too short for its header and ICV, which is
    // DOCA's bad trailer (syndrome bit 1).
    for cut in [PSP_AT, PSP_AT + 8, PSP_AT + 16, PSP_AT + 31] {
        let short = cut_consistently(&psp, cut);
        let want = DropReason::Syndrome(Syndrome::BadTrailer);
        assert_dropped(&mut g, PortRole::Secure, &short, want, &[]);
    }
    // From the host: IPv4 cut short.
    let f = frame(SRC, DST, b"to be cut short");
    for cut in [0, 13, 14, 20, 33, 34, f.len() - 1] {
        assert_dropped(&mut g, PortRole::Unsecured, &f[..cut], DropReason::Truncated, &[]);
    }
    // The whole packets still pass.
    assert_forwarded(&mut g, PortRole::Secure, &psp);
    assert_forwarded(&mut g, PortRole::Unsecured, &f);
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
    let sent = assert_forwarded(&mut g, PortRole::Unsecured, &fits);
    assert_eq!((sent.len(), psp_header(&sent).1), (MAX, 1));
    // One byte more: egress_oversized, before the IV is taken.
    let over = frame(SRC, DST, &vec![7; MAX - overhead - 14 - 28 + 1]);
    assert_dropped(&mut g, PortRole::Unsecured, &over, DropReason::EncapOversized, &["egress_acl"]);
    // Ethernet padding does not count: only the IP packet is encapsulated.
    let mut padded = fits.clone();
    padded.resize(fits.len() + 40, 0);
    let again = assert_forwarded(&mut g, PortRole::Unsecured, &padded);
    assert_eq!((again.len(), psp_header(&again).1), (MAX, 2));
    // Received frames longer than MAX, from either port: oversized.
    let mut b = VecBuf::new(&frame(SRC, DST, &vec![7; MAX - overhead - 14 - 28 + 1]));
    tunnel(0x71, v6()).encap(&mut b, 9, false).unwrap();
    assert_eq!(b.data().len(), MAX + 1);
    assert_dropped(&mut g, PortRole::Secure, b.data(), DropReason::Oversized, &[]);
    let big = frame(SRC, DST, &vec![7; MAX + 1 - 14 - 28]);
    assert_dropped(&mut g, PortRole::Unsecured, &big, DropReason::Oversized, &[]);
    assert_dropped(&mut g, PortRole::Rss, &big, DropReason::Oversized, &[]);
    // A received frame of exactly MAX is taken.
    assert_forwarded(&mut g, PortRole::Secure, &sent);
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
        assert_dropped(&mut g, PortRole::Secure, &with_version(v), want, &[]);
    }
    // A known version that is not the sender's: the key derives for that
    // version (another length, another key) and the ICV fails. The gateway
    // issues SPIs of every version, so no known version is refused as such.
    for v in [0, 2, 3] {
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, PortRole::Secure, &with_version(v), want, &[]);
    }
    assert_forwarded(&mut g, PortRole::Secure, &good);
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
        assert_dropped(&mut g, PortRole::Secure, &with_offset(co), want, &[]);
    }
    // Inside the payload but not the sender's: the header is authenticated.
    for co in [1, 2, max_co] {
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, PortRole::Secure, &with_offset(co), want, &[]);
    }
    // The reserved bits above the offset.
    let want = DropReason::Syndrome(Syndrome::MalformedHeader);
    assert_dropped(&mut g, PortRole::Secure, &with_offset(0x40), want, &[]);
    // A sender that uses a crypt offset (and a cookie in clear) passes.
    let co2 = sealed(&tunnel_with(0x73, Version::AesGcm256, 2, None), SRC);
    assert_forwarded(&mut g, PortRole::Secure, &co2);
    assert_forwarded(&mut g, PortRole::Secure, &good);
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
        assert_forwarded(&mut g, PortRole::Secure, &right);
        let none = sealed(&tunnel_with(0x74, Version::AesGcm256, co, None), SRC);
        assert_dropped(&mut g, PortRole::Secure, &none, DropReason::VcMismatch, path);
        let other = sealed(&tunnel_with(0x74, Version::AesGcm256, co, Some(VC ^ 1)), SRC);
        assert_dropped(&mut g, PortRole::Secure, &other, DropReason::VcMismatch, path);
        // Rewriting the cookie in flight breaks the ICV.
        let mut rewritten = right.clone();
        rewritten[PSP_AT + 23] ^= 1;
        let want = DropReason::Syndrome(Syndrome::IcvFail);
        assert_dropped(&mut g, PortRole::Secure, &rewritten, want, &[]);
    }
    // Without an expected cookie, cookies are not checked.
    let mut open = gateway_b(PipelineConfig::default(), &[(0x74, SRC)]);
    for vc in [None, Some(VC ^ 1)] {
        let p = sealed(&tunnel_with(0x74, Version::AesGcm256, 0, vc), SRC);
        assert_forwarded(&mut open, PortRole::Secure, &p);
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
            assert_dropped(&mut g, PortRole::Secure, &bad, want, &[]);
        }
    }
    assert_forwarded(&mut g, PortRole::Secure, &good);
}

#[test]
fn hostile_spoofed_inner_source_with_another_peers_spi_is_dropped() {
    // Two peers, each with the key of the SPI this gateway issued to it.
    let (a, b) = (SRC, Ipv4Addr::new(10, 9, 9, 9));
    let mut g = gateway_b(PipelineConfig::default(), &[(0x76, a), (0x77, b)]);
    let path = &["ingress_decrypt"];
    // B, with its valid SPI and key, claims A's inner source; and back.
    let spoof = DropReason::AclWrongSource;
    assert_dropped(&mut g, PortRole::Secure, psp_packet(0x77, a, false).data(), spoof, path);
    assert_dropped(&mut g, PortRole::Secure, psp_packet(0x76, b, false).data(), spoof, path);
    // Nor does a third address pass under either SPI.
    let c = Ipv4Addr::new(172, 16, 0, 1);
    assert_dropped(&mut g, PortRole::Secure, psp_packet(0x77, c, false).data(), spoof, path);
    // From their own addresses both pass.
    assert_forwarded(&mut g, PortRole::Secure, psp_packet(0x76, a, false).data());
    assert_forwarded(&mut g, PortRole::Secure, psp_packet(0x77, b, false).data());
    assert_eq!(g.core().acl_counter(Spi(0x76), a, DST).unwrap().packets, 1);
    assert_eq!(g.core().acl_counter(Spi(0x77), b, DST).unwrap().packets, 1);
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
    assert_dropped(&mut g, PortRole::Secure, &bad, want, &[]);
    assert_forwarded(&mut g, PortRole::Secure, &good);
}

#[test]
fn a_tunnel_out_of_ivs_drops_as_iv_exhausted() {
    let mut g = Gw::new(PipelineConfig::default(), 1);
    g.program(vec![insert_tunnel(DST, 0x79)]);
    let f = frame(SRC, DST, b"last ivs");
    g.core().set_tunnel_iv(VipPair::new(SRC, DST), (1 << 48) - 2);
    let sent = assert_forwarded(&mut g, PortRole::Unsecured, &f);
    assert_eq!(psp_header(&sent).1, (1 << 48) - 1, "the last IV of core 0");
    assert_dropped(&mut g, PortRole::Unsecured, &f, DropReason::IvExhausted, &["egress_acl"]);
    assert_dropped(&mut g, PortRole::Unsecured, &f, DropReason::IvExhausted, &["egress_acl"]);
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
            FlowRequest::InsertAcl { spi: Spi(0x60), src: IpAddr::V4(SRC), dst: IpAddr::V4(DST) },
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
        for from in [PortRole::Secure, PortRole::Unsecured, PortRole::Rss] {
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
