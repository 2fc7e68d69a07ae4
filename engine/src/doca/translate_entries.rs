//! [`Translator::static_entries`]: the fixed entries the backend adds at
//! start (roots, syndromes, classifier, ordered lists, sampling chain).

use super::*;

impl Translator {
    /// Where an encrypted packet goes: the sampling pipe, or the wire.
    pub(super) fn to_wire(&self) -> Fwd {
        if self.sampling() {
            Fwd::Pipe(PipeId::EgressSampling)
        } else {
            Fwd::Port(PortRole::Secure)
        }
    }

    /// NVIDIA 3.3's egress sampling threshold: a packet whose 16-bit
    /// `parser_meta.random` is below it is not sampled, so 1 in about 2^N
    /// is (`UINT16_MAX - (UINT16_MAX >> N)`).
    pub fn sample_threshold(log2_rate: u8) -> u16 {
        u16::MAX - u16::MAX.checked_shr(u32::from(log2_rate)).unwrap_or(0)
    }

    /// The fixed entries of the sampling chain (see [`Translator::pipes`]).
    fn sampling_entries(&self, ipv6_acl: PipeId) -> Vec<DocaEntry> {
        let c = &self.cfg;
        let e = |pipe: PipeId, i: u8, matches, fwd, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority: u32::from(i),
            matches,
            action: EntryAction::Template,
            fwd: Some(fwd),
            condition: None,
            counter,
        };
        let mut v = Vec::new();
        // FWD_TO_RSS: by outer family, RSS on that family's header.
        for (i, (meta, fwd)) in
            [(L3_META_IPV4, Fwd::RssIpv4), (L3_META_IPV6, Fwd::RssIpv6)].into_iter().enumerate()
        {
            let m = vec![(Field::OuterL3Meta, Value::Exact(meta))];
            v.push(e(PipeId::FwdToRss, i as u8, m, fwd, "fwd_to_rss"));
        }
        // Flooding: entry 0 the datapath, entry 1 the copy.
        for (pipe, first) in [
            (PipeId::IngressFloodIpv4, Fwd::Pipe(PipeId::IngressAcl)),
            (PipeId::IngressFloodIpv6, Fwd::Pipe(ipv6_acl)),
            (PipeId::EgressFlood, Fwd::Port(PortRole::Secure)),
        ] {
            let copy = match pipe {
                PipeId::EgressFlood => Fwd::Pipe(PipeId::FwdToRss),
                _ => Fwd::Pipe(PipeId::Rss),
            };
            v.push(e(pipe, 0, Vec::new(), first, "flood_to_datapath"));
            v.push(e(pipe, 1, Vec::new(), copy, "flood_to_rss"));
        }
        // INGR_SAMPL: the S bit and the next header.
        let sampl = |s: u8, next: u32| {
            vec![
                (Field::PspSDVerV, Value::Exact(u32::from(s))),
                (Field::PspNextHdr, Value::Exact(next)),
            ]
        };
        let rows = [
            (
                PSP_SAMPLE_BIT,
                PSP_NEXT_HEADER_IPV4,
                Fwd::Flood(PipeId::IngressFloodIpv4),
                "ingress_sampling",
            ),
            (
                PSP_SAMPLE_BIT,
                PSP_NEXT_HEADER_IPV6,
                Fwd::Flood(PipeId::IngressFloodIpv6),
                "ingress_sampling",
            ),
            (0, PSP_NEXT_HEADER_IPV4, Fwd::Pipe(PipeId::IngressAcl), "ingress_not_sampled"),
            (0, PSP_NEXT_HEADER_IPV6, Fwd::Pipe(ipv6_acl), "ingress_not_sampled"),
        ];
        for (i, (s, next, fwd, counter)) in rows.into_iter().enumerate() {
            v.push(e(PipeId::IngressSampling, i as u8, sampl(s, next), fwd, counter));
        }
        // EGR_SAMPL: below the threshold to the wire; the rest sampled.
        let threshold = u32::from(Self::sample_threshold(c.log2_sample_rate));
        v.push(DocaEntry {
            condition: Some(Condition::RandomBelow),
            ..e(
                PipeId::EgressSampling,
                0,
                vec![(Field::Random, Value::Exact(threshold))],
                Fwd::Port(PortRole::Secure),
                "empty_pipe_not_sampled",
            )
        });
        v.push(DocaEntry {
            action: EntryAction::Apply(PipeAction::SetSampleBit),
            ..e(
                PipeId::EgressSampling,
                1,
                Vec::new(),
                Fwd::Flood(PipeId::EgressFlood),
                "egress_sampling",
            )
        });
        v
    }

    /// The entries the backend adds once, after creating the pipes.
    pub fn static_entries(&self) -> Vec<DocaEntry> {
        let c = &self.cfg;
        let p = &self.ports;
        let entry = |pipe: PipeId, i: u8, matches: Vec<(Field, Value)>, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority: 0,
            matches,
            action: EntryAction::Template,
            fwd: None,
            condition: None,
            counter,
        };
        // As NVIDIA's RSS_PIPE: IPv4 hashed on the outer IPv4 header, IPv6
        // on the outer IPv6 header.
        let rss = |i: u8, meta: u32, fwd| DocaEntry {
            fwd: Some(fwd),
            ..entry(PipeId::Rss, i, vec![(Field::OuterL3Meta, Value::Exact(meta))], "rss")
        };
        let mut v = vec![rss(0, L3_META_IPV4, Fwd::RssIpv4), rss(1, L3_META_IPV6, Fwd::RssIpv6)];
        for s in SYNDROMES {
            v.push(DocaEntry {
                key: EntryKey::Syndrome(s),
                ..entry(
                    PipeId::SyndromeStats,
                    0,
                    vec![(Field::PspSyndrome, Value::Exact(s.bit()))],
                    s.name(),
                )
            });
        }
        if c.disable_ingress_acl {
            for (list, acl) in [PipeId::IngressAcl, PipeId::IngressAclIpv6].into_iter().enumerate()
            {
                v.push(DocaEntry {
                    fwd: Some(Fwd::OrderedList(PipeId::Decap, Some(list as u32))),
                    ..entry(acl, 0, vec![(Field::PspSyndrome, Value::Exact(0))], "ingress_acl")
                });
            }
        }
        // As NVIDIA's INNER_IP_CLASSIFIER: by the PSP next header.
        let ipv6_acl =
            if c.disable_ingress_acl { PipeId::IngressAclIpv6 } else { PipeId::IngressSrcIp6 };
        for (i, (next, to, counter)) in [
            (PSP_NEXT_HEADER_IPV6, ipv6_acl, "ingress_ipv6_classify"),
            (PSP_NEXT_HEADER_IPV4, PipeId::IngressAcl, "ingress_ipv4_classify"),
        ]
        .into_iter()
        .enumerate()
        {
            v.push(DocaEntry {
                fwd: Some(Fwd::Pipe(to)),
                ..entry(
                    PipeId::InnerIpClassifier,
                    i as u8,
                    vec![(Field::PspNextHdr, Value::Exact(next))],
                    counter,
                )
            });
        }
        if self.sampling() {
            v.extend(self.sampling_entries(ipv6_acl));
        }
        v.push(DocaEntry {
            fwd: Some(Fwd::OrderedList(PipeId::Decrypt, Some(0))),
            ..entry(
                PipeId::IngressDecrypt,
                0,
                vec![(Field::PortId, Value::Exact(u32::from(p.secure)))],
                "ingress_decrypt",
            )
        });
        // The ordered lists' fixed entries (entry i picks list i); they
        // have no counter (NVIDIA's have none either).
        let after_decrypt =
            if self.sampling() { PipeId::IngressSampling } else { PipeId::InnerIpClassifier };
        v.push(DocaEntry {
            fwd: Some(Fwd::Pipe(after_decrypt)),
            ..entry(PipeId::Decrypt, 0, Vec::new(), "")
        });
        for i in 0..2 {
            v.push(DocaEntry {
                fwd: Some(Fwd::Port(PortRole::Unsecured)),
                ..entry(PipeId::Decap, i, Vec::new(), "")
            });
        }
        // EGR_ROOT: the datapath's families with no sentinel. (NVIDIA's
        // two return-to-VF entries carry the application's own ARP and
        // neighbour answers, which this gateway does not send.)
        for (i, (ethertype, to, counter)) in [
            (ETHERTYPE_IPV4, PipeId::EgressAcl, "fwd_egress_acl_ipv4"),
            (ETHERTYPE_IPV6, PipeId::EgressDstIp6, "fwd_egress_acl_ipv6"),
        ]
        .into_iter()
        .enumerate()
        {
            v.push(DocaEntry {
                fwd: Some(Fwd::Pipe(to)),
                ..entry(
                    PipeId::Empty,
                    i as u8,
                    vec![
                        (Field::OuterEthType, Value::Exact(u32::from(ethertype))),
                        (Field::PktMeta, Value::Exact(0)),
                    ],
                    counter,
                )
            });
        }
        v.extend(self.root_entries());
        v
    }

    /// The ingress root as NVIDIA's (DOCA 3.3 `ROOT`, basic, and its miss
    /// pipe `MISS`, control): from the uplink, UDP over IPv4 and IPv6 to
    /// decryption; from the VF, TCP/UDP/ESP/ICMP over IPv4 and TCP/UDP/ESP
    /// over IPv6 to the egress root; then in `MISS` neighbour
    /// solicitations from the VF to RSS (hashed on IPv6), the VF's other
    /// ICMPv6 to the egress root, ARP from the VF to RSS (hashed on IPv4),
    /// the rest dropped.
    fn root_entries(&self) -> Vec<DocaEntry> {
        let p = &self.ports;
        let mut v = Vec::new();
        let e = |pipe: PipeId, i: u8, priority: u32, matches, fwd, counter| DocaEntry {
            pipe,
            key: EntryKey::Static(pipe, i),
            priority,
            matches,
            action: EntryAction::Template,
            fwd: Some(fwd),
            condition: None,
            counter,
        };
        let ip = |port: u16, v4: bool, l4: u32| {
            let (ethertype, l3) =
                if v4 { (ETHERTYPE_IPV4, L3_META_IPV4) } else { (ETHERTYPE_IPV6, L3_META_IPV6) };
            vec![
                (Field::PortId, Value::Exact(u32::from(port))),
                (Field::OuterEthType, Value::Exact(u32::from(ethertype))),
                (Field::OuterL3Ok, Value::Exact(1)),
                (Field::OuterIp4ChecksumOk, Value::Exact(u32::from(v4))),
                (Field::OuterL3Meta, Value::Exact(l3)),
                (Field::OuterL4Meta, Value::Exact(l4)),
            ]
        };
        let mut rows = vec![
            (p.secure, true, L4_META_UDP, PipeId::IngressDecrypt),
            (p.secure, false, L4_META_UDP, PipeId::IngressDecrypt),
        ];
        for l4 in [L4_META_TCP, L4_META_UDP, L4_META_ESP, L4_META_ICMP] {
            rows.push((p.unsecured, true, l4, PipeId::Empty));
        }
        for l4 in [L4_META_TCP, L4_META_UDP, L4_META_ESP] {
            rows.push((p.unsecured, false, l4, PipeId::Empty));
        }
        for (i, (port, v4, l4, to)) in rows.into_iter().enumerate() {
            let m = ip(port, v4, l4);
            v.push(e(PipeId::IngressRoot, i as u8, 0, m, Fwd::Pipe(to), "ingress_root"));
        }
        let all = u32::MAX;
        let port =
            |port: u16| (Field::PortId, Value::Masked { value: u32::from(port), mask: 0xffff });
        let ethertype = |t: u32| (Field::OuterEthType, Value::Masked { value: t, mask: 0xffff });
        let l3 = |m: u32| (Field::OuterL3Meta, Value::Masked { value: m, mask: all });
        let l4 = |m: u32| (Field::OuterL4Meta, Value::Masked { value: m, mask: all });
        let miss = PipeId::IngressMiss;
        v.push(e(
            miss,
            0,
            1,
            vec![
                port(p.unsecured),
                ethertype(u32::from(ETHERTYPE_IPV6)),
                l3(L3_META_IPV6),
                l4(L4_META_ICMP),
                (Field::OuterL4TypeExt, Value::Masked { value: L4_TYPE_EXT_ICMP6, mask: all }),
                (Field::OuterIp6NextProto, Value::Masked { value: IPPROTO_ICMPV6, mask: 0xff }),
                (Field::OuterIcmpType, Value::Masked { value: ND_NEIGHBOR_SOLICIT, mask: 0xff }),
            ],
            Fwd::RssIpv6,
            "vf_ns_to_rss",
        ));
        v.push(e(
            miss,
            1,
            2,
            vec![
                port(p.unsecured),
                (Field::OuterL3Ok, Value::Masked { value: 1, mask: 0xff }),
                l3(L3_META_IPV6),
                l4(L4_META_ICMP),
                ethertype(u32::from(ETHERTYPE_IPV6)),
            ],
            Fwd::Pipe(PipeId::Empty),
            "miss_to_egress_ipv6_icmp",
        ));
        v.push(e(
            miss,
            2,
            3,
            vec![port(p.unsecured), ethertype(ETHERTYPE_ARP)],
            Fwd::RssIpv4,
            "vf_arp_to_rss",
        ));
        v.push(e(miss, 3, 4, Vec::new(), Fwd::Drop, "root_default_drop"));
        v
    }
}
