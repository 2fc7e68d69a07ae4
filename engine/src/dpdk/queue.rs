//! [`RxQueue`] and [`TxQueue`]: the handles of one receive or transmit
//! queue of a started port, with the burst functions of the packet path.
//! A queue has one handle at a time, so no two threads poll it at once
//! (DPDK's queues are not thread-safe); handles borrow their [`Port`], which
//! therefore cannot be stopped, reconfigured or dropped under them.
//!
//! [`Port`]: super::Port

use super::burst::Burst;
use super::error::{Error, Result};
use super::ids::{PortId, QueueId};
use std::sync::atomic::{AtomicBool, Ordering};

/// Which queues of a port have a handle out.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    rx: Box<[AtomicBool]>,
    tx: Box<[AtomicBool]>,
}

impl Claims {
    pub(crate) fn new(rx: u16, tx: u16) -> Claims {
        let flags = |n| (0..n).map(|_| AtomicBool::new(false)).collect();
        Claims { rx: flags(rx), tx: flags(tx) }
    }

    pub(crate) fn rx(&self, port: PortId, q: QueueId) -> Result<&AtomicBool> {
        take(&self.rx, port, q, "rx")
    }

    pub(crate) fn tx(&self, port: PortId, q: QueueId) -> Result<&AtomicBool> {
        take(&self.tx, port, q, "tx")
    }
}

fn take<'a>(
    flags: &'a [AtomicBool],
    port: PortId,
    q: QueueId,
    dir: &'static str,
) -> Result<&'a AtomicBool> {
    let err = |why| Error::Queue { port: port.0, dir, queue: q.0, why };
    let f = flags.get(usize::from(q.0)).ok_or_else(|| err("not configured"))?;
    if f.swap(true, Ordering::AcqRel) {
        return Err(err("already has a handle"));
    }
    Ok(f)
}

/// Receive queue `queue` of a port, polled by one thread at a time.
#[derive(Debug)]
pub struct RxQueue<'p> {
    port: PortId,
    queue: QueueId,
    claim: &'p AtomicBool,
    multi_seg: u64,
}

impl<'p> RxQueue<'p> {
    pub(crate) fn new(port: PortId, queue: QueueId, claim: &'p AtomicBool) -> Self {
        RxQueue { port, queue, claim, multi_seg: 0 }
    }

    /// The port.
    pub fn port(&self) -> PortId {
        self.port
    }

    /// The queue.
    pub fn queue(&self) -> QueueId {
        self.queue
    }

    /// Receives up to `burst.spare()` packets, appended to `burst`; returns
    /// how many were added. Multi-segment packets are freed and counted
    /// ([`multi_seg_dropped`](Self::multi_seg_dropped)), never handed out.
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        let start = burst.len();
        let spare = u16::try_from(burst.spare()).unwrap_or(u16::MAX);
        if spare == 0 {
            return 0;
        }
        // SAFETY: this handle is the only user of the queue (claimed); the
        // spare slots have room for `spare` pointers, where the PMD writes n
        // received mbufs that it hands over to us.
        let n = unsafe {
            dpdk_sys::pspgw_eth_rx_burst(self.port.0, self.queue.0, burst.spare_ptr(), spare)
        };
        let end = start + usize::from(n);
        let raw = burst.as_raw_mut();
        let mut kept = start;
        for i in start..end {
            // SAFETY: slot i < end holds an mbuf the PMD just handed over.
            let m = unsafe { *raw.add(i) };
            // SAFETY: m is a valid mbuf the PMD just wrote; nb_segs is a
            // plain field of struct rte_mbuf (bindgen's layout tests pin
            // its offset), read here without a call into the shim.
            if unsafe { (*m).nb_segs } == 1 {
                // SAFETY: kept <= i < N.
                unsafe { *raw.add(kept) = m };
                kept += 1;
            } else {
                self.multi_seg += 1;
                // SAFETY: we own the chain and free it once.
                unsafe { dpdk_sys::pspgw_pktmbuf_free(m) };
            }
        }
        // SAFETY: slots ..kept hold owned single-segment mbufs, kept <= N.
        unsafe { burst.set_len(kept) };
        kept - start
    }

    /// Multi-segment packets this handle received and dropped.
    pub fn multi_seg_dropped(&self) -> u64 {
        self.multi_seg
    }
}

impl Drop for RxQueue<'_> {
    fn drop(&mut self) {
        self.claim.store(false, Ordering::Release);
    }
}

/// Transmit queue `queue` of a port, used by one thread at a time.
#[derive(Debug)]
pub struct TxQueue<'p> {
    port: PortId,
    queue: QueueId,
    claim: &'p AtomicBool,
}

impl<'p> TxQueue<'p> {
    pub(crate) fn new(port: PortId, queue: QueueId, claim: &'p AtomicBool) -> Self {
        TxQueue { port, queue, claim }
    }

    /// The port.
    pub fn port(&self) -> PortId {
        self.port
    }

    /// The queue.
    pub fn queue(&self) -> QueueId {
        self.queue
    }

    /// Hands the burst's packets to the device, from the front; returns how
    /// many it took. What it did not take stays in `burst` (moved to the
    /// front, in order), for the caller to retry or drop
    /// ([`Burst::clear`]).
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut Burst<N>) -> usize {
        let len = u16::try_from(burst.len()).unwrap_or(u16::MAX);
        if len == 0 {
            return 0;
        }
        // SAFETY: this handle is the only user of the queue (claimed); the
        // first len slots hold owned single-segment mbufs; the PMD takes
        // ownership of the first n it returns.
        let n = unsafe {
            dpdk_sys::pspgw_eth_tx_burst(self.port.0, self.queue.0, burst.as_raw_mut(), len)
        };
        burst.forget_front(usize::from(n));
        usize::from(n)
    }
}

impl Drop for TxQueue<'_> {
    fn drop(&mut self) {
        self.claim.store(false, Ordering::Release);
    }
}
