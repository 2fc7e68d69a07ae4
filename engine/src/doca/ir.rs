//! The translation's description of DOCA Flow pipes and entries: pipe ids,
//! matched fields and their values, forwards, action templates, pipe specs
//! and entries. Plain data; [`super::translate`] builds it and
//! `backend`'s builders turn it into `doca_flow_*` structures.

use crate::pipeline::{OuterVersion, PortRole};
use crate::psp::decap::Syndrome;
use crate::psp::{Mode, Spi};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// The pipes, named as in the DOCA application and the software pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PipeId {
    /// `rss_pipe`: to the control plane's queues.
    Rss,
    /// `ingress_root_pipe`: the root of the default domain (NVIDIA's
    /// `ROOT`, basic: port, ether type, L3/L4 parser meta).
    IngressRoot,
    /// `ingress_miss_pipe`: what the root does not take (NVIDIA's `MISS`,
    /// control): neighbour solicitations and ARP from the VF to RSS, the
    /// VF's other ICMPv6 to the egress root, the rest dropped.
    IngressMiss,
    /// `ingress_decrypt_pipe`: PSP packets from the uplink to `decrypt_pipe`
    /// (NVIDIA's `MATCH_INGR_DECRYPT`).
    IngressDecrypt,
    /// `decrypt_pipe`: an ordered-list pipe whose one list decrypts
    /// (NVIDIA's `DECRYPT`).
    Decrypt,
    /// `decap_pipe`: an ordered-list pipe, list 0 decaps IPv4 inside,
    /// list 1 IPv6, then to the VF (NVIDIA's `DECAP`).
    Decap,
    /// `encap_encrypt_pipe`: an ordered-list pipe, list 0 encrypts and
    /// encaps into IPv4, list 1 into IPv6; one entry per tunnel at the
    /// index of its key slot (NVIDIA's `ENCAP_ENCRYPT`).
    EncapEncrypt,
    /// `ingress_sampling_pipe` (only with sampling).
    IngressSampling,
    /// `ingress_acl_pipe`: the IPv4 inner ACL (NVIDIA's `MATCH_INGR_ACL_IPV4`).
    IngressAcl,
    /// `inner_ip_classifier_pipe`: decrypted packets by the PSP header's
    /// next header, to the IPv4 or the IPv6 ACL (`INNER_IP_CLASSIFIER`).
    InnerIpClassifier,
    /// `ingress_src_ip6_pipe`: SPI and inner IPv6 source to the source's
    /// id in `meta.u32[2]` (`ING_SRC_IP6`; with the ingress ACL only).
    IngressSrcIp6,
    /// `ingress_acl_ipv6_pipe`: the IPv6 inner ACL, source id and inner
    /// destination (`MATCH_INGR_ACL_IPV6`).
    IngressAclIpv6,
    /// `syndrome_stats_pipe`.
    SyndromeStats,
    /// `empty_pipe`: the root of the secure egress domain (NVIDIA's
    /// `EGR_ROOT`), by ether type and `pkt_meta`: IPv4 to the egress ACL,
    /// IPv6 to `egress_dst_ip6_pipe`. The VF's traffic and the packets the
    /// control plane resubmits on the PF enter here.
    Empty,
    /// `egress_dst_ip6_pipe`: an IPv6 destination to its id in
    /// `meta.u32[2]` (NVIDIA's `EGR_ACL`, `egress_dst_ip6_pipe_create`).
    EgressDstIp6,
    /// `egress_acl_ipv6_pipe`: destination id and IPv6 source to the
    /// tunnel (`MATCH_EGR_ACL_IPV6`).
    EgressAclIpv6,
    /// `egress_acl_pipe`.
    EgressAcl,
    /// `egress_sampling_pipe` (only with sampling).
    EgressSampling,
    /// `fwd_to_rss_pipe` (only with sampling): egress-sampled copies to
    /// RSS with the egress sentinel in `pkt_meta` (NVIDIA's `FWD_TO_RSS`).
    FwdToRss,
    /// `ingress_flood_ipv4_pipe` (only with sampling): a flooding hash
    /// pipe, each packet to the IPv4 ACL and a copy to RSS (`ING_FLOOD_IPV4`).
    IngressFloodIpv4,
    /// `ingress_flood_ipv6_pipe`: the same to the IPv6 ACL (`ING_FLOOD_IPV6`).
    IngressFloodIpv6,
    /// `egress_flood_pipe` (only with sampling): each packet to the wire
    /// and a copy to `fwd_to_rss_pipe` (`EGR_FLOOD`).
    EgressFlood,
}

impl PipeId {
    /// The pipe's name (DOCA application, software pipeline and counters).
    pub const fn name(self) -> &'static str {
        match self {
            PipeId::Rss => "rss_pipe",
            PipeId::IngressRoot => "ingress_root_pipe",
            PipeId::IngressMiss => "ingress_miss_pipe",
            PipeId::IngressDecrypt => "ingress_decrypt_pipe",
            PipeId::Decrypt => "decrypt_pipe",
            PipeId::Decap => "decap_pipe",
            PipeId::EncapEncrypt => "encap_encrypt_pipe",
            PipeId::IngressSampling => "ingress_sampling_pipe",
            PipeId::IngressAcl => "ingress_acl_pipe",
            PipeId::InnerIpClassifier => "inner_ip_classifier_pipe",
            PipeId::IngressSrcIp6 => "ingress_src_ip6_pipe",
            PipeId::IngressAclIpv6 => "ingress_acl_ipv6_pipe",
            PipeId::SyndromeStats => "syndrome_stats_pipe",
            PipeId::Empty => "empty_pipe",
            PipeId::EgressDstIp6 => "egress_dst_ip6_pipe",
            PipeId::EgressAclIpv6 => "egress_acl_ipv6_pipe",
            PipeId::EgressAcl => "egress_acl_pipe",
            PipeId::EgressSampling => "egress_sampling_pipe",
            PipeId::FwdToRss => "fwd_to_rss_pipe",
            PipeId::IngressFloodIpv4 => "ingress_flood_ipv4_pipe",
            PipeId::IngressFloodIpv6 => "ingress_flood_ipv6_pipe",
            PipeId::EgressFlood => "egress_flood_pipe",
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
    /// An ordered-list pipe (`DOCA_FLOW_PIPE_ORDERED_LIST`): its action
    /// templates are its lists (list `i` is `actions[i]`, one crypto
    /// element), an entry picks one.
    OrderedList,
    /// A hash pipe with the flooding algorithm
    /// (`DOCA_FLOW_PIPE_HASH_MAP_ALGORITHM_FLOODING`): every packet goes to
    /// every entry (entry `i` at hash index `i`).
    Flood,
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
    /// `outer.udp.l4_port.dst_port`.
    OuterUdpDstPort,
    /// `outer.l3_type` = IPv4 (and `parser_meta.outer_l3_type`).
    OuterIp4,
    /// `outer.ip4.dst_ip` (before encap, the packet's only IP header).
    OuterIp4Dst,
    /// `outer.ip4.src_ip` (before encap, the packet's only IP header).
    OuterIp4Src,
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
    /// `inner.ip4.dst_ip`.
    InnerIp4Dst,
    /// `parser_meta.outer_l3_type` (`enum doca_flow_l3_meta`: 1 IPv4, 2
    /// IPv6).
    OuterL3Meta,
    /// `parser_meta.outer_l4_type` (`enum doca_flow_l4_meta`: 3 ICMP).
    OuterL4Meta,
    /// `outer.l4_type_ext` (`enum doca_flow_l4_type_ext`: 4 ICMPv6).
    OuterL4TypeExt,
    /// `outer.ip6.next_proto`.
    OuterIp6NextProto,
    /// `outer.icmp.type`.
    OuterIcmpType,
    /// `tun.psp.nexthdr` (4 IPv4, 0x29 IPv6).
    PspNextHdr,
    /// `parser_meta.inner_l3_type` (`enum doca_flow_l3_meta`).
    InnerL3Meta,
    /// `inner.l3_type` = IPv6.
    InnerIp6,
    /// `inner.ip6.src_ip` (each of its four words).
    InnerIp6Src,
    /// `inner.ip6.dst_ip` (each of its four words).
    InnerIp6Dst,
    /// `meta.u32[i]`, a word of the scratch pad.
    MetaScratch(u8),
    /// `meta.pkt_meta` (big-endian, as NVIDIA's `RTE_BE32`).
    PktMeta,
    /// `outer.l3_type` = IPv6 (and `parser_meta.outer_l3_type`).
    OuterIp6,
    /// `outer.ip6.src_ip` (each of its four words).
    OuterIp6Src,
    /// `outer.ip6.dst_ip` (each of its four words).
    OuterIp6Dst,
}

/// The PSP header's next header of an inner IPv4 packet (`NEXT_HEADER_IPV4`).
pub const PSP_NEXT_HEADER_IPV4: u32 = 0x04;
/// ... and of an inner IPv6 packet (`NEXT_HEADER_IPV6`).
pub const PSP_NEXT_HEADER_IPV6: u32 = 0x29;
/// The scratch-pad word that carries an inner IPv6 source's id from
/// `ingress_src_ip6_pipe` to `ingress_acl_ipv6_pipe` (NVIDIA's `meta.u32[2]`).
pub const SRC_IP6_ID_WORD: u8 = 2;

/// `DOCA_FLOW_L3_META_IPV4` / `_IPV6` (`enum doca_flow_l3_meta`).
pub const L3_META_IPV4: u32 = 1;
/// See [`L3_META_IPV4`].
pub const L3_META_IPV6: u32 = 2;
/// `DOCA_FLOW_L4_META_ICMP` (`enum doca_flow_l4_meta`; ICMP and ICMPv6).
pub const L4_META_ICMP: u32 = 3;
/// `DOCA_FLOW_L4_TYPE_EXT_UDP` (`enum doca_flow_l4_type_ext`).
pub const L4_TYPE_EXT_UDP: u32 = 2;
/// `DOCA_FLOW_L4_TYPE_EXT_ICMP6` (`enum doca_flow_l4_type_ext`).
pub const L4_TYPE_EXT_ICMP6: u32 = 4;

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
    Port(PortRole),
    /// `DOCA_FLOW_FWD_PIPE`.
    Pipe(PipeId),
    /// `DOCA_FLOW_FWD_PIPE` with no pipe: each entry names its own.
    PipePerEntry,
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
    /// `DOCA_FLOW_FWD_ORDERED_LIST_PIPE`: to this entry of an ordered-list
    /// pipe (`None`: each entry gives it, `UINT32_MAX`).
    OrderedList(PipeId, Option<u32>),
    /// `DOCA_FLOW_FWD_HASH_PIPE` to a flooding hash pipe.
    Flood(PipeId),
    /// `DOCA_FLOW_FWD_CHANGEABLE`: each entry brings its forward, of any type.
    Changeable,
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
        /// Encap data length: 8 bytes shorter without a virtualization
        /// cookie (`--cookie` off), as NVIDIA's template without VC.
        len: u16,
    },
    /// PSP decrypt (`DOCA_FLOW_PSP_DECRYPTION_ID`).
    Decrypt,
    /// Remove the outer headers and write this Ethernet header.
    DecapL2 {
        /// Destination MAC (`--decap-dmac`, or the unsecured port's MAC).
        dst: MacAddr,
        /// Source MAC (the secure port's).
        src: MacAddr,
        /// Its ether type: the inner packet's family.
        ethertype: u16,
    },
    /// Set the PSP header's S bit (`tun.psp.s_d_ver_v` under the S mask).
    SetSampleBit,
    /// Write the entry's value into `meta.u32[index]`.
    SetScratch {
        /// The scratch-pad word.
        index: u8,
    },
    /// Set `meta.pkt_meta` (a sampling sentinel).
    SetMeta {
        /// Metadata value.
        pkt_meta: u32,
    },
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
    /// The egress ACL entry of a session: inner source, inner destination.
    Tunnel(Ipv4Addr, Ipv4Addr),
    /// The `encap_encrypt_pipe` entry of a key slot (index `crypto_id`).
    Crypto(u32),
    /// An ingress ACL entry: SPI, inner source, inner destination.
    Acl(Spi, Ipv4Addr, Ipv4Addr),
    /// The syndrome stats entry of one syndrome bit.
    Syndrome(Syndrome),
}

/// A comparison an entry matches on (`struct doca_flow_match_condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `DOCA_FLOW_COMPARE_LT`: `parser_meta.random` (16 bits) below the
    /// entry's [`Field::Random`] value.
    RandomBelow,
}

/// An entry's per-entry action values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAction {
    /// The pipe's template as is (or no action).
    Template,
    /// Control pipes: this action and its mask on this entry alone.
    Apply(PipeAction),
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
    /// Where the entry forwards (control and hash pipes; basic pipes with
    /// a per-entry forward).
    pub fwd: Option<Fwd>,
    /// Control pipes: a comparison the entry also matches on.
    pub condition: Option<Condition>,
    /// The [`crate::pipeline::PipeStats`] counter (or per-entry counter
    /// family) this entry's hardware counter feeds.
    pub counter: &'static str,
}
