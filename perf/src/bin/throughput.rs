//! `throughput`: packets per second through the real DPDK datapath.
//!
//! A `net_pcap` port replays a capture forever (`infinite_rx=1`) into the
//! gateway's packet cores, which run the full pipeline (`GatewayCore`:
//! egress ACL + encrypt, or decrypt + ingress ACL) and send to a
//! `net_null` sink. Reports Mpps and Gbit/s (inner IP bytes) per packet
//! core, and the raw AES-GCM seal rate of one core for the same size as
//! `aead_limit_gbps`. With `--json` the last line is one JSON object.
//!
//!     throughput --size 1400 --dir encrypt --seconds 5 [--lcores 1] [--json]

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use crossbeam::queue::ArrayQueue;
use engine::dpdk::{
    run_lcores, ControlPacket, CoreQueues, Eal, EalArgs, FlowMetadata, GatewayCore, Mbuf, Mempool,
    Port, PortConfig,
};
use engine::flows::{FlowBatch, FlowConfig, FlowProgrammer, FlowRequest, ReplicatedTables};
use engine::pipeline::{LcorePipeline, PipelineConfig};
use engine::psp::aead::AeadKey;
use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::encap::{EncapConfig, Encapsulator, OuterIp};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use engine::psp::{Mode, Spi, Version};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Dir {
    /// Host to net: egress ACL, encap, AES-GCM seal.
    Encrypt,
    /// Net to host: AES-GCM open, decap, ingress ACL.
    Decrypt,
}

#[derive(Debug, Parser)]
#[command(about = "Packets per second through the DPDK datapath, per packet core")]
struct Args {
    /// Inner IP packet size in bytes (64-1400).
    #[arg(long, default_value_t = 1400, value_parser = clap::value_parser!(u16).range(64..=1400))]
    size: u16,
    /// Direction.
    #[arg(long, value_enum)]
    dir: Dir,
    /// Seconds to run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// Packet cores (CPUs 0..K).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    lcores: u16,
    /// PSP version: 0 (AES-GCM-128) or 1 (AES-GCM-256).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    version: u8,
    /// Print a JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// Write the cleartext input frames (the encrypt direction's capture:
    /// 64 UDP flows of --size bytes) to this pcap file and exit, so that
    /// another datapath can be fed the same traffic (perf/peers/).
    #[arg(long, value_name = "FILE")]
    write_input: Option<std::path::PathBuf>,
}

fn masters(a: u8) -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[a; 32]).expect("32 bytes"),
        MasterKey::from_bytes(&[a + 1; 32]).expect("32 bytes"),
    )
}

fn tunnel(spi: Spi, version: Version, key_of: &MasterKeyPair) -> Result<Encapsulator> {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version,
        spi,
        crypt_offset: 0,
        vc: None,
        eth: None,
        outer: OuterIp::V6 { src: "fd00::1".parse()?, dst: "fd00::2".parse()? },
        ttl: 64,
    };
    Ok(Encapsulator::new(cfg, &key_of.derive(spi, version))?)
}

/// Gbit/s of one core sealing `size`-byte buffers in place for ~1 s.
fn aead_limit_gbps(version: Version, size: usize) -> f64 {
    let key = AeadKey::from_raw(version, &vec![7u8; version.key_len()]).expect("key length");
    let mut buf = vec![0u8; size];
    let (mut n, t0) = (0u64, Instant::now());
    while t0.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&n.to_be_bytes());
            std::hint::black_box(key.seal(nonce, &[0u8; 16], &mut buf));
            n += 1;
        }
    }
    (n * size as u64 * 8) as f64 / t0.elapsed().as_secs_f64() / 1e9
}

/// The CPU clock in GHz as `/proc/cpuinfo` reports it (nominal on most
/// VMs); 0 when it does not.
fn cpu_ghz() -> f64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("cpu MHz"))?;
            line.split(':').nth(1)?.trim().parse::<f64>().ok()
        })
        .map_or(0.0, |mhz| mhz / 1000.0)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let version = Version::from_wire(a.version).expect("0 or 1");
    let k = usize::from(a.lcores);
    let cpus: Vec<u32> = (0..u32::from(a.lcores)).collect();
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    if k > online {
        bail!("--lcores {k}: this machine has {online} CPUs");
    }
    let (ours, peer) = (masters(1), masters(7));
    let (our_spi, peer_spi) = (Spi(3), Spi(0x8000_0005));
    let size = usize::from(a.size);
    // 64 flows; decrypt replays what the peer would send us.
    let mut frames: Vec<Vec<u8>> =
        (0..64).map(|i| perf::udp_frame(size, [10, 0, 0, 1], [10, 0, 0, 2], 1000 + i)).collect();
    if let Some(path) = &a.write_input {
        perf::write_pcap(path, &frames)
            .with_context(|| format!("--write-input {}", path.display()))?;
        return Ok(());
    }
    if a.dir == Dir::Decrypt {
        let from_peer = tunnel(our_spi, version, &ours)?;
        for (i, f) in frames.iter_mut().enumerate() {
            let mut b = VecBuf::new(f);
            from_peer.encap(&mut b, i as u64 + 1, false)?;
            *f = b.data().to_vec();
        }
    }
    let dir = std::env::temp_dir().join(format!("pspgw-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("in.pcap");
    perf::write_pcap(&input, &frames)?;
    let queues: String =
        (0..k).map(|_| format!(",rx_pcap={},tx_pcap=/dev/null", input.display())).collect();
    let list = EalArgs::new()
        .memory_mb(512)
        .vdev(format!("net_pcap0{queues},infinite_rx=1"))
        .vdev("net_null0,no-rx=1")
        .build();
    if let Some(note) = &list.note {
        eprintln!("{note}");
    }
    let mut eal = Eal::init(&list.args).context("EAL init")?;
    eal.set_remove_runtime_dir(true);
    let meta = FlowMetadata::register(&eal)?;
    let pool = Mempool::new(&eal, "pspgw_perf", 16_383, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let mut replay = Port::by_name(&eal, "net_pcap0")?;
    let mut sink = Port::by_name(&eal, "net_null0")?;
    let pcfg = PortConfig { rx_queues: a.lcores, tx_queues: a.lcores, ..PortConfig::default() };
    for port in [&mut replay, &mut sink] {
        port.configure(&pcfg, &pool)?;
        port.start()?;
    }

    let cfg = PipelineConfig::default();
    let (backend, readers) = ReplicatedTables::new(k, cfg.max_tunnels, cfg.max_acl_entries, 1);
    let (mut programmer, client) = FlowProgrammer::new(backend, FlowConfig::default());
    let req = match a.dir {
        Dir::Encrypt => FlowRequest::InsertTunnel {
            dst: "10.0.0.2".parse()?,
            encap: Arc::new(tunnel(peer_spi, version, &peer)?),
            hw_key: None,
        },
        Dir::Decrypt => FlowRequest::InsertAcl { spi: our_spi, src: "10.0.0.1".parse()? },
    };
    if client.submit(FlowBatch { id: 1, requests: vec![req] }).is_err() {
        bail!("flow request ring full");
    }
    programmer.run_once();
    let to_control: ArrayQueue<ControlPacket> = ArrayQueue::new(1024);
    let resubmit: Vec<ArrayQueue<Mbuf>> = (0..k).map(|_| ArrayQueue::new(64)).collect();
    let mut cores: Vec<GatewayCore<'_>> = readers
        .into_iter()
        .zip(&resubmit)
        .enumerate()
        .map(|(i, (r, rs))| {
            let pipe = LcorePipeline::new(cfg, i as u16, r);
            GatewayCore::new(pipe, &ours, &pool, meta, &to_control, rs, i as u64 + 1)
        })
        .collect();

    let stop = AtomicBool::new(false);
    let (stats, elapsed) = {
        let (host, net) = match a.dir {
            Dir::Encrypt => (&replay, &sink),
            Dir::Decrypt => (&sink, &replay),
        };
        let q = CoreQueues::claim_all(host, net, a.lcores)?;
        let t0 = Instant::now();
        let stats = std::thread::scope(|s| {
            s.spawn(|| {
                while t0.elapsed() < Duration::from_secs(a.seconds) {
                    programmer.run_once();
                    while to_control.pop().is_some() {}
                    std::thread::sleep(Duration::from_millis(10));
                }
                stop.store(true, Ordering::Relaxed);
            });
            run_lcores(&eal, &cpus, q, &mut cores, false, &stop)
        })?;
        (stats, t0.elapsed().as_secs_f64())
    };
    let sent: u64 = stats
        .iter()
        .map(|s| if a.dir == Dir::Encrypt { s.tx_secure } else { s.tx_unsecured })
        .sum();
    let misses: u64 = cores.iter().map(|c| c.pipeline().stats().egress_acl_miss.packets).sum();
    let mpps = sent as f64 / elapsed / 1e6;
    let gbps = (sent * size as u64 * 8) as f64 / elapsed / 1e9;
    let limit = aead_limit_gbps(version, size);
    let per_lcore = gbps / k as f64;
    println!(
        "{:?} {size} B, version {}, {k} lcore(s), {elapsed:.1} s: {sent} packets, \
         {mpps:.3} Mpps ({:.3} per lcore), {gbps:.2} Gbit/s ({per_lcore:.2} per lcore); \
         raw AES-GCM on one core: {limit:.2} Gbit/s; per lcore {:.0}% of it",
        a.dir,
        a.version,
        mpps / k as f64,
        100.0 * per_lcore / limit
    );
    // Per packet on one lcore: the whole pipeline, the AES-GCM part of it
    // (from the raw rate), and the rest: the per-packet overhead.
    let ns_per_packet = 1e3 / (mpps / k as f64);
    let aead_ns = size as f64 * 8.0 / limit;
    let overhead_ns = ns_per_packet - aead_ns;
    let ghz = cpu_ghz();
    println!(
        "per packet per lcore: {ns_per_packet:.1} ns, of which AES-GCM {aead_ns:.1} ns; \
         outside AEAD {overhead_ns:.1} ns = {:.0} cycles at {ghz:.2} GHz",
        overhead_ns * ghz
    );
    if misses > 0 {
        eprintln!("warning: {misses} packets missed the tunnel table");
    }
    if a.json {
        println!(
            "{{\"dir\":\"{}\",\"size\":{size},\"version\":{},\"lcores\":{k},\"seconds\":{elapsed:.3},\
             \"packets\":{sent},\"mpps\":{mpps:.4},\"mpps_per_lcore\":{:.4},\"gbps\":{gbps:.4},\
             \"gbps_per_lcore\":{per_lcore:.4},\"aead_limit_gbps\":{limit:.4},\
             \"ns_per_packet\":{ns_per_packet:.2},\"aead_ns_per_packet\":{aead_ns:.2},\
             \"overhead_ns_per_packet\":{overhead_ns:.2},\
             \"overhead_cycles_per_packet\":{:.0}}}",
            if a.dir == Dir::Encrypt { "encrypt" } else { "decrypt" },
            a.version,
            mpps / k as f64,
            overhead_ns * ghz
        );
    }
    drop(cores);
    for port in [&mut replay, &mut sink] {
        port.stop()?;
    }
    drop((replay, sink, pool));
    eal.cleanup()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
