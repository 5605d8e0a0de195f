//! `flowpat watch` (standing patterns: the change stream of every pattern's results as files
//! arrive, go and change) and `flowpat results` (the current results a watch recorded in its
//! state folder). The engine does the work and keeps the emit file and state consistent; this
//! module parses arguments, decides when to look at the folders (on a file-system notification
//! or the poll timeout), reads an Arrow IPC stream from stdin on a thread of its own, prints
//! the per-epoch summary and runs `--on-change`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arrow::record_batch::RecordBatch;
use engine::load::ReadOptions;
use engine::watch::{
    self, ChangeFormat, CrashPoint, EmitTarget, EpochReport, Kind, PollOutcome, Watch,
    WatchOptions, STDIN,
};

use crate::patterns;

/// Formats of the change stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ChangeFormatArg {
    /// One JSON object per change
    Jsonl,
    /// CSV: a header line, the union of the patterns' columns (again when a reload adds columns)
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
  flowpat watch patterns/ --flows zeek/ --flows-format zeek --networks nets.csv
  sensor-to-arrow | flowpat watch patterns/ --flows - --events alerts/ \\
      --networks nets.csv --epoch-every 5s

When files are taken: dot-files and *.tmp are never read (write under such a name and rename
into place); any other file is taken once its size and modification time are unchanged across
two looks at least min(--poll, 1000) ms apart, a Parquet file once its footer reads, a text log
(--flows-format/--events-format) whole, like any file (a log that grows later is replaced).
A look is a folder listing and a stat per file. Between looks the watch sleeps until a
file-system notification (inotify, FSEvents, ...) about a watched folder or the networks file,
or until --poll MS has passed: the poll is the fallback for file systems without notifications
(NFS, some FUSE mounts), and the only timer with --no-notify. Where notifications work, a long
--poll (say 60000) costs no latency.

Edited patterns: the pattern files and folders given (and the files they `use`) are watched
too, with the same stability rule. An edit, a new *.pattern in a watched folder or a removed
one is compiled with the same --param values and the other running versions. If it does not
compile, its diagnostics are printed on stderr (as `flowpat check` prints them), nothing is
emitted and the old version keeps running. If it does, one epoch (cause
`pattern:patterns/exfiltration.pattern`) emits exactly the difference between the old
version's current results and the new version's results on the same retained records, as -
and + lines (a renamed pattern: all - under the old name, all + under the new); other patterns
emit nothing. With --state the running pattern texts are recorded, so a restart runs those
and then reloads what changed while stopped. Not with --processes (restart the cluster).

stdin (`--flows -` or `--events -`): an Arrow IPC stream with the archive's canonical columns.
Each record batch is one epoch (with --epoch-every, the batches arriving within that period).
Its records are named `<stdin>` in results, rows numbered from 0 across the whole stream. A
stream cannot be replayed, so it cannot be combined with --state (a restart would lose its
records); watch files instead when restarts must be exact. At the end of the stream the last
epoch is finished; the watch then goes on if it also watches folders, else exits 0.")]
pub struct WatchArgs {
    /// Pattern files or folders (every *.pattern inside); watched, edits are reloaded
    #[arg(required = true)]
    pub patterns: Vec<PathBuf>,
    /// Flow archive folders, files or globs to watch; `-`: an Arrow IPC stream on stdin
    #[arg(long, value_name = "PATH|-", required = true)]
    pub flows: Vec<PathBuf>,
    /// Event archive folders, files or globs to watch; `-`: an Arrow IPC stream on stdin
    #[arg(long, value_name = "PATH|-")]
    pub events: Vec<PathBuf>,
    #[command(flatten)]
    pub text: crate::run::TextArgs,
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
    #[arg(long, short = 'w', value_parser = crate::parse_workers)]
    pub workers: Option<usize>,
    /// Longest sleep between two looks at the folders, in milliseconds (notifications wake sooner)
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub poll: u64,
    /// No file-system notifications: look every --poll MS
    #[arg(long)]
    pub no_notify: bool,
    /// With stdin input: one epoch per DURATION of arriving batches (e.g. 5s) instead of one per batch
    #[arg(long, value_name = "DURATION")]
    pub epoch_every: Option<String>,
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
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,
    /// Test hook: exit 0 once this epoch is committed (process 0 then stops the whole cluster)
    #[arg(long, value_name = "EPOCH", hide = true)]
    pub stop_after_epoch: Option<u64>,
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

/// What wakes the main loop.
enum Wake {
    /// A file-system notification: look at the folders.
    Look,
    /// The schema of the stdin stream, before its first batch.
    Schema(arrow::datatypes::SchemaRef),
    /// A record batch from stdin.
    Batch(RecordBatch),
    /// The end of stdin, or why it could not be read further.
    End(Option<engine::load::LoadError>),
}

/// Reads the Arrow IPC stream on stdin on its own thread, batch by batch, into `tx`.
fn read_stdin(tx: mpsc::Sender<Wake>) {
    std::thread::spawn(move || {
        let end = match engine::load::ipc_stream_batches(std::io::stdin(), STDIN) {
            Ok((schema, batches)) => {
                let _ = tx.send(Wake::Schema(schema));
                let mut end = None;
                for batch in batches {
                    match batch {
                        Ok(batch) => {
                            if tx.send(Wake::Batch(batch)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            end = Some(e);
                            break;
                        }
                    }
                }
                end
            }
            Err(e) => Some(e),
        };
        let _ = tx.send(Wake::End(end));
    });
}

/// Changes from which an epoch counts as large: it is followed by giving free memory back.
const LARGE_EPOCH: usize = 100_000;

/// Prints an epoch's summary and hands its changes to `--on-change`.
fn report_epoch(epoch: &EpochReport, quiet: bool, hooks: &Hooks) {
    if epoch.changes.len() >= LARGE_EPOCH {
        // What a large epoch (the initial load) built and dropped goes back to the system.
        crate::memory::release_free();
    }
    if !quiet {
        eprintln!("{}", epoch.summary());
        for report in &epoch.loads {
            if report.rows_skipped > 0 {
                eprintln!(
                    "  {}:{}: {} of {} row(s) skipped (unreadable)",
                    if report.events { "events" } else { "flows" },
                    report.display,
                    report.rows_skipped,
                    report.rows_read
                );
            }
        }
    }
    if !epoch.changes.is_empty() {
        hooks.send(epoch.epoch, &epoch.jsonl);
    }
}

fn report_poll(outcome: &PollOutcome, quiet: bool, hooks: &Hooks) {
    for note in &outcome.notes {
        // Plain notes (`note: …`) go with --quiet, as in `run`; problems are always said.
        if !(quiet && note.starts_with("note: ")) {
            eprintln!("{note}");
        }
    }
    for epoch in &outcome.epochs {
        report_epoch(epoch, quiet, hooks);
    }
}

/// `flowpat watch`.
pub fn watch(args: WatchArgs, params: Vec<(String, String)>) -> Result<ExitCode> {
    // Freed memory stays for the next epoch instead of being faulted in again (crate::memory).
    crate::memory::keep_freed();
    let is_stdin = |p: &PathBuf| p.as_os_str() == "-";
    let stdin_kind = match (
        args.flows.iter().any(is_stdin),
        args.events.iter().any(is_stdin),
    ) {
        (true, true) => {
            return Err(crate::usage(
                "only one of --flows and --events can read stdin (`-`)",
            ))
        }
        (true, false) => Some(Kind::Flows),
        (false, true) => Some(Kind::Events),
        (false, false) => None,
    };
    if stdin_kind.is_some() && args.state.is_some() {
        return Err(crate::usage(format!(
            "--state cannot be used with `--{} -`: records read from stdin cannot be read again \
             after a restart, so the state could not keep its promise that a restart loses and \
             repeats no change; watch without --state (a restart then starts over), or write the \
             batches as files into a watched folder (stage under a dot-name, then rename)",
            stdin_kind.map(Kind::name).unwrap_or_default()
        )));
    }
    let cluster = args.cluster.spec()?;
    if let (Some(kind), Some(_)) = (stdin_kind, &cluster) {
        return Err(crate::usage(format!(
            "a cluster watch cannot read `--{} -`: only process 0 would see stdin; write the \
             batches as files into a folder every process sees (stage under a dot-name, then rename)",
            kind.name()
        )));
    }
    let epoch_every =
        match &args.epoch_every {
            None => None,
            Some(_) if stdin_kind.is_none() => return Err(crate::usage(
                "--epoch-every groups batches read from stdin: give `--flows -` or `--events -`",
            )),
            Some(text) => match compiler::resolve::parse_duration(text) {
                Some(us) if us > 0 => Some(Duration::from_micros(us as u64)),
                _ => {
                    return Err(crate::usage(format!(
                    "--epoch-every takes a positive duration such as 5s, 500ms or 1m, got `{text}`"
                )))
                }
            },
        };
    let compile_options = compiler::CompileOptions { params };
    // A restart runs the pattern versions that were running (recorded in the state), then
    // reloads whatever changed since; a cluster runs the files as they are.
    let recorded = match (&args.state, &cluster) {
        (Some(dir), None) => watch::recorded_patterns(dir).unwrap_or_default(),
        _ => Vec::new(),
    };
    let (files, serve) = if recorded.iter().any(|s| s.root) {
        let roots = recorded
            .iter()
            .filter(|s| s.root)
            .map(|s| s.path.clone())
            .collect();
        let texts = recorded.into_iter().map(|s| (s.path, s.text)).collect();
        (roots, texts)
    } else {
        (patterns::pattern_files(&args.patterns)?, BTreeMap::new())
    };
    let mut read = BTreeMap::new();
    let compiled = patterns::compile_with(
        &files,
        &compile_options,
        &mut pattern_reader(&serve, &mut read),
    )?;
    // Recorded versions are compared with the files at the first looks.
    let reload = cluster.is_none().then(|| {
        PatternWatch::new(
            args.patterns.clone(),
            compile_options,
            files,
            read,
            !serve.is_empty(),
        )
    });
    // A cluster's other processes leave warnings to process 0 (each says why it stops).
    if cluster.as_ref().is_none_or(|spec| spec.process == 0) || compiled.has_errors() {
        eprint!(
            "{}",
            patterns::render_diagnostics(&compiled, patterns::color())
        );
    }
    if compiled.has_errors() {
        return Ok(ExitCode::from(1));
    }
    if compiled.patterns.is_empty() {
        // As `run` and `check` refuse it: a pattern finding.
        eprintln!("error: no patterns to watch: no `search` in the pattern files");
        return Ok(ExitCode::from(1));
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
    let writer = cluster.as_ref().is_none_or(|spec| spec.process == 0);
    if !args.quiet && writer {
        if let Some(kind) = stdin_kind {
            eprintln!("note: reading {} from stdin (an Arrow IPC stream), named `{STDIN}` in results; a stream cannot be replayed, so there is no --state: a restart starts over, and `flowpat results` cannot see this watch", kind.name());
        } else if args.state.is_none() {
            eprintln!("note: without --state, `flowpat results` cannot see this watch, and a restart starts over");
        }
    }
    let plans: Vec<compiler::plan::JoinPlan> = compiled
        .patterns
        .iter()
        .map(|(_, c)| c.plan.clone())
        .collect();
    let mut read = ReadOptions {
        strict: args.strict,
        ..ReadOptions::default()
    };
    args.text.apply(&mut read)?;
    let folders = |paths: &[PathBuf]| -> Vec<PathBuf> {
        paths.iter().filter(|p| !is_stdin(p)).cloned().collect()
    };
    let options = WatchOptions {
        flows: folders(&args.flows),
        events: folders(&args.events),
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
        read,
        flows_format: args.text.flows_format,
        events_format: args.text.events_format,
        crash: CrashPoint::from_env(),
    };
    let has_folders = !options.flows.is_empty() || !options.events.is_empty();
    if let Some(spec) = cluster.as_ref().filter(|spec| spec.process != 0) {
        // This process reads its share of each epoch's files; process 0 decides the epochs,
        // emits, keeps the state and runs --on-change.
        watch::serve(&plans, &options, spec).context("watching")?;
        if !args.quiet {
            eprintln!(
                "process {}: process 0 stopped the watch; the changes are in its output",
                spec.process
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut watch = match &cluster {
        Some(spec) => Watch::start_cluster(&plans, options, spec),
        None => Watch::start(&plans, options),
    }
    .context("starting the watch")?;
    // A restart replayed the recorded files: what that built and dropped goes back.
    crate::memory::release_free();
    // Only `--on-change` reads each epoch's changes as JSON lines.
    watch.keep_jsonl(args.on_change.is_some());
    let mut reload = reload;
    if let Some(reload) = &reload {
        watch.set_pattern_sources(reload.sources());
    }
    if let (Some(epoch), false) = (watch.committed_epoch(), args.quiet) {
        eprintln!(
            "resumed after epoch {epoch} from {}",
            args.state
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    let (tx, rx) = mpsc::channel::<Wake>();
    // Notifications are set up before the first look, so that nothing that happens after it
    // goes unseen until the poll timeout.
    let notifier = if args.no_notify {
        None
    } else {
        let wake = tx.clone();
        let pattern_paths = reload.as_ref().map(PatternWatch::paths).unwrap_or_default();
        match watch.notify_with(&pattern_paths, move || {
            let _ = wake.send(Wake::Look);
        }) {
            Ok(notifier) => {
                for problem in &notifier.problems {
                    eprintln!("note: no file-system notifications for {problem}; looking there every {} ms", args.poll);
                }
                Some(notifier)
            }
            Err(e) => {
                eprintln!(
                    "note: no file-system notifications ({e}); looking every {} ms",
                    args.poll
                );
                None
            }
        }
    };
    if let Some(kind) = stdin_kind {
        read_stdin(tx.clone());
        // The schema comes first; a stream the patterns cannot read is an error at once.
        loop {
            match rx.recv() {
                Ok(Wake::Schema(schema)) => {
                    watch
                        .check_stream(kind, &schema)
                        .context("reading the Arrow IPC stream on stdin")?;
                    break;
                }
                Ok(Wake::Look) => continue,
                Ok(Wake::End(Some(e))) => {
                    return Err(
                        anyhow::Error::new(e).context("reading the Arrow IPC stream on stdin")
                    )
                }
                _ => bail!("stdin ended before an Arrow IPC stream began"),
            }
        }
    }
    let hooks = Hooks::start(args.on_change.clone());
    let result = run_loop(
        &mut watch,
        &rx,
        LoopConfig {
            stdin: stdin_kind,
            has_folders,
            notify: notifier.is_some(),
            poll: Duration::from_millis(args.poll.max(1)),
            epoch_every,
            once: args.once,
            quiet: args.quiet,
            stop_after: args.stop_after_epoch,
        },
        &hooks,
        reload.as_mut(),
    );
    drop(notifier);
    hooks.finish();
    drop(watch);
    result.map(|()| ExitCode::SUCCESS)
}

/// How the main loop runs.
struct LoopConfig {
    stdin: Option<Kind>,
    has_folders: bool,
    notify: bool,
    poll: Duration,
    epoch_every: Option<Duration>,
    once: bool,
    quiet: bool,
    /// Test hook: stop once this epoch is committed.
    stop_after: Option<u64>,
}

/// Two looks at a file are at least this far apart before it counts as stable (with
/// notifications; by polling they are `--poll` apart).
const SETTLE_MAX: Duration = Duration::from_millis(1000);

/// The shortest gap between looks brought forward by notifications (a file being staged under
/// a dot-name notifies at every write).
const NOTIFY_GAP_MAX: Duration = Duration::from_millis(50);

/// Looks at the folders when due and feeds stdin's batches, until stdin ends (and there is no
/// folder to watch), `--once` is done, or an error.
fn run_loop(
    watch: &mut Watch,
    rx: &mpsc::Receiver<Wake>,
    cfg: LoopConfig,
    hooks: &Hooks,
    mut reload: Option<&mut PatternWatch>,
) -> Result<()> {
    let settle = cfg.poll.min(SETTLE_MAX);
    let notify_gap = settle.min(NOTIFY_GAP_MAX);
    let mut stdin_open = cfg.stdin.is_some();
    let mut group: Vec<RecordBatch> = Vec::new();
    let mut group_due: Option<Instant> = None;
    let mut looks = 0u32;
    let mut last_look: Option<Instant> = None;
    let mut next_look = Instant::now();
    let mut stdin_error = None;
    loop {
        let now = Instant::now();
        if now >= next_look {
            let mut outcome = watch.poll().context("watching")?;
            report_poll(&outcome, cfg.quiet, hooks);
            if let Some(reload) = reload.as_deref_mut() {
                let (waiting, epoch) = reload.look(watch)?;
                outcome.waiting += waiting;
                if let Some(epoch) = epoch {
                    report_epoch(&epoch, cfg.quiet, hooks);
                    outcome.epochs.push(epoch);
                }
            }
            looks += 1;
            last_look = Some(now);
            // Something changing is looked at again once it had time to settle; otherwise the
            // next look is when a notification comes, or the poll timeout.
            let again = if !cfg.notify {
                cfg.poll
            } else if outcome.waiting > 0 || cfg.once {
                settle
            } else {
                cfg.poll
            };
            next_look = now + again;
            // Two looks at least: a file is taken once two looks agree on it.
            if cfg.once && !stdin_open && group.is_empty() && looks >= 2 && outcome.idle() {
                break;
            }
            if cfg
                .stop_after
                .is_some_and(|stop| watch.committed_epoch().is_some_and(|e| e >= stop))
            {
                break;
            }
        }
        if let Some(kind) = cfg.stdin {
            let due = group_due.is_some_and(|due| now >= due);
            if !group.is_empty() && (due || !stdin_open) {
                if let Some(epoch) = watch
                    .feed_stream(kind, std::mem::take(&mut group))
                    .context("watching")?
                {
                    report_epoch(&epoch, cfg.quiet, hooks);
                }
                group_due = None;
            }
        }
        if let Some(e) = stdin_error.take() {
            return Err(anyhow::Error::new(e).context("reading the Arrow IPC stream on stdin"));
        }
        if cfg.stdin.is_some() && !stdin_open && group.is_empty() && !cfg.has_folders {
            // The stream is over and there is no folder to watch.
            break;
        }
        let wake_at = match group_due {
            Some(due) => next_look.min(due),
            None => next_look,
        };
        let timeout = wake_at.saturating_duration_since(Instant::now());
        match rx.recv_timeout(timeout) {
            Ok(Wake::Look) => {
                // Look now unless a look is already due sooner, and never sooner than
                // `notify_gap` after the last one (a burst of notifications makes one look;
                // the channel is not drained here, as stdin's batches share it).
                if cfg.notify {
                    let soonest = last_look.map_or(Instant::now(), |at| at + notify_gap);
                    next_look = next_look.min(soonest.max(Instant::now()));
                }
            }
            Ok(Wake::Batch(batch)) => match cfg.epoch_every {
                None => {
                    if let Some(kind) = cfg.stdin {
                        if let Some(epoch) =
                            watch.feed_stream(kind, vec![batch]).context("watching")?
                        {
                            report_epoch(&epoch, cfg.quiet, hooks);
                        }
                    }
                }
                Some(every) => {
                    group.push(batch);
                    group_due.get_or_insert_with(|| Instant::now() + every);
                }
            },
            Ok(Wake::End(error)) => {
                stdin_open = false;
                stdin_error = error;
                if !cfg.quiet {
                    eprintln!(
                        "stdin ended{}",
                        if cfg.has_folders && !cfg.once {
                            "; still watching the folders"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(Wake::Schema(_)) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the watch's wake-up channel closed")
            }
        }
    }
    Ok(())
}

/// Size and modification time of a pattern file (`None`: not there).
type Stamp = Option<(u64, std::time::SystemTime)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// A reader for [`patterns::compile_with`]: the texts of `serve` where it has them, else the
/// file; every text read goes into `read` with the file's stamp taken just before.
fn pattern_reader<'a>(
    serve: &'a BTreeMap<PathBuf, String>,
    read: &'a mut BTreeMap<PathBuf, (Stamp, String)>,
) -> impl FnMut(&Path) -> Result<String> + 'a {
    move |path: &Path| {
        let (seen, text) = match serve.get(path) {
            Some(text) => (None, text.clone()),
            None => {
                let seen = stamp(path);
                let text = compiler::source::decode(std::fs::read(path)?)?;
                (seen, text)
            }
        };
        read.insert(path.to_path_buf(), (seen, text.clone()));
        Ok(text)
    }
}

/// The pattern files of a running watch: the versions its plans were compiled from, and the
/// edits not yet taken. An edit is taken as a data file is, once two looks find the same size
/// and modification time (a new `*.pattern` in a watched folder likewise; a removal too); it
/// is then compiled with the other running versions, and either replaces the plans (one epoch
/// emitting the difference) or is refused with its diagnostics until it changes again.
struct PatternWatch {
    /// The pattern files and folders given.
    args: Vec<PathBuf>,
    options: compiler::CompileOptions,
    /// The running version's files in compile order.
    roots: Vec<PathBuf>,
    /// The running version of every file read (roots and `use`d files).
    texts: BTreeMap<PathBuf, String>,
    /// The stamp each file had when it was read, or last found unchanged (absent: unknown).
    seen: BTreeMap<PathBuf, Stamp>,
    /// Files seen changed by the previous look, and whether that version was refused.
    candidates: BTreeMap<PathBuf, (Stamp, bool)>,
    /// The last note about the pattern folders (said once).
    noted: Option<String>,
}

impl PatternWatch {
    fn new(
        args: Vec<PathBuf>,
        options: compiler::CompileOptions,
        roots: Vec<PathBuf>,
        read: BTreeMap<PathBuf, (Stamp, String)>,
        recorded: bool,
    ) -> PatternWatch {
        let mut seen = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for (path, (at, text)) in read {
            // A recorded version is compared with the file by content at the first looks.
            if !recorded {
                seen.insert(path.clone(), at);
            }
            texts.insert(path, text);
        }
        PatternWatch {
            args,
            options,
            roots,
            texts,
            seen,
            candidates: BTreeMap::new(),
            noted: None,
        }
    }

    /// What the state records: every text of the running version.
    fn sources(&self) -> Vec<watch::PatternSource> {
        self.texts
            .iter()
            .map(|(path, text)| watch::PatternSource {
                path: path.clone(),
                text: text.clone(),
                root: self.roots.contains(path),
            })
            .collect()
    }

    /// What to have notifications about: the folders and files given and every file read.
    fn paths(&self) -> Vec<PathBuf> {
        let mut out = self.args.clone();
        out.extend(self.texts.keys().cloned());
        out
    }

    fn note(&mut self, text: String) {
        if self.noted.as_ref() != Some(&text) {
            eprintln!("{text}");
            self.noted = Some(text);
        }
    }

    /// One look at the pattern files: how many are still changing, and the epoch of a new
    /// version if one was taken.
    fn look(&mut self, watch: &mut Watch) -> Result<(usize, Option<EpochReport>)> {
        let listed = match patterns::pattern_files(&self.args) {
            Ok(listed) => listed,
            Err(e) => {
                self.note(format!(
                    "pattern files not reloaded: {e:#}; the running versions go on"
                ));
                return Ok((0, None));
            }
        };
        let mut paths: BTreeSet<PathBuf> = listed.iter().cloned().collect();
        paths.extend(self.texts.keys().cloned());
        paths.extend(self.roots.iter().cloned());
        let mut waiting = 0;
        let mut taken: Vec<(PathBuf, Stamp)> = Vec::new();
        for path in paths {
            // A root no longer listed is gone, whatever is at its path.
            let now = if self.roots.contains(&path) && !listed.contains(&path) {
                None
            } else {
                stamp(&path)
            };
            if self.seen.get(&path) == Some(&now) {
                self.candidates.remove(&path);
                continue;
            }
            match self.candidates.get(&path) {
                Some((c, refused)) if *c == now => {
                    if !refused {
                        taken.push((path, now));
                    }
                }
                _ => {
                    self.candidates.insert(path, (now, false));
                    waiting += 1;
                }
            }
        }
        if taken.is_empty() {
            return Ok((waiting, None));
        }
        // The next version: the running texts with the stable changes.
        let mut serve = self.texts.clone();
        let mut causes = Vec::new();
        let mut added = BTreeSet::new();
        let mut removed = BTreeSet::new();
        for (path, now) in &taken {
            let shown = path.display();
            if now.is_none() {
                self.seen.insert(path.clone(), None);
                self.candidates.remove(path);
                if serve.remove(path).is_some() || self.roots.contains(path) {
                    removed.insert(path.clone());
                    causes.push(format!("remove pattern:{shown}"));
                }
                continue;
            }
            let Ok(text) = std::fs::read(path)
                .map_err(anyhow::Error::from)
                .and_then(|b| Ok(compiler::source::decode(b)?))
            else {
                continue;
            };
            if serve.get(path) == Some(&text) {
                // Touched or saved unchanged.
                self.seen.insert(path.clone(), *now);
                self.candidates.remove(path);
                continue;
            }
            if !self.texts.contains_key(path) && !self.roots.contains(path) {
                added.insert(path.clone());
                causes.push(format!("add pattern:{shown}"));
            } else {
                causes.push(format!("pattern:{shown}"));
            }
            serve.insert(path.clone(), text);
        }
        if causes.is_empty() {
            return Ok((waiting, None));
        }
        // Files in compile order: the running ones still there, and new ones once stable.
        let roots: Vec<PathBuf> = listed
            .iter()
            .filter(|p| self.roots.contains(p) || added.contains(*p))
            .chain(
                self.roots
                    .iter()
                    .filter(|p| !listed.contains(p) && !removed.contains(*p)),
            )
            .cloned()
            .collect();
        let refuse = |me: &mut PatternWatch| {
            for (path, now) in &taken {
                if now.is_some() {
                    me.candidates.insert(path.clone(), (*now, true));
                }
            }
        };
        let mut read = BTreeMap::new();
        let compiled = patterns::compile_with(
            &roots,
            &self.options,
            &mut pattern_reader(&serve, &mut read),
        );
        let compiled = match compiled {
            Ok(compiled) => compiled,
            Err(e) => {
                eprintln!("pattern files not reloaded: {e:#}; the running versions go on");
                refuse(self);
                return Ok((waiting, None));
            }
        };
        eprint!(
            "{}",
            patterns::render_diagnostics(&compiled, patterns::color())
        );
        if compiled.has_errors() || compiled.patterns.is_empty() {
            eprintln!(
                "{} not reloaded ({}); the running versions go on until it changes again",
                causes.join("; "),
                if compiled.has_errors() {
                    "errors above"
                } else {
                    "no pattern left"
                }
            );
            refuse(self);
            return Ok((waiting, None));
        }
        let plans: Vec<compiler::plan::JoinPlan> = compiled
            .patterns
            .iter()
            .map(|(_, c)| c.plan.clone())
            .collect();
        for (path, now) in &taken {
            self.seen.insert(path.clone(), *now);
            self.candidates.remove(path);
        }
        self.roots = roots;
        self.texts.clear();
        for (path, (at, text)) in read {
            // Files read from disk now (a new `use`) are stamped as read.
            if at.is_some() && !self.seen.contains_key(&path) {
                self.seen.insert(path.clone(), at);
            }
            self.texts.insert(path, text);
        }
        let epoch = watch
            .replace_patterns(&plans, causes, self.sources())
            .context("watching")?;
        Ok((waiting, epoch))
    }
}

/// `flowpat results`.
pub fn results(args: ResultsArgs) -> Result<ExitCode> {
    let snapshot = watch::read_results(&args.state)
        .with_context(|| format!("reading the watch state in {}", args.state.display()))?;
    let patterns = snapshot.patterns.len();
    let folder = args.out.as_deref().is_some_and(|p| {
        p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') || p.extension().is_none()
    });
    if patterns > 1 && args.format == ResultsFormat::Csv && !folder {
        // As `run` refuses it: CSV blocks with different headers, one after another, are
        // not one CSV document.
        return Err(crate::usage(format!(
            "the state holds {patterns} patterns, whose CSV would be {patterns} documents one after another, \
             which no reader can tell apart: give --out DIR/ for one file per pattern, \
             or use --format jsonl (one object per row, with a `pattern` field) or --format table"
        )));
    }
    let Some(path) = &args.out else {
        let mut text = Vec::new();
        write_results(&snapshot, &snapshot.patterns, args.format, &mut text)?;
        crate::output::stdout().write_all(&text)?;
        return Ok(ExitCode::SUCCESS);
    };
    if path.is_dir()
        || path.as_os_str().to_string_lossy().ends_with('/')
        || (folder && patterns > 1)
    {
        // One file per pattern, named after it, as `run --out DIR/` writes them.
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let extension = match args.format {
            ResultsFormat::Table => "txt",
            ResultsFormat::Csv => "csv",
            ResultsFormat::Jsonl => "jsonl",
        };
        let stems = pattern_stems(&args.state);
        for set in &snapshot.patterns {
            let mut text = Vec::new();
            write_results(&snapshot, std::slice::from_ref(set), args.format, &mut text)?;
            let name = stems
                .get(&set.pattern)
                .cloned()
                .unwrap_or_else(|| file_name(&set.pattern));
            write_atomically(&path.join(format!("{name}.{extension}")), &text)?;
        }
    } else {
        let mut text = Vec::new();
        write_results(&snapshot, &snapshot.patterns, args.format, &mut text)?;
        write_atomically(path, &text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The file names `run --out DIR/` gives each pattern (the pattern file's stem, with the
/// pattern's name appended when one file holds several), from the pattern texts the state
/// records; a pattern not found there is named by [`file_name`].
fn pattern_stems(state: &Path) -> BTreeMap<String, String> {
    let mut stems = BTreeMap::new();
    let Ok(sources) = watch::recorded_patterns(state) else {
        return stems;
    };
    for source in sources.iter().filter(|s| s.root) {
        let mut map = compiler::source::SourceMap::new();
        let id = map.add(source.path.display().to_string(), source.text.clone());
        let (Some(file), _) = compiler::syntax::parse(map.get(id)) else {
            continue;
        };
        let names: Vec<&str> = file
            .items
            .iter()
            .filter_map(|item| match item {
                compiler::ast::Item::Search(search) => Some(search.name.as_str()),
                _ => None,
            })
            .collect();
        for name in &names {
            stems
                .entry(name.to_string())
                .or_insert_with(|| crate::run::output_stem(&source.path, name, names.len()));
        }
    }
    stems
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
    crate::output::persist_result(tmp, path)
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
                let mut table = crate::output::rows_table();
                table.set_header(
                    keep.iter()
                        .map(|k| crate::output::table_cell(&set.header[*k], usize::MAX)),
                );
                for row in &set.rows {
                    table.add_row(
                        keep.iter()
                            .map(|k| crate::output::column_cell(&set.header[*k], &row[*k], 40)),
                    );
                }
                writeln!(w, "{table}\n")?;
            }
        }
    }
    Ok(())
}
