//! `--compat reference`: the fields outside PSP that the reference
//! encryptor (google/psp `psp_encrypt`) writes its own way. None of them is
//! authenticated, so they are rewritten after encapsulation:
//!
//! - tunnel mode: the outer IP header is a copy of the inner one (IPv4:
//!   version/IHL 0x45, the inner TOS, ID, flags, TTL and addresses, length,
//!   protocol 17 and a new checksum; IPv6: the inner version, traffic class,
//!   flow label, hop limit and addresses, payload length, next header 17);
//! - the UDP source port is the inner source port XOR the inner destination
//!   port when the inner protocol is TCP or UDP, else 1000;
//! - (transport mode keeps the IP header, as psptool always does.)
//!
//! And what it skips: IPv6 packets whose next header is not TCP or UDP.

use engine::psp::Mode;
use engine::wire::{ip_proto, EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet};
use engine::wire::{ETHERNET_HEADER_LEN as ETH, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN};

/// The reference's skip rule: an IPv6 packet it does not encrypt.
pub fn skipped(frame: &[u8]) -> bool {
    match EthernetFrame::new_checked(frame) {
        Ok(eth) if eth.ethertype() == EtherType::Ipv6 => Ipv6Packet::new_checked(eth.payload())
            .map(|ip| !matches!(ip.next_header(), ip_proto::TCP | ip_proto::UDP))
            .unwrap_or(false),
        _ => false,
    }
}

/// The reference's UDP source port for an inner IP packet.
fn source_port(proto: u8, l4: &[u8]) -> u16 {
    match (proto, l4) {
        (ip_proto::TCP | ip_proto::UDP, [a, b, c, d, ..]) => {
            u16::from_be_bytes([*a, *b]) ^ u16::from_be_bytes([*c, *d])
        }
        _ => engine::psp::UDP_PORT,
    }
}

/// Rewrites the encapsulated frame `out` (made from the clear frame
/// `inner`, with an outer IP header of the inner's version) as the
/// reference writes it. `None` if either frame is not what encap makes.
pub fn reference_outer(inner: &[u8], out: &mut [u8], mode: Mode) -> Option<()> {
    let eth = EthernetFrame::new_checked(inner).ok()?;
    let l3 = eth.payload();
    let (v6, ihl, proto) = match eth.ethertype() {
        EtherType::Ipv4 => {
            let ip = Ipv4Packet::new_checked(l3).ok()?;
            (false, ip.header_len(), ip.protocol())
        }
        EtherType::Ipv6 => {
            let ip = Ipv6Packet::new_checked(l3).ok()?;
            (true, IPV6_HEADER_LEN, ip.next_header())
        }
        EtherType::Other(_) => return None,
    };
    let sport = source_port(proto, l3.get(ihl..)?);
    let outer_len = match (mode, v6) {
        (Mode::Transport, _) => ihl,
        (Mode::Tunnel, false) => IPV4_MIN_HEADER_LEN,
        (Mode::Tunnel, true) => IPV6_HEADER_LEN,
    };
    let o = out.get_mut(ETH..ETH + outer_len + 2)?;
    if mode == Mode::Tunnel {
        if v6 {
            let plen = [o[4], o[5]];
            o[..IPV6_HEADER_LEN].copy_from_slice(l3.get(..IPV6_HEADER_LEN)?);
            o[4..6].copy_from_slice(&plen);
            o[6] = ip_proto::UDP;
        } else {
            let total = [o[2], o[3]];
            o[..IPV4_MIN_HEADER_LEN].copy_from_slice(l3.get(..IPV4_MIN_HEADER_LEN)?);
            o[0] = 0x45;
            o[2..4].copy_from_slice(&total);
            o[9] = ip_proto::UDP;
            Ipv4Packet::new_unchecked(&mut o[..IPV4_MIN_HEADER_LEN]).fill_checksum();
        }
    }
    o[outer_len..outer_len + 2].copy_from_slice(&sport.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_port_rule() {
        // 11111 ^ 22222, the reference's test packets.
        assert_eq!(source_port(ip_proto::UDP, &[0x2b, 0x67, 0x56, 0xce]), 0x7da9);
        assert_eq!(source_port(ip_proto::TCP, &[0, 1, 0, 1]), 0);
        assert_eq!(source_port(1, &[1, 2, 3, 4]), 1000); // ICMP
        assert_eq!(source_port(ip_proto::UDP, &[1, 2]), 1000);
    }
}
