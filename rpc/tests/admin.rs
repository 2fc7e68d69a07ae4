//! The `Admin/Status` service and the call counters over real gRPC on
//! 127.0.0.1, and the directory's peers admitted beside the configured ones.

mod common;

use common::*;
use engine::psp::Version;
use rpc::client::{Client, TunnelRequest};
use rpc::counters::Method;
use rpc::pb_ext;
use rpc::runtime::RpcRuntime;
use rpc::server::{Gateway, PeerMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A status source that counts its calls and answers with them.
#[derive(Default)]
struct Counting(AtomicU64);

#[tonic::async_trait]
impl rpc::admin::StatusSource for Counting {
    async fn status(&self) -> Result<pb_ext::StatusResponse, tonic::Status> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(pb_ext::StatusResponse { uptime_ms: n, ..Default::default() })
    }
}

fn start(
    cfg: rpc::server::ServerConfig,
) -> (RpcRuntime, Gateway<FakeBackend>, rpc::runtime::RunningServer, Arc<Counting>) {
    use rand_chacha::rand_core::SeedableRng;
    let rt = RpcRuntime::new().unwrap();
    let gw =
        Gateway::with_rng(cfg, FakeBackend::default(), rand_chacha::ChaCha20Rng::seed_from_u64(3));
    let src = Arc::new(Counting::default());
    let srv = rt
        .start_server_with_status(
            "127.0.0.1:0".parse().unwrap(),
            gw.clone(),
            None,
            Arc::clone(&src),
        )
        .unwrap();
    (rt, gw, srv, src)
}

fn calls(gw: &Gateway<FakeBackend>, m: Method, code: &str) -> u64 {
    gw.rpc_counters()
        .snapshot()
        .iter()
        .find(|c| c.method == m && c.code == code)
        .map_or(0, |c| c.calls)
}

#[test]
fn status_answers_loopback_and_calls_are_counted_by_method_and_code() {
    let (rt, gw, srv, source) = start(config());
    let mut c = rt.block_on(Client::connect(&srv.local_addr().to_string(), TIMEOUT)).unwrap();
    assert_eq!(rt.block_on(c.status()).unwrap().uptime_ms, 1);
    assert_eq!(rt.block_on(c.status()).unwrap().uptime_ms, 2);
    assert_eq!(source.0.load(Ordering::Relaxed), 2);
    assert_eq!(calls(&gw, Method::Status, "OK"), 2);
    // A refused tunnel request is counted under its code.
    let bad = [TunnelRequest { virt_src: src(9), virt_dst: dst(1), reverse: None }];
    assert!(rt.block_on(c.request_tunnels(&[Version::AesGcm256], &bad)).is_err());
    assert_eq!(calls(&gw, Method::RequestTunnels, "PERMISSION_DENIED"), 1);
    assert_eq!(calls(&gw, Method::RequestTunnels, "OK"), 0);
    rt.block_on(c.hello()).unwrap();
    assert_eq!(calls(&gw, Method::Hello, "OK"), 1);
    srv.shutdown(&rt);
}

#[test]
fn directory_peers_are_admitted_and_withdrawn() {
    // No configured peers: only the directory's.
    let mut cfg = config();
    cfg.peers.clear();
    let (rt, gw, srv, _) = start(cfg);
    let mut c = rt.block_on(Client::connect(&srv.local_addr().to_string(), TIMEOUT)).unwrap();
    let req = [TunnelRequest { virt_src: src(1), virt_dst: dst(1), reverse: None }];
    let refused = rt.block_on(c.request_tunnels(&[Version::AesGcm256], &req)).unwrap_err();
    assert!(refused.to_string().contains("not a configured peer"), "{refused}");
    let mut peers = PeerMap::new();
    peers.insert(LOCALHOST, [src(1)].into());
    gw.set_directory_peers(peers);
    assert_eq!(rt.block_on(c.request_tunnels(&[Version::AesGcm256], &req)).unwrap().len(), 1);
    // Another virtual address than the directory names: refused.
    let other = [TunnelRequest { virt_src: src(2), virt_dst: dst(2), reverse: None }];
    assert!(rt.block_on(c.request_tunnels(&[Version::AesGcm256], &other)).is_err());
    gw.set_directory_peers(PeerMap::new());
    let again = [TunnelRequest { virt_src: src(1), virt_dst: dst(3), reverse: None }];
    assert!(rt.block_on(c.request_tunnels(&[Version::AesGcm256], &again)).is_err());
    srv.shutdown(&rt);
}
