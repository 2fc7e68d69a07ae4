//! Raw FFI bindings to DPDK 22.11+: bindgen over the libdpdk headers (see
//! `wrapper.h` and the allowlists in `build.rs`) plus `pspgw_*` wrappers
//! from a C shim (`src/shim.c`) for DPDK's static inline functions and
//! per-lcore macros (`rte_eth_rx_burst`, `rte_pktmbuf_*`, `rte_errno`, ...).
//!
//! Everything here is `unsafe` and follows DPDK's own contracts; the safe
//! API lives in `engine::dpdk`. Building needs `libdpdk-dev` (found with
//! pkg-config) and libclang (for bindgen).

// An FFI crate is nothing but unsafe code: the workspace denies
// `unsafe_code`, so this crate, and only this crate, allows it. The other
// allows are for the shape of bindgen's generated code.
#![allow(unsafe_code)]
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(dead_code, improper_ctypes, unsafe_op_in_unsafe_fn)]
#![allow(clippy::all, clippy::undocumented_unsafe_blocks)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// intel-ipsec-mb's manager and AES-GCM direct API (feature `ipsec-mb`),
/// the library under DPDK's AES-GCM crypto PMDs.
#[cfg(feature = "ipsec-mb")]
pub mod ipsec_mb {
    include!(concat!(env!("OUT_DIR"), "/ipsec_mb_bindings.rs"));
}
