//! `--directory`: this gateway's entry for the etcd peer directory, and
//! the task that keeps it registered and hands the directory's changes to
//! the control plane (destinations) and to the gRPC service (which peers
//! may ask for tunnels, with which virtual addresses).

use crate::backend::GatewayBackend;
use crate::config::fleet::DirectorySpec;
use anyhow::{bail, Context, Result};
use engine::psp::Version;
use engine::wire::MacAddr;
use rpc::directory::etcd::{EtcdConfig, EtcdDirectory, EtcdTls};
use rpc::directory::record::{Record, VfRecord};
use rpc::directory::view::Change;
use rpc::server::Gateway;
use std::net::{IpAddr, SocketAddr};

/// Our side of the directory.
pub struct Ours {
    /// Where peers reach our gRPC service.
    pub grpc_addr: SocketAddr,
    /// Our uplink.
    pub uplink_ip: IpAddr,
    /// Our uplink's MAC.
    pub uplink_mac: MacAddr,
    /// Each unsecured port's name and its VMs' virtual addresses.
    pub vfs: Vec<(String, Vec<IpAddr>)>,
}

/// Starts the directory task on `rt`; changes go to `to_control`.
pub fn start(
    spec: &DirectorySpec,
    ours: Ours,
    gateway: &Gateway<GatewayBackend>,
    rt: &tokio::runtime::Handle,
    to_control: crossbeam::channel::Sender<Vec<Change>>,
) -> Result<EtcdDirectory> {
    if ours.grpc_addr.ip().is_unspecified() {
        bail!(
            "--directory: peers must be told where our gRPC service is: give -s/--svc-addr \
             with the management address (not {})",
            ours.grpc_addr.ip()
        );
    }
    let read = |flag: &str, p: &std::path::Path| {
        std::fs::read(p).with_context(|| format!("{flag} {}: cannot read", p.display()))
    };
    let tls = match &spec.ca {
        Some(ca) => Some(EtcdTls {
            ca_pem: read("--directory-ca", ca)?,
            identity: match &spec.client {
                Some((c, k)) => Some((read("--directory-cert", c)?, read("--directory-key", k)?)),
                None => None,
            },
        }),
        None => None,
    };
    let record = Record {
        instance_id: format!("{:016x}", gateway.instance_id()),
        grpc_addr: ours.grpc_addr,
        uplink_ip: ours.uplink_ip,
        uplink_mac: Some(ours.uplink_mac),
        vfs: ours.vfs.into_iter().map(|(name, virt_ips)| VfRecord { name, virt_ips }).collect(),
        psp_versions: Version::ALL.to_vec(),
        version: crate::config::VERSION.into(),
    };
    let cfg = EtcdConfig {
        endpoints: spec.endpoints.clone(),
        prefix: spec.prefix.clone(),
        tls,
        ttl: spec.ttl,
        record,
    };
    tracing::info!(endpoints = ?cfg.endpoints, key = %cfg.own_key(), ttl = ?cfg.ttl, "directory: etcd");
    let gw = gateway.clone();
    let on_change = Box::new(move |changes: Vec<Change>, peers| {
        // Admit the peers' requests before we ask them: a peer we call
        // asks us back with the reverse direction.
        gw.set_directory_peers(peers);
        if !changes.is_empty() {
            let _ = to_control.send(changes);
        }
    });
    Ok(EtcdDirectory::start(rt, cfg, on_change))
}
