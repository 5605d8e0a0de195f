//! Preset tests: hand-written fixtures under `engine/tests/data/presets/` with expected
//! canonical rows, the real-world cases of `real-world-cases.md` at the preset level, and smoke
//! tests over the real samples in `shared/data/` (skipped, with a message, when absent).
//!
//! Rows are compared in the notation of `real-world-cases.md`
//! (`start..end src:port→dst:port proto=N bs= br= ps= pr=`), rendered from the Arrow batches
//! by [`flows`] and [`events`], so a schema change edits those two functions only.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, Int32Array, StringArray, TimestampMicrosecondArray, UInt16Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/presets")
        .join(name)
}

fn read_with(
    preset: Preset,
    kind: Kind,
    name: &str,
    opts: &PresetOptions,
) -> (Vec<RecordBatch>, TextReport) {
    let mut batches = Vec::new();
    let report = read_text::<PresetError>(preset, kind, &fixture(name), opts, &mut |batch| {
        batches.push(batch);
        Ok(())
    })
    .unwrap_or_else(|err| panic!("reading {name}: {err}"));
    (batches, report)
}

fn read(preset: Preset, kind: Kind, name: &str) -> (Vec<RecordBatch>, TextReport) {
    read_with(preset, kind, name, &PresetOptions::default())
}

fn read_bytes(
    preset: Preset,
    kind: Kind,
    bytes: &[u8],
    opts: &PresetOptions,
) -> Result<(Vec<RecordBatch>, TextReport), PresetError> {
    let mut batches = Vec::new();
    let report = read_text_from::<_, PresetError>(
        preset,
        kind,
        bytes,
        Path::new("<test>"),
        opts,
        &mut |batch| {
            batches.push(batch);
            Ok(())
        },
    )?;
    Ok((batches, report))
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("column {name} of the expected type"))
}

fn time_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| micros.to_string())
}

fn text_or_dash(array: &StringArray, row: usize) -> String {
    if array.is_null(row) {
        "-".to_string()
    } else {
        array.value(row).to_string()
    }
}

/// Flow rows in the notation of `real-world-cases.md`.
fn flows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let start = column::<TimestampMicrosecondArray>(b, "start_time");
        let end = column::<TimestampMicrosecondArray>(b, "end_time");
        let (src, dst) = (
            column::<StringArray>(b, "src_addr"),
            column::<StringArray>(b, "dst_addr"),
        );
        let (sp, dp) = (
            column::<UInt16Array>(b, "src_port"),
            column::<UInt16Array>(b, "dst_port"),
        );
        let proto = column::<UInt8Array>(b, "protocol");
        let u64s = |name| column::<UInt64Array>(b, name);
        let (bs, br) = (u64s("bytes_sent"), u64s("bytes_received"));
        let (ps, pr) = (u64s("packets_sent"), u64s("packets_received"));
        let service = column::<StringArray>(b, "service");
        let row = u64s("source_row");
        for i in 0..b.num_rows() {
            out.push(format!(
                "{}..{} {}:{}→{}:{} proto={} bs={} br={} ps={} pr={} svc={} row={}",
                time_text(start.value(i)),
                time_text(end.value(i)),
                src.value(i),
                sp.value(i),
                dst.value(i),
                dp.value(i),
                proto.value(i),
                bs.value(i),
                br.value(i),
                ps.value(i),
                pr.value(i),
                text_or_dash(service, i),
                row.value(i),
            ));
        }
    }
    out
}

/// Event rows: `time src→dst sev= cat= sig= row=`.
fn events(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let time = column::<TimestampMicrosecondArray>(b, "time");
        let (src, dst) = (
            column::<StringArray>(b, "src_addr"),
            column::<StringArray>(b, "dst_addr"),
        );
        let severity = column::<Int32Array>(b, "severity");
        let (category, signature) = (
            column::<StringArray>(b, "category"),
            column::<StringArray>(b, "signature"),
        );
        let row = column::<UInt64Array>(b, "source_row");
        for i in 0..b.num_rows() {
            out.push(format!(
                "{} {}→{} sev={} cat={} sig={} row={}",
                time_text(time.value(i)),
                src.value(i),
                text_or_dash(dst, i),
                severity.value(i),
                category.value(i),
                signature.value(i),
                row.value(i),
            ));
        }
    }
    out
}

/// Extra column `name` of the `n`-th row across batches (`None` for null or no column).
fn extra(batches: &[RecordBatch], mut n: usize, name: &str) -> Option<String> {
    for b in batches {
        if n < b.num_rows() {
            let array = b
                .column_by_name(name)?
                .as_any()
                .downcast_ref::<StringArray>()?;
            return (!array.is_null(n)).then(|| array.value(n).to_string());
        }
        n -= b.num_rows();
    }
    None
}

fn extra_names(batch: &RecordBatch, canonical: usize) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .skip(canonical)
        .map(|f| f.name().clone())
        .collect()
}

fn problems(report: &TextReport) -> Vec<(u64, Option<&str>, &str)> {
    report
        .problems
        .iter()
        .map(|p| (p.line, p.column.as_deref(), p.value.as_str()))
        .collect()
}

fn check_flows(preset: Preset, name: &str, expect: &[&str]) -> (Vec<RecordBatch>, TextReport) {
    let (batches, report) = read(preset, Kind::Flows, name);
    assert_eq!(flows(&batches), expect, "{name}");
    (batches, report)
}

// --- schema -----------------------------------------------------------------------------

#[test]
fn batches_have_the_canonical_schemas() {
    let (batches, _) = read(Preset::Zeek, Kind::Flows, "zeek/conn-tsv.log");
    let schema = batches[0].schema();
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let expect = [
        ("start_time", ts.clone(), false),
        ("end_time", ts.clone(), false),
        ("src_addr", DataType::Utf8, false),
        ("dst_addr", DataType::Utf8, false),
        ("src_port", DataType::UInt16, false),
        ("dst_port", DataType::UInt16, false),
        ("protocol", DataType::UInt8, false),
        ("bytes_sent", DataType::UInt64, false),
        ("bytes_received", DataType::UInt64, false),
        ("packets_sent", DataType::UInt64, false),
        ("packets_received", DataType::UInt64, false),
        ("service", DataType::Utf8, true),
        ("source_row", DataType::UInt64, false),
    ];
    for (field, (name, data_type, nullable)) in schema.fields().iter().zip(&expect) {
        assert_eq!(
            (
                field.name().as_str(),
                field.data_type(),
                field.is_nullable()
            ),
            (*name, data_type, *nullable)
        );
    }
    assert!(schema
        .fields()
        .iter()
        .skip(expect.len())
        .all(|f| f.data_type() == &DataType::Utf8 && f.is_nullable()));
    assert_eq!(schema, flow_schema(&extra_names(&batches[0], expect.len())));

    let (batches, _) = read(Preset::Suricata, Kind::Events, "suricata/eve.json");
    let names: Vec<_> = batches[0]
        .schema()
        .fields()
        .iter()
        .take(7)
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "time",
            "src_addr",
            "dst_addr",
            "signature",
            "severity",
            "category",
            "source_row"
        ]
    );
    assert_eq!(
        batches[0].schema(),
        event_schema(&extra_names(&batches[0], 7))
    );
}

// --- Zeek conn.log ------------------------------------------------------------------------

#[test]
fn zeek_tsv_conn_maps_by_name_with_extra_columns() {
    let (batches, report) = check_flows(
        Preset::Zeek,
        "zeek/conn-tsv.log",
        &[
            "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:02.500000Z 192.0.2.132:50000→203.0.113.132:443 proto=6 bs=1400 br=2600 ps=10 pr=12 svc=ssl row=0",
            // C29: unset duration and payload bytes; IP-level bytes and packets still count.
            "2015-03-05T14:25:45.440378Z..2015-03-05T14:25:45.440378Z 2001:db8:1::5:5353→ff02::fb:5353 proto=17 bs=93 br=0 ps=1 pr=0 svc=dns row=1",
            // ICMP: type and code kept in the ports.
            "2024-05-01T10:00:01.500000Z..2024-05-01T10:00:01.501000Z 192.0.2.10:8→198.51.100.1:0 proto=1 bs=84 br=84 ps=1 pr=1 svc=- row=2",
            // Zeek's `icmp` between IPv6 addresses is ICMPv6.
            "2024-05-01T10:00:02.000000Z..2024-05-01T10:00:02.008000Z 2001:db8:1::7:135→ff02::1:ff00:3:136 proto=58 bs=144 br=0 ps=2 pr=0 svc=- row=3",
            "2024-05-01T10:00:03.000000Z..2024-05-01T10:02:33.496065Z 192.0.2.20:59764→203.0.113.20:37150 proto=6 bs=688 br=1600000000000000 ps=13 pr=4294967296 svc=ftp-data row=4",
            "2024-05-01T10:00:05.000000Z..2024-05-01T10:00:05.000000Z 192.0.2.22:40000→203.0.113.22:80 proto=6 bs=60 br=0 ps=1 pr=0 svc=- row=6",
        ],
    );
    assert_eq!(
        (report.records, report.skipped, report.skipped_other_types),
        (6, 1, 0)
    );
    assert_eq!(problems(&report), [(14, Some("id.orig_h"), "192.0.2.300")]);
    // C21: extra columns by their own names, in file order.
    assert_eq!(
        extra_names(&batches[0], 13),
        [
            "uid",
            "community_id",
            "orig_bytes",
            "resp_bytes",
            "conn_state",
            "local_orig",
            "local_resp",
            "missed_bytes",
            "history",
            "tunnel_parents",
            "resp_cc",
            "label"
        ]
    );
    assert_eq!(extra(&batches, 0, "resp_cc").as_deref(), Some("US"));
    assert_eq!(extra(&batches, 0, "label").as_deref(), Some("Malicious"));
    assert_eq!(
        extra(&batches, 0, "community_id").as_deref(),
        Some("1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=")
    );
    assert_eq!(extra(&batches, 0, "orig_bytes").as_deref(), Some("1000"));
    assert_eq!(extra(&batches, 0, "local_orig").as_deref(), Some("true"));
    assert_eq!(extra(&batches, 0, "tunnel_parents"), None);
    assert_eq!(extra(&batches, 1, "resp_cc"), None);
    assert_eq!(
        extra(&batches, 4, "tunnel_parents").as_deref(),
        Some("C1,C2")
    );
}

#[test]
fn zeek_header_only_and_empty_files_give_nothing() {
    // C22
    for name in ["zeek/conn-header-only.log", "zeek/conn-empty.log"] {
        let (batches, report) = read(Preset::Zeek, Kind::Flows, name);
        assert!(batches.is_empty(), "{name}");
        assert_eq!(report, TextReport::default(), "{name}");
    }
    let (batches, report) = read(Preset::ZeekNotice, Kind::Events, "zeek/conn-empty.log");
    assert!(batches.is_empty());
    assert_eq!(report, TextReport::default());
}

#[test]
fn zeek_concatenated_logs_reset_columns_and_mix_encodings() {
    let (batches, report) = check_flows(
        Preset::Zeek,
        "zeek/conn-concatenated.log",
        &[
            // `src`/`dst` naming (field-name-map), `unknown_transport` numbered by `ip_proto`.
            "2024-05-01T10:01:40.000000Z..2024-05-01T10:01:40.085447Z 192.168.170.8:0→192.168.170.56:0 proto=132 bs=33256 br=33524 ps=37 pr=37 svc=- row=0",
            // `|` separator, `id_orig_h` naming, no IP-level bytes: payload bytes used.
            "2024-05-01T10:01:42.250000Z..2024-05-01T10:01:42.250000Z 192.0.2.40:40000→203.0.113.40:22 proto=6 bs=300 br=0 ps=3 pr=0 svc=- row=3",
            "2024-05-01T10:01:43.000000Z..2024-05-01T10:01:43.000001Z 192.0.2.41:40001→203.0.113.41:22 proto=6 bs=0 br=0 ps=1 pr=0 svc=- row=4",
            // A JSON line with an ISO 8601 ts after the TSV logs.
            "2024-05-01T10:01:44.000001Z..2024-05-01T10:01:44.000001Z 192.0.2.42:1→203.0.113.42:2 proto=17 bs=28 br=0 ps=1 pr=0 svc=- row=5",
        ],
    );
    assert_eq!(
        (report.records, report.skipped, report.skipped_other_types),
        (4, 1, 1)
    );
    assert_eq!(problems(&report), [(9, Some("ts"), "XXXXXXXXXX.XXXXXX")]);
    assert_eq!(extra(&batches, 0, "orig_bytes").as_deref(), Some("0"));
    assert_eq!(extra(&batches, 1, "note").as_deref(), Some("a|b c"));
    assert_eq!(
        extra(&batches, 1, "orig_bytes"),
        None,
        "payload bytes were mapped, not extra"
    );
    assert_eq!(extra(&batches, 3, "uid").as_deref(), Some("CJ1"));
    assert!(batches[0].schema().field_with_name("_path").is_err());
}

#[test]
fn zeek_json_epoch_and_iso_timestamps_agree() {
    // C17
    let expect = ["2019-03-01T21:16:50.629660Z..2019-03-01T21:16:53.629660Z 192.0.2.60:51000→203.0.113.60:443 proto=6 bs=612 br=968 ps=5 pr=4 svc=ssl row=0"];
    let (epoch, _) = check_flows(Preset::Zeek, "zeek/conn-c17-epoch.json", &expect);
    let (iso, _) = check_flows(Preset::Zeek, "zeek/conn-c17-iso.json", &expect);
    assert_eq!(epoch, iso);
}

#[test]
fn zeek_duplicate_rows_keep_distinct_stable_ids() {
    // C06: identical but for uid; not deduplicated; same ids on a rerun.
    let row = "2024-05-01T10:00:00.505854Z..2024-05-01T10:00:00.505854Z 192.0.2.50:63685→198.51.100.60:443 proto=6 bs=0 br=1420 ps=0 pr=1 svc=- row=";
    let (first, report) = check_flows(
        Preset::Zeek,
        "zeek/conn-c06-duplicates.json",
        &[&format!("{row}0"), &format!("{row}1")],
    );
    assert_eq!(report.records, 2);
    assert_eq!(
        (
            extra(&first, 0, "uid").as_deref(),
            extra(&first, 1, "uid").as_deref()
        ),
        (Some("CL1"), Some("CL2"))
    );
    assert_eq!(extra(&first, 0, "local_orig").as_deref(), Some("true"));
    let (second, _) = read(Preset::Zeek, Kind::Flows, "zeek/conn-c06-duplicates.json");
    assert_eq!(first, second);
}

#[test]
fn zeek_btest_sample_rows_read_like_zeek_writes_them() {
    // Rows from zeek's btest baselines (BSD), with the masked ts replaced by a number.
    let text = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tip_proto\n\
                0.000000\tCHhAvVGS1DHFjwGM9\t::\t135\tff02::1:ff00:3\t136\ticmp\t0.008000\t2\t144\t0\t0\t58\n";
    let (batches, report) = read_bytes(
        Preset::Zeek,
        Kind::Flows,
        text.as_bytes(),
        &PresetOptions::default(),
    )
    .expect("reads");
    assert_eq!(report.records, 1);
    assert_eq!(
        flows(&batches),
        ["1970-01-01T00:00:00.000000Z..1970-01-01T00:00:00.008000Z :::135→ff02::1:ff00:3:136 proto=58 bs=144 br=0 ps=2 pr=0 svc=- row=0"]
    );
}

// --- Zeek notice.log ----------------------------------------------------------------------

#[test]
fn zeek_notices_as_events() {
    let (tsv, report) = read(Preset::ZeekNotice, Kind::Events, "zeek/notice.log");
    assert_eq!(
        events(&tsv),
        [
            "2024-05-01T10:00:00.000000Z 192.0.2.5→203.0.113.5 sev=3 cat=notice sig=SSL::Invalid_Server_Cert row=0",
            "2024-05-01T10:00:01.000000Z 198.51.100.9→192.0.2.7 sev=3 cat=notice sig=Scan::Port_Scan row=1",
            // Row 2, a scan notice, names no destination: no event (counted below).
            // `src` unset: `id.orig_h`/`id.resp_h` are used.
            "2024-05-01T10:00:04.000000Z 10.0.0.1→10.0.0.2 sev=3 cat=notice sig=Custom::Note row=4",
        ]
    );
    assert_eq!(
        (report.records, report.skipped, report.skipped_not_events),
        (3, 1, 1)
    );
    assert_eq!(report.not_event_reasons, ["no destination"]);
    assert_eq!(report.problems[0].line, 12);
    assert!(
        report.problems[0].reason.contains("no source address"),
        "{}",
        report.problems[0]
    );
    // UTF-8 passes through; an invalid byte keeps its escape text.
    assert_eq!(extra(&tsv, 2, "msg").as_deref(), Some("Ünïcode ☃ \\xff"));
    assert_eq!(extra(&tsv, 2, "n").as_deref(), Some("7"));
    assert_eq!(
        extra(&tsv, 0, "actions").as_deref(),
        Some("Notice::ACTION_LOG")
    );

    let (json, report) = read(Preset::ZeekNotice, Kind::Events, "zeek/notice.json");
    assert_eq!(report.records, 1);
    assert_eq!(
        events(&json),
        ["2024-05-01T10:00:00.000000Z 192.0.2.5→203.0.113.5 sev=1 cat=notice sig=SSL::Invalid_Server_Cert row=0"]
    );
    // C23: `bad\x07byte` in TSV and `bad\\x07byte` in JSON are one string.
    assert_eq!(extra(&tsv, 0, "msg").as_deref(), Some("bad\u{7}byte"));
    assert_eq!(extra(&json, 0, "msg"), extra(&tsv, 0, "msg"));
    assert_eq!(extra(&json, 0, "actions"), extra(&tsv, 0, "actions"));
}

// --- Zeek logs of other types ------------------------------------------------------------

/// A `conn.log` line as Zeek's JSON writer prints it (zat's JSON sample).
const CONN_JSON: &str = "{\"ts\":1575413096.052279,\"uid\":\"CH53301MTU21BMj2Bj\",\"id.orig_h\":\"10.18.20.97\",\"id.orig_p\":49187,\"id.resp_h\":\"10.18.20.8\",\"id.resp_p\":88,\"proto\":\"tcp\",\"service\":\"krb_tcp\",\"duration\":0.0012309551239013672,\"orig_bytes\":242,\"resp_bytes\":283,\"conn_state\":\"RSTR\",\"missed_bytes\":0,\"history\":\"ShADdFar\",\"orig_pkts\":4,\"orig_ip_bytes\":414,\"resp_pkts\":4,\"resp_ip_bytes\":455}\n";

/// `dns.log` lines (Stratosphere's and Slips' rows as JSON; unset fields left out, as Zeek
/// does). They carry `ts`, `uid`, `id.*` and even `proto`: read as conn records, they were
/// flows with no bytes.
const DNS_JSON: &str = concat!(
    "{\"ts\":1596790164.509987,\"uid\":\"Cr01B21ezPdgDs60pb\",\"id.orig_h\":\"10.8.0.61\",\"id.orig_p\":35740,\"id.resp_h\":\"8.8.8.8\",\"id.resp_p\":53,\"proto\":\"udp\",\"trans_id\":1242,\"rtt\":0.017912,\"query\":\"infinitedata-pa.googleapis.com\",\"qclass\":1,\"qclass_name\":\"C_INTERNET\",\"qtype\":1,\"qtype_name\":\"A\",\"rcode\":0,\"rcode_name\":\"NOERROR\",\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"answers\":[\"172.217.23.202\"],\"TTLs\":[299.0],\"rejected\":false}\n",
    "{\"ts\":1677024250.148118,\"uid\":\"CyYZ9pbydD79wo9we\",\"id.orig_h\":\"192.168.1.107\",\"id.orig_p\":56510,\"id.resp_h\":\"224.0.0.252\",\"id.resp_p\":5355,\"proto\":\"udp\",\"trans_id\":48298,\"query\":\"nwin3\",\"qclass\":1,\"qclass_name\":\"C_INTERNET\",\"qtype\":255,\"qtype_name\":\"*\",\"AA\":false,\"TC\":false,\"RD\":false,\"RA\":false,\"Z\":0,\"rejected\":false}\n",
);

/// A `notice.log` line (with `proto` and `id.*`, so it too read as a flow).
const NOTICE_JSON: &str = "{\"ts\":1714557600.0,\"uid\":\"CN1\",\"id.orig_h\":\"192.0.2.5\",\"id.orig_p\":50000,\"id.resp_h\":\"203.0.113.5\",\"id.resp_p\":443,\"proto\":\"tcp\",\"note\":\"SSL::Invalid_Server_Cert\",\"msg\":\"bad cert\",\"src\":\"192.0.2.5\",\"dst\":\"203.0.113.5\",\"p\":443,\"actions\":[\"Notice::ACTION_LOG\"],\"suppress_for\":3600.0}\n";

/// A `weird.log` line (no `proto`: it was a malformed conn record).
const WEIRD_JSON: &str = "{\"ts\":1714557601.0,\"uid\":\"CW1\",\"id.orig_h\":\"192.0.2.6\",\"id.orig_p\":50001,\"id.resp_h\":\"203.0.113.6\",\"id.resp_p\":80,\"name\":\"data_before_established\",\"notice\":false,\"peer\":\"zeek\",\"source\":\"TCP\"}\n";

/// Reads `text`, then again with `--strict`, which must agree when nothing is malformed.
fn read_text_both(preset: Preset, kind: Kind, text: &str) -> (Vec<RecordBatch>, TextReport) {
    let (batches, report) = read_bytes(preset, kind, text.as_bytes(), &PresetOptions::default())
        .unwrap_or_else(|err| panic!("{preset} {text}: {err}"));
    if report.skipped == 0 {
        let strict = PresetOptions {
            strict: true,
            ..PresetOptions::default()
        };
        let (_, strict) = read_bytes(preset, kind, text.as_bytes(), &strict)
            .unwrap_or_else(|err| panic!("{preset} --strict {text}: {err}"));
        assert_eq!(strict, report, "{preset} --strict {text}");
    }
    (batches, report)
}

fn other_types(n: u64) -> TextReport {
    TextReport {
        skipped_other_types: n,
        ..TextReport::default()
    }
}

#[test]
fn zeek_json_logs_of_other_types_are_told_apart_by_their_fields() {
    // As flows: a dns, notice or weird log gives no flow and no malformed line, even strict.
    for (name, text, lines) in [
        ("dns", DNS_JSON, 2),
        ("notice", NOTICE_JSON, 1),
        ("weird", WEIRD_JSON, 1),
    ] {
        let (batches, report) = read_text_both(Preset::Zeek, Kind::Flows, text);
        assert!(
            batches.is_empty(),
            "{name}.log gave flows: {:?}",
            flows(&batches)
        );
        assert_eq!(report, other_types(lines), "{name}.log as flows");
    }
    // As notices: a conn, dns or weird log is another log type, not malformed notices.
    for (name, text, lines) in [
        ("conn", CONN_JSON, 1),
        ("dns", DNS_JSON, 2),
        ("weird", WEIRD_JSON, 1),
    ] {
        let (batches, report) = read_text_both(Preset::ZeekNotice, Kind::Events, text);
        assert!(batches.is_empty(), "{name}.log gave events");
        assert_eq!(report, other_types(lines), "{name}.log as notices");
    }
    // Each log still reads as itself.
    let (batches, report) = read_text_both(Preset::Zeek, Kind::Flows, CONN_JSON);
    assert_eq!((report.records, report.skipped_other_types), (1, 0));
    assert_eq!(
        flows(&batches),
        ["2019-12-03T22:44:56.052279Z..2019-12-03T22:44:56.053510Z 10.18.20.97:49187→10.18.20.8:88 proto=6 bs=414 br=455 ps=4 pr=4 svc=krb_tcp row=0"]
    );
    let (batches, report) = read_text_both(Preset::ZeekNotice, Kind::Events, NOTICE_JSON);
    assert_eq!((report.records, report.skipped_other_types), (1, 0));
    assert_eq!(
        events(&batches),
        ["2024-05-01T10:00:00.000000Z 192.0.2.5→203.0.113.5 sev=3 cat=notice sig=SSL::Invalid_Server_Cert row=0"]
    );
    // A record with no telling field is read as the log asked for.
    let bare =
        "{\"ts\":1,\"id.orig_h\":\"192.0.2.1\",\"id.resp_h\":\"192.0.2.2\",\"proto\":\"tcp\"}\n";
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, bare);
    assert_eq!((report.records, report.skipped_other_types), (1, 0));
}

#[test]
fn zeek_json_log_type_follows_its_first_object() {
    // A recognised conn log: a later line lacking a needed field is malformed, as before —
    // even one with a dns field, since a log's lines follow its first object.
    let text = format!(
        "{CONN_JSON}\
         {{\"ts\":2,\"uid\":\"C2\",\"id.orig_h\":\"192.0.2.1\",\"id.resp_h\":\"192.0.2.2\",\"query\":\"x\"}}\n\
         {{\"ts\":3,\"uid\":\"C3\",\"id.resp_h\":\"192.0.2.2\",\"proto\":\"tcp\",\"conn_state\":\"S0\"}}\n"
    );
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &text);
    assert_eq!(
        (report.records, report.skipped, report.skipped_other_types),
        (1, 2, 0)
    );
    assert_eq!(
        problems(&report).iter().map(|p| p.0).collect::<Vec<_>>(),
        [2, 3]
    );
    // The lines of a log of another type are its own, even one that is no JSON object.
    let text = format!("{DNS_JSON}{{\"ts\":3,\"query\n{DNS_JSON}");
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &text);
    assert_eq!(report, other_types(5));
    // A line's own `_path` decides for it.
    let text = format!(
        "{DNS_JSON}{}\n",
        CONN_JSON
            .trim_end()
            .replace("{\"ts\"", "{\"_path\":\"conn\",\"ts\"")
    );
    let (batches, report) = read_text_both(Preset::Zeek, Kind::Flows, &text);
    assert_eq!((report.records, report.skipped_other_types), (1, 2));
    assert_eq!(
        extra(&batches, 0, "uid").as_deref(),
        Some("CH53301MTU21BMj2Bj")
    );
    let text = format!(
        "{CONN_JSON}{}\n",
        DNS_JSON
            .lines()
            .next()
            .expect("a line")
            .replace("{\"ts\"", "{\"_path\":\"dns\",\"ts\"")
    );
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &text);
    assert_eq!((report.records, report.skipped_other_types), (1, 1));
    // After a TSV log, JSON lines are a new log, judged by their own first object.
    let tsv_dns = "#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\n\
                   1714557701.000000\tCD1\t192.0.2.1\t5353\t192.0.2.53\t53\tudp\texample.org\n#close\t2024-05-01-11-00-00\n";
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &format!("{tsv_dns}{CONN_JSON}"));
    assert_eq!((report.records, report.skipped_other_types), (1, 1));
    let tsv_conn = "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\tproto\n\
                    1714557700\t192.0.2.1\t192.0.2.2\ttcp\n#close\t2024-05-01-11-00-00\n";
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &format!("{tsv_conn}{DNS_JSON}"));
    assert_eq!((report.records, report.skipped_other_types), (1, 2));
}

#[test]
fn zeek_tsv_log_without_path_is_judged_by_its_fields() {
    // The same rule as JSON: a log naming no `#path` is the type its `#fields` show.
    let dns = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype\n\
               1714557701.000000\tCD1\t192.0.2.1\t5353\t192.0.2.53\t53\tudp\t7\texample.org\t1\n";
    let (batches, report) = read_text_both(Preset::Zeek, Kind::Flows, dns);
    assert!(batches.is_empty());
    assert_eq!(report, other_types(1));
    // A bare title line (no header at all) is judged the same way.
    let notice = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tnote\tmsg\n\
                  1714557600.0\tCN1\t192.0.2.5\t50000\t203.0.113.5\t443\ttcp\tSSL::Invalid_Server_Cert\tbad cert\n";
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, notice);
    assert_eq!(report, other_types(1));
    let (_, report) = read_text_both(Preset::ZeekNotice, Kind::Events, notice);
    assert_eq!((report.records, report.skipped_other_types), (1, 0));
    // `#path` names the log whatever its fields (a conn log may carry a `note` column), and a
    // new log (`#separator`) forgets the previous log's path.
    let named = format!(
        "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\tproto\tnote\n\
         1714557700\t192.0.2.1\t192.0.2.2\ttcp\tx\n{}",
        dns.replace("1714557701.000000\tCD1", "1714557702.000000\tCD2")
    );
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &named);
    assert_eq!((report.records, report.skipped_other_types), (1, 1));
    let (_, report) = read_text_both(Preset::ZeekNotice, Kind::Events, &named);
    assert_eq!(report, other_types(2));
    // Logs that repeat records of notice.log and conn.log are other logs, so nothing is read
    // twice: `notice_alarm` (alarms notice.log holds too), `conn_long` (interim records).
    let alarm = "#separator \\x09\n#path\tnotice_alarm\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tnote\tmsg\n\
         1714557600.0\tCN1\t192.0.2.5\t50000\t203.0.113.5\t443\ttcp\tSSL::Invalid_Server_Cert\tbad cert\n";
    let (_, report) = read_text_both(Preset::ZeekNotice, Kind::Events, alarm);
    assert_eq!(report, other_types(1));
    let long = CONN_JSON.replace("{\"ts\"", "{\"_path\":\"conn_long\",\"ts\"");
    assert!(long.contains("conn_long"));
    let (_, report) = read_text_both(Preset::Zeek, Kind::Flows, &long);
    assert_eq!(report, other_types(1));
}

// --- Suricata EVE -------------------------------------------------------------------------

#[test]
fn suricata_flows() {
    let (batches, report) = check_flows(
        Preset::Suricata,
        "suricata/eve.json",
        &[
            // C14: no port keys → 0; IPv6-ICMP → 58; addresses normalised.
            "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:00.000500Z 192.0.2.110:0→203.0.113.110:0 proto=1 bs=98 br=98 ps=1 pr=1 svc=- row=0",
            "2024-05-01T10:00:01.000000Z..2024-05-01T10:00:02.000000Z 2001:db8:1::110:0→2001:db8:ff::110:0 proto=58 bs=208 br=0 ps=2 pr=0 svc=- row=1",
            "2024-05-01T10:00:00.123456Z..2024-05-01T10:04:59.999999Z 192.0.2.111:46038→203.0.113.111:80 proto=6 bs=1600000000000000 br=10333230 ps=4294967296 pr=6922 svc=http row=2",
            "2024-05-01T10:00:08.000000Z..2024-05-01T10:00:09.000000Z 192.0.2.115:0→203.0.113.115:0 proto=47 bs=2835 br=0 ps=12 pr=0 svc=- row=9",
        ],
    );
    assert_eq!(
        (report.records, report.skipped, report.skipped_other_types),
        (4, 2, 4)
    );
    assert_eq!(
        problems(&report)
            .iter()
            .map(|p| (p.0, p.1))
            .collect::<Vec<_>>(),
        [(7, None), (8, Some("flow.start"))]
    );
    assert_eq!(extra(&batches, 0, "icmp_type").as_deref(), Some("8"));
    assert_eq!(
        extra(&batches, 2, "flow_id").as_deref(),
        Some("1132792655884373")
    );
    assert_eq!(extra(&batches, 2, "flow.alerted").as_deref(), Some("true"));
    assert_eq!(extra(&batches, 2, "tcp.tcp_flags").as_deref(), Some("1b"));
    assert!(batches[0].schema().field_with_name("event_type").is_err());
}

#[test]
fn suricata_alerts_from_the_same_file() {
    let (batches, report) = read(Preset::Suricata, Kind::Events, "suricata/eve.json");
    assert_eq!(
        events(&batches),
        [
            // C23: UTF-8 signature byte-exact; +0200 applied.
            "2024-05-01T10:00:00.250000Z 192.0.2.111→203.0.113.111 sev=2 cat=Misc activity sig=ET INFO Ünïcode ☃ test row=3",
            "2024-05-01T10:00:07.000000Z 203.0.113.114→192.0.2.114 sev=3 cat= sig=GPL ATTACK_RESPONSE id check returned root row=8",
        ]
    );
    assert_eq!(
        (report.records, report.skipped, report.skipped_other_types),
        (2, 1, 7)
    );
    assert_eq!(
        extra(&batches, 0, "flow_id").as_deref(),
        Some("1132792655884373")
    );
    assert_eq!(
        extra(&batches, 0, "alert.signature_id").as_deref(),
        Some("2013504")
    );
    assert_eq!(extra(&batches, 0, "src_port").as_deref(), Some("46038"));
}

// --- Argus --------------------------------------------------------------------------------

#[test]
fn argus_binetflow_with_source_packets() {
    let (batches, report) = check_flows(
        Preset::Argus,
        "argus/with-srcpkts.binetflow",
        &[
            "2011-08-16T10:01:46.972101Z..2011-08-16T10:01:47.998640Z 192.0.2.30:1577→203.0.113.30:80 proto=6 bs=500 br=700 ps=4 pr=4 svc=- row=0",
            // C13: hexadecimal ports (ICMP type/code) read as numbers, never 0.
            "2011-08-16T10:01:47.000000Z..2011-08-16T10:01:47.000515Z 192.0.2.100:8→203.0.113.100:771 proto=1 bs=70 br=70 ps=1 pr=1 svc=- row=1",
            "2011-08-16T10:01:48.500000Z..2011-08-16T10:01:48.500000Z 2001:db8:1::5:135→ff02::1:ff00:3:136 proto=58 bs=72 br=0 ps=1 pr=0 svc=- row=2",
            "2011-08-16T10:01:51.000000Z..2011-08-16T10:02:01.000000Z 192.0.2.32:40000→203.0.113.32:443 proto=6 bs=1600000000000000 br=0 ps=8589934592 pr=0 svc=- row=5",
        ],
    );
    // The `arp` row is no flow: counted apart, not malformed; the bad port is malformed.
    assert_eq!(
        (report.records, report.skipped, report.skipped_not_flows),
        (4, 1, 1)
    );
    assert_eq!(report.not_flow_protocols, ["arp"]);
    assert_eq!(problems(&report), [(6, Some("Sport"), "0xzz")]);
    assert_eq!(
        extra_names(&batches[0], 13),
        ["Dir", "State", "sTos", "dTos", "Label"]
    );
    assert_eq!(extra(&batches, 0, "Dir").as_deref(), Some("->"));
    assert_eq!(
        extra(&batches, 0, "Label").as_deref(),
        Some("flow=Background-TCP-Established")
    );
    assert_eq!(
        (extra(&batches, 1, "dTos"), extra(&batches, 1, "Label")),
        (None, None)
    );
}

#[test]
fn argus_binetflow_without_source_packets_splits_by_bytes() {
    let (_, report) = check_flows(
        Preset::Argus,
        "argus/ctu13-no-srcpkts.binetflow",
        &[
            "2011-08-16T10:01:46.972101Z..2011-08-16T10:01:47.998640Z 192.0.2.30:1577→203.0.113.30:80 proto=6 bs=500 br=700 ps=3 pr=5 svc=- row=0",
            "2011-08-16T10:01:47.000000Z..2011-08-16T10:01:50.000000Z 192.0.2.33:53000→203.0.113.53:53 proto=17 bs=210 br=0 ps=3 pr=0 svc=- row=1",
        ],
    );
    assert_eq!(problems(&report), [(4, Some("SrcBytes"), "700")]);
}

// --- nfdump -------------------------------------------------------------------------------

const C19: &str = "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:01.500000Z 192.0.2.130:50000→203.0.113.130:443 proto=6 bs=1200 br=0 ps=10 pr=0 svc=- row=0";

#[test]
fn nfdump_layouts_with_and_without_header_agree() {
    // C19
    for name in [
        "nfdump/c19-nfdump171.csv",
        "nfdump/c19-nfdump176.csv",
        "nfdump/c19-headerless171.csv",
        "nfdump/c19-headerless176.csv",
    ] {
        let (batches, report) = check_flows(Preset::Nfdump, name, &[C19]);
        assert_eq!((report.records, report.skipped), (1, 0), "{name}");
        if name.ends_with("171.csv") {
            assert_eq!(
                extra(&batches, 0, "flg").as_deref(),
                Some("...AP.SF"),
                "{name}"
            );
            assert_eq!(extra(&batches, 0, "obyt").as_deref(), Some("0"), "{name}");
        } else {
            assert_eq!(extra(&batches, 0, "flows").as_deref(), Some("1"), "{name}");
        }
    }
}

#[test]
fn nfdump_naive_times_follow_tz() {
    let opts = PresetOptions {
        tz: Some(parse_tz("+02:00").expect("offset")),
        ..PresetOptions::default()
    };
    let (batches, _) = read_with(
        Preset::Nfdump,
        Kind::Flows,
        "nfdump/c19-nfdump176.csv",
        &opts,
    );
    assert!(
        flows(&batches)[0].starts_with("2024-05-01T08:00:00.000000Z..2024-05-01T08:00:01.500000Z")
    );
}

#[test]
fn nfdump_summary_trailer_is_ignored() {
    // C20
    let (_, report) = check_flows(
        Preset::Nfdump,
        "nfdump/c20-summary.csv",
        &[
            "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:02.000000Z 192.0.2.140:50000→203.0.113.140:443 proto=6 bs=1000 br=0 ps=10 pr=0 svc=- row=0",
            "2024-05-01T10:00:05.000000Z..2024-05-01T10:00:05.000000Z 192.0.2.141:50001→203.0.113.141:53 proto=17 bs=300 br=0 ps=1 pr=0 svc=- row=1",
        ],
    );
    assert_eq!((report.records, report.skipped), (2, 0));
}

#[test]
fn nfdump_abbreviated_ipv6_is_rejected_with_its_line() {
    // C01
    let (batches, report) = check_flows(
        Preset::Nfdump,
        "nfdump/c01-abbreviated.csv",
        &["2024-05-01T10:00:00.000000Z..2024-05-01T10:00:01.000000Z 2001:db8:1::10:50000→2001:db8:ff::5:443 proto=6 bs=500 br=0 ps=5 pr=0 svc=- row=1"],
    );
    assert_eq!(problems(&report), [(2, Some("sa"), "2001:db..:1::10")]);
    assert!(report.problems[0].reason.contains("-o csv"));
    assert!(flows(&batches).iter().all(|row| !row.contains("..:")));

    let strict = PresetOptions {
        strict: true,
        ..PresetOptions::default()
    };
    let err = read_text::<PresetError>(
        Preset::Nfdump,
        Kind::Flows,
        &fixture("nfdump/c01-abbreviated.csv"),
        &strict,
        &mut |_| Ok(()),
    )
    .expect_err("strict fails");
    match &err {
        PresetError::Malformed {
            file,
            line,
            column,
            value,
            ..
        } => {
            assert!(file.ends_with("c01-abbreviated.csv"));
            assert_eq!(
                (*line, column.as_deref(), value.as_str()),
                (2, Some("sa"), "2001:db..:1::10")
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains(":2: abbreviated address"), "{err}");
}

#[test]
fn nfdump_long_durations_are_exact() {
    // C10: end from `te` when present, else start + `td`; both exact to the microsecond.
    let expect = ["2022-04-01T00:45:52.000000Z..2022-05-20T17:48:39.238000Z 192.0.2.80:0→203.0.113.90:0 proto=47 bs=2835 br=0 ps=12 pr=0 svc=- row=0"];
    let (with_te, _) = check_flows(Preset::Nfdump, "nfdump/c10-gre.csv", &expect);
    check_flows(Preset::Nfdump, "nfdump/c10-gre-no-te.csv", &expect);
    let start = column::<TimestampMicrosecondArray>(&with_te[0], "start_time").value(0);
    let end = column::<TimestampMicrosecondArray>(&with_te[0], "end_time").value(0);
    assert_eq!(end - start, 4_294_967_238_000);
}

#[test]
fn nfdump_protocol_as_name_or_number() {
    // C30
    let expect = ["2024-05-01T10:00:00.000000Z..2024-05-01T10:00:02.000000Z 192.0.2.170:50000→203.0.113.170:50001 proto=6 bs=100 br=0 ps=2 pr=0 svc=- row=0"];
    check_flows(Preset::Nfdump, "nfdump/c30-tcp-name.csv", &expect);
    check_flows(Preset::Nfdump, "nfdump/c30-tcp-number.csv", &expect);
}

#[test]
fn nfdump_unidirectional_records_pair_only_when_asked() {
    // C31: per record by default; paired into one biflow with a timeout.
    let (_, report) = check_flows(
        Preset::Nfdump,
        "nfdump/c31-unidirectional.csv",
        &[
            "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:05.000000Z 192.0.2.180:50000→203.0.113.180:443 proto=6 bs=2000000 br=0 ps=1500 pr=0 svc=- row=0",
            "2024-05-01T10:00:00.100000Z..2024-05-01T10:00:05.000000Z 203.0.113.180:443→192.0.2.180:50000 proto=6 bs=2500000 br=0 ps=1800 pr=0 svc=- row=1",
            "2024-05-01T10:10:00.000000Z..2024-05-01T10:10:01.000000Z 192.0.2.181:50001→203.0.113.181:80 proto=6 bs=300 br=0 ps=3 pr=0 svc=- row=2",
        ],
    );
    assert_eq!(report.paired, 0);
    let opts = PresetOptions {
        biflow_timeout: Some(std::time::Duration::from_secs(1)),
        ..PresetOptions::default()
    };
    let (batches, report) = read_with(
        Preset::Nfdump,
        Kind::Flows,
        "nfdump/c31-unidirectional.csv",
        &opts,
    );
    assert_eq!(
        flows(&batches),
        [
            "2024-05-01T10:00:00.000000Z..2024-05-01T10:00:05.000000Z 192.0.2.180:50000→203.0.113.180:443 proto=6 bs=2000000 br=2500000 ps=1500 pr=1800 svc=- row=0",
            "2024-05-01T10:10:00.000000Z..2024-05-01T10:10:01.000000Z 192.0.2.181:50001→203.0.113.181:80 proto=6 bs=300 br=0 ps=3 pr=0 svc=- row=2",
        ]
    );
    assert_eq!((report.records, report.paired), (2, 1));
}

#[test]
fn nfdump_unrecognised_first_line_is_a_header_error() {
    let err = read_bytes(
        Preset::Nfdump,
        Kind::Flows,
        b"hello,world\n1,2\n",
        &PresetOptions::default(),
    )
    .expect_err("no header");
    assert!(matches!(err, PresetError::Header { line: 1, .. }), "{err}");
    let err = read_bytes(
        Preset::Nfdump,
        Kind::Flows,
        b"ts,te,foo\n",
        &PresetOptions::default(),
    )
    .expect_err("no sa");
    assert!(err.to_string().contains("`sa`"), "{err}");
}

// --- SiLK ---------------------------------------------------------------------------------

const SILK_FIRST: &str = "2009-02-12T19:26:01.123000Z..2009-02-12T19:26:01.357000Z 10.30.30.31:52423→10.70.70.71:25 proto=6 bs=1527 br=0 ps=13 pr=0 svc=- row=0";

#[test]
fn silk_rwcut_text() {
    let (batches, report) = check_flows(
        Preset::Silk,
        "silk/rwcut.txt",
        &[
            SILK_FIRST,
            // C13: SiLK keeps ICMP type·256+code in dPort.
            "2009-02-12T19:26:02.000000Z..2009-02-12T19:26:02.000000Z 10.30.30.32:0→10.70.70.72:771 proto=1 bs=84 br=0 ps=1 pr=0 svc=- row=1",
            "2009-02-12T19:26:03.500000Z..2009-02-12T19:26:03.500000Z 2001:db8:1::5:5353→ff02::fb:5353 proto=17 bs=93 br=0 ps=1 pr=0 svc=- row=2",
            "2009-02-12T19:26:04.000000Z..2009-02-12T20:26:04.000000Z 2001:db8:1::6:50000→2001:db8:ff::6:443 proto=6 bs=1600000000000000 br=0 ps=4294967296 pr=0 svc=- row=3",
        ],
    );
    assert_eq!(problems(&report), [(6, Some("protocol"), "xyz")]);
    assert_eq!(extra_names(&batches[0], 13), ["flags", "sensor"]);
    assert_eq!(extra(&batches, 0, "flags").as_deref(), Some("FS PA"));
    assert_eq!(extra(&batches, 1, "flags"), None);
    assert_eq!(extra(&batches, 2, "sensor").as_deref(), Some("S1"));
}

#[test]
fn silk_without_titles_and_with_other_delimiters() {
    let (batches, _) = check_flows(Preset::Silk, "silk/rwcut-no-titles.txt", &[SILK_FIRST]);
    assert_eq!(extra(&batches, 0, "sensor").as_deref(), Some("S0"));
    // Zero-padded and integer addresses, epoch times, short titles.
    check_flows(Preset::Silk, "silk/rwcut-delimited.txt", &[SILK_FIRST]);
}

// --- input handling and policy ------------------------------------------------------------

#[test]
fn gzip_is_detected_by_content_not_name() {
    let plain = std::fs::read(fixture("zeek/conn-tsv.log")).expect("fixture");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&plain).expect("in memory");
    let gzipped = encoder.finish().expect("in memory");
    let opts = PresetOptions::default();
    let (from_gzip, report) =
        read_bytes(Preset::Zeek, Kind::Flows, &gzipped, &opts).expect("gzip reads");
    let (from_plain, _) = read(Preset::Zeek, Kind::Flows, "zeek/conn-tsv.log");
    assert_eq!(flows(&from_gzip), flows(&from_plain));
    assert_eq!(report.problems[0].line, 14);
    // Corrupt gzip is an I/O error, not a panic.
    let err = read_bytes(
        Preset::Zeek,
        Kind::Flows,
        &gzipped[..gzipped.len() / 2],
        &opts,
    )
    .expect_err("truncated");
    assert!(matches!(err, PresetError::Io { .. }), "{err}");
}

#[test]
fn batches_are_cut_and_extra_columns_only_grow() {
    let opts = PresetOptions {
        batch_rows: 2,
        ..PresetOptions::default()
    };
    let (batches, report) = read_with(Preset::Zeek, Kind::Flows, "zeek/conn-tsv.log", &opts);
    assert_eq!(
        batches
            .iter()
            .map(RecordBatch::num_rows)
            .collect::<Vec<_>>(),
        [2, 2, 2]
    );
    assert_eq!(report.records, 6);

    let lines = concat!(
        "{\"ts\":1,\"id.orig_h\":\"192.0.2.1\",\"id.resp_h\":\"192.0.2.2\",\"proto\":\"tcp\",\"a\":\"x\"}\n",
        "{\"ts\":2,\"id.orig_h\":\"192.0.2.1\",\"id.resp_h\":\"192.0.2.2\",\"proto\":\"tcp\"}\n",
        "{\"ts\":3,\"id.orig_h\":\"192.0.2.1\",\"id.resp_h\":\"192.0.2.2\",\"proto\":\"tcp\",\"b\":\"y\"}\n",
    );
    let (batches, _) =
        read_bytes(Preset::Zeek, Kind::Flows, lines.as_bytes(), &opts).expect("reads");
    assert_eq!(extra_names(&batches[0], 13), ["a"]);
    assert_eq!(extra_names(&batches[1], 13), ["a", "b"]);
    assert_eq!(
        (extra(&batches, 1, "a"), extra(&batches, 2, "b").as_deref()),
        (None, Some("y"))
    );
}

#[test]
fn strict_stops_at_the_first_malformed_record() {
    let strict = PresetOptions {
        strict: true,
        ..PresetOptions::default()
    };
    let err = read_text::<PresetError>(
        Preset::Zeek,
        Kind::Flows,
        &fixture("zeek/conn-tsv.log"),
        &strict,
        &mut |_| Ok(()),
    )
    .expect_err("strict");
    assert!(
        matches!(&err, PresetError::Malformed { line: 14, column: Some(c), .. } if c == "id.orig_h"),
        "{err}"
    );
}

#[derive(Debug)]
enum SinkError {
    Full,
    Preset,
}

impl From<PresetError> for SinkError {
    fn from(_: PresetError) -> SinkError {
        SinkError::Preset
    }
}

#[test]
fn a_failing_sink_stops_the_read_with_its_own_error() {
    let result = read_text::<SinkError>(
        Preset::Zeek,
        Kind::Flows,
        &fixture("zeek/conn-tsv.log"),
        &PresetOptions::default(),
        &mut |_| Err(SinkError::Full),
    );
    assert!(matches!(result, Err(SinkError::Full)));
    let missing = read_text::<SinkError>(
        Preset::Zeek,
        Kind::Flows,
        Path::new("/nonexistent/conn.log"),
        &PresetOptions::default(),
        &mut |_| Ok(()),
    );
    assert!(matches!(missing, Err(SinkError::Preset)));
}

#[test]
fn presets_and_kinds() {
    for preset in Preset::ALL {
        assert_eq!(preset.to_string().parse::<Preset>().ok(), Some(preset));
        assert!(preset.supports(preset.default_kind()));
    }
    assert_eq!(
        "ZEEK-NOTICE".parse::<Preset>().ok(),
        Some(Preset::ZeekNotice)
    );
    assert!(matches!(
        "bro".parse::<Preset>(),
        Err(PresetError::UnknownPreset { .. })
    ));
    let err = read_bytes(Preset::Argus, Kind::Events, b"", &PresetOptions::default())
        .expect_err("no events");
    assert!(matches!(
        err,
        PresetError::UnsupportedKind {
            preset: Preset::Argus,
            kind: Kind::Events
        }
    ));
    assert!(matches!(
        parse_tz("Europe/Prague"),
        Err(PresetError::TimeZone { .. })
    ));
    assert_eq!(
        parse_tz("+0200").map(|o| o.local_minus_utc()).ok(),
        Some(7200)
    );
}

#[test]
fn garbage_never_panics() {
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    garbage.extend_from_slice(
        b"\n#fields\tts\n{\"ts\":\n\xff\xfe\n,,,,\n|||\nts,sa,da,pr\n1,2,3,4\nSummary\n",
    );
    let truncated_gzip = [0x1f, 0x8b, 0x08];
    for preset in Preset::ALL {
        for kind in preset.kinds() {
            for input in [
                &garbage[..],
                &truncated_gzip[..],
                b"\n\n",
                b"{}\n",
                b"\xef\xbb\xbf",
            ] {
                // Ok with problems, or a header/I/O error: never a panic.
                let _ = read_bytes(preset, *kind, input, &PresetOptions::default());
            }
        }
    }
    let (_, report) = read_bytes(
        Preset::Zeek,
        Kind::Flows,
        b"#fields\tts\n\xff\xfe\n",
        &PresetOptions::default(),
    )
    .expect("reads");
    assert_eq!((report.skipped, report.problems[0].line), (1, 2));
}

// --- real samples (shared/data) -----------------------------------------------------------

/// `shared/data/` next to the checkout, or `$FLOWPAT_SHARED_DATA`.
fn shared(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("FLOWPAT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let path = root.join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: sample {} is absent", path.display());
        None
    }
}

/// Reads a real sample; `None` when it is absent. Also returns protocol counts.
fn sample(
    preset: Preset,
    kind: Kind,
    rel: &str,
) -> Option<(TextReport, std::collections::BTreeMap<u8, u64>)> {
    let path = shared(rel)?;
    let mut protocols = std::collections::BTreeMap::new();
    let report = read_text::<PresetError>(
        preset,
        kind,
        &path,
        &PresetOptions::default(),
        &mut |batch| {
            if kind == Kind::Flows {
                for p in column::<UInt8Array>(&batch, "protocol").values().iter() {
                    *protocols.entry(*p).or_insert(0) += 1;
                }
            }
            Ok(())
        },
    )
    .unwrap_or_else(|err| panic!("{rel}: {err}"));
    Some((report, protocols))
}

/// Record counts checked by hand (`grep -v '^#' FILE | grep -vc '^$'`, `cut -d, -f3 | sort | uniq -c`).
#[test]
fn real_samples_read_completely() {
    use Kind::{Events, Flows};
    use Preset::{Argus, Suricata, Zeek, ZeekNotice};
    let cases: &[(Preset, Kind, &str, u64, u64, u64)] = &[
        // (preset, kind, file, records, skipped, other types, not flows or not events)
        (Zeek, Flows, "zat-zeek-samples/conn.log", 360, 0, 0),
        (Zeek, Flows, "zat-zeek-samples/json/conn.log", 50, 0, 0),
        (Zeek, Flows, "zat-zeek-samples/conn_date_issue.log", 3, 0, 0),
        (Zeek, Flows, "zat-zeek-samples/http_empty.log", 0, 0, 0),
        (
            Zeek,
            Flows,
            "slips-zeek-samples/test10-tsv-ipv6/conn.log",
            141,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "slips-zeek-samples/test18-remcos-labeled/conn.log.labeled",
            766,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "slips-zeek-samples/port-scans/vertical-conn.log",
            50,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "slips-zeek-samples/port-scans/horizontal-conn.log",
            41,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "ctu-normal-40-42-zeek/008/conn.log.labeled",
            5663,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "ctu-normal-40-42-zeek/010/conn.log.labeled",
            5347,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "stratosphere-zeek-scenarios/002-zeek-scenario-port-scanning/conn.log",
            4504,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "stratosphere-zeek-scenarios/003-zeek-scenario-malicious/conn.log",
            361,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "stratosphere-zeek-scenarios/005-zeek-scenario-malicious/conn.log",
            992,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "stratosphere-zeek-scenarios/006-zeek-scenario-ssh/conn.log",
            18,
            0,
            0,
        ),
        // btest baselines mask ts as XXXXXXXXXX.XXXXXX: every row is reported, none invented.
        (
            Zeek,
            Flows,
            "zeek-btest-conn-edgecases/core.ppp__conn.log",
            3,
            0,
            0,
        ),
        (
            Zeek,
            Flows,
            "zeek-btest-conn-edgecases/core.unknown-ip-protocol__conn.log",
            0,
            1,
            0,
        ),
        (
            Zeek,
            Flows,
            "zeek-btest-conn-edgecases/scripts.base.frameworks.logging.field-name-map__conn.log",
            0,
            34,
            0,
        ),
        (ZeekNotice, Events, "zat-zeek-samples/notice.log", 2, 0, 0),
        // One line of this file has spaces where tabs belong; the other twelve notices name
        // no destination: no events (counted apart, not malformed).
        (
            ZeekNotice,
            Events,
            "slips-zeek-samples/test10-tsv-ipv6/notice.log",
            0,
            1,
            12,
        ),
        // Both notices name no source address.
        (
            ZeekNotice,
            Events,
            "slips-zeek-samples/test18-remcos-labeled/notice.log.labeled",
            0,
            2,
            0,
        ),
        (
            ZeekNotice,
            Events,
            "ctu-normal-40-42-zeek/008/notice.log.labeled",
            16,
            0,
            0,
        ),
        (
            ZeekNotice,
            Events,
            "ctu-normal-40-42-zeek/010/notice.log.labeled",
            2,
            0,
            0,
        ),
        (
            Suricata,
            Flows,
            "surevego-suricata-eve/eve.json",
            13,
            0,
            253,
        ),
        (
            Suricata,
            Events,
            "surevego-suricata-eve/eve.json",
            68,
            0,
            198,
        ),
        (
            Argus,
            Flows,
            "slips-argus-binetflow/test2-malicious.binetflow",
            6751,
            0,
            0,
        ),
        (
            Argus,
            Flows,
            "slips-argus-binetflow/test3-mixed.binetflow",
            89,
            0,
            0,
        ),
        // Two `arp` records are no flows (counted apart, not malformed).
        (
            Argus,
            Flows,
            "slips-argus-binetflow/test4-malicious.binetflow",
            392,
            0,
            2,
        ),
        (
            Argus,
            Flows,
            "slips-argus-binetflow/test11-portscan.binetflow",
            66,
            0,
            0,
        ),
    ];
    for &(preset, kind, rel, records, skipped, other) in cases {
        let Some((report, _)) = sample(preset, kind, rel) else {
            continue;
        };
        assert_eq!(
            (
                report.records,
                report.skipped,
                report.skipped_other_types + report.skipped_not_flows + report.skipped_not_events
            ),
            (records, skipped, other),
            "{rel}: {:?}",
            report.problems
        );
    }
}

/// `(protocol, rows)` pairs in protocol order.
type ProtocolMix = &'static [(u8, u64)];

/// Protocol mixes from the samples' SOURCE.md (ICMPv6 is 58, counted with ICMP there).
#[test]
fn real_samples_protocol_mix() {
    let cases: &[(Preset, &str, ProtocolMix)] = &[
        (
            Preset::Zeek,
            "ctu-normal-40-42-zeek/008/conn.log.labeled",
            &[(1, 20), (6, 5383), (17, 260)],
        ),
        (
            Preset::Zeek,
            "stratosphere-zeek-scenarios/002-zeek-scenario-port-scanning/conn.log",
            &[(1, 383), (6, 4062), (17, 59)],
        ),
        (
            Preset::Zeek,
            "zat-zeek-samples/conn.log",
            &[(1, 20), (6, 115), (17, 225)],
        ),
        (
            Preset::Argus,
            "slips-argus-binetflow/test2-malicious.binetflow",
            &[(1, 65), (2, 7), (6, 3925), (17, 2754)],
        ),
        (
            Preset::Argus,
            "slips-argus-binetflow/test3-mixed.binetflow",
            &[(1, 1), (6, 80), (17, 2), (58, 6)],
        ),
    ];
    for (preset, rel, expect) in cases {
        let Some((_, protocols)) = sample(*preset, Kind::Flows, rel) else {
            continue;
        };
        assert_eq!(
            protocols.into_iter().collect::<Vec<_>>(),
            expect.to_vec(),
            "{rel}"
        );
    }
    if let Some((_, protocols)) = sample(
        Preset::Zeek,
        Kind::Flows,
        "stratosphere-zeek-scenarios/005-zeek-scenario-malicious/conn.log",
    ) {
        let icmp =
            protocols.get(&1).copied().unwrap_or(0) + protocols.get(&58).copied().unwrap_or(0);
        assert_eq!(
            (
                protocols.get(&17).copied(),
                protocols.get(&6).copied(),
                icmp
            ),
            (Some(666), Some(207), 119)
        );
    }
}
