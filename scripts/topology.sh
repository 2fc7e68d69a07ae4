# Sourced by two-gateways.sh, faults.sh and soak runs: the two-gateway
# topology on one machine, and starting/stopping its gateways.
#
#   vm1 (netns, 10.0.0.1) --veth-- [gw1] --pspgw-u1==pspgw-u2-- [gw2] --veth-- vm2 (netns, 10.0.0.2)
#
# Needs root. Uses: GW (gateway binary; built when unset), OUT (log dir),
# PORT_BASE (gRPC ports PORT_BASE1 and PORT_BASE2; default 5015),
# DOCA28 (set: the uplink veths carry fd00:1::1 and fd00:1::2 and gw_args
# gives no --uplink-ip: the gateways derive it, as DOCA does), INNER6 (set:
# the VMs also carry fd00:10::1 and fd00:10::2, and gw_args runs the
# gateways with --inner-ip-type ipv6 on those), PEERS_CONFIG (set: each
# gateway gets its gRPC address, virtual IP and peer from a DOCA 3.x
# -c/--config file, $OUT/peersN.json, instead of -s, --local-virt-ip, -t,
# and its device as DOCA 3.1's -s instead of -p),
# NEIGH_DYNAMIC (set: the VMs get no static neighbours and resolve their
# peers by ARP and neighbour solicitation, which the gateways answer),
# MULTI_VF (set: each gateway gets a second unsecured port, gw1 ${P}h3 to
# vm3 (10.0.0.3) and gw2 ${P}h4 to vm4 (10.0.0.4), beside h1 to vm1 and h2
# to vm2; gw_args gives two -r (net_af_packet1, net_af_packet2), one
# --local-virt-ip and one --decap-dmac per port, and a -t naming both of
# the peer's VMs; not with DOCA28, INNER6 or PEERS_CONFIG).
# Sets VM1_IP, VM2_IP (the VMs' virtual addresses the gateways tunnel),
# VM2_HOSTPORT_PREFIX (VM2_IP as host of a host:port, IPv6 in brackets) and
# VMS (the VMs' numbers: 1 2, with MULTI_VF 1 2 3 4).
# Sets: P (name prefix), U1_MAC, U2_MAC, GW1_PID, GW2_PID, and an EXIT trap
# that removes everything created (EXTRA_PIDS are killed too).
[ "$(id -u)" -eq 0 ] || { echo "$(basename "$0"): run as root (namespaces, veths, DPDK)" >&2; exit 1; }
if [ -n "${MULTI_VF:-}" ]; then
    for v in DOCA28 INNER6 PEERS_CONFIG; do
        [ -z "${!v:-}" ] || { echo "$(basename "$0"): MULTI_VF=1 does not go with $v (the second VFs are IPv4, given by -r, --local-virt-ip and -t)" >&2; exit 1; }
    done
    VMS="1 2 3 4"
else
    VMS="1 2"
fi
scripts/setup.sh
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet --bin psp-gateway
    GW=target/release/psp-gateway
fi
OUT=${OUT:-demo-out}
PORT_BASE=${PORT_BASE:-5015}
mkdir -p "$OUT"
P=pspgw$$
GW1_PID=""; GW2_PID=""; EXTRA_PIDS=""

cleanup() {
    set +e
    for pid in $GW1_PID $GW2_PID $EXTRA_PIDS; do kill -INT "$pid" 2>/dev/null; done
    sleep 1
    for pid in $GW1_PID $GW2_PID $EXTRA_PIDS; do kill -KILL "$pid" 2>/dev/null; done
    for i in $VMS; do ip netns del ${P}vm$i 2>/dev/null; done
    ip link del ${P}u1 2>/dev/null
    for i in $VMS; do ip link del ${P}h$i 2>/dev/null; done
    [ -z "${CLEANUP_HOOK:-}" ] || $CLEANUP_HOOK
}
trap cleanup EXIT

source scripts/netns.sh

# The uplink.
ip link add ${P}u1 type veth peer name ${P}u2
for l in ${P}u1 ${P}u2; do quiet_link $l; ip link set $l up; done
if [ -n "${DOCA28:-}" ]; then
    # The gateways' outer addresses on the uplink interfaces themselves,
    # where DOCA finds its PF's. IPv6 on, but silent: no link-local
    # address, no DAD, no router solicitations, MLD reports over at once.
    for i in 1 2; do
        l=${P}u$i
        for kv in addr_gen_mode=1 accept_dad=0 accept_ra=0 router_solicitations=0 \
                  mldv1_unsolicited_report_interval=1 mldv2_unsolicited_report_interval=1 \
                  disable_ipv6=0; do
            sysctl -qw net.ipv6.conf.$l.$kv 2>/dev/null || true
        done
        ip addr add fd00:1::$i/128 dev $l nodad noprefixroute
    done
fi
# The VMs: vm1 and vm3 behind gw1, vm2 and vm4 behind gw2; each may talk
# to every VM behind the other gateway (odd with even).
for i in $VMS; do make_vm $i $i; done
if [ -z "${NEIGH_DYNAMIC:-}" ]; then
    for i in $VMS; do
        for o in $VMS; do
            [ $(( (i + o) % 2 )) = 1 ] || continue
            ip netns exec ${P}vm$i ip neigh add 10.0.0.$o lladdr 02:00:00:00:0$o:0$o dev v$i
        done
    done
fi
VM1_IP=10.0.0.1; VM2_IP=10.0.0.2; VM2_HOSTPORT_PREFIX=10.0.0.2
if [ -n "${INNER6:-}" ]; then
    # IPv6 VMs, quiet: no link-local address, no DAD, no router
    # solicitations; neighbours static, as for IPv4 above.
    for i in 1 2; do
        o=$((3 - i))
        ip netns exec ${P}vm$i sh -c "
            for kv in addr_gen_mode=1 accept_dad=0 accept_ra=0 router_solicitations=0 disable_ipv6=0; do
                sysctl -qw net.ipv6.conf.all.\${kv%%=*}=\${kv#*=} 2>/dev/null
                sysctl -qw net.ipv6.conf.v$i.\$kv 2>/dev/null
            done
            ip addr add fd00:10::$i/64 dev v$i nodad
            [ -n '${NEIGH_DYNAMIC:-}' ] ||
                ip -6 neigh add fd00:10::$o lladdr 02:00:00:00:0$o:0$o dev v$i nud permanent"
    done
    VM1_IP=fd00:10::1; VM2_IP=fd00:10::2; VM2_HOSTPORT_PREFIX=[fd00:10::2]
fi
U1_MAC=$(cat /sys/class/net/${P}u1/address); U2_MAC=$(cat /sys/class/net/${P}u2/address)

# gw_args N: the ports, addresses and peer of gateway N (1 or 2).
gw_args() {
    local n=$1 o=$((3 - $1))
    local mac; if [ "$n" = 1 ]; then mac=$U2_MAC; else mac=$U1_MAC; fi
    if [ -n "${MULTI_VF:-}" ]; then
        # Port 0 to VM n, port 1 to VM n+2; the peer's VMs o and o+2.
        local m=$((n + 2))
        echo -p net_af_packet0,iface=${P}u$n -m 0x$n -n $mac --uplink-ip fd00:1::$n \
            -r net_af_packet1,iface=${P}h$n -r net_af_packet2,iface=${P}h$m \
            --local-virt-ip 10.0.0.$n --local-virt-ip 10.0.0.$m \
            --decap-dmac 02:00:00:00:0$n:0$n --decap-dmac 02:00:00:00:0$m:0$m \
            -s 127.0.0.1:${PORT_BASE}$n -t 127.0.0.1:${PORT_BASE}$o:10.0.0.$o,10.0.0.$((o + 2))
        return
    fi
    # PEERS_CONFIG: a DOCA 3.1+ command line, the device as -s.
    local dev=-p; [ -z "${PEERS_CONFIG:-}" ] || dev=-s
    echo $dev net_af_packet0,iface=${P}u$n -r net_af_packet1,iface=${P}h$n -m 0x$n \
        --decap-dmac 02:00:00:00:0$n:0$n -n $mac \
        $([ -n "${DOCA28:-}" ] || echo --uplink-ip fd00:1::$n) \
        $(if [ -n "${PEERS_CONFIG:-}" ]; then
            peers_config $n > "$OUT/peers$n.json"
            echo -c "$OUT/peers$n.json" $([ -z "${INNER6:-}" ] || echo --inner-ip-type ipv6)
          elif [ -n "${INNER6:-}" ]; then
            echo -s 127.0.0.1:${PORT_BASE}$n
            echo --inner-ip-type ipv6 --local-virt-ip fd00:10::$n -t "127.0.0.1:${PORT_BASE}$o:[fd00:10::$o]"
          else
            echo -s 127.0.0.1:${PORT_BASE}$n --local-virt-ip 10.0.0.$n -t 127.0.0.1:${PORT_BASE}$o:10.0.0.$o
          fi)
}

# peers_config N: gateway N's DOCA 3.x -c/--config file: its own gRPC
# address and virtual IP, and the other gateway as its one peer.
peers_config() {
    local n=$1 o=$((3 - $1)) ip=10.0.0.
    [ -z "${INNER6:-}" ] || ip=fd00:10::
    cat <<JSON
{
    "config": { "local-grpc-address": "127.0.0.1:${PORT_BASE}$n" },
    "peers": [
        { "remote-grpc-address": "127.0.0.1:${PORT_BASE}$o",
          "sessions": [ { "local-vip": "$ip$n", "remote-vips": ["$ip$o"] } ] }
    ]
}
JSON
}

# launch_gw N ARGS...: starts gateway N in the background (log appended to
# $OUT/gwN.log, JSON statistics reports to $OUT/gwN.stats.jsonl unless
# DOCA28 is set; GWN_PID
# set, GWN_MARK its log's length before, GWN_STATUS the `psp-gateway
# status` arguments that reach it: its -s/--svc-addr, else the address
# gw_args and peers_config give it, and its TLS files).
# LAUNCH_WRAP (optional) is a command put before the gateway.
launch_gw() {
    local n=$1; shift
    local log="$OUT/gw$n.log"
    local mark=0; [ -f "$log" ] && mark=$(wc -l < "$log")
    local svc=127.0.0.1:${PORT_BASE}$n tls="" prev=""
    for a in "$@"; do
        case $prev in
            # (-s with a device is DOCA 3.1's --device.)
            -s|--svc-addr) case $a in net_*) ;; *) svc=$a ;; esac ;;
            --grpc-cert|--grpc-key|--grpc-ca) tls="$tls $prev $a" ;;
        esac
        prev=$a
    done
    # A DOCA 2.8 command line stays one: no flag of ours, not even this.
    local stats=(--stats-json "$OUT/gw$n.stats.jsonl"); [ -z "${DOCA28:-}" ] || stats=()
    echo "+ psp-gateway $* ${stats[*]}" >> "$log"
    ${LAUNCH_WRAP:-} $GW "$@" "${stats[@]}" >> "$log" 2>&1 &
    eval GW${n}_PID=$!; eval GW${n}_MARK=$mark; eval "GW${n}_STATUS='-s $svc$tls'"
}
# wait_gw N: waits (15 s at most) until gateway N answers `psp-gateway
# status` (its gRPC service is up: the README's readiness check); fails
# with its log if the process ends first. A gateway comes up on its first
# start: when DPDK's af_packet PMD would collide with another process's
# fanout group, the gateway itself starts again under a new pid.
wait_gw() {
    local n=$1 log="$OUT/gw$1.log" pid mark status
    eval pid=\$GW${n}_PID; eval mark=\$GW${n}_MARK; eval status=\$GW${n}_STATUS
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        # shellcheck disable=SC2086 # $status is flags and paths without spaces
        $GW status $status --timeout 1 > /dev/null 2>&1 && return 0
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    echo "gw$n did not come up:"; tail -n +$((mark + 1)) "$log"; return 1
}
# start_gw N ARGS...: launch_gw, then wait_gw.
start_gw() { launch_gw "$@"; wait_gw $1; }
