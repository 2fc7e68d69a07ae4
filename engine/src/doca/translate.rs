//! The software pipeline as DOCA Flow pipes and entries: a pure-Rust
//! description, built from [`PipelineConfig`] and the flow programmer's
//! [`TableOp`]s, that `backend` turns into `doca_flow_*` structures. No FFI
//! here, so every rule can be tested without hardware.
//!
//! The pipes follow the layout of NVIDIA's DOCA 3.3 PSP Gateway
//! (`psp_gw_flows.cpp`, tunnel mode) under our names (the software
//! pipeline's counter names); `nvidia_3_3_*tests.rs` compare each with a
//! table written from NVIDIA's code:
//!
//! ```text
//! ingress_root_pipe (control, root of the default domain)
//!   uplink IPv4/IPv6 --> ingress_decrypt_pipe --> [ingress_sampling_pipe
//!     --S bit--> ingress_flood_ipv4/6_pipe: the ACL and a copy to rss_pipe]
//!     --> inner_ip_classifier_pipe --next header 4--> ingress_acl_pipe
//!                                  --next header 0x29--> ingress_src_ip6_pipe
//!                                      --> ingress_acl_ipv6_pipe
//!     ACL hit: decap --> VF;  classifier/ACL miss --> syndrome_stats_pipe (drop)
//!   VF IPv4/IPv6 --> empty_pipe (root of secure egress, by ether type and pkt_meta)
//!     IPv4 --> egress_acl_pipe; IPv6 --> egress_dst_ip6_pipe --> egress_acl_ipv6_pipe
//!     hit: encrypt + encap --> [egress_sampling_pipe: below the threshold, or
//!       the S bit and egress_flood_pipe: the wire and fwd_to_rss_pipe] --> uplink
//!     miss --> rss_pipe (the control plane)
//!   VF neighbour solicitations and ARP --> RSS; the rest dropped
//! ```
//!
//! Packets the control plane resubmits (`tx_burst` on the secure port in
//! expert mode) enter the secure egress domain at `empty_pipe`, as
//! NVIDIA's application's do at its `EGR_ROOT`.
//!
//! Key slots: DOCA Flow keeps PSP encryption keys in a bucket of shared
//! resources indexed by `crypto_id`; an egress entry names its key by
//! `crypto_id` and carries the PSP header (with the SPI) in its encap data.
//! [`Translator`] hands out `crypto_id`s per tunnel and reuses freed ones.
//! A replacement tunnel gets a fresh `crypto_id` (programmed first, then the
//! entry is updated, then the old id is released), so no packet is ever sent
//! with the new key under the old SPI.

use crate::pipeline::{OuterVersion, PipelineConfig, PortRole};
use crate::psp::decap::Syndrome;
use crate::psp::encap::{EncapConfig, EthAddrs, OuterIp};
use crate::psp::{Mode, Spi, UDP_PORT};
use crate::tables::TableOp;
use crate::wire::{
    MacAddr, ETHERNET_HEADER_LEN as ETH, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN,
};
use std::collections::HashMap;
use std::net::Ipv4Addr;

pub use super::ir::*;
pub use super::keys::*;

/// PSP's ICV length, the trailer the hardware appends.
pub const PSP_ICV_LEN: u16 = 16;
/// The S (sample) bit in the PSP header's `s_d_ver_v` byte.
pub const PSP_SAMPLE_BIT: u8 = 0x80;
/// The hardware's random parser field is 16 bits wide.
pub const MAX_LOG2_SAMPLE_RATE: u8 = 16;
const ETHERTYPE_ARP: u32 = 0x0806;
/// NVIDIA's ROOT size (its 9 entries and room).
const ROOT_ENTRIES: u32 = 12;
/// NVIDIA's MISS size in tunnel mode.
const MISS_ENTRIES: u32 = 7;
/// `DOCA_FLOW_L4_META_TCP` / `_UDP` / `_ESP` (`enum doca_flow_l4_meta`).
const L4_META_TCP: u32 = 1;
const L4_META_UDP: u32 = 2;
const L4_META_ESP: u32 = 4;
/// IPv6's next header for ICMPv6.
pub const IPPROTO_ICMPV6: u32 = 58;
/// ICMPv6 neighbour solicitation (`ND_NEIGHBOR_SOLICIT`).
pub const ND_NEIGHBOR_SOLICIT: u32 = 135;
const ETHERTYPE_IPV4: u16 = 0x0800;
/// NVIDIA's EGR_ROOT size (its ARP and neighbour-answer entries included).
const EGRESS_ROOT_ENTRIES: u32 = 4;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// One step of applying a commit to the hardware, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `doca_flow_port_shared_resource_set_cfg(port, PSP, id, key)`: write the
    /// tunnel's key into a key slot.
    ProgramKey {
        /// The slot.
        crypto_id: u32,
        /// The tunnel's destination.
        dst: Ipv4Addr,
        /// The tunnel's SPI (the egress entry's encap data carries it).
        spi: Spi,
        /// The key, as the slot receives it.
        key: PspKeyCfg,
    },
    /// `doca_flow_pipe_basic_add_entry` (or `_control_add_entry`).
    Add(DocaEntry),
    /// `doca_flow_pipe_basic_update_entry` of an existing entry's actions.
    Update(DocaEntry),
    /// `doca_flow_pipe_remove_entry`.
    Remove(EntryKey),
    /// `doca_flow_entries_process` until every queued change is done, then
    /// return these key slots to the free list.
    Flush {
        /// `crypto_id`s no entry uses any more.
        release: Vec<u32>,
    },
}

/// Why a configuration or a table change cannot be offloaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// `--inner-ip-type ipv6`: the IPv6 pipes are built but get no entries yet.
    #[error("--inner-ip-type ipv6: the DOCA Flow translation fills no inner IPv6 entries yet")]
    InnerIpv6,
    /// An entry with an IPv6 inner address.
    #[error("{0}: inner IPv6 addresses are not offloaded")]
    Ipv6Entry(std::net::IpAddr),
    /// `--mode transport`: the translation builds tunnel-mode pipes only.
    #[error("--mode transport: the DOCA Flow translation builds tunnel-mode pipes only")]
    TransportMode,
    /// The hardware's random field has 16 bits.
    #[error("--sample-rate {0}: DOCA Flow samples with a 16-bit random field (at most 16)")]
    SampleRate(u8),
    /// `--maintain-order` sent unsampled packets through a mirror of their
    /// own; DOCA 3.0 removed mirrors and NVIDIA's 3.3 application has no
    /// such mode.
    #[error("--maintain-order: not offloaded on DOCA 3.x (it used mirrors, which DOCA 3.0 removed; NVIDIA's 3.3 application has no such mode)")]
    MaintainOrder,
    /// More tunnels than key slots.
    #[error("no free crypto_id for the tunnel to {0} ({1} key slots)")]
    NoCryptoId(Ipv4Addr, u32),
    /// A tunnel op without its raw key: hardware key slots need the bytes,
    /// the expanded software key cannot be read back.
    #[error("tunnel to {0} (SPI {1}): no raw key for its hardware key slot")]
    NoKey(Ipv4Addr, Spi),
    /// The raw key's length does not match the tunnel's PSP version.
    #[error("tunnel to {dst} (SPI {spi}): {got}-byte key for a version that takes {want}")]
    KeyLength {
        /// Destination.
        dst: Ipv4Addr,
        /// SPI.
        spi: Spi,
        /// Bytes given.
        got: usize,
        /// Bytes the version takes.
        want: usize,
    },
    /// A crypt offset, VC or version the encap data cannot express.
    #[error("tunnel to {dst}: {why}")]
    Encap {
        /// Destination.
        dst: Ipv4Addr,
        /// What is wrong.
        why: &'static str,
    },
}

/// The two DPDK/DOCA ports and the addresses the hardware writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocaPorts {
    /// Port id of the secure uplink (the PF).
    pub secure: u16,
    /// Port id of the unsecured side (the VF representor).
    pub unsecured: u16,
    /// MAC of the secure port: source of encapsulated and decapsulated frames.
    pub secure_mac: MacAddr,
    /// MAC of the unsecured side: destination of decapsulated frames when
    /// `--decap-dmac` is not given.
    pub unsecured_mac: MacAddr,
    /// Next-hop MAC on the uplink, for tunnels whose encap config leaves
    /// the Ethernet addresses to the input frame (hardware cannot copy them).
    pub next_hop_mac: MacAddr,
}

/// A [`Translator`]'s state at one point (see [`Translator::checkpoint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    ids: CryptoIds,
    tunnels: HashMap<(Ipv4Addr, Ipv4Addr), (u32, Spi)>,
    pending_release: Vec<u32>,
}

/// Builds the pipes and turns table changes into [`Step`]s; remembers each
/// tunnel's key slot.
#[derive(Debug)]
pub struct Translator {
    cfg: PipelineConfig,
    ports: DocaPorts,
    ids: CryptoIds,
    /// (src, dst) -> (crypto_id, SPI) of the installed egress entries.
    tunnels: HashMap<(Ipv4Addr, Ipv4Addr), (u32, Spi)>,
    /// Slots freed by the steps handed out but not yet flushed.
    pending_release: Vec<u32>,
}

impl Translator {
    /// A translator for `cfg`; key slots: `max_tunnels` plus one spare
    /// (a replacement needs its new slot before the old one is free).
    pub fn new(cfg: PipelineConfig, ports: DocaPorts) -> Result<Translator, TranslateError> {
        if cfg.log2_sample_rate > MAX_LOG2_SAMPLE_RATE {
            return Err(TranslateError::SampleRate(cfg.log2_sample_rate));
        }
        if cfg.maintain_order && cfg.log2_sample_rate > 0 {
            return Err(TranslateError::MaintainOrder);
        }
        if cfg.mode == crate::psp::Mode::Transport {
            return Err(TranslateError::TransportMode);
        }
        if cfg.inner == crate::pipeline::InnerVersion::Ipv6 {
            return Err(TranslateError::InnerIpv6);
        }
        let slots = u32::try_from(cfg.max_tunnels).unwrap_or(u32::MAX - 1) + 1;
        Ok(Translator {
            cfg,
            ports,
            ids: CryptoIds::new(slots),
            tunnels: HashMap::new(),
            pending_release: Vec::new(),
        })
    }

    /// The key slots to bind to the secure port.
    pub fn crypto_ids(&self) -> &CryptoIds {
        &self.ids
    }

    /// The key slot of the tunnel from `src` to `dst`.
    pub fn crypto_id(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Option<u32> {
        self.tunnels.get(&(src, dst)).map(|t| t.0)
    }

    fn sampling(&self) -> bool {
        self.cfg.log2_sample_rate > 0
    }

    /// The translator's state (key slots, tunnels, slots to release), to
    /// put back with [`restore`](Translator::restore) when the hardware
    /// refuses a commit after it was translated.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            ids: self.ids.clone(),
            tunnels: self.tunnels.clone(),
            pending_release: self.pending_release.clone(),
        }
    }

    /// Puts back the state of a [`checkpoint`](Translator::checkpoint).
    pub fn restore(&mut self, c: Checkpoint) {
        (self.ids, self.tunnels, self.pending_release) = (c.ids, c.tunnels, c.pending_release);
    }

    /// Turns one commit's table changes into hardware steps, ending with a
    /// flush. All or nothing: on error nothing in `ops` is remembered.
    pub fn translate(&mut self, ops: &[TableOp]) -> Result<Vec<Step>, TranslateError> {
        let saved = self.checkpoint();
        self.translate_inner(ops).inspect_err(|_| self.restore(saved))
    }

    fn translate_inner(&mut self, ops: &[TableOp]) -> Result<Vec<Step>, TranslateError> {
        /// The entries match inner IPv4 only (see [`TranslateError::InnerIpv6`]).
        fn v4(ip: &std::net::IpAddr) -> Result<Ipv4Addr, TranslateError> {
            match ip {
                std::net::IpAddr::V4(a) => Ok(*a),
                std::net::IpAddr::V6(_) => Err(TranslateError::Ipv6Entry(*ip)),
            }
        }
        let mut steps = Vec::with_capacity(ops.len() + 1);
        for op in ops {
            match op {
                TableOp::SetTunnel(pair, e, hw_key) => {
                    let (src, dst) = (v4(&pair.src)?, &v4(&pair.dst)?);
                    let cfg = e.encap.config();
                    let encap_data = self.encap_data(*dst, cfg)?;
                    if cfg.vc.is_some() != self.cfg.expected_vc.is_some() {
                        // The template's length is the hardware's: with
                        // a VC exactly when --cookie is on.
                        return Err(TranslateError::Encap {
                            dst: *dst,
                            why: "a virtualization cookie on a tunnel exactly when --cookie is on",
                        });
                    }
                    let raw = hw_key.as_ref().ok_or(TranslateError::NoKey(*dst, cfg.spi))?;
                    let (got, want) = (raw.as_bytes().len(), cfg.version.key_len());
                    let key = PspKeyCfg::new(raw.as_bytes())
                        .filter(|_| got == want)
                        .ok_or(TranslateError::KeyLength { dst: *dst, spi: cfg.spi, got, want })?;
                    let crypto_id = match self.ids.alloc() {
                        Some(id) => id,
                        None if !self.pending_release.is_empty() => {
                            // Make the slots of earlier removals usable.
                            let release = std::mem::take(&mut self.pending_release);
                            release.iter().for_each(|&id| self.ids.release(id));
                            steps.push(Step::Flush { release });
                            self.ids.alloc().expect("a slot was just released")
                        }
                        None => return Err(TranslateError::NoCryptoId(*dst, self.ids.max())),
                    };
                    steps.push(Step::ProgramKey { crypto_id, dst: *dst, spi: cfg.spi, key });
                    // NVIDIA's add_encrypt_entry: the ENCAP_ENCRYPT entry at
                    // the slot's index (list 0 into IPv4, 1 into IPv6), then
                    // the match entry forwarding to it.
                    let action_idx = match cfg.outer {
                        OuterIp::V4 { .. } => 0,
                        OuterIp::V6 { .. } => 1,
                    };
                    steps.push(Step::Add(DocaEntry {
                        pipe: PipeId::EncapEncrypt,
                        key: EntryKey::Crypto(crypto_id),
                        priority: 0,
                        matches: Vec::new(),
                        action: EntryAction::Encrypt { action_idx, crypto_id, encap_data },
                        fwd: Some(self.to_wire()),
                        condition: None,
                        counter: "",
                    }));
                    let entry = DocaEntry {
                        pipe: PipeId::EgressAcl,
                        key: EntryKey::Tunnel(src, *dst),
                        priority: 0,
                        matches: vec![
                            (Field::OuterIp4Dst, Value::Exact(u32::from(*dst))),
                            (Field::OuterIp4Src, Value::Exact(u32::from(src))),
                        ],
                        action: EntryAction::Template,
                        fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, Some(crypto_id))),
                        condition: None,
                        counter: "egress_acl",
                    };
                    match self.tunnels.insert((src, *dst), (crypto_id, cfg.spi)) {
                        Some((old, _)) => {
                            // Hitless: the match entry moves to the new
                            // slot's entry, then the old one goes.
                            steps.push(Step::Update(entry));
                            steps.push(Step::Remove(EntryKey::Crypto(old)));
                            self.pending_release.push(old);
                        }
                        None => steps.push(Step::Add(entry)),
                    }
                }
                TableOp::DelTunnel(pair) => {
                    let (src, dst) = (v4(&pair.src)?, v4(&pair.dst)?);
                    if let Some((old, _)) = self.tunnels.remove(&(src, dst)) {
                        steps.push(Step::Remove(EntryKey::Tunnel(src, dst)));
                        steps.push(Step::Remove(EntryKey::Crypto(old)));
                        self.pending_release.push(old);
                    }
                }
                TableOp::SetAcl(spi, pair, _) => {
                    let (src, dst) = (v4(&pair.src)?, v4(&pair.dst)?);
                    if self.cfg.disable_ingress_acl {
                        continue;
                    }
                    steps.push(Step::Add(DocaEntry {
                        pipe: PipeId::IngressAcl,
                        key: EntryKey::Acl(*spi, src, dst),
                        priority: 0,
                        matches: vec![
                            (Field::PspSyndrome, Value::Exact(0)),
                            (Field::PspSpi, Value::Exact(spi.0)),
                            (Field::InnerIp4Src, Value::Exact(u32::from(src))),
                            (Field::InnerIp4Dst, Value::Exact(u32::from(dst))),
                        ],
                        action: EntryAction::Template,
                        fwd: Some(Fwd::OrderedList(PipeId::Decap, Some(0))),
                        condition: None,
                        counter: "ingress_acl",
                    }));
                }
                TableOp::DelAcl(spi, pair) => {
                    let (src, dst) = (v4(&pair.src)?, v4(&pair.dst)?);
                    if !self.cfg.disable_ingress_acl {
                        steps.push(Step::Remove(EntryKey::Acl(*spi, src, dst)));
                    }
                }
            }
        }
        let release = std::mem::take(&mut self.pending_release);
        release.iter().for_each(|&id| self.ids.release(id));
        steps.push(Step::Flush { release });
        Ok(steps)
    }

    /// The encap data of a tunnel: exactly the bytes the software
    /// encapsulator prepends, with the per-packet fields (IP lengths and
    /// IPv4 checksum, traffic class / flow label, UDP source port and
    /// length, IV, S bit) as its template leaves them: zero, except the
    /// IPv4 checksum computed over the zero-length header. The hardware
    /// fills in lengths, checksum and IV.
    pub fn encap_data(&self, dst: Ipv4Addr, cfg: &EncapConfig) -> Result<Vec<u8>, TranslateError> {
        if cfg.mode != Mode::Tunnel {
            return Err(TranslateError::Encap {
                dst,
                why: "transport mode is not offloaded (the egress ACL pipe encaps tunnels)",
            });
        }
        if cfg.crypt_offset > crate::psp::MAX_CRYPT_OFFSET {
            return Err(TranslateError::Encap { dst, why: "crypt offset above 63" });
        }
        let outer = match cfg.outer {
            OuterIp::V6 { .. } => OuterVersion::Ipv6,
            OuterIp::V4 { .. } => OuterVersion::Ipv4,
        };
        let eth = cfg
            .eth
            .unwrap_or(EthAddrs { src: self.ports.secure_mac, dst: self.ports.next_hop_mac });
        let b = EncapConfig { eth: Some(eth), ..cfg.clone() }.tunnel_header_template();
        debug_assert_eq!(b.len(), encap_len(Mode::Tunnel, outer, cfg.vc.is_some()));
        Ok(b)
    }
}

/// Entry counters of the NIC's pipes with no software [`crate::pipeline::PipeStats`]
/// counterpart (printed under their own names).
pub const NIC_ONLY_COUNTERS: &[&str] = &[
    "vf_ns_to_rss",
    "ingress_ipv6_classify",
    "ingress_ipv4_classify",
    "fwd_to_rss",
    "flood_to_datapath",
    "flood_to_rss",
    "ingress_not_sampled",
    "fwd_egress_acl_ipv4",
    "fwd_egress_acl_ipv6",
    "miss_to_egress_ipv6_icmp",
];

/// The syndrome bits the hardware reports (`enum doca_flow_crypto_syndrome`:
/// ICV failure and bad trailer); the software's other syndromes have no
/// hardware counter.
pub const SYNDROMES: [Syndrome; 2] = [Syndrome::IcvFail, Syndrome::BadTrailer];

/// Length of the encap data: Ethernet, outer IP (tunnel mode), UDP, PSP
/// and the optional VC.
pub const fn encap_len(mode: Mode, outer: OuterVersion, vc: bool) -> usize {
    let ip = match (mode, outer) {
        (Mode::Transport, _) => 0,
        (Mode::Tunnel, OuterVersion::Ipv6) => IPV6_HEADER_LEN,
        (Mode::Tunnel, OuterVersion::Ipv4) => IPV4_MIN_HEADER_LEN,
    };
    let vc = if vc { crate::psp::VC_LEN } else { 0 };
    ETH + ip + UDP_HEADER_LEN + crate::psp::HEADER_LEN + vc
}

#[path = "translate_pipes.rs"]
mod pipes;

#[path = "translate_entries.rs"]
mod entries;

#[cfg(test)]
#[path = "translate_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "nvidia_3_3_tests.rs"]
mod nvidia_3_3_tests;
