//! The tunnel-setup harness drives a real gateway over gRPC and reports
//! the rate and latencies as one JSON line. It needs `psp-gateway` built
//! beside it, which `cargo test --workspace` does.

use std::process::Command;

#[test]
fn creates_tunnels_through_a_gateway_and_reports_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_tunnel-setup"))
        .args(["--tunnels", "300", "--concurrency", "2", "--batch", "10", "--json"])
        .output()
        .expect("run tunnel-setup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let json = stdout.lines().last().expect("a last line");
    for key in ["\"tunnels\":300", "\"tunnels_per_s\":", "\"p50_us\":", "\"p99_us\":"] {
        assert!(json.contains(key), "{key} in {json}");
    }
    // One flow batch per request: 300 tunnels, 10 per request.
    assert!(stdout.contains("gateway perf insertion: count 30,"), "{stdout}");
}
