//! AES-GCM and AES-GMAC over one PSP packet.
//!
//! Backed by aws-lc-rs, chosen by measurement on the target machine (VAES
//! and AVX-512 code paths; see the closing note of issue 2 and
//! `benches/psp.rs`). GMAC (versions 2 and 3) is GCM with an empty
//! plaintext: everything is additional authenticated data.

use super::kdf::DerivedKey;
use super::{Version, ICV_LEN};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use core::fmt;

/// Why a key could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key's length does not match the version (16 or 32 bytes).
    #[error("{version} needs a {expected}-byte key, got {got}")]
    KeyLength {
        /// The version asked for.
        version: Version,
        /// Its key length.
        expected: usize,
        /// The key given.
        got: usize,
    },
    /// The ICV did not verify.
    #[error("ICV check failed")]
    Auth,
}

/// An expanded key for one version, ready to seal or open packets.
pub struct AeadKey {
    key: LessSafeKey,
    version: Version,
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AeadKey({}, <redacted>)", self.version)
    }
}

impl AeadKey {
    /// Expands `key` for `version`.
    pub fn new(version: Version, key: &DerivedKey) -> Result<AeadKey, Error> {
        Self::from_raw(version, key.as_bytes())
    }

    /// Expands raw key bytes for `version`.
    pub fn from_raw(version: Version, key: &[u8]) -> Result<AeadKey, Error> {
        let alg = if version.key_len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
        if key.len() != version.key_len() {
            return Err(Error::KeyLength { version, expected: version.key_len(), got: key.len() });
        }
        let unbound = UnboundKey::new(alg, key).map_err(|_| Error::KeyLength {
            version,
            expected: version.key_len(),
            got: key.len(),
        })?;
        Ok(AeadKey { key: LessSafeKey::new(unbound), version })
    }

    /// The version this key serves.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Encrypts `in_out` in place (GCM) and returns the ICV over `aad` and
    /// the ciphertext. For GMAC versions callers pass everything as `aad`
    /// and an empty `in_out`.
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], in_out: &mut [u8]) -> [u8; ICV_LEN] {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
            // aws-lc fails only for inputs over 2^36 bytes, which no packet is.
            .expect("AES-GCM seal of a packet-sized input");
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(tag.as_ref());
        icv
    }

    /// Verifies and decrypts `ciphertext_and_icv` in place (the ICV is its
    /// last 16 bytes). On success the first `len - 16` bytes are plaintext.
    pub fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        ciphertext_and_icv: &mut [u8],
    ) -> Result<(), Error> {
        self.key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), ciphertext_and_icv)
            .map(|_| ())
            .map_err(|_| Error::Auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn gcm_spec_test_case_4() {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 4
        // (AES-128, 60-byte plaintext, 20-byte AAD, 96-bit IV).
        let key = AeadKey::from_raw(Version::AesGcm128, &hex("feffe9928665731c6d6a8f9467308308"))
            .unwrap();
        let nonce: [u8; 12] = hex("cafebabefacedbaddecaf888").try_into().unwrap();
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let mut pt = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let icv = key.seal(nonce, &aad, &mut pt);
        assert_eq!(
            pt,
            hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091")
        );
        assert_eq!(icv.to_vec(), hex("5bc94fbc3221a5db94fae95ae7121a47"));
        let mut ct_icv = pt.clone();
        ct_icv.extend_from_slice(&icv);
        key.open(nonce, &aad, &mut ct_icv).unwrap();
        assert_eq!(&ct_icv[..4], &hex("d9313225")[..]);
    }

    #[test]
    fn gmac_authenticates_without_encrypting() {
        let key = AeadKey::from_raw(Version::AesGmac256, &[3u8; 32]).unwrap();
        let data = b"all of this stays readable".to_vec();
        let icv = key.seal([1; 12], &data, &mut []);
        let mut t = icv;
        key.open([1; 12], &data, &mut t).unwrap();
        let mut tampered = data.clone();
        tampered[0] ^= 1;
        let mut t = icv;
        assert_eq!(key.open([1; 12], &tampered, &mut t), Err(Error::Auth));
    }

    #[test]
    fn key_length_checked() {
        assert!(matches!(
            AeadKey::from_raw(Version::AesGcm256, &[0; 16]),
            Err(Error::KeyLength { expected: 32, got: 16, .. })
        ));
        assert!(AeadKey::from_raw(Version::AesGmac128, &[0; 16]).is_ok());
    }
}
