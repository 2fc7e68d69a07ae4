//! IPv6 fixed header.

use super::{be16, be32, Error, Field};
use std::net::Ipv6Addr;

/// Length of the IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;

mod field {
    use super::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// A view of an IPv6 packet whose fixed header and payload length have been
/// checked.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after checking the version and payload length. The
    /// buffer may be longer than the packet (Ethernet padding).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < IPV6_HEADER_LEN {
            return Err(Error::Truncated("IPv6 header"));
        }
        if b[0] >> 4 != 6 {
            return Err(Error::Malformed("IPv6 version is not 6"));
        }
        if IPV6_HEADER_LEN + usize::from(be16(b, field::LENGTH.start)) > b.len() {
            return Err(Error::Truncated("IPv6 packet"));
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((be32(self.buffer.as_ref(), 0) >> 20) & 0xff) as u8
    }

    /// Flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }

    /// Payload length field.
    #[inline]
    pub fn payload_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::LENGTH.start))
    }

    /// Next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        Ipv6Addr::from(a)
    }

    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        Ipv6Addr::from(a)
    }

    /// The payload, without Ethernet padding.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[IPV6_HEADER_LEN..IPV6_HEADER_LEN + self.payload_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets the payload length field.
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    /// Sets the next header field.
    #[inline]
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = nh;
    }
}

/// The fields of an IPv6 header to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fields {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Traffic class (DSCP and ECN).
    pub traffic_class: u8,
    /// Flow label (low 20 bits used).
    pub flow_label: u32,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload length.
    pub payload_len: u16,
}

/// Writes a 40-byte IPv6 header into `out`.
///
/// # Panics
/// If `out` is shorter than 40 bytes.
pub fn emit_header(out: &mut [u8], f: Ipv6Fields) {
    let h = &mut out[..IPV6_HEADER_LEN];
    let vtf = (6u32 << 28) | (u32::from(f.traffic_class) << 20) | (f.flow_label & 0x000f_ffff);
    h[field::VER_TC_FLOW].copy_from_slice(&vtf.to_be_bytes());
    h[field::LENGTH].copy_from_slice(&f.payload_len.to_be_bytes());
    h[field::NXT_HDR] = f.next_header;
    h[field::HOP_LIMIT] = f.hop_limit;
    h[field::SRC].copy_from_slice(&f.src.octets());
    h[field::DST].copy_from_slice(&f.dst.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let mut b = [0u8; 48];
        let (s, d) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        emit_header(
            &mut b,
            Ipv6Fields {
                src: s,
                dst: d,
                next_header: 17,
                traffic_class: 0x2e,
                flow_label: 0xabcde,
                hop_limit: 64,
                payload_len: 8,
            },
        );
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.src(), p.dst()), (s, d));
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.traffic_class(), 0x2e);
        assert_eq!(p.flow_label(), 0xabcde);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn rejects_bad_headers() {
        let mut b = [0u8; 40];
        assert!(matches!(Ipv6Packet::new_checked(&b[..39]), Err(Error::Truncated(_))));
        assert!(matches!(Ipv6Packet::new_checked(&b[..]), Err(Error::Malformed(_))));
        b[0] = 0x60;
        b[5] = 1;
        assert!(matches!(Ipv6Packet::new_checked(&b[..]), Err(Error::Truncated(_))));
    }
}
