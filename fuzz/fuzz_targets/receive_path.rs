//! The whole receive path: one packet core's `LcorePipeline` (root,
//! egress ACL and encap, decrypt, VC check, ingress ACL, counters) with
//! tables holding a few tunnels and ACL pairs, fed from either port.
//!
//! The first input byte picks what the rest means:
//! - `sel % 4 == 0`: a raw frame, run from the secure port, the unsecured
//!   port and the control plane (RSS);
//! - `1` or `3`: a valid PSP packet from one of five peers (chosen version,
//!   crypt offset, cookie, inner packet and inner source), then mutated:
//!   truncated, bits flipped, version / crypt offset / VC / SPI / next
//!   header set, lengths fixed up, bytes appended;
//! - `2`: a clear frame from the host to a tunnel (or to no tunnel),
//!   mutated the same way.
//!
//! The second byte is the pipeline configuration (cookie expected, ACL
//! off, sampling, outer IPv4, decap MAC, small max frame length).
//!
//! Invariants: no panic; one verdict per packet, counted once (the drop
//! reason's own counter, or one forward); what is forwarded to the host
//! is a whole IPv4/IPv6 packet; what is sent to the uplink decaps back to
//! what the host sent; an unmodified packet gets exactly the verdict its
//! peer, cookie and inner source call for, and a valid one comes back as
//! the original inner frame.
#![no_main]

use engine::flows::FlowBackend;
use engine::pipeline::{
    Action, DropReason, LcorePipeline, OuterVersion, PipeStats, PipelineConfig, PortRole, Verdict,
    DEFAULT_MAX_FRAME_LEN,
};
use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
use engine::psp::{Mode, Spi, Version};
use engine::tables::ReplicatedTables;
use engine::tables::{AclEntry, TableOp, TunnelEntry, VipPair};
use engine::wire::{self, Ipv4Packet, Ipv6Packet, MacAddr};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

/// The cookie this gateway expects when cookies are on.
const VC: u64 = 0x0000_4242_5053_5047;
/// Our VM's address: the inner destination of ingress packets and the
/// inner source of egress ones.
const VM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);
const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xbb]);
const DECAP_DMAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xdd]);

/// A peer sending to us with an SPI we issued.
struct Peer {
    spi: u32,
    version: Version,
    crypt_offset: u8,
    vc: Option<u64>,
    src: Ipv4Addr,
    /// Whether the ingress ACL permits (spi, src).
    in_acl: bool,
}

const PEERS: [Peer; 5] = [
    Peer {
        spi: 0x0000_0101,
        version: Version::AesGcm256,
        crypt_offset: 0,
        vc: Some(VC),
        src: Ipv4Addr::new(10, 0, 1, 1),
        in_acl: true,
    },
    Peer {
        spi: 0x8000_0202,
        version: Version::AesGcm128,
        crypt_offset: 2,
        vc: Some(VC),
        src: Ipv4Addr::new(10, 0, 2, 2),
        in_acl: true,
    },
    Peer {
        spi: 0x0000_0303,
        version: Version::AesGmac128,
        crypt_offset: 1,
        vc: None,
        src: Ipv4Addr::new(10, 0, 3, 3),
        in_acl: true,
    },
    Peer {
        spi: 0x8000_0404,
        version: Version::AesGmac256,
        crypt_offset: 0,
        vc: Some(VC ^ 1),
        src: Ipv4Addr::new(10, 0, 4, 4),
        in_acl: true,
    },
    // A valid key (it derives from our master keys) but no ACL pair.
    Peer {
        spi: 0x0000_0505,
        version: Version::AesGcm256,
        crypt_offset: 0,
        vc: None,
        src: Ipv4Addr::new(10, 0, 5, 5),
        in_acl: false,
    },
];

/// Our egress tunnels: destination, SPI (issued by the peer), outer IPv4.
const TUNNELS: [(Ipv4Addr, u32, bool, Option<u64>); 3] = [
    (Ipv4Addr::new(10, 0, 1, 1), 0x1001, false, None),
    (Ipv4Addr::new(10, 0, 2, 2), 0x8000_1002, true, Some(7)),
    (Ipv4Addr::new(10, 0, 3, 3), 0x1003, false, Some(VC)),
];

struct World {
    /// Our master keys (the same as the decap target's, so its seeds
    /// decrypt here too).
    ours: MasterKeyPair,
    /// The peers' master keys (egress tunnels' keys derive from them).
    theirs: MasterKeyPair,
    /// Per peer: sender over outer IPv6, over outer IPv4.
    senders: Vec<[Encapsulator; 2]>,
    tunnels: Vec<Arc<Encapsulator>>,
}

fn masters(a: u8, b: u8) -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[a; 32]).unwrap(),
        MasterKey::from_bytes(&[b; 32]).unwrap(),
    )
}

fn outer(v4: bool) -> OuterIp {
    if v4 {
        OuterIp::V4 { src: Ipv4Addr::new(192, 0, 2, 1), dst: Ipv4Addr::new(192, 0, 2, 2) }
    } else {
        OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() }
    }
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let ours = masters(0x11, 0x22);
        let theirs = masters(0x33, 0x44);
        let eth = Some(EthAddrs { src: PEER_MAC, dst: OUR_MAC });
        let senders = PEERS
            .iter()
            .map(|p| {
                let key = ours.derive(Spi(p.spi), p.version);
                [false, true].map(|v4| {
                    let cfg = EncapConfig {
                        mode: Mode::Tunnel,
                        version: p.version,
                        spi: Spi(p.spi),
                        crypt_offset: p.crypt_offset,
                        vc: p.vc,
                        eth,
                        outer: outer(v4),
                        ttl: 64,
                    };
                    Encapsulator::new(cfg, &key).unwrap()
                })
            })
            .collect();
        let tunnels = TUNNELS
            .iter()
            .map(|&(_, spi, v4, vc)| {
                let cfg = EncapConfig {
                    mode: Mode::Tunnel,
                    version: Version::AesGcm256,
                    spi: Spi(spi),
                    crypt_offset: 0,
                    vc,
                    eth: Some(EthAddrs { src: OUR_MAC, dst: PEER_MAC }),
                    outer: outer(v4),
                    ttl: 64,
                };
                let key = theirs.derive(Spi(spi), Version::AesGcm256);
                Arc::new(Encapsulator::new(cfg, &key).unwrap())
            })
            .collect();
        World { ours, theirs, senders, tunnels }
    })
}

/// A fresh core with the tunnels and ACL pairs installed.
fn pipeline(cfg: PipelineConfig) -> LcorePipeline {
    let w = world();
    let (mut backend, mut readers) = ReplicatedTables::new(1, 8, 8, 1);
    let mut ops = Vec::new();
    for (i, (&(dst, ..), encap)) in TUNNELS.iter().zip(&w.tunnels).enumerate() {
        let entry = TunnelEntry { slot: i as u32, generation: i as u64 + 1, encap: encap.clone() };
        ops.push(TableOp::SetTunnel(VipPair::new(VM, dst), entry, None));
    }
    for (i, p) in PEERS.iter().enumerate().filter(|(_, p)| p.in_acl) {
        let entry = AclEntry { slot: i as u32, generation: i as u64 + 1 };
        ops.push(TableOp::SetAcl(Spi(p.spi), VipPair::new(p.src, VM), entry));
    }
    assert!(backend.ready());
    backend.commit(&ops).expect("in-memory tables");
    let mut reader = readers.remove(0);
    reader.refresh();
    LcorePipeline::new(cfg, 0, reader)
}

/// Reads the input front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

fn config(flags: u8) -> PipelineConfig {
    PipelineConfig {
        max_tunnels: 8,
        max_acl_entries: 8,
        key_cache_size: 8,
        expected_vc: (flags & 1 != 0).then_some(VC),
        disable_ingress_acl: flags & 2 != 0,
        log2_sample_rate: u8::from(flags & 4 != 0),
        maintain_order: flags & 8 != 0,
        outer: if flags & 16 != 0 { OuterVersion::Ipv4 } else { OuterVersion::Ipv6 },
        decap_dmac: (flags & 32 != 0).then_some(DECAP_DMAC),
        max_frame_len: if flags & 64 != 0 { 256 } else { DEFAULT_MAX_FRAME_LEN },
        ..PipelineConfig::default()
    }
}

/// An Ethernet frame holding an inner packet from `src` to `dst`: kind 0
/// IPv4/UDP, 1 IPv4/TCP, 2 IPv4/ICMP, 3 IPv6/UDP.
fn inner_frame(kind: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    if kind == 3 {
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f.resize(14 + 48 + payload.len(), 0);
        let (s, d) = (src.to_ipv6_mapped(), dst.to_ipv6_mapped());
        let fields = wire::Ipv6Fields {
            src: s,
            dst: d,
            next_header: 17,
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
            payload_len: (8 + payload.len()) as u16,
        };
        wire::ipv6_emit(&mut f[14..], fields);
        wire::udp_emit(&mut f[54..], 1234, 5678, (8 + payload.len()) as u16);
        f[62..].copy_from_slice(payload);
    } else {
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f.resize(14 + 20 + payload.len(), 0);
        let proto = [17, 6, 1][usize::from(kind)];
        wire::ipv4_emit(&mut f[14..], src, dst, proto, 0, 64, (20 + payload.len()) as u16);
        f[34..].copy_from_slice(payload);
    }
    f
}

/// Offsets in a PSP frame: (outer IP header length, PSP header offset).
fn psp_at(pkt: &[u8]) -> (usize, usize) {
    if pkt.get(12..14) == Some(&[0x08, 0x00]) {
        (20, 14 + 20 + 8)
    } else {
        (40, 14 + 40 + 8)
    }
}

/// Rewrites the outer IP and UDP lengths (and IPv4 checksum) to the frame's.
fn fix_outer_lengths(pkt: &mut [u8]) {
    let (ip_len, psp) = psp_at(pkt);
    if pkt.len() < psp || pkt.len() > 65535 {
        return;
    }
    let udp_len = (pkt.len() - psp + 8) as u16;
    pkt[psp - 8 + 4..psp - 8 + 6].copy_from_slice(&udp_len.to_be_bytes());
    if ip_len == 20 {
        if pkt[14] & 0xf != 5 {
            return;
        }
        let mut ip = Ipv4Packet::new_unchecked(&mut pkt[14..]);
        ip.set_total_len(udp_len + 20);
        ip.fill_checksum();
    } else {
        Ipv6Packet::new_unchecked(&mut pkt[14..]).set_payload_len(udp_len);
    }
}

/// Rewrites an inner IPv4 frame's total length (and checksum).
fn fix_ipv4_length(f: &mut [u8]) {
    let hdr = usize::from(f.get(14).map_or(0, |b| b & 0xf)) * 4;
    if hdr >= 20 && f.len() >= 14 + hdr && f.len() <= 65535 + 14 {
        let len = (f.len() - 14) as u16;
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len(len);
        ip.fill_checksum();
    }
}

/// Applies the mutations the rest of the input asks for; returns how many.
fn mutate(pkt: &mut Vec<u8>, u: &mut Input<'_>, psp: bool) -> usize {
    let mut n = 0;
    while u.0.len() >= 4 {
        let (op, a, b) = (u.byte(), u.byte(), u.u16());
        let len = pkt.len();
        let (_, at) = psp_at(pkt);
        let mut set = |i: usize, f: &dyn Fn(u8) -> u8| {
            if let Some(x) = pkt.get_mut(i) {
                *x = f(*x);
            }
        };
        match op % 10 {
            0 => pkt.truncate(usize::from(b) % (len + 1)),
            1 if len > 0 => {
                let k = usize::from(b) % (len * 8);
                pkt[k / 8] ^= 1 << (k % 8);
            }
            2 => set(at + 3, &|x| (x & !0x3c) | ((a & 0xf) << 2)),
            3 => set(at + 2, &|_| a),
            4 => match a % 4 {
                0 => {
                    set(at + 1, &|_| 2);
                    set(at + 3, &|x| x | 2);
                }
                1 => {
                    set(at + 1, &|_| 1);
                    set(at + 3, &|x| x & !2);
                }
                2 => {
                    let vc = (VC ^ u64::from(b)).to_be_bytes();
                    for (i, v) in vc.into_iter().enumerate() {
                        set(at + 16 + i, &|_| v);
                    }
                }
                _ => set(at + 1, &|_| a >> 2),
            },
            5 => {
                let spi = if b & 1 == 0 {
                    PEERS[usize::from(a) % PEERS.len()].spi
                } else {
                    (u32::from(a) << 24) | u32::from(b)
                };
                for (i, v) in spi.to_be_bytes().into_iter().enumerate() {
                    set(at + 4 + i, &|_| v);
                }
            }
            6 if psp => fix_outer_lengths(pkt),
            6 => fix_ipv4_length(pkt),
            7 if len > 0 => pkt[usize::from(b) % len] = a,
            8 => pkt.resize(len + usize::from(b) % 10_000, a),
            9 => set(at, &|_| a),
            _ => {}
        }
        n += 1;
    }
    n
}

/// `RECEIVE_PATH_VERDICTS=1` prints each verdict on stderr (to see which
/// reasons a corpus reaches).
fn verbose() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| std::env::var_os("RECEIVE_PATH_VERDICTS").is_some())
}

/// Runs one packet and checks what holds for any input. Returns the
/// verdict.
fn run(
    pipe: &mut LcorePipeline,
    from: PortRole,
    buf: &mut VecBuf,
    cfg: &PipelineConfig,
) -> Verdict {
    let w = world();
    let before = *pipe.stats();
    let input = buf.data().to_vec();
    let v = pipe.process(from, buf, 0, &w.ours);
    if verbose() {
        let what = match v.action {
            Action::Drop(r) => r.counter_name().to_string(),
            a => format!("{a:?}"),
        };
        eprintln!("verdict {from:?} {what}");
    }
    let after = *pipe.stats();
    let d = |f: fn(&PipeStats) -> u64| f(&after) - f(&before);
    assert_eq!(d(|s| s.ingress_root.packets), 1);
    let outcomes = [
        d(PipeStats::dropped_total),
        d(|s| s.fwd_to_wire.packets),
        d(|s| s.fwd_to_unsecured.packets),
        d(|s| s.vf_arp_to_rss.packets),
        d(|s| s.egress_acl_miss.packets),
    ];
    assert_eq!(outcomes.iter().sum::<u64>(), 1, "one outcome per packet: {outcomes:?} {v:?}");
    if v.mirror_to_rss.is_some() && from != PortRole::Secure {
        assert!(cfg.log2_sample_rate > 0, "egress sampling is off");
    }
    match v.action {
        Action::Drop(r) => {
            assert_eq!(after.dropped(r).packets, before.dropped(r).packets + 1, "{r:?}");
            assert_eq!(outcomes[0], 1);
        }
        Action::Forward(PortRole::Unsecured) => {
            assert_eq!((from, outcomes[2]), (PortRole::Secure, 1));
            let f = buf.data();
            match f.get(12..14) {
                Some([0x08, 0x00]) => {
                    let ip = Ipv4Packet::new_checked(&f[14..]).expect("inner IPv4");
                    assert_eq!(ip.total_len(), f.len() - 14);
                }
                Some([0x86, 0xdd]) => {
                    let ip = Ipv6Packet::new_checked(&f[14..]).expect("inner IPv6");
                    assert_eq!(40 + ip.payload_len(), f.len() - 14);
                }
                other => panic!("forwarded to the host with EtherType {other:?}"),
            }
            if let Some(mac) = cfg.decap_dmac {
                assert_eq!(&f[..6], &mac.0);
            }
        }
        Action::Forward(PortRole::Secure) => {
            assert!(from != PortRole::Secure && outcomes[1] == 1);
            assert!(buf.data().len() <= cfg.max_frame_len);
            // Authentic under the peer's keys, and the host's packet again
            // (its Ethernet padding trimmed, the tunnel's MACs on it).
            let mut cache = KeyCache::new(2);
            let mut keys = CachedKeys { masters: &w.theirs, cache: &mut cache };
            let info = decap(buf, &mut keys, DecapOptions::default()).expect("own encap decaps");
            assert_eq!(info.vc, TUNNELS.iter().find(|t| t.1 == info.spi.0).unwrap().3);
            let out = buf.data();
            let ip_len = Ipv4Packet::new_checked(&input[14..]).unwrap().total_len();
            assert_eq!(&out[12..], &input[12..14 + ip_len]);
            assert_eq!((&out[..6], &out[6..12]), (&PEER_MAC.0[..], &OUR_MAC.0[..]));
        }
        Action::Forward(PortRole::Rss) => {
            assert_eq!((from, outcomes[3]), (PortRole::Unsecured, 1));
            assert_eq!(&input[12..14], &[0x08, 0x06]);
        }
        Action::Miss { pair } => {
            assert!(from != PortRole::Secure && outcomes[4] == 1);
            // Tunnels are sessions from VM: any other source misses.
            assert!(pair.src != VM || TUNNELS.iter().all(|t| pair.dst != t.0));
            assert_eq!(buf.data(), &input[..], "a miss leaves the packet as it was");
        }
    }
    v
}

fn ingress(u: &mut Input<'_>, cfg: &PipelineConfig) {
    let w = world();
    let pi = usize::from(u.byte()) % PEERS.len();
    let peer = &PEERS[pi];
    let kind = u.byte();
    let src = match (kind >> 2) & 3 {
        1 => PEERS[(pi + 1) % PEERS.len()].src,
        2 => Ipv4Addr::from(u.u32()),
        _ => peer.src,
    };
    let sample = kind & 16 != 0;
    // Bit 5: an outer IP version other than the configured one.
    let v4 = (cfg.outer == OuterVersion::Ipv4) != (kind & 32 != 0);
    let plen = usize::from(u.byte());
    let payload = u.bytes(plen);
    let iv = u64::from(u.u32());
    let inner = inner_frame(kind & 3, src, VM, &payload);
    let mut b = VecBuf::new(&inner);
    w.senders[pi][usize::from(v4)].encap(&mut b, iv, sample).unwrap();
    let mut pkt = b.data().to_vec();
    let mutated = mutate(&mut pkt, u, true);
    let mut pipe = pipeline(*cfg);
    let v = run(&mut pipe, PortRole::Secure, &mut VecBuf::new(&pkt), cfg);
    if mutated > 0 {
        return;
    }
    // Unmodified: the verdict follows from the peer, cookie and source.
    let acl_ok = peer.in_acl && src == peer.src && kind & 3 != 3;
    let want = if pkt.len() > cfg.max_frame_len {
        Action::Drop(DropReason::Oversized)
    } else if v4 != (cfg.outer == OuterVersion::Ipv4) {
        Action::Drop(DropReason::RootDefault)
    } else if cfg.expected_vc.is_some() && peer.vc != cfg.expected_vc {
        Action::Drop(DropReason::VcMismatch)
    } else if !cfg.disable_ingress_acl && !acl_ok {
        Action::Drop(if peer.in_acl {
            DropReason::AclWrongSource
        } else {
            DropReason::AclUnknownSpi
        })
    } else {
        Action::Forward(PortRole::Unsecured)
    };
    assert_eq!(v.action, want, "peer {pi} kind {kind:#x} src {src}");
    // With sampling on, the S bit mirrors every packet that decrypted.
    let decrypted = !matches!(want, Action::Drop(DropReason::Oversized | DropReason::RootDefault));
    assert_eq!(v.mirror_to_rss.is_some(), sample && decrypted && cfg.log2_sample_rate > 0);
    if want == Action::Forward(PortRole::Unsecured) {
        // The round trip: the original inner frame, under the outer MACs.
        let mut b = VecBuf::new(&pkt);
        let mut pipe = pipeline(*cfg);
        pipe.process(PortRole::Secure, &mut b, 0, &w.ours);
        let mut expect = inner.clone();
        expect[..6].copy_from_slice(&cfg.decap_dmac.unwrap_or(OUR_MAC).0);
        expect[6..12].copy_from_slice(&PEER_MAC.0);
        assert_eq!(b.data(), &expect[..]);
    }
}

fn egress(u: &mut Input<'_>, cfg: &PipelineConfig) {
    let pick = u.byte();
    let dst = match TUNNELS.get(usize::from(pick % 4)) {
        Some(t) => t.0,
        None => Ipv4Addr::from(u.u32()),
    };
    let from = if pick & 4 != 0 { PortRole::Rss } else { PortRole::Unsecured };
    let kind = u.byte() % 3; // IPv4 only: inner IPv6 has no route
    let plen = usize::from(u.u16() % 2048);
    let payload = u.bytes(plen);
    let mut f = inner_frame(kind, VM, dst, &payload);
    let mutated = mutate(&mut f, u, false);
    let mut pipe = pipeline(*cfg);
    let v = run(&mut pipe, from, &mut VecBuf::new(&f), cfg);
    if mutated > 0 {
        return;
    }
    let want = match TUNNELS.iter().position(|t| t.0 == dst) {
        _ if f.len() > cfg.max_frame_len => Action::Drop(DropReason::Oversized),
        None => Action::Miss { pair: VipPair::new(VM, dst) },
        Some(i) if f.len() + world().tunnels[i].overhead() > cfg.max_frame_len => {
            Action::Drop(DropReason::EncapOversized)
        }
        Some(_) => Action::Forward(PortRole::Secure),
    };
    assert_eq!(v.action, want, "{dst} {} bytes", f.len());
}

fn raw(u: &mut Input<'_>, cfg: &PipelineConfig, tight: bool) {
    let frame = u.0;
    let mut pipe = pipeline(*cfg);
    for from in [PortRole::Secure, PortRole::Unsecured, PortRole::Rss] {
        let mut b = if tight { VecBuf::with_room(frame, 0, 0) } else { VecBuf::new(frame) };
        run(&mut pipe, from, &mut b, cfg);
    }
    let s = pipe.stats();
    let forwards = s.fwd_to_wire.packets
        + s.fwd_to_unsecured.packets
        + s.vf_arp_to_rss.packets
        + s.egress_acl_miss.packets;
    assert_eq!(s.dropped_total() + forwards, s.ingress_root.packets);
    assert_eq!(s.ingress_root.packets, 3);
}

fuzz_target!(|data: &[u8]| {
    let mut u = Input(data);
    let sel = u.byte();
    let cfg = config(u.byte());
    match sel % 4 {
        0 => raw(&mut u, &cfg, sel & 4 != 0),
        2 => egress(&mut u, &cfg),
        _ => ingress(&mut u, &cfg),
    }
});
