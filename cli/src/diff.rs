//! `flowpat diff`: what changing a pattern changes in its results, and what changed between two
//! saved result files.
//!
//! Revision diff: both revisions are compiled (a revision is a file, or `path@REV` read with
//! `git show`, its `use`d files from the same revision) and their plans run in *one* engine
//! run, so they see exactly the same rows. The two result sets are then consolidated with the
//! old one negated: a tuple left at `-1` is only in OLD, at `+1` only in NEW, and one that
//! cancels is in both. A second consolidation over match counts finds tuples in both whose
//! number of matches changed. Exit 1 when anything differs, as `diff(1)` does.
//!
//! Saved-results diff compares two files written by `run --out` (CSV or Parquet) by their
//! columns other than `matches`, and reports the provenance Parquet files carry.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use compiler::source::SourceMap;
use compiler::{CompileOptions, Compiled};
use engine::load::{FileTable, Networks};
use engine::output::{consolidate, ResultRow, ResultSet};
use engine::run::RunOptions;

use crate::output;
use crate::patterns::{self, CompiledSet};
use crate::run::{self, RunArgs};

/// Output formats of `diff`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum DiffFormat {
    /// Summary and the differing rows, for people
    Table,
    /// The differing rows with a `change` column (`removed`, `added`, `matches`)
    Csv,
}

/// One side of a revision diff: a pattern file, or a file at a git revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revision {
    /// A file on disk.
    File(PathBuf),
    /// `path@REV`: the file as committed at `rev`.
    Git {
        /// The file's path (relative to the current folder, or absolute).
        path: PathBuf,
        /// Any revision `git show` accepts.
        rev: String,
    },
}

impl Revision {
    /// `path@REV`, or a plain path. A path that exists as written is a file even if it
    /// contains `@`.
    pub fn parse(text: &str) -> Revision {
        if !Path::new(text).exists() {
            if let Some((path, rev)) = text.rsplit_once('@') {
                if !path.is_empty() && !rev.is_empty() {
                    return Revision::Git {
                        path: PathBuf::from(path),
                        rev: rev.to_string(),
                    };
                }
            }
        }
        Revision::File(PathBuf::from(text))
    }

    fn label(&self) -> String {
        match self {
            Revision::File(p) => p.display().to_string(),
            Revision::Git { path, rev } => format!("{}@{rev}", path.display()),
        }
    }
}

/// Reads `name` (relative to `dir`) as committed at `rev`.
fn git_show(dir: &Path, name: &Path, rev: &str) -> Result<String, String> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let spec = format!("{rev}:./{}", name.display());
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show", &spec])
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {spec} (in {}): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("git show {spec}: not UTF-8"))
}

/// Compiles one revision; `use`d files come from the same revision. Also returns every used
/// file read, by name.
fn compile_revision(
    rev: &Revision,
    options: &CompileOptions,
) -> Result<(CompiledSet, BTreeMap<String, String>)> {
    let (text, name) = match rev {
        Revision::File(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("reading pattern file {}", path.display()))?,
            path.display().to_string(),
        ),
        Revision::Git { path, rev } => {
            let dir = path.parent().unwrap_or(Path::new(""));
            let file = Path::new(path.file_name().context("a pattern path names a file")?);
            let text = git_show(dir, file, rev).map_err(anyhow::Error::msg)?;
            (text, format!("{}@{rev}", path.display()))
        }
    };
    let mut sources = SourceMap::new();
    let id = sources.add(name, text);
    let mut uses = BTreeMap::new();
    let mut read_use = |used: &str, from: &str| -> Result<(String, String), String> {
        let read = match rev {
            Revision::File(_) => {
                let base = Path::new(from).parent().unwrap_or(Path::new("."));
                let full = base.join(used);
                std::fs::read_to_string(&full)
                    .map(|t| (full.display().to_string(), t))
                    .map_err(|e| e.to_string())
            }
            Revision::Git { rev, .. } => {
                let from_path = from.rsplit_once('@').map_or(from, |(p, _)| p);
                let base = Path::new(from_path).parent().unwrap_or(Path::new(""));
                let full = base.join(used);
                git_show(base, Path::new(used), rev)
                    .map(|t| (format!("{}@{rev}", full.display()), t))
            }
        };
        if let Ok((name, text)) = &read {
            uses.insert(name.clone(), text.clone());
        }
        read
    };
    let (compiled, diagnostics) = compiler::compile(&mut sources, id, options, &mut read_use);
    let file = PathBuf::from(rev.label());
    let set = CompiledSet {
        sources,
        patterns: compiled.into_iter().map(|c| (file.clone(), c)).collect(),
        diagnostics,
    };
    Ok((set, uses))
}

/// What differs between two result sets of one pattern.
pub struct Comparison {
    /// Tuples only in OLD, with their rows.
    pub only_old: Vec<ResultRow>,
    /// Tuples only in NEW.
    pub only_new: Vec<ResultRow>,
    /// Tuples in both whose match counts differ: (NEW row, OLD count).
    pub changed: Vec<(ResultRow, i64)>,
    /// Tuples in both.
    pub both: usize,
}

impl Comparison {
    /// Whether the two sets are the same (tuples and match counts).
    pub fn agrees(&self) -> bool {
        self.only_old.is_empty() && self.only_new.is_empty() && self.changed.is_empty()
    }
}

/// Compares two result sets by consolidating NEW with OLD negated.
pub fn compare(old: &ResultSet, new: &ResultSet) -> Comparison {
    let presence = consolidate(
        old.rows
            .iter()
            .map(|r| (r.values.clone(), -1))
            .chain(new.rows.iter().map(|r| (r.values.clone(), 1))),
    );
    let counts = consolidate(
        old.rows
            .iter()
            .map(|r| (r.values.clone(), -r.count))
            .chain(new.rows.iter().map(|r| (r.values.clone(), r.count))),
    );
    let find = |set: &ResultSet, values: &engine::datum::Row| {
        set.rows
            .binary_search_by(|r| r.values.cmp(values))
            .ok()
            .map(|k| set.rows[k].clone())
    };
    let mut only_old = Vec::new();
    let mut only_new = Vec::new();
    for row in &presence {
        if row.count < 0 {
            only_old.extend(find(old, &row.values));
        } else {
            only_new.extend(find(new, &row.values));
        }
    }
    let mut changed = Vec::new();
    let mut p = presence.iter().peekable();
    for row in &counts {
        while p.peek().is_some_and(|x| x.values < row.values) {
            p.next();
        }
        if p.peek().is_some_and(|x| x.values == row.values) {
            continue;
        }
        if let (Some(o), Some(n)) = (find(old, &row.values), find(new, &row.values)) {
            changed.push((n, o.count));
        }
    }
    let both = old.rows.len() - only_old.len();
    Comparison {
        only_old,
        only_new,
        changed,
        both,
    }
}

/// Pairs the patterns of two revisions: by name, or the only pattern of each.
fn pair<'a>(
    old: &'a [(PathBuf, Compiled)],
    new: &'a [(PathBuf, Compiled)],
) -> Result<Vec<(&'a Compiled, &'a Compiled)>> {
    if old.len() == 1 && new.len() == 1 {
        return Ok(vec![(&old[0].1, &new[0].1)]);
    }
    let mut out = Vec::new();
    for (_, o) in old {
        match new.iter().find(|(_, n)| n.pattern.name == o.pattern.name) {
            Some((_, n)) => out.push((o, n)),
            None => eprintln!(
                "note: pattern `{}` is only in OLD; not compared",
                o.pattern.name
            ),
        }
    }
    for (_, n) in new {
        if !old.iter().any(|(_, o)| o.pattern.name == n.pattern.name) {
            eprintln!(
                "note: pattern `{}` is only in NEW; not compared",
                n.pattern.name
            );
        }
    }
    if out.is_empty() {
        bail!("OLD and NEW have no pattern in common (by name)");
    }
    Ok(out)
}

/// `flowpat diff OLD NEW`: both revisions on the same data in one run.
pub fn diff_revisions(
    mut args: RunArgs,
    old: &str,
    new: &str,
    format: DiffFormat,
    limit: Option<usize>,
) -> Result<ExitCode> {
    let options = CompileOptions {
        params: args.params.clone(),
    };
    let (old_rev, new_rev) = (Revision::parse(old), Revision::parse(new));
    let (old_set, old_uses) = compile_revision(&old_rev, &options)?;
    let (new_set, new_uses) = compile_revision(&new_rev, &options)?;
    for set in [&old_set, &new_set] {
        eprint!("{}", patterns::render_diagnostics(set, patterns::color()));
    }
    if old_set.has_errors() || new_set.has_errors() {
        bail!("a revision does not compile; nothing compared");
    }
    // A parameter is known if either revision (or a file it uses) declares it.
    let mut declared = BTreeSet::new();
    for (set, uses) in [(&old_set, &old_uses), (&new_set, &new_uses)] {
        let root = set.sources.get(compiler::source::SourceId(0));
        declared.extend(patterns::declared_params(&root.text));
        for text in uses.values() {
            declared.extend(patterns::declared_params(text));
        }
    }
    patterns::check_params(&options.params, &declared)?;
    let pairs = pair(&old_set.patterns, &new_set.patterns)?;

    let inputs = run::open_inputs(&mut args)?;
    let plans: Vec<compiler::plan::JoinPlan> = pairs
        .iter()
        .flat_map(|(o, n)| [o.plan.clone(), n.plan.clone()])
        .collect();
    let run_options = RunOptions {
        workers: args.workers.max(1),
        read: inputs.1,
        ..RunOptions::default()
    };
    let out =
        engine::run::run(&plans, &inputs.0, &run_options).context("running both revisions")?;
    // Skipped unreadable rows are never silent (notes are: diff runs quietly).
    run::print_load_reports(&out.reports, false);

    let mut w = output::stdout();
    let mut differ = false;
    for (k, (o, _)) in pairs.iter().enumerate() {
        let (old_res, new_res) = (&out.results[2 * k], &out.results[2 * k + 1]);
        if old_res.header() != new_res.header() {
            eprintln!(
                "note: `{}`: OLD and NEW export different columns; rows compare as identity tuples",
                o.pattern.name
            );
        }
        let cmp = compare(old_res, new_res);
        differ |= !cmp.agrees();
        let titles = (old_rev.label(), new_rev.label());
        let (flows, events) = (&inputs.0.flows, &inputs.0.events);
        write_comparison(
            &mut w, format, limit, &titles, old_res, new_res, &cmp, flows, events,
        )?;
    }
    Ok(if differ {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[allow(clippy::too_many_arguments)]
fn write_comparison(
    w: &mut dyn Write,
    format: DiffFormat,
    limit: Option<usize>,
    (old_label, new_label): &(String, String),
    old: &ResultSet,
    new: &ResultSet,
    cmp: &Comparison,
    flows: &FileTable,
    events: &FileTable,
) -> Result<()> {
    let limit = limit.unwrap_or(usize::MAX);
    match format {
        DiffFormat::Csv => {
            let mut csv = csv::Writer::from_writer(w);
            let mut header = vec!["change".to_string()];
            header.extend(new.header());
            csv.write_record(&header)?;
            for row in cmp.only_old.iter().take(limit) {
                csv.write_record(
                    std::iter::once("removed".to_string()).chain(old.cells(row, flows, events)),
                )?;
            }
            for row in cmp.only_new.iter().take(limit) {
                csv.write_record(
                    std::iter::once("added".to_string()).chain(new.cells(row, flows, events)),
                )?;
            }
            for (row, _) in cmp.changed.iter().take(limit) {
                csv.write_record(
                    std::iter::once("matches".to_string()).chain(new.cells(row, flows, events)),
                )?;
            }
            csv.flush()?;
        }
        DiffFormat::Table => {
            writeln!(w, "{}", output::terminal_safe(&new.pattern))?;
            writeln!(w, "  OLD {old_label}: {} result(s)", old.rows.len())?;
            writeln!(w, "  NEW {new_label}: {} result(s)", new.rows.len())?;
            writeln!(
                w,
                "  in both: {}   only in OLD (removed): {}   only in NEW (added): {}   matches changed: {}",
                cmp.both,
                cmp.only_old.len(),
                cmp.only_new.len(),
                cmp.changed.len()
            )?;
            let sections: [(&str, &ResultSet, Vec<&ResultRow>); 3] = [
                ("removed (only in OLD)", old, cmp.only_old.iter().collect()),
                ("added (only in NEW)", new, cmp.only_new.iter().collect()),
                (
                    "matches changed (NEW counts)",
                    new,
                    cmp.changed.iter().map(|(r, _)| r).collect(),
                ),
            ];
            for (title, set, rows) in sections {
                if rows.is_empty() {
                    continue;
                }
                let mut part = set.clone();
                part.pattern = format!("  {title}");
                part.rows = rows.into_iter().cloned().collect();
                let shown = limit.min(part.rows.len());
                output::write(&part, output::Format::Table, Some(shown), flows, events, w)?;
            }
            if cmp.agrees() {
                writeln!(w, "  no differences\n")?;
            }
        }
    }
    Ok(())
}

/// A saved result file read back: its header, rows, and Parquet key-value metadata.
pub struct Saved {
    /// Column names.
    pub header: Vec<String>,
    /// Rows as printed.
    pub rows: Vec<Vec<String>>,
    /// `flowpat.*` metadata (Parquet only).
    pub metadata: BTreeMap<String, String>,
}

/// Reads a CSV or Parquet file written by `run --out`.
pub fn read_saved(path: &Path) -> Result<Saved> {
    let mut head = [0u8; 4];
    let n = std::io::Read::read(
        &mut std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        &mut head,
    )?;
    if n == 4 && &head == b"PAR1" {
        return read_saved_parquet(path);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(Saved {
        header,
        rows,
        metadata: BTreeMap::new(),
    })
}

/// The printed text of each value of a Parquet column written by `run`: the same text CSV
/// has (times in RFC 3339 with microseconds, `durationSeconds` as exact decimal seconds,
/// absent values empty), so typed and older all-text files and CSV compare alike.
fn column_text(column: &dyn arrow::array::Array, path: &Path) -> Result<Vec<String>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{
        DataType, Decimal128Type, Int64Type, TimeUnit, TimestampMicrosecondType, UInt64Type,
    };
    let n = column.len();
    let texts = |f: &dyn Fn(usize) -> String| -> Vec<String> {
        (0..n)
            .map(|i| {
                if column.is_null(i) {
                    String::new()
                } else {
                    f(i)
                }
            })
            .collect()
    };
    Ok(match column.data_type() {
        DataType::UInt64 => {
            let a = column.as_primitive::<UInt64Type>();
            texts(&|i| a.value(i).to_string())
        }
        DataType::Int64 => {
            let a = column.as_primitive::<Int64Type>();
            texts(&|i| a.value(i).to_string())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let a = column.as_primitive::<TimestampMicrosecondType>();
            texts(&|i| compiler::hir::format_time(a.value(i)))
        }
        DataType::Decimal128(_, scale) if (0..=38).contains(scale) => {
            let a = column.as_primitive::<Decimal128Type>();
            let denominator = 10i128.pow(u32::from(scale.unsigned_abs()));
            texts(&|i| {
                compiler::num::Num::ratio(a.value(i), denominator)
                    .map(|x| x.to_string())
                    .unwrap_or_default()
            })
        }
        DataType::Boolean => {
            let a = column.as_boolean();
            texts(&|i| a.value(i).to_string())
        }
        DataType::Utf8 => {
            let a = column.as_string::<i32>();
            texts(&|i| a.value(i).to_string())
        }
        DataType::LargeUtf8 => {
            let a = column.as_string::<i64>();
            texts(&|i| a.value(i).to_string())
        }
        other => bail!(
            "{}: column of type {other} is not one `run` writes",
            path.display()
        ),
    })
}

fn read_saved_parquet(path: &Path) -> Result<Saved> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("reading Parquet {}", path.display()))?;
    let mut metadata = BTreeMap::new();
    if let Some(kv) = builder.metadata().file_metadata().key_value_metadata() {
        for entry in kv {
            if entry.key.starts_with("flowpat.") {
                metadata.insert(entry.key.clone(), entry.value.clone().unwrap_or_default());
            }
        }
    }
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = Vec::new();
    for batch in builder.build()? {
        let batch = batch?;
        let columns: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|column| column_text(column.as_ref(), path))
            .collect::<Result<_>>()?;
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(Saved {
        header,
        rows,
        metadata,
    })
}

/// `flowpat diff --results A B`.
pub fn diff_results(
    a: &Path,
    b: &Path,
    format: DiffFormat,
    limit: Option<usize>,
) -> Result<ExitCode> {
    let (old, new) = (read_saved(a)?, read_saved(b)?);
    if old.header != new.header {
        bail!(
            "{} and {} have different columns:\n  {}\n  {}",
            a.display(),
            b.display(),
            old.header.join(","),
            new.header.join(",")
        );
    }
    for key in [
        "flowpat.pattern.sha256",
        "flowpat.plan.sha256",
        "flowpat.flows",
        "flowpat.events",
        "flowpat.networks.fingerprint",
    ] {
        let (x, y) = (old.metadata.get(key), new.metadata.get(key));
        if x.is_some() && y.is_some() && x != y {
            eprintln!("note: {key} differs between the two files");
        }
    }
    let matches = old.header.iter().position(|h| h == "matches");
    let split = |rows: &[Vec<String>]| -> BTreeMap<Vec<String>, (String, Vec<String>)> {
        rows.iter()
            .map(|r| {
                let key: Vec<String> = r
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| Some(*k) != matches)
                    .map(|(_, c)| c.clone())
                    .collect();
                let count = matches.map(|m| r[m].clone()).unwrap_or_default();
                (key, (count, r.clone()))
            })
            .collect()
    };
    let (old_rows, new_rows) = (split(&old.rows), split(&new.rows));
    let only_old: Vec<&Vec<String>> = old_rows
        .iter()
        .filter(|(k, _)| !new_rows.contains_key(*k))
        .map(|(_, (_, r))| r)
        .collect();
    let only_new: Vec<&Vec<String>> = new_rows
        .iter()
        .filter(|(k, _)| !old_rows.contains_key(*k))
        .map(|(_, (_, r))| r)
        .collect();
    let changed: Vec<&Vec<String>> = new_rows
        .iter()
        .filter(|(k, (count, _))| old_rows.get(*k).is_some_and(|(c, _)| c != count))
        .map(|(_, (_, r))| r)
        .collect();
    let both = old_rows
        .keys()
        .filter(|k| new_rows.contains_key(*k))
        .count();
    let limit = limit.unwrap_or(usize::MAX);
    let mut w = output::stdout();
    match format {
        DiffFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut w);
            csv.write_record(
                std::iter::once("change").chain(old.header.iter().map(String::as_str)),
            )?;
            for (change, rows) in [
                ("removed", &only_old),
                ("added", &only_new),
                ("matches", &changed),
            ] {
                for row in rows.iter().take(limit) {
                    csv.write_record(
                        std::iter::once(change).chain(row.iter().map(String::as_str)),
                    )?;
                }
            }
            csv.flush()?;
        }
        DiffFormat::Table => {
            writeln!(w, "OLD {}: {} result(s)", a.display(), old.rows.len())?;
            writeln!(w, "NEW {}: {} result(s)", b.display(), new.rows.len())?;
            writeln!(
                w,
                "in both: {both}   only in OLD (removed): {}   only in NEW (added): {}   matches changed: {}",
                only_old.len(),
                only_new.len(),
                changed.len()
            )?;
            for (title, rows) in [
                ("removed (only in OLD)", &only_old),
                ("added (only in NEW)", &only_new),
                ("matches changed (NEW counts)", &changed),
            ] {
                if rows.is_empty() {
                    continue;
                }
                let mut table = output::rows_table();
                table.set_header(old.header.iter().map(|h| output::table_cell(h, usize::MAX)));
                for row in rows.iter().take(limit) {
                    table.add_row(
                        old.header
                            .iter()
                            .zip(row.iter())
                            .map(|(h, c)| output::column_cell(h, c, 40)),
                    );
                }
                writeln!(w, "{title}\n{table}")?;
                if rows.len() > limit {
                    writeln!(
                        w,
                        "  … {} more (use --limit or --format csv)",
                        rows.len() - limit
                    )?;
                }
            }
        }
    }
    let agree = only_old.is_empty() && only_new.is_empty() && changed.is_empty();
    Ok(if agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The printing context of a `run`: its networks (for views, as the run read them) and, per
/// pattern, the source it was compiled from, its parameters and hashes (saved with Parquet
/// results). Best effort: a file that cannot be read here is reported by the run itself.
pub fn output_context(args: &RunArgs, networks: &Networks) -> output::PrintContext {
    use sha2::{Digest, Sha256};
    let networks = Some(networks.clone());
    let mut patterns = BTreeMap::new();
    let options = CompileOptions {
        params: args.params.clone(),
    };
    let files = patterns::pattern_files(&args.patterns).unwrap_or_default();
    for file in files {
        let Ok((set, uses)) = compile_revision(&Revision::File(file.clone()), &options) else {
            continue;
        };
        for (_, compiled) in &set.patterns {
            let text = set.sources.get(compiled.source).text.clone();
            let params = serde_json::to_string(&args.params).unwrap_or_default();
            let uses_json = serde_json::to_string(&uses).unwrap_or_default();
            let canonical =
                serde_json::json!({ "text": text, "uses": uses, "params": args.params })
                    .to_string();
            let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
            let entries = vec![
                (
                    "flowpat.pattern.name".to_string(),
                    compiled.pattern.name.clone(),
                ),
                (
                    "flowpat.pattern.file".to_string(),
                    file.display().to_string(),
                ),
                ("flowpat.pattern.text".to_string(), text),
                ("flowpat.pattern.uses".to_string(), uses_json),
                ("flowpat.params".to_string(), params),
                (
                    "flowpat.pattern.sha256".to_string(),
                    hex(&Sha256::digest(canonical.as_bytes())),
                ),
                (
                    "flowpat.plan.sha256".to_string(),
                    hex(&Sha256::digest(compiled.explain().as_bytes())),
                ),
            ];
            patterns.insert(compiled.pattern.name.clone(), entries);
        }
    }
    output::PrintContext { networks, patterns }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_parse() {
        assert_eq!(
            Revision::parse("patterns/x.pattern@HEAD~1"),
            Revision::Git {
                path: "patterns/x.pattern".into(),
                rev: "HEAD~1".into()
            }
        );
        assert_eq!(
            Revision::parse("no-at.pattern"),
            Revision::File("no-at.pattern".into())
        );
        assert_eq!(Revision::parse("@HEAD"), Revision::File("@HEAD".into()));
    }
}
