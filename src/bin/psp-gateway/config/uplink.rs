//! The outer source address of our tunnels when `--uplink-ip` is not
//! given, derived as DOCA's application derives its PF address: DOCA asks
//! the uplink device for its address of the outer family
//! (`doca_devinfo_get_ipv6_addr`, or `_ipv4_addr` with `--outer-ip-type
//! ipv4`). We ask the kernel for the global address of that family on the
//! uplink's interface (`-p net_af_packetN,iface=X`, or the netdev of a PCI
//! address), and failing that we take the management side: the address of
//! `-s/--svc-addr` when it is of the outer family, or an address of the
//! outer family on the interface that holds it. Loopback and link-local
//! addresses are never taken. Sans-IO: the machine is asked through
//! [`System`].

use super::System;
use engine::config::PortSpec;
use engine::pipeline::OuterVersion;
use std::net::{IpAddr, SocketAddr};

/// One address from `ip -o addr show` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// The interface.
    pub iface: String,
    /// The address.
    pub ip: IpAddr,
    /// Its scope (`global`, `link`, `host`).
    pub scope: String,
}

/// Every address in `ip -o addr show` output (`2: eth0    inet6
/// fd00::1/64 scope global \ valid_lft ...`), in order.
pub fn parse_ip_o(text: &str) -> Vec<IfAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "inet" || *w == "inet6") else {
            continue;
        };
        let (Some(iface), Some(cidr)) = (words.get(1), words.get(at + 1)) else { continue };
        let Ok(ip) = cidr.split('/').next().unwrap_or("").parse::<IpAddr>() else { continue };
        let scope = words
            .iter()
            .position(|w| *w == "scope")
            .and_then(|i| words.get(i + 1))
            .map_or("global", |s| s)
            .to_string();
        if words.contains(&"dadfailed") {
            continue;
        }
        out.push(IfAddr { iface: iface.trim_end_matches(':').to_string(), ip, scope });
    }
    out
}

fn fits(ip: IpAddr, outer: OuterVersion) -> bool {
    matches!((ip, outer), (IpAddr::V4(_), OuterVersion::Ipv4) | (IpAddr::V6(_), OuterVersion::Ipv6))
}

/// An address one can send tunnels from: not loopback, link-local,
/// multicast or unspecified.
fn usable(ip: IpAddr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    match ip {
        IpAddr::V4(a) => !a.is_link_local(),
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 != 0xfe80,
    }
}

fn family(outer: OuterVersion) -> (&'static str, bool) {
    match outer {
        OuterVersion::Ipv4 => ("IPv4", false),
        OuterVersion::Ipv6 => ("IPv6", true),
    }
}

/// The uplink's kernel interfaces: `iface=` of a virtual device, the
/// netdevs of a PCI function.
fn uplink_ifaces<S: System + ?Sized>(port: &PortSpec, sys: &S) -> Result<Vec<String>, String> {
    match port {
        PortSpec::Vdev { name, args } => {
            let ifaces: Vec<String> = args
                .split(',')
                .filter_map(|kv| kv.strip_prefix("iface="))
                .map(str::to_string)
                .collect();
            if ifaces.is_empty() {
                Err(format!("{name} has no kernel interface"))
            } else {
                Ok(ifaces)
            }
        }
        PortSpec::Pci(bdf) => {
            let dir = format!("/sys/bus/pci/devices/{bdf}/net");
            let names = sys
                .list_dir(std::path::Path::new(&dir))
                .map_err(|e| format!("{bdf} has no network interface ({dir}: {e})"))?;
            if names.is_empty() {
                Err(format!("{bdf} has no network interface ({dir} is empty)"))
            } else {
                Ok(names)
            }
        }
        PortSpec::Representor(r) => Err(format!("{r} is a representor")),
    }
}

/// The derived address and a note saying where it came from, or why none
/// was found (both one line, for the log or the error).
pub fn derive<S: System + ?Sized>(
    uplink: &PortSpec,
    svc: SocketAddr,
    outer: OuterVersion,
    sys: &S,
) -> Result<(IpAddr, String), String> {
    let (fam, v6) = family(outer);
    let pick = |text: &str, iface: Option<&str>| {
        parse_ip_o(text)
            .into_iter()
            .find(|a| {
                fits(a.ip, outer)
                    && usable(a.ip)
                    && a.scope == "global"
                    && iface.is_none_or(|i| a.iface == i)
            })
            .map(|a| a.ip)
    };
    // 1. The uplink's own address, as DOCA.
    let why_uplink = match uplink_ifaces(uplink, sys) {
        Ok(ifaces) => {
            let mut why = Vec::new();
            for iface in &ifaces {
                match sys.ip_addrs(v6, Some(iface)) {
                    Ok(text) => match pick(&text, Some(iface)) {
                        Some(ip) => {
                            return Ok((
                                ip,
                                format!("the {fam} address of uplink interface {iface}"),
                            ))
                        }
                        None => why
                            .push(format!("uplink interface {iface} has no global {fam} address")),
                    },
                    Err(e) => why.push(format!("uplink interface {iface}: {e}")),
                }
            }
            why.join(", ")
        }
        Err(e) => format!("-p/--pci-addr {e}"),
    };
    // 2. The management side: -s itself, or its interface's address.
    let why_svc = if svc.ip().is_unspecified() {
        format!("-s/--svc-addr {} names no interface", svc.ip())
    } else if fits(svc.ip(), outer) && usable(svc.ip()) {
        return Ok((svc.ip(), format!("-s/--svc-addr {}", svc.ip())));
    } else {
        let all = sys.ip_addrs(svc.ip().is_ipv6(), None).unwrap_or_default();
        match parse_ip_o(&all).into_iter().find(|a| a.ip == svc.ip()) {
            None => format!("no interface holds -s/--svc-addr {}", svc.ip()),
            Some(holder) => {
                let text = sys.ip_addrs(v6, Some(&holder.iface)).unwrap_or_default();
                match pick(&text, Some(&holder.iface)) {
                    Some(ip) => {
                        return Ok((
                            ip,
                            format!(
                                "the {fam} address of management interface {} (holding -s/--svc-addr {})",
                                holder.iface,
                                svc.ip()
                            ),
                        ))
                    }
                    None => format!(
                        "management interface {} (holding -s/--svc-addr {}) has no global {fam} address",
                        holder.iface,
                        svc.ip()
                    ),
                }
            }
        }
    };
    Err(format!("{why_uplink}; {why_svc}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_o_lines() {
        let text = "1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever\n\
                    7: eth0    inet6 fd00:1::1/64 scope global \\       valid_lft forever\n\
                    7: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n\
                    7: eth0    inet6 fd00:1::9/64 scope global dadfailed tentative\n\
                    8: eth1    inet 10.1.1.50/24 brd 10.1.1.255 scope global eth1\n";
        let a = parse_ip_o(text);
        assert_eq!(a.len(), 4);
        assert_eq!(
            a[0],
            IfAddr { iface: "lo".into(), ip: "::1".parse().unwrap(), scope: "host".into() }
        );
        assert_eq!((a[1].iface.as_str(), a[1].scope.as_str()), ("eth0", "global"));
        assert_eq!(a[3].ip, "10.1.1.50".parse::<IpAddr>().unwrap());
        assert!(!usable("fe80::1".parse().unwrap()) && !usable("127.0.0.1".parse().unwrap()));
        assert!(usable("fd00::1".parse().unwrap()) && !usable("169.254.1.1".parse().unwrap()));
    }
}
