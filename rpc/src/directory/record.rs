//! One gateway's entry in the directory, as JSON under
//! `PREFIX/gateways/<instance id>`: what a peer needs to reach it and to
//! admit its requests.
//!
//! ```json
//! {"instance_id":"5f0c...","grpc_addr":"10.1.0.7:3000","uplink_ip":"fd00:1::7",
//!  "uplink_mac":"02:00:00:00:07:01","vfs":[{"name":"vf0","virt_ips":["10.0.0.7"]}],
//!  "psp_versions":[0,1,2,3],"version":"0.1.0 (...)"}
//! ```

use engine::psp::Version;
use engine::wire::MacAddr;
use serde_json::{json, Map, Value};
use std::net::{IpAddr, SocketAddr};

/// The largest entry read (a hostile or broken writer cannot make us
/// parse megabytes per key).
pub const MAX_RECORD_BYTES: usize = 64 << 10;

/// One unsecured port (VF) and the virtual addresses behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfRecord {
    /// Its name (the `-r` device, or the VF's).
    pub name: String,
    /// Virtual addresses served behind it (IPv4, or IPv6 with
    /// `--inner-ip-type ipv6`).
    pub virt_ips: Vec<IpAddr>,
}

/// A gateway's directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its process instance id, hex (also the last part of its key).
    pub instance_id: String,
    /// Where its gRPC service listens.
    pub grpc_addr: SocketAddr,
    /// Its uplink's IP address (outer address of its tunnels).
    pub uplink_ip: IpAddr,
    /// Its uplink's MAC address.
    pub uplink_mac: Option<MacAddr>,
    /// Its unsecured ports.
    pub vfs: Vec<VfRecord>,
    /// The PSP versions it accepts.
    pub psp_versions: Vec<Version>,
    /// Its software version (free text).
    pub version: String,
}

/// Why an entry is not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Longer than [`MAX_RECORD_BYTES`].
    #[error("entry of {0} bytes, at most {MAX_RECORD_BYTES}")]
    TooLong(usize),
    /// Not a JSON object.
    #[error("not a JSON object: {0}")]
    Json(String),
    /// A field is missing or wrong.
    #[error("field {field}: {why}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

fn field(field: &'static str, why: impl Into<String>) -> RecordError {
    RecordError::Field { field, why: why.into() }
}

fn string<'a>(o: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, RecordError> {
    o.get(name).and_then(Value::as_str).ok_or_else(|| field(name, "missing or not a string"))
}

impl Record {
    /// The JSON text.
    pub fn to_json(&self) -> String {
        json!({
            "instance_id": self.instance_id,
            "grpc_addr": self.grpc_addr.to_string(),
            "uplink_ip": self.uplink_ip.to_string(),
            "uplink_mac": self.uplink_mac.map(|m| m.to_string()),
            "vfs": self.vfs.iter().map(|v| json!({
                "name": v.name,
                "virt_ips": v.virt_ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "psp_versions": self.psp_versions.iter().map(|v| v.wire()).collect::<Vec<_>>(),
            "version": self.version,
        })
        .to_string()
    }

    /// Reads an entry; unknown fields are ignored (newer writers may add
    /// some).
    pub fn parse(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLong(bytes.len()));
        }
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
        let o = v.as_object().ok_or_else(|| RecordError::Json("not an object".into()))?;
        let instance_id = string(o, "instance_id")?;
        if instance_id.is_empty()
            || instance_id.len() > 32
            || !instance_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(field("instance_id", "must be 1 to 32 hex digits"));
        }
        let grpc_addr = string(o, "grpc_addr")?
            .parse::<SocketAddr>()
            .map_err(|_| field("grpc_addr", "not IP:PORT"))?;
        if grpc_addr.ip().is_unspecified() || grpc_addr.port() == 0 {
            return Err(field(
                "grpc_addr",
                "must be a reachable address and port, not 0.0.0.0 or port 0",
            ));
        }
        let uplink_ip = string(o, "uplink_ip")?
            .parse::<IpAddr>()
            .map_err(|_| field("uplink_ip", "not an IP address"))?;
        let uplink_mac = match o.get("uplink_mac") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(s.parse::<MacAddr>().map_err(|_| field("uplink_mac", "not a MAC address"))?)
            }
            Some(_) => return Err(field("uplink_mac", "not a string")),
        };
        let vfs_v = o
            .get("vfs")
            .and_then(Value::as_array)
            .ok_or_else(|| field("vfs", "missing or not an array"))?;
        let mut vfs = Vec::with_capacity(vfs_v.len());
        for vf in vfs_v {
            let vo = vf.as_object().ok_or_else(|| field("vfs", "an entry is not an object"))?;
            let name = vo.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let ips = vo
                .get("virt_ips")
                .and_then(Value::as_array)
                .ok_or_else(|| field("vfs", "an entry has no virt_ips array"))?;
            let virt_ips = ips
                .iter()
                .map(|ip| {
                    ip.as_str()
                        .and_then(|s| s.parse::<IpAddr>().ok())
                        .filter(|ip| {
                            !ip.is_unspecified()
                                && !ip.is_multicast()
                                && *ip != IpAddr::from([255, 255, 255, 255])
                        })
                        .ok_or_else(|| {
                            field("vfs", format!("virt_ips: {ip} is not a unicast IP address"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            vfs.push(VfRecord { name, virt_ips });
        }
        let psp_versions = match o.get("psp_versions") {
            None => Version::ALL.to_vec(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|n| {
                    n.as_u64().and_then(|n| u8::try_from(n).ok()).and_then(Version::from_wire)
                })
                .collect(),
            Some(_) => return Err(field("psp_versions", "not an array")),
        };
        let version = o.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(Record {
            instance_id: instance_id.to_ascii_lowercase(),
            grpc_addr,
            uplink_ip,
            uplink_mac,
            vfs,
            psp_versions,
            version,
        })
    }

    /// Every virtual address behind it.
    pub fn virt_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.vfs.iter().flat_map(|v| v.virt_ips.iter().copied())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An entry at 127.0.0.1:`port` serving `ips` (also the view's tests').
    pub(crate) fn record(id: &str, port: u16, ips: &[[u8; 4]]) -> Record {
        Record {
            instance_id: id.into(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            uplink_ip: "fd00:1::1".parse().unwrap(),
            uplink_mac: Some(MacAddr([2, 0, 0, 0, 1, 1])),
            vfs: vec![VfRecord {
                name: "vf0".into(),
                virt_ips: ips.iter().map(|&o| o.into()).collect(),
            }],
            psp_versions: Version::ALL.to_vec(),
            version: "test".into(),
        }
    }

    #[test]
    fn round_trip() {
        let r = record("00ff", 50161, &[[10, 0, 0, 1], [10, 0, 0, 9]]);
        assert_eq!(Record::parse(r.to_json().as_bytes()).unwrap(), r);
    }

    #[test]
    fn bad_entries_name_their_field() {
        let good: Value =
            serde_json::from_str(&record("ab", 1, &[[10, 0, 0, 1]]).to_json()).unwrap();
        let with = |k: &str, v: Value| {
            let mut o = good.clone();
            o[k] = v;
            Record::parse(o.to_string().as_bytes()).unwrap_err()
        };
        assert!(matches!(
            with("instance_id", json!("xyz")),
            RecordError::Field { field: "instance_id", .. }
        ));
        assert!(matches!(
            with("grpc_addr", json!("0.0.0.0:3000")),
            RecordError::Field { field: "grpc_addr", .. }
        ));
        assert!(matches!(
            with("grpc_addr", json!(5)),
            RecordError::Field { field: "grpc_addr", .. }
        ));
        assert!(matches!(
            with("uplink_mac", json!("zz")),
            RecordError::Field { field: "uplink_mac", .. }
        ));
        assert!(matches!(
            with("vfs", json!([{"virt_ips": ["224.0.0.1"]}])),
            RecordError::Field { field: "vfs", .. }
        ));
        assert!(matches!(Record::parse(b"[1]"), Err(RecordError::Json(_))));
        assert!(matches!(Record::parse(b"{"), Err(RecordError::Json(_))));
        assert!(matches!(
            Record::parse(&vec![b' '; MAX_RECORD_BYTES + 1]),
            Err(RecordError::TooLong(_))
        ));
    }
}
