//! [`Translator::pipes`]: every pipe, as NVIDIA's 3.3 application creates
//! them (see the parent module's diagram).

use super::*;

impl Translator {
    /// Every pipe, in creation order (a pipe after those it forwards to).
    pub fn pipes(&self) -> Vec<DocaPipeSpec> {
        let c = &self.cfg;
        let sampling = self.sampling();
        let basic = |id: PipeId, domain, direction| DocaPipeSpec {
            id,
            name: id.name(),
            kind: PipeType::Basic,
            domain,
            direction,
            is_root: false,
            nr_entries: 1,
            matches: Vec::new(),
            actions: Vec::new(),
            fwd: None,
            fwd_miss: None,
            miss_counter: false,
        };
        let mut v = Vec::new();
        v.push(DocaPipeSpec {
            nr_entries: 2,
            matches: vec![(Field::OuterL3Meta, Value::PerEntry)],
            fwd: Some(Fwd::RssPerEntry),
            ..basic(PipeId::Rss, Domain::Egress, Direction::Any)
        });
        if sampling {
            v.push(DocaPipeSpec {
                nr_entries: 2,
                matches: vec![(Field::OuterL3Meta, Value::PerEntry)],
                actions: vec![PipeAction::SetMeta { pkt_meta: c.egress_sample_meta_indicator }],
                fwd: Some(Fwd::RssPerEntry),
                miss_counter: true,
                ..basic(PipeId::FwdToRss, Domain::Default, Direction::Any)
            });
        }
        v.push(DocaPipeSpec {
            nr_entries: SYNDROMES.len() as u32,
            matches: vec![(Field::PspSyndrome, Value::PerEntry)],
            fwd: Some(Fwd::Drop),
            fwd_miss: Some(Fwd::Drop),
            miss_counter: true,
            ..basic(PipeId::SyndromeStats, Domain::SecureIngress, Direction::NetToHost)
        });
        let acl_matches = if c.disable_ingress_acl {
            vec![(Field::PspSyndrome, Value::PerEntry)]
        } else {
            vec![
                (Field::PspSyndrome, Value::PerEntry),
                (Field::TunPsp, Value::Exact(1)),
                (Field::PspSpi, Value::PerEntry),
                (Field::InnerIp4, Value::Exact(1)),
                (Field::InnerIp4Src, Value::PerEntry),
                (Field::InnerIp4Dst, Value::PerEntry),
            ]
        };
        let acl_entries = if c.disable_ingress_acl { 1 } else { c.max_acl_entries as u32 };
        let decap = |ethertype| PipeAction::DecapL2 {
            dst: c.decap_dmac.unwrap_or(self.ports.unsecured_mac),
            src: self.ports.secure_mac,
            ethertype,
        };
        // NVIDIA's DECAP: list 0 IPv4 inside, list 1 IPv6.
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            nr_entries: 2,
            actions: vec![decap(ETHERTYPE_IPV4), decap(ETHERTYPE_IPV6)],
            fwd: Some(Fwd::Port(PortRole::Unsecured)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::Decap, Domain::SecureIngress, Direction::NetToHost)
        });
        v.push(DocaPipeSpec {
            nr_entries: acl_entries,
            matches: acl_matches,
            fwd: Some(Fwd::OrderedList(PipeId::Decap, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::IngressAcl, Domain::SecureIngress, Direction::NetToHost)
        });
        // The IPv6 inner ACL as NVIDIA's: the source's id (from
        // ingress_src_ip6_pipe) and the inner destination. The flow
        // programmer's tables hold IPv4 inner addresses only, so these
        // pipes get no entries but the fixed one with the ACL disabled.
        v.push(DocaPipeSpec {
            nr_entries: acl_entries,
            matches: if c.disable_ingress_acl {
                vec![(Field::PspSyndrome, Value::PerEntry)]
            } else {
                vec![
                    (Field::InnerIp6, Value::Exact(1)),
                    (Field::MetaScratch(SRC_IP6_ID_WORD), Value::PerEntry),
                    (Field::InnerIp6Dst, Value::PerEntry),
                ]
            },
            fwd: Some(Fwd::OrderedList(PipeId::Decap, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::IngressAclIpv6, Domain::SecureIngress, Direction::NetToHost)
        });
        if !c.disable_ingress_acl {
            v.push(DocaPipeSpec {
                nr_entries: acl_entries,
                matches: vec![
                    (Field::TunPsp, Value::Exact(1)),
                    (Field::PspSpi, Value::PerEntry),
                    (Field::InnerL3Meta, Value::Exact(L3_META_IPV6)),
                    (Field::InnerIp6, Value::Exact(1)),
                    (Field::InnerIp6Src, Value::PerEntry),
                ],
                actions: vec![PipeAction::SetScratch { index: SRC_IP6_ID_WORD }],
                fwd: Some(Fwd::Pipe(PipeId::IngressAclIpv6)),
                fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
                miss_counter: true,
                // No domain set in NVIDIA's ingress_src_ip6_pipe_create: the default.
                ..basic(PipeId::IngressSrcIp6, Domain::Default, Direction::NetToHost)
            });
        }
        v.push(DocaPipeSpec {
            nr_entries: 2,
            matches: vec![(Field::TunPsp, Value::Exact(1)), (Field::PspNextHdr, Value::PerEntry)],
            fwd: Some(Fwd::PipePerEntry),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::InnerIpClassifier, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            // NVIDIA 3.3's ingress sampling: flooding hash pipes copy a
            // packet to its ACL and to RSS (ING_FLOOD_IPV4/6), reached
            // from INGR_SAMPL's entries for packets with the S bit.
            for id in [PipeId::IngressFloodIpv4, PipeId::IngressFloodIpv6] {
                v.push(DocaPipeSpec {
                    kind: PipeType::Flood,
                    nr_entries: 2,
                    fwd: Some(Fwd::Changeable),
                    miss_counter: true,
                    ..basic(id, Domain::Default, Direction::NetToHost)
                });
            }
            v.push(DocaPipeSpec {
                nr_entries: 4,
                matches: vec![
                    (Field::TunPsp, Value::Exact(1)),
                    (
                        Field::PspSDVerV,
                        Value::Masked { value: 0xff, mask: u32::from(PSP_SAMPLE_BIT) },
                    ),
                    (Field::PspNextHdr, Value::PerEntry),
                ],
                actions: vec![PipeAction::SetMeta { pkt_meta: c.ingress_sample_meta_indicator }],
                fwd: Some(Fwd::Changeable),
                fwd_miss: Some(Fwd::Pipe(PipeId::InnerIpClassifier)),
                miss_counter: true,
                ..basic(PipeId::IngressSampling, Domain::Default, Direction::NetToHost)
            });
        }
        let after_decrypt =
            if sampling { PipeId::IngressSampling } else { PipeId::InnerIpClassifier };
        // NVIDIA's DECRYPT, then MATCH_INGR_DECRYPT in front of it.
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            actions: vec![PipeAction::Decrypt],
            fwd: Some(Fwd::Pipe(after_decrypt)),
            fwd_miss: Some(Fwd::Pipe(PipeId::SyndromeStats)),
            miss_counter: true,
            ..basic(PipeId::Decrypt, Domain::SecureIngress, Direction::NetToHost)
        });
        v.push(DocaPipeSpec {
            matches: vec![
                (Field::PortId, Value::PerEntry),
                (Field::OuterL4TypeExt, Value::Exact(L4_TYPE_EXT_UDP)),
                (Field::OuterUdpDstPort, Value::Exact(u32::from(UDP_PORT))),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::Decrypt, Some(0))),
            fwd_miss: None,
            ..basic(PipeId::IngressDecrypt, Domain::SecureIngress, Direction::NetToHost)
        });
        if sampling {
            // NVIDIA 3.3's egress sampling: EGR_SAMPL (control) sends a
            // packet whose parser_meta.random is below the threshold to
            // the wire, the others, with the S bit set, to EGR_FLOOD: the
            // wire and a copy to FWD_TO_RSS.
            v.push(DocaPipeSpec {
                kind: PipeType::Flood,
                nr_entries: 2,
                fwd: Some(Fwd::Changeable),
                miss_counter: true,
                ..basic(PipeId::EgressFlood, Domain::Egress, Direction::HostToNet)
            });
            v.push(DocaPipeSpec {
                kind: PipeType::Control,
                nr_entries: 2,
                ..basic(PipeId::EgressSampling, Domain::Egress, Direction::HostToNet)
            });
        }
        // NVIDIA's ENCAP_ENCRYPT: list 0 into IPv4, list 1 into IPv6, an
        // entry per tunnel at the index of its key slot.
        let to_wire =
            if sampling { Fwd::Pipe(PipeId::EgressSampling) } else { Fwd::Port(PortRole::Secure) };
        v.push(DocaPipeSpec {
            kind: PipeType::OrderedList,
            nr_entries: self.ids.max() + 1,
            actions: [OuterVersion::Ipv4, OuterVersion::Ipv6]
                .into_iter()
                .map(|outer| PipeAction::EncryptEncap {
                    outer,
                    mode: Mode::Tunnel,
                    len: encap_len(Mode::Tunnel, outer, c.expected_vc.is_some()) as u16,
                })
                .collect(),
            fwd: Some(to_wire),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EncapEncrypt, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp4, Value::Exact(1)),
                (Field::OuterIp4Dst, Value::PerEntry),
                (Field::OuterIp4Src, Value::PerEntry),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressAcl, Domain::SecureEgress, Direction::HostToNet)
        });
        // The IPv6 egress ACL as NVIDIA's: the destination's id, then the
        // id and the source. The flow programmer's tunnels are IPv4 only,
        // so these get no entries: IPv6 from the VF misses to RSS.
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp6, Value::Exact(1)),
                (Field::MetaScratch(SRC_IP6_ID_WORD), Value::PerEntry),
                (Field::OuterIp6Src, Value::PerEntry),
            ],
            fwd: Some(Fwd::OrderedList(PipeId::EncapEncrypt, None)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressAclIpv6, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            nr_entries: c.max_tunnels as u32,
            matches: vec![
                (Field::OuterIp6, Value::Exact(1)),
                (Field::OuterIp6Dst, Value::PerEntry),
            ],
            actions: vec![PipeAction::SetScratch { index: SRC_IP6_ID_WORD }],
            fwd: Some(Fwd::Pipe(PipeId::EgressAclIpv6)),
            fwd_miss: Some(Fwd::Pipe(PipeId::Rss)),
            miss_counter: true,
            ..basic(PipeId::EgressDstIp6, Domain::SecureEgress, Direction::HostToNet)
        });
        // NVIDIA's EGR_ROOT: by ether type and pkt_meta.
        v.push(DocaPipeSpec {
            is_root: true,
            nr_entries: EGRESS_ROOT_ENTRIES,
            matches: vec![
                (Field::OuterEthType, Value::PerEntry),
                (Field::PktMeta, Value::PerEntry),
            ],
            fwd: Some(Fwd::Changeable),
            fwd_miss: Some(Fwd::Drop),
            miss_counter: true,
            ..basic(PipeId::Empty, Domain::SecureEgress, Direction::HostToNet)
        });
        v.push(DocaPipeSpec {
            kind: PipeType::Control,
            nr_entries: MISS_ENTRIES,
            ..basic(PipeId::IngressMiss, Domain::Default, Direction::Any)
        });
        v.push(DocaPipeSpec {
            is_root: true,
            nr_entries: ROOT_ENTRIES,
            matches: vec![
                (Field::PortId, Value::PerEntry),
                (Field::OuterEthType, Value::PerEntry),
                (Field::OuterL3Ok, Value::PerEntry),
                (Field::OuterIp4ChecksumOk, Value::PerEntry),
                (Field::OuterL3Meta, Value::PerEntry),
                (Field::OuterL4Meta, Value::PerEntry),
            ],
            fwd: Some(Fwd::Changeable),
            fwd_miss: Some(Fwd::Pipe(PipeId::IngressMiss)),
            ..basic(PipeId::IngressRoot, Domain::Default, Direction::Any)
        });
        v
    }
}
