//! Load: flow and event archives (Parquet files, Arrow IPC files and streams, and text presets
//! that produce canonical Arrow batches) → decoded, labelled column batches.
//!
//! The output of this stage is struct-of-arrays ([`FlowBatch`], [`EventBatch`]): the columns a
//! run needs, decoded into plain vectors, with addresses normalised and labelled once per
//! dictionary entry. Scan filters then run over these vectors by row index, before anything
//! enters the dataflow. Rows that cannot be read (unparsable address, null in a required
//! column, a port out of range) never appear here: they are counted per file in a
//! [`LoadReport`], or, when the read is strict, the first one is an error.
//!
//! Every source of records ends in one decode path, [`FlowDecoder`] / [`EventDecoder`] over
//! Arrow `RecordBatch`es, so Parquet, Arrow IPC, stdin streams and text presets accept the same
//! types and follow the same bad-row policy. The pieces:
//! - [`files`]: the run's input files, sorted, with display paths and `FileId`s;
//! - [`networks`]: the networks file, longest prefix wins;
//! - [`batch`]: the column request and the decoded batch types;
//! - `arrow_decode`: Arrow arrays → vectors (the hot path);
//! - `parquet` and `ipc`: streaming readers (bounded memory, one batch at a time);
//! - [`text`]: sensor text named with a preset ([`FileFormat::Text`]), its batches decoded
//!   like any other and its malformed lines merged into the file's report.

mod arrow_decode;
pub mod batch;
pub mod files;
mod ipc;
pub mod networks;
mod parquet;
pub mod text;

use std::io::Read;
use std::path::PathBuf;

use arrow::datatypes::DataType;

pub use arrow_decode::{EventDecoder, FlowDecoder};
pub use batch::{EventBatch, EventColumns, FlowBatch, FlowColumns};
pub use files::{
    detect_format_as, discover, discover_as, is_not_data_name, list_files, list_files_noting,
    FileEntry, FileFormat, FileTable, ListedFile, Listing,
};
pub use networks::{LabelId, NetworkLineError, Networks};
pub use parquet::{check_complete, file_row_count, file_stats, FileStats, RowGroupStats};
pub use text::{TextProblem, TextSummary};

use crate::model::FileId;
use arrow::record_batch::RecordBatch;

/// Rows per decoded batch unless [`ReadOptions::batch_rows`] says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;

/// At most this many [`RowProblem`]s are kept per file; the rest are only counted.
pub const MAX_PROBLEMS_PER_FILE: usize = 10;

/// How to read: the bad-row policy and the time window.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReadOptions {
    /// Fail on the first bad row instead of skipping and counting it.
    pub strict: bool,
    /// Keep only flows that start at or after this time (UTC micros). Parquet row groups whose
    /// statistics lie entirely outside are not read. Events are never cut by the window: an
    /// event before `since` may still precede a flow inside it (`event before conn within 24h`).
    pub since: Option<i64>,
    /// Keep only flows that start strictly before this time (UTC micros).
    pub until: Option<i64>,
    /// Rows per decoded batch (memory is bounded by a few batches per reader).
    pub batch_rows: usize,
    /// Text inputs: the zone of timestamps printed without one (nfdump, Argus); `None` is UTC.
    pub tz: Option<chrono::FixedOffset>,
    /// Text inputs: pair the two directions of unidirectional records (nfdump, SiLK) whose
    /// starts are at most this far apart (see `presets`).
    pub biflow_timeout: Option<std::time::Duration>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            strict: false,
            since: None,
            until: None,
            batch_rows: DEFAULT_BATCH_ROWS,
            tz: None,
            biflow_timeout: None,
        }
    }
}

impl ReadOptions {
    /// Whether a time window is set.
    pub fn has_window(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// The options for reading events: the same, without the flow time window.
    pub fn for_events(&self) -> ReadOptions {
        ReadOptions {
            since: None,
            until: None,
            ..*self
        }
    }

    /// Whether `time` lies in the window (`since <= time < until`).
    #[inline]
    pub fn in_window(&self, time: i64) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }
}

/// Why a row was skipped.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub enum ProblemReason {
    /// A required column is null.
    Null,
    /// The address text or bytes are not an IPv4 or IPv6 address.
    BadAddress,
    /// An integer outside the column's range (a port above 65535, a negative counter, a
    /// timestamp beyond the microsecond range).
    OutOfRange,
}

impl std::fmt::Display for ProblemReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProblemReason::Null => "null in a required column",
            ProblemReason::BadAddress => "not an IP address",
            ProblemReason::OutOfRange => "value out of range",
        })
    }
}

/// One skipped row, as kept in a [`LoadReport`].
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct RowProblem {
    /// The row's identity (0-based row in the file, or its `source_row`).
    pub row: u64,
    /// The first offending column.
    pub column: String,
    /// The offending value as text (empty for a null).
    pub value: String,
    /// What is wrong with it.
    pub reason: ProblemReason,
}

impl std::fmt::Display for RowProblem {
    /// `row 3: not an IP address (column `src_addr`, value `10.0.0.x`)`; a null names only its
    /// column: `row 0: null in a required column (column `dst_addr`)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {}: {}{}",
            self.row,
            self.reason,
            cell_context(&self.column, &self.value, self.reason)
        )
    }
}

/// ` (column `c`, value `v`)`, or ` (column `c`)` for a null (whose value is empty).
fn cell_context(column: &str, value: &str, reason: ProblemReason) -> String {
    if reason == ProblemReason::Null || value.is_empty() {
        format!(" (column `{column}`)")
    } else {
        format!(" (column `{column}`, value `{value}`)")
    }
}

/// What reading one file did. Always `rows_read == rows_kept + rows_skipped +
/// rows_outside_window`.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct LoadReport {
    /// The file.
    pub file: FileId,
    /// Its display path.
    pub display: String,
    /// Rows accounted for, including those of row groups skipped by statistics.
    pub rows_read: u64,
    /// Rows delivered in batches.
    pub rows_kept: u64,
    /// Rows skipped for bad data (see `problems`).
    pub rows_skipped: u64,
    /// Rows outside `since`/`until`, whether filtered or in a skipped row group.
    pub rows_outside_window: u64,
    /// Kept flows whose end precedes their start (kept: the spec treats them as data).
    pub negative_durations: u64,
    /// Parquet row groups in the file (0 for Arrow IPC).
    pub row_groups: u64,
    /// Parquet row groups not read because their time statistics lay outside the window.
    pub row_groups_skipped: u64,
    /// The first [`MAX_PROBLEMS_PER_FILE`] skipped rows, in row order per batch.
    pub problems: Vec<RowProblem>,
    /// For a text file: what its preset did, malformed lines with their line numbers
    /// included (those lines are also counted in `rows_read` and `rows_skipped`).
    pub text: Option<TextSummary>,
    /// Read as events (else as flows): one file may be read as both.
    #[serde(default)]
    pub events: bool,
}

impl LoadReport {
    /// An empty report for a file.
    pub fn new(file: FileId, display: &str) -> LoadReport {
        LoadReport {
            file,
            display: display.to_string(),
            rows_read: 0,
            rows_kept: 0,
            rows_skipped: 0,
            rows_outside_window: 0,
            negative_durations: 0,
            row_groups: 0,
            row_groups_skipped: 0,
            problems: Vec::new(),
            text: None,
            events: false,
        }
    }
}

/// Errors of the load stage. `file` fields hold display paths.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// Opening or reading a path failed.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(engine::load::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of a networks file is not `CIDR,label`, `default,LABEL` or a comment.
    #[error("{file}:{line}: {reason}: `{text}`")]
    #[diagnostic(code(engine::load::bad_network_line))]
    BadNetworkLine {
        /// The networks file.
        file: String,
        /// 1-based line number (0 when the problem is the whole file).
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong.
        reason: NetworkLineError,
    },
    /// A glob pattern does not parse.
    #[error("bad file pattern `{pattern}`: {message}")]
    #[diagnostic(code(engine::load::bad_glob))]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// The glob crate's explanation.
        message: String,
    },
    /// A glob pattern matches no file.
    #[error("file pattern `{pattern}` matches no file")]
    #[diagnostic(code(engine::load::no_match))]
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// Two different files would be printed with the same path.
    #[error(
        "two input files would both be named `{display}` in results: {} and {}",
        first.display(),
        second.display()
    )]
    #[diagnostic(
        code(engine::load::ambiguous_display_path),
        help("name the files or folders so that their relative paths differ")
    )]
    AmbiguousDisplayPath {
        /// The shared display path.
        display: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// More input files than a `FileId` can index.
    #[error("more than 4294967295 input files")]
    #[diagnostic(code(engine::load::too_many_files))]
    TooManyFiles,
    /// The file has zero bytes.
    #[error("{file}: the file is empty (0 bytes)")]
    #[diagnostic(code(engine::load::empty_file))]
    EmptyFile {
        /// The file.
        file: String,
    },
    /// The file is neither Parquet nor Arrow IPC (and no text format was named).
    #[error("{file}: not a Parquet or Arrow IPC file{}", text::format_hint(*.guess))]
    #[diagnostic(code(engine::load::unknown_format))]
    UnknownFormat {
        /// The file.
        file: String,
        /// The text preset its first bytes suggest, if any.
        guess: Option<crate::presets::Preset>,
    },
    /// A file named as text is Parquet or Arrow IPC.
    #[error("{file}: is {found}, not {preset} text; read it without a text format")]
    #[diagnostic(code(engine::load::not_text))]
    NotText {
        /// The file.
        file: String,
        /// The preset it was to be read with.
        preset: crate::presets::Preset,
        /// What it is.
        found: FileFormat,
    },
    /// A file named as one text format whose first bytes clearly are another known one (an
    /// Argus CSV given as `zeek`): read as given, every record would be malformed.
    #[error("{}", text::wrong_format_message(.file, *.given, *.found))]
    #[diagnostic(code(engine::load::wrong_text_format))]
    WrongTextFormat {
        /// The file.
        file: String,
        /// The format it was named as.
        given: crate::presets::Preset,
        /// The format its content shows.
        found: crate::presets::Preset,
    },
    /// A text preset failed: unreadable header, I/O, or a malformed line under `strict`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Text(#[from] crate::presets::PresetError),
    /// The Parquet reader failed (corrupt or truncated file, unsupported encoding).
    #[error("{file}: cannot read Parquet: {source}")]
    #[diagnostic(code(engine::load::parquet))]
    Parquet {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    /// The Arrow reader failed (corrupt IPC data, inconsistent batch).
    #[error("{file}: cannot read Arrow data: {source}")]
    #[diagnostic(code(engine::load::arrow))]
    Arrow {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A column the run needs is absent.
    #[error("{file}: missing column `{column}`")]
    #[diagnostic(code(engine::load::missing_column))]
    MissingColumn {
        /// The file.
        file: String,
        /// The column.
        column: String,
    },
    /// A column has a type the loader cannot decode for its role.
    #[error("{file}: column `{column}` has type {found}, expected {expected}")]
    #[diagnostic(code(engine::load::column_type))]
    ColumnType {
        /// The file.
        file: String,
        /// The column.
        column: String,
        /// The type found.
        found: DataType,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A bad row in a strict read.
    #[error("{file}: row {row}: {reason}{}", cell_context(.column, .value, *.reason))]
    #[diagnostic(
        code(engine::load::bad_row),
        help("without strict mode such rows are skipped and counted")
    )]
    BadRow {
        /// The file.
        file: String,
        /// The row's identity.
        row: u64,
        /// The offending column.
        column: String,
        /// The offending value as text.
        value: String,
        /// What is wrong.
        reason: ProblemReason,
    },
}

/// Streams the flows of one file to `sink`, batch by batch, decoding only the requested
/// columns; returns the file's report. Empty batches are not delivered.
pub fn read_flows(
    file: &FileEntry,
    req: &FlowColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(FlowBatch),
) -> Result<LoadReport, LoadError> {
    let decoder = FlowDecoder::new(file.id, &file.display, req, networks, *opts);
    read_any(file, decoder, opts, sink)
}

/// Streams the events of one file to `sink`, as [`read_flows`] does for flows.
pub fn read_events(
    file: &FileEntry,
    req: &EventColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(EventBatch),
) -> Result<LoadReport, LoadError> {
    let opts = &opts.for_events();
    let decoder = EventDecoder::new(file.id, &file.display, req, networks, *opts);
    read_any(file, decoder, opts, sink)
}

/// Streams the flows of an Arrow IPC stream (stdin, a pipe) that has no file of its own;
/// `file` and `display` name it in ids and errors.
#[allow(clippy::too_many_arguments)]
pub fn read_flows_stream(
    reader: impl Read,
    file: FileId,
    display: &str,
    req: &FlowColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(FlowBatch),
) -> Result<LoadReport, LoadError> {
    let mut decoder = FlowDecoder::new(file, display, req, networks, *opts);
    ipc::read_stream(reader, display, &mut decoder, sink)?;
    Ok(decoder.finish())
}

/// Streams the events of an Arrow IPC stream, as [`read_flows_stream`] does for flows.
#[allow(clippy::too_many_arguments)]
pub fn read_events_stream(
    reader: impl Read,
    file: FileId,
    display: &str,
    req: &EventColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(EventBatch),
) -> Result<LoadReport, LoadError> {
    let mut decoder = EventDecoder::new(file, display, req, networks, *opts);
    ipc::read_stream(reader, display, &mut decoder, sink)?;
    Ok(decoder.finish())
}

/// Decodes one in-memory batch whose first row is row `first_row` of its file. For many
/// batches of one file, keep a [`FlowDecoder`] instead: it caches dictionaries and sums the
/// report.
pub fn read_flow_batch(
    batch: &RecordBatch,
    file: FileId,
    display: &str,
    first_row: u64,
    req: &FlowColumns,
    networks: &Networks,
    opts: &ReadOptions,
) -> Result<(FlowBatch, LoadReport), LoadError> {
    let mut decoder = FlowDecoder::new(file, display, req, networks, *opts);
    decoder.set_next_row(first_row);
    let flows = decoder.decode(batch)?;
    Ok((flows, decoder.finish()))
}

/// Decodes one in-memory event batch, as [`read_flow_batch`] does for flows.
pub fn read_event_batch(
    batch: &RecordBatch,
    file: FileId,
    display: &str,
    first_row: u64,
    req: &EventColumns,
    networks: &Networks,
    opts: &ReadOptions,
) -> Result<(EventBatch, LoadReport), LoadError> {
    let mut decoder = EventDecoder::new(file, display, req, networks, *opts);
    decoder.set_next_row(first_row);
    let events = decoder.decode(batch)?;
    Ok((events, decoder.finish()))
}

/// The record batches of an Arrow IPC stream (stdin, a pipe) as they arrive, for a reader
/// that hands them on one by one (`watch --flows -`); decode them with
/// [`read_flow_batches`] / [`read_event_batches`]. `display` names the stream in errors.
pub fn ipc_stream_batches<R: Read>(
    reader: R,
    display: &str,
) -> Result<
    (
        arrow::datatypes::SchemaRef,
        impl Iterator<Item = Result<RecordBatch, LoadError>>,
    ),
    LoadError,
> {
    let name = display.to_string();
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::BufReader::new(reader), None)
        .map_err(|source| LoadError::Arrow {
        file: name.clone(),
        source,
    })?;
    let schema = reader.schema();
    let batches = reader.map(move |batch| {
        batch.map_err(|source| LoadError::Arrow {
            file: name.clone(),
            source,
        })
    });
    Ok((schema, batches))
}

/// Fails if a stream's schema lacks a column the flow request needs, or has one of a type the
/// decoder cannot read (what reading its first batch would report).
pub fn check_flow_schema(
    schema: &arrow::datatypes::SchemaRef,
    display: &str,
    req: &FlowColumns,
    networks: &Networks,
) -> Result<(), LoadError> {
    use arrow_decode::RecordDecoder;
    FlowDecoder::new(FileId(0), display, req, networks, ReadOptions::default()).check_schema(schema)
}

/// Fails if a stream's schema does not serve the event request, as [`check_flow_schema`].
pub fn check_event_schema(
    schema: &arrow::datatypes::SchemaRef,
    display: &str,
    req: &EventColumns,
    networks: &Networks,
) -> Result<(), LoadError> {
    use arrow_decode::RecordDecoder;
    EventDecoder::new(FileId(0), display, req, networks, ReadOptions::default())
        .check_schema(schema)
}

/// Decodes in-memory batches that continue one stream, the first row being row `first_row`
/// of it, through one decoder (dictionaries cached, one report); empty results are not
/// delivered.
#[allow(clippy::too_many_arguments)]
pub fn read_flow_batches(
    batches: &[RecordBatch],
    file: FileId,
    display: &str,
    first_row: u64,
    req: &FlowColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(FlowBatch),
) -> Result<LoadReport, LoadError> {
    let decoder = FlowDecoder::new(file, display, req, networks, *opts);
    decode_stream(decoder, batches, first_row, sink)
}

/// Decodes in-memory event batches that continue one stream, as [`read_flow_batches`].
#[allow(clippy::too_many_arguments)]
pub fn read_event_batches(
    batches: &[RecordBatch],
    file: FileId,
    display: &str,
    first_row: u64,
    req: &EventColumns,
    networks: &Networks,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(EventBatch),
) -> Result<LoadReport, LoadError> {
    let decoder = EventDecoder::new(file, display, req, networks, *opts);
    decode_stream(decoder, batches, first_row, sink)
}

/// The body of [`read_flow_batches`] and [`read_event_batches`].
fn decode_stream<D: arrow_decode::RecordDecoder>(
    mut decoder: D,
    batches: &[RecordBatch],
    first_row: u64,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<LoadReport, LoadError> {
    decoder.set_next_row(first_row);
    for batch in batches {
        let decoded = decoder.decode(batch)?;
        if !D::batch_is_empty(&decoded) {
            sink(decoded);
        }
    }
    Ok(decoder.finish())
}

fn read_any<D: arrow_decode::RecordDecoder + text::TextKind>(
    file: &FileEntry,
    mut decoder: D,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<LoadReport, LoadError> {
    read_into(file, &mut decoder, opts, sink)?;
    Ok(decoder.finish())
}

/// Reads a file through a decoder the caller keeps (to inspect it afterwards).
fn read_into<D: arrow_decode::RecordDecoder + text::TextKind>(
    file: &FileEntry,
    decoder: &mut D,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<(), LoadError> {
    match file.format {
        FileFormat::Parquet => parquet::read(file, decoder, opts, sink),
        FileFormat::ArrowIpcFile => ipc::read_file(file, decoder, sink),
        FileFormat::ArrowIpcStream => {
            let reader = std::fs::File::open(&file.path).map_err(|source| LoadError::Io {
                path: file.path.clone(),
                source,
            })?;
            ipc::read_stream(
                std::io::BufReader::new(reader),
                &file.display,
                decoder,
                sink,
            )
        }
        FileFormat::Text(preset) => text::read(file, preset, decoder, opts, sink),
    }
}

#[cfg(test)]
mod tests;
