//! The flags, one table for the command line, the JSON keys and the help.

use clap::{Arg, ArgAction, Command};

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A switch: present means true (JSON: true/false).
    Switch,
    /// One value.
    Value,
    /// A repeatable value (JSON: a string or an array of strings).
    List,
}

/// One flag of the gateway.
#[derive(Debug)]
pub struct Opt {
    /// Long name, which is also the JSON key.
    pub long: &'static str,
    /// Short letter, also accepted as a JSON key.
    pub short: Option<char>,
    pub kind: Kind,
    pub value_name: &'static str,
    pub help: &'static str,
    pub heading: &'static str,
}

impl Opt {
    /// `-p/--pci-addr` or `--sample-rate`, as errors name it.
    pub fn label(&self) -> String {
        // DOCA 3.x's -c takes a path; a bare -c stays 2.8's --cookie
        // (see [`rewrite_short_c`]).
        if self.long == "config" {
            return "-c/--config".into();
        }
        match self.short {
            Some(c) => format!("-{c}/--{}", self.long),
            None => format!("--{}", self.long),
        }
    }
}

const DOCA: &str = "DOCA Flags";
const PROGRAM: &str = "Program Flags";
const OURS: &str = "Beyond DOCA";
const DOCA3: &str = "DOCA 3.x Flags";

use Kind::{List, Switch, Value};

const fn opt(
    long: &'static str,
    short: Option<char>,
    kind: Kind,
    value_name: &'static str,
    help: &'static str,
    heading: &'static str,
) -> Opt {
    Opt { long, short, kind, value_name, help, heading }
}

/// Every settable flag (not -h, -v, -j), in the DOCA application's order.
pub const OPTS: &[Opt] = &[
    opt("log-level", Some('l'), Value, "N", "Log level: 10=DISABLE, 20=CRITICAL, 30=ERROR, 40=WARNING, 50=INFO, 60=DEBUG, 70=TRACE [default: 50]", DOCA),
    opt("sdk-log-level", None, Value, "N", "SDK (DPDK) log level, same scale [default: 40]", DOCA),
    opt("pci-addr", Some('p'), Value, "BDF", "PCI BDF of the device in BB:DD.F format, or a DPDK device (net_...) (required)", PROGRAM),
    opt("repr", Some('r'), List, "REPR", "Device representor list in vf[x-y]pf[x-y] format, or a DPDK device (net_...) (required); repeatable: each -r one unsecured port (DOCA 3.x device reps, at most 8)", PROGRAM),
    opt("core-mask", Some('m'), Value, "MASK", "EAL core mask [default: 0x1]", PROGRAM),
    opt("decap-dmac", None, List, "MAC", "mac_dst addr of the decapped packets (cannot use w/ vf-name); with several -r, once for all or once per -r in order", PROGRAM),
    opt("local-virt-ip", None, List, "IP[,IP...]", "Local IP addr of VF (cannot use w/ vf-name); IPv6 with --inner-ip-type ipv6; a comma list for several VMs; with several -r, once per -r in order", PROGRAM),
    opt("vf-name", Some('d'), List, "NAME", "Name of the virtual function device / unsecured port (Host only. Automatically detects MAC/VIP. Requires IPv4 addr bound to VF.)", PROGRAM),
    opt("nexthop-dmac", Some('n'), Value, "MAC", "next-hop mac_dst addr of the encapped packets", PROGRAM),
    opt("svc-addr", Some('s'), Value, "IP[:PORT]", "Service address of locally running gRPC server; port number optional [default: 0.0.0.0:3000]", PROGRAM),
    opt("tunnel", Some('t'), List, "SVC-IP[:PORT]:VIRT-IP", "Remote host tunnel(s), formatted 'svc-ip:virt-ip' (repeatable; IPv6 in brackets)", PROGRAM),
    opt("tunnels-file", Some('f'), Value, "PATH", "Specifies the location of the tunnels-file. Format: rpc-addr:virt-addr,virt-addr,...", PROGRAM),
    opt("cookie", Some('c'), Switch, "", "Enable use of PSP virtualization cookies", PROGRAM),
    opt("disable-ingress-acl", Some('a'), Switch, "", "Allows any ingress packet that successfully decrypts", PROGRAM),
    opt("sample-rate", None, Value, "N", "Sets the log2 sample rate: 0: disabled, 1: 50%, ... 16: 1.5e-3%", PROGRAM),
    opt("maintain-order", None, Switch, "", "Keep sampled and unsampled packets in order", PROGRAM),
    opt("max-tunnels", Some('x'), Value, "N", "Specify the max number of PSP tunnels [default: 4096]", PROGRAM),
    opt("crypt-offset", Some('o'), Value, "N", "Specify the PSP crypt offset, in 4-byte words, 0..=63 [default: inner IPv4 5, 7 with -c; IPv6 10, 12 with -c]", PROGRAM),
    opt("psp-version", None, Value, "N", "Specify the PSP version for outgoing connections (0 or 1; 2 and 3 are GMAC) [default: 1]", PROGRAM),
    opt("static-tunnels", Some('z'), Switch, "", "Create tunnels at startup", PROGRAM),
    opt("debug-keys", Some('k'), Switch, "", "Enable debug keys", PROGRAM),
    opt("stat-print", None, Switch, "", "Enable printing statistics", PROGRAM),
    opt("perf-print", None, Value, "WHAT", "Enable printing performance metrics (key-gen, insertion, all)", PROGRAM),
    opt("show-rss-rx-packets", None, Switch, "", "Show RSS rx packets", PROGRAM),
    opt("outer-ip-type", None, Value, "ipv4|ipv6", "outer IP type [default: ipv6]", PROGRAM),
    opt("config", None, Value, "PATH", "JSON file of peers and sessions (DOCA 2.9+, replaces -t/-f): {\"config\": {\"local-grpc-address\": ...}, \"peers\": [{\"remote-grpc-address\": ..., \"sessions\": [{\"local-vip\": ..., \"remote-vips\": [...]}]}]}; -c PATH is this, a bare -c is DOCA 2.8's --cookie", DOCA3),
    opt("device", None, Value, "DEVICE", "DOCA 3.x's device identifier (-s DEVICE in 3.1+): the same as -p/--pci-addr; -s takes it when its value is a PCI address or a DPDK device, not an IP", DOCA3),
    opt("mode", None, Value, "tunnel|transport", "PSP mode: tunnel (outer IP of the gateways) or transport (the VM's IP header, then UDP 1000 and PSP); both peers must use the same [default: tunnel]", DOCA3),
    opt("inner-ip-type", None, Value, "ipv4|ipv6", "inner IP type: of the VMs' traffic, --local-virt-ip and the tunnels' virtual IPs (IPv6 in brackets: svc-ip:[fd00::2]) [default: ipv4]", DOCA3),
    opt("uplink-ip", None, Value, "IP", "Outer source address of our tunnels (family of --outer-ip-type)", OURS),
    opt("grpc-cert", None, Value, "PATH", "gRPC server certificate, PEM (with --grpc-key and --grpc-ca: mutual TLS)", OURS),
    opt("grpc-key", None, Value, "PATH", "gRPC server private key, PEM", OURS),
    opt("grpc-ca", None, Value, "PATH", "CA certificate that peers' certificates must chain to, PEM", OURS),
    opt("stats-json", None, Value, "PATH", "Write every statistics report (each --stat-print interval, and at exit) as one JSON object per line to PATH ('-': stdout); schema in the README", OURS),
    opt("idle-backoff", None, Switch, "", "Let idle packet cores back off instead of busy polling", OURS),
    opt("backend", None, Value, "auto|software|doca", "Flow backend: DOCA Flow offload when the SDK and a PSP-capable device are present (auto), or the software pipeline [default: auto]", OURS),
    opt("key-rotation-interval", None, Value, "SECONDS", "Rotate the master key every SECONDS (0: never; at least 2); peers re-key their tunnels before the old key is invalidated [default: 0]", OURS),
    opt("peer-rate-limit", None, Value, "N", "Most tunnels issued per second to one peer (and requests, each counting at least one); 0: unlimited [default: 20000]", OURS),
    opt("metrics-addr", None, Value, "IP:PORT", "Serve Prometheus metrics over HTTP at IP:PORT (GET /metrics)", OURS),
    opt("metrics-sessions", None, Value, "N", "Most per-session series the metrics endpoint exports each way (egress, ingress), the busiest by packets; 0: none, 0..=1048576 [default: 1000]", OURS),
    opt("directory", None, Value, "URL", "Peer directory in etcd: etcd://HOST:PORT[,HOST:PORT...]/PREFIX; this gateway registers under a lease and learns its peers from the prefix", OURS),
    opt("directory-ttl", None, Value, "SECONDS", "Lease of this gateway's directory entry: peers withdraw its tunnels this long after it is gone, 2..=3600 [default: 10]", OURS),
    opt("directory-ca", None, Value, "PATH", "TLS to etcd: the CA its certificate must chain to, PEM", OURS),
    opt("directory-cert", None, Value, "PATH", "TLS to etcd: our client certificate, PEM (with --directory-key)", OURS),
    opt("directory-key", None, Value, "PATH", "TLS to etcd: our client key, PEM", OURS),
];

/// The flag with this long name.
pub fn by_long(long: &str) -> &'static Opt {
    OPTS.iter().find(|o| o.long == long).expect("known flag")
}

/// The flag a JSON key names: its long name or its short letter.
pub fn by_json_key(key: &str) -> Option<&'static Opt> {
    // The DOCA guide's own example spells "decap-dmac" as "dcap-dmac".
    let key = if key == "dcap-dmac" { "decap-dmac" } else { key };
    OPTS.iter()
        .find(|o| o.long == key || o.short.is_some_and(|c| key.len() == 1 && key.starts_with(c)))
}

/// DOCA 2.8's `-c` is `--cookie` (a switch), DOCA 3.x's `-c PATH` is
/// `--config PATH`: `-c` followed by a value that is not a flag becomes
/// `--config`, as does `-c=PATH`. DOCA 2.8's `-s` is `--svc-addr`, 3.1's
/// `-s` is `--device`: `-s` with a PCI address or DPDK device becomes
/// `--device`. A value of another flag (`-d -c`) and anything after `--`
/// are left alone.
pub fn rewrite_short_c(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let takes_value = |a: &str| {
        if let Some(long) = a.strip_prefix("--") {
            return !long.contains('=')
                && (long == "json"
                    || OPTS.iter().any(|o| o.long == long && o.kind != Kind::Switch));
        }
        let mut c = a.chars();
        match (c.next(), c.next(), c.next()) {
            (Some('-'), Some(s), None) => {
                s == 'j' || OPTS.iter().any(|o| o.short == Some(s) && o.kind != Kind::Switch)
            }
            _ => false,
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter().enumerate().peekable();
    while let Some((i, a)) = it.next() {
        let s = a.to_str().unwrap_or("");
        if i == 0 {
            out.push(a);
        } else if s == "--" {
            out.push(a);
            out.extend(it.map(|(_, a)| a));
            break;
        } else if s == "-s" && it.peek().is_some_and(|(_, n)| n.to_str().is_some_and(is_device)) {
            out.push("--device".into());
        } else if let Some(dev) = s.strip_prefix("-s=").filter(|d| is_device(d)) {
            out.push("--device".into());
            out.push(dev.into());
        } else if let Some(path) = s.strip_prefix("-c=") {
            out.push("--config".into());
            out.push(path.into());
        } else if s == "-c" {
            let next_is_value = it
                .peek()
                .is_some_and(|(_, n)| n.to_str().is_none_or(|n| !n.starts_with('-') || n == "-"));
            out.push(if next_is_value { "--config" } else { "--cookie" }.into());
        } else if takes_value(s) {
            out.push(a);
            if let Some((_, v)) = it.next() {
                out.push(v);
            }
        } else {
            out.push(a);
        }
    }
    out
}

/// Whether `-s`'s value names a device (DOCA 3.1+'s `-s/--device`: a PCI
/// address or a DPDK device) rather than 2.8's `-s/--svc-addr` (an IP,
/// which never parses as either).
fn is_device(v: &str) -> bool {
    matches!(
        engine::config::PortSpec::parse("-s", v),
        Ok(engine::config::PortSpec::Pci(_) | engine::config::PortSpec::Vdev { .. })
    )
}

/// The clap command; `-h/--help`, `-v/--version` and `-j/--json` first.
pub fn command() -> Command {
    let mut cmd = Command::new("psp-gateway")
        .about("PSP security gateway, DOCA PSP Gateway compatible")
        .override_usage("psp-gateway [DOCA Flags] [Program Flags]")
        .version(super::VERSION)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Print a help synopsis")
                .help_heading(DOCA),
        )
        .arg(
            Arg::new("version")
                .short('v')
                .long("version")
                .action(ArgAction::Version)
                .help("Print program version information")
                .help_heading(DOCA),
        )
        .arg(
            Arg::new("json")
                .short('j')
                .long("json")
                .value_name("PATH")
                .action(ArgAction::Set)
                .help("Parse all command flags from an input json file")
                .help_heading(DOCA),
        );
    for o in OPTS {
        let mut a = Arg::new(o.long).long(o.long).help(o.help).help_heading(o.heading);
        if let Some(c) = o.short {
            a = a.short(c);
        }
        a = match o.kind {
            Kind::Switch => a.action(ArgAction::SetTrue),
            // Negative numbers reach the value checks, which name them.
            Kind::Value => {
                a.action(ArgAction::Set).value_name(o.value_name).allow_negative_numbers(true)
            }
            Kind::List => a.action(ArgAction::Append).value_name(o.value_name),
        };
        cmd = cmd.arg(a);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        command().debug_assert();
        for (i, o) in OPTS.iter().enumerate() {
            assert!(OPTS[i + 1..]
                .iter()
                .all(|p| p.long != o.long && (o.short.is_none() || p.short != o.short)));
        }
        for k in ["p", "r", "m", "n", "s", "t", "f", "c", "a", "x", "o", "z", "k"] {
            assert!(by_json_key(k).is_some(), "{k}");
        }
        assert_eq!(by_json_key("dcap-dmac").unwrap().long, "decap-dmac");
        assert!(by_json_key("json").is_none() && by_json_key("j").is_none());
        assert!(by_json_key("help").is_none() && by_json_key("pci").is_none());
        assert_eq!(by_long("sample-rate").label(), "--sample-rate");
        assert_eq!(by_long("max-tunnels").label(), "-x/--max-tunnels");
        assert_eq!(by_long("config").label(), "-c/--config");
    }

    #[test]
    fn short_c_is_cookie_bare_and_config_with_a_path() {
        let run = |a: &[&str]| -> Vec<String> {
            let args = std::iter::once("gw").chain(a.iter().copied()).map(Into::into).collect();
            rewrite_short_c(args).into_iter().map(|s| s.into_string().unwrap()).collect()
        };
        assert_eq!(run(&["-c", "-p", "x"]), ["gw", "--cookie", "-p", "x"]);
        assert_eq!(run(&["-p", "x", "-c"]), ["gw", "-p", "x", "--cookie"]);
        assert_eq!(run(&["-c", "peers.json"]), ["gw", "--config", "peers.json"]);
        assert_eq!(run(&["-c=peers.json", "-a"]), ["gw", "--config", "peers.json", "-a"]);
        // A value of another flag is not a -c.
        assert_eq!(run(&["-d", "-c", "-c"]), ["gw", "-d", "-c", "--cookie"]);
        assert_eq!(run(&["--vf-name", "-c"]), ["gw", "--vf-name", "-c"]);
        assert_eq!(run(&["--vf-name=v", "-c", "f"]), ["gw", "--vf-name=v", "--config", "f"]);
        assert_eq!(run(&["--", "-c", "f"]), ["gw", "--", "-c", "f"]);
    }

    #[test]
    fn short_s_is_the_device_when_it_names_one() {
        let run = |a: &[&str]| -> Vec<String> {
            let args = std::iter::once("gw").chain(a.iter().copied()).map(Into::into).collect();
            rewrite_short_c(args).into_iter().map(|s| s.into_string().unwrap()).collect()
        };
        assert_eq!(run(&["-s", "03:00.0"]), ["gw", "--device", "03:00.0"]);
        assert_eq!(run(&["-s=0000:af:00.1"]), ["gw", "--device", "0000:af:00.1"]);
        assert_eq!(run(&["-s", "net_tap0,iface=t0"]), ["gw", "--device", "net_tap0,iface=t0"]);
        for svc in ["127.0.0.1:3000", "10.1.1.1", "[fd00::1]:3000", "0.0.0.0"] {
            assert_eq!(run(&["-s", svc]), ["gw", "-s", svc], "{svc}");
        }
        // A value of another flag is not a -s.
        assert_eq!(run(&["-d", "-s", "-s", "1.2.3.4"]), ["gw", "-d", "-s", "-s", "1.2.3.4"]);
    }
}
