//! Pure builders of DOCA Flow structures from the translation's IR: a
//! `doca_flow_match` (and its mask) from matched fields, a
//! `doca_flow_actions` (and its mask) from an action template. No FFI
//! call: unit-tested against the declarations `doca-sys` binds.

use crate::doca::translate::{
    Condition, Domain, EntryAction, Field, PipeAction, Value, PSP_ICV_LEN, PSP_SAMPLE_BIT,
};
use doca_sys as sys;

/// The anonymous union member that holds the PSP header.
pub(super) fn tun_psp(t: &mut sys::doca_flow_tun) -> &mut sys::doca_flow_header_psp {
    // SAFETY: the union holds plain integers; any bit pattern is valid.
    unsafe { &mut t.__bindgen_anon_1.__bindgen_anon_7.psp }
}

pub(super) fn set_field(m: &mut sys::doca_flow_match, f: Field, v: u32) {
    match f {
        Field::PortId => m.parser_meta.port_id = v as u16,
        Field::OuterEthType => m.outer.eth.type_ = (v as u16).to_be(),
        Field::OuterL3Ok => m.parser_meta.outer_l3_ok = v as u8,
        Field::OuterIp4ChecksumOk => m.parser_meta.outer_ip4_checksum_ok = v as u8,
        // Writes to union members (here and below) are safe.
        Field::OuterUdpDstPort => {
            m.outer.__bindgen_anon_2.udp.l4_port.dst_port = (v as u16).to_be()
        }
        Field::OuterIp4 => {
            m.outer.l3_type = sys::DOCA_FLOW_L3_TYPE_IP4;
            m.parser_meta.outer_l3_type = sys::DOCA_FLOW_L3_META_IPV4;
        }
        Field::OuterIp4Dst => m.outer.__bindgen_anon_1.ip4.dst_ip = v.to_be(),
        Field::OuterIp4Src => m.outer.__bindgen_anon_1.ip4.src_ip = v.to_be(),
        // doca_be16_t in 3.3 (doca_flow.h, parser_meta.random).
        Field::Random => m.parser_meta.random = (v as u16).to_be(),
        Field::PspSyndrome => m.parser_meta.psp_syndrome = v as u8,
        Field::TunPsp => m.tun.type_ = sys::DOCA_FLOW_TUN_PSP,
        Field::PspSpi => tun_psp(&mut m.tun).spi = v.to_be(),
        Field::PspSDVerV => tun_psp(&mut m.tun).s_d_ver_v = v as u8,
        Field::InnerIp4 => m.inner.l3_type = sys::DOCA_FLOW_L3_TYPE_IP4,
        Field::InnerIp4Src => m.inner.__bindgen_anon_1.ip4.src_ip = v.to_be(),
        Field::InnerIp4Dst => m.inner.__bindgen_anon_1.ip4.dst_ip = v.to_be(),
        Field::OuterL3Meta => m.parser_meta.outer_l3_type = v as sys::doca_flow_l3_meta,
        Field::OuterL4Meta => m.parser_meta.outer_l4_type = v as sys::doca_flow_l4_meta,
        Field::OuterL4TypeExt => m.outer.l4_type_ext = v as sys::doca_flow_l4_type_ext,
        Field::OuterIp6NextProto => m.outer.__bindgen_anon_1.ip6.next_proto = v as u8,
        Field::OuterIcmpType => m.outer.__bindgen_anon_2.icmp.type_ = v as u8,
        Field::PspNextHdr => tun_psp(&mut m.tun).nexthdr = v as u8,
        Field::InnerL3Meta => m.parser_meta.inner_l3_type = v as sys::doca_flow_l3_meta,
        Field::InnerIp6 => m.inner.l3_type = sys::DOCA_FLOW_L3_TYPE_IP6,
        Field::InnerIp6Src => m.inner.__bindgen_anon_1.ip6.src_ip = [v.to_be(); 4],
        Field::InnerIp6Dst => m.inner.__bindgen_anon_1.ip6.dst_ip = [v.to_be(); 4],
        Field::MetaScratch(i) => m.meta.u32_[usize::from(i)] = v.to_be(),
        Field::PktMeta => m.meta.pkt_meta = v.to_be(),
        Field::OuterIp6 => {
            m.outer.l3_type = sys::DOCA_FLOW_L3_TYPE_IP6;
            m.parser_meta.outer_l3_type = sys::DOCA_FLOW_L3_META_IPV6;
        }
        Field::OuterIp6Src => m.outer.__bindgen_anon_1.ip6.src_ip = [v.to_be(); 4],
        Field::OuterIp6Dst => m.outer.__bindgen_anon_1.ip6.dst_ip = [v.to_be(); 4],
    }
}

/// A match and, if any field is masked, its mask.
pub(super) fn build_match(
    fields: &[(Field, Value)],
) -> (sys::doca_flow_match, Option<sys::doca_flow_match>) {
    let mut m = sys::doca_flow_match::default();
    let mut mask = sys::doca_flow_match::default();
    let masked = fields.iter().any(|(_, v)| matches!(v, Value::Masked { .. }));
    for &(f, v) in fields {
        let (val, msk) = match v {
            Value::Exact(x) => (x, u32::MAX),
            Value::PerEntry => (u32::MAX, u32::MAX),
            Value::Masked { value, mask } => (value, mask),
        };
        set_field(&mut m, f, val);
        set_field(&mut mask, f, msk);
    }
    (m, masked.then_some(mask))
}

/// `parser_meta.random`'s field string for a match condition (NVIDIA:
/// `"parser_meta.random.value"`).
static RANDOM_FIELD: &std::ffi::CStr = c"parser_meta.random.value";

/// A match condition: `a` the packet's field, `b` none (the entry's match
/// value), over the field's width.
pub(super) fn build_condition(c: Condition) -> sys::doca_flow_match_condition {
    let mut m = sys::doca_flow_match_condition::default();
    match c {
        Condition::RandomBelow => {
            m.operation = sys::DOCA_FLOW_COMPARE_LT;
            // SAFETY: the union's only member, zero-initialized by
            // default(): plain integers and pointers, valid as read.
            let mut op = unsafe { m.__bindgen_anon_1.field_op };
            // The string is static: it outlives any use of the condition.
            op.a.field_string = RANDOM_FIELD.as_ptr();
            op.a.bit_offset = 0;
            op.b.field_string = std::ptr::null();
            op.b.bit_offset = 0;
            op.width = 16;
            m.__bindgen_anon_1.field_op = op;
        }
    }
    m
}

/// An ordered-list element's crypto actions: those of an action template.
pub(super) fn crypto_of(a: &sys::doca_flow_actions) -> sys::doca_flow_crypto {
    sys::doca_flow_crypto {
        has_crypto_encap: a.has_crypto_encap,
        crypto_encap: a.crypto_encap,
        crypto: a.crypto,
    }
}

/// Ordered lists of one crypto element each (list `i`: `cryptos[i]`), with
/// the pointers DOCA takes; every pointer points into this value's own
/// heap buffers, which do not move while it lives.
pub(super) struct OrderedLists {
    cryptos: Vec<sys::doca_flow_crypto>,
    elements: Vec<sys::doca_flow_ordered_list_element>,
    /// The lists (`idx` = position).
    pub(super) lists: Vec<sys::doca_flow_ordered_list>,
    /// Pointers to `lists`, for `doca_flow_pipe_cfg_set_ordered_lists`.
    pub(super) list_ptrs: Vec<*mut sys::doca_flow_ordered_list>,
}

impl OrderedLists {
    pub(super) fn new(cryptos: Vec<sys::doca_flow_crypto>) -> OrderedLists {
        let mut o = OrderedLists {
            cryptos,
            elements: Vec::new(),
            lists: Vec::new(),
            list_ptrs: Vec::new(),
        };
        for c in o.cryptos.iter_mut() {
            let mut el = sys::doca_flow_ordered_list_element {
                type_: sys::DOCA_FLOW_ORDERED_LIST_ELEMENT_CRYPTO,
                ..Default::default()
            };
            // Writing a union member is safe.
            el.__bindgen_anon_1.crypto = c as *mut _;
            o.elements.push(el);
        }
        for (i, el) in o.elements.iter_mut().enumerate() {
            o.lists.push(sys::doca_flow_ordered_list {
                idx: i as u32,
                size: 1,
                elements: el as *mut _,
            });
        }
        o.list_ptrs = o.lists.iter_mut().map(|l| l as *mut _).collect();
        o
    }
}

pub(super) fn domain(d: Domain) -> sys::doca_flow_pipe_domain {
    match d {
        Domain::Default => sys::DOCA_FLOW_PIPE_DOMAIN_DEFAULT,
        Domain::SecureIngress => sys::DOCA_FLOW_PIPE_DOMAIN_SECURE_INGRESS,
        Domain::Egress => sys::DOCA_FLOW_PIPE_DOMAIN_EGRESS,
        Domain::SecureEgress => sys::DOCA_FLOW_PIPE_DOMAIN_SECURE_EGRESS,
    }
}

/// An action template (`entry`: with the entry's values).
/// `psp_id` maps a translator `crypto_id` to DOCA's shared-resource id.
pub(super) fn build_actions(
    pa: PipeAction,
    entry: Option<&EntryAction>,
    psp_id: &dyn Fn(u32) -> u32,
) -> (sys::doca_flow_actions, sys::doca_flow_actions) {
    let mut a = sys::doca_flow_actions::default();
    let mut mask = sys::doca_flow_actions::default();
    match pa {
        PipeAction::EncryptEncap { len, .. } => {
            a.has_crypto_encap = true;
            a.crypto_encap.action_type = sys::DOCA_FLOW_CRYPTO_REFORMAT_ENCAP;
            a.crypto_encap.net_type = sys::DOCA_FLOW_CRYPTO_HEADER_PSP_TUNNEL;
            a.crypto_encap.icv_size = PSP_ICV_LEN;
            a.crypto.action_type = sys::DOCA_FLOW_CRYPTO_ACTION_ENCRYPT;
            a.crypto.resource_type = sys::DOCA_FLOW_CRYPTO_RESOURCE_PSP;
            match entry {
                Some(EntryAction::Encrypt { crypto_id, encap_data, .. }) => {
                    a.crypto.crypto_id = psp_id(*crypto_id);
                    a.crypto_encap.data_size = encap_data.len() as u16;
                    a.crypto_encap.encap_data[..encap_data.len()].copy_from_slice(encap_data);
                }
                _ => {
                    // Changeable per entry.
                    a.crypto.crypto_id = u32::MAX;
                    a.crypto_encap.data_size = len;
                    a.crypto_encap.encap_data[..usize::from(len)].fill(0xff);
                }
            }
        }
        PipeAction::Decrypt => {
            a.crypto.action_type = sys::DOCA_FLOW_CRYPTO_ACTION_DECRYPT;
            a.crypto.resource_type = sys::DOCA_FLOW_CRYPTO_RESOURCE_PSP;
            a.crypto.crypto_id = sys::DOCA_FLOW_PSP_DECRYPTION_ID;
        }
        PipeAction::DecapL2 { dst, src, ethertype } => {
            a.has_crypto_encap = true;
            a.crypto_encap.action_type = sys::DOCA_FLOW_CRYPTO_REFORMAT_DECAP;
            a.crypto_encap.net_type = sys::DOCA_FLOW_CRYPTO_HEADER_PSP_TUNNEL;
            a.crypto_encap.icv_size = PSP_ICV_LEN;
            a.crypto_encap.data_size = 14;
            let d = &mut a.crypto_encap.encap_data;
            d[..6].copy_from_slice(&dst.0);
            d[6..12].copy_from_slice(&src.0);
            d[12..14].copy_from_slice(&ethertype.to_be_bytes());
        }
        PipeAction::SetScratch { index } => {
            // Changeable: each entry brings its word (none do yet).
            a.meta.u32_[usize::from(index)] = u32::MAX;
        }
        PipeAction::SetMeta { pkt_meta } => {
            // Big-endian, as NVIDIA writes it (DOCA_HTOBE32): the field is
            // a doca_be32_t, and the RSS core reads the value back in CPU
            // order from the mbuf's metadata.
            a.meta.pkt_meta = pkt_meta.to_be();
            mask.meta.pkt_meta = u32::MAX;
        }
        PipeAction::SetSampleBit => {
            a.tun.type_ = sys::DOCA_FLOW_TUN_PSP;
            tun_psp(&mut a.tun).s_d_ver_v = PSP_SAMPLE_BIT;
            mask.tun.type_ = sys::DOCA_FLOW_TUN_PSP;
            tun_psp(&mut mask.tun).s_d_ver_v = PSP_SAMPLE_BIT;
        }
    }
    (a, mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::OuterVersion;
    use crate::psp::Mode;
    use crate::wire::MacAddr;

    fn none(_: u32) -> u32 {
        unreachable!("no entry values")
    }

    #[test]
    fn pkt_meta_is_written_big_endian_as_nvidia_does() {
        // NVIDIA: set_meta.meta.pkt_meta = DOCA_HTOBE32(indicator), mask
        // UINT32_MAX. In memory: the indicator's bytes, most significant
        // first, on any host.
        let pa = PipeAction::SetMeta { pkt_meta: 0x1234_5678 };
        let (a, mask) = build_actions(pa, None, &none);
        assert_eq!(a.meta.pkt_meta.to_ne_bytes(), [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(mask.meta.pkt_meta, u32::MAX);
        assert_eq!(a.tun.type_, sys::DOCA_FLOW_TUN_NONE);
        // The S bit (egress sampling): tun.psp.s_d_ver_v under its mask.
        let (mut a, mut mask) = build_actions(PipeAction::SetSampleBit, None, &none);
        assert_eq!(a.tun.type_, sys::DOCA_FLOW_TUN_PSP);
        assert_eq!(tun_psp(&mut a.tun).s_d_ver_v, PSP_SAMPLE_BIT);
        assert_eq!(tun_psp(&mut mask.tun).s_d_ver_v, PSP_SAMPLE_BIT);
    }

    #[test]
    fn encap_template_has_the_translated_length_and_entries_their_bytes() {
        for len in [58u16, 66, 78, 86] {
            let pa =
                PipeAction::EncryptEncap { outer: OuterVersion::Ipv6, mode: Mode::Tunnel, len };
            let (a, _) = build_actions(pa, None, &none);
            assert_eq!(a.crypto_encap.data_size, len);
            assert!(a.crypto_encap.encap_data[..usize::from(len)].iter().all(|&b| b == 0xff));
            assert!(a.crypto_encap.encap_data[usize::from(len)..].iter().all(|&b| b == 0));
            assert_eq!(a.crypto.crypto_id, u32::MAX, "changeable per entry");
            assert_eq!(a.crypto_encap.icv_size, PSP_ICV_LEN);
        }
        let data: Vec<u8> = (0..78u8).collect();
        let e = EntryAction::Encrypt { action_idx: 0, crypto_id: 3, encap_data: data.clone() };
        let pa =
            PipeAction::EncryptEncap { outer: OuterVersion::Ipv6, mode: Mode::Tunnel, len: 78 };
        let (a, _) = build_actions(pa, Some(&e), &|id| id + 100);
        assert_eq!(usize::from(a.crypto_encap.data_size), data.len());
        assert_eq!(&a.crypto_encap.encap_data[..data.len()], &data[..]);
        assert_eq!(a.crypto.crypto_id, 103, "DOCA's shared-resource id of the slot");
    }

    #[test]
    fn decap_writes_the_inner_family_and_scratch_words_are_changeable() {
        let (dst, src) = (MacAddr([1, 2, 3, 4, 5, 6]), MacAddr([7, 8, 9, 10, 11, 12]));
        for ethertype in [0x0800u16, 0x86dd] {
            let (a, _) = build_actions(PipeAction::DecapL2 { dst, src, ethertype }, None, &none);
            assert_eq!(a.crypto_encap.data_size, 14);
            let d = &a.crypto_encap.encap_data;
            assert_eq!((&d[..6], &d[6..12]), (&dst.0[..], &src.0[..]));
            assert_eq!(d[12..14], ethertype.to_be_bytes());
        }
        let (a, _) = build_actions(PipeAction::SetScratch { index: 2 }, None, &none);
        assert_eq!(a.meta.u32_[2], u32::MAX);
        assert!(a.meta.u32_.iter().enumerate().all(|(i, &w)| i == 2 || w == 0));
    }

    #[test]
    fn ordered_lists_hold_one_crypto_element_each_as_nvidia_builds_them() {
        // NVIDIA: list i has idx i, size 1, one element of type
        // DOCA_FLOW_ORDERED_LIST_ELEMENT_CRYPTO pointing to its crypto.
        let e = EntryAction::Encrypt { action_idx: 1, crypto_id: 4, encap_data: vec![9; 78] };
        let enc =
            PipeAction::EncryptEncap { outer: OuterVersion::Ipv6, mode: Mode::Tunnel, len: 78 };
        let (a0, _) = build_actions(PipeAction::Decrypt, None, &none);
        let (a1, _) = build_actions(enc, Some(&e), &|id| id + 10);
        let ol = OrderedLists::new(vec![crypto_of(&a0), crypto_of(&a1)]);
        assert_eq!((ol.lists.len(), ol.list_ptrs.len()), (2, 2));
        for (i, l) in ol.lists.iter().enumerate() {
            assert_eq!((l.idx, l.size), (i as u32, 1));
            assert_eq!(ol.list_ptrs[i] as *const _, l as *const _);
            // SAFETY: elements points to this list's element in `ol`.
            let el = unsafe { &*l.elements };
            assert_eq!(el.type_, sys::DOCA_FLOW_ORDERED_LIST_ELEMENT_CRYPTO);
            // SAFETY: a crypto element's member, set by OrderedLists::new,
            // pointing into `ol`.
            let c = unsafe { &*el.__bindgen_anon_1.crypto };
            let want = if i == 0 { &a0 } else { &a1 };
            assert_eq!(c.has_crypto_encap, want.has_crypto_encap);
            assert_eq!(c.crypto.crypto_id, want.crypto.crypto_id);
            assert_eq!(c.crypto_encap.data_size, want.crypto_encap.data_size);
        }
        // SAFETY: as above.
        let c1 = unsafe { &*(*ol.lists[1].elements).__bindgen_anon_1.crypto };
        assert_eq!((c1.crypto.crypto_id, c1.crypto_encap.data_size), (14, 78));
        assert_eq!(c1.crypto.action_type, sys::DOCA_FLOW_CRYPTO_ACTION_ENCRYPT);
    }

    #[test]
    fn the_sampling_condition_is_nvidias_random_below_the_threshold() {
        // NVIDIA: operation DOCA_FLOW_COMPARE_LT, a = "parser_meta.random.value"
        // at bit 0, b = NULL (the entry's match value), width 16.
        let c = build_condition(Condition::RandomBelow);
        assert_eq!(c.operation, sys::DOCA_FLOW_COMPARE_LT);
        // SAFETY: the union's only member, written by build_condition.
        let op = unsafe { c.__bindgen_anon_1.field_op };
        // SAFETY: a points to a static NUL-terminated string.
        let a = unsafe { std::ffi::CStr::from_ptr(op.a.field_string) };
        assert_eq!(a.to_str(), Ok("parser_meta.random.value"));
        assert_eq!((op.a.bit_offset, op.b.field_string, op.width), (0, std::ptr::null(), 16));
        // The entry's value, big-endian as NVIDIA's DOCA_HTOBE16(threshold).
        let (m, _) = build_match(&[(Field::Random, Value::Exact(0xe000))]);
        assert_eq!(m.parser_meta.random.to_ne_bytes(), [0xe0, 0x00]);
    }

    #[test]
    fn nd_and_classifier_fields_land_where_nvidia_sets_them() {
        use crate::doca::translate::{L4_META_ICMP, L4_TYPE_EXT_ICMP6};
        let (m, mask) = build_match(&[
            (Field::OuterL4Meta, Value::Masked { value: L4_META_ICMP, mask: u32::MAX }),
            (Field::OuterL4TypeExt, Value::Masked { value: L4_TYPE_EXT_ICMP6, mask: u32::MAX }),
            (Field::OuterIp6NextProto, Value::Masked { value: 58, mask: 0xff }),
            (Field::OuterIcmpType, Value::Masked { value: 135, mask: 0xff }),
        ]);
        let mask = mask.expect("masked fields give a mask");
        assert_eq!(m.parser_meta.outer_l4_type, sys::DOCA_FLOW_L4_META_ICMP);
        assert_eq!(m.outer.l4_type_ext, sys::DOCA_FLOW_L4_TYPE_EXT_ICMP6);
        // SAFETY: union members of plain integers; any bit pattern is valid.
        let (np, ty, np_mask) = unsafe {
            (
                m.outer.__bindgen_anon_1.ip6.next_proto,
                m.outer.__bindgen_anon_2.icmp.type_,
                mask.outer.__bindgen_anon_1.ip6.next_proto,
            )
        };
        assert_eq!((np, ty, np_mask), (58, 135, 0xff));
        let (mut m, _) = build_match(&[
            (Field::PspNextHdr, Value::Exact(0x29)),
            (Field::MetaScratch(2), Value::Exact(0x0102_0304)),
        ]);
        assert_eq!(tun_psp(&mut m.tun).nexthdr, 0x29);
        assert_eq!(m.meta.u32_[2].to_ne_bytes(), [1, 2, 3, 4]);
    }
}
