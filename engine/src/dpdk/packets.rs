//! [`PoolPackets`]: mbufs of a mempool, with the flow metadata field, as
//! the packet cores of [`crate::cores`] see packets; and [`Burst`] as
//! their burst.

use super::burst::Burst;
use super::mbuf::Mbuf;
use super::mempool::Mempool;
use super::meta::FlowMetadata;
use crate::cores::{PacketBurst, Packets};

/// A core's source of fresh mbufs (sampling mirrors) and its access to
/// the flow metadata field (registered: the token proves it).
#[derive(Debug, Clone, Copy)]
pub struct PoolPackets<'a> {
    pool: &'a Mempool,
    meta: FlowMetadata,
}

impl<'a> PoolPackets<'a> {
    /// Mbufs from `pool`, with the metadata field of `meta`.
    pub fn new(pool: &'a Mempool, meta: FlowMetadata) -> PoolPackets<'a> {
        PoolPackets { pool, meta }
    }
}

impl Packets for PoolPackets<'_> {
    type Packet = Mbuf;

    fn copy(&self, data: &[u8]) -> Option<Mbuf> {
        let mut m = self.pool.alloc()?;
        m.extend_from_slice(data).ok()?;
        Some(m)
    }

    fn flow_metadata(&self, p: &Mbuf) -> Option<u32> {
        p.flow_metadata(self.meta)
    }

    fn set_flow_metadata(&self, p: &mut Mbuf, value: Option<u32>) {
        p.set_flow_metadata(self.meta, value);
    }
}

impl<const N: usize> PacketBurst for Burst<N> {
    type Packet = Mbuf;

    fn route(&mut self, route: impl FnMut(Mbuf) -> Option<Mbuf>) {
        Burst::route(self, route);
    }

    fn push(&mut self, p: Mbuf) -> Result<(), Mbuf> {
        Burst::push(self, p)
    }

    fn is_full(&self) -> bool {
        Burst::is_full(self)
    }
}
