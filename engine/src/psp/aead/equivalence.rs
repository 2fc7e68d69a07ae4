//! intel-ipsec-mb (one reused context per thread) against aws-lc per
//! packet: the same ciphertext and ICV, each opening what the other
//! sealed, the same rejections and the same wiped buffer when they reject.

use super::*;

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)).collect()
}

fn nonce(i: usize) -> [u8; 12] {
    let mut n = [0x5a; 12];
    n[4..].copy_from_slice(&(i as u64).to_be_bytes());
    n
}

fn pair(version: Version, seed: u8) -> (AeadKey, AeadKey) {
    let raw = bytes(version.key_len(), seed);
    let aws = AeadKey::with_impl(version, &raw, Impl::AwsLc).unwrap();
    let imb = AeadKey::with_impl(version, &raw, Impl::IpsecMb).unwrap();
    // The ipsec-mb key holds no aws-lc key: its seal and open cannot have
    // fallen back to aws-lc unnoticed (aws() would panic).
    assert!(imb.aws.is_none() && imb.imb.is_some() && aws.imb.is_none());
    (aws, imb)
}

const LENGTHS: [usize; 24] = [
    0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 257, 511, 512, 1023, 1024, 1400,
    1471, 4096, 9000,
];

#[test]
fn seal_gives_the_same_bytes_and_each_opens_the_other() {
    for version in [Version::AesGcm128, Version::AesGcm256] {
        let (aws, imb) = pair(version, 3);
        for aad_len in [16, 20, 24, 40, 64, 268] {
            for (i, len) in LENGTHS.into_iter().enumerate() {
                let aad = bytes(aad_len, i as u8);
                let plain = bytes(len, 11);
                let mut a = plain.clone();
                let a_icv = aws.seal(nonce(i), &aad, &mut a);
                let mut b = plain.clone();
                let b_icv = imb.seal(nonce(i), &aad, &mut b);
                assert_eq!((&a, a_icv), (&b, b_icv), "{version} aad {aad_len} len {len}");
                // Each opens what the other sealed.
                for (sealed_by, opener) in [(&aws, &imb), (&imb, &aws)] {
                    let mut ct = plain.clone();
                    let icv = sealed_by.seal(nonce(i), &aad, &mut ct);
                    ct.extend_from_slice(&icv);
                    opener.open(nonce(i), &aad, &mut ct).unwrap();
                    assert_eq!(&ct[..len], &plain[..], "{version} aad {aad_len} len {len}");
                }
            }
        }
    }
}

#[test]
fn both_reject_every_changed_byte_and_wipe_alike() {
    for version in [Version::AesGcm128, Version::AesGcm256] {
        let (aws, imb) = pair(version, 9);
        let aad = bytes(24, 1);
        let mut sealed = bytes(100, 2);
        let icv = aws.seal(nonce(1), &aad, &mut sealed);
        sealed.extend_from_slice(&icv);
        // Every byte of the ciphertext and the ICV, then of the AAD.
        for at in 0..sealed.len() + aad.len() {
            let (mut ct, mut a) = (sealed.clone(), aad.clone());
            if at < ct.len() {
                ct[at] ^= 0x01 << (at % 8);
            } else {
                a[at - ct.len()] ^= 0x80;
            }
            let (mut ct_aws, mut ct_imb) = (ct.clone(), ct);
            assert_eq!(aws.open(nonce(1), &a, &mut ct_aws), Err(Error::Auth), "byte {at}");
            assert_eq!(imb.open(nonce(1), &a, &mut ct_imb), Err(Error::Auth), "byte {at}");
            // No unauthenticated plaintext is left, and the buffers agree.
            assert_eq!(&ct_imb[..100], &[0u8; 100][..], "byte {at}");
            assert_eq!(ct_aws[..100], ct_imb[..100], "byte {at}");
        }
        // A wrong nonce, and an input shorter than an ICV.
        assert_eq!(imb.open(nonce(2), &aad, &mut sealed.clone()), Err(Error::Auth));
        assert_eq!(imb.open(nonce(1), &aad, &mut [0u8; 15]), Err(Error::Auth));
        assert_eq!(aws.open(nonce(1), &aad, &mut [0u8; 15]), Err(Error::Auth));
        imb.open(nonce(1), &aad, &mut sealed).unwrap();
    }
}

/// A burst as a packet core sees it: keys of both sizes interleaved and
/// failures in between, all through the thread's one context, on two
/// threads at once.
#[test]
fn a_burst_through_one_context_matches_per_packet_aws_lc() {
    let keys: Vec<(AeadKey, AeadKey)> =
        (0..4).map(|s| pair([Version::AesGcm128, Version::AesGcm256][s % 2], s as u8)).collect();
    let run = |seed: u8| {
        for i in 0..64usize {
            let (aws, imb) = &keys[i % keys.len()];
            let len = [64, 1400, 512, 0, 1471][i % 5];
            let aad = bytes(16, seed);
            let plain = bytes(len, seed.wrapping_add(i as u8));
            let mut a = plain.clone();
            let a_icv = aws.seal(nonce(i), &aad, &mut a);
            let mut b = plain.clone();
            let b_icv = imb.seal(nonce(i), &aad, &mut b);
            assert_eq!((&a, a_icv), (&b, b_icv), "packet {i}");
            b.extend_from_slice(&b_icv);
            if i % 3 == 0 {
                let mut bad = b.clone();
                bad[0] ^= 1;
                assert_eq!(imb.open(nonce(i), &aad, &mut bad), Err(Error::Auth));
            }
            imb.open(nonce(i), &aad, &mut b).unwrap();
            assert_eq!(&b[..len], &plain[..], "packet {i}");
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| run(1));
        s.spawn(|| run(2));
    });
}

/// decap with an ipsec-mb key gives what decap with aws-lc gives.
#[test]
fn decap_with_ipsec_mb_matches_aws_lc() {
    use crate::psp::buf::{PacketBuf, VecBuf};
    use crate::psp::decap::{decap, DecapOptions, Syndrome};
    use crate::psp::encap::{EncapConfig, Encapsulator, OuterIp};
    use crate::psp::kdf::DerivedKey;
    use crate::psp::{Mode, Spi};
    for version in [Version::AesGcm128, Version::AesGcm256] {
        for len in [64usize, 512, 1400] {
            let raw = bytes(version.key_len(), 4);
            let cfg = EncapConfig {
                mode: Mode::Tunnel,
                version,
                spi: Spi(0x10),
                crypt_offset: 0,
                vc: None,
                eth: None,
                outer: OuterIp::V6 {
                    src: "fd00::1".parse().unwrap(),
                    dst: "fd00::2".parse().unwrap(),
                },
                ttl: 64,
            };
            let e = Encapsulator::new(cfg, &DerivedKey::from_bytes(&raw).unwrap()).unwrap();
            let mut f = vec![0u8; 14 + len];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            crate::wire::ipv4_emit(
                &mut f[14..],
                "192.168.1.1".parse().unwrap(),
                "192.168.1.2".parse().unwrap(),
                17,
                0,
                64,
                len as u16,
            );
            let mut b = VecBuf::new(&f);
            e.encap(&mut b, 5, false).unwrap();
            let psp = b.data().to_vec();
            let (mut aws, mut imb) = pair(version, 4);
            let (mut x, mut y) = (VecBuf::new(&psp), VecBuf::new(&psp));
            let ia = decap(&mut x, &mut aws, DecapOptions::default()).unwrap();
            let ib = decap(&mut y, &mut imb, DecapOptions::default()).unwrap();
            assert_eq!((x.data(), ia), (y.data(), ib), "{version} {len}");
            let mut bad = psp.clone();
            let at = bad.len() - 20;
            bad[at] ^= 4;
            assert_eq!(
                decap(&mut VecBuf::new(&bad), &mut imb, DecapOptions::default()),
                Err(crate::psp::decap::Error::Syndrome(Syndrome::IcvFail))
            );
        }
    }
}

#[test]
fn a_policy_splits_by_operation_key_and_size() {
    let mut p = Policy::fixed(Impl::AwsLc);
    p.set(false, 16, 0, Impl::IpsecMb);
    p.set(true, 32, 2, Impl::IpsecMb);
    assert_eq!(p.get(false, 16, 255), Impl::IpsecMb);
    assert_eq!(p.get(false, 16, 256), Impl::AwsLc);
    assert_eq!(p.get(true, 16, 100), Impl::AwsLc);
    assert_eq!(p.get(true, 32, 1024), Impl::IpsecMb);
    assert_eq!(p.get(true, 32, 1023), Impl::AwsLc);
    assert!(p.to_string().starts_with("seal/128: 64 B ipsec-mb, 512 B aws-lc, 1400 B aws-lc; "));
    // A key under it holds both implementations, and uses each where told:
    // sealing 64 B on ipsec-mb and 512 B on aws-lc gives the same bytes.
    let k = AeadKey::with_policy(Version::AesGcm128, &[1; 16], &p).unwrap();
    assert!(k.aws.is_some() && k.imb.is_some());
    assert_eq!(k.choice[0], [Impl::IpsecMb, Impl::AwsLc, Impl::AwsLc]);
    let aws = AeadKey::with_impl(Version::AesGcm128, &[1; 16], Impl::AwsLc).unwrap();
    for len in [64, 512] {
        let (mut a, mut b) = (bytes(len, 1), bytes(len, 1));
        assert_eq!(aws.seal(nonce(len), &[2; 16], &mut a), k.seal(nonce(len), &[2; 16], &mut b));
        assert_eq!(a, b);
    }
    // GMAC keys stay on aws-lc whatever the policy says.
    let g =
        AeadKey::with_policy(Version::AesGmac128, &[1; 16], &Policy::fixed(Impl::IpsecMb)).unwrap();
    assert!(g.imb.is_none() && g.choice == [[Impl::AwsLc; 3]; 2]);
}
