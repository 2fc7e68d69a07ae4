//! The DPDK datapath's safe wrapper over `dpdk-sys` (feature `dpdk`).
//!
//! This module's FFI files are, with the DOCA backend's device modules,
//! the only homes of `unsafe` code in `engine`: each is declared below
//! with `#[allow(unsafe_code)]` (the crate denies it), and every `unsafe`
//! block states why it is sound. `packets.rs` and `pair.rs` build on them
//! without any.
//!
//! - [`Eal`] / [`EalArgs`] (`eal.rs`): EAL init once per process and
//!   cleanup; a safe default argument list (own file prefix, `--no-huge`
//!   fallback, no PCI, quiet).
//! - [`Mempool`] (`mempool.rs`): packet-mbuf pools.
//! - [`Mbuf`] (`mbuf.rs`): one owned single-segment packet, implementing
//!   [`PacketBuf`](crate::psp::buf::PacketBuf) so that encap and decap run
//!   in place on it; flow metadata accessors (`meta.rs`, [`FlowMetadata`]).
//! - [`Burst`] (`burst.rs`): up to 32 mbufs in a fixed array; the fast path
//!   allocates nothing.
//! - [`Port`] (`port.rs`), [`RxQueue`] / [`TxQueue`] (`queue.rs`): ports by
//!   name, queue setup with RSS, start/stop, MAC, promiscuous mode, counters;
//!   receive and transmit bursts.
//! - [`PoolPackets`] (`packets.rs`): a mempool and the flow metadata
//!   field as [`crate::cores::Packets`], so the cores of
//!   [`crate::cores`] (the pipeline on a packet core, the offload core)
//!   run on mbufs; [`Burst`] is their [`crate::cores::PacketBurst`].
//! - [`PortPair`] (`pair.rs`): the secure and unsecured ports configured
//!   alike, started, and their per-core queues.
//! - [`run_lcores`] / [`poll_loop`] (`lcores.rs`): pinned run-to-completion
//!   packet cores polling both ports in bursts, with idle back-off.
//! - [`set_current_thread_cpus`] / [`control_cpus`] (`affinity.rs`): the
//!   control plane's threads off the packet cores' CPUs.
//! - [`probe_fanout`] / [`StartLock`] (`afpacket.rs`): whether the
//!   af_packet PMD's pid-derived fanout group is free, checked under a
//!   host-wide lock, and the two process calls a restart under a new pid
//!   needs.
//! - [`PortId`], [`QueueId`], [`LcoreId`] (`ids.rs`), [`Error`] (`error.rs`).
//! - [`ipsec_mb`] (feature `ipsec-mb`): intel-ipsec-mb's AES-GCM (the
//!   library of DPDK's AES-GCM crypto PMDs, called directly), the packet
//!   cores' faster AEAD where the CPU favours it; its `ffi.rs` alone holds
//!   unsafe code.
//!
//! Lifetimes: constructors take `&Eal`, queue handles borrow their port,
//! ports keep their pool alive, pools with mbufs out are never freed, and
//! the EAL is not cleaned up while pools or ports are alive.
//!
//! ```no_run
//! use engine::dpdk::{Burst, Eal, EalArgs, Mempool, Port, PortConfig, QueueId};
//! # fn main() -> Result<(), engine::dpdk::Error> {
//! let eal = Eal::init(&EalArgs::new().vdev("net_ring0").build().args)?;
//! let pool = Mempool::new(&eal, "pool", 4095, 256, Mempool::DEFAULT_DATA_ROOM)?;
//! let mut port = Port::by_name(&eal, "net_ring0")?;
//! port.configure(&PortConfig::default(), &pool)?;
//! port.start()?;
//! let (mut rx, mut tx) = (port.rx_queue(QueueId(0))?, port.tx_queue(QueueId(0))?);
//! let mut burst: Burst = Burst::new();
//! rx.rx_burst(&mut burst);
//! tx.tx_burst(&mut burst);
//! burst.clear(); // drops what the device did not take
//! # Ok(()) }
//! ```

#[allow(unsafe_code)]
mod affinity;
#[allow(unsafe_code)]
mod afpacket;
#[allow(unsafe_code)]
mod burst;
#[allow(unsafe_code)]
mod eal;
#[allow(unsafe_code)]
mod error;
#[allow(unsafe_code)]
mod ids;
// Its FFI file alone allows unsafe code (inside the module).
#[cfg(feature = "ipsec-mb")]
pub mod ipsec_mb;
#[allow(unsafe_code)]
mod lcores;
#[allow(unsafe_code)]
mod mbuf;
#[allow(unsafe_code)]
mod mempool;
#[allow(unsafe_code)]
mod meta;
mod packets;
mod pair;
#[allow(unsafe_code)]
mod port;
#[allow(unsafe_code)]
mod queue;

pub use affinity::{
    control_cpus, current_thread_cpus, online_cpus, parse_cpu_list, set_current_thread_cpus,
};
pub use afpacket::{
    fanout_group_id, probe_fanout, send_signal, set_parent_death_signal, FanoutProbe, StartLock,
};
pub use burst::{Burst, BURST_SIZE};
pub use eal::{Eal, EalArgList, EalArgs, Hugepages};
pub use error::{strerror, Error, Result};
pub use ids::{LcoreId, PortId, QueueId};
pub use lcores::{
    poll_loop, run as run_lcores, BurstTimes, CoreQueues, CoreStats, Registration, TIME_ONE_POLL_IN,
};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use meta::FlowMetadata;
pub use packets::PoolPackets;
pub use pair::PortPair;
pub use port::{Port, PortConfig, PortInfo, PortStats};
pub use queue::{RxQueue, TxQueue};

/// The raw bindings, for what the wrapper does not cover yet.
pub use dpdk_sys as sys;
