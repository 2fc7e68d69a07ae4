#!/usr/bin/env bash
# Tests scripts/setup.sh's package plan against package lists, not against
# whatever this machine happens to have: the list of a fresh machine of
# this project's kind (scripts/testdata/image-debian12-rust.txt, which has
# libclang-cpp14 but not libclang1-14), and lists derived from it.
# Prints "setup-plan: N passed, 0 failed" or exits 1 at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
image=scripts/testdata/image-debian12-rust.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
fail() { echo "setup-plan: FAIL: $*" >&2; exit 1; }
plan() { bash scripts/setup.sh --check --installed "$1"; }

# 1. A fresh image: everything the image lacks is planned, by name.
out=$(plan "$image")
apt_line=$(grep '^setup: plan: apt-get install ' <<<"$out" || true)
for p in libclang-dev libdpdk-dev libipsec-mb-dev librte-net-pcap23 librte-net-af-packet23 librte-net-ring23 \
    librte-net-null23 librte-net-tap23 tcpdump protobuf-compiler libprotobuf-dev etcd-server prometheus; do
    grep -qw -- "$p" <<<"$apt_line" || fail "fresh image: $p not planned: $out"
done
grep -q '^setup: plan: pip install .*scapy' <<<"$out" || fail "fresh image: scapy not planned: $out"
# What the image ships is not planned again.
for p in pkg-config gcc g++ iproute2 openssl procps; do
    grep -qw -- "$p" <<<"$apt_line" && fail "fresh image: $p is in the image but planned"
done
passed=$((passed + 1))

# 2. The image plus the plan: nothing left to install.
cp "$image" "$tmp/after.txt"
for p in ${apt_line#setup: plan: apt-get install }; do printf 'apt\t%s\t0\n' "$p" >> "$tmp/after.txt"; done
printf 'pip 3.11\tscapy\t2.6.1\n' >> "$tmp/after.txt"
[ "$(plan "$tmp/after.txt")" = "setup: plan: nothing to install" ] ||
    fail "image plus plan: $(plan "$tmp/after.txt")"
passed=$((passed + 1))

# 3. The trap of issue 12: every package there but libclang-dev (and
# libclang1-14), with libclang-cpp14 installed. Only libclang-dev is planned.
grep -vP '^apt\tlibclang-dev\t' "$tmp/after.txt" > "$tmp/noclang.txt"
grep -qP '^apt\tlibclang-cpp14\t' "$tmp/noclang.txt" || fail "the image list lost libclang-cpp14"
[ "$(plan "$tmp/noclang.txt")" = "setup: plan: apt-get install libclang-dev" ] ||
    fail "libclang-cpp14 without libclang-dev: $(plan "$tmp/noclang.txt")"
passed=$((passed + 1))

# 4. Bare package names and :arch suffixes are read as the same package.
sed -E 's/^apt\t([^\t]+)\t.*$/\1/; s/^(tcpdump)$/\1:amd64/' "$tmp/after.txt" | grep -v '^pip' > "$tmp/bare.txt"
printf 'pip 3.11\tscapy\t2.6.1\npip 3.11\tcryptography\t42\n' >> "$tmp/bare.txt"
[ "$(plan "$tmp/bare.txt")" = "setup: plan: nothing to install" ] || fail "bare names: $(plan "$tmp/bare.txt")"
passed=$((passed + 1))

# 5. Bad arguments: one line, exit 2, nothing installed.
for args in "--installed" "--installed $tmp/none.txt" "--check --installed $tmp/none.txt" "--bogus"; do
    set +e; err=$(bash scripts/setup.sh $args 2>&1 >/dev/null); rc=$?; set -e
    [ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] || fail "setup.sh $args: exit $rc, '$err'"
done
passed=$((passed + 1))

echo "setup-plan: $passed passed, 0 failed"
