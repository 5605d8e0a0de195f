#!/usr/bin/env bash
# Scaling of the whole catalog (issue 7): `flowpat run patterns/` on one archive with 1, 2 and 4
# workers in one process, and as a 2-process timely cluster on localhost (1 and 2 workers each).
# Prints a Markdown table (median wall, CPU, peak RSS of process 0, load) and checks that every
# configuration writes byte-identical CSV.
#
#   bench/scaling.sh [ROWS]        default: 10000000; the archive as bench/run.sh makes it
#
# Knobs: REPEAT=3, SKIP_BUILD=0 (1: use target/release/flowpat as is), BASE_PORT=47310.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-10000000}"
REPEAT="${REPEAT:-3}"
BASE_PORT="${BASE_PORT:-47310}"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p flowpat-cli
fi
mkdir -p bench/out
BIN="bench/out/flowpat-scaling"
cp target/release/flowpat "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
DATA="bench/data/$N"
OUT="bench/out/$N/scaling"
mkdir -p "$OUT"
[[ -d "$DATA/flows" ]] || "$BIN" generate --rows "$N" --seed 7 --files 10 --out "$DATA"
args=(patterns/ --flows "$DATA/flows" --events "$DATA/events" --networks "$DATA/networks.csv" --format csv --quiet)
load1() { cut -d' ' -f1 /proc/loadavg; }

: >"$OUT/times.tsv"
# One process, W workers.
single() {
  local w=$1 run=$2 dir="$OUT/w$1"
  rm -rf "$dir"
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" "$BIN" run "${args[@]}" --workers "$w" --out "$dir/"
  echo -e "w$w\t$run\t$(cat "$OUT/time.txt")\t$(load1)" >>"$OUT/times.tsv"
}
# Two processes on localhost, W workers each; process 0 writes the results.
cluster() {
  local w=$1 run=$2 dir="$OUT/p2w$1" hosts="$OUT/hosts.txt"
  rm -rf "$dir" "$dir-1"
  printf '127.0.0.1:%d\n127.0.0.1:%d\n' "$BASE_PORT" "$((BASE_PORT + 1))" >"$hosts"
  "$BIN" run "${args[@]}" --workers "$w" --hostfile "$hosts" --process 1 --out "$dir-1/" &
  local other=$!
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" \
    "$BIN" run "${args[@]}" --workers "$w" --hostfile "$hosts" --process 0 --out "$dir/"
  wait "$other"
  echo -e "p2w$w\t$run\t$(cat "$OUT/time.txt")\t$(load1)" >>"$OUT/times.tsv"
}
for run in $(seq "$REPEAT"); do
  for w in 1 2 4; do single "$w" "$run"; done
  cluster 1 "$run"
  cluster 2 "$run"
done
for cfg in w2 w4 p2w1 p2w2; do
  diff -r -q "$OUT/w1" "$OUT/$cfg" >/dev/null || { echo "!!! $cfg wrote other results than w1" >&2; exit 1; }
done
python3 - "$OUT/times.tsv" "$N" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    cfg, run, wall, user, sys_, rss, load = line.split()
    rows[cfg].append((float(wall), float(user) + float(sys_), int(rss), float(load)))
names = {"w1": "1 process, 1 worker", "w2": "1 process, 2 workers", "w4": "1 process, 4 workers",
         "p2w1": "2 processes × 1 worker", "p2w2": "2 processes × 2 workers"}
base = statistics.median(r[0] for r in rows["w1"])
print(f"\n### Scaling, whole catalog, {int(sys.argv[2]):,} flows (median of {len(rows['w1'])})\n")
print("| configuration | wall s | speed-up | CPU s (process 0) | peak RSS (process 0) | load |")
print("|---|---:|---:|---:|---:|---:|")
for cfg in ["w1", "w2", "w4", "p2w1", "p2w2"]:
    r = rows[cfg]
    wall = statistics.median(x[0] for x in r)
    cpu = statistics.median(x[1] for x in r)
    rss = max(x[2] for x in r) / 1024
    load = statistics.median(x[3] for x in r)
    print(f"| {names[cfg]} | {wall:.2f} | {base / wall:.2f}× | {cpu:.1f} | {rss:.0f} MiB | {load:.1f} |")
print("\nEvery configuration wrote byte-identical CSV.")
PY
