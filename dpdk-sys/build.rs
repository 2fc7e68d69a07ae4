//! Finds libdpdk with pkg-config, compiles the C shim over DPDK's static
//! inline functions and generates the bindings with bindgen; with feature
//! `ipsec-mb`, also intel-ipsec-mb's (`ipsec_mb_build.rs`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

mod ipsec_mb_build;

/// The DPDK release the bindings and the shim are written against.
const MIN_VERSION: &str = "22.11";

fn main() {
    if env::var_os("CARGO_FEATURE_IPSEC_MB").is_some() {
        ipsec_mb_build::generate();
    }
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-changed=src/shim.c");

    let lib = match pkg_config::Config::new().atleast_version(MIN_VERSION).probe("libdpdk") {
        Ok(lib) => lib,
        Err(e) => {
            let why = e.to_string();
            let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("not found");
            eprintln!(
                "dpdk-sys: pkg-config cannot find libdpdk >= {MIN_VERSION} ({why}): install libdpdk-dev (Debian: apt-get install libdpdk-dev pkg-config)"
            );
            std::process::exit(1);
        }
    };

    // Flags besides -I/-D that DPDK's headers need: `-include rte_config.h`
    // and the -march DPDK was built for. The pkg-config crate keeps only
    // include paths and defines, so ask pkg-config itself.
    let other = pkg_config_output(&["--cflags-only-other", "libdpdk"]);
    let other: Vec<String> = other.split_whitespace().map(str::to_owned).collect();

    let mut cc = cc::Build::new();
    cc.file("src/shim.c").includes(&lib.include_paths).warnings(true);
    // The metadata dynfield accessors are still marked experimental in 22.11.
    cc.define("ALLOW_EXPERIMENTAL_API", None);
    for (k, v) in &lib.defines {
        cc.define(k, v.as_deref());
    }
    for flag in &other {
        cc.flag(flag);
    }
    cc.compile("pspgw_dpdk_shim");

    let mut clang_args: Vec<String> =
        lib.include_paths.iter().map(|p| format!("-I{}", p.display())).collect();
    clang_args.extend(lib.defines.iter().map(|(k, v)| match v {
        Some(v) => format!("-D{k}={v}"),
        None => format!("-D{k}"),
    }));
    clang_args.extend(other);

    let bindings = builder("wrapper.h")
        .clang_args(&clang_args)
        // The shim.
        .allowlist_function("pspgw_.*")
        // EAL and lcores.
        .allowlist_function("rte_eal_.*")
        .allowlist_function("rte_lcore_.*")
        .allowlist_function("rte_get_main_lcore")
        .allowlist_function("rte_get_next_lcore")
        .allowlist_function("rte_thread_register|rte_thread_unregister")
        .allowlist_function("rte_socket_id")
        .allowlist_function("rte_socket_count")
        .allowlist_function("rte_strerror")
        .allowlist_var("RTE_MAX_LCORE|RTE_MAX_NUMA_NODES|LCORE_ID_ANY|SOCKET_ID_ANY")
        .allowlist_var("RTE_MAX_ETHPORTS|RTE_MAX_QUEUES_PER_PORT|RTE_ETHDEV_QUEUE_STAT_CNTRS")
        .allowlist_var("RTE_ETH_NAME_MAX_LEN|RTE_ETHER_ADDR_LEN|RTE_ETH_RSS_.*")
        .allowlist_var("RTE_MEMPOOL_CACHE_MAX_SIZE|RTE_MEMPOOL_NAMESIZE|RTE_RING_NAMESIZE")
        .allowlist_var("RTE_PKTMBUF_HEADROOM|RTE_MBUF_DEFAULT_.*|RTE_MBUF_F_.*")
        .allowlist_var("RING_F_.*|RTE_MAX_ERRNO|RTE_ETH_DEV_.*")
        .allowlist_var("rte_flow_dynf_metadata_offs|rte_flow_dynf_metadata_mask")
        // Ports.
        .allowlist_function("rte_eth_dev_configure")
        .allowlist_function("rte_eth_dev_info_get")
        .allowlist_function("rte_eth_dev_adjust_nb_rx_tx_desc")
        .allowlist_function("rte_eth_rx_queue_setup")
        .allowlist_function("rte_eth_tx_queue_setup")
        .allowlist_function("rte_eth_dev_start")
        .allowlist_function("rte_eth_dev_stop")
        .allowlist_function("rte_eth_dev_close")
        .allowlist_function("rte_eth_dev_socket_id")
        .allowlist_function("rte_eth_dev_is_valid_port")
        .allowlist_function("rte_eth_dev_count_avail")
        .allowlist_function("rte_eth_dev_get_port_by_name")
        .allowlist_function("rte_eth_dev_get_name_by_port")
        .allowlist_function("rte_eth_macaddr_get")
        .allowlist_function("rte_eth_stats_get")
        .allowlist_function("rte_eth_stats_reset")
        .allowlist_function("rte_eth_promiscuous_.*")
        .allowlist_function("rte_eth_dev_set_mtu")
        .allowlist_function("rte_eth_link_get_nowait")
        .allowlist_type("rte_eth_conf|rte_eth_dev_info|rte_eth_stats|rte_eth_link")
        .allowlist_type("rte_eth_rxconf|rte_eth_txconf|rte_ether_addr")
        .allowlist_type("rte_eth_rx_mq_mode|rte_eth_tx_mq_mode")
        // Mbufs, mempools, rings.
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_pktmbuf_free_bulk")
        .allowlist_function("rte_mempool_free")
        .allowlist_function("rte_mempool_lookup")
        .allowlist_function("rte_mempool_avail_count")
        .allowlist_function("rte_mempool_in_use_count")
        .allowlist_function("rte_ring_create")
        .allowlist_function("rte_ring_free")
        .allowlist_function("rte_ring_count")
        .allowlist_function("rte_flow_dynf_metadata_register")
        .allowlist_type("rte_mbuf|rte_mempool|rte_ring");
    write(bindings, "wrapper.h", "bindings.rs");
}

/// bindgen over `header` with the options both bindings share.
fn builder(header: &str) -> bindgen::Builder {
    bindgen::Builder::default()
        .header(header)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        // DPDK's doc comments hold indented C snippets that rustdoc would
        // run as Rust doctests.
        .generate_comments(false)
        .derive_default(true)
        .wrap_unsafe_ops(true)
        .layout_tests(true)
        .prepend_enum_name(false)
        // `long double` in max_align_t becomes u128, which has no stable C ABI.
        .blocklist_type("max_align_t")
}

/// Generates `b` into `$OUT_DIR/file`; `header` names it in errors.
fn write(b: bindgen::Builder, header: &str, file: &str) {
    let bindings =
        b.generate().unwrap_or_else(|e| panic!("dpdk-sys: bindgen failed on {header}: {e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join(file))
        .unwrap_or_else(|e| panic!("dpdk-sys: cannot write {file}: {e}"));
}

/// Runs pkg-config (or `$PKG_CONFIG`) with `args` and returns its stdout.
fn pkg_config_output(args: &[&str]) -> String {
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let out = Command::new(&pkg_config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("dpdk-sys: cannot run {pkg_config}: {e}"));
    if !out.status.success() {
        panic!(
            "dpdk-sys: {pkg_config} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
