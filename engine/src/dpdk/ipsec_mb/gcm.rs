//! Expanded GCM keys and in-place seal / open, per packet or over a batch.

use super::ffi::{self, sys, GcmFns};
use super::Error;
use core::fmt;
use zeroize::Zeroize;

/// Length of the tag this wrapper writes and checks.
pub const TAG_LEN: usize = 16;
/// The IV length of the direct API (the library appends the 32-bit
/// counter 1 itself).
const IV_LEN: usize = 12;
/// Longest buffer (AAD or data) passed to the library: far beyond any
/// packet, far below GCM's limit of 2^39 - 256 bits.
const MAX_LEN: usize = 1 << 30;

/// The AES key size of a [`GcmKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySize {
    /// AES-128.
    Aes128,
    /// AES-256.
    Aes256,
}

/// An expanded AES-GCM key: the round keys and the GHASH key powers the
/// library's code path needs, in a 64-byte aligned block that is zeroized
/// on drop.
pub struct GcmKey {
    data: Box<sys::gcm_key_data>,
    size: KeySize,
    fns: GcmFns,
}

impl fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcmKey({:?}, <redacted>)", self.size)
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        ffi::key_bytes(&mut self.data).zeroize();
    }
}

/// A GCM context (the running GHASH, counters, a partial keystream
/// block), zeroized on drop.
struct Context(sys::gcm_context_data);

impl Context {
    fn new() -> Context {
        Context(sys::gcm_context_data::default())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let c = &mut self.0;
        c.aad_hash.zeroize();
        c.aad_length.zeroize();
        c.in_length.zeroize();
        c.partial_block_enc_key.zeroize();
        c.orig_IV.zeroize();
        c.current_counter.zeroize();
        c.partial_block_length.zeroize();
    }
}

impl GcmKey {
    /// Expands a 16-byte (AES-128) or 32-byte (AES-256) key.
    pub fn new(key: &[u8]) -> Result<GcmKey, Error> {
        let t = ffi::table()?;
        let (size, fns) = match key.len() {
            16 => (KeySize::Aes128, t.aes128),
            32 => (KeySize::Aes256, t.aes256),
            n => return Err(Error::KeyLength(n)),
        };
        let mut data = Box::<sys::gcm_key_data>::default();
        ffi::expand(&fns, key, &mut data);
        Ok(GcmKey { data, size, fns })
    }

    /// The key size.
    pub fn size(&self) -> KeySize {
        self.size
    }

    /// Encrypts `in_out` in place and returns the tag over `aad` and the
    /// ciphertext. With an empty `in_out` it is GMAC over `aad`.
    pub fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], in_out: &mut [u8]) -> [u8; TAG_LEN] {
        let mut ctx = Context::new();
        let mut tag = [0u8; TAG_LEN];
        self.run(self.fns.enc, &mut ctx, iv, aad, in_out, &mut tag);
        tag
    }

    /// Checks `tag` over `aad` and `in_out` and decrypts `in_out` in
    /// place. On `Err(Auth)` the buffer is zeroed (as aws-lc does), so no
    /// unauthenticated plaintext is left behind.
    pub fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        let mut ctx = Context::new();
        self.open_with(&mut ctx, iv, aad, in_out, tag)
    }

    fn open_with(
        &self,
        ctx: &mut Context,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        let mut computed = [0u8; TAG_LEN];
        self.run(self.fns.dec, ctx, iv, aad, in_out, &mut computed);
        if tags_equal(&computed, tag) {
            Ok(())
        } else {
            in_out.fill(0);
            Err(Error::Auth)
        }
    }

    /// One call of an encrypt or decrypt entry point, in place.
    fn run(
        &self,
        f: ffi::EncDecFn,
        ctx: &mut Context,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8; TAG_LEN],
    ) {
        // Packets are far shorter; a longer buffer is a caller's bug.
        assert!(aad.len() <= MAX_LEN && in_out.len() <= MAX_LEN, "{}", Error::TooLong(MAX_LEN));
        ffi::crypt(f, &self.data, &mut ctx.0, iv, aad, in_out, tag);
    }
}

/// Constant-time tag comparison.
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// Seals or opens many packets through one GCM context, which is wiped
/// once when the batch is dropped instead of once per packet.
pub struct Batch {
    ctx: Context,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Batch")
    }
}

impl Batch {
    /// A batch with a fresh context.
    pub fn new() -> Batch {
        Batch { ctx: Context::new() }
    }

    /// As [`GcmKey::seal`].
    #[inline]
    pub fn seal(
        &mut self,
        key: &GcmKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let mut tag = [0u8; TAG_LEN];
        key.run(key.fns.enc, &mut self.ctx, iv, aad, in_out, &mut tag);
        tag
    }

    /// As [`GcmKey::open`].
    #[inline]
    pub fn open(
        &mut self,
        key: &GcmKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        key.open_with(&mut self.ctx, iv, aad, in_out, tag)
    }
}

#[cfg(test)]
mod tests;
