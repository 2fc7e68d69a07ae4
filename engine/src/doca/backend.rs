//! [`DocaFlowBackend`]: the flow programmer's [`FlowBackend`] on DOCA Flow.
//!
//! The backend translates each commit with [`Translator`] and applies the
//! steps with DOCA 3.x `doca_flow_*` calls from the flow-programmer thread
//! on pipe queue 0: key slots (`doca_flow_port_shared_resource_get` at
//! start, in the port resource mode) programmed with
//! `doca_flow_port_shared_resource_set_cfg`
//! (the raw key travels with the tunnel's [`TableOp::SetTunnel`] as a
//! [`crate::tables::HwKey`] and reaches the slot as a
//! [`super::translate::PspKeyCfg`]),
//! entries added, updated and removed (`doca_flow_pipe_basic_add_entry`
//! with the entry's `action_idx`, `_control_add_entry`,
//! `_basic_update_entry`, `_remove_entry`) with
//! `DOCA_FLOW_ENTRY_FLAGS_WAIT_FOR_BATCH` and pushed to the hardware in one
//! `doca_flow_entries_process` per flush; the entry-process callback counts
//! the entries the hardware refused.
//!
//! The FFI code (`mod hw`) is always compiled, so it type-checks against
//! whatever `doca-sys` bound (the SDK's headers, or the project's minimal
//! declaration file). It is only ever *called* through the `hw_*` functions
//! defined under [`doca_sys::sdk_only!`]; without the SDK those functions
//! return [`DocaError::NoSdk`] and `mod hw` is dead code that is never
//! generated, so nothing references a DOCA symbol and nothing is linked.

use super::apply::Applier;
use super::counters::{NicCounterReader, NicCounters};
use super::translate::PipeId;
use super::translate::{DocaPorts, EntryKey, TranslateError, Translator};
use crate::flows::{BackendFailure, FlowBackend};
use crate::pipeline::stats::Counter;
use crate::pipeline::PipelineConfig;
use crate::psp::kdf::DerivedKey;
use crate::psp::{Spi, Version};
use crate::tables::TableOp;
use std::time::{Duration, Instant};

/// Why the DOCA backend cannot start or apply a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocaError {
    /// This build has no DOCA SDK (doca-sys bound its declaration file).
    #[error("DOCA SDK not present in this build")]
    NoSdk,
    /// The configuration or a change cannot be expressed in DOCA Flow.
    #[error(transparent)]
    Translate(#[from] TranslateError),
    /// A DOCA call failed.
    #[error("{call}: {descr} (doca_error_t {code})")]
    Call {
        /// The function.
        call: &'static str,
        /// Its `doca_error_t`.
        code: u32,
        /// `doca_error_get_descr`.
        descr: String,
    },
    /// No DOCA device has this PCI address.
    #[error("no DOCA device at PCI address {0}")]
    NoDevice(String),
    /// Entries still in process, or failed, after `doca_flow_entries_process`.
    #[error("{0} flow entries failed or timed out")]
    Entries(usize),
    /// A commit failed and undoing its NIC steps failed too: the NIC may
    /// hold part of it.
    #[error("{cause}; undoing the commit's NIC steps failed {failed} times")]
    Rollback {
        /// Why the commit failed.
        cause: Box<DocaError>,
        /// Undo steps that failed.
        failed: usize,
    },
    /// The translation asks for something this DOCA release cannot do.
    #[error("not supported on DOCA 3.x: {0}")]
    Unsupported(&'static str),
}

/// What the DOCA backend needs to start.
#[derive(Debug, Clone)]
pub struct DocaConfig {
    /// The pipeline options (the same as the software backend's).
    pub pipeline: PipelineConfig,
    /// Port ids and MACs.
    pub ports: DocaPorts,
    /// PCI address of the secure port's device (`-p`).
    pub pci: String,
    /// RSS queues of the control plane (0..n).
    pub rss_queues: u16,
}

/// The DOCA Flow backend.
#[derive(Debug)]
pub struct DocaFlowBackend {
    translator: Translator,
    applier: Applier,
    /// The fixed entries' keys and the counters they feed.
    static_counters: Vec<(EntryKey, &'static str)>,
    /// The pipes that count their misses.
    miss_counters: Vec<PipeId>,
    counters: NicCounterReader,
    /// How often [`FlowBackend::tick`] reads them (`None`: never).
    counter_interval: Option<Duration>,
    last_read: Option<Instant>,
    version: u64,
    failures: u64,
    last_error: Option<DocaError>,
    hw: hw::Hw,
}

impl DocaFlowBackend {
    /// Initializes DOCA Flow (`switch,hws,isolated,expert`, port resource
    /// mode, the entry-process callback), starts the ports, takes the key
    /// slots, and creates every pipe with its fixed entries. Without the SDK: [`DocaError::NoSdk`], before any
    /// DOCA call.
    pub fn new(cfg: DocaConfig) -> Result<DocaFlowBackend, DocaError> {
        if !doca_sys::SDK_PRESENT {
            return Err(DocaError::NoSdk);
        }
        let translator = Translator::new(cfg.pipeline, cfg.ports)?;
        let hw = hw_start(&cfg, &translator)?;
        let static_counters =
            translator.static_entries().into_iter().map(|e| (e.key, e.counter)).collect();
        let miss_counters =
            translator.pipes().into_iter().filter(|p| p.miss_counter).map(|p| p.id).collect();
        Ok(DocaFlowBackend {
            translator,
            applier: Applier::new(),
            static_counters,
            miss_counters,
            counters: NicCounterReader::default(),
            counter_interval: None,
            last_read: None,
            version: 0,
            failures: 0,
            last_error: None,
            hw,
        })
    }

    /// Generates `n` SPI/key pairs on the device
    /// (`doca_flow_crypto_psp_spi_key_bulk_generate`), wiping the device's
    /// copies once read.
    pub fn generate_spi_keys(
        &self,
        n: u32,
        version: Version,
    ) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        hw_spi_keys(&self.hw, n, version)
    }

    /// The device's SPI/key generator and master-key rotation, for the
    /// gRPC side while the flow programmer owns this backend.
    pub fn keys(&self) -> DocaKeys {
        DocaKeys { hw: self.hw.key_handle() }
    }

    /// The hardware counter of an entry.
    pub fn counter(&self, key: EntryKey) -> Result<Counter, DocaError> {
        hw_query(&self.hw, key)
    }

    /// Where the NIC's counters appear (`--stat-print`), read by the
    /// backend's thread every `interval` (`None`, the default: never; the
    /// gateway asks for [`COUNTER_INTERVAL`] with `--stat-print`).
    pub fn counter_reader(&mut self, interval: Option<Duration>) -> NicCounterReader {
        self.counter_interval = interval;
        self.counters.clone()
    }

    /// Reads every entry's and pipe miss's counter now, and publishes it.
    pub fn read_counters(&mut self) -> NicCounters {
        let entries = self
            .static_counters
            .iter()
            .copied()
            .chain(self.applier.entries().map(|e| (e.key, e.counter)));
        let n = hw_counters(&self.hw, entries, &self.miss_counters);
        self.counters.publish(n.clone());
        self.last_read = Some(Instant::now());
        n
    }

    /// Commits whose hardware steps failed, and the last error.
    pub fn failures(&self) -> (u64, Option<&DocaError>) {
        (self.failures, self.last_error.as_ref())
    }
}

/// SPIs and keys from the device (`doca_flow_crypto_psp_spi_key_bulk_*`),
/// whose PSP master key never leaves the NIC, and its rotation
/// (`doca_flow_crypto_psp_master_key_rotate`). Calls are serialized.
#[derive(Debug, Clone)]
pub struct DocaKeys {
    hw: hw::KeyHandle,
}

impl DocaKeys {
    /// `n` SPI/key pairs of the active master key, for `version`.
    pub fn generate(&self, n: u32, version: Version) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        hw_handle_spi_keys(&self.hw, n, version)
    }

    /// Rotates the device's master key.
    pub fn rotate_master_key(&self) -> Result<(), DocaError> {
        hw_handle_rotate(&self.hw)
    }
}

impl FlowBackend for DocaFlowBackend {
    /// Hardware takes a batch whenever it comes.
    fn ready(&mut self) -> bool {
        true
    }

    /// Translates and applies synchronously (the flush waits for the
    /// hardware), so the version is visible when this returns. A failed
    /// step fails the commit: the programmer takes its batches back and
    /// the control plane sees the error. It is also counted in
    /// [`failures`](DocaFlowBackend::failures). The steps of the commit
    /// applied before the failing one are undone on the NIC and the
    /// translator's state is put back ([`super::apply`]).
    fn commit(&mut self, ops: &[TableOp]) -> Result<u64, BackendFailure> {
        let r = hw_commit(&mut self.hw, &mut self.translator, &mut self.applier, ops);
        match r {
            Ok(()) => {
                self.version += 1;
                Ok(self.version)
            }
            Err(e) => {
                self.failures += 1;
                let failure = BackendFailure(e.to_string());
                self.last_error = Some(e);
                Err(failure)
            }
        }
    }

    fn visible_version(&self) -> u64 {
        self.version
    }

    /// Reads the NIC's counters when asked to and the last reading is
    /// older than the interval (on this thread, which owns the entries).
    fn tick(&mut self) {
        let Some(every) = self.counter_interval else { return };
        if self.last_read.is_none_or(|t| t.elapsed() >= every) {
            self.read_counters();
        }
    }
}

/// How often the backend reads the NIC's counters.
pub const COUNTER_INTERVAL: Duration = Duration::from_secs(1);

doca_sys::sdk_only! {
    fn hw_start(cfg: &DocaConfig, t: &Translator) -> Result<hw::Hw, DocaError> {
        hw::Hw::start(cfg, t)
    }
    fn hw_commit(
        h: &mut hw::Hw,
        t: &mut Translator,
        a: &mut Applier,
        ops: &[TableOp],
    ) -> Result<(), DocaError> {
        h.begin();
        super::apply::commit(t, a, h, ops)
    }
    fn hw_spi_keys(h: &hw::Hw, n: u32, v: Version) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        h.spi_keys(n, v)
    }
    fn hw_query(h: &hw::Hw, key: EntryKey) -> Result<Counter, DocaError> {
        h.query(key)
    }
    fn hw_handle_spi_keys(
        h: &hw::KeyHandle,
        n: u32,
        v: Version,
    ) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        h.spi_keys(n, v)
    }
    fn hw_handle_rotate(h: &hw::KeyHandle) -> Result<(), DocaError> {
        h.rotate()
    }
    fn hw_counters(
        h: &hw::Hw,
        entries: impl Iterator<Item = (EntryKey, &'static str)>,
        misses: &[PipeId],
    ) -> NicCounters {
        NicCounters::collect(h, entries, misses.iter().copied())
    }
}

doca_sys::without_sdk! {
    fn hw_start(_: &DocaConfig, _: &Translator) -> Result<hw::Hw, DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_commit(
        _: &mut hw::Hw,
        _: &mut Translator,
        _: &mut Applier,
        _: &[TableOp],
    ) -> Result<(), DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_spi_keys(_: &hw::Hw, _: u32, _: Version) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_query(_: &hw::Hw, _: EntryKey) -> Result<Counter, DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_handle_spi_keys(
        _: &hw::KeyHandle,
        _: u32,
        _: Version,
    ) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_handle_rotate(_: &hw::KeyHandle) -> Result<(), DocaError> {
        Err(DocaError::NoSdk)
    }
    fn hw_counters(
        _: &hw::Hw,
        _: impl Iterator<Item = (EntryKey, &'static str)>,
        _: &[PipeId],
    ) -> NicCounters {
        NicCounters::default()
    }
}

/// The FFI: type-checked in every build, called only with the SDK.
// The declaration file declares fewer struct members than the SDK (so
// `..Default::default()` may look needless) and its own enum types (so a
// cast to u32 may look redundant); both are needed against the real headers.
#[allow(unsafe_code, dead_code, clippy::needless_update, clippy::unnecessary_cast)]
#[path = "hw.rs"]
mod hw;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MacAddr;

    fn cfg() -> DocaConfig {
        DocaConfig {
            pipeline: PipelineConfig::default(),
            ports: DocaPorts {
                secure: 0,
                unsecured: 1,
                secure_mac: MacAddr([2, 0, 0, 0, 0, 1]),
                unsecured_mac: MacAddr([2, 0, 0, 0, 0, 2]),
                next_hop_mac: MacAddr([2, 0, 0, 0, 0, 3]),
            },
            pci: "0000:03:00.0".to_owned(),
            rss_queues: 1,
        }
    }

    #[test]
    fn without_the_sdk_new_says_so() {
        if doca_sys::SDK_PRESENT {
            return;
        }
        let e = DocaFlowBackend::new(cfg()).unwrap_err();
        assert_eq!(e, DocaError::NoSdk);
        assert_eq!(e.to_string(), "DOCA SDK not present in this build");
    }
}
