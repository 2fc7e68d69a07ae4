//! The EAL (DPDK's environment layer): [`Eal`], the RAII handle of
//! `rte_eal_init`/`rte_eal_cleanup`, and [`EalArgs`], which builds a safe
//! argument list for tests and tools.

use super::error::{check, Error, Result};
use super::ids::LcoreId;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set by the first `Eal::init` that got past argument checks: DPDK allows
/// one initialisation per process, and none after `rte_eal_cleanup`.
static INIT: AtomicBool = AtomicBool::new(false);

/// Mempools and ports alive (mempools leaked because mbufs were still out
/// stay counted): `rte_eal_cleanup` is skipped while this is not zero, so
/// no handle can outlive the memory it points into.
static LIVE: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live_inc() {
    LIVE.fetch_add(1, Ordering::SeqCst);
}

pub(crate) fn live_dec() {
    LIVE.fetch_sub(1, Ordering::SeqCst);
}

/// The initialised EAL of this process. Constructors of mempools, ports and
/// the metadata field take `&Eal`, so nothing calls DPDK before the EAL is
/// up. Dropping it runs `rte_eal_cleanup` if no mempool or port is alive
/// any more; otherwise the cleanup is skipped (see [`Eal::cleanup`]).
///
/// DPDK leaves its runtime directory (`/var/run/dpdk/<file-prefix>` for
/// root) behind after cleanup; [`Eal::set_remove_runtime_dir`] removes it
/// too, for processes with a file prefix of their own. (`--in-memory` would create no files, but DPDK
/// 22.11 refuses it with `--no-huge`.)
#[derive(Debug)]
pub struct Eal {
    runtime_dir: PathBuf,
    remove_runtime_dir: bool,
}

impl Eal {
    /// Runs `rte_eal_init` with `args`, the EAL options without the program
    /// name (e.g. from [`EalArgs::build`]). Works once per process: later
    /// calls return [`Error::EalAlreadyInitialized`].
    pub fn init(args: &[String]) -> Result<Eal> {
        let mut owned = Vec::with_capacity(args.len() + 1);
        for a in std::iter::once("psp-gateway").chain(args.iter().map(String::as_str)) {
            owned.push(
                CString::new(a)
                    .map_err(|_| Error::Nul { what: "EAL argument", value: a.to_owned() })?,
            );
        }
        let argc = c_int::try_from(owned.len()).map_err(|_| Error::Limit {
            port: 0,
            driver: "eal".into(),
            what: "argument count",
            asked: owned.len() as u64,
            max: c_int::MAX as u64,
        })?;
        if INIT.swap(true, Ordering::SeqCst) {
            return Err(Error::EalAlreadyInitialized);
        }
        // The EAL keeps pointers into argv (and getopt reorders it): the
        // strings and the array are leaked, to live as long as the process.
        let argv: Vec<*mut c_char> =
            owned.into_iter().map(CString::into_raw).chain([std::ptr::null_mut()]).collect();
        let argv = argv.leak();
        // SAFETY: argv holds argc valid NUL-terminated strings followed by a
        // null pointer, all leaked so they outlive the EAL; INIT makes this
        // the only call in the process (DPDK rejects a second one as well).
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let e = Error::last("rte_eal_init");
            // DPDK itself allows a retry after bad arguments (and refuses
            // one with EALREADY after other failures).
            INIT.store(false, Ordering::SeqCst);
            return Err(e);
        }
        // SAFETY: the EAL is initialised; the runtime directory is a
        // NUL-terminated string in its internal config, copied out here.
        let dir = unsafe { CStr::from_ptr(dpdk_sys::rte_eal_get_runtime_dir()) };
        let runtime_dir = PathBuf::from(dir.to_string_lossy().into_owned());
        Ok(Eal { runtime_dir, remove_runtime_dir: false })
    }

    /// The runtime directory (`/var/run/dpdk/<file-prefix>` for root).
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// Also remove the runtime directory when the EAL is cleaned up (for a
    /// file prefix no other process shares, like [`EalArgs`]' default).
    pub fn set_remove_runtime_dir(&mut self, on: bool) {
        self.remove_runtime_dir = on;
    }

    /// Number of lcores the EAL runs (`-l`).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: the EAL is initialised (self exists); reads its config.
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// The main lcore (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> LcoreId {
        // SAFETY: the EAL is initialised (self exists); reads its config.
        LcoreId(unsafe { dpdk_sys::rte_get_main_lcore() })
    }

    /// Mempools and ports alive (leaked mempools included): cleanup waits
    /// for this to be zero.
    pub fn live_handles(&self) -> usize {
        LIVE.load(Ordering::SeqCst)
    }

    /// Runs `rte_eal_cleanup` now. Fails with [`Error::EalBusy`] (and
    /// leaves the EAL as it is) while mempools or ports are alive, or a
    /// mempool was leaked because it still had mbufs out.
    pub fn cleanup(mut self) -> Result<()> {
        let r = self.cleanup_now();
        std::mem::forget(self);
        r
    }

    fn cleanup_now(&mut self) -> Result<()> {
        let live = LIVE.load(Ordering::SeqCst);
        if live > 0 {
            return Err(Error::EalBusy(live));
        }
        // SAFETY: the EAL was initialised (an Eal existed) and is cleaned up
        // once (cleanup consumes the handle and forgets it); no mempool or
        // port is alive and none can be made without an Eal.
        check("rte_eal_cleanup", unsafe { dpdk_sys::rte_eal_cleanup() })?;
        if self.remove_runtime_dir {
            // Best effort: the EAL is down either way.
            let _ = std::fs::remove_dir_all(&self.runtime_dir);
        }
        Ok(())
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // A busy EAL stays up: the process is about to end anyway, and
        // freeing its memory under live handles would be unsound.
        let _ = self.cleanup_now();
    }
}

/// Whether the EAL may use hugepages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hugepages {
    /// Use them when enough are free and hugetlbfs is mounted, else fall
    /// back to `--no-huge` (with a note).
    Auto,
    /// Always `--no-huge` (anonymous memory, no physical addresses: fine
    /// for virtual devices, not for most hardware).
    Off,
}

/// Builder of an EAL argument list that is safe to run anywhere: a file
/// prefix of its own (so concurrent processes do not share a runtime
/// directory), `--no-huge` when no hugepages are free, no PCI scan and a
/// quiet log by default.
#[derive(Debug, Clone)]
pub struct EalArgs {
    file_prefix: String,
    lcores: String,
    memory_mb: u32,
    hugepages: Hugepages,
    pci: bool,
    vdevs: Vec<String>,
    log_level: String,
    in_memory: bool,
    telemetry: bool,
}

/// An EAL argument list and what [`EalArgs::build`] decided on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EalArgList {
    /// The arguments for [`Eal::init`].
    pub args: Vec<String>,
    /// Set when the list falls back to `--no-huge`: why (for a log line).
    pub note: Option<String>,
}

impl Default for EalArgs {
    fn default() -> Self {
        EalArgs::new()
    }
}

impl EalArgs {
    /// Defaults: `--file-prefix pspgw-<pid>`, lcore 0, 256 MB, hugepages if
    /// enough are free, no PCI, no vdevs, log level `error`, no telemetry
    /// socket, a runtime directory (not `--in-memory`).
    pub fn new() -> EalArgs {
        EalArgs {
            file_prefix: format!("pspgw-{}", std::process::id()),
            lcores: "0".into(),
            memory_mb: 256,
            hugepages: Hugepages::Auto,
            pci: false,
            vdevs: Vec::new(),
            log_level: "error".into(),
            in_memory: false,
            telemetry: false,
        }
    }

    /// The `--file-prefix` (runtime directory `/var/run/dpdk/<prefix>`).
    pub fn file_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.file_prefix = prefix.into();
        self
    }

    /// The `-l` lcore list, e.g. `0` or `0-1`.
    pub fn lcores(mut self, list: impl Into<String>) -> Self {
        self.lcores = list.into();
        self
    }

    /// Memory to reserve (`-m`, MB).
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// Hugepage use.
    pub fn hugepages(mut self, h: Hugepages) -> Self {
        self.hugepages = h;
        self
    }

    /// Scan the PCI bus (off by default: `--no-pci`).
    pub fn pci(mut self, on: bool) -> Self {
        self.pci = on;
        self
    }

    /// Adds a virtual device, e.g. `net_ring0` or `net_tap0,iface=t0`.
    pub fn vdev(mut self, spec: impl Into<String>) -> Self {
        self.vdevs.push(spec.into());
        self
    }

    /// The global `--log-level` (e.g. `error`, `notice`, `debug`).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// `--in-memory`: no runtime files at all (no secondary processes).
    /// Only with hugepages: DPDK refuses it with `--no-huge`, so a list that
    /// falls back to `--no-huge` leaves it out (and says so in the note).
    pub fn in_memory(mut self, on: bool) -> Self {
        self.in_memory = on;
        self
    }

    /// Keep the telemetry socket (off by default: `--no-telemetry`).
    pub fn telemetry(mut self, on: bool) -> Self {
        self.telemetry = on;
        self
    }

    /// The argument list, reading `/proc/meminfo` and `/proc/mounts` to
    /// decide on hugepages.
    pub fn build(&self) -> EalArgList {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        self.build_with(&meminfo, &mounts)
    }

    /// [`build`](Self::build) with the contents of `/proc/meminfo` and
    /// `/proc/mounts` given.
    pub fn build_with(&self, meminfo: &str, mounts: &str) -> EalArgList {
        let mut args = vec![
            "-l".to_owned(),
            self.lcores.clone(),
            "-m".to_owned(),
            self.memory_mb.to_string(),
            format!("--file-prefix={}", self.file_prefix),
            format!("--log-level={}", self.log_level),
        ];
        let mut note = None;
        match self.hugepages {
            Hugepages::Off => args.push("--no-huge".into()),
            Hugepages::Auto => {
                let free = meminfo_kb(meminfo, "HugePages_Free").unwrap_or(0);
                let size = meminfo_kb(meminfo, "Hugepagesize").unwrap_or(0);
                let free_kb = free.saturating_mul(size);
                let need_kb = u64::from(self.memory_mb) * 1024;
                let mounted =
                    mounts.lines().any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"));
                if free_kb < need_kb || !mounted {
                    args.push("--no-huge".into());
                    note = Some(format!(
                        "EAL: falling back to --no-huge: {free} free hugepages of {size} kB \
                         ({} MB) for -m {}{}",
                        free_kb / 1024,
                        self.memory_mb,
                        if mounted { "" } else { ", no hugetlbfs mounted" }
                    ));
                }
            }
        }
        if !self.pci {
            args.push("--no-pci".into());
        }
        let huge = !args.iter().any(|a| a == "--no-huge");
        if huge && !self.in_memory {
            // The hugepage files are unlinked once mapped: no process of
            // ours attaches as a secondary, and a gateway that stops (or
            // crashes) leaves nothing in hugetlbfs.
            args.push("--huge-unlink".into());
        }
        if self.in_memory {
            if args.iter().any(|a| a == "--no-huge") {
                // DPDK 22.11: --no-huge implies --legacy-mem, which
                // --in-memory refuses.
                let n = note.get_or_insert_with(String::new);
                if !n.is_empty() {
                    n.push_str("; ");
                }
                n.push_str("--in-memory dropped: DPDK does not combine it with --no-huge");
            } else {
                args.push("--in-memory".into());
            }
        }
        if !self.telemetry {
            args.push("--no-telemetry".into());
        }
        for v in &self.vdevs {
            args.push(format!("--vdev={v}"));
        }
        EalArgList { args, note }
    }
}

/// The number of a `/proc/meminfo` line (`HugePages_Free:  12` or
/// `Hugepagesize:  2048 kB`).
fn meminfo_kb(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.split_whitespace().next()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";

    #[test]
    fn falls_back_to_no_huge_without_free_hugepages() {
        let a = EalArgs::new().vdev("net_ring0").file_prefix("p");
        let l = a.build_with("HugePages_Free:       0\nHugepagesize:       2048 kB\n", MOUNTS);
        assert!(l.args.contains(&"--no-huge".to_owned()));
        assert!(l.note.as_deref().unwrap().contains("--no-huge"));
        assert!(l.args.contains(&"--vdev=net_ring0".to_owned()));
        assert!(l.args.contains(&"--file-prefix=p".to_owned()));
        assert!(l.args.contains(&"--no-pci".to_owned()));
        // 256 MB of 2 MB pages are free: hugepages, no note.
        let l = a.build_with("HugePages_Free:     128\nHugepagesize:       2048 kB\n", MOUNTS);
        assert!(!l.args.contains(&"--no-huge".to_owned()) && l.note.is_none());
        // Their files are unlinked once mapped: nothing left behind.
        assert!(l.args.contains(&"--huge-unlink".to_owned()));
        // Free pages but no hugetlbfs.
        let l = a.build_with("HugePages_Free:     128\nHugepagesize:       2048 kB\n", "");
        assert!(l.args.contains(&"--no-huge".to_owned()));
        let l = a.clone().hugepages(Hugepages::Off).build_with("", "");
        assert!(l.args.contains(&"--no-huge".to_owned()) && l.note.is_none());
        // --in-memory only with hugepages.
        let a = a.in_memory(true);
        let l = a.build_with("HugePages_Free:     128\nHugepagesize:       2048 kB\n", MOUNTS);
        assert!(l.args.contains(&"--in-memory".to_owned()) && l.note.is_none());
        assert!(!l.args.contains(&"--huge-unlink".to_owned()), "implied by --in-memory");
        let l = a.hugepages(Hugepages::Off).build_with("", "");
        assert!(!l.args.contains(&"--in-memory".to_owned()));
        assert!(l.note.unwrap().contains("--in-memory dropped"));
    }

    #[test]
    fn default_prefix_is_per_process() {
        let l = EalArgs::new().build_with("", "");
        assert!(l.args.contains(&format!("--file-prefix=pspgw-{}", std::process::id())));
    }
}
