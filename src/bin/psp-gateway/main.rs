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
mod directory;
mod held;
mod metrics;
#[cfg(feature = "doca")]
mod nic;
mod observe;
mod peers;
mod perf;
mod respawn;
mod serve;
mod stats;
mod stats_json;
mod status;
mod tunnels;

use anyhow::{bail, Context, Result};
use backend::GatewayBackend;
use config::{Config, Parsed};
use engine::config::Backend;
use engine::config::{PortSpec, PortsPlan};
use engine::cores::{CoreSetup, SoftwareDatapath};
use engine::dpdk::{Eal, EalArgs, FlowMetadata, Mempool, PoolPackets, Port, PortConfig, PortPair};
use engine::pipeline::PipelineConfig;
use rpc::server::Gateway;
use serve::{ControlSide, Prelude};
use std::process::ExitCode;
use std::sync::Arc;
use tunnels::TunnelFactory;

fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "status") {
        return status::main(args.split_off(2));
    }
    let cfg = match Config::from_args(args) {
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
    for spec in std::iter::once(&plan.secure).chain(plan.unsecured_ports()) {
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
    let plan = PortsPlan::several(
        cfg.secure_port.clone(),
        cfg.vfs.iter().map(|v| v.port.clone()).collect(),
    )?;
    // Before the EAL: the DOCA backend needs other EAL device arguments.
    let choice = choose::choose(cfg.backend, &plan.secure)?;
    tracing::info!("{choice}");
    match choice.backend {
        Backend::Software => {}
        #[cfg(feature = "doca")]
        Backend::Doca => return run_doca(&cfg, &plan),
        // Never selected: without the feature DOCA is never capable.
        #[cfg(not(feature = "doca"))]
        Backend::Doca => unreachable!("{choice}"),
    }
    let unsecured_names: Option<Vec<&str>> =
        plan.unsecured_ports().map(PortSpec::ethdev_name).collect();
    let (Some(secure_name), Some(unsecured_names)) = (plan.secure.ethdev_name(), unsecured_names)
    else {
        bail!(
            "-r/--repr {}: representors need the DOCA Flow backend; with the software \
             datapath give a DPDK device (e.g. net_af_packet1,iface=veth1)",
            cfg.repr
        );
    };
    // Before any key is made: aws-lc or intel-ipsec-mb per operation and
    // packet size, whichever this CPU runs faster.
    let (aead, measured) = engine::aead_check::measure();
    let _ = engine::psp::aead::set_policy(aead);
    tracing::info!(policy = %engine::psp::aead::policy(),
        ipsec_mb = engine::psp::aead::ipsec_mb_version().as_deref().unwrap_or("unavailable"),
        "AES-GCM implementation");
    tracing::debug!(%measured, "AES-GCM check, ns per packet");
    // Before anything that a start under a new pid would do twice.
    let start_lock = respawn::before_eal(&plan)?;
    let prelude = Prelude::new(&cfg)?;

    // Before the EAL pins this thread to the main lcore.
    let allowed_cpus = engine::dpdk::current_thread_cpus();
    let mut eal = Eal::init(&eal_args(&cfg, &plan)).context("EAL init")?;
    // The af_packet PMD has joined its fanout groups.
    drop(start_lock);
    eal.set_remove_runtime_dir(true);
    let cores = cfg.core_mask.cores().to_vec();
    let k = cores.len();
    let pool = Mempool::new(&eal, "pspgw_mbufs", 8191, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let pcfg = PortConfig {
        rx_queues: cfg.core_mask.queues(),
        tx_queues: cfg.core_mask.queues(),
        ..PortConfig::default()
    };
    let secure = Port::by_name(&eal, secure_name)?;
    let mut unsecured = unsecured_names
        .iter()
        .map(|name| Port::by_name(&eal, name))
        .collect::<std::result::Result<Vec<Port>, _>>()?;
    let more = unsecured.split_off(1);
    let first = unsecured.pop().context("an unsecured port")?;
    let mut ports = PortPair::start_several(secure, first, more, &pcfg, &pool)?;
    for (port, e) in ports.promiscuous() {
        tracing::debug!(port, "promiscuous mode: {e}");
    }
    let uplink_mac = ports.secure.mac_addr()?;
    let port_macs =
        ports.unsecured_ports().map(Port::mac_addr).collect::<std::result::Result<Vec<_>, _>>()?;
    tracing::info!(%uplink_mac, uplink_ip = %prelude.uplink_ip, secure = secure_name,
        unsecured = ?unsecured_names, cores = ?cores, "ports up");

    // One ACL entry per tunnel we are asked for: as many as tunnels.
    // Frames longer than an mbuf holds are dropped as oversized, and so
    // are packets whose encapsulation would not fit one.
    let pipeline = PipelineConfig {
        max_acl_entries: cfg.max_tunnels,
        max_frame_len: usize::from(Mempool::DEFAULT_DATA_ROOM - Mempool::HEADROOM),
        ..cfg.pipeline_config()
    };
    let (datapath, programmer, flows) =
        SoftwareDatapath::new(pipeline, k, std::process::id().into());
    let dp = serve::datapath(&cfg, flows, tunnel_factory(&cfg, &prelude, uplink_mac), k, false);
    let (rt, pin) = serve::control_runtime(&allowed_cpus, &cores)?;
    let (scfg, peer_of) = serve::server_config(&cfg, &prelude, uplink_mac);
    // Writing the ACL needs the control plane running: it starts below,
    // before any request can arrive at the server.
    let gateway = Gateway::new(scfg, GatewayBackend(dp.clone()))?;
    let masters = gateway.masters().context("the software datapath needs its master keys")?;

    let packets = PoolPackets::new(&pool, FlowMetadata::register(&eal)?);
    let rings = serve::rings(k);
    // Snapshots always: the status service and metrics read them too.
    let mut handlers = datapath.into_cores(
        &masters,
        CoreSetup {
            packets,
            rings: &rings,
            seed: u64::from(std::process::id()) << 16,
            snapshots: Some(serve::SNAPSHOT_INTERVAL),
            vf_ports: vf_ports(&cfg)?,
        },
    );
    for (h, ring) in handlers.iter_mut().zip(&dp.key_updates) {
        h.take_key_updates(ring);
    }
    let queues = ports.core_queues(cfg.core_mask.queues())?;
    // The cores hold on to dp's key mailboxes: the control side shares it.
    let side = ControlSide {
        dp: Arc::clone(&dp),
        programmer,
        rings: &rings,
        rt,
        pin,
        gateway,
        peer_of,
        nic_lines: None,
        port_macs,
    };
    let (core_stats, mut counters) =
        serve::serve(&cfg, &prelude, &eal, &cores, queues, &mut handlers, side)?;
    // The cores' own final counts, newer than their last snapshots.
    counters.ports = stats::PortCounters::sum(handlers.iter().map(|h| h.control_stats()));
    stats::print_final(&core_stats, &handlers, &counters, cfg.stat_print);
    if let Some(json) = &prelude.stats_json {
        let aead = (&measured, cfg.psp_version);
        stats_json::write_final(json, &core_stats, &handlers, &counters, &dp.perf, aead);
    }
    if cfg.perf_print.is_some() {
        perf::print_core_split(&core_stats, &handlers, &measured, cfg.psp_version);
    }
    drop(handlers);
    drop((ports, pool));
    eal.cleanup()?;
    Ok(())
}

/// Several unsecured ports: each port's VMs and decap MAC, for the cores
/// (`None` with one port: it takes everything, as DOCA 2.8's).
fn vf_ports(cfg: &Config) -> Result<Option<engine::pipeline::VfPorts>> {
    if cfg.vfs.len() < 2 {
        return Ok(None);
    }
    let per_port: Vec<Vec<std::net::IpAddr>> = cfg.vfs.iter().map(|v| v.virt_ips.clone()).collect();
    let mut ports = engine::pipeline::VfPorts::new(&per_port)
        .map_err(|e| anyhow::anyhow!("-r/--repr and --local-virt-ip: {e}"))?;
    for (i, v) in cfg.vfs.iter().enumerate() {
        ports.set_decap_dmac(i, v.decap_dmac);
        tracing::info!(port = i, repr = %v.repr, vms = ?v.virt_ips,
            decap_dmac = ?v.decap_dmac.map(|m| m.to_string()), "unsecured port");
    }
    Ok(Some(ports))
}

/// Our side of every tunnel's outer headers.
fn tunnel_factory(cfg: &Config, p: &Prelude, uplink_mac: engine::wire::MacAddr) -> TunnelFactory {
    TunnelFactory {
        uplink_mac,
        nexthop_mac: cfg.nexthop_dmac,
        uplink_ip: p.uplink_ip,
        crypt_offset: cfg.crypt_offset,
        outer: cfg.outer_ip_type,
        mode: cfg.mode,
    }
}

/// The DOCA Flow backend: the EAL with the `-p` device in hardware-steering
/// mode, both ports started, then DOCA Flow with every pipe; the NIC
/// encrypts, decrypts and checks, the packet cores ([`OffloadCore`]) poll
/// the RSS queues and hand misses to the same control plane as the
/// software datapath's, which resubmits held packets through the PF. SPIs
/// and keys come from the device (its master key never leaves it). Without
/// the SDK, [`engine::doca::DocaFlowBackend::new`] returns `NoSdk` before
/// any DOCA call (and `choose` already refuses DOCA then); errors come out
/// as one line naming `--backend doca`.
#[cfg(feature = "doca")]
fn run_doca(cfg: &Config, plan: &PortsPlan) -> Result<()> {
    use engine::cores::{flow_config, OffloadCore, OffloadStats};
    use engine::doca::{DocaConfig, DocaFlowBackend, DocaPorts};
    use engine::dpdk::PortId;
    let PortSpec::Pci(pci) = &plan.secure else {
        bail!("--backend doca: -p must be the PCI address of the DOCA device");
    };
    if !plan.more_unsecured.is_empty() {
        bail!(
            "--backend doca: one -r/--repr (the DOCA Flow pipes steer one unsecured port); \
             several -r need --backend software"
        );
    }
    let prelude = Prelude::new(cfg)?;
    // mlx5 hardware steering (HWS) with extended metadata, as NVIDIA's PSP
    // Gateway application probes its PF. UNVERIFIED without hardware.
    let mut args = eal_args(cfg, plan);
    for a in args.iter_mut().filter(|a| a.starts_with(pci.as_str())) {
        a.push_str(",dv_flow_en=2,dv_xmeta_en=4");
    }
    let allowed_cpus = engine::dpdk::current_thread_cpus();
    let mut eal = Eal::init(&args).context("--backend doca: EAL init")?;
    eal.set_remove_runtime_dir(true);
    let cores = cfg.core_mask.cores().to_vec();
    let k = cores.len();
    let pool = Mempool::new(&eal, "pspgw_mbufs", 8191, 256, Mempool::DEFAULT_DATA_ROOM)?;
    let secure = Port::by_name(&eal, pci)?;
    // The unsecured side: a DPDK device by name, or the first representor
    // (the first port that is not the PF).
    let unsecured = match plan.unsecured.ethdev_name() {
        Some(name) => Port::by_name(&eal, name)?,
        None => {
            let id = (0..Port::count(&eal))
                .find(|&i| i != secure.id().0)
                .context("--backend doca: no representor port came up for -r")?;
            Port::by_id(&eal, PortId(id))?
        }
    };
    let nq = cfg.core_mask.queues();
    let pcfg = PortConfig { rx_queues: nq, tx_queues: nq, ..PortConfig::default() };
    let ports = PortPair::start(secure, unsecured, &pcfg, &pool)?;
    let uplink_mac = ports.secure.mac_addr()?;
    let pipeline = PipelineConfig { max_acl_entries: cfg.max_tunnels, ..cfg.pipeline_config() };
    let doca = DocaConfig {
        pipeline,
        ports: DocaPorts {
            secure: ports.secure.id().0,
            unsecured: ports.unsecured.id().0,
            secure_mac: uplink_mac,
            unsecured_mac: ports.unsecured.mac_addr()?,
            next_hop_mac: cfg.nexthop_dmac.unwrap_or(engine::wire::MacAddr([0xff; 6])),
        },
        pci: pci.clone(),
        rss_queues: nq,
    };
    let r = (|| -> Result<()> {
        let mut backend =
            DocaFlowBackend::new(doca).map_err(|e| anyhow::anyhow!("--backend doca: {e}"))?;
        let keys = backend.keys();
        let nic = backend
            .counter_reader(cfg.stat_print.then_some(engine::doca::backend::COUNTER_INTERVAL));
        let (programmer, flows) =
            engine::flows::FlowProgrammer::new(backend, flow_config(&pipeline));
        let dp = serve::datapath(cfg, flows, tunnel_factory(cfg, &prelude, uplink_mac), k, true);
        let (rt, pin) = serve::control_runtime(&allowed_cpus, &cores)?;
        let (scfg, peer_of) = serve::server_config(cfg, &prelude, uplink_mac);
        let instance_id = {
            use rand_core::{RngCore, SeedableRng};
            rand_chacha::ChaCha20Rng::try_from_os_rng()?.next_u64()
        };
        let gateway = Gateway::with_key_source(
            scfg,
            GatewayBackend(dp.clone()),
            Box::new(nic::NicKeys::new(keys)),
            instance_id,
        );
        let packets = PoolPackets::new(&pool, FlowMetadata::register(&eal)?);
        let rings = serve::rings(k);
        let mut handlers: Vec<OffloadCore<'_, PoolPackets<'_>>> = rings
            .resubmit
            .iter()
            .map(|ring| OffloadCore::new(pipeline, packets, &rings.to_control, ring))
            .collect();
        let queues = ports.core_queues(nq)?;
        let reader = nic.clone();
        let nic_lines: crate::control::NicLines =
            Box::new(move || reader.latest().map(|n| n.lines()));
        // Its latencies for the final --stats-json report.
        let dp_perf = Arc::clone(&dp);
        let side = ControlSide {
            dp,
            programmer,
            rings: &rings,
            rt,
            pin,
            gateway,
            peer_of,
            nic_lines: Some(nic_lines),
            port_macs: Vec::new(),
        };
        let (core_stats, counters) =
            serve::serve(cfg, &prelude, &eal, &cores, queues, &mut handlers, side)?;
        let offload: Vec<OffloadStats> = handlers.iter().map(|h| h.stats()).collect();
        let latest = nic.latest().map(|n| n.lines());
        let nic_lines = cfg.stat_print.then_some(latest.as_deref()).flatten();
        stats::print_final_offload(&core_stats, &offload, &counters, nic_lines);
        if let Some(json) = &prelude.stats_json {
            stats_json::write_final_offload(
                json,
                &core_stats,
                &offload,
                &counters,
                latest.as_deref(),
                &dp_perf.perf,
            );
        }
        Ok(())
    })();
    drop((ports, pool));
    eal.cleanup()?;
    r
}
