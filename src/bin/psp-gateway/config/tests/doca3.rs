//! DOCA 3.x: the derived uplink address, --mode, crypt offsets, inner
//! IPv6 and the -c/--config peers file.

use super::*;

/// `--uplink-ip` is ours; without it the outer source address comes from
/// the uplink's interface (as DOCA's `doca_devinfo_get_ipv6_addr` on the
/// PF), else from the management side (`-s` or its interface).
#[test]
fn uplink_ip_is_derived_as_doca_does() {
    const UP0: &str = "5: up0    inet6 fe80::1/64 scope link \\       valid_lft forever\n\
                       5: up0    inet6 fd00:1::1/64 scope global \\       valid_lft forever\n";
    let af = ["-p", "net_af_packet0,iface=up0", "-r", "net_af_packet1,iface=vm0"];
    let sys = Fake::default().addrs(true, Some("up0"), UP0);
    let c = cfg_with(&sys, &af);
    assert_eq!(c.uplink_ip, Some("fd00:1::1".parse().unwrap()));
    assert_eq!(c.uplink_ip_note, "the IPv6 address of uplink interface up0");
    // The flag overrides.
    let mut args = af.to_vec();
    args.extend(["--uplink-ip", "fd00:9::9"]);
    let c = cfg_with(&sys, &args);
    assert_eq!(
        (c.uplink_ip, c.uplink_ip_note.as_str()),
        (Some("fd00:9::9".parse().unwrap()), "--uplink-ip")
    );
    // --outer-ip-type ipv4: up0 has no IPv4; -s is IPv4 and not loopback.
    let mut args = af.to_vec();
    args.extend(["--outer-ip-type", "ipv4", "-s", "10.1.1.50:4000"]);
    let c = cfg_with(&sys, &args);
    assert_eq!(c.uplink_ip, Some("10.1.1.50".parse().unwrap()));
    assert_eq!(c.uplink_ip_note, "-s/--svc-addr 10.1.1.50");

    // DOCA's own example command line (guide, "Application Execution"):
    // the PF's netdev under sysfs carries the IPv6 address.
    let sys = Fake::default()
        .iface(
            "ens2f0v0",
            "02:aa:bb:cc:dd:ee",
            "9: ens2f0v0    inet 192.168.1.10/24 scope global ens2f0v0\n",
        )
        .dir("/sys/bus/pci/devices/0000:03:00.0/net", &["p0"])
        .addrs(
            true,
            Some("p0"),
            "4: p0    inet6 2001:db8::3/64 scope global \\ valid_lft forever\n",
        );
    let c = cfg_with(
        &sys,
        &["-p", "03:00.0", "-r", "vf0pf0", "-d", "ens2f0v0", "-t", "10.1.1.55:192.168.1.55"],
    );
    assert_eq!(c.uplink_ip, Some("2001:db8::3".parse().unwrap()));
    assert_eq!(c.uplink_ip_note, "the IPv6 address of uplink interface p0");
    assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.10")));

    // No uplink address: the IPv6 address of the interface holding -s.
    let sys = Fake::default()
        .dir("/sys/bus/pci/devices/0000:03:00.0/net", &["p0"])
        .addrs(true, Some("p0"), "")
        .addrs(false, None, "1: lo    inet 127.0.0.1/8 scope host lo\n2: mgmt0    inet 10.1.1.50/24 scope global mgmt0\n")
        .addrs(true, Some("mgmt0"), "2: mgmt0    inet6 fd00:77::50/64 scope global \\ valid_lft forever\n");
    let c = cfg_with(&sys, &with_p(&["-s", "10.1.1.50"]));
    assert_eq!(c.uplink_ip, Some("fd00:77::50".parse().unwrap()));
    assert_eq!(
        c.uplink_ip_note,
        "the IPv6 address of management interface mgmt0 (holding -s/--svc-addr 10.1.1.50)"
    );
    // Loopback is never taken: nothing derived, and the note says why.
    let c = cfg_with(&sys, &with_p(&["-s", "127.0.0.1:50151"]));
    assert_eq!(c.uplink_ip, None);
    assert_eq!(
        c.uplink_ip_note,
        "uplink interface p0 has no global IPv6 address; management interface lo (holding \
         -s/--svc-addr 127.0.0.1) has no global IPv6 address"
    );
    let e = err(&with_p(&["--uplink-ip", "10.0.0.1"]));
    assert_eq!(e, "--uplink-ip 10.0.0.1: must be IPv6 to match --outer-ip-type (default ipv6)");
}

/// `--mode` (DOCA 3.x): tunnel by default, transport on the command line
/// and in JSON, into the pipeline; garbage named with its flag or line.
#[test]
fn mode_flag_and_json_key() {
    assert_eq!(cfg(&P).mode, Mode::Tunnel);
    let c = cfg(&with_p(&["--mode", "transport"]));
    assert_eq!((c.mode, c.pipeline_config().mode), (Mode::Transport, Mode::Transport));
    assert_eq!(cfg(&with_p(&["--mode", "tunnel"])).mode, Mode::Tunnel);
    assert_eq!(err(&with_p(&["--mode", "tunel"])), "--mode tunel: must be tunnel or transport");
    let sys = Fake::default().file(
        "gw.json",
        "{\n  \"pci-addr\": \"03:00.0\",\n  \"repr\": \"vf0pf0\",\n  \"mode\": \"transport\"\n}\n",
    );
    assert_eq!(cfg_with(&sys, &["-j", "gw.json"]).mode, Mode::Transport);
    let sys = Fake::default().file(
        "gw.json",
        "{\n  \"pci-addr\": \"03:00.0\",\n  \"repr\": \"vf0pf0\",\n  \"mode\": \"both\"\n}\n",
    );
    assert_eq!(
        err_with(&sys, &["-j", "gw.json"]),
        "gw.json:4: \"mode\" both: must be tunnel or transport"
    );
}

/// `-o/--crypt-offset` defaults as DOCA 3.x: the inner IP header in clear,
/// 2 words more with the cookie; a given value (0 too) wins.
#[test]
fn crypt_offset_defaults_per_ip_version() {
    assert_eq!(
        [(false, false), (false, true), (true, false), (true, true)]
            .map(|(v6, vc)| default_crypt_offset(v6, vc)),
        [5, 7, 10, 12]
    );
    assert_eq!(cfg(&P).crypt_offset, 5);
    assert_eq!(cfg(&with_p(&["-c"])).crypt_offset, 7);
    assert_eq!(cfg(&with_p(&["-c", "-o", "0"])).crypt_offset, 0);
    assert_eq!(cfg(&with_p(&["--crypt-offset", "3"])).crypt_offset, 3);
    let sys = Fake::default()
        .file("gw.json", "{\"pci-addr\": \"03:00.0\", \"repr\": \"vf0pf0\", \"cookie\": true}");
    assert_eq!(cfg_with(&sys, &["-j", "gw.json"]).crypt_offset, 7);
}

/// `--inner-ip-type ipv6` (DOCA 3.x): IPv6 virtual addresses in
/// `--local-virt-ip`, `-t` (in brackets) and `-f`, detected by `-d`; every
/// one of the inner version, else an error naming the flag or file line;
/// into the pipeline, and the crypt offset default for IPv6.
#[test]
fn inner_ipv6_virtual_addresses() {
    let c = cfg(&P);
    assert_eq!(
        (c.inner_ip_type, c.pipeline_config().inner),
        (InnerVersion::Ipv4, InnerVersion::Ipv4)
    );
    let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
    let sys = Fake::default().file("t6.txt", "127.0.0.1:50152:[fd00:10::2],[fd00:10::3]\n");
    let c = cfg_with(
        &sys,
        &with_p(&[
            "--inner-ip-type",
            "ipv6",
            "--local-virt-ip",
            "fd00:10::1",
            "-t",
            "10.1.1.9:[fd00:10::9]",
            "-f",
            "t6.txt",
        ]),
    );
    assert_eq!(
        (c.inner_ip_type, c.pipeline_config().inner),
        (InnerVersion::Ipv6, InnerVersion::Ipv6)
    );
    assert_eq!(c.local_virt_ip, Some(v6("fd00:10::1")));
    assert_eq!(c.peers[0].virt_ips, vec![v6("fd00:10::9")]);
    assert_eq!(c.peers[1].virt_ips, vec![v6("fd00:10::2"), v6("fd00:10::3")]);
    assert_eq!(c.crypt_offset, 10);
    assert_eq!(cfg(&with_p(&["--inner-ip-type", "ipv6", "-c"])).crypt_offset, 12);
    // The other version anywhere: one line naming where.
    assert_eq!(
        err(&with_p(&["--inner-ip-type", "ipv6", "--local-virt-ip", "10.0.0.1"])),
        "--local-virt-ip 10.0.0.1: must be IPv6 to match --inner-ip-type ipv6"
    );
    assert_eq!(
        err(&with_p(&["--local-virt-ip", "fd00::1"])),
        "--local-virt-ip fd00::1: must be IPv4 to match --inner-ip-type (default ipv4)"
    );
    assert_eq!(
        err(&with_p(&["--inner-ip-type", "ipv6", "-t", "10.1.1.9:10.0.0.9"])),
        "-t/--tunnel 10.1.1.9:10.0.0.9: must be IPv6 to match --inner-ip-type ipv6"
    );
    assert_eq!(
        err_with(&sys, &with_p(&["-f", "t6.txt"])),
        "t6.txt:1: virtual IP fd00:10::2: must be IPv4 to match --inner-ip-type (default ipv4)"
    );
    assert_eq!(
        err(&with_p(&["--inner-ip-type", "ip6"])),
        "--inner-ip-type ip6: must be ipv4 or ipv6"
    );
    // -d finds the VF's global IPv6 address.
    let sys = Fake::default()
        .iface("vf0", "02:00:00:00:00:07", "")
        .addrs(true, Some("vf0"), "9: vf0    inet6 fe80::7/64 scope link \\ x\n9: vf0    inet6 fd00:10::7/64 scope global \\ x\n");
    let c = cfg_with(&sys, &with_p(&["--inner-ip-type", "ipv6", "-d", "vf0"]));
    assert_eq!(c.local_virt_ip, Some(v6("fd00:10::7")));
    let sys = Fake::default().iface("vf1", "02:00:00:00:00:07", "").addrs(true, Some("vf1"), "");
    assert_eq!(
        err_with(&sys, &with_p(&["--inner-ip-type", "ipv6", "-d", "vf1"])),
        "-d/--vf-name vf1: no global IPv6 address bound to the interface"
    );
    // JSON too.
    let sys = Fake::default().file(
        "gw.json",
        "{\"pci-addr\": \"03:00.0\", \"repr\": \"vf0pf0\", \"inner-ip-type\": \"ipv6\", \"local-virt-ip\": \"fd00:10::1\"}",
    );
    assert_eq!(cfg_with(&sys, &["-j", "gw.json"]).local_virt_ip, Some(v6("fd00:10::1")));
}

const PEERS: &str = r#"{
    "config": { "local-grpc-address": "10.1.1.50:3001" },
    "peers": [
        { "remote-grpc-address": "10.1.1.55",
          "sessions": [ { "local-vip": "192.168.1.1", "remote-vips": ["192.168.1.2"] },
                        { "remote-vips": ["192.168.3.0/31"] } ] },
        { "remote-grpc-address": "10.1.1.56:4000",
          "sessions": [ { "remote-vips": ["192.168.1.9"] } ] }
    ]
}"#;

#[test]
fn peers_file_gives_peers_service_address_and_local_vip() {
    let sys = Fake::default().file("peers.json", PEERS);
    for args in [&["-c", "peers.json"][..], &["--config", "peers.json"], &["-c=peers.json"]] {
        let c = cfg_with(&sys, &with_p(args));
        assert_eq!(
            c.peers,
            vec![
                Peer {
                    svc_addr: sa("10.1.1.55:3000"),
                    virt_ips: vec![ip4("192.168.1.2"), ip4("192.168.3.0"), ip4("192.168.3.1")],
                },
                Peer { svc_addr: sa("10.1.1.56:4000"), virt_ips: vec![ip4("192.168.1.9")] },
            ]
        );
        assert_eq!(c.svc_addr, sa("10.1.1.50:3001"));
        assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.1")));
        assert!(!c.cookie, "{args:?}: -c PATH is --config, not --cookie");
    }
    // -s and --local-virt-ip (when equal) win; a bare -c is 2.8's cookie.
    let c = cfg_with(
        &sys,
        &with_p(&[
            "-s",
            "10.1.1.50:5000",
            "--local-virt-ip",
            "192.168.1.1",
            "-c",
            "peers.json",
            "-c",
        ]),
    );
    assert_eq!((c.svc_addr, c.cookie), (sa("10.1.1.50:5000"), true));
    // -j: "config" and "c" with a path are the peers file, "c": true the cookie.
    let sys = sys
        .file("gw.json", r#"{"p": "03:00.0", "r": "vf0pf0", "c": "peers.json"}"#)
        .file("gw2.json", r#"{"p": "03:00.0", "r": "vf0pf0", "config": "peers.json", "c": true}"#);
    let c = cfg_with(&sys, &["-j", "gw.json"]);
    assert_eq!((c.peers.len(), c.cookie), (2, false));
    let c = cfg_with(&sys, &["-j", "gw2.json"]);
    assert_eq!((c.peers.len(), c.cookie, c.crypt_offset), (2, true, 7));
}

#[test]
fn peers_file_refuses_tunnels_and_names_file_and_line() {
    let sys = Fake::default()
        .file("peers.json", PEERS)
        .file("t.txt", "10.1.1.57:192.168.1.57\n")
        .file("gw.json", r#"{"p": "03:00.0", "r": "vf0pf0", "t": "10.1.1.57:192.168.1.57"}"#);
    assert_eq!(
        err_with(&sys, &with_p(&["-c", "peers.json", "-t", "10.1.1.57:192.168.1.57"])),
        "-c/--config peers.json cannot be used with -t/--tunnel (DOCA 3.x's peers file replaces \
         -t and -f)"
    );
    assert_eq!(
        err_with(&sys, &with_p(&["-f", "t.txt", "--config", "peers.json"])),
        "-c/--config peers.json cannot be used with -f/--tunnels-file (DOCA 3.x's peers file \
         replaces -t and -f)"
    );
    let e = err_with(&sys, &["-j", "gw.json", "-c", "peers.json"]);
    assert!(e.contains("cannot be used with gw.json:1: \"t\""), "{e}");
    assert_eq!(
        err_with(&sys, &with_p(&["-c", "nope.json"])),
        "-c/--config nope.json: cannot read: No such file or directory"
    );
    // A session's local VIP must be one of our ports' VMs.
    assert_eq!(
        err_with(&sys, &with_p(&["--local-virt-ip", "192.168.1.7", "-c", "peers.json"])),
        "peers.json:5: \"local-vip\" 192.168.1.1 is not a virtual IP of this gateway's \
         unsecured ports (192.168.1.7 from --local-virt-ip)"
    );
    // A virtual IP behind two peers, named at its second peer's line.
    let twice = PEERS.replace("192.168.1.9", "192.168.1.2");
    let sys = sys.file("twice.json", &twice);
    assert_eq!(
        err_with(&sys, &with_p(&["-c", "twice.json"])),
        "twice.json:7: virtual IP 192.168.1.2 is mapped to both 10.1.1.55:3000 and 10.1.1.56:4000"
    );
    let sys = sys.file("v6.json", PEERS);
    let e = err_with(&sys, &with_p(&["--inner-ip-type", "ipv6", "-c", "v6.json"]));
    assert!(e.starts_with("v6.json:5: \"peers\"[0].\"sessions\"[0].\"local-vip\": "), "{e}");
}

/// DOCA 3.1+'s `-s/--device` names the device our `-p/--pci-addr` does;
/// `-s` with an IP stays 2.8's `--svc-addr`.
#[test]
fn device_is_p_and_short_s_takes_it_when_it_names_one() {
    let c = cfg(&["-s", "03:00.0", "-r", "vf0pf0"]);
    assert_eq!(c.secure_port, PortSpec::Pci("0000:03:00.0".into()));
    assert_eq!(c.svc_addr.to_string(), "0.0.0.0:3000", "the default: -s was the device");
    let c = cfg(&["--device", "net_af_packet0,iface=u1", "-r", "net_af_packet1,iface=h1"]);
    assert_eq!(c.secure_port.ethdev_name(), Some("net_af_packet0"));
    let c = cfg(&with_p(&["-s", "127.0.0.1:5001"]));
    assert_eq!(c.svc_addr.to_string(), "127.0.0.1:5001");
    assert_eq!(
        err(&with_p(&["--device", "04:00.0"])),
        "--device cannot be used with -p/--pci-addr (DOCA 3.x's name of the same device)"
    );
    let e = err(&["--device", "zz:00.0", "-r", "vf0pf0"]);
    assert!(e.starts_with("--device"), "{e}");
    let sys = Fake::default().file("gw.json", r#"{"device": "03:00.0", "r": "vf0pf0"}"#);
    assert_eq!(
        cfg_with(&sys, &["-j", "gw.json"]).secure_port,
        PortSpec::Pci("0000:03:00.0".into())
    );
}
