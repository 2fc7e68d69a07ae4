#!/usr/bin/env bash
# The main job: two psp-gateways on one machine, each between a "VM" (a
# network namespace) and a shared uplink (a veth pair), exchanging keys over
# gRPC on loopback. The VMs ping and send TCP to each other through
# on-demand PSP tunnels; the uplink is captured to show it carries only PSP
# (IPv6, UDP 1000) that does not reveal the payload. Then both gateways are
# stopped and print their counters. Everything it creates it removes.
#
#   vm1 (netns, 10.0.0.1) --veth-- [gw1] --pspgw-u1==pspgw-u2-- [gw2] --veth-- vm2 (netns, 10.0.0.2)
#
# Run as root. OUT=dir keeps the logs and the uplink capture.
# TLS=1: the gateways talk mutual TLS (a CA and one certificate per gateway,
# made here with openssl).
# STATIC_LATE=1: gw1 connects at startup (-z) and gw2 starts 2 s later; the
# tunnel must come up by gw1's retries before any traffic, so no packet
# misses.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "two-gateways: run as root (namespaces, veths, DPDK)" >&2; exit 1; }
scripts/setup.sh
# GW=path uses an already built gateway (the integration test does).
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet --bin psp-gateway
    GW=target/release/psp-gateway
fi
OUT=${OUT:-demo-out}
mkdir -p "$OUT"
P=pspgw$$
GW1_PID=""; GW2_PID=""; CAP_PID=""

cleanup() {
    set +e
    for pid in $GW1_PID $GW2_PID $CAP_PID; do kill -INT "$pid" 2>/dev/null; done
    sleep 1
    for pid in $GW1_PID $GW2_PID $CAP_PID; do kill -KILL "$pid" 2>/dev/null; done
    ip netns del ${P}vm1 2>/dev/null; ip netns del ${P}vm2 2>/dev/null
    ip link del ${P}u1 2>/dev/null; ip link del ${P}h1 2>/dev/null; ip link del ${P}h2 2>/dev/null
}
trap cleanup EXIT

quiet_link() { # no IPv6 autoconf chatter, no offloads that af_packet would see half-done
    sysctl -qw net.ipv6.conf.$1.disable_ipv6=1 2>/dev/null || true
    ethtool -K $1 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

# The uplink.
ip link add ${P}u1 type veth peer name ${P}u2
for l in ${P}u1 ${P}u2; do quiet_link $l; ip link set $l up; done
# The VMs.
for i in 1 2; do
    ip netns add ${P}vm$i
    ip link add ${P}h$i type veth peer name v$i netns ${P}vm$i
    quiet_link ${P}h$i; ip link set ${P}h$i up
    ip netns exec ${P}vm$i sh -c "
        sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip link set lo up
        ip link set v$i address 02:00:00:00:0$i:0$i mtu 1400 up
        ip addr add 10.0.0.$i/24 dev v$i
        ethtool -K v$i tx off tso off gso off >/dev/null 2>&1 || true"
done
ip netns exec ${P}vm1 ip neigh add 10.0.0.2 lladdr 02:00:00:00:02:02 dev v1
ip netns exec ${P}vm2 ip neigh add 10.0.0.1 lladdr 02:00:00:00:01:01 dev v2
U1_MAC=$(cat /sys/class/net/${P}u1/address); U2_MAC=$(cat /sys/class/net/${P}u2/address)

TLS_ARGS1=(); TLS_ARGS2=()
if [ -n "${TLS:-}" ]; then
    echo "== mutual TLS: a CA and a certificate per gateway (IP SAN 127.0.0.1)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=psp-gateway demo CA" -keyout "$OUT/ca.key" -out "$OUT/ca.crt" 2>/dev/null
    for n in 1 2; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=gw$n" \
            -keyout "$OUT/gw$n.key" -out "$OUT/gw$n.csr" 2>/dev/null
        openssl x509 -req -in "$OUT/gw$n.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" \
            -CAcreateserial -days 1 -out "$OUT/gw$n.crt" \
            -extfile <(printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth") 2>/dev/null
    done
    TLS_ARGS1=(--grpc-cert "$OUT/gw1.crt" --grpc-key "$OUT/gw1.key" --grpc-ca "$OUT/ca.crt")
    TLS_ARGS2=(--grpc-cert "$OUT/gw2.crt" --grpc-key "$OUT/gw2.key" --grpc-ca "$OUT/ca.crt")
fi

echo "== starting two gateways (gRPC on 127.0.0.1:50151 and :50152, one core each, idle back-off)"
# start_gw N ARGS...: starts gateway N and waits for its gRPC service. DPDK's
# af_packet PMD derives its PACKET_FANOUT group id from the process id and
# the interface index; two processes can collide (EINVAL): start again,
# with a new pid.
start_gw() {
    local n=$1; shift
    for attempt in 1 2 3 4 5; do
        $GW "$@" > "$OUT/gw$n.log" 2>&1 &
        local pid=$!
        for _ in $(seq 100); do
            grep -q "gRPC service up" "$OUT/gw$n.log" 2>/dev/null && { eval GW${n}_PID=$pid; return 0; }
            kill -0 $pid 2>/dev/null || break
            sleep 0.1
        done
        wait $pid 2>/dev/null || true
        grep -q "PACKET_FANOUT" "$OUT/gw$n.log" || { cat "$OUT/gw$n.log"; return 1; }
        echo "   gw$n: af_packet fanout group collision, starting again ($attempt)"
    done
    cat "$OUT/gw$n.log"; return 1
}
start_gw 1 -p net_af_packet0,iface=${P}u1 -r net_af_packet1,iface=${P}h1 -m 0x1 \
    --decap-dmac 02:00:00:00:01:01 --local-virt-ip 10.0.0.1 -n $U2_MAC \
    --uplink-ip fd00:1::1 -s 127.0.0.1:50151 -t 127.0.0.1:50152:10.0.0.2 ${STATIC_LATE:+-z} \
    --idle-backoff --stat-print --perf-print all ${TLS_ARGS1[@]+"${TLS_ARGS1[@]}"}
if [ -n "${STATIC_LATE:-}" ]; then sleep 2; fi
start_gw 2 -p net_af_packet0,iface=${P}u2 -r net_af_packet1,iface=${P}h2 -m 0x2 \
    --decap-dmac 02:00:00:00:02:02 --local-virt-ip 10.0.0.2 -n $U1_MAC \
    --uplink-ip fd00:1::2 -s 127.0.0.1:50152 -t 127.0.0.1:50151:10.0.0.1 \
    --idle-backoff --stat-print --perf-print all ${TLS_ARGS2[@]+"${TLS_ARGS2[@]}"}

if [ -n "${STATIC_LATE:-}" ]; then
    for _ in $(seq 100); do grep -q "tunnel up" "$OUT/gw1.log" && break; sleep 0.1; done
    grep -q "tunnel up" "$OUT/gw1.log" || { echo "FAIL: -z did not bring the tunnel up"; cat "$OUT/gw1.log"; exit 1; }
    echo "== -z: gw1 brought the tunnel up at startup (peer started late): $(grep -c 'tunnel request failed' "$OUT/gw1.log") failed attempts before"
fi
tcpdump -i ${P}u1 -w "$OUT/uplink.pcap" -U -s 0 >/dev/null 2>&1 &
CAP_PID=$!
sleep 0.5

echo "== ping vm1 -> vm2 (the first packet misses, is held, keys are exchanged, it is resubmitted)"
ip netns exec ${P}vm1 ping -c 5 -i 0.2 -W 2 10.0.0.2
echo "== TCP: 20 MB from vm1 to vm2"
ip netns exec ${P}vm2 python3 scripts/tcp_sink.py --listen 10.0.0.2:5201 > "$OUT/sink.txt" &
SINK_PID=$!
sleep 0.5
ip netns exec ${P}vm1 python3 scripts/tcp_sink.py --send 10.0.0.2:5201 --bytes 20000000 > "$OUT/source.txt"
wait $SINK_PID
echo "   sent:     $(cat "$OUT/source.txt")"
echo "   received: $(cat "$OUT/sink.txt")"
[ "$(cut -d' ' -f1-2 "$OUT/source.txt")" = "$(cut -d' ' -f1-2 "$OUT/sink.txt")" ] || { echo "FAIL: TCP data differs"; exit 1; }

kill -INT $CAP_PID; wait $CAP_PID 2>/dev/null || true; CAP_PID=""
echo "== the uplink capture"
python3 scripts/check_uplink.py "$OUT/uplink.pcap"

echo "== stopping the gateways (SIGINT): their counters"
kill -INT $GW1_PID $GW2_PID
wait $GW1_PID $GW2_PID || true
GW1_PID=""; GW2_PID=""
echo "--- gw1"; grep -v "^$" "$OUT/gw1.log" | tail -25
echo "--- gw2"; grep -v "^$" "$OUT/gw2.log" | tail -25
echo "two-gateways: OK (logs and uplink.pcap in $OUT/)"
