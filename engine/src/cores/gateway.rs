//! [`GatewayCore`]: the software pipeline on a packet core. It runs each
//! received packet through the core's [`LcorePipeline`] and acts on the
//! verdict: forward, free, or hand to the control plane (misses, ARP,
//! sampling mirrors) through a lock-free ring; and it takes back, through
//! a ring of its own, the packets the control plane resubmits once their
//! tunnel is in (held packets). Neither ring blocks: when one is full the
//! packet is freed and counted.

use super::{
    BurstHandler, ControlPacket, ControlStats, CoreSnapshot, PacketBurst, Packets, ToControl,
    ToHost,
};
use crate::pipeline::{Action, LcorePipeline, PortRole, VfPorts};
use crate::psp::buf::PacketBuf;
use crate::psp::kdf::MasterKeyPair;
use crossbeam::queue::ArrayQueue;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polls between clock reads for snapshot publication.
const SNAPSHOT_CHECK_POLLS: u64 = 4096;

/// The pipeline of one packet core, with its rings to the control plane.
pub struct GatewayCore<'a, P: Packets> {
    pipe: LcorePipeline,
    masters: Arc<MasterKeyPair>,
    key_updates: Option<&'a ArrayQueue<Arc<MasterKeyPair>>>,
    packets: P,
    to_control: &'a ArrayQueue<ControlPacket<P::Packet>>,
    resubmit: &'a ArrayQueue<P::Packet>,
    rng: u64,
    stats: ControlStats,
    snapshots: Option<(&'a ArrayQueue<CoreSnapshot>, Duration)>,
    polls: u64,
    last_snapshot: Option<Instant>,
    ports: Option<VfPorts>,
    to_host: Option<&'a ArrayQueue<ToHost<P::Packet>>>,
}

impl<P: Packets> core::fmt::Debug for GatewayCore<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GatewayCore").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl<'a, P: Packets> GatewayCore<'a, P> {
    /// A core running `pipe`, decrypting with (a copy of) `masters`, copying
    /// mirrors into packets of `packets`, sending to the control plane
    /// through `to_control` and taking resubmitted packets from `resubmit`
    /// (a ring of its own). `seed` seeds the per-packet sampling draw.
    pub fn new(
        pipe: LcorePipeline,
        masters: &MasterKeyPair,
        packets: P,
        to_control: &'a ArrayQueue<ControlPacket<P::Packet>>,
        resubmit: &'a ArrayQueue<P::Packet>,
        seed: u64,
    ) -> GatewayCore<'a, P> {
        GatewayCore {
            pipe,
            masters: Arc::new(masters.clone()),
            key_updates: None,
            packets,
            to_control,
            resubmit,
            rng: seed | 1,
            stats: ControlStats::default(),
            snapshots: None,
            polls: 0,
            last_snapshot: None,
            ports: None,
            to_host: None,
        }
    }

    /// Publishes a copy of the counters into `ring` (capacity 1 is
    /// enough: a newer copy replaces an unread one) about every `every`,
    /// for `--stat-print`. The clock is read once per 4096 polls; the
    /// copy is a few hundred bytes, without allocation or locking.
    pub fn publish_snapshots(&mut self, ring: &'a ArrayQueue<CoreSnapshot>, every: Duration) {
        self.snapshots = Some((ring, every));
    }

    /// Takes new master keys from `ring` between bursts (after a rotation,
    /// so the receive side derives from the new pair). Each pair must come
    /// from the same lineage as the first (the generator's pair, rotated in
    /// place): the key cache tells stale keys apart by its generations.
    pub fn take_key_updates(&mut self, ring: &'a ArrayQueue<Arc<MasterKeyPair>>) {
        self.key_updates = Some(ring);
    }

    /// Delivers decrypted packets over several unsecured ports by `ports`
    /// ([`BurstHandler::net_to_ports`]); without it, all go to the first.
    pub fn deliver_by(&mut self, ports: VfPorts) {
        self.ports = Some(ports);
    }

    /// Takes frames the control plane sends to the unsecured ports (its
    /// answers to ARP and neighbour solicitations) from `ring`, once per
    /// loop turn ([`BurstHandler::to_hosts`]).
    pub fn take_to_host(&mut self, ring: &'a ArrayQueue<ToHost<P::Packet>>) {
        self.to_host = Some(ring);
    }

    /// The current counters.
    pub fn snapshot(&self) -> CoreSnapshot {
        CoreSnapshot {
            pipes: *self.pipe.stats(),
            control: self.stats,
            key_cache: self.pipe.key_cache_stats(),
        }
    }

    /// The pipeline (its counters and tables).
    pub fn pipeline(&self) -> &LcorePipeline {
        &self.pipe
    }

    /// The control-plane counters.
    pub fn control_stats(&self) -> ControlStats {
        self.stats
    }

    /// xorshift64*: the sampling draw needs speed and spread, not secrecy.
    fn random(&mut self) -> u32 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn control(&mut self, packet: P::Packet, why: ToControl, vf: Option<u8>) {
        match self.to_control.push(ControlPacket { packet, why, vf }) {
            Ok(()) => self.stats.to_control += 1,
            // The returned packet is dropped here, which frees it.
            Err(_) => self.stats.control_ring_full += 1,
        }
    }

    /// Runs one packet from `from` (unsecured port `vf`, when it came from
    /// one) and returns it when it is to be sent on.
    fn handle(
        &mut self,
        from: PortRole,
        vf: Option<u8>,
        mut m: P::Packet,
        to: PortRole,
    ) -> Option<P::Packet> {
        let random = self.random();
        let v = self.pipe.process(from, &mut m, random, &self.masters);
        if let Some(meta) = v.mirror_to_rss {
            let copy = self.packets.copy(m.data()).map(|mut c| {
                self.packets.set_flow_metadata(&mut c, Some(meta));
                c
            });
            match copy {
                Some(c) => self.control(c, ToControl::Sampled { meta }, vf),
                None => self.stats.mirror_no_mbuf += 1,
            }
        }
        match v.action {
            Action::Forward(p) if p == to => Some(m),
            Action::Forward(_) => {
                self.control(m, ToControl::Rss, vf);
                None
            }
            Action::Miss { pair } => {
                self.control(m, ToControl::Miss { pair }, vf);
                None
            }
            Action::Drop(_) => None,
        }
    }

    /// [`net_to_host`](BurstHandler::net_to_host) for a gateway with
    /// several unsecured ports: each packet to deliver goes into
    /// `outs[port]`, `port` the one whose VMs own its inner destination
    /// (`ports`); one that no port owns, or whose burst is full, is freed
    /// and counted ([`ControlStats::no_vf_port`], `vf_out_full`). What
    /// stays in `rx` is freed after the call, as with `net_to_host`.
    pub fn deliver_to_ports<B: PacketBurst<Packet = P::Packet>>(
        &mut self,
        rx: &mut B,
        outs: &mut [B],
        ports: &VfPorts,
    ) {
        rx.route(|m| {
            let mut m = self.handle(PortRole::Secure, None, m, PortRole::Unsecured)?;
            let port = ports.deliver_frame(m.data());
            match port.and_then(|p| Some((p, outs.get_mut(usize::from(p))?))) {
                Some((p, out)) => {
                    if let (Some(mac), Some(dst)) = (ports.decap_dmac(p), m.data_mut().get_mut(..6))
                    {
                        dst.copy_from_slice(&mac.0);
                    }
                    if out.push(m).is_err() {
                        self.stats.vf_out_full += 1;
                    }
                }
                None => self.stats.no_vf_port += 1,
            }
            None
        });
    }

    fn publish(&mut self) {
        self.polls += 1;
        if let Some((ring, every)) = self.snapshots {
            if self.polls.is_multiple_of(SNAPSHOT_CHECK_POLLS) {
                let now = Instant::now();
                if self.last_snapshot.is_none_or(|t| now.duration_since(t) >= every) {
                    self.last_snapshot = Some(now);
                    ring.force_push(self.snapshot());
                }
            }
        }
    }
}

impl<P: Packets, B: PacketBurst<Packet = P::Packet>> BurstHandler<B> for GatewayCore<'_, P> {
    fn host_to_net(&mut self, rx: &mut B, out: &mut B) {
        self.host_to_net_from(0, rx, out);
    }

    fn host_to_net_from(&mut self, port: u8, rx: &mut B, out: &mut B) {
        // Several ports: each may send only its own VMs' sources.
        match self.ports.take() {
            Some(ports) if ports.len() > 1 => {
                rx.route(|m| {
                    if !ports.may_send_frame(port, m.data()) {
                        self.stats.vf_src_refused += 1;
                        return None;
                    }
                    self.handle(PortRole::Unsecured, Some(port), m, PortRole::Secure)
                });
                self.ports = Some(ports);
            }
            ports => {
                self.ports = ports;
                rx.route(|m| self.handle(PortRole::Unsecured, Some(port), m, PortRole::Secure));
            }
        }
        core::mem::swap(rx, out);
    }

    fn net_to_host(&mut self, rx: &mut B, out: &mut B) {
        rx.route(|m| self.handle(PortRole::Secure, None, m, PortRole::Unsecured));
        core::mem::swap(rx, out);
    }

    fn net_to_ports(&mut self, rx: &mut B, outs: &mut [B]) {
        // Taken out for the call (no reference count to touch per burst).
        match self.ports.take() {
            Some(ports) => {
                self.deliver_to_ports(rx, outs, &ports);
                self.ports = Some(ports);
            }
            None => {
                if let Some(out) = outs.first_mut() {
                    self.net_to_host(rx, out);
                }
            }
        }
    }

    fn poll(&mut self, out: &mut B) -> usize {
        self.pipe.refresh();
        if let Some(m) = self.key_updates.and_then(ArrayQueue::pop) {
            // Rare (a rotation): dropping the old pair here is the one
            // free a core does outside its bursts.
            self.masters = m;
        }
        self.publish();
        let mut n = 0;
        while !out.is_full() {
            let Some(m) = self.resubmit.pop() else { break };
            self.stats.resubmitted += 1;
            if let Some(m) = self.handle(PortRole::Rss, None, m, PortRole::Secure) {
                // Cannot fail: the loop stops when out is full.
                let _ = out.push(m);
                n += 1;
            }
        }
        n
    }

    fn to_hosts(&mut self, outs: &mut [B]) -> usize {
        let Some(ring) = self.to_host else { return 0 };
        let mut n = 0;
        while let Some(ToHost { port, packet }) = ring.pop() {
            self.stats.to_host += 1;
            // A full burst or an unknown port frees the frame (dropped here).
            match outs.get_mut(usize::from(port)).map(|o| o.push(packet)) {
                Some(Ok(())) => n += 1,
                _ => self.stats.to_host_dropped += 1,
            }
        }
        n
    }
}
