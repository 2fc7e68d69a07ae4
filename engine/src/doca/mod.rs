//! The DOCA Flow backend (feature `doca`): the software pipeline's pipes,
//! entries and key slots offloaded to BlueField/ConnectX through DOCA Flow.
//!
//! - [`translate`]: sans-IO, no FFI: the pipes (`DocaPipeSpec`) and entries
//!   (`DocaEntry`) built from [`crate::pipeline::PipelineConfig`] and the
//!   flow programmer's [`crate::tables::TableOp`]s, key slot
//!   (`crypto_id`) assignment, encap data. Unit-tested without hardware.
//! - [`ir`]: the description those are made of (fields, values,
//!   forwards, action templates); [`keys`]: key-slot images and the
//!   `crypto_id` allocator.
//! - [`backend`]: [`DocaFlowBackend`], a [`crate::flows::FlowBackend`] that
//!   applies the translation with `doca_flow_*` calls. Its FFI code always
//!   type-checks against `doca-sys`, but runs only where `doca-sys` found
//!   the DOCA SDK; otherwise [`DocaFlowBackend::new`] returns
//!   [`DocaError::NoSdk`] before any DOCA call. Its FFI is in `hw.rs`,
//!   the pure structure builders in `hw_build.rs`.
//! - [`probe`]: whether the `-p` device is a DOCA device (a pure decision
//!   over the device list, which only an SDK build asks DOCA for), the
//!   input of `--backend`'s [`crate::config::select`].
//!
//! The only `unsafe` code of the engine besides `engine::dpdk`'s FFI
//! files is in `backend`'s `hw` module (with its children `hw_build.rs`
//! and `hw_dev.rs`) and `probe`'s `ffi` module: those two alone are
//! declared `#[allow(unsafe_code)]`, each block with its `SAFETY:` comment.

pub mod apply;
pub mod backend;
pub mod counters;
pub mod ir;
pub mod keys;
pub mod probe;
pub mod queues;
pub mod translate;

pub use backend::{DocaConfig, DocaError, DocaFlowBackend, DocaKeys};
pub use probe::{probe, Probe};
pub use translate::{
    DocaEntry, DocaPipeSpec, DocaPorts, KeyBits, PipeId, PspKeyCfg, Step, Translator,
};
