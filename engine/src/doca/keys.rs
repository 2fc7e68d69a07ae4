//! Key slots: the image of a PSP key as DOCA's shared resource takes it
//! ([`PspKeyCfg`], wiped on drop) and the `crypto_id` allocator
//! ([`CryptoIds`]).

use core::fmt;
use zeroize::Zeroizing;

/// DOCA's key sizes (`enum doca_flow_crypto_key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBits {
    /// `DOCA_FLOW_CRYPTO_KEY_128` (PSP versions 0 and 2).
    K128,
    /// `DOCA_FLOW_CRYPTO_KEY_256` (PSP versions 1 and 3).
    K256,
}

/// What `doca_flow_port_shared_resource_set_cfg(port, DOCA_FLOW_SHARED_RESOURCE_PSP,
/// crypto_id, cfg)` writes into a key slot: `cfg.psp_cfg.key_cfg`, its key
/// type and the `uint32_t` words its `key` member points to.
///
/// DOCA takes the key as bytes in memory order: the DOCA application copies
/// the bytes it receives over gRPC straight into these words, and hands out
/// the words of `doca_flow_crypto_psp_spi_key_bulk_get` as bytes. So word
/// `i` holds key bytes `4i..4i+4` in native byte order. Wiped on drop,
/// redacted in `Debug`.
#[derive(Clone)]
pub struct PspKeyCfg {
    bits: KeyBits,
    words: Zeroizing<[u32; 8]>,
}

impl PspKeyCfg {
    /// The slot image of a 16- or 32-byte key; `None` for other lengths.
    pub fn new(key: &[u8]) -> Option<PspKeyCfg> {
        let bits = match key.len() {
            16 => KeyBits::K128,
            32 => KeyBits::K256,
            _ => return None,
        };
        let mut words = Zeroizing::new([0u32; 8]);
        for (w, c) in words.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
        }
        Some(PspKeyCfg { bits, words })
    }

    /// `key_cfg.key_type`.
    pub fn bits(&self) -> KeyBits {
        self.bits
    }

    /// The words `key_cfg.key` points to (4 or 8 of them; the array
    /// behind them is always 8 long, zero-padded).
    pub fn words(&self) -> &[u32] {
        let n = match self.bits {
            KeyBits::K128 => 4,
            KeyBits::K256 => 8,
        };
        &self.words[..n]
    }

    /// A wiped-on-drop copy of all 8 words, for the FFI call (which wants a
    /// mutable pointer).
    pub fn words_copy(&self) -> Zeroizing<[u32; 8]> {
        self.words.clone()
    }
}

/// Compares without an early exit (test use; keys are never compared on a
/// path an attacker can time, but there is no reason to leak either).
impl PartialEq for PspKeyCfg {
    fn eq(&self, other: &PspKeyCfg) -> bool {
        let diff = self.words.iter().zip(other.words.iter()).fold(0u32, |d, (a, b)| d | (a ^ b));
        self.bits == other.bits && diff == 0
    }
}

impl Eq for PspKeyCfg {}

impl fmt::Debug for PspKeyCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PspKeyCfg({:?}, <redacted>)", self.bits)
    }
}

/// The key-slot allocator: `crypto_id`s 1..=n, freed ones reused first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoIds {
    free: Vec<u32>,
    next: u32,
    max: u32,
}

impl CryptoIds {
    /// Slots 1..=`max`.
    pub fn new(max: u32) -> CryptoIds {
        CryptoIds { free: Vec::new(), next: 1, max }
    }

    /// A free slot, the most recently freed first.
    pub fn alloc(&mut self) -> Option<u32> {
        self.free.pop().or_else(|| {
            (self.next <= self.max).then(|| {
                self.next += 1;
                self.next - 1
            })
        })
    }

    /// Gives a slot back.
    pub fn release(&mut self, id: u32) {
        self.free.push(id);
    }

    /// How many slots there are.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Every slot, to bind to the secure port at start.
    pub fn all(&self) -> impl Iterator<Item = u32> {
        1..=self.max
    }
}
