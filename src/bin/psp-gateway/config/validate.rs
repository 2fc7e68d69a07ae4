//! From the settings (command line over `-j` file) to a validated
//! [`Config`]: every value's parse and check, each error naming its flag.

use super::*;

pub(super) fn get_str<'a>(s: &'a Settings, key: &str) -> Option<(&'a Origin, &'a str)> {
    match s.get(key) {
        Some(Setting { origin, raw: Raw::Str(v) }) => Some((origin, v.as_str())),
        _ => None,
    }
}

pub(super) fn get_list<'a>(s: &'a Settings, key: &str) -> Option<(&'a Origin, &'a [String])> {
    match s.get(key) {
        Some(Setting { origin, raw: Raw::List(v) }) if !v.is_empty() => {
            Some((origin, v.as_slice()))
        }
        Some(Setting { origin, raw: Raw::Str(v) }) => Some((origin, std::slice::from_ref(v))),
        _ => None,
    }
}

pub(super) fn get_switch(s: &Settings, key: &str) -> bool {
    matches!(s.get(key), Some(Setting { raw: Raw::Switch(true), .. }))
}

pub(super) fn bad(origin: &Origin, value: &str, why: impl Into<String>) -> ConfigError {
    let value = if value.is_empty() { "\"\"".to_string() } else { value.to_string() };
    ConfigError::BadValue { at: origin.to_string(), value, why: why.into() }
}

/// The value of `key` through `parse`, if given.
pub(super) fn parse_opt<T>(
    s: &Settings,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match get_str(s, key) {
        Some((origin, v)) => parse(v).map(Some).map_err(|why| bad(origin, v, why)),
        None => Ok(None),
    }
}

pub(super) fn number(v: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let t = v.trim();
    let range = if hi == u64::MAX {
        format!("must be at least {lo}")
    } else {
        format!("must be {lo}..={hi}")
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a whole number ({range})"));
    }
    match t.parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(range),
    }
}

pub(super) fn mac(v: &str) -> Result<MacAddr, String> {
    v.trim().parse::<MacAddr>().map_err(|_| "not a MAC address (aa:bb:cc:dd:ee:ff)".to_string())
}

/// DOCA's numeric levels, or their names.
pub(super) fn parse_log_level(v: &str) -> Result<u8, String> {
    const NAMES: [(&str, u8); 8] = [
        ("disable", 10),
        ("critical", 20),
        ("error", 30),
        ("warning", 40),
        ("warn", 40),
        ("info", 50),
        ("debug", 60),
        ("trace", 70),
    ];
    let t = v.trim();
    if let Some((_, n)) = NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(t)) {
        return Ok(*n);
    }
    match t.parse::<u8>() {
        Ok(n) if n % 10 == 0 && (10..=70).contains(&n) => Ok(n),
        _ => Err("must be 10 (DISABLE), 20 (CRITICAL), 30 (ERROR), 40 (WARNING), 50 (INFO), \
                  60 (DEBUG) or 70 (TRACE)"
            .into()),
    }
}

pub(super) fn path(v: &str) -> Result<PathBuf, String> {
    if v.trim().is_empty() {
        return Err("empty path".into());
    }
    Ok(PathBuf::from(v))
}

/// DOCA 3.x's crypt offset when `-o/--crypt-offset` is not given, in
/// 4-byte words from the end of the IV (the cookie included, as ours): the
/// inner IP header stays in clear (authenticated, not encrypted), so IPv4
/// 5 (20 bytes), IPv6 10 (40 bytes), each 2 more with a virtualization
/// cookie (`-c/--cookie`, 8 bytes). NVIDIA's `DEFAULT_CRYPT_OFFSET_IPV4`
/// and friends (`psp_gw_config.h`). The same numbers in transport mode,
/// as NVIDIA's: there they count into the L4 header, so a packet whose L4
/// header and payload are shorter than the offset cannot be sent
/// (`egress_encap_fail`).
pub fn default_crypt_offset(inner_v6: bool, cookie: bool) -> u8 {
    let ip_words = if inner_v6 { 10 } else { 5 };
    ip_words + if cookie { 2 } else { 0 }
}

pub(super) fn build<S: System + ?Sized>(s: &Settings, sys: &S) -> Result<Config, ConfigError> {
    // DOCA 3.x's --device (-s DEVICE in 3.1+) is our -p/--pci-addr.
    let pci = match (get_str(s, "pci-addr"), get_str(s, "device")) {
        (Some((p, _)), Some((d, _))) => {
            return Err(ConfigError::Conflict(format!(
                "{d} cannot be used with {p} (DOCA 3.x's name of the same device)"
            )));
        }
        (p, d) => p.or(d),
    };
    let p_flag = if get_str(s, "device").is_some() { "--device" } else { "-p/--pci-addr" };
    let repr = get_list(s, "repr");
    let ((p_origin, pci_addr), (r_origin, reprs)) = match (pci, repr) {
        (Some(p), Some(r)) => (p, r),
        (None, None) => {
            return Err(ConfigError::Missing(vec!["-p/--pci-addr".into(), "-r/--repr".into()]));
        }
        (None, _) => return Err(ConfigError::Missing(vec!["-p/--pci-addr".into()])),
        (_, None) => return Err(ConfigError::Missing(vec!["-r/--repr".into()])),
    };
    let port = |origin: &Origin, flag, v| {
        PortSpec::parse(flag, v)
            .map_err(|err| ConfigError::Datapath { at: origin.file_prefix(), err })
    };
    let secure_port = port(p_origin, p_flag, pci_addr)?;
    let unsecured_ports = reprs
        .iter()
        .map(|r| port(r_origin, "-r/--repr", r))
        .collect::<Result<Vec<PortSpec>, ConfigError>>()?;
    // Each a device of its own, at most PSP_MAX_DEVICE_REPS.
    engine::config::PortsPlan::several(secure_port.clone(), unsecured_ports.clone())
        .map_err(|err| ConfigError::Datapath { at: r_origin.file_prefix(), err })?;
    let core_mask = match get_str(s, "core-mask") {
        Some((origin, v)) => v
            .parse::<CoreMask>()
            .map_err(|err| ConfigError::Datapath { at: origin.file_prefix(), err })?,
        None => "0x1".parse().expect("default core mask"),
    };

    let inner_ip_type =
        parse_opt(s, "inner-ip-type", |v| match v.trim().to_lowercase().as_str() {
            "ipv4" => Ok(InnerVersion::Ipv4),
            "ipv6" => Ok(InnerVersion::Ipv6),
            _ => Err("must be ipv4 or ipv6".into()),
        })?
        .unwrap_or_default();
    let inner_v6 = inner_ip_type == InnerVersion::Ipv6;
    let inner_name = match get_str(s, "inner-ip-type") {
        Some((o, v)) => format!("{o} {}", v.trim()),
        None => "--inner-ip-type (default ipv4)".to_string(),
    };
    // A virtual address of the inner version, or why not.
    let virt = |v: &str| -> Result<IpAddr, String> {
        let want = if inner_v6 { "not an IPv6 address" } else { "not an IPv4 address" };
        let ip = v.trim().parse::<IpAddr>().map_err(|_| want.to_string())?;
        match (ip.is_ipv6(), inner_v6) {
            (false, false) | (true, true) => Ok(ip),
            (true, false) => Err(format!("must be IPv4 to match {inner_name}")),
            (false, true) => Err(format!("must be IPv6 to match {inner_name}")),
        }
    };
    let vfs_given = PortFlags::of(s, unsecured_ports.len())?;
    let mut vfs = Vec::with_capacity(unsecured_ports.len());
    for (i, (repr, spec)) in reprs.iter().zip(&unsecured_ports).enumerate() {
        let (virt_ips, decap_dmac, vf_name) = match vfs_given.vf_name(i) {
            Some((origin, name)) => {
                let (mac, ip) = detect_vf(sys, origin, name, inner_v6)?;
                (vec![ip], Some(mac), Some(name.trim().to_string()))
            }
            None => {
                let ips = match vfs_given.local_virt_ip(i) {
                    Some((origin, list)) => list
                        .split(',')
                        .map(|v| virt(v).map_err(|why| bad(origin, list, why)))
                        .collect::<Result<Vec<IpAddr>, ConfigError>>()?,
                    None => Vec::new(),
                };
                let dmac = match vfs_given.decap_dmac(i) {
                    Some((origin, v)) => Some(mac(v).map_err(|why| bad(origin, v, why))?),
                    None => None,
                };
                (ips, dmac, None)
            }
        };
        vfs.push(VfConfig {
            repr: repr.clone(),
            port: spec.clone(),
            virt_ips,
            decap_dmac,
            vf_name,
        });
    }
    let nexthop_dmac = parse_opt(s, "nexthop-dmac", mac)?;
    let peers_file = match get_str(s, "config") {
        None => None,
        Some((origin, file)) => {
            let f = read_peers_file(s, sys, origin, file, inner_v6)?;
            // Sessions' "local-vip": ours. Given by flags, each must be one
            // of the ports' VMs; otherwise they are the one port's VMs.
            let from = ["local-virt-ip", "vf-name"]
                .iter()
                .find_map(|k| s.get(k).map(|o| o.origin.to_string()));
            for &(line, ip) in &f.local_vips {
                let ours = vfs.iter().any(|v| v.virt_ips.contains(&ip));
                match &from {
                    Some(from) if !ours => {
                        let all: Vec<String> = vfs
                            .iter()
                            .flat_map(|v| v.virt_ips.iter().map(|ip| ip.to_string()))
                            .collect();
                        return Err(ConfigError::PeersFile {
                            at: format!("{file}:{line}"),
                            msg: format!(
                                "\"local-vip\" {ip} is not a virtual IP of this gateway's \
                                 unsecured ports ({} from {from})",
                                all.join(", ")
                            ),
                        });
                    }
                    Some(_) => {}
                    None if vfs.len() > 1 => {
                        return Err(ConfigError::PeersFile {
                            at: format!("{file}:{line}"),
                            msg: "with several -r/--repr, give each port's virtual IPs \
                                  (--local-virt-ip or -d/--vf-name once per -r)"
                                .into(),
                        });
                    }
                    None if !ours => vfs[0].virt_ips.push(ip),
                    None => {}
                }
            }
            Some((file, f))
        }
    };
    // Every port's VMs, checked as the cores will use them.
    let per_port: Vec<Vec<IpAddr>> = vfs.iter().map(|v| v.virt_ips.clone()).collect();
    if let Err(e) = engine::pipeline::VfPorts::new(&per_port) {
        return Err(ConfigError::Conflict(format!(
            "-r/--repr and --local-virt-ip (or -d/--vf-name): {e}"
        )));
    }
    let local_virt_ip = vfs[0].virt_ips.first().copied();
    let decap_dmac = vfs[0].decap_dmac;
    let vf_name = vfs[0].vf_name.clone();
    let svc_addr = match parse_opt(s, "svc-addr", |v| parse_svc_addr(v, true))? {
        Some(a) => a,
        None => match peers_file.as_ref().and_then(|(_, f)| f.local_grpc_address) {
            Some((_, a)) => a,
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
        },
    };

    let mut peers = tunnels::PeerSet::default();
    if let Some(Setting { origin, raw: Raw::List(list) }) = s.get("tunnel") {
        for t in list {
            let (svc, ips) = parse_tunnel(t).map_err(|why| bad(origin, t, why))?;
            if let Some(ip) = ips.iter().find(|ip| ip.is_ipv6() != inner_v6) {
                return Err(bad(origin, t, virt(&ip.to_string()).unwrap_err()));
            }
            peers.add(&format!("{origin} {t}"), svc, &ips)?;
        }
    }
    if let Some((origin, file)) = get_str(s, "tunnels-file") {
        let text = read_flag_file(sys, origin, file)?;
        for (line, svc, ips) in parse_tunnels_file(file, &text)? {
            if let Some(ip) = ips.iter().find(|ip| ip.is_ipv6() != inner_v6) {
                return Err(ConfigError::TunnelsFile {
                    file: file.to_string(),
                    line,
                    msg: format!("virtual IP {ip}: {}", virt(&ip.to_string()).unwrap_err()),
                });
            }
            peers.add(&format!("{file}:{line}"), svc, &ips)?;
        }
    }

    if let Some((file, f)) = &peers_file {
        for p in &f.peers {
            peers.add(&format!("{file}:{}", p.line), p.svc_addr, &p.virt_ips)?;
        }
    }

    let sample_rate = parse_opt(s, "sample-rate", |v| number(v, 0, 16))?.unwrap_or(0) as u8;
    let max_tunnels = parse_opt(s, "max-tunnels", |v| {
        number(v, 1, u64::MAX).and_then(|n| usize::try_from(n).map_err(|_| "too large".into()))
    })?
    .unwrap_or(4096);
    let crypt_offset = match parse_opt(s, "crypt-offset", |v| number(v, 0, 63))? {
        Some(n) => n as u8,
        None => default_crypt_offset(inner_v6, get_switch(s, "cookie")),
    };
    let psp_version = parse_opt(s, "psp-version", |v| {
        number(v, 0, 3)
            .ok()
            .and_then(|n| Version::from_wire(n as u8))
            .ok_or_else(|| "must be 0 or 1 (or 2, 3: AES-GMAC)".to_string())
    })?
    .unwrap_or(Version::AesGcm256);
    let perf_print = parse_opt(s, "perf-print", |v| match v.trim() {
        "key-gen" => Ok(PerfPrint::KeyGen),
        "insertion" => Ok(PerfPrint::Insertion),
        "all" => Ok(PerfPrint::All),
        _ => Err("must be key-gen, insertion or all".into()),
    })?;
    let outer_ip_type =
        parse_opt(s, "outer-ip-type", |v| match v.trim().to_lowercase().as_str() {
            "ipv4" => Ok(OuterVersion::Ipv4),
            "ipv6" => Ok(OuterVersion::Ipv6),
            _ => Err("must be ipv4 or ipv6".into()),
        })?
        .unwrap_or(OuterVersion::Ipv6);
    let mode = parse_opt(s, "mode", |v| match v.trim().to_lowercase().as_str() {
        "tunnel" => Ok(Mode::Tunnel),
        "transport" => Ok(Mode::Transport),
        _ => Err("must be tunnel or transport".into()),
    })?
    .unwrap_or(Mode::Tunnel);
    let log_level = parse_opt(s, "log-level", parse_log_level)?.unwrap_or(50);
    let sdk_log_level = parse_opt(s, "sdk-log-level", parse_log_level)?.unwrap_or(40);

    let uplink_ip = parse_opt(s, "uplink-ip", |v| {
        let ip = v.trim().parse::<IpAddr>().map_err(|_| "not an IP address".to_string())?;
        let outer = match get_str(s, "outer-ip-type") {
            Some((o, v)) => format!("{o} {}", v.trim()),
            None => "--outer-ip-type (default ipv6)".to_string(),
        };
        match (ip, outer_ip_type) {
            (IpAddr::V4(_), OuterVersion::Ipv4) | (IpAddr::V6(_), OuterVersion::Ipv6) => Ok(ip),
            (IpAddr::V4(_), OuterVersion::Ipv6) => Err(format!("must be IPv6 to match {outer}")),
            (IpAddr::V6(_), OuterVersion::Ipv4) => Err(format!("must be IPv4 to match {outer}")),
        }
    })?;
    let (uplink_ip, uplink_ip_note) = match uplink_ip {
        Some(ip) => (Some(ip), "--uplink-ip".to_string()),
        None => match uplink::derive(&secure_port, svc_addr, outer_ip_type, sys) {
            Ok((ip, note)) => (Some(ip), note),
            Err(why) => (None, why),
        },
    };

    let backend = parse_opt(s, "backend", |v| {
        v.trim().parse::<BackendFlag>().map_err(|_| "must be auto, software or doca".into())
    })?
    .unwrap_or_default();
    let key_rotation_interval =
        parse_opt(s, "key-rotation-interval", |v| match number(v, 0, 366 * 24 * 3600)? {
            0 => Ok(None),
            1 => Err("must be 0 (never) or at least 2 seconds: peers need time to re-key".into()),
            n => Ok(Some(std::time::Duration::from_secs(n))),
        })?
        .flatten();
    let peer_rate_limit = parse_opt(s, "peer-rate-limit", |v| {
        number(v, 0, u64::from(u32::MAX)).map(|n| (n > 0).then_some(n as u32))
    })?
    .unwrap_or(Some(DEFAULT_PEER_RATE_LIMIT));

    let grpc_cert = parse_opt(s, "grpc-cert", path)?;
    let grpc_key = parse_opt(s, "grpc-key", path)?;
    let grpc_ca = parse_opt(s, "grpc-ca", path)?;
    let tls = [("grpc-cert", &grpc_cert), ("grpc-key", &grpc_key), ("grpc-ca", &grpc_ca)];
    let given: Vec<String> =
        tls.iter().filter_map(|(k, v)| v.as_ref().map(|_| s[k].origin.to_string())).collect();
    if !given.is_empty() && given.len() < 3 {
        let missing: Vec<String> =
            tls.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| format!("--{k}")).collect();
        return Err(ConfigError::Conflict(format!(
            "{} given without {} (--grpc-cert, --grpc-key and --grpc-ca: all three or none)",
            given.join(" and "),
            missing.join(" and ")
        )));
    }

    Ok(Config {
        pci_addr: pci_addr.to_string(),
        repr: reprs[0].clone(),
        secure_port,
        unsecured_port: unsecured_ports[0].clone(),
        vfs,
        core_mask,
        decap_dmac,
        local_virt_ip,
        vf_name,
        nexthop_dmac,
        svc_addr,
        peers: peers.into_peers(),
        session_src: peers_file
            .as_ref()
            .map(|(_, f)| f.session_src.iter().copied().collect())
            .unwrap_or_default(),
        cookie: get_switch(s, "cookie"),
        disable_ingress_acl: get_switch(s, "disable-ingress-acl"),
        sample_rate,
        maintain_order: get_switch(s, "maintain-order"),
        max_tunnels,
        crypt_offset,
        psp_version,
        static_tunnels: get_switch(s, "static-tunnels"),
        debug_keys: get_switch(s, "debug-keys"),
        stat_print: get_switch(s, "stat-print"),
        perf_print,
        stats_json: parse_opt(s, "stats-json", path)?,
        show_rss_rx_packets: get_switch(s, "show-rss-rx-packets"),
        outer_ip_type,
        mode,
        inner_ip_type,
        log_level,
        sdk_log_level,
        uplink_ip,
        uplink_ip_note,
        grpc_cert,
        grpc_key,
        grpc_ca,
        idle_backoff: get_switch(s, "idle-backoff"),
        backend,
        key_rotation_interval,
        peer_rate_limit,
        fleet: fleet::parse(s)?,
    })
}

/// `-c/--config FILE`: refused beside `-t`/`-f`, read and parsed.
fn read_peers_file<S: System + ?Sized>(
    s: &Settings,
    sys: &S,
    origin: &Origin,
    file: &str,
    inner_v6: bool,
) -> Result<peers_file::PeersFile, ConfigError> {
    for other in ["tunnel", "tunnels-file"] {
        if let Some(o) = s.get(other) {
            return Err(ConfigError::Conflict(format!(
                "{origin} {file} cannot be used with {} (DOCA 3.x's peers file replaces -t and -f)",
                o.origin
            )));
        }
    }
    let text = read_flag_file(sys, origin, file)?;
    peers_file::parse(file, &text, inner_v6, peers_file::Limits::DOCA)
}

/// The text of the file a flag (`-f`, `--config`) names, or the error
/// naming the flag and the file.
fn read_flag_file<S: System + ?Sized>(
    sys: &S,
    origin: &Origin,
    file: &str,
) -> Result<String, ConfigError> {
    if file.trim().is_empty() {
        return Err(bad(origin, file, "empty path"));
    }
    sys.read_file(Path::new(file)).map_err(|e| ConfigError::Read {
        at: origin.to_string(),
        path: file.to_string(),
        err: e.to_string(),
    })
}

/// The per-port flags (`--local-virt-ip`, `--decap-dmac`, `-d/--vf-name`),
/// each given once per `-r/--repr` in the same order (`--decap-dmac` may
/// also be given once for every port).
struct PortFlags<'a> {
    local_virt_ip: Option<(&'a Origin, &'a [String])>,
    decap_dmac: Option<(&'a Origin, &'a [String])>,
    vf_name: Option<(&'a Origin, &'a [String])>,
}

impl<'a> PortFlags<'a> {
    fn of(s: &'a Settings, ports: usize) -> Result<PortFlags<'a>, ConfigError> {
        let f = PortFlags {
            local_virt_ip: get_list(s, "local-virt-ip"),
            decap_dmac: get_list(s, "decap-dmac"),
            vf_name: get_list(s, "vf-name"),
        };
        if let Some((origin, _)) = f.vf_name {
            for other in ["decap-dmac", "local-virt-ip"] {
                if let Some(o) = s.get(other) {
                    return Err(ConfigError::Conflict(format!(
                        "{origin} cannot be used with {} (it detects the MAC and virtual IP itself)",
                        o.origin
                    )));
                }
            }
        }
        for (list, one_for_all) in
            [(f.local_virt_ip, false), (f.decap_dmac, true), (f.vf_name, false)]
        {
            let Some((origin, values)) = list else { continue };
            let n = values.len();
            if n != ports && !(one_for_all && n == 1) {
                let each =
                    if one_for_all { "once for all ports or once per -r" } else { "once per -r" };
                return Err(ConfigError::Conflict(format!(
                    "{origin} given {n} times for {ports} unsecured port(s) (-r/--repr): give it \
                     {each}, in the same order"
                )));
            }
        }
        Ok(f)
    }

    /// Port `i`'s value: the `i`-th, or the one given for all (the counts
    /// are checked in [`of`](Self::of)).
    fn pick(list: Option<(&'a Origin, &'a [String])>, i: usize) -> Option<(&'a Origin, &'a str)> {
        let (origin, values) = list?;
        let v = if values.len() == 1 { values.first() } else { values.get(i) };
        v.map(|v| (origin, v.as_str()))
    }

    fn local_virt_ip(&self, i: usize) -> Option<(&'a Origin, &'a str)> {
        Self::pick(self.local_virt_ip, i)
    }

    fn decap_dmac(&self, i: usize) -> Option<(&'a Origin, &'a str)> {
        Self::pick(self.decap_dmac, i)
    }

    fn vf_name(&self, i: usize) -> Option<(&'a Origin, &'a str)> {
        Self::pick(self.vf_name, i)
    }
}

/// `-d/--vf-name NAME`: the interface's MAC and its IPv4 address (its
/// global IPv6 address with inner IPv6).
fn detect_vf<S: System + ?Sized>(
    sys: &S,
    origin: &Origin,
    name: &str,
    inner_v6: bool,
) -> Result<(MacAddr, IpAddr), ConfigError> {
    let name = name.trim();
    vf::check_name(name).map_err(|why| bad(origin, name, why))?;
    let fail =
        |why: String| ConfigError::VfDetect { at: origin.to_string(), name: name.to_string(), why };
    let sysfs = format!("/sys/class/net/{name}/address");
    let addr_text = sys
        .read_file(Path::new(&sysfs))
        .map_err(|e| fail(format!("no such interface? cannot read {sysfs}: {e}")))?;
    let mac = vf::parse_sysfs_address(&addr_text).map_err(&fail)?;
    let ip = if inner_v6 {
        // The VF's global IPv6 address (DOCA 3.x's inner IPv6).
        let text = sys.ip_addrs(true, Some(name)).map_err(&fail)?;
        uplink::parse_ip_o(&text)
            .into_iter()
            .find(|a| a.scope == "global" && a.ip.is_ipv6())
            .map(|a| a.ip)
            .ok_or_else(|| fail("no global IPv6 address bound to the interface".into()))?
    } else {
        IpAddr::V4(
            vf::parse_ip_addr_output(&sys.ip_addr_show(name).map_err(&fail)?).map_err(&fail)?,
        )
    };
    Ok((mac, ip))
}
