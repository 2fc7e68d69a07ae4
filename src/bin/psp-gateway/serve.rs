//! What the software datapath and DOCA offload share once their ports are
//! up: the checks of the flags both need, the control threads' CPUs and
//! runtime, the datapath handle of the gRPC side, the service's
//! configuration, and the run itself (gRPC service and control plane on a
//! thread, packet cores here) until SIGINT/SIGTERM.

use crate::backend::{FlowHandle, GatewayBackend};
use crate::config::Config;
use crate::control::{ControlPlane, Inputs, Printing};
use crate::observe::Observer;
use crate::peers::Requests;
use crate::stats::ControlCounters;
use crate::tunnels::{Completions, TunnelFactory};
use anyhow::{bail, Result};
use crossbeam::queue::ArrayQueue;
use engine::cores::{BurstHandler, CoreRings};
use engine::dpdk::{run_lcores, Burst, CoreQueues, CoreStats, Eal, Mbuf};
use engine::flows::{FlowBackend, FlowClient, FlowProgrammer};
use engine::psp::Version;
use rpc::runtime::RpcRuntime;
use rpc::server::{Gateway, ServerConfig};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// How often `--stat-print` and `--perf-print` print while running.
pub const STAT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// How often each packet core publishes its counters (what `--stat-print`,
/// the metrics endpoint and status read): a copy of a few hundred bytes.
pub const SNAPSHOT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The rings between the packet cores and the control plane, for `cores`
/// packet cores: room for 4096 packets up (misses, ARP, samples) and 1024
/// held packets back to each core.
pub fn rings(cores: usize) -> CoreRings<Mbuf> {
    CoreRings::new(cores, 4096, 1024)
}

/// The control side of a run: what the control plane drives and serves.
pub struct ControlSide<'r, B: FlowBackend> {
    /// The gRPC side's handle on the datapath.
    pub dp: Arc<FlowHandle>,
    /// The flow programmer over the backend.
    pub programmer: FlowProgrammer<B>,
    /// The rings to and from the packet cores.
    pub rings: &'r CoreRings<Mbuf>,
    /// The gRPC runtime and the pinning of control threads.
    pub rt: RpcRuntime,
    /// Pins a thread to the control CPUs.
    pub pin: Pin,
    /// The gRPC service.
    pub gateway: Gateway<GatewayBackend>,
    /// Which peer serves each remote virtual address.
    pub peer_of: HashMap<IpAddr, SocketAddr>,
    /// DOCA mode: the NIC's counters for `--stat-print`.
    pub nic_lines: Option<crate::control::NicLines>,
    /// Software datapath: each unsecured port's MAC, the one the answers
    /// to its VMs' ARP and neighbour solicitations name (DOCA: empty, not
    /// answered).
    pub port_macs: Vec<engine::wire::MacAddr>,
}

/// The flags every backend needs, checked.
pub struct Prelude {
    /// `--uplink-ip`.
    pub uplink_ip: IpAddr,
    /// `--local-virt-ip` (or from `-d`).
    pub local_virt_ip: IpAddr,
    /// Mutual TLS, when configured.
    pub tls: Option<Arc<rpc::tls::TlsIdentity>>,
    /// `--stats-json`'s file, opened before anything starts.
    pub stats_json: Option<Arc<crate::stats_json::StatsJson>>,
}

impl Prelude {
    /// Checks the addresses and loads the TLS files.
    pub fn new(cfg: &Config) -> Result<Prelude> {
        let Some(uplink_ip) = cfg.uplink_ip else {
            bail!(
                "no outer source address for our tunnels: --uplink-ip not given and none \
                 derived ({}); give --uplink-ip",
                cfg.uplink_ip_note
            );
        };
        tracing::info!(%uplink_ip, from = %cfg.uplink_ip_note, "outer source address");
        let Some(local_virt_ip) = cfg.local_virt_ip else {
            bail!("--local-virt-ip (or -d/--vf-name) is required: this gateway's virtual address");
        };
        // Mutual TLS when --grpc-cert/--grpc-key/--grpc-ca are given (the
        // config requires all three or none); plaintext otherwise, as DOCA.
        let tls = match (&cfg.grpc_cert, &cfg.grpc_key, &cfg.grpc_ca) {
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
        let stats_json = match &cfg.stats_json {
            Some(path) => Some(Arc::new(crate::stats_json::StatsJson::open(path)?)),
            None => None,
        };
        Ok(Prelude { uplink_ip, local_virt_ip, tls, stats_json })
    }
}

/// Pins the calling thread to the control CPUs.
pub type Pin = Arc<dyn Fn() + Send + Sync>;

/// The gRPC runtime, with its threads (and, through the returned [`Pin`],
/// the control plane's) off the packet cores' CPUs: on a busy-polling
/// core's CPU they would wait milliseconds for a time slice. `allowed`:
/// this process's CPUs, read before the EAL pinned the main thread.
pub fn control_runtime(allowed: &[usize], cores: &[u32]) -> Result<(RpcRuntime, Pin)> {
    let datapath_cpus: Vec<usize> = cores.iter().map(|&c| c as usize).collect();
    let cpus = engine::dpdk::control_cpus(allowed, &datapath_cpus);
    tracing::info!(packet_cores = ?cores, control = ?cpus, "CPUs");
    let pin: Pin = Arc::new(move || {
        if let Err(e) = engine::dpdk::set_current_thread_cpus(&cpus) {
            tracing::warn!("control thread affinity: {e}");
        }
    });
    let p = Arc::clone(&pin);
    Ok((RpcRuntime::with_thread_start(move || p())?, pin))
}

/// The gRPC side's handle on the datapath.
pub fn datapath(
    cfg: &Config,
    flows: FlowClient,
    factory: TunnelFactory,
    cores: usize,
    hw_keys: bool,
) -> Arc<FlowHandle> {
    let (egress, egress_events) = crossbeam::channel::unbounded();
    Arc::new(FlowHandle {
        flows,
        completions: Completions::default(),
        next_batch: AtomicU64::new(1),
        factory,
        hw_keys,
        acl_entries: AtomicUsize::new(0),
        debug_keys: cfg.debug_keys,
        perf: crate::perf::PerfMetrics::default(),
        acl: std::sync::Mutex::new(std::collections::HashSet::new()),
        key_updates: (0..cores).map(|_| ArrayQueue::new(1)).collect(),
        control_thread: std::sync::OnceLock::new(),
        egress,
        egress_events,
    })
}

/// The service's configuration, and which peer serves each remote
/// virtual address.
pub fn server_config(
    cfg: &Config,
    p: &Prelude,
    uplink_mac: engine::wire::MacAddr,
) -> (ServerConfig, HashMap<IpAddr, SocketAddr>) {
    let mut scfg = ServerConfig::new(p.uplink_ip);
    scfg.local_mac = Some(uplink_mac);
    scfg.local_virt_ips.extend(local_virt_ips(cfg, p));
    let mut peer_of = HashMap::new();
    for peer in &cfg.peers {
        scfg.peers.entry(peer.svc_addr.ip()).or_default().extend(peer.virt_ips.iter().copied());
        for ip in &peer.virt_ips {
            peer_of.insert(*ip, peer.svc_addr);
        }
    }
    scfg.versions = Version::ALL.to_vec();
    scfg.max_tunnels = cfg.max_tunnels;
    scfg.virt_cookie = cfg.virt_cookie();
    scfg.peer_rate_limit = cfg.peer_rate_limit;
    (scfg, peer_of)
}

/// Every virtual IP of our unsecured ports' VMs, `--local-virt-ip` first.
pub fn local_virt_ips(cfg: &Config, p: &Prelude) -> Vec<IpAddr> {
    let mut all = vec![p.local_virt_ip];
    for ip in cfg.vfs.iter().flat_map(|v| &v.virt_ips) {
        if !all.contains(ip) {
            all.push(*ip);
        }
    }
    all
}

/// What the control plane needs to ask peers for tunnels.
pub fn requests(
    cfg: &Config,
    p: &Prelude,
    rt: &RpcRuntime,
    gateway: &Gateway<GatewayBackend>,
    peer_of: HashMap<IpAddr, SocketAddr>,
) -> Requests {
    Requests {
        rt: rt.handle().clone(),
        gateway: gateway.clone(),
        peer_of,
        local_virt_ip: p.local_virt_ip,
        local_virt_ips: local_virt_ips(cfg, p),
        sessions: cfg.session_src.iter().copied().collect(),
        version: cfg.psp_version,
        virt_cookie: cfg.virt_cookie(),
        tls: p.tls.clone(),
        rotation: cfg.key_rotation_interval,
    }
}

/// SIGINT and SIGTERM set the returned flag.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// The run: the gRPC service and the control plane on a thread of their
/// own (pinned to the control CPUs), the packet cores on `cores` (the first
/// on this thread, DPDK's main lcore), until SIGINT or SIGTERM. A core that
/// fails stops the rest. Returns the cores' and the control plane's
/// counters.
pub fn serve<B: FlowBackend + Send, H: BurstHandler<Burst>>(
    cfg: &Config,
    p: &Prelude,
    eal: &Eal,
    cores: &[u32],
    queues: Vec<CoreQueues<'_>>,
    handlers: &mut [H],
    side: ControlSide<'_, B>,
) -> Result<(Vec<CoreStats>, ControlCounters)> {
    let ControlSide { dp, programmer, rings, rt, pin, gateway, peer_of, nic_lines, port_macs } =
        side;
    let stop = &*stop_on_signals()?;
    let (query_tx, query_rx) = crossbeam::channel::bounded(64);
    let observer = Arc::new(Observer::new(
        query_tx,
        gateway.clone(),
        Arc::clone(&dp),
        cfg.fleet.metrics_sessions,
    ));
    // Bound here, so a taken port is an error before the cores start.
    let metrics_listener = match cfg.fleet.metrics_addr {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|e| anyhow::anyhow!("--metrics-addr {addr}: {e}"))?;
            Some(l)
        }
        None => None,
    };
    let uplink_mac = dp.factory.uplink_mac;
    let mut control = ControlPlane::new(
        dp,
        programmer,
        &rings.to_control,
        &rings.resubmit,
        requests(cfg, p, &rt, &gateway, peer_of),
        cfg.show_rss_rx_packets,
        Printing {
            snapshots: &rings.snapshots,
            stat_print: cfg.stat_print,
            perf_print: cfg.perf_print,
            every: STAT_INTERVAL,
            nic_lines,
            json: p.stats_json.clone(),
        },
    );
    if !port_macs.is_empty() {
        control = control.with_neighbours(crate::control::Neighbours {
            macs: port_macs,
            local: local_virt_ips(cfg, p),
            to_host: &rings.to_host,
        });
    }
    let tls = p.tls.clone();
    std::thread::scope(|s| -> Result<_> {
        let control = s.spawn(move || {
            pin();
            let server = rt.start_server_with_status(
                cfg.svc_addr,
                gateway.clone(),
                tls.as_deref(),
                Arc::clone(&observer),
            );
            let mut inputs = Inputs { queries: Some(query_rx), ..Inputs::default() };
            let mut dir = None;
            match &server {
                Ok(srv) => {
                    tracing::info!(addr = %srv.local_addr(), "gRPC service up");
                    if let Some(l) = metrics_listener {
                        let obs = Arc::clone(&observer);
                        let addr = l.local_addr().ok();
                        rt.handle().spawn(async move {
                            match tokio::net::TcpListener::from_std(l) {
                                Ok(l) => crate::metrics::serve(l, obs).await,
                                Err(e) => tracing::error!("--metrics-addr: {e}"),
                            }
                        });
                        if let Some(a) = addr {
                            tracing::info!(addr = %a, "metrics endpoint up (GET /metrics)");
                        }
                    }
                    if let Some(spec) = &cfg.fleet.directory {
                        let (tx, rx) = crossbeam::channel::unbounded();
                        let ours = crate::directory::Ours {
                            grpc_addr: srv.local_addr(),
                            uplink_ip: p.uplink_ip,
                            uplink_mac,
                            vfs: cfg
                                .vfs
                                .iter()
                                .map(|v| (v.repr.clone(), v.virt_ips.clone()))
                                .collect(),
                        };
                        match crate::directory::start(spec, ours, &gateway, rt.handle(), tx) {
                            Ok(d) => {
                                inputs.directory = Some(rx);
                                inputs.directory_health = Some(d.health_handle());
                                dir = Some(d);
                            }
                            Err(e) => {
                                tracing::error!("{e:#}");
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!("-s/--svc-addr {}: {e}", cfg.svc_addr);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            let mut control = control.with_inputs(inputs);
            if cfg.static_tunnels {
                control.connect_all();
            }
            control.run(stop);
            if let Some(d) = dir {
                // Revoke our lease: peers withdraw our tunnels now.
                rt.block_on(d.shutdown());
            }
            if let Ok(srv) = server {
                srv.shutdown(&rt);
            }
            if cfg.perf_print.is_some() {
                control.print_perf_only();
            }
            control.counters()
        });
        let stats = run_lcores(eal, cores, queues, handlers, cfg.idle_backoff, stop);
        // A core that failed stops the others and the control plane.
        stop.store(true, Ordering::Relaxed);
        let counters = control.join().map_err(|_| anyhow::anyhow!("control plane panicked"))?;
        Ok((stats?, counters))
    })
}
