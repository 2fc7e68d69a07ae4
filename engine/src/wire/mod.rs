//! Zero-copy views of the headers the PSP datapath reads and writes.
//!
//! In the smoltcp style: a `Packet<T: AsRef<[u8]>>` view is built with
//! `new_checked`, which validates lengths once; after that no accessor panics.
//! Field offsets are `const` ranges in a private `field` module of each file.

pub mod arp;
mod ethernet;
mod ipv4;
mod ipv6;
pub mod nd;
pub mod neighbour;
mod udp;

pub use ethernet::{EtherType, EthernetFrame, MacAddr, ETHERNET_HEADER_LEN};
pub use ipv4::{checksum, emit_header as ipv4_emit, Ipv4Packet, IPV4_MIN_HEADER_LEN};
pub use ipv6::{emit_header as ipv6_emit, Ipv6Fields, Ipv6Packet, IPV6_HEADER_LEN};
pub use udp::{emit_header as udp_emit, UdpPacket, UDP_HEADER_LEN};

/// IANA protocol numbers used by PSP.
pub mod ip_proto {
    /// IPv4 encapsulation (PSP next header in tunnel mode, inner IPv4).
    pub const IPV4: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulation (PSP next header in tunnel mode, inner IPv6).
    pub const IPV6: u8 = 41;
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: u8 = 0;
    /// IPv6 routing header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 fragment header.
    pub const IPV6_FRAG: u8 = 44;
    /// ICMPv6 (neighbour discovery among it).
    pub const ICMPV6: u8 = 58;
}

/// Why a header view could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header (or than the length it claims).
    #[error("{0} truncated")]
    Truncated(&'static str),
    /// A field holds a value the header cannot have.
    #[error("{0}")]
    Malformed(&'static str),
}

/// Byte range of a field.
pub(crate) type Field = core::ops::Range<usize>;

/// Reads a big-endian u16 at `at`; callers have checked the length.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at`; callers have checked the length.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
