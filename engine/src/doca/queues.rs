//! Per-queue entry processing, as NVIDIA's 3.3 application does it:
//! DOCA Flow is initialized with one pipe queue per packet core plus one
//! (`doca_flow_cfg_set_pipe_queues`), every entry is added, updated or
//! removed on the pipe queue of the thread that asks, and the
//! entry-process callback (`doca_flow_cfg_set_cb_entry_process`) records
//! each completion in that queue's [`QueueStatus`] (NVIDIA:
//! `entries_status` per queue, `check_for_valid_entry`).
//!
//! Which queue a thread uses: a packet core that adds entries registers
//! its index with [`set_thread_queue`] (NVIDIA adds a session's entries on
//! `lcore_id - 1`, the queue of the core that handled the miss); any other
//! thread uses the last queue, kept for it. In this gateway every commit
//! is applied by the flow programmer thread and the fixed entries by the
//! thread that starts the backend, so both use the control queue; the
//! packet cores add none.
//! Sans-IO: the FFI callback only forwards to [`QueueTable::completed`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

thread_local! {
    static THREAD_QUEUE: Cell<Option<u16>> = const { Cell::new(None) };
}

/// Makes the calling thread (a packet core) use pipe queue `q`.
pub fn set_thread_queue(q: u16) {
    THREAD_QUEUE.with(|c| c.set(Some(q)));
}

/// The number of pipe queues for `cores` packet cores: one each, plus the
/// control queue.
pub fn pipe_queues(cores: u16) -> u16 {
    cores.max(1).saturating_add(1)
}

/// The pipe queue of the calling thread among `nb_queues`: its registered
/// one if it has one in range, else the control queue (the last).
pub fn current_queue(nb_queues: u16) -> u16 {
    let control = nb_queues.saturating_sub(1);
    match THREAD_QUEUE.with(Cell::get) {
        Some(q) if q < control => q,
        _ => control,
    }
}

/// One queue's entry operations since it was last taken.
#[derive(Debug, Default)]
pub struct QueueStatus {
    queued: AtomicU32,
    processed: AtomicU32,
    failed: AtomicU32,
}

/// What a queue's operations came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Operations queued and not yet completed.
    pub in_queue: u32,
    /// Completions reported by the callback.
    pub processed: u32,
    /// Of those, the failed ones.
    pub failed: u32,
}

impl QueueStatus {
    /// The counts so far, and zero them.
    pub fn take(&self) -> Outcome {
        Outcome {
            in_queue: self.queued.swap(0, Ordering::Relaxed),
            processed: self.processed.swap(0, Ordering::Relaxed),
            failed: self.failed.swap(0, Ordering::Relaxed),
        }
    }
}

/// Every pipe queue's [`QueueStatus`]; the callback's `user_ctx` points to
/// it (a stable heap address for the life of DOCA Flow).
#[derive(Debug)]
pub struct QueueTable {
    queues: Box<[QueueStatus]>,
}

impl QueueTable {
    /// A table of `n` queues.
    pub fn new(n: u16) -> QueueTable {
        QueueTable { queues: (0..n.max(1)).map(|_| QueueStatus::default()).collect() }
    }

    /// The number of queues.
    pub fn len(&self) -> u16 {
        self.queues.len() as u16
    }

    /// Always false: a table has at least one queue.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// An operation was queued on `q`.
    pub fn queued(&self, q: u16) {
        if let Some(s) = self.queues.get(usize::from(q)) {
            s.queued.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The callback: an operation on `q` completed, `ok` or not. A queue
    /// out of range (not one of ours) is ignored.
    pub fn completed(&self, q: u16, ok: bool) {
        let Some(s) = self.queues.get(usize::from(q)) else { return };
        // Saturating: a completion of an operation queued before the
        // counts were last taken must not wrap the count.
        let _ = s.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        s.processed.fetch_add(1, Ordering::Relaxed);
        if !ok {
            s.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queue `q`'s counts, zeroed.
    pub fn take(&self, q: u16) -> Outcome {
        self.queues.get(usize::from(q)).map(QueueStatus::take).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_queue_per_core_plus_the_control_queue() {
        assert_eq!(pipe_queues(4), 5);
        assert_eq!(pipe_queues(0), 2);
        // A thread that never registered: the control queue, the last.
        let n = pipe_queues(4);
        std::thread::spawn(move || assert_eq!(current_queue(n), 4)).join().unwrap();
        // A packet core uses its own, on its own thread only.
        std::thread::spawn(move || {
            set_thread_queue(2);
            assert_eq!(current_queue(n), 2);
            std::thread::spawn(move || assert_eq!(current_queue(n), 4)).join().unwrap();
        })
        .join()
        .unwrap();
        // A registration out of range falls back to the control queue.
        std::thread::spawn(move || {
            set_thread_queue(9);
            assert_eq!(current_queue(n), 4);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_callback_counts_completions_and_failures_per_queue() {
        let t = QueueTable::new(3);
        for _ in 0..3 {
            t.queued(1);
        }
        t.queued(2);
        t.completed(1, true);
        t.completed(1, false);
        t.completed(2, true);
        t.completed(7, false); // not ours: ignored
        assert_eq!(t.take(1), Outcome { in_queue: 1, processed: 2, failed: 1 });
        assert_eq!(t.take(2), Outcome { in_queue: 0, processed: 1, failed: 0 });
        assert_eq!(t.take(0), Outcome::default());
        // Taken: zeroed; a late completion does not wrap.
        assert_eq!(t.take(1), Outcome::default());
        t.completed(1, true);
        assert_eq!(t.take(1), Outcome { in_queue: 0, processed: 1, failed: 0 });
        assert_eq!(t.take(9), Outcome::default());
        assert_eq!((t.len(), t.is_empty()), (3, false));
    }
}
