//! A commit applied to the NIC all or nothing: the translator's steps go
//! to a [`Nic`] in order, each with what undoes it; when a step fails, the
//! steps already applied in that commit are undone in reverse order
//! (entries added are removed, updated ones get their previous actions
//! back, removed ones are added again, key slots get their previous key
//! or are cleared), the undo is pushed to the hardware, and the
//! translator's state is put back as it was before the commit. Sans-IO:
//! the backend's FFI implements [`Nic`]; the tests use a failing fake.

use super::backend::DocaError;
use super::translate::{DocaEntry, EntryKey, PspKeyCfg, Step, Translator};
use crate::tables::TableOp;
use std::collections::HashMap;

/// The NIC-side operations of a commit (the backend: `doca_flow_*` calls
/// on the calling thread's pipe queue).
pub trait Nic {
    /// Writes a key into a key slot.
    fn program_key(&mut self, crypto_id: u32, key: &PspKeyCfg) -> Result<(), DocaError>;
    /// Overwrites a key slot with zeros (a slot no entry uses any more).
    fn clear_key(&mut self, crypto_id: u32) -> Result<(), DocaError>;
    /// Adds an entry.
    fn add(&mut self, e: &DocaEntry) -> Result<(), DocaError>;
    /// Replaces the actions of the entry with `e.key`.
    fn update(&mut self, e: &DocaEntry) -> Result<(), DocaError>;
    /// Removes the entry with this key.
    fn remove(&mut self, key: EntryKey) -> Result<(), DocaError>;
    /// Pushes what is queued to the hardware and waits for it.
    fn flush(&mut self) -> Result<(), DocaError>;
}

/// What undoes one applied step.
enum Undo {
    /// An added entry: remove it.
    Remove(EntryKey),
    /// An updated entry: its previous description.
    Restore(DocaEntry),
    /// A removed entry: add it again.
    Readd(DocaEntry),
    /// A programmed slot: its previous key, or none (clear it).
    Key(u32, Option<PspKeyCfg>),
    /// Slots released by a flush, with their keys.
    Released(Vec<(u32, PspKeyCfg)>),
}

/// The entries and key slots the commits put on the NIC, as described to
/// it: what an undo restores.
#[derive(Debug, Default)]
pub struct Applier {
    installed: HashMap<EntryKey, DocaEntry>,
    /// The key in each slot in use (wiped on drop, like every
    /// [`PspKeyCfg`]).
    keys: HashMap<u32, PspKeyCfg>,
}

impl Applier {
    /// Nothing applied yet.
    pub fn new() -> Applier {
        Applier::default()
    }

    /// The entry with this key, as applied.
    pub fn entry(&self, key: &EntryKey) -> Option<&DocaEntry> {
        self.installed.get(key)
    }

    /// Every entry the commits installed.
    pub fn entries(&self) -> impl Iterator<Item = &DocaEntry> {
        self.installed.values()
    }

    /// Applies `steps` in order; on a failure, undoes the ones applied.
    pub fn apply<N: Nic>(&mut self, nic: &mut N, steps: &[Step]) -> Result<(), DocaError> {
        let mut log = Vec::new();
        let r = steps.iter().try_for_each(|s| self.step(nic, s, &mut log));
        let Err(cause) = r else { return Ok(()) };
        let mut failed = 0usize;
        for u in log.into_iter().rev() {
            if self.undo(nic, u).is_err() {
                failed += 1;
            }
        }
        if nic.flush().is_err() {
            failed += 1;
        }
        // The caller (the flow programmer's control plane) logs it.
        if failed == 0 {
            Err(cause)
        } else {
            Err(DocaError::Rollback { cause: Box::new(cause), failed })
        }
    }

    fn step<N: Nic>(
        &mut self,
        nic: &mut N,
        s: &Step,
        log: &mut Vec<Undo>,
    ) -> Result<(), DocaError> {
        match s {
            Step::ProgramKey { crypto_id, key, .. } => {
                nic.program_key(*crypto_id, key)?;
                log.push(Undo::Key(*crypto_id, self.keys.insert(*crypto_id, key.clone())));
            }
            Step::Add(e) => match self.installed.get(&e.key) {
                // The same entry again (an ACL pair set twice): nothing to do.
                Some(old) if old == e => {}
                Some(old) => {
                    let old = old.clone();
                    nic.update(e)?;
                    self.installed.insert(e.key, e.clone());
                    log.push(Undo::Restore(old));
                }
                None => {
                    nic.add(e)?;
                    self.installed.insert(e.key, e.clone());
                    log.push(Undo::Remove(e.key));
                }
            },
            Step::Update(e) => match self.installed.get(&e.key).cloned() {
                Some(old) => {
                    nic.update(e)?;
                    self.installed.insert(e.key, e.clone());
                    log.push(Undo::Restore(old));
                }
                None => {
                    nic.add(e)?;
                    self.installed.insert(e.key, e.clone());
                    log.push(Undo::Remove(e.key));
                }
            },
            Step::Remove(key) => {
                if self.installed.contains_key(key) {
                    nic.remove(*key)?;
                    let old = self.installed.remove(key).expect("checked above");
                    log.push(Undo::Readd(old));
                }
            }
            Step::Flush { release } => {
                nic.flush()?;
                let freed = release
                    .iter()
                    .filter_map(|id| self.keys.remove(id).map(|k| (*id, k)))
                    .collect();
                log.push(Undo::Released(freed));
            }
        }
        Ok(())
    }

    fn undo<N: Nic>(&mut self, nic: &mut N, u: Undo) -> Result<(), DocaError> {
        match u {
            Undo::Remove(key) => {
                self.installed.remove(&key);
                nic.remove(key)
            }
            Undo::Restore(old) | Undo::Readd(old) if self.installed.contains_key(&old.key) => {
                self.installed.insert(old.key, old.clone());
                nic.update(&old)
            }
            Undo::Restore(old) | Undo::Readd(old) => {
                self.installed.insert(old.key, old.clone());
                nic.add(&old)
            }
            Undo::Key(id, Some(prev)) => {
                let r = nic.program_key(id, &prev);
                self.keys.insert(id, prev);
                r
            }
            Undo::Key(id, None) => {
                self.keys.remove(&id);
                nic.clear_key(id)
            }
            Undo::Released(freed) => {
                let mut r = Ok(());
                for (id, k) in freed {
                    r = r.and(nic.program_key(id, &k));
                    self.keys.insert(id, k);
                }
                r
            }
        }
    }
}

/// One commit: translate `ops`, apply the steps; on any failure the NIC
/// and the translator are as they were before.
pub fn commit<N: Nic>(
    t: &mut Translator,
    a: &mut Applier,
    nic: &mut N,
    ops: &[TableOp],
) -> Result<(), DocaError> {
    let saved = t.checkpoint();
    let steps = t.translate(ops)?;
    a.apply(nic, &steps).inspect_err(|_| t.restore(saved))
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
