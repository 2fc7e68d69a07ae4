//! The software pipeline as DOCA Flow pipes and entries: a pure-Rust
//! description, built from [`PipelineConfig`] and the flow programmer's
//! [`TableOp`]s, that `backend` turns into `doca_flow_*` structures. No FFI
//! here, so every rule can be tested without hardware.
//!
//! The pipes carry the DOCA PSP Gateway application's names (the same names
//! the software pipeline and its counters use) and its layout:
//!
//! ```text
//! ingress_root_pipe (control, root) --secure port, IPv4/IPv6--> ingress_decrypt_pipe
//!   --> [ingress_sampling_pipe] --> ingress_acl_pipe --> unsecured port
//!                                    miss --> syndrome_stats_pipe (drop)
//! ingress_root_pipe --unsecured port, IPv4/IPv6--> secure port egress root: empty_pipe
//!   --> egress_acl_pipe --> [egress_sampling_pipe | miss: empty_pipe_not_sampled]
//!   --> secure port;  egress_acl_pipe miss --> rss_pipe (the control plane)
//! ```
//!
//! Packets the control plane resubmits (`tx_burst` on the secure port in
//! expert mode) enter the egress domain at `empty_pipe`, exactly as the
//! software pipeline sends `Port::Rss` packets down the host-to-net path.
//!
//! Key slots: DOCA Flow keeps PSP encryption keys in a bucket of shared
//! resources indexed by `crypto_id`; an egress entry names its key by
//! `crypto_id` and carries the PSP header (with the SPI) in its encap data.
//! [`Translator`] hands out `crypto_id`s per tunnel and reuses freed ones.
//! A replacement tunnel gets a fresh `crypto_id` (programmed first, then the
//! entry is updated, then the old id is released), so no packet is ever sent
//! with the new key under the old SPI.

use crate::pipeline::{OuterVersion, PipelineConfig, Port, TableOp};
use crate::psp::decap::Syndrome;
use crate::psp::encap::{EncapConfig, EthAddrs, OuterIp};
use crate::psp::{Mode, Spi, UDP_PORT};
use crate::wire::{
    MacAddr, ETHERNET_HEADER_LEN as ETH, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN,
};
use core::fmt;
use std::collections::HashMap;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// PSP's ICV length, the trailer the hardware appends.
pub const PSP_ICV_LEN: u16 = 16;
/// The S (sample) bit in the PSP header's `s_d_ver_v` byte.
pub const PSP_SAMPLE_BIT: u8 = 0x80;
/// The hardware's random parser field is 16 bits wide.
pub const MAX_LOG2_SAMPLE_RATE: u8 = 16;
const ETHERTYPE_ARP: u32 = 0x0806;
/// The ingress root's entries: IPv4 and IPv6 from each port, ARP from the
/// unsecured port, and the default drop.
const ROOT_ENTRIES: u32 = 6;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// The pipes, named as in the DOCA application and the software pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PipeId {
    /// `rss_pipe`: to the control plane's queues.
    Rss,
    /// `ingress_root_pipe`: the root of the default domain.
    IngressRoot,
    /// `ingress_decrypt_pipe`.
    IngressDecrypt,
    /// `ingress_sampling_pipe` (only with sampling).
    IngressSampling,
    /// `ingress_acl_pipe`.
    IngressAcl,
    /// `syndrome_stats_pipe`.
    SyndromeStats,
    /// `empty_pipe`: the secure port's egress root, in front of the egress ACL.
    Empty,
    /// `egress_acl_pipe`.
    EgressAcl,
    /// `egress_sampling_pipe` (only with sampling).
    EgressSampling,
    /// `empty_pipe_not_sampled` (only with sampling).
    EmptyNotSampled,
}

impl PipeId {
    /// The pipe's name (DOCA application, software pipeline and counters).
    pub const fn name(self) -> &'static str {
        match self {
            PipeId::Rss => "rss_pipe",
            PipeId::IngressRoot => "ingress_root_pipe",
            PipeId::IngressDecrypt => "ingress_decrypt_pipe",
            PipeId::IngressSampling => "ingress_sampling_pipe",
            PipeId::IngressAcl => "ingress_acl_pipe",
            PipeId::SyndromeStats => "syndrome_stats_pipe",
            PipeId::Empty => "empty_pipe",
            PipeId::EgressAcl => "egress_acl_pipe",
            PipeId::EgressSampling => "egress_sampling_pipe",
            PipeId::EmptyNotSampled => "empty_pipe_not_sampled",
        }
    }
}

/// DOCA Flow steering domain (`enum doca_flow_pipe_domain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// `DOCA_FLOW_PIPE_DOMAIN_DEFAULT`.
    Default,
    /// `DOCA_FLOW_PIPE_DOMAIN_SECURE_INGRESS`.
    SecureIngress,
    /// `DOCA_FLOW_PIPE_DOMAIN_EGRESS`.
    Egress,
    /// `DOCA_FLOW_PIPE_DOMAIN_SECURE_EGRESS`.
    SecureEgress,
}

/// Direction hint (`enum doca_flow_direction_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// No hint.
    Any,
    /// `DOCA_FLOW_DIRECTION_NETWORK_TO_HOST`.
    NetToHost,
    /// `DOCA_FLOW_DIRECTION_HOST_TO_NETWORK`.
    HostToNet,
}

/// Pipe type (`enum doca_flow_pipe_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeType {
    /// Exact match with one match template.
    Basic,
    /// Per-entry match and mask, with priorities.
    Control,
}

/// A matched field of `struct doca_flow_match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `parser_meta.port_id`: the port the packet came from.
    PortId,
    /// `outer.eth.type`.
    OuterEthType,
    /// `parser_meta.outer_l3_ok`.
    OuterL3Ok,
    /// `parser_meta.outer_ip4_checksum_ok`.
    OuterIp4ChecksumOk,
    /// `parser_meta.outer_l4_type` = UDP and `outer.l4_type_ext` = UDP.
    OuterUdp,
    /// `outer.udp.l4_port.dst_port`.
    OuterUdpDstPort,
    /// `outer.l3_type` = IPv4 (and `parser_meta.outer_l3_type`).
    OuterIp4,
    /// `outer.ip4.dst_ip` (before encap, the packet's only IP header).
    OuterIp4Dst,
    /// `parser_meta.random` (16 bits).
    Random,
    /// `parser_meta.psp_syndrome`.
    PspSyndrome,
    /// `tun.type` = PSP.
    TunPsp,
    /// `tun.psp.spi`.
    PspSpi,
    /// `tun.psp.s_d_ver_v`.
    PspSDVerV,
    /// `inner.l3_type` = IPv4.
    InnerIp4,
    /// `inner.ip4.src_ip`.
    InnerIp4Src,
    /// `parser_meta.outer_l3_type` (`enum doca_flow_l3_meta`: 1 IPv4, 2
    /// IPv6).
    OuterL3Meta,
}

/// `DOCA_FLOW_L3_META_IPV4` / `_IPV6` (`enum doca_flow_l3_meta`).
pub const L3_META_IPV4: u32 = 1;
/// See [`L3_META_IPV4`].
pub const L3_META_IPV6: u32 = 2;

/// How a pipe matches a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// The same value for every entry.
    Exact(u32),
    /// The same value under a mask for every entry.
    Masked {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
    },
    /// Each entry gives the value (the pipe's match is all ones).
    PerEntry,
}

/// Where packets go (`struct doca_flow_fwd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fwd {
    /// `DOCA_FLOW_FWD_PORT` to the secure or the unsecured port.
    Port(Port),
    /// `DOCA_FLOW_FWD_PIPE`.
    Pipe(PipeId),
    /// `DOCA_FLOW_FWD_RSS` to the control plane's queues, each entry
    /// choosing its hash (a pipe's forward: `nr_queues = -1`, as NVIDIA's
    /// `RSS_PIPE`).
    RssPerEntry,
    /// `DOCA_FLOW_FWD_RSS`, hashing on the outer IPv4 header.
    RssIpv4,
    /// `DOCA_FLOW_FWD_RSS`, hashing on the outer IPv6 header.
    RssIpv6,
    /// `DOCA_FLOW_FWD_DROP`.
    Drop,
}

/// A pipe's action template (`struct doca_flow_actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipeAction {
    /// PSP encrypt with the entry's `crypto_id` and prepend the entry's
    /// encap data (`crypto_encap`, `DOCA_FLOW_CRYPTO_REFORMAT_ENCAP`).
    EncryptEncap {
        /// Outer IP version of this template's encap data.
        outer: OuterVersion,
        /// Tunnel (`PSP_TUNNEL`) or transport (`PSP_OVER_IPV4/6`).
        mode: Mode,
        /// Encap data length with a virtualization cookie.
        len_with_vc: u16,
    },
    /// PSP decrypt (`DOCA_FLOW_PSP_DECRYPTION_ID`).
    Decrypt,
    /// Remove the outer headers and write this Ethernet header.
    DecapL2 {
        /// Destination MAC (`--decap-dmac`, or the unsecured port's MAC).
        dst: MacAddr,
        /// Source MAC (the secure port's).
        src: MacAddr,
    },
    /// Set `meta.pkt_meta` (the sampling sentinel), and the S bit if asked.
    SetMeta {
        /// Metadata value.
        pkt_meta: u32,
        /// Also set the PSP S bit.
        sample_bit: bool,
    },
}

/// A shared mirror resource a pipe's monitor uses (DOCA 2.x; removed in
/// 3.0, so the backend refuses a spec that has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirror {
    /// Copy to RSS.
    ToRss,
    /// `--maintain-order`: a mirror with a drop target, so unsampled
    /// packets take the same path length as sampled ones.
    Drop,
}

/// One DOCA Flow pipe, as `doca_flow_pipe_cfg_*` and `doca_flow_pipe_create`
/// receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocaPipeSpec {
    /// Which pipe.
    pub id: PipeId,
    /// `doca_flow_pipe_cfg_set_name`.
    pub name: &'static str,
    /// Basic or control.
    pub kind: PipeType,
    /// Steering domain.
    pub domain: Domain,
    /// Direction hint.
    pub direction: Direction,
    /// Root of its domain.
    pub is_root: bool,
    /// `doca_flow_pipe_cfg_set_nr_entries`.
    pub nr_entries: u32,
    /// The match template (control pipes: empty, entries bring their own).
    pub matches: Vec<(Field, Value)>,
    /// Action templates, indexed by an entry's `action_idx`.
    pub actions: Vec<PipeAction>,
    /// Shared mirror in the monitor.
    pub mirror: Option<Mirror>,
    /// Forward on match (`None`: per entry).
    pub fwd: Option<Fwd>,
    /// Forward on miss (`None`: DOCA's default, drop).
    pub fwd_miss: Option<Fwd>,
    /// Count misses (`doca_flow_pipe_cfg_set_miss_counter`).
    pub miss_counter: bool,
}

/// What identifies an entry, to remove or update it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKey {
    /// A fixed entry the backend adds at start: its pipe and index.
    Static(PipeId, u8),
    /// The egress ACL entry of an inner destination.
    Tunnel(IpAddr),
    /// An ingress ACL pair.
    Acl(Spi, IpAddr),
    /// The syndrome stats entry of one syndrome bit.
    Syndrome(Syndrome),
}

/// An entry's per-entry action values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAction {
    /// The pipe's template as is (or no action).
    Template,
    /// Encrypt with a key slot and prepend this encap data.
    Encrypt {
        /// The pipe action template (`actions.action_idx`).
        action_idx: u8,
        /// `actions.crypto.crypto_id`.
        crypto_id: u32,
        /// `actions.crypto_encap.encap_data` (and `data_size`).
        encap_data: Vec<u8>,
    },
}

/// One `doca_flow_pipe_basic_add_entry` (or `_control_add_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocaEntry {
    /// The pipe.
    pub pipe: PipeId,
    /// Its identity.
    pub key: EntryKey,
    /// Control pipes: priority (lower first).
    pub priority: u32,
    /// Match values (control pipes: with masks).
    pub matches: Vec<(Field, Value)>,
    /// Action values.
    pub action: EntryAction,
    /// Control pipes: where the entry forwards.
    pub fwd: Option<Fwd>,
    /// The [`crate::pipeline::PipeStats`] counter (or per-entry counter
    /// family) this entry's hardware counter feeds.
    pub counter: &'static str,
}

/// DOCA's key sizes (`enum doca_flow_crypto_key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBits {
    /// `DOCA_FLOW_CRYPTO_KEY_128` (PSP versions 0 and 2).
    K128,
    /// `DOCA_FLOW_CRYPTO_KEY_256` (PSP versions 1 and 3).
    K256,
}

/// What `doca_flow_port_shared_resource_set_cfg(port, DOCA_FLOW_SHARED_RESOURCE_PSP,
/// crypto_id, cfg)` writes into a key slot: `cfg.psp_cfg.key_cfg`, its key
/// type and the `uint32_t` words its `key` member points to.
///
/// DOCA takes the key as bytes in memory order: the DOCA application copies
/// the bytes it receives over gRPC straight into these words, and hands out
/// the words of `doca_flow_crypto_psp_spi_key_bulk_get` as bytes. So word
/// `i` holds key bytes `4i..4i+4` in native byte order. Wiped on drop,
/// redacted in `Debug`.
#[derive(Clone)]
pub struct PspKeyCfg {
    bits: KeyBits,
    words: Zeroizing<[u32; 8]>,
}

impl PspKeyCfg {
    /// The slot image of a 16- or 32-byte key; `None` for other lengths.
    pub fn new(key: &[u8]) -> Option<PspKeyCfg> {
        let bits = match key.len() {
            16 => KeyBits::K128,
            32 => KeyBits::K256,
            _ => return None,
        };
        let mut words = Zeroizing::new([0u32; 8]);
        for (w, c) in words.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
        }
        Some(PspKeyCfg { bits, words })
    }

    /// `key_cfg.key_type`.
    pub fn bits(&self) -> KeyBits {
        self.bits
    }

    /// The words `key_cfg.key` points to (4 or 8 of them; the array
    /// behind them is always 8 long, zero-padded).
    pub fn words(&self) -> &[u32] {
        let n = match self.bits {
            KeyBits::K128 => 4,
            KeyBits::K256 => 8,
        };
        &self.words[..n]
    }

    /// A wiped-on-drop copy of all 8 words, for the FFI call (which wants a
    /// mutable pointer).
    pub fn words_copy(&self) -> Zeroizing<[u32; 8]> {
        self.words.clone()
    }
}

/// Compares without an early exit (test use; keys are never compared on a
/// path an attacker can time, but there is no reason to leak either).
impl PartialEq for PspKeyCfg {
    fn eq(&self, other: &PspKeyCfg) -> bool {
        let diff = self.words.iter().zip(other.words.iter()).fold(0u32, |d, (a, b)| d | (a ^ b));
        self.bits == other.bits && diff == 0
    }
}

impl Eq for PspKeyCfg {}

impl fmt::Debug for PspKeyCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PspKeyCfg({:?}, <redacted>)", self.bits)
    }
}

/// One step of applying a commit to the hardware, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `doca_flow_port_shared_resource_set_cfg(port, PSP, id, key)`: write the
    /// tunnel's key into a key slot.
    ProgramKey {
        /// The slot.
        crypto_id: u32,
        /// The tunnel's destination.
        dst: IpAddr,
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
    /// `--inner-ip-type ipv6`: no IPv6 classifier or ACL pipes yet.
    #[error("--inner-ip-type ipv6: the DOCA Flow translation has no inner IPv6 pipes yet")]
    InnerIpv6,
    /// An entry with an IPv6 inner address.
    #[error("{0}: inner IPv6 addresses are not offloaded")]
    Ipv6Entry(IpAddr),
    /// `--mode transport`: the translation builds tunnel-mode pipes only.
    #[error("--mode transport: the DOCA Flow translation builds tunnel-mode pipes only")]
    TransportMode,
    /// The hardware's random field has 16 bits.
    #[error("--sample-rate {0}: DOCA Flow samples with a 16-bit random field (at most 16)")]
    SampleRate(u8),
    /// More tunnels than key slots.
    #[error("no free crypto_id for the tunnel to {0} ({1} key slots)")]
    NoCryptoId(IpAddr, u32),
    /// A tunnel op without its raw key: hardware key slots need the bytes,
    /// the expanded software key cannot be read back.
    #[error("tunnel to {0} (SPI {1}): no raw key for its hardware key slot")]
    NoKey(IpAddr, Spi),
    /// The raw key's length does not match the tunnel's PSP version.
    #[error("tunnel to {dst} (SPI {spi}): {got}-byte key for a version that takes {want}")]
    KeyLength {
        /// Destination.
        dst: IpAddr,
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
        dst: IpAddr,
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

/// The key-slot allocator: `crypto_id`s 1..=n, freed ones reused first.
#[derive(Debug, Clone)]
pub struct CryptoIds {
    free: Vec<u32>,
    next: u32,
    max: u32,
}

impl CryptoIds {
    /// Slots 1..=`max`.
    pub fn new(max: u32) -> CryptoIds {
        CryptoIds { free: Vec::new(), next: 1, max }
    }

    /// A free slot, the most recently freed first.
    pub fn alloc(&mut self) -> Option<u32> {
        self.free.pop().or_else(|| {
            (self.next <= self.max).then(|| {
                self.next += 1;
                self.next - 1
            })
        })
    }

    /// Gives a slot back.
    pub fn release(&mut self, id: u32) {
        self.free.push(id);
    }

    /// Every slot, to bind to the secure port at start.
    pub fn all(&self) -> impl Iterator<Item = u32> {
        1..=self.max
    }
}

/// Builds the pipes and turns table changes into [`Step`]s; remembers each
/// tunnel's key slot.
#[derive(Debug)]
pub struct Translator {
    cfg: PipelineConfig,
    ports: DocaPorts,
    ids: CryptoIds,
    /// dst -> (crypto_id, SPI) of the installed egress entries.
    tunnels: HashMap<IpAddr, (u32, Spi)>,
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

    /// The key slot of the tunnel to `dst`.
    pub fn crypto_id(&self, dst: IpAddr) -> Option<u32> {
        self.tunnels.get(&dst).map(|t| t.0)
    }

    fn sampling(&self) -> bool {
        self.cfg.log2_sample_rate > 0
    }

    /// The `parser_meta.random` mask of egress sampling: 1 in 2^N packets
    /// match `random & mask == 0`, as in the software pipeline.
    pub fn sample_mask(log2_rate: u8) -> u16 {
        match log2_rate {
            0 => 0,
            n if n >= 16 => u16::MAX,
            n => (1u16 << n) - 1,
        }
    }

    /// Every pipe, in creation order (a pipe after those it forwards to).
    pub fn pipes(&self) -> Vec<DocaPipeSpec> {
        let c = &self.cfg;
        let sampling = self.sampling();
        let basic = |id: PipeId, domain, direction| DocaPipeSpec {
            id,
            name: id.name(),
            kind: PipeType::Basic,
            domain,
            direction,
            is_root: false,
            nr_entries: 1,
            matches: Vec::new(),
            actions: Vec::new(),
            mirror: None,
            fwd: None,
            fwd_miss: None,
            miss_counter: false,
        };
        let mut v = Vec::new();
        v.push(DocaPipeSpec {
            nr_entries: 2,
            matches: vec![(Field::OuterL3Meta, Value::PerEntry)],
            fwd: Some(Fwd::RssPerEntry),
            ..basic(PipeId::Rss, Domain::Egress, Direction::Any)
        });
        v.push(DocaPipeSpec {
            nr_entries: SYNDROMES.len() as u32,
            matches: vec![(Field::PspSyndrome, Value::PerEntry)],
            fwd: Some(Fwd::Drop),
            fwd_miss: Some(Fwd::Drop),
            miss_counter: true,
            ..basic(PipeId::SyndromeStats, Domain::SecureIngress, Direction::NetToHost)
        });
        let acl_matches = if c.disable_ingress_acl {
            vec![(Field::PspSyndrome, Value::PerEntry)]
        } else {
            vec![
                (Field::PspSyndrome, Value::PerEntry),
                (Field::TunPsp, Value::Exact(1)),
                (Field::PspSpi, Value::PerEntry),
                (Field::InnerIp4, Value::Exact(1)),
                (Field::InnerIp4Src, Value::PerEntry),
            ]
        };
        v.push(DocaPipeSpec {
            nr_entries: if c.disable_ingress_acl { 1 } else { c.max_acl_entries as u32 },
            matches: acl_matches,
            actions: vec![PipeAction::DecapL2 {
                dst: c.decap_dmac.unwrap_or(self.ports.unsecured_mac),
                src: self.ports.secure_mac,
            }],
            fwd: Some(Fwd::Port(Port::Unsecured)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::IngressAcl, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            v.push(DocaPipeSpec {
                matches: vec![
                    (Field::TunPsp, Value::Exact(1)),
                    (
                        Field::PspSDVerV,
                        Value::Masked {
                            value: u32::from(PSP_SAMPLE_BIT),
                            mask: u32::from(PSP_SAMPLE_BIT),
                        },
                    ),
                ],
                actions: vec![PipeAction::SetMeta {
                    pkt_meta: c.ingress_sample_meta_indicator,
                    sample_bit: false,
                }],
                mirror: Some(Mirror::ToRss),
                fwd: Some(Fwd::Pipe(PipeId::IngressAcl)),
                fwd_miss: Some(Fwd::Pipe(PipeId::IngressAcl)),
                miss_counter: true,
                ..basic(PipeId::IngressSampling, Domain::SecureIngress, Direction::NetToHost)
            });
        }
        let after_decrypt = if sampling { PipeId::IngressSampling } else { PipeId::IngressAcl };
        v.push(DocaPipeSpec {
            matches: vec![
                (Field::PortId, Value::PerEntry),
                (Field::OuterUdp, Value::Exact(1)),
                (Field::OuterUdpDstPort, Value::Exact(u32::from(UDP_PORT))),
            ],
            actions: vec![PipeAction::Decrypt],
            fwd: Some(Fwd::Pipe(after_decrypt)),
            fwd_miss: Some(Fwd::Drop),
            miss_counter: true,
            ..basic(PipeId::IngressDecrypt, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            v.push(DocaPipeSpec {
                mirror: c.maintain_order.then_some(Mirror::Drop),
                fwd: Some(Fwd::Port(Port::Secure)),
                ..basic(PipeId::EmptyNotSampled, Domain::Egress, Direction::HostToNet)
            });
            let mask = u32::from(Self::sample_mask(c.log2_sample_rate));
            v.push(DocaPipeSpec {
                matches: vec![(Field::Random, Value::Masked { value: 0, mask })],
                actions: vec![PipeAction::SetMeta {
                    pkt_meta: c.egress_sample_meta_indicator,
                    sample_bit: true,
                }],
                mirror: Some(Mirror::ToRss),
                fwd: Some(Fwd::Port(Port::Secure)),
                fwd_miss: Some(Fwd::Pipe(PipeId::EmptyNotSampled)),
                miss_counter: true,
                ..basic(PipeId::EgressSampling, Domain::SecureEgress, Direction::HostToNet)
            });
        }
        let mut actions = Vec::new();
        for outer in [OuterVersion::Ipv6, OuterVersion::Ipv4] {
            actions.push(PipeAction::EncryptEncap {
                outer,
                mode: Mode::Tunnel,
                len_with_vc: encap_len(Mode::Tunnel, outer, true) as u16,
            });
        }
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp4, Value::Exact(1)),
                (Field::OuterIp4Dst, Value::PerEntry),
            ],
            actions,
            fwd: Some(if sampling {
                Fwd::Pipe(PipeId::EgressSampling)
            } else {
                Fwd::Port(Port::Secure)
            }),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressAcl, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            is_root: true,
            fwd: Some(Fwd::Pipe(PipeId::EgressAcl)),
            ..basic(PipeId::Empty, Domain::Egress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            kind: PipeType::Control,
            is_root: true,
            nr_entries: ROOT_ENTRIES,
            ..basic(PipeId::IngressRoot, Domain::Default, Direction::Any)
        });
        v
    }

    /// The entries the backend adds once, after creating the pipes.
    pub fn static_entries(&self) -> Vec<DocaEntry> {
        let c = &self.cfg;
        let p = &self.ports;
        let entry = |pipe: PipeId, i: u8, matches: Vec<(Field, Value)>, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority: 0,
            matches,
            action: EntryAction::Template,
            fwd: None,
            counter,
        };
        // As NVIDIA's RSS_PIPE: IPv4 hashed on the outer IPv4 header, IPv6
        // on the outer IPv6 header.
        let rss = |i: u8, meta: u32, fwd| DocaEntry {
            fwd: Some(fwd),
            ..entry(PipeId::Rss, i, vec![(Field::OuterL3Meta, Value::Exact(meta))], "rss")
        };
        let mut v = vec![rss(0, L3_META_IPV4, Fwd::RssIpv4), rss(1, L3_META_IPV6, Fwd::RssIpv6)];
        for s in SYNDROMES {
            v.push(DocaEntry {
                key: EntryKey::Syndrome(s),
                ..entry(
                    PipeId::SyndromeStats,
                    0,
                    vec![(Field::PspSyndrome, Value::Exact(s.bit()))],
                    s.name(),
                )
            });
        }
        if c.disable_ingress_acl {
            v.push(entry(
                PipeId::IngressAcl,
                0,
                vec![(Field::PspSyndrome, Value::Exact(0))],
                "ingress_acl",
            ));
        }
        if self.sampling() {
            v.push(entry(PipeId::IngressSampling, 0, Vec::new(), "ingress_sampling"));
            v.push(entry(PipeId::EgressSampling, 0, Vec::new(), "egress_sampling"));
            v.push(entry(PipeId::EmptyNotSampled, 0, Vec::new(), "empty_pipe_not_sampled"));
        }
        v.push(entry(
            PipeId::IngressDecrypt,
            0,
            vec![(Field::PortId, Value::Exact(u32::from(p.secure)))],
            "ingress_decrypt",
        ));
        v.push(entry(PipeId::Empty, 0, Vec::new(), "empty_pipe"));
        let all = u32::MAX;
        let ip_ok = |port: u16, ethertype: u16, v4: bool| {
            vec![
                (Field::PortId, Value::Masked { value: u32::from(port), mask: 0xffff }),
                (Field::OuterEthType, Value::Masked { value: u32::from(ethertype), mask: 0xffff }),
                (Field::OuterL3Ok, Value::Masked { value: 1, mask: all }),
                (Field::OuterIp4ChecksumOk, Value::Masked { value: u32::from(v4), mask: all }),
            ]
        };
        let root = |i: u8, matches, fwd, counter| DocaEntry {
            priority: u32::from(i),
            fwd: Some(fwd),
            ..entry(PipeId::IngressRoot, i, matches, counter)
        };
        // As NVIDIA's root (DOCA 3.3 `ROOT` and its miss pipe `MISS`): both
        // outer families from the uplink to decryption, both from the VF to
        // the egress path, ARP from the VF to RSS, the rest dropped.
        let families = [(ETHERTYPE_IPV4, true), (ETHERTYPE_IPV6, false)];
        let mut i = 0u8;
        for (ethertype, v4) in families {
            v.push(root(
                i,
                ip_ok(p.secure, ethertype, v4),
                Fwd::Pipe(PipeId::IngressDecrypt),
                "ingress_root",
            ));
            i += 1;
        }
        for (ethertype, v4) in families {
            v.push(root(
                i,
                ip_ok(p.unsecured, ethertype, v4),
                Fwd::Port(Port::Secure),
                "ingress_root",
            ));
            i += 1;
        }
        v.push(root(
            i,
            vec![
                (Field::PortId, Value::Masked { value: u32::from(p.unsecured), mask: 0xffff }),
                (Field::OuterEthType, Value::Masked { value: ETHERTYPE_ARP, mask: 0xffff }),
            ],
            Fwd::Pipe(PipeId::Rss),
            "vf_arp_to_rss",
        ));
        v.push(root(i + 1, Vec::new(), Fwd::Drop, "root_default_drop"));
        v
    }

    /// Turns one commit's table changes into hardware steps, ending with a
    /// flush. All or nothing: on error nothing in `ops` is remembered.
    pub fn translate(&mut self, ops: &[TableOp]) -> Result<Vec<Step>, TranslateError> {
        let saved = (self.ids.clone(), self.tunnels.clone(), self.pending_release.clone());
        let r = self.translate_inner(ops);
        if r.is_err() {
            (self.ids, self.tunnels, self.pending_release) = saved;
        }
        r
    }

    fn translate_inner(&mut self, ops: &[TableOp]) -> Result<Vec<Step>, TranslateError> {
        /// The pipes match inner IPv4 only.
        fn v4(ip: IpAddr) -> Result<u32, TranslateError> {
            match ip {
                IpAddr::V4(a) => Ok(u32::from(a)),
                IpAddr::V6(_) => Err(TranslateError::Ipv6Entry(ip)),
            }
        }
        let mut steps = Vec::with_capacity(ops.len() + 1);
        for op in ops {
            match op {
                TableOp::SetTunnel(dst, e, hw_key) => {
                    let cfg = e.encap.config();
                    let encap_data = self.encap_data(*dst, cfg)?;
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
                        None => return Err(TranslateError::NoCryptoId(*dst, self.ids.max)),
                    };
                    steps.push(Step::ProgramKey { crypto_id, dst: *dst, spi: cfg.spi, key });
                    let action_idx = match cfg.outer {
                        OuterIp::V6 { .. } => 0,
                        OuterIp::V4 { .. } => 1,
                    };
                    let entry = DocaEntry {
                        pipe: PipeId::EgressAcl,
                        key: EntryKey::Tunnel(*dst),
                        priority: 0,
                        matches: vec![(Field::OuterIp4Dst, Value::Exact(v4(*dst)?))],
                        action: EntryAction::Encrypt { action_idx, crypto_id, encap_data },
                        fwd: None,
                        counter: "egress_acl",
                    };
                    match self.tunnels.insert(*dst, (crypto_id, cfg.spi)) {
                        Some((old, _)) => {
                            steps.push(Step::Update(entry));
                            self.pending_release.push(old);
                        }
                        None => steps.push(Step::Add(entry)),
                    }
                }
                TableOp::DelTunnel(dst) => {
                    if let Some((old, _)) = self.tunnels.remove(dst) {
                        steps.push(Step::Remove(EntryKey::Tunnel(*dst)));
                        self.pending_release.push(old);
                    }
                }
                TableOp::SetAcl(spi, src, _) => {
                    if self.cfg.disable_ingress_acl {
                        continue;
                    }
                    steps.push(Step::Add(DocaEntry {
                        pipe: PipeId::IngressAcl,
                        key: EntryKey::Acl(*spi, *src),
                        priority: 0,
                        matches: vec![
                            (Field::PspSyndrome, Value::Exact(0)),
                            (Field::PspSpi, Value::Exact(spi.0)),
                            (Field::InnerIp4Src, Value::Exact(v4(*src)?)),
                        ],
                        action: EntryAction::Template,
                        fwd: None,
                        counter: "ingress_acl",
                    }));
                }
                TableOp::DelAcl(spi, src) => {
                    if !self.cfg.disable_ingress_acl {
                        steps.push(Step::Remove(EntryKey::Acl(*spi, *src)));
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
    pub fn encap_data(&self, dst: IpAddr, cfg: &EncapConfig) -> Result<Vec<u8>, TranslateError> {
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

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "nvidia_3_3_tests.rs"]
mod nvidia_3_3_tests;
