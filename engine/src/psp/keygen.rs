//! SPI and key generation for a receiver, and master-key rotation.
//!
//! A receiver hands each sender an SPI and the key derived from it; it keeps
//! nothing per SPI, because it can derive the key again from any packet.
//! SPIs are sequential per master key (bit 31 names the key), starting at 1.
//!
//! Rotation follows the PSP spec and DOCA's `RequestKeyRotation`: the slot
//! not in use gets a fresh master key and becomes active, so new SPIs come
//! from it; SPIs of the previously active key keep decrypting (deprecated)
//! until the next rotation replaces that key (invalidated).

use super::kdf::{DerivedKey, MasterKey, MasterKeyPair};
use super::{Spi, Version};

/// Why no SPI could be handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// All 2^31 - 1 SPIs of the active master key are used: rotate.
    #[error("SPI space of master key {slot} exhausted; rotate the master key")]
    Exhausted {
        /// The active slot.
        slot: usize,
    },
}

/// An SPI and its key, as handed to a sender.
#[derive(Debug, Clone)]
pub struct SpiKey {
    /// The SPI.
    pub spi: Spi,
    /// Its key (wiped on drop).
    pub key: DerivedKey,
}

/// The largest SPI counter within one master key's half of the space.
const MAX_COUNTER: u32 = 0x7fff_ffff;

/// Generates SPIs and keys for a receiver and rotates its master keys.
#[derive(Debug)]
pub struct SpiKeyGenerator {
    masters: MasterKeyPair,
    active: usize,
    next: [u32; 2],
    rotations: u64,
}

impl SpiKeyGenerator {
    /// A generator with two fresh master keys from the caller's RNG.
    pub fn new<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> SpiKeyGenerator {
        let pair = MasterKeyPair::new(MasterKey::random(rng), MasterKey::random(rng));
        Self::from_masters(pair)
    }

    /// A generator over given master keys; slot 0 is active.
    pub fn from_masters(masters: MasterKeyPair) -> SpiKeyGenerator {
        SpiKeyGenerator { masters, active: 0, next: [1, 1], rotations: 0 }
    }

    /// The master keys (for the receive side's key derivation).
    pub fn masters(&self) -> &MasterKeyPair {
        &self.masters
    }

    /// The slot new SPIs come from.
    pub fn active_slot(&self) -> usize {
        self.active
    }

    /// Rotations so far.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// SPIs still available under the active key.
    pub fn remaining(&self) -> u32 {
        MAX_COUNTER - (self.next[self.active] - 1)
    }

    /// The next SPI and its key for `version`.
    pub fn next(&mut self, version: Version) -> Result<SpiKey, Error> {
        let slot = self.active;
        let ctr = self.next[slot];
        if ctr > MAX_COUNTER {
            return Err(Error::Exhausted { slot });
        }
        self.next[slot] = ctr + 1;
        let spi = Spi(((slot as u32) << 31) | ctr);
        Ok(SpiKey { spi, key: self.masters.derive(spi, version) })
    }

    /// `count` SPIs and keys at once (all or nothing), appended to `out` so
    /// a caller can reuse one allocation for its bulks.
    pub fn bulk_into(
        &mut self,
        version: Version,
        count: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), Error> {
        if count as u64 > u64::from(self.remaining()) {
            return Err(Error::Exhausted { slot: self.active });
        }
        out.reserve(count);
        for _ in 0..count {
            out.push(self.next(version)?);
        }
        Ok(())
    }

    /// `count` SPIs and keys at once (all or nothing).
    pub fn bulk(&mut self, version: Version, count: usize) -> Result<Vec<SpiKey>, Error> {
        let mut v = Vec::new();
        self.bulk_into(version, count, &mut v)?;
        Ok(v)
    }

    /// Rotates to a fresh master key from `rng`.
    pub fn rotate<R: rand_core::CryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.rotate_to(MasterKey::random(rng));
    }

    /// Rotates to `key`: the inactive slot (whose SPIs were deprecated and
    /// now become invalid) takes it and becomes active, restarting its SPIs
    /// at 1; the previously active slot's SPIs become deprecated.
    pub fn rotate_to(&mut self, key: MasterKey) {
        let slot = self.active ^ 1;
        self.masters.replace(slot, key);
        self.next[slot] = 1;
        self.active = slot;
        self.rotations += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn sequential_spis_with_derivable_keys() {
        let mut g = SpiKeyGenerator::new(&mut ChaCha20Rng::seed_from_u64(1));
        let a = g.next(Version::AesGcm128).unwrap();
        let b = g.next(Version::AesGcm256).unwrap();
        assert_eq!((a.spi, b.spi), (Spi(1), Spi(2)));
        assert_eq!(a.key.len(), 16);
        assert_eq!(b.key.len(), 32);
        assert_eq!(g.masters().derive(b.spi, Version::AesGcm256).as_bytes(), b.key.as_bytes());
        let bulk = g.bulk(Version::AesGcm128, 100).unwrap();
        assert_eq!(bulk.len(), 100);
        assert_eq!(bulk[0].spi, Spi(3));
        assert_eq!(bulk[99].spi, Spi(102));
    }

    #[test]
    fn seeded_generators_agree() {
        let mut g1 = SpiKeyGenerator::new(&mut ChaCha20Rng::seed_from_u64(9));
        let mut g2 = SpiKeyGenerator::new(&mut ChaCha20Rng::seed_from_u64(9));
        let (a, b) = (g1.next(Version::AesGcm256).unwrap(), g2.next(Version::AesGcm256).unwrap());
        assert_eq!(a.key.as_bytes(), b.key.as_bytes());
    }

    #[test]
    fn rotation_deprecates_then_invalidates() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut g = SpiKeyGenerator::new(&mut rng);
        let old = g.next(Version::AesGcm256).unwrap();
        assert_eq!(old.spi.key_slot(), 0);
        g.rotate(&mut rng);
        assert_eq!(g.active_slot(), 1);
        let new = g.next(Version::AesGcm256).unwrap();
        assert_eq!(new.spi, Spi(0x8000_0001), "top bit flips, counter restarts");
        // Deprecated: still derives the same key.
        assert_eq!(g.masters().derive(old.spi, Version::AesGcm256).as_bytes(), old.key.as_bytes());
        g.rotate(&mut rng);
        // Invalidated: slot 0 has a new key now.
        assert_ne!(g.masters().derive(old.spi, Version::AesGcm256).as_bytes(), old.key.as_bytes());
        assert_eq!(g.masters().derive(new.spi, Version::AesGcm256).as_bytes(), new.key.as_bytes());
        assert_eq!(g.next(Version::AesGcm128).unwrap().spi, Spi(1));
        assert_eq!(g.rotations(), 2);
    }

    #[test]
    fn exhaustion_is_an_error_not_a_wrap() {
        let mut g = SpiKeyGenerator::new(&mut ChaCha20Rng::seed_from_u64(3));
        g.next = [MAX_COUNTER, 1];
        assert_eq!(g.remaining(), 1);
        assert!(g.bulk(Version::AesGcm128, 2).is_err());
        assert_eq!(g.next(Version::AesGcm128).unwrap().spi, Spi(MAX_COUNTER));
        assert_eq!(g.next(Version::AesGcm128).unwrap_err(), Error::Exhausted { slot: 0 });
        g.rotate(&mut ChaCha20Rng::seed_from_u64(4));
        assert!(g.next(Version::AesGcm128).is_ok());
    }
}
