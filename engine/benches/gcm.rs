//! Raw AES-GCM over bursts of 32 packets: aws-lc-rs per packet (the
//! engine's AEAD until issue 15) against intel-ipsec-mb per packet
//! ([`GcmKey`], a fresh context per call) and over a [`Batch`] (one
//! context for the burst), 64, 512 and 1400-byte payloads with a 16-byte
//! AAD (a PSP header), AES-128 and AES-256, seal and open.
//!
//! Each iteration is one burst; criterion's throughput is payload bytes.
//! Opens get a fresh copy of validly sealed packets each burst (made
//! outside the timed section): a failed open would cost aws-lc a memset
//! of the output and an error-queue push, which no real packet pays.
//!
//! Run: `cargo bench -p engine --bench gcm [-- --warm-up-time 1 --measurement-time 2]`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use engine::dpdk::ipsec_mb::{Batch, GcmKey, TAG_LEN};

const SIZES: [usize; 3] = [64, 512, 1400];
const BURST: usize = 32;
const AAD: usize = 16;

/// 32 packets, each `AAD | payload | tag`.
type Burst = Vec<Vec<u8>>;

fn iv(i: usize) -> [u8; 12] {
    let mut iv = [7u8; 12];
    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
    iv
}

/// A burst of `size`-byte payloads sealed under `key` (tags in place).
fn sealed(key: &GcmKey, size: usize) -> Burst {
    (0..BURST)
        .map(|i| {
            let mut p = vec![i as u8; AAD + size + TAG_LEN];
            let (aad, rest) = p.split_at_mut(AAD);
            let (data, tag) = rest.split_at_mut(size);
            tag.copy_from_slice(&key.seal(&iv(i), aad, data));
            p
        })
        .collect()
}

/// Splits a packet into AAD, payload and tag.
fn parts(p: &mut [u8], size: usize) -> (&[u8], &mut [u8], [u8; TAG_LEN]) {
    let (aad, rest) = p.split_at_mut(AAD);
    let (data, tag) = rest.split_at_mut(size);
    (aad, data, (&*tag).try_into().expect("16-byte tag"))
}

fn gcm(c: &mut Criterion) {
    for open in [false, true] {
        let mut g = c.benchmark_group(if open { "gcm_open" } else { "gcm_seal" });
        for key_len in [16, 32] {
            let raw = vec![0x42u8; key_len];
            let alg = if key_len == 16 { &AES_128_GCM } else { &AES_256_GCM };
            let aws = LessSafeKey::new(UnboundKey::new(alg, &raw).expect("key"));
            let imb = GcmKey::new(&raw).expect("key");
            let bits = key_len * 8;
            for size in SIZES {
                g.throughput(Throughput::Bytes((size * BURST) as u64));
                let input = sealed(&imb, size);
                let id = |name: &str| BenchmarkId::new(format!("{name}/{bits}"), size);
                g.bench_function(id("aws_lc"), |b| {
                    b.iter_batched_ref(
                        || input.clone(),
                        |burst| {
                            for (i, p) in burst.iter_mut().enumerate() {
                                let n = Nonce::assume_unique_for_key(iv(i));
                                let (aad, rest) = p.split_at_mut(AAD);
                                if open {
                                    let r = aws.open_in_place(n, Aad::from(&*aad), rest);
                                    assert!(r.is_ok());
                                } else {
                                    let data = &mut rest[..size];
                                    let tag =
                                        aws.seal_in_place_separate_tag(n, Aad::from(&*aad), data);
                                    black_box(tag.expect("seal").as_ref()[0]);
                                }
                            }
                        },
                        BatchSize::SmallInput,
                    )
                });
                g.bench_function(id("ipsec_mb"), |b| {
                    b.iter_batched_ref(
                        || input.clone(),
                        |burst| {
                            for (i, p) in burst.iter_mut().enumerate() {
                                let (aad, data, tag) = parts(p, size);
                                if open {
                                    assert!(imb.open(&iv(i), aad, data, &tag).is_ok());
                                } else {
                                    black_box(imb.seal(&iv(i), aad, data));
                                }
                            }
                        },
                        BatchSize::SmallInput,
                    )
                });
                g.bench_function(id("ipsec_mb_batch"), |b| {
                    let mut batch = Batch::new();
                    b.iter_batched_ref(
                        || input.clone(),
                        |burst| {
                            for (i, p) in burst.iter_mut().enumerate() {
                                let (aad, data, tag) = parts(p, size);
                                if open {
                                    assert!(batch.open(&imb, &iv(i), aad, data, &tag).is_ok());
                                } else {
                                    black_box(batch.seal(&imb, &iv(i), aad, data));
                                }
                            }
                        },
                        BatchSize::SmallInput,
                    )
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = gcm
}
criterion_main!(benches);
