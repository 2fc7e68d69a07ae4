//! Pinned run-to-completion packet cores.
//!
//! One core per CPU of `-m`, each with its own receive and transmit queue
//! on both ports (the RSS queue of the same index), polling both in bursts
//! of 32 and handing each burst to its [`BurstHandler`] (the pipeline,
//! [`crate::cores`]),
//! which moves what is to be sent into the out burst. Nothing here locks or
//! allocates once the loop runs; counters are per core and cache-aligned.
//! One poll in [`TIME_ONE_POLL_IN`] is timed (two clock reads around the
//! handler, two around the bursts) for `--perf-print`'s split of a
//! packet's time into rx/tx and pipeline; the handler itself takes no clock.
//!
//! The first core runs on the calling thread, which must be DPDK's main
//! lcore (so a one-core mask runs the datapath on the main lcore); the
//! others run on scoped threads pinned to their CPU and registered with
//! DPDK (`rte_thread_register`) so they get an lcore id and per-lcore
//! mempool caches. Queue handles are claimed on the caller's thread and
//! moved into the cores, so no queue is ever polled by two threads.

use super::burst::Burst;
use super::eal::Eal;
use super::error::{Error, Result};
use super::ids::QueueId;
use super::port::Port;
use super::queue::{RxQueue, TxQueue};
use crate::config::{Backoff, BackoffStats, IdleAction};
use crate::cores::BurstHandler;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The four queue handles of one packet core.
#[derive(Debug)]
pub struct CoreQueues<'p> {
    /// Receive queue of the unsecured port.
    pub unsecured_rx: RxQueue<'p>,
    /// Transmit queue of the unsecured port.
    pub unsecured_tx: TxQueue<'p>,
    /// Receive queue of the secure uplink.
    pub secure_rx: RxQueue<'p>,
    /// Transmit queue of the secure uplink.
    pub secure_tx: TxQueue<'p>,
    /// This core's queues of the unsecured ports past the first (several
    /// VFs or representors, [`crate::pipeline::VfPorts`]); empty for one.
    pub more_unsecured: Vec<(RxQueue<'p>, TxQueue<'p>)>,
}

impl<'p> CoreQueues<'p> {
    /// Queue `q` of both ports for packet core `q`, for `0..cores`: each
    /// queue claimed once, on the caller's thread.
    pub fn claim_all(
        unsecured: &'p Port,
        secure: &'p Port,
        cores: u16,
    ) -> Result<Vec<CoreQueues<'p>>> {
        (0..cores)
            .map(|q| {
                Ok(CoreQueues {
                    unsecured_rx: unsecured.rx_queue(QueueId(q))?,
                    unsecured_tx: unsecured.tx_queue(QueueId(q))?,
                    secure_rx: secure.rx_queue(QueueId(q))?,
                    secure_tx: secure.tx_queue(QueueId(q))?,
                    more_unsecured: Vec::new(),
                })
            })
            .collect()
    }

    /// As [`claim_all`](Self::claim_all) with several unsecured ports
    /// (`unsecured[0]` first, then the others in order, as their
    /// [`VfPorts`](crate::pipeline::VfPorts) indices).
    pub fn claim_all_ports(
        unsecured: &[&'p Port],
        secure: &'p Port,
        cores: u16,
    ) -> Result<Vec<CoreQueues<'p>>> {
        let (first, rest) = unsecured.split_first().ok_or(Error::Lcores("no unsecured port"))?;
        let mut all = CoreQueues::claim_all(first, secure, cores)?;
        for (q, c) in all.iter_mut().enumerate() {
            let q = QueueId(q as u16);
            for p in rest {
                c.more_unsecured.push((p.rx_queue(q)?, p.tx_queue(q)?));
            }
        }
        Ok(all)
    }
}

/// Counters of one packet core, on a cache line of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(64))]
pub struct CoreStats {
    /// The CPU the core ran on.
    pub cpu: u32,
    /// Packets received from the unsecured port.
    pub rx_unsecured: u64,
    /// Packets received from the secure port.
    pub rx_secure: u64,
    /// Packets sent to the secure port.
    pub tx_secure: u64,
    /// Packets sent to the unsecured port.
    pub tx_unsecured: u64,
    /// Packets the control plane resubmitted through this core.
    pub resubmitted: u64,
    /// Packets a transmit queue did not take (freed).
    pub tx_full: u64,
    /// Received packets chained over several mbufs (too long for one),
    /// freed at receive: the pipeline handles single-segment mbufs.
    pub rx_multi_seg: u64,
    /// Polls of both ports.
    pub polls: u64,
    /// Idle back-off (reported with `--stat-print`).
    pub backoff: BackoffStats,
    /// The timed bursts (one poll in [`TIME_ONE_POLL_IN`]).
    pub timed: BurstTimes,
}

/// Time spent on the bursts of the timed polls that received packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BurstTimes {
    /// Packets those bursts received.
    pub packets: u64,
    /// Nanoseconds in `rx_burst` and `tx_burst` (with the freeing of what a
    /// transmit queue did not take).
    pub rxtx_ns: u64,
    /// Nanoseconds in the burst handler: the pipeline, AES-GCM included.
    pub handler_ns: u64,
}

impl BurstTimes {
    /// Adds one burst of `packets`: received from `t0` to `t1`, handled to
    /// `t2`, sent to `t3`.
    fn add(&mut self, packets: usize, t0: Instant, t1: Instant, t2: Instant, t3: Instant) {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.packets += packets as u64;
        self.rxtx_ns += ns(t1 - t0) + ns(t3 - t2);
        self.handler_ns += ns(t2 - t1);
    }
}

/// One poll in this many is timed: a clock read costs about 20 ns, a poll
/// that receives a burst of 32 a few microseconds.
pub const TIME_ONE_POLL_IN: u64 = 64;

fn send(tx: &mut TxQueue<'_>, out: &mut Burst, sent: &mut u64, full: &mut u64) {
    if out.is_empty() {
        return;
    }
    *sent += tx.tx_burst(out) as u64;
    *full += out.len() as u64;
    out.clear();
}

/// Sends `outs[i]` on unsecured port `i`.
fn send_to_ports(q: &mut CoreQueues<'_>, outs: &mut [Burst], stats: &mut CoreStats) {
    if let Some((first, rest)) = outs.split_first_mut() {
        send(&mut q.unsecured_tx, first, &mut stats.tx_unsecured, &mut stats.tx_full);
        for ((_, vf_tx), o) in q.more_unsecured.iter_mut().zip(rest) {
            send(vf_tx, o, &mut stats.tx_unsecured, &mut stats.tx_full);
        }
    }
}

/// Runs one packet core on the calling thread until `stop` is set.
pub fn poll_loop<H: BurstHandler<Burst> + ?Sized>(
    q: &mut CoreQueues<'_>,
    handler: &mut H,
    backoff: &mut Backoff,
    stop: &AtomicBool,
    stats: &mut CoreStats,
) {
    let mut rx: Burst = Burst::new();
    let mut out: Burst = Burst::new();
    // One out burst per unsecured port, made before the loop.
    let mut outs: Vec<Burst> = (0..=q.more_unsecured.len()).map(|_| Burst::new()).collect();
    while !stop.load(Ordering::Relaxed) {
        stats.polls += 1;
        // First: fresh tables, and what the control plane gives back.
        let resubmitted = handler.poll(&mut out);
        if resubmitted > 0 {
            stats.resubmitted += resubmitted as u64;
            send(&mut q.secure_tx, &mut out, &mut stats.tx_secure, &mut stats.tx_full);
        }
        // Its answers to the VMs' ARP and neighbour solicitations.
        if handler.to_hosts(&mut outs) > 0 {
            send_to_ports(q, &mut outs, stats);
        }
        let timed = stats.polls.is_multiple_of(TIME_ONE_POLL_IN);
        let now = || timed.then(Instant::now);
        let t0 = now();
        let mut from_host = q.unsecured_rx.rx_burst(&mut rx);
        if from_host > 0 {
            stats.rx_unsecured += from_host as u64;
            let t1 = now();
            handler.host_to_net_from(0, &mut rx, &mut out);
            rx.clear();
            let t2 = now();
            send(&mut q.secure_tx, &mut out, &mut stats.tx_secure, &mut stats.tx_full);
            if let (Some(t0), Some(t1), Some(t2)) = (t0, t1, t2) {
                stats.timed.add(from_host, t0, t1, t2, Instant::now());
            }
        }
        for (i, (vf_rx, _)) in q.more_unsecured.iter_mut().enumerate() {
            let n = vf_rx.rx_burst(&mut rx);
            if n > 0 {
                from_host += n;
                stats.rx_unsecured += n as u64;
                // Cannot truncate: at most MAX_DEVICE_REPS ports.
                handler.host_to_net_from(i as u8 + 1, &mut rx, &mut out);
                rx.clear();
                send(&mut q.secure_tx, &mut out, &mut stats.tx_secure, &mut stats.tx_full);
            }
        }
        let t0 = now();
        let from_net = q.secure_rx.rx_burst(&mut rx);
        if from_net > 0 {
            stats.rx_secure += from_net as u64;
            let t1 = now();
            if q.more_unsecured.is_empty() {
                handler.net_to_host(&mut rx, &mut out);
                rx.clear();
            } else {
                handler.net_to_ports(&mut rx, &mut outs);
                rx.clear();
            }
            let t2 = now();
            if q.more_unsecured.is_empty() {
                send(&mut q.unsecured_tx, &mut out, &mut stats.tx_unsecured, &mut stats.tx_full);
            } else {
                send_to_ports(q, &mut outs, stats);
            }
            if let (Some(t0), Some(t1), Some(t2)) = (t0, t1, t2) {
                stats.timed.add(from_net, t0, t1, t2, Instant::now());
            }
        }
        match backoff.on_poll(from_host + from_net + resubmitted) {
            IdleAction::Poll => {}
            IdleAction::Pause => core::hint::spin_loop(),
            IdleAction::Sleep(us) => std::thread::sleep(Duration::from_micros(u64::from(us))),
        }
    }
    stats.backoff = backoff.stats();
    stats.rx_multi_seg = q.unsecured_rx.multi_seg_dropped()
        + q.secure_rx.multi_seg_dropped()
        + q.more_unsecured.iter().map(|(r, _)| r.multi_seg_dropped()).sum::<u64>();
}

/// The calling thread's registration with DPDK (an lcore id, so per-lcore
/// mempool caches serve it); unregisters on drop. For threads that are not
/// packet cores but move mbufs at rate, e.g. a traffic generator.
#[derive(Debug)]
pub struct Registration;

impl Registration {
    /// Registers the calling non-EAL thread.
    pub fn new(_eal: &Eal) -> Result<Registration> {
        // SAFETY: the EAL is initialised (we hold &Eal); registering the
        // calling non-EAL thread gives it a free lcore id.
        let rc = unsafe { dpdk_sys::rte_thread_register() };
        if rc != 0 {
            // SAFETY: reads the calling thread's rte_errno.
            return Err(Error::from_errno("rte_thread_register", unsafe {
                dpdk_sys::pspgw_errno()
            }));
        }
        Ok(Registration)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: this thread registered itself in Registration::new.
        unsafe { dpdk_sys::rte_thread_unregister() }
    }
}

fn pin(cpu: u32) -> Result<()> {
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu as usize }) {
        Ok(())
    } else {
        Err(Error::Pin(cpu))
    }
}

/// Runs one packet core per entry of `cpus` until `stop` is set: core 0 on
/// the calling thread (DPDK's main lcore), the others on pinned, registered
/// scoped threads. Returns each core's counters; the handlers keep theirs.
pub fn run<H: BurstHandler<Burst>>(
    eal: &Eal,
    cpus: &[u32],
    queues: Vec<CoreQueues<'_>>,
    handlers: &mut [H],
    backoff: bool,
    stop: &AtomicBool,
) -> Result<Vec<CoreStats>> {
    if cpus.is_empty() || cpus.len() != queues.len() || cpus.len() != handlers.len() {
        return Err(Error::Lcores("one queue set and one handler per CPU are needed"));
    }
    let mut work = cpus.iter().copied().zip(queues).zip(handlers.iter_mut());
    let ((main_cpu, mut main_q), main_h) = work.next().ok_or(Error::Lcores("no CPU"))?;
    std::thread::scope(|scope| {
        let workers: Vec<_> = work
            .map(|((cpu, mut q), h)| {
                scope.spawn(move || -> Result<CoreStats> {
                    let _registration =
                        pin(cpu).and_then(|()| Registration::new(eal)).inspect_err(|_| {
                            // The other cores must not spin on without it.
                            stop.store(true, Ordering::Relaxed);
                        })?;
                    let mut stats = CoreStats { cpu, ..CoreStats::default() };
                    poll_loop(&mut q, h, &mut Backoff::new(backoff), stop, &mut stats);
                    Ok(stats)
                })
            })
            .collect();
        let main = pin(main_cpu).map(|()| {
            let mut stats = CoreStats { cpu: main_cpu, ..CoreStats::default() };
            poll_loop(&mut main_q, main_h, &mut Backoff::new(backoff), stop, &mut stats);
            stats
        });
        // A core that failed to start must not leave the others spinning.
        if main.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let mut all = vec![main];
        for w in workers {
            all.push(w.join().unwrap_or(Err(Error::Lcores("a packet core panicked"))));
        }
        all.into_iter().collect()
    })
}
