//! psp-gateway: the PSP security gateway.
//!
//! Startup: parse the DOCA application's flags (`config`), choose the flow
//! backend (`--backend`, `choose`: one log line says which and why), then
//! for the software backend start the EAL on
//! the ports of `-p` and `-r`, configure one queue per CPU of `-m` on each,
//! build the software pipeline and its flow programmer, start the
//! DOCA-compatible gRPC service on its own runtime, run the control plane
//! on a thread of its own and the packet cores on the CPUs of the mask
//! (the first on this thread, DPDK's main lcore). SIGINT/SIGTERM stop the
//! cores, the control plane and the service; final stats are printed and
//! the ports freed.

mod backend;
mod choose;
mod config;
mod control;
mod perf;
mod stats;
mod tunnels;

use anyhow::{bail, Context, Result};
use backend::{Backend, Datapath};
use config::{Config, Parsed};
use control::{ControlPlane, Printing, Requests};
use crossbeam::queue::ArrayQueue;
use engine::datapath::{PortSpec, PortsPlan};
use engine::dpdk::{
    run_lcores, ControlPacket, CoreQueues, CoreSnapshot, Eal, EalArgs, FlowMetadata, GatewayCore,
    Mbuf, Mempool, Port, PortConfig, QueueId,
};
use engine::flows::{FlowConfig, FlowProgrammer, ReplicatedTables};
use engine::pipeline::{LcorePipeline, PipelineConfig};
use engine::psp::Version;
use rpc::runtime::RpcRuntime;
use rpc::server::{Gateway, ServerConfig};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use tunnels::{Completions, TunnelFactory};

/// How often `--stat-print` and `--perf-print` print while running.
const STAT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

fn main() -> ExitCode {
    let cfg = match Config::from_args(std::env::args_os()) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Help(text) | Parsed::Version(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("psp-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(cfg.tracing_filter()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("psp-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The EAL's arguments for the two ports and the main core.
fn eal_args(cfg: &Config, plan: &PortsPlan) -> Vec<String> {
    let mut args = EalArgs::new()
        .lcores(cfg.core_mask.main_core().to_string())
        .memory_mb(512)
        .log_level(cfg.dpdk_log_level());
    let mut pci = Vec::new();
    for spec in [&plan.secure, &plan.unsecured] {
        match spec {
            PortSpec::Vdev { name, args: a } if a.is_empty() => args = args.vdev(name.clone()),
            PortSpec::Vdev { name, args: a } => args = args.vdev(format!("{name},{a}")),
            PortSpec::Pci(_) | PortSpec::Representor(_) => {}
        }
    }
    let plan_args = plan.eal_args();
    for pair in plan_args.windows(2).filter(|w| w[0] == "-a") {
        pci.push(pair[1].clone());
    }
    args = args.pci(!pci.is_empty());
    let list = args.build();
    if let Some(note) = &list.note {
        tracing::warn!("{note}");
    }
    let mut out = list.args;
    for a in pci {
        out.extend(["-a".to_string(), a]);
    }
    out
}

fn run(cfg: Config) -> Result<()> {
    let plan = PortsPlan::new(cfg.secure_port.clone(), cfg.unsecured_port.clone())?;
    // Before the EAL: the DOCA backend needs other EAL device arguments.
    let choice = choose::choose(cfg.backend, &plan.secure).map_err(anyhow::Error::msg)?;
    tracing::info!("{}", choice.line);
    match choice.backend {
        choose::Chosen::Software => {}
        #[cfg(feature = "doca")]
        choose::Chosen::Doca => return run_doca(&cfg, &plan),
    }
    let (Some(secure_name), Some(unsecured_name)) =
        (plan.secure.ethdev_name(), plan.unsecured.ethdev_name())
    else {
        bail!(
            "-r/--repr {}: representors need the DOCA Flow backend; with the software \
             datapath give a DPDK device (e.g. net_af_packet1,iface=veth1)",
            cfg.repr
        );
    };
    let Some(uplink_ip) = cfg.uplink_ip else {
        bail!("--uplink-ip is required: the outer source address of our tunnels");
    };
    let Some(local_virt_ip) = cfg.local_virt_ip else {
        bail!("--local-virt-ip (or -d/--vf-name) is required: this gateway's virtual address");
    };
    // Mutual TLS when --grpc-cert/--grpc-key/--grpc-ca are given (the
    // config requires all three or none); plaintext otherwise, as DOCA.
    let tls: Option<Arc<rpc::tls::TlsIdentity>> =
        match (&cfg.grpc_cert, &cfg.grpc_key, &cfg.grpc_ca) {
            (Some(cert), Some(key), Some(ca)) => Some(Arc::new(
                rpc::tls::TlsFiles { cert: cert.clone(), key: key.clone(), ca: ca.clone() }
                    .load()?,
            )),
            _ => None,
        };
    if tls.is_none() {
        tracing::warn!(
            "gRPC runs without TLS (DOCA-compatible): SPIs and keys cross the management \
             network in clear; give --grpc-cert, --grpc-key and --grpc-ca for mutual TLS"
        );
    }

    // Before the EAL pins this thread to the main lcore.
    let allowed_cpus = engine::dpdk::current_thread_cpus();
    let mut eal = Eal::init(&eal_args(&cfg, &plan)).context("EAL init")?;
    eal.set_remove_runtime_dir(true);
    let cores = cfg.core_mask.cores().to_vec();
    let k = cores.len();
    let pool = Mempool::new(&eal, "pspgw_mbufs", 8191, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let mut secure = Port::by_name(&eal, secure_name)?;
    let mut unsecured = Port::by_name(&eal, unsecured_name)?;
    let pcfg = PortConfig {
        rx_queues: cfg.core_mask.queues(),
        tx_queues: cfg.core_mask.queues(),
        ..PortConfig::default()
    };
    for port in [&mut secure, &mut unsecured] {
        port.configure(&pcfg, &pool)?;
        port.start()?;
        if let Err(e) = port.set_promiscuous(true) {
            tracing::debug!(port = port.name(), "promiscuous mode: {e}");
        }
    }
    let uplink_mac = secure.mac_addr()?;
    tracing::info!(%uplink_mac, %uplink_ip, secure = secure_name, unsecured = unsecured_name,
        cores = ?cores, "ports up");

    // One ACL entry per tunnel we are asked for: as many as tunnels.
    // Frames longer than an mbuf holds are dropped as oversized, and so
    // are packets whose encapsulation would not fit one.
    let pipeline = PipelineConfig {
        max_acl_entries: cfg.max_tunnels,
        max_frame_len: usize::from(Mempool::DEFAULT_DATA_ROOM - Mempool::HEADROOM),
        ..cfg.pipeline_config()
    };
    let (tables, readers) = ReplicatedTables::new(
        k,
        pipeline.max_tunnels,
        pipeline.max_acl_entries,
        std::process::id().into(),
    );
    let (programmer, flows) = FlowProgrammer::new(
        tables,
        FlowConfig {
            max_tunnels: cfg.max_tunnels,
            max_acl_entries: cfg.max_tunnels,
            ..FlowConfig::default()
        },
    );
    let factory = TunnelFactory {
        uplink_mac,
        nexthop_mac: cfg.nexthop_dmac.unwrap_or(engine::wire::MacAddr([0xff; 6])),
        uplink_ip,
        crypt_offset: cfg.crypt_offset,
        outer: cfg.outer_ip_type,
    };
    let dp = Arc::new(Datapath {
        flows,
        completions: Completions::default(),
        next_batch: AtomicU64::new(1),
        factory,
        hw_keys: false,
        acl_entries: AtomicUsize::new(0),
        debug_keys: cfg.debug_keys,
        perf: perf::PerfMetrics::default(),
        acl: std::sync::Mutex::new(std::collections::HashSet::new()),
        key_updates: (0..k).map(|_| ArrayQueue::new(1)).collect(),
        control_thread: std::sync::OnceLock::new(),
        egress: std::sync::Mutex::new(std::collections::HashSet::new()),
    });

    // The control plane and the gRPC runtime run off the packet cores'
    // CPUs: on a busy-polling core's CPU they would wait milliseconds for
    // a time slice.
    let datapath_cpus: Vec<usize> = cores.iter().map(|&c| c as usize).collect();
    let control_cpus = engine::dpdk::control_cpus(&allowed_cpus, &datapath_cpus);
    tracing::info!(packet_cores = ?cores, control = ?control_cpus, "CPUs");
    let pin = {
        let cpus = control_cpus.clone();
        move || {
            if let Err(e) = engine::dpdk::set_current_thread_cpus(&cpus) {
                tracing::warn!("control thread affinity: {e}");
            }
        }
    };
    let rt = RpcRuntime::with_thread_start(pin.clone())?;
    let cookie = cfg.virt_cookie();
    let mut scfg = ServerConfig::new(uplink_ip);
    scfg.local_mac = Some(uplink_mac);
    scfg.local_virt_ips.insert(local_virt_ip);
    let mut peer_of = HashMap::new();
    for peer in &cfg.peers {
        scfg.peers.entry(peer.svc_addr.ip()).or_default().extend(peer.virt_ips.iter().copied());
        for ip in &peer.virt_ips {
            peer_of.insert(*ip, peer.svc_addr);
        }
    }
    scfg.versions = Version::ALL.to_vec();
    scfg.max_tunnels = cfg.max_tunnels;
    scfg.virt_cookie = cookie;
    scfg.peer_rate_limit = cfg.peer_rate_limit;
    // Writing the ACL needs the control plane running: it starts below,
    // before any request can arrive at the server.
    let gateway = Gateway::new(scfg, Backend(dp.clone()))?;
    let masters = gateway.masters().context("the software datapath needs its master keys")?;

    let meta = FlowMetadata::register(&eal)?;
    let to_control: ArrayQueue<ControlPacket> = ArrayQueue::new(4096);
    let resubmit: Vec<ArrayQueue<Mbuf>> = (0..k).map(|_| ArrayQueue::new(1024)).collect();
    let snapshots: Vec<ArrayQueue<CoreSnapshot>> = (0..k).map(|_| ArrayQueue::new(1)).collect();
    let mut handlers: Vec<GatewayCore<'_>> = readers
        .into_iter()
        .zip(&resubmit)
        .enumerate()
        .map(|(i, (reader, ring))| {
            let pipe = LcorePipeline::new(pipeline, i as u16, reader);
            let seed = u64::from(std::process::id()) << 16 | i as u64;
            GatewayCore::new(pipe, &masters, &pool, meta, &to_control, ring, seed)
        })
        .collect();
    for (h, ring) in handlers.iter_mut().zip(&dp.key_updates) {
        h.take_key_updates(ring);
    }
    if cfg.stat_print {
        for (h, ring) in handlers.iter_mut().zip(&snapshots) {
            h.publish_snapshots(ring, STAT_INTERVAL / 2);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }

    let requests = Requests {
        rt: rt.handle().clone(),
        gateway: gateway.clone(),
        peer_of,
        local_virt_ip,
        version: cfg.psp_version,
        virt_cookie: cookie,
        tls: tls.clone(),
        rotation: cfg.key_rotation_interval,
    };
    let mut control = ControlPlane::new(
        dp.clone(),
        programmer,
        &to_control,
        &resubmit,
        requests,
        cfg.show_rss_rx_packets,
        Printing {
            snapshots: &snapshots,
            stat_print: cfg.stat_print,
            perf_print: cfg.perf_print,
            every: STAT_INTERVAL,
        },
    );
    let (core_stats, counters) = {
        let mut queues = Vec::with_capacity(k);
        for q in 0..cfg.core_mask.queues() {
            queues.push(CoreQueues {
                unsecured_rx: unsecured.rx_queue(QueueId(q))?,
                unsecured_tx: unsecured.tx_queue(QueueId(q))?,
                secure_rx: secure.rx_queue(QueueId(q))?,
                secure_tx: secure.tx_queue(QueueId(q))?,
            });
        }
        std::thread::scope(|s| -> Result<_> {
            let stop_ref = &*stop;
            let control = s.spawn(move || {
                pin();
                let server = rt.start_server_with(cfg.svc_addr, gateway, tls.as_deref());
                match &server {
                    Ok(srv) => tracing::info!(addr = %srv.local_addr(), "gRPC service up"),
                    Err(e) => {
                        tracing::error!("-s/--svc-addr {}: {e}", cfg.svc_addr);
                        stop_ref.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if cfg.static_tunnels {
                    control.connect_all();
                }
                control.run(stop_ref);
                if let Ok(srv) = server {
                    srv.shutdown(&rt);
                }
                if cfg.perf_print.is_some() {
                    control.print_perf_only();
                }
                control.counters
            });
            let stats = run_lcores(&eal, &cores, queues, &mut handlers, cfg.idle_backoff, stop_ref);
            // A core that failed stops the others and the control plane.
            stop_ref.store(true, std::sync::atomic::Ordering::Relaxed);
            let counters = control.join().map_err(|_| anyhow::anyhow!("control plane panicked"))?;
            Ok((stats?, counters))
        })?
    };
    stats::print_final(&core_stats, &handlers, &counters, cfg.stat_print);
    drop(handlers);
    for port in [&mut secure, &mut unsecured] {
        let _ = port.stop();
    }
    drop((secure, unsecured, pool));
    eal.cleanup()?;
    Ok(())
}

/// The DOCA Flow backend: the EAL with the `-p` device in hardware-steering
/// mode, both ports started, then DOCA Flow with every pipe. Without the
/// SDK, [`engine::doca::DocaFlowBackend::new`] returns `NoSdk` before any
/// DOCA call (and `choose` already refuses DOCA then); errors come out as
/// one line naming `--backend doca`.
#[cfg(feature = "doca")]
fn run_doca(cfg: &Config, plan: &PortsPlan) -> Result<()> {
    use engine::doca::{DocaConfig, DocaFlowBackend, DocaPorts};
    use engine::dpdk::PortId;
    let PortSpec::Pci(pci) = &plan.secure else {
        bail!("--backend doca: -p must be the PCI address of the DOCA device");
    };
    // mlx5 hardware steering (HWS) with extended metadata, as NVIDIA's PSP
    // Gateway application probes its PF. UNVERIFIED without hardware.
    let mut args = eal_args(cfg, plan);
    for a in args.iter_mut().filter(|a| a.starts_with(pci.as_str())) {
        a.push_str(",dv_flow_en=2,dv_xmeta_en=4");
    }
    let mut eal = Eal::init(&args).context("--backend doca: EAL init")?;
    eal.set_remove_runtime_dir(true);
    let pool = Mempool::new(&eal, "pspgw_mbufs", 8191, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let mut secure = Port::by_name(&eal, pci)?;
    // The unsecured side: a DPDK device by name, or the first representor
    // (the first port that is not the PF).
    let mut unsecured = match plan.unsecured.ethdev_name() {
        Some(name) => Port::by_name(&eal, name)?,
        None => {
            let id = (0..Port::count(&eal))
                .find(|&i| i != secure.id().0)
                .context("--backend doca: no representor port came up for -r")?;
            Port::by_id(&eal, PortId(id))?
        }
    };
    let queues = cfg.core_mask.queues();
    let pcfg = PortConfig { rx_queues: queues, tx_queues: queues, ..PortConfig::default() };
    for port in [&mut secure, &mut unsecured] {
        port.configure(&pcfg, &pool)?;
        port.start()?;
    }
    let doca = DocaConfig {
        pipeline: PipelineConfig { max_acl_entries: cfg.max_tunnels, ..cfg.pipeline_config() },
        ports: DocaPorts {
            secure: secure.id().0,
            unsecured: unsecured.id().0,
            secure_mac: secure.mac_addr()?,
            unsecured_mac: unsecured.mac_addr()?,
            next_hop_mac: cfg.nexthop_dmac.unwrap_or(engine::wire::MacAddr([0xff; 6])),
        },
        pci: pci.clone(),
        rss_queues: queues,
    };
    let started = DocaFlowBackend::new(doca).map_err(|e| anyhow::anyhow!("--backend doca: {e}"));
    let r = started.and_then(|_backend| {
        // DOCA Flow is up with every pipe; what is missing is the DOCA-mode
        // packet cores (RSS queues: misses to the control plane and
        // resubmission through the secure port) and the control plane over
        // this backend. Refuse rather than run without a miss path.
        Err(anyhow::anyhow!(
            "--backend doca: DOCA Flow started, but this build has no DOCA-mode packet cores \
             (miss path) yet; use --backend software"
        ))
    });
    for port in [&mut secure, &mut unsecured] {
        let _ = port.stop();
    }
    drop((secure, unsecured, pool));
    eal.cleanup()?;
    r
}
