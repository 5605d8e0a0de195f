//! `flowpat`: graph patterns over network flow archives.
//!
//! The CLI owns argument parsing, file reading, progress and printing; the language lives in
//! `compiler` and the execution in `engine`. Exit codes: 0 ok, 1 findings (pattern diagnostics
//! from `check`, unformatted files from `fmt --check`, differences from `diff`), 2 usage,
//! 3 data or I/O error.

mod config;
mod output;
mod patterns;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  flowpat run patterns/ --flows archive/flows --events archive/events --networks networks.csv
  flowpat check patterns/
  flowpat explain patterns/ftp-exfiltration-temporal.pattern
  flowpat generate --rows 100000 --seed 1 --out sample";

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
    /// Check pattern files and print every diagnostic (exit 1 if any error)
    #[command(after_help = "Examples:\n  flowpat check patterns/\n  flowpat check --format json my.pattern")]
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
    #[command(after_help = "Example:\n  flowpat explain patterns/port-jumping.pattern")]
    Explain {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Override a parameter: NAME=VALUE
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// Run patterns over flow and event archives and print the results
    #[command(after_help = "Examples:
  flowpat run patterns/ --sample
  flowpat run patterns/ --flows archive/flows --events archive/events --networks networks.csv
  flowpat run patterns/exfiltration.pattern --flows 'archive/flows/2024-05-*.parquet' --networks nets.csv \\
      --param threshold=5MB --format csv --out exfil.csv
  flowpat run patterns/ --sample --workers 2 --format jsonl --out results/")]
    Run {
        /// Pattern files or folders (every *.pattern inside)
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Flow archive: Parquet or Arrow IPC files, folders (recursive) or globs
        #[arg(long, value_name = "PATH")]
        flows: Vec<PathBuf>,
        /// Event archive: Parquet or Arrow IPC files, folders or globs
        #[arg(long, value_name = "PATH")]
        events: Vec<PathBuf>,
        /// Networks file: `CIDR,label` lines, `default,LABEL`
        #[arg(long, value_name = "FILE")]
        networks: Option<PathBuf>,
        /// Timely worker threads [default: number of cores]
        #[arg(long, short = 'w')]
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
    },
    /// Explain one result: which records bound each instance and which clause each satisfied
    #[command(after_help = "Examples:
  flowpat why patterns/exfiltration.pattern --sample --row 0
  flowpat why patterns/ftp-exfiltration.pattern --flows f/ --events e/ --networks n.csv --key conn=part-0001.parquet:774")]
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
    #[command(after_help = "Examples:\n  flowpat fmt patterns/\n  flowpat fmt --check patterns/   # exit 1 if a file is not formatted")]
    Fmt {
        /// Pattern files or folders
        #[arg(required = true)]
        patterns: Vec<PathBuf>,
        /// Do not write; list files that are not formatted and exit 1 if any
        #[arg(long)]
        check: bool,
    },
    /// Print a shell completion script
    #[command(after_help = "Example:\n  flowpat completions bash > /etc/bash_completion.d/flowpat")]
    Completions {
        /// Shell
        shell: clap_complete::Shell,
    },
    /// Write a deterministic synthetic archive with planted cases for every catalog pattern
    #[command(after_help = "Example:\n  flowpat generate --rows 1000000 --seed 7 --out bench/data/1m")]
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
        /// Output folder
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
}

fn parse_params(params: &[String]) -> Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| match p.split_once('=') {
            Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.trim().to_string())),
            _ => anyhow::bail!("--param takes NAME=VALUE, got `{p}`"),
        })
        .collect()
}

/// `flowpat fmt`: canonical layout, in place (temp file + rename) or `--check`.
fn fmt(args: &[PathBuf], check: bool) -> Result<ExitCode> {
    let files = patterns::pattern_files(args)?;
    let mut unformatted = 0;
    let mut broken = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let source = compiler::source::Source { id: compiler::source::SourceId(0), name: file.display().to_string(), text };
        let (ast, errors) = compiler::syntax::parse(&source);
        if !errors.is_empty() {
            let mut map = compiler::source::SourceMap::new();
            map.add(source.name.clone(), source.text.clone());
            for e in errors {
                eprintln!("{}", compiler::diagnostic::Diagnostic::from(e).one_line(&map));
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
            println!("{}", file.display());
        } else {
            let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, formatted.as_bytes())?;
            tmp.persist(file).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("formatted {}", file.display());
        }
    }
    if broken > 0 {
        eprintln!("{broken} file(s) not formatted because they do not parse");
        return Ok(ExitCode::from(1));
    }
    Ok(if check && unformatted > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { patterns, format, params } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions { params: parse_params(&params)? };
            let set = patterns::compile_files(&files, &options)?;
            match format {
                DiagFormat::Human => {
                    eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
                    let errors = set.diagnostics.iter().filter(|d| !d.is_warning()).count();
                    let warnings = set.diagnostics.len() - errors;
                    eprintln!("checked {} file(s): {} pattern(s) ok, {errors} error(s), {warnings} warning(s)", files.len(), set.patterns.len());
                }
                DiagFormat::Json => print!("{}", patterns::diagnostics_json(&set)),
            }
            Ok(if set.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Explain { patterns, params } => {
            let files = patterns::pattern_files(&patterns)?;
            let options = compiler::CompileOptions { params: parse_params(&params)? };
            let set = patterns::compile_files(&files, &options)?;
            eprint!("{}", patterns::render_diagnostics(&set, patterns::color()));
            if set.has_errors() {
                return Ok(ExitCode::from(1));
            }
            let texts: Vec<String> = set.patterns.iter().map(|(_, c)| c.explain()).collect();
            print!("{}", texts.join("\n"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { patterns, flows, events, networks, workers, since, until, limit, format, out, quiet, strict, params, sample, config } => {
            let workers_given = workers.is_some();
            let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            let mut args = run::RunArgs { patterns, flows, events, networks, workers, since, until, limit, format, out, quiet, strict, params: parse_params(&params)?, sample };
            config::apply(&mut args, config.as_deref(), workers_given)?;
            run::run(args)
        }
        Command::Why { pattern, name, row, key, data } => {
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
            };
            config::apply(&mut args, data.config.as_deref(), false)?;
            run::why(args, name, row, key)
        }
        Command::Fmt { patterns, check } => fmt(&patterns, check),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "flowpat", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { rows, seed, files, out } => {
            let opts = engine::generate::GenerateOptions { rows, seed, files, out_dir: out.clone(), ..Default::default() };
            let summary = engine::generate::generate(&opts)?;
            eprintln!("wrote {} flows in {} file(s), {} events and a networks file to {}", summary.flow_rows, summary.flow_files.len(), summary.event_rows, out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
