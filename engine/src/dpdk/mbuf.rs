//! [`Mbuf`]: an owning handle of one single-segment `rte_mbuf`, and the
//! [`PacketBuf`] implementation that lets encap/decap work on it in place.
//!
//! Only single-segment mbufs are supported: [`Mbuf::from_raw`] refuses
//! chains and receive bursts drop them (see `RxQueue::rx_burst`). Ports are
//! configured without scattered receive, so PMDs hand out chains only for
//! frames larger than the pool's data room.

use super::error::{Error, Result};
use crate::psp::buf::{self, PacketBuf};
use core::fmt;
use core::ptr::NonNull;
use dpdk_sys::rte_mbuf;

/// One packet in a DPDK mbuf, owned: dropping it frees it to its pool.
///
/// `#[repr(transparent)]` over the mbuf pointer, so arrays of `Mbuf` are
/// arrays of `struct rte_mbuf *` for the burst functions.
#[repr(transparent)]
pub struct Mbuf(NonNull<rte_mbuf>);

// SAFETY: an Mbuf owns its mbuf exclusively (single segment, not shared),
// and DPDK mbufs may be used and freed from any thread (mempool ops are
// multi-producer/multi-consumer safe).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a fresh mbuf from DPDK (alloc or rx).
    pub(crate) fn from_non_null(m: NonNull<rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Takes ownership of `m`. A null pointer is refused; a chain of more
    /// than one segment is freed (all its segments) and refused with
    /// [`Error::MultiSegment`].
    ///
    /// # Safety
    ///
    /// `m` is null or a valid packet mbuf that the caller owns and hands
    /// over: nothing else uses or frees it afterwards, and its data is not
    /// shared with another mbuf (not an indirect mbuf, reference count 1).
    pub unsafe fn from_raw(m: *mut rte_mbuf) -> Result<Mbuf> {
        let m = NonNull::new(m).ok_or(Error::NullMbuf)?;
        // SAFETY: m is a valid mbuf (caller's contract).
        let segs = unsafe { dpdk_sys::pspgw_pktmbuf_nb_segs(m.as_ptr()) };
        if segs != 1 {
            // SAFETY: the caller handed the chain over; it is freed once.
            unsafe { dpdk_sys::pspgw_pktmbuf_free(m.as_ptr()) };
            return Err(Error::MultiSegment(segs));
        }
        Ok(Mbuf(m))
    }

    /// Gives up ownership: the caller frees the mbuf or hands it to DPDK.
    pub fn into_raw(self) -> *mut rte_mbuf {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// The raw mbuf, still owned by `self`.
    pub fn as_ptr(&self) -> *const rte_mbuf {
        self.0.as_ptr()
    }

    /// The raw mbuf, writable, still owned by `self`.
    pub fn as_mut_ptr(&mut self) -> *mut rte_mbuf {
        self.0.as_ptr()
    }

    /// Length of the packet (`data_len`, which is `pkt_len` for one segment).
    pub fn len(&self) -> usize {
        // Read in Rust rather than through the shim: the fast path reads it
        // several times per packet and a call across the C boundary is not
        // inlined.
        // SAFETY: self owns a valid mbuf; data_len is a plain field of it.
        usize::from(unsafe { (*self.as_ptr()).data_len })
    }

    /// `rte_pktmbuf_mtod`: the start of the data (`buf_addr + data_off`).
    pub(crate) fn mtod(&self) -> *mut u8 {
        // SAFETY: self owns a valid mbuf whose data starts data_off bytes
        // into its buffer (DPDK's invariant, kept by every shim call).
        unsafe {
            let m = self.as_ptr();
            (*m).buf_addr.cast::<u8>().add(usize::from((*m).data_off))
        }
    }

    /// Moves the start of the data by `off` bytes and changes its length
    /// by `len` bytes, as DPDK's `rte_pktmbuf_{prepend,append,adj,trim}`
    /// do to a single-segment mbuf (`data_off`, `data_len` and `pkt_len`).
    /// The callers have checked the room: the result stays inside the
    /// buffer, so every field stays in range.
    fn resize(&mut self, off: isize, len: isize) {
        // SAFETY: self owns a valid single-segment mbuf (exclusively:
        // &mut self); these are plain fields of it, and the caller keeps
        // data_off + data_len within buf_len (checked room), so the
        // conversions below cannot wrap.
        unsafe {
            let m = self.as_mut_ptr();
            (*m).data_off = ((*m).data_off as isize + off) as u16;
            (*m).data_len = ((*m).data_len as isize + len) as u16;
            (*m).pkt_len = ((*m).pkt_len as isize + len) as u32;
        }
    }

    /// Whether the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `bytes` at the end of the data (e.g. to fill a fresh mbuf).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), buf::Error> {
        let at = self.len();
        self.append(bytes.len())?;
        self.data_mut()[at..].copy_from_slice(bytes);
        Ok(())
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf, which is freed exactly once here.
        unsafe { dpdk_sys::pspgw_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("ptr", &self.0)
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .finish()
    }
}

impl PacketBuf for Mbuf {
    fn data(&self) -> &[u8] {
        // SAFETY: a single-segment mbuf's data is data_len initialised
        // bytes at mtod inside its buffer, owned by self and borrowed
        // shared for the slice's lifetime.
        unsafe { core::slice::from_raw_parts(self.mtod(), self.len()) }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as in data(); the buffer is not shared (single owner,
        // direct mbuf), and &mut self makes the borrow exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.mtod(), len) }
    }

    fn headroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf: rte_pktmbuf_headroom is data_off.
        usize::from(unsafe { (*self.as_ptr()).data_off })
    }

    fn tailroom(&self) -> usize {
        // SAFETY: self owns a valid mbuf; these are plain fields of it.
        let (buf_len, off, len) = unsafe {
            let m = self.as_ptr();
            ((*m).buf_len, (*m).data_off, (*m).data_len)
        };
        // rte_pktmbuf_tailroom: what is left of the buffer after the data.
        usize::from(buf_len).saturating_sub(usize::from(off) + usize::from(len))
    }

    fn prepend(&mut self, n: usize) -> Result<(), buf::Error> {
        let have = self.headroom();
        if n > have {
            return Err(buf::Error::Headroom { have, need: n });
        }
        // rte_pktmbuf_prepend for one segment, in Rust (a per-packet call
        // into the shim is not inlined): the data starts n bytes earlier.
        self.resize(-(n as isize), n as isize);
        Ok(())
    }

    fn append(&mut self, n: usize) -> Result<(), buf::Error> {
        let have = self.tailroom();
        if n > have {
            return Err(buf::Error::Tailroom { have, need: n });
        }
        // rte_pktmbuf_append: its only segment is its last.
        self.resize(0, n as isize);
        Ok(())
    }

    fn trim_front(&mut self, n: usize) -> Result<(), buf::Error> {
        let have = self.len();
        if n > have {
            return Err(buf::Error::Trim { have, need: n });
        }
        // rte_pktmbuf_adj.
        self.resize(n as isize, -(n as isize));
        Ok(())
    }

    fn trim_back(&mut self, n: usize) -> Result<(), buf::Error> {
        let have = self.len();
        if n > have {
            return Err(buf::Error::Trim { have, need: n });
        }
        // rte_pktmbuf_trim.
        self.resize(0, -(n as isize));
        Ok(())
    }
}
