#!/usr/bin/env bash
# bench-slowloris.sh - how many load-balancer probes of an Active tandemd get
# the truthful answer while slowloris clients hold its health port.
#
# usage: sudo scripts/bench-slowloris.sh
#
# 1. builds tandemd (`nice cargo build --release -p tandem-node`), unless
#    SKIP_BUILD=1 or TANDEMD names another binary (e.g. one built from an
#    older commit, to compare);
# 2. makes two network namespaces of its own, tandemd's and the clients',
#    joined by a veth pair: 192.0.2.1/24 (tandemd, eth0) and 192.0.2.2/24
#    (clients, eth0);
# 3. starts one tandemd there (VRRPv3, VRID 1, priority 200, address
#    192.0.2.100/24, interval 1 s, health port 192.0.2.1:8080) and waits until
#    it is Active (/health answers 200, X-Tandem-State active);
# 4. from the clients' namespace, opens SLOW slowloris connections to the
#    health port (scripts/slowloris.py: heads that never end, a byte a second,
#    reopened when the server closes them), waits WARM seconds, then sends
#    PROBES probes of /health one after the other, every GAP seconds, with
#    `curl --max-time 1` as a load balancer's health check does, and LIVE
#    probes of /live;
# 5. prints how many probes got the truthful answer (200 with
#    X-Tandem-State: active), how many got 503 (with which body), other
#    codes, and none (timeout or reset); tandemd's resident memory and
#    threads before and during the slowloris clients; what the slowloris
#    clients saw; and, where tandemd has them, its tandem_http_* metrics.
#
# Environment (defaults in brackets):
#   SLOW [300]  slowloris connections      PROBES [200]  /health probes
#   LIVE [50]   /live probes               GAP [0.05]    seconds between probes
#   WARM [3]    seconds of slowloris before the first probe
#   TANDEMD     the binary [target/release/tandemd, built first]
#   SKIP_BUILD  set to 1 to use TANDEMD as it is
#   RUN         scratch directory [a new /tmp/tandem-slowloris.XXXXXX, kept]
#
# Prints figures; it is not a test and asserts nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SLOW=${SLOW:-300}
PROBES=${PROBES:-200}
LIVE=${LIVE:-50}
GAP=${GAP:-0.05}
WARM=${WARM:-3}
RUN=${RUN:-$(mktemp -d /tmp/tandem-slowloris.XXXXXX)}
mkdir -p "$RUN"
SRV=slw-srv-$$
CLI=slw-cli-$$
SRV_IP=192.0.2.1
CLI_IP=192.0.2.2
PORT=8080
URL=http://$SRV_IP:$PORT

die() { echo "bench-slowloris: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, raw sockets)"
for c in ip curl python3 cargo; do
  command -v "$c" >/dev/null || die "$c not found in PATH"
done

if [ -z "${TANDEMD:-}" ]; then
  TANDEMD=$root/target/release/tandemd
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building tandemd (release)" >&2
    (cd "$root" && nice cargo build --release -p tandem-node)
  fi
fi
[ -x "$TANDEMD" ] || die "$TANDEMD not found"

td_pid=
slow_pid=
teardown() {
  set +e
  local p
  for p in $slow_pid $td_pid; do kill -TERM "$p" 2>/dev/null; done
  for p in $slow_pid $td_pid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  ip netns del "$CLI" 2>/dev/null
  ip netns del "$SRV" 2>/dev/null
}
trap teardown EXIT

# --- namespaces
ip netns add "$SRV"
ip netns add "$CLI"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link add eth0 type veth peer name eth0 netns "$CLI"
ip -n "$SRV" addr add "$SRV_IP/24" dev eth0
ip -n "$CLI" addr add "$CLI_IP/24" dev eth0
ip -n "$SRV" link set eth0 up
ip -n "$CLI" link set eth0 up
ip netns exec "$CLI" ping -c1 -W2 -q "$SRV_IP" >/dev/null || die "no connectivity between $CLI and $SRV"

# --- tandemd, alone on its link: Active after its Active-down interval
ip netns exec "$SRV" "$TANDEMD" run --state-dir "$RUN/state" --control-socket "$RUN/tandemd.sock" \
  --interface eth0 --vrid 1 --priority 200 --address 192.0.2.100/24 --interval 1 \
  --health-listen "$SRV_IP:$PORT" >"$RUN/tandemd.log" 2>&1 &
td_pid=$!

# probe URL -> prints "CODE STATE BODY" (CODE 000 when curl got no answer)
probe() {
  local hdr=$RUN/probe.hdr body=$RUN/probe.body code state
  : >"$hdr"; : >"$body"
  code=$(ip netns exec "$CLI" curl -s --max-time 1 -D "$hdr" -o "$body" -w '%{http_code}' "$1" 2>/dev/null) || code=000
  state=$(tr -d '\r' <"$hdr" | awk -F': ' 'tolower($1) == "x-tandem-state" {print $2}')
  printf '%s %s %s\n' "${code:-000}" "${state:--}" "$(tr -d '\n' <"$body" | head -c 40)"
}

echo "== waiting for tandemd to be Active" >&2
active=0
for _ in $(seq 100); do
  kill -0 "$td_pid" 2>/dev/null || die "tandemd exited: $(tail -5 "$RUN/tandemd.log")"
  read -r code state _ < <(probe "$URL/health")
  if [ "$code" = 200 ] && [ "$state" = active ]; then active=1; break; fi
  sleep 0.2
done
[ "$active" = 1 ] || die "tandemd did not become Active within 20 s (log: $RUN/tandemd.log)"

# resident memory (KiB) and threads of tandemd
footprint() { awk '/^VmRSS/ {r = $2} /^Threads/ {t = $2} END {printf "RSS %d KiB, %d threads", r, t}' "/proc/$td_pid/status"; }
fp_before=$(footprint)

# --- slowloris, then the probes
budget=$(python3 -c "print(int($WARM + ($PROBES + $LIVE) * ($GAP + 1.1) + 30))")
ip netns exec "$CLI" python3 "$root/scripts/slowloris.py" "$SRV_IP" "$PORT" "$SLOW" "$budget" "$RUN/slowloris.stats" &
slow_pid=$!
sleep "$WARM"

count() { # count PATH N -> counts of outcomes in $RUN/PATH.out
  local path=$1 n=$2 i
  : >"$RUN/$path.out"
  for ((i = 0; i < n; i++)); do
    probe "$URL/$path" >>"$RUN/$path.out"
    sleep "$GAP"
  done
}
echo "== $PROBES probes of /health and $LIVE of /live during $SLOW slowloris connections" >&2
t0=$(date +%s.%N)
count health "$PROBES"
count live "$LIVE"
t1=$(date +%s.%N)
fp_during=$(footprint)
metrics=$(ip netns exec "$CLI" curl -s --max-time 2 "$URL/metrics" | grep '^tandem_http_' || true)
kill -TERM "$slow_pid" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$slow_pid" 2>/dev/null || break; sleep 0.1; done
slow_pid=

# --- figures
echo
echo "tandemd: $TANDEMD ($("$TANDEMD" --version 2>/dev/null || echo unknown version))"
echo "slowloris connections: $SLOW; probes: $PROBES /health + $LIVE /live, curl --max-time 1, every ${GAP} s; $(python3 -c "print(f'{$t1 - $t0:.1f}')") s"
awk -v n="$PROBES" '
  { total++ }
  $1 == 200 && $2 == "active" { truthful++; next }
  $1 == 503 { b = $3; for (i = 4; i <= NF; i++) b = b " " $i; s503[b]++; next }
  $1 == "000" { none++; next }
  { other[$1]++ }
  END {
    printf "/health truthful (200, X-Tandem-State: active): %d of %d (%.1f%%)\n", truthful, total, total ? 100 * truthful / total : 0
    for (b in s503) printf "/health 503 \"%s\": %d\n", b, s503[b]
    for (c in other) printf "/health %s: %d\n", c, other[c]
    printf "/health no answer within 1 s: %d\n", none
  }' "$RUN/health.out"
awk '
  { total++ } $1 == 200 { ok++ }
  END { printf "/live 200: %d of %d (%.1f%%)\n", ok, total, total ? 100 * ok / total : 0 }' "$RUN/live.out"
echo "tandemd before the slowloris clients: $fp_before; at the end of the probes: $fp_during"
if [ -s "$RUN/slowloris.stats" ]; then
  echo "slowloris clients saw: $(tr '\n' ' ' <"$RUN/slowloris.stats")"
fi
if [ -n "$metrics" ]; then
  echo "tandemd's health-port metrics after the run:"
  sed 's/^/  /' <<<"$metrics"
fi
echo "raw results and the log: $RUN" >&2
