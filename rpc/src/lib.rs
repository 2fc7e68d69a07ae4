//! The DOCA-compatible gRPC key-exchange service and client (tonic, on its own tokio runtime).
//!
//! Placeholder: this crate holds no code yet. It is filled by issue 7 of
//! the project plan; nothing here pretends to work until then.
