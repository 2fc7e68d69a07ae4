//! The DOCA backend's key source: SPIs and keys from the device's bulk
//! generator, whose PSP master key never leaves the NIC, and its rotation.

use engine::doca::DocaKeys;
use engine::psp::kdf::MasterKeyPair;
use engine::psp::keygen::SpiKey;
use engine::psp::Version;
use rpc::server::{KeySourceError, SpiKeySource};

/// [`SpiKeySource`] over the device.
pub struct NicKeys {
    keys: DocaKeys,
    /// The slot (bit 31) of the SPIs the device hands out now.
    slot: usize,
}

impl NicKeys {
    /// Over `keys`; the device starts on master key 0.
    pub fn new(keys: DocaKeys) -> NicKeys {
        NicKeys { keys, slot: 0 }
    }
}

impl SpiKeySource for NicKeys {
    fn bulk_into(
        &mut self,
        version: Version,
        n: usize,
        out: &mut Vec<SpiKey>,
    ) -> Result<(), KeySourceError> {
        let n = u32::try_from(n).map_err(|_| KeySourceError::TooMany(n))?;
        let pairs =
            self.keys.generate(n, version).map_err(|e| KeySourceError::Device(e.to_string()))?;
        out.extend(pairs.into_iter().map(|(spi, key)| SpiKey { spi, key }));
        Ok(())
    }

    fn rotate(&mut self) -> usize {
        if let Err(e) = self.keys.rotate_master_key() {
            tracing::error!("device master-key rotation failed: {e}");
            return self.slot ^ 1;
        }
        // The device's new SPIs name the new key: ask it rather than assume.
        self.slot = match self.keys.generate(1, Version::AesGcm128) {
            Ok(p) => p.first().map_or(self.slot ^ 1, |(spi, _)| spi.key_slot()),
            Err(_) => self.slot ^ 1,
        };
        self.slot
    }

    fn masters(&self) -> Option<&MasterKeyPair> {
        None
    }
}
