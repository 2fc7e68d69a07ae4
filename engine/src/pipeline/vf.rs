//! Several unsecured ports in one gateway (DOCA 3.1's device-rep list, at
//! most [`MAX_DEVICE_REPS`]): each port (a VF or representor) has its own
//! VMs, known by their virtual IPs; the ports share the uplink, the tables
//! and the control plane. [`VfPorts`] says which port a decrypted packet
//! is delivered to (the port whose VMs own its inner destination) and
//! whether a port may send a given inner source.
//!
//! With one port ([`VfPorts::single`], every DOCA 2.8 command line) every
//! destination goes to it and every source may leave, as before.
//!
//! Built once at startup; the lookups read a hash map and never allocate,
//! so a packet core may call them on its fast path.

use crate::wire::{EtherType, EthernetFrame, Ipv4Packet, Ipv6Packet, MacAddr};
use std::collections::HashMap;
use std::net::IpAddr;

/// The most unsecured ports a gateway takes (NVIDIA's
/// `PSP_MAX_DEVICE_REPS`).
pub const MAX_DEVICE_REPS: usize = 8;

/// Why a set of unsecured ports is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VfPortsError {
    /// No port at all.
    #[error("no unsecured port")]
    Empty,
    /// More than [`MAX_DEVICE_REPS`].
    #[error("{0} unsecured ports: at most {MAX_DEVICE_REPS} (PSP_MAX_DEVICE_REPS)")]
    TooMany(usize),
    /// With several ports, one without a virtual IP could receive nothing.
    #[error(
        "unsecured port {0} has no virtual IP: with several ports each needs its VMs' addresses"
    )]
    NoAddress(usize),
    /// One virtual IP on two ports: ingress could not choose.
    #[error("virtual IP {ip} is on unsecured ports {first} and {second}")]
    Shared {
        /// The address.
        ip: IpAddr,
        /// The first port naming it.
        first: usize,
        /// The second.
        second: usize,
    },
}

/// The unsecured ports and the VMs behind each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfPorts {
    ports: usize,
    owner: HashMap<IpAddr, u8>,
    /// Each port's `--decap-dmac` (its VM's MAC), written over the
    /// Ethernet destination of what is delivered to it.
    dmac: [Option<MacAddr>; MAX_DEVICE_REPS],
}

impl VfPorts {
    /// One port, with every destination behind it (the DOCA 2.8 gateway).
    pub fn single() -> VfPorts {
        VfPorts { ports: 1, owner: HashMap::new(), dmac: [None; MAX_DEVICE_REPS] }
    }

    /// Ports `0..per_port.len()`, port `i` with the VMs `per_port[i]`. One
    /// port may have no address (it then takes every destination, as
    /// [`single`](Self::single)); with several, each needs at least one and
    /// no address may be on two ports.
    pub fn new(per_port: &[Vec<IpAddr>]) -> Result<VfPorts, VfPortsError> {
        match per_port.len() {
            0 => return Err(VfPortsError::Empty),
            n if n > MAX_DEVICE_REPS => return Err(VfPortsError::TooMany(n)),
            _ => {}
        }
        let mut owner = HashMap::new();
        for (port, ips) in per_port.iter().enumerate() {
            if ips.is_empty() && per_port.len() > 1 {
                return Err(VfPortsError::NoAddress(port));
            }
            for &ip in ips {
                // Cannot truncate: at most MAX_DEVICE_REPS ports.
                if let Some(first) = owner.insert(ip, port as u8) {
                    if usize::from(first) != port {
                        return Err(VfPortsError::Shared {
                            ip,
                            first: usize::from(first),
                            second: port,
                        });
                    }
                }
            }
        }
        Ok(VfPorts { ports: per_port.len(), owner, dmac: [None; MAX_DEVICE_REPS] })
    }

    /// Sets port `port`'s decap destination MAC (ignored past the ports).
    pub fn set_decap_dmac(&mut self, port: usize, mac: Option<MacAddr>) {
        if port < self.ports {
            self.dmac[port] = mac;
        }
    }

    /// Port `port`'s decap destination MAC, if it has its own.
    #[inline]
    pub fn decap_dmac(&self, port: u8) -> Option<MacAddr> {
        self.dmac.get(usize::from(port)).copied().flatten()
    }

    /// How many unsecured ports.
    pub fn len(&self) -> usize {
        self.ports
    }

    /// Whether there are none (never: [`new`](Self::new) refuses it).
    pub fn is_empty(&self) -> bool {
        self.ports == 0
    }

    /// The port inner destination `dst` is delivered to: the one whose VMs
    /// own it; with one port, always that port; `None`: no port has it.
    #[inline]
    pub fn deliver_to(&self, dst: IpAddr) -> Option<u8> {
        if self.ports == 1 {
            return Some(0);
        }
        self.owner.get(&dst).copied()
    }

    /// Whether port `port` may send packets of inner source `src` (its
    /// own VMs' addresses; with one port, any).
    #[inline]
    pub fn may_send(&self, port: u8, src: IpAddr) -> bool {
        if self.ports == 1 {
            return port == 0;
        }
        self.owner.get(&src) == Some(&port)
    }

    /// Whether port `port` may send the clear frame `frame`: with one
    /// port, always; with several, when its IPv4 or IPv6 source is one of
    /// the port's VMs. Frames without an IP source to check (ARP, and the
    /// unspecified source of duplicate-address probes) pass: the pipeline
    /// sends them to the control plane, which answers no probe.
    #[inline]
    pub fn may_send_frame(&self, port: u8, frame: &[u8]) -> bool {
        if self.ports == 1 {
            return port == 0;
        }
        match inner_src(frame) {
            Some(src) if !src.is_unspecified() => self.may_send(port, src),
            _ => true,
        }
    }

    /// The port a clear Ethernet frame (a decrypted packet) is delivered
    /// to, by its IPv4 or IPv6 destination; `None` when no port owns it or
    /// the frame has no IP header.
    #[inline]
    pub fn deliver_frame(&self, frame: &[u8]) -> Option<u8> {
        if self.ports == 1 {
            return Some(0);
        }
        self.deliver_to(inner_dst(frame)?)
    }
}

/// The IPv4 or IPv6 destination of an Ethernet frame.
pub fn inner_dst(frame: &[u8]) -> Option<IpAddr> {
    inner_addrs(frame).map(|(_, dst)| dst)
}

/// The IPv4 or IPv6 source of an Ethernet frame.
pub fn inner_src(frame: &[u8]) -> Option<IpAddr> {
    inner_addrs(frame).map(|(src, _)| src)
}

/// The IPv4 or IPv6 (source, destination) of an Ethernet frame.
pub fn inner_addrs(frame: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    match eth.ethertype() {
        EtherType::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            Some((IpAddr::V4(ip.src()), IpAddr::V4(ip.dst())))
        }
        EtherType::Ipv6 => {
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            Some((IpAddr::V6(ip.src()), IpAddr::V6(ip.dst())))
        }
        EtherType::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_port_takes_everything_as_before() {
        for v in [VfPorts::single(), VfPorts::new(&[vec![]]).unwrap()] {
            assert_eq!(v.len(), 1);
            assert_eq!(v.deliver_to(ip("10.9.9.9")), Some(0));
            assert!(v.may_send(0, ip("fd00::1")));
            assert!(!v.may_send(1, ip("10.0.0.1")), "there is no port 1");
            assert_eq!(v.deliver_frame(&[0; 3]), Some(0), "not even parsed");
        }
    }

    #[test]
    fn several_ports_each_with_their_vms() {
        let v =
            VfPorts::new(&[vec![ip("10.0.0.1"), ip("fd00:10::1")], vec![ip("10.0.0.3")]]).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v.deliver_to(ip("10.0.0.1")), Some(0));
        assert_eq!(v.deliver_to(ip("fd00:10::1")), Some(0));
        assert_eq!(v.deliver_to(ip("10.0.0.3")), Some(1));
        assert_eq!(v.deliver_to(ip("10.0.0.2")), None);
        assert!(v.may_send(1, ip("10.0.0.3")));
        assert!(!v.may_send(0, ip("10.0.0.3")), "port 1's VM, spoofed on port 0");
        assert!(!v.may_send(0, ip("10.0.0.7")));
    }

    #[test]
    fn each_port_may_have_its_decap_mac() {
        let mut v = VfPorts::new(&[vec![ip("10.0.0.1")], vec![ip("10.0.0.3")]]).unwrap();
        assert_eq!(v.decap_dmac(0), None);
        v.set_decap_dmac(1, Some(MacAddr([2, 0, 0, 0, 3, 3])));
        v.set_decap_dmac(5, Some(MacAddr([9; 6])));
        assert_eq!(v.decap_dmac(1), Some(MacAddr([2, 0, 0, 0, 3, 3])));
        assert_eq!(v.decap_dmac(0), None);
        assert_eq!(v.decap_dmac(5), None, "no port 5");
        assert_eq!(v.decap_dmac(200), None);
    }

    #[test]
    fn refusals_name_the_port_or_address() {
        assert_eq!(VfPorts::new(&[]), Err(VfPortsError::Empty));
        let nine: Vec<Vec<IpAddr>> =
            (0..9).map(|i| vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))]).collect();
        assert_eq!(VfPorts::new(&nine), Err(VfPortsError::TooMany(9)));
        assert!(VfPorts::new(&nine[..MAX_DEVICE_REPS]).is_ok());
        let e = VfPorts::new(&[vec![ip("10.0.0.1")], vec![]]).unwrap_err();
        assert_eq!(e, VfPortsError::NoAddress(1));
        assert!(e.to_string().contains("port 1"), "{e}");
        let e = VfPorts::new(&[vec![ip("10.0.0.1")], vec![ip("10.0.0.1")]]).unwrap_err();
        assert_eq!(e, VfPortsError::Shared { ip: ip("10.0.0.1"), first: 0, second: 1 });
        // The same address twice on one port is only said twice.
        assert!(VfPorts::new(&[vec![ip("10.0.0.1"), ip("10.0.0.1")], vec![ip("10.0.0.2")]]).is_ok());
    }

    fn frame(ethertype: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    #[test]
    fn frames_go_to_the_port_of_their_inner_destination() {
        let v = VfPorts::new(&[vec![ip("10.0.0.1")], vec![ip("fd00:10::3")]]).unwrap();
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[2..4].copy_from_slice(&20u16.to_be_bytes());
        v4[8] = 64;
        v4[16..20].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(inner_dst(&frame(0x0800, &v4)), Some(ip("10.0.0.1")));
        assert_eq!(v.deliver_frame(&frame(0x0800, &v4)), Some(0));
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[24..40].copy_from_slice(&"fd00:10::3".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(v.deliver_frame(&frame(0x86dd, &v6)), Some(1));
        // Sources: port 0 may send 10.0.0.1, not port 1; ARP and the
        // unspecified source pass (the control plane sorts them).
        let mut from = v4;
        from[12..16].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(inner_src(&frame(0x0800, &from)), Some(ip("10.0.0.1")));
        assert!(v.may_send_frame(0, &frame(0x0800, &from)));
        assert!(!v.may_send_frame(1, &frame(0x0800, &from)));
        assert!(v.may_send_frame(1, &frame(0x0806, &[0; 28])));
        assert!(v.may_send_frame(1, &frame(0x86dd, &v6)), "source ::");
        let mut v6_from = v6;
        v6_from[8..24].copy_from_slice(&"fd00:10::3".parse::<Ipv6Addr>().unwrap().octets());
        assert!(v.may_send_frame(1, &frame(0x86dd, &v6_from)));
        assert!(!v.may_send_frame(0, &frame(0x86dd, &v6_from)));
        assert!(VfPorts::single().may_send_frame(0, &frame(0x0800, &from)));
        // ARP, truncated IP, no Ethernet header: no port.
        assert_eq!(v.deliver_frame(&frame(0x0806, &[0; 28])), None);
        assert_eq!(v.deliver_frame(&frame(0x0800, &v4[..10])), None);
        assert_eq!(v.deliver_frame(&[0; 10]), None);
    }
}
