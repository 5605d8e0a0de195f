//! `flowpat run`: compile, read, run, print.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::load::{FileTable, LoadReport, Networks, ReadOptions};
use engine::presets::{Kind, Preset};
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
    pub text: TextArgs,
}

/// How sensor text given as `--flows`/`--events` is read (see `engine::presets`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TextArgs {
    /// Read --flows as sensor text: zeek, suricata, argus, nfdump or silk [default: Parquet or Arrow IPC, by their magic bytes]
    #[arg(long, value_name = "FORMAT", value_parser = parse_preset)]
    pub flows_format: Option<Preset>,
    /// Read --events as sensor text: zeek-notice or suricata (its alerts)
    #[arg(long, value_name = "FORMAT", value_parser = parse_preset)]
    pub events_format: Option<Preset>,
    /// Zone of text timestamps printed without one (nfdump, Argus): UTC or a fixed offset such as +02:00
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Pair the two directions of unidirectional nfdump/SiLK records whose starts are at most TIMEOUT apart (e.g. 60s)
    #[arg(long, value_name = "TIMEOUT")]
    pub biflow: Option<String>,
}

fn parse_preset(text: &str) -> Result<Preset, engine::presets::PresetError> {
    text.parse()
}

impl TextArgs {
    /// Checks that each named preset reads its archive's kind, and applies `--tz`/`--biflow`.
    pub fn apply(&self, read: &mut ReadOptions) -> Result<()> {
        for (preset, kind, flag) in [
            (self.flows_format, Kind::Flows, "--flows-format"),
            (self.events_format, Kind::Events, "--events-format"),
        ] {
            if let Some(preset) = preset {
                if !preset.supports(kind) {
                    let other = if kind == Kind::Flows {
                        "--events-format"
                    } else {
                        "--flows-format"
                    };
                    return Err(crate::usage(format!("{flag} {preset}: the {preset} preset reads {}, not {kind}; give it as {other} {preset}", preset.default_kind())));
                }
            }
        }
        if self.flows_format.is_none()
            && self.events_format.is_none()
            && (self.tz.is_some() || self.biflow.is_some())
        {
            return Err(crate::usage("--tz and --biflow apply to text inputs only: name their format with --flows-format or --events-format"));
        }
        // Pairing applies to unidirectional flow records only; anywhere else --biflow would
        // silently do nothing, which the analyst would take for pairing done.
        if self.biflow.is_some() {
            match self.flows_format {
                Some(Preset::Nfdump | Preset::Silk) => {}
                Some(preset) => {
                    return Err(crate::usage(format!(
                        "--biflow pairs the two directions of unidirectional records (nfdump, silk); \
                         {preset} records are already bidirectional: leave --biflow out"
                    )))
                }
                None => {
                    return Err(crate::usage(
                        "--biflow pairs unidirectional flow records: it needs --flows-format nfdump or silk",
                    ))
                }
            }
        }
        read.tz = self
            .tz
            .as_deref()
            .map(engine::presets::parse_tz)
            .transpose()?;
        read.biflow_timeout = self
            .biflow
            .as_deref()
            .map(crate::import::parse_duration)
            .transpose()?;
        Ok(())
    }
}

/// Prints what went wrong (or was left aside) while reading each file: skipped rows with
/// their row, malformed text lines with their line — always, they are errors; with `verbose`
/// (not `--quiet`) also the notes: kept flows that end before they start, text records of
/// other types, records that are no flow (Argus `arp`) or no event (Zeek notices naming no
/// destination) and biflow pairs. Never silent about a
/// skipped malformed record.
pub fn print_load_reports(reports: &[LoadReport], verbose: bool) {
    for report in reports {
        let text = report.text.as_ref();
        let other = text.map_or(0, |t| t.other_types);
        let paired = text.map_or(0, |t| t.paired);
        let not_records = text.map_or(0, |t| t.not_flows + t.not_events);
        let notable = verbose
            && (other > 0 || paired > 0 || not_records > 0 || report.negative_durations > 0);
        if report.rows_skipped == 0 && !notable {
            continue;
        }
        // Read as flows or as events: the same file may be read as both.
        let kind = if report.events { "events" } else { "flows" };
        let mut line = format!(
            "{kind} {}: {} row(s) read",
            report.display, report.rows_read
        );
        if report.rows_skipped > 0 {
            line.push_str(&format!(", {} skipped", report.rows_skipped));
            if let Some(text) = text.filter(|t| t.malformed > 0) {
                line.push_str(&format!(
                    " ({} malformed {} line(s))",
                    text.malformed, text.preset
                ));
            }
        }
        if verbose {
            if report.negative_durations > 0 {
                line.push_str(&format!(
                    ", {} with end before start (kept)",
                    report.negative_durations
                ));
            }
            if let Some(text) = text.filter(|t| t.not_flows > 0) {
                line.push_str(&format!(
                    ", {} record(s) skipped as not a flow ({})",
                    text.not_flows,
                    text.not_flow_protocols.join(", ")
                ));
            }
            if let Some(text) = text.filter(|t| t.not_events > 0) {
                line.push_str(&format!(
                    ", {} record(s) skipped as not an event ({})",
                    text.not_events,
                    text.not_event_reasons.join(", ")
                ));
            }
            if other > 0 {
                line.push_str(&format!(", {other} record(s) of other types ignored"));
            }
            if paired > 0 {
                line.push_str(&format!(", {paired} record(s) paired into biflows"));
            }
        }
        eprintln!("{}", output::terminal_safe(&line));
        for p in text.map(|t| t.problems.as_slice()).unwrap_or_default() {
            eprintln!("  {}", output::terminal_safe(&p.to_string()));
        }
        for p in &report.problems {
            eprintln!("{}", output::terminal_safe(&format!("  {p}")));
        }
    }
}

/// Parses an RFC 3339 time (or a date) into UTC micros.
pub fn parse_time(text: &str) -> Result<i64> {
    if let Some(t) = compiler::resolve::parse_timestamp(text) {
        return Ok(t);
    }
    if let Ok(d) = chrono_date(text) {
        return Ok(d);
    }
    Err(crate::usage(format!(
        "`{text}` is not a time: write RFC 3339 (2024-05-01T10:00:00Z) or a date (2024-05-01)"
    )))
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

/// Where the built-in sample archive is (generated or not): `FLOWPAT_SAMPLE_DIR`; else, for a
/// binary built in a checkout (`…/target/release/flowpat`), that `target/flowpat-sample`;
/// else the user's cache (`$XDG_CACHE_HOME/flowpat/sample`, `~/.cache/flowpat/sample`; with
/// neither, the temporary folder's `flowpat-sample`) — never a `target/` folder made in
/// whatever folder the command is run from.
pub fn sample_location() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLOWPAT_SAMPLE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().ok();
    if let Some(target) = exe.as_deref().and_then(Path::parent).and_then(Path::parent) {
        if target.file_name() == Some("target".as_ref()) {
            return target.join("flowpat-sample");
        }
    }
    // XDG: a relative XDG_CACHE_HOME is to be ignored; without HOME, the temporary folder.
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".cache"))
        });
    match cache {
        Some(cache) => cache.join("flowpat").join("sample"),
        None => std::env::temp_dir().join("flowpat-sample"),
    }
}

/// Removes staging folders of the sample (`.NAME.PID.tmp` beside it) that a killed run left:
/// those untouched for an hour (a generation takes seconds, so none is still being written).
fn remove_stale_stages(dir: &Path, name: &str) {
    let Some(parent) = dir.parent() else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") && stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The built-in sample archive, generated on first use (said on stderr unless `quiet`).
pub fn sample_dir(quiet: bool) -> Result<PathBuf> {
    let dir = sample_location();
    if !dir.join("networks.csv").exists() {
        if dir.exists() && !dir.join("networks.csv").exists() {
            // Never removed here: it may be a half-written sample of an older version (which
            // generated in place) or a folder FLOWPAT_SAMPLE_DIR names by mistake.
            bail!(
                "{} exists but holds no complete sample archive (no networks.csv): remove it, \
                 or set FLOWPAT_SAMPLE_DIR to another folder",
                dir.display()
            );
        }
        if !quiet {
            eprintln!(
                "generating the built-in sample archive in {} (100,000 flows, seed 1)…",
                dir.display()
            );
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // Generated beside it and renamed into place, so that a run started meanwhile (another
        // terminal, the other processes of a cluster on this host) never reads half of it.
        let name = dir.file_name().map_or("flowpat-sample".into(), |n| {
            n.to_string_lossy().into_owned()
        });
        let staged = dir.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&staged);
        remove_stale_stages(&dir, &name);
        let opts = engine::generate::GenerateOptions {
            rows: 100_000,
            seed: 1,
            files: 4,
            out_dir: staged.clone(),
            ..Default::default()
        };
        engine::generate::generate(&opts).context("generating the sample archive")?;
        if let Err(e) = std::fs::rename(&staged, &dir) {
            let _ = std::fs::remove_dir_all(&staged);
            // Another process renamed its (identical) archive into place first.
            if !dir.join("networks.csv").exists() {
                return Err(e)
                    .with_context(|| format!("moving the sample archive to {}", dir.display()));
            }
        }
    }
    Ok(dir)
}

/// What every data-reading command needs: compiled patterns and opened inputs.
pub struct Setup {
    pub compiled: patterns::CompiledSet,
    pub inputs: Inputs,
    pub read: ReadOptions,
}

/// Compiles the patterns, printing their diagnostics: `Ok(None)` if one does not compile.
/// An unknown `--param` is an error.
pub fn compile(args: &RunArgs) -> Result<Option<patterns::CompiledSet>> {
    compile_as(args, true)
}

/// As [`compile`]; without `warnings` the diagnostics are printed only when one is an error
/// (a cluster's other processes leave warnings to process 0, but each says why it stops).
pub fn compile_as(args: &RunArgs, warnings: bool) -> Result<Option<patterns::CompiledSet>> {
    let files = patterns::pattern_files(&args.patterns)?;
    let compiled = patterns::compile_files(
        &files,
        &compiler::CompileOptions {
            params: args.params.clone(),
        },
    )?;
    if warnings || compiled.has_errors() {
        eprint!(
            "{}",
            patterns::render_diagnostics(&compiled, patterns::color())
        );
    }
    if compiled.has_errors() {
        return Ok(None);
    }
    if compiled.patterns.is_empty() {
        // Files that hold no `search` are refused as `check` refuses them: a pattern finding.
        eprintln!(
            "error: no patterns to run in {}: no `search` in them",
            args.patterns
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(None);
    }
    Ok(Some(compiled))
}

/// Compiles the patterns (stopping before any data is read if one does not compile: `Ok(None)`),
/// then finds the input files and reads the networks file.
pub fn setup(args: &mut RunArgs) -> Result<Option<Setup>> {
    let Some(compiled) = compile(args)? else {
        return Ok(None);
    };
    let (inputs, read) = open_inputs(args)?;
    Ok(Some(Setup {
        compiled,
        inputs,
        read,
    }))
}

/// The file name (without extension) of one pattern's results in an `--out DIR/`: the
/// pattern file's stem, with the pattern's name appended when the file holds several.
pub fn output_stem(file: &Path, pattern: &str, patterns_in_file: usize) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "results".into());
    if patterns_in_file <= 1 {
        stem
    } else {
        format!("{stem}-{}", pattern.replace(' ', "-"))
    }
}

/// The note for files left out of `flag`'s folders as not data (`SOURCE.md`, `README.txt`,
/// `labels.config`: see [`engine::load::is_not_data_name`]), naming the first five.
pub fn not_data_note(flag: &str, skipped: &[PathBuf]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut names: Vec<String> = skipped
        .iter()
        .take(5)
        .map(|p| p.display().to_string())
        .collect();
    if skipped.len() > 5 {
        names.push(format!("… and {} more", skipped.len() - 5));
    }
    Some(format!(
        "note: {} file(s) in the {flag} folder(s) left out as not data: {} (name a file to read it)",
        skipped.len(),
        names.join(", ")
    ))
}

/// Finds the input files (the built-in sample with `--sample`), reads the networks file and
/// settles the read options: the data half of [`setup`], also used by `diff`. Notes the files
/// left out of the folders as not data (unless `--quiet`).
pub fn open_inputs(args: &mut RunArgs) -> Result<(Inputs, ReadOptions)> {
    let (inputs, read) = find_inputs(args)?;
    print_not_data_notes(&inputs, args);
    Ok((inputs, read))
}

/// The notes (unless `--quiet`) naming the files left out of the `--flows` and `--events`
/// folders as not data (see [`not_data_note`]).
fn print_not_data_notes(inputs: &Inputs, args: &RunArgs) {
    if args.quiet {
        return;
    }
    for (flag, table) in [("--flows", &inputs.flows), ("--events", &inputs.events)] {
        if let Some(note) = not_data_note(flag, table.not_data()) {
            eprintln!("{}", output::terminal_safe(&note));
        }
    }
}

/// [`open_inputs`] without its notes: a cluster run says them on process 0 alone.
fn find_inputs(args: &mut RunArgs) -> Result<(Inputs, ReadOptions)> {
    // Mistakes in the arguments are said before any work (such as generating the sample).
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    if let (Some(since), Some(until)) = (since, until) {
        if since >= until {
            return Err(crate::usage(format!(
                "--since {} is not before --until {}: no flow starts in that range (--since is \
                 inclusive, --until exclusive)",
                args.since.as_deref().unwrap_or_default(),
                args.until.as_deref().unwrap_or_default()
            )));
        }
    }
    if args.sample {
        let dir = sample_dir(args.quiet)?;
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
    if args.flows.is_empty() {
        return Err(crate::usage(
            "no flow archive: give --flows PATH (or set `flows` in flowpat.toml, or use --sample)",
        ));
    }
    let networks = match &args.networks {
        Some(path) => Networks::load(path)
            .with_context(|| format!("reading networks file {}", path.display()))?,
        None => {
            return Err(crate::usage(
                "no networks file: give --networks FILE (or set `networks` in flowpat.toml)",
            ))
        }
    };
    let mut read = ReadOptions {
        strict: args.strict,
        since,
        until,
        ..ReadOptions::default()
    };
    args.text.apply(&mut read)?;
    let flows = engine::load::discover_as(&args.flows, args.text.flows_format)
        .context("finding flow files")?;
    let events = if args.events.is_empty() {
        FileTable::default()
    } else {
        engine::load::discover_as(&args.events, args.text.events_format)
            .context("finding event files")?
    };
    Ok((
        Inputs {
            flows,
            events,
            networks,
        },
        read,
    ))
}

/// Warnings (always) and notes (unless `--quiet`) about what the inputs make of the patterns:
/// `disposition` labels the networks file never gives, patterns reading events without an
/// event archive (see [`patterns::input_notes`]).
fn print_input_notes(compiled: &patterns::CompiledSet, inputs: &Inputs, args: &RunArgs) {
    let name = args
        .networks
        .as_ref()
        .map_or("the networks file".to_string(), |p| p.display().to_string());
    let notes = patterns::input_notes(compiled, &inputs.networks, &name, !inputs.events.is_empty());
    for line in notes.warnings {
        eprintln!("{}", output::terminal_safe(&line));
    }
    if !args.quiet {
        for line in notes.notes {
            eprintln!("{}", output::terminal_safe(&line));
        }
    }
}

/// `flowpat run`; with `cluster`, as one process of a cluster, where only process 0 prints or
/// writes results (and the notes, the load reports of every process's files and the summary).
pub fn run(mut args: RunArgs, cluster: Option<engine::cluster::ClusterSpec>) -> Result<ExitCode> {
    // Where the output goes is checked before anything is compiled or read.
    output::check_destination(args.format, args.out.as_deref(), 1)?;
    let first = cluster.as_ref().is_none_or(|c| c.process == 0);
    let Some(compiled) = compile_as(&args, first)? else {
        return Ok(ExitCode::from(1));
    };
    output::check_destination(args.format, args.out.as_deref(), compiled.patterns.len())?;
    // Every process finds the same files; the notes about them are process 0's to say, as
    // are the results, the load reports and the summary (errors are said by every process).
    let (inputs, read) = find_inputs(&mut args)?;
    output::set_context(crate::diff::output_context(&args, &inputs.networks));
    if first {
        print_not_data_notes(&inputs, &args);
        print_input_notes(&compiled, &inputs, &args);
    }
    let (flows, events) = (inputs.flows.clone(), inputs.events.clone());
    let progress = Arc::new(Progress::default());
    let options = RunOptions {
        workers: args.workers.max(1),
        read,
        progress: progress.clone(),
        cluster: cluster.clone(),
    };
    let plans: Vec<compiler::plan::JoinPlan> = compiled
        .patterns
        .iter()
        .map(|(_, c)| c.plan.clone())
        .collect();
    let total_files = (flows.len() + events.len()) as u64;
    // A file named as flows and as events (eve.json) is read twice: said in the summary.
    let flow_paths: std::collections::HashSet<&Path> =
        flows.files().iter().map(|f| f.path.as_path()).collect();
    let read_twice = events
        .files()
        .iter()
        .filter(|f| flow_paths.contains(f.path.as_path()))
        .count();

    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(total_files);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} files  {msg}  [{elapsed}]",
            )
            .expect("static template"),
        );
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
    if let Some(spec) = cluster.as_ref().filter(|c| c.process != 0) {
        if !args.quiet {
            eprintln!(
                "process {} of {}: done, {:.2}s; process 0 ({}) prints the results",
                spec.process,
                spec.processes(),
                out.elapsed.as_secs_f64(),
                spec.addresses[0]
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    // Per-file load problems: counted, never silent.
    print_load_reports(&out.reports, !args.quiet);

    let results: Vec<&engine::output::ResultSet> = out.results.iter().collect();
    match &args.out {
        Some(path)
            if results.len() > 1
                || path.is_dir()
                || path.as_os_str().to_string_lossy().ends_with('/') =>
        {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating {}", path.display()))?;
            for ((file, _), set) in compiled.patterns.iter().zip(&results) {
                let in_file = compiled.patterns.iter().filter(|(f, _)| f == file).count();
                let name = output_stem(file, &set.pattern, in_file);
                output::write_file(
                    &[set],
                    args.format,
                    args.limit,
                    &flows,
                    &events,
                    &path.join(format!("{name}.{}", args.format.extension())),
                )?;
            }
        }
        Some(path) => output::write_file(&results, args.format, args.limit, &flows, &events, path)?,
        None => {
            let mut lock = output::stdout();
            for set in &results {
                output::write(
                    set,
                    args.format,
                    args.limit.or((args.format == Format::Table).then_some(50)),
                    &flows,
                    &events,
                    &mut lock,
                )?;
            }
        }
    }
    if !args.quiet {
        let per: Vec<String> = out
            .results
            .iter()
            .map(|r| format!("{}: {}", r.pattern, r.rows.len()))
            .collect();
        // A row enters once per pattern scan that keeps it, so with several patterns (or a
        // pattern with two scans of one kind) the count may exceed the rows read.
        eprintln!(
            "read {} rows from {} file(s){}; {} row-scan pairs entered the dataflow after push-down (a row counts once per pattern scan that keeps it); results — {}; {:.2}s",
            out.rows_read,
            total_files,
            match read_twice {
                0 => String::new(),
                n => format!(" ({n} counted twice: read as flows and as events)"),
            },
            out.rows_kept,
            per.join(", "),
            out.elapsed.as_secs_f64()
        );
    }
    // The results (up to millions of rows of shared records) are not freed row by row: the
    // process ends next and the system takes the memory back at once.
    std::mem::forget(out);
    Ok(ExitCode::SUCCESS)
}

/// The `--key COL=VALUE[,…]` pairs of `why`, checked against the pattern's columns: a header
/// column, or a record's name (`conn=FILE:ROW`).
fn parse_key(key: &str, header: &[String], pattern: &str) -> Result<Vec<(String, String)>> {
    let records: Vec<&str> = header
        .iter()
        .filter_map(|h| h.strip_suffix(".file"))
        .filter(|n| header.contains(&format!("{n}.row")))
        .collect();
    let mut valid: Vec<&str> = header.iter().map(String::as_str).collect();
    valid.extend(&records);
    let mut out = Vec::new();
    for kv in key.split(',') {
        let Some((col, val)) = kv.split_once('=') else {
            return Err(crate::usage(format!(
                "--key takes COL=VALUE pairs separated by commas, got `{kv}`"
            )));
        };
        let col = col.trim();
        if !valid.contains(&col) {
            let hint = match compiler::diagnostic::suggest(col, valid.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? "),
                None => String::new(),
            };
            return Err(crate::usage(format!(
                "--key {kv}: `{col}` is not a column of `{pattern}`; {hint}its columns are: {}{}",
                header.join(", "),
                if records.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (and {} for a record as FILE:ROW)",
                        records
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )));
        }
        out.push((col.to_string(), val.trim().to_string()));
    }
    Ok(out)
}

/// One line per clause of `why`: ✓ held, ✗ failed, ? unknown, and the values read.
fn write_clauses(w: &mut dyn Write, clauses: &[engine::why::Clause], indent: &str) -> Result<()> {
    let safe = |s: &str| output::terminal_safe(s).into_owned();
    for c in clauses {
        let mark = match c.holds {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "?",
        };
        let values = if c.values.is_empty() {
            String::new()
        } else {
            format!("   [{}]", c.values.join(", "))
        };
        writeln!(w, "{indent}{mark} {}{}", safe(&c.text), safe(&values))?;
    }
    Ok(())
}

/// `flowpat why`: runs one pattern and explains one of its results.
pub fn why(
    mut args: RunArgs,
    name: Option<String>,
    row: Option<usize>,
    key: Option<String>,
) -> Result<ExitCode> {
    let Some(compiled) = compile(&args)? else {
        return Ok(ExitCode::from(1));
    };
    // The pattern is settled first: a wrong --pattern is the mistake to name, with or without
    // --row.
    let chosen = match &name {
        Some(n) => match compiled.patterns.iter().find(|(_, c)| &c.pattern.name == n) {
            Some(chosen) => chosen,
            None => {
                let names: Vec<String> = compiled
                    .patterns
                    .iter()
                    .map(|(_, c)| format!("`{}`", c.pattern.name))
                    .collect();
                return Err(crate::usage(format!(
                    "--pattern {n}: no pattern of that name in {} (it has: {})",
                    args.patterns[0].display(),
                    names.join(", ")
                )));
            }
        },
        None => &compiled.patterns[0],
    };
    if row.is_none() && key.is_none() {
        return Err(crate::usage(
            "which result? give --row N (its 0-based position in the sorted results, as `flowpat run` \
             prints them) or --key COL=VALUE (e.g. --key conn=part-0001.parquet:774 or --key srcadr=10.0.0.5)",
        ));
    }
    let plan = chosen.1.plan.clone();
    // The key's columns are checked before the data is read.
    let header = engine::output::ResultSet::new(&plan, Vec::new()).header();
    let wanted = key
        .as_deref()
        .map(|k| parse_key(k, &header, &plan.pattern))
        .transpose()?;
    let (inputs, read) = open_inputs(&mut args)?;
    print_input_notes(&compiled, &inputs, &args);
    let options = RunOptions {
        workers: 1,
        read,
        progress: Arc::new(Progress::default()),
        cluster: None,
    };
    // A grouped result holds only its key: the rows behind it come from the same plan without
    // the group-by, run in the same pass.
    let members_plan = engine::why::members_plan(&plan);
    let mut plans = vec![plan.clone()];
    plans.extend(members_plan.clone());
    let out = engine::run::run(&plans, &inputs, &options).context("running the pattern")?;
    // Skipped unreadable rows are never silent; notes would only distract from the answer.
    print_load_reports(&out.reports, false);
    let set = &out.results[0];
    if set.rows.is_empty() {
        bail!("`{}` has no results on this data", set.pattern);
    }
    let index = match (row, &wanted) {
        (Some(r), _) => {
            if r >= set.rows.len() {
                bail!(
                    "--row {r} is past the last result ({} results, numbered from 0)",
                    set.rows.len()
                );
            }
            r
        }
        (None, Some(wanted)) => set
            .rows
            .iter()
            .position(|r| {
                let cells = set.cells(r, &inputs.flows, &inputs.events);
                wanted.iter().all(|(col, val)| {
                    if let Some(k) = header.iter().position(|h| h == col) {
                        return &cells[k] == val;
                    }
                    // A record column `conn=file:row`.
                    match (
                        header.iter().position(|h| *h == format!("{col}.file")),
                        header.iter().position(|h| *h == format!("{col}.row")),
                    ) {
                        (Some(f), Some(rr)) => format!("{}:{}", cells[f], cells[rr]) == *val,
                        _ => false,
                    }
                })
            })
            .with_context(|| {
                format!(
                    "no result of `{}` matches --key {}",
                    set.pattern,
                    key.as_deref().unwrap_or_default()
                )
            })?,
        (None, None) => unreachable!("checked above"),
    };
    let result = &set.rows[index];
    let flows = &inputs.flows;
    let events = &inputs.events;
    let describe = |d: &engine::datum::Datum| match d {
        engine::datum::Datum::Conn(c) => format!(
            "flow {} row {}",
            flows
                .get(c.id.file)
                .map(|f| f.display.as_str())
                .unwrap_or("?"),
            c.id.row
        ),
        engine::datum::Datum::Event(e) => format!(
            "event {} row {}",
            events
                .get(e.id.file)
                .map(|f| f.display.as_str())
                .unwrap_or("?"),
            e.id.row
        ),
        other => engine::output::datum_text(other),
    };
    let mut w = output::stdout();
    let safe = |s: &str| output::terminal_safe(s).into_owned();
    writeln!(
        w,
        "result {index} of {} of `{}` ({} match{}):",
        set.rows.len(),
        safe(&set.pattern),
        result.count,
        if result.count == 1 { "" } else { "es" }
    )?;
    for b in engine::why::explain_row(&plan, result, &inputs.networks, &describe) {
        writeln!(w, "  {} = {}", safe(&b.instance), safe(&b.bound_to))?;
        write_clauses(&mut w, &b.clauses, "      ")?;
    }
    if let (Some(members_plan), Some(members)) = (&members_plan, out.results.get(1)) {
        // `FILE:ROW` (as `--key conn=FILE:ROW` and `pivot --conn` take it) and key attributes.
        let describe = |d: &engine::datum::Datum| {
            let (kind, table, id) = match d {
                engine::datum::Datum::Conn(c) => ("flow", flows, c.id),
                engine::datum::Datum::Event(e) => ("event", events, e.id),
                other => return engine::output::datum_text(other),
            };
            format!(
                "{kind} {}:{}  {}",
                table
                    .get(id.file)
                    .map(|f| f.display.as_str())
                    .unwrap_or("?"),
                id.row,
                engine::why::record_summary(d)
            )
        };
        write_members(
            &mut w,
            &plan,
            members_plan,
            result,
            &members.rows,
            &inputs,
            &describe,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// How many of a group's joined rows `why` lists.
const MEMBERS_LISTED: usize = 20;

/// The joined rows behind a grouped result: each one's records with their key attributes,
/// the clauses they satisfied and what they gave each aggregate (at most [`MEMBERS_LISTED`]).
fn write_members(
    w: &mut impl Write,
    plan: &compiler::plan::JoinPlan,
    members_plan: &compiler::plan::JoinPlan,
    result: &engine::output::ResultRow,
    all: &[engine::output::ResultRow],
    inputs: &Inputs,
    describe: &dyn Fn(&engine::datum::Datum) -> String,
) -> Result<()> {
    let safe = |s: &str| output::terminal_safe(s).into_owned();
    let members = engine::why::group_members(plan, members_plan, result, all);
    let rows: i64 = members.iter().map(|m| m.count).sum();
    writeln!(
        w,
        "  records behind the group: {} joined row(s){}",
        rows,
        if rows == result.count {
            String::new()
        } else {
            // The key is not fully exported: other groups share the printed values.
            format!(
                " (of groups with these exported values; this result counts {})",
                result.count
            )
        }
    )?;
    for (k, member) in members.iter().take(MEMBERS_LISTED).enumerate() {
        let m = engine::why::explain_member(plan, members_plan, member, &inputs.networks, describe);
        let times = if m.count == 1 {
            String::new()
        } else {
            format!(" (×{})", m.count)
        };
        for (j, b) in m.bindings.into_iter().enumerate() {
            let number = if j == 0 {
                format!("{:>4}.", k + 1)
            } else {
                "     ".to_string()
            };
            writeln!(
                w,
                "  {number} {} = {}{times}",
                safe(&b.instance),
                safe(&b.bound_to)
            )?;
            write_clauses(w, &b.clauses, "          ")?;
        }
        for a in m.aggregates {
            writeln!(w, "          → {}", safe(&a))?;
        }
    }
    if members.len() > MEMBERS_LISTED {
        writeln!(w, "    … and {} more", members.len() - MEMBERS_LISTED)?;
    }
    Ok(())
}

/// `flowpat explain --analyze`: the plan, then a run with rows out of every operator.
pub fn analyze(mut args: RunArgs) -> Result<ExitCode> {
    let Some(Setup {
        compiled,
        inputs,
        read,
    }) = setup(&mut args)?
    else {
        return Ok(ExitCode::from(1));
    };
    print_input_notes(&compiled, &inputs, &args);
    let plans: Vec<compiler::plan::JoinPlan> = compiled
        .patterns
        .iter()
        .map(|(_, c)| c.plan.clone())
        .collect();
    let options = RunOptions {
        workers: args.workers.max(1),
        read,
        progress: Arc::new(Progress::default()),
        cluster: None,
    };
    let out = engine::run::run(&plans, &inputs, &options).context("running the patterns")?;
    print_load_reports(&out.reports, !args.quiet);
    let mut w = output::stdout();
    for ((_, c), (ops, set)) in compiled
        .patterns
        .iter()
        .zip(out.operators.iter().zip(&out.results))
    {
        for line in c.explain().split('\n') {
            writeln!(w, "{}", output::terminal_safe(line))?;
        }
        writeln!(w, "analyze ({} result rows):", set.rows.len())?;
        for (label, n) in ops {
            writeln!(w, "  {n:>12}  {}", output::terminal_safe(label))?;
        }
        writeln!(w)?;
    }
    writeln!(
        w,
        "all patterns together: {} rows read, {} row-scan pairs entered the dataflow (a row counts once per pattern scan that keeps it), {:.3}s with {} worker(s) (one shared scan; per-operator time is not measured)",
        out.rows_read,
        out.rows_kept,
        out.elapsed.as_secs_f64(),
        options.workers
    )?;
    Ok(ExitCode::SUCCESS)
}
