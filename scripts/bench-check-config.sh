#!/usr/bin/env bash
# bench-check-config.sh - how long `tandemd check-config --no-host` takes on
# configurations of many instances (release build).
#
# usage: scripts/bench-check-config.sh [N ...]     (default: 10000 40000 100000)
#
# For each N, writes a configuration of N VRRPv3 IPv4 instances (named
# i0..i<N-1>, 250 per interface, VRIDs 1..250, one virtual address each,
# unique across the file) with one sync group of two members per 10
# instances, and a [health] table naming 100 instances; then runs
# `tandemd check-config --no-host FILE` on it RUNS times and prints, for
# the run of least CPU time, its CPU time (user + system: what the check
# costs, whatever else the machine runs), its wall time and its peak
# resident memory.
#
# Environment (defaults in brackets):
#   RUNS [3]       runs per size, the best is printed (the runs are not
#                  niced: on a shared machine, a niced run measures the load)
#   SKIP_BUILD     set to 1 to use target/release/tandemd as it is
#   TANDEMD        the binary [target/release/tandemd]
#   RUN            scratch directory for the configurations
#                  [a new /tmp/tandem-check-config.XXXXXX, removed afterwards]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
TANDEMD=${TANDEMD:-$root/target/release/tandemd}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 40000 100000)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && nice cargo build --release -q -p tandem-node --bin tandemd)
fi
if [ -n "${RUN:-}" ]; then
    mkdir -p "$RUN"
else
    RUN=$(mktemp -d /tmp/tandem-check-config.XXXXXX)
    trap 'rm -rf "$RUN"' EXIT
fi

gen() { # N FILE
    python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        ifc, vrid = divmod(i, 250)
        a = 10 << 24 | i + 1
        addr = f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"
        f.write(f'[[instance]]\nname = "i{i}"\ninterface = "e{ifc}"\n'
                f'vrid = {vrid + 1}\naddresses = ["{addr}/8"]\n\n')
    for g in range(0, n - 1, 10):
        f.write(f'[[sync_group]]\nname = "g{g}"\ninstances = ["i{g}", "i{g + 1}"]\n\n')
    members = ", ".join(f'"i{i}"' for i in range(0, n, max(1, n // 100)))
    f.write(f'[health]\nlisten = "127.0.0.1:8080"\ninstances = [{members}]\n')
PY
}

printf '%-10s %-10s %-10s %-10s %s\n' instances "CPU s" "wall s" "peak RSS" result
for n in "${sizes[@]}"; do
    file=$RUN/check-$n.toml
    gen "$n" "$file"
    best=
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$RUN/time" -f '%e %U %S %M' \
            "$TANDEMD" check-config --no-host "$file" >"$RUN/out" 2>&1 || true
        read -r w u s m <"$RUN/time"
        t=$(awk "BEGIN{print $u + $s}")
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; wall=$w; mem=$m; fi
    done
    printf '%-10s %-10s %-10s %-10s %s\n' "$n" "$best" "$wall" "$((mem / 1024)) MiB" \
        "$(tail -n1 "$RUN/out" | sed 's|.*: ||')"
done
