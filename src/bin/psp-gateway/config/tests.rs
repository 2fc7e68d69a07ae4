//! Whole-configuration tests on a fake machine.

use super::*;
use std::collections::HashMap;
use std::io;

#[derive(Default)]
struct Fake {
    files: HashMap<PathBuf, String>,
    ip: HashMap<String, String>,
    /// `ip -4|-6 -o addr show [dev IFACE]` output by "-6 IFACE" or "-6".
    addrs: HashMap<String, String>,
    dirs: HashMap<PathBuf, Vec<String>>,
}

impl Fake {
    fn file(mut self, path: &str, text: &str) -> Fake {
        self.files.insert(PathBuf::from(path), text.to_string());
        self
    }

    fn iface(mut self, name: &str, mac: &str, ip_out: &str) -> Fake {
        self.files
            .insert(PathBuf::from(format!("/sys/class/net/{name}/address")), format!("{mac}\n"));
        self.ip.insert(name.to_string(), ip_out.to_string());
        self
    }

    /// `ip -4|-6 -o addr show [dev IFACE]` gives `out`.
    fn addrs(mut self, v6: bool, iface: Option<&str>, out: &str) -> Fake {
        let key = format!(
            "-{}{}",
            if v6 { 6 } else { 4 },
            iface.map(|i| format!(" {i}")).unwrap_or_default()
        );
        self.addrs.insert(key, out.to_string());
        self
    }

    fn dir(mut self, path: &str, names: &[&str]) -> Fake {
        self.dirs.insert(PathBuf::from(path), names.iter().map(|n| n.to_string()).collect());
        self
    }
}

impl System for Fake {
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn ip_addr_show(&self, iface: &str) -> Result<String, String> {
        self.ip.get(iface).cloned().ok_or_else(|| format!("Device \"{iface}\" does not exist."))
    }

    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String> {
        let key = format!(
            "-{}{}",
            if v6 { 6 } else { 4 },
            iface.map(|i| format!(" {i}")).unwrap_or_default()
        );
        match (self.addrs.get(&key), iface) {
            (Some(out), _) => Ok(out.clone()),
            (None, Some(i)) => Err(format!("Device \"{i}\" does not exist.")),
            (None, None) => Ok(String::new()),
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.dirs
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }
}

fn run_with(sys: &Fake, args: &[&str]) -> Result<Parsed, ConfigError> {
    let argv = std::iter::once("psp-gateway").chain(args.iter().copied()).map(OsString::from);
    Config::from_args_with(argv, sys)
}

fn cfg_with(sys: &Fake, args: &[&str]) -> Config {
    match run_with(sys, args) {
        Ok(Parsed::Run(c)) => c,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn cfg(args: &[&str]) -> Config {
    cfg_with(&Fake::default(), args)
}

/// The error text, checked to be one line.
fn err_with(sys: &Fake, args: &[&str]) -> String {
    match run_with(sys, args) {
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n') && !s.is_empty(), "not one line: {s:?}");
            s
        }
        Ok(other) => panic!("{args:?}: expected an error, got {other:?}"),
    }
}

fn err(args: &[&str]) -> String {
    err_with(&Fake::default(), args)
}

const P: [&str; 4] = ["-p", "03:00.0", "-r", "vf0pf0"];

fn with_p(extra: &[&'static str]) -> Vec<&'static str> {
    P.iter().chain(extra).copied().collect()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

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
    assert_eq!(c.backend, BackendChoice::Auto);
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
    assert_eq!(c.backend, BackendChoice::Software);
    assert_eq!(c.key_rotation_interval, Some(std::time::Duration::from_secs(30)));
    assert_eq!(c.peer_rate_limit, None);
    let c = cfg(&with_p(&["--backend", "doca", "--key-rotation-interval", "0"]));
    assert_eq!((c.backend, c.key_rotation_interval), (BackendChoice::Doca, None));
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
    ];
    for o in args::OPTS.iter().filter(|o| o.kind != args::Kind::Switch) {
        let value = if free_form.contains(&o.long) { "" } else { GARBAGE };
        let flag = format!("--{}", o.long);
        let mut argv: Vec<&str> = Vec::new();
        if o.long != "pci-addr" {
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
}

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
