//! Arrow `RecordBatch` → [`FlowBatch`] / [`EventBatch`]: the one decode path of the loader.
//!
//! Every record a run sees passes through here, whatever stored it (Parquet, Arrow IPC, a text
//! preset), so this is where accepted column types, normalisation (UTC microseconds, IPv4 as
//! [`Addr`]'s mapped form) and the bad-row policy live. The work is columnar: each needed
//! column is decoded in one loop into a vector as long as the batch, faults (null, unparsable
//! address, out of range) are noted by row, and only then are faulty and out-of-window rows
//! removed from every vector at once.
//!
//! Addresses are the expensive column. A dictionary-encoded address column is parsed and
//! labelled once per dictionary entry, lazily, in a cache kept per column. The cache holds the
//! dictionary's values `ArrayRef` and is matched by identity (`Arc::ptr_eq`, or the same
//! buffers): holding the `Arc` keeps the buffers alive, so an allocator cannot hand the same
//! address to a different dictionary while the entry exists — the failure a cache keyed by bare
//! buffer address had.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, DictionaryArray, GenericByteArray,
    GenericByteViewArray, PrimitiveArray,
};
use arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ByteArrayType, DataType, Int16Type, Int32Type,
    Int64Type, Int8Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::batch::{EventBatch, EventColumns, FlowBatch, FlowColumns};
use super::networks::{LabelId, Networks};
use super::{LoadError, LoadReport, ProblemReason, ReadOptions, RowProblem, MAX_PROBLEMS_PER_FILE};
use crate::model::{flow_columns as fc, Addr, FileId};

/// The address columns, shared by flow and event archives; Parquet readers ask for them as
/// dictionaries.
pub(crate) const ADDRESS_COLUMNS: [&str; 2] = [fc::SRC_ADDR, fc::DST_ADDR];

/// What a reader needs from a decoder, so Parquet and IPC reading is written once.
pub(crate) trait RecordDecoder {
    /// The decoded batch type.
    type Batch;
    /// The top-level columns of `schema` this decoder reads; the rest need not be read.
    fn projection(&self, schema: &Schema) -> Vec<usize>;
    /// Fails if `schema` lacks a required column or has one of an unusable type.
    fn check_schema(&mut self, schema: &SchemaRef) -> Result<(), LoadError>;
    /// The time column a window applies to, when a window is set.
    fn window_column(&self) -> Option<&'static str>;
    /// Sets the file position of the next batch's first row.
    fn set_next_row(&mut self, row: u64);
    /// Decodes one batch.
    fn decode(&mut self, batch: &RecordBatch) -> Result<Self::Batch, LoadError>;
    /// Whether a decoded batch has no rows.
    fn batch_is_empty(batch: &Self::Batch) -> bool;
    /// The report so far.
    fn report_mut(&mut self) -> &mut LoadReport;
    /// The final report.
    fn finish(self) -> LoadReport;
}

/// How a column is decoded, which fixes the types it accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `Timestamp(any unit, any zone)` or `Int64` microseconds → UTC micros.
    Time,
    /// Text, dictionary of text, or 4/16-byte binary → [`Addr`] + label.
    Address,
    /// Any integer type, range-checked against the target.
    Integer,
    /// Anything; strings as they are, other types as Arrow displays them.
    Text,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Time => "a timestamp (any unit, any zone) or Int64 microseconds",
            Kind::Address => {
                "address text (Utf8, LargeUtf8, Utf8View, or a dictionary of them) \
                 or 4/16-byte binary"
            }
            Kind::Integer => "an integer type",
            Kind::Text => "any type",
        }
    }

    fn accepts(self, data_type: &DataType) -> bool {
        match self {
            Kind::Time => matches!(data_type, DataType::Timestamp(_, _) | DataType::Int64),
            Kind::Address => match data_type {
                DataType::Dictionary(key, value) => {
                    key.is_integer() && is_plain_address_type(value)
                }
                other => is_plain_address_type(other),
            },
            Kind::Integer => data_type.is_integer(),
            Kind::Text => true,
        }
    }
}

fn is_plain_address_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(4)
            | DataType::FixedSizeBinary(16)
    )
}

/// A column to decode: its canonical name and its index in the current batch.
#[derive(Clone, Copy, Debug)]
struct Col {
    name: &'static str,
    index: usize,
}

/// A faulty cell noted while decoding; its text is rendered only if it is reported.
#[derive(Clone, Copy, Debug)]
struct Fault {
    row_idx: usize,
    col: Col,
    reason: ProblemReason,
}

type Faults = Vec<Fault>;

/// A resolved layout: for each wanted column, where it is in the current schema.
#[derive(Clone, Debug)]
struct Layout {
    schema: SchemaRef,
    canonical: Vec<Option<usize>>,
    source_row: Option<usize>,
    extra: Vec<Option<usize>>,
}

/// One wanted canonical column.
#[derive(Clone, Copy, Debug)]
struct Wanted {
    name: &'static str,
    wanted: bool,
    required: bool,
    kind: Kind,
}

/// State shared by the flow and event decoders.
struct Common<'a> {
    networks: &'a Networks,
    opts: ReadOptions,
    report: LoadReport,
    next_row: u64,
    wanted: Vec<Wanted>,
    extra: Vec<String>,
    layout: Option<Layout>,
    src_cache: DictCache,
    dst_cache: DictCache,
}

impl<'a> Common<'a> {
    fn new(
        file: FileId,
        display: &str,
        networks: &'a Networks,
        opts: ReadOptions,
        wanted: Vec<Wanted>,
        extra: Vec<String>,
    ) -> Common<'a> {
        Common {
            networks,
            opts,
            report: LoadReport::new(file, display),
            next_row: 0,
            wanted,
            extra,
            layout: None,
            src_cache: DictCache::default(),
            dst_cache: DictCache::default(),
        }
    }

    fn display(&self) -> &str {
        &self.report.display
    }

    fn projection(&self, schema: &Schema) -> Vec<usize> {
        let mut names: Vec<&str> = self
            .wanted
            .iter()
            .filter(|w| w.wanted)
            .map(|w| w.name)
            .collect();
        names.push(fc::SOURCE_ROW);
        names.extend(self.extra.iter().map(String::as_str));
        let mut indices: Vec<usize> = names
            .iter()
            .filter_map(|name| schema.index_of(name).ok())
            .collect();
        indices.sort_unstable();
        indices.dedup();
        indices
    }

    /// Resolves (and caches) where each wanted column is in `schema`, checking presence and
    /// types. A schema equal to the last one reuses its layout.
    fn layout(&mut self, schema: &SchemaRef) -> Result<&Layout, LoadError> {
        let stale = match &self.layout {
            Some(layout) => !(Arc::ptr_eq(&layout.schema, schema) || layout.schema == *schema),
            None => true,
        };
        if stale {
            let display = self.display().to_string();
            let mut canonical = Vec::with_capacity(self.wanted.len());
            for w in &self.wanted {
                if !w.wanted {
                    canonical.push(None);
                    continue;
                }
                match schema.index_of(w.name) {
                    Ok(index) => {
                        let found = schema.field(index).data_type();
                        if !w.kind.accepts(found) {
                            return Err(LoadError::ColumnType {
                                file: display,
                                column: w.name.to_string(),
                                found: found.clone(),
                                expected: w.kind.expected(),
                            });
                        }
                        canonical.push(Some(index));
                    }
                    Err(_) if w.required => {
                        return Err(LoadError::MissingColumn {
                            file: display,
                            column: w.name.to_string(),
                        })
                    }
                    Err(_) => canonical.push(None),
                }
            }
            let source_row = match schema.index_of(fc::SOURCE_ROW) {
                Ok(index) => {
                    let found = schema.field(index).data_type();
                    if !Kind::Integer.accepts(found) {
                        return Err(LoadError::ColumnType {
                            file: display,
                            column: fc::SOURCE_ROW.to_string(),
                            found: found.clone(),
                            expected: Kind::Integer.expected(),
                        });
                    }
                    Some(index)
                }
                Err(_) => None,
            };
            let extra = self
                .extra
                .iter()
                .map(|name| schema.index_of(name).ok())
                .collect();
            self.layout = Some(Layout {
                schema: Arc::clone(schema),
                canonical,
                source_row,
                extra,
            });
        }
        Ok(self.layout.as_ref().expect("layout was just resolved"))
    }

    /// Identity rows of a batch: `source_row` if present, else file positions.
    fn identity_rows(&self, batch: &RecordBatch, layout: &Layout, faults: &mut Faults) -> Vec<u64> {
        let n_rows = batch.num_rows();
        match layout.source_row {
            Some(index) => {
                let col = Col {
                    name: fc::SOURCE_ROW,
                    index,
                };
                let mut rows: Vec<u64> = decode_int(batch.column(index), col, faults);
                // A row whose identity is unreadable is still named by its position.
                for fault in faults.iter().filter(|f| f.col.name == fc::SOURCE_ROW) {
                    rows[fault.row_idx] = self.next_row + fault.row_idx as u64;
                }
                rows
            }
            None => (self.next_row..self.next_row + n_rows as u64).collect(),
        }
    }

    /// Settles a decoded batch: records faults of in-window rows (or fails, when strict),
    /// counts rows, and returns which rows to keep (`None`: all of them).
    fn settle(
        &mut self,
        batch: &RecordBatch,
        rows: &[u64],
        window_times: Option<(&[i64], &'static str)>,
        mut faults: Faults,
    ) -> Result<Option<Vec<bool>>, LoadError> {
        let n_rows = batch.num_rows();
        self.next_row += n_rows as u64;
        self.report.rows_read += n_rows as u64;
        if faults.is_empty() && window_times.is_none() {
            self.report.rows_kept += n_rows as u64;
            return Ok(None);
        }
        faults.sort_by_key(|f| f.row_idx);
        faults.dedup_by_key(|f| f.row_idx);
        let mut keep = vec![true; n_rows];
        // The window decides first: a faulty row outside it is simply not wanted, while one
        // whose time itself is faulty cannot be placed and counts as skipped.
        let mut time_faulty = Vec::new();
        if let Some((_, time_column)) = window_times {
            time_faulty = vec![false; n_rows];
            for fault in faults.iter().filter(|f| f.col.name == time_column) {
                time_faulty[fault.row_idx] = true;
            }
        }
        let opts = self.opts;
        let outside = |row_idx: usize| match window_times {
            Some((times, _)) => !time_faulty[row_idx] && !opts.in_window(times[row_idx]),
            None => false,
        };
        for (row_idx, kept) in keep.iter_mut().enumerate() {
            if outside(row_idx) {
                *kept = false;
                self.report.rows_outside_window += 1;
            }
        }
        for fault in &faults {
            if outside(fault.row_idx) {
                continue;
            }
            keep[fault.row_idx] = false;
            self.report.rows_skipped += 1;
            let row = rows[fault.row_idx];
            let value = || cell_text(batch.column(fault.col.index).as_ref(), fault.row_idx);
            if self.opts.strict {
                return Err(LoadError::BadRow {
                    file: self.display().to_string(),
                    row,
                    column: fault.col.name.to_string(),
                    value: value(),
                    reason: fault.reason,
                });
            }
            if self.report.problems.len() < MAX_PROBLEMS_PER_FILE {
                self.report.problems.push(RowProblem {
                    row,
                    column: fault.col.name.to_string(),
                    value: value(),
                    reason: fault.reason,
                });
            }
        }
        let n_kept = keep.iter().filter(|k| **k).count();
        self.report.rows_kept += n_kept as u64;
        Ok(if n_kept == n_rows { None } else { Some(keep) })
    }
}

/// Decodes flow batches of one file; keeps dictionary caches and the file's report across
/// batches. Feed it batches in file order.
pub struct FlowDecoder<'a> {
    common: Common<'a>,
    req: FlowColumns,
}

impl<'a> FlowDecoder<'a> {
    /// A decoder for the flows of file `file` (named `display` in reports and errors).
    pub fn new(
        file: FileId,
        display: &str,
        req: &FlowColumns,
        networks: &'a Networks,
        opts: ReadOptions,
    ) -> FlowDecoder<'a> {
        let kinds = [
            Kind::Time,
            Kind::Time,
            Kind::Address,
            Kind::Address,
            Kind::Integer,
            Kind::Integer,
            Kind::Integer,
            Kind::Integer,
            Kind::Integer,
            Kind::Integer,
            Kind::Integer,
            Kind::Text,
        ];
        let wanted = req
            .canonical()
            .iter()
            .zip(kinds)
            .map(|(&(name, wanted, required), kind)| Wanted {
                name,
                // The window is on start_time, so it is read whenever a window is set.
                wanted: wanted || (name == fc::START_TIME && opts.has_window()),
                required,
                kind,
            })
            .collect();
        FlowDecoder {
            common: Common::new(file, display, networks, opts, wanted, req.extra.clone()),
            req: req.clone(),
        }
    }

    /// Sets the position in the file of the next batch's first row (readers that skip row
    /// groups call this; otherwise positions continue from the previous batch).
    pub fn set_next_row(&mut self, row: u64) {
        self.common.next_row = row;
    }

    /// Decodes one batch: needed columns only, bad rows skipped and counted (or an error when
    /// strict), rows outside the window dropped.
    pub fn decode(&mut self, batch: &RecordBatch) -> Result<FlowBatch, LoadError> {
        let layout = self.common.layout(&batch.schema())?.clone();
        let mut faults = Faults::new();
        let rows = self.common.identity_rows(batch, &layout, &mut faults);
        let at = |i: usize| {
            layout.canonical[i].map(|index| Col {
                name: self.common.wanted[i].name,
                index,
            })
        };
        let time = |col: Option<Col>, faults: &mut Faults| {
            col.map(|c| decode_time(batch.column(c.index), c, faults))
                .unwrap_or_default()
        };
        let start = time(at(0), &mut faults);
        let end = time(at(1), &mut faults);
        let networks = self.common.networks;
        let (src, src_label) = match at(2) {
            Some(c) => decode_addr(
                batch.column(c.index),
                c,
                networks,
                &mut self.common.src_cache,
                &mut faults,
            ),
            None => Default::default(),
        };
        let (dst, dst_label) = match at(3) {
            Some(c) => decode_addr(
                batch.column(c.index),
                c,
                networks,
                &mut self.common.dst_cache,
                &mut faults,
            ),
            None => Default::default(),
        };
        fn ints<T: TryFrom<i128> + Default + Copy>(
            batch: &RecordBatch,
            col: Option<Col>,
            faults: &mut Faults,
        ) -> Vec<T> {
            col.map(|c| decode_int(batch.column(c.index), c, faults))
                .unwrap_or_default()
        }
        let src_port = ints(batch, at(4), &mut faults);
        let dst_port = ints(batch, at(5), &mut faults);
        let protocol = ints(batch, at(6), &mut faults);
        let bytes_sent = ints(batch, at(7), &mut faults);
        let bytes_received = ints(batch, at(8), &mut faults);
        let packets_sent = ints(batch, at(9), &mut faults);
        let packets_received = ints(batch, at(10), &mut faults);
        let n_rows = batch.num_rows();
        let service = if self.req.service {
            match layout.canonical[11] {
                Some(index) => decode_text(batch.column(index).as_ref()),
                None => vec![None; n_rows],
            }
        } else {
            Vec::new()
        };
        let extra = layout
            .extra
            .iter()
            .map(|index| match index {
                Some(index) => decode_text(batch.column(*index).as_ref()),
                None => vec![None; n_rows],
            })
            .collect();
        let window = if self.common.opts.has_window() {
            Some((start.as_slice(), fc::START_TIME))
        } else {
            None
        };
        let keep = self.common.settle(batch, &rows, window, faults)?;
        let mut flows = FlowBatch {
            file: self.common.report.file,
            rows,
            start,
            end,
            src,
            dst,
            src_label,
            dst_label,
            src_port,
            dst_port,
            protocol,
            bytes_sent,
            bytes_received,
            packets_sent,
            packets_received,
            service,
            extra,
        };
        if let Some(keep) = keep {
            flows.retain(&keep);
        }
        if !self.req.start_time {
            flows.start = Vec::new();
        } else if !flows.end.is_empty() {
            let negative = flows
                .start
                .iter()
                .zip(&flows.end)
                .filter(|(s, e)| e < s)
                .count();
            self.common.report.negative_durations += negative as u64;
        }
        Ok(flows)
    }

    /// The report so far.
    pub fn report(&self) -> &LoadReport {
        &self.common.report
    }

    /// The file's report.
    pub fn finish(self) -> LoadReport {
        self.common.report
    }

    /// How many dictionaries the address caches had to label (both columns).
    #[cfg(test)]
    pub(crate) fn dictionary_misses(&self) -> usize {
        self.common.src_cache.misses + self.common.dst_cache.misses
    }
}

impl RecordDecoder for FlowDecoder<'_> {
    type Batch = FlowBatch;
    fn projection(&self, schema: &Schema) -> Vec<usize> {
        self.common.projection(schema)
    }
    fn check_schema(&mut self, schema: &SchemaRef) -> Result<(), LoadError> {
        self.common.layout(schema).map(|_| ())
    }
    fn window_column(&self) -> Option<&'static str> {
        self.common.opts.has_window().then_some(fc::START_TIME)
    }
    fn set_next_row(&mut self, row: u64) {
        FlowDecoder::set_next_row(self, row);
    }
    fn decode(&mut self, batch: &RecordBatch) -> Result<FlowBatch, LoadError> {
        FlowDecoder::decode(self, batch)
    }
    fn batch_is_empty(batch: &FlowBatch) -> bool {
        batch.is_empty()
    }
    fn report_mut(&mut self) -> &mut LoadReport {
        &mut self.common.report
    }
    fn finish(self) -> LoadReport {
        FlowDecoder::finish(self)
    }
}

/// Decodes event batches of one file, as [`FlowDecoder`] does flows. The window applies to
/// `time`; a null or absent `category` reads as the empty string.
pub struct EventDecoder<'a> {
    common: Common<'a>,
    req: EventColumns,
}

impl<'a> EventDecoder<'a> {
    /// A decoder for the events of file `file`.
    pub fn new(
        file: FileId,
        display: &str,
        req: &EventColumns,
        networks: &'a Networks,
        opts: ReadOptions,
    ) -> EventDecoder<'a> {
        // `--since`/`--until` select flows; an event outside may precede a flow inside.
        let opts = opts.for_events();
        let kinds = [
            Kind::Time,
            Kind::Address,
            Kind::Address,
            Kind::Text,
            Kind::Integer,
            Kind::Text,
        ];
        let wanted = req
            .canonical()
            .iter()
            .zip(kinds)
            .enumerate()
            .map(|(i, (&(name, wanted, required), kind))| Wanted {
                name,
                wanted: wanted || (i == 0 && opts.has_window()),
                required,
                kind,
            })
            .collect();
        let mut common = Common::new(file, display, networks, opts, wanted, req.extra.clone());
        common.report.events = true;
        EventDecoder {
            common,
            req: req.clone(),
        }
    }

    /// As [`FlowDecoder::set_next_row`].
    pub fn set_next_row(&mut self, row: u64) {
        self.common.next_row = row;
    }

    /// Decodes one batch, as [`FlowDecoder::decode`].
    pub fn decode(&mut self, batch: &RecordBatch) -> Result<EventBatch, LoadError> {
        let layout = self.common.layout(&batch.schema())?.clone();
        let mut faults = Faults::new();
        let rows = self.common.identity_rows(batch, &layout, &mut faults);
        let at = |i: usize| {
            layout.canonical[i].map(|index| Col {
                name: self.common.wanted[i].name,
                index,
            })
        };
        let n_rows = batch.num_rows();
        let time = at(0)
            .map(|c| decode_time(batch.column(c.index), c, &mut faults))
            .unwrap_or_default();
        let networks = self.common.networks;
        let (src, src_label) = match at(1) {
            Some(c) => decode_addr(
                batch.column(c.index),
                c,
                networks,
                &mut self.common.src_cache,
                &mut faults,
            ),
            None => Default::default(),
        };
        let (dst, dst_label) = match at(2) {
            Some(c) => decode_addr(
                batch.column(c.index),
                c,
                networks,
                &mut self.common.dst_cache,
                &mut faults,
            ),
            None => Default::default(),
        };
        let signature = match at(3) {
            Some(c) => decode_text(batch.column(c.index).as_ref())
                .into_iter()
                .enumerate()
                .map(|(row_idx, text)| {
                    text.unwrap_or_else(|| {
                        faults.push(Fault {
                            row_idx,
                            col: c,
                            reason: ProblemReason::Null,
                        });
                        String::new()
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let severity = at(4)
            .map(|c| decode_int(batch.column(c.index), c, &mut faults))
            .unwrap_or_default();
        let category = if self.req.category {
            match layout.canonical[5] {
                Some(index) => decode_text(batch.column(index).as_ref())
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
                None => vec![String::new(); n_rows],
            }
        } else {
            Vec::new()
        };
        let extra = layout
            .extra
            .iter()
            .map(|index| match index {
                Some(index) => decode_text(batch.column(*index).as_ref()),
                None => vec![None; n_rows],
            })
            .collect();
        let window = if self.common.opts.has_window() {
            Some((time.as_slice(), crate::model::event_columns::TIME))
        } else {
            None
        };
        let keep = self.common.settle(batch, &rows, window, faults)?;
        let mut events = EventBatch {
            file: self.common.report.file,
            rows,
            time,
            src,
            dst,
            src_label,
            dst_label,
            signature,
            severity,
            category,
            extra,
        };
        if let Some(keep) = keep {
            events.retain(&keep);
        }
        if !self.req.time {
            events.time = Vec::new();
        }
        Ok(events)
    }

    /// The report so far.
    pub fn report(&self) -> &LoadReport {
        &self.common.report
    }

    /// The file's report.
    pub fn finish(self) -> LoadReport {
        self.common.report
    }
}

impl RecordDecoder for EventDecoder<'_> {
    type Batch = EventBatch;
    fn projection(&self, schema: &Schema) -> Vec<usize> {
        self.common.projection(schema)
    }
    fn check_schema(&mut self, schema: &SchemaRef) -> Result<(), LoadError> {
        self.common.layout(schema).map(|_| ())
    }
    fn window_column(&self) -> Option<&'static str> {
        self.common
            .opts
            .has_window()
            .then_some(crate::model::event_columns::TIME)
    }
    fn set_next_row(&mut self, row: u64) {
        EventDecoder::set_next_row(self, row);
    }
    fn decode(&mut self, batch: &RecordBatch) -> Result<EventBatch, LoadError> {
        EventDecoder::decode(self, batch)
    }
    fn batch_is_empty(batch: &EventBatch) -> bool {
        batch.is_empty()
    }
    fn report_mut(&mut self) -> &mut LoadReport {
        &mut self.common.report
    }
    fn finish(self) -> LoadReport {
        EventDecoder::finish(self)
    }
}

/// A cell as text for a problem report (empty for null).
fn cell_text(array: &dyn Array, row_idx: usize) -> String {
    if array.is_null(row_idx) {
        return String::new();
    }
    match ArrayFormatter::try_new(array, &FormatOptions::default()) {
        Ok(formatter) => formatter.value(row_idx).to_string(),
        Err(_) => format!("<{}>", array.data_type()),
    }
}

// ---- time ---------------------------------------------------------------------------------

/// Scale of stored time values relative to microseconds.
#[derive(Clone, Copy)]
enum TimeScale {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

/// Decodes a time column to UTC microseconds. Arrow timestamps are UTC instants whatever
/// their zone label, so the zone needs no arithmetic; nanoseconds round to the nearest
/// microsecond, halves away from zero, as the text presets do.
fn decode_time(array: &ArrayRef, col: Col, faults: &mut Faults) -> Vec<i64> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => time_values(
            array.as_primitive::<TimestampSecondType>(),
            TimeScale::Seconds,
            col,
            faults,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => time_values(
            array.as_primitive::<TimestampMillisecondType>(),
            TimeScale::Millis,
            col,
            faults,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => time_values(
            array.as_primitive::<TimestampMicrosecondType>(),
            TimeScale::Micros,
            col,
            faults,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => time_values(
            array.as_primitive::<TimestampNanosecondType>(),
            TimeScale::Nanos,
            col,
            faults,
        ),
        DataType::Int64 => time_values(
            array.as_primitive::<Int64Type>(),
            TimeScale::Micros,
            col,
            faults,
        ),
        other => unreachable!("layout checked the time column type, found {other}"),
    }
}

fn time_values<T: ArrowPrimitiveType<Native = i64>>(
    array: &PrimitiveArray<T>,
    scale: TimeScale,
    col: Col,
    faults: &mut Faults,
) -> Vec<i64> {
    let convert = |v: i64| -> Option<i64> {
        match scale {
            TimeScale::Seconds => v.checked_mul(1_000_000),
            TimeScale::Millis => v.checked_mul(1_000),
            TimeScale::Micros => Some(v),
            TimeScale::Nanos => {
                let (q, r) = (v / 1_000, v % 1_000);
                Some(if r >= 500 {
                    q + 1
                } else if r <= -500 {
                    q - 1
                } else {
                    q
                })
            }
        }
    };
    if array.null_count() == 0 {
        if let TimeScale::Micros = scale {
            return array.values().to_vec();
        }
    }
    let mut out = Vec::with_capacity(array.len());
    for (row_idx, &v) in array.values().iter().enumerate() {
        if array.is_null(row_idx) {
            faults.push(Fault {
                row_idx,
                col,
                reason: ProblemReason::Null,
            });
            out.push(0);
            continue;
        }
        match convert(v) {
            Some(micros) => out.push(micros),
            None => {
                faults.push(Fault {
                    row_idx,
                    col,
                    reason: ProblemReason::OutOfRange,
                });
                out.push(0);
            }
        }
    }
    out
}

// ---- integers -----------------------------------------------------------------------------

/// Decodes any integer column into `U`, range-checked (a port of 70000 or a negative counter
/// is a fault, not a wrapped value).
fn decode_int<U: TryFrom<i128> + Default + Copy>(
    array: &ArrayRef,
    col: Col,
    faults: &mut Faults,
) -> Vec<U> {
    match array.data_type() {
        DataType::Int8 => int_values::<Int8Type, U>(array.as_primitive(), col, faults),
        DataType::Int16 => int_values::<Int16Type, U>(array.as_primitive(), col, faults),
        DataType::Int32 => int_values::<Int32Type, U>(array.as_primitive(), col, faults),
        DataType::Int64 => int_values::<Int64Type, U>(array.as_primitive(), col, faults),
        DataType::UInt8 => int_values::<UInt8Type, U>(array.as_primitive(), col, faults),
        DataType::UInt16 => int_values::<UInt16Type, U>(array.as_primitive(), col, faults),
        DataType::UInt32 => int_values::<UInt32Type, U>(array.as_primitive(), col, faults),
        DataType::UInt64 => int_values::<UInt64Type, U>(array.as_primitive(), col, faults),
        other => unreachable!("layout checked the integer column type, found {other}"),
    }
}

fn int_values<T, U>(array: &PrimitiveArray<T>, col: Col, faults: &mut Faults) -> Vec<U>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i128>,
    U: TryFrom<i128> + Default + Copy,
{
    let values = array.values();
    let mut out = Vec::with_capacity(values.len());
    if array.null_count() == 0 {
        for (row_idx, &v) in values.iter().enumerate() {
            match U::try_from(v.into()) {
                Ok(u) => out.push(u),
                Err(_) => {
                    faults.push(Fault {
                        row_idx,
                        col,
                        reason: ProblemReason::OutOfRange,
                    });
                    out.push(U::default());
                }
            }
        }
        return out;
    }
    for (row_idx, &v) in values.iter().enumerate() {
        let reason = if array.is_null(row_idx) {
            ProblemReason::Null
        } else {
            match U::try_from(v.into()) {
                Ok(u) => {
                    out.push(u);
                    continue;
                }
                Err(_) => ProblemReason::OutOfRange,
            }
        };
        faults.push(Fault {
            row_idx,
            col,
            reason,
        });
        out.push(U::default());
    }
    out
}

// ---- addresses ----------------------------------------------------------------------------

/// A dictionary's values, parsed and labelled, in three parallel vectors: per row the
/// decoder reads one byte of status, then the address and label, so the tables stay as dense
/// as possible (a dictionary of half a million addresses is looked up in random order).
struct Labelled {
    addrs: Vec<Addr>,
    labels: Vec<LabelId>,
    /// 0: an address; [`STATUS_NULL`]; [`STATUS_BAD`].
    status: Vec<u8>,
    /// Whether every status is 0.
    all_ok: bool,
}

const STATUS_NULL: u8 = 1;
const STATUS_BAD: u8 = 2;

impl Labelled {
    /// Parses and labels every entry of `values` (Parquet dictionaries hold only values that
    /// occur in their column chunk, so none is wasted work).
    fn new(values: &dyn Array, networks: &Networks) -> Labelled {
        let source = AddrValues::new(values);
        let n_values = values.len();
        let mut labelled = Labelled {
            addrs: Vec::with_capacity(n_values),
            labels: Vec::with_capacity(n_values),
            status: Vec::with_capacity(n_values),
            all_ok: true,
        };
        for value_idx in 0..n_values {
            let (addr, label, status) = match source.get(value_idx) {
                Some(Some(addr)) => (addr, networks.label(addr), 0),
                Some(None) => (Addr(0), LabelId(0), STATUS_BAD),
                None => (Addr(0), LabelId(0), STATUS_NULL),
            };
            labelled.all_ok &= status == 0;
            labelled.addrs.push(addr);
            labelled.labels.push(label);
            labelled.status.push(status);
        }
        labelled
    }
}

/// How many dictionaries a column's cache remembers (Parquet: the current column chunk's,
/// and one or two rebuilt after a fallback to plain pages).
const DICT_CACHE_ENTRIES: usize = 4;

/// Per-column cache of labelled dictionaries, matched by identity. Each entry owns its
/// values array, so the identity cannot be reused by another array while it is cached.
#[derive(Default)]
struct DictCache {
    entries: Vec<(ArrayRef, Labelled)>,
    #[cfg(test)]
    misses: usize,
}

impl DictCache {
    /// The labelled form of `values`, moved to the front; parsed and labelled if not cached.
    fn labelled(&mut self, values: &ArrayRef, networks: &Networks) -> &Labelled {
        let hit = self.entries.iter().position(|(cached, _)| {
            Arc::ptr_eq(cached, values) || cached.to_data().ptr_eq(&values.to_data())
        });
        match hit {
            Some(0) => {}
            Some(idx) => {
                let entry = self.entries.remove(idx);
                self.entries.insert(0, entry);
            }
            None => {
                #[cfg(test)]
                {
                    self.misses += 1;
                }
                self.entries.truncate(DICT_CACHE_ENTRIES - 1);
                let labelled = Labelled::new(values.as_ref(), networks);
                self.entries.insert(0, (Arc::clone(values), labelled));
            }
        }
        &self.entries[0].1
    }
}

/// Parses address text exactly as [`Addr::parse`] does, with a fast path for canonical dotted
/// IPv4 (the common case, parsed per row where no dictionary is available); anything the fast
/// path does not accept goes to `Addr::parse`, which decides.
#[inline]
fn parse_addr(text: &str) -> Option<Addr> {
    parse_ipv4_fast(text.as_bytes()).or_else(|| Addr::parse(text))
}

/// Four decimal octets without leading zeros, `0..=255`, separated by dots; else `None`.
#[inline]
fn parse_ipv4_fast(bytes: &[u8]) -> Option<Addr> {
    if !(7..=15).contains(&bytes.len()) {
        return None;
    }
    let mut value: u32 = 0;
    let mut pos = 0;
    for octet_idx in 0..4 {
        if octet_idx > 0 {
            if bytes.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let start = pos;
        let mut octet: u32 = 0;
        while pos < bytes.len() && pos - start < 3 && bytes[pos].is_ascii_digit() {
            octet = octet * 10 + u32::from(bytes[pos] - b'0');
            pos += 1;
        }
        let len = pos - start;
        if len == 0 || octet > 255 || (len > 1 && bytes[start] == b'0') {
            return None;
        }
        value = (value << 8) | octet;
    }
    (pos == bytes.len()).then(|| Addr::v4(std::net::Ipv4Addr::from(value)))
}

/// Addresses of a non-dictionary array, one row at a time.
///
/// Variable-length binary holds either raw network-order bytes (4 or 16 per value) or address
/// text stored without a string annotation (older Parquet writers). The two are told apart per
/// array: if every value is 4 or 16 bytes long the array is raw, otherwise it is text. IPv4
/// text is never 4 or 16 characters long, so any array with an IPv4 text value is seen as text.
enum AddrValues<'a> {
    Utf8(&'a GenericByteArray<arrow::datatypes::Utf8Type>),
    LargeUtf8(&'a GenericByteArray<arrow::datatypes::LargeUtf8Type>),
    Utf8View(&'a GenericByteViewArray<arrow::datatypes::StringViewType>),
    Binary(&'a GenericByteArray<arrow::datatypes::BinaryType>, bool),
    LargeBinary(
        &'a GenericByteArray<arrow::datatypes::LargeBinaryType>,
        bool,
    ),
    BinaryView(
        &'a GenericByteViewArray<arrow::datatypes::BinaryViewType>,
        bool,
    ),
    Fixed(&'a arrow::array::FixedSizeBinaryArray),
}

/// Whether every non-null value has the length of a raw address.
fn all_raw<'b>(values: impl Iterator<Item = Option<&'b [u8]>>) -> bool {
    values.flatten().all(|v| v.len() == 4 || v.len() == 16)
}

/// A binary value as an address: raw bytes, or text.
fn binary_addr(bytes: &[u8], raw: bool) -> Option<Addr> {
    if raw {
        Addr::from_bytes(bytes)
    } else {
        std::str::from_utf8(bytes).ok().and_then(parse_addr)
    }
}

impl<'a> AddrValues<'a> {
    fn new(array: &'a dyn Array) -> AddrValues<'a> {
        match array.data_type() {
            DataType::Utf8 => AddrValues::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => AddrValues::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => AddrValues::Utf8View(array.as_string_view()),
            DataType::Binary => {
                let a = array.as_binary::<i32>();
                AddrValues::Binary(a, all_raw(a.iter()))
            }
            DataType::LargeBinary => {
                let a = array.as_binary::<i64>();
                AddrValues::LargeBinary(a, all_raw(a.iter()))
            }
            DataType::BinaryView => {
                let a = array.as_binary_view();
                AddrValues::BinaryView(a, all_raw(a.iter()))
            }
            DataType::FixedSizeBinary(_) => AddrValues::Fixed(array.as_fixed_size_binary()),
            other => unreachable!("layout checked the address column type, found {other}"),
        }
    }

    /// Entry `i`: `None` if null, `Some(None)` if not an address.
    #[inline]
    fn get(&self, i: usize) -> Option<Option<Addr>> {
        fn text<T: ByteArrayType<Native = str>>(
            a: &GenericByteArray<T>,
            i: usize,
        ) -> Option<Option<Addr>> {
            (!a.is_null(i)).then(|| parse_addr(a.value(i)))
        }
        fn bytes<T: ByteArrayType<Native = [u8]>>(
            a: &GenericByteArray<T>,
            i: usize,
            raw: bool,
        ) -> Option<Option<Addr>> {
            (!a.is_null(i)).then(|| binary_addr(a.value(i), raw))
        }
        match self {
            AddrValues::Utf8(a) => text(a, i),
            AddrValues::LargeUtf8(a) => text(a, i),
            AddrValues::Utf8View(a) => (!a.is_null(i)).then(|| parse_addr(a.value(i))),
            AddrValues::Binary(a, raw) => bytes(a, i, *raw),
            AddrValues::LargeBinary(a, raw) => bytes(a, i, *raw),
            AddrValues::BinaryView(a, raw) => {
                (!a.is_null(i)).then(|| binary_addr(a.value(i), *raw))
            }
            AddrValues::Fixed(a) => (!a.is_null(i)).then(|| Addr::from_bytes(a.value(i))),
        }
    }
}

/// Decodes an address column to addresses and labels.
fn decode_addr(
    array: &ArrayRef,
    col: Col,
    networks: &Networks,
    cache: &mut DictCache,
    faults: &mut Faults,
) -> (Vec<Addr>, Vec<LabelId>) {
    match array.data_type() {
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => {
                dict_addrs::<Int8Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::Int16 => {
                dict_addrs::<Int16Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::Int32 => {
                dict_addrs::<Int32Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::Int64 => {
                dict_addrs::<Int64Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::UInt8 => {
                dict_addrs::<UInt8Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::UInt16 => {
                dict_addrs::<UInt16Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::UInt32 => {
                dict_addrs::<UInt32Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            DataType::UInt64 => {
                dict_addrs::<UInt64Type>(array.as_dictionary(), col, networks, cache, faults)
            }
            other => unreachable!("layout checked the dictionary key type, found {other}"),
        },
        _ => plain_addrs(array.as_ref(), col, networks, faults),
    }
}

fn plain_addrs(
    array: &dyn Array,
    col: Col,
    networks: &Networks,
    faults: &mut Faults,
) -> (Vec<Addr>, Vec<LabelId>) {
    let values = AddrValues::new(array);
    let n_rows = array.len();
    let mut addrs = Vec::with_capacity(n_rows);
    let mut labels = Vec::with_capacity(n_rows);
    for row_idx in 0..n_rows {
        match values.get(row_idx) {
            Some(Some(addr)) => {
                addrs.push(addr);
                labels.push(networks.label(addr));
            }
            bad => {
                let reason = match bad {
                    None => ProblemReason::Null,
                    Some(_) => ProblemReason::BadAddress,
                };
                faults.push(Fault {
                    row_idx,
                    col,
                    reason,
                });
                addrs.push(Addr(0));
                labels.push(LabelId(0));
            }
        }
    }
    (addrs, labels)
}

fn dict_addrs<K: ArrowDictionaryKeyType>(
    dict: &DictionaryArray<K>,
    col: Col,
    networks: &Networks,
    cache: &mut DictCache,
    faults: &mut Faults,
) -> (Vec<Addr>, Vec<LabelId>) {
    let labelled = cache.labelled(dict.values(), networks);
    let keys = dict.keys();
    let n_values = labelled.addrs.len();
    // The common case: no null keys, every entry an address: two gathers.
    if keys.null_count() == 0
        && labelled.all_ok
        && keys.values().iter().all(|k| k.as_usize() < n_values)
    {
        let addrs = keys
            .values()
            .iter()
            .map(|k| labelled.addrs[k.as_usize()])
            .collect();
        let labels = keys
            .values()
            .iter()
            .map(|k| labelled.labels[k.as_usize()])
            .collect();
        return (addrs, labels);
    }
    let n_rows = dict.len();
    let mut addrs = Vec::with_capacity(n_rows);
    let mut labels = Vec::with_capacity(n_rows);
    for row_idx in 0..n_rows {
        let key = keys.value(row_idx).as_usize();
        let status = if keys.is_null(row_idx) {
            STATUS_NULL
        } else {
            // Arrow validates keys; a key beyond the values is treated as unreadable.
            labelled.status.get(key).copied().unwrap_or(STATUS_BAD)
        };
        if status == 0 {
            addrs.push(labelled.addrs[key]);
            labels.push(labelled.labels[key]);
            continue;
        }
        let reason = if status == STATUS_NULL {
            ProblemReason::Null
        } else {
            ProblemReason::BadAddress
        };
        faults.push(Fault {
            row_idx,
            col,
            reason,
        });
        addrs.push(Addr(0));
        labels.push(LabelId(0));
    }
    (addrs, labels)
}

// ---- text ---------------------------------------------------------------------------------

/// Decodes a nullable text column; non-string types are rendered as Arrow displays them.
fn decode_text(array: &dyn Array) -> Vec<Option<String>> {
    fn owned<'a>(it: impl Iterator<Item = Option<&'a str>>) -> Vec<Option<String>> {
        it.map(|v| v.map(str::to_owned)).collect()
    }
    match array.data_type() {
        DataType::Utf8 => owned(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => owned(array.as_string::<i64>().iter()),
        DataType::Utf8View => owned(array.as_string_view().iter()),
        _ => match ArrayFormatter::try_new(array, &FormatOptions::default()) {
            Ok(formatter) => (0..array.len())
                .map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string()))
                .collect(),
            Err(_) => vec![None; array.len()],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ipv4_parse_agrees_with_addr_parse() {
        let cases = [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "10.0.0.1",
            "192.168.100.200",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.04",
            "1..3.4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1234.1.1.1",
            "1.2.3.-4",
            "a.b.c.d",
            "1.2.3.4/8",
            "::ffff:1.2.3.4",
            "2001:db8::1",
            "0.0.0.00",
            "1.2.3.",
            ".1.2.3",
            "999.999.999.999",
        ];
        for text in cases {
            assert_eq!(parse_addr(text), Addr::parse(text), "{text:?}");
            if let Some(fast) = parse_ipv4_fast(text.as_bytes()) {
                assert_eq!(Some(fast), Addr::parse(text), "{text:?}");
            }
        }
        assert!(parse_ipv4_fast(b"10.0.0.1").is_some());
    }
}
