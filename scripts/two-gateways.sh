#!/usr/bin/env bash
# The main job: two psp-gateways on one machine, each between a "VM" (a
# network namespace) and a shared uplink (a veth pair), exchanging keys over
# gRPC on loopback. The VMs ping and send TCP to each other through
# on-demand PSP tunnels; the uplink is captured to show it carries only PSP
# (IPv6, UDP 1000) that does not reveal the payload. Then both gateways are
# stopped and print their counters. Everything it creates it removes.
#
#   vm1 (netns, 10.0.0.1) --veth-- [gw1] --pspgw-u1==pspgw-u2-- [gw2] --veth-- vm2 (netns, 10.0.0.2)
#   vm3 (netns, 10.0.0.3) --veth--/                                 \--veth-- vm4 (netns, 10.0.0.4)   (MULTI_VF=1)
#
# Run as root. OUT=dir keeps the logs and the uplink capture.
# TLS=1: the gateways talk mutual TLS (a CA and one certificate per gateway,
# made here with openssl).
# DEBUG_KEYS=1: both gateways run with -k/--debug-keys (keys in their logs).
# STATIC_LATE=1: gw1 connects at startup (-z) and gw2 starts 2 s later; the
# tunnel must come up by gw1's retries before any traffic, so no packet
# misses.
# DOCA28=1: DOCA 2.8 flags only (no --uplink-ip, no --idle-backoff): the
# gateways find their outer addresses on the uplink interfaces.
# MODE=transport: both gateways run --mode transport (DOCA 3.x): the VMs'
# IPv4 headers stay outermost on the uplink, with UDP 1000 and PSP after.
# PEERS_CONFIG=1: the gateways' addresses and peers come from DOCA 3.x
# -c/--config JSON files (no -s, --local-virt-ip or -t).
# INNER6=1: IPv6 VMs (fd00:10::1, fd00:10::2), --inner-ip-type ipv6; vm1
# also sends a neighbour solicitation of its own (scapy's, hop limit 255),
# which gw1's control plane answers.
# NEIGH_DYNAMIC=1: no static neighbours in the VMs: they resolve their
# peers by ARP (and neighbour solicitation with INNER6), which the gateways
# answer with their unsecured port's MAC; the neighbours learnt are shown.
# MULTI_VF=1: a second VF on each gateway (scripts/topology.sh): vm3 behind
# gw1, vm4 behind gw2. vm3 also pings vm4 (its own tunnel) and vm2 (a
# session of its own beside vm1's to vm2: gw2 admits each SPI from one
# inner source); vm3 sends
# UDP as 10.0.0.1 (vm1's address, gw1's other port), which gw1 drops
# (control.vf_src_refused) and vm2 never sees, while the same from vm1
# arrives; a capture in vm3 of what gw1 delivered to its port shows
# nothing for 10.0.0.1. Not with DOCA28, INNER6 or PEERS_CONFIG.
# STATUS_JSON=1: after the traffic, `psp-gateway status --json` of each
# gateway (per-session counters included) into $OUT/gwN-status.json.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f "${OUT:-demo-out}"/gw[12].log
source scripts/topology.sh
CAP_PID=""

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

echo "== starting two gateways (gRPC on 127.0.0.1:${PORT_BASE}1 and :${PORT_BASE}2, one core each)"
OURS=(--idle-backoff); [ -z "${DOCA28:-}" ] || OURS=()
[ -z "${MODE:-}" ] || OURS+=(--mode "$MODE")
start_gw 1 $(gw_args 1) ${STATIC_LATE:+-z} ${DEBUG_KEYS:+-k} \
    ${OURS[@]+"${OURS[@]}"} --stat-print --perf-print all ${TLS_ARGS1[@]+"${TLS_ARGS1[@]}"}
if [ -n "${STATIC_LATE:-}" ]; then sleep 2; fi
start_gw 2 $(gw_args 2) ${DEBUG_KEYS:+-k} \
    ${OURS[@]+"${OURS[@]}"} --stat-print --perf-print all ${TLS_ARGS2[@]+"${TLS_ARGS2[@]}"}

if [ -n "${STATIC_LATE:-}" ]; then
    for _ in $(seq 100); do grep -q "tunnel up" "$OUT/gw1.log" && break; sleep 0.1; done
    grep -q "tunnel up" "$OUT/gw1.log" || { echo "FAIL: -z did not bring the tunnel up"; cat "$OUT/gw1.log"; exit 1; }
    echo "== -z: gw1 brought the tunnel up at startup (peer started late): $(grep -c 'tunnel request failed' "$OUT/gw1.log") failed attempts before"
fi
# One capture per end of the uplink: af_packet's transmit path bypasses
# the qdisc, so a capture on one end sees only the frames it receives.
tcpdump -i ${P}u1 -w "$OUT/uplink.pcap" -U -s 0 >/dev/null 2>&1 &
CAP_PID=$!
tcpdump -i ${P}u2 -w "$OUT/uplink2.pcap" -U -s 0 >/dev/null 2>&1 &
CAP_PID="$CAP_PID $!"
if [ -n "${MULTI_VF:-}" ]; then
    # What gw1 delivers to vm3's port, seen where vm3 receives it: a
    # capture on the host end ${P}h3 would not see it (the af_packet
    # transmit path bypasses the qdisc and its taps).
    ip netns exec ${P}vm3 tcpdump -i v3 -Q in -w "$OUT/vm3-in.pcap" -U -s 128 >/dev/null 2>&1 &
    CAP_PID="$CAP_PID $!"
fi
EXTRA_PIDS=$CAP_PID
sleep 0.5

echo "== ping vm1 -> vm2 (the first packet misses, is held, keys are exchanged, it is resubmitted)"
ip netns exec ${P}vm1 ping -c 5 -i 0.2 -W 2 $VM2_IP
SPOOF_N=5
if [ -n "${MULTI_VF:-}" ]; then
    echo "== ping vm3 -> vm4 (gw1's second VF to gw2's second VF: a tunnel of its own, 10.0.0.3 -> 10.0.0.4)"
    ip netns exec ${P}vm3 ping -c 5 -i 0.2 -W 2 10.0.0.4
    echo "== ping vm3 -> vm2 (gw1's second VM to the VM vm1 has a tunnel to: a session of its own, 10.0.0.3 -> 10.0.0.2)"
    ip netns exec ${P}vm3 ping -c 5 -i 0.2 -W 2 10.0.0.2
    echo "== spoof: vm3 sends $SPOOF_N UDP packets as 10.0.0.1 (vm1's address, gw1's other port) to 10.0.0.2:7007, then vm1 one as itself"
    ip netns exec ${P}vm2 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.0.0.2', 7007)); s.settimeout(0.2)
got = []; end = time.time() + 4
while time.time() < end:
    try: got.append(s.recv(100).decode())
    except socket.timeout: pass
print(' '.join(got))" > "$OUT/spoof-recv.txt" &
    RECV_PID=$!
    sleep 0.5
    ip netns exec ${P}vm3 python3 -c "
from scapy.all import Ether, IP, UDP, Raw, sendp
sendp([Ether(src='02:00:00:00:03:03', dst='02:00:00:00:02:02') / IP(src='10.0.0.1', dst='10.0.0.2')
       / UDP(sport=7007, dport=7007) / Raw(b'spoofed-%d' % i) for i in range($SPOOF_N)],
      iface='v3', inter=0.05, verbose=False)"
    sleep 0.3
    ip netns exec ${P}vm1 python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.0.0.1', 7007))
s.sendto(b'genuine', ('10.0.0.2', 7007))"
    wait $RECV_PID
    spoofed=$(tr ' ' '\n' < "$OUT/spoof-recv.txt" | awk '/^spoofed-/ { n++ } END { print n + 0 }')
    genuine=$(tr ' ' '\n' < "$OUT/spoof-recv.txt" | awk '/^genuine$/ { n++ } END { print n + 0 }')
    echo "   vm2 received: $spoofed of $SPOOF_N spoofed, $genuine of 1 genuine"
    [ "$spoofed" = 0 ] || { echo "FAIL: packets spoofed as 10.0.0.1 from vm3's port reached vm2"; exit 1; }
    [ "$genuine" = 1 ] || { echo "FAIL: vm1's own UDP packet did not reach vm2 (the spoof check proves nothing)"; exit 1; }
fi
if [ -n "${INNER6:-}" ]; then
    echo "== vm1: a neighbour solicitation for $VM2_IP (to gw1's control plane, as ARP)"
    ip netns exec ${P}vm1 python3 -c "
from scapy.all import Ether, IPv6, ICMPv6ND_NS, sendp
sendp(Ether(src='02:00:00:00:01:01', dst='33:33:ff:00:00:02') / IPv6(src='fd00:10::1', dst='ff02::1:ff00:2')
      / ICMPv6ND_NS(tgt='fd00:10::2'), iface='v1', verbose=False)"
fi
if [ -n "${NEIGH_DYNAMIC:-}" ]; then
    # With INNER6 the IPv4 ping is dropped at gw1's root; its ARP is answered first.
    [ -z "${INNER6:-}" ] || ip netns exec ${P}vm1 ping -c 1 -W 1 10.0.0.2 >/dev/null 2>&1 || true
    echo "== neighbours learnt (gateway ports:$(for i in $VMS; do printf ' h%s %s' $i "$(cat /sys/class/net/${P}h$i/address)"; done))"
    for i in $VMS; do
        echo "   vm$i: $(ip netns exec ${P}vm$i ip neigh show dev v$i | tr '\n' ';')"
    done
fi
echo "== TCP: 20 MB from vm1 to vm2"
ip netns exec ${P}vm2 python3 scripts/tcp_sink.py --listen $VM2_HOSTPORT_PREFIX:5201 > "$OUT/sink.txt" &
SINK_PID=$!
sleep 0.5
ip netns exec ${P}vm1 python3 scripts/tcp_sink.py --send $VM2_HOSTPORT_PREFIX:5201 --bytes 20000000 > "$OUT/source.txt"
wait $SINK_PID
echo "   sent:     $(cat "$OUT/source.txt")"
echo "   received: $(cat "$OUT/sink.txt")"
[ "$(cut -d' ' -f1-2 "$OUT/source.txt")" = "$(cut -d' ' -f1-2 "$OUT/sink.txt")" ] || { echo "FAIL: TCP data differs"; exit 1; }

if [ -n "${STATUS_JSON:-}" ]; then
    echo "== status of each gateway (psp-gateway status --json)"
    "$GW" status -s 127.0.0.1:${PORT_BASE}1 --json ${TLS_ARGS1[@]+"${TLS_ARGS1[@]}"} > "$OUT/gw1-status.json"
    "$GW" status -s 127.0.0.1:${PORT_BASE}2 --json ${TLS_ARGS2[@]+"${TLS_ARGS2[@]}"} > "$OUT/gw2-status.json"
    "$GW" status -s 127.0.0.1:${PORT_BASE}1 ${TLS_ARGS1[@]+"${TLS_ARGS1[@]}"} | sed -n '/^tunnels/,/^$/p'
fi
kill -INT $CAP_PID; wait $CAP_PID 2>/dev/null || true; CAP_PID=""; EXTRA_PIDS=""
echo "== the uplink capture"
python3 scripts/check_uplink.py ${MODE:+--$MODE} "$OUT/uplink.pcap" "$OUT/uplink2.pcap"
if [ -n "${MULTI_VF:-}" ]; then
    to3=$(tcpdump -r "$OUT/vm3-in.pcap" -n 'ip dst host 10.0.0.3' 2>/dev/null | wc -l)
    to1=$(tcpdump -r "$OUT/vm3-in.pcap" -n 'ip dst host 10.0.0.1' 2>/dev/null | wc -l)
    echo "== per-port delivery: gw1 delivered to vm3's port $to3 frames for 10.0.0.3, $to1 for 10.0.0.1"
    [ "$to1" = 0 ] || { echo "FAIL: frames for vm1 (10.0.0.1) were delivered to vm3's port"; exit 1; }
    [ "$to3" -ge 5 ] || { echo "FAIL: vm4's ping replies did not reach vm3's port"; exit 1; }
fi

echo "== stopping the gateways (SIGINT): their counters"
kill -INT $GW1_PID $GW2_PID
wait $GW1_PID $GW2_PID || true
GW1_PID=""; GW2_PID=""
echo "--- gw1"; grep -v "^$" "$OUT/gw1.log" | tail -25
echo "--- gw2"; grep -v "^$" "$OUT/gw2.log" | tail -25
echo "two-gateways: OK (logs, uplink.pcap and uplink2.pcap in $OUT/)"
