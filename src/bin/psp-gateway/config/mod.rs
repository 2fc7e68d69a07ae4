//! The configuration of `psp-gateway`: every flag of the DOCA PSP Gateway
//! application, one for one, from the command line and from a JSON file
//! (`-j`), plus a few of our own. Command-line flags override the JSON
//! file's values. Every error is one line naming the flag (and the file and
//! line when it came from a file).
//!
//! Reading files and asking the host about `-d/--vf-name` go through
//! [`System`], so everything else is tested without touching the machine.

mod args;
mod error;
pub mod fleet;
mod json;
mod json_pos;
pub mod peers_file;
mod system;
mod tunnels;
mod uplink;
mod validate;
mod vf;

pub use engine::config::BackendFlag;
use engine::config::{CoreMask, PortSpec};
use engine::pipeline::{InnerVersion, OuterVersion, PipelineConfig};
use engine::psp::{Mode, Version};
use engine::wire::MacAddr;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use system::{Host, System};
pub use tunnels::{parse_svc_addr, parse_tunnel, parse_tunnels_file};
#[cfg(test)]
use validate::default_crypt_offset;
use validate::{bad, build, get_str, number, parse_opt, path};

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
    /// `-r/--repr` as given (the first, with several).
    pub repr: String,
    /// `-p/--pci-addr`, parsed.
    pub secure_port: PortSpec,
    /// `-r/--repr`, parsed (the first, with several).
    pub unsecured_port: PortSpec,
    /// Every unsecured port (each `-r/--repr`, in order) with its VMs;
    /// the first is [`Config::unsecured_port`].
    pub vfs: Vec<VfConfig>,
    /// `-m/--core-mask` (default 0x1).
    pub core_mask: CoreMask,
    /// `--decap-dmac`, or detected from `-d/--vf-name`.
    pub decap_dmac: Option<MacAddr>,
    /// `--local-virt-ip`, or detected from `-d/--vf-name`; of the
    /// `--inner-ip-type` version (the first port's first, with several).
    pub local_virt_ip: Option<IpAddr>,
    /// `-d/--vf-name`.
    pub vf_name: Option<String>,
    /// `-n/--nexthop-dmac`.
    pub nexthop_dmac: Option<MacAddr>,
    /// `-s/--svc-addr` (default 0.0.0.0:3000).
    pub svc_addr: SocketAddr,
    /// `-t/--tunnel` and `-f/--tunnels-file`, merged by service address.
    pub peers: Vec<Peer>,
    /// `-c/--config` sessions that name their `"local-vip"`: (remote VIP,
    /// that local VIP), the sessions `-z` asks for (several local VIPs may
    /// name one remote).
    pub session_src: BTreeSet<(IpAddr, IpAddr)>,
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
    /// `--stats-json`: where the JSON reports go.
    pub stats_json: Option<PathBuf>,
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
    pub backend: BackendFlag,
    /// `--key-rotation-interval` (`None`: never rotate on a timer).
    pub key_rotation_interval: Option<std::time::Duration>,
    /// `--peer-rate-limit`: tunnels per second per peer (`None`: unlimited).
    pub peer_rate_limit: Option<u32>,
    /// `--metrics-addr`, `--directory` and its options.
    pub fleet: fleet::FleetConfig,
}

/// Default of `--peer-rate-limit`.
pub const DEFAULT_PEER_RATE_LIMIT: u32 = 20_000;

/// One unsecured port (a `-r/--repr`) and the VMs behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfConfig {
    /// `-r/--repr` as given.
    pub repr: String,
    /// It, parsed.
    pub port: PortSpec,
    /// Its VMs' virtual addresses: its `--local-virt-ip` (a comma list),
    /// from its `-d/--vf-name`, or (one port) the peers file's sessions.
    pub virt_ips: Vec<IpAddr>,
    /// Its `--decap-dmac` (or from its `-d/--vf-name`).
    pub decap_dmac: Option<MacAddr>,
    /// Its `-d/--vf-name`.
    pub vf_name: Option<String>,
}

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
        let args = args::rewrite_short_c(args.into_iter().collect());
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
#[cfg(test)]
mod tests;
