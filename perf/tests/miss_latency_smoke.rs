//! The miss-latency harness: on-demand tunnels through a real gateway on a
//! tap device, with the harness as the peer. Needs root (the tap and its
//! route) and `psp-gateway` built beside it, which `cargo test --workspace`
//! does.

use std::process::Command;

#[test]
fn first_packets_come_through_new_tunnels_and_the_latency_is_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_miss-latency"))
        .args(["--misses", "30", "--interval-ms", "2", "--json"])
        .output()
        .expect("run miss-latency");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("30 on-demand tunnels"), "{stdout}");
    let json = stdout.lines().last().expect("a last line");
    for key in ["\"misses\":30", "\"p50_us\":", "\"p99_us\":", "\"max_us\":"] {
        assert!(json.contains(key), "{key} in {json}");
    }
}
