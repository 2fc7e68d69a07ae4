# Sourced by topology.sh and fleet.sh: the pieces of a test host.
# Uses P (the name prefix).

# quiet_link IFACE: no IPv6 autoconf chatter, no offloads that af_packet
# would see half-done.
quiet_link() {
    sysctl -qw net.ipv6.conf.$1.disable_ipv6=1 2>/dev/null || true
    ethtool -K $1 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

# make_vm N A: "VM" N, the namespace ${P}vmN, reached from the host side
# through the veth ${P}hN (the gateway's unsecured port); inside, vN with
# MAC 02:00:00:00:0N:0N, MTU 1400 and 10.0.0.A/24, IPv6 off.
make_vm() {
    local n=$1 a=$2
    ip netns add ${P}vm$n
    ip link add ${P}h$n type veth peer name v$n netns ${P}vm$n
    quiet_link ${P}h$n; ip link set ${P}h$n up
    ip netns exec ${P}vm$n sh -c "
        sysctl -qw net.ipv6.conf.all.disable_ipv6=1
        ip link set lo up
        ip link set v$n address 02:00:00:00:0$n:0$n mtu 1400 up
        ip addr add 10.0.0.$a/24 dev v$n
        ethtool -K v$n tx off tso off gso off >/dev/null 2>&1 || true"
}
