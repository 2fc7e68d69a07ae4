//! Idle back-off of a packet core.
//!
//! A poll-mode core spins at 100% even when no packet comes. On a machine
//! where cores are shared (two gateways and their traffic on two cores),
//! that starves everything else, so when asked for, a core that keeps
//! finding its queues empty first pauses (a CPU spin hint) and then sleeps
//! for doubling intervals up to a cap; the first packet resets it. Sans-IO:
//! the core reports each poll and does what it is told; the decisions and
//! their counters (reported in the stats) live here.

/// What the core does after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleAction {
    /// Poll again at once.
    Poll,
    /// Spin-wait hint (`rte_pause` / `core::hint::spin_loop`), then poll.
    Pause,
    /// Sleep this many microseconds, then poll.
    Sleep(u32),
}

/// Counters of what back-off did, for `--stat-print`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackoffStats {
    /// Polls that found nothing.
    pub empty_polls: u64,
    /// Pauses taken.
    pub pauses: u64,
    /// Sleeps taken.
    pub sleeps: u64,
    /// Microseconds asked to sleep in all.
    pub slept_us: u64,
}

/// The back-off state of one core.
#[derive(Debug, Clone)]
pub struct Backoff {
    enabled: bool,
    empty_run: u32,
    pause_after: u32,
    sleep_after: u32,
    min_sleep_us: u32,
    max_sleep_us: u32,
    next_sleep_us: u32,
    stats: BackoffStats,
}

impl Backoff {
    /// Empty polls before pausing.
    pub const PAUSE_AFTER: u32 = 32;
    /// Empty polls before sleeping (about 10-50 us of spinning).
    pub const SLEEP_AFTER: u32 = 1024;
    /// First sleep.
    pub const MIN_SLEEP_US: u32 = 10;
    /// Longest sleep: bounds the latency a sleeping core adds to the first
    /// packet of a burst.
    pub const MAX_SLEEP_US: u32 = 200;

    /// Back-off with the default thresholds; `enabled = false` always polls
    /// (pure busy polling, the DPDK default) but still counts empty polls.
    pub fn new(enabled: bool) -> Backoff {
        Backoff {
            enabled,
            empty_run: 0,
            pause_after: Self::PAUSE_AFTER,
            sleep_after: Self::SLEEP_AFTER,
            min_sleep_us: Self::MIN_SLEEP_US,
            max_sleep_us: Self::MAX_SLEEP_US,
            next_sleep_us: Self::MIN_SLEEP_US,
            stats: BackoffStats::default(),
        }
    }

    /// Whether back-off is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Reports a poll that received `packets` (over all of the core's
    /// queues) and returns what to do next.
    pub fn on_poll(&mut self, packets: usize) -> IdleAction {
        if packets > 0 {
            self.empty_run = 0;
            self.next_sleep_us = self.min_sleep_us;
            return IdleAction::Poll;
        }
        self.stats.empty_polls += 1;
        self.empty_run = self.empty_run.saturating_add(1);
        if !self.enabled || self.empty_run < self.pause_after {
            IdleAction::Poll
        } else if self.empty_run < self.sleep_after {
            self.stats.pauses += 1;
            IdleAction::Pause
        } else {
            let us = self.next_sleep_us;
            self.next_sleep_us = (us * 2).min(self.max_sleep_us);
            self.stats.sleeps += 1;
            self.stats.slept_us += u64::from(us);
            IdleAction::Sleep(us)
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> BackoffStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_then_sleeps_doubling_to_the_cap_and_resets_on_traffic() {
        let mut b = Backoff::new(true);
        let actions: Vec<IdleAction> =
            (0..Backoff::SLEEP_AFTER + 8).map(|_| b.on_poll(0)).collect();
        assert!(actions[..Backoff::PAUSE_AFTER as usize - 1]
            .iter()
            .all(|a| *a == IdleAction::Poll));
        assert_eq!(actions[Backoff::PAUSE_AFTER as usize - 1], IdleAction::Pause);
        let sleeps: Vec<u32> = actions
            .iter()
            .filter_map(|a| if let IdleAction::Sleep(us) = a { Some(*us) } else { None })
            .collect();
        assert_eq!(sleeps, [10, 20, 40, 80, 160, 200, 200, 200, 200]);
        let s = b.stats();
        assert_eq!(s.empty_polls, u64::from(Backoff::SLEEP_AFTER) + 8);
        assert_eq!(s.sleeps, 9);
        assert_eq!(s.slept_us, 10 + 20 + 40 + 80 + 160 + 4 * 200);
        assert_eq!(b.on_poll(3), IdleAction::Poll);
        assert_eq!(b.on_poll(0), IdleAction::Poll, "a packet resets the run");
    }

    #[test]
    fn disabled_always_polls_but_counts() {
        let mut b = Backoff::new(false);
        assert!((0..5000).all(|_| b.on_poll(0) == IdleAction::Poll));
        assert_eq!(b.stats(), BackoffStats { empty_polls: 5000, ..Default::default() });
        assert!(!b.enabled());
    }
}
