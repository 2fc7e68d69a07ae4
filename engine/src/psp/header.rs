//! The PSP header: view and repr.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  |  Hdr Ext Len  | R |Crypt Off  |S|D|Version|V|1|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                Security Parameters Index (SPI)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Initialization Vector (IV)                   |
//! |                           (64 bits)                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Virtualization Cookie (VC), 64 bits, if V=1          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Hdr Ext Len counts 8-byte units after the first 8 bytes (1 without the
//! VC, 2 with it). The crypt offset counts 4-byte units from the end of the
//! IV; the VC, when present, lies inside that region.
//!
//! Receivers also accept the layout scapy's PSP layer writes by default:
//! V set with Hdr Ext Len 1 and the 8-byte VC after the IV all the same.
//! Such a header is 24 bytes long ([`Header::header_len`]) and is always
//! authenticated in clear ([`Header::clear_len`]): the crypt offset then
//! cannot encrypt the cookie. Senders write the spec's Hdr Ext Len 2.

use super::{Spi, Version, HEADER_LEN, MAX_CRYPT_OFFSET, VC_LEN};
use crate::wire::{Error as WireError, Field};

mod field {
    use super::Field;
    pub const NEXT_HEADER: usize = 0;
    pub const HDR_EXT_LEN: usize = 1;
    pub const CRYPT_OFF: usize = 2;
    pub const FLAGS: usize = 3;
    pub const SPI: Field = 4..8;
    pub const IV: Field = 8..16;
    pub const VC: Field = 16..24;
}

const FLAG_S: u8 = 0x80;
const FLAG_D: u8 = 0x40;
const VERSION_SHIFT: u8 = 2;
const VERSION_MASK: u8 = 0x0f;
const FLAG_V: u8 = 0x02;
const FLAG_ONE: u8 = 0x01;
const CRYPT_OFF_MASK: u8 = 0x3f;

/// Why a PSP header is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Shorter than the header it announces.
    #[error("PSP header truncated")]
    Truncated,
    /// Hdr Ext Len, the V bit, the always-one bit or reserved bits are wrong.
    #[error("malformed PSP header: {0}")]
    Malformed(&'static str),
    /// A version this implementation does not know.
    #[error("unknown PSP version {0}")]
    UnknownVersion(u8),
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        match e {
            Error::Truncated => WireError::Truncated("PSP header"),
            Error::Malformed(m) => WireError::Malformed(m),
            Error::UnknownVersion(_) => WireError::Malformed("unknown PSP version"),
        }
    }
}

/// A view of a PSP header (and whatever follows it in the buffer).
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// Wraps a buffer after checking that the header it announces fits
    /// (with the VC when V is set, whatever Hdr Ext Len says), that Hdr Ext
    /// Len is not zero, and that the always-one bit is one and the reserved
    /// bits are zero.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let ext = b[field::HDR_EXT_LEN];
        if ext == 0 {
            return Err(Error::Malformed("Hdr Ext Len is zero"));
        }
        if b[field::FLAGS] & FLAG_ONE == 0 {
            return Err(Error::Malformed("always-one bit is zero"));
        }
        if b[field::CRYPT_OFF] & !CRYPT_OFF_MASK != 0 {
            return Err(Error::Malformed("reserved bits set"));
        }
        if Self::len_of(ext, b[field::FLAGS] & FLAG_V != 0) > b.len() {
            return Err(Error::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Header length for a Hdr Ext Len and V bit: 8 + 8 * Hdr Ext Len, and
    /// at least 24 when V is set (scapy's Hdr Ext Len 1 with a cookie).
    #[inline]
    fn len_of(ext: u8, v: bool) -> usize {
        let len = 8 + 8 * usize::from(ext);
        if v {
            len.max(HEADER_LEN + VC_LEN)
        } else {
            len
        }
    }

    /// Length of the header including extensions: 8 + 8 * Hdr Ext Len, or
    /// 24 for a cookie announced with Hdr Ext Len 1.
    #[inline]
    pub fn header_len(&self) -> usize {
        let b = self.buffer.as_ref();
        Self::len_of(b[field::HDR_EXT_LEN], b[field::FLAGS] & FLAG_V != 0)
    }

    /// Whether this is the compact cookie layout (V set, Hdr Ext Len 1),
    /// whose header is always in clear.
    #[inline]
    pub fn compact_vc(&self) -> bool {
        let b = self.buffer.as_ref();
        b[field::FLAGS] & FLAG_V != 0 && b[field::HDR_EXT_LEN] == 1
    }

    /// Bytes from the start of the header that are authenticated in clear
    /// (the AAD of AES-GCM): the 16-byte base header plus crypt offset * 4
    /// (the spec and the reference tool: a VC lies inside that region and
    /// offsets 0 and 1 encrypt all or half of it); for the compact cookie
    /// layout, at least the whole 24-byte header (scapy's rule).
    #[inline]
    pub fn clear_len(&self) -> usize {
        let spec = HEADER_LEN + usize::from(self.crypt_offset()) * 4;
        if self.compact_vc() {
            spec.max(HEADER_LEN + VC_LEN)
        } else {
            spec
        }
    }

    /// Next header (inner protocol).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Crypt offset in 4-byte units.
    #[inline]
    pub fn crypt_offset(&self) -> u8 {
        self.buffer.as_ref()[field::CRYPT_OFF] & CRYPT_OFF_MASK
    }

    /// Sample-at-receiver bit.
    #[inline]
    pub fn sample(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_S != 0
    }

    /// Drop bit (drop after sampling).
    #[inline]
    pub fn drop_bit(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_D != 0
    }

    /// The raw 4-bit version.
    #[inline]
    pub fn version_raw(&self) -> u8 {
        (self.buffer.as_ref()[field::FLAGS] >> VERSION_SHIFT) & VERSION_MASK
    }

    /// Virtualization-cookie-present bit.
    #[inline]
    pub fn has_vc(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_V != 0
    }

    /// SPI.
    #[inline]
    pub fn spi(&self) -> Spi {
        let b = &self.buffer.as_ref()[field::SPI];
        Spi(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// IV as a big-endian integer.
    #[inline]
    pub fn iv(&self) -> u64 {
        let mut iv = [0u8; 8];
        iv.copy_from_slice(&self.buffer.as_ref()[field::IV]);
        u64::from_be_bytes(iv)
    }

    /// The virtualization cookie, when V is set.
    #[inline]
    pub fn vc(&self) -> Option<u64> {
        self.has_vc().then(|| {
            let mut vc = [0u8; 8];
            vc.copy_from_slice(&self.buffer.as_ref()[field::VC]);
            u64::from_be_bytes(vc)
        })
    }

    /// The AES-GCM nonce: SPI (4 bytes) followed by the IV (8 bytes).
    #[inline]
    pub fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n.copy_from_slice(&self.buffer.as_ref()[field::SPI.start..field::IV.end]);
        n
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets or clears the sample bit (the egress sampling action).
    #[inline]
    pub fn set_sample(&mut self, on: bool) {
        let f = &mut self.buffer.as_mut()[field::FLAGS];
        *f = if on { *f | FLAG_S } else { *f & !FLAG_S };
    }
}

/// A parsed PSP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRepr {
    /// Next header: 4 or 41 in tunnel mode, the L4 protocol in transport mode.
    pub next_header: u8,
    /// Crypt offset in 4-byte units (0..=63).
    pub crypt_offset: u8,
    /// S bit.
    pub sample: bool,
    /// D bit.
    pub drop: bool,
    /// Cipher suite.
    pub version: Version,
    /// SPI.
    pub spi: Spi,
    /// IV.
    pub iv: u64,
    /// Virtualization cookie (V bit set when present).
    pub vc: Option<u64>,
}

impl HeaderRepr {
    /// Parses a checked header; fails on unknown versions.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(h: &Header<T>) -> Result<HeaderRepr, Error> {
        let version =
            Version::from_wire(h.version_raw()).ok_or(Error::UnknownVersion(h.version_raw()))?;
        Ok(HeaderRepr {
            next_header: h.next_header(),
            crypt_offset: h.crypt_offset(),
            sample: h.sample(),
            drop: h.drop_bit(),
            version,
            spi: h.spi(),
            iv: h.iv(),
            vc: h.vc(),
        })
    }

    /// Bytes [`emit`](Self::emit) writes: 16, or 24 with a VC.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        if self.vc.is_some() {
            HEADER_LEN + VC_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header into the first [`buffer_len`](Self::buffer_len)
    /// bytes of `buf`. The crypt offset is masked to 6 bits.
    ///
    /// # Panics
    /// If `buf` is shorter than `buffer_len()`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..self.buffer_len()];
        b[field::NEXT_HEADER] = self.next_header;
        b[field::HDR_EXT_LEN] = if self.vc.is_some() { 2 } else { 1 };
        b[field::CRYPT_OFF] = self.crypt_offset & MAX_CRYPT_OFFSET;
        b[field::FLAGS] = (u8::from(self.sample) << 7)
            | (u8::from(self.drop) << 6)
            | (self.version.wire() << VERSION_SHIFT)
            | (u8::from(self.vc.is_some()) << 1)
            | FLAG_ONE;
        b[field::SPI].copy_from_slice(&self.spi.0.to_be_bytes());
        b[field::IV].copy_from_slice(&self.iv.to_be_bytes());
        if let Some(vc) = self.vc {
            b[field::VC].copy_from_slice(&vc.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr() -> HeaderRepr {
        HeaderRepr {
            next_header: 4,
            crypt_offset: 5,
            sample: false,
            drop: false,
            version: Version::AesGcm128,
            spi: Spi(0x1122_3344),
            iv: 0x0102_0304_0506_0708,
            vc: None,
        }
    }

    #[test]
    fn emit_matches_scapy_docstring_bytes() {
        // scapy.contrib.psp's example: PSP(nexthdr=4, cryptoffset=5,
        // spi=0x11223344, iv=01..08) renders as these 16 bytes.
        let mut b = [0u8; 16];
        repr().emit(&mut b);
        assert_eq!(b, [0x04, 0x01, 0x05, 0x01, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn parse_roundtrip_with_vc_and_flags() {
        let mut r = repr();
        r.vc = Some(0xdead_beef_0bad_f00d);
        r.sample = true;
        r.drop = true;
        r.version = Version::AesGmac256;
        r.crypt_offset = 63;
        let mut b = [0u8; 24];
        r.emit(&mut b);
        assert_eq!(b[1], 2);
        assert_eq!(b[3], 0x80 | 0x40 | (3 << 2) | 0x02 | 0x01);
        let h = Header::new_checked(&b[..]).unwrap();
        assert_eq!(h.header_len(), 24);
        assert_eq!(HeaderRepr::parse(&h).unwrap(), r);
        assert_eq!(&h.nonce()[..4], &[0x11, 0x22, 0x33, 0x44]);
    }

    #[test]
    fn rejects_malformed() {
        let mut b = [0u8; 24];
        repr().emit(&mut b);
        assert_eq!(Header::new_checked(&b[..15]).unwrap_err(), Error::Truncated);
        let mut v = b;
        v[3] |= FLAG_V; // V set, Hdr Ext Len 1: the cookie must still fit
        assert_eq!(Header::new_checked(&v[..23]).unwrap_err(), Error::Truncated);
        let mut z = b;
        z[1] = 0;
        assert!(matches!(Header::new_checked(&z[..]), Err(Error::Malformed(_))));
        let mut one = b;
        one[3] &= !FLAG_ONE;
        assert!(matches!(Header::new_checked(&one[..]), Err(Error::Malformed(_))));
        let mut res = b;
        res[2] |= 0x80;
        assert!(matches!(Header::new_checked(&res[..]), Err(Error::Malformed(_))));
        let mut long = b;
        long[1] = 3; // announces 32 bytes
        assert_eq!(Header::new_checked(&long[..]).unwrap_err(), Error::Truncated);
        let mut ver = b;
        ver[3] = (9 << 2) | 1;
        let h = Header::new_checked(&ver[..]).unwrap();
        assert_eq!(HeaderRepr::parse(&h).unwrap_err(), Error::UnknownVersion(9));
    }

    #[test]
    fn compact_cookie_layout() {
        // scapy's default: V set, Hdr Ext Len 1, the cookie after the IV.
        let mut r = repr();
        r.vc = Some(0x0102_0304_0506_0708);
        let mut b = [0u8; 24];
        r.emit(&mut b);
        b[1] = 1;
        let h = Header::new_checked(&b[..]).unwrap();
        assert!(h.compact_vc());
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.vc(), Some(0x0102_0304_0506_0708));
        // Header always in clear, and the offset counts from the IV beyond it.
        for (co, clear) in [(0u8, 24), (1, 24), (2, 24), (3, 28), (11, 60)] {
            b[2] = co;
            assert_eq!(Header::new_checked(&b[..]).unwrap().clear_len(), clear, "co {co}");
        }
        // The spec's layout: Hdr Ext Len 2, the offset can reach into the VC.
        b[1] = 2;
        for (co, clear) in [(0u8, 16), (1, 20), (2, 24), (3, 28)] {
            b[2] = co;
            let h = Header::new_checked(&b[..]).unwrap();
            assert!(!h.compact_vc());
            assert_eq!((h.header_len(), h.clear_len()), (24, clear), "co {co}");
        }
    }

    #[test]
    fn set_sample_bit() {
        let mut b = [0u8; 16];
        repr().emit(&mut b);
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_sample(true);
        assert!(h.sample());
        h.set_sample(false);
        assert!(!h.sample());
    }
}
