//! AES-GCM and AES-GMAC over one PSP packet.
//!
//! Two implementations of AES-GCM, byte for byte the same:
//! - aws-lc-rs, chosen by measurement on the issue-2 machine (VAES and
//!   AVX-512 code paths; see `benches/psp.rs`);
//! - intel-ipsec-mb (feature `ipsec-mb`, on by default; crate
//!   `ipsec-mb`), whose per-call cost is lower: on a machine without
//!   AVX-512 it seals 64 B in well under half of aws-lc's time. Each packet
//!   core reuses one GCM context for all its packets (thread-local) instead
//!   of setting one up per call.
//!
//! Which one seals or opens a packet is a [`Policy`], per operation, key
//! size and payload size class, set once per process with [`set_policy`]
//! before keys are made (the gateway measures both at startup, see
//! `engine::aead_check`); without it, aws-lc everywhere. GMAC (versions 2
//! and 3) is GCM with an empty plaintext: everything is additional
//! authenticated data, and it always runs on aws-lc (its GHASH of long AAD
//! is what it was chosen for).

use super::kdf::DerivedKey;
use super::{Version, ICV_LEN};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use core::fmt;
use std::sync::OnceLock;

// intel-ipsec-mb's FFI wrapper lives with the DPDK wrapper (the library
// of DPDK's AES-GCM crypto PMDs), beside the crate's other FFI code.
#[cfg(feature = "ipsec-mb")]
use crate::dpdk::ipsec_mb;

#[cfg(all(test, feature = "ipsec-mb"))]
mod equivalence;

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
    /// The implementation asked for is not in this build or not usable on
    /// this CPU.
    #[error("AES-GCM implementation {0} unavailable")]
    Unavailable(Impl),
}

/// An AES-GCM implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Impl {
    /// aws-lc-rs, one call per packet.
    AwsLc,
    /// intel-ipsec-mb's direct API, one reused context per thread.
    IpsecMb,
}

impl Impl {
    /// Both, aws-lc first.
    pub const ALL: [Impl; 2] = [Impl::AwsLc, Impl::IpsecMb];

    /// Whether this build and CPU can run it.
    pub fn available(self) -> bool {
        match self {
            Impl::AwsLc => true,
            #[cfg(feature = "ipsec-mb")]
            Impl::IpsecMb => ipsec_mb::arch().is_ok(),
            #[cfg(not(feature = "ipsec-mb"))]
            Impl::IpsecMb => false,
        }
    }
}

/// intel-ipsec-mb's version and the code path it chose for this CPU
/// (`1.3.0, Avx2`), when this build has it and the CPU can run it.
pub fn ipsec_mb_version() -> Option<String> {
    #[cfg(feature = "ipsec-mb")]
    if let Ok((arch, version)) = ipsec_mb::arch() {
        return Some(format!("{version}, {arch:?}"));
    }
    None
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::AwsLc => "aws-lc",
            Impl::IpsecMb => "ipsec-mb",
        })
    }
}

/// Payload sizes that stand for the size classes of a [`Policy`]: a
/// payload under 256 bytes is in the first, under 1024 in the second,
/// the rest in the third.
pub const CLASS_SIZES: [usize; 3] = [64, 512, 1400];

fn class(len: usize) -> usize {
    if len < 256 {
        0
    } else if len < 1024 {
        1
    } else {
        2
    }
}

/// Which implementation runs a GCM operation: for seal and open, AES-128
/// and AES-256, and each size class of [`CLASS_SIZES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `[open][aes256][class]`.
    table: [[[Impl; 3]; 2]; 2],
}

impl Default for Policy {
    /// aws-lc everywhere.
    fn default() -> Self {
        Policy::fixed(Impl::AwsLc)
    }
}

impl Policy {
    /// One implementation for everything.
    pub const fn fixed(i: Impl) -> Policy {
        Policy { table: [[[i; 3]; 2]; 2] }
    }

    /// Sets the implementation of one operation, key length (16 or 32
    /// bytes) and size class (an index into [`CLASS_SIZES`]).
    pub fn set(&mut self, open: bool, key_len: usize, class: usize, i: Impl) {
        self.table[usize::from(open)][usize::from(key_len == 32)][class] = i;
    }

    /// The implementation of one operation, key length and payload length.
    pub fn get(&self, open: bool, key_len: usize, payload_len: usize) -> Impl {
        self.table[usize::from(open)][usize::from(key_len == 32)][class(payload_len)]
    }

    /// Whether any GCM operation of this key length uses `i`.
    #[cfg_attr(not(feature = "ipsec-mb"), allow(dead_code))] // aws-lc alone: always
    fn uses(&self, key_len: usize, i: Impl) -> bool {
        self.table.iter().any(|op| op[usize::from(key_len == 32)].contains(&i))
    }
}

impl fmt::Display for Policy {
    /// `seal/128: 64 B ipsec-mb, 512 B ipsec-mb, 1400 B aws-lc; open/128: ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (o, op) in ["seal", "open"].iter().enumerate() {
            for (k, bits) in [128, 256].iter().enumerate() {
                if o + k > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{op}/{bits}:")?;
                for (c, size) in CLASS_SIZES.iter().enumerate() {
                    let sep = if c == 0 { " " } else { ", " };
                    write!(f, "{sep}{size} B {}", self.table[o][k][c])?;
                }
            }
        }
        Ok(())
    }
}

static POLICY: OnceLock<Policy> = OnceLock::new();

/// Sets the process's policy, once, before keys are made (keys made
/// earlier hold what the policy of their time needed). Implementations
/// this build or CPU cannot run fall back to aws-lc. Returns the policy in
/// force when one was already set.
pub fn set_policy(p: Policy) -> Result<(), Policy> {
    let mut p = p;
    for op in &mut p.table {
        for row in op {
            for i in row {
                if !i.available() {
                    *i = Impl::AwsLc;
                }
            }
        }
    }
    POLICY.set(p).map_err(|_| *policy())
}

/// The process's policy ([`Policy::default`] if none was set).
pub fn policy() -> &'static Policy {
    POLICY.get_or_init(Policy::default)
}

#[cfg(feature = "ipsec-mb")]
thread_local! {
    /// The packet core's GCM context, set up once and reused for every
    /// packet (the library re-initialises it per call); zeroized when the
    /// thread ends.
    static GCM_CONTEXT: core::cell::RefCell<ipsec_mb::Batch> =
        core::cell::RefCell::new(ipsec_mb::Batch::new());
}

/// An expanded key for one version, ready to seal or open packets.
pub struct AeadKey {
    version: Version,
    /// `[open][class]`: the part of the policy this key's size needs.
    #[cfg_attr(not(feature = "ipsec-mb"), allow(dead_code))] // aws-lc alone: no choice
    choice: [[Impl; 3]; 2],
    /// Absent only when the policy never uses aws-lc for this key size.
    aws: Option<LessSafeKey>,
    #[cfg(feature = "ipsec-mb")]
    imb: Option<ipsec_mb::GcmKey>,
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AeadKey({}, <redacted>)", self.version)
    }
}

impl AeadKey {
    /// Expands `key` for `version`, for the implementations the process's
    /// [`policy`] uses.
    pub fn new(version: Version, key: &DerivedKey) -> Result<AeadKey, Error> {
        Self::from_raw(version, key.as_bytes())
    }

    /// Expands raw key bytes for `version` under the process's [`policy`].
    pub fn from_raw(version: Version, key: &[u8]) -> Result<AeadKey, Error> {
        Self::with_policy(version, key, policy())
    }

    /// Expands raw key bytes for `version` for one implementation alone
    /// (benches, tests, measurements). GMAC versions use aws-lc whatever
    /// `i` is.
    pub fn with_impl(version: Version, key: &[u8], i: Impl) -> Result<AeadKey, Error> {
        if !i.available() {
            return Err(Error::Unavailable(i));
        }
        Self::with_policy(version, key, &Policy::fixed(i))
    }

    fn with_policy(version: Version, key: &[u8], p: &Policy) -> Result<AeadKey, Error> {
        let len_err = Error::KeyLength { version, expected: version.key_len(), got: key.len() };
        if key.len() != version.key_len() {
            return Err(len_err);
        }
        let k = usize::from(key.len() == 32);
        let mut choice = [p.table[0][k], p.table[1][k]];
        #[cfg(feature = "ipsec-mb")]
        let imb = if !version.is_gmac() && p.uses(key.len(), Impl::IpsecMb) {
            // A CPU the library cannot serve (set_policy and with_impl have
            // checked) leaves this key on aws-lc.
            ipsec_mb::GcmKey::new(key).ok()
        } else {
            None
        };
        #[cfg(feature = "ipsec-mb")]
        let have_imb = imb.is_some();
        #[cfg(not(feature = "ipsec-mb"))]
        let have_imb = false;
        if !have_imb {
            choice = [[Impl::AwsLc; 3]; 2];
        }
        let aws = if choice.iter().flatten().any(|i| *i == Impl::AwsLc) {
            let alg = if key.len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
            Some(LessSafeKey::new(UnboundKey::new(alg, key).map_err(|_| len_err)?))
        } else {
            None
        };
        Ok(AeadKey {
            version,
            choice,
            aws,
            #[cfg(feature = "ipsec-mb")]
            imb,
        })
    }

    /// The version this key serves.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Encrypts `in_out` in place (GCM) and returns the ICV over `aad` and
    /// the ciphertext. For GMAC versions callers pass everything as `aad`
    /// and an empty `in_out`.
    #[inline]
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], in_out: &mut [u8]) -> [u8; ICV_LEN] {
        #[cfg(feature = "ipsec-mb")]
        if let (Impl::IpsecMb, Some(k)) = (self.choice[0][class(in_out.len())], &self.imb) {
            return GCM_CONTEXT.with(|c| c.borrow_mut().seal(k, &nonce, aad, in_out));
        }
        let tag = self
            .aws()
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
            // aws-lc fails only for inputs over 2^36 bytes, which no packet is.
            .expect("AES-GCM seal of a packet-sized input");
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(tag.as_ref());
        icv
    }

    /// Verifies and decrypts `ciphertext_and_icv` in place (the ICV is its
    /// last 16 bytes). On success the first `len - 16` bytes are plaintext;
    /// on failure they are zeroed (both implementations).
    #[inline]
    pub fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        ciphertext_and_icv: &mut [u8],
    ) -> Result<(), Error> {
        let Some(ct_len) = ciphertext_and_icv.len().checked_sub(ICV_LEN) else {
            return Err(Error::Auth);
        };
        #[cfg(feature = "ipsec-mb")]
        if let (Impl::IpsecMb, Some(k)) = (self.choice[1][class(ct_len)], &self.imb) {
            let (ct, icv) = ciphertext_and_icv.split_at_mut(ct_len);
            let icv: &[u8; ICV_LEN] = (&*icv).try_into().expect("16-byte ICV");
            return GCM_CONTEXT
                .with(|c| c.borrow_mut().open(k, &nonce, aad, ct, icv))
                .map_err(|_| Error::Auth);
        }
        let _ = ct_len;
        self.aws()
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), ciphertext_and_icv)
            .map(|_| ())
            .map_err(|_| Error::Auth)
    }

    fn aws(&self) -> &LessSafeKey {
        // with_policy keeps aws-lc's key whenever a choice names aws-lc,
        // and every choice names aws-lc when there is no ipsec-mb key.
        self.aws.as_ref().expect("aws-lc key present where the policy uses it")
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
