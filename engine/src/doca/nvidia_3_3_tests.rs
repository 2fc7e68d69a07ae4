//! Our pipes against tables written from NVIDIA's DOCA 3.3 PSP Gateway
//! (`applications/psp_gateway/psp_gw_flows.cpp` of NVIDIA-DOCA/doca-samples,
//! tunnel mode, ingress ACL on, no sampling).
//!
//! Each table row states, in NVIDIA's own terms, one pipe: its domain, the
//! `doca_flow_match` fields it matches, where it forwards on a match and on
//! a miss. The test turns our [`DocaPipeSpec`] into the same terms and
//! lists every difference; it fails unless that list is exactly the row's
//! `known` list. So a difference that appears, or one that goes away, fails
//! the test until the row (and the README's DOCA section, which lists the
//! same differences with their reasons) is updated.

use super::tests::ports;
use super::*;

/// One pipe of NVIDIA's 3.3 application.
pub(super) struct Nv {
    /// Our pipe it corresponds to.
    ours: PipeId,
    /// NVIDIA's pipe name (`doca_flow_pipe_cfg_set_name`).
    name: &'static str,
    domain: Domain,
    /// Matched `doca_flow_match` fields (`=X`: a fixed value in the pipe).
    matches: &'static [&'static str],
    /// Forward on match / on miss: a pipe name, `port:uplink`, `port:vf`,
    /// `drop`, `rss`, or `none`.
    fwd: &'static str,
    fwd_miss: &'static str,
    /// The differences that remain, as [`diff`] words them.
    known: &'static [&'static str],
}

/// NVIDIA's names for the fields one of ours sets (backend `set_field`).
pub(super) fn nv_fields(f: Field) -> &'static [&'static str] {
    match f {
        Field::PortId => &["parser_meta.port_id"],
        Field::OuterEthType => &["outer.eth.type"],
        Field::OuterL3Ok => &["parser_meta.outer_l3_ok"],
        Field::OuterIp4ChecksumOk => &["parser_meta.outer_ip4_checksum_ok"],
        Field::OuterUdpDstPort => &["outer.udp.dst_port"],
        Field::OuterIp4 => &["outer.l3_type=IP4", "parser_meta.outer_l3_type=IPV4"],
        Field::OuterIp4Dst => &["outer.ip4.dst_ip"],
        Field::OuterIp4Src => &["outer.ip4.src_ip"],
        Field::Random => &["parser_meta.random"],
        Field::PspSyndrome => &["parser_meta.psp_syndrome"],
        Field::TunPsp => &["tun.type=PSP"],
        Field::PspSpi => &["tun.psp.spi"],
        Field::PspSDVerV => &["tun.psp.s_d_ver_v"],
        Field::InnerIp4 => &["inner.l3_type=IP4"],
        Field::InnerIp4Src => &["inner.ip4.src_ip"],
        Field::InnerIp4Dst => &["inner.ip4.dst_ip"],
        Field::OuterL3Meta => &["parser_meta.outer_l3_type"],
        Field::OuterL4Meta => &["parser_meta.outer_l4_type"],
        Field::OuterL4TypeExt => &["outer.l4_type_ext"],
        Field::OuterIp6NextProto => &["outer.ip6.next_proto"],
        Field::OuterIcmpType => &["outer.icmp.type"],
        Field::PspNextHdr => &["tun.psp.nexthdr"],
        Field::InnerL3Meta => &["parser_meta.inner_l3_type"],
        Field::InnerIp6 => &["inner.l3_type=IP6"],
        Field::InnerIp6Src => &["inner.ip6.src_ip"],
        Field::InnerIp6Dst => &["inner.ip6.dst_ip"],
        Field::MetaScratch(2) => &["meta.u32[2]"],
        Field::MetaScratch(_) => &["meta.u32[other]"],
        Field::PktMeta => &["meta.pkt_meta"],
        Field::OuterIp6 => &["outer.l3_type=IP6", "parser_meta.outer_l3_type=IPV6"],
        Field::OuterIp6Src => &["outer.ip6.src_ip"],
        Field::OuterIp6Dst => &["outer.ip6.dst_ip"],
    }
}

/// NVIDIA's names for what one of our action templates writes.
pub(super) fn nv_actions(a: &PipeAction) -> Vec<String> {
    match *a {
        PipeAction::EncryptEncap { len, .. } => {
            vec!["crypto.encrypt".into(), format!("crypto_encap.encap[{len}]")]
        }
        PipeAction::Decrypt => vec!["crypto.decrypt".into()],
        PipeAction::DecapL2 { ethertype, .. } => {
            vec![format!("crypto_encap.decap eth.type={ethertype:#06x}")]
        }
        PipeAction::SetScratch { index } => vec![format!("meta.u32[{index}]")],
        PipeAction::SetMeta { pkt_meta } => vec![format!("meta.pkt_meta={pkt_meta:#x}")],
        PipeAction::SetSampleBit => vec!["tun.type=PSP tun.psp.s_d_ver_v=0x80/0x80".into()],
    }
}

/// One control entry's match as NVIDIA writes it: (field, value, mask),
/// sorted by field name.
pub(super) fn nv_entry(e: &DocaEntry) -> Vec<(&'static str, u32, u32)> {
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

pub(super) fn nv_fwd(f: Option<Fwd>) -> String {
    match f {
        None => "none".into(),
        Some(Fwd::Port(PortRole::Secure)) | Some(Fwd::Port(PortRole::Rss)) => "port:uplink".into(),
        Some(Fwd::Port(PortRole::Unsecured)) => "port:vf".into(),
        Some(Fwd::Pipe(p)) => p.name().into(),
        Some(Fwd::PipePerEntry) => "pipe:per-entry".into(),
        Some(Fwd::RssPerEntry) => "rss".into(),
        Some(Fwd::RssIpv4) => "rss:ipv4".into(),
        Some(Fwd::RssIpv6) => "rss:ipv6".into(),
        Some(Fwd::Drop) => "drop".into(),
        Some(Fwd::Flood(p)) => format!("hash_pipe:flooding:{}", p.name()),
        Some(Fwd::Changeable) => "changeable".into(),
        Some(Fwd::OrderedList(p, Some(i))) => format!("ordered_list:{}[{i}]", p.name()),
        Some(Fwd::OrderedList(p, None)) => format!("ordered_list:{}[per-entry]", p.name()),
    }
}

pub(super) fn pipe(cfg: PipelineConfig, id: PipeId) -> DocaPipeSpec {
    let t = Translator::new(cfg, ports()).unwrap();
    t.pipes().into_iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no {}", id.name()))
}

pub(super) fn entries(cfg: PipelineConfig, id: PipeId) -> Vec<DocaEntry> {
    let t = Translator::new(cfg, ports()).unwrap();
    t.static_entries().into_iter().filter(|e| e.pipe == id).collect()
}

/// Every difference between our pipe and NVIDIA's, sorted.
fn diff(ours: &DocaPipeSpec, nv: &Nv) -> Vec<String> {
    let mut d = Vec::new();
    if ours.domain != nv.domain {
        d.push(format!("domain: ours {:?}, NVIDIA {:?}", ours.domain, nv.domain));
    }
    let mine: Vec<&str> =
        ours.matches.iter().flat_map(|&(f, _)| nv_fields(f).iter().copied()).collect();
    for m in nv.matches.iter().filter(|m| !mine.contains(m)) {
        d.push(format!("match: NVIDIA only {m}"));
    }
    for m in mine.iter().filter(|m| !nv.matches.contains(m)) {
        d.push(format!("match: ours only {m}"));
    }
    let (fwd, miss) = (nv_fwd(ours.fwd), nv_fwd(ours.fwd_miss));
    if fwd != nv.fwd {
        d.push(format!("fwd: ours {fwd}, NVIDIA {}", nv.fwd));
    }
    if miss != nv.fwd_miss {
        d.push(format!("fwd_miss: ours {miss}, NVIDIA {}", nv.fwd_miss));
    }
    d.sort();
    d
}

pub(super) fn check(nv: &Nv) {
    check_cfg(PipelineConfig::default(), nv)
}

/// [`check`] under another configuration.
pub(super) fn check_cfg(cfg: PipelineConfig, nv: &Nv) {
    let t = Translator::new(cfg, ports()).unwrap();
    let pipes = t.pipes();
    let ours = pipes.iter().find(|p| p.id == nv.ours).unwrap();
    let mut known: Vec<String> = nv.known.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(diff(ours, nv), known, "{} against NVIDIA 3.3 {}", ours.name, nv.name);
}

#[test]
fn syndrome_stats_pipe_is_nvidia_3_3_syndrome_stats() {
    check(&Nv {
        ours: PipeId::SyndromeStats,
        name: "SYNDROME_STATS",
        domain: Domain::SecureIngress,
        matches: &["parser_meta.psp_syndrome"],
        fwd: "drop",
        fwd_miss: "drop",
        known: &[],
    });
    // Its entries: one per syndrome, DOCA_FLOW_CRYPTO_SYNDROME_ICV_FAIL (1)
    // and _BAD_TRAILER (2), each with a counter; misses counted.
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let spec = t.pipes().into_iter().find(|p| p.id == PipeId::SyndromeStats).unwrap();
    assert_eq!((spec.nr_entries, spec.miss_counter), (2, true));
    let values: Vec<_> = t
        .static_entries()
        .into_iter()
        .filter(|e| e.pipe == PipeId::SyndromeStats)
        .map(|e| e.matches)
        .collect();
    assert_eq!(
        values,
        [vec![(Field::PspSyndrome, Value::Exact(1))], vec![(Field::PspSyndrome, Value::Exact(2))]]
    );
}

#[test]
fn ingress_decrypt_pipe_is_nvidia_3_3_match_ingress_decrypt() {
    check(&Nv {
        ours: PipeId::IngressDecrypt,
        name: "MATCH_INGR_DECRYPT (then DECRYPT, an ordered list)",
        domain: Domain::SecureIngress,
        matches: &["parser_meta.port_id", "outer.l4_type_ext", "outer.udp.dst_port"],
        fwd: "ordered_list:decrypt_pipe[0]",
        fwd_miss: "none",
        known: &[],
    });
    // Its fixed values: DOCA_FLOW_L4_TYPE_EXT_UDP and UDP port 1000
    // (DOCA_FLOW_PSP_DEFAULT_PORT); port_id per entry, the uplink's.
    let spec = pipe(PipelineConfig::default(), PipeId::IngressDecrypt);
    assert_eq!(
        spec.matches,
        [
            (Field::PortId, Value::PerEntry),
            (Field::OuterL4TypeExt, Value::Exact(2)),
            (Field::OuterUdpDstPort, Value::Exact(1000)),
        ]
    );
    let e = entries(PipelineConfig::default(), PipeId::IngressDecrypt);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].matches, [(Field::PortId, Value::Exact(0))]);
}

#[test]
fn ingress_acl_pipe_is_nvidia_3_3_match_ingress_acl_ipv4() {
    check(&Nv {
        ours: PipeId::IngressAcl,
        name: "MATCH_INGR_ACL_IPV4",
        domain: Domain::SecureIngress,
        matches: &[
            "inner.l3_type=IP4",
            "tun.type=PSP",
            "tun.psp.spi",
            "inner.ip4.src_ip",
            "inner.ip4.dst_ip",
        ],
        fwd: "ordered_list:decap_pipe[per-entry]",
        fwd_miss: "none",
        known: &[
            "fwd_miss: ours syndrome_stats_pipe, NVIDIA none",
            "match: ours only parser_meta.psp_syndrome",
        ],
    });
}

#[test]
fn decrypt_and_decap_pipes_are_nvidia_3_3_decrypt_and_decap() {
    // ingress_decrypt_pipe_create: an ordered-list pipe, one list with one
    // crypto element (decrypt, DOCA_FLOW_PSP_DECRYPTION_ID), 1 entry,
    // forward to INNER_IP_CLASSIFIER (INGR_SAMPL when sampling), misses
    // (counted) to SYNDROME_STATS.
    check(&Nv {
        ours: PipeId::Decrypt,
        name: "DECRYPT",
        domain: Domain::SecureIngress,
        matches: &[],
        fwd: "inner_ip_classifier_pipe",
        fwd_miss: "syndrome_stats_pipe",
        known: &[],
    });
    // decap_pipe_create: an ordered-list pipe, list 0 decaps and writes an
    // Ethernet header of type IPv4, list 1 of type IPv6; 2 entries (entry
    // i, list i); forward to the VF, misses (counted) to SYNDROME_STATS.
    check(&Nv {
        ours: PipeId::Decap,
        name: "DECAP",
        domain: Domain::SecureIngress,
        matches: &[],
        fwd: "port:vf",
        fwd_miss: "syndrome_stats_pipe",
        known: &[],
    });
    let cfg = PipelineConfig::default();
    let (dec, decap) = (pipe(cfg, PipeId::Decrypt), pipe(cfg, PipeId::Decap));
    assert_eq!((dec.kind, dec.nr_entries, dec.miss_counter), (PipeType::OrderedList, 1, true));
    assert_eq!(dec.actions.iter().flat_map(nv_actions).collect::<Vec<_>>(), ["crypto.decrypt"]);
    assert_eq!(
        (decap.kind, decap.nr_entries, decap.miss_counter),
        (PipeType::OrderedList, 2, true)
    );
    assert_eq!(
        decap.actions.iter().flat_map(nv_actions).collect::<Vec<_>>(),
        ["crypto_encap.decap eth.type=0x0800", "crypto_encap.decap eth.type=0x86dd"]
    );
    let e: Vec<_> = entries(cfg, PipeId::Decap).iter().map(|e| (e.key, nv_fwd(e.fwd))).collect();
    assert_eq!(
        e,
        [
            (EntryKey::Static(PipeId::Decap, 0), "port:vf".to_owned()),
            (EntryKey::Static(PipeId::Decap, 1), "port:vf".to_owned()),
        ]
    );
    let e = entries(cfg, PipeId::Decrypt);
    assert_eq!((e.len(), nv_fwd(e[0].fwd)), (1, "inner_ip_classifier_pipe".to_owned()));
    // The ACL entries pick DECAP's list by family (NVIDIA:
    // INGRESS_ACL_IPV4_SEQ_IDX 0, INGRESS_ACL_IPV6_SEQ_IDX 1); without the
    // ACL, the fixed entries.
    let cfg = PipelineConfig { disable_ingress_acl: true, ..Default::default() };
    for (acl, idx) in [(PipeId::IngressAcl, 0), (PipeId::IngressAclIpv6, 1)] {
        let e = entries(cfg, acl);
        assert_eq!(e[0].fwd, Some(Fwd::OrderedList(PipeId::Decap, Some(idx))));
    }
}

#[test]
fn egress_acl_pipe_is_nvidia_3_3_match_egress_acl_ipv4() {
    check(&Nv {
        ours: PipeId::EgressAcl,
        name: "MATCH_EGR_ACL_IPV4",
        domain: Domain::SecureEgress,
        matches: &[
            "parser_meta.outer_l3_type=IPV4",
            "outer.l3_type=IP4",
            "outer.ip4.dst_ip",
            "outer.ip4.src_ip",
        ],
        fwd: "ordered_list:encap_encrypt_pipe[per-entry]",
        fwd_miss: "rss_pipe",
        known: &[],
    });
}

#[test]
fn rss_pipe_is_nvidia_3_3_rss_pipe() {
    check(&Nv {
        ours: PipeId::Rss,
        name: "RSS_PIPE",
        domain: Domain::Egress,
        matches: &["parser_meta.outer_l3_type"],
        fwd: "rss",
        fwd_miss: "none",
        known: &[],
    });
    // Entries: DOCA_FLOW_L3_META_IPV4 -> RSS on DOCA_FLOW_RSS_IPV4,
    // DOCA_FLOW_L3_META_IPV6 -> RSS on DOCA_FLOW_RSS_IPV6.
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let e: Vec<_> = t
        .static_entries()
        .into_iter()
        .filter(|e| e.pipe == PipeId::Rss)
        .map(|e| (e.matches, nv_fwd(e.fwd)))
        .collect();
    assert_eq!(
        e,
        [
            (vec![(Field::OuterL3Meta, Value::Exact(1))], "rss:ipv4".to_owned()),
            (vec![(Field::OuterL3Meta, Value::Exact(2))], "rss:ipv6".to_owned()),
        ]
    );
    let spec = t.pipes().into_iter().find(|p| p.id == PipeId::Rss).unwrap();
    assert_eq!(spec.nr_entries, 2);
}

/// A packet's parsed fields, for the root's classification table.
pub(super) fn pkt(port: u16, ethertype: u16, l3_ok: bool, ip4_ok: bool) -> HashMap<Field, u32> {
    HashMap::from([
        (Field::PortId, u32::from(port)),
        (Field::OuterEthType, u32::from(ethertype)),
        (Field::OuterL3Ok, u32::from(l3_ok)),
        (Field::OuterIp4ChecksumOk, u32::from(ip4_ok)),
    ])
}

/// Where our control-pipe root sends a packet: the first entry (lowest
/// priority) whose masked match it passes.
pub(super) fn classify(entries: &[DocaEntry], p: &HashMap<Field, u32>) -> Option<Fwd> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by_key(|e| e.priority);
    sorted
        .into_iter()
        .find(|e| {
            e.matches.iter().all(|&(f, v)| {
                let (value, mask) = match v {
                    Value::Masked { value, mask } => (value, mask),
                    Value::Exact(x) => (x, u32::MAX),
                    Value::PerEntry => unreachable!("control entries bring their values"),
                };
                p.get(&f).copied().unwrap_or(0) & mask == value & mask
            })
        })
        .and_then(|e| e.fwd)
}

/// Where our root sends a packet: a ROOT entry whose values it has (a
/// basic pipe: exact values), else the MISS pipe's first entry it passes.
pub(super) fn classify_root(t: &Translator, p: &HashMap<Field, u32>) -> Option<Fwd> {
    let e = t.static_entries();
    let of = |id| e.iter().filter(|x| x.pipe == id).cloned().collect::<Vec<_>>();
    classify(&of(PipeId::IngressRoot), p).or_else(|| classify(&of(PipeId::IngressMiss), p))
}

/// `pkt` with the parser's L3 and L4 types.
pub(super) fn pkt_l4(port: u16, ethertype: u16, l3_ok: bool, l4: u32) -> HashMap<Field, u32> {
    let v4 = ethertype == 0x0800;
    let mut p = pkt(port, ethertype, l3_ok, v4 && l3_ok);
    let l3 = match ethertype {
        0x0800 => L3_META_IPV4,
        0x86dd => L3_META_IPV6,
        _ => 0,
    };
    p.insert(Field::OuterL3Meta, l3);
    p.insert(Field::OuterL4Meta, l4);
    p
}

#[test]
fn ingress_root_is_nvidia_3_3_root() {
    // ingress_root_pipe_create: basic, the default domain's root, port_id,
    // eth type, outer_l3_ok, outer_ip4_checksum_ok, outer_l3_type and
    // outer_l4_type per entry; forward changeable, misses to MISS.
    check(&Nv {
        ours: PipeId::IngressRoot,
        name: "ROOT",
        domain: Domain::Default,
        matches: &[
            "parser_meta.port_id",
            "outer.eth.type",
            "parser_meta.outer_l3_ok",
            "parser_meta.outer_ip4_checksum_ok",
            "parser_meta.outer_l3_type",
            "parser_meta.outer_l4_type",
        ],
        fwd: "changeable",
        fwd_miss: "ingress_miss_pipe",
        known: &[],
    });
    check(&Nv {
        ours: PipeId::IngressMiss,
        name: "MISS (control)",
        domain: Domain::Default,
        matches: &[],
        fwd: "none",
        fwd_miss: "none",
        known: &[],
    });
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let spec = |id| t.pipes().into_iter().find(|p| p.id == id).unwrap();
    let (root, miss) = (spec(PipeId::IngressRoot), spec(PipeId::IngressMiss));
    assert_eq!((root.kind, root.is_root, root.nr_entries), (PipeType::Basic, true, 12));
    assert_eq!((miss.kind, miss.is_root, miss.nr_entries), (PipeType::Control, false, 7));
    // NVIDIA's 9 ROOT entries: (port, eth type, l3_ok, ip4 checksum ok,
    // L3 type, L4 type) -> where.
    let (up, vf) = (0u32, 1u32);
    let (tcp, udp, icmp, esp) = (1, 2, 3, 4);
    let row = |port, ty: u32, l4, to: &str| {
        let (csum, l3) = if ty == 0x0800 { (1, L3_META_IPV4) } else { (0, L3_META_IPV6) };
        (vec![port, ty, 1, csum, l3, l4], to.to_owned())
    };
    let (dec, egr) = ("ingress_decrypt_pipe", "empty_pipe");
    let nv = vec![
        row(up, 0x0800, udp, dec),
        row(up, 0x86dd, udp, dec),
        row(vf, 0x0800, tcp, egr),
        row(vf, 0x0800, udp, egr),
        row(vf, 0x0800, esp, egr),
        row(vf, 0x0800, icmp, egr),
        row(vf, 0x86dd, tcp, egr),
        row(vf, 0x86dd, udp, egr),
        row(vf, 0x86dd, esp, egr),
    ];
    let ours: Vec<_> = t
        .static_entries()
        .into_iter()
        .filter(|e| e.pipe == PipeId::IngressRoot)
        .map(|e| {
            let v = e
                .matches
                .iter()
                .map(|&(_, v)| match v {
                    Value::Exact(x) => x,
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<_>>();
            (v, nv_fwd(e.fwd))
        })
        .collect();
    assert_eq!(ours, nv);
}

#[test]
fn ingress_root_classifies_as_nvidia_3_3_root_and_miss() {
    // Where NVIDIA's ROOT, then MISS, send a packet (uplink 0, VF 1):
    // decryption, the egress root, RSS, or drop.
    let (up, vf) = (0, 1);
    let (tcp, udp, icmp, esp, none) = (1, 2, 3, 4, 0);
    let dec = Fwd::Pipe(PipeId::IngressDecrypt);
    let egr = Fwd::Pipe(PipeId::Empty);
    let table = [
        ("uplink IPv4 UDP", pkt_l4(up, 0x0800, true, udp), dec),
        ("uplink IPv6 UDP", pkt_l4(up, 0x86dd, true, udp), dec),
        ("uplink IPv4 TCP", pkt_l4(up, 0x0800, true, tcp), Fwd::Drop),
        ("uplink IPv6 ESP", pkt_l4(up, 0x86dd, true, esp), Fwd::Drop),
        ("VF IPv4 TCP", pkt_l4(vf, 0x0800, true, tcp), egr),
        ("VF IPv4 UDP", pkt_l4(vf, 0x0800, true, udp), egr),
        ("VF IPv4 ESP", pkt_l4(vf, 0x0800, true, esp), egr),
        ("VF IPv4 ICMP", pkt_l4(vf, 0x0800, true, icmp), egr),
        ("VF IPv4, no L4 (a fragment)", pkt_l4(vf, 0x0800, true, none), Fwd::Drop),
        ("VF IPv6 TCP", pkt_l4(vf, 0x86dd, true, tcp), egr),
        ("VF IPv6 UDP", pkt_l4(vf, 0x86dd, true, udp), egr),
        ("VF IPv6 ESP", pkt_l4(vf, 0x86dd, true, esp), egr),
        ("VF IPv6 ICMPv6 echo (MISS ipv6_from_vf)", pkt_l4(vf, 0x86dd, true, icmp), egr),
        ("VF ARP", pkt_l4(vf, 0x0806, false, none), Fwd::RssIpv4),
        ("uplink ARP (tunnel mode)", pkt_l4(up, 0x0806, false, none), Fwd::Drop),
        ("VF IPv4, bad L3", pkt_l4(vf, 0x0800, false, udp), Fwd::Drop),
        ("other ethertype", pkt_l4(vf, 0x88cc, false, none), Fwd::Drop),
    ];
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    for (what, p, nv) in &table {
        assert_eq!(classify_root(&t, p), Some(*nv), "{what}");
    }
    // Uplink IPv4 with a bad checksum: no ROOT entry has it, MISS drops.
    let mut bad = pkt_l4(up, 0x0800, true, udp);
    bad.insert(Field::OuterIp4ChecksumOk, 0);
    assert_eq!(classify_root(&t, &bad), Some(Fwd::Drop));
}

#[test]
fn every_nvidia_3_3_pipe_is_ours_with_its_type_and_domain() {
    // create_pipes in tunnel mode with the ingress ACL and sampling on:
    // NVIDIA's name, ours, the pipe type, the domain each sets (none set:
    // the default domain) and its size (T: max_tunnels).
    use Domain::*;
    use PipeType::*;
    const T: u32 = 1000;
    let nv = [
        ("RSS_PIPE", PipeId::Rss, Basic, Egress, 2),
        ("FWD_TO_RSS", PipeId::FwdToRss, Basic, Default, 2),
        ("SYNDROME_STATS", PipeId::SyndromeStats, Basic, SecureIngress, 2),
        ("DECAP", PipeId::Decap, OrderedList, SecureIngress, 2),
        ("MATCH_INGR_ACL_IPV4", PipeId::IngressAcl, Basic, SecureIngress, T),
        ("MATCH_INGR_ACL_IPV6", PipeId::IngressAclIpv6, Basic, SecureIngress, T),
        ("ING_SRC_IP6", PipeId::IngressSrcIp6, Basic, Default, T),
        ("INNER_IP_CLASSIFIER", PipeId::InnerIpClassifier, Basic, SecureIngress, 2),
        ("ING_FLOOD_IPV4", PipeId::IngressFloodIpv4, Flood, Default, 2),
        ("ING_FLOOD_IPV6", PipeId::IngressFloodIpv6, Flood, Default, 2),
        ("EGR_FLOOD", PipeId::EgressFlood, Flood, Egress, 2),
        ("INGR_SAMPL", PipeId::IngressSampling, Basic, Default, 4),
        ("DECRYPT", PipeId::Decrypt, OrderedList, SecureIngress, 1),
        ("MATCH_INGR_DECRYPT", PipeId::IngressDecrypt, Basic, SecureIngress, 1),
        ("EGR_SAMPL", PipeId::EgressSampling, Control, Egress, 2),
        ("ENCAP_ENCRYPT", PipeId::EncapEncrypt, OrderedList, SecureEgress, T),
        ("MATCH_EGR_ACL_IPV4", PipeId::EgressAcl, Basic, SecureEgress, T),
        ("MATCH_EGR_ACL_IPV6", PipeId::EgressAclIpv6, Basic, SecureEgress, T),
        ("EGR_ACL", PipeId::EgressDstIp6, Basic, SecureEgress, T),
        ("EGR_ROOT", PipeId::Empty, Basic, SecureEgress, 4),
        ("MISS", PipeId::IngressMiss, Control, Default, 7),
        ("ROOT", PipeId::IngressRoot, Basic, Default, 12),
    ];
    // The gateway sizes the ACL like the tunnel table in DOCA mode.
    let cfg = PipelineConfig {
        log2_sample_rate: 3,
        max_tunnels: T as usize,
        max_acl_entries: T as usize,
        ..PipelineConfig::default()
    };
    let pipes = Translator::new(cfg, ports()).unwrap().pipes();
    assert_eq!(
        pipes.len(),
        nv.len(),
        "ours: {:?}",
        pipes.iter().map(|p| p.name).collect::<Vec<_>>()
    );
    for (name, id, kind, domain, size) in nv {
        let p = pipes.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("no pipe for {name}"));
        assert_eq!((p.kind, p.domain), (kind, domain), "{name} (ours {})", p.name);
        // Known difference (README): ENCAP_ENCRYPT is indexed by key slot,
        // and there are max_tunnels + 1 slots (1-based).
        let size = if id == PipeId::EncapEncrypt { size + 2 } else { size };
        assert_eq!(p.nr_entries, size, "{name} (ours {}): entries", p.name);
    }
    // The roots: ROOT (default domain) and EGR_ROOT (secure egress), no other.
    let roots: Vec<_> = pipes.iter().filter(|p| p.is_root).map(|p| p.id).collect();
    assert_eq!(roots, [PipeId::Empty, PipeId::IngressRoot]);
    // Without sampling, NVIDIA creates neither the flooding pipes nor the
    // sampling pipes nor FWD_TO_RSS; with the ACL off, no ING_SRC_IP6.
    let cfg = PipelineConfig { disable_ingress_acl: true, ..PipelineConfig::default() };
    let ids: Vec<_> = Translator::new(cfg, ports()).unwrap().pipes().iter().map(|p| p.id).collect();
    for absent in [
        PipeId::FwdToRss,
        PipeId::IngressFloodIpv4,
        PipeId::IngressFloodIpv6,
        PipeId::EgressFlood,
        PipeId::IngressSampling,
        PipeId::EgressSampling,
        PipeId::IngressSrcIp6,
    ] {
        assert!(!ids.contains(&absent), "{}", absent.name());
    }
    assert_eq!(ids.len(), nv.len() - 7);
}

#[path = "nvidia_3_3_ingress_tests.rs"]
mod ingress;

#[path = "nvidia_3_3_egress_tests.rs"]
mod egress;

#[path = "nvidia_3_3_sampling_tests.rs"]
mod sampling;
