//! End-to-end performance harnesses: tunnel setup rate and per-core throughput.
//!
//! Placeholder: this crate holds no code yet. It is filled by issue 4 of
//! the project plan; nothing here pretends to work until then.
