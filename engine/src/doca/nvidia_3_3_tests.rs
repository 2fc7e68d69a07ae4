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
        Field::OuterUdp => &["outer.l4_type_ext=UDP", "parser_meta.outer_l4_type=UDP"],
        Field::OuterUdpDstPort => &["outer.udp.dst_port"],
        Field::OuterIp4 => &["outer.l3_type=IP4", "parser_meta.outer_l3_type=IPV4"],
        Field::OuterIp4Dst => &["outer.ip4.dst_ip"],
        Field::Random => &["parser_meta.random"],
        Field::PspSyndrome => &["parser_meta.psp_syndrome"],
        Field::TunPsp => &["tun.type=PSP"],
        Field::PspSpi => &["tun.psp.spi"],
        Field::PspSDVerV => &["tun.psp.s_d_ver_v"],
        Field::InnerIp4 => &["inner.l3_type=IP4"],
        Field::InnerIp4Src => &["inner.ip4.src_ip"],
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
        Some(Fwd::Port(Port::Secure)) | Some(Fwd::Port(Port::Rss)) => "port:uplink".into(),
        Some(Fwd::Port(Port::Unsecured)) => "port:vf".into(),
        Some(Fwd::Pipe(p)) => p.name().into(),
        Some(Fwd::PipePerEntry) => "pipe:per-entry".into(),
        Some(Fwd::RssPerEntry) => "rss".into(),
        Some(Fwd::RssIpv4) => "rss:ipv4".into(),
        Some(Fwd::RssIpv6) => "rss:ipv6".into(),
        Some(Fwd::Drop) => "drop".into(),
        Some(Fwd::Flood(p)) => format!("hash_pipe:flooding:{}", p.name()),
        Some(Fwd::Changeable) => "changeable".into(),
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
        matches: &["parser_meta.port_id", "outer.l4_type_ext=UDP", "outer.udp.dst_port"],
        fwd: "DECRYPT",
        fwd_miss: "none",
        known: &[
            "fwd: ours inner_ip_classifier_pipe, NVIDIA DECRYPT",
            "fwd_miss: ours drop, NVIDIA none",
            "match: ours only parser_meta.outer_l4_type=UDP",
        ],
    });
}

#[test]
fn ingress_acl_pipe_is_nvidia_3_3_match_ingress_acl_ipv4() {
    check(&Nv {
        ours: PipeId::IngressAcl,
        name: "MATCH_INGR_ACL_IPV4 (then DECAP, an ordered list)",
        domain: Domain::SecureIngress,
        matches: &[
            "inner.l3_type=IP4",
            "tun.type=PSP",
            "tun.psp.spi",
            "inner.ip4.src_ip",
            "inner.ip4.dst_ip",
        ],
        fwd: "DECAP",
        fwd_miss: "none",
        known: &[
            "fwd: ours port:vf, NVIDIA DECAP",
            "fwd_miss: ours syndrome_stats_pipe, NVIDIA none",
            "match: NVIDIA only inner.ip4.dst_ip",
            "match: ours only parser_meta.psp_syndrome",
        ],
    });
}

#[test]
fn egress_acl_pipe_is_nvidia_3_3_match_egress_acl_ipv4() {
    check(&Nv {
        ours: PipeId::EgressAcl,
        name: "MATCH_EGR_ACL_IPV4 (then ENCAP_ENCRYPT, an ordered list)",
        domain: Domain::SecureEgress,
        matches: &[
            "parser_meta.outer_l3_type=IPV4",
            "outer.l3_type=IP4",
            "outer.ip4.dst_ip",
            "outer.ip4.src_ip",
        ],
        fwd: "ENCAP_ENCRYPT",
        fwd_miss: "rss_pipe",
        known: &[
            "fwd: ours port:uplink, NVIDIA ENCAP_ENCRYPT",
            "match: NVIDIA only outer.ip4.src_ip",
        ],
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

#[test]
fn ingress_root_classifies_as_nvidia_3_3_root_and_miss() {
    // NVIDIA 3.3: `ROOT` (basic, default domain, port_id + eth type + L3/L4
    // parser meta) with `MISS` (control) behind it. In the terms of our
    // one control pipe, the rows (uplink 0, VF 1) and where each goes:
    // decryption, the egress path, RSS, or drop.
    let (up, vf) = (0, 1);
    let table = [
        ("uplink IPv4 (UDP)", pkt(up, 0x0800, true, true), Fwd::Pipe(PipeId::IngressDecrypt)),
        ("uplink IPv6 (UDP)", pkt(up, 0x86dd, true, false), Fwd::Pipe(PipeId::IngressDecrypt)),
        // NVIDIA: fwd_egress, to EGR_ROOT (ours: empty_pipe).
        ("VF IPv4 (TCP/UDP/ESP/ICMP)", pkt(vf, 0x0800, true, true), Fwd::Pipe(PipeId::Empty)),
        ("VF IPv6 (TCP/UDP/ESP, ICMPv6)", pkt(vf, 0x86dd, true, false), Fwd::Pipe(PipeId::Empty)),
        ("VF ARP", pkt(vf, 0x0806, false, false), Fwd::RssIpv4),
        ("uplink ARP (tunnel mode)", pkt(up, 0x0806, false, false), Fwd::Drop),
        ("uplink IPv4, bad checksum", pkt(up, 0x0800, true, false), Fwd::Drop),
        ("VF IPv4, bad L3", pkt(vf, 0x0800, false, false), Fwd::Drop),
        ("other ethertype", pkt(vf, 0x88cc, false, false), Fwd::Drop),
    ];
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let root: Vec<_> =
        t.static_entries().into_iter().filter(|e| e.pipe == PipeId::IngressRoot).collect();
    for (what, p, nv) in &table {
        assert_eq!(classify(&root, p), Some(*nv), "{what}");
    }
    let spec = t.pipes().into_iter().find(|p| p.id == PipeId::IngressRoot).unwrap();
    assert_eq!((spec.domain, spec.is_root), (Domain::Default, true));
    // Known difference (README): NVIDIA also matches the L4 type (UDP
    // from the uplink; TCP/UDP/ESP/ICMP from the VF); ours leaves L4 to
    // the decrypt pipe (UDP port 1000) and the egress ACL (whose miss goes
    // to RSS). Neighbour solicitations: `nvidia_3_3_ingress_tests`.
    assert!(root.iter().all(|e| e
        .matches
        .iter()
        .all(|(f, _)| !matches!(f, Field::OuterUdp | Field::OuterUdpDstPort))));
}

#[path = "nvidia_3_3_ingress_tests.rs"]
mod ingress;

#[path = "nvidia_3_3_egress_tests.rs"]
mod egress;

#[path = "nvidia_3_3_sampling_tests.rs"]
mod sampling;
