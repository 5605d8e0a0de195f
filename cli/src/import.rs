//! `flowpat import`: sensor text (Zeek, Suricata, Argus, nfdump, SiLK) → canonical Parquet.
//!
//! A run can read text directly (`--flows-format`), but an archive that is queried every day is
//! better stored once as Parquet: it is smaller, typed, read in parallel by column, and its row
//! groups are skipped by time. The import writes exactly the batches the presets give a direct
//! run, plus a `source_file` column, so every row keeps the identity it had in the text:
//! `source_row` is the record's ordinal in its input file, and a run over the import prints the
//! same `conn.row`s as a run over the original logs (`conn.file` then names the part file;
//! `source_file` names the input).
//!
//! Output files are `part-NNNN.parquet`, numbered from 0 in input order. A part holds rows of one
//! input only (two inputs' `source_row`s would otherwise collide within one file) and one schema:
//! a new part starts with each input, after `--max-rows-per-file` rows, and with a batch whose
//! columns differ from the part's (the presets cut batches of 65,536 rows, each carrying every
//! extra column seen so far in the file, null where a row had none, and only ever append
//! columns: so a field a JSON log adds mid-file starts a new part only if it first appears after
//! the part's first batch). Parts are written under
//! dot-names ending `.tmp`, which discovery skips, and renamed only once every input has been
//! read, so a failed import leaves no part files behind.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use engine::model::flow_columns::{SOURCE_FILE, SOURCE_ROW};
use engine::presets::{Kind, Preset, PresetOptions, TextReport};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// Rows per Parquet row group: small enough that `--since`/`--until` skip most of a file by
/// statistics, large enough to compress well.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Arguments of `flowpat import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Sensor format of the inputs
    #[arg(long, value_name = "FORMAT", value_parser = parse_preset)]
    from: Preset,
    /// Input logs: files, folders (recursive, sorted) or globs; gzip is recognised
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output folder for part-NNNN.parquet (created; must not already hold part files)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// What to read from the inputs [default: flows, or events for zeek-notice]
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Zone of timestamps printed without one (nfdump, Argus): UTC or an offset such as +02:00
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Pair the two directions of unidirectional nfdump/SiLK records whose starts are at most TIMEOUT apart (e.g. 60s)
    #[arg(long, value_name = "TIMEOUT")]
    biflow: Option<String>,
    /// Start a new part file after this many rows
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_rows_per_file: u64,
    /// Parquet compression
    #[arg(long, value_enum, default_value = "zstd")]
    compression: Codec,
    /// Fail on the first malformed record instead of skipping and counting it
    #[arg(long)]
    strict: bool,
    /// No progress bar and no per-input summary (malformed records are still reported)
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// `--kind`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum KindArg {
    Flows,
    Events,
}

/// `--compression`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Codec {
    Zstd,
    Snappy,
}

fn parse_preset(text: &str) -> Result<Preset, engine::presets::PresetError> {
    text.parse()
}

/// Parses a timeout such as `60s`, `1.5m`, `500ms`, `2h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => bail!("`{text}` is not a duration: write e.g. 60s, 500ms, 2m or 1h"),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Duration::from_secs_f64(n * scale)),
        _ => bail!("`{text}` is not a duration: write e.g. 60s, 500ms, 2m or 1h"),
    }
}

/// One input file: how it is named in `source_file`, and where it is.
struct Input {
    name: String,
    path: PathBuf,
}

/// Expands the inputs as given: a file or glob match keeps its spelling, a file found under a
/// folder is the folder joined with its relative path. A file named twice is read once. Files
/// under a folder whose names say they are no data (`SOURCE.md`, `labels.config`) are left out
/// and returned apart, for a note.
fn list_inputs(given: &[PathBuf]) -> Result<(Vec<Input>, Vec<PathBuf>)> {
    let mut inputs: Vec<Input> = Vec::new();
    let mut not_data: Vec<PathBuf> = Vec::new();
    for path in given {
        let listing = engine::load::list_files_noting(std::slice::from_ref(path))
            .with_context(|| format!("finding input {}", path.display()))?;
        not_data.extend(listing.not_data);
        for file in listing.files {
            let name = if path.is_dir() {
                path.join(&file.display).to_string_lossy().into_owned()
            } else {
                file.display
            };
            if !inputs.iter().any(|i| i.path == file.path) {
                inputs.push(Input {
                    name,
                    path: file.path,
                });
            }
        }
    }
    not_data.sort();
    not_data.dedup();
    Ok((inputs, not_data))
}

/// A part file being written under its temporary name.
struct OpenPart {
    index: usize,
    schema: SchemaRef,
    writer: ArrowWriter<File>,
    rows: u64,
}

/// The part files of an import: the open one, and the finished ones still under temporary
/// names. Dropping it without [`Parts::commit`] removes them all.
struct Parts {
    dir: PathBuf,
    props: WriterProperties,
    max_rows: u64,
    open: Option<OpenPart>,
    /// Finished parts: (temporary path, final path, rows).
    closed: Vec<(PathBuf, PathBuf, u64)>,
}

impl Parts {
    fn new(dir: &Path, codec: Codec, max_rows: u64) -> Parts {
        let compression = match codec {
            Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()),
            Codec::Snappy => Compression::SNAPPY,
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by("flowpat import".to_string())
            .build();
        Parts {
            dir: dir.to_path_buf(),
            props,
            max_rows,
            open: None,
            closed: Vec::new(),
        }
    }

    fn names(&self, index: usize) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!(".part-{index:04}.parquet.tmp")),
            self.dir.join(format!("part-{index:04}.parquet")),
        )
    }

    fn next_index(&self) -> usize {
        self.closed.len() + usize::from(self.open.is_some())
    }

    /// Writes `batch`, starting a new part when the schema changes or the open one is full.
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|part| part.schema != batch.schema())
        {
            self.close()?;
        }
        let mut offset = 0usize;
        while offset < batch.num_rows() {
            if self.open.is_none() {
                let index = self.next_index();
                let (tmp, _) = self.names(index);
                let file =
                    File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
                let writer = ArrowWriter::try_new(file, batch.schema(), Some(self.props.clone()))
                    .with_context(|| format!("starting {}", tmp.display()))?;
                self.open = Some(OpenPart {
                    index,
                    schema: batch.schema(),
                    writer,
                    rows: 0,
                });
            }
            let part = self.open.as_mut().expect("a part was just opened");
            let room = usize::try_from(self.max_rows - part.rows).unwrap_or(usize::MAX);
            let take = room.min(batch.num_rows() - offset);
            part.writer
                .write(&batch.slice(offset, take))
                .context("writing Parquet")?;
            part.rows += take as u64;
            offset += take;
            if part.rows >= self.max_rows {
                self.close()?;
            }
        }
        Ok(())
    }

    /// Finishes the open part, if any (it stays under its temporary name).
    fn close(&mut self) -> Result<()> {
        if let Some(part) = self.open.take() {
            let (tmp, done) = self.names(part.index);
            part.writer
                .close()
                .with_context(|| format!("finishing {}", tmp.display()))?;
            self.closed.push((tmp, done, part.rows));
        }
        Ok(())
    }

    /// Gives every finished part its final name.
    fn commit(mut self) -> Result<Vec<(PathBuf, u64)>> {
        self.close()?;
        let mut done = Vec::new();
        for (tmp, path, rows) in std::mem::take(&mut self.closed) {
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            done.push((path, rows));
        }
        Ok(done)
    }
}

impl Drop for Parts {
    fn drop(&mut self) {
        let open = self.open.take().map(|part| self.names(part.index).0);
        for tmp in self
            .closed
            .iter()
            .map(|(tmp, _, _)| tmp.clone())
            .chain(open)
        {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// `batch` with a non-null `source_file` column holding `name`, right after `source_row`.
fn with_source_file(batch: &RecordBatch, name: &str) -> Result<RecordBatch> {
    let schema = batch.schema();
    let at = schema
        .index_of(SOURCE_ROW)
        .map(|i| i + 1)
        .unwrap_or(schema.fields().len());
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    fields.insert(at, Arc::new(Field::new(SOURCE_FILE, DataType::Utf8, false)));
    columns.insert(
        at,
        Arc::new(StringArray::from(vec![name; batch.num_rows()])),
    );
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .context("adding the source_file column")
}

/// Counts the bytes read from an input, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// One input's line in the summary.
fn summary(input: &Input, report: &TextReport, parts: &[usize]) -> String {
    let mut line = format!(
        "{}: {} record(s), {} malformed skipped",
        input.name, report.records, report.skipped
    );
    if report.skipped_other_types > 0 {
        line.push_str(&format!(
            ", {} of other types ignored",
            report.skipped_other_types
        ));
    }
    if report.skipped_not_flows > 0 {
        line.push_str(&format!(
            ", {} skipped as not a flow ({})",
            report.skipped_not_flows,
            report.not_flow_protocols.join(", ")
        ));
    }
    if report.skipped_not_events > 0 {
        line.push_str(&format!(
            ", {} skipped as not an event ({})",
            report.skipped_not_events,
            report.not_event_reasons.join(", ")
        ));
    }
    if report.paired > 0 {
        line.push_str(&format!(", {} paired into biflows", report.paired));
    }
    match (parts.first(), parts.last()) {
        (Some(first), Some(last)) if first == last => {
            line.push_str(&format!(" → part-{first:04}.parquet"))
        }
        (Some(first), Some(last)) => {
            line.push_str(&format!(" → part-{first:04}..part-{last:04}.parquet"))
        }
        _ => {}
    }
    line
}

/// `flowpat import`.
pub fn import(args: ImportArgs) -> Result<ExitCode> {
    let kind = match args.kind {
        Some(KindArg::Flows) => Kind::Flows,
        Some(KindArg::Events) => Kind::Events,
        None => args.from.default_kind(),
    };
    if !args.from.supports(kind) {
        bail!(
            "the {} preset reads {}, not {kind}",
            args.from,
            args.from.default_kind()
        );
    }
    // As in `run`: pairing applies to unidirectional flow records only; elsewhere --biflow
    // would silently do nothing.
    if args.biflow.is_some()
        && !(matches!(args.from, Preset::Nfdump | Preset::Silk) && kind == Kind::Flows)
    {
        return Err(crate::usage(format!(
            "--biflow pairs the two directions of unidirectional flow records (nfdump, silk); \
             {} records are already bidirectional: leave --biflow out",
            args.from
        )));
    }
    let opts = PresetOptions {
        strict: args.strict,
        tz: args
            .tz
            .as_deref()
            .map(engine::presets::parse_tz)
            .transpose()?,
        biflow_timeout: args.biflow.as_deref().map(parse_duration).transpose()?,
        ..PresetOptions::default()
    };
    let (inputs, not_data) = list_inputs(&args.inputs)?;
    // An input whose first lines clearly are another known format (an Argus CSV given as
    // zeek) would import as nothing but malformed records: refused before anything is written.
    for input in &inputs {
        let head = engine::load::text::text_head(&input.path, 8192)
            .with_context(|| format!("reading {}", input.name))?;
        if let Some(found) = engine::load::text::conflicting_preset(&head, args.from) {
            bail!(
                "{}: given as --from {}, but it looks like {}: import it with --from {found}",
                input.name,
                args.from,
                engine::load::text::describe_preset(found)
            );
        }
    }
    if !args.quiet {
        if let Some(note) = crate::run::not_data_note("input", &not_data) {
            eprintln!("{note}");
        }
    }
    if inputs.is_empty() {
        bail!("no input files found");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let existing = std::fs::read_dir(&args.out)
        .with_context(|| format!("reading {}", args.out.display()))?
        .filter_map(|e| e.ok())
        .any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("part-") && name.ends_with(".parquet")
        });
    if existing {
        bail!(
            "{} already holds part files: import into an empty folder (or remove them)",
            args.out.display()
        );
    }

    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|i| std::fs::metadata(&i.path).ok())
        .map(|m| m.len())
        .sum();
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {wide_msg} [{elapsed}, eta {eta}]",
            )
            .expect("static template"),
        );
        bar
    });

    let mut parts = Parts::new(&args.out, args.compression, args.max_rows_per_file);
    let mut lines = Vec::new();
    let (mut records, mut skipped) = (0u64, 0u64);
    for input in &inputs {
        if let Some(bar) = &bar {
            bar.set_message(input.name.clone());
        }
        let file = File::open(&input.path).with_context(|| format!("opening {}", input.name))?;
        let reader = Counting {
            inner: file,
            bar: bar.clone(),
        };
        let first_part = parts.next_index();
        let mut sink = |batch: RecordBatch| -> Result<()> {
            if batch.num_rows() == 0 {
                return Ok(());
            }
            parts.write(&with_source_file(&batch, &input.name)?)
        };
        let report = engine::presets::read_text_from(
            args.from,
            kind,
            reader,
            Path::new(&input.name),
            &opts,
            &mut sink,
        )
        .with_context(|| format!("importing {}", input.name))?;
        parts.close()?;
        records += report.records;
        skipped += report.skipped;
        let used: Vec<usize> = (first_part..parts.next_index()).collect();
        lines.push((summary(input, &report, &used), report.problems));
    }
    let done = parts.commit()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for (line, problems) in &lines {
        if !args.quiet || !problems.is_empty() {
            eprintln!("{line}");
        }
        for p in problems {
            eprintln!("  {p}");
        }
    }
    if !args.quiet {
        eprintln!(
            "wrote {records} {kind} row(s) in {} part file(s) to {} ({skipped} malformed record(s) skipped)",
            done.len(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(columns: &[&str], rows: u64) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(*c, DataType::UInt64, false))
            .collect();
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|_| Arc::new(arrow::array::UInt64Array::from_iter_values(0..rows)) as ArrayRef)
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("batch")
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn parts_roll_over_on_size_and_schema_and_appear_only_on_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut parts = Parts::new(dir.path(), Codec::Snappy, 2);
        parts.write(&batch(&["source_row"], 3)).expect("write");
        parts
            .write(&batch(&["source_row", "extra"], 1))
            .expect("write");
        parts.close().expect("close");
        assert!(listing(dir.path()).iter().all(|n| n.ends_with(".tmp")));
        let done = parts.commit().expect("commit");
        let rows: Vec<u64> = done.iter().map(|(_, n)| *n).collect();
        assert_eq!(rows, [2, 1, 1]);
        assert_eq!(
            listing(dir.path()),
            [
                "part-0000.parquet",
                "part-0001.parquet",
                "part-0002.parquet"
            ]
        );

        let failed = tempfile::tempdir().expect("tempdir");
        let mut parts = Parts::new(failed.path(), Codec::Zstd, 10);
        parts.write(&batch(&["source_row"], 3)).expect("write");
        drop(parts);
        assert!(
            listing(failed.path()).is_empty(),
            "an abandoned import leaves nothing"
        );
    }

    #[test]
    fn source_file_follows_source_row() {
        let out = with_source_file(&batch(&["a", "source_row", "b"], 2), "in.log").expect("adds");
        let names: Vec<String> = out
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["a", "source_row", "source_file", "b"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").ok(), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("90").ok(), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
