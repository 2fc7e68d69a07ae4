//! Our egress side against NVIDIA's DOCA 3.3 `psp_gw_flows.cpp` (tunnel
//! mode): the encap template of `egress_encap_encrypt_pipe_create`.

use super::super::tests::ports;
use super::super::*;
use crate::pipeline::tables::{HwKey, TunnelEntry};
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs};
use crate::psp::kdf::DerivedKey;
use crate::psp::Version;
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
        let eacl = t.pipes().into_iter().find(|p| p.id == PipeId::EgressAcl).unwrap();
        let got: Vec<_> = eacl
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
        // Ours: action_idx 0 IPv6, 1 IPv4 (NVIDIA: ordered list 1 IPv6, 0 IPv4).
        let nv = [
            (OuterVersion::Ipv6, nv_template_len(OuterVersion::Ipv6, vc)),
            (OuterVersion::Ipv4, nv_template_len(OuterVersion::Ipv4, vc)),
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
        Ipv4Addr::new(10, 0, 0, 7),
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
        let eacl = t.pipes().into_iter().find(|p| p.id == PipeId::EgressAcl).unwrap();
        let PipeAction::EncryptEncap { len, .. } = eacl.actions[usize::from(*action_idx)] else {
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
