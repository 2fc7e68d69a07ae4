//! The PSP protocol core, bit-exact with the PSP Architecture Specification
//! (Google, rev 1.0) and its reference tools.
//!
//! Sans-IO: functions take bytes, keys, IVs and randomness and return
//! results; nothing here reads a clock, a socket or a global RNG.
//!
//! - [`header`]: the PSP header view and repr (with the virtualization cookie).
//! - [`kdf`]: master keys and the AES-256-CMAC key derivation.
//! - [`aead`]: AES-GCM / AES-GMAC sealing and opening of one packet.
//! - [`keygen`]: SPI/key generation for a receiver, bulks, master-key rotation.
//! - [`buf`]: the buffer trait encap/decap work on in place (an mbuf or a Vec).
//! - [`encap`] / [`decap`]: tunnel and transport mode, in place.
//! - [`cache`]: a bounded cache of expanded receive keys.

pub mod aead;
pub mod buf;
pub mod cache;
pub mod decap;
pub mod encap;
pub mod header;
pub mod kdf;
pub mod keygen;
mod types;

#[cfg(test)]
mod proptests;

pub use types::{Mode, Spi, Version};

/// The UDP destination port of PSP (the spec's constant).
pub const UDP_PORT: u16 = 1000;
/// Length of the PSP header without the virtualization cookie.
pub const HEADER_LEN: usize = 16;
/// Length of the optional virtualization cookie.
pub const VC_LEN: usize = 8;
/// Length of the ICV trailer.
pub const ICV_LEN: usize = 16;
/// Largest crypt offset (6 bits, in 4-byte units).
pub const MAX_CRYPT_OFFSET: u8 = 63;
