//! [`Burst`]: a fixed array of up to `N` owned mbufs (32 by default), the
//! unit that receive and transmit work on. It lives on the stack or in a
//! worker's state, so the fast path never allocates.

use super::mbuf::Mbuf;
use core::fmt;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use dpdk_sys::rte_mbuf;

/// The default burst size.
pub const BURST_SIZE: usize = 32;

/// Up to `N` owned mbufs, in order. Derefs to `[Mbuf]` for processing;
/// dropping or [`clear`](Self::clear)ing it frees what it holds.
pub struct Burst<const N: usize = BURST_SIZE> {
    /// `bufs[..len]` are initialised. `Mbuf` is a transparent non-null
    /// `rte_mbuf` pointer, so this is also a `struct rte_mbuf *[N]`.
    bufs: [MaybeUninit<Mbuf>; N],
    len: usize,
}

impl<const N: usize> Burst<N> {
    /// An empty burst.
    pub const fn new() -> Self {
        Burst { bufs: [const { MaybeUninit::uninit() }; N], len: 0 }
    }

    /// How many mbufs it can hold.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Free slots.
    pub const fn spare(&self) -> usize {
        N - self.len
    }

    /// Whether no slot is free.
    pub const fn is_full(&self) -> bool {
        self.len == N
    }

    /// Adds `m` at the end, or gives it back when the burst is full.
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == N {
            return Err(m);
        }
        self.bufs[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Takes the last mbuf out.
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot len was initialised and is now outside bufs[..len],
        // so it is read out exactly once.
        Some(unsafe { self.bufs[self.len].assume_init_read() })
    }

    /// Frees every mbuf (one `rte_pktmbuf_free_bulk` call).
    pub fn clear(&mut self) {
        let n = self.len;
        self.len = 0;
        if n > 0 {
            // SAFETY: bufs[..n] held n owned mbufs, which the burst no
            // longer counts (len is 0) and DPDK frees once.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.as_raw_mut(), n as u32) };
        }
    }

    /// Keeps the mbufs for which `keep` returns true, in order; frees the
    /// others.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut Mbuf) -> bool) {
        let n = self.len;
        // Panic safety: while compacting, len counts only the kept prefix;
        // a panic in keep leaks (does not double-free) the unvisited rest.
        self.len = 0;
        for i in 0..n {
            // SAFETY: slot i < n is initialised and not yet moved or freed.
            let mut m = unsafe { self.bufs[i].assume_init_read() };
            if keep(&mut m) {
                self.bufs[self.len].write(m);
                self.len += 1;
            }
        }
    }

    /// Hands each mbuf, in order, to `route`, which keeps it (returns it:
    /// it stays in the burst, compacted, in order) or takes it (moves it
    /// elsewhere or drops it, and returns `None`).
    pub fn route(&mut self, mut route: impl FnMut(Mbuf) -> Option<Mbuf>) {
        let n = self.len;
        // Panic safety as in retain: the unvisited rest leaks, nothing is
        // freed twice.
        self.len = 0;
        for i in 0..n {
            if i + 1 < n {
                // SAFETY: slot i + 1 < n is initialised and not yet moved.
                prefetch(unsafe { self.bufs[i + 1].assume_init_ref() }.mtod());
            }
            // SAFETY: slot i < n is initialised and not yet moved or freed.
            let m = unsafe { self.bufs[i].assume_init_read() };
            if let Some(m) = route(m) {
                self.bufs[self.len].write(m);
                self.len += 1;
            }
        }
    }

    /// The start of the pointer array.
    pub(crate) fn as_raw_mut(&mut self) -> *mut *mut rte_mbuf {
        self.bufs.as_mut_ptr().cast()
    }

    /// The first free slot, where DPDK may write `spare()` pointers.
    pub(crate) fn spare_ptr(&mut self) -> *mut *mut rte_mbuf {
        // SAFETY: len <= N, so this is in bounds or one past the end.
        unsafe { self.as_raw_mut().add(self.len) }
    }

    /// Sets the length after DPDK wrote mbufs into the spare slots.
    ///
    /// # Safety
    ///
    /// `len <= N`, and `bufs[..len]` hold owned, non-null, single-segment
    /// mbufs.
    pub(crate) unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= N);
        self.len = len;
    }

    /// Forgets the first `n` mbufs (handed over to DPDK) and moves the rest
    /// to the front.
    pub(crate) fn forget_front(&mut self, n: usize) {
        let n = n.min(self.len);
        let rest = self.len - n;
        // SAFETY: bufs[n..len] are initialised; ptr::copy handles the
        // overlap; the first n were handed over and are not dropped.
        unsafe {
            let p = self.bufs.as_mut_ptr();
            core::ptr::copy(p.add(n), p, rest);
        }
        self.len = rest;
    }
}

impl<const N: usize> Default for Burst<N> {
    fn default() -> Self {
        Burst::new()
    }
}

impl<const N: usize> Deref for Burst<N> {
    type Target = [Mbuf];
    fn deref(&self) -> &[Mbuf] {
        // SAFETY: bufs[..len] are initialised Mbufs.
        unsafe { core::slice::from_raw_parts(self.bufs.as_ptr().cast::<Mbuf>(), self.len) }
    }
}

impl<const N: usize> DerefMut for Burst<N> {
    fn deref_mut(&mut self) -> &mut [Mbuf] {
        // SAFETY: bufs[..len] are initialised Mbufs, borrowed exclusively.
        unsafe { core::slice::from_raw_parts_mut(self.bufs.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }
}

impl<const N: usize> Drop for Burst<N> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const N: usize> fmt::Debug for Burst<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Asks the CPU to bring the cache line at `p` in while the current packet
/// is processed: the next packet's headers, whose first touch otherwise
/// stalls the pipeline (about 12 ns per packet in the encap bench).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p.cast::<i8>(), core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
