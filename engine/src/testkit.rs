//! The test harness shared by the unit tests of `pipeline`, `tables` and
//! `flows`: frames, tunnels, gateway B's master keys, and [`Gw`], a
//! software gateway (flow programmer, replicated tables, packet cores)
//! driven in one thread.

use crate::flows::{Completion, FlowBatch, FlowClient, FlowConfig, FlowProgrammer};
use crate::pipeline::{LcorePipeline, PipelineConfig};
use crate::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use crate::psp::kdf::{MasterKey, MasterKeyPair};
use crate::psp::{Mode, Spi, Version};
use crate::tables::ReplicatedTables;
use crate::wire::{self, MacAddr};
use std::net::Ipv4Addr;
use std::sync::Arc;

pub(crate) use crate::flows::FlowRequest;

pub(crate) const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub(crate) const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 2, 2);
pub(crate) fn frame(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28 + payload.len()];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    wire::ipv4_emit(&mut f[14..], src, dst, 17, 0, 64, (28 + payload.len()) as u16);
    wire::udp_emit(&mut f[34..], 1234, 5678, (8 + payload.len()) as u16);
    f[42..].copy_from_slice(payload);
    f
}

/// Gateway B's master keys: A encrypts to B with keys B derived.
pub(crate) fn masters_b() -> MasterKeyPair {
    MasterKeyPair::new(
        MasterKey::from_bytes(&[0x5b; 32]).unwrap(),
        MasterKey::from_bytes(&[0x6b; 32]).unwrap(),
    )
}

pub(crate) fn tunnel(spi: u32, outer: OuterIp) -> Arc<Encapsulator> {
    let cfg = EncapConfig {
        mode: Mode::Tunnel,
        version: Version::AesGcm256,
        spi: Spi(spi),
        crypt_offset: 0,
        vc: None,
        eth: Some(EthAddrs { src: MacAddr([0xa; 6]), dst: MacAddr([0xb; 6]) }),
        outer,
        ttl: 64,
    };
    let key = masters_b().derive(Spi(spi), Version::AesGcm256);
    Arc::new(Encapsulator::new(cfg, &key).unwrap())
}

pub(crate) fn v6() -> OuterIp {
    OuterIp::V6 { src: "fd00::a".parse().unwrap(), dst: "fd00::b".parse().unwrap() }
}

pub(crate) struct Gw {
    pub prog: FlowProgrammer<ReplicatedTables>,
    pub client: FlowClient,
    pub cores: Vec<LcorePipeline>,
    next_id: u64,
}

impl Gw {
    pub(crate) fn new(cfg: PipelineConfig, cores: usize) -> Gw {
        let (backend, readers) =
            ReplicatedTables::new(cores, cfg.max_tunnels, cfg.max_acl_entries, 7);
        let fc = FlowConfig {
            max_tunnels: cfg.max_tunnels,
            max_acl_entries: cfg.max_acl_entries,
            ..FlowConfig::default()
        };
        let (prog, client) = FlowProgrammer::new(backend, fc);
        let cores = readers
            .into_iter()
            .enumerate()
            .map(|(i, r)| LcorePipeline::new(cfg, i as u16, r))
            .collect();
        Gw { prog, client, cores, next_id: 0 }
    }

    /// Submits a batch and drives programmer and cores until it completes.
    pub(crate) fn program(&mut self, requests: Vec<FlowRequest>) -> Completion {
        self.next_id += 1;
        let id = self.next_id;
        self.client.submit(FlowBatch { id, requests }).unwrap();
        for _ in 0..10 {
            self.prog.run_once();
            for c in &mut self.cores {
                c.refresh();
            }
            if let Some(c) = self.client.poll() {
                assert_eq!(c.id, id);
                return c;
            }
        }
        panic!("batch {id} never completed");
    }

    pub(crate) fn core(&mut self) -> &mut LcorePipeline {
        &mut self.cores[0]
    }
}
