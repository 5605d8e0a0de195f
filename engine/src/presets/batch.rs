//! Rows in canonical form and their assembly into Arrow batches.
//!
//! Every preset produces [`FlowRow`]s or [`EventRow`]s and hands them, with its problems, to a
//! [`Collector`]. The collector owns the policy the presets share: the 0-based record ordinal
//! (`source_row`), skip-and-report versus `--strict`, the first-ten problem list, the extra
//! column registry, optional biflow pairing, and cutting batches of `batch_rows` rows. So a
//! preset only decides what a line means.
//!
//! Extra columns grow monotonically within a file: a batch carries every extra column seen so
//! far in the file (in first-seen order), null where a row had no value. Each batch's schema is
//! therefore the previous batch's schema with zero or more columns appended.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Array, StringArray, StringBuilder, TimestampMicrosecondArray, UInt16Array,
    UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::biflow::Pairer;
use super::text::excerpt;
use super::{Kind, LineProblem, PresetError, TextReport};
use crate::model::{event_columns, flow_columns, Addr};

/// How many problems a report lists (all are counted).
const LISTED_PROBLEMS: usize = 10;

/// One flow in canonical form, before it is a batch row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FlowRow {
    pub start: i64,
    pub end: i64,
    pub src: Addr,
    pub dst: Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub service: Option<String>,
    pub source_row: u64,
    /// `(slot from Collector::extra_slot, value)`; slots without a value are null.
    pub extras: Vec<(usize, String)>,
}

/// One event in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EventRow {
    pub time: i64,
    pub src: Addr,
    /// Required: a record naming no destination (a Zeek scan notice) is no event and never
    /// becomes a row ([`Collector::not_an_event`]).
    pub dst: Addr,
    pub signature: String,
    pub severity: i32,
    pub category: String,
    pub source_row: u64,
    pub extras: Vec<(usize, String)>,
}

/// A problem with one record, before the collector places it in a file and line.
#[derive(Debug)]
pub(crate) struct RowProblem {
    pub column: Option<String>,
    pub value: String,
    pub reason: String,
}

impl RowProblem {
    pub(crate) fn new(column: Option<&str>, value: &str, reason: impl Into<String>) -> RowProblem {
        RowProblem {
            column: column.map(str::to_string),
            value: excerpt(value),
            reason: reason.into(),
        }
    }
}

/// Canonical and reserved column names an extra column must not shadow.
fn is_reserved(kind: Kind, name: &str) -> bool {
    use flow_columns as f;
    let reserved: &[&str] = match kind {
        Kind::Flows => &[
            f::START_TIME,
            f::END_TIME,
            f::SRC_ADDR,
            f::DST_ADDR,
            f::SRC_PORT,
            f::DST_PORT,
            f::PROTOCOL,
            f::BYTES_SENT,
            f::BYTES_RECEIVED,
            f::PACKETS_SENT,
            f::PACKETS_RECEIVED,
            f::SERVICE,
            f::SOURCE_FILE,
            f::SOURCE_ROW,
        ],
        Kind::Events => &[
            event_columns::TIME,
            event_columns::SRC_ADDR,
            event_columns::DST_ADDR,
            event_columns::SIGNATURE,
            event_columns::SEVERITY,
            event_columns::CATEGORY,
            f::SOURCE_FILE,
            f::SOURCE_ROW,
        ],
    };
    reserved.contains(&name)
}

/// Columns of the batch being filled, as plain vectors.
#[derive(Default)]
struct Columns {
    times: Vec<i64>,
    ends: Vec<i64>,
    srcs: Vec<Addr>,
    dsts: Vec<Option<Addr>>,
    src_ports: Vec<u16>,
    dst_ports: Vec<u16>,
    protocols: Vec<u8>,
    bytes_sent: Vec<u64>,
    bytes_received: Vec<u64>,
    packets_sent: Vec<u64>,
    packets_received: Vec<u64>,
    texts: Vec<Option<String>>,
    signatures: Vec<String>,
    severities: Vec<i32>,
    categories: Vec<String>,
    source_rows: Vec<u64>,
    extras: Vec<Vec<Option<String>>>,
}

/// Shared policy and batch assembly for one input file (see the module docs).
pub(crate) struct Collector {
    kind: Kind,
    strict: bool,
    file: PathBuf,
    batch_rows: usize,
    report: TextReport,
    next_row: u64,
    extra_names: Vec<String>,
    extra_index: HashMap<String, usize>,
    columns: Columns,
    n_rows: usize,
    pairer: Option<Pairer>,
    ready: Vec<RecordBatch>,
}

impl Collector {
    pub(crate) fn new(kind: Kind, file: PathBuf, strict: bool, batch_rows: usize) -> Collector {
        Collector {
            kind,
            strict,
            file,
            batch_rows: batch_rows.max(1),
            report: TextReport::default(),
            next_row: 0,
            extra_names: Vec::new(),
            extra_index: HashMap::new(),
            columns: Columns::default(),
            n_rows: 0,
            pairer: None,
            ready: Vec::new(),
        }
    }

    /// Pairs opposite-direction unidirectional flows (nfdump, SiLK) within `timeout_micros`.
    pub(crate) fn pair_biflows(&mut self, timeout_micros: i64) {
        self.pairer = Some(Pairer::new(timeout_micros));
    }

    /// The file name used in errors.
    pub(crate) fn file(&self) -> &PathBuf {
        &self.file
    }

    /// Allocates the next record ordinal (every data record, malformed ones included).
    pub(crate) fn next_row(&mut self) -> u64 {
        let row = self.next_row;
        self.next_row += 1;
        row
    }

    /// Records a malformed record: counted, the first ten listed; an error when strict.
    pub(crate) fn problem(&mut self, line: u64, problem: RowProblem) -> Result<(), PresetError> {
        self.report.skipped += 1;
        if self.strict {
            return Err(PresetError::Malformed {
                file: self.file.clone(),
                line,
                column: problem.column,
                value: problem.value,
                reason: problem.reason,
            });
        }
        if self.report.problems.len() < LISTED_PROBLEMS {
            self.report.problems.push(LineProblem {
                line,
                column: problem.column,
                value: problem.value,
                reason: problem.reason,
            });
        }
        Ok(())
    }

    /// Counts a record of a type this kind does not read (EVE `dns` when reading flows).
    pub(crate) fn other_type(&mut self) {
        self.report.skipped_other_types += 1;
    }

    /// Counts a record that describes no IP flow (an Argus `arp` row), by its protocol name.
    pub(crate) fn not_a_flow(&mut self, protocol: &str) {
        self.report.skipped_not_flows += 1;
        let name = protocol.trim().to_ascii_lowercase();
        if !self.report.not_flow_protocols.contains(&name) {
            self.report.not_flow_protocols.push(name);
        }
    }

    /// Counts a record that describes no event (a Zeek notice naming no destination), by why.
    pub(crate) fn not_an_event(&mut self, reason: &str) {
        self.report.skipped_not_events += 1;
        if !self.report.not_event_reasons.iter().any(|r| r == reason) {
            self.report.not_event_reasons.push(reason.to_string());
        }
    }

    /// The slot of extra column `name`, created on first sight. A name that would shadow a
    /// canonical column gets the suffix `_extra`.
    pub(crate) fn extra_slot(&mut self, name: &str) -> usize {
        if let Some(&slot) = self.extra_index.get(name) {
            return slot;
        }
        let column_name = if is_reserved(self.kind, name) {
            format!("{name}_extra")
        } else {
            name.to_string()
        };
        let slot = match self.extra_names.iter().position(|n| *n == column_name) {
            Some(slot) => slot,
            None => {
                self.extra_names.push(column_name);
                self.columns.extras.push(vec![None; self.n_rows]);
                self.extra_names.len() - 1
            }
        };
        self.extra_index.insert(name.to_string(), slot);
        slot
    }

    /// Adds a flow (through the biflow pairer when pairing).
    pub(crate) fn flow(&mut self, row: FlowRow) -> Result<(), PresetError> {
        match self.pairer.as_mut() {
            Some(pairer) => {
                let mut out = Vec::new();
                if pairer.push(row, &mut out) {
                    self.report.paired += 1;
                }
                for row in out {
                    self.push_flow(row)?;
                }
                Ok(())
            }
            None => self.push_flow(row),
        }
    }

    fn push_flow(&mut self, row: FlowRow) -> Result<(), PresetError> {
        let c = &mut self.columns;
        c.times.push(row.start);
        c.ends.push(row.end);
        c.srcs.push(row.src);
        c.dsts.push(Some(row.dst));
        c.src_ports.push(row.src_port);
        c.dst_ports.push(row.dst_port);
        c.protocols.push(row.protocol);
        c.bytes_sent.push(row.bytes_sent);
        c.bytes_received.push(row.bytes_received);
        c.packets_sent.push(row.packets_sent);
        c.packets_received.push(row.packets_received);
        c.texts.push(row.service);
        c.source_rows.push(row.source_row);
        self.push_extras(row.extras);
        self.row_done()
    }

    /// Adds an event.
    pub(crate) fn event(&mut self, row: EventRow) -> Result<(), PresetError> {
        let c = &mut self.columns;
        c.times.push(row.time);
        c.srcs.push(row.src);
        c.dsts.push(Some(row.dst));
        c.signatures.push(row.signature);
        c.severities.push(row.severity);
        c.categories.push(row.category);
        c.source_rows.push(row.source_row);
        self.push_extras(row.extras);
        self.row_done()
    }

    fn push_extras(&mut self, extras: Vec<(usize, String)>) {
        for column in &mut self.columns.extras {
            column.push(None);
        }
        for (slot, value) in extras {
            if let Some(cell) = self.columns.extras.get_mut(slot).and_then(|c| c.last_mut()) {
                *cell = Some(value);
            }
        }
    }

    fn row_done(&mut self) -> Result<(), PresetError> {
        self.n_rows += 1;
        self.report.records += 1;
        if self.n_rows >= self.batch_rows {
            self.cut()?;
        }
        Ok(())
    }

    /// Batches completed so far, to hand to the sink.
    pub(crate) fn take_ready(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// Flushes the pairer and the partial batch; returns the report.
    pub(crate) fn finish(&mut self) -> Result<TextReport, PresetError> {
        if let Some(mut pairer) = self.pairer.take() {
            for row in pairer.drain() {
                self.push_flow(row)?;
            }
        }
        if self.n_rows > 0 {
            self.cut()?;
        }
        Ok(std::mem::take(&mut self.report))
    }

    fn cut(&mut self) -> Result<(), PresetError> {
        let n_extras = self.extra_names.len();
        let columns = std::mem::replace(
            &mut self.columns,
            Columns {
                extras: vec![Vec::new(); n_extras],
                ..Columns::default()
            },
        );
        self.n_rows = 0;
        let batch = match self.kind {
            Kind::Flows => flow_batch(columns, &self.extra_names),
            Kind::Events => event_batch(columns, &self.extra_names),
        }
        .map_err(|source| PresetError::Batch {
            file: self.file.clone(),
            source,
        })?;
        self.ready.push(batch);
        Ok(())
    }
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn addr_strings(addrs: impl Iterator<Item = Option<Addr>>) -> StringArray {
    let mut builder = StringBuilder::new();
    let mut text = String::new();
    for addr in addrs {
        match addr {
            Some(addr) => {
                use std::fmt::Write;
                text.clear();
                let _ = write!(text, "{addr}");
                builder.append_value(&text);
            }
            None => builder.append_null(),
        }
    }
    builder.finish()
}

fn extra_fields(names: &[String]) -> impl Iterator<Item = Field> + '_ {
    names
        .iter()
        .map(|name| Field::new(name, DataType::Utf8, true))
}

/// The canonical flow schema with `extras` appended, as [`super::read_text`] writes it.
pub(crate) fn flow_schema(extras: &[String]) -> Schema {
    use flow_columns as f;
    let mut fields = vec![
        Field::new(f::START_TIME, timestamp_type(), false),
        Field::new(f::END_TIME, timestamp_type(), false),
        Field::new(f::SRC_ADDR, DataType::Utf8, false),
        Field::new(f::DST_ADDR, DataType::Utf8, false),
        Field::new(f::SRC_PORT, DataType::UInt16, false),
        Field::new(f::DST_PORT, DataType::UInt16, false),
        Field::new(f::PROTOCOL, DataType::UInt8, false),
        Field::new(f::BYTES_SENT, DataType::UInt64, false),
        Field::new(f::BYTES_RECEIVED, DataType::UInt64, false),
        Field::new(f::PACKETS_SENT, DataType::UInt64, false),
        Field::new(f::PACKETS_RECEIVED, DataType::UInt64, false),
        Field::new(f::SERVICE, DataType::Utf8, true),
        Field::new(f::SOURCE_ROW, DataType::UInt64, false),
    ];
    fields.extend(extra_fields(extras));
    Schema::new(fields)
}

/// The canonical event schema with `extras` appended.
pub(crate) fn event_schema(extras: &[String]) -> Schema {
    use event_columns as e;
    let mut fields = vec![
        Field::new(e::TIME, timestamp_type(), false),
        Field::new(e::SRC_ADDR, DataType::Utf8, false),
        Field::new(e::DST_ADDR, DataType::Utf8, false),
        Field::new(e::SIGNATURE, DataType::Utf8, false),
        Field::new(e::SEVERITY, DataType::Int32, false),
        Field::new(e::CATEGORY, DataType::Utf8, false),
        Field::new(flow_columns::SOURCE_ROW, DataType::UInt64, false),
    ];
    fields.extend(extra_fields(extras));
    Schema::new(fields)
}

fn extra_arrays(extras: Vec<Vec<Option<String>>>) -> impl Iterator<Item = ArrayRef> {
    extras
        .into_iter()
        .map(|values| Arc::new(StringArray::from(values)) as ArrayRef)
}

fn flow_batch(c: Columns, extras: &[String]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(c.times).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(c.ends).with_timezone("UTC")),
        Arc::new(addr_strings(c.srcs.into_iter().map(Some))),
        Arc::new(addr_strings(c.dsts.into_iter())),
        Arc::new(UInt16Array::from(c.src_ports)),
        Arc::new(UInt16Array::from(c.dst_ports)),
        Arc::new(UInt8Array::from(c.protocols)),
        Arc::new(UInt64Array::from(c.bytes_sent)),
        Arc::new(UInt64Array::from(c.bytes_received)),
        Arc::new(UInt64Array::from(c.packets_sent)),
        Arc::new(UInt64Array::from(c.packets_received)),
        Arc::new(StringArray::from(c.texts)),
        Arc::new(UInt64Array::from(c.source_rows)),
    ];
    arrays.extend(extra_arrays(c.extras));
    RecordBatch::try_new(Arc::new(flow_schema(extras)), arrays)
}

fn event_batch(c: Columns, extras: &[String]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(c.times).with_timezone("UTC")),
        Arc::new(addr_strings(c.srcs.into_iter().map(Some))),
        Arc::new(addr_strings(c.dsts.into_iter())),
        Arc::new(StringArray::from(c.signatures)),
        Arc::new(Int32Array::from(c.severities)),
        Arc::new(StringArray::from(c.categories)),
        Arc::new(UInt64Array::from(c.source_rows)),
    ];
    arrays.extend(extra_arrays(c.extras));
    RecordBatch::try_new(Arc::new(event_schema(extras)), arrays)
}
