#!/usr/bin/env bash
# Installs what building and testing psp-gateway needs on a fresh Debian 12
# machine (run as root, or with sudo available). Idempotent and quick when
# everything is already there.
set -euo pipefail

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v python3 >/dev/null || need_apt+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
command -v cc >/dev/null || need_apt+=(build-essential)
# libfuzzer-sys (the fuzz targets, checked by scripts/test.sh) builds C++.
command -v c++ >/dev/null || need_apt+=(g++)
command -v cmp >/dev/null || need_apt+=(diffutils)
# DPDK (dpdk-sys links libdpdk, found with pkg-config) and libclang (bindgen).
pkg-config --exists libdpdk 2>/dev/null || need_apt+=(libdpdk-dev)
compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null || need_apt+=(libclang-dev)
# The two-gateway demo and its test: namespaces, veths, capture, ping.
command -v ip >/dev/null || need_apt+=(iproute2)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v ethtool >/dev/null || need_apt+=(ethtool)
command -v ping >/dev/null || need_apt+=(iputils-ping)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "setup: apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found: install the Rust stable toolchain (rustup) first" >&2
    exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# scapy (with its PSP layer) and cryptography: the independent cross-check.
if ! python3 -c 'import scapy.contrib.psp, cryptography' >/dev/null 2>&1; then
    echo "setup: pip install scapy cryptography"
    python3 -m pip install --quiet 'scapy>=2.6' cryptography 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages 'scapy>=2.6' cryptography
fi
