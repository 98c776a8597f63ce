#!/usr/bin/env bash
# bench-hostile.sh - how tandemd holds up under hostile input. Prints figures
# (and writes them to $RUN/table.md); it is a bench, not a test: it passes or
# fails nothing.
#
# usage: sudo scripts/bench-hostile.sh
#
# Builds tandemd and the flooder (crates/tandem-node/examples/flood.rs) in
# release, then, in network namespaces of its own (hb<PID>-sw with a bridge,
# hb<PID>-a 192.0.2.1, hb<PID>-b 192.0.2.2, hb<PID>-f 192.0.2.254; names
# unique to this run, so it can run next to scripts/bench-failover.sh):
#
# 1. Log back-pressure. A VRRPv3 pair on VRID 1, address 192.0.2.100/24,
#    interval $INTERVAL: the Active (priority 200, hb-a) with its stderr piped
#    into a reader that takes $LOG_RATE lines per second, the Backup
#    (priority 100, hb-b) logging to a file. From hb-f, $RATE VRRPv3 adverts
#    per second with a bad checksum to 224.0.0.18 for $DURATION s. Sampled
#    every 100 ms: which node holds 192.0.2.100 and the Active's VmRSS; every
#    second `tandemd status` on the Active (answered within 2 s or not);
#    every 0.5 s GET /health on the Active. Adverts of both nodes are
#    recorded by a packet socket in hb-f (kernel-filtered to 192.0.2.1/.2).
#    Reports: whether the Backup became Active while the Active was alive,
#    how long both held the address, the Active's longest silence on the
#    wire, its RSS before / at most / after, the status answers, and what
#    /health said while the Active was not advertising.
# 2. Slow event subscribers. One CARP node (VHID 1, password, interval 1 s,
#    hb-a, stderr to a file) with N `tandemd events` readers that read
#    nothing (each writes into a FIFO held open by a `sleep` that never
#    reads), for each N in $READERS; $EV_COUNT CARP adverts signed with the
#    wrong password at $EV_RATE per second. Reports the node's VmRSS before,
#    at most and $SETTLE s after the flood, and how many bad-HMAC adverts it
#    counted (`tandemd status --json`).
#
# Environment (defaults in brackets):
#   PARTS ["1 2"]       which parts to run
#   RATE [5000]         part 1: bad-checksum packets per second
#   DURATION [20]       part 1: seconds of flood
#   INTERVAL [0.1]      part 1: advert interval, seconds (VRRPv3)
#   LOG_RATE [10]       part 1: lines per second the Active's stderr reader takes
#   POST [5]            part 1: seconds watched after the flood
#   READERS ["0 1 8"]   part 2: numbers of silent event readers, one run each
#   EV_COUNT [200000]   part 2: bad-HMAC packets per run
#   EV_RATE [20000]     part 2: their rate per second
#   SETTLE [3]          part 2: seconds after the flood before the last sample
#   SKIP_BUILD          set to 1 to use target/release/{tandemd,examples/flood} as they are
#   RUN                 scratch directory [a new /tmp/tandem-hostile.XXXXXX, kept]
#
# Everything the script starts is stopped by PID on exit (trap), and its
# namespaces are removed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PARTS=${PARTS:-"1 2"}
RATE=${RATE:-5000}
DURATION=${DURATION:-20}
INTERVAL=${INTERVAL:-0.1}
LOG_RATE=${LOG_RATE:-10}
POST=${POST:-5}
READERS=${READERS:-"0 1 8"}
EV_COUNT=${EV_COUNT:-200000}
EV_RATE=${EV_RATE:-20000}
SETTLE=${SETTLE:-3}
RUN=${RUN:-$(mktemp -d /tmp/tandem-hostile.XXXXXX)}
mkdir -p "$RUN"
VIP=192.0.2.100
HEALTH_PORT=8080
CARP_PASS=hostile-bench-pass

P=hb$$
SW=$P-sw NA=$P-a NB=$P-b NF=$P-f
ALL_NS=("$NA" "$NB" "$NF" "$SW")

die() { echo "bench-hostile: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
for c in ip bridge python3 curl cargo; do
  command -v "$c" >/dev/null || die "$c not found in PATH"
done

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  log "building tandemd and the flooder (release)"
  (cd "$root" && nice cargo build --release -p tandem-node --bins --examples)
fi
TANDEMD=$root/target/release/tandemd
FLOOD=$root/target/release/examples/flood
[ -x "$TANDEMD" ] || die "$TANDEMD not found"
[ -x "$FLOOD" ] || die "$FLOOD not found"

# --- processes: every one is remembered by PID and stopped by PID ------------
PIDS=()
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop_pid() { # stop_pid PID [TIMEOUT_S]: TERM, then KILL
  local pid=$1 to=${2:-3} i
  [ -n "$pid" ] || return 0
  alive "$pid" && kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < to * 20; i++)); do alive "$pid" || break; sleep 0.05; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
teardown() {
  set +e
  local p ns
  for ((p = ${#PIDS[@]} - 1; p >= 0; p--)); do stop_pid "${PIDS[$p]}" 2; done
  # the namespaces are this run's own: anything left in them is ours
  for ns in "${ALL_NS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  for ns in "${ALL_NS[@]}"; do ns_exists "$ns" && ip netns del "$ns"; done
  log "raw results and logs: $RUN"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- topology: a bridge in $SW, one veth port per node ------------------------
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# bgx NS CMD... &: the same in the background; exec, so that $! is CMD's own
# PID (`ip netns exec` execs CMD in turn) and it can be stopped by PID
bgx() { local ns=$1; shift; exec ip netns exec "$ns" "$@"; }
topo_up() {
  ip netns add "$SW"
  nsx "$SW" ip link set lo up
  nsx "$SW" ip link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0
  nsx "$SW" ip link set br0 up
  local spec ns addr port
  for spec in "$NA 192.0.2.1 sw-a" "$NB 192.0.2.2 sw-b" "$NF 192.0.2.254 sw-f"; do
    read -r ns addr port <<<"$spec"
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx "$SW" ip link add "$port" type veth peer name eth0 netns "$ns"
    nsx "$SW" ip link set "$port" master br0
    nsx "$SW" bridge link set dev "$port" learning off flood on mcast_flood on
    nsx "$SW" ip link set "$port" up
    nsx "$ns" ip link set eth0 up
    nsx "$ns" ip addr add "$addr/24" dev eth0
  done
  nsx "$NA" ping -c1 -W2 -q 192.0.2.2 >/dev/null || die "no connectivity in the namespaces"
}
has_vip() { ip -n "$1" -o -4 addr show dev eth0 2>/dev/null | grep -q " $VIP/"; }
wait_vip() { # wait_vip NS TIMEOUT_S
  local i
  for ((i = 0; i < $2 * 20; i++)); do has_vip "$1" && return 0; sleep 0.05; done
  return 1
}
vip_clean() { ip -n "$1" addr del "$VIP/24" dev eth0 2>/dev/null || true; }
now() { date +%s.%N; }

# --- helpers (Python, standard library only) -----------------------------------
# slow.py RATE OUT: read stdin one line at a time, at most RATE lines a second
cat >"$RUN/slow.py" <<'PY'
import os, sys, time
rate, out = float(sys.argv[1]), open(sys.argv[2], "wb", buffering=0)
line = bytearray()
while True:
    b = os.read(0, 1)  # unbuffered: the pipe fills as the writer outpaces us
    if not b:
        break
    line += b
    if b == b"\n":
        out.write(line)
        line.clear()
        time.sleep(1 / rate)
PY
# sniff.py IFACE OUT: protocol-112 packets from 192.0.2.1 / .2, "time src priority"
cat >"$RUN/sniff.py" <<'PY'
import ctypes, socket, struct, sys
iface, out = sys.argv[1], open(sys.argv[2], "w", buffering=1)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
# classic BPF, in the kernel: IPv4 protocol 112 from 192.0.2.1 or 192.0.2.2
prog = [(0x30, 0, 0, 23), (0x15, 0, 4, 112), (0x20, 0, 0, 26),
        (0x15, 1, 0, 0xC0000201), (0x15, 0, 1, 0xC0000202),
        (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
s.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(prog), ctypes.addressof(buf)))
s.bind((iface, 0))
import time
while True:
    pkt = s.recv(2048)
    if len(pkt) < 37 or pkt[23] != 112:
        continue
    ihl = (pkt[14] & 15) * 4
    prio = pkt[14 + ihl + 2] if len(pkt) > 14 + ihl + 2 else -1
    out.write(f"{time.time():.6f}\t{socket.inet_ntoa(pkt[26:30])}\t{prio}\n")
PY
# monitor.py OUT SECONDS PID [NS_A NS_B VIP TANDEMD SOCK HEALTH_URL]
#   every 0.1 s: "t sample vip_a vip_b rss_kib"; with the rest, also
#   every 1 s "t status ok seconds" and every 0.5 s "t health code seconds"
cat >"$RUN/monitor.py" <<'PY'
import subprocess, sys, threading, time
out = open(sys.argv[1], "w", buffering=1)
end = time.time() + float(sys.argv[2])
pid = sys.argv[3]
full = len(sys.argv) > 4
if full:
    ns_a, ns_b, vip, tandemd, sock, url = sys.argv[4:10]
lock = threading.Lock()
def emit(*f):
    with lock:
        out.write("\t".join(str(x) for x in f) + "\n")
def rss():
    try:
        for l in open(f"/proc/{pid}/status"):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    except OSError:
        pass
    return -1
def has(ns):
    try:
        r = subprocess.run(["ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth0"],
                           capture_output=True, text=True, timeout=2)
        return int(f" {vip}/" in r.stdout)
    except subprocess.TimeoutExpired:
        return -1
def every(period, f):
    def loop():
        while time.time() < end:
            t = time.time()
            f(t)
            time.sleep(max(0.0, period - (time.time() - t)))
    th = threading.Thread(target=loop, daemon=True)
    th.start()
    return th
def status(t):
    try:
        r = subprocess.run([tandemd, "status", "--socket", sock], capture_output=True, timeout=3)
        ok = int(r.returncode == 0 and time.time() - t <= 2.0)
    except subprocess.TimeoutExpired:
        ok = 0
    emit(f"{t:.3f}", "status", ok, f"{time.time() - t:.3f}")
def health(t):
    try:
        r = subprocess.run(["ip", "netns", "exec", ns_a, "curl", "-s", "-m", "2", "-o", "/dev/null",
                            "-w", "%{http_code}", url], capture_output=True, text=True, timeout=3)
        code = r.stdout.strip() or "none"
    except subprocess.TimeoutExpired:
        code = "none"
    emit(f"{t:.3f}", "health", code, f"{time.time() - t:.3f}")
if full:
    threads = [every(1.0, status), every(0.5, health)]
    every(0.1, lambda t: emit(f"{t:.3f}", "sample", has(ns_a), has(ns_b), rss()))
else:
    every(0.1, lambda t: emit(f"{t:.3f}", "sample", -1, -1, rss()))
while time.time() < end:
    time.sleep(0.2)
PY

topo_up
log "namespaces up: ${ALL_NS[*]}"
: >"$RUN/table.md"

# --- part 1: log back-pressure --------------------------------------------------
part1() {
  log "part 1: log back-pressure (VRRPv3 pair, interval ${INTERVAL}s; ${RATE}/s bad-checksum adverts for ${DURATION}s; Active's stderr read at ${LOG_RATE} lines/s)"
  local td=(--interface eth0 --vrid 1 --address "$VIP/24" --interval "$INTERVAL")
  mkfifo "$RUN/a.stderr"
  python3 "$RUN/slow.py" "$LOG_RATE" "$RUN/p1-a.log" <"$RUN/a.stderr" &
  local reader=$!; PIDS+=("$reader")
  bgx "$NA" "$TANDEMD" run "${td[@]}" --priority 200 --state-dir "$RUN/p1-a" \
    --control-socket "$RUN/p1-a.sock" --health-listen "127.0.0.1:$HEALTH_PORT" \
    >"$RUN/p1-a.out" 2>"$RUN/a.stderr" &
  local a=$!; PIDS+=("$a")
  wait_vip "$NA" 10 || die "the Active did not take 192.0.2.100 (see $RUN/p1-a.log)"
  bgx "$NB" "$TANDEMD" run "${td[@]}" --priority 100 --state-dir "$RUN/p1-b" \
    --control-socket "$RUN/p1-b.sock" >"$RUN/p1-b.out" 2>"$RUN/p1-b.log" &
  local b=$!; PIDS+=("$b")
  sleep 2
  has_vip "$NB" && die "the Backup holds 192.0.2.100 before the flood"
  bgx "$NF" python3 "$RUN/sniff.py" eth0 "$RUN/p1-adverts.tsv" &
  local sniff=$!; PIDS+=("$sniff")
  local watch=$((3 + DURATION + POST + 1))
  python3 "$RUN/monitor.py" "$RUN/p1-monitor.tsv" "$watch" "$a" "$NA" "$NB" "$VIP" \
    "$TANDEMD" "$RUN/p1-a.sock" "http://127.0.0.1:$HEALTH_PORT/health" &
  local mon=$!; PIDS+=("$mon")
  sleep 3
  local t_start t_end
  t_start=$(now)
  bgx "$NF" "$FLOOD" --interface eth0 --kind vrrp3-bad-checksum --rate "$RATE" \
    --count $((RATE * DURATION)) --max-seconds "$DURATION" >"$RUN/p1-flood.out" 2>&1 &
  local fl=$!; PIDS+=("$fl")
  wait "$fl" || die "the flooder failed: $(cat "$RUN/p1-flood.out")"
  t_end=$(now)
  log "$(cat "$RUN/p1-flood.out")"
  wait "$mon" || true
  local a_alive=yes
  alive "$a" || a_alive=no
  # the reader first: a tandemd blocked on its stderr is freed by EPIPE
  stop_pid "$reader" 1
  stop_pid "$sniff" 1
  stop_pid "$a" 3
  stop_pid "$b" 3
  rm -f "$RUN/a.stderr"
  vip_clean "$NA"; vip_clean "$NB"
  python3 - "$RUN" "$t_start" "$t_end" "$INTERVAL" "$RATE" "$DURATION" "$a_alive" "$LOG_RATE" <<'PY' | tee -a "$RUN/table.md"
import statistics, sys
run, t0, t1, iv, rate, dur, a_alive, log_rate = sys.argv[1:9]
t0, t1, iv = float(t0), float(t1), float(iv)
samples, status, health = [], [], []
for l in open(f"{run}/p1-monitor.tsv"):
    f = l.split()
    if f[1] == "sample":
        samples.append((float(f[0]), int(f[2]), int(f[3]), int(f[4])))
    elif f[1] == "status":
        status.append((float(f[0]), int(f[2]), float(f[3])))
    elif f[1] == "health":
        health.append((float(f[0]), f[2]))
adv = {"192.0.2.1": [], "192.0.2.2": []}
for l in open(f"{run}/p1-adverts.tsv"):
    t, src, prio = l.split()
    adv.setdefault(src, []).append(float(t))
flood_out = open(f"{run}/p1-flood.out").read().strip()
end = samples[-1][0] if samples else t1
before = [s[3] for s in samples if s[0] < t0 and s[3] > 0]
after_t0 = [s for s in samples if s[0] >= t0]
rss_max = max((s[3] for s in after_t0 if s[3] > 0), default=0)
rss_end = next((s[3] for s in reversed(samples) if s[3] > 0), 0)
a_dead = [s[0] for s in samples if s[3] < 0]
a_alive_until = a_dead[0] if a_dead else end
b_vip = [s[0] for s in after_t0 if s[2] == 1 and s[0] < a_alive_until]
both = [s for s in after_t0 if s[1] == 1 and s[2] == 1]
a_adv = [t for t in adv["192.0.2.1"] if t0 <= t <= end]
b_adv = [t for t in adv["192.0.2.2"] if t0 <= t <= end]
last_before = max((t for t in adv["192.0.2.1"] if t < t0), default=t0)
pts = [last_before] + a_adv + [end]
gaps = [(b - a, a) for a, b in zip(pts, pts[1:])]
gap, gap_at = max(gaps) if gaps else (0.0, t0)
def a_silent(t):  # no advert from the Active in the last 3 intervals
    prev = max((x for x in adv["192.0.2.1"] if x <= t), default=None)
    return prev is None or t - prev > 3 * iv
st_flood = [s for s in status if s[0] >= t0]
st_ok = sum(s[1] for s in st_flood)
h_silent = [h for h in health if h[0] >= t0 and a_silent(h[0])]
h_200 = sum(1 for h in h_silent if h[1] == "200")
recovered = any(end - 2.0 < t <= end for t in adv["192.0.2.1"])
mib = lambda k: f"{k / 1024:.1f}"
print(f"\nPart 1, log back-pressure: VRRPv3 pair, interval {iv} s, the Active's stderr read at {log_rate} lines/s; "
      f"from the flooder: {flood_out}; watched until {end - t1:.1f} s after the flood.\n")
print("| figure | value |")
print("|---|---|")
print(f"| Backup held 192.0.2.100 while the Active was alive | {'yes, first ' + format(b_vip[0] - t0, '.1f') + ' s into the flood' if b_vip else 'no'} |")
print(f"| both nodes held 192.0.2.100 (samples every 0.1 s) | {len(both) / 10:.1f} s |")
print(f"| Active's adverts on the wire from the flood's start (expected about {(end - t0) / iv:.0f}) | {len(a_adv)} |")
print(f"| Active's longest silence on the wire | {gap:.2f} s, from {gap_at - t0:+.1f} s |")
print(f"| Backup's adverts on the wire from the flood's start | {len(b_adv)} |")
print(f"| Active's VmRSS: before / max / at the end (MiB) | {mib(statistics.median(before)) if before else '?'} / {mib(rss_max)} / {mib(rss_end)} |")
print(f"| `tandemd status` answered within 2 s, from the flood's start | {st_ok} of {len(st_flood)} (slowest {max((s[2] for s in st_flood), default=0):.1f} s, capped at 3 s) |")
print(f"| GET /health answered 200 while the Active was silent (> 3 intervals) | {h_200} of {len(h_silent)} probes |")
print(f"| Active advertising again in the last 2 s watched | {'yes' if recovered else 'no'} |")
print(f"| Active process alive at the end | {a_alive} |")
PY
}

# --- part 2: slow event subscribers -------------------------------------------
part2_one() { # part2_one N_READERS
  local n=$1 i tag=p2-r$1
  vip_clean "$NA"
  bgx "$NA" "$TANDEMD" run --interface eth0 --vrid 1 --protocol carp --password "$CARP_PASS" \
    --address "$VIP/24" --interval 1 --state-dir "$RUN/$tag" --control-socket "$RUN/$tag.sock" \
    >"$RUN/$tag.out" 2>"$RUN/$tag.log" &
  local a=$!; PIDS+=("$a")
  wait_vip "$NA" 10 || die "the CARP node did not take 192.0.2.100 (see $RUN/$tag.log)"
  local rpids=()
  for ((i = 0; i < n; i++)); do
    mkfifo "$RUN/$tag-ev$i"
    # a reader that never reads: `sleep` holds the FIFO's read end
    sleep 3600 <"$RUN/$tag-ev$i" &
    rpids+=($!); PIDS+=($!)
    "$TANDEMD" events --socket "$RUN/$tag.sock" >"$RUN/$tag-ev$i" 2>"$RUN/$tag-ev$i.err" &
    rpids+=($!); PIDS+=($!)
  done
  sleep 1
  local secs
  secs=$(python3 -c "import math; print(math.ceil($EV_COUNT / $EV_RATE) + 5)")
  python3 "$RUN/monitor.py" "$RUN/$tag-monitor.tsv" $((secs + SETTLE + 2)) "$a" &
  local mon=$!; PIDS+=("$mon")
  sleep 1
  local t_start t_end
  t_start=$(now)
  bgx "$NF" "$FLOOD" --interface eth0 --kind carp-bad-hmac --rate "$EV_RATE" --count "$EV_COUNT" \
    --max-seconds "$secs" >"$RUN/$tag-flood.out" 2>&1 &
  local fl=$!; PIDS+=("$fl")
  wait "$fl" || die "the flooder failed: $(cat "$RUN/$tag-flood.out")"
  t_end=$(now)
  log "readers=$n: $(cat "$RUN/$tag-flood.out")"
  sleep "$SETTLE"
  timeout 5 "$TANDEMD" status --json --socket "$RUN/$tag.sock" >"$RUN/$tag-status.json" 2>&1 || true
  stop_pid "$mon" 1
  for i in "${rpids[@]}"; do stop_pid "$i" 1; done
  stop_pid "$a" 3
  for ((i = 0; i < n; i++)); do rm -f "$RUN/$tag-ev$i"; done
  vip_clean "$NA"
  python3 - "$RUN" "$tag" "$n" "$t_start" "$t_end" <<'PY' >>"$RUN/p2-rows.md"
import json, sys
run, tag, n, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
s = [(float(f[0]), int(f[4])) for f in (l.split() for l in open(f"{run}/{tag}-monitor.tsv")) if f[1] == "sample" and int(f[4]) > 0]
before = [r for t, r in s if t < t0]
rss_before = before[-1] if before else 0
rss_max = max((r for t, r in s if t >= t0), default=0)
rss_after = s[-1][1] if s else 0
def find(o, key):
    if isinstance(o, dict):
        if key in o and isinstance(o[key], dict):
            yield o[key]
        for v in o.values():
            yield from find(v, key)
    elif isinstance(o, list):
        for v in o:
            yield from find(v, key)
try:
    snap = json.load(open(f"{run}/{tag}-status.json"))
    auth = max((e.get("auth", 0) for e in find(snap, "errors")), default=0)
except (ValueError, OSError):
    auth = "no answer"
flood = open(f"{run}/{tag}-flood.out").read().split()
sent = next((f.split("=")[1] for f in flood if f.startswith("sent=")), "?")
rate = next((f.split("=")[1] for f in flood if f.startswith("rate=")), "?")
mib = lambda k: f"{k / 1024:.1f}"
print(f"| {n} | {sent} at {rate} | {auth} | {mib(rss_before)} | {mib(rss_max)} | {mib(rss_after)} |")
PY
}
part2() {
  log "part 2: slow event subscribers (CARP node; ${EV_COUNT} bad-HMAC adverts at ${EV_RATE}/s; readers: $READERS)"
  : >"$RUN/p2-rows.md"
  local n
  for n in $READERS; do part2_one "$n"; done
  {
    printf '\nPart 2, slow event subscribers: one CARP node (interval 1 s), silent `tandemd events` readers; '
    printf 'VmRSS sampled every 0.1 s, after = %s s after the flood.\n\n' "$SETTLE"
    echo "| silent readers | bad-HMAC adverts sent | counted by tandemd (auth) | VmRSS before (MiB) | max | after |"
    echo "|---:|---|---:|---:|---:|---:|"
    cat "$RUN/p2-rows.md"
  } | tee -a "$RUN/table.md"
}

for part in $PARTS; do
  case "$part" in
    1) part1 ;;
    2) part2 ;;
    *) die "unknown part $part (PARTS: 1 2)" ;;
  esac
done
