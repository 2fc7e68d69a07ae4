//! The `PSP_Gateway` service: hands out SPIs and keys to peer gateways and
//! installs the matching state in the datapath through a [`TunnelBackend`].
//!
//! Each requested tunnel gets a fresh SPI and the key derived from it under
//! this gateway's master keys; the gateway keeps no per-tunnel key, since
//! its datapath derives the key again from each packet's SPI (the backend
//! is handed the master keys, [`TunnelBackend::set_master_keys`]).
//!
//! SPIs and keys come from a pool pre-generated per PSP version and
//! refilled in the background ([`Gateway::refill_task`]), so a request does
//! not wait on key generation; a request larger than what the pool holds
//! gets the shortfall generated inline (counted in [`PoolStats::misses`]).
//!
//! Every request is validated completely before anything is installed, and
//! a backend failure midway is rolled back: a request changes the backend's
//! state entirely or not at all. Statuses:
//!
//! | refusal | status |
//! |---|---|
//! | requester not a configured peer (by its IP address) | `PERMISSION_DENIED` |
//! | over the peer's rate limit ([`crate::limit`]; checked first, costs nothing) | `RESOURCE_EXHAUSTED` |
//! | no tunnels, or more than the per-request limit | `INVALID_ARGUMENT` |
//! | none of `psp_versions_accepted` is a version this gateway allows | `FAILED_PRECONDITION` |
//! | a virtual IP that is not of its `inner_type` (4, 6, or 0: either), of two IP versions, or an unknown `inner_type`; a duplicate (src, dst) pair | `INVALID_ARGUMENT` |
//! | `virt_dst_ip` not one of this gateway's virtual IPs | `NOT_FOUND` |
//! | `virt_src_ip` not among the requester's allowed virtual IPs | `PERMISSION_DENIED` |
//! | `reverse_params`: unknown or disallowed version, wrong key length, bad IP or MAC | `INVALID_ARGUMENT` |
//! | `max_tunnels` would be exceeded, SPI space exhausted, backend full | `RESOURCE_EXHAUSTED` |
//! | other backend failure (after rollback) | `INTERNAL` |
//! | `RequestKeyRotation` sooner than [`ServerConfig::min_peer_rotation_gap`] after the last rotation | `RESOURCE_EXHAUSTED` |
//!
//! A (peer virtual IP, local virtual IP) pair holds at most
//! [`MAX_SPIS_PER_PAIR`] SPIs: asking again for a pair (a peer re-keying,
//! or retrying) retires the oldest past that, so repeating one request
//! cannot fill the tunnel table, and the SPIs the peer used until now keep
//! working while its packets are in flight. A rotation retires the SPIs of
//! the key it invalidates.
//!
//! Beyond DOCA's schema, the same server answers `psp_gateway_ext.Session/Hello`
//! with this process's random instance id and its master-key epoch: peers
//! poll it to learn that this gateway restarted or rotated its key, and
//! re-key their tunnels to it.
//!
//! The module's files: this one (the backend port [`TunnelBackend`], the
//! configuration and [`Gateway`]'s own API), `keys` (key sources and the
//! pool), `validate` (who may ask and what) and `service` (the tonic
//! services and their handlers).

mod keys;
mod service;
mod validate;

pub use keys::{KeySourceError, PoolStats, SoftwareKeys, SpiKeySource};

use crate::counters::RpcCounters;
use crate::limit::RateLimiter;
use crate::params::TunnelParams;
use crate::pb;
use crate::pb_ext;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::keygen::SpiKey;
use engine::psp::{Spi, Version};
use engine::wire::MacAddr;
use keys::KeyPool;
use rand_chacha::rand_core::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tonic::Status;

/// Most SPIs one (peer virtual IP, local virtual IP) pair holds. Two would
/// do if every SPI reached the peer in the order issued; but both gateways
/// re-key a pair (each asks for its direction and sends reverse parameters
/// for the other), and an answer can arrive after a newer SPI's reverse
/// parameters, leaving the peer on the older of the two. Four keeps every
/// SPI the peer may still be using unless three newer ones were issued
/// and none of them reached it, while one peer repeating its request in a
/// loop still holds at most four entries per pair.
pub const MAX_SPIS_PER_PAIR: usize = 4;

/// A tunnel from this gateway to a peer, created from a request's
/// `reverse_params`.
#[derive(Debug, Clone)]
pub struct EgressTunnel {
    /// Our virtual address (the request's `virt_dst_ip`): the inner source.
    pub local_virt_ip: IpAddr,
    /// The peer's virtual address (the request's `virt_src_ip`).
    pub peer_virt_ip: IpAddr,
    /// How to reach and encrypt for the peer (its SPI and key).
    pub params: TunnelParams,
}

/// One requested tunnel, as the backend installs it.
#[derive(Debug, Clone)]
pub struct Install {
    /// The SPI we issued to the requester.
    pub spi: Spi,
    /// The requester's virtual address (inner source of its packets).
    pub peer_virt_ip: IpAddr,
    /// Ours it asked for (inner destination of its packets).
    pub local_virt_ip: IpAddr,
    /// The tunnel back to the requester, when it sent reverse parameters.
    pub egress: Option<EgressTunnel>,
}

/// Why the backend could not install something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No room for more tunnels.
    #[error("datapath tunnel table full")]
    Full,
    /// Anything else.
    #[error("datapath: {0}")]
    Failed(String),
}

/// Where the server installs state: the datapath, or a fake in tests.
///
/// Calls come from the control-plane runtime's thread, never from a packet
/// core; implementations hand the change to the datapath as they see fit.
pub trait TunnelBackend: Send + Sync + 'static {
    /// Tunnels installed now (ingress ACL entries), for the `max_tunnels` check.
    fn tunnel_count(&self) -> usize;
    /// Admits packets with `spi` whose inner source is `peer_virt_ip` and
    /// inner destination `local_virt_ip` (the session the SPI was issued
    /// for, as NVIDIA's ingress ACL matches).
    fn install_ingress_acl(
        &self,
        spi: Spi,
        peer_virt_ip: IpAddr,
        local_virt_ip: IpAddr,
    ) -> Result<(), BackendError>;
    /// Undoes [`TunnelBackend::install_ingress_acl`] (rollback).
    fn remove_ingress_acl(&self, spi: Spi, peer_virt_ip: IpAddr, local_virt_ip: IpAddr);
    /// Removes several ingress ACL entries, each (SPI, peer's address,
    /// ours) (SPIs retired by newer ones); the default goes one by one, a
    /// backend that can batch should.
    fn remove_ingress_acls(&self, entries: &[(Spi, IpAddr, IpAddr)]) {
        for &(spi, peer, local) in entries {
            self.remove_ingress_acl(spi, peer, local);
        }
    }
    /// Creates (or replaces) the tunnel to a peer virtual address.
    fn create_egress_tunnel(&self, tunnel: &EgressTunnel) -> Result<(), BackendError>;
    /// Undoes [`TunnelBackend::create_egress_tunnel`] (rollback).
    fn remove_egress_tunnel(&self, local_virt_ip: IpAddr, peer_virt_ip: IpAddr);
    /// Installs one request's tunnels at once, all or nothing: for each,
    /// the ingress ACL entry and, with reverse parameters, the egress
    /// tunnel. The default goes entry by entry and rolls back on failure;
    /// a backend that can apply a batch in one step should (one table
    /// publication per request instead of two per tunnel).
    fn install_all(&self, items: &[Install]) -> Result<(), BackendError> {
        for (i, it) in items.iter().enumerate() {
            let (spi, peer, local) = (it.spi, it.peer_virt_ip, it.local_virt_ip);
            let res = self.install_ingress_acl(spi, peer, local).and_then(|()| match &it.egress {
                Some(t) => self
                    .create_egress_tunnel(t)
                    .inspect_err(|_| self.remove_ingress_acl(spi, peer, local)),
                None => Ok(()),
            });
            if let Err(e) = res {
                for it in items[..i].iter().rev() {
                    if let Some(t) = &it.egress {
                        self.remove_egress_tunnel(t.local_virt_ip, t.peer_virt_ip);
                    }
                    self.remove_ingress_acl(it.spi, it.peer_virt_ip, it.local_virt_ip);
                }
                return Err(e);
            }
        }
        Ok(())
    }
    /// The master keys the datapath derives receive keys from (`None` when
    /// the key source is a NIC that keeps them); called at start
    /// (`invalidated_slot` `None`) and on each rotation, before any SPI of
    /// the new key is handed out. On rotation the SPIs of
    /// `invalidated_slot` (bit 31) stop decrypting and will be handed out
    /// again: the backend drops their ingress ACL entries.
    fn set_master_keys(&self, masters: Option<&MasterKeyPair>, invalidated_slot: Option<usize>);
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// This gateway's MAC address on the secure side, sent to requesters.
    pub local_mac: Option<MacAddr>,
    /// This gateway's outer IP address, sent to requesters.
    pub local_ip: IpAddr,
    /// This gateway's virtual (inner) addresses: valid `virt_dst_ip`s.
    pub local_virt_ips: HashSet<IpAddr>,
    /// Peers by the IP address they call from, with the virtual addresses
    /// each may ask tunnels for (`virt_src_ip`).
    pub peers: HashMap<IpAddr, HashSet<IpAddr>>,
    /// PSP versions this gateway allows.
    pub versions: Vec<Version>,
    /// Most tunnels in one request.
    pub max_tunnels_per_request: usize,
    /// Most tunnels installed at once.
    pub max_tunnels: usize,
    /// The virtualization cookie senders put in packets to us (`None`:
    /// cookies disabled, 0 on the wire).
    pub virt_cookie: Option<u64>,
    /// Pre-generated SPIs and keys kept per allowed version.
    pub pool_size: usize,
    /// Tunnels (and requests, each at least one) per second per peer;
    /// `None`: unlimited.
    pub peer_rate_limit: Option<u32>,
    /// Shortest time between two master-key rotations a peer may ask for:
    /// each rotation invalidates the SPIs of the key before, so a peer
    /// asking in a loop would break every other peer's tunnels.
    pub min_peer_rotation_gap: Duration,
}

impl ServerConfig {
    /// Defaults: all versions, 4096 tunnels per request, 65536 tunnels,
    /// no cookies, a pool of 4096 per version, no peers, no virtual IPs,
    /// no rate limit, peer-requested rotations at most every 10 s.
    pub fn new(local_ip: IpAddr) -> ServerConfig {
        ServerConfig {
            local_mac: None,
            local_ip,
            local_virt_ips: HashSet::new(),
            peers: HashMap::new(),
            versions: Version::ALL.to_vec(),
            max_tunnels_per_request: 4096,
            max_tunnels: 65536,
            virt_cookie: None,
            pool_size: 4096,
            peer_rate_limit: None,
            min_peer_rotation_gap: Duration::from_secs(10),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves no broken invariant behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Inner<B> {
    config: ServerConfig,
    backend: B,
    pool: KeyPool,
    /// Serializes the capacity check with installation, and holds the
    /// SPIs of each (peer virtual IP, local virtual IP) pair, oldest first.
    install: Mutex<Issued>,
    limiter: Option<Mutex<RateLimiter>>,
    instance_id: u64,
    last_rotation: Mutex<Option<Instant>>,
    /// Peers a directory names, beside [`ServerConfig::peers`]; replaced
    /// whole by [`Gateway::set_directory_peers`].
    directory_peers: std::sync::RwLock<Arc<PeerMap>>,
    counters: Arc<RpcCounters>,
}

/// Peers by the IP address they call from, with the virtual addresses
/// each may use as `virt_src_ip`.
pub type PeerMap = HashMap<IpAddr, HashSet<IpAddr>>;

/// SPIs issued per (peer virtual IP, local virtual IP), oldest first.
type Issued = HashMap<(IpAddr, IpAddr), VecDeque<Spi>>;

/// Records `spi` for `pair`; returns the SPI it retires, if any.
fn record(issued: &mut Issued, pair: (IpAddr, IpAddr), spi: Spi) -> Option<(Spi, IpAddr, IpAddr)> {
    let spis = issued.entry(pair).or_default();
    spis.push_back(spi);
    (spis.len() > MAX_SPIS_PER_PAIR)
        .then(|| spis.pop_front().map(|old| (old, pair.0, pair.1)))
        .flatten()
}

/// The `PSP_Gateway` service. Cheap to clone (shared state).
pub struct Gateway<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Gateway<B> {
    fn clone(&self) -> Self {
        Gateway { inner: Arc::clone(&self.inner) }
    }
}

impl<B: TunnelBackend> Gateway<B> {
    /// A gateway with master keys from the OS RNG; fills the pool before
    /// returning and hands the master keys to the backend.
    pub fn new(config: ServerConfig, backend: B) -> std::io::Result<Gateway<B>> {
        let rng = ChaCha20Rng::try_from_os_rng().map_err(std::io::Error::other)?;
        Ok(Self::with_rng(config, backend, rng))
    }

    /// As [`Gateway::new`] with the caller's RNG (tests).
    pub fn with_rng(config: ServerConfig, backend: B, mut rng: ChaCha20Rng) -> Gateway<B> {
        let instance_id = rng.next_u64();
        Self::with_key_source(config, backend, Box::new(SoftwareKeys::new(rng)), instance_id)
    }

    /// A gateway whose SPIs and keys come from `source` (a NIC's, say),
    /// with `instance_id` for `Session/Hello` (random per process).
    pub fn with_key_source(
        config: ServerConfig,
        backend: B,
        source: Box<dyn SpiKeySource>,
        instance_id: u64,
    ) -> Gateway<B> {
        let limiter = config.peer_rate_limit.map(|r| Mutex::new(RateLimiter::new(r)));
        let pool = KeyPool::new(source, config.versions.clone(), config.pool_size);
        pool.fill_now();
        backend.set_master_keys(pool.masters().as_ref(), None);
        Gateway {
            inner: Arc::new(Inner {
                config,
                backend,
                pool,
                install: Mutex::new(HashMap::new()),
                limiter,
                instance_id,
                last_rotation: Mutex::new(None),
                directory_peers: std::sync::RwLock::new(Arc::default()),
                counters: Arc::default(),
            }),
        }
    }

    /// The calls this gateway's services answered, by method and code.
    pub fn rpc_counters(&self) -> Arc<RpcCounters> {
        Arc::clone(&self.inner.counters)
    }

    /// Replaces the peers a directory names (requester IP, the virtual
    /// addresses it may use); the configured peers stay.
    pub fn set_directory_peers(&self, peers: PeerMap) {
        *self.inner.directory_peers.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(peers);
    }

    /// This process's random instance id (what `Session/Hello` answers).
    pub fn instance_id(&self) -> u64 {
        self.inner.instance_id
    }

    /// Master-key rotations since start (what `Session/Hello` answers).
    pub fn key_epoch(&self) -> u64 {
        self.inner.pool.epoch()
    }

    /// Rotates the master key now (the `--key-rotation-interval` timer):
    /// the backend gets the new pair before any SPI of it is handed out,
    /// SPIs of the key before the current one stop working (their ACL
    /// entries go), and the pool is refilled from the new key.
    pub async fn rotate_master_key(&self) {
        // Withdrawing ACL entries waits for the datapath.
        tokio::task::block_in_place(|| self.rotate_locked());
        self.inner.pool.refill().await;
    }

    fn rotate_locked(&self) {
        // Serialized with installs, so no request installs an SPI of the
        // slot being replaced while its entries are dropped.
        let mut issued = lock(&self.inner.install);
        self.inner.pool.rotate(|m, slot| {
            self.inner.backend.set_master_keys(m, Some(slot));
            issued.retain(|_, spis| {
                spis.retain(|s| s.key_slot() != slot);
                !spis.is_empty()
            });
        });
        *lock(&self.inner.last_rotation) = Some(Instant::now());
    }

    /// An SPI and key for the way back of a tunnel this gateway asks a peer
    /// for (a request's `reverse_params`), with its ingress ACL entry
    /// (`peer_virt_ip` may send with it to `local_virt_ip`) installed before
    /// it returns, and the pair's oldest SPI retired past
    /// [`MAX_SPIS_PER_PAIR`]. Blocks on the backend: call it off the
    /// async worker (`spawn_blocking`).
    pub fn issue_reverse(
        &self,
        version: Version,
        peer_virt_ip: IpAddr,
        local_virt_ip: IpAddr,
    ) -> Result<SpiKey, BackendError> {
        let mut issued = lock(&self.inner.install);
        let have = self.inner.backend.tunnel_count();
        if have >= self.inner.config.max_tunnels {
            return Err(BackendError::Full);
        }
        let k = self
            .inner
            .pool
            .take(version, 1)
            .map_err(|e| BackendError::Failed(e.to_string()))?
            .pop()
            .ok_or_else(|| BackendError::Failed("no SPI".into()))?;
        self.inner.backend.install_ingress_acl(k.spi, peer_virt_ip, local_virt_ip)?;
        if let Some(old) = record(&mut issued, (peer_virt_ip, local_virt_ip), k.spi) {
            self.inner.backend.remove_ingress_acls(&[old]);
        }
        Ok(k)
    }

    fn admit(&self, peer: IpAddr, cost: usize) -> Result<(), Status> {
        match &self.inner.limiter {
            Some(l) => lock(l)
                .admit(peer, cost, Instant::now())
                .map_err(|e| Status::resource_exhausted(e.to_string())),
            None => Ok(()),
        }
    }

    /// The tonic service to add to a server.
    pub fn into_service(self) -> pb::psp_gateway_server::PspGatewayServer<Gateway<B>> {
        pb::psp_gateway_server::PspGatewayServer::new(self)
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20)
    }

    /// The `psp_gateway_ext.Session` service, to add beside it.
    pub fn into_session_service(self) -> pb_ext::session_server::SessionServer<Gateway<B>> {
        pb_ext::session_server::SessionServer::new(self)
            .max_decoding_message_size(4096)
            .max_encoding_message_size(4096)
    }

    /// The background task that keeps the pool full; runs until dropped.
    pub fn refill_task(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        async move {
            loop {
                inner.pool.wake.notified().await;
                inner.pool.refill().await;
            }
        }
    }

    /// A copy of the current master keys (what the software datapath
    /// derives from); `None` when the key source keeps them (a NIC).
    pub fn masters(&self) -> Option<MasterKeyPair> {
        self.inner.pool.masters()
    }

    /// SPIs and keys for the way back of tunnels this gateway asks a peer
    /// for (a request's `reverse_params`): from the same pool and master
    /// keys as those it hands to requesters, so the datapath derives every
    /// receive key from one pair.
    pub fn allocate_local(
        &self,
        version: Version,
        n: usize,
    ) -> Result<Vec<SpiKey>, KeySourceError> {
        self.inner.pool.take(version, n)
    }

    /// Pool counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// SPIs and keys ready in the pool for `version`.
    pub fn pool_ready(&self, version: Version) -> usize {
        lock(&self.inner.pool.queues).ready[usize::from(version.wire())].len()
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }
}
