//! The throughput harness runs end to end on DPDK virtual devices and
//! reports what it measured as one JSON line.

use std::process::Command;

fn field(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    let end = rest.find([',', '}']).expect("value end");
    rest[..end].parse().unwrap_or_else(|_| panic!("{key} is a number in {json}"))
}

#[test]
fn both_directions_move_packets_and_report_json() {
    for dir in ["encrypt", "decrypt"] {
        let out = Command::new(env!("CARGO_BIN_EXE_throughput"))
            .args(["--size", "256", "--dir", dir, "--seconds", "1", "--json"])
            .output()
            .expect("run throughput");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{dir}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        let json = stdout.lines().last().expect("a last line");
        assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
        assert!(field(json, "packets") > 1000.0, "{json}");
        assert!(field(json, "mpps") > 0.0 && field(json, "gbps") > 0.0, "{json}");
        assert!(field(json, "aead_limit_gbps") > 0.0, "{json}");
    }
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
