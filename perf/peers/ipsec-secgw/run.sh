#!/usr/bin/env bash
# Our per-core throughput next to DPDK's own software IPsec gateway,
# ipsec-secgw (ESP tunnel, AES-GCM, run-to-completion lcores), on the same
# traffic, sizes, lcore counts, RX source and sink, in one run.
#
# ipsec-secgw is built from Debian's dpdk-doc sources
# (/usr/share/dpdk/examples/ipsec-secgw) against libdpdk-dev 22.11, and
# runs its software path (one change: no RX checksum offload request, see
# below): the ipsec_mb crypto PMD (crypto_aesni_gcm) with
# librte_ipsec (-l) and SAs of type cpu-crypto (synchronous AES-GCM on the
# lcore, as our packet cores do; TYPE=lookaside-none for the cryptodev
# enqueue/dequeue path). Both sides get 64 UDP flows of SIZE bytes (inner
# IP) replayed forever by net_pcap (infinite_rx, a copy per packet on the
# lcore for both; throughput --source pcap) and send to net_null,
# outer IPv6, and are measured as packets sent per second on the sink;
# ipsec-secgw's from its telemetry socket. Decrypt input is what each side's
# own encrypt direction produced.
#
#   perf/peers/ipsec-secgw/run.sh [--sizes "64 512 1400"] [--lcores "1 2"]
#       [--algos "128 256"] [--dirs "encrypt decrypt"] [--seconds 5]
#
# Prints a table (Mpps per lcore, ours / ipsec-secgw's) and, with OUT=dir,
# keeps logs and captures there. Run as root (DPDK), on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../../.."
SIZES="64 512 1400"; LCORES="1 2"; ALGOS="128 256"; DIRS="encrypt decrypt"; SECONDS_RUN=5
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES=$2; shift ;;
        --lcores) LCORES=$2; shift ;;
        --algos) ALGOS=$2; shift ;;
        --dirs) DIRS=$2; shift ;;
        --seconds) SECONDS_RUN=$2; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
TYPE=${TYPE:-cpu-crypto}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "run.sh: run as root (DPDK)" >&2; exit 1; }

# What ipsec-secgw needs beyond scripts/setup.sh, by package name.
need=()
for p in dpdk-doc librte-crypto-ipsec-mb23 make; do
    [ "$(dpkg-query -W -f='${Status}' $p 2>/dev/null)" = "install ok installed" ] || need+=($p)
done
if [ ${#need[@]} -gt 0 ]; then
    echo "run.sh: apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
scripts/setup.sh >/dev/null

SRC=target/peers/ipsec-secgw
if [ ! -x "$SRC/ipsec-secgw/build/ipsec-secgw" ]; then
    echo "== building ipsec-secgw from /usr/share/dpdk/examples"
    rm -rf "$SRC"; mkdir -p "$SRC"
    cp -r /usr/share/dpdk/examples/ipsec-secgw /usr/share/dpdk/examples/common "$SRC/"
    # Its port configuration asks for RX checksum offload, which no
    # virtual device has (and its forwarding does not need): drop that one
    # request, so that it runs on net_pcap/net_null as we do.
    sed -i 's/\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0,/' "$SRC/ipsec-secgw/ipsec-secgw.c"
    grep -q '\.offloads = 0,' "$SRC/ipsec-secgw/ipsec-secgw.c" || { echo "run.sh: patch did not apply" >&2; exit 1; }
    make -C "$SRC/ipsec-secgw" >"$OUT/secgw-build.log" 2>&1 || { tail -20 "$OUT/secgw-build.log"; exit 1; }
fi
SECGW=$SRC/ipsec-secgw/build/ipsec-secgw
cargo build --release --quiet -p perf --bin throughput
TP=target/release/throughput

key() { # key BITS: the AES key and the 4-byte salt, as ipsec-secgw reads them
    local n=$(($1 / 8 + 4)) i out=""
    for i in $(seq $n); do out="$out$(printf '%02x' $(((i * 37 + 11) % 256))):"; done
    echo "${out%:}"
}
# cfg BITS: the SAs, SPs and routes of both directions (SPI 5 each way; an
# unprotected port needs an inbound SA even for an encrypt run).
cfg() {
    local algo="aes-$1-gcm" k; k=$(key "$1")
    local a=fd00:0000:0000:0000:0000:0000:0000:0001 b=fd00:0000:0000:0000:0000:0000:0000:0002
    cat <<EOF
sp ipv4 out esp protect 5 pri 1 dst 10.0.0.0/24 sport 0:65535 dport 0:65535
sp ipv4 in esp protect 5 pri 1 dst 10.0.0.0/24 sport 0:65535 dport 0:65535
sa out 5 aead_algo $algo aead_key $k mode ipv6-tunnel src $a dst $b type $TYPE
sa in 5 aead_algo $algo aead_key $k mode ipv6-tunnel src $a dst $b type $TYPE
rt ipv6 dst $b/128 port 0
rt ipv4 dst 10.0.0.0/24 port 1
EOF
}
# secgw LCORES CFG VDEV0 VDEV1: runs ipsec-secgw in the background (SECGW_PID,
# PREFIX). Port 0 is the unprotected one (ESP in and out), port 1 the
# protected one (cleartext), in ipsec-secgw's terms.
secgw() {
    local k=$1 cfgfile=$2 v0=$3 v1=$4 conf="" q
    for q in $(seq 0 $((k - 1))); do conf="$conf,(0,$q,$q),(1,$q,$q)"; done
    PREFIX=pspgw-secgw-$$-$RANDOM
    "$SECGW" -l "0-$((k - 1))" --no-huge --no-pci -m 1024 --file-prefix "$PREFIX" \
        --vdev "$v0" --vdev "$v1" --vdev crypto_aesni_gcm0 --log-level=5 -- \
        -p 0x3 -P -u 0x1 -l -s 16384 --rxoffload 0 --txoffload 0 -f "$cfgfile" --config "${conf#,}" >>"$OUT/secgw.log" 2>&1 &
    SECGW_PID=$!
}
stop_secgw() { kill -INT "$SECGW_PID" 2>/dev/null || true; wait "$SECGW_PID" 2>/dev/null || true; }
trap 'stop_secgw 2>/dev/null; true' EXIT
rxq() { local k=$1 f=$2 q s=""; for q in $(seq $k); do s="$s,rx_pcap=$f"; done; echo "$s"; }

printf '%-8s %5s %4s %6s | %10s %10s %6s | %s\n' dir size aes lcores "ours Mpps" "secgw Mpps" ratio "(per lcore)"
for size in $SIZES; do
    "$TP" --size "$size" --dir encrypt --write-input "$OUT/clear-$size.pcap"
    for bits in $ALGOS; do
        cfg "$bits" > "$OUT/sa-$bits.cfg"
        # ipsec-secgw's own ESP packets for its decrypt runs: the 64 flows once.
        esp="$OUT/esp-$size-$bits.pcap"
        if [[ " $DIRS " == *" decrypt "* ]]; then
            secgw 1 "$OUT/sa-$bits.cfg" "net_pcap0,tx_pcap=$esp" "net_pcap1,rx_pcap=$OUT/clear-$size.pcap"
            python3 perf/peers/ipsec-secgw/telemetry.py --prefix "$PREFIX" --port 0 --warmup 1 --seconds 0.5 >/dev/null
            stop_secgw
            n=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); import struct; i=24; c=0
while i < len(d): l=struct.unpack('<I', d[i+8:i+12])[0]; i += 16 + l; c += 1
print(c)" "$esp")
            [ "$n" = 64 ] || { echo "run.sh: ipsec-secgw encrypted $n of 64 frames for $esp (see $OUT/secgw.log)" >&2; exit 1; }
        fi
        v=$([ "$bits" = 128 ] && echo 0 || echo 1)
        for dir in $DIRS; do
            for k in $LCORES; do
                ours=$("$TP" --size "$size" --dir "$dir" --lcores "$k" --version "$v" \
                    --source pcap --seconds "$SECONDS_RUN" --json 2>>"$OUT/ours.log" | tail -1)
                ours_mpps=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['mpps'] / $k)" "$ours")
                if [ "$dir" = encrypt ]; then
                    secgw "$k" "$OUT/sa-$bits.cfg" \
                        "net_null0,no-rx=1" "net_pcap0$(rxq "$k" "$OUT/clear-$size.pcap"),infinite_rx=1"
                    sink=0
                else
                    secgw "$k" "$OUT/sa-$bits.cfg" \
                        "net_pcap0$(rxq "$k" "$esp"),infinite_rx=1" "net_null0,no-rx=1"
                    sink=1
                fi
                theirs=$(python3 perf/peers/ipsec-secgw/telemetry.py --prefix "$PREFIX" --port $sink \
                    --warmup 2 --seconds "$SECONDS_RUN")
                stop_secgw
                secgw_mpps=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['pps'] / 1e6 / $k)" "$theirs")
                python3 - "$dir" "$size" "$bits" "$k" "$ours_mpps" "$secgw_mpps" <<'PY'
import sys
d, size, bits, k, ours, theirs = sys.argv[1:]
ours, theirs = float(ours), float(theirs)
ratio = f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"
print(f"{d:<8} {size:>5} {bits:>4} {k:>6} | {ours:>10.2f} {theirs:>10.2f} {ratio:>6} |")
PY
            done
        done
    done
done
echo "ipsec-secgw: SAs of type $TYPE on crypto_aesni_gcm0 (librte_ipsec); logs in $OUT"
