#!/usr/bin/env bash
# capture-conntrackd.sh MODE OUTDIR - how the conntrackd golden vectors in
# crates/tandem-replication/tests/vectors/conntrackd-* were made.
#
# Two network namespaces joined by a veth (192.0.2.1 "sender", 192.0.2.2
# "receiver"), conntrackd in each with a UDP unicast channel on port 3780 in
# MODE (FTFW, NOTRACK or ALARM). tcpdump records the sync traffic on the
# receiver's veth while the sender's kernel table gets entries with
# `conntrack -I` (IPv4 TCP, UDP, ICMP, IPv6 TCP, DNAT, SNAT, SCTP, mark,
# zone), then updates (`-U`) and deletes (`-D`). Beside the pcap it writes:
#   conntrackd-MODE.conf.sender / .receiver  the exact configurations
#   conntrackd-MODE.events   `conntrack -E -o id` on the sender: the kernel's
#                            events, i.e. what conntrackd serialised
#   conntrackd-MODE.list     `conntrack -L` on the sender after the inserts
#   conntrackd-MODE.external `conntrackd -e` on the receiver after the inserts
#                            (conntrackd's own decode of the same messages)
#   conntrackd-MODE.commands the commands run, in order
# Root only. Everything is inside namespaces this script creates; its
# processes are stopped by PID; the namespaces are removed on exit.
set -euo pipefail
mode=${1:?usage: $0 FTFW|NOTRACK|ALARM OUTDIR}
out=${2:?usage: $0 FTFW|NOTRACK|ALARM OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lc=$(echo "$mode" | tr 'A-Z' 'a-z')
# LOSS=1: the receiver's nftables drops every third datagram from the
# sender (after tcpdump saw it), so FT-FW's NACK and retransmission show.
if [ "${LOSS:-0}" = 1 ]; then lc=$lc-loss; fi
tag=ctdcap$$
nsa=${tag}a
nsb=${tag}b
run=$(mktemp -d)
pids=()

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  ip netns del "$nsa" 2>/dev/null || true
  ip netns del "$nsb" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

ip netns add "$nsa"
ip netns add "$nsb"
ip link add ca$$ type veth peer name cb$$
ip link set ca$$ netns "$nsa" name veth0
ip link set cb$$ netns "$nsb" name veth0
ip -n "$nsa" addr add 192.0.2.1/24 dev veth0
ip -n "$nsb" addr add 192.0.2.2/24 dev veth0
for ns in "$nsa" "$nsb"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set veth0 up
  ip netns exec "$ns" sysctl -q -w net.netfilter.nf_conntrack_events=1
done

case $mode in
  FTFW) mode_block='Mode FTFW {
		ResendQueueSize 131072
		ACKWindowSize 300
		DisableExternalCache Off
	}' ;;
  NOTRACK) mode_block='Mode NOTRACK {
		DisableInternalCache Off
		DisableExternalCache Off
	}' ;;
  ALARM) mode_block='Mode ALARM {
		RefreshTime 2
		CacheTimeout 30
	}' ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

conf() { # conf NAME SELF PEER
  cat <<EOF
Sync {
	$mode_block
	UDP Default {
		IPv4_address $2
		IPv4_Destination_Address $3
		Port 3780
		Interface veth0
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	HashSize 8192
	HashLimit 65536
	LogFile $run/$1.log
	Syslog off
	LockFile $run/$1.lock
	UNIX {
		Path $run/$1.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address 192.0.2.1
			IPv4_address 192.0.2.2
			IPv6_address ::1
		}
	}
}
EOF
}
conf a 192.0.2.1 192.0.2.2 >"$run/a.conf"
conf b 192.0.2.2 192.0.2.1 >"$run/b.conf"
sed "s|$run|/run/ctd|g" "$run/a.conf" >"$out/conntrackd-$lc.conf.sender"
sed "s|$run|/run/ctd|g" "$run/b.conf" >"$out/conntrackd-$lc.conf.receiver"

cmds="$out/conntrackd-$lc.commands"
: >"$cmds"
if [ "${LOSS:-0}" = 1 ]; then
  B() { echo "receiver\$ $*" >>"$cmds"; ip netns exec "$nsb" "$@"; }
  B nft add table inet loss
  B nft add chain inet loss in '{ type filter hook input priority 0; }'
  B nft add rule inet loss in ip saddr 192.0.2.1 udp dport 3780 numgen inc mod 3 == 1 drop
fi
A() { echo "sender\$ $*" >>"$cmds"; ip netns exec "$nsa" "$@"; }

ip netns exec "$nsb" tcpdump -i veth0 -U -s 2048 -w "$run/cap.pcap" udp port 3780 2>"$run/tcpdump.log" &
pids+=($!)
ip netns exec "$nsa" conntrack -E -o id >"$run/events" 2>/dev/null &
pids+=($!)
sleep 1
ip netns exec "$nsb" conntrackd -C "$run/b.conf" &
pids+=($!)
sleep 0.5
ip netns exec "$nsa" conntrackd -C "$run/a.conf" &
pids+=($!)
sleep 1.5

# inserts
A conntrack -I -p tcp -s 198.51.100.10 -d 203.0.113.20 --sport 40000 --dport 80 \
  --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 431999
A conntrack -I -p udp -s 198.51.100.11 -d 203.0.113.21 --sport 5353 --dport 53 -t 30
A conntrack -I -p icmp -s 198.51.100.12 -d 203.0.113.22 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30
A conntrack -I -p tcp -s fd00::10 -d fd00::20 --sport 40001 --dport 443 \
  --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 3600
A conntrack -I -p tcp -s 198.51.100.13 -d 203.0.113.80 --sport 40002 --dport 80 \
  --dst-nat 203.0.113.100:8080 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600
A conntrack -I -p tcp -s 198.51.100.14 -d 203.0.113.23 --sport 40003 --dport 443 \
  --src-nat 203.0.113.1:61000 --state SYN_SENT -t 120
A conntrack -I -p sctp -s 198.51.100.15 -d 203.0.113.24 --sport 5000 --dport 5001 \
  --state ESTABLISHED --orig-vtag 0x11223344 --reply-vtag 0x55667788 -t 3600 || true
A conntrack -I -p udp -s 198.51.100.16 -d 203.0.113.25 --sport 1234 --dport 4321 -m 42 -t 60
A conntrack -I -p udp -s 198.51.100.17 -d 203.0.113.26 --sport 1235 --dport 4322 --zone 7 -t 60
sleep 1.5
ip netns exec "$nsa" conntrack -L -o id >"$out/conntrackd-$lc.list" 2>/dev/null || true
ip netns exec "$nsa" conntrack -L -f ipv6 -o id >>"$out/conntrackd-$lc.list" 2>/dev/null || true
ip netns exec "$nsb" conntrackd -C "$run/b.conf" -e >"$out/conntrackd-$lc.external" 2>&1 || true
# updates
A conntrack -U -p tcp -s 198.51.100.10 --sport 40000 -m 7
A conntrack -U -p udp -s 198.51.100.11 --sport 5353 -t 20
sleep 1
# deletes
A conntrack -D -p tcp -s 198.51.100.10
A conntrack -D -p udp -s 198.51.100.11
A conntrack -D -p tcp -s fd00::10 -f ipv6
if [ "$mode" = ALARM ]; then sleep 3; else sleep 2.2; fi
case $mode in
  FTFW | NOTRACK)
    echo "receiver\$ conntrackd -n" >>"$cmds"
    ip netns exec "$nsb" conntrackd -C "$run/b.conf" -n
    sleep 1.2
    ;;
esac
ip netns exec "$nsb" conntrackd -C "$run/b.conf" -s network >"$run/stats" 2>&1 || true
cp "$run/events" "$out/conntrackd-$lc.events"
sleep 0.3
kill -INT "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
cp "$run/cap.pcap" "$out/conntrackd-$lc.pcap"
echo "--- receiver stats"
cat "$run/stats"
echo "--- sender log"
cat "$run/a.log"
ls -l "$out"/conntrackd-$lc.*
