#!/usr/bin/env bash
# bench-replication.sh [N] - replication figures, Tandem and conntrackd in
# the same run (docs/benchmarks.md, "Replication"):
#
#  1. tandemd over a veth: scripts/lab/topo.sh's namespaces (lab-a 192.0.2.1 Active, lab-b .2 Backup),
#     the Active's kernel table filled with N (default 100000) IPv4 TCP
#     ESTABLISHED entries by `conntrack -R`, tandemd started on it (it
#     reads the table whole), then tandemd on the Backup: the time from the
#     Backup's start until its `status --json` says in sync with N flows
#     mirrored (polled every 20 ms), and the bytes the Active sent per
#     entry (its status counters: frames, handshake, digests included).
#  2. conntrackd's bulk of the same N over a veth (scripts/bench-conntrackd.sh).
#  3. In process: `examples/loopback_bulk` (1,000,000 flows over loopback
#     UDP, paced and verified; the flush budget) and `examples/figures`
#     (encode/decode rates, bytes per record, recovery after 20% loss).
#
# Root only (namespaces); processes stopped by PID, namespaces removed on
# exit. Builds release binaries first.
set -euo pipefail
n=${1:-100000}
cd "$(dirname "$0")/.."
cargo build -q --release -p tandem-node --bin tandemd
cargo build -q --release -p tandem-replication --example loopback_bulk --example figures
tandemd=target/release/tandemd
# The namespaces are scripts/lab/topo.sh's segment: lab-a (192.0.2.1,
# the Active), lab-b (192.0.2.2), lab-obs, eth0 on one bridge.
lab=scripts/lab
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
"$tandemd" replication keygen "$run/key" >/dev/null

conf() { # NODE PRIORITY PEER
  cat <<EOF2
[global]
state_dir = "$run/state-$1"
control_socket = "$run/state-$1/tandemd.sock"

[[instance]]
name = "lan"
interface = "eth0"
vrid = 10
priority = $2
interval = 1.0
addresses = ["192.0.2.100/24"]

[replication]
node = $1
cluster = 7
listen = "192.0.2.$1:6974"
peer = "192.0.2.$3:6974"
interface = "eth0"
key_file = "$run/key"
bulk_rate_mbit = 1000
refresh = 0
EOF2
}
mkdir -p "$run/state-1" "$run/state-2"
conf 1 200 2 >"$run/a.toml"
conf 2 100 1 >"$run/b.toml"

echo "== tandemd: bulk of $n kernel entries over a veth"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "-I -p tcp -s 203.0.113.%d -d 192.0.2.50 --sport %d --dport 80 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED\n", 1 + int(i / 64000), 1024 + i % 64000 }' >"$run/fill.ct"
t0=$(now_ms)
ip netns exec "$nsa" conntrack -R "$run/fill.ct"
echo "  filled the Active's table in $(( $(now_ms) - t0 )) ms"
status() { # NODE -> status --json
  "$tandemd" status --json --control-socket "$run/state-$1/tandemd.sock" 2>/dev/null || true
}
field() { # JSON KEY (in replication)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); print(d.get("replication",{}).get(sys.argv[2],""))' "$1" "$2" 2>/dev/null || true
}
ip netns exec "$nsa" "$tandemd" run --config "$run/a.toml" >"$run/a.log" 2>&1 &
pids+=($!)
# The Active has read its table.
for _ in $(seq 1 1500); do
  [ "$(field "$(status 1)" local_flows)" = "$n" ] && break
  sleep 0.02
done
echo "  the Active holds $(field "$(status 1)" local_flows) flows"
sent0=$(field "$(status 1)" bytes_sent)
t0=$(now_ms)
ip netns exec "$nsb" "$tandemd" run --config "$run/b.toml" >"$run/b.log" 2>&1 &
pids+=($!)
ok=""
for _ in $(seq 1 3000); do
  s=$(status 2)
  if [ "$(field "$s" in_sync)" = "True" ] && [ "$(field "$s" mirror_flows)" = "$n" ]; then ok=1; break; fi
  sleep 0.02
done
t1=$(now_ms)
if [ -z "$ok" ]; then
  echo "  the Backup never got in sync: $(status 2 | head -c 600)" >&2
  exit 1
fi
sent1=$(field "$(status 1)" bytes_sent)
bytes=$(( sent1 - sent0 ))
echo "  Backup start -> in sync with $n flows (tandemd start, handshake, bulk, digests verified): $(( t1 - t0 )) ms"
echo "  the Active sent $bytes bytes: $(python3 -c "print(f'{$bytes / $n:.1f}')") bytes per entry"
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

"$lab/topo.sh" down >/dev/null
echo "== conntrackd: bulk of $n entries over a veth (same run)"
bash scripts/bench-conntrackd.sh "$n"

echo "== in process: 1,000,000 flows over loopback UDP (paced at 400 Mbit/s), the flush budget"
target/release/examples/loopback_bulk 1000000 400
echo "== in process: codec rates, bytes per record, recovery after loss"
target/release/examples/figures
