#!/usr/bin/env bash
# The project's test command: sets up a fresh machine, then runs formatting,
# lint and every test of the workspace (unit, property, integration and the
# scapy cross-check) in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings
cargo test --workspace --release
