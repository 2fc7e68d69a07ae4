//! Port and core configuration that does not need DPDK to be understood: which
//! ports (`-p`, `-r`), which cores (`-m`), when an idle packet core backs
//! off, and which flow backend runs (`--backend`). The packet-core loop that uses them is `dpdk::lcores`.

mod backend;
mod backoff;
mod cores;
mod ports;

pub use backend::{
    select, Backend, BackendFlag, BadBackendFlag, DocaReadiness, DocaUnavailable, Selection,
};
pub use backoff::{Backoff, BackoffStats, IdleAction};
pub use cores::CoreMask;
pub use ports::{PortSpec, PortsPlan};

/// Why a datapath setting is refused; each names the flag it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A bad `-m/--core-mask`.
    #[error("-m/--core-mask {value:?}: {why}")]
    CoreMask {
        /// What was given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A bad port specification.
    #[error("{flag} {value:?}: {why}")]
    Port {
        /// `-p/--pci-addr` or `-r/--repr`.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}
