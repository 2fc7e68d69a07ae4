//! The psptool commands.

use crate::cli::{Cli, Cmd, CompatArg, DecryptArgs, EncryptArgs, ModeArg, OuterArg};
use crate::pcap::{self, Record};
use crate::{cfg, compat};
use anyhow::{bail, Result};
use engine::pipeline::vf::inner_addrs;
use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{self, DecapOptions};
use engine::psp::encap::{EncapConfig, Encapsulator, EthAddrs, OuterIp};
use engine::psp::kdf::MasterKeyPair;
use engine::psp::{Mode, Spi, Version};
use engine::wire::{EtherType, EthernetFrame, MacAddr};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::process::ExitCode;

/// Per-packet problems printed before the summary; the rest are counted.
const MAX_REPORTED: usize = 10;

fn report(n: &mut usize, packet: usize, what: &dyn std::fmt::Display) {
    *n += 1;
    if *n <= MAX_REPORTED {
        eprintln!("packet {packet}: {what}");
    } else if *n == MAX_REPORTED + 1 {
        eprintln!("(further packet errors are only counted)");
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Derive(a) => {
            let pair = MasterKeyPair::new(a.masters.key0.0, a.masters.key1.0);
            println!("{}", hex::encode(pair.derive(a.key.spi, a.key.version).as_bytes()));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Encrypt(a) => encrypt(&a),
        Cmd::Decrypt(a) => decrypt(&a),
        Cmd::Gen(a) => {
            let recs = crate::gen::frames(a.count, a.seed);
            pcap::write_file(&a.output, &recs)?;
            println!("wrote {} frames to {}", recs.len(), a.output);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Outer addresses for one inner frame: the flags when given, else the
/// inner addresses (IPv4-mapped when IPv4 rides in outer IPv6).
fn outer_for(a: &EncryptArgs, frame: &[u8]) -> Result<OuterIp> {
    let inner = inner_addrs(frame);
    let pick =
        |flag: Option<IpAddr>, from_inner: Option<IpAddr>, name: &str| match flag.or(from_inner) {
            Some(ip) => Ok(ip),
            None => bail!("--outer-{name} is required: the frame has no inner IP to take it from"),
        };
    let src = pick(a.outer_src, inner.map(|i| i.0), "src")?;
    let dst = pick(a.outer_dst, inner.map(|i| i.1), "dst")?;
    match a.outer {
        OuterArg::Ipv4 => match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Ok(OuterIp::V4 { src, dst }),
            _ => {
                bail!("--outer ipv4 with IPv6 addresses: give --outer-src and --outer-dst as IPv4")
            }
        },
        OuterArg::Ipv6 => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            Ok(OuterIp::V6 { src: v6(src), dst: v6(dst) })
        }
    }
}

/// What an encryption run uses, from the flags or from a `--cfg` file.
struct Plan {
    masters: MasterKeyPair,
    spi: Spi,
    version: Version,
    mode: Mode,
    /// Crypt offsets for inner IPv4 and inner IPv6 (the reference's cfg has
    /// one per IP version in tunnel mode).
    offsets: [u8; 2],
    vc: Option<u64>,
}

impl Plan {
    fn new(a: &EncryptArgs) -> Result<Plan> {
        if let Some(path) = &a.cfg {
            let c = cfg::read_encrypt(path)?;
            return Ok(Plan {
                spi: c.spi,
                version: c.version,
                mode: c.mode,
                offsets: [c.crypt_offset(false), c.crypt_offset(true)],
                // The reference's cookie is zero.
                vc: c.vc.then_some(0),
                masters: MasterKeyPair::new(c.masters.0, c.masters.1),
            });
        }
        // clap requires these flags when there is no --cfg.
        let (Some(k0), Some(k1), Some(spi), Some(version)) = (&a.key0, &a.key1, a.spi, a.version)
        else {
            bail!("--master-key0, --master-key1, --spi and --version are required without --cfg");
        };
        Ok(Plan {
            masters: MasterKeyPair::new(k0.0.clone(), k1.0.clone()),
            spi,
            version,
            mode: if a.mode == ModeArg::Tunnel { Mode::Tunnel } else { Mode::Transport },
            offsets: [a.crypt_offset; 2],
            vc: a.vc,
        })
    }
}

fn inner_is_v6(frame: &[u8]) -> bool {
    EthernetFrame::new_checked(frame).is_ok_and(|e| e.ethertype() == EtherType::Ipv6)
}

/// The outer header of `--compat reference`: the inner version and addresses.
fn outer_like_inner(frame: &[u8]) -> Result<OuterIp> {
    match inner_addrs(frame) {
        Some((IpAddr::V4(src), IpAddr::V4(dst))) => Ok(OuterIp::V4 { src, dst }),
        Some((IpAddr::V6(src), IpAddr::V6(dst))) => Ok(OuterIp::V6 { src, dst }),
        _ => bail!("malformed inner IP header"),
    }
}

fn encrypt(a: &EncryptArgs) -> Result<ExitCode> {
    let reference = a.compat == CompatArg::Reference;
    if reference {
        let set: Vec<&str> = [
            ("--outer", a.outer != OuterArg::Ipv6),
            ("--outer-src", a.outer_src.is_some()),
            ("--outer-dst", a.outer_dst.is_some()),
            ("--src-mac", a.src_mac.is_some()),
            ("--dst-mac", a.dst_mac.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        if !set.is_empty() {
            bail!(
                "{}: --compat reference writes the outer headers as the reference tool does \
                 (copied from the inner packet)",
                set.join(", ")
            );
        }
    }
    for (flag, ip) in [("--outer-src", a.outer_src), ("--outer-dst", a.outer_dst)] {
        if let (OuterArg::Ipv4, Some(IpAddr::V6(_))) = (a.outer, ip) {
            bail!("{flag}: an IPv6 address does not fit --outer ipv4");
        }
    }
    let plan = Plan::new(a)?;
    let input = pcap::read_file(&a.input)?;
    let key = plan.masters.derive(plan.spi, plan.version);
    let mut encs = Vec::with_capacity(2);
    for offset in plan.offsets {
        let cfg = EncapConfig {
            mode: plan.mode,
            version: plan.version,
            spi: plan.spi,
            crypt_offset: offset,
            vc: plan.vc,
            eth: None,
            outer: OuterIp::V6 { src: Ipv6Addr::UNSPECIFIED, dst: Ipv6Addr::UNSPECIFIED },
            ttl: 64,
        };
        encs.push(Encapsulator::new(cfg, &key)?);
    }
    let mut out = Vec::with_capacity(input.len());
    let (mut skipped, mut failed) = (0usize, 0usize);
    let mut iv = Some(a.iv_start);
    let mut buf = VecBuf::new(&[]);
    for (i, rec) in input.iter().enumerate() {
        if !is_ip(&rec.data) || (reference && compat::skipped(&rec.data)) {
            skipped += 1;
            continue;
        }
        let enc = &mut encs[usize::from(inner_is_v6(&rec.data))];
        if plan.mode == Mode::Tunnel {
            let outer =
                if reference { outer_like_inner(&rec.data) } else { outer_for(a, &rec.data) };
            match outer {
                Ok(o) => enc.set_outer(o),
                Err(e) => {
                    report(&mut failed, i + 1, &e);
                    continue;
                }
            }
        }
        if a.src_mac.is_some() || a.dst_mac.is_some() {
            let (dst, src) = frame_macs(&rec.data);
            enc.set_eth(Some(EthAddrs {
                src: a.src_mac.unwrap_or(src),
                dst: a.dst_mac.unwrap_or(dst),
            }));
        }
        // An IV is never reused under one key: running out is an error.
        let Some(this_iv) = iv else {
            bail!(
                "packet {}: IV space exhausted (--iv-start {} is too close to 2^64)",
                i + 1,
                a.iv_start
            );
        };
        buf.reset(&rec.data, VecBuf::DEFAULT_HEADROOM, VecBuf::DEFAULT_TAILROOM);
        match enc.encap(&mut buf, this_iv, false) {
            Ok(_) => {
                iv = this_iv.checked_add(1);
                if reference
                    && compat::reference_outer(&rec.data, buf.data_mut(), plan.mode).is_none()
                {
                    report(&mut failed, i + 1, &"cannot rewrite the outer headers");
                    continue;
                }
                out.push(Record {
                    ts_sec: rec.ts_sec,
                    ts_usec: rec.ts_usec,
                    orig_len: 0,
                    data: buf.data().to_vec(),
                });
            }
            Err(e) => report(&mut failed, i + 1, &e),
        }
    }
    if reference {
        pcap::write_file_snaplen(&a.output, &out, REFERENCE_SNAPLEN)?;
    } else {
        pcap::write_file(&a.output, &out)?;
    }
    let offsets = if plan.mode == Mode::Tunnel && plan.offsets[0] != plan.offsets[1] {
        format!("{} (IPv4) / {} (IPv6)", plan.offsets[0], plan.offsets[1])
    } else {
        plan.offsets[0].to_string()
    };
    println!(
        "encrypted {} packets into {} ({:?} mode, version {}, SPI {}, crypt offset {}{}); \
         skipped {} non-IP{}; failed {}",
        out.len(),
        a.output,
        plan.mode,
        plan.version,
        plan.spi,
        offsets,
        plan.vc.map(|v| format!(", VC {v:#018x}")).unwrap_or_default(),
        skipped,
        if reference { " or IPv6 not TCP/UDP" } else { "" },
        failed
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The snaplen the reference tools write in their pcap headers.
const REFERENCE_SNAPLEN: u32 = 9014;

fn is_ip(frame: &[u8]) -> bool {
    EthernetFrame::new_checked(frame)
        .map(|e| matches!(e.ethertype(), EtherType::Ipv4 | EtherType::Ipv6))
        .unwrap_or(false)
}

fn frame_macs(frame: &[u8]) -> (MacAddr, MacAddr) {
    EthernetFrame::new_checked(frame)
        .map(|e| (e.dst(), e.src()))
        .unwrap_or((MacAddr::default(), MacAddr::default()))
}

fn decrypt(a: &DecryptArgs) -> Result<ExitCode> {
    let input = pcap::read_file(&a.input)?;
    let masters = match (&a.cfg, &a.key0, &a.key1) {
        (Some(path), _, _) => {
            let (k0, k1) = cfg::read_masters(path)?;
            MasterKeyPair::new(k0, k1)
        }
        (None, Some(k0), Some(k1)) => MasterKeyPair::new(k0.0.clone(), k1.0.clone()),
        _ => bail!("--master-key0 and --master-key1 are required without --cfg"),
    };
    let mut cache = KeyCache::new(1024);
    let opts = DecapOptions { dst_mac: a.decap_dmac };
    let mut out = Vec::with_capacity(input.len());
    let mut failures: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut not_psp, mut reported) = (0usize, 0usize);
    let mut buf = VecBuf::new(&[]);
    for (i, rec) in input.iter().enumerate() {
        buf.reset(&rec.data, 0, 0);
        let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
        match decap::decap(&mut buf, &mut keys, opts) {
            Ok(_) => out.push(Record {
                ts_sec: rec.ts_sec,
                ts_usec: rec.ts_usec,
                orig_len: 0,
                data: buf.data().to_vec(),
            }),
            Err(decap::Error::NotPsp(_)) => not_psp += 1,
            Err(decap::Error::Syndrome(s)) => {
                report(&mut reported, i + 1, &s);
                *failures.entry(s.name()).or_default() += 1;
            }
            Err(e @ decap::Error::Outer(_)) => {
                report(&mut reported, i + 1, &e);
                *failures.entry("malformed_outer").or_default() += 1;
            }
        }
    }
    pcap::write_file(&a.output, &out)?;
    let failed: usize = failures.values().sum();
    let detail: Vec<String> = failures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "decrypted {} packets into {}; failed {}{}; skipped {} non-PSP",
        out.len(),
        a.output,
        failed,
        if detail.is_empty() { String::new() } else { format!(" ({})", detail.join(", ")) },
        not_psp
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
