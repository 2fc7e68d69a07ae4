//! `--stat-print`: the counters of every pipe, per-core datapath counters
//! and the control plane's (the tunnel manager's and its driver's),
//! printed at exit.

use crate::config::PerfPrint;
use crate::perf::PerfMetrics;
use engine::cores::{CoreSnapshot, GatewayCore, Packets};
use engine::dpdk::CoreStats;
use engine::pipeline::PipeStats;
use engine::tunnels::TunnelCounters;

/// Counters of the control plane: the tunnel manager's and its driver's.
#[derive(Debug, Clone, Copy, Default)]
pub struct ControlCounters {
    /// The tunnel manager's (misses, held, requests, re-keys, rotations).
    pub tunnels: TunnelCounters,
    /// Resubmissions lost to a full core ring.
    pub resubmit_ring_full: u64,
    /// ARP and other traffic sent up by the cores (dropped).
    pub rss: u64,
    /// Missed packets whose inner source is none of our VMs (dropped).
    pub misses_foreign_src: u64,
    /// Sampled packets received.
    pub sampled: u64,
    /// Destination changes the directory sent.
    pub directory_updates: u64,
    /// ARP requests and neighbour solicitations answered.
    pub neighbour_answers: u64,
    /// ARP and neighbour discovery packets not answered (replies, probes,
    /// the VMs' own addresses, malformed), freed.
    pub neighbour_unanswered: u64,
    /// The cores' unsecured-port counters, summed.
    pub ports: PortCounters,
}

/// The packet cores' counters of the unsecured ports, summed over cores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Packets whose inner source is not their port's VMs' (dropped).
    pub vf_src_refused: u64,
    /// Decrypted packets whose destination no port's VMs own (dropped).
    pub no_vf_port: u64,
    /// Decrypted packets dropped for a full port burst.
    pub vf_out_full: u64,
    /// Neighbour answers a core could not send (no such port, burst full).
    pub to_host_dropped: u64,
}

impl PortCounters {
    /// Summed over `cores`.
    pub fn sum(cores: impl IntoIterator<Item = engine::cores::ControlStats>) -> PortCounters {
        cores.into_iter().fold(PortCounters::default(), |p, c| PortCounters {
            vf_src_refused: p.vf_src_refused + c.vf_src_refused,
            no_vf_port: p.no_vf_port + c.no_vf_port,
            vf_out_full: p.vf_out_full + c.vf_out_full,
            to_host_dropped: p.to_host_dropped + c.to_host_dropped,
        })
    }
}

impl ControlCounters {
    /// Every counter as (name, what it counts, value), the one list
    /// `--stat-print`, the metrics endpoint (`psp_gateway_<name>_total`)
    /// and `psp-gateway status` print.
    pub fn rows(&self) -> [(&'static str, &'static str, u64); 23] {
        let (t, p) = (&self.tunnels, &self.ports);
        [
            ("misses", "Packets that missed the egress ACL (no tunnel yet)", t.misses),
            (
                "misses_no_peer",
                "Missed packets to destinations no peer serves (dropped)",
                t.no_peer,
            ),
            (
                "misses_foreign_src",
                "Missed packets whose inner source is none of our VMs (dropped, nothing asked)",
                self.misses_foreign_src,
            ),
            (
                "held_dropped",
                "Held packets dropped (queue full, refused, peer gone)",
                t.held_dropped,
            ),
            (
                "held_resubmitted",
                "Held packets resubmitted through their new tunnel",
                t.resubmitted,
            ),
            ("tunnel_setups", "Tunnels set up by our requests", t.tunnels_up),
            (
                "tunnel_requests_failed",
                "Tunnel requests that failed or timed out (retried)",
                t.requests_failed,
            ),
            (
                "stale_answers",
                "Answers to superseded or timed-out requests (ignored)",
                t.stale_answers,
            ),
            ("peer_restarts", "Peers found restarted", t.peer_restarts),
            ("peer_rotations", "Peers found to have rotated their master key", t.peer_rotations),
            ("rekeys", "Tunnels asked for again (peer restarted, rotated or moved)", t.rekeys),
            ("master_key_rotations", "Rotations of our own master key", t.rotations),
            (
                "tunnels_withdrawn",
                "Tunnels removed because the directory no longer names their peer",
                t.withdrawn,
            ),
            (
                "resubmit_ring_full",
                "Resubmissions lost to a full core ring",
                self.resubmit_ring_full,
            ),
            ("rss_packets", "ARP and other packets the cores sent up", self.rss),
            (
                "neighbour_answers",
                "ARP requests and neighbour solicitations answered",
                self.neighbour_answers,
            ),
            (
                "neighbour_unanswered",
                "ARP and neighbour discovery not answered (replies, probes, own addresses)",
                self.neighbour_unanswered,
            ),
            (
                "vf_src_refused",
                "Packets from an unsecured port with another port's or no VM's source (dropped)",
                p.vf_src_refused,
            ),
            (
                "no_vf_port",
                "Decrypted packets to an address no unsecured port has (dropped)",
                p.no_vf_port,
            ),
            ("vf_out_full", "Decrypted packets dropped for a full port burst", p.vf_out_full),
            (
                "to_host_dropped",
                "Neighbour answers a core could not send (dropped)",
                p.to_host_dropped,
            ),
            ("sampled_packets", "Sampled packet copies received", self.sampled),
            (
                "directory_updates",
                "Destination changes learnt from the directory",
                self.directory_updates,
            ),
        ]
    }
}

/// Tunnels and held packets now, from the tunnel manager's view: the
/// gauges `--stat-print` prints after the control rows and the metrics
/// endpoint serves (`psp_gateway_tunnels{kind}`, `psp_gateway_held_packets`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelGauges {
    /// Our own tunnels installed.
    pub ours: u64,
    /// Tunnels made from peers' reverse parameters.
    pub reverse: u64,
    /// Packets held for tunnels being set up.
    pub held: u64,
}

impl TunnelGauges {
    /// Counted over every destination the manager knows.
    pub fn of(tunnels: impl IntoIterator<Item = engine::tunnels::TunnelView>) -> TunnelGauges {
        tunnels.into_iter().fold(TunnelGauges::default(), |g, t| TunnelGauges {
            ours: g.ours + u64::from(t.ours),
            reverse: g.reverse + u64::from(t.reverse),
            held: g.held + t.held as u64,
        })
    }

    /// As `--stat-print` names them.
    pub fn rows(&self) -> [(&'static str, u64); 3] {
        [
            ("tunnels_ours", self.ours),
            ("tunnels_reverse", self.reverse),
            ("held_packets", self.held),
        ]
    }
}

/// The control plane's counters, one `name value` line each.
fn print_control(control: &ControlCounters, gauges: &[(&str, u64)]) {
    println!("control plane:");
    for (name, _, v) in control.rows() {
        println!("  {name:<32} {v:>12}");
    }
    for (name, v) in gauges {
        println!("  {name:<32} {v:>12}");
    }
}

/// Every pipe counter that is not zero, one per line.
fn print_pipes(pipes: &PipeStats) {
    engine::pipeline::stats::stat_lines(pipes).iter().for_each(|l| println!("{l}"));
}

/// `--stat-print` while running: pipe counters summed over the cores'
/// latest snapshots (`pipes`), and the control plane's counters.
pub fn print_periodic(
    snaps: &[CoreSnapshot],
    pipes: &PipeStats,
    control: &ControlCounters,
    gauges: &[(&str, u64)],
) {
    println!("stats ({} cores reporting), pipe counters (packets / bytes):", snaps.len());
    print_pipes(pipes);
    print_control(control, gauges);
}

/// The most sessions each direction `--stat-print` lists (the busiest).
pub const SESSION_LINES: usize = 16;

/// The `limit` busiest of `rows` by `count`, busiest first, ties in their
/// order (the tables' address order), and how many rows there were. Picks
/// before it sorts: a table of 2^20 sessions costs one pass and a sort of
/// `limit` rows. `--stat-print`'s session lines and the metrics' session
/// series both choose with it.
pub fn busiest<'a, T>(
    rows: impl IntoIterator<Item = &'a T>,
    limit: usize,
    count: impl Fn(&T) -> u64,
) -> (Vec<&'a T>, usize) {
    use std::cmp::Reverse;
    // (count, position) is unique, so the unstable pick and sort give what
    // a stable sort of every row would.
    let mut v: Vec<(Reverse<u64>, usize, &T)> =
        rows.into_iter().enumerate().map(|(i, r)| (Reverse(count(r)), i, r)).collect();
    let n = v.len();
    if n > limit {
        v.select_nth_unstable_by_key(limit, |e| (e.0, e.1));
        v.truncate(limit);
    }
    v.sort_unstable_by_key(|e| (e.0, e.1));
    (v.into_iter().map(|e| e.2).collect(), n)
}

/// `--stat-print`'s per-session lines (DOCA 3.x prints its sessions'
/// counters): the busiest [`SESSION_LINES`] each way, by packets, and how
/// many more there are; sessions that carried nothing are not listed.
pub fn session_lines(t: &engine::tables::SessionTotals) -> Vec<String> {
    let mut out = Vec::new();
    let (egress, egress_active) =
        busiest(t.egress.iter().filter(|r| r.2.packets > 0), SESSION_LINES, |r| r.2.packets);
    let (ingress, ingress_active) =
        busiest(t.ingress.iter().filter(|r| r.2.packets > 0), SESSION_LINES, |r| r.2.packets);
    out.push(format!(
        "sessions: {} egress, {} ingress ({} and {} with traffic), packets / bytes:",
        t.egress.len(),
        t.ingress.len(),
        egress_active,
        ingress_active
    ));
    for (pair, spi, c) in egress {
        let (dst, src) = (pair.dst.to_string(), pair.src.to_string());
        out.push(format!(
            "  egress  to {dst:<39} from {src:<39} spi {:#010x} {:>12} {:>16}",
            spi.0, c.packets, c.bytes
        ));
    }
    if egress_active > SESSION_LINES {
        out.push(format!("  ... {} more egress sessions", egress_active - SESSION_LINES));
    }
    for (spi, pair, c) in ingress {
        let (src, dst) = (pair.src.to_string(), pair.dst.to_string());
        out.push(format!(
            "  ingress from {src:<37} to {dst:<39} spi {:#010x} {:>12} {:>16}",
            spi.0, c.packets, c.bytes
        ));
    }
    if ingress_active > SESSION_LINES {
        out.push(format!("  ... {} more ingress sessions", ingress_active - SESSION_LINES));
    }
    out
}

/// `--stat-print` while running in DOCA mode: the NIC's counters (entry
/// and pipe-miss counters the backend read) in the same lines as
/// [`print_periodic`]'s, and the control plane's counters.
pub fn print_nic(lines: Option<&[String]>, control: &ControlCounters, gauges: &[(&str, u64)]) {
    match lines {
        Some(lines) => {
            println!("stats (NIC), pipe counters (packets / bytes):");
            lines.iter().for_each(|l| println!("{l}"));
        }
        None => println!("stats (NIC): no counters read yet"),
    }
    print_control(control, gauges);
}

/// `--perf-print`: the latencies asked for.
pub fn print_perf(perf: &PerfMetrics, which: PerfPrint) {
    if matches!(which, PerfPrint::KeyGen | PerfPrint::All) {
        println!("perf key-gen: {}", perf.key_gen.summary());
    }
    if matches!(which, PerfPrint::Insertion | PerfPrint::All) {
        println!("perf insertion: {}", perf.insertion.summary());
    }
    if matches!(which, PerfPrint::All) {
        println!("perf miss-to-first-packet: {}", perf.miss_to_first_packet.summary());
    }
}

/// Prints the final statistics: a summary line always, every pipe counter
/// with `--stat-print`.
pub fn print_final<P: Packets>(
    cores: &[CoreStats],
    handlers: &[GatewayCore<'_, P>],
    control: &ControlCounters,
    detailed: bool,
) {
    let pipes = PipeStats::sum(handlers.iter().map(|h| h.pipeline().stats()));
    let (to_wire, to_host) = (pipes.fwd_to_wire.packets, pipes.fwd_to_unsecured.packets);
    println!(
        "psp-gateway: {to_wire} packets encrypted to the uplink, {to_host} decrypted to the host; \
         {} tunnels up; {} misses",
        control.tunnels.tunnels_up, control.tunnels.misses
    );
    if !detailed {
        return;
    }
    println!("pipe counters (packets / bytes):");
    print_pipes(&pipes);
    print_cores(cores);
    for (i, h) in handlers.iter().enumerate() {
        let c = h.control_stats();
        let (hits, misses) = h.pipeline().key_cache_stats();
        println!(
            "core {i}: to control {} (ring full {}), mirrors without mbuf {}, key cache {hits} hits / {misses} misses",
            c.to_control, c.control_ring_full, c.mirror_no_mbuf
        );
    }
    print_control(control, &[]);
}

/// The final statistics of an offloaded pipeline (DOCA): the NIC counts
/// the packets it encrypts and decrypts (`nic`: its counters' lines, with
/// `--stat-print`, as of the backend's last reading); the cores count what
/// reached them on the RSS queues.
#[cfg(feature = "doca")]
pub fn print_final_offload(
    cores: &[CoreStats],
    offload: &[engine::cores::OffloadStats],
    control: &ControlCounters,
    nic: Option<&[String]>,
) {
    println!(
        "psp-gateway (DOCA offload): {} tunnels up; {} misses",
        control.tunnels.tunnels_up, control.tunnels.misses
    );
    if let Some(lines) = nic {
        println!("NIC pipe counters (packets / bytes):");
        lines.iter().for_each(|l| println!("{l}"));
    }
    print_cores(cores);
    for (i, o) in offload.iter().enumerate() {
        println!("core {i}: {o:?}");
    }
    print_control(control, &[]);
}

/// Each packet core's receive, transmit and idle counters.
fn print_cores(cores: &[CoreStats]) {
    for s in cores {
        println!(
            "core {}: rx host {} rx uplink {} tx uplink {} tx host {} tx-full {} \
             rx-multi-seg {} resubmitted {} polls {} idle: empty {} pauses {} sleeps {} ({} us)",
            s.cpu,
            s.rx_unsecured,
            s.rx_secure,
            s.tx_secure,
            s.tx_unsecured,
            s.tx_full,
            s.rx_multi_seg,
            s.resubmitted,
            s.polls,
            s.backoff.empty_polls,
            s.backoff.pauses,
            s.backoff.sleeps,
            s.backoff.slept_us
        );
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;
    use engine::psp::Spi;
    use engine::tables::{SessionCount, SessionTotals, VipPair};

    #[test]
    fn busiest_keeps_the_first_of_equal_rows() {
        let rows = [(0, 3u64), (1, 1), (2, 3), (3, 2), (4, 3)];
        let (top, n) = busiest(&rows, 2, |r| r.1);
        assert_eq!((top, n), (vec![&(0, 3), &(2, 3)], 5));
        let (all, n) = busiest(&rows, 9, |r| r.1);
        assert_eq!(all.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 2, 4, 3, 1]);
        assert_eq!((busiest(&rows, 0, |r| r.1).0.len(), n), (0, 5));
    }

    #[test]
    fn sessions_listed_busiest_first_idle_ones_left_out() {
        let c = |packets| SessionCount { packets, bytes: packets * 100 };
        let ip = |i: u8| std::net::IpAddr::from([10, 0, 0, i]);
        let from1 = |i: u8| VipPair { src: ip(1), dst: ip(i) };
        let mut t = SessionTotals {
            egress: vec![
                (from1(2), Spi(0x1001), c(5)),
                (from1(3), Spi(0x1002), c(50)),
                (from1(4), Spi(7), c(0)),
            ],
            ingress: vec![(Spi(0x8000_0001), VipPair { src: ip(2), dst: ip(1) }, c(9))],
        };
        let l = session_lines(&t);
        assert_eq!(l[0], "sessions: 3 egress, 1 ingress (2 and 1 with traffic), packets / bytes:");
        assert!(
            l[1].starts_with("  egress  to 10.0.0.3 ")
                && l[1].contains(" from 10.0.0.1 ")
                && l[1].contains("0x00001002")
                && l[1].ends_with(" 5000"),
            "{l:?}"
        );
        assert!(l[2].contains("to 10.0.0.2"), "{l:?}");
        assert!(
            l[3].starts_with("  ingress from 10.0.0.2 ")
                && l[3].contains(" to 10.0.0.1 ")
                && l[3].contains("0x80000001"),
            "{l:?}"
        );
        assert_eq!(l.len(), 4, "the idle session is not listed: {l:?}");
        t.egress =
            (0..40).map(|i| (from1(i), Spi(u32::from(i) + 1), c(u64::from(i) + 1))).collect();
        let l = session_lines(&t);
        assert!(l[1].contains("to 10.0.0.39"), "busiest first: {l:?}");
        assert!(l.contains(&"  ... 24 more egress sessions".to_string()), "{l:?}");
    }
}
