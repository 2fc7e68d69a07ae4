//! Is there a DOCA device behind `-p`? Answered before the EAL starts, so
//! that `--backend auto` can choose and say why.
//!
//! Split in two: [`decide`] is the whole decision over a device listing it
//! is handed (pure, unit-tested); [`probe`] hands it the real listing from
//! `doca_devinfo_create_list` and `doca_devinfo_get_pci_addr_str` where
//! `doca-sys` found the SDK. Without the SDK, [`decide`] answers
//! [`Probe::SdkAbsent`] before asking for the listing, and the listing
//! function is not even compiled in, so no DOCA symbol is referenced.
//!
//! PSP capability: DOCA's public API documents no per-device PSP
//! capability query that we could find (no `doca_devinfo_cap_*` or
//! `doca_flow_*_cap_*` for PSP), and NVIDIA's PSP Gateway application
//! opens the `-p` device without one; the guide only states "BlueField-3 or
//! ConnectX-7 and later". So a device found here is *present*; its PSP
//! offload shows when DOCA Flow starts (PSP key slots and pipes in the
//! secure domains), and a failure there is [`super::DocaError`] with the
//! failing call's name.

use crate::config::{DocaReadiness, PortSpec};
use core::fmt;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// This build has no DOCA SDK (`doca-sys` bound its declaration file);
    /// DOCA was not asked anything.
    SdkAbsent,
    /// `-p` is not a PCI address (a DPDK virtual device), so no DOCA device
    /// can be behind it.
    NotPci(String),
    /// `doca_devinfo_create_list` failed.
    ListFailed(String),
    /// No DOCA device has the `-p` PCI address.
    NoDevice {
        /// `-p`, as `DDDD:BB:DD.F`.
        pci: String,
        /// The DOCA devices' PCI addresses.
        found: Vec<String>,
    },
    /// The `-p` device is a DOCA device (PSP offload: see the module docs).
    Device {
        /// Its PCI address, `DDDD:BB:DD.F`.
        pci: String,
    },
}

impl Probe {
    /// Whether the DOCA backend can be tried on this device.
    pub fn capable(&self) -> bool {
        matches!(self, Probe::Device { .. })
    }

    /// What [`crate::config::select`] needs to know of it.
    pub fn readiness(&self) -> DocaReadiness {
        DocaReadiness { capable: self.capable(), why: self.to_string() }
    }
}

/// The reason, for the `--backend` log line or error.
impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::SdkAbsent => f.write_str("DOCA SDK absent from this build"),
            Probe::NotPci(p) => write!(f, "-p {p} is a DPDK virtual device, not a DOCA device"),
            Probe::ListFailed(e) => write!(f, "cannot list DOCA devices: {e}"),
            Probe::NoDevice { pci, found } if found.is_empty() => {
                write!(f, "no DOCA device at -p {pci} (no DOCA devices found)")
            }
            Probe::NoDevice { pci, found } => {
                write!(f, "no DOCA device at -p {pci} (DOCA devices: {})", found.join(", "))
            }
            Probe::Device { pci } => write!(f, "DOCA SDK present and -p {pci} is a DOCA device"),
        }
    }
}

/// `DDDD:BB:DD.F` in lower case, from DOCA's `BB:DD.F` or `DDDD:BB:DD.F`.
fn normalize(addr: &str) -> Option<String> {
    match PortSpec::parse("-p/--pci-addr", addr) {
        Ok(PortSpec::Pci(a)) => Some(a),
        _ => None,
    }
}

/// The decision: `list` is asked for the DOCA devices' PCI addresses only
/// when the SDK is present and `-p` is a PCI address.
pub fn decide(
    secure: &PortSpec,
    sdk_present: bool,
    list: impl FnOnce() -> Result<Vec<String>, String>,
) -> Probe {
    if !sdk_present {
        return Probe::SdkAbsent;
    }
    let pci = match secure {
        PortSpec::Pci(a) => a.clone(),
        PortSpec::Vdev { name, .. } => return Probe::NotPci(name.clone()),
        PortSpec::Representor(r) => return Probe::NotPci(r.clone()),
    };
    let found = match list() {
        Ok(found) => found,
        Err(e) => return Probe::ListFailed(e),
    };
    if found.iter().any(|a| normalize(a).as_deref() == Some(pci.as_str())) {
        Probe::Device { pci }
    } else {
        Probe::NoDevice { pci, found }
    }
}

/// Probes the `-p` device: [`decide`] over the DOCA device list where the
/// SDK is present; [`Probe::SdkAbsent`] without a DOCA call otherwise.
pub fn probe(secure: &PortSpec) -> Probe {
    decide(secure, doca_sys::SDK_PRESENT, list_devices)
}

doca_sys::sdk_only! {
    fn list_devices() -> Result<Vec<String>, String> {
        ffi::pci_addrs()
    }
}

doca_sys::without_sdk! {
    /// Never called: [`decide`] stops at `sdk_present == false` first.
    fn list_devices() -> Result<Vec<String>, String> {
        Err("DOCA SDK absent from this build".to_owned())
    }
}

/// The FFI: type-checked in every build, called only with the SDK.
// The declaration file's doca_error_t is a u32 already; against the SDK's
// headers bindgen's type for it may differ, so the cast stays.
#[allow(unsafe_code, dead_code, clippy::unnecessary_cast)]
mod ffi {
    use doca_sys as sys;
    use std::ffi::{c_char, CStr};
    use std::ptr;

    /// `DOCA_DEVINFO_PCI_ADDR_SIZE` is 13 ("XXXX:XX:XX.X" and NUL); room
    /// to spare.
    const PCI_ADDR_BUF: usize = 32;

    fn descr(rc: sys::doca_error_t) -> String {
        // SAFETY: doca_error_get_descr returns a static NUL-terminated
        // string (or null) for any code.
        let p = unsafe { sys::doca_error_get_descr(rc) };
        if p.is_null() {
            return format!("doca_error_t {}", rc as u32);
        }
        // SAFETY: non-null and NUL-terminated, per the function's contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// The PCI address of every DOCA device.
    pub(super) fn pci_addrs() -> Result<Vec<String>, String> {
        let mut list: *mut *mut sys::doca_devinfo = ptr::null_mut();
        let mut n = 0u32;
        // SAFETY: out-pointers to locals; on success the list is destroyed below.
        let rc = unsafe { sys::doca_devinfo_create_list(&mut list, &mut n) };
        if rc != sys::DOCA_SUCCESS {
            return Err(format!("doca_devinfo_create_list: {}", descr(rc)));
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            // SAFETY: the list holds n entries.
            let info = unsafe { *list.add(i) };
            let mut buf = [0 as c_char; PCI_ADDR_BUF];
            // SAFETY: info is a live entry of the list; buf is larger than
            // DOCA_DEVINFO_PCI_ADDR_SIZE.
            let rc = unsafe { sys::doca_devinfo_get_pci_addr_str(info, buf.as_mut_ptr()) };
            if rc == sys::DOCA_SUCCESS {
                // SAFETY: the call wrote a NUL-terminated string into buf.
                out.push(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned());
            }
        }
        // SAFETY: created above and not used after.
        unsafe { sys::doca_devinfo_destroy_list(list) };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pci(s: &str) -> PortSpec {
        PortSpec::parse("-p", s).unwrap()
    }

    fn listing(addrs: &[&str]) -> impl FnOnce() -> Result<Vec<String>, String> {
        let v: Vec<String> = addrs.iter().map(|s| s.to_string()).collect();
        move || Ok(v)
    }

    #[test]
    fn without_the_sdk_nothing_is_asked() {
        let p = decide(&pci("03:00.0"), false, || panic!("listed without the SDK"));
        assert_eq!(p, Probe::SdkAbsent);
        assert!(!p.capable());
        assert_eq!(p.to_string(), "DOCA SDK absent from this build");
        // This build's own probe, when it has no SDK, says the same.
        if !doca_sys::SDK_PRESENT {
            assert_eq!(probe(&pci("03:00.0")), Probe::SdkAbsent);
        }
    }

    #[test]
    fn the_backend_log_line_and_error_carry_the_probe() {
        use crate::config::{select, Backend, BackendFlag};
        let absent = Probe::SdkAbsent;
        let a = select(BackendFlag::Auto, || absent.readiness()).unwrap();
        assert_eq!(
            a.to_string(),
            "flow backend: software (--backend auto: DOCA SDK absent from this build)"
        );
        let e = select(BackendFlag::Doca, || absent.readiness()).unwrap_err();
        assert_eq!(e.to_string(), "--backend doca: DOCA SDK absent from this build");
        let dev = Probe::Device { pci: "0000:03:00.0".into() };
        let a = select(BackendFlag::Auto, || dev.readiness()).unwrap();
        assert_eq!(a.backend, Backend::Doca);
        assert_eq!(
            a.to_string(),
            "flow backend: doca (--backend auto: DOCA SDK present and -p 0000:03:00.0 is a \
             DOCA device)"
        );
    }

    #[test]
    fn a_virtual_device_is_not_listed() {
        let p = decide(&pci("net_af_packet0,iface=up0"), true, || panic!("listed for a vdev"));
        assert_eq!(p, Probe::NotPci("net_af_packet0".into()));
        assert_eq!(p.to_string(), "-p net_af_packet0 is a DPDK virtual device, not a DOCA device");
    }

    #[test]
    fn the_pci_address_matches_in_either_form() {
        let found = ["0000:03:00.0", "0000:03:00.1"];
        for p in ["03:00.0", "0000:03:00.0"] {
            let r = decide(&pci(p), true, listing(&found));
            assert_eq!(r, Probe::Device { pci: "0000:03:00.0".into() });
            assert!(r.capable());
        }
        // DOCA answering without the domain, or in upper case.
        let r = decide(&pci("0000:af:00.1"), true, listing(&["AF:00.1"]));
        assert_eq!(r, Probe::Device { pci: "0000:af:00.1".into() });
        assert_eq!(r.to_string(), "DOCA SDK present and -p 0000:af:00.1 is a DOCA device");
    }

    #[test]
    fn absent_device_names_what_was_found() {
        let r = decide(&pci("04:00.0"), true, listing(&["0000:03:00.0", "0000:03:00.1"]));
        assert!(!r.capable());
        assert_eq!(
            r.to_string(),
            "no DOCA device at -p 0000:04:00.0 (DOCA devices: 0000:03:00.0, 0000:03:00.1)"
        );
        let r = decide(&pci("04:00.0"), true, listing(&[]));
        assert_eq!(r.to_string(), "no DOCA device at -p 0000:04:00.0 (no DOCA devices found)");
        // A different domain is a different device.
        let r = decide(&pci("0001:03:00.0"), true, listing(&["0000:03:00.0"]));
        assert!(!r.capable());
    }

    #[test]
    fn a_failed_listing_is_reported() {
        let r = decide(&pci("03:00.0"), true, || Err("doca_devinfo_create_list: driver".into()));
        assert_eq!(r, Probe::ListFailed("doca_devinfo_create_list: driver".into()));
        assert!(!r.capable());
        assert_eq!(r.to_string(), "cannot list DOCA devices: doca_devinfo_create_list: driver");
    }
}
