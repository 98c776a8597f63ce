#!/bin/sh
# Runs the tandem-wire benchmarks and prints the median time per packet of
# each, with the ratios the project targets (see docs/benchmarks.md).
#
#   benches/run.sh                  run every wire bench, then print the table
#   benches/run.sh vrrp3_v4         run only the benches whose id matches
#   benches/run.sh --table          print the table of the last run only
#
# Extra arguments go to criterion (a filter, --save-baseline NAME, ...).
# The run is niced: the numbers are for a quiet machine, not a fast one.
set -eu
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--table" ]; then
    shift
else
    nice -n 10 cargo bench -p tandem-benches --bench wire -- "$@"
fi

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

python3 - "$target_dir/criterion" <<'EOF'
import json, os, sys

root = sys.argv[1]
medians = {}
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.basename(dirpath) != "new" or "estimates.json" not in filenames:
        continue
    with open(os.path.join(dirpath, "benchmark.json")) as f:
        name = json.load(f)["full_id"]
    with open(os.path.join(dirpath, "estimates.json")) as f:
        e = json.load(f)
    medians[name] = (
        e["median"]["point_estimate"],
        e["median"]["confidence_interval"]["lower_bound"],
        e["median"]["confidence_interval"]["upper_bound"],
    )

if not medians:
    sys.exit(f"no criterion results under {root}: run benches/run.sh first")

order = ["checksum", "vrrp3_v4", "vrrp3_v6", "vrrp2", "carp", "frame"]
def key(n):
    g = n.split("/")[0]
    return (order.index(g) if g in order else len(order), n)

w = max(len(n) for n in medians)
print(f"{'benchmark':<{w}}  {'median ns':>10}  {'95% CI of median':>19}")
for n in sorted(medians, key=key):
    m, lo, hi = medians[n]
    print(f"{n:<{w}}  {m:>10.1f}  {lo:>8.1f} .. {hi:>8.1f}")

print()
print("ratios (medians)                                     value  target")
def ratio(label, num, den, target):
    if num in medians and den in medians:
        r = medians[num][0] / medians[den][0]
        print(f"{label:<50} {r:>6.2f}x  {target}")
    else:
        print(f"{label:<50}    n/a  {target}  (missing {num if num not in medians else den})")

for fmt in ["vrrp3_v4", "vrrp3_v6"]:
    for kind in ["view", "repr"]:
        ratio(f"{fmt}/parse_verify_{kind} / checksum/bare/{fmt}",
              f"{fmt}/parse_verify_{kind}", f"checksum/bare/{fmt}", "<= 2x")
for kind in ["view", "repr"]:
    ratio(f"vrrp2/parse_verify_{kind} / checksum/bare/vrrp2",
          f"vrrp2/parse_verify_{kind}", "checksum/bare/vrrp2", "(no target)")
ratio("carp/verify_view / carp/hmac_sha1_one_shot",
      "carp/verify_view", "carp/hmac_sha1_one_shot", "~1x")
EOF
