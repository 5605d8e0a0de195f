#!/usr/bin/env python3
"""Summarise one bench/run.sh output folder as a markdown table, with the target ratios and
the DuckDB/Polars result-count cross-check.

    python3 bench/summarize.py bench/out/<ROWS> ROWS ARCHIVE_BYTES WORKERS REV
"""
import json
import os
import statistics
import sys

out, rows, nbytes, workers, rev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
PATTERNS = ["ephemeral-tcp", "exfiltration", "ftp-exfiltration", "ftp-exfiltration-temporal",
            "invalid-ip-packets", "port-jumping"]

runs = {}
with open(os.path.join(out, "results.tsv")) as f:
    for line in f:
        f_ = line.rstrip("\n").split("\t")
        label, run, secs, rss, load, status = f_[:6]
        cpu = float(f_[6]) if len(f_) > 6 else 0.0
        runs.setdefault(label, []).append((float(secs), int(rss), float(load), int(status), cpu))


def med(label):
    ok = [r for r in runs.get(label, []) if r[3] == 0]
    if not ok:
        return None
    return (statistics.median(r[0] for r in ok), max(r[1] for r in ok), statistics.mean(r[2] for r in ok), len(ok),
            statistics.median(r[4] for r in ok))


def peer(name):
    p = os.path.join(out, f"peer-{name}.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        j = json.load(f)
    t = runs.get(f"peer-{name}", [(0, 0, 0.0, 0, 0.0)])[0]
    # CPU of the whole peers.py process (all repeats + Python start-up) / repeats: an upper bound
    return j, t[1], t[2], t[4] / max(len(j["times"]), 1)


def fmt_s(x):
    return "—" if x is None else f"{x:.2f}"


def mib(kb):
    return f"{kb / 1024:.0f} MiB" if kb else "—"


lines = []
P = lines.append
P(f"### {rows:,} flows ({nbytes / 1048576:.0f} MiB of flow Parquet), tree {rev}")
P("")
P("| work | median wall s | CPU s (user+sys) | peak RSS | load (1 min) | runs |")
P("|---|---:|---:|---:|---:|---:|")
floor, duck, polars, duckcsv = peer("floor"), peer("duckdb"), peer("polars"), peer("duckdb-csv")
if floor:
    v = floor[0]["variants"]
    P(f"| decode floor: pyarrow reads the 11 columns (plain strings) | {v['plain']['median']:.2f} | | {mib(floor[1])} | {floor[2]:.1f} | {len(v['plain']['times'])} |")
    P(f"| decode floor: same, addresses as dictionaries | {v['dictionary']['median']:.2f} | | | | {len(v['dictionary']['times'])} |")
labels = [
    ("all", f"**flowpat, all six patterns, --workers {workers}**"),
    ("all-w1", "flowpat, all six, --workers 1"),
    ("single-conn", f"flowpat, the 3 single-connection patterns (ephemeral, exfiltration, invalid), --workers {workers}"),
    ("scan-only", f"flowpat, scan-only pattern (reads + filters every row, nothing matches), --workers {workers}"),
    ("scan-only-w1", "flowpat, scan-only, --workers 1"),
]
for p in PATTERNS:
    labels.append((f"only-{p}", f"flowpat, {p} alone, --workers {workers}"))
    labels.append((f"only-{p}-w1", f"flowpat, {p} alone, --workers 1"))
for label, text in labels:
    m = med(label)
    if m:
        P(f"| {text} | {m[0]:.2f} | {m[4]:.2f} | {mib(m[1])} | {m[2]:.1f} | {m[3]} |")
for name, res in [("DuckDB", duck), ("Polars", polars), ("DuckDB (writing every result row to CSV, sorted, like flowpat --out)", duckcsv)]:
    if res:
        P(f"| {name} {res[0].get('version', '')}, six patterns over Parquet | {res[0]['median']:.2f} | ≤{res[3]:.2f} | {mib(res[1])} | {res[2]:.1f} | {len(res[0]['times'])} |")
    else:
        P(f"| {name}: not run (see run log) | — | — | — | — | |")
wi = med("watch-initial")
em = None
if wi:
    P(f"| flowpat watch: initial load of the archive (until settled, incl. ≥1 s settle wait) | {wi[0]:.2f} | | | {wi[2]:.1f} | 1 |")
    em, ew, rss = med("watch-epoch-ms"), med("watch-epoch-wall"), runs.get("watch-peak-rss", [(0, 0, 0, 0)])[0][1]
    if em:
        P(f"| flowpat watch: one new 10 k-flow file, epoch time reported by watch | {em[0]:.3f} | | {mib(rss)} | {em[2]:.1f} | {em[3]} |")
        P(f"| flowpat watch: same, wall from rename to epoch line (incl. 2 polls of 50 ms) | {ew[0]:.3f} | | | {ew[2]:.1f} | {ew[3]} |")
elif os.path.exists(os.path.join(out, "watch.status")) and open(os.path.join(out, "watch.status")).read().strip() == "watch-missing":
    P("| flowpat watch: **not available in this binary** (script part in place, skipped) | — | | | | |")

P("")
P("Ratios (targets from shared/spec/performance-notes.md):")
P("")
a = med("all")
best = min([r[0]["median"] for r in (duck, polars) if r], default=None)
if a and best:
    which = "DuckDB" if duck and duck[0]["median"] == best else "Polars"
    P(f"- flowpat / faster peer ({which}), wall: {a[0]:.2f} / {best:.2f} = **{a[0] / best:.2f}** (target ≤ 0.3 at 10 M)")
if a and duckcsv:
    P(f"- flowpat / DuckDB writing the same result rows to CSV, wall: {a[0]:.2f} / {duckcsv[0]['median']:.2f} = {a[0] / duckcsv[0]['median']:.2f}")
s = med("single-conn")
if s and floor:
    fl = floor[0]["median"]
    P(f"- single-connection patterns / decode floor (dictionary or plain, the faster), wall: {s[0]:.2f} / {fl:.2f} = **{s[0] / fl:.2f}×** (target ≤ 1.5×)")
if a:
    P(f"- peak RSS per flow read, all six: {a[1] * 1024 / rows:.0f} B/flow (target < 60 B/flow)")
a1 = med("all-w1")
if a and a1:
    P(f"- --workers 1 / --workers {workers}, all six, wall: {a1[0]:.2f} / {a[0]:.2f} = {a1[0] / a[0]:.2f}× (CPU {a1[4]:.2f} / {a[4]:.2f} s)")
so = med("scan-only")
if a and so:
    P(f"- scan-only / all six: {so[0]:.2f} / {a[0]:.2f} = {so[0] / a[0]:.2f} (the share of a run spent reading and filtering)")
if em and best:
    P(f"- one new file (watch epoch) / re-running the faster peer: {em[0]:.3f} / {best:.2f} = {em[0] / best:.4f}")

# Correctness cross-check.
P("")
fp_path = os.path.join(out, "flowpat-counts.json")
fp = json.load(open(fp_path)) if os.path.exists(fp_path) else {}
ref = duck[0]["counts"] if duck else None
pol = polars[0]["counts"] if polars else None
dcsv = duckcsv[0]["counts"] if duckcsv else None
P("| pattern | flowpat | DuckDB | Polars |")
P("|---|---:|---:|---:|")
bad = []
for p in PATTERNS:
    f_, d_, q_ = fp.get(p), ref.get(p) if ref else None, pol.get(p) if pol else None
    mark = ""
    if ref is not None and f_ != d_:
        bad.append(f"{p}: flowpat {f_} vs DuckDB {d_}")
        mark = " **MISMATCH**"
    if pol is not None and d_ is not None and q_ != d_:
        bad.append(f"{p}: Polars {q_} vs DuckDB {d_}")
        mark = " **MISMATCH**"
    if dcsv is not None and d_ is not None and dcsv.get(p) != d_:
        bad.append(f"{p}: DuckDB-csv {dcsv.get(p)} vs DuckDB {d_}")
        mark = " **MISMATCH**"
    P(f"| {p}{mark} | {f_} | {d_ if d_ is not None else '—'} | {q_ if q_ is not None else '—'} |")
P("")
if bad:
    P("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
    P("!!! RESULT COUNT MISMATCH: " + "; ".join(bad))
    P("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
elif ref is not None:
    P("Cross-check: flowpat's result counts equal DuckDB's for all six patterns.")
else:
    P("Cross-check: DuckDB not run, counts not checked.")
summary = os.path.join(out, "flowpat-summary.txt")
if os.path.exists(summary):
    last = [l for l in open(summary).read().splitlines() if l.strip()]
    if last:
        P("")
        P(f"flowpat's own summary: `{last[-1]}`")
print("\n".join(lines))
