//! Flow programming: the one writer of the pipeline's tables.
//!
//! Packet cores never write tables. The control plane submits batches of
//! insert/remove requests (egress tunnel entries: inner source and
//! destination -> encap data and key; ingress ACL entries: (SPI, inner
//! source and destination)) into a lock-free ring
//! ([`FlowClient::submit`]). One [`FlowProgrammer`], which the caller
//! drives with [`run_once`](FlowProgrammer::run_once) on its own core or
//! thread, validates each batch (all or nothing: the `max_tunnels`
//! limit, SPI reuse), assigns per-core state slots, hands the resolved
//! [`TableOp`]s to a [`FlowBackend`] and reports a [`Completion`] once the
//! change is visible on every core.
//!
//! # Replicas or RCU
//!
//! The software backend ([`ReplicatedTables`](crate::tables::ReplicatedTables)) is an RCU-style pointer
//! swap over *two* copies written in turn (left-right), not one replica
//! per core fed by rings and not a fresh snapshot per change:
//!
//! - Per-core replicas fed by rings would make the packet cores apply
//!   inserts themselves: they would write tables, grow hash maps (allocate)
//!   on the fast path, and hold N copies of a million entries.
//! - A plain RCU snapshot (clone, modify, swap an `Arc`) costs a copy of
//!   the whole table per publication: tens of milliseconds at a million
//!   tunnels, which caps insertion rate and latency.
//! - Two copies cost two tables of memory and O(batch) work per
//!   publication (each op is applied twice), readers stay read-only and
//!   lock-free (one `ArrayQueue::pop` per burst to pick up a new version),
//!   and the grace period is `Arc::get_mut`: safe Rust, no epoch crate.
//!   The price: the programmer cannot write again until every core has
//!   picked up the previous version, so a core that stops polling stalls
//!   programming (never packets). Cores poll between bursts anyway.
//!
//! Per-entry state that changes per packet (IV counters, counters) is not
//! in the tables: each core keeps it in arrays indexed by the entry's slot,
//! tagged by the entry's generation (see [`crate::pipeline`]).
//!
//! A DOCA Flow backend implements [`FlowBackend`] with pipe entry adds and
//! removes on `egress_acl_pipe` / `ingress_acl_pipe` and
//! `doca_flow_entries_process`; validation and slot (crypto id) allocation
//! stay here.
//!
//! [`HeldPackets`] is the bounded per-destination queue of packets that
//! missed the egress ACL while their tunnel is being set up.

mod held;
mod software;

pub use held::{HeldPackets, HoldOutcome};

use crate::psp::encap::Encapsulator;
use crate::psp::Spi;
use crate::tables::{AclEntry, HwKey, TableOp, TunnelEntry, VipPair};
use crossbeam::queue::ArrayQueue;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// Where validated table changes go: the software tables, or hardware.
pub trait FlowBackend {
    /// Whether [`commit`](Self::commit) can run now without waiting (the
    /// software backend: no core still reads the copy to be written).
    fn ready(&mut self) -> bool;
    /// Applies `ops` in order and publishes them as one version; returns
    /// the version. Only called after `ready()` returned true. On `Err`
    /// the programmer takes back every batch of this commit from its own
    /// index and fails each of them ([`FlowError::Backend`]).
    fn commit(&mut self, ops: &[TableOp]) -> Result<u64, BackendFailure>;
    /// The newest version every core (or the hardware) is using.
    fn visible_version(&self) -> u64;
    /// Called on every turn of the programmer's loop, on its thread (the
    /// DOCA backend reads the NIC's counters there now and then).
    fn tick(&mut self) {}
    /// Per-session packets and bytes (egress per tunnel, ingress per ACL
    /// pair), summed over the cores; `None` where the backend does not
    /// count per session (DOCA: the NIC's per-entry counters are not
    /// read per session yet).
    fn sessions(&self) -> Option<crate::tables::SessionTotals> {
        None
    }
}

/// One table change asked by the control plane.
#[derive(Debug, Clone)]
pub enum FlowRequest {
    /// Send packets from inner source `pair.src` to inner destination
    /// `pair.dst` through this tunnel (replaces the pair's tunnel if it has
    /// one; the new tunnel must have a new SPI, since IV counters restart
    /// with it).
    InsertTunnel {
        /// Inner source and destination.
        pair: VipPair,
        /// Encap data and expanded key, built by the caller (so key
        /// expansion runs on the control-plane thread, not here).
        encap: Arc<Encapsulator>,
        /// The raw key, only for a backend that programs hardware key
        /// slots (DOCA); `None` for the software backend.
        hw_key: Option<HwKey>,
    },
    /// Stop sending for `pair` (no-op if there is no tunnel).
    RemoveTunnel {
        /// Inner source and destination.
        pair: VipPair,
    },
    /// Permit packets with `spi` from inner source `src` to inner
    /// destination `dst` (no-op if permitted already).
    InsertAcl {
        /// The SPI we gave the peer.
        spi: Spi,
        /// The peer's VM (inner source).
        src: IpAddr,
        /// Our VM the SPI was given for (inner destination).
        dst: IpAddr,
    },
    /// Withdraw a permission (no-op if absent).
    RemoveAcl {
        /// SPI.
        spi: Spi,
        /// Inner source.
        src: IpAddr,
        /// Inner destination.
        dst: IpAddr,
    },
}

/// Requests applied together, all or nothing.
#[derive(Debug, Clone, Default)]
pub struct FlowBatch {
    /// The caller's id, echoed in the [`Completion`].
    pub id: u64,
    /// The requests, in order.
    pub requests: Vec<FlowRequest>,
}

/// A backend that could not apply a commit (a hardware step failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendFailure(pub String);

/// Why a batch was refused (nothing in it was applied).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// Inserting would exceed `max_tunnels` egress entries.
    #[error("request {index}: max_tunnels ({max}) reached; tunnel {pair} refused")]
    TooManyTunnels {
        /// Index of the request in the batch.
        index: usize,
        /// The limit.
        max: usize,
        /// The session refused.
        pair: VipPair,
    },
    /// Inserting would exceed the ingress ACL's size.
    #[error("request {index}: ingress ACL full ({max} entries); ({spi}, {pair}) refused")]
    TooManyAclEntries {
        /// Index of the request in the batch.
        index: usize,
        /// The limit.
        max: usize,
        /// SPI refused.
        spi: Spi,
        /// Inner source and destination refused.
        pair: VipPair,
    },
    /// The backend failed to apply the commit this batch was part of;
    /// the programmer's index no longer holds any of it.
    #[error("the flow backend failed to apply the batch: {0}")]
    Backend(BackendFailure),
    /// A replacement tunnel with the SPI and key already installed: its
    /// IVs would restart under the same key.
    #[error("request {index}: tunnel {pair} already uses SPI {spi} with this key")]
    SpiReused {
        /// Index of the request in the batch.
        index: usize,
        /// Inner source and destination.
        pair: VipPair,
        /// SPI.
        spi: Spi,
    },
}

/// The outcome of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The batch's id.
    pub id: u64,
    /// The version that made it visible on every core, or why it was
    /// refused.
    pub result: Result<u64, FlowError>,
}

/// Limits of the programmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// Largest number of egress tunnels (`--max-tunnels`).
    pub max_tunnels: usize,
    /// Largest number of ingress ACL pairs.
    pub max_acl_entries: usize,
    /// Capacity of the request and completion rings, in batches.
    pub ring_capacity: usize,
    /// Most batches merged into one publication.
    pub max_batches_per_commit: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_tunnels: 1 << 16,
            max_acl_entries: 1 << 16,
            ring_capacity: 1024,
            max_batches_per_commit: 64,
        }
    }
}

/// The control plane's end of the rings.
#[derive(Debug, Clone)]
pub struct FlowClient {
    requests: Arc<ArrayQueue<FlowBatch>>,
    completions: Arc<ArrayQueue<Completion>>,
}

impl FlowClient {
    /// Queues a batch; gives it back if the ring is full.
    pub fn submit(&self, batch: FlowBatch) -> Result<(), FlowBatch> {
        self.requests.push(batch)
    }

    /// The next completion, if any.
    pub fn poll(&self) -> Option<Completion> {
        self.completions.pop()
    }
}

#[derive(Debug, Clone, Copy)]
struct Shadow {
    slot: u32,
    spi: Spi,
    /// The key's check value: the same SPI under a new key (a peer that
    /// restarted and counts its SPIs from 1 again) is a new tunnel.
    key_check: u64,
}

/// Slot allocator: lowest free slots first would need a heap; a stack of
/// freed slots plus a high-water mark is enough.
#[derive(Debug, Default)]
struct Slots {
    free: Vec<u32>,
    next: u32,
}

impl Slots {
    fn alloc(&mut self) -> u32 {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

/// What a batch changed in the programmer's own index, to undo on refusal.
#[derive(Debug)]
enum Undo {
    Tunnel(VipPair, Option<Shadow>),
    Acl((u32, VipPair), Option<u32>),
    /// A slot was allocated: give it back.
    Slot(bool, u32),
    /// A slot was freed: take it out of the free list again.
    Freed(bool, u32),
}

/// What one [`FlowProgrammer::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Batches applied and published.
    pub committed: usize,
    /// Batches refused.
    pub refused: usize,
    /// Completions reported (now visible everywhere, or refused).
    pub completed: usize,
    /// Requests waiting because the backend was not ready.
    pub waiting: bool,
}

/// The single writer of the tables.
#[derive(Debug)]
pub struct FlowProgrammer<B: FlowBackend> {
    backend: B,
    cfg: FlowConfig,
    requests: Arc<ArrayQueue<FlowBatch>>,
    completions: Arc<ArrayQueue<Completion>>,
    /// Completions the ring had no room for.
    unsent: VecDeque<Completion>,
    /// (batch id, version) waiting to be visible everywhere.
    in_flight: VecDeque<(u64, u64)>,
    egress: HashMap<VipPair, Shadow>,
    acl: HashMap<(u32, VipPair), u32>,
    tunnel_slots: Slots,
    acl_slots: Slots,
    generation: u64,
    ops: Vec<TableOp>,
    undo: Vec<Undo>,
    /// The undo logs of the batches of the commit being built, in order.
    commit_undo: Vec<Undo>,
    batch_ids: Vec<u64>,
}

impl<B: FlowBackend> FlowProgrammer<B> {
    /// A programmer over `backend`, and the control plane's client.
    pub fn new(backend: B, cfg: FlowConfig) -> (FlowProgrammer<B>, FlowClient) {
        let requests = Arc::new(ArrayQueue::new(cfg.ring_capacity.max(1)));
        let completions = Arc::new(ArrayQueue::new(cfg.ring_capacity.max(1)));
        let client = FlowClient { requests: requests.clone(), completions: completions.clone() };
        let p = FlowProgrammer {
            backend,
            cfg,
            requests,
            completions,
            unsent: VecDeque::new(),
            in_flight: VecDeque::new(),
            egress: HashMap::new(),
            acl: HashMap::new(),
            tunnel_slots: Slots::default(),
            acl_slots: Slots::default(),
            generation: 0,
            ops: Vec::new(),
            undo: Vec::new(),
            commit_undo: Vec::new(),
            batch_ids: Vec::new(),
        };
        (p, client)
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Egress tunnels installed (as of the last commit).
    pub fn tunnels(&self) -> usize {
        self.egress.len()
    }

    /// Ingress ACL pairs installed.
    pub fn acl_entries(&self) -> usize {
        self.acl.len()
    }

    /// Batches published but not yet visible on every core.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Reports what became visible, then applies and publishes queued
    /// batches if the backend is ready. Never blocks.
    pub fn run_once(&mut self) -> Progress {
        self.backend.tick();
        let mut p = Progress::default();
        let visible = self.backend.visible_version();
        while let Some(&(id, v)) = self.in_flight.front() {
            if v > visible {
                break;
            }
            self.in_flight.pop_front();
            self.complete(Completion { id, result: Ok(v) });
            p.completed += 1;
        }
        if !self.requests.is_empty() {
            if self.backend.ready() {
                self.ops.clear();
                self.batch_ids.clear();
                self.commit_undo.clear();
                for _ in 0..self.cfg.max_batches_per_commit.max(1) {
                    let Some(batch) = self.requests.pop() else { break };
                    match self.resolve(&batch) {
                        Ok(()) => {
                            self.batch_ids.push(batch.id);
                            self.commit_undo.append(&mut self.undo);
                            p.committed += 1;
                        }
                        Err(e) => {
                            self.complete(Completion { id: batch.id, result: Err(e) });
                            p.refused += 1;
                            p.completed += 1;
                        }
                    }
                }
                if !self.batch_ids.is_empty() {
                    match self.backend.commit(&self.ops) {
                        Ok(v) => self.in_flight.extend(self.batch_ids.iter().map(|&id| (id, v))),
                        Err(e) => {
                            let mut undo = std::mem::take(&mut self.commit_undo);
                            self.roll_back(&mut undo);
                            self.commit_undo = undo;
                            for i in 0..self.batch_ids.len() {
                                let id = self.batch_ids[i];
                                let result = Err(FlowError::Backend(e.clone()));
                                self.complete(Completion { id, result });
                            }
                            p.committed -= self.batch_ids.len();
                            p.refused += self.batch_ids.len();
                            p.completed += self.batch_ids.len();
                        }
                    }
                }
            } else {
                p.waiting = true;
            }
        }
        while let Some(c) = self.unsent.pop_front() {
            if let Err(c) = self.completions.push(c) {
                self.unsent.push_front(c);
                break;
            }
        }
        p
    }

    fn complete(&mut self, c: Completion) {
        if self.unsent.is_empty() {
            if let Err(c) = self.completions.push(c) {
                self.unsent.push_back(c);
            }
        } else {
            self.unsent.push_back(c);
        }
    }

    /// Validates and resolves a batch into `self.ops`, all or nothing.
    fn resolve(&mut self, batch: &FlowBatch) -> Result<(), FlowError> {
        let ops_at = self.ops.len();
        self.undo.clear();
        let r = batch.requests.iter().enumerate().try_for_each(|(i, r)| self.resolve_one(i, r));
        match r {
            Ok(()) => Ok(()),
            Err(e) => {
                self.ops.truncate(ops_at);
                let mut undo = std::mem::take(&mut self.undo);
                self.roll_back(&mut undo);
                self.undo = undo;
                Err(e)
            }
        }
    }

    /// Takes back, newest first, what `undo` records (emptying it).
    fn roll_back(&mut self, undo: &mut Vec<Undo>) {
        while let Some(u) = undo.pop() {
            match u {
                Undo::Tunnel(pair, Some(s)) => drop(self.egress.insert(pair, s)),
                Undo::Tunnel(pair, None) => drop(self.egress.remove(&pair)),
                Undo::Acl(k, Some(s)) => drop(self.acl.insert(k, s)),
                Undo::Acl(k, None) => drop(self.acl.remove(&k)),
                Undo::Slot(true, s) => self.tunnel_slots.free.push(s),
                Undo::Slot(false, s) => self.acl_slots.free.push(s),
                Undo::Freed(tunnel, s) => {
                    let slots = if tunnel { &mut self.tunnel_slots } else { &mut self.acl_slots };
                    if let Some(i) = slots.free.iter().rposition(|&f| f == s) {
                        slots.free.remove(i);
                    }
                }
            }
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    fn resolve_one(&mut self, index: usize, r: &FlowRequest) -> Result<(), FlowError> {
        match r {
            FlowRequest::InsertTunnel { pair, encap, hw_key } => {
                let (spi, key_check) = (encap.config().spi, encap.key_check());
                let old = self.egress.get(pair).copied();
                let slot = match old {
                    Some(s) if s.spi == spi && s.key_check == key_check => {
                        return Err(FlowError::SpiReused { index, pair: *pair, spi })
                    }
                    Some(s) => s.slot,
                    None => {
                        if self.egress.len() >= self.cfg.max_tunnels {
                            return Err(FlowError::TooManyTunnels {
                                index,
                                max: self.cfg.max_tunnels,
                                pair: *pair,
                            });
                        }
                        let s = self.tunnel_slots.alloc();
                        self.undo.push(Undo::Slot(true, s));
                        s
                    }
                };
                self.egress.insert(*pair, Shadow { slot, spi, key_check });
                self.undo.push(Undo::Tunnel(*pair, old));
                let generation = self.next_generation();
                let e = TunnelEntry { slot, generation, encap: encap.clone() };
                self.ops.push(TableOp::SetTunnel(*pair, e, hw_key.clone()));
            }
            FlowRequest::RemoveTunnel { pair } => {
                if let Some(old) = self.egress.remove(pair) {
                    self.undo.push(Undo::Tunnel(*pair, Some(old)));
                    self.tunnel_slots.free.push(old.slot);
                    self.undo.push(Undo::Freed(true, old.slot));
                    self.ops.push(TableOp::DelTunnel(*pair));
                }
            }
            FlowRequest::InsertAcl { spi, src, dst } => {
                let pair = VipPair { src: *src, dst: *dst };
                let k = (spi.0, pair);
                if self.acl.contains_key(&k) {
                    return Ok(());
                }
                if self.acl.len() >= self.cfg.max_acl_entries {
                    return Err(FlowError::TooManyAclEntries {
                        index,
                        max: self.cfg.max_acl_entries,
                        spi: *spi,
                        pair,
                    });
                }
                let slot = self.acl_slots.alloc();
                self.undo.push(Undo::Slot(false, slot));
                self.acl.insert(k, slot);
                self.undo.push(Undo::Acl(k, None));
                let generation = self.next_generation();
                self.ops.push(TableOp::SetAcl(*spi, pair, AclEntry { slot, generation }));
            }
            FlowRequest::RemoveAcl { spi, src, dst } => {
                let pair = VipPair { src: *src, dst: *dst };
                let k = (spi.0, pair);
                if let Some(slot) = self.acl.remove(&k) {
                    self.undo.push(Undo::Acl(k, Some(slot)));
                    self.acl_slots.free.push(slot);
                    self.undo.push(Undo::Freed(false, slot));
                    self.ops.push(TableOp::DelAcl(*spi, pair));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
