//! [`PortPair`]: the two ports a gateway runs between, brought up alike
//! (configured with one queue per packet core, started) and stopped and
//! closed together when dropped.

use super::error::Result;
use super::lcores::CoreQueues;
use super::mempool::Mempool;
use super::port::{Port, PortConfig};

/// The secure uplink and the unsecured port, both started.
#[derive(Debug)]
pub struct PortPair {
    /// The secure uplink (PSP side).
    pub secure: Port,
    /// The unsecured port (VMs' side).
    pub unsecured: Port,
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
        Ok(PortPair { secure, unsecured })
    }

    /// Turns promiscuous mode on for both (a port that cannot, e.g. a
    /// virtual device, keeps going); returns each refusal with the port's
    /// name.
    pub fn promiscuous(&mut self) -> Vec<(String, super::Error)> {
        [&mut self.secure, &mut self.unsecured]
            .into_iter()
            .filter_map(|p| p.set_promiscuous(true).err().map(|e| (p.name().to_owned(), e)))
            .collect()
    }

    /// Queue `q` of both ports for packet core `q`, for `0..cores`.
    pub fn core_queues(&self, cores: u16) -> Result<Vec<CoreQueues<'_>>> {
        CoreQueues::claim_all(&self.unsecured, &self.secure, cores)
    }
}
