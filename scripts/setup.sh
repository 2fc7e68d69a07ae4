#!/usr/bin/env bash
# Installs what building, testing and running the demo of psp-gateway needs
# on a fresh Debian 12 machine (as root, or with sudo), then checks that
# every tool really works and names whatever is still missing, one line
# each. Idempotent, and quick when everything is there.
#
# Debian packages are decided by package name (dpkg-query), never by
# looking for files: an image can hold a file that matches a glob (e.g.
# libclang-cpp14's libclang-cpp.so.14) without the package a tool needs
# (libclang1-14, which bindgen loads).
#
#   scripts/setup.sh                           install, then verify
#   scripts/setup.sh --check                   print the plan for this machine, install nothing
#   scripts/setup.sh --check --installed FILE  the plan for a machine whose packages FILE lists
#                                              (lines "apt<TAB>NAME[:arch]<TAB>VERSION",
#                                              "pip X.Y<TAB>NAME<TAB>VERSION", or a bare NAME)
set -euo pipefail

# What the project needs from Debian, by package name.
APT_PACKAGES=(
    pkg-config gcc g++ make diffutils     # C shim of dpdk-sys, libfuzzer-sys (C++)
    libdpdk-dev                           # dpdk-sys links libdpdk (pkg-config libdpdk)
    libipsec-mb-dev                       # dpdk-sys binds intel-ipsec-mb (AES-GCM of the packet cores)
    librte-net-pcap23 librte-net-af-packet23 librte-net-ring23 librte-net-null23
    librte-net-tap23                      # the DPDK virtual devices the tests and demo use
    libclang-dev                          # bindgen (clang-sys) loads libclang.so: libclang1-14
    iproute2 iputils-ping ethtool tcpdump openssl procps  # demo and fault scripts
    protobuf-compiler                     # protoc: the etcd-client crate compiles etcd's protos
    libprotobuf-dev                       # ... which import google/protobuf/*.proto, shipped here
                                          # (protobuf-compiler only recommends it)
    etcd-server curl prometheus           # the fleet test: etcd, its health check, promtool
)
# What the scapy cross-check and the demo's checks import, by PyPI name.
PIP_PACKAGES=(scapy cryptography)
PIP_SPEC=('scapy>=2.6' cryptography)

check=0
installed_file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=1 ;;
        --installed)
            [ $# -ge 2 ] || { echo "setup: --installed needs a FILE" >&2; exit 2; }
            installed_file=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$installed_file" ]; then
    [ "$check" = 1 ] || { echo "setup: --installed FILE goes with --check" >&2; exit 2; }
    [ -r "$installed_file" ] || { echo "setup: --installed: cannot read $installed_file" >&2; exit 2; }
fi

# apt_installed NAME: is the Debian package NAME installed (on this machine,
# or in the --installed list)?
apt_installed() {
    if [ -n "$installed_file" ]; then
        awk -F'\t' -v n="$1" '
            /^#/ { next }
            NF == 1 { sub(/:.*/, "", $1); if ($1 == n) f = 1; next }
            $1 == "apt" { sub(/:.*/, "", $2); if ($2 == n) f = 1 }
            END { exit !f }' "$installed_file"
    else
        [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
    fi
}

# pip_installed NAME: can the project's python3 import the PyPI package NAME?
pip_installed() {
    if [ -n "$installed_file" ]; then
        awk -F'\t' -v n="$1" 'tolower($1) ~ /^pip / && tolower($2) == n { f = 1 } END { exit !f }' \
            "$installed_file"
    else
        local module=$1
        [ "$module" = scapy ] && module=scapy.contrib.psp
        python3 -c "import $module" >/dev/null 2>&1
    fi
}

apt_plan=()
for p in "${APT_PACKAGES[@]}"; do apt_installed "$p" || apt_plan+=("$p"); done
# python3 and pip: the python3 on PATH is the one the scripts run, wherever
# it comes from (Debian's, or pyenv's); Debian's only when there is none.
if [ -z "$installed_file" ]; then
    python3 -c 'import sys' >/dev/null 2>&1 || apt_plan+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || apt_plan+=(python3-pip)
else
    apt_installed python3 || apt_plan+=(python3)
    apt_installed python3-pip || grep -qE '^pip ' "$installed_file" || apt_plan+=(python3-pip)
fi
pip_plan=()
for i in "${!PIP_PACKAGES[@]}"; do
    pip_installed "${PIP_PACKAGES[$i]}" || pip_plan+=("${PIP_SPEC[$i]}")
done

if [ "$check" = 1 ]; then
    if [ ${#apt_plan[@]} -gt 0 ]; then echo "setup: plan: apt-get install ${apt_plan[*]}"; fi
    if [ ${#pip_plan[@]} -gt 0 ]; then echo "setup: plan: pip install ${pip_plan[*]}"; fi
    if [ ${#apt_plan[@]} -eq 0 ] && [ ${#pip_plan[@]} -eq 0 ]; then echo "setup: plan: nothing to install"; fi
    exit 0
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ${#apt_plan[@]} -gt 0 ]; then
    echo "setup: apt-get install ${apt_plan[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${apt_plan[@]}" >/dev/null
fi
if [ ${#pip_plan[@]} -gt 0 ]; then
    echo "setup: pip install ${pip_plan[*]}"
    python3 -m pip install --quiet "${pip_plan[@]}" 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages "${pip_plan[@]}"
fi
if command -v rustup >/dev/null; then
    components=$(rustup component list --installed 2>/dev/null || true)
    for c in clippy rustfmt; do
        grep -q "^$c" <<<"$components" || rustup component add "$c"
    done
fi

# Verify: each tool as the build and the scripts use it. One line per miss.
missing=0
miss() { echo "setup: MISSING: $*" >&2; missing=1; }
for p in "${APT_PACKAGES[@]}"; do apt_installed "$p" || miss "Debian package $p did not install"; done
command -v cargo >/dev/null || miss "cargo: install the Rust stable toolchain (rustup) first"
cargo fmt --version >/dev/null 2>&1 || miss "rustfmt (rustup component add rustfmt)"
cargo clippy --version >/dev/null 2>&1 || miss "clippy (rustup component add clippy)"
cc --version >/dev/null 2>&1 || miss "a C compiler (cc; package gcc)"
dpdk=$(pkg-config --modversion libdpdk 2>/dev/null) || miss "libdpdk: pkg-config --modversion libdpdk fails (package libdpdk-dev)"
if [ -n "${dpdk:-}" ]; then
    dmaj=${dpdk%%.*}; rest=${dpdk#*.}; dmin=${rest%%.*}
    [ "$dmaj" -gt 22 ] || { [ "$dmaj" -eq 22 ] && [ "$dmin" -ge 11 ]; } ||
        miss "DPDK 22.11 or newer (pkg-config says libdpdk $dpdk)"
fi
# bindgen's clang-sys loads libclang.so, libclang-N.so or libclang.so.N from
# the linker's search path: look for exactly those names (not libclang-cpp).
# (awk reads to the end: an early exit would SIGPIPE ldconfig under pipefail.)
libclang=$(ldconfig -p 2>/dev/null |
    awk '$1 ~ /^libclang(-[0-9.]+)?\.so(\.[0-9]+)*$/ && !found { found = $NF } END { print found }')
[ -n "$libclang" ] || miss "libclang for bindgen: no libclang.so / libclang-N.so* in ldconfig -p (package libclang-dev)"
python3 -c 'import scapy.contrib.psp, cryptography' >/dev/null 2>&1 ||
    miss "python3 cannot import scapy.contrib.psp and cryptography (pip install 'scapy>=2.6' cryptography)"
for tool in ip ping ethtool tcpdump openssl protoc etcd curl promtool; do
    command -v "$tool" >/dev/null || miss "$tool is not on PATH"
done
[ "$missing" = 0 ] || exit 1
echo "setup: ready (DPDK $dpdk, libclang $libclang, $(python3 -c 'import scapy; print("scapy", scapy.__version__)'))"
