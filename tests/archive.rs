//! Canonical Parquet archives, written and read with `arrow`/`parquet` directly.
//!
//! The writer produces the canonical schema of `flow-model.md` so fixtures look like what
//! `flowpat generate` and `flowpat import` write. The reader turns any canonical archive (a
//! fixture or a generated one) back into [`Flow`]/[`Ev`] values for the oracle. It applies the
//! model's load rule on its own: a row whose address does not parse or whose required column is
//! null is skipped, and counted in [`Loaded::skipped`] so a test can insist on none.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt16Array, UInt64Array, UInt8Array,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType, UInt16Type,
    UInt64Type, UInt8Type,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::model::{Ev, Flow};

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The canonical flow schema.
pub fn flow_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("start_time", timestamp_type(), false),
        Field::new("end_time", timestamp_type(), false),
        Field::new("src_addr", DataType::Utf8, false),
        Field::new("dst_addr", DataType::Utf8, false),
        Field::new("src_port", DataType::UInt16, false),
        Field::new("dst_port", DataType::UInt16, false),
        Field::new("protocol", DataType::UInt8, false),
        Field::new("bytes_sent", DataType::UInt64, false),
        Field::new("bytes_received", DataType::UInt64, false),
        Field::new("packets_sent", DataType::UInt64, false),
        Field::new("packets_received", DataType::UInt64, false),
        Field::new("service", DataType::Utf8, true),
    ]))
}

/// The canonical event schema.
pub fn event_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", timestamp_type(), false),
        Field::new("src_addr", DataType::Utf8, false),
        Field::new("dst_addr", DataType::Utf8, false),
        Field::new("signature", DataType::Utf8, false),
        Field::new("severity", DataType::Int32, false),
        Field::new("category", DataType::Utf8, false),
    ]))
}

fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC"))
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn write_batch(path: &Path, batch: &RecordBatch) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None)?;
    writer.write(batch)?;
    writer.close()?;
    Ok(())
}

/// Writes `flows` to `path` in the canonical schema, in slice order (`file` and `row` are not
/// written: they are where the record lands).
pub fn write_flows_parquet(path: &Path, flows: &[Flow]) -> anyhow::Result<()> {
    let columns: Vec<ArrayRef> = vec![
        timestamps(flows.iter().map(|f| f.start_us)),
        timestamps(flows.iter().map(|f| f.end_us)),
        strings(
            flows
                .iter()
                .map(|f| f.src.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|s| Some(s.as_str())),
        ),
        strings(
            flows
                .iter()
                .map(|f| f.dst.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|s| Some(s.as_str())),
        ),
        Arc::new(UInt16Array::from_iter_values(
            flows.iter().map(|f| f.src_port),
        )),
        Arc::new(UInt16Array::from_iter_values(
            flows.iter().map(|f| f.dst_port),
        )),
        Arc::new(UInt8Array::from_iter_values(
            flows.iter().map(|f| f.protocol),
        )),
        Arc::new(UInt64Array::from_iter_values(
            flows.iter().map(|f| f.bytes_sent),
        )),
        Arc::new(UInt64Array::from_iter_values(
            flows.iter().map(|f| f.bytes_received),
        )),
        Arc::new(UInt64Array::from_iter_values(
            flows.iter().map(|f| f.packets_sent),
        )),
        Arc::new(UInt64Array::from_iter_values(
            flows.iter().map(|f| f.packets_received),
        )),
        strings(flows.iter().map(|f| f.service.as_deref())),
    ];
    let batch = RecordBatch::try_new(flow_schema(), columns)?;
    write_batch(path, &batch)
}

/// Writes `events` to `path` in the canonical schema, in slice order.
pub fn write_events_parquet(path: &Path, events: &[Ev]) -> anyhow::Result<()> {
    let columns: Vec<ArrayRef> = vec![
        timestamps(events.iter().map(|e| e.time_us)),
        strings(
            events
                .iter()
                .map(|e| e.src.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|s| Some(s.as_str())),
        ),
        strings(
            events
                .iter()
                .map(|e| e.dst.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|s| Some(s.as_str())),
        ),
        strings(events.iter().map(|e| Some(e.signature.as_str()))),
        Arc::new(Int32Array::from_iter_values(
            events.iter().map(|e| e.severity),
        )),
        strings(events.iter().map(|e| Some(e.category.as_str()))),
    ];
    let batch = RecordBatch::try_new(event_schema(), columns)?;
    write_batch(path, &batch)
}

/// Records read from an archive, and how many rows the load rule skipped.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The records, in file order then row order.
    pub records: Vec<T>,
    /// Rows skipped for an unparsable address or a null required column.
    pub skipped: u64,
}

/// The `.parquet` files under `root` (or `root` itself if it is a file), sorted by their
/// path relative to `root`, each with that relative path as the record's `file`.
fn parquet_files(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if root.is_file() {
        let name = root.to_string_lossy().into_owned();
        return Ok(vec![(name, root.to_path_buf())]);
    }
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "parquet") {
                let relative = path.strip_prefix(root).expect("walked below root");
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((name, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Reads every batch of one Parquet file.
fn read_batches(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("reading parquet {}", path.display()))?
        .build()?;
    reader
        .map(|batch| batch.with_context(|| format!("reading parquet {}", path.display())))
        .collect()
}

/// A named column cast to `to` (so dictionary strings, `Int32` ports and other timestamp
/// units read the same).
fn column(batch: &RecordBatch, name: &str, to: &DataType) -> anyhow::Result<ArrayRef> {
    let Some(array) = batch.column_by_name(name) else {
        bail!("missing column `{name}`");
    };
    cast(array, to).with_context(|| format!("column `{name}` as {to}"))
}

fn optional<T>(array: &dyn Array, idx: usize, value: impl FnOnce() -> T) -> Option<T> {
    array.is_valid(idx).then(value)
}

fn address(array: &StringArray, idx: usize) -> Option<IpAddr> {
    optional(array, idx, || array.value(idx).parse().ok()).flatten()
}

/// Reads a canonical flow archive: a folder of `.parquet` files (searched recursively), or one file.
pub fn read_flows(root: &Path) -> anyhow::Result<Loaded<Flow>> {
    let mut loaded = Loaded {
        records: Vec::new(),
        skipped: 0,
    };
    for (name, path) in parquet_files(root)? {
        let mut row = 0u64;
        for batch in read_batches(&path)? {
            let ctx = || format!("flow file {}", path.display());
            let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
            let start = column(&batch, "start_time", &ts).with_context(ctx)?;
            let end = column(&batch, "end_time", &ts).with_context(ctx)?;
            let src = column(&batch, "src_addr", &DataType::Utf8).with_context(ctx)?;
            let dst = column(&batch, "dst_addr", &DataType::Utf8).with_context(ctx)?;
            let src_port = column(&batch, "src_port", &DataType::UInt16).with_context(ctx)?;
            let dst_port = column(&batch, "dst_port", &DataType::UInt16).with_context(ctx)?;
            let protocol = column(&batch, "protocol", &DataType::UInt8).with_context(ctx)?;
            let counters = [
                "bytes_sent",
                "bytes_received",
                "packets_sent",
                "packets_received",
            ]
            .map(|name| column(&batch, name, &DataType::UInt64));
            let [bytes_sent, bytes_received, packets_sent, packets_received] = counters;
            let (bytes_sent, bytes_received) = (
                bytes_sent.with_context(ctx)?,
                bytes_received.with_context(ctx)?,
            );
            let (packets_sent, packets_received) = (
                packets_sent.with_context(ctx)?,
                packets_received.with_context(ctx)?,
            );
            let service = match batch.column_by_name("service") {
                Some(_) => Some(column(&batch, "service", &DataType::Utf8).with_context(ctx)?),
                None => None,
            };

            let start = start.as_primitive::<TimestampMicrosecondType>();
            let end = end.as_primitive::<TimestampMicrosecondType>();
            let (src, dst) = (src.as_string::<i32>(), dst.as_string::<i32>());
            let src_port = src_port.as_primitive::<UInt16Type>();
            let dst_port = dst_port.as_primitive::<UInt16Type>();
            let protocol = protocol.as_primitive::<UInt8Type>();
            let bytes_sent = bytes_sent.as_primitive::<UInt64Type>();
            let bytes_received = bytes_received.as_primitive::<UInt64Type>();
            let packets_sent = packets_sent.as_primitive::<UInt64Type>();
            let packets_received = packets_received.as_primitive::<UInt64Type>();
            let service = service.as_ref().map(|s| s.as_string::<i32>());

            for idx in 0..batch.num_rows() {
                let record = (|| {
                    Some(Flow {
                        file: name.clone(),
                        row,
                        start_us: optional(start, idx, || start.value(idx))?,
                        end_us: optional(end, idx, || end.value(idx))?,
                        src: address(src, idx)?,
                        dst: address(dst, idx)?,
                        src_port: optional(src_port, idx, || src_port.value(idx))?,
                        dst_port: optional(dst_port, idx, || dst_port.value(idx))?,
                        protocol: optional(protocol, idx, || protocol.value(idx))?,
                        bytes_sent: optional(bytes_sent, idx, || bytes_sent.value(idx))?,
                        bytes_received: optional(bytes_received, idx, || {
                            bytes_received.value(idx)
                        })?,
                        packets_sent: optional(packets_sent, idx, || packets_sent.value(idx))?,
                        packets_received: optional(packets_received, idx, || {
                            packets_received.value(idx)
                        })?,
                        service: service.and_then(|s| optional(s, idx, || s.value(idx).to_owned())),
                    })
                })();
                match record {
                    Some(flow) => loaded.records.push(flow),
                    None => loaded.skipped += 1,
                }
                row += 1;
            }
        }
    }
    Ok(loaded)
}

/// Reads a canonical event archive: a folder of `.parquet` files (searched recursively), or one file.
pub fn read_events(root: &Path) -> anyhow::Result<Loaded<Ev>> {
    let mut loaded = Loaded {
        records: Vec::new(),
        skipped: 0,
    };
    for (name, path) in parquet_files(root)? {
        let mut row = 0u64;
        for batch in read_batches(&path)? {
            let ctx = || format!("event file {}", path.display());
            let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
            let time = column(&batch, "time", &ts).with_context(ctx)?;
            let src = column(&batch, "src_addr", &DataType::Utf8).with_context(ctx)?;
            let dst = column(&batch, "dst_addr", &DataType::Utf8).with_context(ctx)?;
            let signature = column(&batch, "signature", &DataType::Utf8).with_context(ctx)?;
            let severity = column(&batch, "severity", &DataType::Int32).with_context(ctx)?;
            let category = column(&batch, "category", &DataType::Utf8).with_context(ctx)?;

            let time = time.as_primitive::<TimestampMicrosecondType>();
            let (src, dst) = (src.as_string::<i32>(), dst.as_string::<i32>());
            let (signature, category) = (signature.as_string::<i32>(), category.as_string::<i32>());
            let severity = severity.as_primitive::<Int32Type>();

            for idx in 0..batch.num_rows() {
                let record = (|| {
                    Some(Ev {
                        file: name.clone(),
                        row,
                        time_us: optional(time, idx, || time.value(idx))?,
                        src: address(src, idx)?,
                        dst: address(dst, idx)?,
                        signature: optional(signature, idx, || signature.value(idx).to_owned())?,
                        severity: optional(severity, idx, || severity.value(idx))?,
                        // `category` is optional in the flow model: a null reads as empty.
                        category: optional(category, idx, || category.value(idx).to_owned())
                            .unwrap_or_default(),
                    })
                })();
                match record {
                    Some(event) => loaded.records.push(event),
                    None => loaded.skipped += 1,
                }
                row += 1;
            }
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ip, proto, Flow, BASE_US};

    #[test]
    fn flows_and_events_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut flows = vec![
            Flow::tcp("::ffff:192.0.2.7", 51000, "203.0.113.9", 51001).counts(u64::MAX, 1, 0, 0),
            Flow::new(proto::ICMPV6, "2001:db8:1::10", 0, "2001:db8:ff::5", 0).lasting(-5),
        ];
        flows[1].service = Some("dns".to_owned());
        for (row, flow) in flows.iter_mut().enumerate() {
            flow.file = "sub/a.parquet".to_owned();
            flow.row = row as u64;
        }
        write_flows_parquet(&dir.path().join("sub/a.parquet"), &flows).expect("write flows");
        let read = read_flows(dir.path()).expect("read flows");
        assert_eq!(read.skipped, 0);
        assert_eq!(read.records, flows);

        let mut events = vec![Ev::new(
            BASE_US - 1,
            "203.0.113.1",
            "192.0.2.1",
            "ET INFO Ünïcode ☃ test",
        )];
        events[0].file = "events.parquet".to_owned();
        write_events_parquet(&dir.path().join("ev/events.parquet"), &events).expect("write events");
        let read = read_events(&dir.path().join("ev")).expect("read events");
        assert_eq!(read.records, events);
        assert_eq!(read.records[0].src, ip("203.0.113.1"));
    }
}
