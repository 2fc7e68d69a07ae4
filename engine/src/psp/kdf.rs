//! Master keys and the PSP key derivation function.
//!
//! Per the PSP Architecture Specification (and its reference tool
//! `psp_encrypt.c`): the key for an SPI is AES-256-CMAC under the master key
//! that SPI bit 31 selects, over one 16-byte block per 128 bits of key:
//!
//! ```text
//! counter (4, BE: 1, then 2) | 'P' 'v' | '0' (128-bit) or '1' (256-bit) | 0x00
//! | SPI (4, BE) | 0x0000 | L (2, BE: 128 or 256)
//! ```
//!
//! Each block is a single complete CMAC block, so CMAC reduces to
//! `AES_K(M xor K1)` with the subkey `K1` computed once per master key: one
//! AES block encryption per 128 bits of derived key.

use super::{Spi, Version};
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes256;
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of a PSP master key (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A key of the wrong length.
    #[error("key must be {expected} bytes, got {got}")]
    BadLength {
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// A 256-bit PSP master key; wiped on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl MasterKey {
    /// From raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, Error> {
        let arr: [u8; MASTER_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::BadLength { expected: MASTER_KEY_LEN, got: bytes.len() })?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    /// A fresh key from the caller's cryptographic RNG.
    pub fn random<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> MasterKey {
        let mut k = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rng.fill_bytes(&mut k[..]);
        MasterKey(k)
    }

    /// The key bytes. Only for `--debug-keys` output and for tests.
    pub fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// A derived (or received) PSP encryption key of 16 or 32 bytes; wiped on
/// drop, redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DerivedKey {
    bytes: [u8; 32],
    len: u8,
}

impl DerivedKey {
    /// From raw bytes (16 or 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<DerivedKey, Error> {
        if bytes.len() != 16 && bytes.len() != 32 {
            return Err(Error::BadLength { expected: 32, got: bytes.len() });
        }
        let mut k = DerivedKey { bytes: [0; 32], len: bytes.len() as u8 };
        k.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(k)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true; present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A key check value: the first 8 bytes of AES under this key of an
    /// all-ones block (the banking KCV, on a block GCM never encrypts
    /// under this key for a PSP packet: its counter blocks end in a 32-bit
    /// block counter that never reaches 2^32 - 1, and its GHASH key is
    /// the zero block's).
    /// Tells two keys apart without keeping or comparing them.
    pub fn check_value(&self) -> u64 {
        let mut block = GenericArray::from([0xffu8; 16]);
        match self.len {
            16 => aes::Aes128::new(GenericArray::from_slice(self.as_bytes()))
                .encrypt_block(&mut block),
            _ => Aes256::new(GenericArray::from_slice(self.as_bytes())).encrypt_block(&mut block),
        }
        let mut out = [0u8; 8];
        out.copy_from_slice(&block[..8]);
        u64::from_be_bytes(out)
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivedKey({} bits, <redacted>)", self.len() * 8)
    }
}

/// The KDF state for one master key: the expanded AES-256 key schedule and
/// the CMAC subkey K1. The schedule is wiped on drop (aes `zeroize`).
#[derive(Clone)]
pub struct Kdf {
    aes: Aes256,
    k1: Zeroizing<[u8; 16]>,
}

impl fmt::Debug for Kdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kdf(<redacted>)")
    }
}

impl Kdf {
    /// Expands a master key.
    pub fn new(master: &MasterKey) -> Kdf {
        let aes = Aes256::new(GenericArray::from_slice(&master.0[..]));
        // CMAC subkey: L = AES_K(0^128); K1 = L << 1, xor 0x87 if msb(L).
        let mut l = GenericArray::from([0u8; 16]);
        aes.encrypt_block(&mut l);
        let mut k1 = Zeroizing::new([0u8; 16]);
        let mut carry = 0u8;
        for i in (0..16).rev() {
            k1[i] = (l[i] << 1) | carry;
            carry = l[i] >> 7;
        }
        if carry != 0 {
            k1[15] ^= 0x87;
        }
        l.zeroize();
        Kdf { aes, k1 }
    }

    /// The CMAC of one complete 16-byte block: `AES_K(m xor K1)`.
    #[cfg(test)]
    fn cmac_block(&self, m: &[u8; 16]) -> [u8; 16] {
        let mut b = GenericArray::from(*m);
        for (x, k) in b.iter_mut().zip(self.k1.iter()) {
            *x ^= k;
        }
        self.aes.encrypt_block(&mut b);
        b.into()
    }

    /// Derives the key for `spi` and `version` (its key length picks the
    /// label and L). The caller has already picked this master key by the
    /// SPI's bit 31; see [`MasterKeyPair::derive`].
    pub fn derive(&self, spi: Spi, version: Version) -> DerivedKey {
        let wide = version.key_len() == 32;
        let (label, l_bits): (u8, u16) = if wide { (b'1', 256) } else { (b'0', 128) };
        let mut blocks = [GenericArray::from([0u8; 16]); 2];
        for (i, blk) in blocks.iter_mut().enumerate() {
            blk[3] = i as u8 + 1;
            blk[4] = b'P';
            blk[5] = b'v';
            blk[6] = label;
            blk[8..12].copy_from_slice(&spi.0.to_be_bytes());
            blk[14..16].copy_from_slice(&l_bits.to_be_bytes());
            for (x, k) in blk.iter_mut().zip(self.k1.iter()) {
                *x ^= k;
            }
        }
        let n = if wide { 2 } else { 1 };
        // Both blocks in one call lets AES-NI pipeline them.
        self.aes.encrypt_blocks(&mut blocks[..n]);
        let mut out = DerivedKey { bytes: [0; 32], len: (n * 16) as u8 };
        out.bytes[..16].copy_from_slice(&blocks[0]);
        if wide {
            out.bytes[16..].copy_from_slice(&blocks[1]);
        }
        for b in blocks.iter_mut() {
            b.zeroize();
        }
        out
    }
}

/// A receiver's two master keys; SPI bit 31 selects which one derives.
#[derive(Clone)]
pub struct MasterKeyPair {
    masters: [MasterKey; 2],
    kdf: [Kdf; 2],
    /// Bumped each time a slot's key is replaced, so caches of expanded
    /// keys can tell a stale entry from a live one.
    generation: [u64; 2],
}

impl fmt::Debug for MasterKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKeyPair(<redacted>)")
    }
}

impl MasterKeyPair {
    /// From master keys 0 and 1.
    pub fn new(key0: MasterKey, key1: MasterKey) -> MasterKeyPair {
        let kdf = [Kdf::new(&key0), Kdf::new(&key1)];
        MasterKeyPair { masters: [key0, key1], kdf, generation: [0, 0] }
    }

    /// How many times the key of `slot` has been replaced.
    pub fn generation(&self, slot: usize) -> u64 {
        self.generation[slot & 1]
    }

    /// Derives the key of `spi` for `version`.
    pub fn derive(&self, spi: Spi, version: Version) -> DerivedKey {
        self.kdf[spi.key_slot()].derive(spi, version)
    }

    /// Master key of a slot (0 or 1).
    pub fn master(&self, slot: usize) -> &MasterKey {
        &self.masters[slot & 1]
    }

    /// Replaces the key of one slot (rotation).
    pub fn replace(&mut self, slot: usize, key: MasterKey) {
        let slot = slot & 1;
        self.kdf[slot] = Kdf::new(&key);
        self.masters[slot] = key;
        self.generation[slot] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cmac::{Cmac, Mac};

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn key_check_values_match_openssl() {
        // printf '\xff%.0s' $(seq 16) | openssl enc -aes-128-ecb -nopad -K 000102..0f
        let k128: Vec<u8> = (0u8..16).collect();
        let k256: Vec<u8> = (0u8..32).collect();
        let k = |b: &[u8]| DerivedKey::from_bytes(b).unwrap();
        assert_eq!(k(&k128).check_value(), 0x3c44_1f32_ce07_8223);
        assert_eq!(k(&k256).check_value(), 0xe999_e41d_4ca7_70da);
        let mut other = k128.clone();
        other[15] ^= 1;
        assert_ne!(k(&other).check_value(), k(&k128).check_value());
    }

    #[test]
    fn cmac_matches_nist_sp800_38b_aes256_example() {
        // NIST SP 800-38B, D.3 (AES-256), Example 2: Mlen = 128.
        let k = MasterKey::from_bytes(&hex(
            "603deb10 15ca71be 2b73aef0 857d7781 1f352c07 3b6108d7 2d9810a3 0914dff4",
        ))
        .unwrap();
        let m: [u8; 16] = hex("6bc1bee2 2e409f96 e93d7e11 7393172a").try_into().unwrap();
        assert_eq!(
            Kdf::new(&k).cmac_block(&m).to_vec(),
            hex("28a7023f 452e8f82 bd4bf28d 8c37c35c")
        );
    }

    #[test]
    fn cmac_matches_rustcrypto_cmac_on_random_blocks() {
        let mut seed = 0x1234_5678_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        };
        for _ in 0..64 {
            let key: Vec<u8> = (0..32).map(|_| next()).collect();
            let m: [u8; 16] = core::array::from_fn(|_| next());
            let mut mac = <Cmac<aes::Aes256> as Mac>::new_from_slice(&key).unwrap();
            mac.update(&m);
            let want = mac.finalize().into_bytes();
            let kdf = Kdf::new(&MasterKey::from_bytes(&key).unwrap());
            assert_eq!(kdf.cmac_block(&m)[..], want[..]);
        }
    }

    /// Master keys of the PSP reference tool's configuration files
    /// (google/psp `cfg/*.cfg`).
    fn reference_pair() -> MasterKeyPair {
        MasterKeyPair::new(
            MasterKey::from_bytes(&hex(
                "34448a0642 92601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca",
            ))
            .unwrap(),
            MasterKey::from_bytes(&hex(
                "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739",
            ))
            .unwrap(),
        )
    }

    /// Known-answer vectors computed independently with OpenSSL's CMAC
    /// (Python `cryptography`), over the block layout of the spec.
    #[test]
    fn derive_known_answers() {
        let pair = reference_pair();
        for (spi, version, want) in KNOWN_ANSWERS {
            let got = pair.derive(Spi(*spi), *version);
            assert_eq!(hex::encode(got.as_bytes()), *want, "spi {spi:#x} {version}");
        }
    }

    pub(crate) const KNOWN_ANSWERS: &[(u32, Version, &str)] = &include!("kdf_vectors.in");

    #[test]
    fn derive_matches_generic_cmac() {
        let pair = reference_pair();
        for spi in [0u32, 1, 0x1234_5678, 0x8000_0000, 0x9a34_5678, 0xffff_ffff] {
            for version in Version::ALL {
                let wide = version.key_len() == 32;
                let mut want = Vec::new();
                for ctr in 1..=if wide { 2u8 } else { 1 } {
                    let mut blk = [0u8; 16];
                    blk[3] = ctr;
                    blk[4..7].copy_from_slice(if wide { b"Pv1" } else { b"Pv0" });
                    blk[8..12].copy_from_slice(&spi.to_be_bytes());
                    blk[14..16].copy_from_slice(&(if wide { 256u16 } else { 128 }).to_be_bytes());
                    let mk = pair.master((spi >> 31) as usize).expose();
                    let mut mac = <Cmac<aes::Aes256> as Mac>::new_from_slice(mk).unwrap();
                    mac.update(&blk);
                    want.extend_from_slice(&mac.finalize().into_bytes());
                }
                assert_eq!(pair.derive(Spi(spi), version).as_bytes(), &want[..]);
            }
        }
    }

    #[test]
    fn key_lengths_and_redaction() {
        assert!(MasterKey::from_bytes(&[0; 31]).is_err());
        assert!(DerivedKey::from_bytes(&[0; 24]).is_err());
        let k = MasterKey::from_bytes(&[7; 32]).unwrap();
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
        let d = DerivedKey::from_bytes(&[9; 16]).unwrap();
        assert!(!format!("{d:?}").contains('9'));
        assert_eq!(d.len(), 16);
    }

    #[test]
    fn replace_changes_only_one_slot() {
        let mut pair = reference_pair();
        let before0 = pair.derive(Spi(5), Version::AesGcm256);
        let before1 = pair.derive(Spi(0x8000_0005), Version::AesGcm256);
        pair.replace(1, MasterKey::from_bytes(&[1; 32]).unwrap());
        assert_eq!(pair.derive(Spi(5), Version::AesGcm256).as_bytes(), before0.as_bytes());
        assert_ne!(
            pair.derive(Spi(0x8000_0005), Version::AesGcm256).as_bytes(),
            before1.as_bytes()
        );
    }
}
