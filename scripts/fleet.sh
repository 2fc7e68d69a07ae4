#!/usr/bin/env bash
# A fleet of gateways with a peer directory in etcd and no tunnels file:
# a real etcd server (Debian etcd-server) on loopback, three gateways on
# one L2 uplink (a bridge), each with a "VM" (a network namespace) behind
# it, all learning their peers from etcd. Everything it creates it removes.
#
#   vm1 (10.0.0.1) -- [gw1] --+
#   vm2 (10.0.0.2) -- [gw2] --+-- bridge (the uplink: PSP only)
#   vm3 (10.0.0.3) -- [gw3] --+
#                    ( [gw4] --+ with vm4 holding 10.0.0.3: the VM moved there )
#
# Steps, each with a verdict:
#  1. every VM pings the others through on-demand tunnels (peers from etcd);
#  2. the metrics endpoint: a scrape under traffic passes `promtool check
#     metrics`, and its counters equal the last --stat-print report;
#  3. `psp-gateway status` shows the tunnels and peers (table and --json);
#  4. etcd is stopped for 10 s under two UDP streams: not one datagram lost,
#     and the gateways register again when it is back;
#  5. gw2 is killed (SIGKILL): after its lease (--directory-ttl) gw1 and gw3
#     withdraw their tunnels to it;
#  6. vm3's address moves to gw4 (a new VM with 10.0.0.3 behind gw4, the
#     old one gone): gw1 re-keys 10.0.0.3 to gw4 and traffic follows.
# Run as root. OUT=dir keeps the logs (default demo-out/fleet).
# PORT_BASE: gRPC ports PORT_BASE1.. (default 5017); metrics on
# METRICS_BASE1.. (default 917: 9171..9174); etcd on ETCD_PORT (default 23791).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "fleet.sh: run as root (namespaces, veths, DPDK)" >&2; exit 1; }
scripts/setup.sh
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet --bin psp-gateway
    GW=target/release/psp-gateway
fi
OUT=${OUT:-demo-out/fleet}
PORT_BASE=${PORT_BASE:-5017}
METRICS_BASE=${METRICS_BASE:-917}
ETCD_PORT=${ETCD_PORT:-23791}
TTL=${TTL:-4}
rm -rf "$OUT"; mkdir -p "$OUT"
P=pspfl$$
PREFIX=/psp-fleet-$$
ETCD_PID=""; GW_PIDS=(); EXTRA_PIDS=""

cleanup() {
    set +e
    for pid in "${GW_PIDS[@]}" $EXTRA_PIDS; do kill -INT "$pid" 2>/dev/null; done
    sleep 1
    for pid in "${GW_PIDS[@]}" $EXTRA_PIDS; do kill -KILL "$pid" 2>/dev/null; done
    [ -z "$ETCD_PID" ] || { kill -TERM $ETCD_PID; wait $ETCD_PID; } 2>/dev/null
    for n in 1 2 3 4; do ip netns del ${P}vm$n 2>/dev/null; ip link del ${P}u$n 2>/dev/null; ip link del ${P}h$n 2>/dev/null; done
    ip link del ${P}br 2>/dev/null
    rm -rf "$OUT/etcd-data"
}
trap cleanup EXIT

source scripts/netns.sh

start_etcd() {
    etcd --name fleet --data-dir "$OUT/etcd-data" \
        --listen-client-urls http://127.0.0.1:$ETCD_PORT --advertise-client-urls http://127.0.0.1:$ETCD_PORT \
        --listen-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
        --initial-advertise-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
        --initial-cluster fleet=http://127.0.0.1:$((ETCD_PORT + 1)) >> "$OUT/etcd.log" 2>&1 &
    ETCD_PID=$!
    for _ in $(seq 100); do
        curl -fs http://127.0.0.1:$ETCD_PORT/health 2>/dev/null | grep -q '"health":"true"' && return 0
        sleep 0.1
    done
    echo "FAIL: etcd did not come up"; tail -20 "$OUT/etcd.log"; exit 1
}

# The uplink: one bridge, a veth per gateway.
ip link add ${P}br type bridge
ip link set ${P}br up
quiet_link ${P}br
# vm N holding address A (10.0.0.A), behind gateway N.
add_vm() {
    local n=$1 a=$2
    ip link add ${P}u$n type veth peer name ${P}b$n
    for l in ${P}u$n ${P}b$n; do quiet_link $l; done
    ip link set ${P}b$n master ${P}br up
    ip link set ${P}u$n up
    make_vm $n $a
    for o in 1 2 3; do
        [ $o = $a ] || ip netns exec ${P}vm$n ip neigh add 10.0.0.$o lladdr 02:00:00:00:0$o:0$o dev v$n
    done
}
vm() { local n=$1; shift; ip netns exec ${P}vm$n "$@"; }

# start_gw N A: gateway N for vm N (address 10.0.0.A); no -t, no -f, no -n.
start_gw() {
    local n=$1 a=$2 log="$OUT/gw$1.log"
    $GW -p net_af_packet0,iface=${P}u$n -r net_af_packet1,iface=${P}h$n -m 0x$(( 1 << ((n - 1) % 2) )) \
        --decap-dmac 02:00:00:00:0$n:0$n --local-virt-ip 10.0.0.$a --uplink-ip fd00:1::$n \
        -s 127.0.0.1:${PORT_BASE}$n --directory etcd://127.0.0.1:$ETCD_PORT$PREFIX --directory-ttl $TTL \
        --metrics-addr 127.0.0.1:${METRICS_BASE}$n --idle-backoff --stat-print >> "$log" 2>&1 &
    GW_PIDS[$n]=$!
    for _ in $(seq 150); do
        grep -q "directory: registered" "$log" && return 0
        kill -0 ${GW_PIDS[$n]} 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: gw$n did not come up and register:"; tail -30 "$log"; exit 1
}
status() { $GW status -s 127.0.0.1:${PORT_BASE}$1 "${@:2}"; }
scrape() { curl -fsS http://127.0.0.1:${METRICS_BASE}$1/metrics; }
metric() { scrape $1 | awk -v k="$2" '$1 == k {print $2}'; }
# wait_metric N KEY VALUE SECONDS
wait_metric() {
    for _ in $(seq $(( $4 * 10 ))); do [ "$(metric $1 "$2")" = "$3" ] && return 0; sleep 0.1; done
    echo "FAIL: gw$1: $2 is $(metric $1 "$2"), not $3 after $4 s"; exit 1
}
# stream FROM TO_ADDR PPS SECONDS TAG (receiver in vm TO_VM)
stream() {
    local from=$1 to=$2 a=$3 pps=$4 secs=$5 tag=$6
    vm $to python3 scripts/udp_stream.py --recv 10.0.0.$a:700$a --seconds $((secs + 30)) --idle 4 > "$OUT/$tag.recv" &
    STREAM_PIDS="$STREAM_PIDS $!"
    sleep 0.3
    vm $from python3 scripts/udp_stream.py --send 10.0.0.$a:700$a --pps $pps --seconds $secs > "$OUT/$tag.sent" &
    STREAM_PIDS="$STREAM_PIDS $!"
}
STREAM_PIDS=""
wait_streams() { for pid in $STREAM_PIDS; do wait $pid 2>/dev/null || true; done; STREAM_PIDS=""; }
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

echo "== etcd on 127.0.0.1:$ETCD_PORT; three gateways registering under $PREFIX (lease $TTL s), no tunnels file"
start_etcd
for n in 1 2 3; do add_vm $n $n; done
for n in 1 2 3; do start_gw $n $n; done
for n in 1 2 3; do wait_metric $n psp_gateway_directory_gateways 2 10; done
tcpdump -i ${P}b1 -w "$OUT/uplink.pcap" -U -s 0 >/dev/null 2>&1 &
CAP_PID=$!; EXTRA_PIDS="$EXTRA_PIDS $CAP_PID"
sleep 0.5

echo "== 1. every VM pings the others (on-demand tunnels, peers from the directory)"
for pair in "1 2" "1 3" "2 3" "3 1"; do
    set -- $pair
    vm $1 ping -q -c 3 -i 0.2 -W 2 10.0.0.$2 > "$OUT/ping$1$2.txt" || { echo "FAIL: vm$1 -> 10.0.0.$2"; cat "$OUT/ping$1$2.txt"; tail -20 "$OUT/gw$1.log"; exit 1; }
    echo "   vm$1 -> 10.0.0.$2: $(grep 'packets transmitted' "$OUT/ping$1$2.txt")"
done

echo "== 2. metrics under traffic: promtool, then equal to --stat-print"
stream 1 2 2 300 4 m12
sleep 1
scrape 1 > "$OUT/scrape-busy.txt"
promtool check metrics < "$OUT/scrape-busy.txt" > "$OUT/promtool.txt" 2>&1 || { echo "FAIL: promtool check metrics"; cat "$OUT/promtool.txt"; exit 1; }
echo "   promtool check metrics: OK ($(grep -c '^psp_gateway' "$OUT/scrape-busy.txt") samples)"
wait_streams
# A report printed after the cores' last snapshot of the quiet gateway.
sleep 7
scrape 1 > "$OUT/scrape-quiet.txt"
python3 scripts/check_metrics.py "$OUT/gw1.log" "$OUT/scrape-quiet.txt"

echo "== 3. psp-gateway status"
status 1 | tee "$OUT/status1.txt" | sed -n 1,12p
status 1 --json > "$OUT/status1.json"
python3 - "$OUT/status1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
up = {t["virt_dst"] for t in s["tunnels"] if t["state"] == "up"}
assert {"10.0.0.2", "10.0.0.3"} <= up, s["tunnels"]
assert all(p["source"] == "directory" for p in s["peers"]) and len(s["peers"]) == 2, s["peers"]
print(f"   status --json: tunnels up to {sorted(up)}, {len(s['peers'])} peers from the directory")
PY

echo "== 4. etcd stopped for 10 s under traffic (vm1 -> vm2, vm2 -> vm3, 300/s each, 16 s)"
stream 1 2 2 300 16 out1
stream 2 3 3 300 16 out2
sleep 3
kill -TERM $ETCD_PID; wait $ETCD_PID 2>/dev/null || true
sleep 10
start_etcd
wait_streams
for t in out1 out2; do
    s=$(json "$OUT/$t.sent" sent); r=$(json "$OUT/$t.recv" unique)
    echo "   $t: sent $s, delivered $r"
    [ "$s" = "$r" ] || { echo "FAIL: the etcd outage lost $((s - r)) datagrams"; exit 1; }
done
for n in 1 2 3; do wait_metric $n psp_gateway_directory_connected 1 10; done
echo "   every gateway is back on etcd: $(grep -c 'keeping the last view' "$OUT/gw1.log") failures seen by gw1 meanwhile"

echo "== 5. gw2 killed (SIGKILL): its tunnels withdrawn after its $TTL s lease"
kill -KILL ${GW_PIDS[2]}; wait ${GW_PIDS[2]} 2>/dev/null || true; GW_PIDS[2]=""
T0=$(date +%s.%N)
for n in 1 3; do wait_metric $n psp_gateway_directory_gateways 1 $((TTL + 6)); done
for n in 1 3; do
    for _ in $(seq 50); do grep -q "dst=10.0.0.2.*tunnel withdrawn\|tunnel withdrawn.*10.0.0.2" "$OUT/gw$n.log" && break; sleep 0.1; done
    grep -q "tunnel withdrawn" "$OUT/gw$n.log" || { echo "FAIL: gw$n kept its tunnel to 10.0.0.2"; exit 1; }
    status $n --json > "$OUT/status$n-after-kill.json"
    python3 -c "
import json,sys
s=json.load(open(sys.argv[1]))
t=[t for t in s['tunnels'] if t['virt_dst']=='10.0.0.2']
assert t and not t[0]['ours'] and not t[0]['reverse'] and t[0]['peer']=='', t
" "$OUT/status$n-after-kill.json"
done
echo "   gw1 and gw3 withdrew 10.0.0.2 $(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.1f}')" $T0) s after the kill; withdrawn: $(metric 1 psp_gateway_tunnels_withdrawn_total) (gw1)"

echo "== 6. vm3's address moves to gw4"
vm 3 ip link set v3 down
add_vm 4 3
start_gw 4 3
# gw1 re-keys 10.0.0.3 to gw4: wait for the new tunnel (until it is
# installed, packets still go through the old one, to gw3).
moved=""
for _ in $(seq 100); do
    status 1 --json > "$OUT/status1-moving.json"
    python3 -c "
import json,sys
t=[t for t in json.load(open(sys.argv[1]))['tunnels'] if t['virt_dst']=='10.0.0.3']
sys.exit(0 if t and t[0]['peer'].endswith(':${PORT_BASE}4') and t[0]['state']=='up' else 1)
" "$OUT/status1-moving.json" && { moved=1; break; }
    sleep 0.1
done
[ -n "$moved" ] || { echo "FAIL: gw1 did not re-key 10.0.0.3 to gw4"; cat "$OUT/status1-moving.json"; exit 1; }
vm 1 ping -q -c 5 -i 0.2 -W 2 10.0.0.3 > "$OUT/ping-moved.txt" || { echo "FAIL: traffic did not follow 10.0.0.3 to gw4"; cat "$OUT/ping-moved.txt"; tail -30 "$OUT/gw1.log"; exit 1; }
echo "   vm1 -> 10.0.0.3 (now behind gw4): $(grep 'packets transmitted' "$OUT/ping-moved.txt")"
status 1 --json > "$OUT/status1-moved.json"
python3 -c "
import json,sys
s=json.load(open(sys.argv[1]))
t=[t for t in s['tunnels'] if t['virt_dst']=='10.0.0.3'][0]
assert t['peer'].endswith(':${PORT_BASE}4') and t['state']=='up', t
print('   gw1 status: 10.0.0.3 via', t['peer'], t['state'])
" "$OUT/status1-moved.json"
echo "   re-keys on gw1: $(metric 1 psp_gateway_rekeys_total)"

kill -INT $CAP_PID; wait $CAP_PID 2>/dev/null || true
echo "== the uplink capture (gw1's port)"
python3 scripts/check_uplink.py "$OUT/uplink.pcap"
echo "fleet: OK (logs, scrapes and uplink.pcap in $OUT/)"
