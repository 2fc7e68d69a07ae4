//! The throughput harness runs end to end on DPDK virtual devices and
//! reports what it measured as one JSON line.

use std::process::Command;

fn field(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    let end = rest.find([',', '}']).expect("value end");
    rest[..end].parse().unwrap_or_else(|_| panic!("{key} is a number in {json}"))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn both_directions_and_both_sources_move_packets_and_report_json() {
    // The ring source's generator needs a CPU beside the packet core.
    let sources: &[&str] = if cpus() >= 2 { &["ring", "pcap"] } else { &["pcap"] };
    for (dir, source) in
        ["encrypt", "decrypt"].iter().flat_map(|d| sources.iter().map(move |s| (*d, *s)))
    {
        let out = Command::new(env!("CARGO_BIN_EXE_throughput"))
            .args(["--size", "256", "--dir", dir, "--seconds", "1", "--source", source, "--json"])
            .output()
            .expect("run throughput");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{dir}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        let json = stdout.lines().last().expect("a last line");
        assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
        assert!(field(json, "packets") > 1000.0, "{json}");
        assert!(field(json, "mpps") > 0.0 && field(json, "gbps") > 0.0, "{json}");
        assert!(field(json, "aead_limit_gbps") > 0.0, "{json}");
        assert!(json.contains(&format!("\"source\":\"{source}\"")), "{json}");
        assert!((0.0..=100.0).contains(&field(json, "empty_poll_pct")), "{json}");
        // The split adds up to the whole.
        let parts = field(json, "rxtx_ns_per_packet")
            + field(json, "pipeline_ns_per_packet")
            + field(json, "aead_ns_per_packet");
        assert!((parts - field(json, "ns_per_packet")).abs() < 0.1, "{json}");
        assert!(field(json, "forward_mpps_per_lcore") > 0.0, "{json}");
    }
}

#[test]
fn the_ring_source_wants_a_cpu_of_its_own() {
    let k = cpus().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_throughput"))
        .args(["--size", "64", "--dir", "encrypt", "--lcores", &k, "--source", "ring"])
        .output()
        .expect("run throughput");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--source ring needs a CPU for its generator"), "{err}");
}

#[test]
fn write_input_writes_the_64_flows() {
    let path = std::env::temp_dir().join(format!("pspgw-tp-input-{}.pcap", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_throughput"))
        .args(["--size", "512", "--dir", "encrypt", "--write-input"])
        .arg(&path)
        .output()
        .expect("run throughput");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&path).expect("the capture");
    std::fs::remove_file(&path).unwrap();
    let records = engine::pcap::decode(&bytes).expect("a pcap");
    assert_eq!(records.len(), 64);
    assert!(records.iter().all(|r| r.data.len() == 14 + 512), "Ethernet + 512-byte IP packets");
}

#[test]
fn bad_arguments_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_throughput"))
        .args(["--size", "9000", "--dir", "encrypt"])
        .output()
        .expect("run throughput");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"));
}
