//! The main job on a small scale: two gateways, two VM namespaces, a veth
//! uplink, gRPC on loopback (scripts/two-gateways.sh). Checks that ping and
//! TCP cross on-demand PSP tunnels both ways, that the first (held) packet
//! is delivered, that the uplink carries only PSP without the plaintext,
//! and that both gateways stop cleanly and report their counters. Needs
//! root (namespaces, veths); everything it creates it removes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The two runs share interface names' prefix space and both cores: one
/// at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn demo(tag: &str, env: &[(&str, &str)]) -> (Output, PathBuf) {
    let out_dir = std::env::temp_dir().join(format!("pspgw-2gw-{tag}-{}", std::process::id()));
    let out = Command::new("bash")
        .arg("scripts/two-gateways.sh")
        .env("GW", env!("CARGO_BIN_EXE_psp-gateway"))
        .env("OUT", &out_dir)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/two-gateways.sh");
    (out, out_dir)
}

/// Runs of 32 or 64 hex digits: what a PSP key looks like in a log.
fn key_like(log: &str) -> Vec<&str> {
    log.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| (w.len() == 32 || w.len() == 64) && w.bytes().any(|b| b.is_ascii_alphabetic()))
        .collect()
}

/// A counter of gateway `n`'s final `--stats-json` report
/// (`$OUT/gwN.stats.jsonl`, README "Statistics as JSON"), by its dotted
/// path, e.g. `control.misses`.
fn final_stat(out_dir: &Path, n: u8, path: &str) -> u64 {
    let file = out_dir.join(format!("gw{n}.stats.jsonl"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let last = text
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line"))
        .find(|r| r["report"] == "final")
        .unwrap_or_else(|| panic!("{}: no final report: {text}", file.display()));
    assert_eq!(last["schema"], 1, "{last}");
    let v = path.split('.').fold(&last, |v, k| &v[k]);
    v.as_u64().unwrap_or_else(|| panic!("{path} in {last}"))
}

const ENCRYPTED: &str = "pipes.fwd_to_wire.packets";
const DECRYPTED: &str = "pipes.fwd_to_unsecured.packets";
const MISSES: &str = "control.misses";

/// From the summary line: for the DOCA 2.8 command line, which carries no
/// `--stats-json` (a flag of ours).
fn summary_number(log: &str, after: &str) -> u64 {
    let summary = log.lines().find(|l| l.starts_with("psp-gateway: ")).expect("summary line");
    let at = summary.find(after).unwrap_or_else(|| panic!("{after:?} in {summary}"));
    summary[..at].split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn static_tunnels_come_up_when_the_peer_starts_late() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // With -k/--debug-keys, to show that the key check below sees keys.
    let (out, out_dir) = demo("z", &[("STATIC_LATE", "1"), ("DEBUG_KEYS", "1")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways -z failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("-z: gw1 brought the tunnel up at startup"), "{stdout}");
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    let gw2 = std::fs::read_to_string(out_dir.join("gw2.log")).expect("gw2.log");
    // The peer was not there at first: gw1 retried.
    assert!(gw1.contains("tunnel request failed"), "{gw1}");
    // Both directions were up before traffic: nothing missed.
    assert_eq!(final_stat(&out_dir, 1, MISSES), 0, "{gw1}");
    assert_eq!(final_stat(&out_dir, 2, MISSES), 0, "{gw2}");
    // --debug-keys: each gateway logged the key of its egress tunnel.
    assert!(gw1.contains("--debug-keys: egress tunnel key") && !key_like(&gw1).is_empty(), "{gw1}");
    assert!(!key_like(&gw2).is_empty(), "{gw2}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn two_gateways_carry_ping_and_tcp_over_psp() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) = demo("od", &[("STATUS_JSON", "1")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways failed:\n{stdout}\n{stderr}");
    // Every ping answered, the first one included (it was held while the
    // keys were exchanged, then resubmitted).
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("two-gateways: OK"), "{stdout}");
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    let gw2 = std::fs::read_to_string(out_dir.join("gw2.log")).expect("gw2.log");
    for (n, log) in [(1, &gw1), (2, &gw2)] {
        assert!(final_stat(&out_dir, n, ENCRYPTED) > 1000, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, DECRYPTED) > 100, "gw{n}: {log}");
    }
    // The first ping missed on gw1 and was held, then delivered.
    assert_eq!(final_stat(&out_dir, 1, MISSES), 1, "{gw1}");
    // gw1 made the tunnel on demand; gw2 got its way back from the request.
    assert!(gw1.contains("tunnel up"), "{gw1}");
    assert!(gw2.contains("egress tunnels created (reverse params)"), "{gw2}");
    // --stat-print lists the sessions (at exit here: the run is short).
    for (log, peer_vm) in [(&gw1, "10.0.0.2"), (&gw2, "10.0.0.1")] {
        assert!(log.contains("sessions: 1 egress, 1 ingress (1 and 1 with traffic)"), "{log}");
        assert!(log.contains(&format!("  egress  to {peer_vm} ")), "{log}");
        assert!(log.contains(&format!("  ingress from {peer_vm} ")), "{log}");
    }
    // Without --debug-keys no key reaches the logs.
    assert_eq!(key_like(&gw1), Vec::<&str>::new(), "gw1 logged key-like hex");
    assert_eq!(key_like(&gw2), Vec::<&str>::new(), "gw2 logged key-like hex");
    // Per-session counters through `psp-gateway status --json`: each
    // gateway's tunnel to the other VM carried the ping and TCP both ways.
    for (name, peer_vm) in [("gw1", "10.0.0.2"), ("gw2", "10.0.0.1")] {
        let text = std::fs::read_to_string(out_dir.join(format!("{name}-status.json")))
            .expect("status json");
        let j: serde_json::Value = serde_json::from_str(&text).expect("status is JSON");
        assert_eq!(j["session_counters"], true, "{name}: {text}");
        let t = j["tunnels"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["virt_dst"] == peer_vm))
            .unwrap_or_else(|| panic!("{name}: no tunnel to {peer_vm}: {text}"));
        assert!(t["tx_spi"].as_u64().unwrap() != 0, "{name}: {text}");
        for k in ["tx_packets", "rx_packets"] {
            assert!(t[k].as_u64().unwrap() > 100, "{name} {k}: {text}");
        }
        assert!(t["tx_bytes"].as_u64().unwrap() > t["tx_packets"].as_u64().unwrap() * 40);
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn two_gateways_exchange_keys_over_mutual_tls() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) = demo("tls", &[("TLS", "1")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways with TLS failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    for name in ["gw1.log", "gw2.log"] {
        let log = std::fs::read_to_string(out_dir.join(name)).expect("log");
        assert!(log.contains("mutual_tls=true"), "{name}: {log}");
        assert!(!log.contains("without TLS"), "{name}: {log}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// The flags that are ours, not DOCA 2.8's.
const OUR_FLAGS: &[&str] = &[
    "--uplink-ip",
    "--grpc-cert",
    "--grpc-key",
    "--grpc-ca",
    "--idle-backoff",
    "--backend",
    "--key-rotation-interval",
    "--peer-rate-limit",
];

/// The numbers of frames and of PSP frames in check_uplink.py's summary.
fn uplink_frames(stdout: &str) -> (u64, u64) {
    let line =
        stdout.lines().find(|l| l.trim_start().starts_with("uplink: ")).expect("uplink line");
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[1].parse().unwrap(), words[3].parse().unwrap())
}

#[test]
fn a_doca_2_8_command_line_needs_no_flag_of_ours() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // DOCA28: no --uplink-ip (the uplink veths carry the outer addresses,
    // where DOCA finds its PF's) and no --idle-backoff.
    let (out, out_dir) = demo("doca28", &[("DOCA28", "1"), ("PORT_BASE", "5031")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways DOCA28 failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    let (frames, psp) = uplink_frames(&stdout);
    assert!(frames > 1000 && psp == frames, "{stdout}");
    // No -o: DOCA 3.x's default for inner IPv4 without a cookie.
    assert!(stdout.contains("uplink crypt offsets: [5]"), "{stdout}");
    for n in [1, 2] {
        let log = std::fs::read_to_string(out_dir.join(format!("gw{n}.log"))).expect("log");
        let cmd = log.lines().find(|l| l.starts_with("+ psp-gateway ")).expect("command line");
        for flag in OUR_FLAGS {
            assert!(!cmd.split_whitespace().any(|w| w == *flag), "{flag} in {cmd}");
        }
        assert!(cmd.contains(&format!("-s 127.0.0.1:5031{n}")), "{cmd}");
        let want = format!(
            "outer source address uplink_ip=fd00:1::{n} from=the IPv6 address of uplink interface"
        );
        assert!(log.contains(&want), "gw{n}: {log}");
        assert!(summary_number(&log, " packets encrypted") > 1000, "gw{n}: {log}");
        assert!(summary_number(&log, " decrypted to the host") > 100, "gw{n}: {log}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn transport_mode_between_two_gateways() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) = demo("transport", &[("MODE", "transport"), ("PORT_BASE", "5032")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways --mode transport failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    // Only PSP, and over the VMs' own IPv4 headers: transport mode.
    let (frames, psp) = uplink_frames(&stdout);
    assert!(frames > 1000 && psp == frames, "{stdout}");
    assert!(stdout.contains("PSP (IPv4/UDP 1000)"), "{stdout}");
    let addrs = stdout.lines().find(|l| l.contains("uplink addresses:")).expect("addresses");
    let mut pairs: Vec<&str> = addrs.split_whitespace().skip(2).collect();
    pairs.sort();
    assert_eq!(pairs, ["10.0.0.1>10.0.0.2", "10.0.0.2>10.0.0.1"], "{stdout}");
    for n in [1, 2] {
        let log = std::fs::read_to_string(out_dir.join(format!("gw{n}.log"))).expect("log");
        assert!(log.contains("--mode transport"), "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, ENCRYPTED) > 1000, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, DECRYPTED) > 100, "gw{n}: {log}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// `--inner-ip-type ipv6` (DOCA 3.x): IPv6 VMs ping and send 20 MB of TCP
/// through on-demand tunnels; a neighbour solicitation from vm1 reaches
/// gw1's control plane, as ARP does.
#[test]
fn ipv6_vms_through_on_demand_tunnels() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) =
        demo("inner6", &[("INNER6", "1"), ("NEIGH_DYNAMIC", "1"), ("PORT_BASE", "5033")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways INNER6 failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("PING fd00:10::2"), "{stdout}");
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    let (frames, psp) = uplink_frames(&stdout);
    assert!(frames > 1000 && psp == frames, "{stdout}");
    // No -o: DOCA 3.x's default for inner IPv6.
    assert!(stdout.contains("uplink crypt offsets: [10]"), "{stdout}");
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    let gw2 = std::fs::read_to_string(out_dir.join("gw2.log")).expect("gw2.log");
    for (n, log) in [(1, &gw1), (2, &gw2)] {
        assert!(log.contains("--inner-ip-type ipv6"), "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, ENCRYPTED) > 1000, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, DECRYPTED) > 100, "gw{n}: {log}");
    }
    // The first ping missed on gw1 and was held; the tunnel came up on
    // demand, with gw2's way back from the request.
    assert!(final_stat(&out_dir, 1, MISSES) >= 1, "{gw1}");
    assert!(gw1.contains("tunnel up") && gw1.contains("dst=fd00:10::2"), "{gw1}");
    assert!(gw2.contains("egress tunnels created (reverse params)"), "{gw2}");
    // No static neighbours: the VMs' solicitations (the kernel's, and
    // vm1's own from scapy) were answered with their gateway port's MAC.
    assert_learnt(&stdout, 1, "fd00:10::2");
    assert_learnt(&stdout, 2, "fd00:10::1");
    let nd = gw1.lines().find(|l| l.trim_start().starts_with("vf_nd_to_rss")).expect("ND counter");
    let nd: u64 = nd.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a count");
    assert!(nd >= 2, "{gw1}");
    assert!(final_stat(&out_dir, 1, "control.neighbour_answers") >= 2, "{gw1}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// DOCA 3.x's `-c/--config`: each gateway's gRPC address, virtual IP and
/// peer come from a peers-and-sessions JSON file, with no --svc-addr,
/// --local-virt-ip or -t, and the device as DOCA 3.1's `-s` (no -p); ping
/// and TCP cross, the uplink carries only PSP.
#[test]
fn peers_and_sessions_from_a_doca_3_config_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) = demo("peers", &[("PEERS_CONFIG", "1"), ("PORT_BASE", "5034")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways PEERS_CONFIG failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("5 packets transmitted, 5 received, 0% packet loss"), "{stdout}");
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    let (frames, psp) = uplink_frames(&stdout);
    assert!(frames > 1000 && psp == frames, "{stdout}");
    for n in [1, 2] {
        let log = std::fs::read_to_string(out_dir.join(format!("gw{n}.log"))).expect("log");
        let cmd = log.lines().find(|l| l.starts_with("+ psp-gateway ")).expect("command line");
        assert!(cmd.contains(&format!(" -c {}/peers{n}.json", out_dir.display())), "{cmd}");
        for flag in ["-p", "--svc-addr", "--local-virt-ip", "-t", "--tunnel", "-f"] {
            assert!(!cmd.split_whitespace().any(|w| w == flag), "{flag} in {cmd}");
        }
        // DOCA 3.1's -s DEVICE names the uplink (no -p); no -s gives an address.
        assert!(cmd.starts_with("+ psp-gateway -s net_af_packet0,iface="), "{cmd}");
        // The gRPC address came from the file's "local-grpc-address".
        assert!(log.contains(&format!("127.0.0.1:5034{n}")), "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, ENCRYPTED) > 1000, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, DECRYPTED) > 100, "gw{n}: {log}");
    }
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    assert!(gw1.contains("tunnel up"), "{gw1}");
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// The text after `heading` in the demo's output, up to its next `== `
/// heading.
fn section<'a>(stdout: &'a str, heading: &str) -> &'a str {
    let at = stdout.find(heading).unwrap_or_else(|| panic!("{heading:?} in {stdout}"));
    let rest = &stdout[at + heading.len()..];
    rest.find("\n== ").map_or(rest, |end| &rest[..end])
}

/// NEIGH_DYNAMIC: each VM resolved `peer` (its peer VM's address) to
/// the MAC of its own gateway port (`hN`), as the demo's "neighbours learnt"
/// lines show: the gateways answered ARP or neighbour solicitation on the
/// port the query came in on.
fn assert_learnt(stdout: &str, vm: u8, peer: &str) {
    let learnt = section(stdout, "== neighbours learnt");
    let ports = learnt.lines().next().unwrap_or_default();
    let words: Vec<&str> = ports.split_whitespace().collect();
    let port_mac = words
        .iter()
        .position(|w| *w == format!("h{vm}"))
        .and_then(|i| words.get(i + 1))
        .map(|m| m.trim_end_matches(')'))
        .unwrap_or_else(|| panic!("no h{vm} in {ports:?}"));
    let line = learnt
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("vm{vm}:")))
        .unwrap_or_else(|| panic!("no vm{vm} line: {learnt}"));
    assert!(line.contains(&format!("{peer} lladdr {port_mac}")), "vm{vm}: {learnt}");
}

/// The packets vm3 sends as vm1 (10.0.0.1) from gw1's second port
/// (scripts/two-gateways.sh, SPOOF_N).
const SPOOFED: u64 = 5;

/// Several unsecured ports on one gateway (MULTI_VF): gw1's two VFs reach
/// two VMs behind gw2's two, each pair through its own tunnel; a VM
/// sending as the other port's VM is refused; the uplink carries only PSP.
#[test]
fn two_vfs_on_each_gateway_reach_two_vms_behind_the_other() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, out_dir) = demo(
        "multivf",
        &[("MULTI_VF", "1"), ("NEIGH_DYNAMIC", "1"), ("STATUS_JSON", "1"), ("PORT_BASE", "5035")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "two-gateways MULTI_VF failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("two-gateways: OK"), "{stdout}");
    for heading in ["== ping vm1 -> vm2", "== ping vm3 -> vm4", "== ping vm3 -> vm2"] {
        let ping = section(&stdout, heading);
        assert!(
            ping.contains("5 packets transmitted, 5 received, 0% packet loss"),
            "{heading}: {stdout}"
        );
    }
    assert!(section(&stdout, "== ping vm3 -> vm4").contains("PING 10.0.0.4"), "{stdout}");
    assert!(section(&stdout, "== ping vm3 -> vm2").contains("PING 10.0.0.2"), "{stdout}");
    // Only PSP on the uplink, the plaintext nowhere.
    assert!(stdout.contains("plaintext marker: not found"), "{stdout}");
    let (frames, psp) = uplink_frames(&stdout);
    assert!(frames > 1000 && psp == frames, "{stdout}");
    // The spoofed packets stopped at gw1, vm1's own one went through; and
    // nothing for vm1 was delivered to vm3's port.
    assert!(
        stdout.contains(&format!("vm2 received: 0 of {SPOOFED} spoofed, 1 of 1 genuine")),
        "{stdout}"
    );
    assert!(stdout.contains("frames for 10.0.0.3, 0 for 10.0.0.1"), "{stdout}");
    // No static neighbours: each VM's ARP was answered on its own port.
    for (vm, peer) in [(1, "10.0.0.2"), (2, "10.0.0.1"), (3, "10.0.0.4"), (4, "10.0.0.3")] {
        assert_learnt(&stdout, vm, peer);
    }
    let gw1 = std::fs::read_to_string(out_dir.join("gw1.log")).expect("gw1.log");
    let gw2 = std::fs::read_to_string(out_dir.join("gw2.log")).expect("gw2.log");
    assert!(final_stat(&out_dir, 1, "control.vf_src_refused") >= SPOOFED, "{gw1}");
    for (n, log) in [(1, &gw1), (2, &gw2)] {
        assert!(final_stat(&out_dir, n, ENCRYPTED) > 1000, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, DECRYPTED) > 100, "gw{n}: {log}");
        assert_eq!(final_stat(&out_dir, n, "control.no_vf_port"), 0, "gw{n}: {log}");
        assert!(final_stat(&out_dir, n, "control.neighbour_answers") >= 2, "gw{n}: {log}");
    }
    // Each session (our VM, theirs) that carried traffic has a tunnel of
    // its own: vm1 and vm3 to vm2 are two, with two SPIs.
    let sessions = [
        ("gw1", [("10.0.0.1", "10.0.0.2"), ("10.0.0.3", "10.0.0.4"), ("10.0.0.3", "10.0.0.2")]),
        ("gw2", [("10.0.0.2", "10.0.0.1"), ("10.0.0.4", "10.0.0.3"), ("10.0.0.2", "10.0.0.3")]),
    ];
    for (name, pairs) in sessions {
        let text = std::fs::read_to_string(out_dir.join(format!("{name}-status.json")))
            .expect("status json");
        let j: serde_json::Value = serde_json::from_str(&text).expect("status is JSON");
        let tunnels = j["tunnels"].as_array().unwrap_or_else(|| panic!("{name}: {text}"));
        let mut spis = Vec::new();
        for (src, dst) in pairs {
            let t = tunnels
                .iter()
                .find(|t| t["virt_dst"] == dst && t["virt_src"] == src)
                .unwrap_or_else(|| panic!("{name}: no tunnel {src} -> {dst}: {text}"));
            let spi = t["tx_spi"].as_u64().unwrap();
            assert!(spi != 0, "{name} {src} -> {dst}: {text}");
            assert!(t["tx_packets"].as_u64().unwrap() > 0, "{name} {src} -> {dst}: {text}");
            spis.push(spi);
        }
        spis.sort_unstable();
        spis.dedup();
        assert_eq!(spis.len(), 3, "{name}: one SPI per session: {text}");
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}

/// Runs `scripts/faults.sh MODE` with the built gateway; its own checks
/// decide (exit status), and the test checks the verdict line.
fn faults(mode: &str) -> String {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out_dir = std::env::temp_dir().join(format!("pspgw-faults-{mode}-{}", std::process::id()));
    let out = Command::new("bash")
        .args(["scripts/faults.sh", mode])
        .env("GW", env!("CARGO_BIN_EXE_psp-gateway"))
        .env("OUT", &out_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/faults.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "faults.sh {mode} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("faults {mode}: OK")), "{stdout}");
    let _ = std::fs::remove_dir_all(&out_dir);
    stdout
}

#[test]
fn a_restarted_peer_is_rekeyed_within_two_seconds() {
    let out = faults("restart");
    assert!(out.contains("peer restarted (new instance): re-keying"), "{out}");
}

#[test]
fn master_key_rotations_lose_no_packet() {
    let out = faults("rotation");
    assert!(out.contains("fwd: sent 5600, delivered 5600"), "{out}");
    assert!(out.contains("rev: sent 5600, delivered 5600"), "{out}");
}

#[test]
fn shutdown_under_load_keeps_counters_and_leaves_no_files() {
    let out = faults("shutdown");
    assert!(out.contains("no hugepage files and no DPDK runtime directories left"), "{out}");
}

#[test]
fn a_silent_peer_holds_up_nothing_else() {
    let out = faults("slowpeer");
    assert!(out.contains("held packets to 10.0.0.3 dropped"), "{out}");
}

#[test]
fn gateways_started_together_come_up_on_their_first_start() {
    // 20 starts of two gateways at the same instant, then a fanout group
    // collision made certain (pid namespace and a squatter).
    let out = faults("startup");
    assert!(out.contains("40 of 40 gateways up on their first start"), "{out}");
    assert!(out.contains("is held by another process on another interface"), "{out}");
    assert!(out.contains("3 packets transmitted, 3 received"), "{out}");
    assert!(out.contains("gw1 stopped with its counters, exit 0"), "{out}");
}
