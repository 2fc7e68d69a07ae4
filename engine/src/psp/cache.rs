//! A bounded cache of expanded receive keys.
//!
//! PSP lets a receiver keep no per-tunnel state: the key of a packet is
//! derived from its SPI. Deriving (two AES blocks) is cheap; expanding the
//! AES-GCM key schedule and GHASH tables is not, so each packet core keeps a
//! fixed-size, direct-mapped cache of expanded keys. Its memory is fixed at
//! creation, whatever the number of tunnels; a miss costs one derivation and
//! one expansion. Entries carry the master key's generation, so a rotation
//! makes stale entries miss instead of decrypting with a dead key.

use super::aead::AeadKey;
use super::decap::KeySource;
use super::kdf::MasterKeyPair;
use super::{Spi, Version};

struct Entry {
    spi: Spi,
    version: Version,
    generation: u64,
    key: AeadKey,
}

/// Direct-mapped cache of expanded keys, indexed by SPI.
pub struct KeyCache {
    slots: Box<[Option<Entry>]>,
    mask: usize,
    hits: u64,
    misses: u64,
}

impl core::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyCache")
            .field("capacity", &self.slots.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl KeyCache {
    /// A cache of `capacity` entries, rounded up to a power of two (min 1).
    pub fn new(capacity: usize) -> KeyCache {
        let cap = capacity.max(1).next_power_of_two();
        KeyCache { slots: (0..cap).map(|_| None).collect(), mask: cap - 1, hits: 0, misses: 0 }
    }

    /// Number of entries.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    fn index(&self, spi: Spi) -> usize {
        // SPIs are sequential per master key: a multiplicative hash spreads
        // both slots' ranges over the table.
        (spi.0.wrapping_mul(0x9e37_79b1) >> 7) as usize & self.mask
    }

    /// The expanded key for `spi` and `version` under `masters`, derived
    /// and cached on a miss.
    pub fn get(&mut self, masters: &MasterKeyPair, spi: Spi, version: Version) -> &AeadKey {
        let i = self.index(spi);
        let generation = masters.generation(spi.key_slot());
        let hit = matches!(&self.slots[i], Some(e)
            if e.spi == spi && e.version == version && e.generation == generation);
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
            let derived = masters.derive(spi, version);
            let key = AeadKey::new(version, &derived)
                .expect("a derived key has the length of its version");
            self.slots[i] = Some(Entry { spi, version, generation, key });
        }
        match &self.slots[i] {
            Some(e) => &e.key,
            None => unreachable!("slot filled above"),
        }
    }

    /// Drops every entry (e.g. when a master key is replaced and memory
    /// should not hold keys of the dead one).
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }
}

/// A [`KeySource`] that derives from master keys through a cache.
#[derive(Debug)]
pub struct CachedKeys<'a> {
    /// The receiver's master keys.
    pub masters: &'a MasterKeyPair,
    /// The cache.
    pub cache: &'a mut KeyCache,
}

impl KeySource for CachedKeys<'_> {
    fn key(&mut self, spi: Spi, version: Version) -> Option<&AeadKey> {
        Some(self.cache.get(self.masters, spi, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psp::kdf::MasterKey;

    #[test]
    fn hits_misses_and_rotation() {
        let mut masters = MasterKeyPair::new(
            MasterKey::from_bytes(&[1; 32]).unwrap(),
            MasterKey::from_bytes(&[2; 32]).unwrap(),
        );
        let mut c = KeyCache::new(3);
        assert_eq!(c.capacity(), 4);
        c.get(&masters, Spi(1), Version::AesGcm128);
        c.get(&masters, Spi(1), Version::AesGcm128);
        assert_eq!(c.stats(), (1, 1));
        // Same SPI, other version: a different key.
        c.get(&masters, Spi(1), Version::AesGcm256);
        assert_eq!(c.stats(), (1, 2));
        c.get(&masters, Spi(0x8000_0001), Version::AesGcm256);
        masters.replace(1, MasterKey::from_bytes(&[3; 32]).unwrap());
        c.get(&masters, Spi(0x8000_0001), Version::AesGcm256);
        assert_eq!(c.stats().1, 4, "rotation invalidates slot-1 entries");
        c.clear();
        c.get(&masters, Spi(1), Version::AesGcm256);
        assert_eq!(c.stats().1, 5);
    }
}
