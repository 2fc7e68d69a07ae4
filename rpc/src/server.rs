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

use crate::counters::{Method, RpcCounters};
use crate::limit::RateLimiter;
use crate::params::{parse_virt_ip, TunnelParams};
use crate::pb;
use crate::pb_ext;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::keygen::{SpiKey, SpiKeyGenerator};
use engine::psp::{Spi, Version};
use engine::wire::MacAddr;
use rand_chacha::rand_core::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Most SPIs one (peer virtual IP, local virtual IP) pair holds. Two would
/// do if every SPI reached the peer in the order issued; but both gateways
/// re-key a pair (each asks for its direction and sends reverse parameters
/// for the other), and an answer can arrive after a newer SPI's reverse
/// parameters, leaving the peer on the older of the two. Four keeps every
/// SPI the peer may still be using unless three newer ones were issued
/// and none of them reached it, while one peer repeating its request in a
/// loop still holds at most four entries per pair.
pub const MAX_SPIS_PER_PAIR: usize = 4;
use tonic::{Request, Response, Status};

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

/// Why a key source could not hand out SPIs and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySourceError {
    /// This gateway's own generator ([`SoftwareKeys`]): its SPI space is
    /// exhausted.
    #[error(transparent)]
    Keygen(#[from] engine::psp::keygen::Error),
    /// More SPIs in one bulk than the source can ask for at once.
    #[error("{0} SPIs at once")]
    TooMany(usize),
    /// The key material a source produced is not a key (wrong length).
    #[error(transparent)]
    Key(#[from] engine::psp::kdf::Error),
    /// A device's bulk generator refused (its message).
    #[error("{0}")]
    Device(String),
}

/// Where the server installs state: the datapath, or a fake in tests.
///
/// Calls come from the control-plane runtime's thread, never from a packet
/// core; implementations hand the change to the datapath as they see fit.
pub trait TunnelBackend: Send + Sync + 'static {
    /// Tunnels installed now (ingress ACL entries), for the `max_tunnels` check.
    fn tunnel_count(&self) -> usize;
    /// Admits packets with `spi` whose inner source is `peer_virt_ip`.
    fn install_ingress_acl(&self, spi: Spi, peer_virt_ip: IpAddr) -> Result<(), BackendError>;
    /// Undoes [`TunnelBackend::install_ingress_acl`] (rollback).
    fn remove_ingress_acl(&self, spi: Spi, peer_virt_ip: IpAddr);
    /// Removes several ingress ACL entries (SPIs retired by newer ones);
    /// the default goes one by one, a backend that can batch should.
    fn remove_ingress_acls(&self, entries: &[(Spi, IpAddr)]) {
        for &(spi, ip) in entries {
            self.remove_ingress_acl(spi, ip);
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
            let res =
                self.install_ingress_acl(it.spi, it.peer_virt_ip).and_then(|()| match &it.egress {
                    Some(t) => self
                        .create_egress_tunnel(t)
                        .inspect_err(|_| self.remove_ingress_acl(it.spi, it.peer_virt_ip)),
                    None => Ok(()),
                });
            if let Err(e) = res {
                for it in items[..i].iter().rev() {
                    if let Some(t) = &it.egress {
                        self.remove_egress_tunnel(t.local_virt_ip, t.peer_virt_ip);
                    }
                    self.remove_ingress_acl(it.spi, it.peer_virt_ip);
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

/// Counters of the SPI/key pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Keys taken from the pool.
    pub hits: u64,
    /// Keys a request had to generate inline because the pool ran short.
    pub misses: u64,
}

const CHUNK: usize = 256;

/// Where the server's SPIs and keys come from: this gateway's own master
/// keys ([`SoftwareKeys`], for the software datapath, which derives every
/// receive key from them), or a NIC that keeps its master key to itself
/// and hands out SPI/key bulks (DOCA's
/// `doca_flow_crypto_psp_spi_key_bulk_generate`).
pub trait SpiKeySource: Send + 'static {
    /// Appends `n` fresh SPIs of the active master key, with their keys
    /// for `version`.
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), KeySourceError>;
    /// Rotates the master key: the active one becomes deprecated (its SPIs
    /// keep working), the deprecated one is replaced and becomes active.
    /// Returns the slot now active (bit 31 of its SPIs): the SPIs issued
    /// from it before are invalid from now on.
    fn rotate(&mut self) -> usize;
    /// The master keys, when this source knows them.
    fn masters(&self) -> Option<&MasterKeyPair>;
}

/// SPIs and keys from this gateway's own master keys.
pub struct SoftwareKeys {
    gen: SpiKeyGenerator,
    rng: ChaCha20Rng,
}

impl SoftwareKeys {
    /// Master keys drawn from `rng`, which also draws the rotated ones.
    pub fn new(mut rng: ChaCha20Rng) -> SoftwareKeys {
        SoftwareKeys { gen: SpiKeyGenerator::new(&mut rng), rng }
    }
}

impl SpiKeySource for SoftwareKeys {
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), KeySourceError> {
        Ok(self.gen.bulk_into(version, n, out)?)
    }

    fn rotate(&mut self) -> usize {
        self.gen.rotate(&mut self.rng);
        self.gen.active_slot()
    }

    fn masters(&self) -> Option<&MasterKeyPair> {
        Some(self.gen.masters())
    }
}

struct Queues {
    /// The generator's rotation count the queued keys belong to.
    epoch: u64,
    ready: [VecDeque<SpiKey>; 4],
}

/// Pre-generated SPIs and keys, per version.
struct KeyPool {
    /// The source and its rotation count.
    gen: Mutex<(Box<dyn SpiKeySource>, u64)>,
    queues: Mutex<Queues>,
    versions: Vec<Version>,
    target: usize,
    wake: Notify,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves no broken invariant behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl KeyPool {
    fn new(source: Box<dyn SpiKeySource>, versions: Vec<Version>, target: usize) -> KeyPool {
        KeyPool {
            gen: Mutex::new((source, 0)),
            queues: Mutex::new(Queues { epoch: 0, ready: Default::default() }),
            versions,
            target,
            wake: Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Tops one version's queue up by at most one chunk; true if any queue
    /// may still need more.
    fn refill_chunk(&self) -> bool {
        for &v in &self.versions {
            let idx = usize::from(v.wire());
            let need = self.target.saturating_sub(lock(&self.queues).ready[idx].len());
            if need == 0 {
                continue;
            }
            let mut chunk = Vec::with_capacity(need.min(CHUNK));
            let epoch = {
                let mut g = lock(&self.gen);
                if let Err(e) = g.0.bulk_into(v, need.min(CHUNK), &mut chunk) {
                    tracing::warn!("SPI pool refill stopped: {e}");
                    return false;
                }
                g.1
            };
            let mut q = lock(&self.queues);
            if q.epoch == epoch {
                q.ready[idx].extend(chunk);
            }
            return true;
        }
        false
    }

    /// Fills every queue to its target, yielding between chunks.
    async fn refill(&self) {
        while self.refill_chunk() {
            tokio::task::yield_now().await;
        }
    }

    fn fill_now(&self) {
        while self.refill_chunk() {}
    }

    /// `n` SPIs and keys for `version`.
    fn take(&self, version: Version, n: usize) -> Result<Vec<SpiKey>, KeySourceError> {
        let idx = usize::from(version.wire());
        let (mut out, left) = {
            let mut q = lock(&self.queues);
            let dq = &mut q.ready[idx];
            let k = n.min(dq.len());
            let out: Vec<SpiKey> = dq.drain(..k).collect();
            (out, dq.len())
        };
        self.hits.fetch_add(out.len() as u64, Ordering::Relaxed);
        if left < self.target / 2 {
            self.wake.notify_one();
        }
        if out.len() < n {
            let short = n - out.len();
            self.misses.fetch_add(short as u64, Ordering::Relaxed);
            lock(&self.gen).0.bulk_into(version, short, &mut out)?;
        }
        Ok(out)
    }

    /// Rotates the master key; `publish` sees the new pair (when the
    /// source knows it) and the invalidated slot before any SPI of the new
    /// key is handed out. Queued keys of the old key are dropped.
    fn rotate(&self, publish: impl FnOnce(Option<&MasterKeyPair>, usize)) {
        let mut g = lock(&self.gen);
        let (source, rotations) = &mut *g;
        let slot = source.rotate();
        *rotations += 1;
        publish(source.masters(), slot);
        let mut q = lock(&self.queues);
        q.epoch = *rotations;
        for dq in q.ready.iter_mut() {
            dq.clear();
        }
    }

    fn masters(&self) -> Option<MasterKeyPair> {
        lock(&self.gen).0.masters().cloned()
    }

    fn epoch(&self) -> u64 {
        lock(&self.queues).epoch
    }

    fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
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

/// The virtual addresses one requester may use: its static ones and the
/// directory's.
struct Allowed<'a> {
    ip: IpAddr,
    fixed: Option<&'a HashSet<IpAddr>>,
    directory: Arc<PeerMap>,
}

impl Allowed<'_> {
    fn contains(&self, src: &IpAddr) -> bool {
        self.fixed.is_some_and(|f| f.contains(src))
            || self.directory.get(&self.ip).is_some_and(|d| d.contains(src))
    }
}

/// SPIs issued per (peer virtual IP, local virtual IP), oldest first.
type Issued = HashMap<(IpAddr, IpAddr), VecDeque<Spi>>;

/// Records `spi` for `pair`; returns the SPI it retires, if any.
fn record(issued: &mut Issued, pair: (IpAddr, IpAddr), spi: Spi) -> Option<(Spi, IpAddr)> {
    let spis = issued.entry(pair).or_default();
    spis.push_back(spi);
    (spis.len() > MAX_SPIS_PER_PAIR).then(|| spis.pop_front().map(|old| (old, pair.0))).flatten()
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

/// One validated requested tunnel.
struct Validated {
    src: IpAddr,
    dst: IpAddr,
    reverse: Option<TunnelParams>,
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
        self.inner.backend.install_ingress_acl(k.spi, peer_virt_ip)?;
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

    fn peer_allowed<T>(&self, req: &Request<T>) -> Result<(IpAddr, Allowed<'_>), Status> {
        let ip = req
            .remote_addr()
            .map(|a| a.ip().to_canonical())
            .ok_or_else(|| Status::permission_denied("requester address unknown"))?;
        let fixed = self.inner.config.peers.get(&ip);
        let directory =
            Arc::clone(&self.inner.directory_peers.read().unwrap_or_else(|e| e.into_inner()));
        if fixed.is_none() && !directory.contains_key(&ip) {
            return Err(Status::permission_denied(format!("{ip} is not a configured peer")));
        }
        Ok((ip, Allowed { ip, fixed, directory }))
    }

    fn validate(
        &self,
        allowed: &Allowed<'_>,
        req: &pb::MultiTunnelRequest,
    ) -> Result<(Version, Vec<Validated>), Status> {
        let cfg = &self.inner.config;
        if req.tunnels.is_empty() {
            return Err(Status::invalid_argument("no tunnels requested"));
        }
        if req.tunnels.len() > cfg.max_tunnels_per_request {
            return Err(Status::invalid_argument(format!(
                "{} tunnels requested, at most {} per request",
                req.tunnels.len(),
                cfg.max_tunnels_per_request
            )));
        }
        let version = req
            .psp_versions_accepted
            .iter()
            .filter_map(|&v| u8::try_from(v).ok().and_then(Version::from_wire))
            .find(|v| cfg.versions.contains(v))
            .ok_or_else(|| {
                // At most a few of the offered versions: the message is
                // an HTTP/2 header, the list the peer's to make long.
                let offered = &req.psp_versions_accepted;
                let more = match offered.len() {
                    n if n > 8 => format!(" ... ({n} in all)"),
                    _ => String::new(),
                };
                Status::failed_precondition(format!(
                    "no acceptable PSP version in {:?}{more}; this gateway allows {:?}",
                    &offered[..offered.len().min(8)],
                    cfg.versions.iter().map(|v| v.wire()).collect::<Vec<_>>()
                ))
            })?;
        let mut seen = HashSet::with_capacity(req.tunnels.len());
        let mut out = Vec::with_capacity(req.tunnels.len());
        for (i, t) in req.tunnels.iter().enumerate() {
            let bad =
                |e: crate::params::ParamError| Status::invalid_argument(format!("tunnel {i}: {e}"));
            let src = parse_virt_ip(&t.virt_src_ip, t.inner_type).map_err(bad)?;
            let dst = parse_virt_ip(&t.virt_dst_ip, t.inner_type).map_err(bad)?;
            if src.is_ipv6() != dst.is_ipv6() {
                return Err(Status::invalid_argument(format!(
                    "tunnel {i}: virtual addresses {src} and {dst} are of two IP versions"
                )));
            }
            if !cfg.local_virt_ips.contains(&dst) {
                return Err(Status::not_found(format!("tunnel {i}: {dst} is not served here")));
            }
            if !allowed.contains(&src) {
                return Err(Status::permission_denied(format!(
                    "tunnel {i}: requester may not use virtual address {src}"
                )));
            }
            if !seen.insert((src, dst)) {
                return Err(Status::invalid_argument(format!(
                    "tunnel {i}: ({src}, {dst}) requested twice"
                )));
            }
            let reverse = match &t.reverse_params {
                None => None,
                Some(p) => {
                    let p = TunnelParams::from_wire(p).map_err(|e| {
                        Status::invalid_argument(format!("tunnel {i}: reverse_params: {e}"))
                    })?;
                    if !cfg.versions.contains(&p.version) {
                        return Err(Status::invalid_argument(format!(
                            "tunnel {i}: reverse_params: PSP version {} not allowed here",
                            p.version.wire()
                        )));
                    }
                    Some(p)
                }
            };
            out.push(Validated { src, dst, reverse });
        }
        Ok((version, out))
    }

    /// Installs everything or nothing.
    fn install(&self, tunnels: &[Validated], keys: &[SpiKey]) -> Result<(), BackendError> {
        let items: Vec<Install> = tunnels
            .iter()
            .zip(keys)
            .map(|(t, k)| Install {
                spi: k.spi,
                peer_virt_ip: t.src,
                egress: t.reverse.as_ref().map(|p| EgressTunnel {
                    local_virt_ip: t.dst,
                    peer_virt_ip: t.src,
                    params: p.clone(),
                }),
            })
            .collect();
        self.inner.backend.install_all(&items)
    }

    fn handle_tunnels(
        &self,
        allowed: &Allowed<'_>,
        req: &pb::MultiTunnelRequest,
    ) -> Result<Vec<pb::TunnelParameters>, Status> {
        let (version, tunnels) = self.validate(allowed, req)?;
        let cfg = &self.inner.config;
        let mut issued = lock(&self.inner.install);
        let have = self.inner.backend.tunnel_count();
        if have.saturating_add(tunnels.len()) > cfg.max_tunnels {
            return Err(Status::resource_exhausted(format!(
                "{} tunnels requested, {} of {} in use",
                tunnels.len(),
                have,
                cfg.max_tunnels
            )));
        }
        let keys = self
            .inner
            .pool
            .take(version, tunnels.len())
            .map_err(|e| Status::resource_exhausted(e.to_string()))?;
        self.install(&tunnels, &keys).map_err(|e| match e {
            BackendError::Full => Status::resource_exhausted(e.to_string()),
            BackendError::Failed(_) => Status::internal(e.to_string()),
        })?;
        let retired: Vec<(Spi, IpAddr)> = tunnels
            .iter()
            .zip(&keys)
            .filter_map(|(t, k)| record(&mut issued, (t.src, t.dst), k.spi))
            .collect();
        if !retired.is_empty() {
            self.inner.backend.remove_ingress_acls(&retired);
        }
        drop(issued);
        let mac = cfg.local_mac.map(|m| m.to_string()).unwrap_or_default();
        let ip = cfg.local_ip.to_string();
        Ok(keys
            .iter()
            .map(|k| pb::TunnelParameters {
                mac_addr: mac.clone(),
                ip_addr: ip.clone(),
                psp_version: u32::from(version.wire()),
                spi: k.spi.0,
                encryption_key: k.key.as_bytes().to_vec(),
                virt_cookie: cfg.virt_cookie.unwrap_or(0),
                encap_type: 0,
            })
            .collect())
    }
}

// The handlers; the trait impls below count their outcomes.
impl<B: TunnelBackend> Gateway<B> {
    async fn serve_request_tunnels(
        &self,
        request: Request<pb::MultiTunnelRequest>,
    ) -> Result<Response<pb::MultiTunnelResponse>, Status> {
        let (peer, allowed) = self.peer_allowed(&request)?;
        let mut req = request.into_inner();
        let result = match self.admit(peer, req.tunnels.len()) {
            // Installing waits for the datapath: off the async worker.
            Ok(()) => tokio::task::block_in_place(|| self.handle_tunnels(&allowed, &req)),
            Err(s) => Err(s),
        };
        for t in req.tunnels.iter_mut() {
            if let Some(p) = t.reverse_params.as_mut() {
                p.wipe_key();
            }
        }
        match result {
            Ok(tunnels_params) => {
                tracing::info!(
                    %peer,
                    request_id = req.request_id,
                    tunnels = tunnels_params.len(),
                    "tunnel parameters issued"
                );
                Ok(Response::new(pb::MultiTunnelResponse {
                    request_id: req.request_id,
                    tunnels_params,
                }))
            }
            Err(status) => {
                tracing::warn!(%peer, request_id = req.request_id, code = ?status.code(), msg = status.message(), "tunnel request refused");
                Err(status)
            }
        }
    }

    async fn serve_key_rotation(
        &self,
        request: Request<pb::KeyRotationRequest>,
    ) -> Result<Response<pb::KeyRotationResponse>, Status> {
        let (peer, _) = self.peer_allowed(&request)?;
        self.admit(peer, 1)?;
        let req = request.into_inner();
        // As DOCA's gateway: the request rotates the master key whatever
        // `issue_new_keys` says. We issue no keys with the answer (the
        // response has no field for them); peers learn of the new key
        // epoch through Session/Hello, or ask again when theirs break.
        let gap = self.inner.config.min_peer_rotation_gap;
        let last = *lock(&self.inner.last_rotation);
        if let Some(ago) = last.map(|t| t.elapsed()).filter(|ago| *ago < gap) {
            tracing::warn!(%peer, request_id = req.request_id, "key rotation refused: too soon");
            return Err(Status::resource_exhausted(format!(
                "master key rotated {ago:.1?} ago; at most one rotation per {gap:?}"
            )));
        }
        tokio::task::block_in_place(|| self.rotate_locked());
        self.inner.pool.refill().await;
        tracing::info!(%peer, request_id = req.request_id, issue_new_keys = req.issue_new_keys,
            "master key rotated");
        Ok(Response::new(pb::KeyRotationResponse { request_id: req.request_id }))
    }

    async fn serve_hello(
        &self,
        request: Request<pb_ext::HelloRequest>,
    ) -> Result<Response<pb_ext::HelloResponse>, Status> {
        let (peer, _) = self.peer_allowed(&request)?;
        self.admit(peer, 1)?;
        Ok(Response::new(pb_ext::HelloResponse {
            request_id: request.into_inner().request_id,
            instance_id: self.inner.instance_id,
            key_epoch: self.key_epoch(),
        }))
    }
}

#[tonic::async_trait]
impl<B: TunnelBackend> pb::psp_gateway_server::PspGateway for Gateway<B> {
    async fn request_multiple_tunnel_params(
        &self,
        request: Request<pb::MultiTunnelRequest>,
    ) -> Result<Response<pb::MultiTunnelResponse>, Status> {
        let r = self.serve_request_tunnels(request).await;
        self.inner.counters.outcome(Method::RequestTunnels, &r);
        r
    }

    async fn request_key_rotation(
        &self,
        request: Request<pb::KeyRotationRequest>,
    ) -> Result<Response<pb::KeyRotationResponse>, Status> {
        let r = self.serve_key_rotation(request).await;
        self.inner.counters.outcome(Method::KeyRotation, &r);
        r
    }
}

#[tonic::async_trait]
impl<B: TunnelBackend> pb_ext::session_server::Session for Gateway<B> {
    async fn hello(
        &self,
        request: Request<pb_ext::HelloRequest>,
    ) -> Result<Response<pb_ext::HelloResponse>, Status> {
        let r = self.serve_hello(request).await;
        self.inner.counters.outcome(Method::Hello, &r);
        r
    }
}
