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

use crate::pipeline::{OuterVersion, PipelineConfig, Port, TableOp};
use crate::psp::decap::Syndrome;
use crate::psp::encap::{EncapConfig, EthAddrs, OuterIp};
use crate::psp::{Mode, Spi, UDP_PORT};
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
    tunnels: HashMap<Ipv4Addr, (u32, Spi)>,
    pending_release: Vec<u32>,
}

/// Builds the pipes and turns table changes into [`Step`]s; remembers each
/// tunnel's key slot.
#[derive(Debug)]
pub struct Translator {
    cfg: PipelineConfig,
    ports: DocaPorts,
    ids: CryptoIds,
    /// dst -> (crypto_id, SPI) of the installed egress entries.
    tunnels: HashMap<Ipv4Addr, (u32, Spi)>,
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
    pub fn crypto_id(&self, dst: Ipv4Addr) -> Option<u32> {
        self.tunnels.get(&dst).map(|t| t.0)
    }

    fn sampling(&self) -> bool {
        self.cfg.log2_sample_rate > 0
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
        if sampling {
            v.push(DocaPipeSpec {
                nr_entries: 2,
                matches: vec![(Field::OuterL3Meta, Value::PerEntry)],
                actions: vec![PipeAction::SetMeta { pkt_meta: c.egress_sample_meta_indicator }],
                fwd: Some(Fwd::RssPerEntry),
                miss_counter: true,
                ..basic(PipeId::FwdToRss, Domain::Default, Direction::Any)
            });
        }
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
        let acl_entries = if c.disable_ingress_acl { 1 } else { c.max_acl_entries as u32 };
        let decap = |ethertype| PipeAction::DecapL2 {
            dst: c.decap_dmac.unwrap_or(self.ports.unsecured_mac),
            src: self.ports.secure_mac,
            ethertype,
        };
        // NVIDIA's DECAP: list 0 IPv4 inside, list 1 IPv6.
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            nr_entries: 2,
            actions: vec![decap(ETHERTYPE_IPV4), decap(ETHERTYPE_IPV6)],
            fwd: Some(Fwd::Port(Port::Unsecured)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::Decap, Domain::SecureIngress, Direction::NetToHost)
        });
        v.push(DocaPipeSpec {
            nr_entries: acl_entries,
            matches: acl_matches,
            fwd: Some(Fwd::OrderedList(PipeId::Decap, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::IngressAcl, Domain::SecureIngress, Direction::NetToHost)
        });
        // The IPv6 inner ACL as NVIDIA's: the source's id (from
        // ingress_src_ip6_pipe) and the inner destination. The flow
        // programmer's tables hold IPv4 inner addresses only, so these
        // pipes get no entries but the fixed one with the ACL disabled.
        v.push(DocaPipeSpec {
            nr_entries: acl_entries,
            matches: if c.disable_ingress_acl {
                vec![(Field::PspSyndrome, Value::PerEntry)]
            } else {
                vec![
                    (Field::InnerIp6, Value::Exact(1)),
                    (Field::MetaScratch(SRC_IP6_ID_WORD), Value::PerEntry),
                    (Field::InnerIp6Dst, Value::PerEntry),
                ]
            },
            fwd: Some(Fwd::OrderedList(PipeId::Decap, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::IngressAclIpv6, Domain::SecureIngress, Direction::NetToHost)
        });
        if !c.disable_ingress_acl {
            v.push(DocaPipeSpec {
                nr_entries: acl_entries,
                matches: vec![
                    (Field::TunPsp, Value::Exact(1)),
                    (Field::PspSpi, Value::PerEntry),
                    (Field::InnerL3Meta, Value::Exact(L3_META_IPV6)),
                    (Field::InnerIp6, Value::Exact(1)),
                    (Field::InnerIp6Src, Value::PerEntry),
                ],
                actions: vec![PipeAction::SetScratch { index: SRC_IP6_ID_WORD }],
                fwd: Some(Fwd::Pipe(PipeId::IngressAclIpv6)),
                fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
                miss_counter: true,
                ..basic(PipeId::IngressSrcIp6, Domain::SecureIngress, Direction::NetToHost)
            });
        }
        v.push(DocaPipeSpec {
            nr_entries: 2,
            matches: vec![(Field::TunPsp, Value::Exact(1)), (Field::PspNextHdr, Value::PerEntry)],
            fwd: Some(Fwd::PipePerEntry),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::InnerIpClassifier, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            // NVIDIA 3.3's ingress sampling: flooding hash pipes copy a
            // packet to its ACL and to RSS (ING_FLOOD_IPV4/6), reached
            // from INGR_SAMPL's entries for packets with the S bit.
            for id in [PipeId::IngressFloodIpv4, PipeId::IngressFloodIpv6] {
                v.push(DocaPipeSpec {
                    kind: PipeType::Flood,
                    nr_entries: 2,
                    fwd: Some(Fwd::Changeable),
                    miss_counter: true,
                    ..basic(id, Domain::Default, Direction::NetToHost)
                });
            }
            v.push(DocaPipeSpec {
                nr_entries: 4,
                matches: vec![
                    (Field::TunPsp, Value::Exact(1)),
                    (
                        Field::PspSDVerV,
                        Value::Masked { value: 0xff, mask: u32::from(PSP_SAMPLE_BIT) },
                    ),
                    (Field::PspNextHdr, Value::PerEntry),
                ],
                actions: vec![PipeAction::SetMeta { pkt_meta: c.ingress_sample_meta_indicator }],
                fwd: Some(Fwd::Changeable),
                fwd_miss: Some(Fwd::Pipe(PipeId::InnerIpClassifier)),
                miss_counter: true,
                ..basic(PipeId::IngressSampling, Domain::Default, Direction::NetToHost)
            });
        }
        let after_decrypt =
            if sampling { PipeId::IngressSampling } else { PipeId::InnerIpClassifier };
        // NVIDIA's DECRYPT, then MATCH_INGR_DECRYPT in front of it.
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            actions: vec![PipeAction::Decrypt],
            fwd: Some(Fwd::Pipe(after_decrypt)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::Decrypt, Domain::SecureIngress, Direction::NetToHost)
        });
        v.push(DocaPipeSpec {
            matches: vec![
                (Field::PortId, Value::PerEntry),
                (Field::OuterL4TypeExt, Value::Exact(L4_TYPE_EXT_UDP)),
                (Field::OuterUdpDstPort, Value::Exact(u32::from(UDP_PORT))),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::Decrypt, Some(0))),
            fwd_miss: None,
            ..basic(PipeId::IngressDecrypt, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            // NVIDIA 3.3's egress sampling: EGR_SAMPL (control) sends a
            // packet whose parser_meta.random is below the threshold to
            // the wire, the others, with the S bit set, to EGR_FLOOD: the
            // wire and a copy to FWD_TO_RSS.
            v.push(DocaPipeSpec {
                kind: PipeType::Flood,
                nr_entries: 2,
                fwd: Some(Fwd::Changeable),
                miss_counter: true,
                ..basic(PipeId::EgressFlood, Domain::Egress, Direction::HostToNet)
            });
            v.push(DocaPipeSpec {
                kind: PipeType::Control,
                nr_entries: 2,
                ..basic(PipeId::EgressSampling, Domain::Egress, Direction::HostToNet)
            });
        }
        // NVIDIA's ENCAP_ENCRYPT: list 0 into IPv4, list 1 into IPv6, an
        // entry per tunnel at the index of its key slot.
        let to_wire =
            if sampling { Fwd::Pipe(PipeId::EgressSampling) } else { Fwd::Port(Port::Secure) };
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            nr_entries: self.ids.max() + 1,
            actions: [OuterVersion::Ipv4, OuterVersion::Ipv6]
                .into_iter()
                .map(|outer| PipeAction::EncryptEncap {
                    outer,
                    mode: Mode::Tunnel,
                    len: encap_len(Mode::Tunnel, outer, c.expected_vc.is_some()) as u16,
                })
                .collect(),
            fwd: Some(to_wire),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EncapEncrypt, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp4, Value::Exact(1)),
                (Field::OuterIp4Dst, Value::PerEntry),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressAcl, Domain::SecureEgress, Direction::HostToNet)
        });
        // The IPv6 egress ACL as NVIDIA's: the destination's id, then the
        // id and the source. The flow programmer's tunnels are IPv4 only,
        // so these get no entries: IPv6 from the VF misses to RSS.
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp6, Value::Exact(1)),
                (Field::MetaScratch(SRC_IP6_ID_WORD), Value::PerEntry),
                (Field::OuterIp6Src, Value::PerEntry),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressAclIpv6, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp6, Value::Exact(1)),
                (Field::OuterIp6Dst, Value::PerEntry),
            ],
            actions: vec![PipeAction::SetScratch { index: SRC_IP6_ID_WORD }],
            fwd: Some(Fwd::Pipe(PipeId::EgressAclIpv6)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressDstIp6, Domain::SecureEgress, Direction::HostToNet)
        });
        // NVIDIA's EGR_ROOT: by ether type and pkt_meta.
        v.push(DocaPipeSpec {
            is_root: true,
            nr_entries: EGRESS_ROOT_ENTRIES,
            matches: vec![
                (Field::OuterEthType, Value::PerEntry),
                (Field::PktMeta, Value::PerEntry),
            ],
            fwd: Some(Fwd::Changeable),
            fwd_miss: Some(Fwd::Drop),
            miss_counter: true,
            ..basic(PipeId::Empty, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            kind: PipeType::Control,
            nr_entries: MISS_ENTRIES,
            ..basic(PipeId::IngressMiss, Domain::Default, Direction::Any)
        });
        v.push(DocaPipeSpec {
            is_root: true,
            nr_entries: ROOT_ENTRIES,
            matches: vec![
                (Field::PortId, Value::PerEntry),
                (Field::OuterEthType, Value::PerEntry),
                (Field::OuterL3Ok, Value::PerEntry),
                (Field::OuterIp4ChecksumOk, Value::PerEntry),
                (Field::OuterL3Meta, Value::PerEntry),
                (Field::OuterL4Meta, Value::PerEntry),
            ],
            fwd: Some(Fwd::Changeable),
            fwd_miss: Some(Fwd::Pipe(PipeId::IngressMiss)),
            ..basic(PipeId::IngressRoot, Domain::Default, Direction::Any)
        });
        v
    }

    /// Where an encrypted packet goes: the sampling pipe, or the wire.
    fn to_wire(&self) -> Fwd {
        if self.sampling() {
            Fwd::Pipe(PipeId::EgressSampling)
        } else {
            Fwd::Port(Port::Secure)
        }
    }

    /// NVIDIA 3.3's egress sampling threshold: a packet whose 16-bit
    /// `parser_meta.random` is below it is not sampled, so 1 in about 2^N
    /// is (`UINT16_MAX - (UINT16_MAX >> N)`).
    pub fn sample_threshold(log2_rate: u8) -> u16 {
        u16::MAX - u16::MAX.checked_shr(u32::from(log2_rate)).unwrap_or(0)
    }

    /// The fixed entries of the sampling chain (see [`Translator::pipes`]).
    fn sampling_entries(&self, ipv6_acl: PipeId) -> Vec<DocaEntry> {
        let c = &self.cfg;
        let e = |pipe: PipeId, i: u8, matches, fwd, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority: u32::from(i),
            matches,
            action: EntryAction::Template,
            fwd: Some(fwd),
            condition: None,
            counter,
        };
        let mut v = Vec::new();
        // FWD_TO_RSS: by outer family, RSS on that family's header.
        for (i, (meta, fwd)) in
            [(L3_META_IPV4, Fwd::RssIpv4), (L3_META_IPV6, Fwd::RssIpv6)].into_iter().enumerate()
        {
            let m = vec![(Field::OuterL3Meta, Value::Exact(meta))];
            v.push(e(PipeId::FwdToRss, i as u8, m, fwd, "fwd_to_rss"));
        }
        // Flooding: entry 0 the datapath, entry 1 the copy.
        for (pipe, first) in [
            (PipeId::IngressFloodIpv4, Fwd::Pipe(PipeId::IngressAcl)),
            (PipeId::IngressFloodIpv6, Fwd::Pipe(ipv6_acl)),
            (PipeId::EgressFlood, Fwd::Port(Port::Secure)),
        ] {
            let copy = match pipe {
                PipeId::EgressFlood => Fwd::Pipe(PipeId::FwdToRss),
                _ => Fwd::Pipe(PipeId::Rss),
            };
            v.push(e(pipe, 0, Vec::new(), first, "flood_to_datapath"));
            v.push(e(pipe, 1, Vec::new(), copy, "flood_to_rss"));
        }
        // INGR_SAMPL: the S bit and the next header.
        let sampl = |s: u8, next: u32| {
            vec![
                (Field::PspSDVerV, Value::Exact(u32::from(s))),
                (Field::PspNextHdr, Value::Exact(next)),
            ]
        };
        let rows = [
            (
                PSP_SAMPLE_BIT,
                PSP_NEXT_HEADER_IPV4,
                Fwd::Flood(PipeId::IngressFloodIpv4),
                "ingress_sampling",
            ),
            (
                PSP_SAMPLE_BIT,
                PSP_NEXT_HEADER_IPV6,
                Fwd::Flood(PipeId::IngressFloodIpv6),
                "ingress_sampling",
            ),
            (0, PSP_NEXT_HEADER_IPV4, Fwd::Pipe(PipeId::IngressAcl), "ingress_not_sampled"),
            (0, PSP_NEXT_HEADER_IPV6, Fwd::Pipe(ipv6_acl), "ingress_not_sampled"),
        ];
        for (i, (s, next, fwd, counter)) in rows.into_iter().enumerate() {
            v.push(e(PipeId::IngressSampling, i as u8, sampl(s, next), fwd, counter));
        }
        // EGR_SAMPL: below the threshold to the wire; the rest sampled.
        let threshold = u32::from(Self::sample_threshold(c.log2_sample_rate));
        v.push(DocaEntry {
            condition: Some(Condition::RandomBelow),
            ..e(
                PipeId::EgressSampling,
                0,
                vec![(Field::Random, Value::Exact(threshold))],
                Fwd::Port(Port::Secure),
                "empty_pipe_not_sampled",
            )
        });
        v.push(DocaEntry {
            action: EntryAction::Apply(PipeAction::SetSampleBit),
            ..e(
                PipeId::EgressSampling,
                1,
                Vec::new(),
                Fwd::Flood(PipeId::EgressFlood),
                "egress_sampling",
            )
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
            condition: None,
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
            for (list, acl) in [PipeId::IngressAcl, PipeId::IngressAclIpv6].into_iter().enumerate()
            {
                v.push(DocaEntry {
                    fwd: Some(Fwd::OrderedList(PipeId::Decap, Some(list as u32))),
                    ..entry(acl, 0, vec![(Field::PspSyndrome, Value::Exact(0))], "ingress_acl")
                });
            }
        }
        // As NVIDIA's INNER_IP_CLASSIFIER: by the PSP next header.
        let ipv6_acl =
            if c.disable_ingress_acl { PipeId::IngressAclIpv6 } else { PipeId::IngressSrcIp6 };
        for (i, (next, to, counter)) in [
            (PSP_NEXT_HEADER_IPV6, ipv6_acl, "ingress_ipv6_classify"),
            (PSP_NEXT_HEADER_IPV4, PipeId::IngressAcl, "ingress_ipv4_classify"),
        ]
        .into_iter()
        .enumerate()
        {
            v.push(DocaEntry {
                fwd: Some(Fwd::Pipe(to)),
                ..entry(
                    PipeId::InnerIpClassifier,
                    i as u8,
                    vec![(Field::PspNextHdr, Value::Exact(next))],
                    counter,
                )
            });
        }
        if self.sampling() {
            v.extend(self.sampling_entries(ipv6_acl));
        }
        v.push(DocaEntry {
            fwd: Some(Fwd::OrderedList(PipeId::Decrypt, Some(0))),
            ..entry(
                PipeId::IngressDecrypt,
                0,
                vec![(Field::PortId, Value::Exact(u32::from(p.secure)))],
                "ingress_decrypt",
            )
        });
        // The ordered lists' fixed entries (entry i picks list i); they
        // have no counter (NVIDIA's have none either).
        let after_decrypt =
            if self.sampling() { PipeId::IngressSampling } else { PipeId::InnerIpClassifier };
        v.push(DocaEntry {
            fwd: Some(Fwd::Pipe(after_decrypt)),
            ..entry(PipeId::Decrypt, 0, Vec::new(), "")
        });
        for i in 0..2 {
            v.push(DocaEntry {
                fwd: Some(Fwd::Port(Port::Unsecured)),
                ..entry(PipeId::Decap, i, Vec::new(), "")
            });
        }
        // EGR_ROOT: the datapath's families with no sentinel. (NVIDIA's
        // two return-to-VF entries carry the application's own ARP and
        // neighbour answers, which this gateway does not send.)
        for (i, (ethertype, to, counter)) in [
            (ETHERTYPE_IPV4, PipeId::EgressAcl, "fwd_egress_acl_ipv4"),
            (ETHERTYPE_IPV6, PipeId::EgressDstIp6, "fwd_egress_acl_ipv6"),
        ]
        .into_iter()
        .enumerate()
        {
            v.push(DocaEntry {
                fwd: Some(Fwd::Pipe(to)),
                ..entry(
                    PipeId::Empty,
                    i as u8,
                    vec![
                        (Field::OuterEthType, Value::Exact(u32::from(ethertype))),
                        (Field::PktMeta, Value::Exact(0)),
                    ],
                    counter,
                )
            });
        }
        v.extend(self.root_entries());
        v
    }

    /// The ingress root as NVIDIA's (DOCA 3.3 `ROOT`, basic, and its miss
    /// pipe `MISS`, control): from the uplink, UDP over IPv4 and IPv6 to
    /// decryption; from the VF, TCP/UDP/ESP/ICMP over IPv4 and TCP/UDP/ESP
    /// over IPv6 to the egress root; then in `MISS` neighbour
    /// solicitations from the VF to RSS (hashed on IPv6), the VF's other
    /// ICMPv6 to the egress root, ARP from the VF to RSS (hashed on IPv4),
    /// the rest dropped.
    fn root_entries(&self) -> Vec<DocaEntry> {
        let p = &self.ports;
        let mut v = Vec::new();
        let e = |pipe: PipeId, i: u8, priority: u32, matches, fwd, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority,
            matches,
            action: EntryAction::Template,
            fwd: Some(fwd),
            condition: None,
            counter,
        };
        let ip = |port: u16, v4: bool, l4: u32| {
            let (ethertype, l3) =
                if v4 { (ETHERTYPE_IPV4, L3_META_IPV4) } else { (ETHERTYPE_IPV6, L3_META_IPV6) };
            vec![
                (Field::PortId, Value::Exact(u32::from(port))),
                (Field::OuterEthType, Value::Exact(u32::from(ethertype))),
                (Field::OuterL3Ok, Value::Exact(1)),
                (Field::OuterIp4ChecksumOk, Value::Exact(u32::from(v4))),
                (Field::OuterL3Meta, Value::Exact(l3)),
                (Field::OuterL4Meta, Value::Exact(l4)),
            ]
        };
        let mut rows = vec![
            (p.secure, true, L4_META_UDP, PipeId::IngressDecrypt),
            (p.secure, false, L4_META_UDP, PipeId::IngressDecrypt),
        ];
        for l4 in [L4_META_TCP, L4_META_UDP, L4_META_ESP, L4_META_ICMP] {
            rows.push((p.unsecured, true, l4, PipeId::Empty));
        }
        for l4 in [L4_META_TCP, L4_META_UDP, L4_META_ESP] {
            rows.push((p.unsecured, false, l4, PipeId::Empty));
        }
        for (i, (port, v4, l4, to)) in rows.into_iter().enumerate() {
            let m = ip(port, v4, l4);
            v.push(e(PipeId::IngressRoot, i as u8, 0, m, Fwd::Pipe(to), "ingress_root"));
        }
        let all = u32::MAX;
        let port =
            |port: u16| (Field::PortId, Value::Masked { value: u32::from(port), mask: 0xffff });
        let ethertype = |t: u32| (Field::OuterEthType, Value::Masked { value: t, mask: 0xffff });
        let l3 = |m: u32| (Field::OuterL3Meta, Value::Masked { value: m, mask: all });
        let l4 = |m: u32| (Field::OuterL4Meta, Value::Masked { value: m, mask: all });
        let miss = PipeId::IngressMiss;
        v.push(e(
            miss,
            0,
            1,
            vec![
                port(p.unsecured),
                ethertype(u32::from(ETHERTYPE_IPV6)),
                l3(L3_META_IPV6),
                l4(L4_META_ICMP),
                (Field::OuterL4TypeExt, Value::Masked { value: L4_TYPE_EXT_ICMP6, mask: all }),
                (Field::OuterIp6NextProto, Value::Masked { value: IPPROTO_ICMPV6, mask: 0xff }),
                (Field::OuterIcmpType, Value::Masked { value: ND_NEIGHBOR_SOLICIT, mask: 0xff }),
            ],
            Fwd::RssIpv6,
            "vf_ns_to_rss",
        ));
        v.push(e(
            miss,
            1,
            2,
            vec![
                port(p.unsecured),
                (Field::OuterL3Ok, Value::Masked { value: 1, mask: 0xff }),
                l3(L3_META_IPV6),
                l4(L4_META_ICMP),
                ethertype(u32::from(ETHERTYPE_IPV6)),
            ],
            Fwd::Pipe(PipeId::Empty),
            "miss_to_egress_ipv6_icmp",
        ));
        v.push(e(
            miss,
            2,
            3,
            vec![port(p.unsecured), ethertype(ETHERTYPE_ARP)],
            Fwd::RssIpv4,
            "vf_arp_to_rss",
        ));
        v.push(e(miss, 3, 4, Vec::new(), Fwd::Drop, "root_default_drop"));
        v
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
        let mut steps = Vec::with_capacity(ops.len() + 1);
        for op in ops {
            match op {
                TableOp::SetTunnel(dst, e, hw_key) => {
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
                        key: EntryKey::Tunnel(*dst),
                        priority: 0,
                        matches: vec![(Field::OuterIp4Dst, Value::Exact(u32::from(*dst)))],
                        action: EntryAction::Template,
                        fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, Some(crypto_id))),
                        condition: None,
                        counter: "egress_acl",
                    };
                    match self.tunnels.insert(*dst, (crypto_id, cfg.spi)) {
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
                TableOp::DelTunnel(dst) => {
                    if let Some((old, _)) = self.tunnels.remove(dst) {
                        steps.push(Step::Remove(EntryKey::Tunnel(*dst)));
                        steps.push(Step::Remove(EntryKey::Crypto(old)));
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
                            (Field::InnerIp4Src, Value::Exact(u32::from(*src))),
                        ],
                        action: EntryAction::Template,
                        fwd: Some(Fwd::OrderedList(PipeId::Decap, Some(0))),
                        condition: None,
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

#[cfg(test)]
#[path = "translate_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "nvidia_3_3_tests.rs"]
mod nvidia_3_3_tests;
