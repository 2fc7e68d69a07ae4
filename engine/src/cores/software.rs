//! [`SoftwareDatapath`]: the software datapath's parts, wired once. The
//! replicated tables get one reader per packet core; the flow programmer
//! (the one writer) and its client go to whoever drives the control side;
//! each core becomes a [`GatewayCore`] over its reader and its rings.
//!
//! Two steps, because the cores need the master keys and those come from
//! the key service, which needs the flow client first.

use super::{CoreRings, GatewayCore, Packets};
use crate::flows::{FlowClient, FlowConfig, FlowProgrammer};
use crate::pipeline::{LcorePipeline, PipelineConfig, VfPorts};
use crate::psp::kdf::MasterKeyPair;
use crate::tables::{ReplicatedTables, TableReader};
use std::time::Duration;

/// The flow programmer's limits for `pipeline`: as many tunnels and ACL
/// entries as its tables hold.
pub fn flow_config(pipeline: &PipelineConfig) -> FlowConfig {
    FlowConfig {
        max_tunnels: pipeline.max_tunnels,
        max_acl_entries: pipeline.max_acl_entries,
        ..FlowConfig::default()
    }
}

/// The tables' readers, waiting for their cores.
#[derive(Debug)]
pub struct SoftwareDatapath {
    pipeline: PipelineConfig,
    readers: Vec<TableReader>,
}

/// What the cores of a [`SoftwareDatapath`] share.
pub struct CoreSetup<'a, P: Packets> {
    /// Where cores get packets for sampling mirrors (each core a clone).
    pub packets: P,
    /// The rings to and from the control plane, one resubmit ring and one
    /// snapshot slot per core.
    pub rings: &'a CoreRings<P::Packet>,
    /// Core `i` seeds its sampling draw with `seed + i`.
    pub seed: u64,
    /// Publish counters into the snapshot slots about this often.
    pub snapshots: Option<Duration>,
    /// Several unsecured ports: which VMs are behind each (decrypted
    /// packets delivered by inner destination, sources checked per port).
    /// `None`: one port.
    pub vf_ports: Option<VfPorts>,
}

impl SoftwareDatapath {
    /// Tables for `cores` packet cores sized by `pipeline` (`table_seed`
    /// seeds their hashing), and their flow programmer with
    /// [`flow_config`]'s limits and its client.
    pub fn new(
        pipeline: PipelineConfig,
        cores: usize,
        table_seed: u64,
    ) -> (SoftwareDatapath, FlowProgrammer<ReplicatedTables>, FlowClient) {
        let (tables, readers) = ReplicatedTables::new(
            cores,
            pipeline.max_tunnels,
            pipeline.max_acl_entries,
            table_seed,
        );
        let (programmer, client) = FlowProgrammer::new(tables, flow_config(&pipeline));
        (SoftwareDatapath { pipeline, readers }, programmer, client)
    }

    /// How many cores it was made for.
    pub fn len(&self) -> usize {
        self.readers.len()
    }

    /// Whether it was made for no core.
    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    /// One [`GatewayCore`] per reader, each decrypting with a copy of
    /// `masters`, core `i` on `setup.rings`' rings `i` (the rings must
    /// serve as many cores, or the extra readers get none), delivering
    /// over `setup.vf_ports` when there are several unsecured ports.
    pub fn into_cores<'a, P: Packets + Clone>(
        self,
        masters: &MasterKeyPair,
        setup: CoreSetup<'a, P>,
    ) -> Vec<GatewayCore<'a, P>> {
        let CoreSetup { packets, rings, seed, snapshots, vf_ports } = setup;
        self.readers
            .into_iter()
            .zip(rings.resubmit.iter().zip(&rings.snapshots))
            .enumerate()
            .map(|(i, (reader, (resubmit, snap)))| {
                let pipe = LcorePipeline::new(self.pipeline, i as u16, reader);
                let mut core = GatewayCore::new(
                    pipe,
                    masters,
                    packets.clone(),
                    &rings.to_control,
                    resubmit,
                    seed.wrapping_add(i as u64),
                );
                if let Some(every) = snapshots {
                    core.publish_snapshots(snap, every);
                }
                if let Some(ring) = rings.to_host.get(i) {
                    core.take_to_host(ring);
                }
                if let Some(v) = &vf_ports {
                    core.deliver_by(v.clone());
                }
                core
            })
            .collect()
    }
}
