#!/usr/bin/env python3
"""Peers for the flowpat benchmark: the six catalog patterns in DuckDB and in Polars, and the
decode floor (pyarrow reading only the needed columns), on a `flowpat generate` archive.

    python3 bench/peers.py ENGINE ARCHIVE [--repeat 3] [--json OUT]

ENGINE is `floor`, `duckdb`, `duckdb-csv` or `polars`. `duckdb` and `polars` count each pattern's
results; `duckdb-csv` writes every result row (identities and record attributes, sorted, like
flowpat's `--format csv`) to --out, which is what `flowpat run --out` does too. ARCHIVE is a folder with `flows/*.parquet`,
`events/*.parquet` and `networks.csv`. Prints one JSON object on stdout:
`{"engine", "times": [s, ...], "median": s, "counts": {pattern stem: results}, ...}`.
Exit status 3 when the engine's Python package is not installed (the caller skips it).

Semantics follow shared/spec/flow-model.md "The catalog":
- an address's identity is its value: `::ffff:a.b.c.d` is the IPv4 host a.b.c.d, IPv6 is
  compared in canonical (RFC 5952) form;
- disposition from networks.csv (`CIDR,label`, `default,LABEL`, longest prefix wins; IPv4
  prefixes never cover IPv6 hosts and vice versa); internal = label `internal`;
- every result count is the number of distinct exported tuples. Connections and events are
  distinct records (file, row), so for patterns 1-5 that is the number of qualifying flows (or
  event x flow pairs); for port jumping, the number of (internal, external) host pairs.

How disposition is computed (both peers alike, and inside the timed region): the distinct
address strings of flows and events are found by the engine; IPv4 text is turned into an
integer and labelled by a range join against the IPv4 networks (longest prefix first), in the
engine; the few strings containing ':' (IPv6, IPv4-mapped) go through Python's `ipaddress`.
The resulting table `address text -> (canonical key, internal?)` is joined to flows twice.
"""
import argparse
import glob
import ipaddress
import json
import os
import statistics
import sys
import time

FLOW_COLUMNS = [
    "start_time", "end_time", "src_addr", "dst_addr", "src_port", "dst_port", "protocol",
    "bytes_sent", "bytes_received", "packets_sent", "packets_received",
]
EVENT_COLUMNS = ["time", "src_addr", "dst_addr"]
PATTERNS = [
    "ephemeral-tcp", "exfiltration", "ftp-exfiltration", "ftp-exfiltration-temporal",
    "invalid-ip-packets", "port-jumping",
]
DAY_US = 86_400 * 1_000_000


class Missing(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# networks.csv


def read_networks(path):
    """-> (v4 [(lo, hi, plen, label)], v6 [(network, label)], default label)"""
    v4, v6, default = [], [], "external"
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cidr, label = [x.strip() for x in line.split(",", 1)]
            if cidr == "default":
                default = label
                continue
            net = ipaddress.ip_network(cidr, strict=False)
            if net.version == 4:
                v4.append((int(net.network_address), int(net.broadcast_address), net.prefixlen, label))
            else:
                v6.append((net, label))
    v6.sort(key=lambda n: -n[0].prefixlen)
    return v4, v6, default


def label_colon_addresses(texts, v4, v6, default):
    """Labels address strings containing ':' in Python. -> rows (text, key, is_internal)."""
    v4_sorted = sorted(v4, key=lambda n: -n[2])
    out = []
    for text in texts:
        try:
            a = ipaddress.ip_address(text)
        except ValueError:
            continue  # unparsable: flowpat skips and counts such rows; so do we (inner join)
        if a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        if a.version == 4:
            n = int(a)
            label = next((l for lo, hi, _, l in v4_sorted if lo <= n <= hi), default)
        else:
            label = next((l for net, l in v6 if a in net), default)
        out.append((text, a.compressed, label == "internal"))
    return out


def files_of(archive):
    flows = sorted(glob.glob(os.path.join(archive, "flows", "**", "*.parquet"), recursive=True))
    events = sorted(glob.glob(os.path.join(archive, "events", "**", "*.parquet"), recursive=True))
    if not flows:
        sys.exit(f"peers.py: no flows/*.parquet under {archive}")
    return flows, events, os.path.join(archive, "networks.csv")


# ---------------------------------------------------------------------------------------------
# decode floor


def run_floor(archive, repeat):
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise Missing(f"pyarrow not installed ({e})")
    flows, _, _ = files_of(archive)
    variants = {}
    for name, kwargs in [("plain", {}), ("dictionary", {"read_dictionary": ["src_addr", "dst_addr"]})]:
        times, rows = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            table = pq.read_table(flows, columns=FLOW_COLUMNS, use_threads=True, **kwargs)
            rows = table.num_rows
            times.append(time.perf_counter() - t)
            del table
        variants[name] = {"times": times, "median": statistics.median(times), "rows": rows}
    best = min(variants.values(), key=lambda v: v["median"])
    return {"engine": "floor", "times": best["times"], "median": best["median"],
            "rows": best["rows"], "variants": variants, "counts": {}}


# ---------------------------------------------------------------------------------------------
# DuckDB


def duckdb_once(duckdb, archive, write_dir=None):
    """Counts each pattern's results; with `write_dir`, writes every pattern's result rows (the
    exported identities with the records' attributes, sorted, as flowpat's CSV) to
    `write_dir/<stem>.csv` instead and counts the rows written."""
    flows, events, networks = files_of(archive)
    v4, v6, default = read_networks(networks)
    con = duckdb.connect()
    if write_dir:
        con.execute(f"CREATE VIEW flows AS SELECT {', '.join(FLOW_COLUMNS)}, service, filename AS file, "
                    f"file_row_number AS row FROM read_parquet({flows!r}, filename=true, file_row_number=true)")
    else:
        con.execute(f"CREATE VIEW flows AS SELECT {', '.join(FLOW_COLUMNS)} FROM read_parquet({flows!r})")
    if events and write_dir:
        con.execute(f"CREATE VIEW events AS SELECT {', '.join(EVENT_COLUMNS)}, signature, severity, category, "
                    f"filename AS file, file_row_number AS row "
                    f"FROM read_parquet({events!r}, filename=true, file_row_number=true)")
    elif events:
        con.execute(f"CREATE VIEW events AS SELECT {', '.join(EVENT_COLUMNS)} "
                    f"FROM read_parquet({events!r})")
    else:
        con.execute("CREATE VIEW events AS SELECT NULL::TIMESTAMPTZ AS time, ''::VARCHAR AS src_addr, "
                    "''::VARCHAR AS dst_addr, '' AS signature, 0 AS severity, '' AS category, '' AS file, "
                    "0::BIGINT AS row WHERE false")
    con.execute("CREATE TEMP TABLE nets4(lo UBIGINT, hi UBIGINT, plen INTEGER, internal BOOLEAN)")
    if v4:
        con.executemany("INSERT INTO nets4 VALUES (?, ?, ?, ?)", [(lo, hi, p, l == "internal") for lo, hi, p, l in v4])
    # Distinct address strings of flows and events.
    con.execute("""
        CREATE TEMP TABLE addrs AS
        SELECT DISTINCT a FROM (
            SELECT src_addr AS a FROM flows UNION SELECT dst_addr FROM flows
            UNION SELECT src_addr FROM events UNION SELECT dst_addr FROM events)""")
    # IPv4 text: integer, longest matching prefix.
    con.execute(f"""
        CREATE TEMP TABLE amap AS
        WITH v4 AS (
            SELECT a, TRY_CAST(split_part(a, '.', 1) AS UBIGINT) * 16777216
                    + TRY_CAST(split_part(a, '.', 2) AS UBIGINT) * 65536
                    + TRY_CAST(split_part(a, '.', 3) AS UBIGINT) * 256
                    + TRY_CAST(split_part(a, '.', 4) AS UBIGINT) AS ip
            FROM addrs WHERE NOT contains(a, ':')
        )
        SELECT v4.a AS a, v4.a AS k,
               coalesce(arg_max(n.internal, n.plen), {str(default == 'internal').upper()}) AS internal
        FROM v4 LEFT JOIN nets4 n ON v4.ip BETWEEN n.lo AND n.hi
        WHERE v4.ip IS NOT NULL
        GROUP BY v4.a""")
    colon = [r[0] for r in con.execute("SELECT a FROM addrs WHERE contains(a, ':')").fetchall()]
    rows = label_colon_addresses(colon, v4, v6, default)
    if rows:
        con.executemany("INSERT INTO amap VALUES (?, ?, ?)", rows)
    con.execute("""
        CREATE TEMP TABLE lf AS
        SELECT f.*, s.k AS sk, s.internal AS si, d.k AS dk, d.internal AS di,
               epoch_us(f.end_time) - epoch_us(f.start_time) AS dur
        FROM flows f JOIN amap s ON f.src_addr = s.a JOIN amap d ON f.dst_addr = d.a""")
    conn_cols = ("lf.file AS \"conn.file\", lf.row AS \"conn.row\", lf.protocol, lf.src_port, lf.dst_port, "
                 "lf.start_time, lf.end_time, lf.dur / 1e6 AS duration, lf.bytes_sent, lf.bytes_received, "
                 "lf.packets_sent, lf.packets_received, lf.service")
    event_cols = ("e.file AS \"event.file\", e.row AS \"event.row\", e.time, e.signature, e.severity, "
                  "e.category")
    one_conn = (f"lf.sk AS srcadr, {conn_cols}, lf.dk AS destadr, 1 AS matches", "lf.file, lf.row")
    ftp_from = """events e JOIN amap h ON e.dst_addr = h.a JOIN lf ON lf.sk = h.k
            WHERE h.internal AND lf.si AND NOT lf.di AND lf.protocol = 6 AND lf.dst_port = 21"""
    ftp_cols = (f"{event_cols}, h.k AS srcadr, {conn_cols}, lf.dk AS destadr, 1 AS matches",
                "e.file, e.row, lf.file, lf.row")
    # pattern stem -> (FROM ... WHERE ..., (select list, order) for the written form)
    queries = {
        "ephemeral-tcp": ("""lf WHERE si AND NOT di AND protocol = 6
            AND src_port > 1024 AND dst_port > 1024 AND dur > 0 AND bytes_sent > 0""", one_conn),
        "exfiltration": ("""lf WHERE si AND NOT di AND bytes_sent > 1000000
            AND bytes_sent::HUGEINT >= 10 * bytes_received::HUGEINT AND dur > 1000000""", one_conn),
        "ftp-exfiltration": (ftp_from, ftp_cols),
        "ftp-exfiltration-temporal": (f"""{ftp_from}
            AND epoch_us(lf.start_time) - epoch_us(e.time) > 0
            AND epoch_us(lf.start_time) - epoch_us(e.time) <= {DAY_US}""", ftp_cols),
        "invalid-ip-packets": ("""lf WHERE
                (packets_sent > 0 AND (bytes_sent::HUGEINT > 65535 * packets_sent::HUGEINT
                    OR bytes_sent::HUGEINT < (CASE protocol WHEN 6 THEN 40 WHEN 17 THEN 28 WHEN 1 THEN 28 ELSE 20 END) * packets_sent::HUGEINT))
             OR (packets_received > 0 AND (bytes_received::HUGEINT > 65535 * packets_received::HUGEINT
                    OR bytes_received::HUGEINT < (CASE protocol WHEN 6 THEN 40 WHEN 17 THEN 28 WHEN 1 THEN 28 ELSE 20 END) * packets_received::HUGEINT))
             OR (bytes_sent > 0 AND packets_sent = 0) OR (packets_sent > 0 AND bytes_sent = 0)
             OR (bytes_received > 0 AND packets_received = 0) OR (packets_received > 0 AND bytes_received = 0)""",
                               one_conn),
        "port-jumping": ("""(SELECT sk, dk, count(DISTINCT dst_port) AS ports, count(*) AS matches FROM lf
            WHERE si AND NOT di AND protocol IN (6, 17) AND dst_port < 1024
            GROUP BY sk, dk HAVING count(DISTINCT dst_port) >= 3) g""",
                         ("g.sk AS srcadr, g.dk AS destadr, g.ports, g.matches", "g.sk, g.dk")),
    }
    counts = {}
    for name, (from_where, (cols, order)) in queries.items():
        if write_dir:
            path = os.path.join(write_dir, f"{name}.csv")
            counts[name] = con.execute(
                f"COPY (SELECT {cols} FROM {from_where} ORDER BY {order}) TO '{path}' (HEADER)").fetchone()[0]
        else:
            counts[name] = con.execute(f"SELECT count(*) FROM {from_where}").fetchone()[0]
    con.close()
    return counts


def run_duckdb(archive, repeat, write_dir=None):
    try:
        import duckdb
    except ImportError as e:
        raise Missing(f"duckdb not installed ({e}); pip install duckdb")
    times, counts = [], None
    if write_dir:
        os.makedirs(write_dir, exist_ok=True)
    for _ in range(repeat):
        t = time.perf_counter()
        counts = duckdb_once(duckdb, archive, write_dir)
        times.append(time.perf_counter() - t)
    return {"engine": "duckdb-csv" if write_dir else "duckdb", "version": duckdb.__version__, "times": times,
            "median": statistics.median(times), "counts": counts}


# ---------------------------------------------------------------------------------------------
# Polars


def polars_once(pl, archive):
    flows, events, networks = files_of(archive)
    v4, v6, default = read_networks(networks)
    lf = pl.scan_parquet(flows).select(FLOW_COLUMNS)
    if events:
        ev = pl.scan_parquet(events).select(EVENT_COLUMNS)
    else:
        ev = pl.LazyFrame(schema={"time": pl.Datetime("us", "UTC"), "src_addr": pl.Utf8, "dst_addr": pl.Utf8})
    # Flows are read once into memory (columns only), like DuckDB's `lf` table.
    f = lf.collect()
    e = ev.collect()
    addrs = pl.concat([f.select(a=pl.col("src_addr")), f.select(a=pl.col("dst_addr")),
                       e.select(a=pl.col("src_addr")), e.select(a=pl.col("dst_addr"))]).unique()
    plain = addrs.filter(~pl.col("a").str.contains(":", literal=True))
    parts = pl.col("a").str.split_exact(".", 3)
    plain = plain.with_columns(
        ip=(parts.struct.field("field_0").cast(pl.UInt64, strict=False) * 16777216
            + parts.struct.field("field_1").cast(pl.UInt64, strict=False) * 65536
            + parts.struct.field("field_2").cast(pl.UInt64, strict=False) * 256
            + parts.struct.field("field_3").cast(pl.UInt64, strict=False))).drop_nulls("ip")
    internal = pl.lit(default == "internal")
    for lo, hi, _, label in sorted(v4, key=lambda n: n[2]):  # shortest first: longest wins last
        internal = pl.when(pl.col("ip").is_between(lo, hi)).then(pl.lit(label == "internal")).otherwise(internal)
    amap = plain.select(a=pl.col("a"), k=pl.col("a"), internal=internal)
    colon = addrs.filter(pl.col("a").str.contains(":", literal=True))["a"].to_list()
    rows = label_colon_addresses(colon, v4, v6, default)
    if rows:
        amap = pl.concat([amap, pl.DataFrame(rows, schema={"a": pl.Utf8, "k": pl.Utf8, "internal": pl.Boolean}, orient="row")])
    src = amap.rename({"a": "src_addr", "k": "sk", "internal": "si"})
    dst = amap.rename({"a": "dst_addr", "k": "dk", "internal": "di"})
    L = (f.lazy().join(src.lazy(), on="src_addr").join(dst.lazy(), on="dst_addr")
         .with_columns(dur=(pl.col("end_time") - pl.col("start_time")).dt.total_microseconds())).collect().lazy()
    io = pl.col("si") & ~pl.col("di")
    I = pl.Int128
    bs, br, ps, pr = (pl.col(c).cast(I) for c in ["bytes_sent", "bytes_received", "packets_sent", "packets_received"])
    mn = (pl.when(pl.col("protocol") == 6).then(40).when(pl.col("protocol").is_in([17, 1])).then(28)
          .otherwise(20)).cast(I)
    ftp = (e.lazy().join(amap.lazy().filter("internal"), left_on="dst_addr", right_on="a")
           .join(L.filter(io & (pl.col("protocol") == 6) & (pl.col("dst_port") == 21)), left_on="k", right_on="sk"))
    lag = (pl.col("start_time") - pl.col("time")).dt.total_microseconds()
    q = {
        "ephemeral-tcp": L.filter(io & (pl.col("protocol") == 6) & (pl.col("src_port") > 1024)
                                  & (pl.col("dst_port") > 1024) & (pl.col("dur") > 0) & (pl.col("bytes_sent") > 0)),
        "exfiltration": L.filter(io & (pl.col("bytes_sent") > 1_000_000) & (bs >= 10 * br) & (pl.col("dur") > 1_000_000)),
        "ftp-exfiltration": ftp,
        "ftp-exfiltration-temporal": ftp.filter((lag > 0) & (lag <= DAY_US)),
        "invalid-ip-packets": L.filter(((ps > 0) & ((bs > 65535 * ps) | (bs < mn * ps)))
                                       | ((pr > 0) & ((br > 65535 * pr) | (br < mn * pr)))
                                       | ((bs > 0) & (ps == 0)) | ((ps > 0) & (bs == 0))
                                       | ((br > 0) & (pr == 0)) | ((pr > 0) & (br == 0))),
        "port-jumping": L.filter(io & pl.col("protocol").is_in([6, 17]) & (pl.col("dst_port") < 1024))
                         .group_by("sk", "dk").agg(n=pl.col("dst_port").n_unique()).filter(pl.col("n") >= 3),
    }
    names = list(q)
    frames = pl.collect_all([q[n].select(pl.len()) for n in names])
    return {n: int(fr.item()) for n, fr in zip(names, frames)}


def run_polars(archive, repeat):
    try:
        import polars as pl
    except ImportError as e:
        raise Missing(f"polars not installed ({e}); pip install polars")
    times, counts = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        counts = polars_once(pl, archive)
        times.append(time.perf_counter() - t)
    return {"engine": "polars", "version": pl.__version__, "times": times,
            "median": statistics.median(times), "counts": counts}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engine", choices=["floor", "duckdb", "duckdb-csv", "polars"])
    ap.add_argument("archive")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the JSON result to this file")
    ap.add_argument("--out", help="duckdb-csv: folder for the result CSVs (default: a temporary folder)")
    args = ap.parse_args()
    run = {"floor": run_floor, "duckdb": run_duckdb, "polars": run_polars}.get(args.engine)
    try:
        if args.engine == "duckdb-csv":
            import tempfile
            out = args.out or tempfile.mkdtemp(prefix="peers-duckdb-csv-")
            result = run_duckdb(args.archive, args.repeat, out)
        else:
            result = run(args.archive, args.repeat)
    except Missing as e:
        print(f"peers.py: skipping {args.engine}: {e}", file=sys.stderr)
        sys.exit(3)
    text = json.dumps(result)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
