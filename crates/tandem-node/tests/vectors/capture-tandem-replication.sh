#!/bin/bash
# Captures a real Tandem replication link: two tandemd units in network
# namespaces joined by a veth (198.51.100.1 <-> .2, port 6974), the first
# Active (priority 200), conntrack entries inserted, updated and deleted in
# its namespace; tcpdump on the second unit's eth1 from before either
# daemon starts.
#
#   capture-tandem-replication.sh TANDEMD OUTDIR
#
# Writes OUTDIR/tandem-replication.pcap, .key (the pair's key: a test key),
# .commands (what ran, in order), .conf.a / .conf.b, .list (conntrack -L of
# both units after the inserts). Needs root, tcpdump, conntrack, ip.
set -euo pipefail

TANDEMD=$(realpath "$1")
OUT=$(realpath "$2")
A="trcapa$$"
B="trcapb$$"
W=$(mktemp -d)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

log() { echo "$*" >>"$OUT/tandem-replication.commands"; }
in_a() { log "a\$ $*"; ip netns exec "$A" "$@"; }

: >"$OUT/tandem-replication.commands"
ip netns add "$A"
ip netns add "$B"
ip link add "va$$" type veth peer name "vb$$"
ip link set "va$$" netns "$A" name eth1
ip link set "vb$$" netns "$B" name eth1
for n in "$A:1" "$B:2"; do
    ns=${n%:*}
    k=${n#*:}
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "198.51.100.$k/24" dev eth1
    ip -n "$ns" link set eth1 address "02:00:00:00:01:0$k"
    ip -n "$ns" link set eth1 up
    ip netns exec "$ns" conntrack -L >/dev/null 2>&1 || true
    ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_events=1
done

"$TANDEMD" replication keygen "$W/key" >/dev/null
cp "$W/key" "$OUT/tandem-replication.key"
for k in 1 2; do
    prio=$((k == 1 ? 200 : 100))
    peer=$((3 - k))
    mkdir -p "$W/s$k"
    cat >"$W/conf$k" <<CONF
[[instance]]
name = "private"
interface = "eth1"
vrid = 11
priority = $prio
interval = 0.1
addresses = ["198.51.100.254/24"]

[replication]
node = $k
cluster = 7
listen = "198.51.100.$k:6974"
peer = "198.51.100.$peer:6974"
interface = "eth1"
key_file = "$W/key"
CONF
done
sed "s#$W#/run/trcap#g" "$W/conf1" >"$OUT/tandem-replication.conf.a"
sed "s#$W#/run/trcap#g" "$W/conf2" >"$OUT/tandem-replication.conf.b"

ip netns exec "$B" tcpdump -i eth1 -s 2048 -U -w "$OUT/tandem-replication.pcap" udp port 6974 2>/dev/null &
PIDS+=($!)
sleep 1
for k in 1 2; do
    ns=$([ "$k" = 1 ] && echo "$A" || echo "$B")
    ip netns exec "$ns" "$TANDEMD" run --config "$W/conf$k" --state-dir "$W/s$k" \
        --control-socket "$W/s$k/tandemd.sock" 2>"$W/log$k" &
    PIDS+=($!)
    log "$([ "$k" = 1 ] && echo a || echo b)\$ tandemd run --config tandem-replication.conf.$([ "$k" = 1 ] && echo a || echo b)"
done
sleep 3
in_a conntrack -I -p tcp -s 192.0.2.254 -d 192.0.2.100 --sport 40000 --dport 80 --dst-nat 198.51.100.10:8080 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 431999
in_a conntrack -I -p udp -s 192.0.2.11 -d 203.0.113.21 --sport 5353 --dport 53 -t 30
in_a conntrack -I -p icmp -s 192.0.2.12 -d 203.0.113.22 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30
in_a conntrack -I -p tcp -s fd00::10 -d fd00::20 --sport 40001 --dport 443 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 3600
in_a conntrack -I -p tcp -s 192.0.2.14 -d 203.0.113.23 --sport 40003 --dport 443 --src-nat 203.0.113.1:61000 --state SYN_SENT -t 120
sleep 2
{
    echo "# a"
    ip netns exec "$A" conntrack -L 2>/dev/null
    ip netns exec "$A" conntrack -L -f ipv6 2>/dev/null
} >"$OUT/tandem-replication.list"
in_a conntrack -U -p tcp -s 192.0.2.254 --sport 40000 -m 7
in_a conntrack -U -p udp -s 192.0.2.11 --sport 5353 -t 20
sleep 1.5
in_a conntrack -D -p udp -s 192.0.2.11
in_a conntrack -D -p tcp -s fd00::10 -f ipv6
sleep 2
cp "$W/log1" "$OUT/tandem-replication.log.a"
cp "$W/log2" "$OUT/tandem-replication.log.b"
