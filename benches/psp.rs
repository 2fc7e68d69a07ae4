//! Criterion benches of the PSP core.
//!
//! - `kdf`: key derivation (keys/s) and derivation plus AES-GCM key
//!   expansion (the cost of a receive-key cache miss).
//! - `keygen`: bulk SPI+key generation, 1024 per bulk.
//! - `aead_seal` / `aead_open` / `encap` / `decap`: 64, 256, 512 and
//!   1400-byte inner IP packets, in bytes/s. `aead_seal` and `aead_open`
//!   are the raw AES-GCM operations on the same bytes with a 16-byte AAD, so
//!   `encap / aead_seal` and `decap / aead_open` are the cost of PSP
//!   framing. Buffers are prepared outside the timed section in bursts of
//!   32, laid out as in a DPDK mbuf (64-byte-aligned frame start, 128 bytes
//!   of headroom).
//!
//! Run: `cargo bench --bench psp` (add `-- encap` to filter).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
use criterion::{black_box, criterion_group, criterion_main, Bencher, Criterion, Throughput};
use engine::psp::aead::AeadKey;
use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use engine::psp::keygen::SpiKeyGenerator;
use engine::psp::{Mode, Spi, Version};
use engine::wire::{ipv4_emit, udp_emit, MacAddr};
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [64, 256, 512, 1400];
/// Packets a core takes from one rx burst.
const BURST: usize = 32;

/// Times `routine` over bursts of 32 inputs that `setup` makes outside the
/// timed section, the way a packet core meets an rx burst: 32 buffers, hot
/// in cache, each handled once.
fn bursts<I, O>(
    b: &mut Bencher<'_>,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(&mut I) -> O,
) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        let mut left = iters;
        let mut burst: Vec<I> = Vec::with_capacity(BURST);
        while left > 0 {
            let n = left.min(BURST as u64) as usize;
            burst.clear();
            burst.extend((0..n).map(|_| setup()));
            let start = Instant::now();
            for input in burst.iter_mut() {
                black_box(routine(input));
            }
            total += start.elapsed();
            left -= n as u64;
        }
        total
    })
}
const VERSIONS: [Version; 2] = [Version::AesGcm128, Version::AesGcm256];

fn masters() -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[0x11; 32]).expect("32 bytes"),
        MasterKey::from_bytes(&[0x22; 32]).expect("32 bytes"),
    )
}

/// An Ethernet frame whose IPv4/UDP packet is `ip_len` bytes.
fn frame(ip_len: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + ip_len];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    ipv4_emit(
        &mut f[14..],
        "192.168.1.1".parse().expect("addr"),
        "192.168.1.2".parse().expect("addr"),
        17,
        0,
        64,
        ip_len as u16,
    );
    udp_emit(&mut f[34..], 1234, 5678, (ip_len - 20) as u16);
    f
}

/// A buffer like a DPDK mbuf's: 128 bytes of headroom and a 64-byte
/// aligned frame start.
fn mbuf_like(frame: &[u8]) -> VecBuf {
    mbuf_like_at(frame, 128)
}

/// `frame` at a 64-byte-aligned address with `headroom` bytes before it.
fn mbuf_like_at(frame: &[u8], headroom: usize) -> VecBuf {
    VecBuf::with_room_aligned(frame, headroom, 64, 64)
}

fn encapsulator(version: Version, masters: &MasterKeyPair) -> Encapsulator {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version,
        spi: Spi(0x42),
        crypt_offset: 0,
        vc: None,
        eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
        outer: OuterIp::V6 {
            src: "fd00::1".parse().expect("addr"),
            dst: "fd00::2".parse().expect("addr"),
        },
        ttl: 64,
    };
    Encapsulator::new(cfg, &masters.derive(Spi(0x42), version)).expect("valid config")
}

fn kdf(c: &mut Criterion) {
    let m = masters();
    let mut g = c.benchmark_group("kdf");
    g.throughput(Throughput::Elements(1));
    for v in VERSIONS {
        let mut spi = 0u32;
        g.bench_function(format!("derive/{}", v.wire()), |b| {
            b.iter(|| {
                spi = spi.wrapping_add(1);
                black_box(m.derive(Spi(spi), v))
            })
        });
        g.bench_function(format!("derive_and_expand/{}", v.wire()), |b| {
            b.iter(|| {
                spi = spi.wrapping_add(1);
                black_box(AeadKey::new(v, &m.derive(Spi(spi), v)).expect("valid key"))
            })
        });
    }
    g.finish();
}

fn keygen(c: &mut Criterion) {
    let mut g = c.benchmark_group("keygen");
    g.throughput(Throughput::Elements(1024));
    for v in VERSIONS {
        let mut gen = SpiKeyGenerator::from_masters(masters());
        let mut out = Vec::with_capacity(1024);
        g.bench_function(format!("bulk1024/{}", v.wire()), |b| {
            b.iter(|| {
                out.clear();
                if gen.remaining() < 1024 {
                    gen.rotate_to(MasterKey::from_bytes(&[0x33; 32]).expect("32 bytes"));
                }
                gen.bulk_into(v, 1024, &mut out).expect("SPIs available");
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// Raw AES-GCM seal of `size` bytes in place. `aead_seal/aligned` seals a
/// 64-byte-aligned region; `aead_seal/frame` seals the bytes where a PSP
/// tunnel frame has them (Ethernet + IPv6 + UDP + PSP = 78 bytes after a
/// 64-byte-aligned frame start, as in a DPDK mbuf), so the comparison with
/// `encap` isolates the cost of framing from that of alignment.
fn aead_seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("aead_seal");
    for v in VERSIONS {
        let alg = if v == Version::AesGcm128 { &AES_128_GCM } else { &AES_256_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; v.key_len()]).expect("key"));
        for (name, at) in [("aligned", 0usize), ("frame", 78)] {
            for size in SIZES {
                g.throughput(Throughput::Bytes(size as u64));
                let aad = [0u8; 16];
                g.bench_function(format!("{name}/v{}/{size}", v.wire()), |b| {
                    bursts(
                        b,
                        || AlignedBuf::new(at + size + 16),
                        |buf| {
                            let region = &mut buf.bytes_mut()[at..];
                            let tag = key
                                .seal_in_place_separate_tag(
                                    Nonce::assume_unique_for_key([1; 12]),
                                    Aad::from(&aad[..]),
                                    &mut region[..size],
                                )
                                .expect("seal");
                            region[size..].copy_from_slice(tag.as_ref());
                        },
                    )
                });
            }
        }
    }
    g.finish();
}

/// Raw AES-GCM open (verify and decrypt) of `size` bytes at the frame
/// offset: the baseline of `decap`.
fn aead_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("aead_open");
    const AT: usize = 78;
    for v in VERSIONS {
        let alg = if v == Version::AesGcm128 { &AES_128_GCM } else { &AES_256_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; v.key_len()]).expect("key"));
        let aad = [0u8; 16];
        for size in SIZES {
            let mut sealed = vec![0u8; size + 16];
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([1; 12]),
                    Aad::from(&aad[..]),
                    &mut sealed[..size],
                )
                .expect("seal");
            sealed[size..].copy_from_slice(tag.as_ref());
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(format!("frame/v{}/{size}", v.wire()), |b| {
                bursts(
                    b,
                    || {
                        let mut buf = AlignedBuf::new(AT + size + 16);
                        buf.bytes_mut()[AT..].copy_from_slice(&sealed);
                        buf
                    },
                    |buf| {
                        key.open_in_place(
                            Nonce::assume_unique_for_key([1; 12]),
                            Aad::from(&aad[..]),
                            &mut buf.bytes_mut()[AT..],
                        )
                        .expect("open")
                        .len()
                    },
                )
            });
        }
    }
    g.finish();
}

/// A zeroed buffer whose first byte is 64-byte aligned, like an mbuf's.
struct AlignedBuf {
    storage: Vec<u8>,
    at: usize,
    len: usize,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let storage = vec![0u8; len + 64];
        let at = storage.as_ptr().align_offset(64);
        AlignedBuf { storage, at, len }
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.at..self.at + self.len]
    }
}

fn encap(c: &mut Criterion) {
    let m = masters();
    let mut g = c.benchmark_group("encap");
    for v in VERSIONS {
        let enc = encapsulator(v, &m);
        for size in SIZES {
            let f = frame(size);
            g.throughput(Throughput::Bytes(size as u64));
            let mut iv = 0u64;
            g.bench_function(format!("v{}/{size}", v.wire()), |b| {
                bursts(
                    b,
                    || mbuf_like(&f),
                    |buf| {
                        iv += 1;
                        enc.encap(buf, iv, false).expect("encap")
                    },
                )
            });
        }
    }
    g.finish();
}

fn decap_bench(c: &mut Criterion) {
    let m = masters();
    let mut g = c.benchmark_group("decap");
    for v in VERSIONS {
        let enc = encapsulator(v, &m);
        let mut cache = KeyCache::new(1024);
        for size in SIZES {
            let mut b0 = VecBuf::new(&frame(size));
            enc.encap(&mut b0, 1, false).expect("encap");
            let pkt = b0.data().to_vec();
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(format!("v{}/{size}", v.wire()), |b| {
                bursts(
                    b,
                    || mbuf_like_at(&pkt, 64),
                    |buf| {
                        let mut keys = CachedKeys { masters: &m, cache: &mut cache };
                        decap(buf, &mut keys, DecapOptions::default()).expect("decap")
                    },
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = kdf, keygen, aead_seal, aead_open, encap, decap_bench
}
criterion_main!(benches);
