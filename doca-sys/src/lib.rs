//! Raw FFI bindings to the NVIDIA DOCA SDK: DOCA Flow (`doca_flow.h`), its
//! PSP crypto calls (`doca_flow_crypto.h`), devices (`doca_dev.h`) and
//! `doca_error_t`.
//!
//! Two builds, chosen by `build.rs`:
//!
//! - **SDK found** (`DOCA_DIR`, or pkg-config `doca-flow` and
//!   `doca-common`): bindgen over the SDK's own headers, `cfg(doca_sdk)`
//!   set, `libdoca_flow` and `libdoca_common` linked. [`SDK_PRESENT`] is
//!   true.
//! - **No SDK** (this project's CI): bindgen over `decl/doca_min.h`, a
//!   minimal declaration file this project wrote from DOCA's public API
//!   documentation (not NVIDIA's headers; only what `engine::doca` uses).
//!   Nothing is linked: the functions are declared so that callers
//!   type-check, and must never be called. [`SDK_PRESENT`] is false, and
//!   callers keep every call behind [`sdk_only!`].
//!
//! The NVIDIA headers are never vendored here.

// An FFI crate is nothing but unsafe code: the workspace denies
// `unsafe_code`, so this crate allows it. The other allows are for the
// shape of bindgen's generated code.
#![allow(unsafe_code)]
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(dead_code, improper_ctypes, unsafe_op_in_unsafe_fn)]
#![allow(clippy::all, clippy::undocumented_unsafe_blocks)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// Whether these bindings come from an installed DOCA SDK (and the DOCA
/// libraries are linked). When false, no DOCA function may be called.
pub const SDK_PRESENT: bool = cfg!(doca_sdk);

/// What bindgen read: how the SDK was found, or the declaration file.
pub const BINDINGS_FROM: &str = env!("DOCA_SYS_BINDINGS");

/// Keeps items only when the DOCA SDK is present (`cfg(doca_sdk)` of this
/// crate, which dependent crates cannot name in their own `#[cfg]`).
#[cfg(doca_sdk)]
#[macro_export]
macro_rules! sdk_only {
    ($($item:item)*) => { $($item)* };
}

/// Keeps items only when the DOCA SDK is present (`cfg(doca_sdk)` of this
/// crate, which dependent crates cannot name in their own `#[cfg]`).
#[cfg(not(doca_sdk))]
#[macro_export]
macro_rules! sdk_only {
    ($($item:item)*) => {};
}

/// Keeps items only when the DOCA SDK is absent.
#[cfg(doca_sdk)]
#[macro_export]
macro_rules! without_sdk {
    ($($item:item)*) => {};
}

/// Keeps items only when the DOCA SDK is absent.
#[cfg(not(doca_sdk))]
#[macro_export]
macro_rules! without_sdk {
    ($($item:item)*) => { $($item)* };
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_where_the_bindings_come_from() {
        assert_eq!(super::SDK_PRESENT, !super::BINDINGS_FROM.starts_with("decl/"));
        // The declarations the backend relies on exist either way.
        let _ = super::doca_flow_pipe_add_entry;
        let _ = super::doca_flow_entries_process;
        let _ = super::doca_flow_crypto_psp_spi_key_bulk_generate;
        assert_eq!(super::DOCA_SUCCESS, 0);
    }
}
