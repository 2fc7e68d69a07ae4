//! [`Mempool`]: an owning handle of a DPDK packet-mbuf pool.

use super::burst::Burst;
use super::eal::{self, Eal};
use super::error::{Error, Result};
use super::mbuf::Mbuf;
use core::fmt;
use core::ptr::NonNull;
use dpdk_sys::rte_mempool;
use std::ffi::CString;
use std::sync::Arc;

/// A pool of packet mbufs (`rte_pktmbuf_pool_create`). Cloning shares the
/// pool; the last clone frees it (`rte_mempool_free`), unless mbufs are
/// still out, in which case the pool is leaked rather than freed under
/// them (and the EAL then stays up; see [`Eal::cleanup`]). Ports keep a
/// clone of the pool their receive queues draw from.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<Pool>,
}

struct Pool {
    ptr: NonNull<rte_mempool>,
    name: String,
}

// SAFETY: an rte_mempool may be used from any thread: the default
// "ring_mp_mc" ops are multi-producer/multi-consumer safe, per-lcore caches
// are indexed by the calling lcore, and non-EAL threads bypass the cache.
// The pointer is freed only in Drop, when no clone is left.
unsafe impl Send for Pool {}
// SAFETY: as above; every operation through &Pool is thread-safe in DPDK.
unsafe impl Sync for Pool {}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: ptr is a live mempool owned by this Pool; reading its
        // counters is thread-safe.
        let in_use = unsafe { dpdk_sys::rte_mempool_in_use_count(self.ptr.as_ptr()) };
        if in_use == 0 {
            // SAFETY: the last owner frees the pool once; no mbuf of it is
            // out, so nothing points into it any more.
            unsafe { dpdk_sys::rte_mempool_free(self.ptr.as_ptr()) };
            eal::live_dec();
        }
        // Otherwise leaked on purpose: mbufs still point into it.
    }
}

impl Mempool {
    /// Data room of DPDK's default mbuf: 2048 bytes plus the 128-byte
    /// headroom (`RTE_MBUF_DEFAULT_BUF_SIZE`).
    pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;
    /// Headroom of a fresh mbuf (`RTE_PKTMBUF_HEADROOM`).
    pub const HEADROOM: u16 = dpdk_sys::RTE_PKTMBUF_HEADROOM as u16;

    /// Creates a pool named `name` of `n` mbufs (best `2^k - 1`), with a
    /// per-lcore cache of `cache` mbufs and `data_room` bytes of buffer per
    /// mbuf (headroom included), on the calling lcore's NUMA socket.
    pub fn new(_eal: &Eal, name: &str, n: u32, cache: u32, data_room: u16) -> Result<Mempool> {
        let cname = CString::new(name)
            .map_err(|_| Error::Nul { what: "mempool name", value: name.into() })?;
        // SAFETY: the EAL is initialised (_eal exists); cname is a valid
        // string that DPDK copies; the other arguments are plain values
        // that DPDK checks itself (setting rte_errno).
        let ptr = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                data_room,
                dpdk_sys::rte_socket_id() as i32,
            )
        };
        let ptr = NonNull::new(ptr).ok_or_else(|| Error::last("rte_pktmbuf_pool_create"))?;
        eal::live_inc();
        Ok(Mempool { inner: Arc::new(Pool { ptr, name: name.to_owned() }) })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Number of mbufs in the pool (free or not).
    pub fn size(&self) -> u32 {
        // SAFETY: ptr is a live mempool; `size` is set at creation and
        // never written again.
        unsafe { (*self.as_ptr()).size }
    }

    /// Free mbufs, per-lcore caches included.
    pub fn avail_count(&self) -> u32 {
        // SAFETY: ptr is a live mempool; the count is read thread-safely.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.as_ptr()) }
    }

    /// Mbufs out of the pool (in use by the application or in port queues).
    pub fn in_use_count(&self) -> u32 {
        // SAFETY: ptr is a live mempool; the count is read thread-safely.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.as_ptr()) }
    }

    /// An empty mbuf (headroom [`Self::HEADROOM`], no data), or `None` when
    /// the pool is exhausted.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: ptr is a live packet-mbuf pool; the shim returns a fresh,
        // reset, single-segment mbuf owned by the caller, or null.
        let m = unsafe { dpdk_sys::pspgw_pktmbuf_alloc(self.as_ptr()) };
        NonNull::new(m).map(Mbuf::from_non_null)
    }

    /// Fills `burst` up to `n` mbufs (at most its free space) with fresh
    /// mbufs, all or none: returns false, leaving `burst` as it was, when
    /// the pool has not enough.
    pub fn alloc_bulk<const N: usize>(&self, burst: &mut Burst<N>, n: usize) -> bool {
        let n = n.min(burst.spare());
        if n == 0 {
            return true;
        }
        // SAFETY: the burst's spare slots hold room for n >= 1 pointers
        // (n <= spare <= N fits u32); on success DPDK writes n fresh
        // single-segment mbufs there, which set_len then hands to the burst.
        unsafe {
            let ok =
                dpdk_sys::pspgw_pktmbuf_alloc_bulk(self.as_ptr(), burst.spare_ptr(), n as u32) == 0;
            if ok {
                burst.set_len(burst.len() + n);
            }
            ok
        }
    }

    /// The raw pool, for queue setup.
    pub fn as_ptr(&self) -> *mut rte_mempool {
        self.inner.ptr.as_ptr()
    }
}

impl fmt::Debug for Mempool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mempool")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("avail", &self.avail_count())
            .finish()
    }
}
