//! The fleet flags (beyond DOCA): `--metrics-addr`, the Prometheus
//! endpoint, with `--metrics-sessions`, and `--directory` with its TLS
//! files and lease TTL, the etcd peer directory.

use super::{bad, get_str, number, parse_opt, path, ConfigError, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `--directory` and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySpec {
    /// etcd endpoints, `host:port` each.
    pub endpoints: Vec<String>,
    /// The key prefix, without a trailing `/` (`/psp` from `etcd://h:p/psp`).
    pub prefix: String,
    /// `--directory-ca`: TLS to etcd, checked against this CA.
    pub ca: Option<PathBuf>,
    /// `--directory-cert` and `--directory-key`: a client certificate.
    pub client: Option<(PathBuf, PathBuf)>,
    /// `--directory-ttl`: the lease of our registration.
    pub ttl: Duration,
}

/// The fleet settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// `--metrics-sessions`: most per-session series each way.
    pub metrics_sessions: usize,
    /// `--directory`.
    pub directory: Option<DirectorySpec>,
}

impl Default for FleetConfig {
    fn default() -> FleetConfig {
        FleetConfig {
            metrics_addr: None,
            metrics_sessions: DEFAULT_METRICS_SESSIONS,
            directory: None,
        }
    }
}

/// Default of `--directory-ttl`, in seconds.
pub const DEFAULT_TTL_SECS: u64 = 10;

/// Default of `--metrics-sessions`: a few thousand series a scrape, what a
/// Prometheus server takes from one target without thought; a gateway at
/// `PSP_MAX_SESSIONS` (2^20) would otherwise export four million.
pub const DEFAULT_METRICS_SESSIONS: usize = 1000;

/// `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` (etcd's default port 2379 when
/// a host names none).
pub fn parse_directory_url(v: &str) -> Result<(Vec<String>, String), String> {
    let rest =
        v.trim().strip_prefix("etcd://").ok_or("must be etcd://HOST:PORT[,HOST:PORT...]/PREFIX")?;
    let (hosts, prefix) = rest.split_once('/').ok_or("no /PREFIX after the endpoints")?;
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return Err(
            "empty PREFIX: give the key prefix the gateways share (etcd://h:2379/psp)".into()
        );
    }
    if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("PREFIX holds whitespace".into());
    }
    let mut endpoints = Vec::new();
    for h in hosts.split(',') {
        let h = h.trim();
        if h.is_empty() {
            return Err("an empty endpoint".into());
        }
        let host_port = if h.starts_with('[') {
            match h.rsplit_once("]:") {
                Some((_, port)) => {
                    port.parse::<u16>().map_err(|_| format!("{h}: bad port"))?;
                    h.to_string()
                }
                None if h.ends_with(']') => format!("{h}:2379"),
                None => return Err(format!("{h}: bad IPv6 endpoint ([addr]:port)")),
            }
        } else {
            match h.split_once(':') {
                Some((host, port)) => {
                    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
                        return Err(format!("{h}: not HOST:PORT"));
                    }
                    h.to_string()
                }
                None => format!("{h}:2379"),
            }
        };
        endpoints.push(host_port);
    }
    Ok((endpoints, format!("/{}", prefix.trim_start_matches('/'))))
}

/// The fleet flags of `s`.
pub fn parse(s: &Settings) -> Result<FleetConfig, ConfigError> {
    let metrics_addr = parse_opt(s, "metrics-addr", |v| {
        v.trim().parse::<SocketAddr>().map_err(|_| "not IP:PORT (e.g. 127.0.0.1:9105)".into())
    })?;
    let metrics_sessions = parse_opt(s, "metrics-sessions", |v| number(v, 0, 1 << 20))?
        .map_or(DEFAULT_METRICS_SESSIONS, |n| n as usize);
    let ttl = parse_opt(s, "directory-ttl", |v| number(v, 2, 3600))?;
    let ca = parse_opt(s, "directory-ca", path)?;
    let cert = parse_opt(s, "directory-cert", path)?;
    let key = parse_opt(s, "directory-key", path)?;
    let Some((origin, url)) = get_str(s, "directory") else {
        for k in ["directory-ttl", "directory-ca", "directory-cert", "directory-key"] {
            if let Some((o, _)) = get_str(s, k) {
                return Err(ConfigError::Conflict(format!("{o} needs --directory")));
            }
        }
        return Ok(FleetConfig { metrics_addr, metrics_sessions, directory: None });
    };
    let (endpoints, prefix) = parse_directory_url(url).map_err(|why| bad(origin, url, why))?;
    let client = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Conflict(
                "--directory-cert and --directory-key: both or neither".into(),
            ))
        }
    };
    if client.is_some() && ca.is_none() {
        return Err(ConfigError::Conflict(
            "--directory-cert needs --directory-ca (a client certificate only goes over TLS)"
                .into(),
        ));
    }
    let ttl = Duration::from_secs(ttl.unwrap_or(DEFAULT_TTL_SECS));
    Ok(FleetConfig {
        metrics_addr,
        metrics_sessions,
        directory: Some(DirectorySpec { endpoints, prefix, ca, client, ttl }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_urls() {
        let ok = |v| parse_directory_url(v).unwrap();
        assert_eq!(ok("etcd://127.0.0.1:2379/psp"), (vec!["127.0.0.1:2379".into()], "/psp".into()));
        assert_eq!(
            ok("etcd://a:1,b,[::1]:3,[fd00::2]/fleet/one/"),
            (
                vec!["a:1".into(), "b:2379".into(), "[::1]:3".into(), "[fd00::2]:2379".into()],
                "/fleet/one".into()
            )
        );
        for bad in [
            "http://a:1/p",
            "etcd://a:1",
            "etcd://a:1/",
            "etcd://a:x/p",
            "etcd://a:0/p",
            "etcd://,a/p",
            "etcd://[::1/p",
            "etcd://a/p q",
        ] {
            assert!(parse_directory_url(bad).is_err(), "{bad}");
        }
    }
}
