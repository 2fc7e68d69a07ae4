//! The packet cores' logic, over any packet buffer: what a core does with
//! each burst, and what it hands to and takes from the control plane.
//!
//! Nothing here touches a device, a socket or the clock's hardware: the
//! cores are generic over [`PacketBurst`] (a burst of owned packets) and
//! [`Packets`] (where a core gets a fresh packet and reads or writes a
//! packet's flow metadata). `engine::dpdk` implements both for mbufs and
//! runs the handlers in its poll loop; the unit tests run them over
//! [`VecBuf`](crate::psp::buf::VecBuf)s.
//!
//! - [`GatewayCore`] (`gateway.rs`): the software pipeline on a packet
//!   core, with its rings to and from the control plane.
//! - [`OffloadCore`] (`offload.rs`): the packet core when the NIC runs the
//!   pipeline (DOCA): RSS traffic to the control plane, held packets out.
//! - [`SoftwareDatapath`] (`software.rs`): the one place that wires the
//!   replicated tables, their flow programmer and one [`GatewayCore`] per
//!   core, for the binary, the perf tools and the tests.
//! - [`CoreRings`]: the rings between the cores and the control plane.

mod gateway;
mod offload;
mod software;
#[cfg(test)]
mod tests;

pub use gateway::GatewayCore;
pub use offload::{OffloadCore, OffloadStats};
pub use software::{flow_config, CoreSetup, SoftwareDatapath};

use crate::pipeline::PipeStats;
use crate::psp::buf::PacketBuf;
use crate::tables::VipPair;
use crossbeam::queue::ArrayQueue;

/// A burst of owned packets, as a packet core receives and sends them.
pub trait PacketBurst {
    /// The packet.
    type Packet: PacketBuf + Send;
    /// Hands each packet, in order, to `route`, which keeps it (returns it:
    /// it stays in the burst, in order) or takes it (returns `None`).
    fn route(&mut self, route: impl FnMut(Self::Packet) -> Option<Self::Packet>);
    /// Adds `p` at the end, or gives it back when the burst is full.
    fn push(&mut self, p: Self::Packet) -> Result<(), Self::Packet>;
    /// Whether no slot is free.
    fn is_full(&self) -> bool;
}

/// Where a core gets packets of its own (sampling mirrors) and how it
/// reads and writes a packet's flow metadata (the sampling sentinel).
pub trait Packets: Send {
    /// The packet.
    type Packet: PacketBuf + Send;
    /// A new packet holding a copy of `data`, or `None` when none is free.
    fn copy(&self, data: &[u8]) -> Option<Self::Packet>;
    /// The packet's flow metadata, if set.
    fn flow_metadata(&self, p: &Self::Packet) -> Option<u32>;
    /// Sets the packet's flow metadata, or clears it with `None`.
    fn set_flow_metadata(&self, p: &mut Self::Packet, value: Option<u32>);
}

/// What a packet core runs on each burst: the pipeline.
pub trait BurstHandler<B: PacketBurst>: Send {
    /// Packets from the unsecured port: move those to send to the secure
    /// port into `out`; what stays in `rx` is freed after the call.
    fn host_to_net(&mut self, rx: &mut B, out: &mut B);
    /// [`host_to_net`](Self::host_to_net) for packets from unsecured port
    /// `port` (several ports: the source check and the port that ARP is
    /// answered on need it). By default the port is not looked at.
    fn host_to_net_from(&mut self, port: u8, rx: &mut B, out: &mut B) {
        let _ = port;
        self.host_to_net(rx, out);
    }
    /// Packets from the secure port: move those to deliver to the
    /// unsecured port into `out`; what stays in `rx` is freed.
    fn net_to_host(&mut self, rx: &mut B, out: &mut B);
    /// Packets from the secure port with several unsecured ports: move
    /// each to deliver into the burst of its port (`outs[i]`: unsecured
    /// port `i`). By default all go to the first port, as `net_to_host`.
    fn net_to_ports(&mut self, rx: &mut B, outs: &mut [B]) {
        if let Some(out) = outs.first_mut() {
            self.net_to_host(rx, out);
        }
    }
    /// Called once per loop turn, traffic or not: refresh tables and put
    /// packets the control plane resubmits (held packets of a new tunnel)
    /// into `out`, toward the secure port, until it is full. Returns how
    /// many it put there.
    fn poll(&mut self, out: &mut B) -> usize {
        let _ = out;
        0
    }
    /// Called once per loop turn: put what the control plane sends to the
    /// unsecured ports (answers to ARP and neighbour solicitations) into
    /// `outs[port]`. Returns how many it put there.
    fn to_hosts(&mut self, outs: &mut [B]) -> usize {
        let _ = outs;
        0
    }
}

/// Why a packet goes to the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToControl {
    /// No tunnel for this inner source and destination: set one up, hold
    /// the packet.
    Miss {
        /// The inner source and destination.
        pair: VipPair,
    },
    /// A copy of a sampled packet; its flow metadata holds the sentinel.
    Sampled {
        /// The sentinel (ingress or egress sampling).
        meta: u32,
    },
    /// ARP and other traffic the control plane answers.
    Rss,
}

/// A packet for the control plane.
#[derive(Debug)]
pub struct ControlPacket<P> {
    /// The packet.
    pub packet: P,
    /// Why it came.
    pub why: ToControl,
    /// The unsecured port it came from (`None`: the uplink, or a
    /// resubmitted packet): where an answer to it goes.
    pub vf: Option<u8>,
}

/// A packet the control plane sends out an unsecured port, through a
/// packet core (which owns the port's transmit queue).
#[derive(Debug)]
pub struct ToHost<P> {
    /// The unsecured port (index of [`crate::pipeline::VfPorts`]).
    pub port: u8,
    /// The frame.
    pub packet: P,
}

/// Slots of each core's [`CoreRings::to_host`] ring: answers to
/// neighbour queries, a few per VM.
pub const TO_HOST_RING: usize = 256;

/// Counters of what a core sent to or took from the control plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlStats {
    /// Packets handed to the control plane.
    pub to_control: u64,
    /// Packets freed because the control ring was full.
    pub control_ring_full: u64,
    /// Sampling mirrors not made for want of a packet buffer.
    pub mirror_no_mbuf: u64,
    /// Packets taken back from the control plane.
    pub resubmitted: u64,
    /// Decrypted packets freed because no unsecured port's VMs own their
    /// inner destination (several ports, [`GatewayCore::deliver_to_ports`]).
    pub no_vf_port: u64,
    /// Decrypted packets freed because their port's out burst was full.
    pub vf_out_full: u64,
    /// Packets from an unsecured port whose inner source is not one of
    /// that port's VMs (several ports), freed.
    pub vf_src_refused: u64,
    /// Frames the control plane sent to an unsecured port (neighbour
    /// answers), taken from the ring.
    pub to_host: u64,
    /// Of those, freed: no such port, or its out burst was full.
    pub to_host_dropped: u64,
}

/// A copy of a core's counters, published for periodic printing.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreSnapshot {
    /// The pipe counters.
    pub pipes: PipeStats,
    /// What went to and came from the control plane.
    pub control: ControlStats,
    /// Receive-key cache (hits, misses).
    pub key_cache: (u64, u64),
}

/// The rings between the packet cores and the control plane. None of
/// them blocks: a core that finds one full frees the packet and counts it.
#[derive(Debug)]
pub struct CoreRings<P> {
    /// Misses, ARP and sampled copies, up to the control plane (shared by
    /// every core).
    pub to_control: ArrayQueue<ControlPacket<P>>,
    /// Held packets, back to each core (one ring per core).
    pub resubmit: Vec<ArrayQueue<P>>,
    /// Frames for the unsecured ports, to each core ([`TO_HOST_RING`]
    /// slots each).
    pub to_host: Vec<ArrayQueue<ToHost<P>>>,
    /// Each core's latest counters (capacity 1: a newer copy replaces an
    /// unread one), for `--stat-print`, the metrics endpoint and status.
    pub snapshots: Vec<ArrayQueue<CoreSnapshot>>,
}

impl<P> CoreRings<P> {
    /// Rings for `cores` packet cores: `to_control` slots up, `resubmit`
    /// slots back to each core.
    pub fn new(cores: usize, to_control: usize, resubmit: usize) -> CoreRings<P> {
        CoreRings {
            to_control: ArrayQueue::new(to_control.max(1)),
            resubmit: (0..cores).map(|_| ArrayQueue::new(resubmit.max(1))).collect(),
            to_host: (0..cores).map(|_| ArrayQueue::new(TO_HOST_RING)).collect(),
            snapshots: (0..cores).map(|_| ArrayQueue::new(1)).collect(),
        }
    }

    /// How many cores the rings serve.
    pub fn cores(&self) -> usize {
        self.resubmit.len()
    }
}
