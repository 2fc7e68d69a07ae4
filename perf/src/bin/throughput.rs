//! `throughput`: packets per second through the real DPDK datapath.
//!
//! 64 UDP flows are fed to the gateway's packet cores, which run the full
//! pipeline (`GatewayCore`: egress ACL + encrypt, or decrypt + ingress
//! ACL) and send to a `net_null` sink. Reports Mpps and Gbit/s (inner IP
//! bytes) per packet core, and the raw AES-GCM seal rate of one core for
//! the same size as `aead_limit_gbps`. With `--json` the last line is one
//! JSON object.
//!
//! The source (`--source`):
//! - `pcap` (default): `net_pcap` replays the capture (`infinite_rx=1`),
//!   copying every packet into an mbuf on the packet core itself.
//! - `ring`: a generator thread on a CPU of its own (beside the packet
//!   cores) fills fresh mbufs from the pool and puts them on `net_ring0`'s
//!   rings, which the packet cores receive from: no copy on the core, but
//!   the generator's writes into mbufs that the core wrote last move cache
//!   lines between the two CPUs, which a NIC's DMA does not. On the 2-vCPU
//!   machine of BENCHMARKS.md the generator cannot keep up (the run says
//!   so); it is kept for machines where it can.
//!
//!     throughput --size 1400 --dir encrypt --seconds 5 [--lcores 1] [--source ring|pcap] [--json]

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use engine::cores::{BurstHandler, CoreRings, CoreSetup, SoftwareDatapath};
use engine::dpdk::{
    run_lcores, Burst, CoreQueues, CoreStats, Eal, EalArgs, FlowMetadata, Mbuf, Mempool,
    PoolPackets, Port, PortConfig, QueueId, Registration, TxQueue,
};
use engine::flows::{FlowBatch, FlowRequest};
use engine::pipeline::PipelineConfig;
use engine::psp::aead::{self, AeadKey, Impl, Policy};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Source {
    /// A generator thread on its own CPU, through net_ring0's rings.
    Ring,
    /// net_pcap replaying a capture, copying on the packet core.
    Pcap,
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
    /// Where the packets come from.
    #[arg(long, value_enum, default_value_t = Source::Pcap)]
    source: Source,
    /// Print a JSON object as the last line.
    #[arg(long)]
    json: bool,
    /// Write the cleartext input frames (the encrypt direction's capture:
    /// 64 UDP flows of --size bytes) to this pcap file and exit, so that
    /// another datapath can be fed the same traffic (perf/peers/).
    #[arg(long, value_name = "FILE")]
    write_input: Option<std::path::PathBuf>,
    /// AES-GCM implementation: `auto` measures both at startup and keeps
    /// the faster per operation and size, as the gateway does.
    #[arg(long, value_enum, default_value_t = AeadArg::Auto)]
    aead: AeadArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AeadArg {
    Auto,
    AwsLc,
    IpsecMb,
}

/// Sets the process's AES-GCM policy (before any key is made) and says
/// which it is.
fn set_aead(a: AeadArg) -> Result<()> {
    let policy = match a {
        AeadArg::Auto => {
            let (p, measured) = engine::aead_check::measure();
            let v = aead::ipsec_mb_version().unwrap_or_else(|| "unavailable".into());
            println!("AES-GCM check (intel-ipsec-mb {v}), ns per packet: {measured}");
            p
        }
        AeadArg::AwsLc => Policy::fixed(Impl::AwsLc),
        AeadArg::IpsecMb if !Impl::IpsecMb.available() => bail!("--aead ipsec-mb: unavailable"),
        AeadArg::IpsecMb => Policy::fixed(Impl::IpsecMb),
    };
    if aead::set_policy(policy).is_err() {
        bail!("AES-GCM policy set twice");
    }
    println!("AES-GCM: {}", aead::policy());
    Ok(())
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

/// Gbit/s of one core sealing `size`-byte buffers in place for ~1 s, with
/// `key` (under the process's policy, or one implementation).
fn aead_limit_gbps(key: &AeadKey, size: usize) -> f64 {
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
    if a.write_input.is_none() {
        set_aead(a.aead)?;
    }
    let version = Version::from_wire(a.version).expect("0 or 1");
    let k = usize::from(a.lcores);
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    if k > online {
        bail!("--lcores {k}: this machine has {online} CPUs");
    }
    if a.source == Source::Ring && k + 1 > online {
        bail!(
            "--source ring needs a CPU for its generator beside the {k} packet core(s), and this \
             machine has {online}: use --lcores {} or --source pcap",
            online - 1
        );
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
    let (source_name, source_vdev) = match a.source {
        Source::Pcap => {
            let queues: String =
                (0..k).map(|_| format!(",rx_pcap={},tx_pcap=/dev/null", input.display())).collect();
            ("net_pcap0", format!("net_pcap0{queues},infinite_rx=1"))
        }
        Source::Ring => ("net_ring0", "net_ring0".to_string()),
    };
    let list = EalArgs::new().memory_mb(512).vdev(source_vdev).vdev("net_null0,no-rx=1").build();
    if let Some(note) = &list.note {
        eprintln!("{note}");
    }
    let mut eal = Eal::init(&list.args).context("EAL init")?;
    eal.set_remove_runtime_dir(true);
    let meta = FlowMetadata::register(&eal)?;
    let pool = Mempool::new(&eal, "pspgw_perf", 16_383, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let mut replay = Port::by_name(&eal, source_name)?;
    let mut sink = Port::by_name(&eal, "net_null0")?;
    let pcfg = PortConfig { rx_queues: a.lcores, tx_queues: a.lcores, ..PortConfig::default() };
    // net_ring0's queue q receives what its transmit queue q sent: the
    // generator sends on 0..k, which the cores receive; the cores'
    // own transmit queues on it are k..2k (unused in one direction).
    let source_cfg = match a.source {
        Source::Pcap => pcfg,
        Source::Ring => {
            PortConfig { rx_queues: 2 * a.lcores, tx_queues: 2 * a.lcores, ..PortConfig::default() }
        }
    };
    replay.configure(&source_cfg, &pool)?;
    replay.start()?;
    sink.configure(&pcfg, &pool)?;
    sink.start()?;

    let cfg = PipelineConfig::default();
    let (datapath, mut programmer, client) = SoftwareDatapath::new(cfg, k, 1);
    let req = match a.dir {
        Dir::Encrypt => FlowRequest::InsertTunnel {
            pair: engine::tables::VipPair::new([10, 0, 0, 1], [10, 0, 0, 2]),
            encap: Arc::new(tunnel(peer_spi, version, &peer)?),
            hw_key: None,
        },
        Dir::Decrypt => FlowRequest::InsertAcl {
            spi: our_spi,
            src: "10.0.0.1".parse()?,
            dst: "10.0.0.2".parse()?,
        },
    };
    if client.submit(FlowBatch { id: 1, requests: vec![req] }).is_err() {
        bail!("flow request ring full");
    }
    programmer.run_once();
    let rings: CoreRings<Mbuf> = CoreRings::new(k, 1024, 64);
    let packets = PoolPackets::new(&pool, meta);
    let mut cores = datapath.into_cores(
        &ours,
        CoreSetup { packets, rings: &rings, seed: 1, snapshots: None, vf_ports: None },
    );

    // Receive and transmit alone first (the cores forward what they get),
    // for the split of a packet's time below.
    let mut forward: Vec<Forward> = (0..k).map(|_| Forward).collect();
    let (fwd_stats, fwd_elapsed) =
        measure(&eal, &a, &replay, &sink, &pool, &frames, &mut forward, || {}, 1)?;
    let fwd_sent: u64 = fwd_stats.iter().map(|s| s.tx_secure + s.tx_unsecured).sum();
    let fwd_mpps_per_lcore = fwd_sent as f64 / fwd_elapsed / 1e6 / k as f64;
    let fwd_empty = empty_poll_pct(&fwd_stats);
    let tick = || {
        programmer.run_once();
        while rings.to_control.pop().is_some() {}
    };
    let (stats, elapsed) =
        measure(&eal, &a, &replay, &sink, &pool, &frames, &mut cores, tick, a.seconds)?;
    let sent: u64 = stats
        .iter()
        .map(|s| if a.dir == Dir::Encrypt { s.tx_secure } else { s.tx_unsecured })
        .sum();
    let misses: u64 = cores.iter().map(|c| c.pipeline().stats().egress_acl_miss.packets).sum();
    // A packet core that found its receive queue empty waited for the source.
    let source_bound = empty_poll_pct(&stats);
    let mpps = sent as f64 / elapsed / 1e6;
    let gbps = (sent * size as u64 * 8) as f64 / elapsed / 1e9;
    let raw_key = vec![7u8; version.key_len()];
    let limit = aead_limit_gbps(&AeadKey::from_raw(version, &raw_key)?, size);
    // aws-lc's rate too, the datapath's AEAD before issue 15.
    let aws_lc_limit = aead_limit_gbps(&AeadKey::with_impl(version, &raw_key, Impl::AwsLc)?, size);
    let per_lcore = gbps / k as f64;
    println!(
        "{:?} {size} B, version {}, {k} lcore(s), {elapsed:.1} s: {sent} packets, \
         {mpps:.3} Mpps ({:.3} per lcore), {gbps:.2} Gbit/s ({per_lcore:.2} per lcore); \
         raw AES-GCM on one core: {limit:.2} Gbit/s; per lcore {:.0}% of it \
         (aws-lc alone: {aws_lc_limit:.2} Gbit/s, {:.0}%)",
        a.dir,
        a.version,
        mpps / k as f64,
        100.0 * per_lcore / limit,
        100.0 * per_lcore / aws_lc_limit
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
    // rx/tx: a core that only forwards (measured above); AES-GCM: the raw
    // rate; the pipeline (parse, tables, headers, IV, counters): the rest.
    let rxtx_ns = 1e3 / fwd_mpps_per_lcore;
    let pipeline_ns = ns_per_packet - rxtx_ns - aead_ns;
    println!(
        "split per packet: rx/tx {rxtx_ns:.1} ns ({:.0} cycles; forwarding alone: \
         {fwd_mpps_per_lcore:.2} Mpps per lcore), pipeline {pipeline_ns:.1} ns ({:.0} cycles), \
         AES-GCM {aead_ns:.1} ns ({:.0} cycles)",
        rxtx_ns * ghz,
        pipeline_ns * ghz,
        aead_ns * ghz
    );
    if misses > 0 {
        eprintln!("warning: {misses} packets missed the tunnel table");
    }
    println!("source {:?}: {source_bound:.1}% of the cores' polls found no packet", a.source);
    if fwd_empty > 5.0 {
        eprintln!(
            "warning: forwarding alone found no packet in {fwd_empty:.1}% of its polls: the \
             source set its rate, so rx/tx is an upper bound and the pipeline share a lower one"
        );
    }
    if source_bound > 5.0 {
        eprintln!(
            "warning: the packet cores waited for the source in {source_bound:.1}% of their polls: \
             this figure is the source's, not the gateway's"
        );
    }
    if a.json {
        println!(
            "{{\"dir\":\"{}\",\"size\":{size},\"version\":{},\"lcores\":{k},\"seconds\":{elapsed:.3},\
             \"packets\":{sent},\"mpps\":{mpps:.4},\"mpps_per_lcore\":{:.4},\"gbps\":{gbps:.4},\
             \"gbps_per_lcore\":{per_lcore:.4},\"aead_limit_gbps\":{limit:.4},\"aws_lc_limit_gbps\":{aws_lc_limit:.4},\
             \"ns_per_packet\":{ns_per_packet:.2},\"aead_ns_per_packet\":{aead_ns:.2},\
             \"overhead_ns_per_packet\":{overhead_ns:.2},\
             \"overhead_cycles_per_packet\":{:.0},\"source\":\"{}\",\
             \"empty_poll_pct\":{source_bound:.2},\"forward_mpps_per_lcore\":{fwd_mpps_per_lcore:.4},\
             \"rxtx_ns_per_packet\":{rxtx_ns:.2},\"pipeline_ns_per_packet\":{pipeline_ns:.2},\
             \"rxtx_cycles_per_packet\":{:.0},\"pipeline_cycles_per_packet\":{:.0},\
             \"aead_cycles_per_packet\":{:.0}}}",
            if a.dir == Dir::Encrypt { "encrypt" } else { "decrypt" },
            a.version,
            mpps / k as f64,
            overhead_ns * ghz,
            if a.source == Source::Ring { "ring" } else { "pcap" },
            rxtx_ns * ghz,
            pipeline_ns * ghz,
            aead_ns * ghz,
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

/// The packet cores' queues with net_ring0 as the source: core `q`
/// receives on the ring port's queue `q` and transmits on `k + q`; the
/// generator gets the ring port's transmit queues `0..k`.
fn ring_queues<'p>(
    ring: &'p Port,
    sink: &'p Port,
    dir: Dir,
    k: u16,
) -> Result<(Vec<CoreQueues<'p>>, Vec<TxQueue<'p>>)> {
    let mut cores = Vec::new();
    let mut generator = Vec::new();
    for q in 0..k {
        let (source_rx, source_tx) = (ring.rx_queue(QueueId(q))?, ring.tx_queue(QueueId(k + q))?);
        let (sink_rx, sink_tx) = (sink.rx_queue(QueueId(q))?, sink.tx_queue(QueueId(q))?);
        cores.push(match dir {
            Dir::Encrypt => CoreQueues {
                unsecured_rx: source_rx,
                unsecured_tx: source_tx,
                secure_rx: sink_rx,
                secure_tx: sink_tx,
                more_unsecured: Vec::new(),
            },
            Dir::Decrypt => CoreQueues {
                unsecured_rx: sink_rx,
                unsecured_tx: sink_tx,
                secure_rx: source_rx,
                secure_tx: source_tx,
                more_unsecured: Vec::new(),
            },
        });
        generator.push(ring.tx_queue(QueueId(q))?);
    }
    Ok((cores, generator))
}

/// The generator: on CPU `cpu` (past the packet cores), registered with
/// DPDK for a mempool cache, keeps every core's ring full of fresh mbufs
/// holding the frames in turn, until `stop`.
fn generate(
    eal: &Eal,
    pool: &Mempool,
    mut queues: Vec<TxQueue<'_>>,
    frames: &[Vec<u8>],
    cpu: usize,
    stop: &AtomicBool,
) {
    if let Err(e) = engine::dpdk::set_current_thread_cpus(&[cpu]) {
        eprintln!("warning: generator not pinned to CPU {cpu}: {e}");
    }
    let _lcore = Registration::new(eal)
        .map_err(|e| eprintln!("warning: generator without a mempool cache: {e}"))
        .ok();
    let mut bursts: Vec<Burst> = queues.iter().map(|_| Burst::new()).collect();
    let mut fresh: Burst = Burst::new();
    let mut next = 0;
    while !stop.load(Ordering::Relaxed) {
        for (q, burst) in queues.iter_mut().zip(&mut bursts) {
            // What the ring did not take last time stays, filled, in front.
            if pool.alloc_bulk(&mut fresh, burst.spare()) {
                fresh.retain(|m| {
                    let ok = m.extend_from_slice(&frames[next]).is_ok();
                    next = (next + 1) % frames.len();
                    ok
                });
                while let Some(m) = fresh.pop() {
                    let _ = burst.push(m);
                }
            }
            q.tx_burst(burst);
        }
    }
    for burst in &mut bursts {
        burst.clear();
    }
}

/// A packet core that forwards what it receives, unchanged: the cost of
/// receiving and sending alone.
struct Forward;

impl BurstHandler<Burst> for Forward {
    fn host_to_net(&mut self, rx: &mut Burst, out: &mut Burst) {
        std::mem::swap(rx, out);
    }
    fn net_to_host(&mut self, rx: &mut Burst, out: &mut Burst) {
        std::mem::swap(rx, out);
    }
}

/// Runs `handlers` on the packet cores for `seconds`, fed by the chosen
/// source, with `tick` every 10 ms on a control thread. Returns the cores'
/// counters and the seconds it ran.
#[allow(clippy::too_many_arguments)]
fn measure<H: BurstHandler<Burst>>(
    eal: &Eal,
    a: &Args,
    replay: &Port,
    sink: &Port,
    pool: &Mempool,
    frames: &[Vec<u8>],
    handlers: &mut [H],
    mut tick: impl FnMut() + Send,
    seconds: u64,
) -> Result<(Vec<CoreStats>, f64)> {
    let k = usize::from(a.lcores);
    let cpus: Vec<u32> = (0..u32::from(a.lcores)).collect();
    let stop = AtomicBool::new(false);
    let (host, net) = match a.dir {
        Dir::Encrypt => (replay, sink),
        Dir::Decrypt => (sink, replay),
    };
    let (q, generator_queues) = match a.source {
        Source::Pcap => (CoreQueues::claim_all(host, net, a.lcores)?, Vec::new()),
        Source::Ring => ring_queues(replay, sink, a.dir, a.lcores)?,
    };
    let t0 = Instant::now();
    let stats = std::thread::scope(|s| {
        let stop = &stop;
        if !generator_queues.is_empty() {
            s.spawn(move || generate(eal, pool, generator_queues, frames, k, stop));
        }
        s.spawn(move || {
            while t0.elapsed() < Duration::from_secs(seconds) {
                tick();
                std::thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Relaxed);
        });
        run_lcores(eal, &cpus, q, handlers, false, stop)
    })?;
    let elapsed = t0.elapsed().as_secs_f64();
    if a.source == Source::Ring {
        // What the rings still hold goes back to the pool.
        for q in 0..2 * a.lcores {
            let mut rx = replay.rx_queue(QueueId(q))?;
            let mut burst: Burst = Burst::new();
            while rx.rx_burst(&mut burst) > 0 {
                burst.clear();
            }
        }
    }
    Ok((stats, elapsed))
}

/// The share of the cores' polls that found no packet, in percent.
fn empty_poll_pct(stats: &[CoreStats]) -> f64 {
    let (polls, empty) =
        stats.iter().fold((0u64, 0u64), |(p, e), s| (p + s.polls, e + s.backoff.empty_polls));
    100.0 * empty as f64 / polls.max(1) as f64
}
