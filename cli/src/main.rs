//! `flowpat`: graph patterns over network flow archives.
//!
//! The CLI owns argument parsing, file reading, progress and printing; the language lives in
//! `compiler` and the execution in `engine`. Exit codes (also in `--help`, from `EXAMPLES`, and
//! the README): 0 ok, 1 findings (pattern errors, unformatted files from `fmt --check`,
//! differences from `diff`, unreachable addresses from `cluster-check`), 2 usage (clap's own
//! and [`UsageError`]), 3 any runtime error (a file missing or unreadable, bad data, a lost
//! cluster process).

// `eprintln!`/`eprint!` of std panic when stderr is gone (`flowpat … 2>&1 | head`); these,
// defined before the modules so that they shadow std's everywhere in the crate, drop what
// cannot be written instead. Results go to stdout through `output::stdout()`.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod catalog;
mod cluster;
mod config;
mod diff;
mod import;
mod output;
mod patterns;
mod pivot;
mod run;
mod views;
mod watch;

/// mimalloc rather than glibc's malloc: the dataflow allocates and frees many small rows, and
/// on a large heap glibc's free lists cost a fifth of a watch epoch (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How the allocator gives memory back to the system.
///
/// By default mimalloc returns free memory to the system shortly after it is freed, and the
/// next allocation faults it in again, zeroed by the kernel: in a watch over 10 M flows that
/// was a sixth of every epoch's CPU. A watch keeps freed memory for reuse instead
/// ([`memory::keep_freed`]), and gives back what is free at the moments it knows the working
/// set shrank (after the initial load or any other large epoch: [`memory::release_free`]).
/// A batch `run` keeps the default: there, keeping freed memory measured no faster and
/// 50-150 MB larger at 10 M flows.
#[allow(unsafe_code)]
pub mod memory {
    use std::ffi::{c_int, c_long};

    extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
        fn mi_collect(force: bool);
    }

    /// `mi_option_purge_delay` in `mimalloc.h` of mimalloc v3, which libmimalloc-sys 0.1.49
    /// builds (Cargo.lock): between `eager_commit_delay` (14) and `use_numa_nodes` (16), as
    /// libmimalloc-sys's own constants have them.
    const MI_OPTION_PURGE_DELAY: c_int = 15;

    /// Never return freed memory to the system on a timer.
    pub fn keep_freed() {
        // SAFETY: sets an option (an atomic store); -1 is its documented "never" value.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }

    /// Return the memory that is free now to the system.
    pub fn release_free() {
        // SAFETY: a collection of the allocator's own free memory; no pointers are involved.
        unsafe { mi_collect(true) }
    }
}

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  flowpat run patterns/ --flows archive/flows --events archive/events \\
      --networks networks.csv
  flowpat check patterns/
  flowpat explain patterns/ftp-exfiltration-temporal.pattern
  flowpat generate --rows 100000 --seed 1 --out sample

Exit status:
  0  success
  1  findings: a pattern does not compile (any command but `diff`), `fmt --check` found
     unformatted files, `diff` found differences, `cluster-check` found an address not accepting
  2  usage: a wrong option, value or combination of options
  3  runtime error: a file missing or unreadable, bad data, a `diff` revision that does not
     compile, a lost cluster process";

#[derive(Parser)]
#[command(name = "flowpat", version, about = "Hunt threats in network flow data with graph patterns", after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiagFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check pattern files and print every diagnostic (exit 1 if any is an error, 3 if a file cannot be read)
    #[command(
        after_help = "Examples:\n  flowpat check patterns/\n  flowpat check --format json my.pattern"
    )]
    Check {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Diagnostic format
        #[arg(long, value_enum, default_value = "human")]
        format: DiagFormat,
        /// Override a parameter: NAME=VALUE (e.g. threshold=2MB)
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Show how patterns run: their rules and join plans
    #[command(
        after_help = "Examples:\n  flowpat explain patterns/port-jumping.pattern\n  flowpat explain --analyze patterns/ --sample"
    )]
    Explain {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Also run the patterns and show the rows out of every operator
        #[arg(long)]
        analyze: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run patterns over flow and event archives and print the results
    #[command(after_help = "Examples:
  flowpat run patterns/ --sample
  flowpat run patterns/ --flows archive/flows --events archive/events \\
      --networks networks.csv
  flowpat run patterns/exfiltration.pattern --networks nets.csv \\
      --flows 'archive/flows/2024-05-*.parquet' \\
      --param threshold=5MB --format csv --out exfil.csv
  flowpat run patterns/ --sample --format csv --out results/
  flowpat run patterns/ --sample --workers 2 --format jsonl > results.jsonl
  flowpat run patterns/ --flows /data/flows --networks nets.csv \\
      --hostfile hosts.txt --process 0
(a cluster run: one process per line of hosts.txt, each with its own --process; see README)

With several patterns, csv, html, dot and parquet output go to one file per pattern in
--out DIR/; table and jsonl (which has a `pattern` field) can share standard output.")]
    Run {
        /// Pattern files or folders (every *.pattern inside)
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Flow archive: Parquet or Arrow IPC files, folders (recursive) or globs; sensor text with --flows-format
        #[arg(long, value_name = "PATH")]
        flows: Vec<PathBuf>,
        /// Event archive: Parquet or Arrow IPC files, folders or globs; sensor text with --events-format
        #[arg(long, value_name = "PATH")]
        events: Vec<PathBuf>,
        /// Networks file: `CIDR,label` lines, `default,LABEL`
        #[arg(long, value_name = "FILE")]
        networks: Option<PathBuf>,
        /// Timely worker threads [default: number of cores]
        #[arg(long, short = 'w', value_parser = parse_workers)]
        workers: Option<usize>,
        /// Only flows starting at or after this time (RFC 3339 or a date)
        #[arg(long)]
        since: Option<String>,
        /// Only flows starting before this time
        #[arg(long)]
        until: Option<String>,
        /// Print at most N rows per pattern
        #[arg(long)]
        limit: Option<usize>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: output::Format,
        /// Write to FILE (or, with several patterns, one file per pattern in DIR)
        #[arg(long, short = 'o', value_name = "FILE|DIR")]
        out: Option<PathBuf>,
        /// No progress and no summary on stderr
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Fail on the first unreadable row instead of skipping and counting it
        #[arg(long)]
        strict: bool,
        /// Override a parameter: NAME=VALUE
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Use the built-in sample archive (generated on first use)
        #[arg(long)]
        sample: bool,
        /// Defaults file [default: flowpat.toml in this folder or a parent]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        text: run::TextArgs,
        #[command(flatten)]
        cluster: cluster::ClusterArgs,
    },
    /// Explain one result: which records bound each instance and which clause each satisfied
    #[command(after_help = "Examples:
  flowpat why patterns/exfiltration.pattern --sample --row 0
  flowpat why patterns/port-jumping.pattern --sample --key srcadr=10.255.3.2
  flowpat why patterns/ftp-exfiltration.pattern --flows f/ --events e/ \\
      --networks n.csv --key conn=part-0001.parquet:774")]
    Why {
        /// The pattern file (its first pattern, or the one named by --pattern)
        pattern: PathBuf,
        /// Which pattern of the file, by name
        #[arg(long = "pattern", value_name = "NAME")]
        name: Option<String>,
        /// The result's 0-based position in the sorted results
        #[arg(long, conflicts_with = "key")]
        row: Option<usize>,
        /// Select the result whose columns match: COL=VALUE[,COL=VALUE…] (record columns as file:row)
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Rewrite pattern files in canonical layout, keeping comments
    #[command(
        after_help = "Examples:\n  flowpat fmt patterns/\n  flowpat fmt --check patterns/   # exit 1 if a file is not formatted"
    )]
    Fmt {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Do not write; list files that are not formatted and exit 1 if any
        #[arg(long)]
        check: bool,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  flowpat completions bash > /etc/bash_completion.d/flowpat"
    )]
    Completions {
        /// Shell
        shell: clap_complete::Shell,
    },
    /// List the catalog: each pattern's description, author, access and schedule, and with an
    /// archive its estimated results and runtime (from a sample of the archive)
    #[command(after_help = "Examples:
  flowpat catalog
  flowpat catalog patterns/ --flows archive/flows --events archive/events \\
      --networks networks.csv
  flowpat catalog --sample --format csv")]
    Catalog {
        /// Pattern files or folders
        #[arg(default_value = "patterns")]
        patterns: Vec<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
        /// Timely worker threads for the sample runs [default: number of cores]
        #[arg(long, short = 'w', value_parser = parse_workers)]
        workers: Option<usize>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: catalog::CatalogFormat,
        /// No summary on stderr
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Keep patterns standing over folders that grow: print every change of their results
    Watch(watch::WatchArgs),
    /// Print the current results recorded by `flowpat watch --state DIR`
    Results(watch::ResultsArgs),
    /// Convert sensor text (Zeek, Suricata, Argus, nfdump, SiLK) into canonical Parquet
    #[command(after_help = "Examples:
  flowpat import --from zeek logs/conn.*.log.gz --out archive/flows
  flowpat import --from suricata --kind events eve.json --out archive/events
  flowpat import --from nfdump --tz +02:00 --biflow 60s flows.csv \\
      --out archive/flows

Each row keeps `source_file` (the input as given) and `source_row` (its record ordinal there), so a
run over the import prints the same conn.row values as a run over the text; conn.file then names
the part file.")]
    Import(import::ImportArgs),
    /// Compare two revisions of a pattern on the same data (one run), or two saved result files;
    /// exit 1 when they differ
    #[command(after_help = "Examples:
  flowpat diff patterns/exfiltration.pattern@HEAD~1 \\
      patterns/exfiltration.pattern --sample
  flowpat diff old.pattern new.pattern --flows archive/flows \\
      --networks networks.csv --format csv
  flowpat diff --results monday.parquet tuesday.parquet")]
    Diff {
        /// OLD: a pattern file, or PATH@REV read from git (or, with --results, a saved result file)
        old: String,
        /// NEW: as OLD
        new: String,
        /// Compare two result files written by `run --out` (CSV or Parquet) instead of two patterns
        #[arg(long)]
        results: bool,
        #[command(flatten)]
        data: DataArgs,
        /// Timely worker threads [default: number of cores]
        #[arg(long, short = 'w', value_parser = parse_workers)]
        workers: Option<usize>,
        /// Only flows starting at or after this time
        #[arg(long)]
        since: Option<String>,
        /// Only flows starting before this time
        #[arg(long)]
        until: Option<String>,
        /// Print at most N differing rows of each kind
        #[arg(long)]
        limit: Option<usize>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: diff::DiffFormat,
    },
    /// From an address, a connection, an event or an earlier result file to its neighbourhood in
    /// a time window: flows in and out, peers, events, and the catalog patterns it appears in
    #[command(after_help = "Examples:
  flowpat pivot --address 10.0.1.7 --at 2024-03-02T10:00:00Z --window 1h \\
      --sample
  flowpat pivot --conn part-0001.parquet:774 --window 30m --sample
  flowpat pivot --from exfil.csv --sample --format csv --out hood.csv
  flowpat pivot --from hood.csv --sample --format html --out hood.html")]
    Pivot {
        /// An address to pivot from (repeatable)
        #[arg(long = "address", value_name = "IP")]
        addresses: Vec<String>,
        /// A connection, as results name it: FILE:ROW (repeatable)
        #[arg(long = "conn", value_name = "FILE:ROW")]
        conns: Vec<String>,
        /// An event, as results name it: FILE:ROW (repeatable)
        #[arg(long = "event", value_name = "FILE:ROW")]
        event_records: Vec<String>,
        /// Every record (or record-less row's addresses) of a results or pivot CSV, or results Parquet
        #[arg(long, value_name = "CSV")]
        from: Option<PathBuf>,
        /// How far before and after each record's time to look [default: 1h]
        #[arg(long, value_name = "DURATION")]
        window: Option<String>,
        /// Centre of the window for --address (with --window)
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Window start instead of --window (RFC 3339 or a date)
        #[arg(long)]
        since: Option<String>,
        /// Window end instead of --window
        #[arg(long)]
        until: Option<String>,
        /// Patterns to run on the window to see which ones the subject appears in
        #[arg(long, value_name = "PATH", default_value = "patterns")]
        catalog: Vec<PathBuf>,
        /// Do not run the catalog
        #[arg(long)]
        no_patterns: bool,
        #[command(flatten)]
        data: DataArgs,
        /// Timely worker threads for the catalog run [default: number of cores]
        #[arg(long, short = 'w', value_parser = parse_workers)]
        workers: Option<usize>,
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: pivot::PivotFormat,
        /// Write to FILE instead of standard output
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check that every host:port of a cluster hostfile accepts a TCP connection (exit 1 if not)
    #[command(after_help = "Example:\n  flowpat cluster-check --hostfile hosts.txt --timeout 5s")]
    ClusterCheck {
        /// One host:port a line, in process order
        #[arg(long, value_name = "FILE")]
        hostfile: PathBuf,
        /// How long to wait for each address
        #[arg(long, value_name = "DURATION", default_value = "5s")]
        timeout: String,
    },
    /// Write a deterministic synthetic archive with planted cases for every catalog pattern
    #[command(
        after_help = "Example:\n  flowpat generate --rows 1000000 --seed 7 --out bench/data/1m"
    )]
    Generate {
        /// Number of flows
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Random seed (same seed, same files)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of flow files
        #[arg(long, default_value_t = 4)]
        files: usize,
        /// Output folder (created; must not already hold an archive: flows/, events/, networks.csv or part files)
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where data comes from, for commands that read archives.
#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Flow archive: Parquet or Arrow IPC files, folders or globs
    #[arg(long, value_name = "PATH")]
    flows: Vec<PathBuf>,
    /// Event archive
    #[arg(long, value_name = "PATH")]
    events: Vec<PathBuf>,
    /// Networks file
    #[arg(long, value_name = "FILE")]
    networks: Option<PathBuf>,
    /// Use the built-in sample archive
    #[arg(long)]
    sample: bool,
    /// Override a parameter: NAME=VALUE
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Defaults file [default: flowpat.toml in this folder or a parent]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    text: run::TextArgs,
}

/// Run arguments for commands that read an archive but print their own way.
fn data_run_args(
    patterns: Vec<PathBuf>,
    data: DataArgs,
    workers: Option<usize>,
    quiet: bool,
) -> Result<run::RunArgs> {
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    Ok(run::RunArgs {
        patterns,
        flows: data.flows,
        events: data.events,
        networks: data.networks,
        workers,
        since: None,
        until: None,
        limit: None,
        format: output::Format::Table,
        out: None,
        quiet,
        strict: false,
        params: parse_params(&data.params)?,
        sample: data.sample,
        text: data.text,
    })
}

/// `--workers N`: at least one.
pub(crate) fn parse_workers(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("a run needs at least one worker".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_params(params: &[String]) -> Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() => {
                Ok((n.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(usage(format!("--param takes NAME=VALUE, got `{p}`"))),
        })
        .collect()
}

/// `flowpat fmt`: canonical layout, in place (temp file + rename) or `--check`.
fn fmt(args: &[PathBuf], check: bool) -> Result<ExitCode> {
    let files = patterns::pattern_files(args)?;
    let mut unformatted = 0;
    let mut broken = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let source = compiler::source::Source {
            id: compiler::source::SourceId(0),
            name: file.display().to_string(),
            text,
        };
        let (ast, errors) = compiler::syntax::parse(&source);
        if !errors.is_empty() {
            let mut map = compiler::source::SourceMap::new();
            map.add(source.name.clone(), source.text.clone());
            for e in errors {
                eprintln!(
                    "{}",
                    compiler::diagnostic::Diagnostic::from(e).one_line(&map)
                );
            }
            broken += 1;
            continue;
        }
        let Some(ast) = ast else { continue };
        let formatted = compiler::fmt::format(&source, &ast);
        if formatted == source.text {
            continue;
        }
        unformatted += 1;
        if check {
            writeln!(output::stdout(), "{}", file.display())?;
        } else {
            let dir = file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, formatted.as_bytes())?;
            tmp.persist(file)
                .with_context(|| format!("writing {}", file.display()))?;
            eprintln!("formatted {}", file.display());
        }
    }
    if broken > 0 {
        eprintln!("{broken} file(s) not formatted because they do not parse");
        return Ok(ExitCode::from(1));
    }
    Ok(if check && unformatted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A mistake on the command line found after parsing (an unknown `--param`, an output that
/// cannot go where it is sent): exit 2, as for clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] as an `anyhow` error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// An error and its causes on one line, as `{:#}` prints them, but a cause is left out when
/// the message before it already ends with its text (libraries that both format their source
/// into their message and chain it would otherwise print it twice).
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.is_empty() && (text.is_empty() || out.ends_with(&text)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that stopped reading (`| head`) is not an error.
        Err(e) if output::stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            if e.chain().any(|c| c.is::<UsageError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(3)
            }
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check {
            patterns,
            format,
            params,
        } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions {
                params: parse_params(&params)?,
            };
            let set = patterns::compile_files(&files, &options)?;
            // A file with nothing in it (or only comments) is a mistake `run` would refuse as
            // "no patterns to run", not a pattern that checks out.
            let empty: Vec<&PathBuf> = files
                .iter()
                .filter(|f| {
                    set.sources.find(&f.display().to_string()).is_some_and(|src| {
                        matches!(compiler::syntax::parse(src), (Some(file), errors) if file.items.is_empty() && errors.is_empty())
                    })
                })
                .collect();
            for file in &empty {
                eprintln!(
                    "error: {} holds no `search`, `define` or `param`: nothing to check",
                    file.display()
                );
            }
            match format {
                DiagFormat::Human => {
                    eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
                    let errors =
                        set.diagnostics.iter().filter(|d| !d.is_warning()).count() + empty.len();
                    let warnings = set.diagnostics.iter().filter(|d| d.is_warning()).count();
                    eprintln!("checked {} file(s): {} pattern(s) ok, {errors} error(s), {warnings} warning(s)", files.len(), set.patterns.len());
                }
                DiagFormat::Json => {
                    write!(output::stdout(), "{}", patterns::diagnostics_json(&set))?
                }
            }
            Ok(if set.has_errors() || !empty.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Explain {
            patterns,
            analyze: true,
            data,
        } => {
            let mut args = run::RunArgs {
                patterns,
                flows: data.flows,
                events: data.events,
                networks: data.networks,
                workers: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
                since: None,
                until: None,
                limit: None,
                format: output::Format::Table,
                out: None,
                quiet: true,
                strict: false,
                params: parse_params(&data.params)?,
                sample: data.sample,
                text: data.text,
            };
            config::apply(&mut args, data.config.as_deref(), false)?;
            run::analyze(args)
        }
        Command::Explain {
            patterns,
            analyze: false,
            data,
        } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions {
                params: parse_params(&data.params)?,
            };
            let set = patterns::compile_files(&files, &options)?;
            eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
            if set.has_errors() {
                return Ok(ExitCode::from(1));
            }
            let texts: Vec<String> = set.patterns.iter().map(|(_, c)| c.explain()).collect();
            write!(output::stdout(), "{}", texts.join("\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            patterns,
            flows,
            events,
            networks,
            workers,
            since,
            until,
            limit,
            format,
            out,
            quiet,
            strict,
            params,
            sample,
            config,
            text,
            cluster,
        } => {
            let cluster = cluster.spec()?;
            let workers_given = workers.is_some();
            let workers = workers.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            let mut args = run::RunArgs {
                patterns,
                flows,
                events,
                networks,
                workers,
                since,
                until,
                limit,
                format,
                out,
                quiet,
                strict,
                params: parse_params(&params)?,
                sample,
                text,
            };
            config::apply(&mut args, config.as_deref(), workers_given)?;
            run::run(args, cluster)
        }
        Command::Why {
            pattern,
            name,
            row,
            key,
            data,
        } => {
            let mut args = run::RunArgs {
                patterns: vec![pattern],
                flows: data.flows,
                events: data.events,
                networks: data.networks,
                workers: 1,
                since: None,
                until: None,
                limit: None,
                format: output::Format::Table,
                out: None,
                quiet: true,
                strict: false,
                params: parse_params(&data.params)?,
                sample: data.sample,
                text: data.text,
            };
            config::apply(&mut args, data.config.as_deref(), false)?;
            run::why(args, name, row, key)
        }
        Command::Fmt { patterns, check } => fmt(&patterns, check),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "flowpat", &mut script);
            output::stdout().write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Catalog {
            patterns,
            data,
            workers,
            format,
            quiet,
        } => {
            let workers_given = workers.is_some();
            let mut args = data_run_args(patterns, data.clone(), workers, quiet)?;
            config::apply(&mut args, data.config.as_deref(), workers_given)?;
            catalog::catalog(args, format)
        }
        Command::Watch(args) => {
            let params = parse_params(&args.params)?;
            watch::watch(args, params)
        }
        Command::Results(args) => watch::results(args),
        Command::Import(args) => import::import(args),
        Command::Diff {
            old,
            new,
            results,
            data,
            workers,
            since,
            until,
            limit,
            format,
        } => {
            if results {
                return diff::diff_results(
                    std::path::Path::new(&old),
                    std::path::Path::new(&new),
                    format,
                    limit,
                );
            }
            let workers_given = workers.is_some();
            let mut args = data_run_args(Vec::new(), data.clone(), workers, true)?;
            (args.since, args.until) = (since, until);
            config::apply(&mut args, data.config.as_deref(), workers_given)?;
            diff::diff_revisions(args, &old, &new, format, limit)
        }
        Command::Pivot {
            addresses,
            conns,
            event_records,
            from,
            window,
            at,
            since,
            until,
            catalog,
            no_patterns,
            data,
            workers,
            format,
            out,
        } => {
            let workers_given = workers.is_some();
            let mut args = data_run_args(Vec::new(), data.clone(), workers, true)?;
            (args.since, args.until) = (since, until);
            config::apply(&mut args, data.config.as_deref(), workers_given)?;
            let pivot_args = pivot::PivotArgs {
                addresses,
                conns,
                events: event_records,
                from,
                window,
                at,
                catalog,
                no_patterns,
                format,
                out,
            };
            pivot::pivot(args, pivot_args)
        }
        Command::ClusterCheck { hostfile, timeout } => cluster::cluster_check(&hostfile, &timeout),
        Command::Generate {
            rows,
            seed,
            files,
            out,
        } => {
            let opts = engine::generate::GenerateOptions {
                rows,
                seed,
                files,
                out_dir: out.clone(),
                ..Default::default()
            };
            let summary = engine::generate::generate(&opts)?;
            eprintln!(
                "wrote {} flows in {} file(s), {} events and a networks file to {}",
                summary.flow_rows,
                summary.flow_files.len(),
                summary.event_rows,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
