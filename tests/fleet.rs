//! A fleet with a peer directory in etcd (scripts/fleet.sh): a real etcd
//! server on loopback, gateways on one bridge with no tunnels file. VMs
//! reach each other through on-demand tunnels found through etcd; a scrape
//! of the metrics endpoint passes `promtool check metrics` and equals
//! `--stat-print`; `psp-gateway status` shows the tunnels; an etcd outage
//! of 10 s under traffic loses nothing; a killed gateway's tunnels are
//! withdrawn after its lease; a VM's address moved to another gateway is
//! followed. Needs root; everything it creates it removes.

use std::process::Command;

#[test]
fn a_fleet_finds_its_peers_in_etcd_and_survives_losing_etcd_and_a_gateway() {
    let out_dir = std::env::temp_dir().join(format!("pspgw-fleet-{}", std::process::id()));
    let out = Command::new("bash")
        .arg("scripts/fleet.sh")
        .env("GW", env!("CARGO_BIN_EXE_psp-gateway"))
        .env("OUT", &out_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/fleet.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fleet.sh failed:\n{stdout}\n{stderr}");
    for step in [
        "vm1 -> 10.0.0.2: 3 packets transmitted, 3 received, 0% packet loss",
        "vm3 -> 10.0.0.1: 3 packets transmitted, 3 received, 0% packet loss",
        "promtool check metrics: OK",
        "scrape = --stat-print:",
        "2 peers from the directory",
        "out1: sent 4800, delivered 4800",
        "out2: sent 4800, delivered 4800",
        "gw1 and gw3 withdrew 10.0.0.2",
        "(now behind gw4): 5 packets transmitted, 5 received, 0% packet loss",
        "fleet: OK",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    // The directory failed while etcd was down and came back.
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    assert!(gw1.contains("keeping the last view"), "{gw1}");
    assert!(gw1.matches("directory: registered").count() >= 2, "{gw1}");
    // No tunnel to the VM's old gateway survived the move.
    assert!(gw1.contains("destination moved to another peer"), "{gw1}");
    let _ = std::fs::remove_dir_all(&out_dir);
}
