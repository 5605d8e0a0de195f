//! Printing result sets: table (for people), CSV, JSON lines and Parquet (typed columns).
//! Files are written to a temporary name beside the target and renamed when complete, so a
//! failed run never leaves half an output behind.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use engine::load::FileTable;
use engine::output::ResultSet;

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
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(set.header())?;
            for row in rows {
                csv.write_record(set.cells(row, flows, events))?;
            }
            csv.flush()?;
        }
        Format::Jsonl => {
            let header = set.header();
            for row in rows {
                let mut obj = serde_json::Map::new();
                obj.insert("pattern".into(), set.pattern.clone().into());
                for (h, c) in header.iter().zip(set.cells(row, flows, events)) {
                    let value = if h == "matches" || h.ends_with(".row") {
                        c.parse::<i64>().map(Into::into).unwrap_or(c.into())
                    } else {
                        c.into()
                    };
                    obj.insert(h.clone(), value);
                }
                writeln!(w, "{}", serde_json::Value::Object(obj))?;
            }
        }
        Format::Table => {
            let header = set.header();
            // People read identities and a few telling attributes; CSV has everything.
            let keep: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    !h.contains('.')
                        || [
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
                        ]
                        .iter()
                        .any(|s| h.ends_with(s))
                })
                .map(|(k, _)| k)
                .collect();
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
            table.set_header(keep.iter().map(|k| header[*k].clone()));
            for row in rows {
                let cells = set.cells(row, flows, events);
                table.add_row(keep.iter().map(|k| truncate(&cells[*k], 40)));
            }
            writeln!(
                w,
                "{}  ({} result{})",
                set.pattern,
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

/// Shortens a cell to at most `max` characters, never splitting a character.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Writes `sets` to `path` (a file; for several sets in one file, formats concatenate).
pub fn write_file(
    sets: &[&ResultSet],
    format: Format,
    limit: Option<usize>,
    flows: &FileTable,
    events: &FileTable,
    path: &Path,
) -> Result<()> {
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
    // Temporary files are private (0600); a result file is an ordinary file (0644).
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

fn write_parquet(
    set: &ResultSet,
    limit: Option<usize>,
    flows: &FileTable,
    events: &FileTable,
    file: &mut std::fs::File,
) -> Result<()> {
    let header = set.header();
    let rows = &set.rows[..limit.unwrap_or(usize::MAX).min(set.rows.len())];
    let numeric = |h: &str| h == "matches" || h.ends_with(".row");
    let fields: Vec<Field> = header
        .iter()
        .map(|h| {
            Field::new(
                h,
                if numeric(h) {
                    DataType::UInt64
                } else {
                    DataType::Utf8
                },
                true,
            )
        })
        .collect();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let cells: Vec<Vec<String>> = rows.iter().map(|r| set.cells(r, flows, events)).collect();
    for (k, h) in header.iter().enumerate() {
        if numeric(h) {
            let mut b = UInt64Builder::new();
            for c in &cells {
                b.append_option(c[k].parse::<u64>().ok());
            }
            columns.push(Arc::new(b.finish()));
        } else {
            let mut b = StringBuilder::new();
            for c in &cells {
                b.append_value(&c[k]);
            }
            columns.push(Arc::new(b.finish()));
        }
    }
    let mut metadata = std::collections::HashMap::new();
    metadata.insert("flowpat.pattern".to_string(), set.pattern.clone());
    let schema = Arc::new(Schema::new(fields).with_metadata(metadata));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
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
