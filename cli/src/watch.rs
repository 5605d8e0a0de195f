//! `flowpat watch` (standing patterns: the change stream of every pattern's results as files
//! arrive, go and change) and `flowpat results` (the current results a watch recorded in its
//! state folder). The engine does the work and keeps the emit file and state consistent; this
//! module parses arguments, polls, prints the per-epoch summary and runs `--on-change`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use engine::load::ReadOptions;
use engine::watch::{self, ChangeFormat, CrashPoint, EmitTarget, Watch, WatchOptions};

use crate::patterns;

/// Formats of the change stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ChangeFormatArg {
    /// One JSON object per change
    Jsonl,
    /// CSV, one header line, the union of the patterns' columns
    Csv,
}

/// Formats of `results`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ResultsFormat {
    /// Aligned table
    Table,
    /// CSV: one block per pattern, each with its own header line
    Csv,
    /// One JSON object per row, with a `pattern` field
    Jsonl,
}

/// Arguments of `watch`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  flowpat watch patterns/ --flows incoming/flows --events incoming/events \\
      --networks nets.csv --state state/ --emit changes.jsonl
  flowpat watch patterns/exfiltration.pattern --flows incoming/ \\
      --networks nets.csv --retain 7d \\
      --on-change 'mail -s exfil soc@example.org'
  flowpat results --state state/ --format csv

Files are taken once their size and modification time are unchanged across two polls;
dot-files and *.tmp are never read (write under such a name and rename into place).")]
pub struct WatchArgs {
    /// Pattern files or folders (every *.pattern inside)
    #[arg(required = true)]
    pub patterns: Vec<PathBuf>,
    /// Flow archive folders, files or globs to watch
    #[arg(long, value_name = "PATH", required = true)]
    pub flows: Vec<PathBuf>,
    /// Event archive folders, files or globs to watch
    #[arg(long, value_name = "PATH")]
    pub events: Vec<PathBuf>,
    /// Networks file (`CIDR,label` lines); edits relabel
    #[arg(long, value_name = "FILE")]
    pub networks: PathBuf,
    /// State folder: restart without losing or repeating changes; read by `flowpat results`
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Retract records older than this, in data time, behind the newest record seen (7d, 36h)
    #[arg(long, value_name = "DURATION")]
    pub retain: Option<String>,
    /// Append changes to FILE (`-`: stdout, the default)
    #[arg(long, value_name = "FILE|-")]
    pub emit: Option<PathBuf>,
    /// Change stream format
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ChangeFormatArg,
    /// Timely worker threads [default: number of cores]
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Poll interval in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub poll: u64,
    /// Process what is there (and the changes it sees settle), then exit
    #[arg(long)]
    pub once: bool,
    /// Run `sh -c CMD` with each epoch's changes as JSON lines on stdin (retried 3 times)
    #[arg(long, value_name = "CMD")]
    pub on_change: Option<String>,
    /// Fail on the first unreadable row instead of skipping and counting it
    #[arg(long)]
    pub strict: bool,
    /// No per-epoch summary on stderr
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Override a parameter: NAME=VALUE
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// Arguments of `results`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  flowpat results --state state/ --format csv --out current.csv
  flowpat results --state state/ --format csv --out current/   # one file per pattern")]
pub struct ResultsArgs {
    /// The state folder of a `flowpat watch --state DIR`
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ResultsFormat,
    /// Write to FILE instead of stdout (or to DIR/, one file per pattern named after it)
    #[arg(long, short = 'o', value_name = "FILE|DIR")]
    pub out: Option<PathBuf>,
}

/// Retries of a failing `--on-change` command, after the first attempt.
const HOOK_RETRIES: u32 = 3;

/// Runs `--on-change` commands in order on their own thread, so a slow or failing command
/// never holds up the watch.
struct Hooks {
    tx: Option<mpsc::Sender<(u64, String)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hooks {
    fn start(command: Option<String>) -> Hooks {
        let Some(command) = command else {
            return Hooks {
                tx: None,
                thread: None,
            };
        };
        let (tx, rx) = mpsc::channel::<(u64, String)>();
        let thread = std::thread::spawn(move || {
            for (epoch, lines) in rx {
                run_hook(&command, epoch, &lines);
            }
        });
        Hooks {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&self, epoch: u64, lines: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((epoch, lines.to_string()));
        }
    }

    fn finish(mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run_hook(command: &str, epoch: u64, lines: &str) {
    let mut backoff = Duration::from_millis(200);
    for attempt in 0..=HOOK_RETRIES {
        let outcome = (|| -> std::io::Result<std::process::ExitStatus> {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(command)
                .stdin(Stdio::piped())
                .env("FLOWPAT_EPOCH", epoch.to_string())
                .spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                // A command that does not read its input is not a failure.
                let _ = stdin.write_all(lines.as_bytes());
            }
            child.wait()
        })();
        let problem = match outcome {
            Ok(status) if status.success() => return,
            Ok(status) => format!("exited with {status}"),
            Err(e) => format!("could not start: {e}"),
        };
        if attempt < HOOK_RETRIES {
            eprintln!(
                "--on-change for epoch {epoch} {problem}; retrying in {} ms",
                backoff.as_millis()
            );
            std::thread::sleep(backoff);
            backoff *= 2;
        } else {
            eprintln!("--on-change for epoch {epoch} {problem}; gave up after {} attempts (the watch goes on)", HOOK_RETRIES + 1);
        }
    }
}

/// `flowpat watch`.
pub fn watch(args: WatchArgs, params: Vec<(String, String)>) -> Result<ExitCode> {
    let files = patterns::pattern_files(&args.patterns)?;
    let compiled = patterns::compile_files(&files, &compiler::CompileOptions { params })?;
    eprint!(
        "{}",
        patterns::render_diagnostics(&compiled, patterns::color())
    );
    if compiled.has_errors() {
        return Ok(ExitCode::from(1));
    }
    if compiled.patterns.is_empty() {
        bail!("no patterns to watch");
    }
    if args.flows.iter().any(|p| p.as_os_str() == "-")
        || args.events.iter().any(|p| p.as_os_str() == "-")
    {
        bail!("`--flows -` (an Arrow IPC stream on stdin) is not supported by watch yet: watch a folder");
    }
    let retain = match &args.retain {
        Some(text) => match compiler::resolve::parse_duration(text) {
            Some(us) if us > 0 => Some(us),
            _ => bail!("--retain takes a positive duration such as 7d, 36h or 90m, got `{text}`"),
        },
        None => None,
    };
    let emit = match &args.emit {
        None => EmitTarget::Stdout,
        Some(p) if p.as_os_str() == "-" => EmitTarget::Stdout,
        Some(p) => EmitTarget::File(p.clone()),
    };
    if args.state.is_none() && !args.quiet {
        eprintln!("note: without --state, `flowpat results` cannot see this watch, and a restart starts over");
    }
    let plans: Vec<compiler::plan::JoinPlan> = compiled
        .patterns
        .iter()
        .map(|(_, c)| c.plan.clone())
        .collect();
    let options = WatchOptions {
        flows: args.flows.clone(),
        events: args.events.clone(),
        networks: args.networks.clone(),
        state: args.state.clone(),
        retain,
        emit: Some(emit),
        format: match args.format {
            ChangeFormatArg::Jsonl => ChangeFormat::Jsonl,
            ChangeFormatArg::Csv => ChangeFormat::Csv,
        },
        workers: args
            .workers
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .max(1),
        read: ReadOptions {
            strict: args.strict,
            ..ReadOptions::default()
        },
        crash: CrashPoint::from_env(),
    };
    let mut watch = Watch::start(&plans, options).context("starting the watch")?;
    if let (Some(epoch), false) = (watch.committed_epoch(), args.quiet) {
        eprintln!(
            "resumed after epoch {epoch} from {}",
            args.state
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    let hooks = Hooks::start(args.on_change.clone());
    let poll = Duration::from_millis(args.poll.max(1));
    let mut polls = 0u32;
    let result = loop {
        let outcome = match watch.poll() {
            Ok(outcome) => outcome,
            Err(e) => break Err(anyhow::Error::new(e).context("watching")),
        };
        polls += 1;
        for note in &outcome.notes {
            eprintln!("{note}");
        }
        for epoch in &outcome.epochs {
            if !args.quiet {
                eprintln!("{}", epoch.summary());
                for report in &epoch.loads {
                    if report.rows_skipped > 0 {
                        eprintln!(
                            "  {}: {} of {} row(s) skipped (unreadable)",
                            report.display, report.rows_skipped, report.rows_read
                        );
                    }
                }
            }
            if !epoch.changes.is_empty() {
                hooks.send(epoch.epoch, &epoch.jsonl);
            }
        }
        // Two polls at least: a file is taken once two polls agree on it.
        if args.once && polls >= 2 && outcome.idle() {
            break Ok(());
        }
        std::thread::sleep(poll);
    };
    hooks.finish();
    drop(watch);
    result.map(|()| ExitCode::SUCCESS)
}

/// `flowpat results`.
pub fn results(args: ResultsArgs) -> Result<ExitCode> {
    let snapshot = watch::read_results(&args.state)
        .with_context(|| format!("reading the watch state in {}", args.state.display()))?;
    let Some(path) = &args.out else {
        let mut text = Vec::new();
        write_results(&snapshot, &snapshot.patterns, args.format, &mut text)?;
        crate::output::stdout().write_all(&text)?;
        return Ok(ExitCode::SUCCESS);
    };
    if path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') {
        // One file per pattern, named after it, as `run --out DIR/` writes them.
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let extension = match args.format {
            ResultsFormat::Table => "txt",
            ResultsFormat::Csv => "csv",
            ResultsFormat::Jsonl => "jsonl",
        };
        for set in &snapshot.patterns {
            let mut text = Vec::new();
            write_results(&snapshot, std::slice::from_ref(set), args.format, &mut text)?;
            let name = file_name(&set.pattern);
            write_atomically(&path.join(format!("{name}.{extension}")), &text)?;
        }
    } else {
        let mut text = Vec::new();
        write_results(&snapshot, &snapshot.patterns, args.format, &mut text)?;
        write_atomically(path, &text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A pattern's name as a file name: letters, digits, `-`, `_` and `.` kept, anything else `-`.
fn file_name(pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes the results of `sets` (patterns of `snapshot`). CSV is one block per pattern, each
/// with its own header line (patterns export different columns).
fn write_results(
    snapshot: &watch::ResultsSnapshot,
    sets: &[watch::PatternResults],
    format: ResultsFormat,
    w: &mut Vec<u8>,
) -> Result<()> {
    match format {
        ResultsFormat::Csv => {
            let mut csv = csv::WriterBuilder::new().flexible(true).from_writer(w);
            for set in sets {
                csv.write_record(&set.header)?;
                for row in &set.rows {
                    csv.write_record(row)?;
                }
            }
            csv.flush()?;
        }
        ResultsFormat::Jsonl => {
            for set in sets {
                for row in &set.rows {
                    let cells: Vec<engine::output::Cell> = set
                        .header
                        .iter()
                        .zip(row)
                        .map(|(h, c)| crate::output::cell_from_text(h, c))
                        .collect();
                    writeln!(
                        w,
                        "{}",
                        crate::output::json_line(&set.pattern, &set.header, &cells)
                    )?;
                }
            }
        }
        ResultsFormat::Table => {
            match snapshot.epoch {
                Some(epoch) => writeln!(w, "current results after epoch {epoch}\n")?,
                None => writeln!(w, "no epoch committed yet\n")?,
            }
            for set in sets {
                let keep = crate::output::table_columns(
                    &set.header,
                    &[
                        ".file",
                        ".row",
                        ".destPort",
                        ".startTime",
                        ".bytesSent",
                        ".time",
                        ".signature",
                    ],
                );
                writeln!(
                    w,
                    "{}  ({} result{})",
                    crate::output::terminal_safe(&set.pattern),
                    set.rows.len(),
                    if set.rows.len() == 1 { "" } else { "s" }
                )?;
                if set.rows.is_empty() {
                    writeln!(w, "  no results\n")?;
                    continue;
                }
                let mut table = comfy_table::Table::new();
                table.load_preset(comfy_table::presets::UTF8_HORIZONTAL_ONLY);
                table.set_header(
                    keep.iter()
                        .map(|k| crate::output::table_cell(&set.header[*k], usize::MAX)),
                );
                for row in &set.rows {
                    table.add_row(keep.iter().map(|k| crate::output::table_cell(&row[*k], 40)));
                }
                writeln!(w, "{table}\n")?;
            }
        }
    }
    Ok(())
}
