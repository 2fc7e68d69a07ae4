//! Every flag on the command line: defaults, values, errors, help.

use super::*;

#[test]
fn defaults() {
    let c = cfg(&P);
    assert_eq!(c.pci_addr, "03:00.0");
    assert_eq!(c.repr, "vf0pf0");
    assert_eq!(c.secure_port, PortSpec::Pci("0000:03:00.0".into()));
    assert_eq!(c.unsecured_port, PortSpec::Representor("pf0vf0".into()));
    assert_eq!(c.core_mask.cores(), &[0]);
    assert_eq!(
        (c.decap_dmac, c.local_virt_ip, c.vf_name.as_deref(), c.nexthop_dmac),
        (None, None, None, None)
    );
    assert_eq!(c.svc_addr, sa("0.0.0.0:3000"));
    assert!(c.peers.is_empty());
    assert!(!c.cookie && !c.disable_ingress_acl && !c.maintain_order && !c.static_tunnels);
    assert!(!c.debug_keys && !c.stat_print && !c.show_rss_rx_packets && !c.idle_backoff);
    assert_eq!((c.sample_rate, c.max_tunnels, c.crypt_offset), (0, 4096, 5));
    assert_eq!(c.psp_version, Version::AesGcm256);
    assert_eq!(c.perf_print, None);
    assert_eq!(c.outer_ip_type, OuterVersion::Ipv6);
    assert_eq!((c.log_level, c.sdk_log_level, c.tracing_filter()), (50, 40, "info"));
    assert_eq!((c.uplink_ip, &c.grpc_cert, &c.grpc_key, &c.grpc_ca), (None, &None, &None, &None));
    assert_eq!(
        c.uplink_ip_note,
        "-p/--pci-addr 0000:03:00.0 has no network interface (/sys/bus/pci/devices/0000:03:00.0/net: \
         No such file or directory); -s/--svc-addr 0.0.0.0 names no interface"
    );
    let pc = c.pipeline_config();
    assert_eq!((pc.max_tunnels, pc.outer, pc.log2_sample_rate), (4096, OuterVersion::Ipv6, 0));
    assert_eq!((c.virt_cookie(), pc.expected_vc), (None, None));
    assert_eq!(c.backend, BackendFlag::Auto);
    assert_eq!(c.key_rotation_interval, None);
    assert_eq!(c.peer_rate_limit, Some(DEFAULT_PEER_RATE_LIMIT));
}

#[test]
fn rotation_backend_and_rate_limit() {
    let c = cfg(&with_p(&[
        "--backend",
        "software",
        "--key-rotation-interval",
        "30",
        "--peer-rate-limit",
        "0",
    ]));
    assert_eq!(c.backend, BackendFlag::Software);
    assert_eq!(c.key_rotation_interval, Some(std::time::Duration::from_secs(30)));
    assert_eq!(c.peer_rate_limit, None);
    let c = cfg(&with_p(&["--backend", "doca", "--key-rotation-interval", "0"]));
    assert_eq!((c.backend, c.key_rotation_interval), (BackendFlag::Doca, None));
    assert_eq!(cfg(&with_p(&["--peer-rate-limit", "5"])).peer_rate_limit, Some(5));
}

/// A value no flag taking one accepts.
const GARBAGE: &str = "\u{1}garbage\u{7f}";

#[test]
fn every_value_flag_refuses_garbage_naming_itself() {
    // Flags whose value is a free-form name or path: garbage is a valid
    // string there, so the check is an empty value instead.
    let free_form = [
        "vf-name",
        "tunnels-file",
        "grpc-cert",
        "grpc-key",
        "grpc-ca",
        "pci-addr",
        "repr",
        "directory-ca",
        "directory-cert",
        "directory-key",
        "stats-json",
    ];
    for o in args::OPTS.iter().filter(|o| o.kind != args::Kind::Switch) {
        let value = if free_form.contains(&o.long) { "" } else { GARBAGE };
        let flag = format!("--{}", o.long);
        let mut argv: Vec<&str> = Vec::new();
        if o.long != "pci-addr" && o.long != "device" {
            argv.extend(["-p", "03:00.0"]);
        }
        if o.long != "repr" {
            argv.extend(["-r", "vf0pf0"]);
        }
        argv.extend([flag.as_str(), value]);
        let e = err(&argv);
        assert!(e.contains(&o.label()) || e.contains(&flag), "{flag}: {e}");
        if !value.is_empty() {
            assert!(e.contains("garbage"), "{flag}: value not named: {e}");
        }
        // The same from a JSON file names the file, the line and the key.
        let json = format!(
            "{{\n  \"p\": \"03:00.0\",\n  \"r\": \"vf0pf0\",\n  \"{}\": {}\n}}",
            o.long,
            serde_json::to_string(value).unwrap()
        );
        let sys = Fake::default().file("bad.json", &json);
        let e = err_with(&sys, &["-j", "bad.json"]);
        assert!(e.starts_with("bad.json:4: "), "{flag} in JSON: {e}");
        assert!(e.contains(o.long), "{flag} in JSON: {e}");
    }
}

#[test]
fn every_flag_short_and_long() {
    let c = cfg(&with_p(&[
        "-m",
        "0x6",
        "--decap-dmac",
        "02:00:00:00:00:01",
        "--local-virt-ip",
        "192.168.1.1",
        "-n",
        "02:00:00:00:00:02",
        "-s",
        "10.1.1.50:4000",
        "-t",
        "10.1.1.55:192.168.1.55",
        "-c",
        "-a",
        "--sample-rate",
        "16",
        "--maintain-order",
        "-x",
        "16",
        "-o",
        "7",
        "--psp-version",
        "0",
        "-z",
        "-k",
        "--stat-print",
        "--perf-print",
        "all",
        "--show-rss-rx-packets",
        "--outer-ip-type",
        "ipv4",
        "-l",
        "60",
        "--sdk-log-level",
        "70",
        "--uplink-ip",
        "10.1.1.50",
        "--grpc-cert",
        "c.pem",
        "--grpc-key",
        "k.pem",
        "--grpc-ca",
        "ca.pem",
        "--idle-backoff",
    ]));
    assert_eq!(c.core_mask.cores(), &[1, 2]);
    assert_eq!(c.decap_dmac, Some(MacAddr([2, 0, 0, 0, 0, 1])));
    assert_eq!(c.local_virt_ip, Some(ip4("192.168.1.1")));
    assert_eq!(c.nexthop_dmac, Some(MacAddr([2, 0, 0, 0, 0, 2])));
    assert_eq!(c.svc_addr, sa("10.1.1.50:4000"));
    assert_eq!(
        c.peers,
        vec![Peer { svc_addr: sa("10.1.1.55:3000"), virt_ips: vec![ip4("192.168.1.55")] }]
    );
    assert!(c.cookie && c.disable_ingress_acl && c.maintain_order && c.static_tunnels);
    let cookie = c.virt_cookie().expect("--cookie gives a cookie");
    assert_eq!((cookie >> 32, cookie as u32), (u64::from(std::process::id()), 0x5053_5047));
    assert_eq!(c.pipeline_config().expected_vc, Some(cookie));
    assert!(c.debug_keys && c.stat_print && c.show_rss_rx_packets && c.idle_backoff);
    assert_eq!((c.sample_rate, c.max_tunnels, c.crypt_offset), (16, 16, 7));
    assert_eq!(c.psp_version, Version::AesGcm128);
    assert_eq!(c.perf_print, Some(PerfPrint::All));
    assert_eq!(c.outer_ip_type, OuterVersion::Ipv4);
    assert_eq!((c.log_level, c.sdk_log_level, c.tracing_filter()), (60, 70, "debug"));
    assert_eq!(c.uplink_ip, Some("10.1.1.50".parse().unwrap()));
    assert_eq!(c.grpc_cert.as_deref(), Some(Path::new("c.pem")));
    assert_eq!(c.grpc_key.as_deref(), Some(Path::new("k.pem")));
    assert_eq!(c.grpc_ca.as_deref(), Some(Path::new("ca.pem")));

    let c = cfg(&[
        "--pci-addr",
        "net_null0",
        "--repr",
        "net_ring0",
        "--core-mask",
        "3",
        "--nexthop-dmac",
        "02:00:00:00:00:02",
        "--svc-addr",
        "[fd00::1]",
        "--tunnel",
        "[fd00::2]:192.168.1.2",
        "--cookie",
        "--disable-ingress-acl",
        "--max-tunnels",
        "1",
        "--crypt-offset",
        "63",
        "--static-tunnels",
        "--debug-keys",
        "--perf-print",
        "key-gen",
        "--log-level",
        "10",
        "--psp-version",
        "3",
    ]);
    assert_eq!(c.secure_port, PortSpec::Vdev { name: "net_null0".into(), args: String::new() });
    assert_eq!(c.core_mask.cores(), &[0, 1]);
    assert_eq!(c.svc_addr, sa("[fd00::1]:3000"));
    assert_eq!(c.peers[0].svc_addr, sa("[fd00::2]:3000"));
    assert!(c.cookie && c.disable_ingress_acl && c.static_tunnels && c.debug_keys);
    assert_eq!((c.max_tunnels, c.crypt_offset, c.psp_version), (1, 63, Version::AesGmac256));
    assert_eq!((c.perf_print, c.tracing_filter()), (Some(PerfPrint::KeyGen), "off"));
    assert_eq!(cfg(&with_p(&["--perf-print", "insertion"])).perf_print, Some(PerfPrint::Insertion));
}

#[test]
fn log_levels_and_filters() {
    for (lvl, filter) in [
        ("10", "off"),
        ("20", "error"),
        ("30", "error"),
        ("40", "warn"),
        ("50", "info"),
        ("60", "debug"),
        ("70", "trace"),
        ("WARNING", "warn"),
        ("trace", "trace"),
    ] {
        assert_eq!(cfg(&with_p(&["-l", lvl])).tracing_filter(), filter, "{lvl}");
    }
    for bad in ["0", "55", "80", "x", ""] {
        let e = err(&with_p(&["-l", bad]));
        assert!(e.starts_with("-l/--log-level "), "{e}");
        assert!(e.contains("must be 10 (DISABLE)"), "{e}");
    }
    assert!(err(&with_p(&["--sdk-log-level", "71"])).starts_with("--sdk-log-level 71: must be 10"));
}

#[test]
fn bad_values_name_flag_and_value() {
    for (args, want) in [
        (&["--sample-rate", "17"][..], "--sample-rate 17: must be 0..=16"),
        (&["--sample-rate", "-1"], "--sample-rate -1: not a whole number (must be 0..=16)"),
        (&["-x", "0"], "-x/--max-tunnels 0: must be at least 1"),
        (&["-x", "lots"], "-x/--max-tunnels lots: not a whole number (must be at least 1)"),
        (&["-o", "64"], "-o/--crypt-offset 64: must be 0..=63"),
        (&["--psp-version", "4"], "--psp-version 4: must be 0 or 1 (or 2, 3: AES-GMAC)"),
        (&["--perf-print", "some"], "--perf-print some: must be key-gen, insertion or all"),
        (&["--outer-ip-type", "ipv5"], "--outer-ip-type ipv5: must be ipv4 or ipv6"),
        (&["--decap-dmac", "11:22:33:44:55::66"], "--decap-dmac 11:22:33:44:55::66: not a MAC"),
        (&["-n", "zz"], "-n/--nexthop-dmac zz: not a MAC"),
        (&["--local-virt-ip", "192,168.1.100"], "--local-virt-ip 192,168.1.100: not an IPv4"),
        (&["-s", "10.1.1.50:99999"], "-s/--svc-addr 10.1.1.50:99999: port must be 1..=65535"),
        (&["-s", "gw.example"], "-s/--svc-addr gw.example: not an IP address"),
        (&["-t", "10.1.1.55"], "-t/--tunnel 10.1.1.55: expected svc-addr[:port]:virt-ip"),
        (&["-t", "fd00::1:192.168.1.2"], "-t/--tunnel fd00::1:192.168.1.2: IPv6 service"),
        (&["-m", "0x0"], "-m/--core-mask \"0x0\": selects no core"),
        (&["--uplink-ip", "x"], "--uplink-ip x: not an IP address"),
        (
            &["--uplink-ip", "10.0.0.1"],
            "--uplink-ip 10.0.0.1: must be IPv6 to match --outer-ip-type (default ipv6)",
        ),
        (
            &["--outer-ip-type", "ipv4", "--uplink-ip", "fd00::1"],
            "--uplink-ip fd00::1: must be IPv4 to match --outer-ip-type ipv4",
        ),
        (&["--grpc-cert", ""], "--grpc-cert \"\": empty path"),
        (&["-d", "a/b"], "-d/--vf-name a/b: not an interface name"),
        (&["--backend", "hw"], "--backend hw: must be auto, software or doca"),
        (&["--key-rotation-interval", "1"], "--key-rotation-interval 1: must be 0 (never)"),
        (&["--key-rotation-interval", "-5"], "--key-rotation-interval -5: not a whole number"),
        (&["--peer-rate-limit", "1e9"], "--peer-rate-limit 1e9: not a whole number"),
        (&["--peer-rate-limit", "4294967296"], "--peer-rate-limit 4294967296: must be 0..="),
    ] {
        let e = err(&with_p(args));
        assert!(e.starts_with(want), "{args:?}: {e}");
    }
    let e = err(&["-p", "03:00", "-r", "vf0pf0"]);
    assert!(e.starts_with("-p/--pci-addr \"03:00\": "), "{e}");
    let e = err(&["-p", "03:00.0", "-r", "vfxpf0"]);
    assert!(e.starts_with("-r/--repr \"vfxpf0\": "), "{e}");
    assert_eq!(
        cfg(&with_p(&["--uplink-ip", "fd00::1"])).uplink_ip,
        Some("fd00::1".parse().unwrap())
    );
}

#[test]
fn missing_required_and_usage_errors() {
    assert_eq!(err(&[]), "missing required flags -p/--pci-addr and -r/--repr");
    assert_eq!(err(&["-p", "03:00.0"]), "missing required flag -r/--repr");
    assert_eq!(err(&["-r", "vf0pf0"]), "missing required flag -p/--pci-addr");
    let e = err(&with_p(&["--bogus"]));
    assert!(e.contains("--bogus"), "{e}");
    let e = err(&with_p(&["--sample-rate"]));
    assert!(e.contains("--sample-rate"), "{e}");
    let e = err(&with_p(&["-p", "04:00.0"]));
    assert!(e.contains("--pci-addr"), "{e}");
    let e = err(&with_p(&["-c", "-c"]));
    assert!(e.contains("--cookie"), "{e}");
}

#[test]
fn help_and_version() {
    let Ok(Parsed::Help(h)) = run_with(&Fake::default(), &["-h"]) else { panic!() };
    for flag in [
        "--help",
        "--version",
        "--log-level",
        "--sdk-log-level",
        "--json",
        "--pci-addr",
        "--repr",
        "--core-mask",
        "--decap-dmac",
        "--local-virt-ip",
        "--vf-name",
        "--nexthop-dmac",
        "--svc-addr",
        "--tunnel",
        "--tunnels-file",
        "--cookie",
        "--disable-ingress-acl",
        "--sample-rate",
        "--max-tunnels",
        "--crypt-offset",
        "--psp-version",
        "--static-tunnels",
        "--debug-keys",
        "--stat-print",
        "--perf-print",
        "--show-rss-rx-packets",
        "--outer-ip-type",
        "--uplink-ip",
        "--grpc-cert",
        "--idle-backoff",
        "DOCA Flags",
        "Program Flags",
    ] {
        assert!(h.contains(flag), "{flag} not in help:\n{h}");
    }
    assert!(matches!(
        run_with(&Fake::default(), &["--help", "--bogus-later"]),
        Ok(Parsed::Help(_)) | Err(_)
    ));
    let Ok(Parsed::Version(v)) = run_with(&Fake::default(), &["-v"]) else { panic!() };
    assert!(v.starts_with("psp-gateway 0.1.0 ("), "{v}");
    assert!(matches!(run_with(&Fake::default(), &["--version"]), Ok(Parsed::Version(_))));
}
