#!/usr/bin/env bash
# Catalog estimates against real runs (issue 6): for each catalog pattern, `flowpat catalog`'s
# estimated results and runtime beside the actual result count and the wall time of
# `flowpat run PATTERN` on the same archive and workers. Checks: results within 2× (an actual 0
# estimated under 10), runtime within 3×. Prints a Markdown table and exits 1 if a check fails.
#
#   bench/estimates.sh [ROWS...]      default: 1000000; archives as bench/run.sh makes them
#
# Knobs: WORKERS=2, SKIP_BUILD=0 (1: use target/release/flowpat as is).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORKERS="${WORKERS:-2}"
ROWS_LIST=("$@")
[[ ${#ROWS_LIST[@]} -gt 0 ]] || ROWS_LIST=(1000000)

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cargo build --release -p flowpat-cli
fi
mkdir -p bench/out
BIN="bench/out/flowpat-estimates"
cp target/release/flowpat "$BIN.tmp" && mv "$BIN.tmp" "$BIN"

failed=0
for n in "${ROWS_LIST[@]}"; do
  DATA="bench/data/$n"
  OUT="bench/out/$n/estimates"
  mkdir -p "$OUT"
  if [[ ! -d "$DATA/flows" ]]; then
    "$BIN" generate --rows "$n" --seed 7 --files 10 --out "$DATA"
  fi
  args=(--flows "$DATA/flows" --events "$DATA/events" --networks "$DATA/networks.csv" --workers "$WORKERS")
  start=$(date +%s.%N)
  "$BIN" catalog patterns/ "${args[@]}" --format csv >"$OUT/catalog.csv"
  end=$(date +%s.%N)
  echo "$n catalog $(python3 -c "print(f'{$end - $start:.3f}')")" >"$OUT/times.txt"
  # The pattern files the catalog lists (common.pattern only holds shared definitions).
  for p in $(python3 -c "import csv,sys; print(' '.join(sorted({r['file'] for r in csv.DictReader(open(sys.argv[1]))})))" "$OUT/catalog.csv"); do
    name=$(basename "$p" .pattern)
    start=$(date +%s.%N)
    "$BIN" run "$p" "${args[@]}" --format csv --out "$OUT/$name.csv" --quiet
    end=$(date +%s.%N)
    echo "$n $name $(python3 -c "print(f'{$end - $start:.3f}')")" >>"$OUT/times.txt"
  done
  python3 - "$OUT" "$n" <<'PY' || failed=1
import csv, sys, pathlib
out, n = pathlib.Path(sys.argv[1]), sys.argv[2]
times = {}
for line in (out / "times.txt").read_text().split("\n"):
    if line.strip():
        _, name, secs = line.split()
        times[name] = float(secs)
rows = list(csv.DictReader(open(out / "catalog.csv")))
bad = 0
print(f"\n### {int(n):,} flows: catalog estimates ({times['catalog']:.2f} s for all) vs runs\n")
print("| pattern | est. results | actual | ratio | est. runtime s | actual s | ratio | ok |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    name = pathlib.Path(r["file"]).stem
    actual = sum(1 for _ in open(out / f"{name}.csv")) - 1
    est = float(r["estimated_results"])
    est_t, act_t = float(r["estimated_runtime_seconds"]), times[name]
    if actual == 0:
        res_ok, rr = est < 10, float("nan")
    else:
        rr = est / actual
        res_ok = 0.5 <= rr <= 2.0
    tr = est_t / act_t if act_t > 0 else float("nan")
    t_ok = 1 / 3 <= tr <= 3
    ok = res_ok and t_ok
    bad += not ok
    print(f"| {r['name']} | {est:.0f} | {actual} | {rr:.2f} | {est_t:.2f} | {act_t:.2f} | {tr:.2f} | {'yes' if ok else '**no**'} |")
sys.exit(1 if bad else 0)
PY
done
exit $failed
