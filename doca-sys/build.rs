//! Finds the DOCA SDK (`DOCA_DIR`, or pkg-config `doca-flow` and
//! `doca-common`) and runs bindgen over its headers; without the SDK, runs
//! bindgen over the project's own declaration file (`decl/doca_min.h`:
//! what the DOCA 3.3 headers declare for the symbols used) so that code
//! using the bindings still type-checks, and links nothing.
//!
//! Sets `cfg(doca_sdk)` on this crate only when the real SDK was found, and
//! passes the answer on as the `DOCA_SYS_BINDINGS` environment variable and
//! as `DEP_DOCA_SDK` (`1` or `0`) to crates that depend on this one.

use std::env;
use std::path::{Path, PathBuf};

/// Where the SDK was found.
struct Sdk {
    include: Vec<PathBuf>,
    /// How it was found, for the record.
    how: String,
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(doca_sdk)");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=decl/doca_min.h");
    println!("cargo:rerun-if-env-changed=DOCA_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let builder = bindgen::Builder::default()
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate_comments(false)
        .derive_default(true)
        .derive_debug(false)
        .wrap_unsafe_ops(true)
        .prepend_enum_name(false)
        .allowlist_function("doca_.*")
        .allowlist_type("doca_.*")
        .allowlist_var("DOCA_.*")
        .blocklist_type("max_align_t")
        // Experimental DOCA API is marked with an attribute unless this is set.
        .clang_arg("-DDOCA_ALLOW_EXPERIMENTAL_API");

    let (builder, source) = match find_sdk() {
        Some(sdk) => {
            println!("cargo:rustc-cfg=doca_sdk");
            println!("cargo:sdk=1");
            let args = sdk.include.iter().map(|p| format!("-I{}", p.display()));
            (builder.header("wrapper.h").clang_args(args).layout_tests(true), sdk.how)
        }
        None => {
            println!("cargo:sdk=0");
            // The declaration file's layouts are not the SDK's, so layout
            // tests would only test the file against itself.
            let b = builder.header("decl/doca_min.h").layout_tests(false);
            (b, "decl/doca_min.h (no DOCA SDK; type-checking only)".to_owned())
        }
    };
    println!("cargo:rustc-env=DOCA_SYS_BINDINGS={source}");
    builder
        .generate()
        .unwrap_or_else(|e| panic!("doca-sys: bindgen failed ({source}): {e}"))
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| panic!("doca-sys: cannot write bindings.rs: {e}"));
}

/// `DOCA_DIR` first (its `include/` and one of its library directories),
/// then pkg-config. Emits the link lines when found.
fn find_sdk() -> Option<Sdk> {
    if let Some(dir) = env::var_os("DOCA_DIR").map(PathBuf::from) {
        let include = dir.join("include");
        if !include.join("doca_flow.h").is_file() {
            eprintln!("doca-sys: DOCA_DIR={} has no include/doca_flow.h", dir.display());
            return None;
        }
        let libdirs = ["lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "lib64", "lib"];
        for l in libdirs.iter().map(|l| dir.join(l)).filter(|l| has_lib(l)) {
            println!("cargo:rustc-link-search=native={}", l.display());
        }
        println!("cargo:rustc-link-lib=doca_flow");
        println!("cargo:rustc-link-lib=doca_common");
        return Some(Sdk { include: vec![include], how: format!("DOCA_DIR={}", dir.display()) });
    }
    // Probe quietly first, so that a machine without DOCA gets no link lines.
    let quiet = |name: &str| pkg_config::Config::new().cargo_metadata(false).probe(name);
    match (quiet("doca-flow"), quiet("doca-common")) {
        (Ok(_), Ok(_)) => {
            let flow = pkg_config::Config::new().probe("doca-flow").ok()?;
            let common = pkg_config::Config::new().probe("doca-common").ok()?;
            let mut include = flow.include_paths;
            include.extend(common.include_paths);
            Some(Sdk { include, how: format!("pkg-config doca-flow {}", flow.version) })
        }
        (flow, common) => {
            let why = flow.err().or(common.err()).map(|e| e.to_string()).unwrap_or_default();
            let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("not found");
            eprintln!("doca-sys: no DOCA SDK ({why}); binding decl/doca_min.h for type-checking");
            None
        }
    }
}

fn has_lib(dir: &Path) -> bool {
    dir.join("libdoca_flow.so").exists() || dir.join("libdoca_flow.a").exists()
}
