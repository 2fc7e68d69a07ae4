//! Our egress side against NVIDIA's DOCA 3.3 `psp_gw_flows.cpp` (tunnel
//! mode): the encap template of `egress_encap_encrypt_pipe_create`.

use super::super::tests::ports;
use super::super::*;
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs};
use crate::psp::kdf::DerivedKey;
use crate::psp::Version;
use crate::tables::{HwKey, TunnelEntry};
use std::sync::Arc;

/// NVIDIA's template sizes: `sizeof(eth_ipv6_psp_tunnel_hdr)` (Ethernet
/// 14, IPv6 40, UDP 8, PSP base header 16, VC 8) and
/// `sizeof(eth_ipv4_psp_tunnel_hdr)` (IPv4 20 instead of 40), each 8 bytes
/// (`sizeof(uint64_t)`) shorter when `vc_enabled` is off.
fn nv_template_len(outer: OuterVersion, vc_enabled: bool) -> u16 {
    let ip = match outer {
        OuterVersion::Ipv6 => 40,
        OuterVersion::Ipv4 => 20,
    };
    let full = 14 + ip + 8 + 16 + 8;
    if vc_enabled {
        full
    } else {
        full - 8
    }
}

#[test]
fn encap_template_is_nvidia_3_3_encap_encrypt_with_and_without_vc() {
    for cookie in [None, Some(0x5053_5047)] {
        let cfg = PipelineConfig { expected_vc: cookie, ..Default::default() };
        let t = Translator::new(cfg, ports()).unwrap();
        let ee = t.pipes().into_iter().find(|p| p.id == PipeId::EncapEncrypt).unwrap();
        let got: Vec<_> = ee
            .actions
            .iter()
            .map(|a| match *a {
                PipeAction::EncryptEncap { outer, len, mode } => {
                    assert_eq!(mode, Mode::Tunnel);
                    (outer, len)
                }
                ref other => panic!("{other:?}"),
            })
            .collect();
        let vc = cookie.is_some();
        // NVIDIA: ordered list 0 into IPv4, 1 into IPv6.
        let nv = [
            (OuterVersion::Ipv4, nv_template_len(OuterVersion::Ipv4, vc)),
            (OuterVersion::Ipv6, nv_template_len(OuterVersion::Ipv6, vc)),
        ];
        assert_eq!(got, nv, "--cookie {vc}");
    }
}

fn tunnel_op(vc: Option<u64>) -> TableOp {
    let key = DerivedKey::from_bytes(&[3; 16]).unwrap();
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm128,
        spi: Spi(0x77),
        crypt_offset: 0,
        vc,
        eth: Some(EthAddrs { src: ports().secure_mac, dst: ports().next_hop_mac }),
        outer: OuterIp::V6 { src: "fd00::1".parse().unwrap(), dst: "fd00::2".parse().unwrap() },
        ttl: 64,
    };
    let e = Encapsulator::new(cfg, &key).unwrap();
    TableOp::SetTunnel(
        crate::tables::VipPair::new(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 7)),
        TunnelEntry { slot: 0, generation: 1, encap: Arc::new(e) },
        Some(HwKey::new(key)),
    )
}

#[test]
fn a_tunnel_entry_fills_its_template_exactly() {
    // NVIDIA formats every entry into the pipe's template (the VC last,
    // present exactly when vc_enabled): an entry's encap data is as long
    // as the template, and a tunnel whose VC presence differs is refused.
    for (cookie, vc) in [(None, None), (Some(1u64), Some(0xabcd_u64))] {
        let cfg = PipelineConfig { expected_vc: cookie, ..Default::default() };
        let mut t = Translator::new(cfg, ports()).unwrap();
        let steps = t.translate(&[tunnel_op(vc)]).unwrap();
        let Some(Step::Add(e)) = steps.iter().find(|s| matches!(s, Step::Add(_))) else {
            panic!("{steps:?}")
        };
        let EntryAction::Encrypt { encap_data, action_idx, .. } = &e.action else { panic!() };
        let ee = t.pipes().into_iter().find(|p| p.id == PipeId::EncapEncrypt).unwrap();
        let PipeAction::EncryptEncap { len, .. } = ee.actions[usize::from(*action_idx)] else {
            panic!()
        };
        assert_eq!(encap_data.len(), usize::from(len));
        assert_eq!(
            usize::from(len),
            usize::from(nv_template_len(OuterVersion::Ipv6, vc.is_some()))
        );

        let other = if vc.is_some() { None } else { Some(5) };
        let err = t.translate(&[tunnel_op(other)]).unwrap_err();
        assert!(matches!(err, TranslateError::Encap { .. }), "{err}");
    }
}

#[test]
fn egress_root_is_nvidia_3_3_egr_root() {
    use super::{check, entries, nv_fwd};
    // egress_root_pipe_create: the root of the secure egress domain,
    // eth.type and meta.pkt_meta changeable, forward changeable, misses
    // (counted) dropped; NVIDIA's 4 entries: (ARP, return_to_vf) and
    // (IPv6, return_to_vf) to the VF, (IPv4, 0) to MATCH_EGR_ACL_IPV4,
    // (IPv6, 0) to EGR_ACL (the IPv6 destination pipe).
    check(&super::Nv {
        ours: PipeId::Empty,
        name: "EGR_ROOT",
        domain: Domain::SecureEgress,
        matches: &["outer.eth.type", "meta.pkt_meta"],
        fwd: "changeable",
        fwd_miss: "drop",
        known: &[],
    });
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let p = t.pipes().into_iter().find(|p| p.id == PipeId::Empty).unwrap();
    assert_eq!((p.is_root, p.nr_entries, p.miss_counter), (true, 4, true));
    let got: Vec<_> = entries(PipelineConfig::default(), PipeId::Empty)
        .iter()
        .map(|e| (e.matches.clone(), nv_fwd(e.fwd)))
        .collect();
    let row = |t: u32, to: &str| {
        (
            vec![(Field::OuterEthType, Value::Exact(t)), (Field::PktMeta, Value::Exact(0))],
            to.to_owned(),
        )
    };
    // Known difference (README): no return-to-VF entries, this gateway
    // sends no ARP or neighbour answers of its own.
    assert_eq!(got, [row(0x0800, "egress_acl_pipe"), row(0x86dd, "egress_dst_ip6_pipe")]);
}

#[test]
fn ipv6_egress_pipes_are_nvidia_3_3_egr_acl_and_match_egr_acl_ipv6() {
    use super::{check, nv_actions};
    // egress_dst_ip6_pipe_create ("EGR_ACL"): the IPv6 destination to its
    // id in meta.u32[2], then MATCH_EGR_ACL_IPV6; misses (counted) to RSS.
    check(&super::Nv {
        ours: PipeId::EgressDstIp6,
        name: "EGR_ACL",
        domain: Domain::SecureEgress,
        matches: &["parser_meta.outer_l3_type=IPV6", "outer.l3_type=IP6", "outer.ip6.dst_ip"],
        fwd: "egress_acl_ipv6_pipe",
        fwd_miss: "rss_pipe",
        known: &[],
    });
    // match_egress_acl_pipe_create(false): the id and the IPv6 source,
    // to ENCAP_ENCRYPT; misses to RSS.
    check(&super::Nv {
        ours: PipeId::EgressAclIpv6,
        name: "MATCH_EGR_ACL_IPV6",
        domain: Domain::SecureEgress,
        matches: &[
            "parser_meta.outer_l3_type=IPV6",
            "outer.l3_type=IP6",
            "meta.u32[2]",
            "outer.ip6.src_ip",
        ],
        fwd: "ordered_list:encap_encrypt_pipe[per-entry]",
        fwd_miss: "rss_pipe",
        known: &[],
    });
    let t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let pipes = t.pipes();
    let dst = pipes.iter().find(|p| p.id == PipeId::EgressDstIp6).unwrap();
    let acts: Vec<_> = dst.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(acts, ["meta.u32[2]"]);
    let acl6 = pipes.iter().find(|p| p.id == PipeId::EgressAclIpv6).unwrap();
    let acl4 = pipes.iter().find(|p| p.id == PipeId::EgressAcl).unwrap();
    assert_eq!(acl6.fwd, acl4.fwd, "both to ENCAP_ENCRYPT, the entry's index");
    // No tunnel is IPv6 inside: no entries.
    assert!(t
        .static_entries()
        .iter()
        .all(|e| e.pipe != PipeId::EgressAclIpv6 && e.pipe != PipeId::EgressDstIp6));
}

#[test]
fn encap_encrypt_pipe_is_nvidia_3_3_encap_encrypt() {
    use super::{check, nv_actions, nv_fwd};
    // egress_encap_encrypt_pipe_create: an ordered-list pipe in the secure
    // egress domain, list 0 encrypts (PSP, crypto_id per entry) and encaps
    // into IPv4, list 1 into IPv6; forward to the wire (EGR_SAMPL when
    // sampling), misses (counted) to RSS.
    check(&super::Nv {
        ours: PipeId::EncapEncrypt,
        name: "ENCAP_ENCRYPT",
        domain: Domain::SecureEgress,
        matches: &[],
        fwd: "port:uplink",
        fwd_miss: "rss_pipe",
        known: &[],
    });
    let mut t = Translator::new(PipelineConfig::default(), ports()).unwrap();
    let ee = t.pipes().into_iter().find(|p| p.id == PipeId::EncapEncrypt).unwrap();
    assert_eq!((ee.kind, ee.miss_counter), (PipeType::OrderedList, true));
    let acts: Vec<_> = ee.actions.iter().flat_map(nv_actions).collect();
    assert_eq!(
        acts,
        ["crypto.encrypt", "crypto_encap.encap[58]", "crypto.encrypt", "crypto_encap.encap[78]"]
    );
    // add_encrypt_entry: an ordered-list entry at the slot's index (NVIDIA:
    // session->crypto_id) in the list of the outer family, forwarding to
    // the wire, and the match entry forwarding to that index.
    let steps = t.translate(&[tunnel_op(None)]).unwrap();
    let adds: Vec<_> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Add(e) => Some(e),
            _ => None,
        })
        .collect();
    let id = t.crypto_id(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 7)).unwrap();
    assert_eq!(adds[0].key, EntryKey::Crypto(id));
    assert!(matches!(
        adds[0].action,
        EntryAction::Encrypt { action_idx: 1, crypto_id, .. } if crypto_id == id
    ));
    assert_eq!(nv_fwd(adds[0].fwd), "port:uplink");
    assert_eq!(
        adds[1].key,
        EntryKey::Tunnel(Ipv4Addr::new(10, 0, 9, 1), Ipv4Addr::new(10, 0, 0, 7))
    );
    assert_eq!(nv_fwd(adds[1].fwd), format!("ordered_list:encap_encrypt_pipe[{id}]"));
}
