//! End-to-end performance harnesses that users run on their own hardware.
//!
//! - `throughput`: packets through the real DPDK datapath (a `net_pcap`
//!   port replaying a capture forever into the pipeline, out to a sink),
//!   Mpps and Gbit/s per packet core, against the raw AEAD rate of the same
//!   core.
//!
//! - `tunnel-setup`: tunnels per second and the latency of one key
//!   exchange through a real gateway over gRPC.
//! - `miss-latency`: the on-demand path, first packet to an unknown
//!   destination until it leaves encrypted, through a real gateway.
//!
//! [`Gateway`] starts the `psp-gateway` binary for the last two, knows it
//! ready when `psp-gateway status` answers, and reads its figures from its
//! final `--stats-json` report.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `psp-gateway` child process, started and serving, writing its
/// statistics reports (`--stats-json`) to a file of its own.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    stats: std::path::PathBuf,
}

/// What a stopped gateway left: its standard output and its final
/// `--stats-json` report (README "Statistics as JSON").
#[derive(Debug)]
pub struct Stopped {
    /// Its standard output (`--perf-print` and `--stat-print` text).
    pub stdout: String,
    /// The last `"report": "final"` object.
    pub report: serde_json::Value,
}

impl Stopped {
    /// A `--perf-print` latency from the report (`key_gen`, `insertion`,
    /// `miss_to_first_packet`): (count, p50, p99, max) in microseconds,
    /// `None` without samples.
    pub fn latency(&self, name: &str) -> Option<(u64, f64, f64, f64)> {
        let l = &self.report["perf"][name];
        let count = l["count"].as_u64().filter(|&c| c > 0)?;
        Some((count, l["p50_us"].as_f64()?, l["p99_us"].as_f64()?, l["max_us"].as_f64()?))
    }
}

impl Gateway {
    /// The binary beside the harness (or `explicit`), with a hint when
    /// it is not built.
    pub fn binary(explicit: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
        let gw = match explicit {
            Some(p) => p.to_owned(),
            None => std::env::current_exe()?.with_file_name("psp-gateway"),
        };
        if !gw.exists() {
            anyhow::bail!(
                "{}: not found (cargo build --release --bin psp-gateway, or --gateway)",
                gw.display()
            );
        }
        Ok(gw)
    }

    /// Starts `gw` with `args` (which name its `-s` service address) and
    /// waits (up to 30 s) until `psp-gateway status` gets an answer from
    /// it, the documented readiness check; with `verbose_env` set in the
    /// environment its log is echoed.
    pub fn start(gw: &std::path::Path, args: &[String], verbose_env: &str) -> anyhow::Result<Self> {
        let svc = args
            .windows(2)
            .find(|w| w[0] == "-s" || w[0] == "--svc-addr")
            .map(|w| w[1].clone())
            .ok_or_else(|| anyhow::anyhow!("the gateway's arguments give no -s"))?;
        let stats = std::env::temp_dir().join(format!(
            "perf-gw-{}-{}.stats.jsonl",
            std::process::id(),
            svc.replace(':', "_")
        ));
        let mut child = Command::new(gw)
            .args(args)
            .arg("--stats-json")
            .arg(&stats)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("start {}: {e}", gw.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("gateway stderr"))?;
        let verbose = std::env::var_os(verbose_env).is_some();
        // Drained so that the gateway never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if verbose {
                    eprintln!("gateway: {line}");
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new(gw)
                .args(["status", "-s", &svc, "--timeout", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(Gateway { child, stats });
            }
            let exited = child.try_wait()?.is_some();
            if exited || std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(&stats);
                anyhow::bail!("the gateway did not start ({verbose_env}=1 shows its log)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGINT (it writes its final counters and latencies)
    /// and returns what it left.
    pub fn stop(self) -> anyhow::Result<Stopped> {
        let _ = Command::new("kill").args(["-INT", &self.pid().to_string()]).status();
        let out = self.child.wait_with_output()?;
        let text = std::fs::read_to_string(&self.stats);
        let _ = std::fs::remove_file(&self.stats);
        let text = text.map_err(|e| anyhow::anyhow!("{}: {e}", self.stats.display()))?;
        let report = final_report(&text)
            .ok_or_else(|| anyhow::anyhow!("{}: no final report", self.stats.display()))?;
        Ok(Stopped { stdout: String::from_utf8_lossy(&out.stdout).into_owned(), report })
    }
}

/// The last final report of a `--stats-json` file's text.
pub fn final_report(text: &str) -> Option<serde_json::Value> {
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["report"] == "final" && r["schema"] == 1)
}

/// The command line of a gateway under test: secure port `net_null`
/// (transmit only), unsecured port `unsecured`, one core, virtual address
/// `local_virt`, gRPC on `svc`, peers from `tunnels_file`, room for
/// `max_tunnels`, `--perf-print perf_print`.
pub fn gateway_args(
    unsecured: &str,
    local_virt: std::net::IpAddr,
    svc: &str,
    tunnels_file: &std::path::Path,
    max_tunnels: u32,
    perf_print: &str,
) -> Vec<String> {
    let (virt, file, max) =
        (local_virt.to_string(), tunnels_file.to_string_lossy(), max_tunnels.to_string());
    [
        "-p",
        "net_null0,no-rx=1",
        "-r",
        unsecured,
        "-m",
        "0x1",
        "--local-virt-ip",
        &virt,
        "--uplink-ip",
        "fd00::1",
        "-s",
        svc,
        "-f",
        &file,
        "-x",
        &max,
        "--perf-print",
        perf_print,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Writes `frames` as a classic pcap file (Ethernet, microseconds).
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) -> std::io::Result<()> {
    std::fs::write(path, engine::pcap::encode_frames(frames))
}

/// An Ethernet/IPv4/UDP frame whose IP packet is `ip_len` bytes (at least
/// 28), from `src` to `dst`, with UDP source port `sport`.
pub fn udp_frame(ip_len: usize, src: [u8; 4], dst: [u8; 4], sport: u16) -> Vec<u8> {
    let ip_len = ip_len.max(28);
    let mut f = vec![0u8; 14 + ip_len];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    engine::wire::ipv4_emit(&mut f[14..], src.into(), dst.into(), 17, 0, 64, ip_len as u16);
    engine::wire::udp_emit(&mut f[34..], sport, 5001, (ip_len - 20) as u16);
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_final_report_and_its_latencies() {
        let text = "{\"schema\":1,\"report\":\"periodic\",\"perf\":{}}\n\
                    {\"schema\":1,\"report\":\"final\",\"perf\":{\"insertion\":\
                    {\"count\":30,\"mean_us\":1.5,\"p50_us\":1.2,\"p99_us\":9.0,\"max_us\":12.5},\
                    \"key_gen\":{\"count\":0}}}\n";
        let report = final_report(text).expect("final");
        let s = Stopped { stdout: String::new(), report };
        assert_eq!(s.latency("insertion"), Some((30, 1.2, 9.0, 12.5)));
        assert_eq!(s.latency("key_gen"), None);
        assert_eq!(s.latency("miss_to_first_packet"), None);
        assert!(final_report("{\"schema\":1,\"report\":\"periodic\"}").is_none());
    }

    #[test]
    fn frames_and_pcap() {
        let f = udp_frame(64, [10, 0, 0, 1], [10, 0, 0, 2], 7);
        assert_eq!(f.len(), 78);
        let ip = engine::wire::Ipv4Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum());
        let p = std::env::temp_dir().join(format!("perf-pcap-{}", std::process::id()));
        write_pcap(&p, &[f.clone(), f]).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 24 + 2 * (16 + 78));
        std::fs::remove_file(&p).unwrap();
    }
}
