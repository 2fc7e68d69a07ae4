//! Raw FFI bindings to the NVIDIA DOCA SDK (DOCA Flow), present only where the SDK is installed.
//!
//! Placeholder: this crate holds no code yet. It is filled by issue 6 of
//! the project plan; nothing here pretends to work until then.
