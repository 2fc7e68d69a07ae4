//! What reaches the CPU when the pipeline runs in the NIC (the DOCA Flow
//! backend): the NIC encrypts, decrypts and checks; the PF's RSS queues
//! get only egress misses, ARP from the unsecured side and sampled copies,
//! told apart by the flow metadata the RSS and sampling pipes set, as in
//! NVIDIA's application (`handle_packet`: the sampling sentinels, else a
//! miss). Sans-IO: bytes and the metadata in, a class out.

use super::PipelineConfig;
use crate::tables::VipPair;
use crate::wire::{ip_proto, EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, IPV6_HEADER_LEN};

/// What a packet from an RSS queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RssClass {
    /// An egress miss: no tunnel for this inner source and destination
    /// yet.
    Miss {
        /// The inner source and destination.
        pair: VipPair,
    },
    /// A sampled copy (ingress or egress sentinel in the metadata).
    Sampled {
        /// The sentinel.
        meta: u32,
    },
    /// ARP, or IPv6 neighbour solicitation/advertisement (the control
    /// plane's to answer or ignore).
    Arp,
    /// IPv6 neighbour discovery from the unsecured side (the control
    /// plane's to answer or ignore, as ARP; NVIDIA's `vf_ns_to_rss`): a
    /// solicitation, and with inner IPv6 an advertisement too.
    NeighbourSolicitation,
    /// Neither: not IP of the inner version, ND or ARP, or truncated.
    /// Dropped and counted.
    Other,
}

/// Classifies a frame received on an RSS queue with its flow metadata
/// (`None` when the NIC set none).
pub fn classify_rss(frame: &[u8], meta: Option<u32>, cfg: &PipelineConfig) -> RssClass {
    if let Some(m) = meta {
        if m == cfg.ingress_sample_meta_indicator || m == cfg.egress_sample_meta_indicator {
            return RssClass::Sampled { meta: m };
        }
    }
    let Ok(eth) = EthernetFrame::new_checked(frame) else { return RssClass::Other };
    let inner6 = cfg.inner == super::InnerVersion::Ipv6;
    match eth.ethertype() {
        EtherType::Ipv4 if !inner6 => match Ipv4Packet::new_checked(eth.payload()) {
            Ok(ip) => RssClass::Miss { pair: VipPair::new(ip.src(), ip.dst()) },
            Err(_) => RssClass::Other,
        },
        EtherType::Ipv6 => match Ipv6Packet::new_checked(eth.payload()) {
            // ICMPv6 type 135, as NVIDIA's `is_ns_request`; 136 too when
            // the VMs speak IPv6.
            Ok(ip) if ip.next_header() == ip_proto::ICMPV6 => {
                match eth.payload().get(IPV6_HEADER_LEN) {
                    Some(135) => RssClass::NeighbourSolicitation,
                    Some(136) if inner6 => RssClass::NeighbourSolicitation,
                    Some(_) if inner6 => RssClass::Miss { pair: VipPair::new(ip.src(), ip.dst()) },
                    _ => RssClass::Other,
                }
            }
            Ok(ip) if inner6 => RssClass::Miss { pair: VipPair::new(ip.src(), ip.dst()) },
            _ => RssClass::Other,
        },
        EtherType::Other(0x0806) => RssClass::Arp,
        _ => RssClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 28];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        crate::wire::ipv4_emit(&mut f[14..], [10, 0, 0, 1].into(), dst.into(), 17, 0, 64, 28);
        f
    }

    #[test]
    fn misses_samples_arp_and_the_rest() {
        let cfg = PipelineConfig::default();
        let f = ipv4_frame([10, 0, 0, 2]);
        let pair = VipPair::new([10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(classify_rss(&f, None, &cfg), RssClass::Miss { pair });
        // Metadata other than a sentinel: still a miss.
        assert_eq!(classify_rss(&f, Some(7), &cfg), RssClass::Miss { pair });
        for m in [cfg.ingress_sample_meta_indicator, cfg.egress_sample_meta_indicator] {
            assert_eq!(classify_rss(&f, Some(m), &cfg), RssClass::Sampled { meta: m });
        }
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(classify_rss(&arp, None, &cfg), RssClass::Arp);
        let mut v6 = vec![0u8; 54];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(classify_rss(&v6, None, &cfg), RssClass::Other);
        // ICMPv6: a neighbour solicitation (135) goes up, an
        // advertisement (136) or a truncated one does not.
        let mut ns = vec![0u8; 14 + 40 + 24];
        ns[12..14].copy_from_slice(&[0x86, 0xdd]);
        ns[14] = 0x60;
        ns[14 + 6] = 58;
        ns[54] = 135;
        assert_eq!(classify_rss(&ns, None, &cfg), RssClass::NeighbourSolicitation);
        ns[54] = 136;
        assert_eq!(classify_rss(&ns, None, &cfg), RssClass::Other);
        assert_eq!(classify_rss(&ns[..54], None, &cfg), RssClass::Other);
        // Inner IPv6: a miss by its addresses, ND like ARP, IPv4 other.
        let cfg6 = PipelineConfig { inner: super::super::InnerVersion::Ipv6, ..cfg };
        let mut v6 = vec![0u8; 14 + 40 + 8];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        let d6: std::net::Ipv6Addr = "fd00:10::2".parse().unwrap();
        crate::wire::ipv6_emit(
            &mut v6[14..],
            crate::wire::Ipv6Fields {
                src: "fd00:10::1".parse().unwrap(),
                dst: d6,
                next_header: 17,
                traffic_class: 0,
                flow_label: 0,
                hop_limit: 64,
                payload_len: 8,
            },
        );
        let s6: std::net::Ipv6Addr = "fd00:10::1".parse().unwrap();
        assert_eq!(classify_rss(&v6, None, &cfg6), RssClass::Miss { pair: VipPair::new(s6, d6) });
        v6[14 + 6] = 58;
        v6[14 + 40] = 135;
        assert_eq!(classify_rss(&v6, None, &cfg6), RssClass::NeighbourSolicitation);
        assert_eq!(classify_rss(&f, None, &cfg6), RssClass::Other);
        for cut in [0, 10, 14, 20, 33] {
            assert_eq!(classify_rss(&f[..cut], None, &cfg), RssClass::Other, "{cut}");
        }
    }
}
