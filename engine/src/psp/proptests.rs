//! Property tests of the PSP core: encap then decap is the identity, and no
//! input makes decap or the header parser panic.

use super::aead::AeadKey;
use super::buf::{PacketBuf, VecBuf};
use super::cache::{CachedKeys, KeyCache};
use super::decap::{decap, DecapOptions, Error as DecapError};
use super::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use super::header::{Header, HeaderRepr};
use super::kdf::{MasterKey, MasterKeyPair};
use super::{Mode, Spi, Version};
use crate::wire::{self, Ipv6Fields, MacAddr};
use proptest::prelude::*;

fn inner_frame(v6: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    let hl = if v6 { 40 } else { 20 };
    f.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    f.resize(14 + hl, 0);
    if v6 {
        wire::ipv6_emit(
            &mut f[14..],
            Ipv6Fields {
                src: "fd00::a".parse().unwrap(),
                dst: "fd00::b".parse().unwrap(),
                next_header: proto,
                traffic_class: 0x28,
                flow_label: 7,
                hop_limit: 9,
                payload_len: payload.len() as u16,
            },
        );
    } else {
        wire::ipv4_emit(
            &mut f[14..],
            "10.1.1.1".parse().unwrap(),
            "10.1.1.2".parse().unwrap(),
            proto,
            0x28,
            9,
            (20 + payload.len()) as u16,
        );
    }
    f.extend_from_slice(payload);
    f
}

fn version() -> impl Strategy<Value = Version> {
    prop::sample::select(Version::ALL.to_vec())
}

fn masters() -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[0x11; 32]).unwrap(),
        MasterKey::from_bytes(&[0x22; 32]).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encap_then_decap_is_identity(
        v6 in any::<bool>(),
        tunnel in any::<bool>(),
        outer6 in any::<bool>(),
        version in version(),
        spi in any::<u32>(),
        iv in any::<u64>(),
        vc in proptest::option::of(any::<u64>()),
        sample in any::<bool>(),
        proto in prop::sample::select(vec![6u8, 17, 1, 58, 132]),
        payload in prop::collection::vec(any::<u8>(), 0..1600),
        co_seed in any::<u8>(),
    ) {
        let frame = inner_frame(v6, proto, &payload);
        let vc_len = if vc.is_some() { 8 } else { 0 };
        let after_iv = vc_len + payload.len() + if tunnel { if v6 { 40 } else { 20 } } else { 0 };
        // Any crypt offset that fits, up to the 6-bit maximum.
        let co = (usize::from(co_seed) % (after_iv / 4 + 1)).min(63) as u8;
        let masters = masters();
        let cfg = EncapConfig {
            mode: if tunnel { Mode::Tunnel } else { Mode::Transport },
            version,
            spi: Spi(spi),
            crypt_offset: co,
            vc,
            eth: Some(EthAddrs { src: MacAddr([0xaa; 6]), dst: MacAddr([0xbb; 6]) }),
            outer: if outer6 {
                OuterIp::V6 { src: "fd99::1".parse().unwrap(), dst: "fd99::2".parse().unwrap() }
            } else {
                OuterIp::V4 { src: "172.31.0.1".parse().unwrap(), dst: "172.31.0.2".parse().unwrap() }
            },
            ttl: 64,
        };
        let enc = Encapsulator::new(cfg, &masters.derive(Spi(spi), version)).unwrap();
        let mut b = VecBuf::new(&frame);
        enc.encap(&mut b, iv, sample).unwrap();
        if !version.is_gmac() && payload.len() >= 32 && after_iv >= usize::from(co) * 4 + 32 {
            // The payload's tail lies past the crypt offset: no longer readable.
            prop_assert!(b.data().windows(32).all(|w| w != &payload[payload.len() - 32..]));
        }
        let mut cache = KeyCache::new(4);
        let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
        let dmac = MacAddr([0xcc; 6]);
        let info = decap(&mut b, &mut keys, DecapOptions { dst_mac: Some(dmac) }).unwrap();
        let mut want = frame.clone();
        want[..6].copy_from_slice(&dmac.0);
        want[6..12].copy_from_slice(&[0xaa; 6]);
        prop_assert_eq!(b.data(), &want[..]);
        prop_assert_eq!((info.spi, info.version, info.iv, info.vc, info.sample), (Spi(spi), version, iv, vc, sample));
    }

    #[test]
    fn decap_of_random_bytes_never_panics(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let masters = masters();
        let mut cache = KeyCache::new(2);
        let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
        let mut b = VecBuf::new(&data);
        let _ = decap(&mut b, &mut keys, DecapOptions::default());
    }

    /// Random frames that get past the outer layers: Ethernet/IPv6/UDP 1000
    /// with random PSP bytes, so the PSP checks themselves are exercised.
    #[test]
    fn decap_of_random_psp_never_panics(psp in prop::collection::vec(any::<u8>(), 0..200), key_v in version()) {
        let mut f = vec![0u8; 14 + 40 + 8];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        let udp_len = (8 + psp.len()) as u16;
        wire::ipv6_emit(&mut f[14..], Ipv6Fields {
            src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap(),
            next_header: 17, traffic_class: 0, flow_label: 0, hop_limit: 1, payload_len: udp_len });
        wire::udp_emit(&mut f[54..], 1, 1000, udp_len);
        f.extend_from_slice(&psp);
        let mut key = AeadKey::from_raw(key_v, &vec![1u8; key_v.key_len()]).unwrap();
        let r = decap(&mut VecBuf::new(&f), &mut key, DecapOptions::default());
        prop_assert!(!matches!(r, Err(DecapError::NotPsp(_))));
        // A random 16-byte ICV never verifies.
        prop_assert!(r.is_err());
    }

    /// Corrupting any byte of a valid packet's PSP part is caught.
    #[test]
    fn tampering_is_detected(at in any::<prop::sample::Index>(), flip in 1u8..=255, version in version()) {
        let masters = masters();
        let cfg = EncapConfig {
            mode: Mode::Tunnel, version, spi: Spi(5), crypt_offset: 2, vc: Some(1), eth: None,
            outer: OuterIp::V6 { src: "fd99::1".parse().unwrap(), dst: "fd99::2".parse().unwrap() },
            ttl: 64,
        };
        let enc = Encapsulator::new(cfg, &masters.derive(Spi(5), version)).unwrap();
        let mut b = VecBuf::new(&inner_frame(false, 17, b"some payload bytes"));
        enc.encap(&mut b, 1, false).unwrap();
        let mut pkt = b.data().to_vec();
        let psp_at = 14 + 40 + 8;
        let i = psp_at + at.index(pkt.len() - psp_at);
        pkt[i] ^= flip;
        let mut cache = KeyCache::new(2);
        let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
        prop_assert!(matches!(
            decap(&mut VecBuf::new(&pkt), &mut keys, DecapOptions::default()),
            Err(DecapError::Syndrome(_))
        ));
    }

    #[test]
    fn header_repr_roundtrip(
        nh in any::<u8>(), co in 0u8..=63, s in any::<bool>(), d in any::<bool>(),
        version in version(), spi in any::<u32>(), iv in any::<u64>(),
        vc in proptest::option::of(any::<u64>()),
    ) {
        let r = HeaderRepr { next_header: nh, crypt_offset: co, sample: s, drop: d, version, spi: Spi(spi), iv, vc };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut b);
        let h = Header::new_checked(&b[..]).unwrap();
        prop_assert_eq!(h.header_len(), r.buffer_len());
        prop_assert_eq!(HeaderRepr::parse(&h).unwrap(), r);
    }

    #[test]
    fn header_parse_never_panics(b in prop::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(h) = Header::new_checked(&b[..]) {
            let _ = HeaderRepr::parse(&h);
            let _ = (h.vc(), h.nonce(), h.header_len());
        }
    }
}

#[test]
fn encap_refuses_without_room_and_keeps_packet() {
    let masters = masters();
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm128,
        spi: Spi(1),
        crypt_offset: 0,
        vc: None,
        eth: None,
        outer: OuterIp::V6 { src: "fd99::1".parse().unwrap(), dst: "fd99::2".parse().unwrap() },
        ttl: 64,
    };
    let enc = Encapsulator::new(cfg, &masters.derive(Spi(1), Version::AesGcm128)).unwrap();
    let f = inner_frame(false, 17, b"abc");
    let mut b = VecBuf::with_room(&f, 128, 15);
    assert!(enc.encap(&mut b, 1, false).is_err());
    assert_eq!(b.data(), &f[..]);
}
