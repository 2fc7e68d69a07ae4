//! The psp-gateway engine.
//!
//! Every module here but `dpdk` and `doca` is sans-IO: it takes bytes,
//! keys, IVs and randomness from the caller and touches no socket, clock, mbuf
//! or global RNG, so the same code runs in `psptool`, in tests on virtual time
//! and on the DPDK packet cores.
//!
//! - [`wire`]: zero-copy views of the Ethernet, IPv4, IPv6 and UDP headers.
//! - [`config`]: port specs (`-p`, `-r`), core mask (`-m`) and idle
//!   back-off of the packet cores, parsed and decided without DPDK.
//! - [`pcap`]: classic pcap files over bytes, for tools and tests.
//! - [`psp`]: the PSP protocol core (header, KDF, AEAD, encap/decap, keys).
//! - [`tables`]: the match tables (egress and ingress ACLs) and their
//!   replica; the pipeline reads them, flows write them.
//! - [`pipeline`]: the software match-action pipeline (DOCA Flow's pipes)
//!   a packet core runs, with its counters.
//! - [`tunnels`]: the tunnel manager (miss, hold, request, install,
//!   resubmit; retries, re-keying), a state machine on virtual time.
//! - [`flows`]: the flow programmer that alone writes the [`tables`] and
//!   publishes them to the cores; held packets on a miss.
//! - [`cores`]: what a packet core does with each burst (the pipeline, or
//!   the offload core's RSS traffic) and its rings to the control plane,
//!   over any packet buffer; the one builder of the software datapath.
//!   Its one clock read, once per 4096 polls, paces counter snapshots.
//! - [`aead_check`]: the startup measurement that picks aws-lc or
//!   intel-ipsec-mb per operation and packet size (reads the clock).
//!
//! Not sans-IO, and the only homes of `unsafe` code (each block says why
//! it is sound):
//!
//! - `dpdk` (feature `dpdk`, on by default): the safe DPDK wrapper (EAL,
//!   mempools, mbufs as [`psp::buf::PacketBuf`] and as the [`cores`]'
//!   packets, ports, bursts, the pinned poll loop).
//! - `doca` (feature `doca`, off by default): the DOCA Flow backend, the
//!   same pipeline offloaded to BlueField/ConnectX (see `doca-sys`); only
//!   its device modules hold FFI, the translation to pipes is sans-IO.

pub mod aead_check;
pub mod config;
pub mod cores;
#[cfg(feature = "doca")]
pub mod doca;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod flows;
pub mod pcap;
pub mod pipeline;
pub mod psp;
pub mod tables;
#[cfg(test)]
mod testkit;
pub mod tunnels;
pub mod wire;
