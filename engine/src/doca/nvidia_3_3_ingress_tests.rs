//! Our ingress-side entries and pipes against tables written from NVIDIA's
//! DOCA 3.3 `psp_gw_flows.cpp` (tunnel mode): the root's neighbour
//! solicitation entry (`MISS`, `ns_from_vf` / `ns_mask`), the inner-IP
//! classifier (`INNER_IP_CLASSIFIER`) and the IPv6 inner ACL pipes
//! (`ING_SRC_IP6`, `MATCH_INGR_ACL_IPV6`).

use super::super::tests::ports;
use super::super::*;
use super::{check, classify, nv_fields, nv_fwd, pkt, Nv};

/// One control entry's match as NVIDIA writes it: (field, value, mask),
/// sorted by field name.
fn nv_entry(e: &DocaEntry) -> Vec<(&'static str, u32, u32)> {
    let mut v: Vec<_> = e
        .matches
        .iter()
        .flat_map(|&(f, val)| {
            let (value, mask) = match val {
                Value::Masked { value, mask } => (value, mask),
                Value::Exact(x) => (x, u32::MAX),
                Value::PerEntry => (u32::MAX, u32::MAX),
            };
            nv_fields(f).iter().map(move |&n| (n, value, mask))
        })
        .collect();
    v.sort();
    v
}

fn root_entries() -> Vec<DocaEntry> {
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    t.static_entries().into_iter().filter(|e| e.pipe == PipeId::IngressRoot).collect()
}

#[test]
fn vf_neighbour_solicitation_goes_to_rss_as_nvidia_3_3_vf_ns_to_rss() {
    // NVIDIA 3.3 `ingress_arp_icmp_pipe`, tunnel mode: `ns_from_vf` under
    // `ns_mask`, priority 1 (ahead of `ipv6_from_vf` at 2), forwarded to
    // RSS on DOCA_FLOW_RSS_IPV6 (`fwd_ipv6_rss`), with a counter.
    let (vf, all) = (1u32, u32::MAX);
    let mut nv = vec![
        ("parser_meta.port_id", vf, 0xffff),
        ("outer.eth.type", 0x86dd, 0xffff),
        ("parser_meta.outer_l3_type", L3_META_IPV6, all),
        ("parser_meta.outer_l4_type", L4_META_ICMP, all),
        ("outer.l4_type_ext", L4_TYPE_EXT_ICMP6, all),
        ("outer.ip6.next_proto", 58, 0xff),
        ("outer.icmp.type", 135, 0xff),
    ];
    nv.sort();
    let root = root_entries();
    let ns = root.iter().find(|e| e.counter == "vf_ns_to_rss").expect("an NS entry");
    assert_eq!(nv_entry(ns), nv);
    assert_eq!(nv_fwd(ns.fwd), "rss:ipv6");
    // Ahead of every entry that also takes IPv6 from the VF.
    let vf_ip6 = root
        .iter()
        .filter(|e| e.matches.contains(&(Field::PortId, Value::Masked { value: vf, mask: 0xffff })))
        .filter(|e| e.counter != "vf_ns_to_rss");
    for e in vf_ip6 {
        assert!(ns.priority < e.priority, "{}", e.counter);
    }
    // NVIDIA's ARP entry (`arp_from_vf` under `arp_mask`) goes to RSS on
    // DOCA_FLOW_RSS_IPV4 (`fwd_ipv4_rss`).
    let arp = root.iter().find(|e| e.counter == "vf_arp_to_rss").unwrap();
    assert_eq!(
        nv_entry(arp),
        [("outer.eth.type", 0x0806, 0xffff), ("parser_meta.port_id", vf, 0xffff)]
    );
    assert_eq!(nv_fwd(arp.fwd), "rss:ipv4");
}

#[test]
fn icmpv6_from_the_vf_is_classified_as_nvidia_3_3_miss_pipe() {
    // Where NVIDIA's MISS pipe sends ICMPv6 from the VF: a solicitation to
    // RSS, an advertisement (136) or an echo (128) to the egress path
    // (`ipv6_from_vf`, `fwd_egress`); from the uplink, tunnel mode has no
    // NS entry: the packet is not PSP, so it is dropped (ours: by the
    // decrypt pipe's miss, after the root sends uplink IPv6 there).
    let icmp6 = |port: u16, icmp_type: u32| {
        let mut p = pkt(port, 0x86dd, true, false);
        p.insert(Field::OuterL3Meta, L3_META_IPV6);
        p.insert(Field::OuterL4Meta, L4_META_ICMP);
        p.insert(Field::OuterL4TypeExt, L4_TYPE_EXT_ICMP6);
        p.insert(Field::OuterIp6NextProto, 58);
        p.insert(Field::OuterIcmpType, icmp_type);
        p
    };
    let root = root_entries();
    assert_eq!(classify(&root, &icmp6(1, 135)), Some(Fwd::RssIpv6));
    assert_eq!(classify(&root, &icmp6(1, 136)), Some(Fwd::Port(Port::Secure)));
    assert_eq!(classify(&root, &icmp6(1, 128)), Some(Fwd::Port(Port::Secure)));
    assert_eq!(classify(&root, &icmp6(0, 135)), Some(Fwd::Pipe(PipeId::IngressDecrypt)));
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let dec = t.pipes().into_iter().find(|p| p.id == PipeId::IngressDecrypt).unwrap();
    assert!(dec.matches.contains(&(Field::OuterUdp, Value::Exact(1))));
    assert_eq!(dec.fwd_miss, Some(Fwd::Drop));
}
