//! A sample capture: IPv4 and IPv6 frames carrying UDP, TCP and ICMP with
//! valid checksums and a recognisable plaintext, in a spread of sizes.

use crate::pcap::Record;
use engine::wire::{checksum, ipv4_emit, ipv6_emit, Ipv6Fields};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Text every generated payload starts with, so a test can grep a capture
/// for leaked plaintext.
pub const MARKER: &[u8] = b"PSP-DEMO-PLAINTEXT";

const SIZES: [usize; 6] = [0, 18, 64, 256, 512, 1400];

/// `count` frames from a deterministic generator seeded with `seed`.
pub fn frames(count: u32, seed: u64) -> Vec<Record> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..count)
        .map(|i| {
            let r = next();
            let size = SIZES[(r % SIZES.len() as u64) as usize];
            let mut payload = MARKER.to_vec();
            payload.resize(size.max(MARKER.len()), 0);
            for (j, b) in payload.iter_mut().enumerate().skip(MARKER.len()) {
                *b = (r >> (j % 57)) as u8 ^ j as u8;
            }
            let l4 = (r >> 8) % 3; // 0 UDP, 1 TCP, 2 ICMP
            let v6 = (r >> 12) % 4 == 0;
            let data = if v6 { frame6(l4, &payload, i) } else { frame4(l4, &payload, i) };
            Record {
                ts_sec: 1_700_000_000 + i / 1000,
                ts_usec: (i % 1000) * 1000,
                orig_len: 0,
                data,
            }
        })
        .collect()
}

fn l4_segment(kind: u64, payload: &[u8], i: u32, v6: bool) -> (u8, Vec<u8>, usize) {
    let port = 10_000 + (i % 50) as u16;
    match kind {
        0 => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&port.to_be_bytes());
            u[2..4].copy_from_slice(&5001u16.to_be_bytes());
            u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            u.extend_from_slice(payload);
            (17, u, 6)
        }
        1 => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&port.to_be_bytes());
            t[2..4].copy_from_slice(&5201u16.to_be_bytes());
            t[4..8].copy_from_slice(&(i * 1000).to_be_bytes());
            t[12] = 5 << 4;
            t[13] = 0x18; // PSH, ACK
            t[14..16].copy_from_slice(&64_240u16.to_be_bytes());
            t.extend_from_slice(payload);
            (6, t, 16)
        }
        _ => {
            let mut c = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
            c.extend_from_slice(&(i as u16).to_be_bytes());
            c.extend_from_slice(&1u16.to_be_bytes());
            c.extend_from_slice(payload);
            (if v6 { 58 } else { 1 }, c, 2)
        }
    }
}

fn eth(ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn frame4(kind: u64, payload: &[u8], i: u32) -> Vec<u8> {
    let (src, dst) = (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 2));
    let (proto, mut seg, csum_at) = l4_segment(kind, payload, i, false);
    let mut sum = Vec::new();
    if proto != 1 {
        sum.extend_from_slice(&src.octets());
        sum.extend_from_slice(&dst.octets());
        sum.extend_from_slice(&[0, proto]);
        sum.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    }
    sum.extend_from_slice(&seg);
    let c = checksum(&sum);
    seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(0x0800);
    let at = f.len();
    f.resize(at + 20, 0);
    ipv4_emit(&mut f[at..], src, dst, proto, 0, 64, (20 + seg.len()) as u16);
    f.extend_from_slice(&seg);
    f
}

fn frame6(kind: u64, payload: &[u8], i: u32) -> Vec<u8> {
    let src: Ipv6Addr = "fd00:1::1".parse().expect("literal");
    let dst: Ipv6Addr = "fd00:1::2".parse().expect("literal");
    let (proto, mut seg, csum_at) = l4_segment(kind, payload, i, true);
    let mut sum = Vec::new();
    sum.extend_from_slice(&src.octets());
    sum.extend_from_slice(&dst.octets());
    sum.extend_from_slice(&(seg.len() as u32).to_be_bytes());
    sum.extend_from_slice(&[0, 0, 0, proto]);
    sum.extend_from_slice(&seg);
    let c = checksum(&sum);
    seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(0x86dd);
    let at = f.len();
    f.resize(at + 40, 0);
    ipv6_emit(
        &mut f[at..],
        Ipv6Fields {
            src,
            dst,
            next_header: proto,
            traffic_class: 0,
            flow_label: i & 0xfffff,
            hop_limit: 64,
            payload_len: seg.len() as u16,
        },
    );
    f.extend_from_slice(&seg);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::wire::{EthernetFrame, Ipv4Packet};

    #[test]
    fn frames_are_valid_and_deterministic() {
        let a = frames(200, 5);
        assert_eq!(a, frames(200, 5));
        let mut v6 = 0;
        for r in &a {
            let e = EthernetFrame::new_checked(&r.data[..]).unwrap();
            if e.ethertype() == engine::wire::EtherType::Ipv4 {
                let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
                assert!(ip.verify_checksum());
                assert_eq!(ip.total_len() + 14, r.data.len());
                if ip.protocol() == 1 {
                    assert_eq!(checksum(ip.payload()), 0, "ICMP checksum");
                }
            } else {
                v6 += 1;
            }
            assert!(r.data.windows(MARKER.len()).any(|w| w == MARKER));
        }
        assert!(v6 > 10 && v6 < 190);
    }
}
