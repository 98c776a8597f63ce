#!/usr/bin/env bash
# bench-conntrackd.sh [N] - conntrackd's bulk resync of N entries (default
# 100000) over a veth, FT-FW, UDP unicast: the figures docs/conntrackd.md
# compares with.
#
# Two namespaces of scripts/lab/topo.sh (lab-a 192.0.2.1 "active", lab-b
# 192.0.2.2 "standby"). The active's
# kernel table gets N IPv4 TCP ESTABLISHED entries (`conntrack -R` of a
# generated file), then its conntrackd starts and dumps the table into its
# internal cache; the standby's conntrackd starts, and `conntrackd -n` on
# the standby asks for a resync. Printed: the time from the request until
# the standby's external cache holds N entries (polled every 20 ms), the
# datagrams and bytes the standby's veth received, bytes per entry, and
# the sender's datagram sizes (from a tcpdump of the first datagrams).
# Root only; everything stays in the namespaces, which are removed on exit;
# processes are stopped by PID.
set -euo pipefail
n=${1:-100000}
# The namespaces are scripts/lab/topo.sh's segment: lab-a (192.0.2.1),
# lab-b (192.0.2.2), lab-obs, eth0 on one bridge.
lab=$(cd "$(dirname "$0")" && pwd)/lab
nsa=lab-a
nsb=lab-b
run=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  "$lab/topo.sh" down >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

"$lab/topo.sh" up >/dev/null
for ns in "$nsa" "$nsb"; do
  ip netns exec "$ns" sysctl -q -w net.netfilter.nf_conntrack_events=1
done

conf() { # NAME SELF PEER
  cat <<EOF
Sync {
	Mode FTFW {
		ResendQueueSize 262144
		ACKWindowSize 300
		DisableExternalCache Off
	}
	UDP Default {
		IPv4_address $2
		IPv4_Destination_Address $3
		Port 3780
		Interface eth0
		SndSocketBuffer 4194304
		RcvSocketBuffer 4194304
		Checksum on
	}
}
General {
	HashSize 65536
	HashLimit 524288
	LogFile $run/$1.log
	Syslog off
	LockFile $run/$1.lock
	UNIX {
		Path $run/$1.ctl
	}
	NetlinkBufferSize 8388608
	NetlinkBufferSizeMaxGrowth 67108864
	Filter From Userspace {
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address 192.0.2.1
			IPv4_address 192.0.2.2
		}
	}
}
EOF
}
conf a 192.0.2.1 192.0.2.2 >"$run/a.conf"
conf b 192.0.2.2 192.0.2.1 >"$run/b.conf"

# N entries: 198.51.100.(i % 256):(10000 + i / 256) -> 203.0.113.1:80.
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
  printf "-I -p tcp -s 198.51.100.%d -d 203.0.113.1 --sport %d --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 3600\n", i % 256, 10000 + int(i / 256) }' >"$run/entries"
t0=$(now_ms)
ip netns exec "$nsa" conntrack -R "$run/entries" >/dev/null 2>&1 || true
t1=$(now_ms)
have=$(ip netns exec "$nsa" conntrack -C)
echo "kernel table filled: $have entries in $((t1 - t0)) ms (conntrack -R)"
[ "$have" -ge "$n" ] || { echo "could not fill $n entries" >&2; exit 1; }

ext_count() { # entries in the standby's external cache
  ip netns exec "$nsb" conntrackd -C "$run/b.conf" -s cache 2>/dev/null |
    awk '/^cache:external/ { print $NF; exit }'
}

ip netns exec "$nsa" conntrackd -C "$run/a.conf" >/dev/null 2>&1 &
pids+=($!)
# the active's internal cache holds the table
for _ in $(seq 1 600); do
  c=$(ip netns exec "$nsa" conntrackd -C "$run/a.conf" -s cache 2>/dev/null |
    awk '/^cache:internal/ { print $NF; exit }')
  [ "${c:-0}" -ge "$n" ] && break
  sleep 0.1
done
echo "active's internal cache: ${c:-0} entries"
ip netns exec "$nsb" tcpdump -i eth0 -s 64 -B 16384 -w "$run/head.pcap" udp port 3780 2>/dev/null &
pids+=($!)
tcpdump_pid=$!
ip netns exec "$nsb" conntrackd -C "$run/b.conf" >/dev/null 2>&1 &
pids+=($!)
sleep 2.5 # both up, HELLO done, idle
rx0=$(ip netns exec "$nsb" cat /sys/class/net/eth0/statistics/rx_bytes)
rp0=$(ip netns exec "$nsb" cat /sys/class/net/eth0/statistics/rx_packets)
t0=$(now_ms)
ip netns exec "$nsb" conntrackd -C "$run/b.conf" -n
got=0
for _ in $(seq 1 3000); do
  got=$(ext_count)
  [ "${got:-0}" -ge "$n" ] && break
  sleep 0.02
done
t1=$(now_ms)
sleep 1
rx1=$(ip netns exec "$nsb" cat /sys/class/net/eth0/statistics/rx_bytes)
rp1=$(ip netns exec "$nsb" cat /sys/class/net/eth0/statistics/rx_packets)
bytes=$((rx1 - rx0))
pkts=$((rp1 - rp0))
echo "resync (conntrackd -n) to $got entries in the standby's external cache: $((t1 - t0)) ms"
echo "standby received: $pkts datagrams, $bytes bytes on the wire (Ethernet frames)"
udp=$((bytes - pkts * 42))
echo "UDP payload: $udp bytes, $((udp / n)) bytes per entry"
echo "--- standby's network statistics"
ip netns exec "$nsb" conntrackd -C "$run/b.conf" -s network 2>/dev/null | sed -n '/sequence tracking/,/Error send/p'
kill -INT "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
if [ -s "$run/head.pcap" ]; then
  echo "--- the bulk on the wire (tcpdump on the standby's veth)"
  tcpdump -tt -nr "$run/head.pcap" src host 192.0.2.1 and greater 200 2>/dev/null |
    awk -v n="$n" '{ if (!f) f = $1; l = $1; c++; b += $NF } END {
      if (c) printf "first to last data datagram: %.1f ms, %d datagrams, %d payload bytes, %.1f entries a datagram\n", (l - f) * 1000, c, b, n / c }'
  echo "--- datagram sizes (UDP payload bytes: count)"
  tcpdump -nr "$run/head.pcap" src host 192.0.2.1 2>/dev/null | awk '{ print $NF }' | sort -n | uniq -c | sort -rn | head -4
fi
