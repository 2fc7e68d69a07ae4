//! The wrapper against aws-lc-rs (the engine's per-packet AEAD) and the
//! GCM spec's test case 4.

use super::*;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};

fn reference(key: &[u8], iv: [u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    let alg = if key.len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
    let k = LessSafeKey::new(UnboundKey::new(alg, key).unwrap());
    let tag = k
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), data)
        .unwrap();
    tag.as_ref().try_into().unwrap()
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[test]
fn gcm_spec_test_case_4() {
    let key = hex("feffe9928665731c6d6a8f9467308308");
    let iv: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let mut data = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    let k = GcmKey::new(&key).unwrap();
    let tag = k.seal(&iv, &aad, &mut data);
    assert_eq!(tag.to_vec(), hex("5bc94fbc3221a5db94fae95ae7121a47"));
    assert_eq!(&data[..4], &hex("42831ec2")[..]);
    k.open(&iv, &aad, &mut data, &tag).unwrap();
    assert_eq!(&data[..4], &hex("d9313225")[..]);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

#[test]
fn same_bytes_as_aws_lc_for_many_lengths() {
    for key_len in [16, 32] {
        let key = bytes(key_len, 7);
        let k = GcmKey::new(&key).unwrap();
        let mut batch = Batch::new();
        for aad_len in [0, 1, 16, 17, 20, 48, 271] {
            for len in (0..70).chain([127, 128, 129, 255, 256, 257, 1400, 1471, 4096, 9000]) {
                let iv: [u8; 12] = bytes(12, len as u8).try_into().unwrap();
                let aad = bytes(aad_len, 3);
                let plain = bytes(len, 9);
                let mut want = plain.clone();
                let want_tag = reference(&key, iv, &aad, &mut want);
                let mut got = plain.clone();
                assert_eq!(k.seal(&iv, &aad, &mut got), want_tag, "{key_len} {aad_len} {len}");
                assert_eq!(got, want);
                let mut got = plain.clone();
                assert_eq!(batch.seal(&k, &iv, &aad, &mut got), want_tag);
                assert_eq!(got, want);
                batch.open(&k, &iv, &aad, &mut got, &want_tag).unwrap();
                assert_eq!(got, plain);
            }
        }
    }
}

#[test]
fn open_rejects_any_changed_byte() {
    let k = GcmKey::new(&[5; 32]).unwrap();
    let iv = [1; 12];
    let aad = bytes(20, 1);
    let mut ct = bytes(100, 2);
    let tag = k.seal(&iv, &aad, &mut ct);
    let mut t = tag;
    t[15] ^= 0x80;
    assert_eq!(k.open(&iv, &aad, &mut ct.clone(), &t), Err(Error::Auth));
    let mut a = aad.clone();
    a[0] ^= 1;
    assert_eq!(k.open(&iv, &a, &mut ct.clone(), &tag), Err(Error::Auth));
    let mut c = ct.clone();
    c[99] ^= 1;
    assert_eq!(k.open(&iv, &aad, &mut c, &tag), Err(Error::Auth));
    assert_eq!(c, vec![0; 100], "a rejected packet is wiped");
    assert_eq!(k.open(&[2; 12], &aad, &mut ct.clone(), &tag), Err(Error::Auth));
    k.open(&iv, &aad, &mut ct, &tag).unwrap();
}

#[test]
fn key_lengths() {
    assert_eq!(GcmKey::new(&[0; 24]).unwrap_err(), Error::KeyLength(24));
    assert_eq!(GcmKey::new(&[0; 16]).unwrap().size(), KeySize::Aes128);
    assert_eq!(GcmKey::new(&[0; 32]).unwrap().size(), KeySize::Aes256);
    let (_, version) = super::super::arch().unwrap();
    assert!(version.starts_with("1."), "{version}");
}
