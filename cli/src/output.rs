//! Printing result sets: table (for people), CSV, JSON lines and Parquet (typed columns).
//! Files are written to a temporary name beside the target and renamed when complete, so a
//! failed run never leaves half an output behind.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{
    ArrayRef, BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use compiler::model::Entity;
use engine::load::FileTable;
use engine::output::{Cell, ColumnType, ResultSet};

/// Standard output for results. Writing to a closed pipe (`flowpat run … | head`) fails with
/// [`StdoutClosed`] inside the `BrokenPipe` error, which `main` turns into a quiet exit 0.
pub struct Stdout(std::io::StdoutLock<'static>);

/// The marker error of a write to a closed standard output.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

fn mark_closed(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(mark_closed)
    }
}

/// Locked standard output, for results.
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

/// Whether `e` comes from a write to a closed standard output (see [`Stdout`]).
pub fn stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<StdoutClosed>()
            || c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
            || c.downcast_ref::<csv::Error>()
                .is_some_and(|csv| match csv.kind() {
                    csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|i| i.is::<StdoutClosed>()),
                    _ => false,
                })
    })
}

/// Text from data made safe for a terminal: C0 and C1 control characters and DEL become
/// escapes (`\x1b`, `\x9b`; tab, newline and carriage return as `\t`, `\n`, `\r`), so an
/// attacker's alert text cannot drive the analyst's terminal or break a table's alignment.
/// Everything else, backslashes included, is kept.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let control = |c: char| c.is_control();
    if !s.chars().any(control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if control(c) => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A table cell from data: shortened to `max` characters, then made terminal-safe.
pub fn table_cell(s: &str, max: usize) -> String {
    terminal_safe(&truncate(s, max)).into_owned()
}

/// A table cell of column `column`: a record's file (`conn.file`) is shortened from the start,
/// keeping the file name and the folders nearest it (`…/scenario-3/conn.log`), which tell files
/// apart; any other cell as [`table_cell`].
pub fn column_cell(column: &str, s: &str, max: usize) -> String {
    if column.ends_with(".file") {
        terminal_safe(&truncate_path(s, max)).into_owned()
    } else {
        table_cell(s, max)
    }
}

/// Output formats of `run`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for reading in a terminal
    Table,
    /// CSV with a header row
    Csv,
    /// One JSON object per line, with a `pattern` field
    Jsonl,
    /// Parquet, one column per CSV column, with the pattern and data files in its metadata
    Parquet,
    /// Graphviz text of the result subgraph (addresses as nodes, records as edges)
    Dot,
    /// One self-contained HTML page drawing the result subgraph beside its table
    Html,
}

impl Format {
    /// File extension for `--out DIR`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
            Format::Dot => "dot",
            Format::Html => "html",
        }
    }
}

/// What printing needs beyond the result sets: the networks file (views colour addresses by
/// disposition) and each pattern's source (saved with Parquet results so that a report can be
/// reproduced). `main` sets it once, before the run, so `run` keeps its signatures.
#[derive(Default)]
pub struct PrintContext {
    /// The run's networks, if they could be read.
    pub networks: Option<engine::load::Networks>,
    /// Per pattern name: `flowpat.*` key-value metadata describing its source.
    pub patterns: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

static CONTEXT: std::sync::OnceLock<PrintContext> = std::sync::OnceLock::new();

/// Sets the printing context (once per process; later calls are ignored).
pub fn set_context(context: PrintContext) {
    let _ = CONTEXT.set(context);
}

fn context() -> Option<&'static PrintContext> {
    CONTEXT.get()
}

fn write_view(
    sets: &[&ResultSet],
    format: Format,
    flows: &FileTable,
    events: &FileTable,
    w: &mut dyn Write,
) -> Result<()> {
    let networks = context().and_then(|c| c.networks.as_ref());
    let graph = crate::views::results_graph(sets, flows, events, networks);
    if format == Format::Dot {
        crate::views::write_dot(&graph, w)
    } else {
        crate::views::write_html(&graph, w)
    }
}

/// Key-value metadata of a saved result: the pattern's source and hashes (from the context)
/// and the data files it was computed from.
fn provenance(set: &ResultSet, flows: &FileTable, events: &FileTable) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = context()
        .and_then(|c| c.patterns.get(&set.pattern))
        .cloned()
        .unwrap_or_default();
    let files = |table: &FileTable| {
        let list: Vec<serde_json::Value> = table
            .files()
            .iter()
            .map(|f| serde_json::json!({ "display": f.display, "path": f.path.display().to_string(), "bytes": std::fs::metadata(&f.path).map(|m| m.len()).ok() }))
            .collect();
        serde_json::Value::Array(list).to_string()
    };
    out.push(("flowpat.flows".into(), files(flows)));
    out.push(("flowpat.events".into(), files(events)));
    if let Some(networks) = context().and_then(|c| c.networks.as_ref()) {
        out.push((
            "flowpat.networks.fingerprint".into(),
            networks.fingerprint(),
        ));
    }
    out.push(("flowpat.version".into(), env!("CARGO_PKG_VERSION").into()));
    out
}

/// Whether `--out PATH` names a folder: it ends with a path separator or is one already.
pub fn names_folder(path: &Path) -> bool {
    path.as_os_str()
        .to_string_lossy()
        .ends_with(std::path::is_separator)
        || path.is_dir()
}

/// Checks, before anything is read, that `format` can go where `out` says for `patterns`
/// result sets: several patterns' CSV, HTML, Graphviz or Parquet documents on standard output
/// cannot be told apart, Parquet needs a file, and several patterns write one file each into a
/// folder, so `--out NAME.csv` (a file name) is refused rather than made a folder.
pub fn check_destination(format: Format, out: Option<&Path>, patterns: usize) -> Result<()> {
    if let Some(path) = out {
        if patterns > 1 && !names_folder(path) && path.extension().is_some() {
            let folder = path.with_extension("");
            return Err(crate::usage(format!(
                "--out {}: {patterns} patterns write one file each, so --out names a folder: \
                 give --out {}/ (with the trailing slash), or run one pattern",
                path.display(),
                folder.display()
            )));
        }
        return Ok(());
    }
    let name = format!("{format:?}").to_lowercase();
    if format == Format::Parquet {
        return Err(crate::usage(
            "--format parquet writes a file: give --out FILE.parquet (or --out DIR/ for one file per pattern)",
        ));
    }
    if patterns > 1 && matches!(format, Format::Csv | Format::Html | Format::Dot) {
        return Err(crate::usage(format!(
            "{patterns} patterns would print {patterns} {name} documents one after another on standard output, \
             which no reader can tell apart: give --out DIR/ for one file per pattern, run one pattern, \
             or use --format jsonl (one object per row, with a `pattern` field) or --format table"
        )));
    }
    Ok(())
}

pub use engine::output::json_line;

/// The typed cell of a printed value in a column named `header`, for result files and watch
/// states that keep only text: record attributes by their type, `*.row` and `matches` as
/// numbers, other columns (addresses, aggregates) as numbers when they read as one.
pub fn cell_from_text(header: &str, text: &str) -> Cell {
    let attr = header.rsplit_once('.').and_then(|(_, a)| {
        [Entity::Connection, Entity::Event]
            .into_iter()
            .find_map(|e| compiler::model::Attr::lookup(e, a))
    });
    let ty = if header == "matches" || header.ends_with(".row") {
        Some(ColumnType::UInt)
    } else if header.ends_with(".file") {
        Some(ColumnType::Text)
    } else {
        attr.map(engine::output::attribute_type)
    };
    // Only `service` among text attributes can be absent; it prints empty then, as in CSV.
    if text.is_empty()
        && (ty != Some(ColumnType::Text) || attr == Some(compiler::model::Attr::Service))
    {
        return Cell::Null;
    }
    let number = || {
        text.parse::<i128>().map(Cell::Int).ok().or_else(|| {
            (serde_json::from_str::<serde_json::Number>(text).is_ok())
                .then(|| Cell::Decimal(text.to_string()))
        })
    };
    match ty {
        Some(ColumnType::Text) => Cell::Text(text.to_string()),
        Some(ColumnType::UInt | ColumnType::Int | ColumnType::Seconds | ColumnType::Decimal) => {
            number().unwrap_or_else(|| Cell::Text(text.to_string()))
        }
        Some(ColumnType::Time | ColumnType::Bool) => Cell::Text(text.to_string()),
        None => number().unwrap_or_else(|| Cell::Text(text.to_string())),
    }
}

/// Rows per piece of CSV formatted by one thread.
const CSV_CHUNK: usize = 8192;

/// Writes `rows` of `set` as CSV records (no header). Large results are formatted by several
/// threads, a few chunks at a time, and written in order: the bytes are the same as one
/// thread's, and memory holds only the chunks in flight.
fn write_csv_rows(
    set: &ResultSet,
    rows: &[engine::output::ResultRow],
    flows: &FileTable,
    events: &FileTable,
    w: &mut dyn Write,
) -> Result<()> {
    let format_chunk = |chunk: &[engine::output::ResultRow]| -> Result<Vec<u8>> {
        let mut csv = csv::Writer::from_writer(Vec::with_capacity(chunk.len() * 160));
        for row in chunk {
            let mut failed = None;
            set.for_each_text(row, flows, events, &mut |text| {
                if failed.is_none() {
                    failed = csv.write_field(text).err();
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            csv.write_record(None::<&[u8]>)?;
        }
        csv.into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(rows.len() / CSV_CHUNK)
        .max(1);
    if threads == 1 {
        return Ok(w.write_all(&format_chunk(rows)?)?);
    }
    // `threads` formatters for the whole set: formatter `t` takes chunks `t`, `t + threads`, …
    // and hands each to the writer through its own short queue, which the writer reads in
    // chunk order (threads started once, not per chunk: a new thread gets fresh heap pages).
    let chunks: Vec<&[engine::output::ResultRow]> = rows.chunks(CSV_CHUNK).collect();
    std::thread::scope(|scope| -> Result<()> {
        let mut queues = Vec::with_capacity(threads);
        for t in 0..threads {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(2);
            let mine: Vec<&[engine::output::ResultRow]> =
                chunks.iter().skip(t).step_by(threads).copied().collect();
            let format_chunk = &format_chunk;
            scope.spawn(move || {
                for chunk in mine {
                    // A closed queue: the writer stopped on an error.
                    if tx.send(format_chunk(chunk)).is_err() {
                        break;
                    }
                }
            });
            queues.push(rx);
        }
        for k in 0..chunks.len() {
            let piece = queues[k % threads]
                .recv()
                .map_err(|_| anyhow::anyhow!("a CSV writer thread stopped"))?;
            w.write_all(&piece?)?;
        }
        Ok(())
    })
}

/// Writes one result set in `format` to `w` (Parquet needs a file: use [`write_file`]).
pub fn write(
    set: &ResultSet,
    format: Format,
    limit: Option<usize>,
    flows: &FileTable,
    events: &FileTable,
    w: &mut dyn Write,
) -> Result<()> {
    let rows = &set.rows[..limit.unwrap_or(usize::MAX).min(set.rows.len())];
    match format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut *w);
            csv.write_record(set.header())?;
            csv.flush()?;
            drop(csv);
            write_csv_rows(set, rows, flows, events, w)?;
        }
        Format::Jsonl => {
            let header = set.header();
            for row in rows {
                let cells = set.typed_cells(row, flows, events);
                writeln!(w, "{}", json_line(&set.pattern, &header, &cells))?;
            }
        }
        Format::Table => {
            let header = set.header();
            let keep = table_columns(&header, TABLE_ATTRIBUTES);
            let mut table = rows_table();
            table.set_header(keep.iter().map(|k| terminal_safe(&header[*k]).into_owned()));
            for row in rows {
                let cells = set.cells(row, flows, events);
                table.add_row(
                    keep.iter()
                        .map(|k| column_cell(&header[*k], &cells[*k], 40)),
                );
            }
            writeln!(
                w,
                "{}  ({} result{})",
                terminal_safe(&set.pattern),
                set.rows.len(),
                if set.rows.len() == 1 { "" } else { "s" }
            )?;
            if set.rows.is_empty() {
                writeln!(w, "  no results")?;
            } else {
                writeln!(w, "{table}")?;
                if rows.len() < set.rows.len() {
                    writeln!(
                        w,
                        "  … {} more (use --limit or --format csv)",
                        set.rows.len() - rows.len()
                    )?;
                }
            }
            writeln!(w)?;
        }
        Format::Parquet => anyhow::bail!("parquet output needs --out"),
        Format::Dot | Format::Html => write_view(&[set], format, flows, events, w)?,
    }
    Ok(())
}

/// The record attributes a results table shows; CSV has everything.
const TABLE_ATTRIBUTES: &[&str] = &[
    ".file",
    ".row",
    ".protocol",
    ".srcPort",
    ".destPort",
    ".startTime",
    ".bytesSent",
    ".bytesReceived",
    ".time",
    ".signature",
];

/// Positions of the columns a table shows: identities and aggregates (no `.`), and the
/// attributes ending in one of `attributes`.
pub fn table_columns(header: &[String], attributes: &[&str]) -> Vec<usize> {
    header
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.contains('.') || attributes.iter().any(|s| h.ends_with(s)))
        .map(|(k, _)| k)
        .collect()
}

/// Shortens a cell to at most `max` characters, never splitting a character.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Shortens a path to at most `max` characters from the start: `…/` and the longest run of
/// whole trailing components that fits, or, when the last component alone is too long, `…` and
/// its end.
pub fn truncate_path(s: &str, max: usize) -> String {
    let length = s.chars().count();
    if length <= max {
        return s.to_string();
    }
    let mut start = None;
    for (k, _) in s.match_indices('/') {
        // `…` stands for what is cut; the kept tail begins at this `/`.
        if s[k..].chars().count() < max {
            start = Some(k);
            break;
        }
    }
    match start {
        Some(k) => format!("…{}", &s[k..]),
        None => {
            let tail: String = s.chars().skip(length - max.saturating_sub(1)).collect();
            format!("…{tail}")
        }
    }
}

/// Writes `sets` to `path` (a file; for several sets in one file, formats concatenate). A
/// `path` that names a folder (`out/`) is created and the file goes inside, named after the
/// first set's pattern.
pub fn write_file(
    sets: &[&ResultSet],
    format: Format,
    limit: Option<usize>,
    flows: &FileTable,
    events: &FileTable,
    path: &Path,
) -> Result<()> {
    let inside;
    let path = if names_folder(path) {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let stem: String = sets
            .first()
            .map(|s| s.pattern.as_str())
            .unwrap_or("results")
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        inside = path.join(format!("{stem}.{}", format.extension()));
        inside.as_path()
    } else {
        path
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    if format == Format::Parquet {
        let set = sets.first().context("no results to write")?;
        write_parquet(set, limit, flows, events, tmp.as_file_mut())?;
    } else if matches!(format, Format::Dot | Format::Html) {
        // Several patterns in one file make one drawing, not several pages glued together.
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        write_view(sets, format, flows, events, &mut buf)?;
        buf.flush()?;
    } else {
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        for set in sets {
            write(set, format, limit, flows, events, &mut buf)?;
        }
        buf.flush()?;
    }
    persist_result(tmp, path)
}

/// Renames a finished temporary file to `path` as an ordinary result file: temporary files
/// are private (0600), a result file is 0644.
pub fn persist_result(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Arrow type of a result column in Parquet.
fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::UInt => DataType::UInt64,
        ColumnType::Int => DataType::Int64,
        ColumnType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Seconds => DataType::Decimal128(SECONDS_PRECISION, 6),
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Decimal | ColumnType::Text => DataType::Utf8,
    }
}

/// Digits of a `durationSeconds` column: any `i64` of microseconds (19 digits), 6 after the point.
const SECONDS_PRECISION: u8 = 20;

/// One typed column, or `None` if a value does not fit the type (the caller writes text).
fn typed_column(ty: ColumnType, cells: &[&Cell]) -> Option<ArrayRef> {
    Some(match ty {
        ColumnType::UInt => {
            let mut b = UInt64Builder::with_capacity(cells.len());
            for c in cells {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::UInt(n) => b.append_value(*n),
                    Cell::Int(n) => b.append_value(u64::try_from(*n).ok()?),
                    _ => return None,
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int64Builder::with_capacity(cells.len());
            for c in cells {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::UInt(n) => b.append_value(i64::try_from(*n).ok()?),
                    Cell::Int(n) => b.append_value(i64::try_from(*n).ok()?),
                    _ => return None,
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Time => {
            let mut b =
                TimestampMicrosecondBuilder::with_capacity(cells.len()).with_timezone("UTC");
            for c in cells {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Time(t) => b.append_value(*t),
                    _ => return None,
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Seconds => {
            let mut b = Decimal128Builder::with_capacity(cells.len())
                .with_precision_and_scale(SECONDS_PRECISION, 6)
                .ok()?;
            for c in cells {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Seconds(us)
                        if us.unsigned_abs() < 10u128.pow(u32::from(SECONDS_PRECISION)) =>
                    {
                        b.append_value(*us)
                    }
                    _ => return None,
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(cells.len());
            for c in cells {
                match c {
                    Cell::Null => b.append_null(),
                    Cell::Bool(v) => b.append_value(*v),
                    _ => return None,
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Decimal | ColumnType::Text => return None,
    })
}

/// Writes one result set as Parquet with typed columns: whole numbers as `UInt64`/`Int64`,
/// times as `Timestamp(µs, UTC)`, `durationSeconds` as `Decimal128(20, 6)`, text (addresses,
/// files, services, signatures, decimal aggregates) as `Utf8`; a column is nullable where its
/// value can be absent. A column whose values do not fit its type (an aggregate beyond
/// `i64`) is written as text. The file's metadata carries the pattern and its provenance.
fn write_parquet(
    set: &ResultSet,
    limit: Option<usize>,
    flows: &FileTable,
    events: &FileTable,
    file: &mut std::fs::File,
) -> Result<()> {
    let columns_info = set.columns();
    let rows = &set.rows[..limit.unwrap_or(usize::MAX).min(set.rows.len())];
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| set.typed_cells(r, flows, events))
        .collect();
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (k, column) in columns_info.iter().enumerate() {
        let values: Vec<&Cell> = cells.iter().map(|c| &c[k]).collect();
        let nullable = column.nullable || values.iter().any(|c| **c == Cell::Null);
        match typed_column(column.ty, &values) {
            Some(array) => {
                fields.push(Field::new(&column.name, arrow_type(column.ty), nullable));
                columns.push(array);
            }
            None => {
                let mut b = StringBuilder::new();
                for c in &values {
                    match c {
                        Cell::Null => b.append_null(),
                        c => b.append_value(c.text()),
                    }
                }
                fields.push(Field::new(&column.name, DataType::Utf8, nullable));
                columns.push(Arc::new(b.finish()));
            }
        }
    }
    let mut metadata = std::collections::HashMap::new();
    metadata.insert("flowpat.pattern".to_string(), set.pattern.clone());
    let schema = Arc::new(Schema::new(fields).with_metadata(metadata));
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(
            provenance(set, flows, events)
                .into_iter()
                .map(|(k, v)| parquet::file::metadata::KeyValue::new(k, v))
                .collect(),
        ))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

/// A table of result rows: lines above and below the header and at the end, none between
/// rows (a row is one line), so a long table reads, and pipes, at half the height.
pub fn rows_table() -> comfy_table::Table {
    use comfy_table::TableComponent as C;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
    for part in [
        C::HorizontalLines,
        C::MiddleIntersections,
        C::LeftBorderIntersections,
        C::RightBorderIntersections,
    ] {
        table.remove_style(part);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_their_end() {
        let path =
            "/work/shared/data/stratosphere-zeek-scenarios/003-zeek-scenario-malicious/conn.log";
        assert_eq!(
            truncate_path(path, 40),
            "…/003-zeek-scenario-malicious/conn.log"
        );
        assert_eq!(
            truncate_path("flows/part-0001.parquet", 40),
            "flows/part-0001.parquet"
        );
        // A last component longer than the cell keeps its end.
        let long = format!("dir/{}.parquet", "x".repeat(50));
        let cut = truncate_path(&long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(
            cut.starts_with('…') && cut.ends_with("xxx.parquet"),
            "{cut}"
        );
        // Other columns are cut at the end, as before.
        assert_eq!(
            column_cell("conn.file", path, 40),
            "…/003-zeek-scenario-malicious/conn.log"
        );
        assert_eq!(
            column_cell("event.signature", &"s".repeat(50), 10),
            "sssssssss…"
        );
    }
}
