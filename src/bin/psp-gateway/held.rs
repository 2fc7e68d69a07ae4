//! The mbufs of packets the tunnel manager holds: the manager keeps
//! handles ([`PacketId`]), this slab keeps the mbufs they name. Its size
//! follows the manager's bound on held packets; slots are reused.

use engine::dpdk::Mbuf;

/// A held packet's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketId(u32);

/// Mbufs by handle.
#[derive(Default)]
pub struct HeldMbufs {
    slots: Vec<Option<Mbuf>>,
    free: Vec<u32>,
}

impl HeldMbufs {
    /// Keeps `m`; its handle.
    pub fn insert(&mut self, m: Mbuf) -> PacketId {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(m);
                PacketId(i)
            }
            None => {
                self.slots.push(Some(m));
                PacketId((self.slots.len() - 1) as u32)
            }
        }
    }

    /// Gives back the mbuf of `id` (once).
    pub fn take(&mut self, id: PacketId) -> Option<Mbuf> {
        let m = self.slots.get_mut(id.0 as usize)?.take();
        if m.is_some() {
            self.free.push(id.0);
        }
        m
    }
}
