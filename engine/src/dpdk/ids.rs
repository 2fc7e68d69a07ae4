//! Newtypes for DPDK's numeric handles: ports, queues and lcores.

use core::fmt;

/// An ethdev port id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

/// A receive or transmit queue of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub u16);

/// An EAL logical core (lcore) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

impl LcoreId {
    /// The lcore of the calling thread, or `None` for a thread that is not
    /// an EAL lcore (its id is `LCORE_ID_ANY`).
    pub fn current() -> Option<LcoreId> {
        // SAFETY: reads the calling thread's per-lcore _lcore_id variable,
        // which is LCORE_ID_ANY in threads the EAL did not start.
        let id = unsafe { dpdk_sys::pspgw_lcore_id() };
        (id != dpdk_sys::LCORE_ID_ANY).then_some(LcoreId(id))
    }
}

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {}", self.0)
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "queue {}", self.0)
    }
}

impl fmt::Display for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lcore {}", self.0)
    }
}
