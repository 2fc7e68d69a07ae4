//! The PSP reference tool's test set (tests/reference/), both ways:
//! every encrypted capture decrypts to the reference cleartext byte for
//! byte (through psptool and through the engine's decap, the gateway's
//! receive path), and `psptool encrypt --cfg --compat reference` on the
//! reference cleartext writes each capture byte-identical.

use engine::pcap::{decode, Record};
use engine::psp::buf::{PacketBuf, VecBuf};
use engine::psp::cache::{CachedKeys, KeyCache};
use engine::psp::decap::{decap, DecapOptions};
use engine::psp::kdf::{MasterKey, MasterKeyPair};
mod common;

use common::{psptool, TempDir};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

struct Case {
    capture: String,
    cfg: String,
    cleartext: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("cases.txt")).expect("cases.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "cases.txt line {l:?}");
            Case { capture: f[0].into(), cfg: f[1].into(), cleartext: f[2].into() }
        })
        .collect()
}

fn path(sub: &str, name: &str, ext: &str) -> String {
    dir().join(sub).join(format!("{name}{ext}")).to_string_lossy().into_owned()
}

fn records(p: &str) -> Vec<Record> {
    decode(&std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("pcap")
}

/// The packet of a `tcpdump -qnts 0 -xx` text dump.
fn dump_bytes(p: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(p).expect("dump");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("\t0x")) {
        let (_, hexpart) = line.split_once(':').expect("offset");
        out.extend(hex::decode(hexpart.split_whitespace().collect::<String>()).expect("hex"));
    }
    out
}

/// The master keys of the reference's decrypt.cfg (the first 64 bytes).
fn masters() -> MasterKeyPair {
    let text = std::fs::read_to_string(path("cfg", "decrypt", ".cfg")).expect("decrypt.cfg");
    let bytes: Vec<u8> =
        text.split_whitespace().map(|t| u8::from_str_radix(t, 16).expect("hex")).collect();
    assert_eq!(bytes.len(), 64);
    MasterKeyPair::new(
        MasterKey::from_bytes(&bytes[..32]).unwrap(),
        MasterKey::from_bytes(&bytes[32..]).unwrap(),
    )
}

#[test]
fn the_test_set_is_22_captures_from_4_cleartexts_and_14_cfgs() {
    let cases = cases();
    assert_eq!(cases.len(), 22);
    let mut clears: Vec<&str> = cases.iter().map(|c| c.cleartext.as_str()).collect();
    clears.sort_unstable();
    clears.dedup();
    assert_eq!(
        clears,
        ["v4_cleartext", "v4_cleartext_empty", "v6_cleartext", "v6_cleartext_empty"]
    );
    let mut cfgs: Vec<&str> = cases.iter().map(|c| c.cfg.as_str()).collect();
    cfgs.sort_unstable();
    cfgs.dedup();
    assert_eq!(cfgs.len(), 14);
    // The cleartext captures hold exactly the packets of the reference's dumps.
    for c in clears {
        let recs = records(&path("pcap", c, ".pcap"));
        assert_eq!(recs.len(), 1, "{c}");
        assert_eq!(recs[0].data, dump_bytes(&path("pcap", c, "_pcap.txt")), "{c}");
    }
}

#[test]
fn every_reference_capture_decrypts_to_the_reference_cleartext() {
    let t = TempDir::new("decrypt");
    let masters = masters();
    let mut cache = KeyCache::new(16);
    let (mut cli_ok, mut engine_ok) = (0, 0);
    for c in cases() {
        let clear = records(&path("pcap", &c.cleartext, ".pcap"));
        let capture = path("pcap", &c.capture, ".pcap");
        // psptool, as the reference's psp_decrypt is run.
        let out = t.file(&format!("{}.pcap", c.capture));
        let o = psptool(&[
            "decrypt",
            "--cfg",
            &path("cfg", "decrypt", ".cfg"),
            "--in",
            &capture,
            "--out",
            &out,
        ]);
        assert!(o.status.success(), "{}: {}", c.capture, String::from_utf8_lossy(&o.stdout));
        let got = records(&out);
        assert_eq!(got.len(), 1, "{}", c.capture);
        assert_eq!(got[0].data, clear[0].data, "{}: psptool decrypt", c.capture);
        cli_ok += 1;
        // The engine's decap, which the gateway's receive path runs.
        let enc = records(&capture);
        let mut buf = VecBuf::new(&enc[0].data);
        let mut keys = CachedKeys { masters: &masters, cache: &mut cache };
        let info = decap(&mut buf, &mut keys, DecapOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", c.capture));
        assert_eq!(buf.data(), &clear[0].data[..], "{}: engine decap", c.capture);
        assert_eq!(info.iv, 1, "{}: the reference's IVs count from 1", c.capture);
        assert_eq!(info.vc.is_some(), c.capture.ends_with("_vc"), "{}", c.capture);
        engine_ok += 1;
    }
    println!("{cli_ok}/22 reference captures decrypt with psptool, {engine_ok}/22 with decap");
    assert_eq!((cli_ok, engine_ok), (22, 22));
}

#[test]
fn compat_reference_encrypt_is_byte_identical_to_every_capture() {
    let t = TempDir::new("encrypt");
    let mut identical = 0;
    for c in cases() {
        let out = t.file(&format!("{}.pcap", c.capture));
        let o = psptool(&[
            "encrypt",
            "--cfg",
            &path("cfg", &c.cfg, ".cfg"),
            "--compat",
            "reference",
            "--in",
            &path("pcap", &c.cleartext, ".pcap"),
            "--out",
            &out,
        ]);
        assert!(o.status.success(), "{}: {}", c.capture, String::from_utf8_lossy(&o.stderr));
        let want = std::fs::read(path("pcap", &c.capture, ".pcap")).unwrap();
        let got = std::fs::read(&out).unwrap();
        if let Some(at) = want.iter().zip(&got).position(|(a, b)| a != b) {
            panic!("{}: first difference at file byte {at}", c.capture);
        }
        assert_eq!(got.len(), want.len(), "{}", c.capture);
        identical += 1;
    }
    println!("{identical}/22 re-encrypt byte-identical");
    assert_eq!(identical, 22);
}

#[test]
fn the_captures_carry_what_their_cfg_says() {
    // Facts checked field by field against the cfg (not against constants):
    // HdrExtLen 2 and V with a cookie, the cfg's crypt offset for the mode
    // and IP version, SPI, version, IV 1, UDP ports.
    for c in cases() {
        let toks: Vec<String> = std::fs::read_to_string(path("cfg", &c.cfg, ".cfg"))
            .unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let (spi, mode, alg) = (&toks[64], &toks[65], &toks[66]);
        let offsets: Vec<u8> = toks[67..70].iter().map(|t| t.parse().unwrap()).collect();
        let vc = toks[70] == "vc";
        let clear = &records(&path("pcap", &c.cleartext, ".pcap"))[0].data;
        let enc = &records(&path("pcap", &c.capture, ".pcap"))[0].data;
        let v6 = c.capture.starts_with("v6");
        let ip_len = if v6 { 40 } else { 20 };
        let (udp_at, inner_l4) = (14 + ip_len, &clear[14 + ip_len..]);
        let psp = &enc[udp_at + 8..];
        let sport = u16::from_be_bytes([inner_l4[0], inner_l4[1]])
            ^ u16::from_be_bytes([inner_l4[2], inner_l4[3]]);
        assert_eq!(&enc[udp_at..udp_at + 4], &[&sport.to_be_bytes()[..], &[0x03, 0xe8]].concat());
        let offset = match (mode.as_str(), v6) {
            ("transport", _) => offsets[0],
            (_, false) => offsets[1],
            (_, true) => offsets[2],
        };
        let version = u8::from(alg == "aes-gcm-256");
        assert_eq!(psp[1], if vc { 2 } else { 1 }, "{}: HdrExtLen", c.capture);
        assert_eq!(psp[2], offset, "{}: crypt offset", c.capture);
        assert_eq!(psp[3], version << 2 | u8::from(vc) << 1 | 1, "{}", c.capture);
        assert_eq!(hex::encode_upper(&psp[4..8]), *spi, "{}: SPI", c.capture);
        assert_eq!(&psp[8..16], &1u64.to_be_bytes(), "{}: IV", c.capture);
        let next = match (mode.as_str(), v6) {
            ("transport", _) => 17,
            (_, false) => 4,
            (_, true) => 41,
        };
        assert_eq!(psp[0], next, "{}: next header", c.capture);
    }
}

#[test]
fn cfg_errors_name_the_file_and_line() {
    let t = TempDir::new("badcfg");
    let good =
        std::fs::read_to_string(path("cfg", "encrypt_tunnel_crypt_off_256_vc", ".cfg")).unwrap();
    let bad = t.file("bad.cfg");
    std::fs::write(&bad, good.replace("aes-gcm-256", "aes-gcm-512")).unwrap();
    let clear = path("pcap", "v4_cleartext", ".pcap");
    let o = psptool(&["encrypt", "--cfg", &bad, "--in", &clear, "--out", &t.file("o.pcap")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "psptool: {bad}:5: crypto algorithm \"aes-gcm-512\": expected aes-gcm-128 or \
             aes-gcm-256"
        )
    );
    std::fs::write(&bad, &good[..good.find('\n').unwrap() + 1]).unwrap();
    let o = psptool(&["decrypt", "--cfg", &bad, "--in", &clear, "--out", &t.file("o.pcap")]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        format!("psptool: {bad}:1: master key 1 (byte 1 of 32) is missing (the file ends)")
    );
    // A cfg and the flags it replaces do not mix.
    let o = psptool(&[
        "encrypt",
        "--cfg",
        &bad,
        "--spi",
        "1",
        "--in",
        &clear,
        "--out",
        &t.file("o.pcap"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--spi"));
}
