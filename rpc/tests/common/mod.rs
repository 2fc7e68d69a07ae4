//! The fake backend and loopback harness shared by the rpc integration
//! tests: a real gRPC server on 127.0.0.1 (ephemeral port) on its own
//! one-worker `RpcRuntime`, over a backend whose state can be compared.

#![allow(dead_code)]

use engine::psp::kdf::DerivedKey;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::{Spi, Version};
use engine::wire::MacAddr;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rpc::client::{Client, IssuedTunnel};
use rpc::params::TunnelParams;
use rpc::pb;
use rpc::pb::psp_gateway_client::PspGatewayClient;
use rpc::runtime::{RpcRuntime, RunningServer};
use rpc::server::{BackendError, EgressTunnel, Gateway, ServerConfig, TunnelBackend};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tonic::Code;

// ---------------------------------------------------------------- fake backend

/// What the fake datapath holds; comparable, to prove "no state change".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// SPI -> (the peer's address, ours) it admits.
    pub acl: BTreeMap<u32, (IpAddr, IpAddr)>,
    /// (local virt, peer virt) -> what the egress tunnel sends with.
    pub egress: BTreeMap<(IpAddr, IpAddr), Egress>,
}

/// (spi, version, key bytes, peer ip, cookie).
pub type Egress = (u32, u8, Vec<u8>, IpAddr, Option<u64>);

#[derive(Default)]
pub struct FakeBackend {
    pub state: Mutex<State>,
    pub masters: Mutex<Option<MasterKeyPair>>,
    /// Fail the install call with this index (counting ACLs and egress).
    pub fail_at: Mutex<Option<usize>>,
    pub calls: Mutex<usize>,
}

impl FakeBackend {
    pub fn snapshot(&self) -> State {
        self.state.lock().unwrap().clone()
    }
    pub fn step(&self) -> Result<(), BackendError> {
        let mut c = self.calls.lock().unwrap();
        *c += 1;
        if *self.fail_at.lock().unwrap() == Some(*c) {
            return Err(BackendError::Failed("injected".into()));
        }
        Ok(())
    }
    pub fn derive(&self, spi: u32, v: Version) -> DerivedKey {
        self.masters.lock().unwrap().as_ref().unwrap().derive(Spi(spi), v)
    }
}

impl TunnelBackend for FakeBackend {
    fn tunnel_count(&self) -> usize {
        self.state.lock().unwrap().acl.len()
    }
    fn install_ingress_acl(
        &self,
        spi: Spi,
        peer: IpAddr,
        local: IpAddr,
    ) -> Result<(), BackendError> {
        self.step()?;
        let fresh = self.state.lock().unwrap().acl.insert(spi.0, (peer, local)).is_none();
        assert!(fresh, "SPI reused");
        Ok(())
    }
    fn remove_ingress_acl(&self, spi: Spi, peer: IpAddr, local: IpAddr) {
        assert_eq!(self.state.lock().unwrap().acl.remove(&spi.0), Some((peer, local)));
    }
    fn create_egress_tunnel(&self, t: &EgressTunnel) -> Result<(), BackendError> {
        self.step()?;
        let p = &t.params;
        let v = (p.spi.0, p.version.wire(), p.key.as_bytes().to_vec(), p.ip, p.virt_cookie);
        self.state.lock().unwrap().egress.insert((t.local_virt_ip, t.peer_virt_ip), v);
        Ok(())
    }
    fn remove_egress_tunnel(&self, local: IpAddr, peer: IpAddr) {
        assert!(self.state.lock().unwrap().egress.remove(&(local, peer)).is_some());
    }
    fn set_master_keys(&self, masters: Option<&MasterKeyPair>, invalidated: Option<usize>) {
        *self.masters.lock().unwrap() = masters.cloned();
        if let Some(slot) = invalidated {
            self.state.lock().unwrap().acl.retain(|&spi, _| Spi(spi).key_slot() != slot);
        }
    }
}

// ---------------------------------------------------------------- harness

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Our (the requester's) virtual addresses 10.0.0.1..=10.0.0.4.
pub fn src(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
}

/// The server's virtual addresses 10.1.0.0..=10.1.3.255.
pub fn dst(i: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (i >> 8) as u8, i as u8))
}

pub fn config() -> ServerConfig {
    let mut c = ServerConfig::new("192.0.2.20".parse().unwrap());
    c.local_mac = Some("02:00:00:00:00:20".parse().unwrap());
    c.local_virt_ips = (0..1024).map(dst).collect();
    c.peers.insert(LOCALHOST, (1..=4).map(src).collect());
    c.max_tunnels_per_request = 1024;
    c.max_tunnels = 4096;
    c.virt_cookie = Some(0x0123_4567_89ab_cdef);
    c.pool_size = 1024;
    // Tests rotate back to back.
    c.min_peer_rotation_gap = Duration::ZERO;
    c
}

pub struct Harness {
    pub rt: RpcRuntime,
    pub server: Option<RunningServer>,
    pub gw: Gateway<FakeBackend>,
    pub addr: SocketAddr,
}

impl Harness {
    pub fn start(config: ServerConfig) -> Harness {
        Harness::start_seeded(config, 7)
    }

    /// As [`Harness::start`] with the gateway's RNG seeded by `seed`.
    pub fn start_seeded(config: ServerConfig, seed: u64) -> Harness {
        let rt = RpcRuntime::new().unwrap();
        let gw =
            Gateway::with_rng(config, FakeBackend::default(), ChaCha20Rng::seed_from_u64(seed));
        let server = rt.start_server("127.0.0.1:0".parse().unwrap(), gw.clone()).unwrap();
        let addr = server.local_addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        Harness { rt, server: Some(server), gw, addr }
    }

    pub fn client(&self) -> Client {
        self.rt.block_on(Client::connect(&self.addr.to_string(), TIMEOUT)).unwrap()
    }

    pub fn raw(&self) -> PspGatewayClient<tonic::transport::Channel> {
        let uri = format!("http://{}", self.addr);
        self.rt.block_on(PspGatewayClient::connect(uri)).unwrap()
    }

    /// Sends a raw request and returns its status code.
    pub fn raw_code(&self, req: pb::MultiTunnelRequest) -> Code {
        let mut c = self.raw();
        match self.rt.block_on(c.request_multiple_tunnel_params(req)) {
            Ok(_) => Code::Ok,
            Err(s) => {
                // Never the peer's input echoed whole: a status message
                // is an HTTP/2 header.
                assert!(s.message().len() <= 512, "{:?}: {} bytes", s.code(), s.message().len());
                s.code()
            }
        }
    }

    pub fn backend(&self) -> &FakeBackend {
        self.gw.backend()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown(&self.rt);
        }
    }
}

pub fn reverse(i: u32, version: Version) -> TunnelParams {
    let key = vec![(i % 251) as u8 + 1; version.key_len()];
    TunnelParams {
        mac: Some(MacAddr([2, 0, 0, 0, 0, 0x10])),
        ip: "192.0.2.10".parse().unwrap(),
        version,
        spi: Spi(0x100 + i),
        key: DerivedKey::from_bytes(&key).unwrap(),
        virt_cookie: Some(0xfeed),
        encap_type: 0,
    }
}

pub fn wire_tunnel(s: &str, d: &str) -> pb::SingleTunnelRequest {
    pb::SingleTunnelRequest {
        virt_src_ip: s.into(),
        virt_dst_ip: d.into(),
        inner_type: 0,
        reverse_params: Some(reverse(0, Version::AesGcm256).to_wire()),
    }
}

pub fn wire_request(tunnels: Vec<pb::SingleTunnelRequest>) -> pb::MultiTunnelRequest {
    pb::MultiTunnelRequest { request_id: 1, psp_versions_accepted: vec![1], tunnels }
}

/// Each issued key is the one the server's master keys derive for its SPI
/// (the server keeps no per-tunnel key), also in the backend's copy.
pub fn assert_keys_derive(h: &Harness, issued: &[IssuedTunnel]) {
    let masters = h.gw.masters().expect("software keys");
    for t in issued {
        let p = &t.params;
        assert_eq!(p.key.len(), p.version.key_len());
        assert_eq!(masters.derive(p.spi, p.version).as_bytes(), p.key.as_bytes(), "{}", p.spi);
        assert_eq!(h.backend().derive(p.spi.0, p.version).as_bytes(), p.key.as_bytes());
    }
}
