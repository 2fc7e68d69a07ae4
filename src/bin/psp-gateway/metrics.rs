//! `--metrics-addr`: the Prometheus text endpoint (exposition format
//! 0.0.4). Every pipe counter and drop reason per core and summed, the
//! control plane's counters (the rows `--stat-print` prints), tunnels,
//! peers and held packets now, gRPC calls by method and status, and the
//! key-gen, insertion and miss-to-first-packet histograms. Names follow
//! Prometheus conventions: `psp_gateway_` prefix, `_total` on counters,
//! units in the name (`_bytes`, `_seconds`).

use crate::observe::{Observation, Observer};
use crate::perf::{Histogram, PerfMetrics, BUCKETS_NS};
use engine::pipeline::{DropReason, PipeStats};
use engine::tunnels::TunnelState;
use rpc::counters::RpcCount;
use rpc::server::PoolStats;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// What the endpoint renders.
pub struct Input<'a> {
    /// The control plane now.
    pub obs: &'a Observation,
    /// gRPC calls served.
    pub rpc: Vec<RpcCount>,
    /// Our master-key epoch.
    pub key_epoch: u64,
    /// The SPI/key pool's counters.
    pub pool: PoolStats,
    /// Since the gateway started.
    pub uptime: Duration,
    /// The latency histograms.
    pub perf: &'a PerfMetrics,
    /// `--metrics-sessions`: most per-session series each way.
    pub session_limit: usize,
}

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// A value now.
    Gauge,
}

/// One metric family: its samples as (labels, value).
#[derive(Debug, Clone)]
pub struct Family {
    /// Full name (`psp_gateway_misses_total`).
    pub name: String,
    /// `# HELP`.
    pub help: String,
    /// `# TYPE`.
    pub kind: Kind,
    /// `core="0",pipe="egress_acl"` (empty: no labels) and the value.
    pub samples: Vec<(String, u64)>,
}

fn family(name: &str, help: &str, kind: Kind, samples: Vec<(String, u64)>) -> Family {
    Family { name: name.into(), help: help.into(), kind, samples }
}

fn one(name: &str, help: &str, kind: Kind, v: u64) -> Family {
    family(name, help, kind, vec![(String::new(), v)])
}

/// Samples of one family: labels and value.
type Samples = Vec<(String, u64)>;

/// Every counter and gauge (the histograms are rendered apart).
pub fn families(i: &Input<'_>) -> Vec<Family> {
    use Kind::{Counter, Gauge};
    let o = i.obs;
    let mut out = Vec::new();
    let total = PipeStats::sum(o.cores.iter().map(|(_, s)| &s.pipes));
    let per_core = |f: &dyn Fn(&PipeStats, &mut Samples, &str)| {
        let mut v = Vec::new();
        for (core, s) in &o.cores {
            f(&s.pipes, &mut v, &format!("core=\"{core}\","));
        }
        v
    };
    let pipes = |p: &PipeStats, v: &mut Samples, pre: &str, bytes: bool| {
        p.for_each(|name, c| {
            v.push((format!("{pre}pipe=\"{name}\""), if bytes { c.bytes } else { c.packets }));
        });
    };
    let drops = |p: &PipeStats, v: &mut Samples, pre: &str| {
        for r in DropReason::all() {
            v.push((format!("{pre}reason=\"{}\"", r.counter_name()), p.dropped(r).packets));
        }
    };
    let mut v = Vec::new();
    pipes(&total, &mut v, "", false);
    out.push(family(
        "psp_gateway_pipe_packets_total",
        "Packets through each pipe, all packet cores",
        Counter,
        v,
    ));
    let mut v = Vec::new();
    pipes(&total, &mut v, "", true);
    out.push(family(
        "psp_gateway_pipe_bytes_total",
        "Bytes through each pipe, all packet cores",
        Counter,
        v,
    ));
    out.push(family(
        "psp_gateway_core_pipe_packets_total",
        "Packets through each pipe, per packet core",
        Counter,
        per_core(&|p, v, pre| pipes(p, v, pre, false)),
    ));
    out.push(family(
        "psp_gateway_core_pipe_bytes_total",
        "Bytes through each pipe, per packet core",
        Counter,
        per_core(&|p, v, pre| pipes(p, v, pre, true)),
    ));
    let mut v = Vec::new();
    drops(&total, &mut v, "");
    out.push(family(
        "psp_gateway_dropped_packets_total",
        "Packets dropped, by reason, all packet cores",
        Counter,
        v,
    ));
    out.push(family(
        "psp_gateway_core_dropped_packets_total",
        "Packets dropped, by reason, per packet core",
        Counter,
        per_core(&|p, v, pre| drops(p, v, pre)),
    ));
    let core_field = |f: fn(&engine::cores::CoreSnapshot) -> u64| {
        o.cores.iter().map(|(c, s)| (format!("core=\"{c}\""), f(s))).collect::<Vec<_>>()
    };
    out.push(family(
        "psp_gateway_core_to_control_packets_total",
        "Packets a core handed to the control plane",
        Counter,
        core_field(|s| s.control.to_control),
    ));
    out.push(family(
        "psp_gateway_core_control_ring_full_packets_total",
        "Packets a core freed because the control ring was full",
        Counter,
        core_field(|s| s.control.control_ring_full),
    ));
    out.push(family(
        "psp_gateway_core_key_cache_hits_total",
        "Receive-key cache hits",
        Counter,
        core_field(|s| s.key_cache.0),
    ));
    out.push(family(
        "psp_gateway_core_key_cache_misses_total",
        "Receive-key cache misses (key derived)",
        Counter,
        core_field(|s| s.key_cache.1),
    ));
    for (name, help, value) in o.control.rows() {
        out.push(one(&format!("psp_gateway_{name}_total"), help, Counter, value));
    }
    let gauges = crate::stats::TunnelGauges::of(o.tunnels.iter().copied());
    out.push(family(
        "psp_gateway_tunnels",
        "Tunnels installed now: ours (our request) and reverse (made from a peer's request)",
        Gauge,
        vec![("kind=\"ours\"".into(), gauges.ours), ("kind=\"reverse\"".into(), gauges.reverse)],
    ));
    let states = [
        TunnelState::Up,
        TunnelState::ReverseOnly,
        TunnelState::Requesting,
        TunnelState::Installing,
        TunnelState::Waiting,
        TunnelState::Idle,
    ];
    out.push(family(
        "psp_gateway_destinations",
        "Remote virtual addresses known, by the state of their tunnel",
        Gauge,
        states
            .iter()
            .map(|&s| {
                let n = o.tunnels.iter().filter(|t| t.state == s).count() as u64;
                (format!("state=\"{}\"", s.name()), n)
            })
            .collect(),
    ));
    out.push(one(
        "psp_gateway_held_packets",
        "Packets held for tunnels being set up",
        Gauge,
        gauges.held,
    ));
    let reachable = o.peers.iter().filter(|p| !p.unreachable).count() as u64;
    out.push(family(
        "psp_gateway_peers",
        "Peer gateways known, by whether their last session check answered",
        Gauge,
        vec![
            ("reachable=\"true\"".into(), reachable),
            ("reachable=\"false\"".into(), o.peers.len() as u64 - reachable),
        ],
    ));
    out.push(family(
        "psp_gateway_grpc_requests_total",
        "gRPC calls served, by method and status code",
        Counter,
        i.rpc
            .iter()
            .map(|r| (format!("method=\"{}\",code=\"{}\"", r.method.name(), r.code), r.calls))
            .collect(),
    ));
    out.push(one(
        "psp_gateway_key_pool_hits_total",
        "SPIs and keys taken from the pre-generated pool",
        Counter,
        i.pool.hits,
    ));
    out.push(one(
        "psp_gateway_key_pool_misses_total",
        "SPIs and keys generated inline (pool short)",
        Counter,
        i.pool.misses,
    ));
    out.push(one(
        "psp_gateway_master_key_epoch",
        "Master-key rotations since start",
        Gauge,
        i.key_epoch,
    ));
    out.push(one(
        "psp_gateway_uptime_seconds",
        "Seconds since the gateway started",
        Gauge,
        i.uptime.as_secs(),
    ));
    if let Some(d) = &o.directory {
        out.push(one(
            "psp_gateway_directory_connected",
            "1 while the directory (etcd) answers",
            Gauge,
            u64::from(d.connected),
        ));
        out.push(one(
            "psp_gateway_directory_gateways",
            "Other gateways the directory lists",
            Gauge,
            d.gateways as u64,
        ));
        out.push(one(
            "psp_gateway_directory_reconnects_total",
            "Connections to the directory made again after a failure",
            Counter,
            d.reconnects,
        ));
        out.push(one(
            "psp_gateway_directory_registrations_total",
            "Times this gateway registered (a new lease)",
            Counter,
            d.registrations,
        ));
    }
    if let Some(t) = &o.sessions {
        out.extend(session_families(t, i.session_limit));
    }
    out
}

/// Prefix of the per-session families (the status service carries them
/// in its tunnels instead).
pub const SESSION_PREFIX: &str = "psp_gateway_session_";

/// Per-session packets and bytes: egress per tunnel (our VM `local`, the
/// remote VM `virt`, the peer's SPI), ingress per ACL entry (our SPI, the
/// remote VM `virt`, ours `local`); the `limit` busiest each way, and a
/// gauge of how many sessions each way are left out.
fn session_families(t: &engine::tables::SessionTotals, limit: usize) -> Vec<Family> {
    let (mut packets, mut bytes) = (Vec::new(), Vec::new());
    let (egress, n) = crate::stats::busiest(&t.egress, limit, |r| r.2.packets);
    let egress_omitted = n - egress.len();
    let (ingress, n) = crate::stats::busiest(&t.ingress, limit, |r| r.2.packets);
    let ingress_omitted = n - ingress.len();
    for (pair, spi, n) in egress {
        let (src, dst) = (pair.src, pair.dst);
        let l = format!("dir=\"egress\",local=\"{src}\",spi=\"{:#010x}\",virt=\"{dst}\"", spi.0);
        packets.push((l.clone(), n.packets));
        bytes.push((l, n.bytes));
    }
    for (spi, pair, n) in ingress {
        let (src, dst) = (pair.src, pair.dst);
        let l = format!("dir=\"ingress\",local=\"{dst}\",spi=\"{:#010x}\",virt=\"{src}\"", spi.0);
        packets.push((l.clone(), n.packets));
        bytes.push((l, n.bytes));
    }
    vec![
        family(
            "psp_gateway_session_packets_total",
            "Clear packets per session (egress tunnel or ingress ACL pair)",
            Kind::Counter,
            packets,
        ),
        family(
            "psp_gateway_session_bytes_total",
            "Clear bytes per session (egress tunnel or ingress ACL pair)",
            Kind::Counter,
            bytes,
        ),
        family(
            "psp_gateway_session_series_omitted",
            "Sessions left out of the per-session series (beyond --metrics-sessions, the least busy)",
            Kind::Gauge,
            vec![
                ("dir=\"egress\"".into(), egress_omitted as u64),
                ("dir=\"ingress\"".into(), ingress_omitted as u64),
            ],
        ),
    ]
}

/// `le` of a bucket bound, in seconds.
fn le(ns: u64) -> String {
    let s = format!("{:.6}", ns as f64 / 1e9);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (b, c) in BUCKETS_NS.iter().zip(h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {c}", le(*b));
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_ns as f64 / 1e9);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// The exposition text.
pub fn render(i: &Input<'_>) -> String {
    let mut out = String::with_capacity(16 << 10);
    let _ = writeln!(out, "# HELP psp_gateway_build_info The gateway's version");
    let _ = writeln!(out, "# TYPE psp_gateway_build_info gauge");
    let _ =
        writeln!(out, "psp_gateway_build_info{{version=\"{}\"}} 1", escape(crate::config::VERSION));
    for f in families(i) {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let kind = match f.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        for (labels, v) in &f.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {v}", f.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {v}", f.name);
            }
        }
    }
    let p = i.perf;
    histogram(&mut out, "psp_gateway_key_gen_seconds", "Getting an SPI and key for the way back of a tunnel we request, with its ACL entry on every core", &p.key_gen.histogram());
    histogram(
        &mut out,
        "psp_gateway_insertion_seconds",
        "A table change, from request to visible on every packet core",
        &p.insertion.histogram(),
    );
    histogram(
        &mut out,
        "psp_gateway_miss_to_first_packet_seconds",
        "First missed packet to a destination until its held packets are resubmitted",
        &p.miss_to_first_packet.histogram(),
    );
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serves `GET /metrics` on `listener` until the task is dropped; one
/// task per connection (HTTP/1.1, keep-alive).
pub async fn serve(listener: tokio::net::TcpListener, observer: Arc<Observer>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Method, Response, StatusCode};
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("--metrics-addr: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let observer = Arc::clone(&observer);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let observer = Arc::clone(&observer);
                    async move {
                        let reply = |code: StatusCode, ctype: &str, body: String| {
                            Response::builder()
                                .status(code)
                                .header("content-type", ctype)
                                .body(Full::new(Bytes::from(body)))
                        };
                        match (req.method(), req.uri().path()) {
                            (&Method::GET, "/metrics") => match observer.scrape().await {
                                Ok(text) => reply(
                                    StatusCode::OK,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                    text,
                                ),
                                Err(e) => reply(
                                    StatusCode::SERVICE_UNAVAILABLE,
                                    "text/plain",
                                    format!("{e}\n"),
                                ),
                            },
                            (&Method::GET, "/") => reply(
                                StatusCode::OK,
                                "text/plain",
                                "psp-gateway: metrics at /metrics\n".into(),
                            ),
                            (&Method::GET, _) => reply(
                                StatusCode::NOT_FOUND,
                                "text/plain",
                                "not found; metrics at /metrics\n".into(),
                            ),
                            _ => reply(
                                StatusCode::METHOD_NOT_ALLOWED,
                                "text/plain",
                                "GET only\n".into(),
                            ),
                        }
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(io, service).await
            {
                tracing::debug!("--metrics-addr: connection: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Observation;
    use engine::cores::CoreSnapshot;
    use std::collections::HashMap;

    fn input<'a>(obs: &'a Observation, perf: &'a PerfMetrics) -> Input<'a> {
        Input {
            obs,
            rpc: Vec::new(),
            key_epoch: 3,
            pool: PoolStats::default(),
            uptime: Duration::from_secs(7),
            perf,
            session_limit: 1000,
        }
    }

    /// Parses the exposition text: (name{labels}) -> value, checking that
    /// every sample line follows a TYPE line of its family.
    fn parse(text: &str) -> HashMap<String, f64> {
        let mut types = std::collections::HashSet::new();
        let mut out = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert!(
                    types.insert(rest.split(' ').next().unwrap().to_string()),
                    "TYPE twice: {line}"
                );
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (key, value) = line.rsplit_once(' ').unwrap();
            let name = key.split('{').next().unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| types.contains(*b)))
                .unwrap_or(name);
            assert!(types.contains(base), "sample before its TYPE: {line}");
            assert!(out.insert(key.to_string(), value.parse().unwrap()).is_none(), "twice: {line}");
        }
        out
    }

    #[test]
    fn per_session_counters_when_the_backend_counts_them() {
        use engine::psp::Spi;
        use engine::tables::{SessionCount, SessionTotals, VipPair};
        let perf = PerfMetrics::default();
        let none = parse(&render(&input(&Observation::default(), &perf)));
        assert!(!none.keys().any(|k| k.starts_with(SESSION_PREFIX)), "{none:?}");
        let dst = "10.0.0.2".parse().unwrap();
        let pair = VipPair { src: "10.0.0.1".parse().unwrap(), dst };
        let obs = Observation {
            sessions: Some(SessionTotals {
                egress: vec![(pair, Spi(0x10), SessionCount { packets: 5, bytes: 700 })],
                ingress: vec![(
                    Spi(0x20),
                    VipPair { src: dst, dst: pair.src },
                    SessionCount { packets: 4, bytes: 512 },
                )],
            }),
            ..Observation::default()
        };
        let m = parse(&render(&input(&obs, &perf)));
        let e = "dir=\"egress\",local=\"10.0.0.1\",spi=\"0x00000010\",virt=\"10.0.0.2\"";
        let i = "dir=\"ingress\",local=\"10.0.0.1\",spi=\"0x00000020\",virt=\"10.0.0.2\"";
        assert_eq!(m[&format!("psp_gateway_session_packets_total{{{e}}}")], 5.0);
        assert_eq!(m[&format!("psp_gateway_session_bytes_total{{{e}}}")], 700.0);
        assert_eq!(m[&format!("psp_gateway_session_packets_total{{{i}}}")], 4.0);
        assert_eq!(m[&format!("psp_gateway_session_bytes_total{{{i}}}")], 512.0);
    }

    #[test]
    fn per_session_series_are_the_busiest_up_to_the_limit() {
        use engine::psp::Spi;
        use engine::tables::{SessionCount, SessionTotals, VipPair};
        let perf = PerfMetrics::default();
        let ip = |i: u8| std::net::IpAddr::from([10, 0, 0, i]);
        let c = |packets| SessionCount { packets, bytes: packets * 100 };
        // Five sessions each way, of 1..=5 packets (the busiest: 10.0.0.5).
        let obs = Observation {
            sessions: Some(SessionTotals {
                egress: (1..=5)
                    .map(|i| {
                        (VipPair { src: ip(1), dst: ip(i) }, Spi(u32::from(i)), c(u64::from(i)))
                    })
                    .collect(),
                ingress: (1..=5)
                    .map(|i| {
                        (
                            Spi(0x10 + u32::from(i)),
                            VipPair { src: ip(i), dst: ip(1) },
                            c(u64::from(i)),
                        )
                    })
                    .collect(),
            }),
            ..Observation::default()
        };
        let limited = Input { session_limit: 2, ..input(&obs, &perf) };
        let m = parse(&render(&limited));
        let series: Vec<&String> =
            m.keys().filter(|k| k.starts_with("psp_gateway_session_packets_total")).collect();
        assert_eq!(series.len(), 4, "two each way: {series:?}");
        for (dir, spi) in
            [("egress", "0x00000005"), ("egress", "0x00000004"), ("ingress", "0x00000015")]
        {
            assert!(
                series.iter().any(|k| k.contains(&format!("dir=\"{dir}\"")) && k.contains(spi)),
                "{dir} {spi}: {series:?}"
            );
        }
        assert!(!series.iter().any(|k| k.contains("0x00000001")), "the least busy is out");
        assert_eq!(m["psp_gateway_session_series_omitted{dir=\"egress\"}"], 3.0);
        assert_eq!(m["psp_gateway_session_series_omitted{dir=\"ingress\"}"], 3.0);
        // No series at all with 0; everything under the default.
        let none = parse(&render(&Input { session_limit: 0, ..input(&obs, &perf) }));
        assert!(!none.keys().any(|k| k.starts_with("psp_gateway_session_packets_total")));
        assert_eq!(none["psp_gateway_session_series_omitted{dir=\"egress\"}"], 5.0);
        let all = parse(&render(&input(&obs, &perf)));
        assert_eq!(all["psp_gateway_session_series_omitted{dir=\"ingress\"}"], 0.0);
    }

    #[test]
    fn pipe_and_drop_counters_per_core_and_summed() {
        let mut a = CoreSnapshot::default();
        a.pipes.fwd_to_wire.packets = 5;
        a.pipes.fwd_to_wire.bytes = 500;
        a.pipes.ingress_acl_unknown_spi.packets = 2;
        let mut b = CoreSnapshot::default();
        b.pipes.fwd_to_wire.packets = 1;
        b.pipes.fwd_to_wire.bytes = 100;
        let mut obs = Observation { cores: vec![(0, a), (1, b)], ..Observation::default() };
        obs.control.tunnels.misses = 4;
        obs.control.resubmit_ring_full = 1;
        let perf = PerfMetrics::default();
        perf.insertion.record(Duration::from_micros(30));
        let m = parse(&render(&input(&obs, &perf)));
        assert_eq!(m["psp_gateway_pipe_packets_total{pipe=\"fwd_to_wire\"}"], 6.0);
        assert_eq!(m["psp_gateway_pipe_bytes_total{pipe=\"fwd_to_wire\"}"], 600.0);
        assert_eq!(m["psp_gateway_core_pipe_packets_total{core=\"1\",pipe=\"fwd_to_wire\"}"], 1.0);
        assert_eq!(m["psp_gateway_dropped_packets_total{reason=\"ingress_acl_unknown_spi\"}"], 2.0);
        assert_eq!(m["psp_gateway_core_dropped_packets_total{core=\"0\",reason=\"ingress_acl_unknown_spi\"}"], 2.0);
        assert_eq!(m["psp_gateway_misses_total"], 4.0);
        assert_eq!(m["psp_gateway_resubmit_ring_full_total"], 1.0);
        assert_eq!(m["psp_gateway_master_key_epoch"], 3.0);
        assert_eq!(m["psp_gateway_insertion_seconds_bucket{le=\"0.00005\"}"], 1.0);
        assert_eq!(m["psp_gateway_insertion_seconds_bucket{le=\"0.000025\"}"], 0.0);
        assert_eq!(m["psp_gateway_insertion_seconds_count"], 1.0);
        assert!((m["psp_gateway_insertion_seconds_sum"] - 30e-6).abs() < 1e-12);
        // Every drop reason has its series, at zero when nothing dropped.
        let reasons = DropReason::all().count();
        let n = m.keys().filter(|k| k.starts_with("psp_gateway_dropped_packets_total{")).count();
        assert_eq!(n, reasons);
        // Every control row is a counter of its own.
        for (name, _, _) in obs.control.rows() {
            assert!(m.contains_key(&format!("psp_gateway_{name}_total")), "{name}");
        }
    }

    #[test]
    fn bucket_bounds_in_seconds() {
        assert_eq!(le(10_000), "0.00001");
        assert_eq!(le(2_500_000), "0.0025");
        assert_eq!(le(1_000_000_000), "1");
        assert_eq!(le(2_500_000_000), "2.5");
    }
}
