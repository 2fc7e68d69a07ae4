//! Encap of arbitrary frames under fuzzer-chosen settings either fails
//! cleanly or decaps back to the same frame.
#![no_main]

use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::encap::{EncapConfig, Encapsulator, OuterIp};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use engine::psp::{Mode, Spi, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, u8, u32, u64, &[u8])| {
    let (flags, co, spi, iv, frame) = input;
    let version = Version::ALL[usize::from(flags & 3)];
    let masters = MasterKeyPair::new(
        MasterKey::from_bytes(&[0x11; 32]).unwrap(),
        MasterKey::from_bytes(&[0x22; 32]).unwrap(),
    );
    let cfg = EncapConfig {
        mode: if flags & 4 == 0 { Mode::Tunnel } else { Mode::Transport },
        version,
        spi: Spi(spi),
        crypt_offset: co % 64,
        vc: (flags & 8 != 0).then_some(iv.rotate_left(7)),
        eth: None,
        outer: if flags & 16 == 0 {
            OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() }
        } else {
            OuterIp::V4 { src: "10.0.0.1".parse().unwrap(), dst: "10.0.0.2".parse().unwrap() }
        },
        ttl: 64,
    };
    let enc = Encapsulator::new(cfg, &masters.derive(Spi(spi), version)).unwrap();
    let mut buf = VecBuf::new(frame);
    if enc.encap(&mut buf, iv, flags & 32 != 0).is_err() {
        return;
    }
    // Encap trims Ethernet padding; compare against the trimmed frame.
    let encapped_len = buf.data().len();
    let mut cache = KeyCache::new(2);
    let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
    let info = decap(&mut buf, &mut keys, DecapOptions::default()).expect("own packet decaps");
    assert_eq!(info.spi, Spi(spi));
    let (got, want) = (buf.data(), &frame[..buf.data().len()]);
    if info.mode == Mode::Transport && got.get(12..14) == Some(&[0x08, 0x00]) {
        // Transport mode rewrites the IPv4 header and recomputes its
        // checksum: everything but the checksum must match.
        assert_eq!(&got[..24], &want[..24]);
        assert_eq!(&got[26..], &want[26..]);
    } else {
        assert_eq!(got, want);
    }
    assert!(buf.data().len() < encapped_len);
});
