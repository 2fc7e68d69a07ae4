//! `psp-gateway status`: a running gateway's tunnels, peers and counters,
//! asked over its gRPC service (`psp_gateway_ext.Admin/Status`), as tables
//! or `--json`.

use anyhow::{Context, Result};
use clap::{Arg, ArgAction, Command};
use rpc::pb_ext::StatusResponse;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::time::Duration;

fn command() -> Command {
    Command::new("psp-gateway status")
        .about("Print a running gateway's tunnels, peers and counters")
        .arg(
            Arg::new("svc-addr")
                .short('s')
                .long("svc-addr")
                .value_name("IP[:PORT]")
                .default_value("127.0.0.1")
                .help("The gateway's gRPC service (its -s/--svc-addr) [default port: 3000]"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("One JSON object"))
        .arg(
            Arg::new("grpc-cert")
                .long("grpc-cert")
                .value_name("PATH")
                .help("Client certificate, PEM (mutual TLS, with --grpc-key and --grpc-ca)"),
        )
        .arg(Arg::new("grpc-key").long("grpc-key").value_name("PATH").help("Client key, PEM"))
        .arg(
            Arg::new("grpc-ca")
                .long("grpc-ca")
                .value_name("PATH")
                .help("CA the gateway's certificate chains to, PEM"),
        )
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .value_name("SECONDS")
                .default_value("3")
                .value_parser(clap::value_parser!(u64).range(1..=600))
                .help("Give up after SECONDS"),
        )
}

/// Runs `psp-gateway status ARGS` (`args` without the program name and
/// `status`); exit code 0 when the gateway answered.
pub fn main(args: Vec<OsString>) -> std::process::ExitCode {
    let m = match command()
        .try_get_matches_from(std::iter::once(OsString::from("status")).chain(args))
    {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp) => {
            print!("{e}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            let first = e.to_string();
            eprintln!(
                "psp-gateway status: {}",
                first.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ")
            );
            return std::process::ExitCode::from(2);
        }
    };
    match run(&m) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("psp-gateway status: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(m: &clap::ArgMatches) -> Result<()> {
    let addr = m.get_one::<String>("svc-addr").map(String::as_str).unwrap_or("127.0.0.1");
    let timeout = Duration::from_secs(*m.get_one::<u64>("timeout").unwrap_or(&3));
    let path = |k: &str| m.get_one::<String>(k).map(std::path::PathBuf::from);
    let tls = match (path("grpc-cert"), path("grpc-key"), path("grpc-ca")) {
        (Some(cert), Some(key), Some(ca)) => Some(rpc::tls::TlsFiles { cert, key, ca }.load()?),
        (None, None, None) => None,
        _ => anyhow::bail!("--grpc-cert, --grpc-key and --grpc-ca: all three or none"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = rt.block_on(async {
        let mut c = rpc::client::Client::connect_with(addr, timeout, tls.as_ref())
            .await
            .with_context(|| format!("--svc-addr {addr}"))?;
        c.status().await.with_context(|| format!("--svc-addr {addr}: status"))
    })?;
    if m.get_flag("json") {
        println!("{}", to_json(&status));
    } else {
        print!("{}", to_table(&status));
    }
    Ok(())
}

/// `name{labels}` as the metrics endpoint writes a sample (`name` alone
/// without labels).
fn counter_key(c: &rpc::pb_ext::CounterValue) -> String {
    if c.labels.is_empty() {
        c.name.clone()
    } else {
        format!("{}{{{}}}", c.name, c.labels)
    }
}

/// The answer as one JSON object.
pub fn to_json(s: &StatusResponse) -> String {
    use serde_json::json;
    let counters: serde_json::Map<String, serde_json::Value> =
        s.counters.iter().map(|c| (counter_key(c), json!(c.value))).collect();
    json!({
        "instance_id": format!("{:016x}", s.instance_id),
        "key_epoch": s.key_epoch,
        "version": s.version,
        "uptime_ms": s.uptime_ms,
        "session_counters": s.session_counters,
        "tunnels": s.tunnels.iter().map(|t| json!({
            "virt_dst": t.virt_dst, "virt_src": t.virt_src, "peer": t.peer, "state": t.state,
            "ours": t.ours, "reverse": t.reverse, "held": t.held,
            "tx_spi": t.tx_spi, "tx_packets": t.tx_packets, "tx_bytes": t.tx_bytes,
            "rx_packets": t.rx_packets, "rx_bytes": t.rx_bytes,
        })).collect::<Vec<_>>(),
        "peers": s.peers.iter().map(|p| json!({
            "addr": p.addr, "instance_id": format!("{:016x}", p.instance_id), "key_epoch": p.key_epoch,
            "reachable": p.reachable, "destinations": p.destinations, "source": p.source,
        })).collect::<Vec<_>>(),
        "counters": counters,
    })
    .to_string()
}

/// The answer as tables: tunnels, peers, and the counters that are not
/// zero.
pub fn to_table(s: &StatusResponse) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "gateway {:016x}  version {}  up {:.1} s  key epoch {}",
        s.instance_id,
        s.version,
        s.uptime_ms as f64 / 1000.0,
        s.key_epoch
    );
    let _ = writeln!(o, "\ntunnels ({}):", s.tunnels.len());
    let _ = writeln!(
        o,
        "  {:<16} {:<16} {:<24} {:<13} {:>4} {:>7} {:>6} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "VIRT-DST",
        "VIRT-SRC",
        "PEER",
        "STATE",
        "OURS",
        "REVERSE",
        "HELD",
        "TX-SPI",
        "TX-PKTS",
        "TX-BYTES",
        "RX-PKTS",
        "RX-BYTES"
    );
    if !s.session_counters {
        let _ = writeln!(
            o,
            "  (TX-/RX- columns: the DOCA backend does not count per session; 0 is not a count)"
        );
    }
    for t in &s.tunnels {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let peer = if t.peer.is_empty() { "-" } else { &t.peer };
        let spi = if t.tx_spi == 0 { "-".to_string() } else { format!("{:#010x}", t.tx_spi) };
        let src = if t.virt_src.is_empty() { "-" } else { &t.virt_src };
        let _ = writeln!(
            o,
            "  {:<16} {:<16} {:<24} {:<13} {:>4} {:>7} {:>6} {:>10} {:>10} {:>12} {:>12} {:>14}",
            t.virt_dst,
            src,
            peer,
            t.state,
            yn(t.ours),
            yn(t.reverse),
            t.held,
            spi,
            t.tx_packets,
            t.tx_bytes,
            t.rx_packets,
            t.rx_bytes
        );
    }
    let _ = writeln!(o, "\npeers ({}):", s.peers.len());
    let _ = writeln!(
        o,
        "  {:<24} {:<16} {:>5} {:<9} {:>5} {:<9}",
        "ADDR", "INSTANCE", "EPOCH", "REACHABLE", "DSTS", "SOURCE"
    );
    for p in &s.peers {
        let inst =
            if p.instance_id == 0 { "-".to_string() } else { format!("{:016x}", p.instance_id) };
        let _ = writeln!(
            o,
            "  {:<24} {:<16} {:>5} {:<9} {:>5} {:<9}",
            p.addr,
            inst,
            p.key_epoch,
            if p.reachable { "yes" } else { "no" },
            p.destinations,
            p.source
        );
    }
    let _ = writeln!(o, "\ncounters (not zero):");
    for c in s.counters.iter().filter(|c| c.value != 0) {
        let _ = writeln!(o, "  {:<72} {:>14}", counter_key(c), c.value);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpc::pb_ext::{CounterValue, PeerStatus, TunnelStatus};

    fn sample() -> StatusResponse {
        StatusResponse {
            instance_id: 0xab,
            key_epoch: 2,
            version: "v".into(),
            uptime_ms: 1500,
            tunnels: vec![TunnelStatus {
                virt_dst: "10.0.0.2".into(),
                virt_src: "10.0.0.1".into(),
                peer: "127.0.0.1:1".into(),
                state: "up".into(),
                ours: true,
                reverse: false,
                held: 0,
                tx_packets: 5,
                tx_bytes: 700,
                rx_packets: 4,
                rx_bytes: 512,
                tx_spi: 0x8000_0010,
            }],
            peers: vec![PeerStatus {
                addr: "127.0.0.1:1".into(),
                instance_id: 7,
                key_epoch: 0,
                reachable: true,
                destinations: 1,
                source: "directory".into(),
            }],
            counters: vec![
                CounterValue {
                    name: "psp_gateway_misses_total".into(),
                    labels: String::new(),
                    value: 3,
                },
                CounterValue {
                    name: "psp_gateway_pipe_packets_total".into(),
                    labels: "pipe=\"rss\"".into(),
                    value: 0,
                },
            ],
            session_counters: true,
        }
    }

    #[test]
    fn table_and_json() {
        let t = to_table(&sample());
        assert!(
            t.contains("10.0.0.2") && t.contains("127.0.0.1:1") && t.contains("directory"),
            "{t}"
        );
        assert!(t.contains("psp_gateway_misses_total") && !t.contains("pipe=\"rss\""), "{t}");
        let row = t.lines().find(|l| l.contains("10.0.0.2")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[..2], ["10.0.0.2", "10.0.0.1"], "destination, our VM: {t}");
        assert_eq!(cols[7..], ["0x80000010", "5", "700", "4", "512"], "{t}");
        let j: serde_json::Value = serde_json::from_str(&to_json(&sample())).unwrap();
        assert_eq!(j["tunnels"][0]["state"], "up");
        assert_eq!(j["tunnels"][0]["virt_src"], "10.0.0.1");
        assert_eq!(j["tunnels"][0]["tx_bytes"], 700);
        assert_eq!(j["tunnels"][0]["rx_packets"], 4);
        assert_eq!(j["tunnels"][0]["tx_spi"], 0x8000_0010u32);
        assert_eq!(j["peers"][0]["instance_id"], "0000000000000007");
        assert_eq!(j["counters"]["psp_gateway_misses_total"], 3);
        assert_eq!(j["counters"]["psp_gateway_pipe_packets_total{pipe=\"rss\"}"], 0);
        assert_eq!(j["session_counters"], true);
        assert!(!t.contains("does not count per session"), "{t}");
    }

    #[test]
    fn a_backend_without_session_counters_is_named() {
        let s = StatusResponse { session_counters: false, ..sample() };
        assert!(to_table(&s).contains("DOCA backend does not count per session"));
        let j: serde_json::Value = serde_json::from_str(&to_json(&s)).unwrap();
        assert_eq!(j["session_counters"], false);
    }
}
