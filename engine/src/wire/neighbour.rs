//! Answers to the VMs' neighbour queries, sans-IO: an ARP request or an
//! IPv6 neighbour solicitation in, the reply frame out, as NVIDIA's 3.x
//! gateway answers them on its RSS cores (every address is behind the
//! gateway, so every unicast target gets the gateway's MAC).
//!
//! What is not answered, and why ([`Unanswered`]): anything that is not a
//! request (ARP replies, advertisements, other ICMPv6), duplicate-address
//! probes and announcements (ARP from 0.0.0.0 or for the sender's own
//! address, solicitations from `::`: answering them would tell the VM its
//! own address is taken), targets that are the VMs' own addresses
//! ([`Responder::local`]) or not unicast, and solicitations RFC 4861 7.1.1
//! says to discard (hop limit not 255, a bad checksum, code not 0, an
//! option of length 0).
//!
//! The advertisement has S and O set, R clear, and a target link-layer
//! address option; its source is the target address (as NVIDIA's), its
//! destination the asker. An ARP reply is padded to the 60-byte Ethernet
//! minimum.

use super::arp::{self, ArpFields, ArpPacket, ARP_REPLY, ARP_REQUEST};
use super::nd::{self, NdPacket, NA_OVERRIDE, NA_SOLICITED, ND_HEADER_LEN, ND_NEIGHBOR_SOLICIT};
use super::{ip_proto, EtherType, EthernetFrame, Ipv6Fields, Ipv6Packet, MacAddr};
use super::{Error, ETHERNET_HEADER_LEN as ETH, IPV6_HEADER_LEN};
use std::net::IpAddr;

/// The longest reply [`answer`] writes (an advertisement in IPv6).
pub const REPLY_MAX_LEN: usize = ETH + IPV6_HEADER_LEN + ND_HEADER_LEN + 8;
/// The shortest Ethernet frame without its FCS.
const ETH_MIN_FRAME: usize = 60;
const ETHERTYPE_ARP: u16 = 0x0806;

/// Who answers and for what.
#[derive(Debug, Clone, Copy)]
pub struct Responder<'a> {
    /// The MAC the answers name (the gateway's unsecured port).
    pub mac: MacAddr,
    /// Addresses never answered for: the VMs' own (`--local-virt-ip`).
    pub local: &'a [IpAddr],
}

/// The kind of query answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// An ARP request.
    Arp,
    /// An IPv6 neighbour solicitation.
    Solicitation,
}

/// A reply written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Length of the reply frame at the start of the output buffer.
    pub len: usize,
    /// What it answers.
    pub query: Query,
    /// The address asked for.
    pub target: IpAddr,
    /// The asker's address.
    pub asker: IpAddr,
}

/// Why a frame got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unanswered {
    /// Neither an ARP request nor a neighbour solicitation.
    #[error("not an ARP request or a neighbour solicitation")]
    NotAQuery,
    /// Too short, or a field it cannot hold (the output buffer too).
    #[error(transparent)]
    Wire(#[from] Error),
    /// A duplicate-address probe or announcement.
    #[error("a duplicate-address probe or announcement")]
    Probe,
    /// The target is one of the VMs' own addresses, or the asker's.
    #[error("the target {0} is a local address")]
    Local(IpAddr),
    /// The target is a multicast, broadcast or unspecified address.
    #[error("the target {0} is not unicast")]
    NotUnicast(IpAddr),
    /// A solicitation whose hop limit is not 255 (it crossed a router).
    #[error("hop limit {0}, not 255")]
    HopLimit(u8),
    /// A solicitation whose ICMPv6 checksum does not verify.
    #[error("bad ICMPv6 checksum")]
    Checksum,
}

/// Answers the Ethernet frame `request` into `out` (at least
/// [`REPLY_MAX_LEN`] bytes is always enough); never panics.
pub fn answer(r: &Responder<'_>, request: &[u8], out: &mut [u8]) -> Result<Answer, Unanswered> {
    let eth = EthernetFrame::new_checked(request)?;
    match eth.ethertype() {
        EtherType::Ipv6 => solicitation(r, &eth, out),
        EtherType::Other(ETHERTYPE_ARP) => arp_request(r, &eth, out),
        _ => Err(Unanswered::NotAQuery),
    }
}

fn local(r: &Responder<'_>, target: IpAddr, asker: IpAddr) -> Result<(), Unanswered> {
    if target == asker || r.local.contains(&target) {
        return Err(Unanswered::Local(target));
    }
    Ok(())
}

fn ethernet(out: &mut [u8], dst: MacAddr, src: MacAddr, t: EtherType) -> Result<(), Unanswered> {
    let h = out.get_mut(..ETH).ok_or(Error::Truncated("reply output buffer"))?;
    let mut f = EthernetFrame::new_unchecked(h);
    f.set_dst(dst);
    f.set_src(src);
    f.set_ethertype(t);
    Ok(())
}

fn arp_request(
    r: &Responder<'_>,
    eth: &EthernetFrame<&[u8]>,
    out: &mut [u8],
) -> Result<Answer, Unanswered> {
    let req = ArpPacket::new_checked(eth.payload())?;
    if req.operation() != ARP_REQUEST {
        return Err(Unanswered::NotAQuery);
    }
    let (sip, tip) = (req.sender_ip(), req.target_ip());
    if sip.is_unspecified() || sip == tip {
        return Err(Unanswered::Probe);
    }
    let target = IpAddr::V4(tip);
    if tip.is_unspecified() || tip.is_broadcast() || tip.is_multicast() {
        return Err(Unanswered::NotUnicast(target));
    }
    local(r, target, IpAddr::V4(sip))?;
    let frame = out.get_mut(..ETH_MIN_FRAME).ok_or(Error::Truncated("reply output buffer"))?;
    frame.fill(0);
    ethernet(frame, eth.src(), r.mac, EtherType::Other(ETHERTYPE_ARP))?;
    let fields = ArpFields {
        operation: ARP_REPLY,
        sender_mac: r.mac,
        sender_ip: tip,
        target_mac: req.sender_mac(),
        target_ip: sip,
    };
    arp::emit(&mut frame[ETH..], &fields)?;
    Ok(Answer { len: ETH_MIN_FRAME, query: Query::Arp, target, asker: IpAddr::V4(sip) })
}

fn solicitation(
    r: &Responder<'_>,
    eth: &EthernetFrame<&[u8]>,
    out: &mut [u8],
) -> Result<Answer, Unanswered> {
    let ip = Ipv6Packet::new_checked(eth.payload())?;
    let msg = ip.payload();
    if ip.next_header() != ip_proto::ICMPV6 || msg.first() != Some(&ND_NEIGHBOR_SOLICIT) {
        return Err(Unanswered::NotAQuery);
    }
    let ns = NdPacket::new_checked(msg)?;
    if ip.hop_limit() != 255 {
        return Err(Unanswered::HopLimit(ip.hop_limit()));
    }
    let (src, dst) = (ip.src(), ip.dst());
    if nd::icmpv6_checksum(src, dst, msg) != 0 {
        return Err(Unanswered::Checksum);
    }
    if src.is_unspecified() {
        return Err(Unanswered::Probe);
    }
    let tgt = ns.target();
    let target = IpAddr::V6(tgt);
    if tgt.is_multicast() || tgt.is_unspecified() {
        return Err(Unanswered::NotUnicast(target));
    }
    local(r, target, IpAddr::V6(src))?;
    ethernet(out, eth.src(), r.mac, EtherType::Ipv6)?;
    let body = out.get_mut(ETH..REPLY_MAX_LEN).ok_or(Error::Truncated("reply output buffer"))?;
    let (head, icmp) = body.split_at_mut(IPV6_HEADER_LEN);
    let n = nd::emit_advert(icmp, tgt, src, tgt, NA_SOLICITED | NA_OVERRIDE, r.mac)?;
    let fields = Ipv6Fields {
        src: tgt,
        dst: src,
        next_header: ip_proto::ICMPV6,
        traffic_class: 0,
        flow_label: 0,
        hop_limit: 255,
        payload_len: n as u16,
    };
    super::ipv6_emit(head, fields);
    Ok(Answer {
        len: ETH + IPV6_HEADER_LEN + n,
        query: Query::Solicitation,
        target,
        asker: IpAddr::V6(src),
    })
}

#[cfg(test)]
mod tests;
