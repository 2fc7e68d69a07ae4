//! Small value types shared by the PSP modules.

use core::fmt;

/// A PSP version: the cipher suite named in the header's 4-bit version field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// 0: AES-GCM-128.
    AesGcm128,
    /// 1: AES-GCM-256.
    AesGcm256,
    /// 2: AES-GMAC-128 (authenticated, not encrypted).
    AesGmac128,
    /// 3: AES-GMAC-256 (authenticated, not encrypted).
    AesGmac256,
}

impl Version {
    /// All versions, in wire order.
    pub const ALL: [Version; 4] =
        [Version::AesGcm128, Version::AesGcm256, Version::AesGmac128, Version::AesGmac256];

    /// From the 4-bit wire value; `None` for versions this core does not know.
    pub const fn from_wire(v: u8) -> Option<Version> {
        match v {
            0 => Some(Version::AesGcm128),
            1 => Some(Version::AesGcm256),
            2 => Some(Version::AesGmac128),
            3 => Some(Version::AesGmac256),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    pub const fn wire(self) -> u8 {
        match self {
            Version::AesGcm128 => 0,
            Version::AesGcm256 => 1,
            Version::AesGmac128 => 2,
            Version::AesGmac256 => 3,
        }
    }

    /// Derived key length in bytes (16 or 32).
    pub const fn key_len(self) -> usize {
        match self {
            Version::AesGcm128 | Version::AesGmac128 => 16,
            Version::AesGcm256 | Version::AesGmac256 => 32,
        }
    }

    /// True for the GMAC versions, which encrypt nothing.
    pub const fn is_gmac(self) -> bool {
        matches!(self, Version::AesGmac128 | Version::AesGmac256)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Version::AesGcm128 => "AES-GCM-128",
            Version::AesGcm256 => "AES-GCM-256",
            Version::AesGmac128 => "AES-GMAC-128",
            Version::AesGmac256 => "AES-GMAC-256",
        };
        write!(f, "{} ({name})", self.wire())
    }
}

/// A Security Parameters Index. Bit 31 selects the receiver's master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spi(pub u32);

impl Spi {
    /// The master-key slot (0 or 1) this SPI's key derives from.
    pub const fn key_slot(self) -> usize {
        (self.0 >> 31) as usize
    }
}

impl fmt::Display for Spi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// PSP encapsulation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Whole inner IP packet inside outer IP/UDP/PSP (the DOCA application's mode).
    Tunnel,
    /// UDP/PSP inserted between the IP header and its payload.
    Transport,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_roundtrip() {
        for v in Version::ALL {
            assert_eq!(Version::from_wire(v.wire()), Some(v));
        }
        assert_eq!(Version::from_wire(4), None);
        assert_eq!(Version::AesGmac256.key_len(), 32);
        assert!(Version::AesGmac128.is_gmac() && !Version::AesGcm256.is_gmac());
    }

    #[test]
    fn spi_slot() {
        assert_eq!(Spi(0x7fff_ffff).key_slot(), 0);
        assert_eq!(Spi(0x8000_0001).key_slot(), 1);
        assert_eq!(Spi(0x8000_0001).to_string(), "0x80000001");
    }
}
