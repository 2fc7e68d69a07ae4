//! Our ingress-side entries and pipes against tables written from NVIDIA's
//! DOCA 3.3 `psp_gw_flows.cpp` (tunnel mode): the root's neighbour
//! solicitation entry (`MISS`, `ns_from_vf` / `ns_mask`), the inner-IP
//! classifier (`INNER_IP_CLASSIFIER`) and the IPv6 inner ACL pipes
//! (`ING_SRC_IP6`, `MATCH_INGR_ACL_IPV6`).

use super::super::tests::ports;
use super::super::*;
use super::{check, classify_root, entries, nv_actions, nv_entry, nv_fwd, pipe, pkt_l4, Nv};

/// The MISS pipe's entries (where NVIDIA's ND and ARP entries are).
fn root_entries() -> Vec<DocaEntry> {
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    t.static_entries().into_iter().filter(|e| e.pipe == PipeId::IngressMiss).collect()
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
        let mut p = pkt_l4(port, 0x86dd, true, L4_META_ICMP);
        p.insert(Field::OuterL4TypeExt, L4_TYPE_EXT_ICMP6);
        p.insert(Field::OuterIp6NextProto, 58);
        p.insert(Field::OuterIcmpType, icmp_type);
        p
    };
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    assert_eq!(classify_root(&t, &icmp6(1, 135)), Some(Fwd::RssIpv6));
    assert_eq!(classify_root(&t, &icmp6(1, 136)), Some(Fwd::Pipe(PipeId::Empty)));
    assert_eq!(classify_root(&t, &icmp6(1, 128)), Some(Fwd::Pipe(PipeId::Empty)));
    assert_eq!(classify_root(&t, &icmp6(0, 135)), Some(Fwd::Drop));
}

#[test]
fn inner_ip_classifier_is_nvidia_3_3_inner_ip_classifier() {
    // `ingress_inner_classifier_pipe_create`, tunnel mode: tun.type PSP,
    // tun.psp.nexthdr changeable; forward to a pipe per entry, misses
    // (counted) to SYNDROME_STATS; 2 entries with counters.
    check(&Nv {
        ours: PipeId::InnerIpClassifier,
        name: "INNER_IP_CLASSIFIER",
        domain: Domain::SecureIngress,
        matches: &["tun.type=PSP", "tun.psp.nexthdr"],
        fwd: "pipe:per-entry",
        fwd_miss: "syndrome_stats_pipe",
        known: &[],
    });
    let spec = pipe(PipelineConfig::default(), PipeId::InnerIpClassifier);
    assert_eq!((spec.nr_entries, spec.miss_counter, spec.actions.len()), (2, true, 0));
    // Entries: NEXT_HEADER_IPV6 (0x29) to ING_SRC_IP6 (with the ACL; to
    // MATCH_INGR_ACL_IPV6 without), NEXT_HEADER_IPV4 (4) to
    // MATCH_INGR_ACL_IPV4.
    for (disable, v6_to) in [(false, "ingress_src_ip6_pipe"), (true, "ingress_acl_ipv6_pipe")] {
        let cfg = PipelineConfig { disable_ingress_acl: disable, ..Default::default() };
        let got: Vec<_> = entries(cfg, PipeId::InnerIpClassifier)
            .iter()
            .map(|e| (nv_entry(e), nv_fwd(e.fwd)))
            .collect();
        let nv = [
            (vec![("tun.psp.nexthdr", 0x29, u32::MAX)], v6_to.to_owned()),
            (vec![("tun.psp.nexthdr", 0x04, u32::MAX)], "ingress_acl_pipe".to_owned()),
        ];
        assert_eq!(got, nv, "disable_ingress_acl {disable}");
    }
}

#[test]
fn ingress_src_ip6_pipe_is_nvidia_3_3_ing_src_ip6() {
    // `ingress_src_ip6_pipe_create`, tunnel mode: PSP SPI and inner IPv6
    // source (parser_meta.inner_l3_type IPV6, inner.l3_type IP6) to the
    // source's id in meta.u32[2], then MATCH_INGR_ACL_IPV6; misses
    // (counted) to SYNDROME_STATS. Only with the ingress ACL.
    check(&Nv {
        ours: PipeId::IngressSrcIp6,
        name: "ING_SRC_IP6",
        // ingress_src_ip6_pipe_create sets no domain.
        domain: Domain::Default,
        matches: &[
            "tun.type=PSP",
            "tun.psp.spi",
            "parser_meta.inner_l3_type",
            "inner.l3_type=IP6",
            "inner.ip6.src_ip",
        ],
        fwd: "ingress_acl_ipv6_pipe",
        fwd_miss: "syndrome_stats_pipe",
        known: &[],
    });
    let spec = pipe(PipelineConfig::default(), PipeId::IngressSrcIp6);
    let acts: Vec<_> = spec.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(acts, ["meta.u32[2]"]);
    assert!(spec.matches.contains(&(Field::InnerL3Meta, Value::Exact(L3_META_IPV6))));
    assert!(spec.miss_counter);
    let t = Translator::new(
        PipelineConfig { disable_ingress_acl: true, ..Default::default() },
        ports(),
    )
    .unwrap();
    assert!(t.pipes().iter().all(|p| p.id != PipeId::IngressSrcIp6), "created without the ACL");
}

#[test]
fn ingress_acl_ipv6_pipe_is_nvidia_3_3_match_ingress_acl_ipv6() {
    // `match_ingress_acl_pipe_create(false)`, tunnel mode: inner.l3_type
    // IP6, meta.u32[2] (the source's id) and inner.ip6.dst_ip, forwarded
    // to DECAP's IPv6 sequence (decap, an Ethernet header of type IPv6).
    check(&Nv {
        ours: PipeId::IngressAclIpv6,
        name: "MATCH_INGR_ACL_IPV6",
        domain: Domain::SecureIngress,
        matches: &["inner.l3_type=IP6", "meta.u32[2]", "inner.ip6.dst_ip"],
        fwd: "ordered_list:decap_pipe[per-entry]",
        fwd_miss: "none",
        known: &["fwd_miss: ours syndrome_stats_pipe, NVIDIA none"],
    });
    let spec = pipe(PipelineConfig::default(), PipeId::IngressAclIpv6);
    // No actions of its own: the decap is DECAP's list 1.
    assert!(spec.actions.is_empty());
    let decap = pipe(PipelineConfig::default(), PipeId::Decap);
    let acts: Vec<_> = decap.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(acts[1], "crypto_encap.decap eth.type=0x86dd");
    // Without the ACL, NVIDIA adds one match-all entry; ours matches a
    // clean syndrome, as its IPv4 pipe does.
    let cfg = PipelineConfig { disable_ingress_acl: true, ..Default::default() };
    let e = entries(cfg, PipeId::IngressAclIpv6);
    assert_eq!(e.len(), 1);
    assert_eq!(nv_entry(&e[0]), [("parser_meta.psp_syndrome", 0, u32::MAX)]);
    assert_eq!(pipe(cfg, PipeId::IngressAclIpv6).nr_entries, 1);
}
