//! Wire compatibility with the DOCA schema: every field of every message is
//! checked against a protobuf encoding computed by hand, so a wrong field
//! number, wire type or scalar type fails here.
//!
//! tag = field_number << 3 | wire_type; wire types: 0 varint, 2 length-delimited.

use prost::Message;
use rpc::pb;

fn check<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M, want: &[u8]) {
    assert_eq!(m.encode_to_vec(), want, "encoding of {m:?}");
    assert_eq!(&M::decode(want).unwrap(), m, "decoding");
}

#[test]
fn tunnel_parameters_fields() {
    let d = pb::TunnelParameters::default;
    // 1 mac_addr string: (1<<3)|2 = 0x0a.
    check(&pb::TunnelParameters { mac_addr: "m".into(), ..d() }, &[0x0a, 1, b'm']);
    // 2 ip_addr string: (2<<3)|2 = 0x12.
    check(&pb::TunnelParameters { ip_addr: "i".into(), ..d() }, &[0x12, 1, b'i']);
    // 3 psp_version uint32: (3<<3)|0 = 0x18.
    check(&pb::TunnelParameters { psp_version: 3, ..d() }, &[0x18, 3]);
    // 4 spi uint32: 0x20; 0x80000001 as a varint is 81 80 80 80 08.
    check(&pb::TunnelParameters { spi: 0x8000_0001, ..d() }, &[0x20, 0x81, 0x80, 0x80, 0x80, 0x08]);
    // 5 encryption_key bytes: (5<<3)|2 = 0x2a.
    check(
        &pb::TunnelParameters { encryption_key: vec![0xaa, 0xbb], ..d() },
        &[0x2a, 2, 0xaa, 0xbb],
    );
    // 6 virt_cookie uint64: 0x30; 2^32 + 2 = 82 80 80 80 10 (needs 64 bits).
    check(
        &pb::TunnelParameters { virt_cookie: (1 << 32) + 2, ..d() },
        &[0x30, 0x82, 0x80, 0x80, 0x80, 0x10],
    );
    // 7 encap_type uint32: 0x38.
    check(&pb::TunnelParameters { encap_type: 5, ..d() }, &[0x38, 5]);
    // All at once, in field order.
    let all = pb::TunnelParameters {
        mac_addr: "m".into(),
        ip_addr: "i".into(),
        psp_version: 3,
        spi: 0x8000_0001,
        encryption_key: vec![0xaa, 0xbb],
        virt_cookie: (1 << 32) + 2,
        encap_type: 5,
    };
    check(
        &all,
        &[
            0x0a, 1, b'm', 0x12, 1, b'i', 0x18, 3, 0x20, 0x81, 0x80, 0x80, 0x80, 0x08, 0x2a, 2,
            0xaa, 0xbb, 0x30, 0x82, 0x80, 0x80, 0x80, 0x10, 0x38, 5,
        ],
    );
    // proto3: defaults are not sent.
    check(&d(), &[]);
}

#[test]
fn single_tunnel_request_fields() {
    let d = pb::SingleTunnelRequest::default;
    check(&pb::SingleTunnelRequest { virt_src_ip: "a".into(), ..d() }, &[0x0a, 1, b'a']);
    check(&pb::SingleTunnelRequest { virt_dst_ip: "b".into(), ..d() }, &[0x12, 1, b'b']);
    check(&pb::SingleTunnelRequest { inner_type: 4, ..d() }, &[0x18, 4]);
    // 4 reverse_params message: (4<<3)|2 = 0x22, holding spi = 1 (20 01).
    let rp = pb::TunnelParameters { spi: 1, ..Default::default() };
    check(&pb::SingleTunnelRequest { reverse_params: Some(rp), ..d() }, &[0x22, 2, 0x20, 1]);
    // An empty but present reverse_params is sent as a zero-length field.
    let empty = pb::SingleTunnelRequest { reverse_params: Some(Default::default()), ..d() };
    check(&empty, &[0x22, 0]);
}

#[test]
fn multi_tunnel_request_fields() {
    let d = pb::MultiTunnelRequest::default;
    // 1 request_id uint64: 0x08; 300 = ac 02.
    check(&pb::MultiTunnelRequest { request_id: 300, ..d() }, &[0x08, 0xac, 0x02]);
    // 2 psp_versions_accepted repeated uint32, packed in proto3:
    // (2<<3)|2 = 0x12, length 2, then 1, 0 (order = preference).
    let v = pb::MultiTunnelRequest { psp_versions_accepted: vec![1, 0], ..d() };
    check(&v, &[0x12, 2, 1, 0]);
    // The unpacked form (10 01 10 00), which older encoders may send, must
    // decode the same.
    assert_eq!(pb::MultiTunnelRequest::decode(&[0x10, 1, 0x10, 0][..]).unwrap(), v);
    // 3 tunnels repeated message: (3<<3)|2 = 0x1a, one entry per element.
    let one = pb::SingleTunnelRequest { inner_type: 4, ..Default::default() };
    let t = pb::MultiTunnelRequest { tunnels: vec![one.clone(), one], ..d() };
    check(&t, &[0x1a, 2, 0x18, 4, 0x1a, 2, 0x18, 4]);
}

#[test]
fn multi_tunnel_response_fields() {
    let d = pb::MultiTunnelResponse::default;
    check(&pb::MultiTunnelResponse { request_id: 7, ..d() }, &[0x08, 7]);
    // 2 tunnels_params repeated message: 0x12.
    let p = pb::TunnelParameters { psp_version: 1, ..Default::default() };
    check(&pb::MultiTunnelResponse { tunnels_params: vec![p], ..d() }, &[0x12, 2, 0x18, 1]);
}

#[test]
fn key_rotation_fields() {
    // KeyRotationRequest: 1 request_id uint64 (0x08), 2 issue_new_keys bool (0x10).
    check(&pb::KeyRotationRequest { request_id: 7, issue_new_keys: true }, &[0x08, 7, 0x10, 1]);
    check(&pb::KeyRotationRequest { request_id: 0, issue_new_keys: true }, &[0x10, 1]);
    // request_id is 64-bit: 2^40 = 80 80 80 80 80 20.
    check(
        &pb::KeyRotationResponse { request_id: 1 << 40 },
        &[0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
    );
}

#[test]
fn service_and_method_names() {
    assert_eq!(pb::psp_gateway_server::SERVICE_NAME, "psp_gateway.PSP_Gateway");
    assert_eq!(pb::SERVICE, pb::psp_gateway_server::SERVICE_NAME);
    assert_eq!(
        pb::PATH_REQUEST_MULTIPLE_TUNNEL_PARAMS,
        "/psp_gateway.PSP_Gateway/RequestMultipleTunnelParams"
    );
    assert_eq!(pb::PATH_REQUEST_KEY_ROTATION, "/psp_gateway.PSP_Gateway/RequestKeyRotation");
    // That the server routes exactly these paths and the client calls them
    // is checked over gRPC in tests/loopback.rs (`method_paths`).
}

#[test]
fn the_proto_file_declares_the_schema() {
    let proto = include_str!("../proto/psp_gateway.proto");
    for line in [
        "syntax = \"proto3\";",
        "package psp_gateway;",
        "service PSP_Gateway {",
        "rpc RequestMultipleTunnelParams(MultiTunnelRequest) returns (MultiTunnelResponse);",
        "rpc RequestKeyRotation(KeyRotationRequest) returns (KeyRotationResponse);",
    ] {
        assert!(proto.contains(line), "missing: {line}");
    }
}
