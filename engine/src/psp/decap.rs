//! PSP decapsulation, in place, with a syndrome instead of a panic.
//!
//! The input is an Ethernet frame from the secure side. Decap finds the PSP
//! header behind outer IPv4/IPv6 and UDP port 1000, asks a [`KeySource`]
//! for the SPI's key, verifies the ICV and decrypts in place, then strips:
//! tunnel mode (next header 4 or 41) leaves Ethernet + the inner packet;
//! transport mode restores the IP header's protocol and length and leaves
//! Ethernet + IP + the original payload.

use super::aead::AeadKey;
use super::buf::PacketBuf;
use super::header::{self, Header, HeaderRepr};
use super::{Mode, Spi, Version, ICV_LEN, UDP_PORT};
use crate::wire::{
    self, ip_proto, EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, MacAddr, UdpPacket,
    ETHERNET_HEADER_LEN as ETH, IPV6_HEADER_LEN, UDP_HEADER_LEN,
};
use std::net::IpAddr;

/// Why a PSP packet was rejected after it was recognised as PSP. Each has a
/// distinct bit so the datapath can count them like DOCA's syndrome word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Syndrome {
    /// The ICV did not verify (wrong key, SPI or tampering).
    #[error("ICV check failed")]
    IcvFail,
    /// Too short for the header it announces plus the ICV.
    #[error("bad trailer or length")]
    BadTrailer,
    /// A version this gateway does not implement.
    #[error("unknown PSP version")]
    UnknownVersion,
    /// Hdr Ext Len, V bit, always-one bit or reserved bits are wrong.
    #[error("malformed PSP header")]
    MalformedHeader,
    /// No key is available for the SPI (e.g. not a version we accept).
    #[error("no key for SPI")]
    NoKey,
    /// Authentic, but what was inside is not a valid inner packet.
    #[error("malformed inner packet")]
    BadInner,
    /// The crypt offset points past the end of the payload (before the
    /// ICV). DOCA's hardware reports this as a bad trailer (bit 1); the
    /// software path tells it apart.
    #[error("crypt offset past the payload")]
    BadCryptOffset,
}

impl Syndrome {
    /// All syndromes, in bit order.
    pub const ALL: [Syndrome; 7] = [
        Syndrome::IcvFail,
        Syndrome::BadTrailer,
        Syndrome::UnknownVersion,
        Syndrome::MalformedHeader,
        Syndrome::NoKey,
        Syndrome::BadInner,
        Syndrome::BadCryptOffset,
    ];

    /// The syndrome's bit. Bits 0 and 1 keep the meaning of DOCA's
    /// `enum doca_flow_crypto_syndrome`: ICV failure and bad trailer (a
    /// length the header or the trailer cannot have). The others extend
    /// the word with what software tells apart and hardware does not:
    /// what DOCA reports as a bad trailer is split into `BadTrailer`
    /// (bit 1) and `BadCryptOffset` (bit 6).
    pub const fn bit(self) -> u32 {
        match self {
            Syndrome::IcvFail => 1 << 0,
            Syndrome::BadTrailer => 1 << 1,
            Syndrome::UnknownVersion => 1 << 2,
            Syndrome::MalformedHeader => 1 << 3,
            Syndrome::NoKey => 1 << 4,
            Syndrome::BadInner => 1 << 5,
            Syndrome::BadCryptOffset => 1 << 6,
        }
    }

    /// A short stable name for counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Syndrome::IcvFail => "icv_fail",
            Syndrome::BadTrailer => "bad_trailer",
            Syndrome::UnknownVersion => "unknown_version",
            Syndrome::MalformedHeader => "malformed_header",
            Syndrome::NoKey => "no_key",
            Syndrome::BadInner => "bad_inner",
            Syndrome::BadCryptOffset => "bad_crypt_offset",
        }
    }
}

/// Why decap did not produce a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Well-formed traffic that is not PSP (not IP/UDP, or not port 1000).
    #[error("not PSP: {0}")]
    NotPsp(&'static str),
    /// The outer Ethernet/IP/UDP headers are malformed, or fragmented.
    #[error("outer headers: {0}")]
    Outer(wire::Error),
    /// A PSP packet that failed a check.
    #[error("PSP syndrome: {0}")]
    Syndrome(Syndrome),
}

impl From<Syndrome> for Error {
    fn from(s: Syndrome) -> Self {
        Error::Syndrome(s)
    }
}

/// Where decap gets the key of an SPI. Implemented by the per-core key
/// cache ([`super::cache::CachedKeys`]) and by single test keys.
pub trait KeySource {
    /// The expanded key for `spi` and `version`, if there is one.
    fn key(&mut self, spi: Spi, version: Version) -> Option<&AeadKey>;
}

/// One key for every SPI: the sender side of a test, or a tool that was
/// handed a key instead of master keys.
impl KeySource for AeadKey {
    fn key(&mut self, _spi: Spi, version: Version) -> Option<&AeadKey> {
        (self.version() == version).then_some(&*self)
    }
}

/// What decap learned about a packet that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecapInfo {
    /// SPI of the packet.
    pub spi: Spi,
    /// Its version.
    pub version: Version,
    /// Tunnel (next header 4/41) or transport.
    pub mode: Mode,
    /// The S bit: sample at receiver.
    pub sample: bool,
    /// The D bit.
    pub drop: bool,
    /// The IV.
    pub iv: u64,
    /// The virtualization cookie.
    pub vc: Option<u64>,
    /// Source address of the inner packet (the ACL's key with the SPI).
    pub inner_src: IpAddr,
    /// Destination address of the inner packet.
    pub inner_dst: IpAddr,
}

/// The outer layers of a PSP frame: offsets and lengths, all checked.
#[derive(Debug, Clone, Copy)]
struct Outer {
    /// IP header length (0 when the EtherType is not IP).
    ip_hdr_len: usize,
    /// Offset of the PSP header.
    psp_at: usize,
    /// End of the UDP payload (Ethernet padding excluded).
    end: usize,
    src: IpAddr,
    dst: IpAddr,
}

fn outer(d: &[u8]) -> Result<Outer, Error> {
    let eth = EthernetFrame::new_checked(d).map_err(Error::Outer)?;
    let (ip_hdr_len, l4, src, dst) = match eth.ethertype() {
        EtherType::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).map_err(Error::Outer)?;
            if ip.protocol() != ip_proto::UDP {
                return Err(Error::NotPsp("outer IPv4 is not UDP"));
            }
            if ip.is_fragment() {
                return Err(Error::Outer(wire::Error::Malformed("fragmented outer IPv4")));
            }
            if !ip.verify_checksum() {
                return Err(Error::Outer(wire::Error::Malformed("outer IPv4 header checksum")));
            }
            let l4 = &eth.payload()[ip.header_len()..ip.total_len()];
            (ip.header_len(), l4, IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()))
        }
        EtherType::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).map_err(Error::Outer)?;
            if ip.next_header() != ip_proto::UDP {
                return Err(Error::NotPsp("outer IPv6 is not UDP"));
            }
            let l4 = &eth.payload()[IPV6_HEADER_LEN..IPV6_HEADER_LEN + ip.payload_len()];
            (IPV6_HEADER_LEN, l4, IpAddr::V6(ip.src()), IpAddr::V6(ip.dst()))
        }
        EtherType::Other(_) => return Err(Error::NotPsp("not IP")),
    };
    let udp = UdpPacket::new_checked(l4).map_err(Error::Outer)?;
    if udp.dst_port() != UDP_PORT {
        return Err(Error::NotPsp("UDP destination port is not 1000"));
    }
    let psp_at = ETH + ip_hdr_len + UDP_HEADER_LEN;
    Ok(Outer { ip_hdr_len, psp_at, end: psp_at + udp.len() - UDP_HEADER_LEN, src, dst })
}

/// Options of a decap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecapOptions {
    /// Rewrite the Ethernet destination of the result (`--decap-dmac`).
    pub dst_mac: Option<MacAddr>,
}

/// Verifies, decrypts and strips the PSP frame in `buf`.
///
/// On `Err`, the packet must be dropped: its bytes may be partly decrypted.
pub fn decap<B: PacketBuf + ?Sized, K: KeySource + ?Sized>(
    buf: &mut B,
    keys: &mut K,
    opts: DecapOptions,
) -> Result<DecapInfo, Error> {
    let o = outer(buf.data())?;
    let d = buf.data_mut();
    let psp = &d[o.psp_at..o.end];
    let hdr = Header::new_checked(psp).map_err(|e| match e {
        header::Error::Truncated => Syndrome::BadTrailer,
        header::Error::Malformed(_) => Syndrome::MalformedHeader,
        header::Error::UnknownVersion(_) => Syndrome::UnknownVersion,
    })?;
    let repr = HeaderRepr::parse(&hdr).map_err(|_| Syndrome::UnknownVersion)?;
    let hdr_len = hdr.header_len();
    let nonce = hdr.nonce();
    let psp_len = o.end - o.psp_at;
    if psp_len < hdr_len + ICV_LEN {
        return Err(Syndrome::BadTrailer.into());
    }
    let clear_end = hdr.clear_len();
    if clear_end > psp_len - ICV_LEN {
        return Err(Syndrome::BadCryptOffset.into());
    }
    let key = keys.key(repr.spi, repr.version).ok_or(Syndrome::NoKey)?;
    let region = &mut d[o.psp_at..o.end];
    let verified = if repr.version.is_gmac() {
        let (aad, icv) = region.split_at_mut(psp_len - ICV_LEN);
        key.open(nonce, aad, icv)
    } else {
        let (aad, ct) = region.split_at_mut(clear_end);
        key.open(nonce, aad, ct)
    };
    verified.map_err(|_| Syndrome::IcvFail)?;

    // The VC may have been encrypted (crypt offset < 2): read it now.
    let vc = Header::new_unchecked(&d[o.psp_at..o.end]).vc();
    let inner_at = o.psp_at + hdr_len;
    let inner_end = o.end - ICV_LEN;
    let tunnel = matches!(repr.next_header, ip_proto::IPV4 | ip_proto::IPV6);
    let (inner_src, inner_dst) = if tunnel {
        let inner = &d[inner_at..inner_end];
        let addrs = if repr.next_header == ip_proto::IPV4 {
            Ipv4Packet::new_checked(inner)
                .ok()
                .filter(|ip| ip.total_len() == inner.len())
                .map(|ip| (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst())))
        } else {
            Ipv6Packet::new_checked(inner)
                .ok()
                .filter(|ip| IPV6_HEADER_LEN + ip.payload_len() == inner.len())
                .map(|ip| (IpAddr::V6(ip.src()), IpAddr::V6(ip.dst())))
        };
        addrs.ok_or(Syndrome::BadInner)?
    } else {
        (o.src, o.dst)
    };
    let info = DecapInfo {
        spi: repr.spi,
        version: repr.version,
        mode: if tunnel { Mode::Tunnel } else { Mode::Transport },
        sample: repr.sample,
        drop: repr.drop,
        iv: repr.iv,
        vc,
        inner_src,
        inner_dst,
    };

    let tail = buf.data().len() - inner_end;
    if tunnel {
        // Ethernet header moves to just before the inner packet.
        let eth_at = inner_at - ETH;
        let d = buf.data_mut();
        d.copy_within(0..12, eth_at);
        let mut eth = EthernetFrame::new_unchecked(&mut d[eth_at..inner_at]);
        eth.set_ethertype(if repr.next_header == ip_proto::IPV4 {
            EtherType::Ipv4
        } else {
            EtherType::Ipv6
        });
        if let Some(mac) = opts.dst_mac {
            eth.set_dst(mac);
        }
        trim(buf, eth_at, tail)?;
    } else {
        let l3_end = ETH + o.ip_hdr_len;
        let cut = inner_at - l3_end;
        let payload_len = inner_end - inner_at;
        let d = buf.data_mut();
        d.copy_within(0..l3_end, cut);
        let moved = &mut d[cut..cut + l3_end];
        if matches!(o.src, IpAddr::V6(_)) {
            let mut ip = Ipv6Packet::new_unchecked(&mut moved[ETH..]);
            ip.set_payload_len(payload_len as u16);
            ip.set_next_header(repr.next_header);
        } else {
            let mut ip = Ipv4Packet::new_unchecked(&mut moved[ETH..]);
            ip.set_total_len((o.ip_hdr_len + payload_len) as u16);
            ip.set_protocol(repr.next_header);
            ip.fill_checksum();
        }
        if let Some(mac) = opts.dst_mac {
            EthernetFrame::new_unchecked(&mut moved[..ETH]).set_dst(mac);
        }
        trim(buf, cut, tail)?;
    }
    Ok(info)
}

fn trim<B: PacketBuf + ?Sized>(buf: &mut B, front: usize, back: usize) -> Result<(), Error> {
    // Both lengths come from headers checked against the data length.
    buf.trim_front(front)
        .and_then(|()| buf.trim_back(back))
        .map_err(|_| Error::Outer(wire::Error::Truncated("frame")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psp::buf::VecBuf;
    use crate::psp::encap::{EncapConfig, Encapsulator, OuterIp};
    use crate::psp::kdf::DerivedKey;

    fn frame() -> Vec<u8> {
        let payload = b"sixteen byte msg and a bit more";
        let mut f = vec![0u8; ETH + 28 + payload.len()];
        f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        wire::ipv4_emit(
            &mut f[ETH..],
            "192.168.1.1".parse().unwrap(),
            "192.168.1.2".parse().unwrap(),
            17,
            0,
            64,
            (28 + payload.len()) as u16,
        );
        wire::udp_emit(&mut f[ETH + 20..], 1, 2, (8 + payload.len()) as u16);
        f[ETH + 28..].copy_from_slice(payload);
        f
    }

    fn enc(mode: Mode, version: Version, co: u8, vc: Option<u64>) -> (Encapsulator, AeadKey) {
        let raw = vec![0x42; version.key_len()];
        let cfg = EncapConfig {
            mode,
            version,
            spi: Spi(0x10),
            crypt_offset: co,
            vc,
            eth: None,
            outer: OuterIp::V4 {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
            },
            ttl: 64,
        };
        let e = Encapsulator::new(cfg, &DerivedKey::from_bytes(&raw).unwrap()).unwrap();
        (e, AeadKey::from_raw(version, &raw).unwrap())
    }

    #[test]
    fn roundtrip_tunnel_and_transport() {
        for mode in [Mode::Tunnel, Mode::Transport] {
            for version in Version::ALL {
                let (e, mut k) = enc(mode, version, 1, Some(7));
                let mut b = VecBuf::new(&frame());
                e.encap(&mut b, 77, true).unwrap();
                let info = decap(&mut b, &mut k, DecapOptions::default()).unwrap();
                assert_eq!(b.data(), &frame()[..], "{mode:?} {version}");
                assert_eq!(
                    (info.spi, info.iv, info.vc, info.sample),
                    (Spi(0x10), 77, Some(7), true)
                );
                assert_eq!(info.mode, mode);
                // Tunnel mode: the inner header's source; transport mode: the
                // original IP header that encap kept. Both are 192.168.1.1.
                assert_eq!(info.inner_src, "192.168.1.1".parse::<IpAddr>().unwrap());
            }
        }
    }

    #[test]
    fn syndromes() {
        let (e, mut k) = enc(Mode::Tunnel, Version::AesGcm128, 0, None);
        let mut b = VecBuf::new(&frame());
        e.encap(&mut b, 1, false).unwrap();
        let good = b.data().to_vec();
        let psp_at = ETH + 20 + 8;

        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            decap(&mut VecBuf::new(&bad), &mut k, DecapOptions::default()),
            Err(Error::Syndrome(Syndrome::IcvFail))
        );
        let mut ver = good.clone();
        ver[psp_at + 3] = (7 << 2) | 1;
        assert_eq!(
            decap(&mut VecBuf::new(&ver), &mut k, DecapOptions::default()),
            Err(Error::Syndrome(Syndrome::UnknownVersion))
        );
        let mut mal = good.clone();
        mal[psp_at + 1] = 0;
        assert_eq!(
            decap(&mut VecBuf::new(&mal), &mut k, DecapOptions::default()),
            Err(Error::Syndrome(Syndrome::MalformedHeader))
        );
        let mut co = good.clone();
        co[psp_at + 2] = 63;
        assert_eq!(
            decap(&mut VecBuf::new(&co), &mut k, DecapOptions::default()),
            Err(Error::Syndrome(Syndrome::BadCryptOffset))
        );
        let mut k256 = AeadKey::from_raw(Version::AesGcm256, &[0x42; 32]).unwrap();
        assert_eq!(
            decap(&mut VecBuf::new(&good), &mut k256, DecapOptions::default()),
            Err(Error::Syndrome(Syndrome::NoKey))
        );
        let mut port = good.clone();
        port[ETH + 20 + 3] = 0xe9; // 1001
        assert_eq!(
            decap(&mut VecBuf::new(&port), &mut k, DecapOptions::default()),
            Err(Error::NotPsp("UDP destination port is not 1000"))
        );
        assert!(matches!(
            decap(&mut VecBuf::new(&good[..40]), &mut k, DecapOptions::default()),
            Err(Error::Outer(_))
        ));
        let mut csum = good.clone();
        csum[ETH + 8] ^= 1; // TTL changed, checksum not updated
        assert_eq!(
            decap(&mut VecBuf::new(&csum), &mut k, DecapOptions::default()),
            Err(Error::Outer(wire::Error::Malformed("outer IPv4 header checksum")))
        );
    }

    /// The packet `e` makes, rewritten in the compact cookie layout (V set,
    /// Hdr Ext Len 1, header in clear) and sealed again.
    fn compact(e: &Encapsulator, k: &AeadKey, co: u8) -> Vec<u8> {
        let mut b = VecBuf::new(&frame());
        e.encap(&mut b, 5, false).unwrap();
        let mut p = b.data().to_vec();
        let psp_at = ETH + 20 + 8;
        let nonce: [u8; 12] = p[psp_at + 4..psp_at + 16].try_into().unwrap();
        let spec = psp_at + 16 + usize::from(co) * 4;
        let (aad, ct) = p.split_at_mut(spec);
        k.open(nonce, &aad[psp_at..], ct).unwrap();
        p.truncate(p.len() - ICV_LEN);
        p[psp_at + 1] = 1;
        let clear = spec.max(psp_at + 24);
        let (aad, pt) = p.split_at_mut(clear);
        let icv = k.seal(nonce, &aad[psp_at..], pt);
        p.extend_from_slice(&icv);
        p
    }

    #[test]
    fn compact_cookie_layout_accepted() {
        // scapy's default layout: Hdr Ext Len 1 with V set and the cookie in
        // clear, for every offset including those that would encrypt it.
        for co in [0u8, 1, 2, 3, 6] {
            let (e, mut k) = enc(Mode::Tunnel, Version::AesGcm128, co, Some(0x00c0_c01e));
            let p = compact(&e, &k, co);
            assert_eq!((p[ETH + 28 + 1], p[ETH + 28 + 3] & 2), (1, 2));
            assert_eq!(&p[ETH + 28 + 16..ETH + 28 + 24], &0x00c0_c01e_u64.to_be_bytes());
            let mut b = VecBuf::new(&p);
            let info = decap(&mut b, &mut k, DecapOptions::default()).unwrap();
            assert_eq!((info.vc, b.data()), (Some(0x00c0_c01e), &frame()[..]), "co {co}");
            // The same bytes read by the spec's rule (Hdr Ext Len 2) fail.
            let mut spec = p.clone();
            spec[ETH + 28 + 1] = 2;
            let r = decap(&mut VecBuf::new(&spec), &mut k, DecapOptions::default());
            if co < 2 {
                assert_eq!(r, Err(Error::Syndrome(Syndrome::IcvFail)), "co {co}");
            }
        }
    }

    #[test]
    fn decap_dmac_rewrite() {
        let (e, mut k) = enc(Mode::Tunnel, Version::AesGcm256, 0, None);
        let mut b = VecBuf::new(&frame());
        e.encap(&mut b, 1, false).unwrap();
        let mac = MacAddr([0xde, 0xad, 0, 0, 0, 1]);
        decap(&mut b, &mut k, DecapOptions { dst_mac: Some(mac) }).unwrap();
        assert_eq!(EthernetFrame::new_checked(b.data()).unwrap().dst(), mac);
        assert_eq!(&b.data()[6..], &frame()[6..]);
    }
}
