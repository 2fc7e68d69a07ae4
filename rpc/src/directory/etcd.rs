//! The directory's I/O: this gateway's entry under a lease kept alive,
//! and a watch of the prefix feeding the [`View`]. Any failure (etcd down,
//! a watch cancelled, a lease lost) keeps the last view in use and
//! reconnects with back-off; on reconnect the whole prefix is listed again
//! and only the net changes go out, so an outage changes no tunnel. A
//! lost lease (etcd restarted after its TTL ran out) is replaced by a new
//! one and the entry written again.

use super::record::Record;
use super::view::{Change, View};
use super::Health;
use crate::server::PeerMap;
use etcd_client::{
    Certificate, Client, ConnectOptions, EventType, GetOptions, Identity, PutOptions, TlsOptions,
    WatchOptions,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// TLS toward etcd.
#[derive(Clone)]
pub struct EtcdTls {
    /// The CA, PEM.
    pub ca_pem: Vec<u8>,
    /// Our certificate and key, PEM, when etcd checks clients.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// What the task needs.
#[derive(Clone)]
pub struct EtcdConfig {
    /// `host:port` each.
    pub endpoints: Vec<String>,
    /// Key prefix (`/psp`); entries live under `PREFIX/gateways/`.
    pub prefix: String,
    /// TLS, if any.
    pub tls: Option<EtcdTls>,
    /// Our entry's lease.
    pub ttl: Duration,
    /// Our entry.
    pub record: Record,
}

impl EtcdConfig {
    fn dir(&self) -> String {
        format!("{}/gateways/", self.prefix)
    }

    /// Our entry's key.
    pub fn own_key(&self) -> String {
        format!("{}{}", self.dir(), self.record.instance_id)
    }
}

/// Receives the view's changes and the peers it admits.
pub type OnChange = Box<dyn FnMut(Vec<Change>, PeerMap) + Send>;

/// The running directory task.
pub struct EtcdDirectory {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    health: Arc<Mutex<Health>>,
}

impl EtcdDirectory {
    /// Starts the task on the current tokio runtime.
    pub fn start(
        rt: &tokio::runtime::Handle,
        cfg: EtcdConfig,
        on_change: OnChange,
    ) -> EtcdDirectory {
        let health = Arc::new(Mutex::new(Health::default()));
        let (stop, stopped) = oneshot::channel();
        let task = rt.spawn(run(cfg, on_change, Arc::clone(&health), stopped));
        EtcdDirectory { stop: Some(stop), task: Some(task), health }
    }

    /// Where the task keeps its state.
    pub fn health_handle(&self) -> Arc<Mutex<Health>> {
        Arc::clone(&self.health)
    }

    /// The directory's state now.
    pub fn health(&self) -> Health {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Revokes our lease (peers withdraw our tunnels at once) and stops.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
    }
}

impl Drop for EtcdDirectory {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn connect(cfg: &EtcdConfig) -> Result<Client, etcd_client::Error> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(3))
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
    if let Some(tls) = &cfg.tls {
        let mut t = TlsOptions::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some((cert, key)) = &tls.identity {
            t = t.identity(Identity::from_pem(cert, key));
        }
        opts = opts.with_tls(t);
    }
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    let eps: Vec<String> = cfg.endpoints.iter().map(|e| format!("{scheme}://{e}")).collect();
    Client::connect(eps, Some(opts)).await
}

/// Why a session with etcd ended.
enum End {
    Stop,
    Failed(String),
}

/// Changes the shared [`Health`].
fn update(health: &Mutex<Health>, f: impl FnOnce(&mut Health)) {
    f(&mut health.lock().unwrap_or_else(|e| e.into_inner()));
}

async fn run(
    cfg: EtcdConfig,
    mut on_change: OnChange,
    health: Arc<Mutex<Health>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut view = View::new(cfg.own_key().into_bytes());
    let mut delay = Duration::from_millis(200);
    loop {
        let mut lease = None;
        let end = tokio::select! {
            _ = &mut stopped => End::Stop,
            e = session(&cfg, &mut view, &mut on_change, &health, &mut lease, &mut delay) => e,
        };
        update(&health, |h| h.connected = false);
        match end {
            End::Stop => {
                if let Some(id) = lease {
                    // Peers withdraw our tunnels now, not a TTL later.
                    if let Ok(Ok(mut c)) =
                        tokio::time::timeout(Duration::from_secs(1), connect(&cfg)).await
                    {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), c.lease_revoke(id)).await;
                    }
                }
                return;
            }
            End::Failed(why) => {
                tracing::warn!(retry_in = ?delay, "directory: {why}; keeping the last view ({} gateways)", view.gateways());
                update(&health, |h| h.last_error = Some(why));
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                // Back by a third of the TTL at most: after an outage etcd
                // gives leases one TTL, our keep-alive must make it in time.
                delay = (delay * 2).min(Duration::from_secs(5)).min(cfg.ttl / 3);
                update(&health, |h| h.reconnects += 1);
            }
        }
    }
}

/// One connection: register, list, watch, keep alive, until a failure.
async fn session(
    cfg: &EtcdConfig,
    view: &mut View,
    on_change: &mut OnChange,
    health: &Arc<Mutex<Health>>,
    lease: &mut Option<i64>,
    delay: &mut Duration,
) -> End {
    let fail = |what: &str, e: etcd_client::Error| End::Failed(format!("{what}: {e}"));
    let mut client = match connect(cfg).await {
        Ok(c) => c,
        Err(e) => return fail("connect", e),
    };
    let ttl = i64::try_from(cfg.ttl.as_secs()).unwrap_or(10).max(2);
    let id = match client.lease_grant(ttl, None).await {
        Ok(g) => g.id(),
        Err(e) => return fail("lease grant", e),
    };
    *lease = Some(id);
    let own = cfg.own_key();
    if let Err(e) =
        client.put(own.clone(), cfg.record.to_json(), Some(PutOptions::new().with_lease(id))).await
    {
        return fail("register", e);
    }
    update(health, |h| h.registrations += 1);
    let (mut keeper, mut acks) = match client.lease_keep_alive(id).await {
        Ok(k) => k,
        Err(e) => return fail("lease keep-alive", e),
    };
    let listing = match client.get(cfg.dir(), Some(GetOptions::new().with_prefix())).await {
        Ok(l) => l,
        Err(e) => return fail("list", e),
    };
    let revision = listing.header().map_or(0, |h| h.revision());
    let (changes, errors) =
        view.reset(listing.kvs().iter().map(|kv| (kv.key(), kv.value(), kv.create_revision())));
    for e in errors {
        tracing::warn!("directory: an entry under {} ignored: {e}", cfg.dir());
    }
    let gateways = view.gateways();
    on_change(changes, view.peer_map());
    let mut watch = match client
        .watch(cfg.dir(), Some(WatchOptions::new().with_prefix().with_start_revision(revision + 1)))
        .await
    {
        Ok(w) => w,
        Err(e) => return fail("watch", e),
    };
    update(health, |h| {
        h.connected = true;
        h.gateways = gateways;
        h.last_error = None;
    });
    tracing::info!(key = %own, lease = format_args!("{id:x}"), ttl, gateways, "directory: registered; watching");
    *delay = Duration::from_millis(200);
    let mut tick = tokio::time::interval(cfg.ttl / 3);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = keeper.keep_alive().await {
                    return fail("lease keep-alive", e);
                }
            }
            ack = acks.message() => match ack {
                Ok(Some(a)) if a.ttl() <= 0 => {
                    *lease = None;
                    return End::Failed("our lease expired (etcd was out longer than the TTL); registering again".into());
                }
                Ok(Some(_)) => {}
                Ok(None) => return End::Failed("lease keep-alive stream ended".into()),
                Err(e) => return fail("lease keep-alive", e),
            },
            msg = watch.message() => match msg {
                Ok(Some(w)) => {
                    if w.canceled() {
                        return End::Failed(format!("watch cancelled ({}); listing again", w.cancel_reason()));
                    }
                    let mut changes = Vec::new();
                    for ev in w.events() {
                        let Some(kv) = ev.kv() else { continue };
                        match ev.event_type() {
                            EventType::Put => {
                                let (c, err) = view.put(kv.key(), kv.value(), kv.create_revision());
                                if let Some(e) = err {
                                    tracing::warn!(key = %String::from_utf8_lossy(kv.key()), "directory: entry ignored: {e}");
                                }
                                changes.extend(c);
                            }
                            EventType::Delete => changes.extend(view.delete(kv.key())),
                        }
                    }
                    if !changes.is_empty() {
                        let g = view.gateways();
                        update(health, |h| h.gateways = g);
                        on_change(changes, view.peer_map());
                    }
                }
                Ok(None) => return End::Failed("watch stream ended".into()),
                Err(e) => return fail("watch", e),
            },
        }
    }
}
