//! IPv4 header.

use super::{be16, Error, Field};
use std::net::Ipv4Addr;

/// Length of an IPv4 header without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;

mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// The Internet checksum (RFC 1071) of `data`, folded and complemented.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A view of an IPv4 packet whose header and total length have been checked.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after checking version, IHL and total length. The
    /// buffer may be longer than the packet (Ethernet padding).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < IPV4_MIN_HEADER_LEN {
            return Err(Error::Truncated("IPv4 header"));
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Error::Malformed("IPv4 version is not 4"));
        }
        let hlen = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if hlen < IPV4_MIN_HEADER_LEN {
            return Err(Error::Malformed("IPv4 IHL below 5"));
        }
        let total = usize::from(be16(b, field::LENGTH.start));
        if hlen > b.len() || total > b.len() {
            return Err(Error::Truncated("IPv4 packet"));
        }
        if total < hlen {
            return Err(Error::Malformed("IPv4 total length below header length"));
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Header length in bytes (IHL * 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Total length field.
    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::LENGTH.start))
    }

    /// DSCP and ECN byte.
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// True for a fragment (MF set or non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLG_OFF.start) & 0x3fff != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// True when the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The payload, without Ethernet padding past the total length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the total length field.
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the protocol field.
    #[inline]
    pub fn set_protocol(&mut self, proto: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = proto;
    }

    /// Recomputes the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        let hlen = self.header_len();
        let b = self.buffer.as_mut();
        b[field::CHECKSUM].fill(0);
        let c = checksum(&b[..hlen]);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// Writes a 20-byte IPv4 header (no options, DF set, ident 0) into `out`
/// with a valid checksum.
///
/// # Panics
/// If `out` is shorter than 20 bytes.
pub fn emit_header(
    out: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    dscp_ecn: u8,
    ttl: u8,
    total_len: u16,
) {
    let h = &mut out[..IPV4_MIN_HEADER_LEN];
    h[field::VER_IHL] = 0x45;
    h[field::DSCP_ECN] = dscp_ecn;
    h[field::LENGTH].copy_from_slice(&total_len.to_be_bytes());
    h[field::IDENT].fill(0);
    h[field::FLG_OFF].copy_from_slice(&0x4000u16.to_be_bytes());
    h[field::TTL] = ttl;
    h[field::PROTOCOL] = protocol;
    h[field::SRC].copy_from_slice(&src.octets());
    h[field::DST].copy_from_slice(&dst.octets());
    h[field::CHECKSUM].fill(0);
    let c = checksum(h);
    h[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let mut b = [0u8; 28];
        emit_header(
            &mut b,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            17,
            0xb8,
            64,
            28,
        );
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.payload().len(), 8);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.dscp_ecn(), 0xb8);
        assert_eq!(p.src(), Ipv4Addr::new(10, 0, 0, 1));
        assert!(!p.is_fragment());
    }

    #[test]
    fn known_checksum() {
        // The classic example header from RFC 1071 discussions (Wikipedia).
        let h = hex_bytes("450000730000400040110000c0a80001c0a800c7");
        assert_eq!(checksum(&h), 0xb861);
    }

    #[test]
    fn rejects_bad_headers() {
        let mut b = [0u8; 20];
        assert_eq!(Ipv4Packet::new_checked(&b[..19]).unwrap_err(), Error::Truncated("IPv4 header"));
        b[0] = 0x65;
        assert!(matches!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed(_))));
        b[0] = 0x44;
        assert!(matches!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed(_))));
        b[0] = 0x46; // 24-byte header in a 20-byte buffer
        assert!(matches!(Ipv4Packet::new_checked(&b[..]), Err(Error::Truncated(_))));
        b[0] = 0x45;
        b[2..4].copy_from_slice(&40u16.to_be_bytes());
        assert!(matches!(Ipv4Packet::new_checked(&b[..]), Err(Error::Truncated(_))));
        b[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert!(matches!(Ipv4Packet::new_checked(&b[..]), Err(Error::Malformed(_))));
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
