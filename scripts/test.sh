#!/usr/bin/env bash
# The project's test command: sets up a fresh machine, then runs formatting,
# lint and every test of the workspace (unit, property, DPDK EAL,
# integration and the scapy cross-check) in release mode, and ends with one
# line that totals the tests of every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# setup.sh's package plan, checked against the package list of a fresh
# machine of this kind rather than against this machine.
setup_tests=$(bash scripts/test-setup.sh)
echo "$setup_tests"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
# The DOCA Flow backend (feature doca, off by default): type-checked against
# doca-sys's declaration file when no DOCA SDK is installed.
cargo clippy -p engine --features doca --all-targets --release -- -D warnings
cargo clippy -p psp-gateway --features doca --all-targets --release -- -D warnings
# The fuzz targets live outside the workspace (cargo-fuzz); type-check them
# so an engine change cannot leave them broken.
cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test -p engine --features doca --release --lib doca 2>&1 | tee "$log" || status=$?
cargo test -p psp-gateway --features doca --release --bin psp-gateway choose 2>&1 | tee -a "$log" || status=$?
cargo test --workspace --release 2>&1 | tee -a "$log" || status=$?
echo "$setup_tests" >> "$log"
passed=$(awk '/^test result:/ {s += $4} /^setup-plan:/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
echo "tests: $passed passed, $failed failed"
exit "$status"
