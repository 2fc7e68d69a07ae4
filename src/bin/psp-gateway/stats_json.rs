//! `--stats-json PATH`: every statistics report as one JSON object on one
//! line, for scripts and monitoring (the text of `--stat-print` is for
//! people and may change). A report is written at every `--stat-print`
//! interval while running (whether or not `--stat-print` is given) and
//! once at exit. The schema (`"schema": 1`) is stable: fields are added,
//! never renamed or removed, within one schema number.
//!
//! ```text
//! {"schema":1,"report":"periodic"|"final","seq":N,"uptime_ms":N,
//!  "backend":"software"|"doca",
//!  "pipes":{"<counter>":{"packets":N,"bytes":N},...}   (software: every pipe counter, zeros too)
//!  "nic":["<line>",...]                                 (doca: the NIC's counter lines, when read)
//!  "control":{"<counter>":N,...}                        (ControlCounters::rows' names)
//!  "tunnels":{"ours":N,"reverse":N,"held_packets":N}    (periodic only)
//!  "cores":[{"core":i,...}],                           (see `core_object`)
//!  "perf":{"key_gen"|"insertion"|"miss_to_first_packet":
//!          {"count":N,"mean_us":X,"p50_us":X,"p99_us":X,"max_us":X}}}  (count 0: no more)
//! ```

use crate::stats::{ControlCounters, TunnelGauges};
use anyhow::{Context, Result};
use engine::config::Backend;
use engine::cores::ControlStats;
use engine::dpdk::CoreStats;
use engine::pipeline::PipeStats;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The schema number every report carries.
pub const SCHEMA: u64 = 1;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// At a `--stat-print` interval.
    Periodic,
    /// At exit.
    Final,
}

/// What one packet core reports (any field may be absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreReport {
    /// Receive, transmit and idle counters (final reports).
    pub io: Option<CoreStats>,
    /// To and from the control plane (software backend).
    pub control: Option<ControlStats>,
    /// Receive-key cache (hits, misses) (software backend).
    pub key_cache: Option<(u64, u64)>,
    /// What the offload core classified (DOCA).
    pub offload: Option<engine::cores::OffloadStats>,
    /// Its time per packet (final software reports, `--perf-print`'s split).
    pub split: Option<crate::perf::Split>,
}

/// One report's content.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// Periodic or final.
    pub kind: Kind,
    /// The backend that ran.
    pub backend: Backend,
    /// The pipe counters, summed over the cores (software backend).
    pub pipes: Option<&'a PipeStats>,
    /// The NIC's counter lines (DOCA, once read).
    pub nic: Option<&'a [String]>,
    /// The control plane's counters.
    pub control: &'a ControlCounters,
    /// Tunnels and held packets now (periodic reports).
    pub tunnels: Option<TunnelGauges>,
    /// Per packet core.
    pub cores: &'a [CoreReport],
    /// The `--perf-print` latencies (key-gen, insertion, miss to first
    /// packet), whether or not `--perf-print` is given.
    pub perf: Option<&'a crate::perf::PerfMetrics>,
}

/// Where the reports go.
pub struct StatsJson {
    out: Mutex<Box<dyn Write + Send>>,
    seq: AtomicU64,
    started: Instant,
}

impl std::fmt::Debug for StatsJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsJson").field("seq", &self.seq).finish_non_exhaustive()
    }
}

impl StatsJson {
    /// Creates (or truncates) `path`; `-` is stdout.
    pub fn open(path: &Path) -> Result<StatsJson> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("--stats-json {}", path.display()))?,
            )
        };
        Ok(StatsJson::to(out))
    }

    /// Reports to `out`.
    pub fn to(out: Box<dyn Write + Send>) -> StatsJson {
        StatsJson { out: Mutex::new(out), seq: AtomicU64::new(0), started: Instant::now() }
    }

    /// Writes one report as one line. A write error is logged, not fatal:
    /// the gateway keeps forwarding when its stats file's disk is full.
    pub fn write(&self, r: &Report<'_>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let uptime_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut line = report_object(r, seq, uptime_ms).to_string();
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!("--stats-json: {e}");
        }
    }
}

/// The final report of a software run.
pub fn write_final<P: engine::cores::Packets>(
    json: &StatsJson,
    cores: &[CoreStats],
    handlers: &[engine::cores::GatewayCore<'_, P>],
    control: &ControlCounters,
    perf: &crate::perf::PerfMetrics,
    aead: (&engine::aead_check::Measurement, engine::psp::Version),
) {
    let pipes = PipeStats::sum(handlers.iter().map(|h| h.pipeline().stats()));
    let per_core: Vec<CoreReport> = cores
        .iter()
        .zip(handlers)
        .map(|(io, h)| CoreReport {
            io: Some(*io),
            control: Some(h.control_stats()),
            key_cache: Some(h.pipeline().key_cache_stats()),
            offload: None,
            split: crate::perf::core_split(io, h, aead.0, aead.1),
        })
        .collect();
    json.write(&Report {
        kind: Kind::Final,
        backend: Backend::Software,
        pipes: Some(&pipes),
        nic: None,
        control,
        tunnels: None,
        cores: &per_core,
        perf: Some(perf),
    });
}

/// The final report of a DOCA run.
#[cfg(feature = "doca")]
pub fn write_final_offload(
    json: &StatsJson,
    cores: &[CoreStats],
    offload: &[engine::cores::OffloadStats],
    control: &ControlCounters,
    nic: Option<&[String]>,
    perf: &crate::perf::PerfMetrics,
) {
    let per_core: Vec<CoreReport> = cores
        .iter()
        .zip(offload)
        .map(|(io, o)| CoreReport { io: Some(*io), offload: Some(*o), ..Default::default() })
        .collect();
    json.write(&Report {
        kind: Kind::Final,
        backend: Backend::Doca,
        pipes: None,
        nic,
        control,
        tunnels: None,
        cores: &per_core,
        perf: Some(perf),
    });
}

/// The report as JSON.
pub fn report_object(r: &Report<'_>, seq: u64, uptime_ms: u64) -> Value {
    let mut o = Map::new();
    o.insert("schema".into(), SCHEMA.into());
    let kind = match r.kind {
        Kind::Periodic => "periodic",
        Kind::Final => "final",
    };
    o.insert("report".into(), kind.into());
    o.insert("seq".into(), seq.into());
    o.insert("uptime_ms".into(), uptime_ms.into());
    o.insert("backend".into(), r.backend.to_string().into());
    if let Some(p) = r.pipes {
        let mut pipes = Map::new();
        p.for_each(|name, c| {
            pipes.insert(name.into(), json!({"packets": c.packets, "bytes": c.bytes}));
        });
        o.insert("pipes".into(), pipes.into());
    }
    if let Some(lines) = r.nic {
        o.insert("nic".into(), lines.into());
    }
    let control: Map<String, Value> =
        r.control.rows().iter().map(|&(name, _, v)| (name.to_owned(), v.into())).collect();
    o.insert("control".into(), control.into());
    if let Some(t) = r.tunnels {
        o.insert(
            "tunnels".into(),
            json!({"ours": t.ours, "reverse": t.reverse, "held_packets": t.held}),
        );
    }
    if let Some(p) = r.perf {
        let one = |l: &crate::perf::Latency| match l.stats() {
            None => json!({"count": 0}),
            Some(s) => json!({"count": s.count, "mean_us": s.mean_us, "p50_us": s.p50_us,
                              "p99_us": s.p99_us, "max_us": s.max_us}),
        };
        o.insert(
            "perf".into(),
            json!({"key_gen": one(&p.key_gen), "insertion": one(&p.insertion),
                   "miss_to_first_packet": one(&p.miss_to_first_packet)}),
        );
    }
    let cores: Vec<Value> = r.cores.iter().enumerate().map(|(i, c)| core_object(i, c)).collect();
    o.insert("cores".into(), cores.into());
    o.into()
}

/// One packet core: `core` (its index), then the groups it has: `cpu`,
/// `rx_unsecured`, `rx_secure`, `tx_secure`, `tx_unsecured`, `tx_full`,
/// `rx_multi_seg`, `resubmitted`, `polls`, `idle` {`empty_polls`,
/// `pauses`, `sleeps`, `slept_us`}, `timed` {`packets`, `rxtx_ns`,
/// `handler_ns`} (the timed polls, one in 64); `per_packet_ns` {`rxtx`,
/// `pipeline`, `aes_gcm`} (final software reports); `to_control`,
/// `control_ring_full`, `mirror_no_mbuf`, `taken_back`, `no_vf_port`,
/// `vf_out_full`, `vf_src_refused`, `to_host`, `to_host_dropped`;
/// `key_cache` {`hits`, `misses`};
/// `offload` {`misses`, `sampled`, `arp`, `nd`, `other`,
/// `control_ring_full`, `resubmitted`}.
fn core_object(i: usize, c: &CoreReport) -> Value {
    let mut o = Map::new();
    o.insert("core".into(), i.into());
    if let Some(s) = &c.io {
        let b = &s.backoff;
        for (k, v) in [
            ("cpu", u64::from(s.cpu)),
            ("rx_unsecured", s.rx_unsecured),
            ("rx_secure", s.rx_secure),
            ("tx_secure", s.tx_secure),
            ("tx_unsecured", s.tx_unsecured),
            ("tx_full", s.tx_full),
            ("rx_multi_seg", s.rx_multi_seg),
            ("resubmitted", s.resubmitted),
            ("polls", s.polls),
        ] {
            o.insert(k.into(), v.into());
        }
        o.insert(
            "idle".into(),
            json!({"empty_polls": b.empty_polls, "pauses": b.pauses, "sleeps": b.sleeps,
                   "slept_us": b.slept_us}),
        );
        let t = &s.timed;
        o.insert(
            "timed".into(),
            json!({"packets": t.packets, "rxtx_ns": t.rxtx_ns, "handler_ns": t.handler_ns}),
        );
    }
    if let Some(x) = &c.split {
        o.insert(
            "per_packet_ns".into(),
            json!({"rxtx": x.rxtx_ns, "pipeline": x.pipeline_ns, "aes_gcm": x.aead_ns}),
        );
    }
    if let Some(s) = &c.control {
        o.insert("to_control".into(), s.to_control.into());
        o.insert("control_ring_full".into(), s.control_ring_full.into());
        o.insert("mirror_no_mbuf".into(), s.mirror_no_mbuf.into());
        o.insert("taken_back".into(), s.resubmitted.into());
        o.insert("no_vf_port".into(), s.no_vf_port.into());
        o.insert("vf_out_full".into(), s.vf_out_full.into());
        o.insert("vf_src_refused".into(), s.vf_src_refused.into());
        o.insert("to_host".into(), s.to_host.into());
        o.insert("to_host_dropped".into(), s.to_host_dropped.into());
    }
    if let Some((hits, misses)) = c.key_cache {
        o.insert("key_cache".into(), json!({"hits": hits, "misses": misses}));
    }
    if let Some(s) = &c.offload {
        o.insert(
            "offload".into(),
            json!({"misses": s.misses, "sampled": s.sampled, "arp": s.arp, "nd": s.nd,
                   "other": s.other, "control_ring_full": s.control_ring_full,
                   "resubmitted": s.resubmitted}),
        );
    }
    o.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A `Write` the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn pipes() -> PipeStats {
        let mut p = PipeStats::default();
        p.fwd_to_wire.packets = 7;
        p.fwd_to_wire.bytes = 700;
        p
    }

    #[test]
    fn one_line_per_report_with_the_documented_fields() {
        let buf = Shared::default();
        let sink = StatsJson::to(Box::new(buf.clone()));
        let mut control = ControlCounters::default();
        control.tunnels.misses = 3;
        control.rss = 2;
        let p = pipes();
        let mut io = CoreStats { cpu: 1, tx_secure: 7, polls: 99, ..Default::default() };
        io.timed.packets = 32;
        io.timed.handler_ns = 6400;
        let split = crate::perf::split(32, 3200, 6400, 150.0);
        let cores = [CoreReport {
            io: Some(io),
            control: Some(ControlStats { to_control: 4, vf_src_refused: 6, ..Default::default() }),
            key_cache: Some((5, 1)),
            offload: None,
            split,
        }];
        let gauges = TunnelGauges { ours: 1, reverse: 0, held: 2 };
        let perf = crate::perf::PerfMetrics::default();
        perf.insertion.record(std::time::Duration::from_micros(30));
        let periodic = Report {
            kind: Kind::Periodic,
            backend: Backend::Software,
            pipes: Some(&p),
            nic: None,
            control: &control,
            tunnels: Some(gauges),
            cores: &cores,
            perf: Some(&perf),
        };
        sink.write(&periodic);
        sink.write(&Report { kind: Kind::Final, tunnels: None, ..periodic });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("one object a line")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (a, b) = (&lines[0], &lines[1]);
        assert_eq!((a["schema"].as_u64(), a["report"].as_str()), (Some(1), Some("periodic")));
        assert_eq!((b["report"].as_str(), b["seq"].as_u64()), (Some("final"), Some(1)));
        assert_eq!(a["backend"], "software");
        assert_eq!(a["pipes"]["fwd_to_wire"], json!({"packets": 7, "bytes": 700}));
        // Zero counters are there too: a reader need not guess a default.
        assert_eq!(a["pipes"]["malformed"]["packets"], 0);
        assert_eq!(a["control"]["misses"], 3);
        assert_eq!(a["control"]["rss_packets"], 2);
        assert_eq!(a["control"]["held_dropped"], 0);
        assert_eq!(a["tunnels"], json!({"ours": 1, "reverse": 0, "held_packets": 2}));
        assert!(b.get("tunnels").is_none());
        let c = &a["cores"][0];
        assert_eq!((c["core"].as_u64(), c["cpu"].as_u64()), (Some(0), Some(1)));
        assert_eq!((c["tx_secure"].as_u64(), c["polls"].as_u64()), (Some(7), Some(99)));
        assert_eq!(c["idle"]["empty_polls"], 0);
        assert_eq!((c["to_control"].as_u64(), c["taken_back"].as_u64()), (Some(4), Some(0)));
        assert_eq!((c["no_vf_port"].as_u64(), c["vf_out_full"].as_u64()), (Some(0), Some(0)));
        assert_eq!(c["vf_src_refused"], 6);
        assert_eq!((c["to_host"].as_u64(), c["to_host_dropped"].as_u64()), (Some(0), Some(0)));
        assert_eq!(c["timed"], json!({"packets": 32, "rxtx_ns": 0, "handler_ns": 6400}));
        assert_eq!(c["per_packet_ns"], json!({"rxtx": 100.0, "pipeline": 50.0, "aes_gcm": 150.0}));
        assert_eq!(c["key_cache"], json!({"hits": 5, "misses": 1}));
        assert!(c.get("offload").is_none());
        assert_eq!(a["perf"]["insertion"]["count"], 1);
        assert_eq!(a["perf"]["insertion"]["p99_us"], 30.0);
        assert_eq!(a["perf"]["key_gen"], json!({"count": 0}));
    }

    #[test]
    fn every_control_row_is_a_key() {
        let control = ControlCounters::default();
        let r = Report {
            kind: Kind::Final,
            backend: Backend::Doca,
            pipes: None,
            nic: Some(&["egress_acl 1 100".to_owned()]),
            control: &control,
            tunnels: None,
            cores: &[CoreReport {
                offload: Some(engine::cores::OffloadStats { arp: 2, ..Default::default() }),
                ..Default::default()
            }],
            perf: None,
        };
        let v = report_object(&r, 0, 5);
        let keys = v["control"].as_object().unwrap();
        assert_eq!(keys.len(), control.rows().len());
        for (name, _, _) in control.rows() {
            assert!(keys.contains_key(name), "{name}");
        }
        assert_eq!(v["backend"], "doca");
        assert_eq!(v["nic"], json!(["egress_acl 1 100"]));
        assert!(v.get("pipes").is_none());
        assert_eq!(v["cores"][0]["offload"]["arp"], 2);
        assert_eq!(v["uptime_ms"], 5);
    }

    #[test]
    fn an_unwritable_path_names_the_flag() {
        let e = StatsJson::open(Path::new("/nonexistent-dir/x.json")).unwrap_err();
        assert!(format!("{e:#}").starts_with("--stats-json /nonexistent-dir/x.json: "), "{e:#}");
    }
}
