#!/usr/bin/env bash
# Faults in the two-gateway setup (scripts/topology.sh), each with real
# traffic (scripts/udp_stream.py: paced UDP with sequence numbers) and a
# verdict. Run as root. OUT=dir keeps the logs (default demo-out/faults).
#
#   scripts/faults.sh restart    gw2 is killed (SIGKILL) and started again
#                                with new master keys while vm1 streams to
#                                vm2 (one way: gw1 must notice on its own);
#                                delivery must resume within 2 s of gw2's
#                                gRPC service being back.
#   scripts/faults.sh rotation   both gateways rotate their master keys every
#                                2 s (--key-rotation-interval 2) under
#                                streams both ways for 14 s: no datagram lost.
#   scripts/faults.sh shutdown   SIGTERM to both gateways under a fast
#                                stream: each prints its final counters,
#                                which agree with what the VMs saw, and no
#                                hugepage file or DPDK runtime directory is
#                                left (hugepages are reserved and mounted
#                                for the run when the machine has none).
#   scripts/faults.sh slowpeer   gw1 also serves 10.0.0.3 through a peer that
#                                accepts connections and never answers; vm1
#                                floods 10.0.0.3 while it streams to and
#                                pings vm2: held packets stay bounded, the
#                                requests to the dead peer back off, and
#                                vm2's traffic loses nothing.
#   scripts/faults.sh startup [N]
#                                gw1 and gw2 started at the same instant N
#                                times (default 20): each comes up on its
#                                first start although the af_packet PMD's
#                                fanout groups can collide; then a collision
#                                made certain (a pid namespace and a
#                                squatter): the gateway starts itself again
#                                under a new pid and carries traffic.
#   scripts/faults.sh soak [SECONDS]
#                                mixed traffic (UDP both ways, TCP bursts,
#                                ping) for SECONDS (default 600) with key
#                                rotations every 5 s and a gw2 restart
#                                halfway; prints sent versus delivered and
#                                every drop counter of both gateways.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: scripts/faults.sh restart|rotation|shutdown|slowpeer|startup [N]|soak [SECONDS]}
OUT=${OUT:-demo-out/faults-$MODE}
rm -rf "$OUT"; mkdir -p "$OUT"

HUGE_RESTORE=""
if [ "$MODE" = shutdown ] && [ "$(cat /proc/sys/vm/nr_hugepages)" = 0 ]; then
    # Two gateways of 512 MB each, in 2 MB pages.
    echo 1100 > /proc/sys/vm/nr_hugepages
    HUGE_RESTORE=1
    if ! mountpoint -q /dev/hugepages; then
        mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages && HUGE_RESTORE=2
    fi
fi
restore_huge() {
    [ "$HUGE_RESTORE" = 2 ] && umount /dev/hugepages
    [ -n "$HUGE_RESTORE" ] && echo 0 > /proc/sys/vm/nr_hugepages
    return 0
}
CLEANUP_HOOK=restore_huge
# Its own topology: slowpeer's silent peer serves 10.0.0.3, MULTI_VF's vm3.
if [ -n "${MULTI_VF:-}" ]; then
    echo "faults.sh: MULTI_VF is for two-gateways.sh (slowpeer uses 10.0.0.3, vm3's address)" >&2
    exit 2
fi
source scripts/topology.sh

vm() { local n=$1; shift; ip netns exec ${P}vm$n "$@"; }
now() { date +%s.%N; }
# stream FROM TO PPS SECONDS TAG: a receiver in vm TO and a sender in vm FROM
# (background; results in $OUT/TAG.recv and $OUT/TAG.sent).
stream() {
    local from=$1 to=$2 pps=$3 secs=$4 tag=$5
    vm $to python3 scripts/udp_stream.py --recv 10.0.0.$to:600$to --seconds $((secs + 30)) \
        --idle 4 > "$OUT/$tag.recv" &
    EXTRA_PIDS="$EXTRA_PIDS $!"; STREAM_PIDS="$STREAM_PIDS $!"
    sleep 0.3
    vm $from python3 scripts/udp_stream.py --send 10.0.0.$to:600$to --pps $pps \
        --seconds $secs > "$OUT/$tag.sent" &
    EXTRA_PIDS="$EXTRA_PIDS $!"; STREAM_PIDS="$STREAM_PIDS $!"
}
STREAM_PIDS=""
wait_streams() { for pid in $STREAM_PIDS; do wait $pid 2>/dev/null || true; done; STREAM_PIDS=""; }
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }
stop_gws() {
    kill -TERM $GW1_PID $GW2_PID 2>/dev/null || true
    wait $GW1_PID $GW2_PID 2>/dev/null || true
    GW1_PID=""; GW2_PID=""
}
# stat N KEY.PATH...: values from gateway N's final --stats-json report.
stat() { python3 scripts/gw_stats.py "$OUT/gw$1.stats.jsonl" "${@:2}"; }
counters() { # gateway N's final delivery counters and every drop that is not zero
    echo "   gw$1: encrypted $(stat $1 pipes.fwd_to_wire.packets), decrypted $(stat $1 pipes.fwd_to_unsecured.packets); drops:"
    stat $1 --drops | sed 's/^/     /'
}

COMMON=(--idle-backoff --stat-print)
case "$MODE" in
restart)
    start_gw 1 $(gw_args 1) "${COMMON[@]}"
    start_gw 2 $(gw_args 2) "${COMMON[@]}"
    echo "== vm1 -> vm2: 500 datagrams/s for 12 s; gw2 is killed at 4 s and restarted at 5 s"
    stream 1 2 500 12 fwd
    sleep 4
    kill -KILL $GW2_PID; wait $GW2_PID 2>/dev/null || true; GW2_PID=""
    echo "   gw2 killed at $(now)"
    sleep 1
    start_gw 2 $(gw_args 2) "${COMMON[@]}"
    UP=$(now)
    echo "   gw2 serving again at $UP (new instance, new master keys)"
    wait_streams
    python3 - "$OUT/fwd.recv" "$OUT/fwd.sent" "$UP" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); sent = json.load(open(sys.argv[2]))["sent"]; up = float(sys.argv[3])
gaps = [g for g in r["gaps"] if g[1] > up]
assert gaps, f"no outage seen after the restart: {r}"
resumed = min(g[1] for g in gaps) - up
print(f"   sent {sent}, delivered {r['unique']}; outage {gaps[0][2]} s; "
      f"delivery resumed {resumed:.3f} s after gw2 was back")
assert resumed < 2.0, f"traffic recovered {resumed:.3f} s after the restart (goal: under 2 s)"
PY
    grep -h "re-keying\|peer unreachable" "$OUT/gw1.log" | sed 's/^/   gw1: /' | head -5
    stop_gws
    echo "faults restart: OK"
    ;;
rotation)
    start_gw 1 $(gw_args 1) "${COMMON[@]}" --key-rotation-interval 2
    start_gw 2 $(gw_args 2) "${COMMON[@]}" --key-rotation-interval 2
    echo "== both ways: 400 datagrams/s for 14 s, each gateway rotating its master key every 2 s"
    stream 1 2 400 14 fwd
    stream 2 1 400 14 rev
    wait_streams
    stop_gws
    for t in fwd rev; do
        s=$(json "$OUT/$t.sent" sent); r=$(json "$OUT/$t.recv" unique)
        echo "   $t: sent $s, delivered $r"
        [ "$s" = "$r" ] || { echo "FAIL: $t lost $((s - r)) datagrams across rotations"; counters 1; counters 2; exit 1; }
    done
    for n in 1 2; do
        echo "   gw$n: $(stat $n control.master_key_rotations) rotations, $(stat $n control.rekeys) re-keys of its peer's tunnels"
    done
    echo "faults rotation: OK"
    ;;
shutdown)
    start_gw 1 $(gw_args 1) "${COMMON[@]}"
    start_gw 2 $(gw_args 2) "${COMMON[@]}"
    for n in 1 2; do
        grep -q "no-huge" "$OUT/gw$n.log" && echo "   gw$n runs without hugepages (--no-huge)" \
            || echo "   gw$n runs on hugepages"
    done
    echo "== vm1 -> vm2 at 20000 datagrams/s; SIGTERM to both gateways after 3 s"
    stream 1 2 20000 6 fwd
    sleep 3
    PREFIXES="pspgw-$GW1_PID pspgw-$GW2_PID"
    stop_gws
    wait_streams
    python3 - "$OUT/fwd.recv" "$(stat 1 pipes.fwd_to_wire.packets)" "$(stat 2 pipes.fwd_to_unsecured.packets)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
enc1, dec2 = int(sys.argv[2]), int(sys.argv[3])
print(f"   gw1 encrypted {enc1}, gw2 decrypted {dec2}, vm2 received {r['unique']}")
assert dec2 >= r["unique"], "gw2 reports fewer packets than vm2 received: counters lost"
assert enc1 >= dec2, "gw2 decrypted more than gw1 encrypted: counters lost"
assert r["unique"] > 0
PY
    for p in $PREFIXES; do
        left=$(ls /dev/hugepages 2>/dev/null | grep -c "$p" || true)
        [ "$left" = 0 ] || { echo "FAIL: $left hugepage files of $p left"; ls -l /dev/hugepages; exit 1; }
        [ ! -e /var/run/dpdk/$p ] || { echo "FAIL: /var/run/dpdk/$p left"; exit 1; }
    done
    echo "   no hugepage files and no DPDK runtime directories left"
    echo "faults shutdown: OK"
    ;;
slowpeer)
    python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', ${PORT_BASE}9)); s.listen(64); conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, never answer
" &
    EXTRA_PIDS="$EXTRA_PIDS $!"; BLACKHOLE=$!
    start_gw 1 $(gw_args 1) -t 127.0.0.1:${PORT_BASE}9:10.0.0.3 "${COMMON[@]}"
    start_gw 2 $(gw_args 2) "${COMMON[@]}"
    vm 1 ip neigh add 10.0.0.3 lladdr 02:00:00:00:02:02 dev v1
    echo "== vm1 floods 10.0.0.3 (silent peer) at 2000/s while streaming 500/s to vm2 and pinging it, 8 s"
    vm 1 python3 scripts/udp_stream.py --send 10.0.0.3:9 --pps 2000 --seconds 8 > "$OUT/flood.sent" &
    FLOOD=$!
    stream 1 2 500 8 fwd
    vm 1 ping -q -c 30 -i 0.25 -W 1 10.0.0.2 > "$OUT/ping.txt" 2>&1 || true
    wait $FLOOD; wait_streams
    kill $BLACKHOLE 2>/dev/null || true
    stop_gws
    s=$(json "$OUT/fwd.sent" sent); r=$(json "$OUT/fwd.recv" unique)
    echo "   vm1 -> vm2 stream: sent $s, delivered $r; $(grep 'packets transmitted' "$OUT/ping.txt")"
    [ "$s" = "$r" ] || { echo "FAIL: traffic to the live peer lost $((s - r)) datagrams"; exit 1; }
    grep -q " 0% packet loss" "$OUT/ping.txt" || { echo "FAIL: ping to the live peer lost packets"; exit 1; }
    # Only the silent peer's requests fail here, so the totals are its.
    held=$(stat 1 control.held_dropped)
    failed=$(stat 1 control.tunnel_requests_failed)
    echo "   gw1: $held held packets to 10.0.0.3 dropped (64 kept at most), $failed requests to the silent peer in 8 s (backing off)"
    [ "$held" -gt 0 ] || { echo "FAIL: no held packet dropped"; counters 1; exit 1; }
    [ "$failed" -le 6 ] || { echo "FAIL: $failed requests in 8 s: no back-off"; exit 1; }
    echo "faults slowpeer: OK"
    ;;
soak)
    SECS=${2:-600}
    start_gw 1 $(gw_args 1) "${COMMON[@]}" --key-rotation-interval 5
    start_gw 2 $(gw_args 2) "${COMMON[@]}" --key-rotation-interval 5
    echo "== soak: $SECS s of UDP both ways (300/s each), TCP bursts and ping; rotations every 5 s; gw2 restarted at $((SECS / 2)) s"
    stream 1 2 300 $SECS fwd
    stream 2 1 300 $SECS rev
    vm 1 ping -q -i 0.5 -w $SECS 10.0.0.2 > "$OUT/ping.txt" 2>&1 &
    PING_PID=$!; EXTRA_PIDS="$EXTRA_PIDS $PING_PID"
    START=$(date +%s); TCP_OK=0; TCP_FAIL=0; RESTARTED=""
    while [ $(( $(date +%s) - START )) -lt $SECS ]; do
        if [ -z "$RESTARTED" ] && [ $(( $(date +%s) - START )) -ge $((SECS / 2)) ]; then
            kill -KILL $GW2_PID; wait $GW2_PID 2>/dev/null || true
            mv "$OUT/gw2.log" "$OUT/gw2-before-restart.log"
            start_gw 2 $(gw_args 2) "${COMMON[@]}" --key-rotation-interval 5
            RESTARTED=$(now); echo "   gw2 restarted at $RESTARTED"
        fi
        vm 2 timeout 20 python3 scripts/tcp_sink.py --listen 10.0.0.2:5201 > "$OUT/sink.txt" &
        sink=$!; sleep 0.3
        if vm 1 timeout 20 python3 scripts/tcp_sink.py --send 10.0.0.2:5201 --bytes 2000000 > "$OUT/source.txt" \
            && wait $sink && [ "$(cut -d' ' -f1-2 "$OUT/source.txt")" = "$(cut -d' ' -f1-2 "$OUT/sink.txt")" ]; then
            TCP_OK=$((TCP_OK + 1))
        else
            TCP_FAIL=$((TCP_FAIL + 1)); wait $sink 2>/dev/null || true
        fi
        sleep 5
    done
    wait_streams; wait $PING_PID 2>/dev/null || true
    stop_gws
    echo "== soak results ($SECS s)"
    for t in fwd rev; do
        python3 - "$OUT/$t.sent" "$OUT/$t.recv" "$t" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sent"]; r = json.load(open(sys.argv[2]))
lost = s - r["unique"]
print(f"   UDP {sys.argv[3]}: sent {s}, delivered {r['unique']} ({lost} lost, {100*lost/max(s,1):.3f}%), "
      f"{r['duplicates']} duplicates, outages over 0.25 s: {[g[2] for g in r['gaps']]}")
PY
    done
    echo "   TCP 2 MB transfers: $TCP_OK intact, $TCP_FAIL failed"
    echo "   ping: $(grep -E 'packets transmitted' "$OUT/ping.txt")"
    for n in 1 2; do echo "--- gw$n final counters"; counters $n; done
    echo "--- gw2 before its restart"; grep -E "^psp-gateway:" "$OUT/gw2-before-restart.log" || echo "   (killed: no final counters)"
    echo "faults soak: done"
    ;;
startup)
    # Two gateways started at the same instant, N times: DPDK 22.11's
    # af_packet PMD names its fanout groups pid ^ ifindex, so two processes
    # collide now and then; each gateway must still come up on its first
    # start, and stop cleanly.
    N=${2:-20}
    echo "== $N times: gw1 and gw2 started together, then stopped (SIGTERM)"
    for i in $(seq $N); do
        launch_gw 1 $(gw_args 1) "${COMMON[@]}"
        launch_gw 2 $(gw_args 2) "${COMMON[@]}"
        wait_gw 1 || { echo "FAIL: start $i: gw1 did not come up on its first start"; exit 1; }
        wait_gw 2 || { echo "FAIL: start $i: gw2 did not come up on its first start"; exit 1; }
        kill -TERM $GW1_PID $GW2_PID
        for n in 1 2; do
            eval pid=\$GW${n}_PID
            rc=0; wait $pid || rc=$?
            [ $rc = 0 ] || { echo "FAIL: start $i: gw$n exited $rc after SIGTERM"; tail -20 "$OUT/gw$n.log"; exit 1; }
        done
        GW1_PID=""; GW2_PID=""
    done
    RESTARTS=$(cat "$OUT"/gw[12].log | grep -c "starting again under a new pid" || true)
    echo "   $((2 * N)) of $((2 * N)) gateways up on their first start; $RESTARTS met a fanout" \
         "group collision and started themselves again under a new pid"
    # A collision made certain: gw1 is pid 1 of a new pid namespace, and a
    # squatter holds fanout group 1 ^ ifindex(${P}u1) on another interface.
    IFINDEX=$(cat /sys/class/net/${P}u1/ifindex); GROUP=$(( (1 ^ IFINDEX) & 0xffff ))
    echo "== gw1 as pid 1 of a pid namespace; fanout group $GROUP held on ${P}h2 by another process"
    python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind((sys.argv[1], 0x0003))
s.setsockopt(263, 18, struct.pack("I", int(sys.argv[2]) | (0x8000 | 0x1000) << 16))  # SOL_PACKET, PACKET_FANOUT
print("holding", flush=True)
time.sleep(300)' ${P}h2 $GROUP > "$OUT/squatter.txt" &
    SQUATTER=$!; EXTRA_PIDS="$EXTRA_PIDS $SQUATTER"
    for _ in $(seq 50); do grep -q holding "$OUT/squatter.txt" && break; sleep 0.1; done
    grep -q holding "$OUT/squatter.txt" || { echo "FAIL: the squatter could not hold group $GROUP"; exit 1; }
    LAUNCH_WRAP="unshare --pid --fork --kill-child" launch_gw 1 $(gw_args 1) "${COMMON[@]}"
    launch_gw 2 $(gw_args 2) "${COMMON[@]}"
    wait_gw 1 || { echo "FAIL: gw1 did not come up past the collision"; exit 1; }
    wait_gw 2 || { echo "FAIL: gw2 did not come up"; exit 1; }
    grep -q "fanout group $GROUP of ${P}u1 (pid 1 ^ ifindex $IFINDEX) is held by another process" "$OUT/gw1.log" ||
        { echo "FAIL: gw1 did not see the collision"; tail -20 "$OUT/gw1.log"; exit 1; }
    echo "   gw1 saw it: $(grep -o 'fanout group [0-9]* of .*new pid' "$OUT/gw1.log" | tail -1)"
    vm 1 ping -c 3 -i 0.2 -W 2 10.0.0.2 | grep 'packets transmitted' | sed 's/^/   ping vm1 -> vm2 through the restarted gw1: /'
    # SIGTERM to the supervisor (unshare's child) reaches the gateway, which
    # prints its counters; the supervisor exits with its status.
    SUP=$(pgrep -P $GW1_PID)
    kill -TERM $SUP
    rc=0; wait $GW1_PID || rc=$?; GW1_PID=""
    [ $rc = 0 ] || { echo "FAIL: supervised gw1 exited $rc after SIGTERM"; tail -20 "$OUT/gw1.log"; exit 1; }
    tail -n +$((GW1_MARK + 1)) "$OUT/gw1.log" | grep -q "^psp-gateway: " ||
        { echo "FAIL: the supervised gw1 printed no final counters"; exit 1; }
    echo "   SIGTERM to the supervisor: gw1 stopped with its counters, exit 0"
    stop_gws
    kill $SQUATTER; wait $SQUATTER 2>/dev/null || true; EXTRA_PIDS=""
    echo "faults startup: OK"
    ;;
*) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
