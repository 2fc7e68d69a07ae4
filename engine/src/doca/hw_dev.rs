//! The device, the ports and the PSP key calls of the backend's FFI:
//! opening the `-p` device, starting a port with its resources, SPI/key
//! bulks from the device and master-key rotation ([`KeyHandle`]).

use super::check;
use crate::doca::backend::DocaError;
use crate::psp::kdf::DerivedKey;
use crate::psp::{Spi, Version};
use doca_sys as sys;
use std::ffi::CStr;
use std::ptr;
use zeroize::Zeroizing;

/// The secure port, for key generation and rotation from the gRPC
/// side; every call holds the lock, so at most one runs at a time.
#[derive(Debug, Clone)]
pub(crate) struct KeyHandle {
    pub(super) port: std::sync::Arc<std::sync::Mutex<PortPtr>>,
}

#[derive(Debug)]
pub(super) struct PortPtr(pub(super) *mut sys::doca_flow_port);

// SAFETY: the pointer is only used under KeyHandle's mutex, by the
// bulk-key and master-key calls, which touch the port's crypto
// context and not its pipe queues; the port outlives every handle
// (the gateway stops DOCA Flow only after its control plane and gRPC
// runtime have stopped).
unsafe impl Send for PortPtr {}

impl KeyHandle {
    fn port(&self) -> std::sync::MutexGuard<'_, PortPtr> {
        self.port.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn spi_keys(&self, n: u32, v: Version) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
        spi_keys(self.port().0, n, v)
    }

    pub(crate) fn rotate(&self) -> Result<(), DocaError> {
        let port = self.port();
        // SAFETY: the port is started and outlives the handle (above).
        check("doca_flow_crypto_psp_master_key_rotate", unsafe {
            sys::doca_flow_crypto_psp_master_key_rotate(port.0)
        })
    }
}

/// SPI/key pairs from the bulk generator of a started `port`.
pub(super) fn spi_keys(
    port: *mut sys::doca_flow_port,
    n: u32,
    v: Version,
) -> Result<Vec<(Spi, DerivedKey)>, DocaError> {
    let key_type = if v.key_len() == 16 {
        sys::DOCA_FLOW_CRYPTO_KEY_128
    } else {
        sys::DOCA_FLOW_CRYPTO_KEY_256
    };
    let mut bulk = ptr::null_mut();
    // SAFETY: the port is started; out-pointer to a local.
    check("doca_flow_crypto_psp_spi_key_bulk_alloc", unsafe {
        sys::doca_flow_crypto_psp_spi_key_bulk_alloc(port, key_type, n, &mut bulk)
    })?;
    let r = (|| {
        // SAFETY: bulk was allocated above.
        check("doca_flow_crypto_psp_spi_key_bulk_generate", unsafe {
            sys::doca_flow_crypto_psp_spi_key_bulk_generate(bulk)
        })?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut spi = 0u32;
            let mut words = Zeroizing::new([0u32; 8]);
            // SAFETY: i < n; words has room for a 256-bit key.
            check("doca_flow_crypto_psp_spi_key_bulk_get", unsafe {
                sys::doca_flow_crypto_psp_spi_key_bulk_get(bulk, i, &mut spi, words.as_mut_ptr())
            })?;
            // SAFETY: i < n.
            check("doca_flow_crypto_psp_spi_key_wipe", unsafe {
                sys::doca_flow_crypto_psp_spi_key_wipe(bulk, i)
            })?;
            let mut bytes = Zeroizing::new([0u8; 32]);
            for (c, w) in bytes.chunks_mut(4).zip(words.iter()) {
                c.copy_from_slice(&w.to_ne_bytes());
            }
            let key =
                DerivedKey::from_bytes(&bytes[..v.key_len()]).map_err(|_| DocaError::Entries(1))?;
            out.push((Spi(spi), key));
        }
        Ok(out)
    })();
    // SAFETY: allocated above, not used after.
    unsafe { sys::doca_flow_crypto_psp_spi_key_bulk_free(bulk) };
    r
}

/// Starts a port; `resources`: its (counters, PSP key slots) in the
/// port resource mode.
pub(super) fn start_port(
    id: u16,
    dev: *mut sys::doca_dev,
    resources: Option<(u32, u32)>,
) -> Result<*mut sys::doca_flow_port, DocaError> {
    let mut cfg = ptr::null_mut();
    let mut port = ptr::null_mut();
    // SAFETY: out-pointers to locals; cfg is destroyed once the port started.
    unsafe {
        check("doca_flow_port_cfg_create", sys::doca_flow_port_cfg_create(&mut cfg))?;
        let r = match resources {
            None => Ok(()),
            Some((counters, slots)) => check(
                "doca_flow_port_cfg_set_nr_resources",
                sys::doca_flow_port_cfg_set_nr_resources(
                    cfg,
                    sys::DOCA_FLOW_RESOURCE_COUNTER,
                    counters,
                ),
            )
            .and_then(|()| {
                check(
                    "doca_flow_port_cfg_set_nr_resources",
                    sys::doca_flow_port_cfg_set_nr_resources(
                        cfg,
                        sys::DOCA_FLOW_RESOURCE_PSP,
                        slots,
                    ),
                )
            }),
        }
        .and_then(|()| {
            check("doca_flow_port_cfg_set_port_id", sys::doca_flow_port_cfg_set_port_id(cfg, id))
        })
        .and_then(|()| {
            if dev.is_null() {
                Ok(())
            } else {
                check(
                    "doca_flow_port_cfg_set_dev",
                    sys::doca_flow_port_cfg_set_dev(cfg, dev.cast()),
                )
            }
        })
        .and_then(|()| check("doca_flow_port_start", sys::doca_flow_port_start(cfg, &mut port)));
        sys::doca_flow_port_cfg_destroy(cfg);
        r?;
    }
    Ok(port)
}

/// Opens the DOCA device with this PCI address.
pub(super) fn open_device(pci: &str) -> Result<*mut sys::doca_dev, DocaError> {
    let mut list = ptr::null_mut();
    let mut n = 0u32;
    // SAFETY: out-pointers to locals; the list is destroyed below.
    check("doca_devinfo_create_list", unsafe { sys::doca_devinfo_create_list(&mut list, &mut n) })?;
    let mut found = Err(DocaError::NoDevice(pci.to_owned()));
    for i in 0..n as usize {
        // SAFETY: list holds n entries.
        let info = unsafe { *list.add(i) };
        let mut buf = [0 as std::ffi::c_char; 32];
        // SAFETY: buf is larger than a PCI address string
        // (DOCA_DEVINFO_PCI_ADDR_SIZE, 13).
        if unsafe { sys::doca_devinfo_get_pci_addr_str(info, buf.as_mut_ptr()) }
            != sys::DOCA_SUCCESS
        {
            continue;
        }
        // SAFETY: NUL-terminated by the call above.
        let addr = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
        if addr.ends_with(pci) || pci.ends_with(&*addr) {
            let mut dev = ptr::null_mut();
            // SAFETY: info is a live entry of the list.
            found =
                check("doca_dev_open", unsafe { sys::doca_dev_open(info, &mut dev) }).map(|()| dev);
            break;
        }
    }
    // SAFETY: created above; opened devices stay valid after.
    unsafe { sys::doca_devinfo_destroy_list(list) };
    found
}
