//! Decap of arbitrary frames: never panics; what passes is authentic and
//! smaller than what came in. Keys derive from fixed master keys, and then
//! from the PSP reference tool's test keys (tests/reference/cfg/decrypt.cfg),
//! so the seed corpus (real PSP packets under either, the reference's 22
//! captures among them: `seeds/decap/ref-*`) reaches the decrypt and strip
//! paths.
#![no_main]

use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use libfuzzer_sys::fuzz_target;

/// The reference tool's master keys 0 and 1 (tests/reference/cfg/decrypt.cfg).
const REFERENCE_KEYS: [&str; 2] = [
    "34448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca",
    "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739",
];

fn reference_key(i: usize) -> MasterKey {
    let h = REFERENCE_KEYS[i].as_bytes();
    let bytes: Vec<u8> = h
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect();
    MasterKey::from_bytes(&bytes).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let fixed = MasterKeyPair::new(
        MasterKey::from_bytes(&[0x11; 32]).unwrap(),
        MasterKey::from_bytes(&[0x22; 32]).unwrap(),
    );
    let reference = MasterKeyPair::new(reference_key(0), reference_key(1));
    for masters in [&fixed, &reference] {
        let mut cache = KeyCache::new(4);
        let mut keys = CachedKeys { masters, cache: &mut cache };
        let mut buf = VecBuf::new(data);
        if decap(&mut buf, &mut keys, DecapOptions::default()).is_ok() {
            assert!(buf.data().len() + 16 <= data.len());
        }
    }
});
