#!/usr/bin/env bash
# flowpat benchmark: flowpat vs the decode floor, DuckDB and Polars on generated archives.
#
#   bench/run.sh [ROWS...]            default: 1000000 (try 10000000 too)
#
# Environment knobs (all optional):
#   REPEAT=3        runs per timed measurement (the median is reported)
#   WORKERS=2       timely workers of the main flowpat run
#   BREAKDOWN=1     also time each pattern alone, the single-connection patterns together,
#                   a scan-only pattern, and --workers 1 (0: skip)
#   PEERS=1         run the decode floor, DuckDB (counts, and writing all result rows to CSV)
#                   and Polars (0: skip)
#   WATCH=1         incremental benchmark with `flowpat watch`, if the binary has it (0: skip)
#   SKIP_BUILD=1    use the existing target/release/flowpat
#
# Writes bench/out/<ROWS>/: results.tsv (every timing, with the load average), summary.md (the
# table for bench/README.md), flowpat CSV results, peer JSON, logs. bench/data and bench/out are
# git-ignored. Every timing line carries `uptime`'s 1-minute load: the machine is shared.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH="$ROOT/bench"
REPEAT="${REPEAT:-3}"
WORKERS="${WORKERS:-2}"
BREAKDOWN="${BREAKDOWN:-1}"
PEERS="${PEERS:-1}"
WATCH="${WATCH:-1}"
ROWS_LIST=("$@")
[[ ${#ROWS_LIST[@]} -gt 0 ]] || ROWS_LIST=(1000000)

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

for n in "${ROWS_LIST[@]}"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "ROWS must be positive integers, got '$n'"
done
command -v python3 >/dev/null || die "python3 is needed (for peers and medians)"
if [[ ! -x /usr/bin/time ]]; then
  note "/usr/bin/time missing; installing the 'time' package"
  apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; } \
    || die "cannot install /usr/bin/time (apt-get install -y time)"
fi

# ---------------------------------------------------------------------------------------------
# Build once, then run a private copy: other engineers rebuild target/release concurrently.
mkdir -p "$BENCH/out"
BIN="$BENCH/out/flowpat"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  note "building: cargo build --release -p flowpat-cli (load $(load1))"
  cargo build --release -p flowpat-cli || die "cargo build failed (the tree may be mid-edit; retry, or SKIP_BUILD=1)"
fi
[[ -x target/release/flowpat ]] || die "target/release/flowpat not found; build it first"
cp target/release/flowpat "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
REV="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
note "binary: $BIN (tree $REV)"

# ---------------------------------------------------------------------------------------------
# Helpers.

# timed TSV LABEL RUN OUTPREFIX cmd... : runs cmd under /usr/bin/time -v, appends
# "label run wall_seconds peak_rss_kb load1 status cpu_seconds(user+sys)" to TSV; stdout/stderr go to OUTPREFIX.{out,err}.
timed() {
  local tsv="$1" label="$2" run="$3" prefix="$4"; shift 4
  local ld t0 t1 rc=0 rss cpu
  ld="$(load1)"
  t0="$(date +%s.%N)"
  /usr/bin/time -v -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" || rc=$?
  t1="$(date +%s.%N)"
  rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$prefix.time")"
  cpu="$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$prefix.time")"
  printf '%s\t%s\t%.3f\t%s\t%s\t%s\t%s\n' "$label" "$run" "$(echo "$t1 - $t0" | bc -l)" "${rss:-0}" "$ld" "$rc" "${cpu:-0}" >>"$tsv"
  return "$rc"
}

# csv_counts DIR -> JSON {stem: data rows} of DIR/*.csv
csv_counts() {
  python3 - "$1" <<'PY'
import csv, glob, json, os, sys
out = {}
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*.csv"))):
    with open(p, newline="") as f:
        out[os.path.basename(p)[:-4]] = max(sum(1 for _ in csv.reader(f)) - 1, 0)
print(json.dumps(out))
PY
}

# flowpat_run TSV LABEL OUTDIR WORKERS ARCHIVE PATTERN... (REPEAT times)
flowpat_runs() {
  local tsv="$1" label="$2" outdir="$3" workers="$4" archive="$5"; shift 5
  local i
  for ((i = 1; i <= REPEAT; i++)); do
    rm -rf "$outdir"; mkdir -p "$outdir"
    timed "$tsv" "$label" "$i" "$outdir/../$label" \
      "$BIN" run "$@" --flows "$archive/flows" --events "$archive/events" \
      --networks "$archive/networks.csv" --workers "$workers" --format csv --out "$outdir/" --quiet \
      || { note "flowpat run '$label' failed; see $outdir/../$label.err"; tail -5 "$outdir/../$label.err" >&2; return 1; }
  done
}

# ---------------------------------------------------------------------------------------------
bench_rows() {
  local N="$1"
  local DATA="$BENCH/data/$N" OUT="$BENCH/out/$N"
  mkdir -p "$OUT"
  local TSV="$OUT/results.tsv"
  : >"$TSV"

  if [[ ! -f "$DATA/.complete" ]]; then
    note "generating $N flows into $DATA (load $(load1))"
    rm -rf "$DATA" "$DATA.partial"
    local g0 g1
    g0="$(date +%s.%N)"
    "$BIN" generate --rows "$N" --seed 7 --files 10 --out "$DATA.partial" >/dev/null || die "flowpat generate failed"
    g1="$(date +%s.%N)"
    mv "$DATA.partial" "$DATA" && touch "$DATA/.complete"
    note "generated in $(printf '%.1f' "$(echo "$g1 - $g0" | bc -l)") s"
  fi
  local BYTES; BYTES="$(du -cb "$DATA"/flows/*.parquet | tail -1 | cut -f1)"
  note "== $N flows: $(ls "$DATA"/flows/*.parquet | wc -l) flow files, $((BYTES / 1048576)) MiB; load $(load1)"

  # -- flowpat, all six patterns, one dataflow ---------------------------------------------
  note "flowpat run patterns/ --workers $WORKERS ×$REPEAT"
  flowpat_runs "$TSV" all "$OUT/flowpat" "$WORKERS" "$DATA" patterns/ || die "flowpat run failed"
  local FP_COUNTS; FP_COUNTS="$(csv_counts "$OUT/flowpat")"
  echo "$FP_COUNTS" >"$OUT/flowpat-counts.json"
  # one extra non-quiet run for the engine's own summary (rows read / entered the dataflow)
  "$BIN" run patterns/ --flows "$DATA/flows" --events "$DATA/events" --networks "$DATA/networks.csv" \
    --workers "$WORKERS" --format csv --out "$OUT/flowpat-verbose/" 2>"$OUT/flowpat-summary.txt" >/dev/null \
    || note "verbose run failed (see $OUT/flowpat-summary.txt)"
  note "flowpat: $(tail -1 "$OUT/flowpat-summary.txt")"

  # -- breakdown -----------------------------------------------------------------------------
  if [[ "$BREAKDOWN" == 1 ]]; then
    local REP_SAVE="$REPEAT"
    note "breakdown: --workers 1; single-connection patterns; scan-only; each pattern alone"
    flowpat_runs "$TSV" all-w1 "$OUT/b-all-w1" 1 "$DATA" patterns/ || true
    flowpat_runs "$TSV" single-conn "$OUT/b-single" "$WORKERS" "$DATA" \
      patterns/ephemeral-tcp.pattern patterns/exfiltration.pattern patterns/invalid-ip-packets.pattern || true
    flowpat_runs "$TSV" scan-only "$OUT/b-scan" "$WORKERS" "$DATA" "$BENCH/scan-only.pattern" || true
    flowpat_runs "$TSV" scan-only-w1 "$OUT/b-scan-w1" 1 "$DATA" "$BENCH/scan-only.pattern" || true
    REPEAT=1
    local p stem
    for p in patterns/*.pattern; do
      stem="$(basename "$p" .pattern)"
      [[ "$stem" == common ]] && continue
      flowpat_runs "$TSV" "only-$stem" "$OUT/b-$stem" "$WORKERS" "$DATA" "$p" || true
      flowpat_runs "$TSV" "only-$stem-w1" "$OUT/b-$stem-w1" 1 "$DATA" "$p" || true
    done
    REPEAT="$REP_SAVE"
  fi

  # -- peers ---------------------------------------------------------------------------------
  local DUCK_JSON="" POLARS_JSON="" FLOOR_JSON=""
  if [[ "$PEERS" == 1 ]]; then
    local e rc
    for e in floor duckdb duckdb-csv polars; do
      note "peer $e ×$REPEAT (load $(load1))"
      rc=0
      rm -rf "$OUT/peer-$e-out"
      timed "$TSV" "peer-$e" 1 "$OUT/peer-$e" python3 "$BENCH/peers.py" "$e" "$DATA" --repeat "$REPEAT" \
        --json "$OUT/peer-$e.json" --out "$OUT/peer-$e-out" || rc=$?
      if [[ $rc == 3 ]]; then
        note "skipping $e: $(cat "$OUT/peer-$e.err")"; rm -f "$OUT/peer-$e.json"
      elif [[ $rc != 0 ]]; then
        note "peer $e FAILED (status $rc):"; tail -5 "$OUT/peer-$e.err" >&2; rm -f "$OUT/peer-$e.json"
      fi
    done
  fi

  # -- incremental (issue 4) -----------------------------------------------------------------
  if [[ "$WATCH" == 1 ]]; then
    watch_bench "$N" "$DATA" "$OUT" "$TSV" || note "watch benchmark failed (see $OUT/watch.err)"
  fi

  # -- summary + correctness cross-check -----------------------------------------------------
  python3 "$BENCH/summarize.py" "$OUT" "$N" "$BYTES" "$WORKERS" "$REV" | tee "$OUT/summary.md"
}

# ---------------------------------------------------------------------------------------------
# Incremental benchmark: the archive is watched, then 10 new files of 10k flows arrive one by one.
watch_bench() {
  local N="$1" DATA="$2" OUT="$3" TSV="$4"
  if ! "$BIN" --help 2>/dev/null | grep -qE '^\s+watch\b'; then
    note "WATCH: this flowpat has no 'watch' subcommand yet; incremental benchmark skipped"
    echo "watch-missing" >"$OUT/watch.status"
    return 0
  fi
  local SMALL="$BENCH/data/incr-seed8"
  if [[ ! -f "$SMALL/.complete" ]]; then
    note "generating 10 files × 10k flows (seed 8) into $SMALL"
    rm -rf "$SMALL" "$SMALL.partial"
    "$BIN" generate --rows 100000 --seed 8 --files 10 --out "$SMALL.partial" >/dev/null || die "generate (incremental) failed"
    mv "$SMALL.partial" "$SMALL" && touch "$SMALL/.complete"
  fi
  local W="$OUT/watch-dir"
  rm -rf "$W"; mkdir -p "$W/flows" "$W/events"
  # hard links: the same bytes, no copy of the archive
  ln "$DATA"/flows/*.parquet "$W/flows/" 2>/dev/null || cp "$DATA"/flows/*.parquet "$W/flows/"
  ln "$DATA"/events/*.parquet "$W/events/" 2>/dev/null || cp "$DATA"/events/*.parquet "$W/events/"
  cp "$DATA/networks.csv" "$W/"
  local LOG="$OUT/watch.err"
  note "watch: initial load of the archive (poll 50 ms, --workers $WORKERS)"
  local t0; t0="$(date +%s.%N)"
  "$BIN" watch patterns/ --flows "$W/flows" --events "$W/events" --networks "$W/networks.csv" \
    --workers "$WORKERS" --poll 50 --emit "$OUT/watch-changes.csv" --format csv >/dev/null 2>"$LOG" &
  local WPID=$!
  # shellcheck disable=SC2064
  trap "kill $WPID 2>/dev/null || true" EXIT
  epochs() { grep -c '^epoch ' "$LOG" 2>/dev/null || true; }
  wait_epochs() { # wait_epochs COUNT TIMEOUT_S
    local deadline=$(( $(date +%s) + $2 ))
    while [[ "$(epochs)" -lt "$1" ]]; do
      kill -0 "$WPID" 2>/dev/null || { note "watch exited early:"; tail -5 "$LOG" >&2; return 1; }
      [[ $(date +%s) -lt $deadline ]] || { note "watch: timed out waiting for epoch $1"; return 1; }
      sleep 0.01
    done
  }
  # the initial archive may come in one or several epochs; wait until it settles
  wait_epochs 1 3600 || { kill "$WPID" 2>/dev/null; return 1; }
  local prev=-1 cur
  while cur="$(epochs)"; [[ "$cur" != "$prev" ]]; do prev="$cur"; sleep 1; done
  local t1; t1="$(date +%s.%N)"
  printf 'watch-initial\t1\t%.3f\t0\t%s\t0\n' "$(echo "$t1 - $t0" | bc -l)" "$(load1)" >>"$TSV"
  local k base f ld a b
  for k in 0 1 2 3 4 5 6 7 8 9; do
    f="$(printf '%s/flows/part-%04d.parquet' "$SMALL" "$k")"
    [[ -f "$f" ]] || { note "missing $f"; break; }
    base="$(epochs)"; ld="$(load1)"
    cp "$f" "$W/flows/incr-$k.parquet.tmp"
    a="$(date +%s.%N)"
    mv "$W/flows/incr-$k.parquet.tmp" "$W/flows/incr-$k.parquet"
    wait_epochs $((base + 1)) 120 || break
    b="$(date +%s.%N)"
    # engine-reported epoch time ("... in N ms") and the wall time from rename to the epoch line
    local ms; ms="$(grep '^epoch ' "$LOG" | tail -1 | sed -n 's/.* in \([0-9]*\) ms.*/\1/p')"
    printf 'watch-epoch-ms\t%s\t%.3f\t0\t%s\t0\n' "$k" "$(echo "${ms:-0} / 1000" | bc -l)" "$ld" >>"$TSV"
    printf 'watch-epoch-wall\t%s\t%.3f\t0\t%s\t0\n' "$k" "$(echo "$b - $a" | bc -l)" "$ld" >>"$TSV"
  done
  local rss=0
  rss="$(awk '/^VmHWM/ {print $2}' /proc/$WPID/status 2>/dev/null || echo 0)"
  printf 'watch-peak-rss\t1\t0\t%s\t%s\t0\n' "${rss:-0}" "$(load1)" >>"$TSV"
  kill "$WPID" 2>/dev/null || true
  wait "$WPID" 2>/dev/null || true
  trap - EXIT
  echo "ok" >"$OUT/watch.status"
}

for N in "${ROWS_LIST[@]}"; do
  bench_rows "$N"
done
