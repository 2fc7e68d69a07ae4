//! ARP for IPv4 over Ethernet (RFC 826), the only kind a VM asks the
//! gateway.

use super::{be16, Error, Field, MacAddr};
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;

/// ARP operation: request.
pub const ARP_REQUEST: u16 = 1;
/// ARP operation: reply.
pub const ARP_REPLY: u16 = 2;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

mod field {
    use super::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// A view of an Ethernet/IPv4 ARP packet whose length and address types
/// have been checked.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer of at least [`ARP_LEN`] bytes (Ethernet padding may
    /// follow) that holds Ethernet and IPv4 addresses of their lengths.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < ARP_LEN {
            return Err(Error::Truncated("ARP packet"));
        }
        if be16(b, field::HTYPE.start) != HTYPE_ETHERNET
            || be16(b, field::PTYPE.start) != PTYPE_IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(Error::Malformed("ARP is not for IPv4 over Ethernet"));
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// The operation ([`ARP_REQUEST`], [`ARP_REPLY`], ...).
    #[inline]
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), field::OPER.start)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::SPA])
    }

    /// Target hardware address.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address.
    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::TPA])
    }
}

fn mac(b: &[u8]) -> MacAddr {
    let mut m = [0; 6];
    m.copy_from_slice(b);
    MacAddr(m)
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// The fields of an Ethernet/IPv4 ARP packet to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpFields {
    /// [`ARP_REQUEST`] or [`ARP_REPLY`].
    pub operation: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// Writes a 28-byte ARP packet at the start of `out`; returns its length.
pub fn emit(out: &mut [u8], f: &ArpFields) -> Result<usize, Error> {
    let h = out.get_mut(..ARP_LEN).ok_or(Error::Truncated("ARP output buffer"))?;
    h[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
    h[field::PTYPE].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
    h[field::HLEN] = 6;
    h[field::PLEN] = 4;
    h[field::OPER].copy_from_slice(&f.operation.to_be_bytes());
    h[field::SHA].copy_from_slice(&f.sender_mac.0);
    h[field::SPA].copy_from_slice(&f.sender_ip.octets());
    h[field::THA].copy_from_slice(&f.target_mac.0);
    h[field::TPA].copy_from_slice(&f.target_ip.octets());
    Ok(ARP_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let f = ArpFields {
            operation: ARP_REQUEST,
            sender_mac: MacAddr([2, 0, 0, 0, 1, 1]),
            sender_ip: Ipv4Addr::new(10, 0, 0, 1),
            target_mac: MacAddr::default(),
            target_ip: Ipv4Addr::new(10, 0, 0, 2),
        };
        let mut b = [0u8; 32];
        assert_eq!(emit(&mut b, &f), Ok(ARP_LEN));
        // As tcpdump shows a request: hardware 1, protocol 0x0800, 6, 4, op 1.
        assert_eq!(&b[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.operation(), ARP_REQUEST);
        assert_eq!((p.sender_mac(), p.sender_ip()), (f.sender_mac, f.sender_ip));
        assert_eq!((p.target_mac(), p.target_ip()), (f.target_mac, f.target_ip));
        assert_eq!(emit(&mut b[..27], &f), Err(Error::Truncated("ARP output buffer")));
    }

    #[test]
    fn rejects_short_and_foreign_arp() {
        let mut b = [0u8; ARP_LEN];
        let f = ArpFields {
            operation: ARP_REPLY,
            sender_mac: MacAddr([1; 6]),
            sender_ip: Ipv4Addr::LOCALHOST,
            target_mac: MacAddr([2; 6]),
            target_ip: Ipv4Addr::BROADCAST,
        };
        emit(&mut b, &f).unwrap();
        assert!(matches!(ArpPacket::new_checked(&b[..27]), Err(Error::Truncated(_))));
        for (at, v) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut c = b;
            c[at] = v;
            assert!(matches!(ArpPacket::new_checked(&c[..]), Err(Error::Malformed(_))), "{at}");
        }
    }
}
