//! Typed tunnel parameters and their strict conversion from and to the wire.

use crate::pb;
use engine::psp::kdf::DerivedKey;
use engine::psp::{Spi, Version};
use engine::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

/// Why a `TunnelParameters` or a virtual address from the wire was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// `psp_version` is not 0..=3.
    #[error("unknown PSP version {0}")]
    UnknownVersion(u32),
    /// `encryption_key` is not the length its version needs.
    #[error("key of {got} bytes for PSP version {version} (needs {expected})")]
    KeyLength {
        /// The version's wire value.
        version: u8,
        /// Required length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// `ip_addr` is not an IP address.
    #[error("bad gateway IP address {0:?}")]
    BadIp(String),
    /// `mac_addr` is not a MAC address.
    #[error("bad gateway MAC address {0:?}")]
    BadMac(String),
    /// A virtual address that is not an IP address (of `inner_type`'s
    /// version when it names one).
    #[error("virtual address {0:?} is not an {1} address")]
    BadVirtIp(String, &'static str),
    /// An `inner_type` other than 0 (not given), 4 or 6.
    #[error("inner_type {0}: must be 4 (IPv4) or 6 (IPv6)")]
    BadInnerType(u32),
}

/// At most this many characters of a peer's value go into an error (and
/// so into a gRPC status, whose message travels in an HTTP/2 header).
pub const EXCERPT_CHARS: usize = 48;

/// `s`, cut to [`EXCERPT_CHARS`] with its full length noted when longer.
pub fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}... ({} bytes)", &s[..cut], s.len()),
    }
}

/// Parses a virtual (inner) address of the request's `inner_type`, as
/// DOCA 3.x's `SingleTunnelRequest.inner_type`: 4 IPv4, 6 IPv6, and 0 (a
/// DOCA 2.8 peer, which does not set it) takes either by its form.
pub fn parse_virt_ip(s: &str, inner_type: u32) -> Result<IpAddr, ParamError> {
    let (ip, want) = match inner_type {
        0 => (s.parse::<IpAddr>().ok(), "IP"),
        4 => (s.parse::<Ipv4Addr>().ok().map(IpAddr::V4), "IPv4"),
        6 => (s.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6), "IPv6"),
        n => return Err(ParamError::BadInnerType(n)),
    };
    ip.ok_or_else(|| ParamError::BadVirtIp(excerpt(s), want))
}

/// The `inner_type` of a request between these virtual addresses (4 or 6,
/// by the source's version), as DOCA 3.x sets it.
pub fn inner_type_of(ip: IpAddr) -> u32 {
    if ip.is_ipv6() {
        6
    } else {
        4
    }
}

/// One direction of one tunnel, validated: what a sender needs to reach a
/// receiver. The key is wiped on drop and redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct TunnelParams {
    /// The receiving gateway's MAC address, when it gave one.
    pub mac: Option<MacAddr>,
    /// The receiving gateway's outer IP address.
    pub ip: IpAddr,
    /// The PSP version (cipher suite).
    pub version: Version,
    /// The SPI to send with.
    pub spi: Spi,
    /// The key to send with (length matches `version`).
    pub key: DerivedKey,
    /// The virtualization cookie to send, when cookies are enabled.
    pub virt_cookie: Option<u64>,
    /// `encap_type` as given (carried through, not interpreted).
    pub encap_type: u32,
}

impl TunnelParams {
    /// Validates wire parameters: known version, key length of that
    /// version, parseable IP, empty or parseable MAC. A zero cookie means
    /// none (proto3 cannot tell them apart).
    pub fn from_wire(p: &pb::TunnelParameters) -> Result<TunnelParams, ParamError> {
        let version = u8::try_from(p.psp_version)
            .ok()
            .and_then(Version::from_wire)
            .ok_or(ParamError::UnknownVersion(p.psp_version))?;
        if p.encryption_key.len() != version.key_len() {
            return Err(ParamError::KeyLength {
                version: version.wire(),
                expected: version.key_len(),
                got: p.encryption_key.len(),
            });
        }
        let key = DerivedKey::from_bytes(&p.encryption_key).map_err(|_| ParamError::KeyLength {
            version: version.wire(),
            expected: version.key_len(),
            got: p.encryption_key.len(),
        })?;
        let ip = p.ip_addr.parse::<IpAddr>().map_err(|_| ParamError::BadIp(excerpt(&p.ip_addr)))?;
        let mac = if p.mac_addr.is_empty() {
            None
        } else {
            Some(
                p.mac_addr
                    .parse::<MacAddr>()
                    .map_err(|_| ParamError::BadMac(excerpt(&p.mac_addr)))?,
            )
        };
        Ok(TunnelParams {
            mac,
            ip,
            version,
            spi: Spi(p.spi),
            key,
            virt_cookie: (p.virt_cookie != 0).then_some(p.virt_cookie),
            encap_type: p.encap_type,
        })
    }

    /// The wire form. The returned message holds a copy of the key: wipe it
    /// ([`pb::TunnelParameters::wipe_key`]) when done.
    pub fn to_wire(&self) -> pb::TunnelParameters {
        pb::TunnelParameters {
            mac_addr: self.mac.map(|m| m.to_string()).unwrap_or_default(),
            ip_addr: self.ip.to_string(),
            psp_version: u32::from(self.version.wire()),
            spi: self.spi.0,
            encryption_key: self.key.as_bytes().to_vec(),
            virt_cookie: self.virt_cookie.unwrap_or(0),
            encap_type: self.encap_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(version: u32, key_len: usize) -> pb::TunnelParameters {
        pb::TunnelParameters {
            mac_addr: "02:00:00:00:00:01".into(),
            ip_addr: "192.0.2.1".into(),
            psp_version: version,
            spi: 0x8000_0001,
            encryption_key: vec![0xab; key_len],
            virt_cookie: 7,
            encap_type: 0,
        }
    }

    #[test]
    fn roundtrip_and_strictness() {
        let p = TunnelParams::from_wire(&wire(1, 32)).unwrap();
        assert_eq!(p.version, Version::AesGcm256);
        assert_eq!(p.virt_cookie, Some(7));
        let back = p.to_wire();
        assert_eq!(back, wire(1, 32));
        assert!(matches!(
            TunnelParams::from_wire(&wire(1, 16)),
            Err(ParamError::KeyLength { expected: 32, got: 16, .. })
        ));
        assert!(matches!(
            TunnelParams::from_wire(&wire(2, 32)),
            Err(ParamError::KeyLength { expected: 16, .. })
        ));
        assert_eq!(
            TunnelParams::from_wire(&wire(4, 16)).unwrap_err(),
            ParamError::UnknownVersion(4)
        );
        let mut bad = wire(0, 16);
        bad.ip_addr = "gateway".into();
        assert!(matches!(TunnelParams::from_wire(&bad), Err(ParamError::BadIp(_))));
        let mut bad = wire(0, 16);
        bad.mac_addr = "02:00".into();
        assert!(matches!(TunnelParams::from_wire(&bad), Err(ParamError::BadMac(_))));
        assert_eq!(
            parse_virt_ip("fd00::1", 4).unwrap_err().to_string(),
            "virtual address \"fd00::1\" is not an IPv4 address"
        );
        assert!(parse_virt_ip("10.0.0.3", 6).is_err());
        assert!(parse_virt_ip("10.0.0.300", 0).is_err());
        assert_eq!(parse_virt_ip("10.0.0.3", 4).unwrap(), IpAddr::from([10, 0, 0, 3]));
        assert_eq!(parse_virt_ip("10.0.0.3", 0).unwrap(), IpAddr::from([10, 0, 0, 3]));
        let v6: IpAddr = "fd00:10::2".parse().unwrap();
        assert_eq!(
            (parse_virt_ip("fd00:10::2", 6).unwrap(), parse_virt_ip("fd00:10::2", 0).unwrap()),
            (v6, v6)
        );
        assert_eq!(parse_virt_ip("10.0.0.3", 5).unwrap_err(), ParamError::BadInnerType(5));
        assert_eq!((inner_type_of(v6), inner_type_of([10, 0, 0, 3].into())), (6, 4));
    }

    #[test]
    fn debug_redacts_keys() {
        let w = wire(1, 32);
        assert!(!format!("{w:?}").contains("171"), "{w:?}");
        assert!(!format!("{w:?}").to_lowercase().contains("abab"));
        let p = TunnelParams::from_wire(&w).unwrap();
        let s = format!("{p:?}");
        assert!(!s.contains("171") && !s.to_lowercase().contains("ab, "), "{s}");
    }
}
