//! The psp-gateway engine.
//!
//! Everything in this crate that is public today is sans-IO: it takes bytes,
//! keys, IVs and randomness from the caller and touches no socket, clock, mbuf
//! or global RNG, so the same code runs in `psptool`, in tests on virtual time
//! and on the DPDK packet cores.
//!
//! - [`wire`]: zero-copy views of the Ethernet, IPv4, IPv6 and UDP headers.
//! - [`psp`]: the PSP protocol core (header, KDF, AEAD, encap/decap, keys).

pub mod psp;
pub mod wire;
