//! [`PortPair`]: the ports a gateway runs between (the uplink and one or
//! more unsecured ports), brought up alike (configured with one queue per
//! packet core, started) and stopped and closed together when dropped.

use super::error::Result;
use super::lcores::CoreQueues;
use super::mempool::Mempool;
use super::port::{Port, PortConfig};

/// The secure uplink and the unsecured port, both started.
#[derive(Debug)]
pub struct PortPair {
    /// The secure uplink (PSP side).
    pub secure: Port,
    /// The unsecured port (VMs' side); the first, with several.
    pub unsecured: Port,
    /// The unsecured ports after the first (several VFs).
    pub more_unsecured: Vec<Port>,
}

impl PortPair {
    /// Configures both ports with `cfg`, receiving into `pool`, and
    /// starts them. A port that fails leaves both closed (dropped).
    pub fn start(secure: Port, unsecured: Port, cfg: &PortConfig, pool: &Mempool) -> Result<Self> {
        PortPair::start_each(secure, cfg, unsecured, cfg, pool)
    }

    /// As [`start`](Self::start), with a configuration for each port.
    pub fn start_each(
        mut secure: Port,
        secure_cfg: &PortConfig,
        mut unsecured: Port,
        unsecured_cfg: &PortConfig,
        pool: &Mempool,
    ) -> Result<Self> {
        secure.configure(secure_cfg, pool)?;
        secure.start()?;
        unsecured.configure(unsecured_cfg, pool)?;
        unsecured.start()?;
        Ok(PortPair { secure, unsecured, more_unsecured: Vec::new() })
    }

    /// As [`start`](Self::start), with unsecured ports `more` after the
    /// first, each configured like it.
    pub fn start_several(
        secure: Port,
        unsecured: Port,
        more: Vec<Port>,
        cfg: &PortConfig,
        pool: &Mempool,
    ) -> Result<Self> {
        let mut pair = PortPair::start(secure, unsecured, cfg, pool)?;
        for mut p in more {
            p.configure(cfg, pool)?;
            p.start()?;
            pair.more_unsecured.push(p);
        }
        Ok(pair)
    }

    /// Every unsecured port, the first first.
    pub fn unsecured_ports(&self) -> impl Iterator<Item = &Port> {
        std::iter::once(&self.unsecured).chain(&self.more_unsecured)
    }

    /// Turns promiscuous mode on for both (a port that cannot, e.g. a
    /// virtual device, keeps going); returns each refusal with the port's
    /// name.
    pub fn promiscuous(&mut self) -> Vec<(String, super::Error)> {
        [&mut self.secure, &mut self.unsecured]
            .into_iter()
            .chain(self.more_unsecured.iter_mut())
            .filter_map(|p| p.set_promiscuous(true).err().map(|e| (p.name().to_owned(), e)))
            .collect()
    }

    /// Queue `q` of every port for packet core `q`, for `0..cores`.
    pub fn core_queues(&self, cores: u16) -> Result<Vec<CoreQueues<'_>>> {
        let unsecured: Vec<&Port> = self.unsecured_ports().collect();
        CoreQueues::claim_all_ports(&unsecured, &self.secure, cores)
    }
}
