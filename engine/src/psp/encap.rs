//! PSP encapsulation, in place, in tunnel and transport mode.
//!
//! The input is an Ethernet frame holding an IPv4 or IPv6 packet. Tunnel
//! mode prepends outer IP/UDP/PSP(+VC) into the headroom in front of the
//! inner IP packet (reusing the old Ethernet header's 14 bytes) and appends
//! the ICV into the tailroom. Transport mode moves the Ethernet and IP
//! headers forward by UDP+PSP(+VC) bytes and inserts UDP/PSP between the IP
//! header and its payload. Encryption runs in place from the crypt offset
//! to the end of the payload.

use super::aead::{self, AeadKey};
use super::buf::{self, PacketBuf};
use super::header::HeaderRepr;
use super::kdf::DerivedKey;
use super::{Mode, Spi, Version, HEADER_LEN, ICV_LEN, MAX_CRYPT_OFFSET, UDP_PORT, VC_LEN};
use crate::wire::{
    self, ip_proto, EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, MacAddr,
    ETHERNET_HEADER_LEN as ETH, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a packet could not be encapsulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input frame or its IP header is malformed or truncated.
    #[error("input packet: {0}")]
    Wire(#[from] wire::Error),
    /// The frame carries neither IPv4 nor IPv6.
    #[error("not an IP packet (EtherType {0:#06x})")]
    NotIp(u16),
    /// Transport mode cannot carry an IP fragment.
    #[error("transport mode cannot protect an IP fragment")]
    Fragment,
    /// Transport mode over IPv6 extension headers that routers must read.
    #[error("transport mode cannot protect an IPv6 packet with extension header {0}")]
    Ipv6Extension(u8),
    /// Transport mode over IP-in-IP: a receiver reads PSP next header 4 or
    /// 41 as tunnel mode, so the packet would not come back as sent.
    #[error("transport mode cannot carry IP-in-IP (protocol {0}); use tunnel mode")]
    IpInIp(u8),
    /// The crypt offset reaches past the end of the payload.
    #[error("crypt offset {offset} ({} bytes) exceeds the {payload} bytes after the IV", offset * 4)]
    CryptOffsetTooLarge {
        /// Crypt offset in 4-byte units.
        offset: u8,
        /// Bytes after the IV (VC plus payload).
        payload: usize,
    },
    /// The result would exceed 65535 bytes of IP.
    #[error("encapsulated packet would be {0} bytes, above the IP limit")]
    TooLong(usize),
    /// Not enough head- or tailroom.
    #[error(transparent)]
    Room(#[from] buf::Error),
    /// A bad key for the version.
    #[error(transparent)]
    Key(#[from] aead::Error),
    /// A crypt offset above 63.
    #[error("crypt offset {0} is above 63")]
    BadCryptOffset(u8),
}

/// Outer addresses of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OuterIp {
    /// Outer IPv4.
    V4 {
        /// Source (our uplink address).
        src: Ipv4Addr,
        /// Destination (the peer's uplink address).
        dst: Ipv4Addr,
    },
    /// Outer IPv6 (the default of the DOCA application).
    V6 {
        /// Source.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
    },
}

/// Ethernet addresses written on the output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthAddrs {
    /// Source MAC (our uplink).
    pub src: MacAddr,
    /// Destination MAC (the next hop).
    pub dst: MacAddr,
}

/// What a tunnel's packets are wrapped in; the "encap data" of a flow entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncapConfig {
    /// Tunnel or transport.
    pub mode: Mode,
    /// Cipher suite.
    pub version: Version,
    /// The SPI the receiver gave us.
    pub spi: Spi,
    /// Crypt offset in 4-byte units from the end of the IV (VC included).
    pub crypt_offset: u8,
    /// Virtualization cookie, if any.
    pub vc: Option<u64>,
    /// Ethernet addresses to write; `None` keeps those of the input frame.
    pub eth: Option<EthAddrs>,
    /// Outer addresses (tunnel mode only).
    pub outer: OuterIp,
    /// Outer TTL / hop limit (tunnel mode only).
    pub ttl: u8,
}

impl EncapConfig {
    /// The tunnel-mode headers this tunnel prepends (Ethernet, outer IP,
    /// UDP, PSP and VC) with the per-packet fields as the datapath's
    /// template leaves them: lengths, traffic class, flow label, source
    /// port, IV and S bit zero, the outer IPv4 checksum computed over that
    /// zero-length header, and the MACs zero when `eth` is `None`. It is
    /// the "encap data" a NIC that encaps in hardware is given.
    pub fn tunnel_header_template(&self) -> Vec<u8> {
        let t = Template::new(self);
        t.bytes[..t.len].to_vec()
    }
}

/// A tunnel's sending half: its encap data and its expanded key.
#[derive(Debug)]
pub struct Encapsulator {
    cfg: EncapConfig,
    key: AeadKey,
    tpl: Template,
    key_check: u64,
    /// [`Self::overhead`], kept for the datapath's length check.
    overhead: usize,
}

/// Longest tunnel header: Ethernet, outer IPv6, UDP, PSP and VC.
const TEMPLATE_MAX: usize = ETH + IPV6_HEADER_LEN + UDP_HEADER_LEN + HEADER_LEN + VC_LEN;

/// The tunnel-mode headers pre-rendered when the tunnel is made, so a
/// packet costs one copy plus patching the fields that vary: lengths,
/// checksum, traffic class, flow label, source port, next header, S, IV.
#[derive(Debug, Clone)]
struct Template {
    bytes: [u8; TEMPLATE_MAX],
    len: usize,
    outer_len: usize,
    /// One's-complement sum of the outer IPv4 header with zero length and
    /// TOS, for the per-packet checksum.
    ipv4_sum: u32,
}

impl Template {
    fn new(cfg: &EncapConfig) -> Template {
        let mut bytes = [0u8; TEMPLATE_MAX];
        let (outer_len, ethertype) = match cfg.outer {
            OuterIp::V4 { .. } => (IPV4_MIN_HEADER_LEN, EtherType::Ipv4),
            OuterIp::V6 { .. } => (IPV6_HEADER_LEN, EtherType::Ipv6),
        };
        let mut eth = EthernetFrame::new_unchecked(&mut bytes[..ETH]);
        if let Some(a) = cfg.eth {
            eth.set_dst(a.dst);
            eth.set_src(a.src);
        }
        eth.set_ethertype(ethertype);
        let mut ipv4_sum = 0;
        match cfg.outer {
            OuterIp::V4 { src, dst } => {
                wire::ipv4_emit(&mut bytes[ETH..], src, dst, ip_proto::UDP, 0, cfg.ttl, 0);
                ipv4_sum = u32::from(!u16::from_be_bytes([bytes[ETH + 10], bytes[ETH + 11]]));
            }
            OuterIp::V6 { src, dst } => wire::ipv6_emit(
                &mut bytes[ETH..],
                wire::Ipv6Fields {
                    src,
                    dst,
                    next_header: ip_proto::UDP,
                    traffic_class: 0,
                    flow_label: 0,
                    hop_limit: cfg.ttl,
                    payload_len: 0,
                },
            ),
        }
        let udp_at = ETH + outer_len;
        wire::udp_emit(&mut bytes[udp_at..], 0, UDP_PORT, 0);
        let psp = HeaderRepr {
            next_header: ip_proto::IPV4,
            crypt_offset: cfg.crypt_offset,
            sample: false,
            drop: false,
            version: cfg.version,
            spi: cfg.spi,
            iv: 0,
            vc: cfg.vc,
        };
        psp.emit(&mut bytes[udp_at + UDP_HEADER_LEN..]);
        let len = udp_at + UDP_HEADER_LEN + psp.buffer_len();
        Template { bytes, len, outer_len, ipv4_sum }
    }
}

/// Facts about the inner packet that encap needs.
#[derive(Debug, Clone, Copy)]
struct Inner {
    v6: bool,
    /// IP packet length (header + payload, padding excluded).
    ip_len: usize,
    /// IP header length (IPv4 IHL; 40 for IPv6).
    hdr_len: usize,
    /// IPv4 protocol or IPv6 next header.
    proto: u8,
    dscp_ecn: u8,
    fragment: bool,
    hash: u32,
}

/// A hash of the flow's addresses, protocol and ports: stable per flow, so
/// one flow keeps one UDP source port (ECMP path) and flow label. Words are
/// xor-folded into two lanes that are multiplied independently, so the
/// multiplies overlap instead of forming a chain (this runs per packet).
#[inline]
fn flow_hash(src: &[u8], dst: &[u8], proto: u8, ports: Option<&[u8]>) -> u32 {
    let fold = |bytes: &[u8]| {
        bytes.chunks(4).fold(0u32, |acc, w| {
            let mut word = [0u8; 4];
            word[..w.len()].copy_from_slice(w);
            acc.rotate_left(5) ^ u32::from_ne_bytes(word)
        })
    };
    let ports = ports.map_or(0, fold);
    let a = (fold(src) ^ ports).wrapping_mul(0x85eb_ca6b);
    let b = (fold(dst) ^ u32::from(proto)).wrapping_mul(0xc2b2_ae35);
    let h = a ^ b.rotate_left(16);
    h ^ (h >> 15)
}

/// The UDP source port for a flow: in the dynamic range 49152..=65535, as
/// other UDP tunnels (VXLAN, RFC 7348) use for entropy.
pub fn source_port(hash: u32) -> u16 {
    0xc000 | (hash ^ (hash >> 16)) as u16 & 0x3fff
}

impl Inner {
    fn parse(frame: &[u8]) -> Result<Inner, Error> {
        let eth = EthernetFrame::new_checked(frame)?;
        match eth.ethertype() {
            EtherType::Ipv4 => {
                let ip = Ipv4Packet::new_checked(eth.payload())?;
                let fragment = ip.is_fragment();
                let proto = ip.protocol();
                let l4 = ip.payload();
                let ports =
                    (!fragment && matches!(proto, ip_proto::TCP | ip_proto::UDP) && l4.len() >= 4)
                        .then(|| &l4[..4]);
                Ok(Inner {
                    v6: false,
                    ip_len: ip.total_len(),
                    hdr_len: ip.header_len(),
                    proto,
                    dscp_ecn: ip.dscp_ecn(),
                    fragment,
                    hash: flow_hash(&ip.src().octets(), &ip.dst().octets(), proto, ports),
                })
            }
            EtherType::Ipv6 => {
                let ip = Ipv6Packet::new_checked(eth.payload())?;
                let proto = ip.next_header();
                let l4 = ip.payload();
                let ports = (matches!(proto, ip_proto::TCP | ip_proto::UDP) && l4.len() >= 4)
                    .then(|| &l4[..4]);
                Ok(Inner {
                    v6: true,
                    ip_len: IPV6_HEADER_LEN + ip.payload_len(),
                    hdr_len: IPV6_HEADER_LEN,
                    proto,
                    dscp_ecn: ip.traffic_class(),
                    fragment: proto == ip_proto::IPV6_FRAG,
                    hash: flow_hash(&ip.src().octets(), &ip.dst().octets(), proto, ports)
                        ^ ip.flow_label(),
                })
            }
            EtherType::Other(t) => Err(Error::NotIp(t)),
        }
    }
}

impl Encapsulator {
    /// Builds the sending half of a tunnel from its encap data and key.
    pub fn new(cfg: EncapConfig, key: &DerivedKey) -> Result<Encapsulator, Error> {
        if cfg.crypt_offset > MAX_CRYPT_OFFSET {
            return Err(Error::BadCryptOffset(cfg.crypt_offset));
        }
        let key_check = key.check_value();
        let key = AeadKey::new(cfg.version, key)?;
        let tpl = Template::new(&cfg);
        let mut e = Encapsulator { cfg, key, tpl, key_check, overhead: 0 };
        e.overhead = e.overhead_front() + ICV_LEN;
        Ok(e)
    }

    /// The key's check value ([`DerivedKey::check_value`]): whether a
    /// replacement tunnel with the same SPI has a new key.
    pub fn key_check(&self) -> u64 {
        self.key_check
    }

    /// The tunnel's encap data.
    pub fn config(&self) -> &EncapConfig {
        &self.cfg
    }

    /// Changes the outer addresses (e.g. per packet in offline tools).
    pub fn set_outer(&mut self, outer: OuterIp) {
        self.cfg.outer = outer;
        self.tpl = Template::new(&self.cfg);
        self.overhead = self.overhead_front() + ICV_LEN;
    }

    /// Changes the Ethernet addresses written on output.
    pub fn set_eth(&mut self, eth: Option<EthAddrs>) {
        self.cfg.eth = eth;
        self.tpl = Template::new(&self.cfg);
    }

    /// Bytes of header this tunnel prepends (tunnel mode: outer IP, UDP,
    /// PSP and VC; transport mode: UDP, PSP and VC).
    #[inline]
    pub fn overhead_front(&self) -> usize {
        let vc = if self.cfg.vc.is_some() { VC_LEN } else { 0 };
        let outer = match (self.cfg.mode, self.cfg.outer) {
            (Mode::Transport, _) => 0,
            (Mode::Tunnel, OuterIp::V4 { .. }) => IPV4_MIN_HEADER_LEN,
            (Mode::Tunnel, OuterIp::V6 { .. }) => IPV6_HEADER_LEN,
        };
        outer + UDP_HEADER_LEN + HEADER_LEN + vc
    }

    /// Bytes this tunnel adds to an IP packet:
    /// [`overhead_front`](Self::overhead_front) plus the ICV.
    #[inline]
    pub fn overhead(&self) -> usize {
        self.overhead
    }

    /// Encapsulates and protects the frame in `buf` with `iv` (which the
    /// caller never repeats under one key), setting the S bit if `sample`.
    /// Returns the new frame length. On error `buf` is unchanged except for
    /// trimmed Ethernet padding.
    pub fn encap<B: PacketBuf + ?Sized>(
        &self,
        buf: &mut B,
        iv: u64,
        sample: bool,
    ) -> Result<usize, Error> {
        let inner = Inner::parse(buf.data())?;
        let frame_len = ETH + inner.ip_len;
        let padding = buf.data().len() - frame_len;
        if padding > 0 {
            buf.trim_back(padding)?;
        }
        let vc_len = if self.cfg.vc.is_some() { VC_LEN } else { 0 };
        let after_iv = match self.cfg.mode {
            Mode::Tunnel => vc_len + inner.ip_len,
            Mode::Transport => vc_len + inner.ip_len - inner.hdr_len,
        };
        if usize::from(self.cfg.crypt_offset) * 4 > after_iv {
            return Err(Error::CryptOffsetTooLarge {
                offset: self.cfg.crypt_offset,
                payload: after_iv,
            });
        }
        let front = self.overhead_front();
        if buf.headroom() < front {
            return Err(buf::Error::Headroom { have: buf.headroom(), need: front }.into());
        }
        if buf.tailroom() < ICV_LEN {
            return Err(buf::Error::Tailroom { have: buf.tailroom(), need: ICV_LEN }.into());
        }
        let udp_len = UDP_HEADER_LEN + HEADER_LEN + after_iv + ICV_LEN;
        match self.cfg.mode {
            Mode::Tunnel => self.encap_tunnel(buf, &inner, udp_len, front, iv, sample),
            Mode::Transport => self.encap_transport(buf, &inner, udp_len, front, iv, sample),
        }
    }

    fn psp_header(&self, next_header: u8, iv: u64, sample: bool) -> HeaderRepr {
        HeaderRepr {
            next_header,
            crypt_offset: self.cfg.crypt_offset,
            sample,
            drop: false,
            version: self.cfg.version,
            spi: self.cfg.spi,
            iv,
            vc: self.cfg.vc,
        }
    }

    fn encap_tunnel<B: PacketBuf + ?Sized>(
        &self,
        buf: &mut B,
        inner: &Inner,
        udp_len: usize,
        front: usize,
        iv: u64,
        sample: bool,
    ) -> Result<usize, Error> {
        let t = &self.tpl;
        let outer_v4 = t.outer_len == IPV4_MIN_HEADER_LEN;
        let ip_total = udp_len + if outer_v4 { IPV4_MIN_HEADER_LEN } else { 0 };
        if ip_total > usize::from(u16::MAX) {
            return Err(Error::TooLong(ip_total));
        }
        let mut macs = [0u8; 12];
        macs.copy_from_slice(&buf.data()[..12]);
        buf.prepend(front)?;
        buf.append(ICV_LEN)?;
        let d = buf.data_mut();
        d[..t.len].copy_from_slice(&t.bytes[..t.len]);
        if self.cfg.eth.is_none() {
            d[..12].copy_from_slice(&macs);
        }
        let ip = &mut d[ETH..ETH + t.outer_len];
        if outer_v4 {
            ip[1] = inner.dscp_ecn;
            ip[2..4].copy_from_slice(&(ip_total as u16).to_be_bytes());
            // RFC 1624: add the changed words to the template's sum.
            let mut sum = t.ipv4_sum + u32::from(inner.dscp_ecn) + ip_total as u32;
            sum = (sum & 0xffff) + (sum >> 16);
            sum = (sum & 0xffff) + (sum >> 16);
            ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        } else {
            let vtf = (6u32 << 28) | (u32::from(inner.dscp_ecn) << 20) | (inner.hash & 0xf_ffff);
            ip[..4].copy_from_slice(&vtf.to_be_bytes());
            ip[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        }
        let udp_at = ETH + t.outer_len;
        d[udp_at..udp_at + 2].copy_from_slice(&source_port(inner.hash).to_be_bytes());
        d[udp_at + 4..udp_at + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        let psp_at = udp_at + UDP_HEADER_LEN;
        d[psp_at] = if inner.v6 { ip_proto::IPV6 } else { ip_proto::IPV4 };
        if sample {
            d[psp_at + 3] |= 0x80;
        }
        d[psp_at + 8..psp_at + 16].copy_from_slice(&iv.to_be_bytes());
        self.protect(d, psp_at);
        Ok(d.len())
    }

    fn encap_transport<B: PacketBuf + ?Sized>(
        &self,
        buf: &mut B,
        inner: &Inner,
        udp_len: usize,
        front: usize,
        iv: u64,
        sample: bool,
    ) -> Result<usize, Error> {
        if inner.fragment {
            return Err(Error::Fragment);
        }
        if matches!(inner.proto, ip_proto::IPV4 | ip_proto::IPV6) {
            return Err(Error::IpInIp(inner.proto));
        }
        if inner.v6
            && matches!(inner.proto, ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_FRAG)
        {
            return Err(Error::Ipv6Extension(inner.proto));
        }
        let new_ip_len = inner.ip_len + front + ICV_LEN;
        if new_ip_len > usize::from(u16::MAX) {
            return Err(Error::TooLong(new_ip_len));
        }
        buf.prepend(front)?;
        buf.append(ICV_LEN)?;
        let d = buf.data_mut();
        let l3_end = ETH + inner.hdr_len;
        // Ethernet and IP headers move forward to make room for UDP+PSP.
        d.copy_within(front..front + l3_end, 0);
        if let Some(a) = self.cfg.eth {
            let mut eth = EthernetFrame::new_unchecked(&mut d[..ETH]);
            eth.set_dst(a.dst);
            eth.set_src(a.src);
        }
        if inner.v6 {
            let mut ip = Ipv6Packet::new_unchecked(&mut d[ETH..l3_end]);
            ip.set_payload_len((new_ip_len - IPV6_HEADER_LEN) as u16);
            ip.set_next_header(ip_proto::UDP);
        } else {
            let mut ip = Ipv4Packet::new_unchecked(&mut d[ETH..l3_end]);
            ip.set_total_len(new_ip_len as u16);
            ip.set_protocol(ip_proto::UDP);
            ip.fill_checksum();
        }
        wire::udp_emit(&mut d[l3_end..], source_port(inner.hash), UDP_PORT, udp_len as u16);
        let psp_at = l3_end + UDP_HEADER_LEN;
        self.psp_header(inner.proto, iv, sample).emit(&mut d[psp_at..]);
        self.protect(d, psp_at);
        Ok(d.len())
    }

    /// Seals from the crypt offset to the end (GCM) or authenticates all
    /// (GMAC), and writes the ICV into the last 16 bytes of `d`.
    fn protect(&self, d: &mut [u8], psp_at: usize) {
        let end = d.len() - ICV_LEN;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&d[psp_at + 4..psp_at + 16]);
        let icv = if self.cfg.version.is_gmac() {
            self.key.seal(nonce, &d[psp_at..end], &mut [])
        } else {
            let enc_at = psp_at + HEADER_LEN + usize::from(self.cfg.crypt_offset) * 4;
            let (head, tail) = d.split_at_mut(enc_at);
            self.key.seal(nonce, &head[psp_at..], &mut tail[..end - enc_at])
        };
        d[end..].copy_from_slice(&icv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psp::buf::VecBuf;

    pub(crate) fn udp4_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH + 20 + 8 + payload.len()];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        crate::wire::ipv4_emit(
            &mut f[ETH..],
            Ipv4Addr::new(192, 168, 1, 1),
            Ipv4Addr::new(192, 168, 1, 2),
            17,
            0,
            64,
            (28 + payload.len()) as u16,
        );
        crate::wire::udp_emit(&mut f[ETH + 20..], 1234, 5678, (8 + payload.len()) as u16);
        f[ETH + 28..].copy_from_slice(payload);
        f
    }

    fn cfg(mode: Mode, outer: OuterIp) -> EncapConfig {
        EncapConfig {
            mode,
            version: Version::AesGcm128,
            spi: Spi(0x1122_3344),
            crypt_offset: 0,
            vc: None,
            eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
            outer,
            ttl: 64,
        }
    }

    fn v6() -> OuterIp {
        OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() }
    }

    #[test]
    fn tunnel_layout_ipv6_outer() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let e = Encapsulator::new(cfg(Mode::Tunnel, v6()), &key).unwrap();
        let frame = udp4_frame(b"hello psp");
        let mut b = VecBuf::new(&frame);
        let n = e.encap(&mut b, 1, false).unwrap();
        assert_eq!(n, frame.len() + 40 + 8 + 16 + 16);
        let d = b.data();
        assert_eq!(&d[..12], &[0xb, 0xb, 0xb, 0xb, 0xb, 0xb, 0xa, 0xa, 0xa, 0xa, 0xa, 0xa]);
        let ip = Ipv6Packet::new_checked(&d[ETH..]).unwrap();
        assert_eq!(ip.payload_len(), n - ETH - 40);
        let udp = crate::wire::UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.dst_port(), 1000);
        assert!(udp.src_port() >= 0xc000);
        assert_eq!(udp.checksum(), 0);
        // Next header 4, hdr ext len 1, crypt offset 0, version 0 + always-1.
        assert_eq!(&d[ETH + 48..ETH + 52], &[4, 1, 0, 1]);
        // Encrypted: the inner IPv4 header is not visible.
        assert_ne!(&d[ETH + 64..ETH + 84], &frame[ETH..ETH + 20]);
    }

    #[test]
    fn overhead_is_what_encap_adds() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let v4 = OuterIp::V4 { src: Ipv4Addr::new(1, 1, 1, 1), dst: Ipv4Addr::new(2, 2, 2, 2) };
        let frame = udp4_frame(b"overhead");
        for (mode, outer, vc) in [
            (Mode::Tunnel, v6(), None),
            (Mode::Tunnel, v4, Some(9)),
            (Mode::Transport, v6(), Some(9)),
        ] {
            let mut e = Encapsulator::new(EncapConfig { vc, ..cfg(mode, outer) }, &key).unwrap();
            for _ in 0..2 {
                let n = e.encap(&mut VecBuf::new(&frame), 1, false).unwrap();
                assert_eq!(n, frame.len() + e.overhead(), "{mode:?} {outer:?} {vc:?}");
                // Kept up to date when the outer addresses change.
                e.set_outer(if matches!(outer, OuterIp::V4 { .. }) { v6() } else { v4 });
            }
        }
    }

    #[test]
    fn crypt_offset_leaves_prefix_clear() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let mut c = cfg(Mode::Tunnel, v6());
        c.crypt_offset = 5; // 20 bytes: the inner IPv4 header stays readable
        let e = Encapsulator::new(c, &key).unwrap();
        let frame = udp4_frame(b"hello psp");
        let mut b = VecBuf::new(&frame);
        e.encap(&mut b, 9, true).unwrap();
        let d = b.data();
        assert_eq!(&d[ETH + 64..ETH + 84], &frame[ETH..ETH + 20]);
        assert_ne!(&d[ETH + 84..ETH + 92], &frame[ETH + 20..ETH + 28]);
        assert_eq!(d[ETH + 48 + 3] & 0x80, 0x80, "S bit");
    }

    #[test]
    fn errors_leave_buffer_usable() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let mut c = cfg(Mode::Tunnel, v6());
        c.crypt_offset = 63;
        let e = Encapsulator::new(c, &key).unwrap();
        let frame = udp4_frame(b"x");
        let mut b = VecBuf::new(&frame);
        assert!(matches!(e.encap(&mut b, 1, false), Err(Error::CryptOffsetTooLarge { .. })));
        assert_eq!(b.data(), &frame[..]);
        let e = Encapsulator::new(cfg(Mode::Tunnel, v6()), &key).unwrap();
        let mut small = VecBuf::with_room(&frame, 10, 64);
        assert!(matches!(e.encap(&mut small, 1, false), Err(Error::Room(_))));
        assert_eq!(small.data(), &frame[..]);
        let mut arp = frame.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(e.encap(&mut VecBuf::new(&arp), 1, false), Err(Error::NotIp(0x0806)));
        assert!(matches!(e.encap(&mut VecBuf::new(&frame[..30]), 1, false), Err(Error::Wire(_))));
        let mut c = cfg(Mode::Tunnel, v6());
        c.crypt_offset = 64;
        assert_eq!(Encapsulator::new(c, &key).unwrap_err(), Error::BadCryptOffset(64));
        let mut c = cfg(Mode::Tunnel, v6());
        c.version = Version::AesGcm256;
        assert!(matches!(Encapsulator::new(c, &key), Err(Error::Key(_))));
    }

    #[test]
    fn padding_is_trimmed() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let e = Encapsulator::new(cfg(Mode::Tunnel, v6()), &key).unwrap();
        let frame = udp4_frame(b"");
        let mut padded = frame.clone();
        padded.resize(60, 0);
        let mut b = VecBuf::new(&padded);
        assert_eq!(e.encap(&mut b, 1, false).unwrap(), frame.len() + 80);
    }

    #[test]
    fn transport_mode_rewrites_ip_header() {
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let e = Encapsulator::new(cfg(Mode::Transport, v6()), &key).unwrap();
        let frame = udp4_frame(b"payload");
        let mut b = VecBuf::new(&frame);
        let n = e.encap(&mut b, 1, false).unwrap();
        assert_eq!(n, frame.len() + 8 + 16 + 16);
        let ip = Ipv4Packet::new_checked(&b.data()[ETH..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.protocol(), 17);
        assert_eq!(ip.total_len(), n - ETH);
        assert_eq!(ip.src(), Ipv4Addr::new(192, 168, 1, 1));
        // PSP next header carries the original protocol (UDP).
        assert_eq!(b.data()[ETH + 28], 17);
    }

    #[test]
    fn transport_mode_refuses_ip_in_ip() {
        // Found by the roundtrip fuzz target: next header 4 would be read
        // back as tunnel mode.
        let key = DerivedKey::from_bytes(&[7; 16]).unwrap();
        let e = Encapsulator::new(cfg(Mode::Transport, v6()), &key).unwrap();
        let mut f = udp4_frame(b"inner");
        f[ETH + 9] = 4;
        let mut b = VecBuf::new(&f);
        assert_eq!(e.encap(&mut b, 1, false), Err(Error::IpInIp(4)));
        assert_eq!(b.data(), &f[..]);
    }

    #[test]
    fn source_port_is_stable_and_in_range() {
        let h = flow_hash(&[1, 2, 3, 4], &[5, 6, 7, 8], 6, Some(&[0, 80, 1, 1]));
        assert_eq!(h, flow_hash(&[1, 2, 3, 4], &[5, 6, 7, 8], 6, Some(&[0, 80, 1, 1])));
        assert_ne!(h, flow_hash(&[1, 2, 3, 4], &[5, 6, 7, 8], 6, Some(&[0, 81, 1, 1])));
        for x in [0u32, 1, 0xffff_ffff, h] {
            assert!(source_port(x) >= 0xc000);
        }
    }
}
