#!/usr/bin/env bash
# failover-bench.sh - measure master failover time of any VRRP/CARP daemon pair
#
# usage: failover-bench.sh -a 'CMD_A' -b 'CMD_B' -v VIP [options]
#   -a CMD    command template started inside namespace lab-a
#   -b CMD    command template started inside namespace lab-b
#             Templates run as `sh -c "exec CMD"` inside the namespace, so the
#             daemon must stay in the foreground. Placeholders: {lab} = this
#             directory, {run} = its run/ scratch directory, {i} = iteration.
#   -v VIP    the virtual address whose move is timed (IPv4 or IPv6)
#   -n N      iterations (default 5)
#   -m MODE   kill      SIGKILL every process of the master's namespace (default)
#             block     drop every frame the master sends, at the switch port
#                       (nftables netdev ingress hook in lab-sw); the master
#                       keeps running and keeps the VIP, it is just not heard
#             linkdown  set the master's switch port down (its eth0 loses carrier)
#   -s SEC    settle time once the VIP is up before the failure (default 3)
#   -j SEC    plus a random extra delay, uniform in [0, SEC) (default 1), so the
#             failure lands at a random phase of the advertisement cycle
#   -T SEC    give up waiting for the takeover after SEC (default 30)
#   -l LABEL  label used in the output and in the result file run/LABEL.tsv
#   -f FILTER tcpdump filter matching the adverts (default:
#             'ip proto 112 or ip6 proto 112 or ip proto 51')
#
# For every iteration: both commands are started; once the VIP sits in exactly
# one namespace (the master M) and has stayed there SEC seconds, the failure is
# injected at t0 (kill: t0 just before the master's processes are frozen and
# killed; block/linkdown: t0 just after the rule/link change has taken effect). t1 = the later of (a) the VIP being added in the
# other namespace (B), from `ip -ts monitor address` inside B, and (b) the first
# advertisement sent by B seen on the wire by the observer (tcpdump -tt in
# lab-obs). The script prints t1 - t0 per iteration and min/median/max in ms.
# It also prints t1 - tL, tL being the last advert of the master seen on the
# wire before the other node's first advert: the phase of the failure drops out of that figure, which a
# correct Backup brings to its Active_Down_Interval (3 x interval + skew) plus
# the time it needs to add the address and send.
# All three clocks are the same host clock (namespaces share it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

CMD_A= CMD_B= VIP= N=5 MODE=kill SETTLE=3 JITTER=1 TMO=30 LABEL=failover
FILTER='ip proto 112 or ip6 proto 112 or ip proto 51'
while getopts "a:b:v:n:m:s:j:T:l:f:h" o; do
  case $o in
    a) CMD_A=$OPTARG ;; b) CMD_B=$OPTARG ;; v) VIP=$OPTARG ;; n) N=$OPTARG ;;
    m) MODE=$OPTARG ;; s) SETTLE=$OPTARG ;; j) JITTER=$OPTARG ;; T) TMO=$OPTARG ;; l) LABEL=$OPTARG ;;
    f) FILTER=$OPTARG ;;
    *) awk 'NR>1 && /^#/{print; next} NR>1{exit}' "$0"; exit 2 ;;
  esac
done
[ -n "$CMD_A" ] && [ -n "$CMD_B" ] && [ -n "$VIP" ] || { awk 'NR>1 && /^#/{print; next} NR>1{exit}' "$0"; exit 2; }
case $MODE in kill | block | linkdown) ;; *) echo "bad mode $MODE" >&2; exit 2 ;; esac
ip netns list | awk '{print $1}' | grep -qx lab-obs || "$here/topo.sh" up

declare -A PORT=([lab-a]=sw-a [lab-b]=sw-b)
W=$RUN/$LABEL.work
rm -rf "$W"; mkdir -p "$W"
RES=$RUN/$LABEL.tsv
: >"$RES"

expand() { # expand placeholders of a template
  local t=$1 i=$2
  t=${t//\{lab\}/$here}; t=${t//\{run\}/$RUN}; t=${t//\{i\}/$i}
  printf '%s' "$t"
}

unblock() {
  ip netns exec lab-sw nft delete table netdev labblock 2>/dev/null || true
  ip -n lab-sw link set sw-a up 2>/dev/null || true
  ip -n lab-sw link set sw-b up 2>/dev/null || true
}

teardown_iter() {
  local ns p
  # survivors get a TERM first (a clean daemon removes its VIPs), then KILL
  for p in "${NODE_PIDS[@]:-}"; do [ -n "$p" ] && stop_pid "$p" TERM 3; done
  for ns in lab-a lab-b; do kill_ns_procs "$ns" KILL "${MON_PIDS[@]:-}"; done
  unblock
  sleep 0.2
  for ns in lab-a lab-b; do vip_clean "$ns"; done
}

cleanup() {
  set +e
  teardown_iter
  for p in "${MON_PIDS[@]:-}"; do stop_pid "$p" INT 2; done
  stop_pid "${TD_PID:-}" INT 2
}
MON_PIDS=()
trap cleanup EXIT

# observers for the whole run: advertisements on the wire, address events in each node
bg_ns lab-obs "$W/wire.txt" tcpdump -i eth0 -n -tt -l "$FILTER"
TD_PID=$LAST_PID
for ns in lab-a lab-b; do
  bg_ns "$ns" "$W/mon-$ns.txt" ip -ts monitor address
  MON_PIDS+=("$LAST_PID")
done
for _ in $(seq 100); do grep -q 'listening on' "$W/wire.txt" 2>/dev/null && break; sleep 0.05; done

analyse() { # analyse T0 BACKUP_NS ADDRS_FILE MASTER_ADDRS_FILE -> "vip_ms adv_ms n_master_pkts"
  python3 - "$1" "$VIP" "$W/mon-$2.txt" "$W/wire.txt" "$3" "$4" <<'PY'
import sys, datetime, ipaddress
t0, vip, mon, wire, addrsf, maddrsf = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
vip = ipaddress.ip_address(vip)
addrs = {ipaddress.ip_address(a) for a in open(addrsf).read().split()}
maddrs = {ipaddress.ip_address(a) for a in open(maddrsf).read().split()}
nm = 0
tv = ta = tl = None
for line in open(mon):
    if not line.startswith("[") or "Deleted" in line:
        continue
    ts = datetime.datetime.fromisoformat(line[1:line.index("]")]).timestamp()
    parts = line.split()
    for i, w in enumerate(parts):
        if w in ("inet", "inet6") and i + 1 < len(parts):
            try:
                a = ipaddress.ip_address(parts[i + 1].split("/")[0])
            except ValueError:
                continue
            if a == vip and ts >= t0 and tv is None:
                tv = ts
for line in open(wire):
    f = line.split()
    if len(f) < 5 or f[1] not in ("IP", "IP6"):
        continue
    try:
        ts = float(f[0]); src = ipaddress.ip_address(f[2])
    except ValueError:
        continue
    if ts >= t0 and src in addrs and ta is None:
        ta = ts
    if ts >= t0 and src in maddrs and (ta is None or ts <= ta):
        nm += 1
    if src in maddrs and ta is None:
        tl = ts
fmt = lambda t: "NA" if t is None else "%.1f" % ((t - t0) * 1000)
sl = "NA" if tl is None or tv is None or ta is None else "%.1f" % ((max(tv, ta) - tl) * 1000)
print(fmt(tv), fmt(ta), nm, sl)
PY
}

printf '# %s  mode=%s  vip=%s  iterations=%s\n' "$LABEL" "$MODE" "$VIP" "$N"
printf '# iter\tmaster\tvip_ms\tadvert_ms\tfailover_ms\tmaster_pkts_after_t0\tsince_last_advert_ms\n'
for ((i = 1; i <= N; i++)); do
  NODE_PIDS=()
  ca=$(expand "$CMD_A" "$i"); cb=$(expand "$CMD_B" "$i")
  bg_ns lab-a "$W/a-$i.log" sh -c "exec $ca"; NODE_PIDS+=("$LAST_PID")
  bg_ns lab-b "$W/b-$i.log" sh -c "exec $cb"; NODE_PIDS+=("$LAST_PID")
  # steady state: VIP in exactly one namespace, unchanged for SETTLE seconds
  master=
  for ((k = 0; k < 20 * 60; k++)); do
    ina=0 inb=0
    has_addr lab-a "$VIP" && ina=1
    has_addr lab-b "$VIP" && inb=1
    if [ $((ina + inb)) -eq 1 ]; then
      [ $ina = 1 ] && master=lab-a || master=lab-b
      break
    fi
    sleep 0.05
  done
  if [ -z "$master" ]; then log "iteration $i: no master after 60 s"; teardown_iter; continue; fi
  sleep "$(python3 -c "import random; print('%.3f' % ($SETTLE + random.random() * $JITTER))")"
  other=lab-b; [ "$master" = lab-b ] && other=lab-a
  if ! has_addr "$master" "$VIP" || has_addr "$other" "$VIP"; then
    log "iteration $i: no steady state (VIP moved or duplicated during settle)"; teardown_iter; continue
  fi
  ns_addrs "$other" >"$W/addrs-$i.txt"
  ns_addrs "$master" >"$W/maddrs-$i.txt"
  # --- failure injection at t0
  case $MODE in
    kill)
      victims=()
      for p in $(ip netns pids "$master"); do
        case " ${MON_PIDS[*]} " in *" $p "*) ;; *) victims+=("$p") ;; esac
      done
      # freeze first, so that no process of the master can react (keepalived's
      # VRRP child would otherwise see its parent die and send priority 0)
      t0=$(date +%s.%N)
      for p in "${victims[@]}"; do kill -STOP "$p" 2>/dev/null || true; done
      for p in "${victims[@]}"; do kill -KILL "$p" 2>/dev/null || true; done ;;
    block)
      # t0 is taken once the drop rule is in place (a frame sent while nft is
      # still starting up would otherwise count against the backup)
      ip netns exec lab-sw nft -f - <<EOF
table netdev labblock {
  chain in { type filter hook ingress device "${PORT[$master]}" priority 0; policy drop; }
}
EOF
      t0=$(date +%s.%N) ;;
    linkdown)
      ip -n lab-sw link set "${PORT[$master]}" down
      t0=$(date +%s.%N) ;;
  esac
  # --- wait for VIP in the other namespace and its first advertisement
  ok=0
  for ((k = 0; k < TMO * 20; k++)); do
    if has_addr "$other" "$VIP"; then
      read -r vms ams nm sl < <(analyse "$t0" "$other" "$W/addrs-$i.txt" "$W/maddrs-$i.txt")
      if [ "$vms" != NA ] && [ "$ams" != NA ]; then ok=1; break; fi
    fi
    sleep 0.05
  done
  sleep 0.2
  read -r vms ams nm sl < <(analyse "$t0" "$other" "$W/addrs-$i.txt" "$W/maddrs-$i.txt")
  if [ $ok = 1 ]; then
    f=$(python3 -c "print('%.1f' % max(float('$vms'), float('$ams')))")
  else
    f=NA
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$master" "$vms" "$ams" "$f" "$nm" "$sl" | tee -a "$RES"
  teardown_iter
  sleep 0.5
done

python3 - "$RES" "$LABEL" "$MODE" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def col(j):
    return [float(r[j]) for r in rows if r[j] != "NA"]
f, v, a = col(4), col(2), col(3)
l = [float(r[6]) for r in rows if len(r) > 6 and r[6] != "NA"]
fails = sum(1 for r in rows if r[4] == "NA")
def s(x):
    return "min %.0f  median %.0f  max %.0f  (n=%d)" % (min(x), statistics.median(x), max(x), len(x)) if x else "no data"
print("# %s mode=%s failover ms: %s%s" % (sys.argv[2], sys.argv[3], s(f), "  failed=%d" % fails if fails else ""))
print("#   VIP-added ms: %s" % s(v))
print("#   first-advert ms: %s" % s(a))
print("#   since the master's last advert ms: %s" % s(l))
PY
