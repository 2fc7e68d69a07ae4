//! `tunnel-setup`: tunnels per second through a real gateway.
//!
//! Starts `psp-gateway` (next to this binary) on software ports
//! (`net_null`, no receive) with a tunnels file that maps N virtual
//! addresses to this harness, then asks it for N tunnels over real gRPC on
//! loopback, the way a peer would: `RequestMultipleTunnelParams` with our
//! reverse parameters, so each tunnel costs the gateway a key from its
//! pool, an ingress ACL insertion and an egress tunnel insertion, each
//! visible on its packet core before the answer. Reports tunnels/s, the
//! latency of one exchange (p50, p99, max) and the gateway's memory per
//! tunnel. With `--json` the last line is one JSON object.
//!
//!     tunnel-setup --tunnels 10000 [--concurrency 4] [--batch 1] [--json]

use anyhow::{bail, Result};
use clap::Parser;
use engine::psp::keygen::SpiKeyGenerator;
use engine::psp::Version;
use rand_chacha::rand_core::SeedableRng;
use rpc::client::{Client, TunnelRequest};
use rpc::params::TunnelParams;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Tunnel setup rate of a psp-gateway over gRPC on loopback")]
struct Args {
    /// Tunnels to create.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    tunnels: u32,
    /// Concurrent gRPC connections.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Tunnels per request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4096))]
    batch: u32,
    /// The gateway binary (default: psp-gateway beside this one).
    #[arg(long)]
    gateway: Option<std::path::PathBuf>,
    /// Print a JSON object as the last line.
    #[arg(long)]
    json: bool,
}

/// The i-th peer virtual address: 11.0.0.1 on.
fn peer_ip(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0b00_0001 + i))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let gw = perf::Gateway::binary(a.gateway.as_deref())?;
    let dir = std::env::temp_dir().join(format!("pspgw-setup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let tunnels_file = dir.join("tunnels.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tunnels_file)?);
        for chunk in (0..a.tunnels).collect::<Vec<_>>().chunks(1000) {
            let ips: Vec<String> = chunk.iter().map(|&i| peer_ip(i).to_string()).collect();
            writeln!(f, "127.0.0.1:1:{}", ips.join(","))?;
        }
    }
    let svc = format!("127.0.0.1:{}", perf::free_port()?);
    let local_virt = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1));
    let mut args = perf::gateway_args(
        "net_null1,no-rx=1",
        local_virt,
        &svc,
        &tunnels_file,
        a.tunnels,
        "insertion",
    );
    // One peer (this harness) asks for everything: measure capacity, not
    // the per-peer limit.
    args.extend(["--peer-rate-limit".to_string(), "0".to_string()]);
    let child = perf::Gateway::start(&gw, &args, "TUNNEL_SETUP_VERBOSE")?;
    let pid = child.pid();
    let rss_before = rss_kb(pid);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(a.tunnels as usize)));
    let keys =
        Arc::new(Mutex::new(SpiKeyGenerator::new(&mut rand_chacha::ChaCha20Rng::from_os_rng())));
    let t0 = Instant::now();
    let errors: Vec<String> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..a.concurrency {
            let (next, latencies, keys, svc) =
                (next.clone(), latencies.clone(), keys.clone(), svc.clone());
            let (n, batch) = (a.tunnels as usize, a.batch as usize);
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(&svc, Duration::from_secs(5))
                    .await
                    .map_err(|e| e.to_string())?;
                loop {
                    let start = next.fetch_add(batch, Ordering::Relaxed);
                    if start >= n {
                        return Ok::<(), String>(());
                    }
                    let end = (start + batch).min(n);
                    let reverse: Vec<_> = {
                        let mut g = keys.lock().unwrap_or_else(|e| e.into_inner());
                        g.bulk(Version::AesGcm256, end - start).map_err(|e| e.to_string())?
                    };
                    let reqs: Vec<TunnelRequest> = (start..end)
                        .zip(reverse)
                        .map(|(i, k)| TunnelRequest {
                            virt_src: peer_ip(i as u32),
                            virt_dst: local_virt,
                            reverse: Some(TunnelParams {
                                mac: None,
                                ip: "fd00::2".parse().expect("literal"),
                                version: Version::AesGcm256,
                                spi: k.spi,
                                key: k.key,
                                virt_cookie: None,
                                encap_type: 0,
                            }),
                        })
                        .collect();
                    let t = Instant::now();
                    client
                        .request_tunnels(&[Version::AesGcm256], &reqs)
                        .await
                        .map_err(|e| format!("tunnels {start}..{end}: {e}"))?;
                    latencies.lock().unwrap_or_else(|e| e.into_inner()).push(t.elapsed());
                }
            }));
        }
        let mut errors = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(e.to_string()),
            }
        }
        errors
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let rss_after = rss_kb(pid);
    // SIGINT: the gateway stops cleanly and prints its insertion latency.
    let stopped = child.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(e) = errors.first() {
        bail!("{} of {} connections failed, e.g.: {e}", errors.len(), a.concurrency);
    }
    let mut lat = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    lat.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    let (p50, p99, max) = (us(pct(0.5)), us(pct(0.99)), us(*lat.last().expect("requests")));
    let rate = f64::from(a.tunnels) / elapsed;
    let per_tunnel = (rss_after.saturating_sub(rss_before) * 1024) as f64 / f64::from(a.tunnels);
    let insertion = match stopped.latency("insertion") {
        Some((n, p50, p99, max)) => {
            format!("perf insertion: count {n}, p50 {p50:.1} us, p99 {p99:.1} us, max {max:.1} us")
        }
        None => "perf insertion: no samples".to_owned(),
    };
    println!(
        "{} tunnels in {elapsed:.2} s over {} connections, {} per request: {rate:.0} tunnels/s; \
         one exchange p50 {p50:.0} us, p99 {p99:.0} us, max {max:.0} us; gateway memory \
         {per_tunnel:.0} B per tunnel; gateway {insertion}",
        a.tunnels, a.concurrency, a.batch
    );
    if a.json {
        println!(
            "{{\"tunnels\":{},\"concurrency\":{},\"batch\":{},\"seconds\":{elapsed:.3},\
             \"tunnels_per_s\":{rate:.1},\"p50_us\":{p50:.1},\"p99_us\":{p99:.1},\
             \"max_us\":{max:.1},\"rss_bytes_per_tunnel\":{per_tunnel:.0}}}",
            a.tunnels, a.concurrency, a.batch
        );
    }
    Ok(())
}
