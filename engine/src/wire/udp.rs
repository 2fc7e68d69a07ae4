//! UDP header.

use super::{be16, Error, Field};

/// Length of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;

mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A view of a UDP datagram whose header has been checked.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer holding at least the header, whose length field is
    /// between 8 and the buffer length.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < UDP_HEADER_LEN {
            return Err(Error::Truncated("UDP header"));
        }
        let len = usize::from(be16(b, field::LENGTH.start));
        if len < UDP_HEADER_LEN {
            return Err(Error::Malformed("UDP length below 8"));
        }
        if len > b.len() {
            return Err(Error::Truncated("UDP datagram"));
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Length field (header plus payload).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::LENGTH.start))
    }

    /// True when the length field says there is no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == UDP_HEADER_LEN
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
}

/// Writes a UDP header with a zero checksum, as PSP requires for its
/// encapsulating UDP header (RFC 6935/6936 allow zero over IPv6 for tunnels).
///
/// # Panics
/// If `out` is shorter than 8 bytes.
pub fn emit_header(out: &mut [u8], src_port: u16, dst_port: u16, len: u16) {
    let h = &mut out[..UDP_HEADER_LEN];
    h[field::SRC_PORT].copy_from_slice(&src_port.to_be_bytes());
    h[field::DST_PORT].copy_from_slice(&dst_port.to_be_bytes());
    h[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    h[field::CHECKSUM].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_then_parse() {
        let mut b = [0u8; 12];
        emit_header(&mut b, 50000, 1000, 12);
        let u = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len(), u.checksum()), (50000, 1000, 12, 0));
        assert!(!u.is_empty());
        assert!(UdpPacket::new_checked(&b[..7]).is_err());
        emit_header(&mut b, 1, 2, 13);
        assert!(matches!(UdpPacket::new_checked(&b[..]), Err(Error::Truncated(_))));
        emit_header(&mut b, 1, 2, 7);
        assert!(matches!(UdpPacket::new_checked(&b[..]), Err(Error::Malformed(_))));
    }
}
