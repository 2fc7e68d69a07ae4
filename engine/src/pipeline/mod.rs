//! The software match-action pipeline: DOCA PSP Gateway's DOCA Flow pipes,
//! with the same names and semantics, run on a packet core.
//!
//! ```text
//! host-to-net (from the unsecured port):
//!   ingress_root_pipe -> egress_acl_pipe (match inner src and dst; encrypt with
//!   the tunnel's key, encap) -> [egress_sampling_pipe: 1 in 2^N gets the S
//!   bit and a mirror to RSS | empty_pipe_not_sampled with maintain_order]
//!   -> secure port.                 miss -> rss_pipe (Miss { pair })
//!
//! net-to-host (from the secure port):
//!   ingress_root_pipe (outer IPv6 or IPv4 per config) -> ingress_decrypt_pipe
//!   (UDP dst 1000) -> [ingress_sampling_pipe: S bit -> mirror to RSS] ->
//!   ingress_acl_pipe (syndrome clean and (SPI, inner src) permitted)
//!   -> unsecured port (Ethernet dst rewritten to decap_dmac).
//!   failures -> syndrome_stats_pipe (counted per syndrome, dropped)
//! ```
//!
//! The root's rule for other traffic: from the unsecured port, IP of the
//! inner version ([`PipelineConfig::inner`]: IPv4, or IPv6) goes to the
//! egress ACL, ARP to RSS (`vf_arp_to_rss`), with inner IPv6 neighbour
//! solicitations and advertisements to RSS too (`vf_nd_to_rss`), and
//! anything else is counted in `root_default_drop` and dropped; from the
//! secure port, only the configured outer
//! IP version goes to decrypt (in transport mode: IPv4 and IPv6, whose
//! IP header is the sender VM's), anything else is counted in
//! `root_default_drop` and dropped. Secure-port IP that is not UDP 1000
//! misses the decrypt pipe: counted (`ingress_decrypt_miss`) and dropped,
//! since the secure uplink carries only PSP. Frames shorter than their
//! headers announce are counted in `truncated`, invalid header values in
//! `malformed`, frames longer than `max_frame_len` in `oversized` (and
//! packets whose encapsulation would be in `egress_oversized`); all are
//! dropped. Decrypted packets without the expected virtualization cookie
//! (when one is configured) are counted in `vc_mismatch` and dropped.
//! Every [`DropReason`] has a counter of its own
//! ([`PipeStats::dropped`]). Nothing panics on any input.
//!
//! [`LcorePipeline`] is one core's instance: per-packet functions take
//! `&mut impl PacketBuf`, return a [`Verdict`] the core acts on, and never
//! allocate, lock or block (one exception: a receive-key cache miss expands
//! a key, which allocates inside aws-lc, bounded by the cache size). Tables
//! come from [`crate::tables`] (written by the flow programmer); randomness
//! and master keys are passed in.

mod lcore;
pub mod rss;
pub mod stats;
pub mod vf;

pub use lcore::{LcorePipeline, PortRole};
pub use rss::{classify_rss, RssClass};
pub use stats::{Counter, PipeStats};
pub use vf::{VfPorts, VfPortsError, MAX_DEVICE_REPS};

use crate::psp::decap::Syndrome;
use crate::psp::Mode;
use crate::tables::VipPair;
use crate::wire::{MacAddr, ETHERNET_HEADER_LEN};

/// The inner IP version, of the VMs' traffic (`--inner-ip-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InnerVersion {
    /// Inner IPv4 (DOCA's default).
    #[default]
    Ipv4,
    /// Inner IPv6.
    Ipv6,
}

/// The outer IP version of the secure side (`--outer ipv6|ipv4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuterVersion {
    /// Outer IPv6 (DOCA's default).
    Ipv6,
    /// Outer IPv4.
    Ipv4,
}

/// The default [`PipelineConfig::max_frame_len`]: a 9216-byte jumbo MTU
/// plus the Ethernet header (FCS excluded).
pub const DEFAULT_MAX_FRAME_LEN: usize = 9216 + ETHERNET_HEADER_LEN;

/// Pipeline options, named after the DOCA application's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Size of the per-core tunnel state (`--max-tunnels`); slots beyond
    /// it are never handed out by the flow programmer.
    pub max_tunnels: usize,
    /// Size of the per-core ingress ACL counters.
    pub max_acl_entries: usize,
    /// `--sample-rate N`: 1 in 2^N packets is sampled; 0 disables.
    pub log2_sample_rate: u8,
    /// Send unsampled packets through a second mirror so sampled and
    /// unsampled packets keep their order.
    pub maintain_order: bool,
    /// Let any packet that decrypts through.
    pub disable_ingress_acl: bool,
    /// Outer IP version accepted from the secure port (tunnel mode).
    pub outer: OuterVersion,
    /// `--mode`: tunnel (outer IP of the gateways) or transport (the VM's
    /// IP header stays outermost; UDP and PSP go after it). In transport
    /// mode the secure port's IPv4 and IPv6 both go to decryption, since
    /// their IP header is the VM's; a decrypted packet of the other mode
    /// is dropped (`ingress_mode_mismatch`).
    pub mode: Mode,
    /// `--inner-ip-type`: the IP version the unsecured port's traffic is
    /// tunneled in (the other one is dropped at the root, as NVIDIA's
    /// application configures one); with IPv6, neighbour solicitations
    /// and advertisements from the unsecured port go to RSS
    /// (`vf_nd_to_rss`) as ARP does with IPv4.
    pub inner: InnerVersion,
    /// Ethernet destination of decapsulated packets (`--decap-dmac`).
    pub decap_dmac: Option<MacAddr>,
    /// Metadata value marking ingress-sampled mirrors.
    pub ingress_sample_meta_indicator: u32,
    /// Metadata value marking egress-sampled mirrors.
    pub egress_sample_meta_indicator: u32,
    /// Entries of the per-core receive-key cache.
    pub key_cache_size: usize,
    /// The virtualization cookie peers put in packets to this gateway
    /// (`--cookie`): a decrypted packet without it, or with another, is
    /// dropped (`vc_mismatch`). `None`: cookies are not checked.
    pub expected_vc: Option<u64>,
    /// Longest frame (Ethernet header included, FCS excluded) taken from
    /// any port or sent to the uplink: longer received frames are dropped
    /// (`oversized`), and so are packets whose encapsulation would be
    /// longer (`egress_oversized`). Set it to the uplink's MTU plus 14, and
    /// at most to what an mbuf holds.
    pub max_frame_len: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_tunnels: 1 << 16,
            max_acl_entries: 1 << 16,
            log2_sample_rate: 0,
            maintain_order: false,
            disable_ingress_acl: false,
            outer: OuterVersion::Ipv6,
            mode: Mode::Tunnel,
            inner: InnerVersion::Ipv4,
            decap_dmac: None,
            ingress_sample_meta_indicator: 0x1111_1111,
            egress_sample_meta_indicator: 0x2222_2222,
            key_cache_size: 4096,
            expected_vc: None,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// No root entry takes it (`root_default_drop`).
    RootDefault,
    /// A header field holds a value it cannot have (`malformed`).
    Malformed,
    /// Shorter than its headers announce (`truncated`).
    Truncated,
    /// Longer than [`PipelineConfig::max_frame_len`] (`oversized`).
    Oversized,
    /// Secure-port traffic that is not PSP (decrypt pipe miss).
    NotPsp,
    /// A PSP packet that failed a check (`syndrome_stats_pipe`).
    Syndrome(Syndrome),
    /// Decrypted, but without the expected virtualization cookie
    /// (`vc_mismatch`).
    VcMismatch,
    /// Decrypted, but tunnel mode on a transport-mode gateway or the
    /// other way round (`ingress_mode_mismatch`).
    ModeMismatch,
    /// Ingress ACL: no pair with the packet's SPI.
    AclUnknownSpi,
    /// Ingress ACL: the SPI is not permitted from the inner source.
    AclWrongSource,
    /// The tunnel's encapsulator refused the packet (no head- or
    /// tailroom, too long, crypt offset past the payload).
    EncapFailed,
    /// The encapsulated packet would be longer than
    /// [`PipelineConfig::max_frame_len`] (`egress_oversized`).
    EncapOversized,
    /// This core used up the 2^48 IVs it has per tunnel.
    IvExhausted,
}

impl DropReason {
    /// Every reason once, each syndrome on its own (the metrics' order:
    /// the root's, then the ingress path's, then the egress path's).
    pub fn all() -> impl Iterator<Item = DropReason> {
        use DropReason::*;
        [RootDefault, Malformed, Truncated, Oversized, NotPsp]
            .into_iter()
            .chain(crate::psp::decap::Syndrome::ALL.iter().map(|&s| DropReason::Syndrome(s)))
            .chain([
                VcMismatch,
                ModeMismatch,
                AclUnknownSpi,
                AclWrongSource,
                EncapFailed,
                EncapOversized,
                IvExhausted,
            ])
    }
}

/// What the core does with the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Transmit on a port.
    Forward(PortRole),
    /// Free it.
    Drop(DropReason),
    /// No tunnel for the inner source and destination: hand it to the
    /// control plane (RSS), which sets one up and may hold the packet
    /// meanwhile.
    Miss {
        /// The inner source and destination.
        pair: VipPair,
    },
}

/// A pipeline's decision on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// What to do with the packet.
    pub action: Action,
    /// `Some(meta)`: also send a copy of the packet as it is now to RSS
    /// (the control plane) with `meta` in its flow metadata (the sampling
    /// sentinel).
    pub mirror_to_rss: Option<u32>,
}

impl Verdict {
    #[inline]
    const fn new(action: Action) -> Verdict {
        Verdict { action, mirror_to_rss: None }
    }

    /// A drop for `reason`, counted in the reason's counter
    /// ([`PipeStats::count_drop`]).
    #[inline]
    fn drop(stats: &mut PipeStats, reason: DropReason, bytes: usize) -> Verdict {
        Verdict::new(Action::Drop(reason)).then_drop(stats, reason, bytes)
    }

    /// This verdict turned into a drop for `reason` (a mirror to RSS it
    /// has stays), counted in the reason's counter
    /// ([`PipeStats::count_drop`]).
    #[inline]
    fn then_drop(mut self, stats: &mut PipeStats, reason: DropReason, bytes: usize) -> Verdict {
        stats.count_drop(reason, bytes);
        self.action = Action::Drop(reason);
        self
    }
}

#[cfg(test)]
pub(crate) mod tests;
