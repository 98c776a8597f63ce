#!/usr/bin/env bash
# bench-sync.sh - configuration sync between two tandemd units, measured on
# the namespace lab (scripts/lab/topo.sh: lab-sw, lab-a, lab-b, lab-obs).
#
# usage: sudo scripts/bench-sync.sh
#
# 1. builds tandemd (`nice cargo build --release -p tandem-node`);
# 2. brings the lab up (refuses if a process runs in one of its namespaces);
#    one key (`tandemd sync keygen`), unit a in lab-a (192.0.2.1, priority
#    200, the Active) and unit b in lab-b (192.0.2.2, priority 100), each
#    with its own configuration file, state directory and control socket,
#    one VRRPv3 instance (VRID 1, 192.0.2.100/24, interval 1 s) and an
#    [app.vs.*] tree;
# 3. measures, and prints medians (p50) and p99 where there are N runs:
#    - set-small: wall time of `tandemd config set app.vs.web.port P` on a
#      with 1 virtual service. The command returns when b's ACK arrives, so
#      this is: the control request, a's validate + write + fsync + reload,
#      the DELTA over TCP, b's validate + write + fsync + rename + reload,
#      the ACK, the reply; plus starting the tandemd client (a few ms).
#    - set-10k: the same inside a 10,000-service document (one object
#      changed).
#    - ack-small, ack-10k: the figure the reply itself prints ("partner
#      applied (in X ms)"): from a's commit until b's ACK, without the
#      client and a's own apply.
#    - snapshot-10k: b stopped, its state file removed (epoch 0) and its
#      app tree emptied; the time from starting b until both units say
#      in-sync with equal roots: b's start, the handshake, HELLOs, the
#      snapshot of 10,000 services, b's apply and write.
#    - repair: a hand edit of one service on b's file and SIGHUP to b; the
#      time from the SIGHUP until b's file has a's value again and both say
#      in-sync: b's reload, two PINGs with a differing root (detection,
#      about 2 s by design), the repair (delta replay or digest walk) and
#      b's apply.
#    - bytes-change: bytes on the wire (a's sync status bytes_sent +
#      bytes_received, Noise framing and tags included, TCP/IP headers not)
#      for one one-object change in the small document, PINGs that fall in
#      the window included (at most one each way).
#    - rejoin: b restarted (SIGTERM, start) with a document equal to a's:
#      b's bytes_sent + bytes_received once in sync (handshake, HELLOs,
#      PINGs), and the configuration bytes (config_bytes_sent of both, when
#      sync status reports them; they must be 0).
# 4. takes the lab down (every process it started, by PID).
#
# Environment (defaults in brackets):
#   N [50]          runs of each config set          REPAIRS [5] repair runs
#   SERVICES [10000] services of the large document   SNAPSHOTS [3] snapshot runs
#   SKIP_BUILD      1: use target/release/tandemd as it is
#   TANDEMD         the tandemd binary [target/release/tandemd]
#   RUN             scratch directory [a new /tmp/tandem-bench-sync.XXXXXX, kept]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lab=$root/scripts/lab
N=${N:-50}
REPAIRS=${REPAIRS:-5}
SNAPSHOTS=${SNAPSHOTS:-3}
SERVICES=${SERVICES:-10000}
RUN=${RUN:-$(mktemp -d /tmp/tandem-bench-sync.XXXXXX)}
mkdir -p "$RUN"
LAB_NS=(lab-sw lab-a lab-b lab-obs)

die() { echo "bench-sync: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
for c in ip python3 cargo; do
  command -v "$c" >/dev/null || die "$c not found in PATH"
done

ns_list() { ip netns list | awk '{print $1}'; }
existing=()
for ns in "${LAB_NS[@]}"; do
  if ns_list | grep -qx "$ns"; then
    pids=$(ip netns pids "$ns" | tr '\n' ' ')
    [ -z "$pids" ] || die "namespace $ns is in use by PIDs $pids: is another lab run going on?"
    existing+=("$ns")
  fi
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building tandemd (release)" >&2
  (cd "$root" && nice cargo build --release -p tandem-node)
fi
TANDEMD=${TANDEMD:-$root/target/release/tandemd}
[ -x "$TANDEMD" ] || die "$TANDEMD not found"

if [ ${#existing[@]} -gt 0 ]; then
  echo "== removing idle lab namespaces left behind: ${existing[*]}" >&2
  "$lab/topo.sh" down >&2
fi
declare -A PID=()
teardown() {
  set +e
  local k
  for k in "${!PID[@]}"; do kill -TERM "${PID[$k]}" 2>/dev/null; done
  sleep 0.5
  for k in "${!PID[@]}"; do kill -KILL "${PID[$k]}" 2>/dev/null; done
  "$lab/topo.sh" down >&2
}
trap teardown EXIT
"$lab/topo.sh" up >&2

# --- the pair -----------------------------------------------------------------
KEY=$RUN/sync.key
rm -f "$KEY"
"$TANDEMD" sync keygen "$KEY" >&2
declare -A NS=([a]=lab-a [b]=lab-b) ME=([a]=192.0.2.1 [b]=192.0.2.2) PEER=([a]=192.0.2.2 [b]=192.0.2.1)
declare -A PRIO=([a]=200 [b]=100)
sock() { echo "$RUN/state-$1/tandemd.sock"; }
conf() { echo "$RUN/conf-$1/tandemd.toml"; }
ctl() { local u=$1; shift; "$TANDEMD" "$@" --control-socket "$(sock "$u")"; }

# write_conf UNIT SERVICES OUT: the unit's file with SERVICES services
write_conf() {
  local u=$1 n=$2 out=$3
  mkdir -p "$RUN/state-$u" "$(dirname "$out")"
  python3 - "$u" "$n" "$out" "$RUN/state-$u" "${ME[$u]}" "${PEER[$u]}" "${PRIO[$u]}" "$KEY" <<'PY'
import sys
u, n, out, state, me, peer, prio, key = sys.argv[1:]
with open(out, "w") as f:
    f.write(f'[global]\nstate_dir = "{state}"\ncontrol_socket = "{state}/tandemd.sock"\n\n')
    f.write(f'[sync]\nunit = "{u}"\ncluster = "bench-sync"\nlisten = "{me}:6973"\npeer = "{peer}:6973"\nkey_file = "{key}"\n\n')
    f.write(f'[[instance]]\nname = "web"\ninterface = "eth0"\nvrid = 1\npriority = {prio}\ninterval = 1\naddresses = ["192.0.2.100/24"]\n\n')
    f.write('[app.vs.web]\naddress = "192.0.2.50"\nport = 443\n\n')
    for i in range(int(n)):
        f.write(f'[app.vs.svc{i}]\naddress = "192.0.2.50"\nport = {1000 + i % 1000}\nbackends = ["10.0.0.1", "10.0.0.2"]\n\n')
PY
}

start() { # start UNIT
  local u=$1
  ip netns exec "${NS[$u]}" "$TANDEMD" run --config "$(conf "$u")" \
    --state-dir "$RUN/state-$u" --control-socket "$(sock "$u")" >>"$RUN/tandemd-$u.log" 2>&1 &
  PID[$u]=$!
  local i
  for i in $(seq 200); do ctl "$u" sync status --json >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "unit $u does not answer; see $RUN/tandemd-$u.log"
}
stop() { # stop UNIT
  local u=$1
  kill -TERM "${PID[$u]}" 2>/dev/null || true
  wait "${PID[$u]}" 2>/dev/null || true
  unset "PID[$u]"
}

# field JSON PATH...: one value of a sync status (both the nested form of
# docs/control.md and a flat one)
status_py='
import json, sys
s = json.loads(sys.stdin.read() or "{}")
def g(*paths):
    for p in paths:
        v = s
        for k in p.split("/"):
            v = v.get(k) if isinstance(v, dict) else None
        if v is not None:
            return v
    return None
what = sys.argv[1]
if what == "sync":
    print(s.get("state"), g("local/root", "local_root"), g("partner/root", "peer_root"))
elif what == "bytes":
    print((g("bytes_sent") or 0) + (g("bytes_received") or 0))
elif what == "config":
    v = g("config_bytes_sent")
    print("NA" if v is None else v)
'
sfield() { ctl "$1" sync status --json 2>/dev/null | python3 -c "$status_py" "$2"; }
in_sync() {
  local sa sb
  sa=$(sfield a sync) || return 1
  sb=$(sfield b sync) || return 1
  read -r st_a ra pa <<<"$sa"
  read -r st_b rb pb <<<"$sb"
  [ "$st_a" = in-sync ] && [ "$st_b" = in-sync ] && [ "$ra" = "$rb" ] && [ "$pa" = "$rb" ] && [ "$pb" = "$ra" ]
}
now_ms() { python3 -c 'import time; print(f"{time.monotonic()*1000:.3f}")'; }
wait_sync() { # wait_sync TIMEOUT_S
  local end=$(($(date +%s) + $1))
  until in_sync; do
    [ "$(date +%s)" -lt "$end" ] || die "not in sync within $1 s: a: $(ctl a sync status 2>&1 | head -3) / b: $(ctl b sync status 2>&1 | head -3)"
    sleep 0.02
  done
}

wait_active() { # wait_active UNIT TIMEOUT_S: its instance is the Active
  local end=$(($(date +%s) + $2))
  until ctl "$1" status --json 2>/dev/null | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["instances"][0]["state"] != "Active")'; do
    [ "$(date +%s)" -lt "$end" ] || die "unit $1 not Active within $2 s"
    sleep 0.05
  done
}

# set_runs LABEL SERVICE: N runs of config set on a, wall times to $RUN/LABEL.ms
set_runs() {
  local label=$1 svc=$2 i t0 t1 out
  : >"$RUN/$label.ms"
  for ((i = 0; i < N; i++)); do
    t0=$(date +%s%N)
    out=$(ctl a config set "app.vs.$svc.port" "$((2000 + i))" 2>&1) || die "$label run $i: $out"
    t1=$(date +%s%N)
    case $out in *"partner applied"*) ;; *) die "$label run $i: $out" ;; esac
    echo "$(((t1 - t0) / 1000))" >>"$RUN/$label.ms"
    # the reply's own figure: from the commit on a until b's ACK
    sed -n 's/.*partner applied (in \([0-9.]*\) ms).*/\1/p' <<<"$out" >>"$RUN/$label.ack"
  done
}

write_conf a 0 "$(conf a)"
write_conf b 0 "$(conf b)"
start a
wait_active a 30
start b
wait_sync 30
echo "== set-small: $N runs" >&2
set_runs set-small web

echo "== bytes-change: $N runs" >&2
: >"$RUN/bytes-change.n"
for ((i = 0; i < N; i++)); do
  b0=$(sfield a bytes)
  ctl a config set app.vs.web.port "$((3000 + i))" >/dev/null
  b1=$(sfield a bytes)
  echo $((b1 - b0)) >>"$RUN/bytes-change.n"
done

echo "== rejoin of equal documents" >&2
# a's counter runs since a started: count what it sends from here on (b's
# starts at 0 with b).
ca0=$(sfield a config)
stop b
start b
wait_sync 30
sleep 0.2
ca1=$(sfield a config)
echo "$(sfield b bytes) $((ca1 - ca0)) $(sfield b config)" >"$RUN/rejoin.txt"

echo "== the $SERVICES-service document" >&2
write_conf a "$SERVICES" "$RUN/big-a.toml"
ctl a config apply "$RUN/big-a.toml" >&2
wait_sync 120
echo "== set-10k: $N runs" >&2
set_runs set-10k "svc$((SERVICES / 2))"

echo "== snapshot-10k: $SNAPSHOTS runs" >&2
: >"$RUN/snapshot-10k.ms"
for ((r = 0; r < SNAPSHOTS; r++)); do
  stop b
  rm -f "$RUN/state-b/sync-state"
  write_conf b 0 "$(conf b)"
  sed -i '/^\[app\.vs\.web\]/,/^$/d' "$(conf b)"
  t0=$(now_ms)
  start b
  wait_sync 120
  t1=$(now_ms)
  python3 -c "print(f'{$t1 - $t0:.1f}')" >>"$RUN/snapshot-10k.ms"
done

echo "== repair: $REPAIRS runs" >&2
: >"$RUN/repair.ms"
svc=svc7
for ((r = 0; r < REPAIRS; r++)); do
  want=$(ctl a config get "app.vs.$svc.port")
  want=${want##* = }
  python3 - "$(conf b)" "$svc" <<'PY'
import re, sys
path, svc = sys.argv[1:]
t = open(path).read()
t = re.sub(r'(\[app\.vs\.%s\]\n(?:[^\[].*\n)*?port = )\d+' % svc, r'\g<1>65000', t, count=1)
open(path, "w").write(t)
PY
  t0=$(now_ms)
  kill -HUP "${PID[b]}"
  end=$(($(date +%s) + 60))
  until in_sync && [ "$(ctl b config get "app.vs.$svc.port" | sed 's/.* = //')" = "$want" ]; do
    [ "$(date +%s)" -lt "$end" ] || die "repair run $r: b not repaired within 60 s"
    sleep 0.02
  done
  t1=$(now_ms)
  python3 -c "print(f'{$t1 - $t0:.1f}')" >>"$RUN/repair.ms"
done

# --- table ----------------------------------------------------------------------
python3 - "$RUN" "$SERVICES" <<'PY' | tee "$RUN/table.md"
import statistics, sys
run, services = sys.argv[1], sys.argv[2]
def vals(name, scale=1.0):
    return [float(l) * scale for l in open(f"{run}/{name}") if l.strip()]
def p99(x):
    s = sorted(x)
    return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
print("| figure | runs | p50 | p99 | what it includes |")
print("|---|---:|---:|---:|---|")
rows = [
    ("set-small (ms)", vals("set-small.ms", 1e-3), "config set on the Active until the standby's ACK (1 service)"),
    (f"set-10k (ms)", vals("set-10k.ms", 1e-3), f"the same, one object of {services} services"),
    (f"snapshot-10k (ms)", vals("snapshot-10k.ms"), f"standby start (epoch 0, empty app tree) until in-sync: {services} services"),
    ("repair (ms)", vals("repair.ms"), "SIGHUP of a hand-edited standby until repaired and in-sync (detection is 2 PINGs)"),
    ("ack-small (ms)", vals("set-small.ack"), "the reply's own figure: a's commit until b's ACK (1 service)"),
    ("ack-10k (ms)", vals("set-10k.ack"), f"the same, one object of {services} services"),
    ("bytes-change (bytes)", vals("bytes-change.n"), "sent + received by the Active for one one-object change, Noise framing included"),
]
for name, x, what in rows:
    print(f"| {name} | {len(x)} | {statistics.median(x):.1f} | {p99(x):.1f} | {what} |")
total, ca, cb = open(f"{run}/rejoin.txt").read().split()
print(f"| rejoin (bytes) | 1 | {total} | | standby's bytes sent + received at a rejoin of equal documents; configuration bytes a={ca} b={cb} |")
PY
echo "raw results, configs and logs: $RUN" >&2
