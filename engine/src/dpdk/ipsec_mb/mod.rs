//! A small safe wrapper over intel-ipsec-mb's AES-GCM direct API (Debian
//! `libipsec-mb-dev` 1.3; the library of DPDK's AES-GCM crypto PMDs,
//! called directly: the cryptodev queue pairs would add an enqueue and a
//! dequeue per burst), for sealing and opening packets in place
//! (feature `ipsec-mb`; the bindings are `dpdk_sys::ipsec_mb`).
//!
//! - [`GcmKey`]: an expanded AES-128 or AES-256 GCM key (round keys and
//!   GHASH powers), zeroized on drop.
//! - [`GcmKey::seal`] / [`GcmKey::open`]: one packet; [`Batch`] runs many
//!   packets, each with its own key, through one reused (and finally
//!   zeroized) GCM context.
//!
//! The library picks its code path (SSE, AVX, AVX2, AVX-512, VAES) from
//! the CPU once, the first time a key is made ([`arch`]). The unsafe code
//! is in `ffi.rs` alone (the bindings and the calls, each with its
//! `// SAFETY:` argument); everything else, and all it exports, is safe.

// The crate denies `unsafe_code`; the FFI module, and only it, allows it,
// as each FFI file of engine::dpdk does.
#[allow(unsafe_code)]
mod ffi;
mod gcm;

pub use ffi::{arch, Arch};
pub use gcm::{Batch, GcmKey, KeySize, TAG_LEN};

/// What can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key is neither 16 nor 32 bytes.
    #[error("AES-GCM key of {0} bytes (16 or 32)")]
    KeyLength(usize),
    /// The library could not set up its manager (allocation, or a CPU
    /// without the features it needs).
    #[error("intel-ipsec-mb manager: {0}")]
    Manager(&'static str),
    /// A buffer longer than this wrapper passes to the library.
    #[error("buffer of {0} bytes is too long")]
    TooLong(usize),
    /// The tag did not verify.
    #[error("AES-GCM tag check failed")]
    Auth,
}
