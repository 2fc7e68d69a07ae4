//! Feature `ipsec-mb`: the bindings of intel-ipsec-mb (Debian
//! `libipsec-mb-dev`, 1.3: `/usr/include/intel-ipsec-mb.h`,
//! `libIPSec_MB.so`), the library DPDK's own AES-GCM crypto PMDs
//! (`crypto_aesni_gcm`, `crypto_aesni_mb`) are built on, generated with
//! bindgen and limited to what `engine::dpdk::ipsec_mb` uses; links the
//! library. The header has no pkg-config file; `IPSEC_MB_INCLUDE` and
//! `IPSEC_MB_LIB` point elsewhere if it is not in the system paths.

use std::env;
use std::path::Path;

const HEADER: &str = "intel-ipsec-mb.h";

/// Writes `$OUT_DIR/ipsec_mb_bindings.rs` and links `IPSec_MB`.
pub fn generate() {
    println!("cargo:rerun-if-env-changed=IPSEC_MB_INCLUDE");
    println!("cargo:rerun-if-env-changed=IPSEC_MB_LIB");
    let include = env::var("IPSEC_MB_INCLUDE").unwrap_or_else(|_| "/usr/include".to_owned());
    let header = Path::new(&include).join(HEADER);
    if !header.exists() {
        eprintln!(
            "dpdk-sys (ipsec-mb): {} not found: install libipsec-mb-dev (Debian: apt-get install libipsec-mb-dev) or set IPSEC_MB_INCLUDE",
            header.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed={}", header.display());
    if let Ok(dir) = env::var("IPSEC_MB_LIB") {
        println!("cargo:rustc-link-search=native={dir}");
    }
    println!("cargo:rustc-link-lib=IPSec_MB");

    let bindings = super::builder(&header.to_string_lossy())
        .clang_arg("-DLINUX")
        .allowlist_function("alloc_mb_mgr|free_mb_mgr|init_mb_mgr_auto")
        .allowlist_function("imb_get_version_str|imb_get_errno|imb_get_strerror")
        .allowlist_type("IMB_MGR|IMB_ARCH|gcm_key_data|gcm_context_data")
        .allowlist_var("IMB_VERSION_STR");
    super::write(bindings, HEADER, "ipsec_mb_bindings.rs");
}
