//! The secure uplink (`-p/--pci-addr`) and the unsecured port (`-r/--repr`)
//! in either form: the DOCA application's (a PCI address and a representor
//! list) or a DPDK device string (`net_af_packet0,iface=veth0`,
//! `net_tap0,iface=tap0`, `net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap`,
//! `net_ring0`, `net_null0`), so the gateway runs on any DPDK port.

use super::Error;

/// One port as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// A PCI device, `BB:DD.F` or `DDDD:BB:DD.F`; stored with its domain.
    Pci(String),
    /// Representors of the `-p` device, DOCA's `vf[x-y]pf[x-y]` form;
    /// stored in DPDK's devargs order (`pf..vf..`).
    Representor(String),
    /// A DPDK virtual device: its name and its arguments (may be empty).
    Vdev {
        /// Device name, e.g. `net_af_packet0`: also its ethdev name.
        name: String,
        /// The `key=value,...` arguments after the first comma.
        args: String,
    },
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// `N`, `[N-M]` or `[N,M,...]` with decimal numbers.
fn is_id_list(s: &str) -> bool {
    let num = |t: &str| !t.is_empty() && t.len() <= 5 && t.chars().all(|c| c.is_ascii_digit());
    match s.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => inner.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => num(a) && num(b),
            None => num(part),
        }),
        None => num(s),
    }
}

impl PortSpec {
    /// Parses the value of `flag` (used in the error message).
    pub fn parse(flag: &'static str, s: &str) -> Result<PortSpec, Error> {
        let bad = |why| Error::Port { flag, value: s.to_string(), why };
        let s = s.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.starts_with("net_") {
            let (name, args) = s.split_once(',').unwrap_or((s, ""));
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad("a DPDK device name has only letters, digits and '_'"));
            }
            if !args.is_empty() && args.split(',').any(|kv| !kv.contains('=')) {
                return Err(bad("device arguments must be key=value pairs"));
            }
            return Ok(PortSpec::Vdev { name: name.to_string(), args: args.to_string() });
        }
        if let Some(rest) = s.strip_prefix("vf") {
            let (vfs, pfs) = rest.split_once("pf").ok_or_else(|| bad("expected vf[x-y]pf[x-y]"))?;
            if !is_id_list(vfs) || !is_id_list(pfs) {
                return Err(bad("expected vf[x-y]pf[x-y] with decimal ids"));
            }
            return Ok(PortSpec::Representor(format!("pf{pfs}vf{vfs}")));
        }
        let parts: Vec<&str> = s.split(':').collect();
        let (domain, bus, devfn) = match parts.as_slice() {
            [bus, devfn] => ("0000", *bus, *devfn),
            [domain, bus, devfn] => (*domain, *bus, *devfn),
            _ => {
                return Err(bad("expected a PCI address (BB:DD.F), a representor list (vf0pf0) \
                     or a DPDK device (net_...)"))
            }
        };
        let (dev, func) = devfn.split_once('.').ok_or_else(|| bad("PCI address lacks .F"))?;
        let func_ok = func.len() == 1 && matches!(func.as_bytes()[0], b'0'..=b'7');
        if !is_hex(domain, 4) || !is_hex(bus, 2) || !is_hex(dev, 2) || !func_ok {
            return Err(bad("malformed PCI address (BB:DD.F)"));
        }
        Ok(PortSpec::Pci(format!("{domain}:{bus}:{dev}.{func}").to_lowercase()))
    }

    /// The ethdev name DPDK gives the port, when it follows from the spec
    /// (representor names are PMD-specific and found at run time).
    pub fn ethdev_name(&self) -> Option<&str> {
        match self {
            PortSpec::Pci(addr) => Some(addr),
            PortSpec::Vdev { name, .. } => Some(name),
            PortSpec::Representor(_) => None,
        }
    }

    /// The kernel interface of an af_packet virtual device
    /// (`net_af_packetN,iface=X`), whose fanout group must be checked
    /// before the EAL probes it.
    pub fn af_packet_iface(&self) -> Option<&str> {
        match self {
            PortSpec::Vdev { name, args } if name.starts_with("net_af_packet") => {
                args.split(',').find_map(|kv| kv.strip_prefix("iface="))
            }
            _ => None,
        }
    }
}

/// How the EAL must be told about the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsPlan {
    /// The secure uplink.
    pub secure: PortSpec,
    /// The (first) unsecured port.
    pub unsecured: PortSpec,
    /// The unsecured ports after the first (several `-r`, DOCA 3.x's
    /// device reps): port `i + 1` of [`crate::pipeline::VfPorts`].
    pub more_unsecured: Vec<PortSpec>,
}

impl PortsPlan {
    /// Checks that the pair makes sense: representors need a PCI uplink,
    /// and the two ports must differ.
    pub fn new(secure: PortSpec, unsecured: PortSpec) -> Result<PortsPlan, Error> {
        if let PortSpec::Representor(_) = secure {
            return Err(Error::Port {
                flag: "-p/--pci-addr",
                value: format!("{secure:?}"),
                why: "the secure port cannot be a representor",
            });
        }
        if matches!(unsecured, PortSpec::Representor(_)) && !matches!(secure, PortSpec::Pci(_)) {
            return Err(Error::Port {
                flag: "-r/--repr",
                value: format!("{unsecured:?}"),
                why: "a representor list needs a PCI device in -p",
            });
        }
        if secure.ethdev_name().is_some() && secure.ethdev_name() == unsecured.ethdev_name() {
            return Err(Error::Port {
                flag: "-r/--repr",
                value: format!("{unsecured:?}"),
                why: "the unsecured port must differ from the secure port",
            });
        }
        Ok(PortsPlan { secure, unsecured, more_unsecured: Vec::new() })
    }

    /// The secure port and several unsecured ports (at most
    /// [`MAX_DEVICE_REPS`](crate::pipeline::MAX_DEVICE_REPS), each a DPDK
    /// device or PCI address of its own: a representor list stays one
    /// `-r`, as the DOCA application's).
    pub fn several(secure: PortSpec, unsecured: Vec<PortSpec>) -> Result<PortsPlan, Error> {
        let mut it = unsecured.into_iter();
        let Some(first) = it.next() else {
            return Err(Error::Port {
                flag: "-r/--repr",
                value: String::new(),
                why: "an unsecured port is required",
            });
        };
        let mut plan = PortsPlan::new(secure, first)?;
        for spec in it {
            let seen = std::iter::once(&plan.unsecured).chain(&plan.more_unsecured);
            let value = format!("{spec:?}");
            if plan.more_unsecured.len() + 1 >= crate::pipeline::MAX_DEVICE_REPS {
                return Err(Error::Port {
                    flag: "-r/--repr",
                    value,
                    why: "at most 8 unsecured ports (PSP_MAX_DEVICE_REPS)",
                });
            }
            if matches!(spec, PortSpec::Representor(_))
                || matches!(plan.unsecured, PortSpec::Representor(_))
            {
                return Err(Error::Port {
                    flag: "-r/--repr",
                    value,
                    why: "a representor list is one -r; several -r take DPDK devices",
                });
            }
            let name = spec.ethdev_name();
            if name == plan.secure.ethdev_name()
                || seen.into_iter().any(|s| s.ethdev_name() == name)
            {
                return Err(Error::Port {
                    flag: "-r/--repr",
                    value,
                    why: "each port must be a device of its own (another name)",
                });
            }
            plan.more_unsecured.push(spec);
        }
        Ok(plan)
    }

    /// Every unsecured port, the first first.
    pub fn unsecured_ports(&self) -> impl Iterator<Item = &PortSpec> {
        std::iter::once(&self.unsecured).chain(&self.more_unsecured)
    }

    /// EAL arguments that make both ports exist: `-a` for PCI devices (with
    /// representor devargs), `--vdev` for virtual ones, and `--no-pci` when
    /// no PCI device is used, so nothing else on the host is probed.
    pub fn eal_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut pci = false;
        for spec in std::iter::once(&self.secure).chain(self.unsecured_ports()) {
            match spec {
                PortSpec::Pci(addr) => {
                    pci = true;
                    let repr = match &self.unsecured {
                        PortSpec::Representor(r) if std::ptr::eq(spec, &self.secure) => {
                            format!(",representor={r}")
                        }
                        _ => String::new(),
                    };
                    args.extend(["-a".to_string(), format!("{addr}{repr}")]);
                }
                PortSpec::Vdev { name, args: a } => {
                    let dev = if a.is_empty() { name.clone() } else { format!("{name},{a}") };
                    args.extend(["--vdev".to_string(), dev]);
                }
                PortSpec::Representor(_) => {}
            }
        }
        if !pci {
            args.push("--no-pci".to_string());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<PortSpec, Error> {
        PortSpec::parse("-p/--pci-addr", s)
    }

    #[test]
    fn doca_forms() {
        assert_eq!(p("03:00.0").unwrap(), PortSpec::Pci("0000:03:00.0".into()));
        assert_eq!(p("0001:AF:1f.7").unwrap(), PortSpec::Pci("0001:af:1f.7".into()));
        assert_eq!(p("vf0pf0").unwrap(), PortSpec::Representor("pf0vf0".into()));
        assert_eq!(p("vf[0-3]pf[0,1]").unwrap(), PortSpec::Representor("pf[0,1]vf[0-3]".into()));
    }

    #[test]
    fn dpdk_device_strings() {
        assert_eq!(
            p("net_af_packet0,iface=veth0").unwrap(),
            PortSpec::Vdev { name: "net_af_packet0".into(), args: "iface=veth0".into() }
        );
        let pcap = p("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap").unwrap();
        assert_eq!(pcap.ethdev_name(), Some("net_pcap0"));
        assert_eq!(
            p("net_ring0").unwrap(),
            PortSpec::Vdev { name: "net_ring0".into(), args: "".into() }
        );
    }

    #[test]
    fn af_packet_interfaces() {
        assert_eq!(p("net_af_packet0,iface=up0").unwrap().af_packet_iface(), Some("up0"));
        assert_eq!(
            p("net_af_packet3,qpairs=2,iface=vm0,qdisc_bypass=0").unwrap().af_packet_iface(),
            Some("vm0")
        );
        assert_eq!(p("net_af_packet0").unwrap().af_packet_iface(), None);
        assert_eq!(p("net_tap0,iface=tap0").unwrap().af_packet_iface(), None);
        assert_eq!(p("03:00.0").unwrap().af_packet_iface(), None);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for s in [
            "",
            "03:00",
            "3:00.0",
            "03:00.8",
            "zz:00.0",
            "vf0",
            "vfapf0",
            "net_x y",
            "net_tap0,iface",
            "eth0",
        ] {
            let e = p(s).unwrap_err().to_string();
            assert!(e.starts_with("-p/--pci-addr"), "{s}: {e}");
        }
    }

    #[test]
    fn eal_args_for_each_form() {
        let plan = PortsPlan::new(p("03:00.0").unwrap(), p("vf[0-1]pf0").unwrap()).unwrap();
        assert_eq!(plan.eal_args(), ["-a", "0000:03:00.0,representor=pf0vf[0-1]"]);
        let plan = PortsPlan::new(
            p("net_af_packet0,iface=veth0").unwrap(),
            p("net_tap0,iface=tap0").unwrap(),
        )
        .unwrap();
        assert_eq!(
            plan.eal_args(),
            ["--vdev", "net_af_packet0,iface=veth0", "--vdev", "net_tap0,iface=tap0", "--no-pci"]
        );
        assert!(PortsPlan::new(p("net_ring0").unwrap(), p("vf0pf0").unwrap()).is_err());
        assert!(PortsPlan::new(p("vf0pf0").unwrap(), p("net_ring0").unwrap()).is_err());
        assert!(PortsPlan::new(p("net_ring0").unwrap(), p("net_ring0").unwrap()).is_err());
    }

    #[test]
    fn several_unsecured_ports() {
        let up = || p("net_af_packet0,iface=u1").unwrap();
        let vf = |i: u8| p(&format!("net_af_packet{i},iface=h{i}")).unwrap();
        let plan = PortsPlan::several(up(), vec![vf(1), vf(2)]).unwrap();
        assert_eq!(plan.unsecured_ports().count(), 2);
        assert_eq!(
            plan.eal_args(),
            [
                "--vdev",
                "net_af_packet0,iface=u1",
                "--vdev",
                "net_af_packet1,iface=h1",
                "--vdev",
                "net_af_packet2,iface=h2",
                "--no-pci"
            ]
        );
        let e = PortsPlan::several(up(), vec![vf(1), vf(1)]).unwrap_err().to_string();
        assert!(e.starts_with("-r/--repr") && e.contains("of its own"), "{e}");
        let e = PortsPlan::several(up(), vec![vf(1), p("net_af_packet0").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("of its own"), "{e}");
        assert!(PortsPlan::several(up(), (1..=8).map(vf).collect()).is_ok());
        let e = PortsPlan::several(up(), (1..=9).map(vf).collect()).unwrap_err();
        assert!(e.to_string().contains("at most 8"), "{e}");
        let pci = || p("03:00.0").unwrap();
        let e = PortsPlan::several(pci(), vec![p("vf0pf0").unwrap(), p("vf1pf0").unwrap()]);
        assert!(e.unwrap_err().to_string().contains("representor list is one -r"));
        assert!(PortsPlan::several(up(), vec![]).is_err());
    }
}
