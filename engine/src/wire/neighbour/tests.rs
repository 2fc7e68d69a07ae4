//! The replies against scapy's bytes, and every reason not to answer.

use super::*;
use proptest::prelude::*;

const GW: MacAddr = MacAddr([2, 0, 0, 0, 9, 9]);

/// scapy: `Ether(src=VM, dst=broadcast) / ARP(op=1, hwsrc=VM, psrc="10.0.0.1",
/// pdst="10.0.0.2")`, VM = 02:00:00:00:01:01.
const ARP_WHO_HAS: &str =
    "ffffffffffff020000000101080600010800060400010200000001010a0000010000000000000a000002";
/// scapy: `Ether(dst=VM, src=GW) / ARP(op=2, hwsrc=GW, psrc="10.0.0.2",
/// hwdst=VM, pdst="10.0.0.1")`, zero-padded to 60 bytes.
const ARP_IS_AT: &str = "020000000101020000000909080600010800060400020200000009090a000002\
                         0200000001010a000001000000000000000000000000000000000000";
/// scapy: `Ether(src=VM, dst="33:33:ff:00:00:02") / IPv6(src="fd00:10::1",
/// dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fd00:10::2") /
/// ICMPv6NDOptSrcLLAddr(lladdr=VM)`.
const NS: &str = "3333ff00000202000000010186dd6000000000203afffd000010000000000000000000\
                  000001ff0200000000000000000001ff00000287007c7700000000fd000010000000\
                  0000000000000000020101020000000101";
/// scapy: `Ether(dst=VM, src=GW) / IPv6(src="fd00:10::2", dst="fd00:10::1",
/// hlim=255) / ICMPv6ND_NA(tgt="fd00:10::2", R=0, S=1, O=1) /
/// ICMPv6NDOptDstLLAddr(lladdr=GW)`.
const NA: &str = "02000000010102000000090986dd6000000000203afffd000010000000000000000000\
                  000002fd0000100000000000000000000000018800136360000000fd000010000000\
                  0000000000000000020201020000000909";

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.replace(' ', "")).unwrap()
}

fn ask(local: &[IpAddr], request: &[u8]) -> Result<(Answer, Vec<u8>), Unanswered> {
    let mut out = [0xeeu8; REPLY_MAX_LEN];
    let a = answer(&Responder { mac: GW, local }, request, &mut out)?;
    Ok((a, out[..a.len].to_vec()))
}

#[test]
fn arp_request_gets_scapys_reply() {
    let (a, reply) = ask(&[], &bytes(ARP_WHO_HAS)).unwrap();
    assert_eq!(hex::encode(reply), ARP_IS_AT.replace(' ', ""));
    assert_eq!(a.query, Query::Arp);
    assert_eq!((a.target.to_string(), a.asker.to_string()), ("10.0.0.2".into(), "10.0.0.1".into()));
    // Ethernet padding after the request changes nothing.
    let mut padded = bytes(ARP_WHO_HAS);
    padded.resize(60, 0);
    assert_eq!(ask(&[], &padded).unwrap().1, bytes(ARP_IS_AT));
}

#[test]
fn solicitation_gets_scapys_advertisement() {
    let (a, reply) = ask(&[], &bytes(NS)).unwrap();
    assert_eq!(hex::encode(&reply), NA.replace(' ', ""));
    assert_eq!(a.query, Query::Solicitation);
    assert_eq!(a.target, "fd00:10::2".parse::<IpAddr>().unwrap());
    // Without the source link-layer option (allowed in a unicast
    // solicitation), with the checksum fixed: the same answer.
    let mut ns = bytes(NS);
    ns.truncate(ns.len() - 8);
    ns[ETH + 5] = 24;
    fix_checksum(&mut ns);
    assert_eq!(ask(&[], &ns).unwrap().1, reply);
}

/// Recomputes the ICMPv6 checksum of a frame after an edit.
fn fix_checksum(f: &mut [u8]) {
    let ip = Ipv6Packet::new_checked(&f[ETH..]).unwrap();
    let (src, dst, len) = (ip.src(), ip.dst(), ip.payload_len());
    let at = ETH + IPV6_HEADER_LEN;
    f[at + 2..at + 4].fill(0);
    let sum = nd::icmpv6_checksum(src, dst, &f[at..at + len]);
    f[at + 2..at + 4].copy_from_slice(&sum.to_be_bytes());
}

#[test]
fn what_is_not_answered_and_why() {
    let arp = bytes(ARP_WHO_HAS);
    let ns = bytes(NS);
    let edit = |base: &[u8], f: &dyn Fn(&mut Vec<u8>), fix: bool| {
        let mut v = base.to_vec();
        f(&mut v);
        if fix {
            fix_checksum(&mut v);
        }
        ask(&[], &v).unwrap_err()
    };
    let a = ETH; // ARP header
    let i = ETH + IPV6_HEADER_LEN; // ICMPv6 header
                                   // Not a query.
    assert_eq!(edit(&arp, &|v| v[a + 7] = 2, false), Unanswered::NotAQuery, "an ARP reply");
    assert_eq!(edit(&ns, &|v| v[i] = 136, true), Unanswered::NotAQuery, "an advertisement");
    assert_eq!(edit(&ns, &|v| v[i] = 128, true), Unanswered::NotAQuery, "an echo request");
    assert_eq!(edit(&ns, &|v| v[ETH + 6] = 17, false), Unanswered::NotAQuery, "UDP");
    assert_eq!(edit(&arp, &|v| v[13] = 0, false), Unanswered::NotAQuery, "IPv4, not ARP");
    // Probes and announcements.
    assert_eq!(edit(&arp, &|v| v[a + 14..a + 18].fill(0), false), Unanswered::Probe);
    assert_eq!(edit(&arp, &|v| v[a + 17] = 2, false), Unanswered::Probe, "gratuitous");
    let dad = |v: &mut Vec<u8>| {
        v[ETH + 8..ETH + 24].fill(0);
        v.truncate(v.len() - 8);
        v[ETH + 5] = 24;
    };
    assert_eq!(edit(&ns, &dad, true), Unanswered::Probe, "duplicate address detection");
    // Targets.
    let t: IpAddr = "10.0.0.2".parse().unwrap();
    let mut out = [0u8; REPLY_MAX_LEN];
    let r = Responder { mac: GW, local: &[t] };
    assert_eq!(answer(&r, &arp, &mut out), Err(Unanswered::Local(t)), "the VM's own address");
    let own_v6 = |v: &mut Vec<u8>| v.copy_within(ETH + 8..ETH + 24, i + 8);
    assert!(matches!(edit(&ns, &own_v6, true), Unanswered::Local(_)), "the asker's own");
    assert!(matches!(
        edit(&arp, &|v| v[a + 24..a + 28].fill(255), false),
        Unanswered::NotUnicast(_)
    ));
    assert!(matches!(edit(&arp, &|v| v[a + 24] = 224, false), Unanswered::NotUnicast(_)));
    assert!(matches!(edit(&ns, &|v| v[i + 8] = 0xff, true), Unanswered::NotUnicast(_)));
    // RFC 4861 7.1.1's discards.
    assert_eq!(edit(&ns, &|v| v[ETH + 7] = 64, false), Unanswered::HopLimit(64));
    assert_eq!(edit(&ns, &|v| v[i + 2] ^= 1, false), Unanswered::Checksum);
    assert!(matches!(edit(&ns, &|v| v[i + 1] = 1, true), Unanswered::Wire(Error::Malformed(_))));
    assert!(matches!(edit(&ns, &|v| v[i + 25] = 0, true), Unanswered::Wire(Error::Malformed(_))));
    // Foreign ARP, short output.
    assert!(matches!(edit(&arp, &|v| v[a + 1] = 6, false), Unanswered::Wire(Error::Malformed(_))));
    let r = Responder { mac: GW, local: &[] };
    for (req, room) in [(&arp, 59), (&ns, REPLY_MAX_LEN - 1)] {
        let mut short = vec![0u8; room];
        assert!(matches!(answer(&r, req, &mut short), Err(Unanswered::Wire(Error::Truncated(_)))));
    }
}

#[test]
fn every_truncation_is_refused_without_a_panic() {
    for req in [bytes(ARP_WHO_HAS), bytes(NS)] {
        for cut in 0..req.len() {
            let e = ask(&[], &req[..cut]).unwrap_err();
            assert!(matches!(e, Unanswered::Wire(Error::Truncated(_))), "cut at {cut}: {e:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Random frames and corrupted queries, into output buffers of any
    /// size: never a panic, and a reply always fits what it says.
    #[test]
    fn random_frames_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..120),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        which in 0u8..3,
        room in 0usize..=REPLY_MAX_LEN,
    ) {
        let mut f = match which {
            0 => data,
            1 => bytes(ARP_WHO_HAS),
            _ => bytes(NS),
        };
        if which != 0 {
            for (at, x) in &flips {
                let i = at.index(f.len());
                f[i] ^= x;
            }
        }
        let mut out = vec![0u8; room];
        if let Ok(a) = answer(&Responder { mac: GW, local: &[] }, &f, &mut out) {
            prop_assert!(a.len <= room);
            prop_assert!(a.len >= 60);
        }
    }
}
