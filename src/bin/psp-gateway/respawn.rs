//! Starting with af_packet ports on a host where another DPDK process
//! holds the fanout group our pid would give them
//! (`engine::dpdk::probe_fanout`): this process becomes a supervisor that
//! starts the gateway again under a new pid, passes SIGINT, SIGTERM and
//! SIGHUP on to it, and exits with its status. The supervised gateway dies
//! with its supervisor (SIGKILL included), so a script that started one
//! process and kills it stops the gateway.

use anyhow::{Context, Result};
use engine::config::PortsPlan;
use engine::dpdk::{probe_fanout, send_signal, set_parent_death_signal, StartLock};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// Set in a supervised gateway's environment: its supervisor's pid.
const SUPERVISOR_ENV: &str = "PSPGW_AF_PACKET_SUPERVISOR";
/// A supervised gateway's exit status when its new pid collides too.
const EXIT_COLLIDED: i32 = 75;
/// Starts a supervisor tries before giving up (each collision is rare).
const MAX_STARTS: u32 = 8;

/// Runs before the EAL. Returns the host-wide start lock, to hold until
/// the EAL has made its af_packet sockets (`None` with no af_packet port
/// or no lock to be had). Does not return when this pid collides: a
/// supervised gateway exits for its supervisor to start another, and
/// otherwise this process supervises the gateway to its end.
pub fn before_eal(plan: &PortsPlan) -> Result<Option<StartLock>> {
    let supervisor = std::env::var(SUPERVISOR_ENV).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(pid) = supervisor {
        set_parent_death_signal().context("prctl(PR_SET_PDEATHSIG)")?;
        // The supervisor may have gone before the line above.
        if std::os::unix::process::parent_id() != pid {
            anyhow::bail!("af_packet: supervisor {pid} is gone");
        }
    }
    let ifaces: Vec<&str> = std::iter::once(&plan.secure)
        .chain(plan.unsecured_ports())
        .filter_map(|s| s.af_packet_iface())
        .collect();
    if ifaces.is_empty() {
        return Ok(None);
    }
    let path = StartLock::default_path();
    let lock = match StartLock::acquire(&path) {
        Ok(lock) => Some(lock),
        Err(e) => {
            tracing::warn!(
                "af_packet: no start lock ({}: {e}); starting unserialized",
                path.display()
            );
            None
        }
    };
    let pid = std::process::id();
    for iface in ifaces {
        match probe_fanout(iface, pid) {
            Ok(Some(p)) if p.taken => {
                tracing::warn!(
                    "af_packet: fanout group {} of {} (pid {pid} ^ ifindex {}) is held by another \
                     process on another interface; starting again under a new pid",
                    p.group,
                    p.iface,
                    p.ifindex
                );
                drop(lock);
                if supervisor.is_some() {
                    std::process::exit(EXIT_COLLIDED);
                }
                supervise();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("af_packet: cannot check the fanout group of {iface}: {e}"),
        }
    }
    Ok(lock)
}

/// Starts the gateway again (same arguments, a new pid) until one start
/// does not collide, and exits as it exits.
fn supervise() -> ! {
    let code = match run_supervised() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("psp-gateway: {e:#}");
            1
        }
    };
    std::process::exit(code)
}

fn run_supervised() -> Result<i32> {
    let child = Arc::new(AtomicU32::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])?;
    {
        let (child, stopping) = (Arc::clone(&child), Arc::clone(&stopping));
        std::thread::Builder::new().name("supervisor".into()).spawn(move || {
            for sig in signals.forever() {
                stopping.store(true, Ordering::SeqCst);
                let pid = child.load(Ordering::SeqCst);
                if pid != 0 {
                    let _ = send_signal(pid, sig);
                }
            }
        })?;
    }
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "psp-gateway".into());
    let args: Vec<_> = args.collect();
    for _ in 0..MAX_STARTS {
        if stopping.load(Ordering::SeqCst) {
            return Ok(130);
        }
        // /proc/self/exe: this very binary, even if its file was replaced.
        let mut proc = Command::new("/proc/self/exe")
            .arg0(&arg0)
            .args(&args)
            .env(SUPERVISOR_ENV, std::process::id().to_string())
            .spawn()
            .context("starting the gateway under a new pid")?;
        child.store(proc.id(), Ordering::SeqCst);
        // A signal that came while it was being started.
        if stopping.load(Ordering::SeqCst) {
            let _ = send_signal(proc.id(), signal_hook::consts::SIGTERM);
        }
        let status = proc.wait()?;
        child.store(0, Ordering::SeqCst);
        match (status.code(), status.signal()) {
            (Some(EXIT_COLLIDED), _) => continue,
            (Some(code), _) => return Ok(code),
            (None, Some(sig)) => return Ok(128 + sig),
            (None, None) => return Ok(1),
        }
    }
    anyhow::bail!(
        "af_packet: {MAX_STARTS} starts in a row collided with other processes' fanout groups"
    )
}
