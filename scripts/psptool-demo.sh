#!/usr/bin/env bash
# The main job, for now: a psptool round trip on a generated capture.
# Generates clear IPv4/IPv6 traffic, encrypts it into PSP tunnels with keys
# derived from two master keys, checks the plaintext is gone from the wire
# capture, decrypts it deriving each key from its SPI, and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet --bin psptool
P=target/release/psptool
OUT=${OUT:-demo-out}
mkdir -p "$OUT"
K0=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
K1=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
SPI=80000001  # bit 31 set: this key derives from master key 1

echo "== derive the key of SPI $SPI (AES-GCM-256)"
$P derive --master-key0 "$K0" --master-key1 "$K1" --spi $SPI --version 1 | sed 's/^\(.\{8\}\).*/\1... (printed in full by psptool)/'
echo "== generate 2000 clear frames"
$P gen --out "$OUT/clear.pcap" --count 2000
echo "== encrypt: tunnel mode, outer IPv6, crypt offset 0, virtualization cookie"
$P encrypt --in "$OUT/clear.pcap" --out "$OUT/psp.pcap" --master-key0 "$K0" --master-key1 "$K1" \
    --spi $SPI --version 1 --mode tunnel --outer ipv6 --crypt-offset 0 --vc 00000000000000aa
if grep -q 'PSP-DEMO-PLAINTEXT' "$OUT/psp.pcap"; then
    echo "FAIL: plaintext visible in the PSP capture" >&2; exit 1
fi
echo "   plaintext marker: $(grep -ao 'PSP-DEMO-PLAINTEXT' "$OUT/clear.pcap" | wc -l) times in clear.pcap, 0 in psp.pcap"
echo "== decrypt (keys derived per packet from the SPI)"
$P decrypt --in "$OUT/psp.pcap" --out "$OUT/decrypted.pcap" --master-key0 "$K0" --master-key1 "$K1"
cmp "$OUT/clear.pcap" "$OUT/decrypted.pcap"
echo "   decrypted.pcap is byte-identical to clear.pcap"
echo "== decrypt with the wrong master keys must fail"
if $P decrypt --in "$OUT/psp.pcap" --out "$OUT/wrong.pcap" --master-key0 "$K1" --master-key1 "$K0" 2>/dev/null; then
    echo "FAIL: wrong keys decrypted" >&2; exit 1
fi
echo "demo: OK (captures in $OUT/: clear.pcap, psp.pcap, decrypted.pcap)"
