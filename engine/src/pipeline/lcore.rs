//! One packet core's pipeline instance.

use super::stats::{Counter, PipeStats};
use super::{Action, DropReason, InnerVersion, OuterVersion, PipelineConfig, Verdict};
use crate::psp::buf::PacketBuf;
use crate::psp::cache::{CachedKeys, KeyCache};
use crate::psp::decap::{self, DecapOptions};
use crate::psp::kdf::MasterKeyPair;
use crate::psp::{Mode, Spi};
use crate::tables::{AclReject, TableReader, Tables, VipPair};
use crate::wire::{
    self, ip_proto, Ipv4Packet, Ipv6Packet, ETHERNET_HEADER_LEN as ETH, IPV6_HEADER_LEN,
};
use std::net::IpAddr;

/// Which of the gateway's ports, by role, a packet comes from or goes to
/// (`engine::dpdk::Port` is the device handle itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRole {
    /// The uplink: PSP only.
    Secure,
    /// The host side (VMs, containers): clear traffic.
    Unsecured,
    /// The control plane's queues (RSS): misses, ARP and sampling mirrors
    /// go there; packets it resubmits (held packets) come from there and
    /// take the host-to-net path.
    Rss,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;
/// IVs per core and tunnel: the top 16 bits of the IV name the core.
const IV_LIMIT: u64 = 1 << 48;

/// Per-core state of an egress tunnel slot.
#[derive(Debug, Clone, Copy, Default)]
struct TunnelSlot {
    generation: u64,
    iv: u64,
}

/// One packet core's pipeline: its table reader, receive-key cache,
/// counters and per-tunnel state.
#[derive(Debug)]
pub struct LcorePipeline {
    cfg: PipelineConfig,
    /// Top 16 bits of every IV this core writes, so cores sending through
    /// the same tunnel never share an IV without sharing a counter.
    iv_base: u64,
    sample_mask: u32,
    reader: TableReader,
    keys: KeyCache,
    stats: PipeStats,
    tunnels: Box<[TunnelSlot]>,
}

impl LcorePipeline {
    /// The pipeline of core number `core_index` (unique among the cores
    /// that share tables), reading tables through `reader`. Allocates its
    /// per-tunnel state (`max_tunnels` and `max_acl_entries` slots) and
    /// key cache now, never later.
    pub fn new(cfg: PipelineConfig, core_index: u16, reader: TableReader) -> LcorePipeline {
        let n = u32::from(cfg.log2_sample_rate.min(32));
        let sample_mask = if n == 0 { 0 } else { u32::MAX >> (32 - n) };
        LcorePipeline {
            cfg,
            iv_base: u64::from(core_index) << 48,
            sample_mask,
            reader,
            keys: KeyCache::new(cfg.key_cache_size),
            stats: PipeStats::default(),
            tunnels: vec![TunnelSlot::default(); cfg.max_tunnels].into_boxed_slice(),
        }
    }

    /// Picks up tables the flow programmer published; call between bursts.
    #[inline]
    pub fn refresh(&mut self) -> bool {
        self.reader.refresh()
    }

    /// The tables in use.
    pub fn tables(&self) -> &Tables {
        self.reader.tables()
    }

    /// This core's pipe counters.
    pub fn stats(&self) -> &PipeStats {
        &self.stats
    }

    /// (hits, misses) of the receive-key cache.
    pub fn key_cache_stats(&self) -> (u64, u64) {
        self.keys.stats()
    }

    /// This core's counters of the egress entry of `pair` (zero if the
    /// entry has not carried a packet here yet).
    pub fn tunnel_counter(&self, pair: VipPair) -> Option<Counter> {
        let e = self.reader.tables().egress(pair.src, pair.dst)?;
        let n = self.reader.sessions().egress(e.slot, e.generation);
        Some(Counter { packets: n.packets, bytes: n.bytes })
    }

    /// This core's counters of the ingress ACL entry (`spi`, `src`, `dst`).
    pub fn acl_counter(
        &self,
        spi: Spi,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
    ) -> Option<Counter> {
        let e = self.reader.tables().ingress_acl(spi, src, dst).ok()?;
        let n = self.reader.sessions().ingress(e.slot, e.generation);
        Some(Counter { packets: n.packets, bytes: n.bytes })
    }

    /// Moves this core's IV counter of the tunnel of `pair` to `iv` (tests
    /// of IV exhaustion).
    #[cfg(test)]
    pub(crate) fn set_tunnel_iv(&mut self, pair: VipPair, iv: u64) {
        let e = self.reader.tables().egress(pair.src, pair.dst).expect("a tunnel for pair");
        let s = &mut self.tunnels[e.slot as usize];
        *s = TunnelSlot { generation: e.generation, iv };
    }

    /// The ingress root: dispatches a packet received on `from`. `random`
    /// is a fresh random `u32` per packet (egress sampling); `masters` are
    /// the receiver's master keys (decrypt). Always pass the same
    /// `MasterKeyPair` (rotated in place with `replace`, or a clone of it):
    /// the core's key cache tells stale keys apart by the pair's
    /// generation counters, not by key bytes. A mirror (`mirror_to_rss`)
    /// is a copy of the packet as the verdict leaves it: encrypted with the
    /// S bit on egress, decrypted on ingress.
    pub fn process<B: PacketBuf + ?Sized>(
        &mut self,
        from: PortRole,
        buf: &mut B,
        random: u32,
        masters: &MasterKeyPair,
    ) -> Verdict {
        let d = buf.data();
        let len = d.len();
        self.stats.ingress_root.hit(len);
        if len < ETH {
            return Verdict::drop(&mut self.stats, DropReason::Truncated, len);
        }
        if len > self.cfg.max_frame_len {
            return Verdict::drop(&mut self.stats, DropReason::Oversized, len);
        }
        let ethertype = u16::from_be_bytes([d[12], d[13]]);
        match (from, ethertype) {
            (PortRole::Unsecured | PortRole::Rss, ETHERTYPE_IPV4)
                if self.cfg.inner == InnerVersion::Ipv4 =>
            {
                self.host_to_net(buf, random)
            }
            (PortRole::Unsecured, ETHERTYPE_IPV6)
                if self.cfg.inner == InnerVersion::Ipv6 && is_nd(buf.data()) =>
            {
                self.stats.vf_nd_to_rss.hit(len);
                self.stats.rss.hit(len);
                Verdict::new(Action::Forward(PortRole::Rss))
            }
            (PortRole::Unsecured | PortRole::Rss, ETHERTYPE_IPV6)
                if self.cfg.inner == InnerVersion::Ipv6 =>
            {
                self.host_to_net(buf, random)
            }
            (PortRole::Unsecured, ETHERTYPE_ARP) => {
                self.stats.vf_arp_to_rss.hit(len);
                self.stats.rss.hit(len);
                Verdict::new(Action::Forward(PortRole::Rss))
            }
            (PortRole::Secure, ETHERTYPE_IPV6)
                if self.cfg.outer == OuterVersion::Ipv6 || self.cfg.mode == Mode::Transport =>
            {
                self.net_to_host(buf, masters)
            }
            (PortRole::Secure, ETHERTYPE_IPV4)
                if self.cfg.outer == OuterVersion::Ipv4 || self.cfg.mode == Mode::Transport =>
            {
                self.net_to_host(buf, masters)
            }
            _ => Verdict::drop(&mut self.stats, DropReason::RootDefault, len),
        }
    }

    /// Host to net, from the egress ACL on: the frame must hold IPv4 (or
    /// IPv6 with inner IPv6 configured).
    pub fn host_to_net<B: PacketBuf + ?Sized>(&mut self, buf: &mut B, random: u32) -> Verdict {
        let len = buf.data().len();
        let d = buf.data();
        let parsed = match (self.cfg.inner, d.get(12..14)) {
            (InnerVersion::Ipv4, Some(t)) if t == ETHERTYPE_IPV4.to_be_bytes() => {
                Ipv4Packet::new_checked(&d[ETH..])
                    .map(|ip| (VipPair::new(ip.src(), ip.dst()), ip.total_len()))
            }
            (InnerVersion::Ipv6, Some(t)) if t == ETHERTYPE_IPV6.to_be_bytes() => {
                Ipv6Packet::new_checked(&d[ETH..]).map(|ip| {
                    (VipPair::new(ip.src(), ip.dst()), IPV6_HEADER_LEN + ip.payload_len())
                })
            }
            (_, None) => Err(wire::Error::Truncated("ethernet")),
            _ => Err(wire::Error::Malformed("not the inner IP version")),
        };
        let (pair, ip_len) = match parsed {
            Ok(v) => v,
            Err(wire::Error::Truncated(_)) => {
                return Verdict::drop(&mut self.stats, DropReason::Truncated, len);
            }
            Err(_) => {
                return Verdict::drop(&mut self.stats, DropReason::Malformed, len);
            }
        };
        let Some(entry) = self.reader.tables().egress(pair.src, pair.dst) else {
            self.stats.egress_acl_miss.hit(len);
            self.stats.rss.hit(len);
            return Verdict::new(Action::Miss { pair });
        };
        self.stats.egress_acl.hit(len);
        let Some(slot) = self.tunnels.get_mut(entry.slot as usize) else {
            // Only if the programmer's max_tunnels exceeds this core's.
            return Verdict::drop(&mut self.stats, DropReason::EncapFailed, len);
        };
        if slot.generation != entry.generation {
            *slot = TunnelSlot { generation: entry.generation, ..TunnelSlot::default() };
        }
        self.reader.sessions().egress_hit(entry.slot, entry.generation, len);
        if slot.iv + 1 >= IV_LIMIT {
            return Verdict::drop(&mut self.stats, DropReason::IvExhausted, len);
        }
        // Encap drops Ethernet padding: the result is the IP packet plus
        // the tunnel's overhead, behind the Ethernet header.
        if ETH + ip_len + entry.encap.overhead() > self.cfg.max_frame_len {
            return Verdict::drop(&mut self.stats, DropReason::EncapOversized, len);
        }
        slot.iv += 1;
        let iv = self.iv_base | slot.iv;
        let sampled = self.sample_mask != 0 && random & self.sample_mask == 0;
        let n = match entry.encap.encap(buf, iv, sampled) {
            Ok(n) => n,
            Err(_) => {
                return Verdict::drop(&mut self.stats, DropReason::EncapFailed, len);
            }
        };
        let mut v = Verdict::new(Action::Forward(PortRole::Secure));
        if sampled {
            self.stats.egress_sampling.hit(n);
            self.stats.rss.hit(n);
            v.mirror_to_rss = Some(self.cfg.egress_sample_meta_indicator);
        } else if self.sample_mask != 0 && self.cfg.maintain_order {
            self.stats.empty_pipe_not_sampled.hit(n);
        }
        self.stats.fwd_to_wire.hit(n);
        v
    }

    /// Net to host, from the decrypt pipe on.
    pub fn net_to_host<B: PacketBuf + ?Sized>(
        &mut self,
        buf: &mut B,
        masters: &MasterKeyPair,
    ) -> Verdict {
        let len = buf.data().len();
        let mut keys = CachedKeys { masters, cache: &mut self.keys };
        let info = match decap::decap(buf, &mut keys, DecapOptions { dst_mac: self.cfg.decap_dmac })
        {
            Ok(info) => info,
            Err(decap::Error::NotPsp(_)) => {
                return Verdict::drop(&mut self.stats, DropReason::NotPsp, len);
            }
            Err(decap::Error::Outer(wire::Error::Truncated(_))) => {
                return Verdict::drop(&mut self.stats, DropReason::Truncated, len);
            }
            Err(decap::Error::Outer(wire::Error::Malformed(_))) => {
                return Verdict::drop(&mut self.stats, DropReason::Malformed, len);
            }
            Err(decap::Error::Syndrome(s)) => {
                return Verdict::drop(&mut self.stats, DropReason::Syndrome(s), len);
            }
        };
        let n = buf.data().len();
        self.stats.ingress_decrypt.hit(n);
        let mut v = Verdict::new(Action::Forward(PortRole::Unsecured));
        // As DOCA's ingress_sampling_pipe, which exists only with sampling
        // on: otherwise a sender setting S on every packet would have each
        // one copied to the control plane.
        if info.sample && self.sample_mask != 0 {
            self.stats.ingress_sampling.hit(n);
            self.stats.rss.hit(n);
            v.mirror_to_rss = Some(self.cfg.ingress_sample_meta_indicator);
        }
        if info.mode != self.cfg.mode {
            return v.then_drop(&mut self.stats, DropReason::ModeMismatch, n);
        }
        if let Some(want) = self.cfg.expected_vc {
            if info.vc != Some(want) {
                return v.then_drop(&mut self.stats, DropReason::VcMismatch, n);
            }
        }
        if !self.cfg.disable_ingress_acl {
            let tables = self.reader.tables();
            let found = tables.ingress_acl(info.spi, info.inner_src, info.inner_dst);
            match found {
                Ok(e) => self.reader.sessions().ingress_hit(e.slot, e.generation, n),
                Err(AclReject::UnknownSpi) => {
                    return v.then_drop(&mut self.stats, DropReason::AclUnknownSpi, n);
                }
                Err(AclReject::WrongSource) => {
                    return v.then_drop(&mut self.stats, DropReason::AclWrongSource, n);
                }
            }
        }
        self.stats.ingress_acl.hit(n);
        self.stats.fwd_to_unsecured.hit(n);
        v
    }
}

/// An ICMPv6 neighbour solicitation or advertisement (types 135, 136)
/// right after the IPv6 header, as NVIDIA's 3.x root sends to RSS.
fn is_nd(d: &[u8]) -> bool {
    match d.get(ETH..).map(Ipv6Packet::new_checked) {
        Some(Ok(ip)) => {
            ip.next_header() == ip_proto::ICMPV6
                && matches!(ip.payload().first(), Some(135) | Some(136))
        }
        _ => false,
    }
}
