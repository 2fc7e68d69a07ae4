#!/usr/bin/env bash
# The main job: two gateways, two VMs, real traffic through on-demand PSP
# tunnels (scripts/two-gateways.sh), then the offline psptool round trip on
# a generated capture (scripts/psptool-demo.sh). Run as root on a fresh
# Debian 12 machine: it installs what it needs and cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/two-gateways.sh
scripts/psptool-demo.sh
