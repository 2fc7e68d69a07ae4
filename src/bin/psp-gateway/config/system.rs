//! [`System`]: what the configuration needs from the machine (files,
//! interface addresses, directories), and [`Host`], the real machine.

use std::path::Path;

/// What the configuration needs from the machine.
pub trait System {
    /// The content of a file.
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
    /// The output of `ip -4 -o addr show dev IFACE`, or one line saying why
    /// there is none.
    fn ip_addr_show(&self, iface: &str) -> Result<String, String>;
    /// The output of `ip -4|-6 -o addr show [dev IFACE]` (every
    /// interface's addresses when `iface` is `None`).
    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String>;
    /// The names in a directory.
    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>>;
}

/// The real machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Host;

impl System for Host {
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn ip_addr_show(&self, iface: &str) -> Result<String, String> {
        let out = std::process::Command::new("ip")
            .args(["-4", "-o", "addr", "show", "dev", iface])
            .output()
            .map_err(|e| format!("cannot run `ip -4 -o addr show dev {iface}`: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed");
            return Err(format!("`ip -4 -o addr show dev {iface}`: {}", line.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn ip_addrs(&self, v6: bool, iface: Option<&str>) -> Result<String, String> {
        let mut args = vec![if v6 { "-6" } else { "-4" }, "-o", "addr", "show"];
        if let Some(i) = iface {
            args.extend(["dev", i]);
        }
        let cmd = format!("ip {}", args.join(" "));
        let out = std::process::Command::new("ip")
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed");
            return Err(format!("`{cmd}`: {}", line.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(path)? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
}
