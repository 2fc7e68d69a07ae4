//! [`OffloadCore`]: the packet core when the pipeline runs in the NIC
//! (`--backend doca`). The NIC encrypts, decrypts and checks every packet
//! that has its entries; the PF's RSS queues get the rest: egress misses,
//! ARP and sampled copies ([`crate::pipeline::classify_rss`]). Misses and
//! ARP go to the control plane, as [`super::GatewayCore`]'s do, through the
//! same ring; sampled copies too (it logs them). Held packets come back on
//! the core's resubmit ring and leave through the PF's transmit queue:
//! DOCA Flow in switch/expert mode takes packets the application sends on
//! the PF to the root of the egress domain, where the new entry encrypts
//! them, as NVIDIA's application resubmits (`rte_eth_tx_burst` on the PF).
//! Neither ring blocks: a full one frees the packet and counts it.

use super::{BurstHandler, ControlPacket, PacketBurst, Packets, ToControl};
use crate::pipeline::{classify_rss, PipelineConfig, RssClass};
use crate::psp::buf::PacketBuf;
use crossbeam::queue::ArrayQueue;

/// What an [`OffloadCore`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffloadStats {
    /// Egress misses handed to the control plane.
    pub misses: u64,
    /// Sampled copies handed to the control plane.
    pub sampled: u64,
    /// ARP handed to the control plane.
    pub arp: u64,
    /// IPv6 neighbour solicitations handed to the control plane.
    pub nd: u64,
    /// Neither: dropped.
    pub other: u64,
    /// Packets freed because the control ring was full.
    pub control_ring_full: u64,
    /// Held packets sent back through the PF.
    pub resubmitted: u64,
}

/// The RSS-queue core of an offloaded pipeline.
pub struct OffloadCore<'a, P: Packets> {
    cfg: PipelineConfig,
    packets: P,
    to_control: &'a ArrayQueue<ControlPacket<P::Packet>>,
    resubmit: &'a ArrayQueue<P::Packet>,
    stats: OffloadStats,
}

impl<P: Packets> core::fmt::Debug for OffloadCore<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OffloadCore").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl<'a, P: Packets> OffloadCore<'a, P> {
    /// A core with the pipeline's sampling sentinels (`cfg`), reading flow
    /// metadata through `packets`, sending to the control plane through
    /// `to_control` and taking held packets back from `resubmit` (a ring of
    /// its own).
    pub fn new(
        cfg: PipelineConfig,
        packets: P,
        to_control: &'a ArrayQueue<ControlPacket<P::Packet>>,
        resubmit: &'a ArrayQueue<P::Packet>,
    ) -> OffloadCore<'a, P> {
        OffloadCore { cfg, packets, to_control, resubmit, stats: OffloadStats::default() }
    }

    /// The counters.
    pub fn stats(&self) -> OffloadStats {
        self.stats
    }

    fn classify<B: PacketBurst<Packet = P::Packet>>(&mut self, rx: &mut B) {
        // In arrival order: a destination's packets reach its held queue
        // in the order they were sent.
        rx.route(|m| {
            self.up(m);
            None
        });
    }

    fn up(&mut self, m: P::Packet) {
        let meta = self.packets.flow_metadata(&m);
        let why = match classify_rss(m.data(), meta, &self.cfg) {
            RssClass::Miss { pair } => {
                self.stats.misses += 1;
                ToControl::Miss { pair }
            }
            RssClass::Sampled { meta } => {
                self.stats.sampled += 1;
                ToControl::Sampled { meta }
            }
            RssClass::Arp => {
                self.stats.arp += 1;
                ToControl::Rss
            }
            RssClass::NeighbourSolicitation => {
                self.stats.nd += 1;
                ToControl::Rss
            }
            RssClass::Other => {
                self.stats.other += 1;
                return; // freed
            }
        };
        if self.to_control.push(ControlPacket { packet: m, why, vf: None }).is_err() {
            self.stats.control_ring_full += 1;
        }
    }
}

impl<P: Packets, B: PacketBurst<Packet = P::Packet>> BurstHandler<B> for OffloadCore<'_, P> {
    /// The representor's queues see nothing in switch mode; what does
    /// arrive is treated like the PF's RSS traffic.
    fn host_to_net(&mut self, rx: &mut B, _out: &mut B) {
        self.classify(rx);
    }

    fn net_to_host(&mut self, rx: &mut B, _out: &mut B) {
        self.classify(rx);
    }

    /// Held packets go out through the PF (the "secure" port here), to
    /// the egress root.
    fn poll(&mut self, out: &mut B) -> usize {
        let mut n = 0;
        while !out.is_full() {
            let Some(m) = self.resubmit.pop() else { break };
            // Cannot fail: the loop stops when out is full.
            let _ = out.push(m);
            n += 1;
        }
        self.stats.resubmitted += n as u64;
        n
    }
}
