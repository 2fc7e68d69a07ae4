//! The startup check that picks an AES-GCM implementation per operation,
//! key size and packet size ([`crate::psp::aead::Policy`]): both are
//! timed on this CPU, on bursts of 32 packets as a packet core meets them,
//! and the faster one wins. It reads the clock, so it lives outside the
//! sans-IO `psp` module. About 10 ms.

use crate::psp::aead::{AeadKey, Impl, Policy, CLASS_SIZES};
use crate::psp::{Version, ICV_LEN};
use core::fmt;
use std::time::{Duration, Instant};

const BURST: usize = 32;
const AAD: usize = 16;
/// Timed bursts per implementation and case; the fastest counts, so a
/// burst that another process interrupted does not.
const ROUNDS: usize = 24;
/// ipsec-mb must be this much faster to replace aws-lc, so that noise
/// alone does not flip a choice.
const MARGIN: f64 = 0.97;

/// What the check measured: ns per packet, `[open][aes256][class][impl]`
/// with implementations in [`Impl::ALL`]'s order (0 where unavailable).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    ns: [[[[f64; 2]; 3]; 2]; 2],
}

impl Measurement {
    /// ns per packet of `i` for one operation, key length (16 or 32) and
    /// size class.
    pub fn ns(&self, open: bool, key_len: usize, class: usize, i: Impl) -> f64 {
        self.ns[usize::from(open)][usize::from(key_len == 32)][class]
            [usize::from(i == Impl::IpsecMb)]
    }
}

impl fmt::Display for Measurement {
    /// `seal/128 64 B: aws-lc 150 ns, ipsec-mb 55 ns; ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (o, op) in ["seal", "open"].iter().enumerate() {
            for (k, bits) in [128, 256].iter().enumerate() {
                for (c, size) in CLASS_SIZES.iter().enumerate() {
                    let [a, b] = self.ns[o][k][c];
                    if !first {
                        f.write_str("; ")?;
                    }
                    first = false;
                    write!(f, "{op}/{bits} {size} B: aws-lc {a:.0} ns, ipsec-mb {b:.0} ns")?;
                }
            }
        }
        Ok(())
    }
}

/// Times both implementations and returns the policy that takes the faster
/// one in each case (aws-lc alone when ipsec-mb is unavailable), with what
/// was measured.
pub fn measure() -> (Policy, Measurement) {
    let mut p = Policy::fixed(Impl::AwsLc);
    let mut m = Measurement { ns: [[[[0.0; 2]; 3]; 2]; 2] };
    let imb = Impl::IpsecMb.available();
    for open in [false, true] {
        for version in [Version::AesGcm128, Version::AesGcm256] {
            let key_len = version.key_len();
            for (class, size) in CLASS_SIZES.into_iter().enumerate() {
                let [aws_ns, imb_ns] = time_pair(version, open, size, imb);
                let cell = &mut m.ns[usize::from(open)][usize::from(key_len == 32)][class];
                *cell = [aws_ns, imb_ns];
                if imb && imb_ns < aws_ns * MARGIN {
                    p.set(open, key_len, class, Impl::IpsecMb);
                }
            }
        }
    }
    (p, m)
}

/// The fastest burst of each implementation, in ns per packet, the two
/// measured in alternation so that both see the same machine.
fn time_pair(version: Version, open: bool, size: usize, imb: bool) -> [f64; 2] {
    let raw = vec![0x5c; version.key_len()];
    let keys: Vec<AeadKey> = Impl::ALL
        .into_iter()
        .filter(|i| *i == Impl::AwsLc || imb)
        .map(|i| AeadKey::with_impl(version, &raw, i).expect("an available implementation"))
        .collect();
    // Sealed packets (AAD | ciphertext | ICV) to open, or to seal over.
    let pristine: Vec<Vec<u8>> = (0..BURST)
        .map(|n| {
            let mut p = vec![n as u8; AAD + size + ICV_LEN];
            let (aad, rest) = p.split_at_mut(AAD);
            let icv = keys[0].seal(nonce(n), aad, &mut rest[..size]);
            rest[size..].copy_from_slice(&icv);
            p
        })
        .collect();
    let mut burst = pristine.clone();
    let mut best = [f64::INFINITY; 2];
    for _ in 0..ROUNDS {
        for (i, key) in keys.iter().enumerate() {
            for (b, p) in burst.iter_mut().zip(&pristine) {
                b.copy_from_slice(p);
            }
            let t0 = Instant::now();
            for (n, p) in burst.iter_mut().enumerate() {
                let (aad, rest) = p.split_at_mut(AAD);
                if open {
                    let ok = key.open(nonce(n), aad, rest).is_ok();
                    debug_assert!(ok);
                } else {
                    std::hint::black_box(key.seal(nonce(n), aad, &mut rest[..size]));
                }
            }
            let t = t0.elapsed();
            best[i] = best[i].min(per_packet(t));
        }
    }
    if !imb {
        best[1] = 0.0;
    }
    best
}

fn per_packet(t: Duration) -> f64 {
    t.as_nanos() as f64 / BURST as f64
}

fn nonce(n: usize) -> [u8; 12] {
    let mut x = [9u8; 12];
    x[4..].copy_from_slice(&(n as u64).to_be_bytes());
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_measures_every_case_and_picks_the_faster() {
        let (p, m) = measure();
        for open in [false, true] {
            for key_len in [16, 32] {
                for (class, size) in CLASS_SIZES.into_iter().enumerate() {
                    let aws = m.ns(open, key_len, class, Impl::AwsLc);
                    let imb = m.ns(open, key_len, class, Impl::IpsecMb);
                    assert!(aws > 0.0 && aws.is_finite(), "{open} {key_len} {size}: {m}");
                    let want = if Impl::IpsecMb.available() && imb < aws * MARGIN {
                        Impl::IpsecMb
                    } else {
                        Impl::AwsLc
                    };
                    assert_eq!(p.get(open, key_len, size), want, "{m}");
                }
            }
        }
        assert_eq!(m.to_string().matches("; ").count(), 11, "{m}");
    }
}
