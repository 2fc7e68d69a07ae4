//! `--stat-print`: the counters of every pipe, per-core datapath counters
//! and the control plane's, printed at exit.

use crate::control::ControlCounters;
use engine::dpdk::{CoreStats, GatewayCore};
use engine::pipeline::PipeStats;

/// Prints the final statistics: a summary line always, every pipe counter
/// with `--stat-print`.
pub fn print_final(
    cores: &[CoreStats],
    handlers: &[GatewayCore<'_>],
    control: &ControlCounters,
    detailed: bool,
) {
    let pipes = PipeStats::sum(handlers.iter().map(|h| h.pipeline().stats()));
    let (to_wire, to_host) = (pipes.fwd_to_wire.packets, pipes.fwd_to_unsecured.packets);
    println!(
        "psp-gateway: {to_wire} packets encrypted to the uplink, {to_host} decrypted to the host; \
         {} tunnels up; {} misses",
        control.tunnels_up, control.misses
    );
    if !detailed {
        return;
    }
    println!("pipe counters (packets / bytes):");
    pipes.for_each(|name, c| {
        if c.packets > 0 {
            println!("  {name:<32} {:>12} {:>16}", c.packets, c.bytes);
        }
    });
    for s in cores {
        println!(
            "core {}: rx host {} rx uplink {} tx uplink {} tx host {} tx-full {} resubmitted {} \
             polls {} idle: empty {} pauses {} sleeps {} ({} us)",
            s.cpu,
            s.rx_unsecured,
            s.rx_secure,
            s.tx_secure,
            s.tx_unsecured,
            s.tx_full,
            s.resubmitted,
            s.polls,
            s.backoff.empty_polls,
            s.backoff.pauses,
            s.backoff.sleeps,
            s.backoff.slept_us
        );
    }
    for (i, h) in handlers.iter().enumerate() {
        let c = h.control_stats();
        let (hits, misses) = h.pipeline().key_cache_stats();
        println!(
            "core {i}: to control {} (ring full {}), mirrors without mbuf {}, key cache {hits} hits / {misses} misses",
            c.to_control, c.control_ring_full, c.mirror_no_mbuf
        );
    }
    println!("control plane: {control:?}");
}
