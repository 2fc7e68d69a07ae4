//! Raw FFI bindings to DPDK (bindgen over libdpdk plus a C shim for static inline functions).
//!
//! Placeholder: this crate holds no code yet. It is filled by issue 3 of
//! the project plan; nothing here pretends to work until then.
