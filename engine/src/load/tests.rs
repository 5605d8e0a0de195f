//! Loader tests: every accepted Arrow type, the bad-row policy, windows, and the Parquet and
//! Arrow IPC readers on small files written here.

use std::path::Path;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use arrow::array::{
    ArrayRef, BinaryArray, DictionaryArray, FixedSizeBinaryArray, Int16Array, Int32Array,
    Int64Array, LargeStringArray, StringArray, StringViewArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;

use super::*;
use crate::model::{Addr, FileId};

fn networks() -> Networks {
    Networks::parse(
        "10.0.0.0/8,internal\n2001:db8:1::/48,internal\n172.16.0.0/12,dmz\n",
        "networks.csv",
    )
    .expect("valid networks")
}

type Columns = Vec<(&'static str, ArrayRef)>;

/// Four canonical rows: internal→external TCP, IPv6 UDP, ICMP to a dmz host, mapped IPv4.
fn canonical() -> Columns {
    let t0 = 1_700_000_000_000_000i64;
    vec![
        (
            "start_time",
            Arc::new(
                TimestampMicrosecondArray::from(vec![t0, t0 + 1, t0 + 2, t0 + 3])
                    .with_timezone("UTC"),
            ),
        ),
        (
            "end_time",
            Arc::new(
                TimestampMicrosecondArray::from(vec![t0 + 10, t0 + 11, t0 + 12, t0 + 13])
                    .with_timezone("UTC"),
            ),
        ),
        (
            "src_addr",
            Arc::new(StringArray::from(vec![
                "10.0.0.1",
                "2001:db8:1::10",
                "10.0.0.2",
                "::ffff:10.0.0.3",
            ])),
        ),
        (
            "dst_addr",
            Arc::new(StringArray::from(vec![
                "198.51.100.7",
                "2001:db8:ff::1",
                "172.16.0.9",
                "203.0.113.5",
            ])),
        ),
        (
            "src_port",
            Arc::new(UInt16Array::from(vec![40000, 5353, 8, 1025])),
        ),
        (
            "dst_port",
            Arc::new(UInt16Array::from(vec![443, 53, 0, 1024])),
        ),
        ("protocol", Arc::new(UInt8Array::from(vec![6, 17, 1, 6]))),
        (
            "bytes_sent",
            Arc::new(UInt64Array::from(vec![1000, 80, 84, u64::MAX])),
        ),
        (
            "bytes_received",
            Arc::new(UInt64Array::from(vec![5000, 120, 84, 0])),
        ),
        (
            "packets_sent",
            Arc::new(UInt64Array::from(vec![10, 1, 1, 3])),
        ),
        (
            "packets_received",
            Arc::new(UInt64Array::from(vec![12, 1, 1, 0])),
        ),
        (
            "service",
            Arc::new(StringArray::from(vec![
                Some("ssl"),
                Some("dns"),
                None,
                None,
            ])),
        ),
    ]
}

fn with(mut cols: Columns, name: &'static str, array: ArrayRef) -> Columns {
    match cols.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = array,
        None => cols.push((name, array)),
    }
    cols
}

fn without(cols: Columns, name: &str) -> Columns {
    cols.into_iter().filter(|(n, _)| *n != name).collect()
}

fn batch_of(cols: Columns) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("consistent test batch")
}

fn decode_with(
    cols: Columns,
    req: &FlowColumns,
    opts: &ReadOptions,
) -> Result<(FlowBatch, LoadReport), LoadError> {
    read_flow_batch(&batch_of(cols), FileId(7), "mem", 0, req, &networks(), opts)
}

fn decode(cols: Columns) -> (FlowBatch, LoadReport) {
    decode_with(cols, &FlowColumns::all(), &ReadOptions::default()).expect("decodes")
}

fn addr(text: &str) -> Addr {
    Addr::parse(text).expect("test address")
}

fn label_names(networks: &Networks, labels: &[LabelId]) -> Vec<String> {
    labels
        .iter()
        .map(|l| networks.label_name(*l).to_string())
        .collect()
}

#[test]
fn canonical_batch_decodes_and_labels() {
    let (flows, report) = decode(canonical());
    let nets = networks();
    assert_eq!(flows.file, FileId(7));
    assert_eq!(flows.rows, [0, 1, 2, 3]);
    assert_eq!(
        flows.src[3],
        addr("10.0.0.3"),
        "C03: mapped IPv6 is the IPv4 host"
    );
    assert!(flows.src[3].is_v4());
    assert_eq!(
        label_names(&nets, &flows.src_label),
        ["internal", "internal", "internal", "internal"]
    );
    assert_eq!(
        label_names(&nets, &flows.dst_label),
        ["external", "external", "dmz", "external"]
    );
    assert_eq!(flows.bytes_sent[3], u64::MAX);
    assert_eq!(flows.service[0].as_deref(), Some("ssl"));
    assert_eq!(report.rows_read, 4);
    assert_eq!(report.rows_kept, 4);
    assert_eq!(report.rows_skipped, 0);

    let conn = flows.to_conn(1);
    assert_eq!(conn.id.row, 1);
    assert_eq!(conn.src, addr("2001:db8:1::10"));
    assert_eq!(
        (conn.src_port, conn.dst_port, conn.protocol),
        (5353, 53, 17)
    );
    assert_eq!(conn.end - conn.start, 10);
}

#[test]
fn only_requested_columns_are_filled() {
    let req = FlowColumns {
        src_addr: true,
        dst_port: true,
        extra: vec!["vlan".into(), "absent".into()],
        ..FlowColumns::default()
    };
    let cols = with(
        canonical(),
        "vlan",
        Arc::new(Int32Array::from(vec![Some(5), None, Some(7), Some(8)])),
    );
    // Unrequested columns may be missing or of any type.
    let cols = with(
        without(cols, "protocol"),
        "bytes_sent",
        Arc::new(StringArray::from(vec!["x"; 4])),
    );
    let (flows, _) = decode_with(cols, &req, &ReadOptions::default()).expect("decodes");
    assert_eq!(flows.src.len(), 4);
    assert_eq!(flows.src_label.len(), 4);
    assert_eq!(flows.dst_port, [443, 53, 0, 1024]);
    assert!(flows.start.is_empty() && flows.protocol.is_empty() && flows.service.is_empty());
    assert_eq!(
        flows.extra[0],
        [
            Some("5".to_string()),
            None,
            Some("7".into()),
            Some("8".into())
        ]
    );
    assert_eq!(flows.extra[1], [None, None, None, None]);
    assert_eq!(req.columns(), ["src_addr", "dst_port", "vlan", "absent"]);
}

#[test]
fn timestamps_in_any_unit_and_zone_become_utc_micros() {
    let secs = vec![1_700_000_000i64, -1, 0, 1];
    let expect: Vec<i64> = secs.iter().map(|s| s * 1_000_000).collect();
    let variants: Vec<ArrayRef> = vec![
        Arc::new(TimestampSecondArray::from(secs.clone()).with_timezone("+02:00")),
        Arc::new(
            TimestampMillisecondArray::from(secs.iter().map(|s| s * 1_000).collect::<Vec<_>>())
                .with_timezone("Europe/Berlin"),
        ),
        Arc::new(TimestampMicrosecondArray::from(expect.clone())),
        Arc::new(
            TimestampNanosecondArray::from(
                secs.iter().map(|s| s * 1_000_000_000).collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Int64Array::from(expect.clone())),
    ];
    for array in variants {
        let data_type = array.data_type().clone();
        let (flows, _) = decode(with(canonical(), "start_time", array));
        assert_eq!(flows.start, expect, "start_time as {data_type}");
    }
    // Nanoseconds round to the nearest microsecond, halves away from zero.
    let nanos = TimestampNanosecondArray::from(vec![1_499i64, 1_500, -1_500, -1_499]);
    let (flows, _) = decode(with(canonical(), "end_time", Arc::new(nanos)));
    assert_eq!(flows.end, [1, 2, -2, -1]);
    // Seconds beyond the microsecond range are a bad row, not a wrapped time.
    let huge = TimestampSecondArray::from(vec![i64::MAX, 0, 0, 0]);
    let (flows, report) = decode(with(canonical(), "end_time", Arc::new(huge)));
    assert_eq!(flows.len(), 3);
    assert_eq!(report.problems[0].reason, ProblemReason::OutOfRange);
}

#[test]
fn integers_of_any_type_are_range_checked() {
    let cols = with(
        canonical(),
        "src_port",
        Arc::new(Int32Array::from(vec![65535, 70000, -1, 0])),
    );
    let cols = with(
        cols,
        "dst_port",
        Arc::new(UInt32Array::from(vec![1, 2, 3, 4])),
    );
    let cols = with(
        cols,
        "protocol",
        Arc::new(Int64Array::from(vec![6, 17, 1, 300])),
    );
    let cols = with(
        cols,
        "bytes_received",
        Arc::new(Int16Array::from(vec![0, 1, 2, 3])),
    );
    let (flows, report) = decode(cols);
    assert_eq!(flows.rows, [0]);
    assert_eq!(flows.src_port, [65535]);
    assert_eq!(report.rows_skipped, 3);
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str(), p.value.as_str(), p.reason))
        .collect();
    assert_eq!(
        problems,
        [
            (1, "src_port", "70000", ProblemReason::OutOfRange),
            (2, "src_port", "-1", ProblemReason::OutOfRange),
            (3, "protocol", "300", ProblemReason::OutOfRange),
        ]
    );
    let negative = with(
        canonical(),
        "packets_sent",
        Arc::new(Int64Array::from(vec![1, -5, 1, 1])),
    );
    let (flows, report) = decode(negative);
    assert_eq!(flows.rows, [0, 2, 3]);
    assert_eq!(report.problems[0].column, "packets_sent");
}

#[test]
fn addresses_of_every_accepted_type() {
    let texts = [
        "10.0.0.1",
        "::ffff:192.0.2.7",
        "2001:db8:1::10",
        "172.16.5.5",
    ];
    let expect: Vec<Addr> = texts.iter().map(|t| addr(t)).collect();
    let bytes: Vec<Vec<u8>> = expect
        .iter()
        .map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
            std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
        })
        .collect();
    let sixteen: Vec<[u8; 16]> = expect.iter().map(|a| a.0.to_be_bytes()).collect();
    let dict_i32: DictionaryArray<Int32Type> = texts.iter().copied().collect();
    let variants: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(texts.to_vec())),
        Arc::new(LargeStringArray::from(texts.to_vec())),
        Arc::new(StringViewArray::from(texts.to_vec())),
        Arc::new(dict_i32),
        Arc::new(DictionaryArray::new(
            UInt32Array::from(vec![3, 2, 1, 0]),
            Arc::new(StringArray::from(
                texts.iter().rev().copied().collect::<Vec<_>>(),
            )),
        )),
        Arc::new(DictionaryArray::new(
            Int16Array::from(vec![0, 1, 2, 3]),
            Arc::new(LargeStringArray::from(texts.to_vec())),
        )),
        Arc::new(BinaryArray::from(
            bytes.iter().map(|b| b.as_slice()).collect::<Vec<_>>(),
        )),
        Arc::new(FixedSizeBinaryArray::try_from_iter(sixteen.iter()).expect("16-byte values")),
    ];
    let nets = networks();
    for array in variants {
        let data_type = array.data_type().clone();
        let (flows, report) = decode(with(canonical(), "src_addr", array));
        assert_eq!(report.rows_skipped, 0, "{data_type}");
        assert_eq!(flows.src, expect, "src_addr as {data_type}");
        assert_eq!(
            label_names(&nets, &flows.src_label),
            ["internal", "external", "internal", "dmz"],
            "{data_type}"
        );
    }
    // Text stored as binary (no string annotation) is read as text.
    let as_binary = BinaryArray::from(texts.iter().map(|t| t.as_bytes()).collect::<Vec<_>>());
    let (flows, _) = decode(with(canonical(), "src_addr", Arc::new(as_binary)));
    assert_eq!(flows.src, expect);
    let four = FixedSizeBinaryArray::try_from_iter([[10u8, 0, 0, 1]; 4].iter()).expect("4 bytes");
    let (flows, _) = decode(with(canonical(), "src_addr", Arc::new(four)));
    assert_eq!(flows.src, vec![addr("10.0.0.1"); 4]);
}

#[test]
fn dictionary_is_labelled_once_and_matched_by_identity() {
    let nets = networks();
    let req = FlowColumns::all();
    let mut decoder = FlowDecoder::new(FileId(0), "mem", &req, &nets, ReadOptions::default());
    let values: ArrayRef = Arc::new(StringArray::from(vec!["10.0.0.1", "198.51.100.7"]));
    let dict = |keys: Vec<i32>, values: &ArrayRef| -> ArrayRef {
        Arc::new(DictionaryArray::new(
            Int32Array::from(keys),
            Arc::clone(values),
        ))
    };
    for _ in 0..3 {
        let cols = with(canonical(), "src_addr", dict(vec![0, 1, 1, 0], &values));
        let cols = with(cols, "dst_addr", dict(vec![1, 1, 1, 1], &values));
        let flows = decoder.decode(&batch_of(cols)).expect("decodes");
        assert_eq!(flows.src[1], addr("198.51.100.7"));
    }
    assert_eq!(
        decoder.dictionary_misses(),
        2,
        "one per column, not per batch"
    );
    // A new dictionary with other contents is a new entry, never a stale hit.
    let swapped: ArrayRef = Arc::new(StringArray::from(vec!["198.51.100.7", "10.0.0.1"]));
    let cols = with(canonical(), "src_addr", dict(vec![0, 1, 1, 0], &swapped));
    let flows = decoder.decode(&batch_of(cols)).expect("decodes");
    assert_eq!(flows.src[0], addr("198.51.100.7"));
    assert_eq!(nets.label_name(flows.src_label[1]), "internal");
    assert_eq!(decoder.report().rows_read, 16);
    assert_eq!(
        decoder.dictionary_misses(),
        3,
        "dst_addr is plain text in the last batch"
    );
}

fn bad_rows() -> Columns {
    let cols = with(
        canonical(),
        "src_addr",
        Arc::new(StringArray::from(vec![
            Some("10.0.0.1"),
            None,
            Some("10.0.0.2"),
            Some("10.0.0.3"),
        ])),
    );
    let cols = with(
        cols,
        "dst_addr",
        Arc::new(StringArray::from(vec![
            "8.8.8.8",
            "8.8.4.4",
            "2001:db..:1::10",
            "1.1.1.1",
        ])),
    );
    with(
        cols,
        "dst_port",
        Arc::new(Int32Array::from(vec![Some(80), Some(80), Some(80), None])),
    )
}

#[test]
fn bad_rows_are_skipped_and_counted() {
    let (flows, report) = decode(bad_rows());
    assert_eq!(flows.rows, [0]);
    assert_eq!(flows.len(), flows.src.len());
    assert_eq!(flows.len(), flows.service.len());
    assert_eq!(report.rows_skipped, 3);
    assert_eq!(report.rows_kept, 1);
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.row, p.column.as_str(), p.value.as_str(), p.reason))
        .collect();
    assert_eq!(
        problems,
        [
            (1, "src_addr", "", ProblemReason::Null),
            (2, "dst_addr", "2001:db..:1::10", ProblemReason::BadAddress),
            (3, "dst_port", "", ProblemReason::Null),
        ]
    );
    // As printed: the column and the reason, a value only when there is one.
    let printed: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        printed,
        [
            "row 1: null in a required column (column `src_addr`)",
            "row 2: not an IP address (column `dst_addr`, value `2001:db..:1::10`)",
            "row 3: null in a required column (column `dst_port`)",
        ]
    );
}

#[test]
fn strict_read_fails_on_the_first_bad_row() {
    let opts = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    match decode_with(bad_rows(), &FlowColumns::all(), &opts) {
        Err(err @ LoadError::BadRow { .. }) => {
            assert_eq!(
                err.to_string(),
                "mem: row 1: null in a required column (column `src_addr`)"
            );
            let LoadError::BadRow {
                file,
                row,
                column,
                reason,
                ..
            } = err
            else {
                unreachable!()
            };
            assert_eq!(
                (file.as_str(), row, column.as_str()),
                ("mem", 1, "src_addr")
            );
            assert_eq!(reason, ProblemReason::Null);
        }
        other => panic!("expected BadRow, got {other:?}"),
    }
}

#[test]
fn negative_duration_is_kept_and_counted() {
    let t0 = 1_700_000_000_000_000i64;
    // Starts are t0 .. t0 + 3: rows 0 and 2 end before they start, row 3 ends at its start.
    let end =
        TimestampMicrosecondArray::from(vec![t0 - 1, t0 + 11, t0 + 1, t0 + 3]).with_timezone("UTC");
    let (flows, report) = decode(with(canonical(), "end_time", Arc::new(end)));
    assert_eq!(flows.len(), 4);
    assert_eq!(flows.end[0] - flows.start[0], -1);
    assert_eq!(report.negative_durations, 2);
    assert_eq!(report.rows_skipped, 0);
}

#[test]
fn missing_and_mistyped_columns_are_errors() {
    let err = decode_with(
        without(canonical(), "dst_port"),
        &FlowColumns::all(),
        &ReadOptions::default(),
    );
    assert!(
        matches!(&err, Err(LoadError::MissingColumn { file, column }) if file == "mem" && column == "dst_port"),
        "{err:?}"
    );
    let err = decode_with(
        with(
            canonical(),
            "bytes_sent",
            Arc::new(StringArray::from(vec!["1"; 4])),
        ),
        &FlowColumns::all(),
        &ReadOptions::default(),
    );
    match err {
        Err(LoadError::ColumnType { column, found, .. }) => {
            assert_eq!(column, "bytes_sent");
            assert_eq!(found, arrow::datatypes::DataType::Utf8);
        }
        other => panic!("expected ColumnType, got {other:?}"),
    }
    // `service` is optional.
    let (flows, _) = decode(without(canonical(), "service"));
    assert_eq!(flows.service, vec![None; 4]);
}

#[test]
fn source_row_is_the_identity() {
    let cols = with(
        canonical(),
        "source_row",
        Arc::new(UInt64Array::from(vec![5, 9, 10, 12])),
    );
    let cols = with(
        cols,
        "src_addr",
        Arc::new(StringArray::from(vec![
            "10.0.0.1", "bad", "10.0.0.1", "10.0.0.1",
        ])),
    );
    let (flows, report) = decode(cols);
    assert_eq!(flows.rows, [5, 10, 12]);
    assert_eq!(report.problems[0].row, 9);
}

#[test]
fn window_selects_by_start_time() {
    let t0 = 1_700_000_000_000_000i64;
    let opts = ReadOptions {
        since: Some(t0 + 1),
        until: Some(t0 + 3),
        ..ReadOptions::default()
    };
    let req = FlowColumns {
        src_addr: true,
        ..FlowColumns::default()
    };
    let (flows, report) = decode_with(canonical(), &req, &opts).expect("decodes");
    assert_eq!(flows.rows, [1, 2]);
    assert!(
        flows.start.is_empty(),
        "start_time read for the window, not returned"
    );
    assert_eq!(report.rows_outside_window, 2);
    // A bad row outside the window is not a problem; inside it is.
    let (flows, report) = decode_with(bad_rows(), &FlowColumns::all(), &opts).expect("decodes");
    assert_eq!(flows.rows, Vec::<u64>::new());
    assert_eq!((report.rows_skipped, report.rows_outside_window), (2, 2));
}

#[test]
fn events_decode() {
    let cols: Columns = vec![
        (
            "time",
            Arc::new(TimestampMicrosecondArray::from(vec![1, 2, 3]).with_timezone("UTC")),
        ),
        (
            "src_addr",
            Arc::new(StringArray::from(vec!["8.8.8.8", "8.8.8.8", "8.8.8.8"])),
        ),
        (
            "dst_addr",
            Arc::new(StringArray::from(vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"])),
        ),
        (
            "signature",
            Arc::new(StringArray::from(vec![Some("ET SCAN"), None, Some("x")])),
        ),
        ("severity", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        (
            "category",
            Arc::new(StringArray::from(vec![Some("scan"), Some("y"), None])),
        ),
    ];
    let nets = networks();
    let (events, report) = read_event_batch(
        &batch_of(cols),
        FileId(1),
        "events",
        100,
        &EventColumns::all(),
        &nets,
        &ReadOptions::default(),
    )
    .expect("decodes");
    assert_eq!(events.rows, [100, 102]);
    assert_eq!(events.category, ["scan", ""]);
    assert_eq!(events.severity, [1, 3]);
    assert_eq!(nets.label_name(events.dst_label[0]), "internal");
    assert_eq!(report.problems[0].column, "signature");
    let event = events.to_event(1);
    assert_eq!(
        (event.id.row, event.time, event.signature.as_str()),
        (102, 3, "x")
    );
}

// ---- files --------------------------------------------------------------------------------

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).expect("create");
    let schema = batches[0].schema();
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    for batch in batches {
        writer.write(batch).expect("write");
        writer.flush().expect("row group per batch");
    }
    writer.close().expect("close");
}

/// `n` flows starting at `t0 + i` seconds, addresses from a small pool (so dictionaries
/// repeat), row group per call.
fn flows_at(t0_secs: i64, n: usize) -> RecordBatch {
    let start: Vec<i64> = (0..n as i64).map(|i| (t0_secs + i) * 1_000_000).collect();
    let pool = [
        "10.0.0.1",
        "10.0.0.2",
        "198.51.100.7",
        "2001:db8:1::5",
        "203.0.113.9",
    ];
    let pick = |k: usize| -> Vec<&str> { (0..n).map(|i| pool[(i * k + 1) % pool.len()]).collect() };
    batch_of(vec![
        (
            "start_time",
            Arc::new(TimestampMicrosecondArray::from(start.clone()).with_timezone("UTC")),
        ),
        (
            "end_time",
            Arc::new(TimestampMicrosecondArray::from(start).with_timezone("UTC")),
        ),
        ("src_addr", Arc::new(StringArray::from(pick(1)))),
        ("dst_addr", Arc::new(StringArray::from(pick(3)))),
        ("src_port", Arc::new(UInt16Array::from(vec![1025; n]))),
        ("dst_port", Arc::new(UInt16Array::from(vec![443; n]))),
        ("protocol", Arc::new(UInt8Array::from(vec![6; n]))),
        ("bytes_sent", Arc::new(UInt64Array::from(vec![1; n]))),
        ("bytes_received", Arc::new(UInt64Array::from(vec![1; n]))),
        ("packets_sent", Arc::new(UInt64Array::from(vec![1; n]))),
        ("packets_received", Arc::new(UInt64Array::from(vec![1; n]))),
    ])
}

fn entry(path: &Path, format: FileFormat) -> FileEntry {
    FileEntry {
        id: FileId(3),
        path: path.to_path_buf(),
        display: "flows/x".into(),
        format,
    }
}

fn read_all(
    file: &FileEntry,
    opts: &ReadOptions,
) -> Result<(Vec<FlowBatch>, LoadReport), LoadError> {
    let mut batches = Vec::new();
    let report = read_flows(file, &FlowColumns::all(), &networks(), opts, &mut |b| {
        batches.push(b)
    })?;
    Ok((batches, report))
}

#[test]
fn parquet_reads_addresses_as_dictionaries_in_small_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.parquet");
    write_parquet(&path, &[flows_at(0, 1000), flows_at(1000, 1000)]);
    let file = entry(&path, FileFormat::Parquet);
    let nets = networks();
    let opts = ReadOptions {
        batch_rows: 100,
        ..ReadOptions::default()
    };
    let mut decoder = FlowDecoder::new(file.id, &file.display, &FlowColumns::all(), &nets, opts);
    let mut batches = Vec::new();
    read_into(&file, &mut decoder, &opts, &mut |b| batches.push(b)).expect("reads");
    assert_eq!(batches.len(), 20);
    assert!(
        (2..=4).contains(&decoder.dictionary_misses()),
        "labelled per row group and column, not per batch: {}",
        decoder.dictionary_misses()
    );
    let rows: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.rows.iter().copied())
        .collect();
    assert_eq!(rows, (0..2000).collect::<Vec<u64>>());
    let expect = flows_at(0, 1000);
    let (plain, _) = read_flow_batch(
        &expect,
        FileId(3),
        "x",
        0,
        &FlowColumns::all(),
        &nets,
        &opts,
    )
    .expect("decodes");
    assert_eq!(batches[0].src[..], plain.src[..100]);
    assert_eq!(batches[0].dst_label[..], plain.dst_label[..100]);
    let report = decoder.finish();
    assert_eq!(
        (report.rows_read, report.rows_kept, report.row_groups),
        (2000, 2000, 2)
    );
}

#[test]
fn parquet_window_skips_row_groups_and_keeps_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.parquet");
    write_parquet(
        &path,
        &[
            flows_at(0, 10),
            flows_at(100, 10),
            flows_at(200, 10),
            flows_at(300, 10),
        ],
    );
    let file = entry(&path, FileFormat::Parquet);
    let opts = ReadOptions {
        since: Some(105 * 1_000_000),
        until: Some(205 * 1_000_000),
        ..ReadOptions::default()
    };
    let (batches, report) = read_all(&file, &opts).expect("reads");
    let rows: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.rows.iter().copied())
        .collect();
    assert_eq!(rows, (15..25).collect::<Vec<u64>>());
    assert_eq!(report.row_groups, 4);
    assert_eq!(report.row_groups_skipped, 2);
    assert_eq!(report.rows_read, 40);
    assert_eq!(report.rows_outside_window, 30);
    assert_eq!(report.rows_kept, 10);

    let stats = file_stats(&file, "start_time").expect("stats");
    assert_eq!(stats.rows, Some(40));
    assert_eq!(stats.row_groups[1].time_min, Some(100 * 1_000_000));
    assert_eq!(stats.time_range(), Some((0, 309 * 1_000_000)));
    assert_eq!(file_row_count(&file).expect("count"), Some(40));
}

#[test]
fn zero_row_empty_and_truncated_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zero.parquet");
    let empty = flows_at(0, 0);
    write_parquet(&path, &[empty]);
    let (batches, report) = read_all(&entry(&path, FileFormat::Parquet), &ReadOptions::default())
        .expect("zero rows read fine");
    assert!(batches.is_empty());
    assert_eq!(report.rows_read, 0);

    let bytes = std::fs::write(dir.path().join("empty.parquet"), b"");
    assert!(bytes.is_ok());
    let err = read_all(
        &entry(&dir.path().join("empty.parquet"), FileFormat::Parquet),
        &ReadOptions::default(),
    );
    assert!(
        matches!(&err, Err(LoadError::Parquet { file, .. }) if file == "flows/x"),
        "{err:?}"
    );

    let good = dir.path().join("good.parquet");
    write_parquet(&good, &[flows_at(0, 100)]);
    let mut data = std::fs::read(&good).expect("read");
    data.truncate(data.len() / 2);
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, data).expect("write");
    let err = read_all(&entry(&cut, FileFormat::Parquet), &ReadOptions::default());
    assert!(
        matches!(&err, Err(LoadError::Parquet { file, .. }) if file == "flows/x"),
        "{err:?}"
    );

    // The watch's cheap completeness check agrees: whole files pass, cut and empty ones fail.
    assert!(check_complete(&entry(&good, FileFormat::Parquet)).is_ok());
    assert!(check_complete(&entry(&path, FileFormat::Parquet)).is_ok());
    for bad in [cut.clone(), dir.path().join("empty.parquet")] {
        let err = check_complete(&entry(&bad, FileFormat::Parquet));
        assert!(
            matches!(&err, Err(LoadError::Parquet { file, .. }) if file == "flows/x"),
            "{}: {err:?}",
            bad.display()
        );
    }
    // A file that ends in the magic but names a footer longer than itself is cut too.
    let mut data = std::fs::read(&good).expect("read");
    let n = data.len();
    data[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let long = dir.path().join("long.parquet");
    std::fs::write(&long, data).expect("write");
    assert!(check_complete(&entry(&long, FileFormat::Parquet)).is_err());

    let missing = without(canonical(), "protocol");
    let path = dir.path().join("noproto.parquet");
    write_parquet(&path, &[batch_of(missing)]);
    let err = read_all(&entry(&path, FileFormat::Parquet), &ReadOptions::default());
    assert!(
        matches!(&err, Err(LoadError::MissingColumn { column, .. }) if column == "protocol"),
        "{err:?}"
    );
}

#[test]
fn arrow_ipc_files_and_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = batch_of(with(
        canonical(),
        "src_addr",
        Arc::new(
            ["10.0.0.1", "2001:db8:1::10", "10.0.0.2", "10.0.0.3"]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        ),
    ));
    let file_path = dir.path().join("a.arrow");
    {
        let out = std::fs::File::create(&file_path).expect("create");
        let mut writer =
            arrow::ipc::writer::FileWriter::try_new(out, &batch.schema()).expect("writer");
        writer.write(&batch).expect("write");
        writer.write(&batch).expect("write");
        writer.finish().expect("finish");
    }
    let stream_path = dir.path().join("b.arrows");
    let mut stream_bytes = Vec::new();
    {
        let mut writer =
            arrow::ipc::writer::StreamWriter::try_new(&mut stream_bytes, &batch.schema())
                .expect("writer");
        writer.write(&batch).expect("write");
        writer.write(&batch).expect("write");
        writer.finish().expect("finish");
    }
    std::fs::write(&stream_path, &stream_bytes).expect("write");
    let table = discover(&[dir.path().to_path_buf()]).expect("discover");
    let formats: Vec<FileFormat> = table.files().iter().map(|f| f.format).collect();
    assert_eq!(
        formats,
        [FileFormat::ArrowIpcFile, FileFormat::ArrowIpcStream]
    );
    let (direct, _) = decode(canonical());
    for file in table.files() {
        let (batches, report) = read_all(file, &ReadOptions::default()).expect("reads");
        assert_eq!(report.rows_kept, 8, "{}", file.display);
        assert_eq!(batches[1].rows, [4, 5, 6, 7]);
        assert_eq!(batches[1].src, direct.src);
    }
    let mut batches = Vec::new();
    let report = read_flows_stream(
        stream_bytes.as_slice(),
        FileId(9),
        "<stdin>",
        &FlowColumns::all(),
        &networks(),
        &ReadOptions::default(),
        &mut |b| batches.push(b),
    )
    .expect("reads stdin-like stream");
    assert_eq!((report.display.as_str(), report.rows_kept), ("<stdin>", 8));
    assert_eq!(batches[0].file, FileId(9));
}

#[test]
fn parquet_plain_and_fallback_pages_read_the_same() {
    use ::parquet::file::properties::WriterProperties;
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = flows_at(0, 3000);
    let nets = networks();
    let (expect, _) = read_flow_batch(
        &batch,
        FileId(3),
        "x",
        0,
        &FlowColumns::all(),
        &nets,
        &ReadOptions::default(),
    )
    .expect("decodes");
    let variants = [
        (
            "fallback",
            WriterProperties::builder()
                .set_dictionary_page_size_limit(16)
                .set_data_page_row_count_limit(100)
                .set_write_batch_size(100)
                .build(),
        ),
        (
            "plain",
            WriterProperties::builder()
                .set_dictionary_enabled(false)
                .build(),
        ),
    ];
    for (name, props) in variants {
        let path = dir.path().join(format!("{name}.parquet"));
        let out = std::fs::File::create(&path).expect("create");
        let mut writer = ArrowWriter::try_new(out, batch.schema(), Some(props)).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let opts = ReadOptions {
            batch_rows: 700,
            ..ReadOptions::default()
        };
        let (batches, report) = read_all(&entry(&path, FileFormat::Parquet), &opts).expect(name);
        assert_eq!(report.rows_kept, 3000, "{name}");
        let src: Vec<Addr> = batches.iter().flat_map(|b| b.src.iter().copied()).collect();
        let dst_label: Vec<LabelId> = batches
            .iter()
            .flat_map(|b| b.dst_label.iter().copied())
            .collect();
        assert_eq!(src, expect.src, "{name}");
        assert_eq!(dst_label, expect.dst_label, "{name}");
    }
}
