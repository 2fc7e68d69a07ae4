//! Files and the host: -d/--vf-name, -t/-f, -j/--json, TLS and fleet flags.

use super::*;

#[test]
fn vf_name_detects_and_excludes() {
    let sys = Fake::default().iface(
        "ens2f0v0",
        "02:aa:bb:cc:dd:ee",
        "9: ens2f0v0    inet 192.168.1.10/24 brd 192.168.1.255 scope global ens2f0v0\n",
    );
    let c = cfg_with(&sys, &with_p(&["-d", "ens2f0v0"]));
    assert_eq!(c.vf_name.as_deref(), Some("ens2f0v0"));
    assert_eq!(c.decap_dmac, Some(MacAddr([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])));
    assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.10")));

    let e = err_with(&sys, &with_p(&["-d", "ens2f0v0", "--decap-dmac", "02:00:00:00:00:01"]));
    assert!(e.starts_with("-d/--vf-name cannot be used with --decap-dmac"), "{e}");
    let e = err_with(&sys, &with_p(&["--local-virt-ip", "192.168.1.1", "--vf-name", "ens2f0v0"]));
    assert!(e.starts_with("-d/--vf-name cannot be used with --local-virt-ip"), "{e}");

    let e = err_with(&sys, &with_p(&["-d", "ens9"]));
    assert!(
        e.starts_with(
            "-d/--vf-name ens9: no such interface? cannot read /sys/class/net/ens9/address"
        ),
        "{e}"
    );
    let sys = Fake::default().iface("v0", "02:00:00:00:00:01", "");
    assert_eq!(
        err_with(&sys, &with_p(&["-d", "v0"])),
        "-d/--vf-name v0: no IPv4 address bound to the interface"
    );
    let sys = Fake::default().file("/sys/class/net/v1/address", "02:00:00:00:00:01\n");
    assert_eq!(
        err_with(&sys, &with_p(&["-d", "v1"])),
        "-d/--vf-name v1: Device \"v1\" does not exist."
    );
}

#[test]
fn tunnels_merge_from_flags_and_file() {
    let sys = Fake::default().file(
        "tunnels.txt",
        "# (Comments are allowed)\n# Format: svc-oob-ip-addr:virt-addr,virt-addr,...\n\n\
         10.1.1.55:192.168.1.101,192.168.1.102 # trailing\n\
         10.1.1.56:192.168.1.201\n\
         [fd00::9]:4000:192.168.1.250\n",
    );
    let c = cfg_with(
        &sys,
        &with_p(&[
            "-t",
            "10.1.1.56:192.168.1.202",
            "-f",
            "tunnels.txt",
            "-t",
            "10.1.1.55:3000:192.168.1.103",
        ]),
    );
    assert_eq!(
        c.peers,
        vec![
            Peer {
                svc_addr: sa("10.1.1.56:3000"),
                virt_ips: vec![ip4("192.168.1.202"), ip4("192.168.1.201")]
            },
            Peer {
                svc_addr: sa("10.1.1.55:3000"),
                virt_ips: vec![ip4("192.168.1.103"), ip4("192.168.1.101"), ip4("192.168.1.102")],
            },
            Peer { svc_addr: sa("[fd00::9]:4000"), virt_ips: vec![ip4("192.168.1.250")] },
        ]
    );

    // A virtual IP behind two peers: named with both, at the second mention.
    let e = err_with(&sys, &with_p(&["-t", "10.1.1.57:192.168.1.201", "-f", "tunnels.txt"]));
    assert_eq!(e, "tunnels.txt:5: virtual IP 192.168.1.201 is mapped to both 10.1.1.57:3000 and 10.1.1.56:3000");
    let e = err(&with_p(&["-t", "10.1.1.1:192.168.1.1", "-t", "10.1.1.2:192.168.1.1"]));
    assert_eq!(
        e,
        "-t/--tunnel 10.1.1.2:192.168.1.1: virtual IP 192.168.1.1 is mapped to both 10.1.1.1:3000 and 10.1.1.2:3000"
    );

    let sys =
        Fake::default().file("bad.txt", "# ok\n10.1.1.55:192.168.1.1\n\n10.1.1.56:192.168.1.x\n");
    let e = err_with(&sys, &with_p(&["-f", "bad.txt"]));
    assert_eq!(
        e,
        "bad.txt:4: 10.1.1.56:192.168.1.x: virtual IP 192.168.1.x is not IPv4 (IPv6 goes in \
         brackets: [fd00::2])"
    );
    let e = err(&with_p(&["-f", "nope.txt"]));
    assert_eq!(e, "-f/--tunnels-file nope.txt: cannot read: No such file or directory");
}

const JSON: &str = r#"{
    "p": "03:00.0",
    "r": "vf0pf0",
    "m": "0xf",
    "decap-dmac": "11:22:33:44:55:66",
    "local-virt-ip": "192.168.1.100",
    "n": "77:88:99:aa:bb:cc",
    "s": "10.1.1.50",
    "t": ["10.1.1.55:192.168.1.55", "10.1.1.56:192.168.1.56"],
    "f": "tunnels.txt",
    "c": true,
    "a": true,
    "sample-rate": 16,
    "maintain-order": true,
    "x": "4096",
    "o": 7,
    "psp-version": 0,
    "z": true,
    "k": true,
    "stat-print": true,
    "perf-print": "all",
    "show-rss-rx-packets": true,
    "outer-ip-type": "ipv4",
    "log-level": 60,
    "sdk-log-level": "40",
    "uplink-ip": "10.1.1.50",
    "idle-backoff": false
}"#;

#[test]
fn json_sets_every_flag() {
    let sys = Fake::default().file("gw.json", JSON).file("tunnels.txt", "10.1.1.57:192.168.1.57\n");
    let c = cfg_with(&sys, &["-j", "gw.json"]);
    assert_eq!(c.secure_port, PortSpec::Pci("0000:03:00.0".into()));
    assert_eq!(c.core_mask.cores(), &[0, 1, 2, 3]);
    assert_eq!(c.decap_dmac, Some(MacAddr([0x11, 0x22, 0x33, 0x44, 0x55, 0x66])));
    assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.100")));
    assert_eq!(c.nexthop_dmac, Some(MacAddr([0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc])));
    assert_eq!(c.svc_addr, sa("10.1.1.50:3000"));
    assert_eq!(c.peers.len(), 3);
    assert!(c.cookie && c.disable_ingress_acl && c.maintain_order && c.static_tunnels);
    assert!(c.debug_keys && c.stat_print && c.show_rss_rx_packets && !c.idle_backoff);
    assert_eq!((c.sample_rate, c.max_tunnels, c.crypt_offset), (16, 4096, 7));
    assert_eq!((c.psp_version, c.perf_print), (Version::AesGcm128, Some(PerfPrint::All)));
    assert_eq!((c.outer_ip_type, c.log_level, c.sdk_log_level), (OuterVersion::Ipv4, 60, 40));

    // Long keys and a single tunnel string.
    let long = r#"{"pci-addr": "03:00.0", "repr": "vf0pf0", "core-mask": "0x2", "tunnel": "10.1.1.55:192.168.1.55",
                   "cookie": true, "max-tunnels": 8, "crypt-offset": "1", "grpc-cert": "c", "grpc-key": "k",
                   "grpc-ca": "ca", "vf-name": "v0", "nexthop-dmac": "02:00:00:00:00:02", "svc-addr": "127.0.0.1:0",
                   "tunnels-file": "tunnels.txt", "disable-ingress-acl": false, "static-tunnels": false,
                   "debug-keys": false}"#;
    let sys = sys.file("long.json", long).iface(
        "v0",
        "02:00:00:00:00:01",
        "3: v0 inet 192.168.1.9/24 scope global v0",
    );
    let c = cfg_with(&sys, &["--json", "long.json"]);
    assert_eq!((c.core_mask.cores(), c.max_tunnels, c.crypt_offset), (&[1u32][..], 8, 1));
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.svc_addr, sa("127.0.0.1:0"));
    assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.9")));
    assert!(c.cookie && !c.disable_ingress_acl && c.grpc_ca.is_some());
}

#[test]
fn command_line_overrides_json() {
    let sys = Fake::default()
        .file("gw.json", JSON)
        .file("tunnels.txt", "10.1.1.57:192.168.1.57\n")
        .file("other.txt", "10.1.1.99:192.168.1.99\n");
    let c = cfg_with(
        &sys,
        &[
            "-j",
            "gw.json",
            "-p",
            "04:00.1",
            "--sample-rate",
            "3",
            "-t",
            "10.1.1.60:192.168.1.60",
            "-f",
            "other.txt",
            "--outer-ip-type",
            "ipv6",
            "--uplink-ip",
            "fd00::1",
            "--idle-backoff",
            "-l",
            "70",
        ],
    );
    assert_eq!(c.pci_addr, "04:00.1");
    assert_eq!(c.repr, "vf0pf0");
    assert_eq!(c.sample_rate, 3);
    let svcs: Vec<SocketAddr> = c.peers.iter().map(|p| p.svc_addr).collect();
    assert_eq!(svcs, vec![sa("10.1.1.60:3000"), sa("10.1.1.99:3000")]);
    assert_eq!(c.outer_ip_type, OuterVersion::Ipv6);
    assert!(c.idle_backoff && c.cookie);
    assert_eq!((c.log_level, c.crypt_offset), (70, 7));
    // The JSON's decap-dmac and a command-line vf-name conflict.
    let sys = sys.iface("v0", "02:00:00:00:00:01", "3: v0 inet 192.168.1.9/24");
    let e = err_with(
        &sys,
        &["-j", "gw.json", "-d", "v0", "--uplink-ip", "fd00::1", "--outer-ip-type", "ipv6"],
    );
    assert_eq!(e, "-d/--vf-name cannot be used with gw.json:5: \"decap-dmac\" (it detects the MAC and virtual IP itself)");
}

#[test]
fn json_errors_name_file_line_and_key() {
    let sys = Fake::default()
        .file("syntax.json", "{\n  \"p\": \"03:00.0\",\n  \"r\": \"vf0pf0\"\n  \"c\": true\n}")
        .file(
            "unknown.json",
            "{\n  \"p\": \"03:00.0\",\n  \"r\": \"vf0pf0\",\n  \"cookies\": true\n}",
        )
        .file(
            "range.json",
            "{\n  \"p\": \"03:00.0\",\n  \"r\": \"vf0pf0\",\n  \"sample-rate\": 17\n}",
        )
        .file("port.json", "{\n  \"p\": \"03:00\",\n  \"r\": \"vf0pf0\"\n}")
        .file("type.json", "{\"p\": \"03:00.0\", \"r\": \"vf0pf0\", \"t\": 5}")
        .file("missing.json", "{\"p\": \"03:00.0\"}")
        .file("tf.json", "{\"p\": \"03:00.0\", \"r\": \"vf0pf0\",\n\"f\": \"gone.txt\"}")
        .file("grpc.json", "{\"p\": \"03:00.0\", \"r\": \"vf0pf0\",\n\"grpc-key\": \"k\"}");
    for (file, want) in [
        ("syntax.json", "syntax.json:4:3: JSON syntax error: expected `,` or `}`"),
        ("unknown.json", "unknown.json:4: unknown key \"cookies\""),
        ("range.json", "range.json:4: \"sample-rate\" 17: must be 0..=16"),
        ("port.json", "port.json:2: -p/--pci-addr \"03:00\": "),
        ("type.json", "type.json:1: \"t\": expected a string or an array of strings, got 5"),
        ("missing.json", "missing required flag -r/--repr"),
        ("tf.json", "tf.json:2: \"f\" gone.txt: cannot read: No such file or directory"),
        ("grpc.json", "grpc.json:2: \"grpc-key\" given without --grpc-cert and --grpc-ca"),
        ("absent.json", "-j/--json absent.json: cannot read: No such file or directory"),
    ] {
        let e = err_with(&sys, &["-j", file]);
        assert!(e.starts_with(want), "{file}: {e}");
    }
    // Overriding the bad value on the command line repairs it.
    assert_eq!(cfg_with(&sys, &["-j", "range.json", "--sample-rate", "2"]).sample_rate, 2);
}

#[test]
fn grpc_all_three_or_none() {
    let e = err(&with_p(&["--grpc-cert", "c.pem", "--grpc-ca", "ca.pem"]));
    assert_eq!(
        e,
        "--grpc-cert and --grpc-ca given without --grpc-key (--grpc-cert, --grpc-key and --grpc-ca: all three or none)"
    );
}

#[test]
fn fleet_flags() {
    let c = cfg(&with_p(&[
        "--metrics-addr",
        "127.0.0.1:9105",
        "--directory",
        "etcd://127.0.0.1:2379,10.1.0.9/fleet",
        "--directory-ttl",
        "5",
    ]));
    assert_eq!(c.fleet.metrics_addr, Some("127.0.0.1:9105".parse().unwrap()));
    let d = c.fleet.directory.unwrap();
    assert_eq!(d.endpoints, ["127.0.0.1:2379", "10.1.0.9:2379"]);
    assert_eq!((d.prefix.as_str(), d.ttl), ("/fleet", std::time::Duration::from_secs(5)));
    assert_eq!(cfg(&with_p(&[])).fleet, super::fleet::FleetConfig::default());
    let e = err(&with_p(&["--directory-ttl", "5"]));
    assert!(e.contains("--directory-ttl") && e.contains("needs --directory"), "{e}");
    let e = err(&with_p(&[
        "--directory",
        "etcd://h/p",
        "--directory-cert",
        "c.pem",
        "--directory-key",
        "k.pem",
    ]));
    assert!(e.contains("--directory-ca"), "{e}");
    let e = err(&with_p(&["--directory", "etcd://h:1/p", "--directory-ttl", "1"]));
    assert!(e.contains("--directory-ttl 1") && e.contains("2..=3600"), "{e}");
    let e = err(&with_p(&["--directory", "http://h/p"]));
    assert!(e.contains("--directory http://h/p") && e.contains("etcd://"), "{e}");
    // --metrics-sessions: 1000 by default, 0 allowed, bounded by 2^20.
    assert_eq!(cfg(&with_p(&[])).fleet.metrics_sessions, 1000);
    assert_eq!(cfg(&with_p(&["--metrics-sessions", "0"])).fleet.metrics_sessions, 0);
    let e = err(&with_p(&["--metrics-sessions", "2000000"]));
    assert!(e.contains("--metrics-sessions 2000000") && e.contains("0..=1048576"), "{e}");
}
