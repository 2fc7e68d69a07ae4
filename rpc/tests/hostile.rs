//! Hostile and malformed requests: every field at and beyond its limits,
//! floods from one peer, repeated requests for one pair, rotation storms.
//! Each gets an error status (or a bounded effect) and changes no state.

mod common;

use common::*;
use engine::psp::Version;
use rpc::client::{Client, PeerSession, TunnelRequest};
use rpc::pb;
use rpc::pb::psp_gateway_client::PspGatewayClient;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tonic::Code;

fn raw_from(h: &Harness, local: IpAddr) -> PspGatewayClient<tonic::transport::Channel> {
    let ep = tonic::transport::Endpoint::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .local_address(Some(local));
    let ch = h.rt.block_on(ep.connect()).unwrap();
    PspGatewayClient::new(ch).max_encoding_message_size(64 << 20)
}

fn code_of(
    h: &Harness,
    c: &mut PspGatewayClient<tonic::transport::Channel>,
    r: pb::MultiTunnelRequest,
) -> Code {
    match h.rt.block_on(c.request_multiple_tunnel_params(r)) {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[test]
fn every_field_at_and_beyond_its_limits() {
    let h = Harness::start(config());
    let ok = vec![wire_tunnel("10.0.0.1", "10.1.0.100")];
    assert_eq!(h.raw_code(wire_request(ok)), Code::Ok);
    let before = h.backend().snapshot();
    let ready = h.gw.pool_ready(Version::AesGcm256);

    let good = || wire_tunnel("10.0.0.2", "10.1.0.1");
    let with = |f: &dyn Fn(&mut pb::SingleTunnelRequest)| {
        let mut t = good();
        f(&mut t);
        wire_request(vec![wire_tunnel("10.0.0.3", "10.1.0.2"), t])
    };
    let rev = |f: &dyn Fn(&mut pb::TunnelParameters)| {
        with(&|t: &mut pb::SingleTunnelRequest| f(t.reverse_params.as_mut().unwrap()))
    };
    let huge = "9".repeat(1 << 20);
    let cases: Vec<(&str, pb::MultiTunnelRequest, Code)> = vec![
        ("1 MiB src", with(&|t| t.virt_src_ip = huge.clone()), Code::InvalidArgument),
        ("1 MiB dst", with(&|t| t.virt_dst_ip = huge.clone()), Code::InvalidArgument),
        ("src with port", with(&|t| t.virt_src_ip = "10.0.0.2:80".into()), Code::InvalidArgument),
        ("src with prefix", with(&|t| t.virt_src_ip = "10.0.0.2/32".into()), Code::InvalidArgument),
        ("src with NUL", with(&|t| t.virt_src_ip = "10.0.0.2\0".into()), Code::InvalidArgument),
        ("dst 0.0.0.0", with(&|t| t.virt_dst_ip = "0.0.0.0".into()), Code::NotFound),
        ("dst broadcast", with(&|t| t.virt_dst_ip = "255.255.255.255".into()), Code::NotFound),
        (
            "src outside the map",
            with(&|t| t.virt_src_ip = "10.0.1.2".into()),
            Code::PermissionDenied,
        ),
        ("src is our own", with(&|t| t.virt_src_ip = "10.1.0.3".into()), Code::PermissionDenied),
        ("reverse: empty key", rev(&|p| p.encryption_key.clear()), Code::InvalidArgument),
        ("reverse: 33-byte key", rev(&|p| p.encryption_key.push(0)), Code::InvalidArgument),
        (
            "reverse: 1 MiB key",
            rev(&|p| p.encryption_key = vec![7; 1 << 20]),
            Code::InvalidArgument,
        ),
        ("reverse: version u32::MAX", rev(&|p| p.psp_version = u32::MAX), Code::InvalidArgument),
        ("reverse: 1 MiB MAC", rev(&|p| p.mac_addr = huge.clone()), Code::InvalidArgument),
        ("reverse: empty IP", rev(&|p| p.ip_addr.clear()), Code::InvalidArgument),
        ("reverse: 1 MiB IP", rev(&|p| p.ip_addr = huge.clone()), Code::InvalidArgument),
        (
            "a million unknown versions",
            pb::MultiTunnelRequest {
                psp_versions_accepted: vec![99; 1_000_000],
                ..wire_request(vec![good()])
            },
            Code::FailedPrecondition,
        ),
        (
            "4097 tunnels (over the per-request limit)",
            wire_request((0..4097).map(|_| good()).collect()),
            Code::InvalidArgument,
        ),
    ];
    for (what, req, code) in cases {
        assert_eq!(h.raw_code(req), code, "{what}");
        assert_eq!(h.backend().snapshot(), before, "{what}: backend changed");
    }
    // Over the 16 MiB message limit: refused by the transport.
    let mut c = raw_from(&h, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let big = with(&|t| t.virt_src_ip = "1".repeat(17 << 20));
    let code = code_of(&h, &mut c, big);
    assert!(
        matches!(code, Code::ResourceExhausted | Code::OutOfRange | Code::Internal),
        "{code:?}"
    );
    assert_eq!(h.backend().snapshot(), before);
    assert_eq!(h.gw.pool_ready(Version::AesGcm256), ready, "no SPI taken");
    // The server still serves.
    assert_eq!(h.raw_code(wire_request(vec![good()])), Code::Ok);
}

#[test]
fn a_flood_from_one_peer_is_limited_and_the_other_peer_is_served() {
    let mut cfg = config();
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    cfg.peers.insert(other, [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))].into_iter().collect());
    // 10 tunnels/s per peer: one second of burst, then 1 token per 100 ms.
    // The checks hold however slowly the machine runs the flood: they are
    // bounds in terms of the time it took.
    cfg.peer_rate_limit = Some(10);
    let h = Harness::start(cfg);
    let mut flood = raw_from(&h, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (mut ok, mut limited) = (0u64, 0u64);
    let t0 = std::time::Instant::now();
    for i in 0..400u16 {
        let r = wire_request(vec![wire_tunnel("10.0.0.1", &dst(i).to_string())]);
        match code_of(&h, &mut flood, r) {
            Code::Ok => ok += 1,
            Code::ResourceExhausted => limited += 1,
            c => panic!("unexpected {c:?}"),
        }
    }
    // The burst and what refilled while the flood ran, no more.
    let refilled = (t0.elapsed().as_secs_f64() * 10.0).ceil() as u64;
    assert!(ok >= 10 && ok <= 10 + refilled + 1, "ok {ok}, refilled {refilled}");
    assert_eq!(ok + limited, 400);
    assert_eq!(h.backend().snapshot().acl.len() as u64, ok);
    // Invalid requests cost a token too: right after the flood they are
    // refused for the limit before they are looked at.
    let bad = || wire_request(vec![wire_tunnel("10.0.0.1", "10.9.9.9")]);
    let codes: Vec<Code> = (0..20).map(|_| code_of(&h, &mut flood, bad())).collect();
    assert!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    assert!(codes.iter().all(|c| matches!(c, Code::ResourceExhausted | Code::NotFound)));
    // Another peer is unaffected.
    let mut calm = raw_from(&h, other);
    let r = wire_request(vec![wire_tunnel("10.0.0.9", "10.1.0.1")]);
    assert_eq!(code_of(&h, &mut calm, r), Code::Ok);
    // The flooder gets served again after waiting (3 tokens in 300 ms).
    std::thread::sleep(Duration::from_millis(300));
    let r = wire_request(vec![wire_tunnel("10.0.0.1", "10.1.3.1")]);
    assert_eq!(code_of(&h, &mut flood, r), Code::Ok);
}

#[test]
fn asking_again_for_a_pair_retires_its_oldest_spi() {
    let h = Harness::start(config());
    let mut c = h.client();
    let req = [TunnelRequest { virt_src: src(1), virt_dst: dst(5), reverse: None }];
    let mut spis = Vec::new();
    for _ in 0..50 {
        let t = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &req)).unwrap();
        spis.push(t[0].params.spi.0);
    }
    let acl = h.backend().snapshot().acl;
    // Only the newest SPIs are admitted.
    let kept: Vec<u32> = acl.keys().copied().collect();
    assert_eq!(kept, spis[50 - rpc::server::MAX_SPIS_PER_PAIR..].to_vec());
    assert!(acl.values().all(|(ip, _)| *ip == src(1)));
}

#[test]
fn rotation_requests_are_limited_to_one_per_gap() {
    let mut cfg = config();
    cfg.min_peer_rotation_gap = Duration::from_secs(3600);
    let h = Harness::start(cfg);
    let mut c = h.client();
    let m0 = h.gw.masters().expect("software keys");
    h.rt.block_on(c.request_key_rotation(true)).unwrap();
    let m1 = h.gw.masters().expect("software keys");
    assert_eq!((m1.generation(0), m1.generation(1)), (m0.generation(0), m0.generation(1) + 1));
    for _ in 0..20 {
        let e = h.rt.block_on(c.request_key_rotation(true)).unwrap_err();
        assert!(
            matches!(e, rpc::client::ClientError::Status(ref s) if s.code() == Code::ResourceExhausted),
            "{e}"
        );
    }
    let m2 = h.gw.masters().expect("software keys");
    assert_eq!((m2.generation(0), m2.generation(1)), (m1.generation(0), m1.generation(1)));
    assert_eq!(h.gw.key_epoch(), 1);
    // issue_new_keys = false rotates too: refused the same.
    assert!(h.rt.block_on(c.request_key_rotation(false)).is_err());
    assert_eq!(h.gw.key_epoch(), 1);
}

#[test]
fn hello_tells_the_instance_and_the_key_epoch() {
    let h = Harness::start(config());
    let mut c = h.client();
    let s = h.rt.block_on(c.hello()).unwrap();
    assert_eq!(s, PeerSession::Known { instance_id: h.gw.instance_id(), key_epoch: 0 });
    h.rt.block_on(h.gw.rotate_master_key());
    let s = h.rt.block_on(c.hello()).unwrap();
    assert_eq!(s, PeerSession::Known { instance_id: h.gw.instance_id(), key_epoch: 1 });
    // Another process (another gateway) has another instance id.
    let h2 = Harness::start_seeded(config(), 8);
    let mut c2: Client = h2.client();
    let PeerSession::Known { instance_id, .. } = h2.rt.block_on(c2.hello()).unwrap() else {
        panic!("unknown")
    };
    assert_ne!(instance_id, h.gw.instance_id());
    // Strangers are denied.
    let mut cfg = config();
    cfg.peers.clear();
    let h3 = Harness::start(cfg);
    let mut c3 = h3.client();
    let e = h3.rt.block_on(c3.hello()).unwrap_err();
    assert!(
        matches!(e, rpc::client::ClientError::Status(ref s) if s.code() == Code::PermissionDenied),
        "{e}"
    );
}
