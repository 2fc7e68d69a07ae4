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
//! [`Gateway`] starts the `psp-gateway` binary for the last two.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `psp-gateway` child process, started and serving.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
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

    /// Starts `gw` with `args` and waits (up to 30 s) for its gRPC service;
    /// with `verbose_env` set in the environment its log is echoed.
    pub fn start(gw: &std::path::Path, args: &[String], verbose_env: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(gw)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("start {}: {e}", gw.display()))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("gateway stderr"))?;
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        let verbose = std::env::var_os(verbose_env).is_some();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("gRPC service up") {
                    let _ = up_tx.send(());
                }
                if verbose {
                    eprintln!("gateway: {line}");
                }
            }
        });
        if up_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("the gateway did not start ({verbose_env}=1 shows its log)");
        }
        Ok(Gateway { child })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGINT (it prints its counters and latencies) and
    /// returns its standard output.
    pub fn stop(self) -> anyhow::Result<String> {
        let _ = Command::new("kill").args(["-INT", &self.pid().to_string()]).status();
        let out = self.child.wait_with_output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
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

/// The numbers of a `--perf-print` line such as `perf insertion: count 3,
/// mean 1.0 us, p50 1.0 us, p99 2.0 us, max 2.0 us`: (count, p50, p99,
/// max) in microseconds, from the last such line (the one at exit; the
/// gateway also prints them every few seconds).
pub fn perf_line(stdout: &str, name: &str) -> Option<(u64, f64, f64, f64)> {
    let line = stdout.lines().rev().find(|l| l.starts_with(&format!("perf {name}:")))?;
    let num = |key: &str| -> Option<f64> {
        let at = line.find(&format!("{key} "))? + key.len() + 1;
        line[at..].split([' ', ',']).next()?.parse().ok()
    };
    Some((num("count")? as u64, num("p50")?, num("p99")?, num("max")?))
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
    fn perf_lines() {
        let out = "perf insertion: count 3, mean 1.5 us, p50 1.2 us, p99 9.0 us, max 12.5 us\n\
                   perf insertion: count 30, mean 1.5 us, p50 1.2 us, p99 9.0 us, max 12.5 us\n";
        assert_eq!(perf_line(out, "insertion"), Some((30, 1.2, 9.0, 12.5)));
        assert_eq!(perf_line(out, "key-gen"), None);
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
