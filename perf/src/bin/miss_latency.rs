//! `miss-latency`: the on-demand path of a real gateway, N times.
//!
//! Starts `psp-gateway` with its unsecured port on a `net_tap` device and
//! its secure port on `net_null`, and plays its peer in-process: a
//! `PSP_Gateway` server (the real one, over a backend that accepts every
//! tunnel) that serves N virtual addresses 11.0.(k/256).(k%256). Then it
//! sends one UDP datagram to each of them through the tap, one every
//! `--interval-ms`: each misses, is held, keys are exchanged over gRPC on
//! loopback, the tunnel is inserted and the held datagram resubmitted. The
//! gateway's `--perf-print` miss-to-first-packet latency (first miss at the
//! control plane to its resubmission to the packet core) gives p50/p99/max.
//! Needs root (the tap device and its route). With `--json` the last line
//! is one JSON object with `misses`, `p50_us`, `p99_us`, `max_us`.
//!
//!     miss-latency --misses 500 [--interval-ms 5] [--json]

use anyhow::{bail, Context, Result};
use clap::Parser;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::Spi;
use rpc::runtime::RpcRuntime;
use rpc::server::{BackendError, EgressTunnel, Gateway, ServerConfig, TunnelBackend};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Miss-to-first-packet latency of a psp-gateway's on-demand tunnels")]
struct Args {
    /// Destinations to miss on (one tunnel each).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    misses: u32,
    /// Time between two first packets.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
    /// The gateway binary (default: psp-gateway beside this one).
    #[arg(long)]
    gateway: Option<std::path::PathBuf>,
    /// Print a JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// The peer's datapath: takes every tunnel, keeps nothing.
struct Accept;

impl TunnelBackend for Accept {
    fn tunnel_count(&self) -> usize {
        0
    }
    fn install_ingress_acl(&self, _: Spi, _: IpAddr, _: IpAddr) -> Result<(), BackendError> {
        Ok(())
    }
    fn remove_ingress_acl(&self, _: Spi, _: IpAddr, _: IpAddr) {}
    fn create_egress_tunnel(&self, _: &EgressTunnel) -> Result<(), BackendError> {
        Ok(())
    }
    fn remove_egress_tunnel(&self, _: IpAddr, _: IpAddr) {}
    fn set_master_keys(&self, _: Option<&MasterKeyPair>, _: Option<usize>) {}
}

/// The k-th destination, 11.0.0.1 on.
fn dst(k: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0b00_0001 + k))
}

fn ip(args: &[&str]) -> Result<()> {
    let st = Command::new("ip").args(args).status().context("run ip")?;
    if !st.success() {
        bail!("ip {}: {st}", args.join(" "));
    }
    Ok(())
}

/// Removes the route when done, however the run ends.
struct Route(String);

impl Drop for Route {
    fn drop(&mut self) {
        // Gone with the tap when the gateway stopped, usually.
        let _ = Command::new("ip")
            .args(["route", "del", "11.0.0.0/16", "dev", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn main() -> Result<()> {
    let a = Args::parse();
    let gw_bin = perf::Gateway::binary(a.gateway.as_deref())?;
    // The VM: the kernel side of the tap, whose datagrams miss (a session
    // is asked for only from one of the gateway's VMs).
    let local_virt = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 2));

    // The peer.
    let rt = RpcRuntime::new()?;
    let mut cfg = ServerConfig::new("fd00::2".parse()?);
    cfg.local_virt_ips = (0..a.misses).map(dst).collect();
    cfg.peers.insert("127.0.0.1".parse()?, [local_virt].into_iter().collect());
    cfg.max_tunnels = a.misses as usize * 2;
    let peer = rt.start_server("127.0.0.1:0".parse()?, Gateway::new(cfg, Accept)?)?;
    let peer_addr = peer.local_addr();

    // The gateway under test.
    let dir = std::env::temp_dir().join(format!("pspgw-miss-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tunnels_file = dir.join("tunnels.txt");
    let ips: Vec<String> = (0..a.misses).map(|k| dst(k).to_string()).collect();
    std::fs::write(&tunnels_file, format!("{peer_addr}:{}\n", ips.join(",")))?;
    let tap = format!("pspmiss{}", std::process::id() % 100_000);
    let svc = format!("127.0.0.1:{}", perf::free_port()?);
    let args = perf::gateway_args(
        &format!("net_tap0,iface={tap}"),
        local_virt,
        &svc,
        &tunnels_file,
        a.misses * 2,
        "all",
    );
    let gw = perf::Gateway::start(&gw_bin, &args, "MISS_LATENCY_VERBOSE")?;

    // The kernel side of the tap: a route to every destination through a
    // neighbour that needs no ARP, so each datagram goes out at once.
    let _ = Command::new("sysctl")
        .args(["-qw", &format!("net.ipv6.conf.{tap}.disable_ipv6=1")])
        .status();
    ip(&["link", "set", &tap, "up"])?;
    ip(&["addr", "add", "10.200.0.2/32", "dev", &tap])?;
    ip(&[
        "neigh",
        "replace",
        "10.200.0.1",
        "lladdr",
        "02:00:00:00:c8:01",
        "dev",
        &tap,
        "nud",
        "permanent",
    ])?;
    ip(&["route", "add", "11.0.0.0/16", "via", "10.200.0.1", "dev", &tap, "onlink"])?;
    let _route = Route(tap.clone());

    let sock = UdpSocket::bind("10.200.0.2:0")?;
    for k in 0..a.misses {
        sock.send_to(b"first packet", (dst(k), 9))?;
        std::thread::sleep(Duration::from_millis(a.interval_ms));
    }
    std::thread::sleep(Duration::from_millis(500));
    let stopped = gw.stop()?;
    let stdout = &stopped.stdout;
    peer.shutdown(&rt);
    let _ = std::fs::remove_dir_all(&dir);
    let Some((count, p50, p99, max)) = stopped.latency("miss_to_first_packet") else {
        bail!("no miss-to-first-packet figures in the gateway's output:\n{stdout}");
    };
    if count < u64::from(a.misses) {
        bail!("{count} of {} first packets came through:\n{stdout}", a.misses);
    }
    let exchange = stopped.latency("key_gen").map(|k| k.2).unwrap_or(0.0);
    println!(
        "{count} on-demand tunnels, one first packet every {} ms: miss to first packet p50 \
         {p50:.0} us, p99 {p99:.0} us, max {max:.0} us (reverse SPI and ACL p99 {exchange:.0} us)",
        a.interval_ms
    );
    if a.json {
        println!(
            "{{\"misses\":{count},\"interval_ms\":{},\"p50_us\":{p50:.1},\"p99_us\":{p99:.1},\
             \"max_us\":{max:.1}}}",
            a.interval_ms
        );
    }
    Ok(())
}
