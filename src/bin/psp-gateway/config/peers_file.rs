//! `-c/--config PATH` (DOCA 2.9+, replacing `-t`/`-f`): the JSON file of
//! peers and sessions, in NVIDIA's format (`psp_gw_params.cpp`):
//!
//! ```json
//! {
//!   "config": { "local-grpc-address": "10.1.1.50:3000" },
//!   "peers": [
//!     { "remote-grpc-address": "10.1.1.55:3000",
//!       "sessions": [ { "local-vip": "192.168.1.1",
//!                       "remote-vips": ["192.168.1.2", "192.168.2.0/24"] } ] }
//!   ]
//! }
//! ```
//!
//! "config" and "peers" are required, as each peer's "remote-grpc-address"
//! and "sessions" and each session's "remote-vips"; "local-vip" defaults
//! to our local virtual IP. IPv4 remote VIPs may be subnets /16../32
//! (every address of it). At most [`PSP_MAX_PEERS`] peers and
//! [`PSP_MAX_SESSIONS`] sessions a peer, as NVIDIA's 3.3. Sans-IO: takes
//! the text; every error names the file and line.

use super::json_pos::{self, Seg};
use super::{parse_svc_addr, ConfigError};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// NVIDIA's `PSP_MAX_PEERS` (`psp_gw_config.h`, 3.3).
pub const PSP_MAX_PEERS: usize = 1 << 20;
/// NVIDIA's `PSP_MAX_SESSIONS`: sessions of one peer (3.3).
pub const PSP_MAX_SESSIONS: usize = 1 << 20;

/// The bounds a file is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most peers.
    pub peers: usize,
    /// Most sessions of one peer.
    pub sessions: usize,
}

impl Limits {
    /// NVIDIA's.
    pub const DOCA: Limits = Limits { peers: PSP_MAX_PEERS, sessions: PSP_MAX_SESSIONS };
}

/// One peer of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePeer {
    /// The line of its object.
    pub line: usize,
    /// "remote-grpc-address".
    pub svc_addr: SocketAddr,
    /// Every session's "remote-vips", subnets expanded, in order.
    pub virt_ips: Vec<IpAddr>,
}

/// The file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeersFile {
    /// `config."local-grpc-address"` and its line.
    pub local_grpc_address: Option<(usize, SocketAddr)>,
    /// The peers, in order.
    pub peers: Vec<FilePeer>,
    /// Each session's "local-vip" that is given, with its line.
    pub local_vips: Vec<(usize, IpAddr)>,
    /// Each remote VIP of a session that names its `"local-vip"`, with
    /// that local VIP: the inner source our tunnel requests to it carry.
    pub session_src: Vec<(IpAddr, IpAddr)>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, path: &[Seg<'_>], msg: impl std::fmt::Display) -> ConfigError {
        let line = json_pos::line_of(self.text, path).unwrap_or(1);
        let at = json_pos::show(path);
        let msg = if at.is_empty() { msg.to_string() } else { format!("{at}: {msg}") };
        ConfigError::PeersFile { at: format!("{}:{line}", self.file), msg }
    }

    fn line(&self, path: &[Seg<'_>]) -> usize {
        json_pos::line_of(self.text, path).unwrap_or(1)
    }

    /// The object at `path` with exactly the keys `known`, the `required`
    /// ones present.
    fn object<'v>(
        &self,
        v: &'v Value,
        path: &[Seg<'_>],
        known: &[&str],
        required: &[&str],
    ) -> Result<&'v serde_json::Map<String, Value>, ConfigError> {
        let Value::Object(map) = v else {
            return Err(self.err(path, format!("expected an object, got {}", kind(v))));
        };
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let at = [path, &[Seg::Key(k)]].concat();
            return Err(self.err(&at, format!("unknown key (expected {})", known.join(", "))));
        }
        if let Some(k) = required.iter().find(|k| !map.contains_key(**k)) {
            return Err(self.err(path, format!("missing required key {k:?}")));
        }
        Ok(map)
    }

    fn array<'v>(&self, v: &'v Value, path: &[Seg<'_>]) -> Result<&'v [Value], ConfigError> {
        match v {
            Value::Array(a) => Ok(a),
            _ => Err(self.err(path, format!("expected an array, got {}", kind(v)))),
        }
    }

    fn string<'v>(&self, v: &'v Value, path: &[Seg<'_>]) -> Result<&'v str, ConfigError> {
        match v {
            Value::String(s) => Ok(s),
            _ => Err(self.err(path, format!("expected a string, got {}", kind(v)))),
        }
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// One "remote-vips" entry: an address of the inner version, or an IPv4
/// subnet /16../32 (all its addresses, as NVIDIA's).
fn remote_vips(v: &str, inner_v6: bool) -> Result<Vec<IpAddr>, String> {
    let t = v.trim();
    let family = if inner_v6 { "IPv6" } else { "IPv4" };
    let (addr, mask) = match t.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (t, None),
    };
    let ip: IpAddr =
        addr.parse().map_err(|_| format!("{v:?} is not an {family} address or subnet"))?;
    if ip.is_ipv6() != inner_v6 {
        let flag = if inner_v6 { "ipv6" } else { "ipv4 (the default)" };
        return Err(format!("{v:?} is not {family}, as --inner-ip-type {flag} wants"));
    }
    let Some(mask) = mask else { return Ok(vec![ip]) };
    let IpAddr::V4(v4) = ip else {
        return Err(format!("{v:?}: subnets are IPv4 only, as NVIDIA's"));
    };
    let len: u32 = match mask.parse() {
        Ok(n @ 16..=32) => n,
        _ => return Err(format!("{v:?}: subnet mask length must be 16..=32")),
    };
    let base = u32::from(v4) & (u32::MAX << (32 - len));
    Ok((0..1u32 << (32 - len)).map(|i| IpAddr::V4(Ipv4Addr::from(base + i))).collect())
}

/// Parses the file `file` (its name, for errors) with content `text`;
/// virtual addresses must be of the inner version (`inner_v6`).
pub fn parse(
    file: &str,
    text: &str,
    inner_v6: bool,
    limits: Limits,
) -> Result<PeersFile, ConfigError> {
    let root = super::json::syntax(file, text)?;
    let cx = Ctx { file, text };
    let top = cx.object(&root, &[], &["config", "peers"], &["config", "peers"])?;

    let cpath = [Seg::Key("config")];
    let config = cx.object(&top["config"], &cpath, &["local-grpc-address"], &[])?;
    let local_grpc_address = match config.get("local-grpc-address") {
        None => None,
        Some(v) => {
            let path = [Seg::Key("config"), Seg::Key("local-grpc-address")];
            let s = cx.string(v, &path)?;
            let addr =
                parse_svc_addr(s, true).map_err(|why| cx.err(&path, format!("{s:?}: {why}")))?;
            Some((cx.line(&path), addr))
        }
    };

    let ppath = [Seg::Key("peers")];
    let peers_v = cx.array(&top["peers"], &ppath)?;
    if peers_v.len() > limits.peers {
        let msg = format!("{} peers, more than PSP_MAX_PEERS ({})", peers_v.len(), limits.peers);
        return Err(cx.err(&ppath, msg));
    }
    let mut peers = Vec::with_capacity(peers_v.len());
    let mut local_vips = Vec::new();
    let mut session_src = Vec::new();
    for (i, pv) in peers_v.iter().enumerate() {
        let path = [Seg::Key("peers"), Seg::Index(i)];
        let keys = ["remote-grpc-address", "sessions"];
        let peer = cx.object(pv, &path, &keys, &keys)?;
        let apath = [&path[..], &[Seg::Key("remote-grpc-address")]].concat();
        let s = cx.string(&peer["remote-grpc-address"], &apath)?;
        let svc_addr =
            parse_svc_addr(s, false).map_err(|why| cx.err(&apath, format!("{s:?}: {why}")))?;
        let spath = [&path[..], &[Seg::Key("sessions")]].concat();
        let sessions = cx.array(&peer["sessions"], &spath)?;
        if sessions.is_empty() {
            return Err(cx.err(&spath, "no sessions (a peer needs at least one)"));
        }
        if sessions.len() > limits.sessions {
            let msg = format!(
                "{} sessions, more than PSP_MAX_SESSIONS ({}) for one peer",
                sessions.len(),
                limits.sessions
            );
            return Err(cx.err(&spath, msg));
        }
        let mut virt_ips = Vec::new();
        for (j, sv) in sessions.iter().enumerate() {
            let path = [&spath[..], &[Seg::Index(j)]].concat();
            let session = cx.object(sv, &path, &["local-vip", "remote-vips"], &["remote-vips"])?;
            let mut local = None;
            if let Some(v) = session.get("local-vip") {
                let lpath = [&path[..], &[Seg::Key("local-vip")]].concat();
                let s = cx.string(v, &lpath)?;
                let ip = match remote_vips(s, inner_v6) {
                    Ok(ips) if !s.contains('/') => ips[0],
                    Ok(_) => return Err(cx.err(&lpath, format!("{s:?}: an address, not a subnet"))),
                    Err(why) => return Err(cx.err(&lpath, why)),
                };
                local_vips.push((cx.line(&lpath), ip));
                local = Some(ip);
            }
            let rpath = [&path[..], &[Seg::Key("remote-vips")]].concat();
            let list = cx.array(&session["remote-vips"], &rpath)?;
            if list.is_empty() {
                return Err(cx.err(&rpath, "no remote VIPs (a session needs at least one)"));
            }
            for (k, item) in list.iter().enumerate() {
                let ipath = [&rpath[..], &[Seg::Index(k)]].concat();
                let s = cx.string(item, &ipath)?;
                let remote = remote_vips(s, inner_v6).map_err(|why| cx.err(&ipath, why))?;
                if let Some(local) = local {
                    session_src.extend(remote.iter().map(|&r| (r, local)));
                }
                virt_ips.extend(remote);
            }
        }
        peers.push(FilePeer { line: cx.line(&path), svc_addr, virt_ips });
    }
    Ok(PeersFile { local_grpc_address, peers, local_vips, session_src })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NVIDIA_STYLE: &str = r#"{
    "config": {
        "local-grpc-address": "10.1.1.50:3000"
    },
    "peers": [
        {
            "remote-grpc-address": "10.1.1.55",
            "sessions": [
                {
                    "local-vip": "192.168.1.1",
                    "remote-vips": ["192.168.1.2", "192.168.2.0/30"]
                },
                { "remote-vips": ["192.168.1.3"] }
            ]
        },
        {
            "remote-grpc-address": "[fd00::56]:3001",
            "sessions": [ { "remote-vips": ["192.168.3.1"] } ]
        }
    ]
}"#;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn err(text: &str) -> String {
        parse("peers.json", text, false, Limits::DOCA).unwrap_err().to_string()
    }

    #[test]
    fn parses_peers_sessions_and_subnets() {
        let f = parse("peers.json", NVIDIA_STYLE, false, Limits::DOCA).unwrap();
        assert_eq!(f.local_grpc_address, Some((3, "10.1.1.50:3000".parse().unwrap())));
        assert_eq!(f.local_vips, vec![(10, ip("192.168.1.1"))]);
        assert_eq!(f.peers.len(), 2);
        assert_eq!((f.peers[0].line, f.peers[0].svc_addr), (6, "10.1.1.55:3000".parse().unwrap()));
        let want: Vec<IpAddr> = [
            "192.168.1.2",
            "192.168.2.0",
            "192.168.2.1",
            "192.168.2.2",
            "192.168.2.3",
            "192.168.1.3",
        ]
        .into_iter()
        .map(ip)
        .collect();
        assert_eq!(f.peers[0].virt_ips, want);
        assert_eq!(f.peers[1].svc_addr, "[fd00::56]:3001".parse().unwrap());
        assert_eq!(f.peers[1].virt_ips, vec![ip("192.168.3.1")]);
        // No peers at all is allowed (NVIDIA warns): the gateway only answers.
        let f = parse("p", r#"{"config": {}, "peers": []}"#, false, Limits::DOCA).unwrap();
        assert!(f.peers.is_empty() && f.local_grpc_address.is_none());
    }

    #[test]
    fn inner_ipv6_addresses() {
        let t = r#"{"config": {}, "peers": [{"remote-grpc-address": "127.0.0.1:50152",
                    "sessions": [{"local-vip": "fd00:10::1", "remote-vips": ["fd00:10::2"]}]}]}"#;
        let f = parse("p", t, true, Limits::DOCA).unwrap();
        assert_eq!(f.peers[0].virt_ips, vec![ip("fd00:10::2")]);
        assert_eq!(f.local_vips, vec![(2, ip("fd00:10::1"))]);
        let e = parse("p", t, false, Limits::DOCA).unwrap_err().to_string();
        assert!(e.contains("is not IPv4, as --inner-ip-type ipv4"), "{e}");
        let e = parse("p", &t.replace("fd00:10::2\"", "fd00:10::/120\""), true, Limits::DOCA);
        assert!(e.unwrap_err().to_string().contains("subnets are IPv4 only"));
    }

    #[test]
    fn limits_of_peers_and_sessions() {
        assert_eq!((PSP_MAX_PEERS, PSP_MAX_SESSIONS), (1 << 20, 1 << 20));
        let small = Limits { peers: 1, sessions: 1 };
        let e = parse("peers.json", NVIDIA_STYLE, false, small).unwrap_err().to_string();
        assert_eq!(e, "peers.json:5: \"peers\": 2 peers, more than PSP_MAX_PEERS (1)");
        let e = parse("peers.json", NVIDIA_STYLE, false, Limits { peers: 2, sessions: 1 });
        assert_eq!(
            e.unwrap_err().to_string(),
            "peers.json:8: \"peers\"[0].\"sessions\": 2 sessions, more than PSP_MAX_SESSIONS (1) \
             for one peer"
        );
        assert!(parse("p", NVIDIA_STYLE, false, Limits { peers: 2, sessions: 2 }).is_ok());
    }

    #[test]
    fn errors_name_file_line_and_path() {
        let bad_vip = NVIDIA_STYLE.replace("192.168.1.3\"", "192.168.1.300\"");
        assert_eq!(
            err(&bad_vip),
            "peers.json:13: \"peers\"[0].\"sessions\"[1].\"remote-vips\"[0]: \"192.168.1.300\" \
             is not an IPv4 address or subnet"
        );
        let bad_mask = NVIDIA_STYLE.replace("/30", "/8");
        assert!(err(&bad_mask).starts_with("peers.json:11: "), "{}", err(&bad_mask));
        assert!(err(&bad_mask).ends_with("subnet mask length must be 16..=32"));
        let unknown = NVIDIA_STYLE.replace("\"local-vip\"", "\"local-vips\"");
        assert_eq!(
            err(&unknown),
            "peers.json:10: \"peers\"[0].\"sessions\"[0].\"local-vips\": unknown key \
             (expected local-vip, remote-vips)"
        );
        let no_addr = NVIDIA_STYLE.replace("\"remote-grpc-address\": \"10.1.1.55\",", "");
        assert_eq!(
            err(&no_addr),
            "peers.json:6: \"peers\"[0]: missing required key \"remote-grpc-address\""
        );
        let bad_port = NVIDIA_STYLE.replace("[fd00::56]:3001", "[fd00::56]:0");
        assert!(err(&bad_port).starts_with("peers.json:17: \"peers\"[1].\"remote-grpc-address\""));
        for (text, want) in [
            ("[]", "peers.json:1: expected an object, got an array"),
            (r#"{"peers": []}"#, "peers.json:1: missing required key \"config\""),
            (r#"{"config": {}, "peers": {}}"#, "peers.json:1: \"peers\": expected an array"),
            (
                "{\"config\": {},\n \"peers\": [{\"remote-grpc-address\": \"10.0.0.1\", \"sessions\": []}]}",
                "peers.json:2: \"peers\"[0].\"sessions\": no sessions",
            ),
            (
                "{\"config\": {}, \"peers\": [{\"remote-grpc-address\": 7, \"sessions\": []}]}",
                "peers.json:1: \"peers\"[0].\"remote-grpc-address\": expected a string, got 7",
            ),
            (
                "{\"config\": {}, \"peers\": [{\"remote-grpc-address\": \"10.0.0.1\",\n\
                 \"sessions\": [{\"remote-vips\": []}]}]}",
                "peers.json:2: \"peers\"[0].\"sessions\"[0].\"remote-vips\": no remote VIPs",
            ),
            (
                "{\"config\": {\"local-grpc-address\": \"x\"}, \"peers\": []}",
                "peers.json:1: \"config\".\"local-grpc-address\": \"x\": not an IP address",
            ),
            ("{\n\"config\": {},", "peers.json:2:13: JSON syntax error: EOF"),
        ] {
            let e = err(text);
            assert!(e.starts_with(want), "{e}\nwant: {want}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
