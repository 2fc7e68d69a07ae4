//! Several unsecured ports (DOCA 3.x device reps): repeatable `-r`, each
//! with its `--local-virt-ip`, `--decap-dmac` or `-d/--vf-name` in order.

use super::*;

const UP: [&str; 2] = ["-p", "net_af_packet0,iface=u1"];

fn two(extra: &[&'static str]) -> Vec<&'static str> {
    let ports = ["-r", "net_af_packet1,iface=h1", "-r", "net_af_packet2,iface=h3"];
    UP.iter().chain(&ports).chain(extra).copied().collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn each_port_gets_its_vms_and_decap_mac_in_order() {
    let c = cfg(&two(&[
        "--local-virt-ip",
        "10.0.0.1",
        "--local-virt-ip",
        "10.0.0.3,10.0.0.5",
        "--decap-dmac",
        "02:00:00:00:01:01",
        "--decap-dmac",
        "02:00:00:00:03:03",
    ]));
    assert_eq!(c.vfs.len(), 2);
    assert_eq!(c.vfs[0].repr, "net_af_packet1,iface=h1");
    assert_eq!(c.vfs[1].port.ethdev_name(), Some("net_af_packet2"));
    assert_eq!(c.vfs[0].virt_ips, [ip("10.0.0.1")]);
    assert_eq!(c.vfs[1].virt_ips, [ip("10.0.0.3"), ip("10.0.0.5")]);
    assert_eq!(c.vfs[1].decap_dmac, Some(MacAddr([2, 0, 0, 0, 3, 3])));
    // The first port's are the DOCA 2.8 fields.
    assert_eq!(c.local_virt_ip, Some(ip("10.0.0.1")));
    assert_eq!(c.decap_dmac, Some(MacAddr([2, 0, 0, 0, 1, 1])));
    assert_eq!(c.unsecured_port, c.vfs[0].port);
    // One --decap-dmac serves every port.
    let c = cfg(&two(&[
        "--local-virt-ip",
        "10.0.0.1",
        "--local-virt-ip",
        "10.0.0.3",
        "--decap-dmac",
        "02:00:00:00:09:09",
    ]));
    assert!(c.vfs.iter().all(|v| v.decap_dmac == Some(MacAddr([2, 0, 0, 0, 9, 9]))));
}

#[test]
fn one_port_is_doca_2_8() {
    let c = cfg(&with_p(&["--local-virt-ip", "192.168.1.1"]));
    assert_eq!(c.vfs.len(), 1);
    assert_eq!(c.vfs[0].virt_ips, [ip("192.168.1.1")]);
    assert_eq!(c.local_virt_ip, Some(ip("192.168.1.1")));
    // A comma list: several VMs behind the one port.
    let c = cfg(&with_p(&["--local-virt-ip", "192.168.1.1,192.168.1.2"]));
    assert_eq!(c.vfs[0].virt_ips.len(), 2);
    assert_eq!(c.local_virt_ip, Some(ip("192.168.1.1")));
}

#[test]
fn from_json_arrays() {
    let json = r#"{
  "p": "net_af_packet0,iface=u1",
  "r": ["net_af_packet1,iface=h1", "net_af_packet2,iface=h3"],
  "local-virt-ip": ["10.0.0.1", "10.0.0.3"]
}"#;
    let sys = Fake::default().file("gw.json", json);
    let c = cfg_with(&sys, &["-j", "gw.json"]);
    assert_eq!(c.vfs[1].virt_ips, [ip("10.0.0.3")]);
}

#[test]
fn vf_names_detect_each_port() {
    let sys = Fake::default()
        .iface("h1", "02:00:00:00:01:01", "7: h1    inet 10.0.0.1/24 scope global h1")
        .iface("h3", "02:00:00:00:03:03", "8: h3    inet 10.0.0.3/24 scope global h3");
    let c = cfg_with(&sys, &two(&["-d", "h1", "-d", "h3"]));
    assert_eq!(c.vfs[1].virt_ips, [ip("10.0.0.3")]);
    assert_eq!(c.vfs[1].decap_dmac, Some(MacAddr([2, 0, 0, 0, 3, 3])));
    assert_eq!(c.vfs[1].vf_name.as_deref(), Some("h3"));
}

#[test]
fn counts_and_addresses_are_checked() {
    let e = err(&two(&["--local-virt-ip", "10.0.0.1"]));
    assert_eq!(
        e,
        "--local-virt-ip given 1 times for 2 unsecured port(s) (-r/--repr): give it once per \
         -r, in the same order"
    );
    let e = err(&two(&[
        "--local-virt-ip",
        "10.0.0.1",
        "--local-virt-ip",
        "10.0.0.3",
        "--decap-dmac",
        "02:00:00:00:01:01",
        "--decap-dmac",
        "02:00:00:00:01:01",
        "--decap-dmac",
        "02:00:00:00:01:01",
    ]));
    assert!(e.contains("--decap-dmac given 3 times") && e.contains("once for all"), "{e}");
    let e = err(&two(&["--local-virt-ip", "10.0.0.1", "--local-virt-ip", "10.0.0.1"]));
    assert_eq!(
        e,
        "-r/--repr and --local-virt-ip (or -d/--vf-name): virtual IP 10.0.0.1 is on unsecured \
         ports 0 and 1"
    );
    let e = err(&two(&["--local-virt-ip", "10.0.0.1", "--local-virt-ip", "10.0.0.3,x"]));
    assert!(e.starts_with("--local-virt-ip 10.0.0.3,x: "), "{e}");
    // Two ports without addresses: neither could be told apart.
    let e = err(&two(&[]));
    assert!(e.contains("port 0 has no virtual IP"), "{e}");
    // One -r: the DOCA 2.8 flag, given once.
    let e = err(&with_p(&["--local-virt-ip", "10.0.0.1", "--local-virt-ip", "10.0.0.2"]));
    assert!(e.contains("given 2 times for 1 unsecured port"), "{e}");
}

#[test]
fn ports_must_be_devices_of_their_own() {
    let e = err(&[
        "-p",
        "net_af_packet0,iface=u1",
        "-r",
        "net_af_packet1,iface=h1",
        "-r",
        "net_af_packet1,iface=h3",
    ]);
    assert!(e.starts_with("-r/--repr ") && e.contains("of its own"), "{e}");
    let mut argv = vec!["-p", "net_af_packet0,iface=u1"];
    let names: Vec<String> = (1..=9).map(|i| format!("net_af_packet{i},iface=h{i}")).collect();
    for n in &names {
        argv.extend(["-r", n.as_str()]);
    }
    assert!(err(&argv).contains("at most 8"));
}

#[test]
fn sessions_name_the_vms_of_any_port() {
    const PEERS: &str = r#"{
  "config": { "local-grpc-address": "127.0.0.1:5001" },
  "peers": [
    { "remote-grpc-address": "127.0.0.1:5002",
      "sessions": [
        { "local-vip": "10.0.0.1", "remote-vips": ["10.0.0.2"] },
        { "local-vip": "10.0.0.3", "remote-vips": ["10.0.0.4"] }
      ] }
  ]
}"#;
    let sys = Fake::default().file("peers.json", PEERS);
    let c = cfg_with(
        &sys,
        &two(&["--local-virt-ip", "10.0.0.1", "--local-virt-ip", "10.0.0.3", "-c", "peers.json"]),
    );
    assert!(c.session_src.contains(&(ip("10.0.0.4"), ip("10.0.0.3"))));
    assert!(c.session_src.contains(&(ip("10.0.0.2"), ip("10.0.0.1"))));
    // Without per-port addresses the sessions cannot say which port.
    let e = err_with(&sys, &two(&["-c", "peers.json"]));
    assert!(e.starts_with("peers.json:6: ") && e.contains("once per -r"), "{e}");
    // With one port, every session's local VIP is that port's VM.
    let one = ["-p", "net_af_packet0,iface=u1", "-r", "net_af_packet1,iface=h1"];
    let c = cfg_with(&sys, &[&one[..], &["-c", "peers.json"]].concat());
    assert_eq!(c.vfs[0].virt_ips, [ip("10.0.0.1"), ip("10.0.0.3")]);
    assert_eq!(c.local_virt_ip, Some(ip("10.0.0.1")));
}
