//! The one error type of the DPDK wrapper: every failed DPDK call becomes
//! an [`Error`] that names the function, its errno and DPDK's text for it.

use std::ffi::CStr;
use std::os::raw::c_int;

/// `ENODEV` (Linux), for checks that DPDK reports without an errno.
pub(crate) const ENODEV: i32 = 19;

/// `Result` with the DPDK wrapper's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a DPDK call or in the wrapper's own checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A DPDK function failed.
    #[error("{func} failed: {msg} (errno {errno})")]
    Call {
        /// The DPDK function.
        func: &'static str,
        /// Its errno (positive).
        errno: i32,
        /// `rte_strerror(errno)`.
        msg: String,
    },
    /// No ethdev port has this name.
    #[error(
        "no DPDK port named {name:?} (rte_eth_dev_get_port_by_name: {msg}, errno {errno}): \
         pass its device to the EAL (--vdev or a PCI address)"
    )]
    NoSuchPort {
        /// The name asked for.
        name: String,
        /// The errno DPDK returned.
        errno: i32,
        /// `rte_strerror(errno)`.
        msg: String,
    },
    /// `rte_eal_init` ran already in this process: the EAL can be
    /// initialised once per process, even after a cleanup.
    #[error("rte_eal_init: the EAL was already initialised in this process (once per process)")]
    EalAlreadyInitialized,
    /// Mempools or ports made under the EAL are still alive.
    #[error(
        "rte_eal_cleanup: {0} mempool(s)/port(s) still alive (or mbufs still out): drop them first"
    )]
    EalBusy(usize),
    /// A string for DPDK holds a NUL byte.
    #[error("{what} {value:?} contains a NUL byte")]
    Nul {
        /// What the string is (an EAL argument, a pool name, ...).
        what: &'static str,
        /// The string.
        value: String,
    },
    /// A null `rte_mbuf` pointer was handed over.
    #[error("null rte_mbuf pointer")]
    NullMbuf,
    /// A chained mbuf: the wrapper (and encap/decap) handle single-segment
    /// mbufs only.
    #[error("mbuf has {0} segments: only single-segment mbufs are supported")]
    MultiSegment(u16),
    /// Asked for more than the device or DPDK allows.
    #[error("port {port} ({driver}): {what} {asked} is outside 1..={max}")]
    Limit {
        /// Port id.
        port: u16,
        /// Driver name.
        driver: String,
        /// What was asked for (e.g. "rx queues").
        what: &'static str,
        /// The number asked for.
        asked: u64,
        /// The device's maximum.
        max: u64,
    },
    /// A queue that is not configured, or whose handle is already taken.
    #[error("port {port} {dir} queue {queue}: {why}")]
    Queue {
        /// Port id.
        port: u16,
        /// "rx" or "tx".
        dir: &'static str,
        /// Queue id.
        queue: u16,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A packet core could not be pinned to its CPU.
    #[error("cannot pin packet core to CPU {0} (is it in this process's affinity mask?)")]
    Pin(u32),
    /// The lcore plan does not fit: cores, queue sets and handlers differ.
    #[error("lcores: {0}")]
    Lcores(&'static str),
    /// The port already has a [`Port`](super::Port) handle in this process.
    #[error("port {0} already has a Port handle in this process")]
    PortInUse(u16),
}

impl Error {
    /// The error of `func` failing with `errno` (either sign: DPDK returns
    /// negative errnos from ethdev calls and sets positive `rte_errno`).
    pub fn from_errno(func: &'static str, errno: i32) -> Error {
        let errno = errno.saturating_abs();
        Error::Call { func, errno, msg: strerror(errno) }
    }

    /// The error of `func` from the calling thread's `rte_errno`.
    pub(crate) fn last(func: &'static str) -> Error {
        // SAFETY: reads the calling thread's per-lcore rte_errno variable
        // (thread-local storage, valid in any thread, before or after init).
        let errno = unsafe { dpdk_sys::pspgw_errno() };
        Error::from_errno(func, errno)
    }

    /// The errno of a failed DPDK call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Call { errno, .. } | Error::NoSuchPort { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// DPDK's text for `errno` (its own codes above `RTE_MAX_ERRNO` too).
pub fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any value and returns a NUL-terminated
    // string (a static one or the calling thread's per-lcore buffer), which
    // is copied out before anything else can overwrite it.
    unsafe {
        let p = dpdk_sys::rte_strerror(errno);
        if p.is_null() {
            return format!("error {errno}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Turns an ethdev-style return value (negative errno on failure) into a
/// `Result`.
pub(crate) fn check(func: &'static str, ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(Error::from_errno(func, ret))
    } else {
        Ok(ret)
    }
}
