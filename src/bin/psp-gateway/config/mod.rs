//! The configuration of `psp-gateway`: every flag of the DOCA PSP Gateway
//! application, one for one, from the command line and from a JSON file
//! (`-j`), plus a few of our own. Command-line flags override the JSON
//! file's values. Every error is one line naming the flag (and the file and
//! line when it came from a file).
//!
//! Reading files and asking the host about `-d/--vf-name` go through
//! [`System`], so everything else is tested without touching the machine.

mod args;
pub mod fleet;
mod json;
mod tunnels;
mod uplink;
mod vf;

use engine::config::{CoreMask, PortSpec};
use engine::pipeline::{InnerVersion, OuterVersion, PipelineConfig};
use engine::psp::{Mode, Version};
use engine::wire::MacAddr;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use tunnels::{parse_svc_addr, parse_tunnel, parse_tunnels_file};

/// The gRPC port when an address gives none; the same as
/// `rpc::DEFAULT_PORT` (kept here so the configuration needs no `rpc`).
pub const DEFAULT_PORT: u16 = 3000;

/// `-v/--version` text.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PSPGW_BUILD_INFO"), ")");

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `-p/--pci-addr` as given.
    pub pci_addr: String,
    /// `-r/--repr` as given.
    pub repr: String,
    /// `-p/--pci-addr`, parsed.
    pub secure_port: PortSpec,
    /// `-r/--repr`, parsed.
    pub unsecured_port: PortSpec,
    /// `-m/--core-mask` (default 0x1).
    pub core_mask: CoreMask,
    /// `--decap-dmac`, or detected from `-d/--vf-name`.
    pub decap_dmac: Option<MacAddr>,
    /// `--local-virt-ip`, or detected from `-d/--vf-name`; of the
    /// `--inner-ip-type` version.
    pub local_virt_ip: Option<IpAddr>,
    /// `-d/--vf-name`.
    pub vf_name: Option<String>,
    /// `-n/--nexthop-dmac`.
    pub nexthop_dmac: Option<MacAddr>,
    /// `-s/--svc-addr` (default 0.0.0.0:3000).
    pub svc_addr: SocketAddr,
    /// `-t/--tunnel` and `-f/--tunnels-file`, merged by service address.
    pub peers: Vec<Peer>,
    /// `-c/--cookie`.
    pub cookie: bool,
    /// `-a/--disable-ingress-acl`.
    pub disable_ingress_acl: bool,
    /// `--sample-rate` (log2, 0 disables).
    pub sample_rate: u8,
    /// `--maintain-order`.
    pub maintain_order: bool,
    /// `-x/--max-tunnels` (default 4096).
    pub max_tunnels: usize,
    /// `-o/--crypt-offset` in 4-byte units (default: DOCA 3.x's per inner
    /// IP version, [`default_crypt_offset`]).
    pub crypt_offset: u8,
    /// `--psp-version` (default 1).
    pub psp_version: Version,
    /// `-z/--static-tunnels`.
    pub static_tunnels: bool,
    /// `-k/--debug-keys`.
    pub debug_keys: bool,
    /// `--stat-print`.
    pub stat_print: bool,
    /// `--perf-print`.
    pub perf_print: Option<PerfPrint>,
    /// `--show-rss-rx-packets`.
    pub show_rss_rx_packets: bool,
    /// `--outer-ip-type` (default ipv6).
    pub outer_ip_type: OuterVersion,
    /// `--mode` (DOCA 3.x; default tunnel).
    pub mode: Mode,
    /// `--inner-ip-type` (DOCA 3.x; default ipv4).
    pub inner_ip_type: InnerVersion,
    /// `-l/--log-level`, DOCA's scale 10..=70 (default 50).
    pub log_level: u8,
    /// `--sdk-log-level`, same scale (default 40).
    pub sdk_log_level: u8,
    /// The outer source address of our tunnels: `--uplink-ip`, or derived
    /// from the uplink's interface or the management address (`None`:
    /// neither works; [`Config::uplink_ip_note`] says why).
    pub uplink_ip: Option<IpAddr>,
    /// Where [`Config::uplink_ip`] came from, or why there is none.
    pub uplink_ip_note: String,
    /// `--grpc-cert` (with key and CA, or none of them).
    pub grpc_cert: Option<PathBuf>,
    /// `--grpc-key`.
    pub grpc_key: Option<PathBuf>,
    /// `--grpc-ca`.
    pub grpc_ca: Option<PathBuf>,
    /// `--idle-backoff`.
    pub idle_backoff: bool,
    /// `--backend` (default auto).
    pub backend: BackendChoice,
    /// `--key-rotation-interval` (`None`: never rotate on a timer).
    pub key_rotation_interval: Option<std::time::Duration>,
    /// `--peer-rate-limit`: tunnels per second per peer (`None`: unlimited).
    pub peer_rate_limit: Option<u32>,
    /// `--metrics-addr`, `--directory` and its options.
    pub fleet: fleet::FleetConfig,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// DOCA Flow when the SDK and a capable device are present, else software.
    #[default]
    Auto,
    /// The software pipeline on the packet cores.
    Software,
    /// DOCA Flow offload; an error if it cannot run.
    Doca,
}

/// Default of `--peer-rate-limit`.
pub const DEFAULT_PEER_RATE_LIMIT: u32 = 20_000;

/// A peer gateway: its gRPC service address and the virtual IPs behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Where its gRPC server listens.
    pub svc_addr: SocketAddr,
    /// Virtual addresses reached through it, in order of mention.
    pub virt_ips: Vec<IpAddr>,
}

/// `--perf-print`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfPrint {
    /// `key-gen`.
    KeyGen,
    /// `insertion`.
    Insertion,
    /// `all`.
    All,
}

/// What the command line asks for.
#[allow(clippy::large_enum_variant)] // made once, at startup
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run the gateway.
    Run(Config),
    /// `-h/--help`: print this and exit 0.
    Help(String),
    /// `-v/--version`: print this and exit 0.
    Version(String),
}

/// Why the configuration is refused: one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Unknown flag, missing value, repeated flag (clap's message, one line).
    #[error("{0}")]
    Usage(String),
    /// A required flag is absent.
    #[error("missing required flag{} {}", if .0.len() > 1 { "s" } else { "" }, .0.join(" and "))]
    Missing(Vec<String>),
    /// A value that does not parse or is out of range.
    #[error("{at} {value}: {why}")]
    BadValue {
        /// The flag (`--sample-rate`) or the JSON key (`gw.json:5: "sample-rate"`).
        at: String,
        /// What was given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A bad port or core mask; the engine's error names the flag.
    #[error("{at}{err}")]
    Datapath {
        /// `gw.json:3: ` when the value came from the JSON file, else empty.
        at: String,
        /// The engine's error.
        err: engine::config::Error,
    },
    /// Flags that cannot go together.
    #[error("{0}")]
    Conflict(String),
    /// A file named by a flag cannot be read.
    #[error("{at} {path}: cannot read: {err}")]
    Read {
        /// The flag.
        at: String,
        /// The file.
        path: String,
        /// The I/O error.
        err: String,
    },
    /// The JSON file is not JSON.
    #[error("{file}:{line}:{column}: {msg}")]
    Json {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// Column, as serde_json counts it.
        column: usize,
        /// What is wrong (serde_json's message for syntax errors).
        msg: String,
    },
    /// A JSON key that is no flag.
    #[error("{at}: unknown key {key:?}")]
    JsonKey {
        /// `gw.json:4` (or the file alone).
        at: String,
        /// The key.
        key: String,
    },
    /// A JSON value of the wrong type.
    #[error("{at}: expected {expected}, got {got}")]
    JsonType {
        /// `gw.json:4: "cookie"`.
        at: String,
        /// What the flag takes.
        expected: &'static str,
        /// What was there.
        got: String,
    },
    /// A bad line in the tunnels file.
    #[error("{file}:{line}: {msg}")]
    TunnelsFile {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The line's content and what is wrong with it.
        msg: String,
    },
    /// A virtual IP mapped to two peers.
    #[error("{at}: virtual IP {virt_ip} is mapped to both {first} and {second}")]
    VirtIpTwice {
        /// The second mapping's source (`tunnels.txt:3`, `-t/--tunnel ...`).
        at: String,
        /// The address.
        virt_ip: IpAddr,
        /// The peer it was mapped to first.
        first: SocketAddr,
        /// The other peer.
        second: SocketAddr,
    },
    /// `-d/--vf-name` detection failed.
    #[error("{at} {name}: {why}")]
    VfDetect {
        /// The flag.
        at: String,
        /// The interface.
        name: String,
        /// What failed.
        why: String,
    },
}

/// What the configuration needs from the machine.
pub trait System {
    /// The content of a file.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
    /// The output of `ip -4 -o addr show dev IFACE`, or one line saying why
    /// there is none.
    fn ip_addr_show(&self, iface: &str) -> Result<String, String>;
    /// The output of `ip -4|-6 -o addr show [dev IFACE]` (every
    /// interface's addresses when `iface` is `None`).
    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String>;
    /// The names in a directory.
    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>>;
}

/// The real machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Host;

impl System for Host {
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn ip_addr_show(&self, iface: &str) -> Result<String, String> {
        let out = std::process::Command::new("ip")
            .args(["-4", "-o", "addr", "show", "dev", iface])
            .output()
            .map_err(|e| format!("cannot run `ip -4 -o addr show dev {iface}`: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed");
            return Err(format!("`ip -4 -o addr show dev {iface}`: {}", line.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String> {
        let mut args = vec![if v6 { "-6" } else { "-4" }, "-o", "addr", "show"];
        if let Some(i) = iface {
            args.extend(["dev", i]);
        }
        let cmd = format!("ip {}", args.join(" "));
        let out = std::process::Command::new("ip")
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed");
            return Err(format!("`{cmd}`: {}", line.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(path)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}

/// Where a setting came from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    Cli(&'static args::Opt),
    Json { file: String, line: Option<usize>, key: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Cli(o) => f.write_str(&o.label()),
            Origin::Json { file, line: Some(l), key } => write!(f, "{file}:{l}: {key:?}"),
            Origin::Json { file, line: None, key } => write!(f, "{file}: {key:?}"),
        }
    }
}

impl Origin {
    /// `gw.json:3: ` for JSON values (engine errors name the flag), else "".
    fn file_prefix(&self) -> String {
        match self {
            Origin::Cli(_) => String::new(),
            Origin::Json { file, line: Some(l), .. } => format!("{file}:{l}: "),
            Origin::Json { file, line: None, .. } => format!("{file}: "),
        }
    }
}

/// A setting's raw value.
#[derive(Debug, Clone)]
pub(crate) enum Raw {
    Switch(bool),
    Str(String),
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) struct Setting {
    origin: Origin,
    raw: Raw,
}

/// Settings by long flag name.
pub(crate) type Settings = BTreeMap<&'static str, Setting>;

/// One line from a clap error: its first paragraph, joined.
fn flatten_clap(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let lines: Vec<&str> =
        text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

impl Config {
    /// Parses the command line (`args` starts with the program name) and
    /// the files it names, on this machine.
    pub fn from_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Parsed, ConfigError> {
        Config::from_args_with(args, &Host)
    }

    /// [`Config::from_args`] with files and interfaces from `sys`.
    pub fn from_args_with<I, S>(args: I, sys: &S) -> Result<Parsed, ConfigError>
    where
        I: IntoIterator<Item = OsString>,
        S: System + ?Sized,
    {
        use clap::error::ErrorKind;
        let m = match args::command().try_get_matches_from(args) {
            Ok(m) => m,
            Err(e) => {
                return match e.kind() {
                    ErrorKind::DisplayHelp => Ok(Parsed::Help(e.render().to_string())),
                    ErrorKind::DisplayVersion => Ok(Parsed::Version(e.render().to_string())),
                    _ => Err(ConfigError::Usage(flatten_clap(&e))),
                };
            }
        };
        let mut settings = Settings::new();
        if let Some(path) = m.get_one::<String>("json") {
            let text = sys.read_file(Path::new(path)).map_err(|e| ConfigError::Read {
                at: "-j/--json".into(),
                path: path.clone(),
                err: e.to_string(),
            })?;
            settings = json::parse(path, &text)?;
        }
        for o in args::OPTS {
            let raw = match o.kind {
                args::Kind::Switch => m.get_flag(o.long).then_some(Raw::Switch(true)),
                args::Kind::Value => m.get_one::<String>(o.long).map(|s| Raw::Str(s.clone())),
                args::Kind::List => {
                    m.get_many::<String>(o.long).map(|v| Raw::List(v.cloned().collect()))
                }
            };
            if let Some(raw) = raw {
                settings.insert(o.long, Setting { origin: Origin::Cli(o), raw });
            }
        }
        build(&settings, sys).map(Parsed::Run)
    }

    /// The `tracing` filter for `-l/--log-level`.
    pub fn tracing_filter(&self) -> &'static str {
        match self.log_level {
            0..=10 => "off",
            11..=30 => "error",
            31..=40 => "warn",
            41..=50 => "info",
            51..=60 => "debug",
            _ => "trace",
        }
    }

    /// DPDK's `--log-level` for `--sdk-log-level` (DOCA's 10..70 scale).
    pub fn dpdk_log_level(&self) -> &'static str {
        match self.sdk_log_level {
            0..=10 => "emerg",
            11..=20 => "critical",
            21..=30 => "error",
            31..=40 => "warning",
            41..=50 => "info",
            _ => "debug",
        }
    }

    /// This gateway's virtualization cookie when `--cookie` is on: the
    /// process id in the high half, "PSPG" in the low half. Peers get it
    /// in the tunnel parameters we issue and put it in their packets; the
    /// packet cores drop decrypted packets without it (`vc_mismatch`).
    pub fn virt_cookie(&self) -> Option<u64> {
        self.cookie.then(|| u64::from(std::process::id()) << 32 | 0x5053_5047)
    }

    /// The pipeline options these flags set (the rest at their defaults).
    pub fn pipeline_config(&self) -> PipelineConfig {
        PipelineConfig {
            expected_vc: self.virt_cookie(),
            max_tunnels: self.max_tunnels,
            log2_sample_rate: self.sample_rate,
            maintain_order: self.maintain_order,
            disable_ingress_acl: self.disable_ingress_acl,
            outer: self.outer_ip_type,
            mode: self.mode,
            inner: self.inner_ip_type,
            decap_dmac: self.decap_dmac,
            ..PipelineConfig::default()
        }
    }
}

fn get_str<'a>(s: &'a Settings, key: &str) -> Option<(&'a Origin, &'a str)> {
    match s.get(key) {
        Some(Setting { origin, raw: Raw::Str(v) }) => Some((origin, v.as_str())),
        _ => None,
    }
}

fn get_switch(s: &Settings, key: &str) -> bool {
    matches!(s.get(key), Some(Setting { raw: Raw::Switch(true), .. }))
}

fn bad(origin: &Origin, value: &str, why: impl Into<String>) -> ConfigError {
    let value = if value.is_empty() { "\"\"".to_string() } else { value.to_string() };
    ConfigError::BadValue { at: origin.to_string(), value, why: why.into() }
}

/// The value of `key` through `parse`, if given.
fn parse_opt<T>(
    s: &Settings,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match get_str(s, key) {
        Some((origin, v)) => parse(v).map(Some).map_err(|why| bad(origin, v, why)),
        None => Ok(None),
    }
}

fn number(v: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let t = v.trim();
    let range = if hi == u64::MAX {
        format!("must be at least {lo}")
    } else {
        format!("must be {lo}..={hi}")
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a whole number ({range})"));
    }
    match t.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(range),
    }
}

fn mac(v: &str) -> Result<MacAddr, String> {
    v.trim().parse::<MacAddr>().map_err(|_| "not a MAC address (aa:bb:cc:dd:ee:ff)".to_string())
}

/// DOCA's numeric levels, or their names.
fn parse_log_level(v: &str) -> Result<u8, String> {
    const NAMES: [(&str, u8); 8] = [
        ("disable", 10),
        ("critical", 20),
        ("error", 30),
        ("warning", 40),
        ("warn", 40),
        ("info", 50),
        ("debug", 60),
        ("trace", 70),
    ];
    let t = v.trim();
    if let Some((_, n)) = NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(t)) {
        return Ok(*n);
    }
    match t.parse::<u8>() {
        Ok(n) if n % 10 == 0 && (10..=70).contains(&n) => Ok(n),
        _ => Err("must be 10 (DISABLE), 20 (CRITICAL), 30 (ERROR), 40 (WARNING), 50 (INFO), \
                  60 (DEBUG) or 70 (TRACE)"
            .into()),
    }
}

fn path(v: &str) -> Result<PathBuf, String> {
    if v.trim().is_empty() {
        return Err("empty path".into());
    }
    Ok(PathBuf::from(v))
}

/// DOCA 3.x's crypt offset when `-o/--crypt-offset` is not given, in
/// 4-byte words from the end of the IV (the cookie included, as ours): the
/// inner IP header stays in clear (authenticated, not encrypted), so IPv4
/// 5 (20 bytes), IPv6 10 (40 bytes), each 2 more with a virtualization
/// cookie (`-c/--cookie`, 8 bytes). NVIDIA's `DEFAULT_CRYPT_OFFSET_IPV4`
/// and friends (`psp_gw_config.h`). The same numbers in transport mode,
/// as NVIDIA's: there they count into the L4 header, so a packet whose L4
/// header and payload are shorter than the offset cannot be sent
/// (`egress_encap_fail`).
pub fn default_crypt_offset(inner_v6: bool, cookie: bool) -> u8 {
    let ip_words = if inner_v6 { 10 } else { 5 };
    ip_words + if cookie { 2 } else { 0 }
}

fn build<S: System + ?Sized>(s: &Settings, sys: &S) -> Result<Config, ConfigError> {
    let (pci, repr) = (get_str(s, "pci-addr"), get_str(s, "repr"));
    let ((p_origin, pci_addr), (r_origin, repr)) = match (pci, repr) {
        (Some(p), Some(r)) => (p, r),
        (None, None) => {
            return Err(ConfigError::Missing(vec!["-p/--pci-addr".into(), "-r/--repr".into()]));
        }
        (None, _) => return Err(ConfigError::Missing(vec!["-p/--pci-addr".into()])),
        (_, None) => return Err(ConfigError::Missing(vec!["-r/--repr".into()])),
    };
    let port = |origin: &Origin, flag, v| {
        PortSpec::parse(flag, v)
            .map_err(|err| ConfigError::Datapath { at: origin.file_prefix(), err })
    };
    let secure_port = port(p_origin, "-p/--pci-addr", pci_addr)?;
    let unsecured_port = port(r_origin, "-r/--repr", repr)?;
    let core_mask = match get_str(s, "core-mask") {
        Some((origin, v)) => v
            .parse::<CoreMask>()
            .map_err(|err| ConfigError::Datapath { at: origin.file_prefix(), err })?,
        None => "0x1".parse().expect("default core mask"),
    };

    let inner_ip_type =
        parse_opt(s, "inner-ip-type", |v| match v.trim().to_lowercase().as_str() {
            "ipv4" => Ok(InnerVersion::Ipv4),
            "ipv6" => Ok(InnerVersion::Ipv6),
            _ => Err("must be ipv4 or ipv6".into()),
        })?
        .unwrap_or_default();
    let inner_v6 = inner_ip_type == InnerVersion::Ipv6;
    let inner_name = match get_str(s, "inner-ip-type") {
        Some((o, v)) => format!("{o} {}", v.trim()),
        None => "--inner-ip-type (default ipv4)".to_string(),
    };
    // A virtual address of the inner version, or why not.
    let virt = |v: &str| -> Result<IpAddr, String> {
        let want = if inner_v6 { "not an IPv6 address" } else { "not an IPv4 address" };
        let ip = v.trim().parse::<IpAddr>().map_err(|_| want.to_string())?;
        match (ip.is_ipv6(), inner_v6) {
            (false, false) | (true, true) => Ok(ip),
            (true, false) => Err(format!("must be IPv4 to match {inner_name}")),
            (false, true) => Err(format!("must be IPv6 to match {inner_name}")),
        }
    };
    let mut decap_dmac = parse_opt(s, "decap-dmac", mac)?;
    let mut local_virt_ip = parse_opt(s, "local-virt-ip", virt)?;
    let vf_name = match get_str(s, "vf-name") {
        None => None,
        Some((origin, name)) => {
            for other in ["decap-dmac", "local-virt-ip"] {
                if let Some(o) = s.get(other) {
                    return Err(ConfigError::Conflict(format!(
                        "{origin} cannot be used with {} (it detects the MAC and virtual IP itself)",
                        o.origin
                    )));
                }
            }
            let name = name.trim();
            vf::check_name(name).map_err(|why| bad(origin, name, why))?;
            let fail = |why: String| ConfigError::VfDetect {
                at: origin.to_string(),
                name: name.to_string(),
                why,
            };
            let sysfs = format!("/sys/class/net/{name}/address");
            let addr_text = sys
                .read_file(Path::new(&sysfs))
                .map_err(|e| fail(format!("no such interface? cannot read {sysfs}: {e}")))?;
            let mac = vf::parse_sysfs_address(&addr_text).map_err(&fail)?;
            let ip = if inner_v6 {
                // The VF's global IPv6 address (DOCA 3.x's inner IPv6).
                let text = sys.ip_addrs(true, Some(name)).map_err(&fail)?;
                uplink::parse_ip_o(&text)
                    .into_iter()
                    .find(|a| a.scope == "global" && a.ip.is_ipv6())
                    .map(|a| a.ip)
                    .ok_or_else(|| fail("no global IPv6 address bound to the interface".into()))?
            } else {
                IpAddr::V4(
                    vf::parse_ip_addr_output(&sys.ip_addr_show(name).map_err(&fail)?)
                        .map_err(&fail)?,
                )
            };
            decap_dmac = Some(mac);
            local_virt_ip = Some(ip);
            Some(name.to_string())
        }
    };
    let nexthop_dmac = parse_opt(s, "nexthop-dmac", mac)?;
    let svc_addr = parse_opt(s, "svc-addr", |v| parse_svc_addr(v, true))?
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT));

    let mut peers = tunnels::PeerSet::default();
    if let Some(Setting { origin, raw: Raw::List(list) }) = s.get("tunnel") {
        for t in list {
            let (svc, ips) = parse_tunnel(t).map_err(|why| bad(origin, t, why))?;
            if let Some(ip) = ips.iter().find(|ip| ip.is_ipv6() != inner_v6) {
                return Err(bad(origin, t, virt(&ip.to_string()).unwrap_err()));
            }
            peers.add(&format!("{origin} {t}"), svc, &ips)?;
        }
    }
    if let Some((origin, file)) = get_str(s, "tunnels-file") {
        if file.trim().is_empty() {
            return Err(bad(origin, file, "empty path"));
        }
        let text = sys.read_file(Path::new(file)).map_err(|e| ConfigError::Read {
            at: origin.to_string(),
            path: file.to_string(),
            err: e.to_string(),
        })?;
        for (line, svc, ips) in parse_tunnels_file(file, &text)? {
            if let Some(ip) = ips.iter().find(|ip| ip.is_ipv6() != inner_v6) {
                return Err(ConfigError::TunnelsFile {
                    file: file.to_string(),
                    line,
                    msg: format!("virtual IP {ip}: {}", virt(&ip.to_string()).unwrap_err()),
                });
            }
            peers.add(&format!("{file}:{line}"), svc, &ips)?;
        }
    }

    let sample_rate = parse_opt(s, "sample-rate", |v| number(v, 0, 16))?.unwrap_or(0) as u8;
    let max_tunnels = parse_opt(s, "max-tunnels", |v| {
        number(v, 1, u64::MAX).and_then(|n| usize::try_from(n).map_err(|_| "too large".into()))
    })?
    .unwrap_or(4096);
    let crypt_offset = match parse_opt(s, "crypt-offset", |v| number(v, 0, 63))? {
        Some(n) => n as u8,
        None => default_crypt_offset(inner_v6, get_switch(s, "cookie")),
    };
    let psp_version = parse_opt(s, "psp-version", |v| {
        number(v, 0, 3)
            .ok()
            .and_then(|n| Version::from_wire(n as u8))
            .ok_or_else(|| "must be 0 or 1 (or 2, 3: AES-GMAC)".to_string())
    })?
    .unwrap_or(Version::AesGcm256);
    let perf_print = parse_opt(s, "perf-print", |v| match v.trim() {
        "key-gen" => Ok(PerfPrint::KeyGen),
        "insertion" => Ok(PerfPrint::Insertion),
        "all" => Ok(PerfPrint::All),
        _ => Err("must be key-gen, insertion or all".into()),
    })?;
    let outer_ip_type =
        parse_opt(s, "outer-ip-type", |v| match v.trim().to_lowercase().as_str() {
            "ipv4" => Ok(OuterVersion::Ipv4),
            "ipv6" => Ok(OuterVersion::Ipv6),
            _ => Err("must be ipv4 or ipv6".into()),
        })?
        .unwrap_or(OuterVersion::Ipv6);
    let mode = parse_opt(s, "mode", |v| match v.trim().to_lowercase().as_str() {
        "tunnel" => Ok(Mode::Tunnel),
        "transport" => Ok(Mode::Transport),
        _ => Err("must be tunnel or transport".into()),
    })?
    .unwrap_or(Mode::Tunnel);
    let log_level = parse_opt(s, "log-level", parse_log_level)?.unwrap_or(50);
    let sdk_log_level = parse_opt(s, "sdk-log-level", parse_log_level)?.unwrap_or(40);

    let uplink_ip = parse_opt(s, "uplink-ip", |v| {
        let ip = v.trim().parse::<IpAddr>().map_err(|_| "not an IP address".to_string())?;
        let outer = match get_str(s, "outer-ip-type") {
            Some((o, v)) => format!("{o} {}", v.trim()),
            None => "--outer-ip-type (default ipv6)".to_string(),
        };
        match (ip, outer_ip_type) {
            (IpAddr::V4(_), OuterVersion::Ipv4) | (IpAddr::V6(_), OuterVersion::Ipv6) => Ok(ip),
            (IpAddr::V4(_), OuterVersion::Ipv6) => Err(format!("must be IPv6 to match {outer}")),
            (IpAddr::V6(_), OuterVersion::Ipv4) => Err(format!("must be IPv4 to match {outer}")),
        }
    })?;
    let (uplink_ip, uplink_ip_note) = match uplink_ip {
        Some(ip) => (Some(ip), "--uplink-ip".to_string()),
        None => match uplink::derive(&secure_port, svc_addr, outer_ip_type, sys) {
            Ok((ip, note)) => (Some(ip), note),
            Err(why) => (None, why),
        },
    };

    let backend = parse_opt(s, "backend", |v| match v.trim() {
        "auto" => Ok(BackendChoice::Auto),
        "software" => Ok(BackendChoice::Software),
        "doca" => Ok(BackendChoice::Doca),
        _ => Err("must be auto, software or doca".into()),
    })?
    .unwrap_or_default();
    let key_rotation_interval =
        parse_opt(s, "key-rotation-interval", |v| match number(v, 0, 366 * 24 * 3600)? {
            0 => Ok(None),
            1 => Err("must be 0 (never) or at least 2 seconds: peers need time to re-key".into()),
            n => Ok(Some(std::time::Duration::from_secs(n))),
        })?
        .flatten();
    let peer_rate_limit = parse_opt(s, "peer-rate-limit", |v| {
        number(v, 0, u64::from(u32::MAX)).map(|n| (n > 0).then_some(n as u32))
    })?
    .unwrap_or(Some(DEFAULT_PEER_RATE_LIMIT));

    let grpc_cert = parse_opt(s, "grpc-cert", path)?;
    let grpc_key = parse_opt(s, "grpc-key", path)?;
    let grpc_ca = parse_opt(s, "grpc-ca", path)?;
    let tls = [("grpc-cert", &grpc_cert), ("grpc-key", &grpc_key), ("grpc-ca", &grpc_ca)];
    let given: Vec<String> =
        tls.iter().filter_map(|(k, v)| v.as_ref().map(|_| s[k].origin.to_string())).collect();
    if !given.is_empty() && given.len() < 3 {
        let missing: Vec<String> =
            tls.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| format!("--{k}")).collect();
        return Err(ConfigError::Conflict(format!(
            "{} given without {} (--grpc-cert, --grpc-key and --grpc-ca: all three or none)",
            given.join(" and "),
            missing.join(" and ")
        )));
    }

    Ok(Config {
        pci_addr: pci_addr.to_string(),
        repr: repr.to_string(),
        secure_port,
        unsecured_port,
        core_mask,
        decap_dmac,
        local_virt_ip,
        vf_name,
        nexthop_dmac,
        svc_addr,
        peers: peers.into_peers(),
        cookie: get_switch(s, "cookie"),
        disable_ingress_acl: get_switch(s, "disable-ingress-acl"),
        sample_rate,
        maintain_order: get_switch(s, "maintain-order"),
        max_tunnels,
        crypt_offset,
        psp_version,
        static_tunnels: get_switch(s, "static-tunnels"),
        debug_keys: get_switch(s, "debug-keys"),
        stat_print: get_switch(s, "stat-print"),
        perf_print,
        show_rss_rx_packets: get_switch(s, "show-rss-rx-packets"),
        outer_ip_type,
        mode,
        inner_ip_type,
        log_level,
        sdk_log_level,
        uplink_ip,
        uplink_ip_note,
        grpc_cert,
        grpc_key,
        grpc_ca,
        idle_backoff: get_switch(s, "idle-backoff"),
        backend,
        key_rotation_interval,
        peer_rate_limit,
        fleet: fleet::parse(s)?,
    })
}

#[cfg(test)]
mod tests;
