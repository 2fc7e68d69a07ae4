//! Service addresses (`-s`), tunnels (`-t svc-addr[:port]:virt-ip`) and the
//! tunnel mappings file (`-f`): sans-IO parsers and the peer merge.

use super::{ConfigError, Peer, DEFAULT_PORT};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `ip`, `ip:port`, `[v6]`, `[v6]:port` or a bare IPv6 address (which
/// then takes the default port). Port 0 only when `allow_port_0`.
pub fn parse_svc_addr(s: &str, allow_port_0: bool) -> Result<SocketAddr, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty".into());
    }
    let addr = if let Ok(a) = s.parse::<SocketAddr>() {
        a
    } else if let Ok(ip) = s.parse::<IpAddr>() {
        SocketAddr::new(ip, DEFAULT_PORT)
    } else if let Some(v6) = s.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let ip = v6.parse::<std::net::Ipv6Addr>().map_err(|_| "not an IPv6 address in brackets")?;
        SocketAddr::new(IpAddr::V6(ip), DEFAULT_PORT)
    } else {
        // Say which half is wrong.
        let host_ok = s.rsplit_once(':').is_some_and(|(host, _)| {
            host.parse::<Ipv4Addr>().is_ok()
                || host
                    .strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
        });
        return Err(if host_ok {
            "port must be 1..=65535".into()
        } else {
            "not an IP address (ip[:port], IPv6 in brackets)".into()
        });
    };
    if addr.port() == 0 && !allow_port_0 {
        return Err("port must be 1..=65535".into());
    }
    Ok(addr)
}

/// `s` split at its last `:` outside brackets.
fn split_last_colon(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let mut at = None;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => at = Some(i),
            _ => {}
        }
    }
    at.map(|i| (&s[..i], &s[i + 1..]))
}

/// One mapping, `svc-addr[:port]:virt-ip[,virt-ip...]`: the service
/// address of the peer gateway and the virtual addresses behind it.
/// IPv6 virtual addresses (`--inner-ip-type ipv6`) go in brackets, as
/// IPv6 service addresses do: `10.1.1.55:[fd00:10::2]`.
pub fn parse_tunnel(s: &str) -> Result<(SocketAddr, Vec<IpAddr>), String> {
    let s = s.trim();
    let (svc, virts) = split_last_colon(s)
        .ok_or("expected svc-addr[:port]:virt-ip (IPv6 addresses in brackets)")?;
    let svc = svc.trim();
    if !svc.starts_with('[') && svc.matches(':').count() > 1 {
        return Err("IPv6 service addresses need brackets: [fd00::1]:3000:192.168.1.2".into());
    }
    let svc = parse_svc_addr(svc, false).map_err(|why| format!("service address: {why}"))?;
    let mut ips = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for v in virts.split(',') {
        let v = v.trim();
        if v.is_empty() {
            return Err("empty virtual IP".into());
        }
        let ip = match v.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(v6) => v6
                .parse::<std::net::Ipv6Addr>()
                .map(IpAddr::V6)
                .map_err(|_| format!("virtual IP {v} is not an IPv6 address in brackets"))?,
            None => IpAddr::V4(v.parse::<Ipv4Addr>().map_err(|_| {
                format!("virtual IP {v} is not IPv4 (IPv6 goes in brackets: [fd00::2])")
            })?),
        };
        if seen.insert(ip) {
            ips.push(ip);
        }
    }
    Ok((svc, ips))
}

/// Parses the text of a tunnel mappings file: one mapping a line, `#`
/// comments (whole-line or trailing), blank lines. `file` names the file
/// in errors (`tunnels.txt:3: ...`). Returns each mapping with its line.
pub fn parse_tunnels_file(
    file: &str,
    text: &str,
) -> Result<Vec<(usize, SocketAddr, Vec<IpAddr>)>, ConfigError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split_once('#').map_or(line, |(c, _)| c).trim();
        if content.is_empty() {
            continue;
        }
        let (svc, ips) = parse_tunnel(content).map_err(|why| ConfigError::TunnelsFile {
            file: file.to_string(),
            line: i + 1,
            msg: format!("{content}: {why}"),
        })?;
        out.push((i + 1, svc, ips));
    }
    Ok(out)
}

/// Merges mappings into peers: mappings with the same service address are
/// one peer; a virtual IP claimed by two different peers is refused.
#[derive(Debug, Default)]
pub struct PeerSet {
    peers: Vec<Peer>,
    /// Which peer (index) each virtual IP belongs to: files map up to
    /// millions of addresses, so lookups must not scan.
    owner: std::collections::HashMap<IpAddr, usize>,
}

impl PeerSet {
    /// Adds the mapping `svc -> ips`; `at` says where it came from
    /// (`-t/--tunnel 10.1.1.55:192.168.1.2`, `tunnels.txt:3`).
    pub fn add(&mut self, at: &str, svc: SocketAddr, ips: &[IpAddr]) -> Result<(), ConfigError> {
        for ip in ips {
            if let Some(other) = self.owner.get(ip).map(|&i| &self.peers[i]) {
                if other.svc_addr != svc {
                    return Err(ConfigError::VirtIpTwice {
                        at: at.to_string(),
                        virt_ip: *ip,
                        first: other.svc_addr,
                        second: svc,
                    });
                }
            }
        }
        let idx = match self.peers.iter().position(|p| p.svc_addr == svc) {
            Some(i) => i,
            None => {
                self.peers.push(Peer { svc_addr: svc, virt_ips: Vec::new() });
                self.peers.len() - 1
            }
        };
        for ip in ips {
            if self.owner.insert(*ip, idx).is_none() {
                self.peers[idx].virt_ips.push(*ip);
            }
        }
        Ok(())
    }

    /// The peers, in order of first mention.
    pub fn into_peers(self) -> Vec<Peer> {
        self.peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn svc_addr_forms() {
        assert_eq!(parse_svc_addr("10.1.1.50", false).unwrap(), sa("10.1.1.50:3000"));
        assert_eq!(parse_svc_addr(" 10.1.1.50:4000 ", false).unwrap(), sa("10.1.1.50:4000"));
        assert_eq!(parse_svc_addr("[fd00::1]:5", false).unwrap(), sa("[fd00::1]:5"));
        assert_eq!(parse_svc_addr("[fd00::1]", false).unwrap(), sa("[fd00::1]:3000"));
        assert_eq!(parse_svc_addr("fd00::1", false).unwrap(), sa("[fd00::1]:3000"));
        assert_eq!(parse_svc_addr("127.0.0.1:0", true).unwrap(), sa("127.0.0.1:0"));
        for (bad, why) in [
            ("", "empty"),
            ("host.example", "not an IP"),
            ("10.1.1.50:70000", "port"),
            ("10.1.1.50:x", "port"),
            ("10.1.1.50:0", "port"),
            ("[fd00::zz]", "IPv6"),
            ("10.1.1:3000", "not an IP"),
        ] {
            let e = parse_svc_addr(bad, false).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn tunnel_forms() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            parse_tunnel("10.1.1.55:192.168.1.55").unwrap(),
            (sa("10.1.1.55:3000"), vec![ip("192.168.1.55")])
        );
        assert_eq!(
            parse_tunnel("10.1.1.55:4000:192.168.1.55, 192.168.1.56,192.168.1.55").unwrap(),
            (sa("10.1.1.55:4000"), vec![ip("192.168.1.55"), ip("192.168.1.56")])
        );
        assert_eq!(
            parse_tunnel("[fd00::1]:3001:192.168.1.2").unwrap(),
            (sa("[fd00::1]:3001"), vec![ip("192.168.1.2")])
        );
        assert_eq!(
            parse_tunnel("[fd00::1]:192.168.1.2").unwrap(),
            (sa("[fd00::1]:3000"), vec![ip("192.168.1.2")])
        );
        // IPv6 virtual addresses in brackets (--inner-ip-type ipv6).
        assert_eq!(
            parse_tunnel("127.0.0.1:50152:[fd00:10::2],[fd00:10::3]").unwrap(),
            (sa("127.0.0.1:50152"), vec![ip("fd00:10::2"), ip("fd00:10::3")])
        );
        assert_eq!(
            parse_tunnel("[fd00::1]:[fd00:10::2]").unwrap(),
            (sa("[fd00::1]:3000"), vec![ip("fd00:10::2")])
        );
        for (bad, why) in [
            ("10.1.1.55:[fd00:10::zz]", "not an IPv6 address in brackets"),
            ("10.1.1.55:[10.0.0.1]", "not an IPv6 address in brackets"),
            ("10.1.1.55", "expected svc-addr"),
            ("fd00::1:192.168.1.2", "brackets"),
            ("10.1.1.55:fd00::2", "brackets"),
            ("10.1.1.55:192.168.1.300", "not IPv4"),
            ("10.1.1.55:192.168.1.1,", "empty virtual IP"),
            ("10.1.1.55:0:192.168.1.1", "port"),
            ("host:192.168.1.1", "service address"),
        ] {
            let e = parse_tunnel(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn tunnels_file_comments_blank_lines_and_errors() {
        let text = "# (Comments are allowed)\n\n  \n10.1.1.55:192.168.1.101,192.168.1.102 # two\n\
                    10.1.1.56:4000:192.168.1.201\n";
        let m = parse_tunnels_file("tunnels.txt", text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].0, m[0].1, m[0].2.len()), (4, sa("10.1.1.55:3000"), 2));
        assert_eq!((m[1].0, m[1].1), (5, sa("10.1.1.56:4000")));
        assert!(parse_tunnels_file("t", "").unwrap().is_empty());

        let e = parse_tunnels_file("tunnels.txt", "# c\n\n10.1.1.55:192.168.1.999 # x\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tunnels.txt:3: 10.1.1.55:192.168.1.999: "), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn peers_merge_and_conflicts() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut set = PeerSet::default();
        set.add("a", sa("10.0.0.1:3000"), &[ip("192.168.1.1")]).unwrap();
        set.add("b", sa("10.0.0.2:3000"), &[ip("192.168.1.2")]).unwrap();
        set.add("c", sa("10.0.0.1:3000"), &[ip("192.168.1.3"), ip("192.168.1.1")]).unwrap();
        let e = set.add("t.txt:9", sa("10.0.0.2:3000"), &[ip("192.168.1.3")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.txt:9: virtual IP 192.168.1.3 is mapped to both 10.0.0.1:3000 and 10.0.0.2:3000"
        );
        // Same address on another port is another peer.
        let e = set.add("d", sa("10.0.0.1:3001"), &[ip("192.168.1.1")]).unwrap_err();
        assert!(e.to_string().contains("10.0.0.1:3001"));
        let peers = set.into_peers();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0].virt_ips, vec![ip("192.168.1.1"), ip("192.168.1.3")]);
        assert_eq!(peers[1].virt_ips, vec![ip("192.168.1.2")]);
    }
}
