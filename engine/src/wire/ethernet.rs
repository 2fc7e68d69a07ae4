//! Ethernet II frame header.

use super::{be16, Error, Field};
use core::fmt;

/// Length of an untagged Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = 14;

mod field {
    use super::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for MacAddr {
    type Err = Error;
    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators).
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or(Error::Malformed("MAC address needs 6 octets"))?;
            if p.is_empty() || p.len() > 2 {
                return Err(Error::Malformed("MAC address octet must be 1-2 hex digits"));
            }
            *b = u8::from_str_radix(p, 16)
                .map_err(|_| Error::Malformed("MAC address octet is not hex"))?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed("MAC address has more than 6 octets"));
        }
        Ok(MacAddr(out))
    }
}

/// EtherType values the gateway handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    /// 0x0800
    Ipv4,
    /// 0x86DD
    Ipv6,
    /// Anything else.
    Other(u16),
}

impl EtherType {
    /// The numeric value on the wire.
    #[inline]
    pub const fn value(self) -> u16 {
        match self {
            EtherType::Ipv4 => 0x0800,
            EtherType::Ipv6 => 0x86DD,
            EtherType::Other(v) => v,
        }
    }
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x86DD => EtherType::Ipv6,
            v => EtherType::Other(v),
        }
    }
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking its length.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer that holds at least a full header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < ETHERNET_HEADER_LEN {
            return Err(Error::Truncated("Ethernet header"));
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Destination MAC.
    #[inline]
    pub fn dst(&self) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        MacAddr(m)
    }

    /// Source MAC.
    #[inline]
    pub fn src(&self) -> MacAddr {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        MacAddr(m)
    }

    /// EtherType.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        be16(self.buffer.as_ref(), field::ETHERTYPE.start).into()
    }

    /// The bytes after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[ETHERNET_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    #[inline]
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac.0);
    }

    /// Sets the source MAC.
    #[inline]
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, t: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.value().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write() {
        let mut b = [0u8; 20];
        assert!(EthernetFrame::new_checked(&b[..13]).is_err());
        let mut f = EthernetFrame::new_checked(&mut b[..]).unwrap();
        f.set_dst("01:02:03:04:05:06".parse().unwrap());
        f.set_src(MacAddr([0xaa; 6]));
        f.set_ethertype(EtherType::Ipv6);
        assert_eq!(&b[..14], &[1, 2, 3, 4, 5, 6, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x86, 0xdd]);
        let f = EthernetFrame::new_checked(&b[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Ipv6);
        assert_eq!(f.dst().to_string(), "01:02:03:04:05:06");
        assert_eq!(f.payload().len(), 6);
    }

    #[test]
    fn mac_parse_errors() {
        assert!("01:02:03:04:05".parse::<MacAddr>().is_err());
        assert!("01:02:03:04:05:06:07".parse::<MacAddr>().is_err());
        assert!("01:02:03:04:05:zz".parse::<MacAddr>().is_err());
        assert!("11:22:33:44:55::66".parse::<MacAddr>().is_err());
        assert_eq!("a-b-c-d-e-f".parse::<MacAddr>().unwrap().0, [10, 11, 12, 13, 14, 15]);
    }
}
