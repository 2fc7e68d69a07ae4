//! The gRPC server's view of the datapath: ingress ACL entries and egress
//! tunnels go to the flow programmer as batches; a call returns once the
//! change is visible on every packet core, so a peer's first packets after
//! our answer are admitted.

use crate::perf::PerfMetrics;
use crate::tunnels::{Completions, TunnelError, TunnelFactory};
use crossbeam::queue::ArrayQueue;
use engine::flows::{FlowBatch, FlowClient, FlowError, FlowRequest};
use engine::psp::kdf::MasterKeyPair;
use engine::psp::Spi;
use engine::tables::{HwKey, VipPair};
use rpc::params::TunnelParams;
use rpc::server::{BackendError, EgressTunnel, Install, TunnelBackend};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a table change may take before the request fails.
const PROGRAMMING_TIMEOUT: Duration = Duration::from_secs(2);

/// The control side's handle on the flow programmer and the packet
/// cores, shared by the gRPC server and the control plane.
#[derive(Debug)]
pub struct FlowHandle {
    /// The flow programmer's request ring.
    pub flows: FlowClient,
    /// Where the control plane reports batch results.
    pub completions: Completions,
    /// Batch ids, unique across the process.
    pub next_batch: AtomicU64,
    /// Our side of every tunnel's outer headers.
    pub factory: TunnelFactory,
    /// Whether tunnel requests carry the raw key: only for a backend that
    /// programs hardware key slots (DOCA); the software backend never gets
    /// it.
    pub hw_keys: bool,
    /// Ingress ACL entries installed.
    pub acl_entries: AtomicUsize,
    /// Whether `--debug-keys` allows keys in logs.
    pub debug_keys: bool,
    /// `--perf-print` latencies.
    pub perf: PerfMetrics,
    /// The ingress ACL entries installed, so a rotation can withdraw those
    /// of the invalidated master key.
    /// Each is (SPI, the peer's VM, ours).
    pub acl: Mutex<HashSet<(Spi, IpAddr, IpAddr)>>,
    /// One mailbox per packet core for new master keys.
    pub key_updates: Vec<ArrayQueue<Arc<MasterKeyPair>>>,
    /// The control-plane thread, woken when a batch is submitted.
    pub control_thread: std::sync::OnceLock<std::thread::Thread>,
    /// Egress tunnels (our VM, the peer's) made (true) or removed from a
    /// peer's reverse parameters, for the tunnel manager (it re-keys them
    /// when the peer restarts or rotates).
    pub egress: crossbeam::channel::Sender<(VipPair, bool)>,
    /// The control plane's end of [`egress`](Self::egress).
    pub egress_events: crossbeam::channel::Receiver<(VipPair, bool)>,
}

impl FlowHandle {
    /// The request that sends the traffic of `pair` (our VM to a peer's)
    /// through the tunnel `p` describes (encap data and expanded key; the
    /// raw key with [`hw_keys`](Self::hw_keys)).
    /// With `--debug-keys` (only then) the key is logged, in hex.
    pub fn insert_tunnel(
        &self,
        pair: VipPair,
        p: &TunnelParams,
    ) -> Result<FlowRequest, TunnelError> {
        let encap = Arc::new(self.factory.build(p)?);
        if self.debug_keys {
            tracing::info!(src = %pair.src, dst = %pair.dst, spi = %p.spi,
                key = %hex_key(p.key.as_bytes()), "--debug-keys: egress tunnel key");
        }
        let hw_key = self.hw_keys.then(|| HwKey::new(p.key.clone()));
        Ok(FlowRequest::InsertTunnel { pair, encap, hw_key })
    }

    /// Submits `requests` as one batch and waits until every core sees it.
    pub fn apply(&self, requests: Vec<FlowRequest>) -> Result<(), BackendError> {
        let id = self.next_batch.fetch_add(1, Ordering::Relaxed);
        let start = std::time::Instant::now();
        if self.flows.submit(FlowBatch { id, requests }).is_err() {
            return Err(BackendError::Failed("flow request ring full".into()));
        }
        if let Some(t) = self.control_thread.get() {
            t.unpark();
        }
        match self.completions.wait(id, PROGRAMMING_TIMEOUT) {
            Some(Ok(_)) => {
                self.perf.insertion.record(start.elapsed());
                Ok(())
            }
            Some(Err(FlowError::TooManyTunnels { .. })) => Err(BackendError::Full),
            Some(Err(e)) => Err(BackendError::Failed(e.to_string())),
            None => Err(BackendError::Failed("flow programming timed out".into())),
        }
    }
}

/// The gRPC server's [`TunnelBackend`]: table changes through the
/// [`FlowHandle`].
#[derive(Debug, Clone)]
pub struct GatewayBackend(pub Arc<FlowHandle>);

impl TunnelBackend for GatewayBackend {
    fn tunnel_count(&self) -> usize {
        self.0.acl_entries.load(Ordering::Relaxed)
    }

    fn install_ingress_acl(
        &self,
        spi: Spi,
        peer_virt_ip: IpAddr,
        local_virt_ip: IpAddr,
    ) -> Result<(), BackendError> {
        let (src, dst) = (peer_virt_ip, local_virt_ip);
        self.0.apply(vec![FlowRequest::InsertAcl { spi, src, dst }])?;
        self.0.acl_entries.fetch_add(1, Ordering::Relaxed);
        self.0.acl.lock().unwrap_or_else(|e| e.into_inner()).insert((spi, src, dst));
        tracing::info!(%spi, peer = %src, local = %dst, "ingress ACL entry installed");
        Ok(())
    }

    /// A whole request in one flow batch: one publication, one wait.
    fn install_all(&self, items: &[Install]) -> Result<(), BackendError> {
        let mut requests = Vec::with_capacity(items.len() * 2);
        for it in items {
            requests.push(FlowRequest::InsertAcl {
                spi: it.spi,
                src: it.peer_virt_ip,
                dst: it.local_virt_ip,
            });
            if let Some(t) = &it.egress {
                let r = self.0.insert_tunnel(reverse_pair(t), &t.params);
                requests.push(r.map_err(|e| BackendError::Failed(e.to_string()))?);
            }
        }
        self.0.apply(requests)?;
        self.0.acl_entries.fetch_add(items.len(), Ordering::Relaxed);
        for t in items.iter().filter_map(|i| i.egress.as_ref()) {
            let _ = self.0.egress.send((reverse_pair(t), true));
        }
        let mut acl = self.0.acl.lock().unwrap_or_else(|e| e.into_inner());
        for it in items {
            acl.insert((it.spi, it.peer_virt_ip, it.local_virt_ip));
            tracing::debug!(spi = %it.spi, peer = %it.peer_virt_ip, reverse = it.egress.is_some(),
                "tunnel installed");
        }
        if items.iter().any(|i| i.egress.is_some()) {
            tracing::info!(
                tunnels = items.len(),
                "ingress ACL entries and egress tunnels created (reverse params)"
            );
        }
        Ok(())
    }

    fn remove_ingress_acl(&self, spi: Spi, peer_virt_ip: IpAddr, local_virt_ip: IpAddr) {
        self.remove_ingress_acls(&[(spi, peer_virt_ip, local_virt_ip)]);
    }

    /// Retired SPIs in one batch.
    fn remove_ingress_acls(&self, entries: &[(Spi, IpAddr, IpAddr)]) {
        let requests = entries
            .iter()
            .map(|&(spi, src, dst)| FlowRequest::RemoveAcl { spi, src, dst })
            .collect();
        if self.0.apply(requests).is_ok() {
            let mut acl = self.0.acl.lock().unwrap_or_else(|e| e.into_inner());
            let gone = entries.iter().filter(|e| acl.remove(e)).count();
            self.0.acl_entries.fetch_sub(gone, Ordering::Relaxed);
            tracing::debug!(retired = entries.len(), "ingress ACL entries of older SPIs removed");
        }
    }

    fn create_egress_tunnel(&self, t: &EgressTunnel) -> Result<(), BackendError> {
        let request = self
            .0
            .insert_tunnel(reverse_pair(t), &t.params)
            .map_err(|e| BackendError::Failed(e.to_string()))?;
        self.0.apply(vec![request])?;
        let _ = self.0.egress.send((reverse_pair(t), true));
        tracing::info!(peer = %t.peer_virt_ip, spi = %t.params.spi, "egress tunnel created (reverse params)");
        Ok(())
    }

    fn remove_egress_tunnel(&self, local_virt_ip: IpAddr, peer_virt_ip: IpAddr) {
        let pair = VipPair { src: local_virt_ip, dst: peer_virt_ip };
        if self.0.apply(vec![FlowRequest::RemoveTunnel { pair }]).is_ok() {
            let _ = self.0.egress.send((pair, false));
        }
    }

    fn set_master_keys(&self, masters: Option<&MasterKeyPair>, invalidated_slot: Option<usize>) {
        // Every core takes the new pair between two bursts (the software
        // datapath; with the NIC's keys there is none to take).
        if let Some(masters) = masters {
            let pair = Arc::new(masters.clone());
            for ring in &self.0.key_updates {
                ring.force_push(Arc::clone(&pair));
            }
        }
        let Some(slot) = invalidated_slot else { return };
        // SPIs of the invalidated key will be handed out again: their
        // ACL entries go now.
        let stale: Vec<(Spi, IpAddr, IpAddr)> = {
            let acl = self.0.acl.lock().unwrap_or_else(|e| e.into_inner());
            acl.iter().filter(|(spi, ..)| spi.key_slot() == slot).copied().collect()
        };
        self.remove_ingress_acls(&stale);
        tracing::info!(slot, withdrawn = stale.len(), "master key rotated");
    }
}

/// The session a peer's reverse parameters serve: from our VM (its
/// request's destination) to its VM.
fn reverse_pair(t: &EgressTunnel) -> VipPair {
    VipPair { src: t.local_virt_ip, dst: t.peer_virt_ip }
}

/// Hex for `--debug-keys` output only.
pub fn hex_key(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}
