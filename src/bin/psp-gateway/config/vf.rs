//! `-d/--vf-name`: the MAC address and IPv4 address of a host interface,
//! which become `--decap-dmac` and `--local-virt-ip`. The parsers take the
//! text of `/sys/class/net/<name>/address` and of `ip -4 -o addr show dev
//! <name>`, so they are tested without the interface.

use engine::wire::MacAddr;
use std::net::Ipv4Addr;

/// Refuses names that are not a Linux interface name (and could escape
/// `/sys/class/net/`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err("an interface name has 1 to 15 characters".into());
    }
    if name == "." || name == ".." || name.chars().any(|c| c == '/' || c.is_whitespace()) {
        return Err("not an interface name".into());
    }
    Ok(())
}

/// The MAC from the sysfs `address` file (`aa:bb:cc:dd:ee:ff\n`).
pub fn parse_sysfs_address(text: &str) -> Result<MacAddr, String> {
    let t = text.trim();
    let mac: MacAddr = t.parse().map_err(|_| format!("no MAC address in sysfs ({t:?})"))?;
    if mac.0 == [0; 6] {
        return Err("the interface has no MAC address (00:00:00:00:00:00)".into());
    }
    Ok(mac)
}

/// The first IPv4 address in `ip -4 -o addr show dev NAME` output
/// (`2: ens2f0v0    inet 192.168.1.10/24 brd ... scope global ...`).
pub fn parse_ip_addr_output(text: &str) -> Result<Ipv4Addr, String> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == "inet" {
                let cidr = words.next().unwrap_or("");
                let addr = cidr.split('/').next().unwrap_or("");
                if let Ok(ip) = addr.parse::<Ipv4Addr>() {
                    return Ok(ip);
                }
            }
        }
    }
    Err("no IPv4 address bound to the interface".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP_OUT: &str = "7: ens2f0v0    inet 192.168.1.10/24 brd 192.168.1.255 scope global ens2f0v0\\       valid_lft forever preferred_lft forever\n\
                          7: ens2f0v0    inet 192.168.2.10/24 scope global secondary ens2f0v0\n";

    #[test]
    fn detects_mac_and_first_ipv4() {
        let (mac, ip) = (
            parse_sysfs_address("02:00:00:aa:bb:cc\n").unwrap(),
            parse_ip_addr_output(IP_OUT).unwrap(),
        );
        assert_eq!(mac, MacAddr([2, 0, 0, 0xaa, 0xbb, 0xcc]));
        assert_eq!(ip, Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(
            parse_ip_addr_output("1: lo    inet 127.0.0.1/8 scope host lo").unwrap(),
            Ipv4Addr::LOCALHOST
        );
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        assert!(parse_sysfs_address("").unwrap_err().contains("no MAC"));
        assert!(parse_sysfs_address("00:00:00:00:00:00\n").unwrap_err().contains("has no MAC"));
        assert!(parse_ip_addr_output("").unwrap_err().contains("no IPv4"));
        assert!(parse_ip_addr_output("7: x inet6 fd00::1/64 scope global").is_err());
        assert!(check_name("ens2f0v0").is_ok());
        for bad in ["", "..", "a/b", "a b", "0123456789abcdef"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
