//! [`ConfigError`]: why the configuration is refused, one line each.

use std::net::{IpAddr, SocketAddr};

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
    /// A bad value in the `-c/--config` peers file.
    #[error("{at}: {msg}")]
    PeersFile {
        /// `peers.json:7`.
        at: String,
        /// The JSON path and what is wrong there.
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
