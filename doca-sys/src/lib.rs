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
//! - **No SDK** (this project's CI): bindgen over `decl/doca_min.h`, our
//!   declarations of exactly what the DOCA 3.3 headers declare for the
//!   symbols `engine::doca` uses (each naming the header it mirrors; not
//!   NVIDIA's headers).
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

/// DOCA 3.x versions its Flow API (`doca_ctsd_flow.h`): C code writes
/// `struct doca_flow_match` and `doca_flow_init`, macros turn them into
/// `doca_flow_match_v1` and `doca_flow_init_v1`, and bindgen (which sees
/// through the macros) binds the `_v1` names. These give them back their
/// unversioned names, in both builds.
mod unversioned {
    pub use super::doca_flow_init_v1 as doca_flow_init;
    pub use super::doca_flow_pipe_basic_add_entry_v1 as doca_flow_pipe_basic_add_entry;
    pub use super::doca_flow_pipe_basic_update_entry_v1 as doca_flow_pipe_basic_update_entry;
    pub use super::doca_flow_pipe_cfg_set_actions_v1 as doca_flow_pipe_cfg_set_actions;
    pub use super::doca_flow_pipe_cfg_set_match_v1 as doca_flow_pipe_cfg_set_match;
    pub use super::doca_flow_pipe_cfg_set_monitor_v1 as doca_flow_pipe_cfg_set_monitor;
    pub use super::doca_flow_pipe_cfg_set_ordered_lists_v1 as doca_flow_pipe_cfg_set_ordered_lists;
    pub use super::doca_flow_pipe_control_add_entry_v1 as doca_flow_pipe_control_add_entry;
    pub use super::doca_flow_pipe_create_v1 as doca_flow_pipe_create;
    pub use super::doca_flow_pipe_hash_add_entry_v1 as doca_flow_pipe_hash_add_entry;
    pub use super::doca_flow_pipe_ordered_list_add_entry_v1 as doca_flow_pipe_ordered_list_add_entry;
    pub use super::doca_flow_port_shared_resource_set_cfg_v1 as doca_flow_port_shared_resource_set_cfg;
    pub use super::doca_flow_resource_query_entry_v1 as doca_flow_resource_query_entry;
    pub use super::doca_flow_resource_query_pipe_miss_v1 as doca_flow_resource_query_pipe_miss;

    pub type doca_flow_actions = super::doca_flow_actions_v1;
    pub type doca_flow_crypto = super::doca_flow_crypto_v1;
    pub type doca_flow_crypto_encap_action = super::doca_flow_crypto_encap_action_v1;
    pub type doca_flow_desc_field = super::doca_flow_desc_field_v1;
    pub type doca_flow_fwd = super::doca_flow_fwd_v1;
    pub type doca_flow_header_psp = super::doca_flow_header_psp_v1;
    pub type doca_flow_match = super::doca_flow_match_v1;
    pub type doca_flow_match_condition = super::doca_flow_match_condition_v1;
    pub type doca_flow_meta = super::doca_flow_meta_v1;
    pub type doca_flow_monitor = super::doca_flow_monitor_v1;
    pub type doca_flow_ordered_list = super::doca_flow_ordered_list_v1;
    pub type doca_flow_ordered_list_element = super::doca_flow_ordered_list_element_v1;
    pub type doca_flow_resource_query = super::doca_flow_resource_query_v1;
    pub type doca_flow_resource_rss_cfg = super::doca_flow_resource_rss_cfg_v1;
    pub type doca_flow_shared_resource_cfg = super::doca_flow_shared_resource_cfg_v1;
    pub type doca_flow_tun = super::doca_flow_tun_v1;
}
pub use unversioned::*;

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
        let _ = super::doca_flow_pipe_basic_add_entry;
        let _ = super::doca_flow_pipe_remove_entry;
        let _ = super::doca_flow_pipe_hash_add_entry;
        let _ = super::doca_flow_pipe_cfg_set_hash_map_algorithm;
        let _ = super::doca_flow_pipe_ordered_list_add_entry;
        let _ = super::doca_flow_pipe_cfg_set_ordered_lists;
        let _ = super::doca_flow_entries_process;
        let _ = super::doca_flow_crypto_psp_spi_key_bulk_generate;
        assert_eq!(super::DOCA_SUCCESS, 0);
    }

    /// Values the DOCA 3.3 headers give, which hold over the SDK's headers
    /// and over ours alike.
    #[test]
    fn values_of_the_3_3_headers() {
        use super::*;
        // doca_flow.h
        assert_eq!(DOCA_FLOW_ENTRY_FLAGS_NO_WAIT, 1);
        assert_eq!(DOCA_FLOW_ENTRY_FLAGS_WAIT_FOR_BATCH, 2);
        assert_eq!(DOCA_FLOW_SHARED_RESOURCE_PSP, 3);
        assert_eq!(DOCA_FLOW_RESOURCE_PSP, 3);
        assert_eq!(DOCA_FLOW_RESOURCE_MODE_PORT, 1);
        assert_eq!(DOCA_FLOW_PIPE_HASH, 6);
        assert_eq!(DOCA_FLOW_PIPE_DOMAIN_SECURE_EGRESS, 3);
        assert_eq!(DOCA_FLOW_FWD_HASH_PIPE, 7);
        assert_eq!(DOCA_FLOW_FWD_CHANGEABLE, 100);
        assert_eq!(DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_FLOODING, 1 << 4);
        assert_eq!(DOCA_FLOW_COMPARE_LT, 2);
        assert_eq!(DOCA_FLOW_ORDERED_LIST_ELEMENT_CRYPTO, 3);
        assert_eq!(DOCA_FLOW_PIPE_ORDERED_LIST, 5);
        assert_eq!(DOCA_FLOW_FWD_ORDERED_LIST_PIPE, 6);
        assert_eq!(DOCA_FLOW_L4_META_ESP, 4);
        assert_eq!(DOCA_FLOW_RSS_AUTO, 1 << 30);
        assert_eq!(DOCA_FLOW_PSP_DECRYPTION_ID, u32::MAX);
        // doca_flow_crypto.h
        assert_eq!(DOCA_FLOW_CRYPTO_HEADER_PSP_TUNNEL, 7);
        assert_eq!(DOCA_FLOW_CRYPTO_HEADER_PSP_OVER_IPV6, 9);
        assert_eq!(DOCA_FLOW_CRYPTO_KEY_256, 1);
        // doca_flow_net.h: DOCA_FLOW_CRYPTO_HEADER_LEN_MAX is 114 bytes.
        let a = doca_flow_crypto_encap_action::default();
        assert_eq!(a.encap_data.len(), 114);
        assert_eq!(DOCA_FLOW_TUN_PSP, 7);
        assert_eq!(DOCA_FLOW_PSP_DEFAULT_PORT, 1000);
        // doca_flow.h: the meta scratch pad, after pkt_meta.
        assert_eq!(doca_flow_meta::default().u32_.len(), 10);
    }
}
