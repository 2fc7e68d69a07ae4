//! The server and client over real gRPC on 127.0.0.1 (ephemeral ports),
//! each test on its own one-worker `RpcRuntime`, against a fake backend.

mod common;

use common::*;
use engine::psp::Version;
use rpc::client::{Client, TunnelRequest};
use rpc::pb;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tonic::Code;

// ---------------------------------------------------------------- tests

#[test]
fn multi_tunnel_request_installs_acls_and_egress_tunnels() {
    let h = Harness::start(config());
    let mut c = h.client();
    let reqs: Vec<TunnelRequest> = (0..3)
        .map(|i| TunnelRequest {
            virt_src: src(1 + i as u8),
            virt_dst: dst(i as u16),
            reverse: Some(reverse(i, Version::AesGcm256)),
        })
        .collect();
    let issued =
        h.rt.block_on(c.request_tunnels(&[Version::AesGcm256, Version::AesGcm128], &reqs)).unwrap();
    assert_eq!(issued.len(), 3);
    assert_keys_derive(&h, &issued);
    let state = h.backend().snapshot();
    for (i, t) in issued.iter().enumerate() {
        let p = &t.params;
        assert_eq!((t.virt_src, t.virt_dst), (reqs[i].virt_src, reqs[i].virt_dst));
        assert_eq!(p.version, Version::AesGcm256, "first acceptable in our preference");
        assert_eq!(p.spi.key_slot(), 0, "master key 0 before any rotation");
        if i > 0 {
            assert!(p.spi > issued[i - 1].params.spi, "fresh SPIs, in pool order");
        }
        assert_eq!(p.ip, "192.0.2.20".parse::<IpAddr>().unwrap());
        assert_eq!(p.mac, Some("02:00:00:00:00:20".parse().unwrap()));
        assert_eq!(p.virt_cookie, Some(0x0123_4567_89ab_cdef));
        // Ingress ACL: the SPI admits the requester's virtual address, to
        // the one of ours it asked for.
        assert_eq!(state.acl.get(&p.spi.0), Some(&(t.virt_src, t.virt_dst)));
        // Egress tunnel from our reverse params.
        let r = reverse(i as u32, Version::AesGcm256);
        let want = (r.spi.0, 1, r.key.as_bytes().to_vec(), r.ip, Some(0xfeed));
        assert_eq!(state.egress.get(&(t.virt_dst, t.virt_src)), Some(&want));
    }
    assert_eq!(state.acl.len(), 3);
    assert_eq!(state.egress.len(), 3);
    // Without reverse params: an ACL, no egress tunnel.
    let plain = [TunnelRequest { virt_src: src(4), virt_dst: dst(9), reverse: None }];
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGmac128], &plain)).unwrap();
    assert_eq!(issued[0].params.version, Version::AesGmac128);
    assert_keys_derive(&h, &issued);
    let state = h.backend().snapshot();
    assert_eq!((state.acl.len(), state.egress.len()), (4, 3));
    // Keys never show in Debug output.
    let shown = format!("{issued:?}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(!shown.contains(&format!("{:?}", issued[0].params.key.as_bytes())));
    assert_eq!(h.gw.pool_stats().misses, 0, "served from the pre-generated pool");
}

#[test]
fn version_negotiation_follows_requester_preference() {
    let mut cfg = config();
    cfg.versions = vec![Version::AesGcm128, Version::AesGcm256, Version::AesGmac128];
    let h = Harness::start(cfg);
    let mut req = wire_request(vec![wire_tunnel("10.0.0.1", "10.1.0.1")]);
    req.psp_versions_accepted = vec![9, 3, 2, 1];
    let mut c = h.raw();
    let resp = h.rt.block_on(c.request_multiple_tunnel_params(req)).unwrap().into_inner();
    assert_eq!(resp.request_id, 1);
    assert_eq!(resp.tunnels_params[0].psp_version, 2, "3 not allowed here, 2 preferred over 1");
    assert_eq!(resp.tunnels_params[0].encryption_key.len(), 16);
}

#[test]
fn invalid_requests_get_their_status_and_change_nothing() {
    let mut cfg = config();
    cfg.max_tunnels_per_request = 8;
    cfg.max_tunnels = 10;
    cfg.versions = vec![Version::AesGcm128, Version::AesGcm256];
    let h = Harness::start(cfg);
    // Some state to start from: 4 tunnels.
    let ok: Vec<_> = (0..4).map(|i| wire_tunnel("10.0.0.1", &dst(100 + i).to_string())).collect();
    assert_eq!(h.raw_code(wire_request(ok)), Code::Ok);
    let before = h.backend().snapshot();
    assert_eq!(before.acl.len(), 4);

    let good = || wire_tunnel("10.0.0.2", "10.1.0.1");
    let with = |f: &dyn Fn(&mut pb::SingleTunnelRequest)| {
        let mut t = good();
        f(&mut t);
        // A valid tunnel first: all-or-nothing per request.
        wire_request(vec![wire_tunnel("10.0.0.3", "10.1.0.2"), t])
    };
    let versions = |v: Vec<u32>| pb::MultiTunnelRequest {
        psp_versions_accepted: v,
        ..wire_request(vec![good()])
    };
    let cases: Vec<(&str, pb::MultiTunnelRequest, Code)> = vec![
        ("empty tunnel list", wire_request(vec![]), Code::InvalidArgument),
        (
            "over the per-request limit",
            wire_request(
                (0..9).map(|i| wire_tunnel("10.0.0.1", &dst(200 + i).to_string())).collect(),
            ),
            Code::InvalidArgument,
        ),
        ("no acceptable version", versions(vec![2, 3]), Code::FailedPrecondition),
        ("no versions at all", versions(vec![]), Code::FailedPrecondition),
        ("out-of-range version", versions(vec![256]), Code::FailedPrecondition),
        ("unparseable src", with(&|t| t.virt_src_ip = "10.0.0.x".into()), Code::InvalidArgument),
        ("empty src", with(&|t| t.virt_src_ip.clear()), Code::InvalidArgument),
        ("IPv6 dst", with(&|t| t.virt_dst_ip = "fd00::1".into()), Code::InvalidArgument),
        ("dst not ours", with(&|t| t.virt_dst_ip = "10.9.9.9".into()), Code::NotFound),
        ("src not allowed", with(&|t| t.virt_src_ip = "10.0.0.99".into()), Code::PermissionDenied),
        ("duplicate pair", wire_request(vec![good(), good()]), Code::InvalidArgument),
        (
            "reverse key too short",
            with(&|t| t.reverse_params.as_mut().unwrap().encryption_key.truncate(16)),
            Code::InvalidArgument,
        ),
        (
            "reverse 128-bit version with 256-bit key",
            with(&|t| t.reverse_params.as_mut().unwrap().psp_version = 0),
            Code::InvalidArgument,
        ),
        (
            "reverse unknown version",
            with(&|t| t.reverse_params.as_mut().unwrap().psp_version = 9),
            Code::InvalidArgument,
        ),
        (
            "reverse version not allowed here",
            with(&|t| {
                let r = t.reverse_params.as_mut().unwrap();
                r.psp_version = 3;
            }),
            Code::InvalidArgument,
        ),
        (
            "reverse bad IP",
            with(&|t| t.reverse_params.as_mut().unwrap().ip_addr = "gw".into()),
            Code::InvalidArgument,
        ),
        (
            "reverse bad MAC",
            with(&|t| t.reverse_params.as_mut().unwrap().mac_addr = "02:00".into()),
            Code::InvalidArgument,
        ),
        (
            "max_tunnels exceeded (4 + 7 > 10)",
            wire_request(
                (0..7).map(|i| wire_tunnel("10.0.0.4", &dst(300 + i).to_string())).collect(),
            ),
            Code::ResourceExhausted,
        ),
    ];
    let ready = h.gw.pool_ready(Version::AesGcm256);
    for (what, req, code) in cases {
        assert_eq!(h.raw_code(req), code, "{what}");
        assert_eq!(h.backend().snapshot(), before, "{what}: backend changed");
    }
    // Refused requests take no SPI from the pool.
    assert_eq!(h.gw.pool_ready(Version::AesGcm256), ready);
    // Exactly at the limit works: 4 + 6 = 10.
    let six = (0..6).map(|i| wire_tunnel("10.0.0.4", &dst(300 + i).to_string())).collect();
    assert_eq!(h.raw_code(wire_request(six)), Code::Ok);
    assert_eq!(h.backend().snapshot().acl.len(), 10);
    assert_eq!(h.raw_code(wire_request(vec![good()])), Code::ResourceExhausted);
}

#[test]
fn unknown_peers_are_denied() {
    let mut cfg = config();
    cfg.peers.clear();
    cfg.peers.insert("127.0.0.2".parse().unwrap(), [src(1)].into_iter().collect());
    let h = Harness::start(cfg);
    let before = h.backend().snapshot();
    assert_eq!(
        h.raw_code(wire_request(vec![wire_tunnel("10.0.0.1", "10.1.0.1")])),
        Code::PermissionDenied
    );
    let mut c = h.client();
    let err = h.rt.block_on(c.request_key_rotation(true)).unwrap_err();
    assert!(
        matches!(err, rpc::client::ClientError::Status(ref s) if s.code() == Code::PermissionDenied),
        "{err}"
    );
    assert_eq!(h.backend().snapshot(), before);
    assert_eq!(h.gw.masters().expect("software keys").generation(1), 0, "no rotation");
}

#[test]
fn backend_failure_midway_is_rolled_back() {
    let h = Harness::start(config());
    let reqs: Vec<_> = (0..5)
        .map(|i| TunnelRequest {
            virt_src: src(1),
            virt_dst: dst(i),
            reverse: Some(reverse(i as u32, Version::AesGcm256)),
        })
        .collect();
    let mut c = h.client();
    for fail_at in [1, 2, 6, 10] {
        *h.backend().calls.lock().unwrap() = 0;
        *h.backend().fail_at.lock().unwrap() = Some(fail_at);
        let err = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &reqs)).unwrap_err();
        assert!(
            matches!(err, rpc::client::ClientError::Status(ref s) if s.code() == Code::Internal),
            "{err}"
        );
        assert_eq!(h.backend().snapshot(), State::default(), "failure at call {fail_at}");
    }
    *h.backend().fail_at.lock().unwrap() = None;
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &reqs)).unwrap();
    assert_eq!(h.backend().snapshot().acl.len(), 5);
    assert_keys_derive(&h, &issued);
}

#[test]
fn key_rotation_flips_the_spi_top_bit_and_keeps_old_spis_until_the_next() {
    let h = Harness::start(config());
    let mut c = h.client();
    let ask = |c: &mut Client, i: u16| {
        let r = [TunnelRequest { virt_src: src(1), virt_dst: dst(i), reverse: None }];
        h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &r)).unwrap().remove(0).params
    };
    let old = ask(&mut c, 1);
    assert_eq!(old.spi.0 >> 31, 0);

    let second = ask(&mut c, 2).spi;
    assert_eq!((second.key_slot(), second.0), (0, old.spi.0 + 1));

    // issue_new_keys = false rotates too, as DOCA's gateway does.
    h.rt.block_on(c.request_key_rotation(false)).unwrap();
    let new = ask(&mut c, 3);
    assert_eq!(new.spi.0 >> 31, 1, "top bit flips: {}", new.spi);
    assert!(new.spi.0 & 0x7fff_ffff <= 4 * 1024, "counter restarted: {}", new.spi);
    // The deprecated SPI still derives its key, at the server and in the datapath.
    assert_eq!(
        h.gw.masters().expect("software keys").derive(old.spi, old.version).as_bytes(),
        old.key.as_bytes()
    );
    assert_eq!(h.backend().derive(old.spi.0, old.version).as_bytes(), old.key.as_bytes());
    assert_eq!(
        h.gw.masters().expect("software keys").derive(new.spi, new.version).as_bytes(),
        new.key.as_bytes()
    );

    h.rt.block_on(c.request_key_rotation(true)).unwrap();
    let newer = ask(&mut c, 4);
    assert_eq!(newer.spi.0 >> 31, 0, "back to master key 0, fresh: {}", newer.spi);
    assert_eq!(h.gw.masters().expect("software keys").generation(0), 1);
    assert_ne!(newer.key.as_bytes(), old.key.as_bytes());
    // The first SPIs are invalidated now, their ACL entries gone; the
    // deprecated one still works.
    let acl = h.backend().snapshot().acl;
    assert_eq!(acl.len(), 2, "{acl:?}");
    assert!(acl.contains_key(&new.spi.0) && acl.contains_key(&newer.spi.0));
    assert_ne!(h.backend().derive(old.spi.0, old.version).as_bytes(), old.key.as_bytes());
    assert_eq!(h.backend().derive(new.spi.0, new.version).as_bytes(), new.key.as_bytes());
    assert_eq!(h.gw.pool_stats().misses, 0, "the pool was refilled from the new key");
}

#[test]
fn a_batch_of_1000_tunnels_in_one_request() {
    let h = Harness::start(config());
    let mut c = h.client();
    let reqs: Vec<_> = (0..1000u16)
        .map(|i| TunnelRequest {
            virt_src: src(1 + (i % 4) as u8),
            virt_dst: dst(i),
            reverse: Some(reverse(u32::from(i), Version::AesGcm256)),
        })
        .collect();
    let t0 = Instant::now();
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &reqs)).unwrap();
    let took = t0.elapsed();
    assert_eq!(issued.len(), 1000);
    assert_keys_derive(&h, &issued);
    let spis: HashSet<_> = issued.iter().map(|t| t.params.spi).collect();
    assert_eq!(spis.len(), 1000);
    let state = h.backend().snapshot();
    assert_eq!((state.acl.len(), state.egress.len()), (1000, 1000));
    assert_eq!(h.gw.pool_stats(), rpc::server::PoolStats { hits: 1000, misses: 0 });
    eprintln!("1000 tunnels in one request: {took:?}");
}

#[test]
fn the_pool_refills_in_the_background() {
    let mut cfg = config();
    cfg.pool_size = 64;
    let h = Harness::start(cfg);
    assert_eq!(h.gw.pool_ready(Version::AesGcm256), 64);
    let mut c = h.client();
    let batch = |base: u16| -> Vec<TunnelRequest> {
        (0..60)
            .map(|i| TunnelRequest { virt_src: src(1), virt_dst: dst(base + i), reverse: None })
            .collect()
    };
    h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &batch(0))).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while h.gw.pool_ready(Version::AesGcm256) < 64 {
        assert!(Instant::now() < deadline, "pool not refilled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &batch(100))).unwrap();
    assert_keys_derive(&h, &issued);
    assert_eq!(h.gw.pool_stats().misses, 0);
    // A request larger than the pool still works (the shortfall inline).
    let reqs: Vec<_> = (0..100)
        .map(|i| TunnelRequest { virt_src: src(2), virt_dst: dst(200 + i), reverse: None })
        .collect();
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &reqs)).unwrap();
    assert_keys_derive(&h, &issued);
    assert!(h.gw.pool_stats().misses > 0);
}

#[test]
fn method_paths() {
    use tonic::codegen::http::uri::PathAndQuery;
    let h = Harness::start(config());
    let channel =
        h.rt.block_on(
            tonic::transport::Endpoint::from_shared(format!("http://{}", h.addr))
                .unwrap()
                .connect(),
        )
        .unwrap();
    let call = |path: &'static str,
                req: pb::KeyRotationRequest|
     -> Result<pb::KeyRotationResponse, tonic::Status> {
        h.rt.block_on(async {
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            grpc.ready().await.unwrap();
            let codec =
                tonic_prost::ProstCodec::<pb::KeyRotationRequest, pb::KeyRotationResponse>::default(
                );
            grpc.unary(tonic::Request::new(req), PathAndQuery::from_static(path), codec)
                .await
                .map(|r| r.into_inner())
        })
    };
    // The DOCA paths are served...
    let r = call(
        "/psp_gateway.PSP_Gateway/RequestKeyRotation",
        pb::KeyRotationRequest { request_id: 42, issue_new_keys: false },
    );
    assert_eq!(r.unwrap().request_id, 42);
    // ...and nothing else: so the typed client, which works against this
    // server in every other test, calls exactly these paths too.
    for wrong in [
        "/psp_gateway.PspGateway/RequestKeyRotation",
        "/psp_gateway.PSP_Gateway/request_key_rotation",
        "/PSP_Gateway/RequestKeyRotation",
    ] {
        let e = call(wrong, pb::KeyRotationRequest::default()).unwrap_err();
        assert_eq!(e.code(), Code::Unimplemented, "{wrong}");
    }
    let mtr = h.rt.block_on(async {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let codec =
            tonic_prost::ProstCodec::<pb::MultiTunnelRequest, pb::MultiTunnelResponse>::default();
        let req = wire_request(vec![wire_tunnel("10.0.0.1", "10.1.0.1")]);
        grpc.unary(
            tonic::Request::new(req),
            PathAndQuery::from_static("/psp_gateway.PSP_Gateway/RequestMultipleTunnelParams"),
            codec,
        )
        .await
    });
    assert_eq!(mtr.unwrap().into_inner().tunnels_params.len(), 1);
}

#[test]
fn server_shuts_down_and_frees_its_port() {
    let mut h = Harness::start(config());
    let addr = h.addr;
    h.server.take().unwrap().shutdown(&h.rt);
    let err = h.rt.block_on(Client::connect(&addr.to_string(), Duration::from_secs(2)));
    assert!(err.is_err(), "nothing listens after shutdown");
    // The port can be bound again.
    let again = h.rt.start_server(addr, h.gw.clone()).unwrap();
    assert_eq!(again.local_addr(), addr);
    again.shutdown(&h.rt);
}

/// A NIC that keeps its master key: SPIs count up from 1 under bit 31 of
/// the active slot, keys are whatever it says (here: the SPI repeated).
struct NicKeys {
    slot: u32,
    next: u32,
    rotations: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl rpc::server::SpiKeySource for NicKeys {
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<engine::psp::keygen::SpiKey>,
    ) -> Result<(), rpc::server::KeySourceError> {
        for _ in 0..n {
            let spi = engine::psp::Spi(self.slot << 31 | self.next);
            self.next += 1;
            let bytes: Vec<u8> =
                spi.0.to_be_bytes().iter().cycle().take(version.key_len()).copied().collect();
            let key = engine::psp::kdf::DerivedKey::from_bytes(&bytes)?;
            out.push(engine::psp::keygen::SpiKey { spi, key });
        }
        Ok(())
    }
    fn rotate(&mut self) -> usize {
        self.rotations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.slot ^= 1;
        self.next = 1;
        self.slot as usize
    }
    fn masters(&self) -> Option<&engine::psp::kdf::MasterKeyPair> {
        None
    }
}

#[test]
fn a_nic_key_source_hands_out_its_own_keys_and_rotates() {
    let rt = rpc::runtime::RpcRuntime::new().unwrap();
    let rotations = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let source = NicKeys { slot: 0, next: 1, rotations: rotations.clone() };
    let gw = rpc::server::Gateway::with_key_source(
        config(),
        FakeBackend::default(),
        Box::new(source),
        42,
    );
    assert!(gw.masters().is_none(), "the NIC keeps its master key");
    assert!(gw.backend().masters.lock().unwrap().is_none());
    let server = rt.start_server("127.0.0.1:0".parse().unwrap(), gw.clone()).unwrap();
    let mut c = rt.block_on(Client::connect(&server.local_addr().to_string(), TIMEOUT)).unwrap();
    let ask = |c: &mut Client, i: u16| {
        let r = [TunnelRequest { virt_src: src(1), virt_dst: dst(i), reverse: None }];
        rt.block_on(c.request_tunnels(&[Version::AesGcm256], &r)).unwrap().remove(0).params
    };
    let first = ask(&mut c, 1);
    assert_eq!(first.spi.0 >> 31, 0);
    assert_eq!(first.key.as_bytes(), first.spi.0.to_be_bytes().repeat(8).as_slice(), "the NIC's");
    rt.block_on(gw.rotate_master_key());
    assert_eq!(rotations.load(std::sync::atomic::Ordering::Relaxed), 1);
    let second = ask(&mut c, 2);
    assert_eq!(second.spi.0 >> 31, 1, "the new slot's SPIs: {}", second.spi);
    rt.block_on(gw.rotate_master_key());
    // Slot 0 is invalidated: its ACL entries are gone, slot 1's stay.
    let acl = gw.backend().snapshot().acl;
    assert_eq!(acl.keys().copied().collect::<Vec<_>>(), vec![second.spi.0]);
    let mut hello = c.clone();
    assert_eq!(
        rt.block_on(hello.hello()).unwrap(),
        rpc::client::PeerSession::Known { instance_id: 42, key_epoch: 2 }
    );
    server.shutdown(&rt);
}

/// Inner IPv6 (DOCA 3.x `inner_type`): IPv6 virtual addresses are issued
/// tunnels like IPv4 ones; our client sets `inner_type` 6 (4 for IPv4), as
/// NVIDIA's, and the server holds a request to its `inner_type` (0, a DOCA
/// 2.8 peer's, takes the addresses by their form).
#[test]
fn ipv6_virtual_addresses_and_inner_type() {
    let (ours, theirs): (IpAddr, IpAddr) =
        ("fd00:10::1".parse().unwrap(), "fd00:10::2".parse().unwrap());
    let mut cfg = config();
    cfg.local_virt_ips.insert(theirs);
    cfg.peers.get_mut(&LOCALHOST).unwrap().insert(ours);
    let h = Harness::start(cfg);
    let mut c = h.client();
    let req = [TunnelRequest {
        virt_src: ours,
        virt_dst: theirs,
        reverse: Some(reverse(0, Version::AesGcm256)),
    }];
    let issued = h.rt.block_on(c.request_tunnels(&[Version::AesGcm256], &req)).unwrap();
    assert_eq!((issued[0].virt_src, issued[0].virt_dst), (ours, theirs));
    assert_keys_derive(&h, &issued);
    let state = h.backend().snapshot();
    assert_eq!(state.acl.get(&issued[0].params.spi.0), Some(&(ours, theirs)));
    assert!(state.egress.contains_key(&(theirs, ours)));

    let t = |s: &str, d: &str, inner: u32| pb::SingleTunnelRequest {
        inner_type: inner,
        ..wire_tunnel(s, d)
    };
    for (tunnel, want) in [
        (t("fd00:10::1", "fd00:10::2", 6), Code::Ok),
        (t("fd00:10::1", "fd00:10::2", 0), Code::Ok),
        // inner_type 4 with IPv6 addresses, 6 with IPv4 ones, an unknown one.
        (t("fd00:10::1", "fd00:10::2", 4), Code::InvalidArgument),
        (t("10.0.0.1", "10.1.0.1", 6), Code::InvalidArgument),
        (t("10.0.0.1", "10.1.0.1", 5), Code::InvalidArgument),
        // Two IP versions in one tunnel.
        (t("10.0.0.1", "fd00:10::2", 0), Code::InvalidArgument),
        (t("10.0.0.1", "10.1.0.1", 4), Code::Ok),
    ] {
        let what = format!("{tunnel:?}");
        assert_eq!(h.raw_code(wire_request(vec![tunnel])), want, "{what}");
    }
}
