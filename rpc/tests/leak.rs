//! A flood of refused requests leaks no memory: the live heap of this test
//! process (counted by `stats_alloc`'s wrapping global allocator; the only test in this
//! binary, so nothing else allocates meanwhile) is the same after 20,000
//! refused requests as after the first 2,000.

mod common;

use common::*;
use rpc::pb;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use tonic::Code;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed since `r` began.
fn live(r: &Region<'_, System>) -> isize {
    let s = r.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

#[test]
fn refused_requests_leak_nothing() {
    let h = Harness::start(config());
    let before = h.backend().snapshot();
    let mut c = h.raw();
    let bad: Vec<pb::MultiTunnelRequest> = vec![
        wire_request(vec![]),
        wire_request(vec![wire_tunnel("10.0.0.1", "10.9.9.9")]),
        wire_request(vec![wire_tunnel("10.0.0.99", "10.1.0.1")]),
        wire_request(vec![wire_tunnel("x".repeat(4096).as_str(), "10.1.0.1")]),
        pb::MultiTunnelRequest {
            psp_versions_accepted: vec![7; 10_000],
            ..wire_request(vec![wire_tunnel("10.0.0.1", "10.1.0.1")])
        },
        {
            let mut t = wire_tunnel("10.0.0.1", "10.1.0.1");
            t.reverse_params.as_mut().unwrap().encryption_key = vec![1; 100_000];
            wire_request(vec![t])
        },
    ];
    let mut flood = |n: usize| {
        for i in 0..n {
            let r = bad[i % bad.len()].clone();
            let code = match h.rt.block_on(c.request_multiple_tunnel_params(r)) {
                Ok(_) => Code::Ok,
                Err(s) => s.code(),
            };
            assert_ne!(code, Code::Ok);
        }
    };
    let region = Region::new(GLOBAL);
    flood(2_000);
    let warm = live(&region);
    flood(20_000);
    let after = live(&region);
    let grew = after - warm;
    eprintln!("live heap: {warm:+} B after 2,000 refused requests, {after:+} B after 22,000");
    // Allocator noise (buffers that grew once) but nothing per request:
    // a leak of even 16 B per request would be 320 kB.
    assert!(grew < 64 * 1024, "live heap grew by {grew} B over 20,000 refused requests");
    assert_eq!(h.backend().snapshot(), before);
}
