//! `flowpat run`: compile, read, run, print.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::load::{FileTable, Networks, ReadOptions};
use engine::run::{Inputs, Progress, RunOptions};

use crate::output::{self, Format};
use crate::patterns;

/// Arguments of `run`, after defaults from `flowpat.toml` are applied.
pub struct RunArgs {
    pub patterns: Vec<PathBuf>,
    pub flows: Vec<PathBuf>,
    pub events: Vec<PathBuf>,
    pub networks: Option<PathBuf>,
    pub workers: usize,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub strict: bool,
    pub params: Vec<(String, String)>,
    pub sample: bool,
}

/// Parses an RFC 3339 time (or a date) into UTC micros.
pub fn parse_time(text: &str) -> Result<i64> {
    if let Some(t) = compiler::resolve::parse_timestamp(text) {
        return Ok(t);
    }
    if let Ok(d) = chrono_date(text) {
        return Ok(d);
    }
    bail!("`{text}` is not a time: write RFC 3339 (2024-05-01T10:00:00Z) or a date (2024-05-01)")
}

fn chrono_date(text: &str) -> Result<i64> {
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() == 3 {
        let full = format!("{text}T00:00:00Z");
        if let Some(t) = compiler::resolve::parse_timestamp(&full) {
            return Ok(t);
        }
    }
    bail!("not a date")
}

/// The built-in sample archive, generated on first use under the target folder.
pub fn sample_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("FLOWPAT_SAMPLE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/flowpat-sample"));
    if !dir.join("networks.csv").exists() {
        eprintln!("generating the built-in sample archive in {} (100,000 flows, seed 1)…", dir.display());
        let opts = engine::generate::GenerateOptions { rows: 100_000, seed: 1, files: 4, out_dir: dir.clone(), ..Default::default() };
        engine::generate::generate(&opts).context("generating the sample archive")?;
    }
    Ok(dir)
}

/// What every data-reading command needs: compiled patterns and opened inputs.
pub struct Setup {
    pub compiled: patterns::CompiledSet,
    pub inputs: Inputs,
    pub read: ReadOptions,
}

/// Compiles the patterns (stopping before any data is read if one does not compile: `Ok(None)`),
/// then finds the input files and reads the networks file.
pub fn setup(args: &mut RunArgs) -> Result<Option<Setup>> {
    if args.sample {
        let dir = sample_dir()?;
        if args.flows.is_empty() {
            args.flows.push(dir.join("flows"));
        }
        if args.events.is_empty() {
            args.events.push(dir.join("events"));
        }
        if args.networks.is_none() {
            args.networks = Some(dir.join("networks.csv"));
        }
    }
    let files = patterns::pattern_files(&args.patterns)?;
    let compiled = patterns::compile_files(&files, &compiler::CompileOptions { params: args.params.clone() })?;
    eprint!("{}", patterns::render_diagnostics(&compiled, patterns::color()));
    if compiled.has_errors() {
        return Ok(None);
    }
    if compiled.patterns.is_empty() {
        bail!("no patterns to run in {}", args.patterns.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    }
    if args.flows.is_empty() {
        bail!("no flow archive: give --flows PATH (or set `flows` in flowpat.toml, or use --sample)");
    }
    let networks = match &args.networks {
        Some(path) => Networks::load(path).with_context(|| format!("reading networks file {}", path.display()))?,
        None => bail!("no networks file: give --networks FILE (or set `networks` in flowpat.toml)"),
    };
    let flows = engine::load::discover(&args.flows).context("finding flow files")?;
    let events = if args.events.is_empty() { FileTable::default() } else { engine::load::discover(&args.events).context("finding event files")? };
    let read = ReadOptions {
        strict: args.strict,
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
        ..ReadOptions::default()
    };
    Ok(Some(Setup { compiled, inputs: Inputs { flows, events, networks }, read }))
}

pub fn run(mut args: RunArgs) -> Result<ExitCode> {
    let Some(Setup { compiled, inputs, read }) = setup(&mut args)? else { return Ok(ExitCode::from(1)) };
    let (flows, events) = (inputs.flows.clone(), inputs.events.clone());
    let progress = Arc::new(Progress::default());
    let options = RunOptions { workers: args.workers.max(1), read, progress: progress.clone() };
    let plans: Vec<compiler::plan::JoinPlan> = compiled.patterns.iter().map(|(_, c)| c.plan.clone()).collect();
    let total_files = (flows.len() + events.len()) as u64;

    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(total_files);
        bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} files  {msg}  [{elapsed}]").expect("static template"));
        bar
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        if let Some(bar) = &bar {
            let progress = progress.clone();
            let done = &done;
            s.spawn(move || {
                let started = std::time::Instant::now();
                while !done.load(Ordering::Relaxed) {
                    let rows = progress.rows_read.load(Ordering::Relaxed);
                    let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                    bar.set_position(progress.files_done.load(Ordering::Relaxed));
                    bar.set_message(format!("{rows} rows ({:.0} rows/s)", rate));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let r = engine::run::run(&plans, &inputs, &options);
        done.store(true, Ordering::Relaxed);
        r
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let out = result.context("running the patterns")?;

    // Per-file load problems: counted, never silent.
    for report in &out.reports {
        if report.rows_skipped > 0 || report.negative_durations > 0 {
            let mut line = format!("{}: {} row(s) read", report.display, report.rows_read);
            if report.rows_skipped > 0 {
                line.push_str(&format!(", {} skipped", report.rows_skipped));
            }
            if report.negative_durations > 0 {
                line.push_str(&format!(", {} with end before start (kept)", report.negative_durations));
            }
            eprintln!("{line}");
            for p in &report.problems {
                eprintln!("  row {}: column `{}`: {} ({:?})", p.row, p.column, p.value, p.reason);
            }
        }
    }

    let results: Vec<&engine::output::ResultSet> = out.results.iter().collect();
    match &args.out {
        Some(path) if results.len() > 1 || path.is_dir() => {
            std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
            for ((file, _), set) in compiled.patterns.iter().zip(&results) {
                let stem = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "results".into());
                let in_file = compiled.patterns.iter().filter(|(f, _)| f == file).count();
                let name = if in_file <= 1 { stem } else { format!("{stem}-{}", set.pattern.replace(' ', "-")) };
                output::write_file(&[set], args.format, args.limit, &flows, &events, &path.join(format!("{name}.{}", args.format.extension())))?;
            }
        }
        Some(path) => output::write_file(&results, args.format, args.limit, &flows, &events, path)?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            for set in &results {
                output::write(set, args.format, args.limit.or((args.format == Format::Table).then_some(50)), &flows, &events, &mut lock)?;
            }
        }
    }
    if !args.quiet {
        let per: Vec<String> = out.results.iter().map(|r| format!("{}: {}", r.pattern, r.rows.len())).collect();
        eprintln!(
            "read {} rows from {} file(s), {} entered the dataflow after push-down; results — {}; {:.2}s",
            out.rows_read,
            total_files,
            out.rows_kept,
            per.join(", "),
            out.elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}


/// `flowpat why`: runs one pattern and explains one of its results.
pub fn why(mut args: RunArgs, name: Option<String>, row: Option<usize>, key: Option<String>) -> Result<ExitCode> {
    let Some(Setup { compiled, inputs, read }) = setup(&mut args)? else { return Ok(ExitCode::from(1)) };
    let chosen = match &name {
        Some(n) => compiled.patterns.iter().find(|(_, c)| &c.pattern.name == n).with_context(|| {
            let names: Vec<&str> = compiled.patterns.iter().map(|(_, c)| c.pattern.name.as_str()).collect();
            format!("no pattern named `{n}` (the file has: {})", names.join(", "))
        })?,
        None => &compiled.patterns[0],
    };
    let plan = chosen.1.plan.clone();
    let options = RunOptions { workers: 1, read, progress: Arc::new(Progress::default()) };
    let out = engine::run::run(std::slice::from_ref(&plan), &inputs, &options).context("running the pattern")?;
    let set = &out.results[0];
    if set.rows.is_empty() {
        bail!("`{}` has no results on this data", set.pattern);
    }
    let header = set.header();
    let index = match (row, &key) {
        (Some(r), _) => {
            if r >= set.rows.len() {
                bail!("--row {r} is past the last result ({} results, numbered from 0)", set.rows.len());
            }
            r
        }
        (None, Some(k)) => {
            let wanted: Vec<(String, String)> = k
                .split(',')
                .map(|kv| kv.split_once('=').map(|(a, b)| (a.trim().to_string(), b.trim().to_string())).with_context(|| format!("--key takes COL=VALUE pairs, got `{kv}`")))
                .collect::<Result<_>>()?;
            set.rows
                .iter()
                .position(|r| {
                    let cells = set.cells(r, &inputs.flows, &inputs.events);
                    wanted.iter().all(|(col, val)| {
                        if let Some(k) = header.iter().position(|h| h == col) {
                            return &cells[k] == val;
                        }
                        // A record column `conn=file:row`.
                        match (header.iter().position(|h| *h == format!("{col}.file")), header.iter().position(|h| *h == format!("{col}.row"))) {
                            (Some(f), Some(rr)) => format!("{}:{}", cells[f], cells[rr]) == *val,
                            _ => false,
                        }
                    })
                })
                .with_context(|| format!("no result of `{}` matches --key {k}", set.pattern))?
        }
        (None, None) => 0,
    };
    let result = &set.rows[index];
    let flows = &inputs.flows;
    let events = &inputs.events;
    let describe = |d: &engine::datum::Datum| match d {
        engine::datum::Datum::Conn(c) => format!("flow {} row {}", flows.get(c.id.file).map(|f| f.display.as_str()).unwrap_or("?"), c.id.row),
        engine::datum::Datum::Event(e) => format!("event {} row {}", events.get(e.id.file).map(|f| f.display.as_str()).unwrap_or("?"), e.id.row),
        other => engine::output::datum_text(other),
    };
    println!("result {index} of {} of `{}` ({} match{}):", set.rows.len(), set.pattern, result.count, if result.count == 1 { "" } else { "es" });
    for b in engine::why::explain_row(&plan, result, &inputs.networks, &describe) {
        println!("  {} = {}", b.instance, b.bound_to);
        for c in b.clauses {
            let mark = match c.holds {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "?",
            };
            let values = if c.values.is_empty() { String::new() } else { format!("   [{}]", c.values.join(", ")) };
            println!("      {mark} {}{values}", c.text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
