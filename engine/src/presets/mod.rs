//! Presets: the text that sensors really write → canonical Arrow batches.
//!
//! Analysts' archives are Zeek logs, Suricata EVE, Argus/CTU `binetflow`, nfdump CSV and SiLK
//! `rwcut` text, not canonical Parquet. A preset reads one such file and produces
//! [`RecordBatch`]es in exactly the canonical schema of `flow-model.md` (flows:
//! `start_time`, `end_time` as `Timestamp(Microsecond, "UTC")`, `src_addr`, `dst_addr` Utf8,
//! ports UInt16, `protocol` UInt8, four UInt64 counters, `service` nullable Utf8; events:
//! `time`, `src_addr`, `dst_addr` (both required: a Zeek notice naming no destination is no
//! event, counted in [`TextReport::skipped_not_events`]), `signature`,
//! `severity` Int32, `category`), followed by
//! `source_row` (UInt64, the record's 0-based ordinal among the file's data records,
//! malformed ones included, so a record keeps its identity whatever else fails) and then
//! every other field of the input as a nullable Utf8 column under its own name. The loader
//! decodes these batches exactly as it decodes Parquet, so there is one decode path, and
//! `flowpat import` writes them to Parquet.
//!
//! Policy shared by every preset:
//! - Input is streamed line by line in constant memory and cut into batches of
//!   [`PresetOptions::batch_rows`]; gzip is recognised by its magic bytes, not the name.
//! - A malformed record is skipped, counted, and (the first ten) reported with its 1-based line,
//!   column and value; with [`PresetOptions::strict`] the first one is an error. Nothing panics.
//! - Times are parsed from their decimal text, exact to the microsecond (never through `f64`;
//!   finer digits are rounded to the nearest microsecond). A time without a zone is UTC, or
//!   in [`PresetOptions::tz`]; offsets such as `+0200` or `+02:00` are honoured.
//! - Addresses are validated and written in normal form (IPv4 dotted, IPv6 RFC 5952; an
//!   IPv4-mapped IPv6 address is its IPv4 host). Protocols become IANA numbers whatever the
//!   spelling (`tcp`, `TCP`, `6`, `006`; see [`protocol_number`]).
//! - Missing or unset counters are 0; an end before the start is kept (it is data).
//! - Extra columns: each batch carries all extra columns seen so far in the file, in first-seen
//!   order (a later batch may append columns, never drop or reorder them). An extra named like
//!   a canonical column is renamed `<name>_extra`.
//!
//! Per preset (details in each module):
//! - `zeek` (`conn.log`, TSV or JSON lines, found per line): fields by name, not position
//!   (`id.orig_h`, `id_orig_h` or `src`...); `ts` epoch or ISO 8601; end = `ts` + `duration`
//!   (unset → end = start); IP-level counters `orig_ip_bytes`/`resp_ip_bytes` (`orig_bytes` only
//!   when those fields are absent), `orig_pkts`/`resp_pkts`; ICMP type/code stay in the ports.
//! - `zeek-notice` (events): `note` → signature, `src`/`dst` (else `id.orig_h`/`id.resp_h`),
//!   severity 3 unless a `severity` field says otherwise, category `notice`, `msg` an extra; a
//!   notice naming no destination (scan notices) is no event: counted in
//!   [`TextReport::skipped_not_events`], not malformed.
//! - `suricata` (EVE): `flow` records as flows, `alert` records as events; the rest counted in
//!   [`TextReport::skipped_other_types`].
//! - `argus` (CTU `binetflow` CSV): bidirectional; received = `TotBytes − SrcBytes`; non-IP
//!   rows (`arp`) are no flows: counted in [`TextReport::skipped_not_flows`].
//! - `nfdump` (`-o csv`, 1.7.1 and 1.7.6 layouts, with or without header; summary trailer
//!   ignored): unidirectional, received counters 0 unless [`PresetOptions::biflow_timeout`]
//!   pairs the two directions. Beware: unidirectional archives make "bytes sent ≥ 10 × bytes
//!   received" true for any large upload (flow-model C31).
//! - `silk` (`rwcut` text): unidirectional like nfdump.

mod argus;
mod batch;
mod biflow;
mod delimited;
mod json;
mod nfdump;
mod proto;
mod silk;
mod suricata;
#[cfg(test)]
mod tests;
mod text;
mod time;
mod zeek;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use chrono::FixedOffset;

pub use proto::protocol_number;

use batch::Collector;

/// A sensor format that can be imported.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Preset {
    /// Zeek `conn.log`, TSV or JSON lines (flows).
    Zeek,
    /// Zeek `notice.log`, TSV or JSON lines (events).
    ZeekNotice,
    /// Suricata `eve.json` (flows from `flow` records, events from `alert` records).
    Suricata,
    /// Argus / CTU `binetflow` CSV (flows).
    Argus,
    /// nfdump `-o csv` output (flows).
    Nfdump,
    /// SiLK `rwcut` text (flows).
    Silk,
}

impl Preset {
    /// Every preset, in the order of the documentation.
    pub const ALL: [Preset; 6] = [
        Preset::Zeek,
        Preset::ZeekNotice,
        Preset::Suricata,
        Preset::Argus,
        Preset::Nfdump,
        Preset::Silk,
    ];

    /// The name users type (`zeek-notice`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Zeek => "zeek",
            Preset::ZeekNotice => "zeek-notice",
            Preset::Suricata => "suricata",
            Preset::Argus => "argus",
            Preset::Nfdump => "nfdump",
            Preset::Silk => "silk",
        }
    }

    /// The kinds of archive this preset can produce.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Preset::ZeekNotice => &[Kind::Events],
            Preset::Suricata => &[Kind::Flows, Kind::Events],
            Preset::Zeek | Preset::Argus | Preset::Nfdump | Preset::Silk => &[Kind::Flows],
        }
    }

    /// Whether this preset can produce `kind`.
    pub fn supports(self, kind: Kind) -> bool {
        self.kinds().contains(&kind)
    }

    /// The kind produced when the user does not choose one (the first of [`Preset::kinds`]).
    pub fn default_kind(self) -> Kind {
        self.kinds()[0]
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = PresetError;

    fn from_str(text: &str) -> Result<Preset, PresetError> {
        let lower = text.trim().to_ascii_lowercase();
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == lower || (lower == "zeek_notice" && *p == Preset::ZeekNotice))
            .ok_or_else(|| PresetError::UnknownPreset {
                name: text.to_string(),
            })
    }
}

/// What a file is read as: flow records or security events.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Kind {
    /// `NetworkConnection` records (the flow schema).
    Flows,
    /// `Event` records (the event schema).
    Events,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Flows => "flows",
            Kind::Events => "events",
        })
    }
}

/// How a preset reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresetOptions {
    /// Fail at the first malformed record instead of skipping and counting it.
    pub strict: bool,
    /// Zone of timestamps that carry none (nfdump and Argus print local time); `None` is UTC.
    /// Parse user text with [`parse_tz`].
    pub tz: Option<FixedOffset>,
    /// Rows per emitted batch (at least 1).
    pub batch_rows: usize,
    /// Pair opposite-direction unidirectional records (nfdump, SiLK) whose starts are at most
    /// this far apart into one record; ignored by bidirectional presets.
    pub biflow_timeout: Option<std::time::Duration>,
}

impl Default for PresetOptions {
    fn default() -> PresetOptions {
        PresetOptions {
            strict: false,
            tz: None,
            batch_rows: 65_536,
            biflow_timeout: None,
        }
    }
}

/// Parses a `--tz` value: `UTC`, `Z`, or a fixed offset (`+02:00`, `+0200`, `-5`, `UTC+1`).
/// Zone names are refused: without a zone database their daylight-saving rules would be
/// guessed, and a wrong hour silently moves every flow.
pub fn parse_tz(text: &str) -> Result<FixedOffset, PresetError> {
    time::parse_offset(text).ok_or_else(|| PresetError::TimeZone {
        text: text.to_string(),
    })
}

/// What reading one file did.
///
/// Every data record is exactly one of: a row (`records`), absorbed into another row by biflow
/// pairing (`paired`), malformed (`skipped`), of a type the kind does not read
/// (`skipped_other_types`), not a flow at all (`skipped_not_flows`: Argus `arp` rows), or not
/// an event at all (`skipped_not_events`: Zeek notices naming no destination).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextReport {
    /// Rows emitted.
    pub records: u64,
    /// Malformed records skipped.
    pub skipped: u64,
    /// Records of other types (EVE `dns`, `http`, `stats`...; `flow` when reading events).
    pub skipped_other_types: u64,
    /// Records merged into their opposite direction by biflow pairing.
    pub paired: u64,
    /// Records of non-IP frames (Argus `arp`, `llc`): no flow, skipped and counted.
    pub skipped_not_flows: u64,
    /// Their protocol names as printed, each once, in first-seen order.
    pub not_flow_protocols: Vec<String>,
    /// Records that describe no event (a Zeek notice naming no destination: an event connects
    /// two addresses), skipped and counted, not malformed.
    pub skipped_not_events: u64,
    /// Why, each reason once, in first-seen order (`no destination`).
    pub not_event_reasons: Vec<String>,
    /// The first ten malformed records.
    pub problems: Vec<LineProblem>,
}

/// One malformed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based physical line in the (decompressed) file.
    pub line: u64,
    /// The input column at fault, by its name in the file, when one is.
    pub column: Option<String>,
    /// The offending text (at most 200 characters).
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}{}",
            self.line,
            self.reason,
            describe(&self.column, &self.value)
        )
    }
}

fn describe(column: &Option<String>, value: &str) -> String {
    match column {
        Some(column) => format!(" (column `{column}`, value `{value}`)"),
        None if value.is_empty() => String::new(),
        None => format!(" (`{value}`)"),
    }
}

/// Why a preset could not read a file.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PresetError {
    /// The preset name is not one of [`Preset::ALL`].
    #[error(
        "unknown preset `{name}` (expected zeek, zeek-notice, suricata, argus, nfdump or silk)"
    )]
    #[diagnostic(code(engine::presets::unknown_preset))]
    UnknownPreset {
        /// What the user typed.
        name: String,
    },
    /// The preset cannot produce this kind (Argus has no events).
    #[error("preset `{preset}` cannot read {kind}")]
    #[diagnostic(code(engine::presets::unsupported_kind))]
    UnsupportedKind {
        /// The preset.
        preset: Preset,
        /// The kind asked for.
        kind: Kind,
    },
    /// A `--tz` value that is not a fixed offset.
    #[error("unknown time zone `{text}`")]
    #[diagnostic(
        code(engine::presets::time_zone),
        help("use UTC or a fixed offset such as +02:00; zone names are not supported")
    )]
    TimeZone {
        /// What the user typed.
        text: String,
    },
    /// Reading (or decompressing) the input failed.
    #[error("reading {}", .file.display())]
    #[diagnostic(code(engine::presets::io))]
    Io {
        /// The input.
        file: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A header the preset cannot use, so no record of the file can be read.
    #[error("{}:{}: {}", .file.display(), .line, .reason)]
    #[diagnostic(code(engine::presets::header))]
    Header {
        /// The input.
        file: PathBuf,
        /// 1-based line of the header.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A malformed record under `--strict`.
    #[error("{}:{}: {}{}", .file.display(), .line, .reason, describe(.column, .value))]
    #[diagnostic(
        code(engine::presets::malformed),
        help("without --strict such records are skipped and counted")
    )]
    Malformed {
        /// The input.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// The input column at fault, by its name in the file.
        column: Option<String>,
        /// The offending text.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Assembling a batch failed (a bug: the columns are built to match the schema).
    #[error("building an Arrow batch for {}", .file.display())]
    #[diagnostic(code(engine::presets::batch))]
    Batch {
        /// The input.
        file: PathBuf,
        /// The Arrow error.
        source: arrow::error::ArrowError,
    },
}

/// The canonical flow schema followed by `extras` (nullable Utf8), as batches carry it.
pub fn flow_schema(extras: &[String]) -> SchemaRef {
    std::sync::Arc::new(batch::flow_schema(extras))
}

/// The canonical event schema followed by `extras` (nullable Utf8), as batches carry it.
pub fn event_schema(extras: &[String]) -> SchemaRef {
    std::sync::Arc::new(batch::event_schema(extras))
}

/// Reads the text file at `path` with `preset` as `kind`, handing each batch to `sink`.
///
/// The sink's error type only needs to absorb [`PresetError`] (`anyhow::Error` does), so a
/// failing writer stops the read and its error comes back unchanged.
pub fn read_text<E: From<PresetError>>(
    preset: Preset,
    kind: Kind,
    path: &Path,
    opts: &PresetOptions,
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
) -> Result<TextReport, E> {
    let file = std::fs::File::open(path).map_err(|source| PresetError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    read_text_from(preset, kind, file, path, opts, sink)
}

/// As [`read_text`], over any reader (stdin, test data); `name` labels errors.
pub fn read_text_from<R: Read, E: From<PresetError>>(
    preset: Preset,
    kind: Kind,
    reader: R,
    name: &Path,
    opts: &PresetOptions,
    sink: &mut dyn FnMut(RecordBatch) -> Result<(), E>,
) -> Result<TextReport, E> {
    if !preset.supports(kind) {
        return Err(PresetError::UnsupportedKind { preset, kind }.into());
    }
    let io_error = |source| PresetError::Io {
        file: name.to_path_buf(),
        source,
    };
    let mut input = open_input(reader).map_err(io_error)?;
    let mut out = Collector::new(kind, name.to_path_buf(), opts.strict, opts.batch_rows);
    let mut parser = line_parser(preset, kind, opts, &mut out);
    let mut buf = Vec::with_capacity(4096);
    let mut line: u64 = 0;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).map_err(io_error)? == 0 {
            break;
        }
        line += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let bytes = if line == 1 {
            buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf)
        } else {
            &buf
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => parser.line(line, text, &mut out)?,
            Err(_) => parser.invalid_utf8(line, &String::from_utf8_lossy(bytes), &mut out)?,
        }
        for batch in out.take_ready() {
            sink(batch)?;
        }
    }
    let report = out.finish()?;
    for batch in out.take_ready() {
        sink(batch)?;
    }
    Ok(report)
}

/// Plain or gzip (by the magic bytes `1f 8b`; concatenated members are read in turn).
fn open_input<'r, R: Read + 'r>(mut reader: R) -> io::Result<Box<dyn BufRead + 'r>> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(magic[..got].to_vec()).chain(reader);
    const CAPACITY: usize = 1 << 16;
    if magic[..got] == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            CAPACITY,
            flate2::read::MultiGzDecoder::new(whole),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(CAPACITY, whole)))
    }
}

/// What a preset does with each physical line of its input.
trait LineParser {
    /// One line, without its terminator; `line` is 1-based.
    fn line(&mut self, line: u64, text: &str, out: &mut Collector) -> Result<(), PresetError>;

    /// A line that is not UTF-8 (shown lossily). By default a malformed data record.
    fn invalid_utf8(
        &mut self,
        line: u64,
        lossy: &str,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        out.next_row();
        out.problem(
            line,
            batch::RowProblem::new(None, lossy, "line is not valid UTF-8"),
        )
    }
}

fn line_parser(
    preset: Preset,
    kind: Kind,
    opts: &PresetOptions,
    out: &mut Collector,
) -> Box<dyn LineParser> {
    let unidirectional = matches!(preset, Preset::Nfdump | Preset::Silk);
    if let (true, Some(timeout)) = (unidirectional, opts.biflow_timeout) {
        out.pair_biflows(time::duration_micros(timeout));
    }
    match preset {
        Preset::Zeek => Box::new(zeek::ZeekParser::new(zeek::Log::Conn, opts.tz)),
        Preset::ZeekNotice => Box::new(zeek::ZeekParser::new(zeek::Log::Notice, opts.tz)),
        Preset::Suricata => Box::new(suricata::EveParser::new(kind, opts.tz)),
        Preset::Argus => Box::new(delimited::DelimitedParser::new(argus::Argus, opts.tz)),
        Preset::Nfdump => Box::new(delimited::DelimitedParser::new(nfdump::Nfdump, opts.tz)),
        Preset::Silk => Box::new(delimited::DelimitedParser::new(silk::Silk, opts.tz)),
    }
}
