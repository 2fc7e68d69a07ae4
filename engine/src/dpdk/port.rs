//! [`Port`]: an ethdev port found by name, configured with N receive and N
//! transmit queues (RSS across them when the device has it), started,
//! stopped, and read (MAC address, promiscuous mode, basic counters).

use super::eal::{self, Eal};
use super::error::{check, Error, Result, ENODEV};
use super::ids::{PortId, QueueId};
use super::mempool::Mempool;
use super::queue::{Claims, RxQueue, TxQueue};
use crate::wire::MacAddr;
use core::marker::PhantomData;
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::sync::Mutex;

/// Ports that have a [`Port`] handle in this process.
static CLAIMED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// How to configure a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// Receive queues.
    pub rx_queues: u16,
    /// Transmit queues.
    pub tx_queues: u16,
    /// Descriptors per receive queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// Descriptors per transmit queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// Spread receive traffic over the queues with RSS (IP, TCP and UDP
    /// hashes, as far as the device supports them) when there are several.
    pub rss: bool,
}

impl Default for PortConfig {
    /// One queue each way, 1024 descriptors, RSS when there are more queues.
    fn default() -> Self {
        PortConfig { rx_queues: 1, tx_queues: 1, rx_desc: 1024, tx_desc: 1024, rss: true }
    }
}

/// What a device can do (a digest of `rte_eth_dev_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// PMD name, e.g. `net_ring`.
    pub driver: String,
    /// Most receive queues.
    pub max_rx_queues: u16,
    /// Most transmit queues.
    pub max_tx_queues: u16,
    /// RSS hash types the device supports (`RTE_ETH_RSS_*` bits); 0: no RSS.
    pub rss_hash_types: u64,
    /// Largest frame it receives.
    pub max_rx_pktlen: u32,
}

/// Basic counters of a port (from `rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the device for lack of descriptors.
    pub imissed: u64,
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// An ethdev port, owned by this handle: at most one `Port` per port in the
/// process, and dropping it stops and closes the device (a virtual device
/// is then gone until the process restarts).
///
/// Control operations take `&mut self` or run on the thread that holds the
/// port (`Port` is `Send` but not `Sync`); the packet path goes through
/// [`RxQueue`] and [`TxQueue`] handles, one per queue, which may move to
/// the lcores.
#[derive(Debug)]
pub struct Port {
    id: PortId,
    name: String,
    started: bool,
    rss: bool,
    /// The pool receive queues draw from, kept alive while the port is.
    pool: Option<Mempool>,
    claims: Claims,
    /// Control calls are not thread-safe in DPDK: not `Sync`.
    _not_sync: PhantomData<Cell<()>>,
}

impl Port {
    /// The port of device `name` (e.g. `net_ring0`, `0000:03:00.0`).
    pub fn by_name(_eal: &Eal, name: &str) -> Result<Port> {
        let cname =
            CString::new(name).map_err(|_| Error::Nul { what: "port name", value: name.into() })?;
        let mut id = 0u16;
        // SAFETY: the EAL is initialised (_eal exists); cname is a valid
        // string and id a valid out-pointer.
        let r = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        if r < 0 {
            let errno = r.saturating_abs();
            return Err(Error::NoSuchPort {
                name: name.to_owned(),
                errno,
                msg: super::error::strerror(errno),
            });
        }
        Port::claim(PortId(id), name.to_owned())
    }

    /// The port with id `id`.
    pub fn by_id(_eal: &Eal, id: PortId) -> Result<Port> {
        // SAFETY: the EAL is initialised (_eal exists); any id is accepted.
        if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id.0) } == 0 {
            return Err(Error::from_errno("rte_eth_dev_is_valid_port", ENODEV));
        }
        let mut buf = [0 as std::os::raw::c_char; dpdk_sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes, as DPDK requires, and
        // receives a NUL-terminated name.
        check("rte_eth_dev_get_name_by_port", unsafe {
            dpdk_sys::rte_eth_dev_get_name_by_port(id.0, buf.as_mut_ptr())
        })?;
        // SAFETY: DPDK wrote a NUL-terminated string into buf.
        let name = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
        Port::claim(id, name)
    }

    /// Number of ports the EAL found.
    pub fn count(_eal: &Eal) -> u16 {
        // SAFETY: the EAL is initialised (_eal exists).
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    fn claim(id: PortId, name: String) -> Result<Port> {
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        if claimed.contains(&id.0) {
            return Err(Error::PortInUse(id.0));
        }
        claimed.push(id.0);
        eal::live_inc();
        Ok(Port {
            id,
            name,
            started: false,
            rss: false,
            pool: None,
            claims: Claims::default(),
            _not_sync: PhantomData,
        })
    }

    /// The port id.
    pub fn id(&self) -> PortId {
        self.id
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the device can do.
    pub fn info(&self) -> Result<PortInfo> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: the port is valid (claimed) and info a valid out-struct.
        check("rte_eth_dev_info_get", unsafe {
            dpdk_sys::rte_eth_dev_info_get(self.id.0, &mut info)
        })?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: DPDK sets driver_name to the PMD's static name string.
            unsafe { CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
        };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            rss_hash_types: info.flow_type_rss_offloads,
            max_rx_pktlen: info.max_rx_pktlen,
        })
    }

    /// Configures the port (which must be stopped) with `cfg`; receive
    /// queues take their mbufs from `pool`. RSS is on when there are several
    /// receive queues, `cfg.rss` is set and the device hashes at least one
    /// of IP, TCP and UDP: see [`rss_enabled`](Self::rss_enabled).
    pub fn configure(&mut self, cfg: &PortConfig, pool: &Mempool) -> Result<()> {
        let info = self.info()?;
        let limit = |what, asked: u16, max: u16| {
            if asked == 0 || asked > max {
                Err(Error::Limit {
                    port: self.id.0,
                    driver: info.driver.clone(),
                    what,
                    asked: asked.into(),
                    max: max.into(),
                })
            } else {
                Ok(())
            }
        };
        limit("rx queues", cfg.rx_queues, info.max_rx_queues)?;
        limit("tx queues", cfg.tx_queues, info.max_tx_queues)?;

        let mut conf = dpdk_sys::rte_eth_conf::default();
        let mut rss = false;
        if cfg.rss && cfg.rx_queues > 1 {
            // SAFETY: the shim returns constants.
            let want = unsafe {
                dpdk_sys::pspgw_eth_rss_ip()
                    | dpdk_sys::pspgw_eth_rss_tcp()
                    | dpdk_sys::pspgw_eth_rss_udp()
            };
            let hf = want & info.rss_hash_types;
            if hf != 0 {
                conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
                conf.rx_adv_conf.rss_conf.rss_hf = hf;
                rss = true;
            }
        }
        // SAFETY: the port is valid and stopped (or DPDK refuses with
        // EBUSY); conf is a fully initialised configuration.
        check("rte_eth_dev_configure", unsafe {
            dpdk_sys::rte_eth_dev_configure(self.id.0, cfg.rx_queues, cfg.tx_queues, &conf)
        })?;
        let (mut rxd, mut txd) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: the port is configured; rxd/txd are valid in-out values.
        check("rte_eth_dev_adjust_nb_rx_tx_desc", unsafe {
            dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id.0, &mut rxd, &mut txd)
        })?;
        // SAFETY: the port is valid.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id.0) };
        // SOCKET_ID_ANY (-1) for virtual devices: DPDK takes it as unsigned.
        let socket = socket as u32;
        for q in 0..cfg.rx_queues {
            // SAFETY: q is below the configured count; a null rxconf means
            // the device's defaults; pool is a live packet pool, kept alive
            // by self.pool for as long as the port.
            check("rte_eth_rx_queue_setup", unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    self.id.0,
                    q,
                    rxd,
                    socket,
                    core::ptr::null(),
                    pool.as_ptr(),
                )
            })?;
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: q is below the configured count; a null txconf means
            // the device's defaults.
            check("rte_eth_tx_queue_setup", unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(self.id.0, q, txd, socket, core::ptr::null())
            })?;
        }
        self.pool = Some(pool.clone());
        self.rss = rss;
        self.claims = Claims::new(cfg.rx_queues, cfg.tx_queues);
        Ok(())
    }

    /// Whether the last [`configure`](Self::configure) turned RSS on.
    pub fn rss_enabled(&self) -> bool {
        self.rss
    }

    /// Starts the device.
    pub fn start(&mut self) -> Result<()> {
        // SAFETY: the port is valid; DPDK checks that it is configured.
        check("rte_eth_dev_start", unsafe { dpdk_sys::rte_eth_dev_start(self.id.0) })?;
        self.started = true;
        Ok(())
    }

    /// Stops the device (no queue handle can be alive: they borrow the port).
    pub fn stop(&mut self) -> Result<()> {
        // SAFETY: the port is valid and no queue handle is in use (&mut).
        check("rte_eth_dev_stop", unsafe { dpdk_sys::rte_eth_dev_stop(self.id.0) })?;
        self.started = false;
        Ok(())
    }

    /// Whether the device is started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The device's MAC address.
    pub fn mac_addr(&self) -> Result<MacAddr> {
        let mut a = dpdk_sys::rte_ether_addr::default();
        // SAFETY: the port is valid and a a valid out-struct.
        check("rte_eth_macaddr_get", unsafe { dpdk_sys::rte_eth_macaddr_get(self.id.0, &mut a) })?;
        Ok(MacAddr(a.addr_bytes))
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<()> {
        // SAFETY: the port is valid.
        unsafe {
            if on {
                check("rte_eth_promiscuous_enable", dpdk_sys::rte_eth_promiscuous_enable(self.id.0))
            } else {
                check(
                    "rte_eth_promiscuous_disable",
                    dpdk_sys::rte_eth_promiscuous_disable(self.id.0),
                )
            }
        }
        .map(drop)
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> Result<bool> {
        // SAFETY: the port is valid.
        let r = unsafe { dpdk_sys::rte_eth_promiscuous_get(self.id.0) };
        if r < 0 {
            return Err(Error::from_errno("rte_eth_promiscuous_get", ENODEV));
        }
        Ok(r == 1)
    }

    /// The basic counters.
    pub fn stats(&self) -> Result<PortStats> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: the port is valid and s a valid out-struct; reading the
        // counters while lcores run the queues is what DPDK intends.
        check("rte_eth_stats_get", unsafe { dpdk_sys::rte_eth_stats_get(self.id.0, &mut s) })?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Zeroes the counters.
    pub fn reset_stats(&mut self) -> Result<()> {
        // SAFETY: the port is valid.
        check("rte_eth_stats_reset", unsafe { dpdk_sys::rte_eth_stats_reset(self.id.0) }).map(drop)
    }

    /// The handle of receive queue `q`: one at a time per queue.
    pub fn rx_queue(&self, q: QueueId) -> Result<RxQueue<'_>> {
        self.claims.rx(self.id, q).map(|c| RxQueue::new(self.id, q, c))
    }

    /// The handle of transmit queue `q`: one at a time per queue.
    pub fn tx_queue(&self, q: QueueId) -> Result<TxQueue<'_>> {
        self.claims.tx(self.id, q).map(|c| TxQueue::new(self.id, q, c))
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: the port is valid and owned by this handle; no queue
        // handle is alive (they borrow it). It is stopped and closed once.
        unsafe {
            if self.started {
                dpdk_sys::rte_eth_dev_stop(self.id.0);
            }
            dpdk_sys::rte_eth_dev_close(self.id.0);
        }
        CLAIMED.lock().unwrap_or_else(|e| e.into_inner()).retain(|&p| p != self.id.0);
        eal::live_dec();
    }
}
