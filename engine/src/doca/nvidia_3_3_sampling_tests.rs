//! The sampling chain (`--sample-rate`) against NVIDIA's DOCA 3.3
//! `psp_gw_flows.cpp` (tunnel mode, ingress ACL on): `FWD_TO_RSS`,
//! `ING_FLOOD_IPV4/6` and `EGR_FLOOD` (`prepare_flooding_pipe`,
//! `configure_flooding`), `INGR_SAMPL` (`ingress_sampling_classifier_pipe_create`)
//! and `EGR_SAMPL` (`egress_sampling_pipe_create`), with their entries.

use super::super::*;
use super::{check_cfg, entries, nv_actions, nv_fwd, pipe, Nv};

const RATE: u8 = 3;

fn cfg() -> PipelineConfig {
    PipelineConfig { log2_sample_rate: RATE, ..Default::default() }
}

/// A basic or hash entry as NVIDIA adds it: its match values (the mask is
/// the pipe's) and where it goes.
fn values_and_fwd(e: &DocaEntry) -> (Vec<(Field, u32)>, String) {
    let v = e
        .matches
        .iter()
        .map(|&(f, v)| match v {
            Value::Exact(x) => (f, x),
            other => panic!("{}: entry value {other:?}", e.counter),
        })
        .collect();
    (v, nv_fwd(e.fwd))
}

#[test]
fn fwd_to_rss_is_nvidia_3_3_fwd_to_rss() {
    // No domain set (the default domain); pkt_meta = the egress sentinel
    // (mask UINT32_MAX); forward RSS changeable, an entry per family.
    check_cfg(
        cfg(),
        &Nv {
            ours: PipeId::FwdToRss,
            name: "FWD_TO_RSS",
            domain: Domain::Default,
            matches: &["parser_meta.outer_l3_type"],
            fwd: "rss",
            fwd_miss: "none",
            known: &[],
        },
    );
    let p = pipe(cfg(), PipeId::FwdToRss);
    let acts: Vec<_> = p.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(acts, [format!("meta.pkt_meta={:#x}", cfg().egress_sample_meta_indicator)]);
    assert_eq!((p.nr_entries, p.miss_counter), (2, true));
    let e: Vec<_> = entries(cfg(), PipeId::FwdToRss).iter().map(values_and_fwd).collect();
    assert_eq!(
        e,
        [
            (vec![(Field::OuterL3Meta, L3_META_IPV4)], "rss:ipv4".to_owned()),
            (vec![(Field::OuterL3Meta, L3_META_IPV6)], "rss:ipv6".to_owned()),
        ]
    );
}

#[test]
fn flooding_pipes_are_nvidia_3_3_ing_flood_and_egr_flood() {
    // prepare_flooding_pipe: DOCA_FLOW_PIPE_HASH with the flooding
    // algorithm, 2 entries, forward changeable, a counter and a miss
    // counter; configure_flooding's entries: index 0 the datapath, 1 the
    // copy to RSS.
    let rows = [
        (
            PipeId::IngressFloodIpv4,
            "ING_FLOOD_IPV4",
            Domain::Default,
            "ingress_acl_pipe",
            "rss_pipe",
        ),
        (
            PipeId::IngressFloodIpv6,
            "ING_FLOOD_IPV6",
            Domain::Default,
            "ingress_src_ip6_pipe",
            "rss_pipe",
        ),
        (PipeId::EgressFlood, "EGR_FLOOD", Domain::Egress, "port:uplink", "fwd_to_rss_pipe"),
    ];
    for (ours, name, domain, first, copy) in rows {
        check_cfg(
            cfg(),
            &Nv {
                ours,
                name,
                domain,
                matches: &[],
                fwd: "changeable",
                fwd_miss: "none",
                known: &[],
            },
        );
        let p = pipe(cfg(), ours);
        assert_eq!((p.kind, p.nr_entries, p.miss_counter), (PipeType::Flood, 2, true), "{name}");
        let e = entries(cfg(), ours);
        let got: Vec<_> = e.iter().map(|e| (e.key, nv_fwd(e.fwd))).collect();
        assert_eq!(
            got,
            [
                (EntryKey::Static(ours, 0), first.to_owned()),
                (EntryKey::Static(ours, 1), copy.to_owned())
            ],
            "{name}: hash index and forward"
        );
    }
    // Without the ingress ACL, the IPv6 copy's datapath is MATCH_INGR_ACL_IPV6.
    let c = PipelineConfig { disable_ingress_acl: true, ..cfg() };
    let e = entries(c, PipeId::IngressFloodIpv6);
    assert_eq!(nv_fwd(e[0].fwd), "ingress_acl_ipv6_pipe");
}

#[test]
fn ingress_sampling_is_nvidia_3_3_ingr_sampl() {
    // The PSP S bit (match 0xff under mask PSP_SAMPLE_ENABLE) and the next
    // header (changeable), pkt_meta = the ingress sentinel, forward
    // changeable, misses (counted) to INNER_IP_CLASSIFIER; no domain set.
    check_cfg(
        cfg(),
        &Nv {
            ours: PipeId::IngressSampling,
            name: "INGR_SAMPL",
            domain: Domain::Default,
            matches: &["tun.type=PSP", "tun.psp.s_d_ver_v", "tun.psp.nexthdr"],
            fwd: "changeable",
            fwd_miss: "inner_ip_classifier_pipe",
            known: &[],
        },
    );
    let p = pipe(cfg(), PipeId::IngressSampling);
    assert!(p.matches.contains(&(Field::PspSDVerV, Value::Masked { value: 0xff, mask: 0x80 })));
    assert!(p.matches.contains(&(Field::PspNextHdr, Value::PerEntry)));
    let acts: Vec<_> = p.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(acts, [format!("meta.pkt_meta={:#x}", cfg().ingress_sample_meta_indicator)]);
    assert_eq!((p.nr_entries, p.miss_counter), (4, true));
    let got: Vec<_> = entries(cfg(), PipeId::IngressSampling).iter().map(values_and_fwd).collect();
    let row = |s: u32, next: u32, to: &str| {
        (vec![(Field::PspSDVerV, s), (Field::PspNextHdr, next)], to.to_owned())
    };
    assert_eq!(
        got,
        [
            row(0x80, 0x04, "hash_pipe:flooding:ingress_flood_ipv4_pipe"),
            row(0x80, 0x29, "hash_pipe:flooding:ingress_flood_ipv6_pipe"),
            row(0x00, 0x04, "ingress_acl_pipe"),
            row(0x00, 0x29, "ingress_src_ip6_pipe"),
        ]
    );
    // Decryption goes to it (NVIDIA's DECRYPT: sampling ? INGR_SAMPL : INNER_IP_CLASSIFIER).
    assert_eq!(pipe(cfg(), PipeId::Decrypt).fwd, Some(Fwd::Pipe(PipeId::IngressSampling)));
    let e = entries(cfg(), PipeId::Decrypt);
    assert_eq!(e[0].fwd, Some(Fwd::Pipe(PipeId::IngressSampling)));
}

#[test]
fn egress_sampling_is_nvidia_3_3_egr_sampl() {
    // A control pipe in the egress domain, 2 entries, no forward of its
    // own: priority 0, parser_meta.random below the threshold
    // (DOCA_FLOW_COMPARE_LT, match value DOCA_HTOBE16(threshold), no
    // mask) to the wire; priority 1, everything else, the S bit set
    // (mask PSP_SAMPLE_ENABLE), to EGR_FLOOD by flooding hash.
    check_cfg(
        cfg(),
        &Nv {
            ours: PipeId::EgressSampling,
            name: "EGR_SAMPL",
            domain: Domain::Egress,
            matches: &[],
            fwd: "none",
            fwd_miss: "none",
            known: &[],
        },
    );
    let p = pipe(cfg(), PipeId::EgressSampling);
    assert_eq!((p.kind, p.nr_entries), (PipeType::Control, 2));
    let threshold = u32::from(u16::MAX - (u16::MAX >> RATE));
    let e = entries(cfg(), PipeId::EgressSampling);
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].priority, &e[0].matches[..], e[0].condition, nv_fwd(e[0].fwd)),
        (
            0,
            &[(Field::Random, Value::Exact(threshold))][..],
            Some(Condition::RandomBelow),
            "port:uplink".to_owned()
        )
    );
    assert_eq!(e[0].action, EntryAction::Template);
    assert_eq!(
        (e[1].priority, e[1].matches.len(), e[1].condition, nv_fwd(e[1].fwd)),
        (1, 0, None, "hash_pipe:flooding:egress_flood_pipe".to_owned())
    );
    let EntryAction::Apply(a) = e[1].action.clone() else { panic!("{:?}", e[1].action) };
    assert_eq!(nv_actions(&a), ["tun.type=PSP tun.psp.s_d_ver_v=0x80/0x80"]);
    // NVIDIA's ENCAP_ENCRYPT forwards to it when sampling.
    assert_eq!(pipe(cfg(), PipeId::EncapEncrypt).fwd, Some(Fwd::Pipe(PipeId::EgressSampling)));
}
