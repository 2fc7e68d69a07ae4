//! ICMPv6 neighbour solicitations and advertisements (RFC 4861 4.3, 4.4)
//! and the ICMPv6 checksum.

use super::{be16, Error, Field, MacAddr};
use std::net::Ipv6Addr;

/// ICMPv6 type of a neighbour solicitation.
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a neighbour advertisement.
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Length of a solicitation or advertisement without options.
pub const ND_HEADER_LEN: usize = 24;
/// Option type: source link-layer address.
pub const OPT_SOURCE_LL: u8 = 1;
/// Option type: target link-layer address.
pub const OPT_TARGET_LL: u8 = 2;
/// Advertisement flag: the sender is a router.
pub const NA_ROUTER: u8 = 0x80;
/// Advertisement flag: sent in answer to a solicitation.
pub const NA_SOLICITED: u8 = 0x40;
/// Advertisement flag: replace a cached link-layer address.
pub const NA_OVERRIDE: u8 = 0x20;

mod field {
    use super::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const FLAGS: usize = 4;
    pub const TARGET: Field = 8..24;
}

/// A view of a neighbour solicitation or advertisement (the ICMPv6
/// message, without the IPv6 header) whose type, code, length and option
/// lengths have been checked.
#[derive(Debug, Clone)]
pub struct NdPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdPacket<T> {
    /// Wraps a buffer without checks.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        NdPacket { buffer }
    }

    /// Wraps an ICMPv6 message (exactly the IPv6 payload) that is a
    /// solicitation or an advertisement with code 0, at least 24 bytes,
    /// whose options each have a non-zero length that fits.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < ND_HEADER_LEN {
            return Err(Error::Truncated("neighbour discovery message"));
        }
        if !matches!(b[field::TYPE], ND_NEIGHBOR_SOLICIT | ND_NEIGHBOR_ADVERT) {
            return Err(Error::Malformed("ICMPv6 type is not neighbour discovery"));
        }
        if b[field::CODE] != 0 {
            return Err(Error::Malformed("neighbour discovery code is not 0"));
        }
        let mut opts = &b[ND_HEADER_LEN..];
        while !opts.is_empty() {
            let len = match opts.get(1) {
                Some(0) => return Err(Error::Malformed("neighbour discovery option of length 0")),
                Some(&n) => usize::from(n) * 8,
                None => return Err(Error::Truncated("neighbour discovery option")),
            };
            opts = opts.get(len..).ok_or(Error::Truncated("neighbour discovery option"))?;
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// ICMPv6 type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Advertisement flags (R, S, O in the high bits; 0 in a solicitation).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Target address.
    #[inline]
    pub fn target(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::TARGET]);
        Ipv6Addr::from(a)
    }

    /// The link-layer address in the first option of type `kind`
    /// ([`OPT_SOURCE_LL`], [`OPT_TARGET_LL`]) that holds an Ethernet
    /// address (length 1).
    pub fn link_layer_option(&self, kind: u8) -> Option<MacAddr> {
        let mut opts = &self.buffer.as_ref()[ND_HEADER_LEN..];
        // Lengths were checked by new_checked; `get` keeps it panic-free anyway.
        while let (Some(&t), Some(&n)) = (opts.first(), opts.get(1)) {
            let len = usize::from(n) * 8;
            if t == kind && n == 1 {
                let mut m = [0u8; 6];
                m.copy_from_slice(opts.get(2..8)?);
                return Some(MacAddr(m));
            }
            opts = opts.get(len.max(8)..)?;
        }
        None
    }
}

/// The ICMPv6 checksum of `msg` (its checksum field zero, or the whole
/// message to verify: a valid message sums to 0) between `src` and `dst`.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |b: &[u8]| {
        let mut chunks = b.chunks_exact(2);
        for c in &mut chunks {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u64::from(*last) << 8;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, super::ip_proto::ICMPV6]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes a neighbour advertisement for `target` with `flags` and a target
/// link-layer address option (`mac`) at the start of `out`, its checksum
/// computed for `src` to `dst`; returns its length (32).
pub fn emit_advert(
    out: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    flags: u8,
    mac: MacAddr,
) -> Result<usize, Error> {
    const LEN: usize = ND_HEADER_LEN + 8;
    let m = out.get_mut(..LEN).ok_or(Error::Truncated("neighbour advertisement output buffer"))?;
    m.fill(0);
    m[field::TYPE] = ND_NEIGHBOR_ADVERT;
    m[field::FLAGS] = flags;
    m[field::TARGET].copy_from_slice(&target.octets());
    m[ND_HEADER_LEN] = OPT_TARGET_LL;
    m[ND_HEADER_LEN + 1] = 1;
    m[ND_HEADER_LEN + 2..LEN].copy_from_slice(&mac.0);
    let sum = icmpv6_checksum(src, dst, m);
    m[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    Ok(LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scapy's `IPv6(src="fd00::1", dst="ff02::1:ff00:2") /
    /// ICMPv6ND_NS(tgt="fd00::2") / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:01:01")`,
    /// the ICMPv6 part, checksum 0x7c97 included.
    const SCAPY_NS: &str = "87007c9700000000fd0000000000000000000000000000020101020000000101";
    /// scapy's `ICMPv6ND_NA(tgt="fd00::2", S=1, O=1) /
    /// ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:09:09")` from fd00::2 to fd00::1.
    const SCAPY_NA: &str = "8800139360000000fd0000000000000000000000000000020201020000000909";

    fn solicitation() -> [u8; 32] {
        hex::decode(SCAPY_NS).unwrap().try_into().unwrap()
    }

    #[test]
    fn parses_a_solicitation_and_its_options() {
        let (src, dst) = ("fd00::1".parse().unwrap(), "ff02::1:ff00:2".parse().unwrap());
        let mut m = solicitation();
        assert_eq!(icmpv6_checksum(src, dst, &m), 0, "a valid message sums to 0");
        let p = NdPacket::new_checked(&m[..]).unwrap();
        assert_eq!(p.msg_type(), ND_NEIGHBOR_SOLICIT);
        assert_eq!(p.checksum(), 0x7c97);
        assert_eq!(p.target(), "fd00::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.link_layer_option(OPT_SOURCE_LL), Some(MacAddr([2, 0, 0, 0, 1, 1])));
        assert_eq!(p.link_layer_option(OPT_TARGET_LL), None);
        assert_eq!(NdPacket::new_checked(&m[..24]).unwrap().link_layer_option(1), None);
        m[2..4].fill(0);
        assert_eq!(icmpv6_checksum(src, dst, &m), 0x7c97);
    }

    #[test]
    fn rejects_bad_messages() {
        let m = solicitation();
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = m.to_vec();
            f(&mut v);
            NdPacket::new_checked(v).unwrap_err()
        };
        assert!(matches!(bad(&|v| v.truncate(23)), Error::Truncated(_)));
        assert!(matches!(bad(&|v| v[0] = 128), Error::Malformed(_)), "echo request");
        assert!(matches!(bad(&|v| v[1] = 1), Error::Malformed(_)));
        assert!(matches!(bad(&|v| v[25] = 0), Error::Malformed(_)), "option length 0");
        assert!(matches!(bad(&|v| v[25] = 2), Error::Truncated(_)), "option past the end");
        assert!(matches!(bad(&|v| v.push(1)), Error::Truncated(_)), "half an option");
    }

    #[test]
    fn advert_is_valid_and_names_the_mac() {
        let (src, dst, tgt) = (
            "fd00::2".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            "fd00::2".parse::<Ipv6Addr>().unwrap(),
        );
        let mut out = [0xffu8; 40];
        let mac = MacAddr([2, 0, 0, 0, 9, 9]);
        let n = emit_advert(&mut out, src, dst, tgt, NA_SOLICITED | NA_OVERRIDE, mac).unwrap();
        assert_eq!(n, 32);
        assert_eq!(hex::encode(&out[..n]), SCAPY_NA);
        assert_eq!(icmpv6_checksum(src, dst, &out[..n]), 0);
        let p = NdPacket::new_checked(&out[..n]).unwrap();
        assert_eq!((p.msg_type(), p.flags(), p.target()), (ND_NEIGHBOR_ADVERT, 0x60, tgt));
        assert_eq!(p.link_layer_option(OPT_TARGET_LL), Some(mac));
        assert!(emit_advert(&mut out[..31], src, dst, tgt, 0, mac).is_err());
    }
}
