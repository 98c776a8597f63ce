#!/usr/bin/env bash
# bench-failover.sh - failover time and idle footprint of tandemd next to
# keepalived, measured by one harness (scripts/lab/) in one run.
#
# usage: sudo scripts/bench-failover.sh
#
# 1. builds tandemd (`nice cargo build --release -p tandem-node`);
# 2. brings the namespace lab up (scripts/lab/topo.sh: lab-sw, lab-a, lab-b,
#    lab-obs); refuses to start if a process runs in one of those namespaces;
# 3. failover (scripts/lab/failover-bench.sh, mode kill: SIGSTOP + SIGKILL of
#    every process of the Active's namespace): a tandemd pair, then a
#    keepalived pair with the same settings (VRRPv3, VRID 1, priorities
#    200 / 100, preempt on, one address 192.0.2.100/24), at advert interval
#    1 s (N_SLOW runs) and 10 ms (N_FAST runs);
# 4. footprint (scripts/lab/footprint.sh): resident memory and CPU while idle,
#    Active (priority 200, lab-a) and Backup (priority 100, lab-b) measured
#    separately, with 1 and with 100 virtual routers (VRIDs 1..100, one
#    address each, interval 1 s), for each daemon;
# 5. prints the tables (also written to $RUN/table.md) and takes the lab down.
#
# Environment (defaults in brackets):
#   N_SLOW [7]   runs at 1 s          N_FAST [15]   runs at 10 ms
#   FP_WARM [10] seconds before the footprint window   FP_DUR [30] its length
#   SKIP_BUILD   set to 1 to use target/release/tandemd as it is
#   TANDEMD      the tandemd binary [target/release/tandemd] (another build, to compare)
#   KEEPALIVED [keepalived]  the keepalived binary
#   RUN          scratch directory for configs, logs and raw results
#                [a new /tmp/tandem-bench.XXXXXX, kept afterwards]
#
# The theoretical bound for a kill is 3 x interval + skew, with the skew of the
# Backup (priority 100): skew = (256 - 100) / 256 x interval (RFC 9568).
# A run lands between (bound - interval) and the bound, depending on when the
# kill falls in the Active's advert cycle, plus the time to add the address and
# send the first advert.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lab=$root/scripts/lab
N_SLOW=${N_SLOW:-7}
N_FAST=${N_FAST:-15}
FP_WARM=${FP_WARM:-10}
FP_DUR=${FP_DUR:-30}
KEEPALIVED=${KEEPALIVED:-keepalived}
export RUN=${RUN:-$(mktemp -d /tmp/tandem-bench.XXXXXX)}
mkdir -p "$RUN"
VIP=192.0.2.100
LAB_NS=(lab-sw lab-a lab-b lab-obs)

die() { echo "bench-failover: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
for c in ip tcpdump python3 "$KEEPALIVED" cargo; do
  command -v "$c" >/dev/null || die "$c not found in PATH"
done

# --- the lab's namespaces must be free: another run may be using them
ns_list() { ip netns list | awk '{print $1}'; }
existing=()
for ns in "${LAB_NS[@]}"; do
  if ns_list | grep -qx "$ns"; then
    pids=$(ip netns pids "$ns" | tr '\n' ' ')
    [ -z "$pids" ] || die "namespace $ns is in use by PIDs $pids: is another lab run going on?"
    existing+=("$ns")
  fi
done

# --- build
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building tandemd (release)" >&2
  (cd "$root" && nice cargo build --release -p tandem-node)
fi
TANDEMD=${TANDEMD:-$root/target/release/tandemd}
[ -x "$TANDEMD" ] || die "$TANDEMD not found"

# --- lab up (an idle lab left behind is recreated, so every run starts clean)
if [ ${#existing[@]} -gt 0 ]; then
  echo "== removing idle lab namespaces left behind: ${existing[*]}" >&2
  "$lab/topo.sh" down >&2
fi
teardown() {
  set +e
  local ns p
  # every process in the lab namespaces was started by this run (they were
  # empty when it began): stop them one PID at a time, then remove the lab
  for ns in "${LAB_NS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
  done
  sleep 0.5
  for ns in "${LAB_NS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  "$lab/topo.sh" down >&2
}
trap teardown EXIT
"$lab/topo.sh" up >&2

here=$lab
# shellcheck source=lab/lib.sh
source "$lab/lib.sh" # for ka_conf

# --- configurations -----------------------------------------------------------

# the keepalived command; {i} keeps each iteration's pid files apart
ka_cmd() { # ka_cmd CONF TAG
  printf "%s -n -l -D -G -P -f %s -p {run}/%s-{i}.pid -r {run}/%s-{i}-vrrp.pid" \
    "$KEEPALIVED" "$1" "$2" "$2"
}
td_cmd() { # td_cmd PRIORITY INTERVAL TAG
  # each node gets its own state directory and control socket: the namespaces
  # share one file system, and a second tandemd refuses a socket in use
  printf "%s run --state-dir {run}/%s --control-socket {run}/%s.sock --interface eth0 --vrid 1 --priority %s --address %s/24 --interval %s" \
    "$TANDEMD" "$3" "$3" "$1" "$VIP" "$2"
}

# N virtual routers, VRIDs 1..N, addresses 192.0.2.100.. (one each), interval 1 s
td_many() { # td_many OUT PRIORITY N STATE_DIR
  local out=$1 prio=$2 n=$3 sd=$4 i
  mkdir -p "$sd"
  {
    printf '[global]\nstate_dir = "%s"\ncontrol_socket = "%s/tandemd.sock"\n' "$sd" "$sd"
    for ((i = 1; i <= n; i++)); do
      printf '\n[[instance]]\ninterface = "eth0"\nvrid = %d\npriority = %d\naddresses = ["192.0.2.%d/24"]\ninterval = 1\n' \
        "$i" "$prio" $((99 + i))
    done
  } >"$out"
}
ka_many() { # ka_many OUT PRIORITY N ROUTER_ID
  local out=$1 prio=$2 n=$3 rid=$4 i
  {
    printf 'global_defs {\n  router_id %s\n}\n' "$rid"
    for ((i = 1; i <= n; i++)); do
      printf 'vrrp_instance VI_%d {\n  state BACKUP\n  interface eth0\n  version 3\n  virtual_router_id %d\n  priority %d\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.%d/24\n  }\n}\n' \
        "$i" "$i" "$prio" $((99 + i))
    done
  } >"$out"
}

# --- failover -------------------------------------------------------------------
failover() { # failover LABEL N CMD_A CMD_B
  echo "== failover $1 (n=$2)" >&2
  "$lab/failover-bench.sh" -l "$1" -n "$2" -v "$VIP" -m kill -a "$3" -b "$4" | tee "$RUN/$1.out" >&2
}
for setting in "1s 1 $N_SLOW" "10ms 0.01 $N_FAST"; do
  read -r tag int n <<<"$setting"
  failover "tandemd-$tag" "$n" "$(td_cmd 200 "$int" "td-$tag-a")" "$(td_cmd 100 "$int" "td-$tag-b")"
  ka_conf "$RUN/ka-$tag-a.conf" ver=3 vrid=1 prio=200 int="$int" vips="$VIP/24" rid=lab-a
  ka_conf "$RUN/ka-$tag-b.conf" ver=3 vrid=1 prio=100 int="$int" vips="$VIP/24" rid=lab-b
  failover "keepalived-$tag" "$n" "$(ka_cmd "{run}/ka-$tag-a.conf" "ka-$tag-a")" \
    "$(ka_cmd "{run}/ka-$tag-b.conf" "ka-$tag-b")"
done

# --- footprint ------------------------------------------------------------------
: >"$RUN/footprint.tsv"
for n in 1 100; do
  td_many "$RUN/td-$n-a.toml" 200 "$n" "$RUN/td-fp-$n-a"
  td_many "$RUN/td-$n-b.toml" 100 "$n" "$RUN/td-fp-$n-b"
  echo "== footprint tandemd, $n instance(s)" >&2
  "$lab/footprint.sh" -l "tandemd-$n" -w "$FP_WARM" -d "$FP_DUR" \
    -a "$TANDEMD run --config {run}/td-$n-a.toml" -b "$TANDEMD run --config {run}/td-$n-b.toml" >&2
  ka_many "$RUN/ka-$n-a.conf" 200 "$n" lab-a
  ka_many "$RUN/ka-$n-b.conf" 100 "$n" lab-b
  echo "== footprint keepalived, $n instance(s)" >&2
  "$lab/footprint.sh" -l "keepalived-$n" -w "$FP_WARM" -d "$FP_DUR" \
    -a "$(ka_cmd "{run}/ka-$n-a.conf" "ka-fp-$n-a")" -b "$(ka_cmd "{run}/ka-$n-b.conf" "ka-fp-$n-b")" >&2
done

# --- tables ---------------------------------------------------------------------
python3 - "$RUN" <<'PY' | tee "$RUN/table.md"
import re, statistics, sys
run = sys.argv[1]
print("Failover after kill -9 of the Active, in ms. From the kill: until the later of the VIP added on the "
      "Backup and the Backup's first advert on the wire. From the last advert: the same end, measured from the "
      "Active's last advert seen on the wire (the phase of the kill drops out).\n")
print("| interval | daemon | runs | from the kill: min | median | max | bound | from the last advert: min | median | max | median - bound |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for tag, iv in (("1s", 1.0), ("10ms", 0.01)):
    bound = (3 + 156 / 256) * iv * 1000
    for d in ("tandemd", "keepalived"):
        rows = [l.rstrip("\n").split("\t") for l in open(f"{run}/{d}-{tag}.tsv") if l.strip()]
        f = [float(r[4]) for r in rows if r[4] != "NA"]
        s = [float(r[6]) for r in rows if len(r) > 6 and r[6] != "NA"]
        fails = len(rows) - len(f)
        runs = f"{len(f)}" + (f" ({fails} failed)" if fails else "")
        stats = lambda x: (f"{min(x):.1f} | {statistics.median(x):.1f} | {max(x):.1f}" if x else " | | ")
        diff = f"{statistics.median(s) - bound:+.1f}" if s else ""
        print(f"| {tag} | {d} | {runs} | {stats(f)} | {bound:.1f} | {stats(s)} | {diff} |")
print("\nIdle footprint (interval 1 s; Active = priority 200 in lab-a, Backup = priority 100 in lab-b; "
      "RSS summed over the daemon's processes; CPU over the measuring window)\n")
print("| daemon | instances | role | processes | RSS (MiB) | CPU (% of one core) | CPU (ms per s) |")
print("|---|---:|---|---:|---:|---:|---:|")
pat = re.compile(r"^(\S+)-(\d+)\t(lab-[ab])\tprocesses=(\d+)\tRSS=(\d+) KiB.*CPU=([\d.]+) s in ([\d.]+) s \(([\d.]+)% of one core")
for line in open(f"{run}/footprint.tsv"):
    m = pat.match(line)
    if not m:
        continue
    d, n, ns, procs, rss, cpu, dur, pct = m.groups()
    role = "Active" if ns == "lab-a" else "Backup"
    print(f"| {d} | {n} | {role} | {procs} | {int(rss) / 1024:.1f} | {float(pct):.3f} | {1000 * float(cpu) / float(dur):.2f} |")
PY
echo "raw results, configs and logs: $RUN" >&2
