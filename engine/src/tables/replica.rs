//! The tables' replica: two copies of the tables, swapped like an RCU
//! pointer and written in turn (the "left-right" scheme), with one mailbox
//! ring per packet core. Packet cores read through a [`TableReader`]; the
//! flow programmer writes through [`ReplicatedTables`] (its
//! `FlowBackend` implementation is in `crate::flows`).
//!
//! The programmer owns both copies as `Arc<Tables>`. Cores read the
//! *active* copy; the programmer writes the *spare* one, which it can do
//! only when no core holds it: `Arc::get_mut` succeeding is the grace
//! period, so the scheme needs no `unsafe` and no epoch library. A commit
//! replays on the spare the ops the active copy got last time, applies the
//! new ops, and publishes the spare by pushing an `Arc` clone into every
//! core's mailbox (a one-slot crossbeam `ArrayQueue`). A core picks it up
//! between bursts with one `pop` (an atomic load when nothing is there),
//! drops its old `Arc` (a decrement, never the last one: the programmer
//! keeps both copies, so cores never free memory) and writes the version
//! it now uses into its own cache-padded `seen` word, which the programmer
//! reads to tell when a version is visible everywhere.

use super::{SessionCounters, SessionTotals, TableOp, Tables};
use crossbeam::queue::ArrayQueue;
use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A packet core's view of the tables.
#[derive(Debug)]
pub struct TableReader {
    current: Arc<Tables>,
    mailbox: Arc<ArrayQueue<Arc<Tables>>>,
    seen: Arc<CachePadded<AtomicU64>>,
    sessions: Arc<SessionCounters>,
}

impl TableReader {
    /// This core's per-session counters (written by it alone).
    #[inline]
    pub fn sessions(&self) -> &SessionCounters {
        &self.sessions
    }

    /// Picks up the latest published tables, if any; call once per burst.
    /// Returns whether the tables changed. Never allocates, frees or
    /// blocks.
    #[inline]
    pub fn refresh(&mut self) -> bool {
        match self.mailbox.pop() {
            Some(t) => {
                let v = t.version();
                self.current = t;
                self.seen.store(v, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// The tables this core uses now.
    #[inline]
    pub fn tables(&self) -> &Tables {
        &self.current
    }
}

/// Two copies of the tables written in turn, published to core mailboxes.
#[derive(Debug)]
pub struct ReplicatedTables {
    sides: [Arc<Tables>; 2],
    active: usize,
    /// Ops the active side has and the spare does not yet.
    log: Vec<TableOp>,
    mailboxes: Vec<Arc<ArrayQueue<Arc<Tables>>>>,
    seen: Vec<Arc<CachePadded<AtomicU64>>>,
    version: u64,
    sessions: Vec<Arc<SessionCounters>>,
}

impl ReplicatedTables {
    /// Tables for `cores` packet cores, with room reserved for `tunnels`
    /// and `acl` entries; returns the backend and one reader per core.
    pub fn new(
        cores: usize,
        tunnels: usize,
        acl: usize,
        seed: u64,
    ) -> (ReplicatedTables, Vec<TableReader>) {
        let t = Tables::with_capacity(tunnels, acl, seed);
        let sides = [Arc::new(t.clone()), Arc::new(t)];
        let mut readers = Vec::with_capacity(cores);
        let mut mailboxes = Vec::with_capacity(cores);
        let mut seen = Vec::with_capacity(cores);
        let mut sessions = Vec::with_capacity(cores);
        for _ in 0..cores {
            let mb = Arc::new(ArrayQueue::new(1));
            let s = Arc::new(CachePadded::new(AtomicU64::new(0)));
            let counters = SessionCounters::new(tunnels, acl);
            readers.push(TableReader {
                current: sides[0].clone(),
                mailbox: mb.clone(),
                seen: s.clone(),
                sessions: counters.clone(),
            });
            mailboxes.push(mb);
            seen.push(s);
            sessions.push(counters);
        }
        let me = ReplicatedTables {
            sides,
            active: 0,
            log: Vec::new(),
            mailboxes,
            seen,
            version: 0,
            sessions,
        };
        (me, readers)
    }

    /// Every session of the last published tables, counted over all cores.
    pub fn sessions(&self) -> SessionTotals {
        self.active().sessions(&self.sessions)
    }

    /// The copy cores are moving to (the last published).
    pub fn active(&self) -> &Tables {
        &self.sides[self.active]
    }

    /// Whether [`publish`](Self::publish) can run now: no core still reads
    /// the spare copy.
    pub fn spare_free(&mut self) -> bool {
        Arc::get_mut(&mut self.sides[self.active ^ 1]).is_some()
    }

    /// Applies `ops` to the spare copy (after the ops the active copy got
    /// last time), publishes it to every core's mailbox and returns its
    /// version. Never fails: the copies are in memory.
    ///
    /// # Panics
    ///
    /// If a core still reads the spare copy (check
    /// [`spare_free`](Self::spare_free) first).
    pub fn publish(&mut self, ops: &[TableOp]) -> u64 {
        let spare = self.active ^ 1;
        let t = Arc::get_mut(&mut self.sides[spare])
            .expect("commit called while a core still reads the spare copy (check ready())");
        for op in self.log.drain(..) {
            t.apply(&op);
        }
        for op in ops {
            t.apply(op);
        }
        self.log.extend_from_slice(ops);
        self.version += 1;
        t.set_version(self.version);
        self.active = spare;
        for mb in &self.mailboxes {
            // The mailbox is empty: the spare was free, so every core had
            // taken the previous publication. A displaced value would be a
            // clone of a copy we keep, so dropping it frees nothing.
            drop(mb.force_push(self.sides[spare].clone()));
        }
        self.version
    }

    /// The newest version every core has picked up.
    pub fn visible_version(&self) -> u64 {
        self.seen.iter().map(|s| s.load(Ordering::Acquire)).min().unwrap_or(self.version)
    }
}
