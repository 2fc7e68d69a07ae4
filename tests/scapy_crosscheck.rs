//! Independent cross-check of psptool against scapy's PSP layer.
//!
//! Runs `tests/scapy_crosscheck.py`, which re-derives PSP keys in Python
//! (AES-CMAC from `cryptography`) and uses `scapy.contrib.psp` for all
//! AES-GCM work: psptool-encrypted packets must decrypt in scapy, scapy-made
//! packets must decrypt in psptool, and tampered ones must fail with
//! icv_fail. Needs python3 with scapy >= 2.6 and cryptography; without them
//! this test fails (it never passes silently): `pip install scapy cryptography`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

const PIP_HINT: &str = "pip install scapy cryptography";

/// Exit status of the script when scapy or cryptography is missing.
const MISSING_DEPS_EXIT: i32 = 2;

fn python(args: &[&std::ffi::OsStr]) -> Output {
    match Command::new("python3").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "python3 is not installed or not on PATH; the scapy cross-check needs \
             Python 3 with scapy and cryptography: install Python 3, then run \
             `{PIP_HINT}`"
        ),
        Err(e) => panic!("could not run python3 ({e}); the scapy cross-check needs it"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh scratch directory under the system temp dir, unique per run.
fn work_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("psp-scapy-crosscheck-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create work dir {}: {e}", dir.display()));
    dir
}

#[test]
fn psptool_agrees_with_scapy_psp() {
    // Fail loudly, with the fix, when the Python side is missing.
    let probe = python(&[
        "-c".as_ref(),
        "import scapy, scapy.contrib.psp, cryptography.hazmat.primitives.cmac; \
         print(scapy.VERSION)"
            .as_ref(),
    ]);
    assert!(
        probe.status.success(),
        "python3 cannot import scapy.contrib.psp (scapy >= 2.6) and cryptography; \
         run `{PIP_HINT}`\n--- python3 stderr ---\n{}",
        text(&probe.stderr)
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scapy_crosscheck.py");
    let dir = work_dir();
    let out = python(&[
        script.as_os_str(),
        "--psptool".as_ref(),
        env!("CARGO_BIN_EXE_psptool").as_ref(),
        "--workdir".as_ref(),
        dir.as_os_str(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let report = format!(
        "scapy cross-check failed ({}); work dir kept at {}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status,
        dir.display()
    );
    assert!(
        out.status.code() != Some(MISSING_DEPS_EXIT),
        "scapy or cryptography is missing or too old: run `{PIP_HINT}`\n{report}"
    );
    assert!(out.status.success(), "{report}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let passed = last
        .strip_prefix("scapy cross-check: ")
        .and_then(|rest| rest.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        matches!(passed, Some(n) if n > 0),
        "unexpected last line {last:?}, wanted `scapy cross-check: N passed, 0 failed`\n{report}"
    );
    println!("{last}");
    // Only a passing run's scratch files are removed.
    let _ = std::fs::remove_dir_all(&dir);
}
