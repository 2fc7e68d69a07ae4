//! Stamps the binaries with the commit they were built from, for `--version`
//! output and bug reports. Builds outside a git checkout say "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let out = git(&["describe", "--always", "--dirty", "--abbrev=12"])
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PSPGW_BUILD_INFO=git {out}");
    // Where git keeps HEAD and the index: `.git/` in a clone, elsewhere in
    // a worktree (whose `.git` is a file). A path that does not exist would
    // make cargo run this script on every build.
    for file in ["HEAD", "index"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    if out == "unknown" {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
