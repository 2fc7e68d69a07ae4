//! Whole-configuration tests on a fake machine: the fake and the helpers
//! here, the tests by subject beside.

mod doca3;
mod files;
mod flags;
mod ports;

use super::*;
use std::collections::HashMap;
use std::io;

#[derive(Default)]
pub(super) struct Fake {
    files: HashMap<PathBuf, String>,
    ip: HashMap<String, String>,
    /// `ip -4|-6 -o addr show [dev IFACE]` output by "-6 IFACE" or "-6".
    addrs: HashMap<String, String>,
    dirs: HashMap<PathBuf, Vec<String>>,
}

impl Fake {
    pub(super) fn file(mut self, path: &str, text: &str) -> Fake {
        self.files.insert(PathBuf::from(path), text.to_string());
        self
    }

    pub(super) fn iface(mut self, name: &str, mac: &str, ip_out: &str) -> Fake {
        self.files
            .insert(PathBuf::from(format!("/sys/class/net/{name}/address")), format!("{mac}\n"));
        self.ip.insert(name.to_string(), ip_out.to_string());
        self
    }

    /// `ip -4|-6 -o addr show [dev IFACE]` gives `out`.
    pub(super) fn addrs(mut self, v6: bool, iface: Option<&str>, out: &str) -> Fake {
        let key = format!(
            "-{}{}",
            if v6 { 6 } else { 4 },
            iface.map(|i| format!(" {i}")).unwrap_or_default()
        );
        self.addrs.insert(key, out.to_string());
        self
    }

    pub(super) fn dir(mut self, path: &str, names: &[&str]) -> Fake {
        self.dirs.insert(PathBuf::from(path), names.iter().map(|n| n.to_string()).collect());
        self
    }
}

impl System for Fake {
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn ip_addr_show(&self, iface: &str) -> Result<String, String> {
        self.ip.get(iface).cloned().ok_or_else(|| format!("Device \"{iface}\" does not exist."))
    }

    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String> {
        let key = format!(
            "-{}{}",
            if v6 { 6 } else { 4 },
            iface.map(|i| format!(" {i}")).unwrap_or_default()
        );
        match (self.addrs.get(&key), iface) {
            (Some(out), _) => Ok(out.clone()),
            (None, Some(i)) => Err(format!("Device \"{i}\" does not exist.")),
            (None, None) => Ok(String::new()),
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.dirs
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }
}

pub(super) fn run_with(sys: &Fake, args: &[&str]) -> Result<Parsed, ConfigError> {
    let argv = std::iter::once("psp-gateway").chain(args.iter().copied()).map(OsString::from);
    Config::from_args_with(argv, sys)
}

pub(super) fn cfg_with(sys: &Fake, args: &[&str]) -> Config {
    match run_with(sys, args) {
        Ok(Parsed::Run(c)) => c,
        other => panic!("{args:?}: {other:?}"),
    }
}

pub(super) fn cfg(args: &[&str]) -> Config {
    cfg_with(&Fake::default(), args)
}

/// The error text, checked to be one line.
pub(super) fn err_with(sys: &Fake, args: &[&str]) -> String {
    match run_with(sys, args) {
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n') && !s.is_empty(), "not one line: {s:?}");
            s
        }
        Ok(other) => panic!("{args:?}: expected an error, got {other:?}"),
    }
}

pub(super) fn err(args: &[&str]) -> String {
    err_with(&Fake::default(), args)
}

pub(super) const P: [&str; 4] = ["-p", "03:00.0", "-r", "vf0pf0"];

pub(super) fn with_p(extra: &[&'static str]) -> Vec<&'static str> {
    P.iter().chain(extra).copied().collect()
}

pub(super) fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub(super) fn ip4(s: &str) -> IpAddr {
    s.parse().unwrap()
}
