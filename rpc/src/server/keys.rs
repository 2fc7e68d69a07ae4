//! The server's SPIs and keys: where they come from ([`SpiKeySource`]:
//! this gateway's own master keys, [`SoftwareKeys`], or a NIC's bulk
//! generator), and the pool that keeps them pre-generated per PSP version
//! and refilled in the background.

use super::lock;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::keygen::{SpiKey, SpiKeyGenerator};
use engine::psp::Version;
use rand_chacha::ChaCha20Rng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Why a key source could not hand out SPIs and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySourceError {
    /// This gateway's own generator ([`SoftwareKeys`]): its SPI space is
    /// exhausted.
    #[error(transparent)]
    Keygen(#[from] engine::psp::keygen::Error),
    /// More SPIs in one bulk than the source can ask for at once.
    #[error("{0} SPIs at once")]
    TooMany(usize),
    /// The key material a source produced is not a key (wrong length).
    #[error(transparent)]
    Key(#[from] engine::psp::kdf::Error),
    /// A device's bulk generator refused (its message).
    #[error("{0}")]
    Device(String),
}

/// Counters of the SPI/key pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Keys taken from the pool.
    pub hits: u64,
    /// Keys a request had to generate inline because the pool ran short.
    pub misses: u64,
}

const CHUNK: usize = 256;

/// Where the server's SPIs and keys come from: this gateway's own master
/// keys ([`SoftwareKeys`], for the software datapath, which derives every
/// receive key from them), or a NIC that keeps its master key to itself
/// and hands out SPI/key bulks (DOCA's
/// `doca_flow_crypto_psp_spi_key_bulk_generate`).
pub trait SpiKeySource: Send + 'static {
    /// Appends `n` fresh SPIs of the active master key, with their keys
    /// for `version`.
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), KeySourceError>;
    /// Rotates the master key: the active one becomes deprecated (its SPIs
    /// keep working), the deprecated one is replaced and becomes active.
    /// Returns the slot now active (bit 31 of its SPIs): the SPIs issued
    /// from it before are invalid from now on.
    fn rotate(&mut self) -> usize;
    /// The master keys, when this source knows them.
    fn masters(&self) -> Option<&MasterKeyPair>;
}

/// SPIs and keys from this gateway's own master keys.
pub struct SoftwareKeys {
    gen: SpiKeyGenerator,
    rng: ChaCha20Rng,
}

impl SoftwareKeys {
    /// Master keys drawn from `rng`, which also draws the rotated ones.
    pub fn new(mut rng: ChaCha20Rng) -> SoftwareKeys {
        SoftwareKeys { gen: SpiKeyGenerator::new(&mut rng), rng }
    }
}

impl SpiKeySource for SoftwareKeys {
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), KeySourceError> {
        Ok(self.gen.bulk_into(version, n, out)?)
    }

    fn rotate(&mut self) -> usize {
        self.gen.rotate(&mut self.rng);
        self.gen.active_slot()
    }

    fn masters(&self) -> Option<&MasterKeyPair> {
        Some(self.gen.masters())
    }
}

pub(super) struct Queues {
    /// The generator's rotation count the queued keys belong to.
    epoch: u64,
    pub(super) ready: [VecDeque<SpiKey>; 4],
}

/// Pre-generated SPIs and keys, per version.
pub(super) struct KeyPool {
    /// The source and its rotation count.
    gen: Mutex<(Box<dyn SpiKeySource>, u64)>,
    pub(super) queues: Mutex<Queues>,
    versions: Vec<Version>,
    target: usize,
    pub(super) wake: Notify,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl KeyPool {
    pub(super) fn new(
        source: Box<dyn SpiKeySource>,
        versions: Vec<Version>,
        target: usize,
    ) -> KeyPool {
        KeyPool {
            gen: Mutex::new((source, 0)),
            queues: Mutex::new(Queues { epoch: 0, ready: Default::default() }),
            versions,
            target,
            wake: Notify::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Tops one version's queue up by at most one chunk; true if any queue
    /// may still need more.
    fn refill_chunk(&self) -> bool {
        for &v in &self.versions {
            let idx = usize::from(v.wire());
            let need = self.target.saturating_sub(lock(&self.queues).ready[idx].len());
            if need == 0 {
                continue;
            }
            let mut chunk = Vec::with_capacity(need.min(CHUNK));
            let epoch = {
                let mut g = lock(&self.gen);
                if let Err(e) = g.0.bulk_into(v, need.min(CHUNK), &mut chunk) {
                    tracing::warn!("SPI pool refill stopped: {e}");
                    return false;
                }
                g.1
            };
            let mut q = lock(&self.queues);
            if q.epoch == epoch {
                q.ready[idx].extend(chunk);
            }
            return true;
        }
        false
    }

    /// Fills every queue to its target, yielding between chunks.
    pub(super) async fn refill(&self) {
        while self.refill_chunk() {
            tokio::task::yield_now().await;
        }
    }

    pub(super) fn fill_now(&self) {
        while self.refill_chunk() {}
    }

    /// `n` SPIs and keys for `version`.
    pub(super) fn take(&self, version: Version, n: usize) -> Result<Vec<SpiKey>, KeySourceError> {
        let idx = usize::from(version.wire());
        let (mut out, left) = {
            let mut q = lock(&self.queues);
            let dq = &mut q.ready[idx];
            let k = n.min(dq.len());
            let out: Vec<SpiKey> = dq.drain(..k).collect();
            (out, dq.len())
        };
        self.hits.fetch_add(out.len() as u64, Ordering::Relaxed);
        if left < self.target / 2 {
            self.wake.notify_one();
        }
        if out.len() < n {
            let short = n - out.len();
            self.misses.fetch_add(short as u64, Ordering::Relaxed);
            lock(&self.gen).0.bulk_into(version, short, &mut out)?;
        }
        Ok(out)
    }

    /// Rotates the master key; `publish` sees the new pair (when the
    /// source knows it) and the invalidated slot before any SPI of the new
    /// key is handed out. Queued keys of the old key are dropped.
    pub(super) fn rotate(&self, publish: impl FnOnce(Option<&MasterKeyPair>, usize)) {
        let mut g = lock(&self.gen);
        let (source, rotations) = &mut *g;
        let slot = source.rotate();
        *rotations += 1;
        publish(source.masters(), slot);
        let mut q = lock(&self.queues);
        q.epoch = *rotations;
        for dq in q.ready.iter_mut() {
            dq.clear();
        }
    }

    pub(super) fn masters(&self) -> Option<MasterKeyPair> {
        lock(&self.gen).0.masters().cloned()
    }

    pub(super) fn epoch(&self) -> u64 {
        lock(&self.queues).epoch
    }

    pub(super) fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}
