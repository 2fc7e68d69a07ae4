//! Decap of arbitrary frames: never panics; what passes is authentic and
//! smaller than what came in. Keys derive from fixed master keys, so the
//! seed corpus (real PSP packets under these keys) reaches the decrypt and
//! strip paths.
#![no_main]

use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let masters = MasterKeyPair::new(
        MasterKey::from_bytes(&[0x11; 32]).unwrap(),
        MasterKey::from_bytes(&[0x22; 32]).unwrap(),
    );
    let mut cache = KeyCache::new(4);
    let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
    let mut buf = VecBuf::new(data);
    if decap(&mut buf, &mut keys, DecapOptions::default()).is_ok() {
        assert!(buf.data().len() + 16 <= data.len());
    }
});
