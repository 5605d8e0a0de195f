//! Standing patterns: one dataflow kept alive across epochs and fed the changes of watched
//! folders, so every pattern's results are maintained incrementally, never recomputed.
//!
//! An epoch is the timely time. The first epoch ingests every complete file that is there;
//! after it, each change is an epoch of its own: a new file, a removed file (its records are
//! retracted), a replaced file (old records retracted, new ones added), an edited networks
//! file (every record retracted under the old labels and re-fed under the new ones). For each
//! epoch the dataflow's consolidated output is turned into change lines (`-` the old row with
//! its old `matches`, `+` the new), appended to the emit stream and, with `--state`, committed
//! (see `state` for the protocol that makes a crash lose and repeat nothing).
//!
//! File completeness: dot-files, dot-folders and `*.tmp` are never read (stage a file under
//! such a name and rename it into place); any other file is taken only once its size and
//! modification time are the same in two consecutive polls, and a Parquet file only once its
//! footer reads. A file that still cannot be read is reported once and retried when it
//! changes. The check per look is a directory listing and a `stat` per file. Between looks
//! the caller sleeps until a file-system notification ([`Watch::notify`], see `wake`) or the
//! poll timeout, whichever comes first; a notification only brings the look forward.
//!
//! Text logs named with a preset (`flows_format`, `events_format`) are files like any other:
//! read whole, through the preset, once stable; a log that grows afterwards is a replaced file.
//!
//! Streams: [`Watch::feed_stream`] takes record batches that arrive without a file (an Arrow
//! IPC stream on stdin) as one epoch. Their records are named [`STDIN`] with rows numbered
//! from 0 across the whole stream; they are never removed (only expired by `retain`) and, as
//! a stream cannot be read again, they cannot be replayed on restart: a watch with a state
//! folder refuses them.
//!
//! Labels are not a joined input: an edited networks file is applied by retracting every held
//! record and feeding it again under the new labels (scan filters decide again), and when a
//! plan evaluates dispositions inside the dataflow (an aggregate, a cross-record condition),
//! whose closures hold the labels, by rebuilding the dataflow and emitting the difference
//! between its results and the current ones. New plans (an edited pattern file, compiled by
//! the caller: [`Watch::replace_patterns`]) go the same way: the dataflow is rebuilt for them,
//! every held record read again, and each pattern's new results are diffed against its
//! current ones by name; the state records the pattern texts ([`recorded_patterns`]).
//!
//! Restart: the emit file is cut back to the committed length; every recorded file whose
//! content hash is unchanged is fed again at the committed epoch without emitting; the
//! committed result rows are taken as current, and the difference to the replay (files that
//! went or changed while stopped) is carried into the next epoch — the epoch that was under way
//! (redone from its recorded actions), or that file's removal or replacement — so the change
//! stream continues as an uninterrupted run's would. (When several files change while stopped,
//! the first epoch after the restart carries all of their difference.)

mod cluster;
mod state;
mod wake;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use compiler::hir::{format_time, Expr};
use compiler::model::Attr;
use compiler::plan::{JoinPlan, OutputItem};

pub use self::cluster::serve;
use self::cluster::{Cluster, LoadStep, StreamChunk};
pub use self::state::{
    read_results, recorded_patterns, PatternResults, PatternSource, ResultsSnapshot,
};
use self::state::{Action, Emitter, FileRecord, IdRecord, StateDoc, STATE_FILE, STATE_VERSION};
pub use self::wake::Notifier;
use crate::datum::{Datum, FastState, Row};
use crate::load::files::detect_format_as;
use crate::load::networks::Networks;
use crate::load::{self, FileEntry, FileFormat, FileTable, LoadError, LoadReport, ReadOptions};
use crate::model::FileId;
use crate::output::{ResultRow, ResultSet};
use crate::presets::Preset;
pub use crate::render::Epoch;

/// The file name of records read from standard input (`--flows -`, `--events -`), in results
/// and causes; their row is the 0-based ordinal in the whole stream.
pub const STDIN: &str = "<stdin>";

/// Which archive a watched file belongs to.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Flow records (`--flows`).
    Flows,
    /// Event records (`--events`).
    Events,
}

impl Kind {
    /// `flows` or `events`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Flows => "flows",
            Kind::Events => "events",
        }
    }

    fn index(self) -> usize {
        match self {
            Kind::Flows => 0,
            Kind::Events => 1,
        }
    }
}

/// How change lines are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeFormat {
    /// One JSON object per change: `change`, `epoch`, `pattern`, `cause`, then the pattern's
    /// columns as `run --format jsonl` names them.
    Jsonl,
    /// CSV with one header line: `change,epoch,pattern,cause`, the union of every pattern's
    /// columns (empty where a pattern lacks one), `matches`. A pattern reload that brings
    /// columns the header lacks writes a new header line (the grown union) before its changes.
    Csv,
}

/// Where change lines go.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum EmitTarget {
    /// A file, appended to (and cut back to its committed length on restart).
    File(PathBuf),
    /// Standard output.
    Stdout,
}

/// Where a crash is simulated: the test hook behind `FLOWPAT_CRASH_AT=<stage>:<epoch>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CrashStage {
    /// The epoch's output is computed, nothing written (`before-emit`).
    BeforeEmit,
    /// Half of the epoch's change bytes are written and synced (`mid-emit`).
    MidEmit,
    /// The emit file is synced, no results or state written (`after-emit`).
    AfterEmit,
    /// The results file is written, the state is not (`after-results`).
    AfterResults,
    /// The state is committed, the old results file not yet deleted (`after-state`).
    AfterState,
}

/// A test hook: `std::process::abort()` at `stage` of `epoch`, as a `kill -9` would.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CrashPoint {
    /// Where in the epoch.
    pub stage: CrashStage,
    /// Which epoch.
    pub epoch: Epoch,
}

impl CrashPoint {
    /// The environment variable the CLI reads the hook from.
    pub const ENV: &'static str = "FLOWPAT_CRASH_AT";

    /// Parses `after-emit:3` and friends.
    pub fn parse(text: &str) -> Option<CrashPoint> {
        let (stage, epoch) = text.trim().split_once(':')?;
        let stage = match stage {
            "before-emit" => CrashStage::BeforeEmit,
            "mid-emit" => CrashStage::MidEmit,
            "after-emit" => CrashStage::AfterEmit,
            "after-results" => CrashStage::AfterResults,
            "after-state" => CrashStage::AfterState,
            _ => return None,
        };
        Some(CrashPoint {
            stage,
            epoch: epoch.parse().ok()?,
        })
    }

    /// The hook named by [`CrashPoint::ENV`], if set and well-formed.
    pub fn from_env() -> Option<CrashPoint> {
        std::env::var(Self::ENV)
            .ok()
            .as_deref()
            .and_then(CrashPoint::parse)
    }
}

/// What to watch and how.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Flow archive folders, files or globs.
    pub flows: Vec<PathBuf>,
    /// Event archive folders, files or globs.
    pub events: Vec<PathBuf>,
    /// The networks file (watched too).
    pub networks: PathBuf,
    /// State folder (restart without loss or repetition; `flowpat results`).
    pub state: Option<PathBuf>,
    /// Retention window in µs of data time: records older than the newest record time seen
    /// minus this are retracted.
    pub retain: Option<i64>,
    /// Where change lines go (`None`: nowhere; reports still carry them).
    pub emit: Option<EmitTarget>,
    /// Format of the change lines.
    pub format: ChangeFormat,
    /// Timely worker threads.
    pub workers: usize,
    /// Bad-row policy and text options (`tz`, `biflow_timeout`); the time window is not used.
    pub read: ReadOptions,
    /// Read every flow file as sensor text through this preset.
    pub flows_format: Option<Preset>,
    /// Read every event file as sensor text through this preset.
    pub events_format: Option<Preset>,
    /// Test hook: abort at this point.
    pub crash: Option<CrashPoint>,
}

/// Whether a change adds or takes back a row.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Sign {
    /// The row (with this `matches`) went away.
    Minus,
    /// The row (with this `matches`) appeared.
    Plus,
}

impl Sign {
    /// `-` or `+`.
    pub fn symbol(self) -> &'static str {
        match self {
            Sign::Minus => "-",
            Sign::Plus => "+",
        }
    }
}

/// One change of one pattern's results.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    /// Appeared or went away.
    pub sign: Sign,
    /// Index of the pattern (plan order).
    pub plan: usize,
    /// The pattern's name.
    pub pattern: String,
    /// The file change(s) of this epoch behind it.
    pub cause: String,
    /// Typed cells, aligned with the pattern's `run` header (last `matches`).
    pub cells: Vec<crate::output::Cell>,
}

/// What one epoch did.
#[derive(Clone, Debug)]
pub struct EpochReport {
    /// The epoch.
    pub epoch: Epoch,
    /// What changed in the input (`add flows:part-3.parquet`, `networks`, `retain: …`).
    pub causes: Vec<String>,
    /// The changes of every pattern's results, by pattern then identity, `-` before `+`.
    pub changes: Vec<Change>,
    /// Load reports of the files read.
    pub loads: Vec<LoadReport>,
    /// Files that could not be read in this epoch (they are retried when they change).
    pub problems: Vec<String>,
    /// The changes as JSON lines (whatever the emit format), for `--on-change`; empty unless
    /// [`Watch::keep_jsonl`] asked for them (or the emit format is JSON lines).
    pub jsonl: String,
    /// Wall time of the epoch.
    pub elapsed: Duration,
}

impl EpochReport {
    /// Number of `+` and `-` changes.
    pub fn counts(&self) -> (usize, usize) {
        let plus = self.changes.iter().filter(|c| c.sign == Sign::Plus).count();
        (plus, self.changes.len() - plus)
    }

    /// The one-line summary `watch` prints on stderr.
    pub fn summary(&self) -> String {
        let (plus, minus) = self.counts();
        let mut per: Vec<(usize, &str, usize, usize)> = Vec::new();
        for c in &self.changes {
            match per.last_mut() {
                Some(last) if last.0 == c.plan => {}
                _ => per.push((c.plan, &c.pattern, 0, 0)),
            }
            let last = per.last_mut().expect("just pushed");
            if c.sign == Sign::Plus {
                last.2 += 1;
            } else {
                last.3 += 1;
            }
        }
        let per: Vec<String> = per
            .iter()
            .map(|(_, name, p, m)| format!("{name} +{p} -{m}"))
            .collect();
        let causes = if self.causes.len() > 3 {
            format!(
                "{}; … ({} in all)",
                self.causes[..2].join("; "),
                self.causes.len()
            )
        } else {
            self.causes.join("; ")
        };
        let mut line = format!("epoch {} [{causes}]: +{plus} -{minus}", self.epoch);
        if !per.is_empty() {
            line.push_str(&format!(" ({})", per.join(", ")));
        }
        line.push_str(&format!(" in {} ms", self.elapsed.as_millis()));
        if !self.problems.is_empty() {
            line.push_str(&format!("; not read: {}", self.problems.join("; ")));
        }
        line
    }
}

/// What one poll did.
#[derive(Clone, Debug, Default)]
pub struct PollOutcome {
    /// Epochs run, in order.
    pub epochs: Vec<EpochReport>,
    /// Files (and the networks file) seen changing, not yet stable.
    pub waiting: usize,
    /// Things worth telling that are not epochs (a file not readable yet, a bad networks edit).
    pub notes: Vec<String>,
}

impl PollOutcome {
    /// Nothing happened and nothing is waiting to settle.
    pub fn idle(&self) -> bool {
        self.epochs.is_empty() && self.waiting == 0
    }
}

/// Why a state folder does not fit this watch.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StateMismatch {
    /// An unknown `state.json` layout.
    Version {
        /// The version found.
        found: u32,
    },
    /// The state was written for other patterns (or parameters).
    Patterns,
    /// The state was written with another `--emit`.
    Emit {
        /// As recorded.
        recorded: Option<PathBuf>,
        /// As given now.
        given: Option<PathBuf>,
    },
    /// The state was written with another `--retain`.
    Retain {
        /// As recorded (µs).
        recorded: Option<i64>,
        /// As given now (µs).
        given: Option<i64>,
    },
    /// The emit file is shorter than the committed length: it was edited or replaced.
    EmitShorter {
        /// Committed bytes.
        committed: u64,
        /// Bytes found.
        found: u64,
    },
    /// The results log is shorter than the committed length: it was edited or replaced.
    LogShorter {
        /// Committed bytes.
        committed: u64,
        /// Bytes found.
        found: u64,
    },
}

impl std::fmt::Display for StateMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none (stdout)".into())
        };
        match self {
            StateMismatch::Version { found } => write!(f, "state layout version {found}, this flowpat writes {STATE_VERSION}"),
            StateMismatch::Patterns => write!(f, "the state was written for other patterns or parameters; use a new --state folder"),
            StateMismatch::Emit { recorded, given } => write!(f, "the state was written with --emit {}, not {}", opt(recorded), opt(given)),
            StateMismatch::Retain { recorded, given } => write!(f, "the state was written with --retain {recorded:?} µs, not {given:?} µs"),
            StateMismatch::EmitShorter { committed, found } => write!(f, "the emit file has {found} bytes but {committed} were committed; it was changed by someone else"),
            StateMismatch::LogShorter { committed, found } => write!(f, "the results log has {found} bytes but {committed} were committed; it was changed by someone else"),
        }
    }
}

/// Errors of `watch`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WatchError {
    /// Reading an input (or the networks file) failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Reading or writing the state or emit file failed.
    #[error("cannot read or write {}: {source}", path.display())]
    #[diagnostic(code(engine::watch::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file does not parse.
    #[error("{} is not a flowpat watch state: {source}", path.display())]
    #[diagnostic(code(engine::watch::bad_state))]
    BadState {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The state folder belongs to another watch.
    #[error("{}: {what}", path.display())]
    #[diagnostic(code(engine::watch::state_mismatch))]
    StateMismatch {
        /// The state or emit file.
        path: PathBuf,
        /// What differs.
        what: StateMismatch,
    },
    /// No `state.json` in the folder.
    #[error("no watch state in {} (run `flowpat watch --state {}` first)", path.display(), path.display())]
    #[diagnostic(code(engine::watch::no_state))]
    NoState {
        /// The folder.
        path: PathBuf,
    },
    /// Stream input (stdin) together with a state folder: a stream cannot be replayed.
    #[error("records from a stream cannot be replayed on restart, so a watch with --state cannot take them")]
    #[diagnostic(code(engine::watch::stream_with_state))]
    StreamWithState,
    /// A cluster watch could not connect its processes, or lost one.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The dataflow could not start or a worker failed.
    #[error("dataflow failed: {reason}")]
    #[diagnostic(code(engine::watch::dataflow))]
    Dataflow {
        /// What timely reported.
        reason: String,
    },
}

/// Size and modification time of a file, as a poll saw them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Observation {
    size: u64,
    mtime_ns: i64,
}

fn observe(path: &Path) -> std::io::Result<Observation> {
    let meta = std::fs::metadata(path)?;
    let mtime_ns = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Ok(Observation {
        size: meta.len(),
        mtime_ns,
    })
}

/// A changed file seen by the previous poll, not yet taken.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    obs: Observation,
    /// It was stable but could not be read: wait until it changes again.
    refused: bool,
}

/// One input change of an epoch, for the `cause` of the rows it moves.
struct Cause {
    text: String,
    file: Option<(Kind, FileId)>,
}

/// Whether a plan evaluates address dispositions inside the dataflow (in join residuals,
/// anti-join residuals, aggregates or `having`), where the labels are fixed when it is built.
fn labels_in_dataflow(plan: &JoinPlan) -> bool {
    let mut exprs: Vec<&Expr> = Vec::new();
    for step in &plan.joins {
        exprs.extend(&step.residual);
    }
    for anti in &plan.antijoins {
        exprs.extend(&anti.residual);
    }
    if let Some(group) = &plan.group {
        exprs.extend(group.aggregates.iter().filter_map(|a| a.arg.as_ref()));
        exprs.extend(&group.having);
    }
    let mut found = false;
    for e in exprs {
        e.visit(&mut |node| found |= matches!(node, Expr::Attr(_, Attr::Disposition)));
    }
    found
}

/// Positions of the `<record>.file` cells of a result set's rows, with the row value they name.
fn file_cell_positions(set: &ResultSet) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (k, item) in set.items.iter().enumerate() {
        match item {
            OutputItem::Record(i) => {
                out.push((offset, k));
                offset += 2 + set.entities[i.index()].attributes().len();
            }
            OutputItem::Address(_) | OutputItem::Aggregate(_) => offset += 1,
        }
    }
    out
}

fn record_file(d: &Datum) -> Option<(Kind, FileId)> {
    match d {
        Datum::Conn(c) => Some((Kind::Flows, c.id.file)),
        Datum::Event(e) => Some((Kind::Events, e.id.file)),
        _ => None,
    }
}

/// Sort key of a result row: records by (display path, row), other values by themselves —
/// the order `run` prints, whatever ids the files got in this watch.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortPart<'a> {
    Record(&'a str, u64),
    Value(&'a Datum),
}

/// The sort key of `row`, with file ids named by `names[kind][id]`.
fn row_sort_key<'a>(row: &'a Row, names: &'a [Vec<String>; 2]) -> Vec<SortPart<'a>> {
    let display = |kind: Kind, id: FileId| {
        names[kind.index()]
            .get(id.0 as usize)
            .map(String::as_str)
            .unwrap_or("")
    };
    row.iter()
        .map(|d| match d {
            Datum::Conn(c) => SortPart::Record(display(Kind::Flows, c.id.file), c.id.row),
            Datum::Event(e) => SortPart::Record(display(Kind::Events, e.id.file), e.id.row),
            other => SortPart::Value(other),
        })
        .collect()
}

/// Results logs shorter than this are never compacted into a new base; the test hook
/// `FLOWPAT_RESULTS_LOG_MIN` sets another size.
fn log_compact_min() -> u64 {
    std::env::var("FLOWPAT_RESULTS_LOG_MIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20)
}

/// A running watch: the dataflow, what it has ingested and the current results.
pub struct Watch {
    plans: Arc<Vec<Arc<JoinPlan>>>,
    sets: Vec<ResultSet>,
    headers: Vec<Vec<String>>,
    file_cells: Vec<Vec<(usize, usize)>>,
    no_files: FileTable,
    opts: WatchOptions,
    plans_digest: String,
    rebuild_on_relabel: bool,
    cluster: Cluster,
    /// Ingested files.
    live: BTreeMap<(Kind, String), FileRecord>,
    /// Every id ever given, by display path; `names[kind][id]` is the display path.
    ids: BTreeMap<(Kind, String), FileId>,
    names: [Vec<String>; 2],
    candidates: BTreeMap<(Kind, String), Candidate>,
    /// Hashes computed by the poll that found a file stable (reused by its epoch).
    hashed: BTreeMap<(Kind, String), (Observation, String)>,
    networks_text: String,
    networks_fingerprint: String,
    networks_seen: Option<Observation>,
    networks_candidate: Option<Candidate>,
    /// Current multiplicity of every result row, per plan.
    current: Vec<HashMap<Row, i64, FastState>>,
    max_time: Option<i64>,
    committed: Option<Epoch>,
    /// The results base of the state folder, its size, and the committed length of its log.
    results_name: Option<String>,
    results_base_bytes: u64,
    results_log_bytes: u64,
    /// Write a new results base at the next commit (the base is of an older layout).
    compact_next: bool,
    /// The log never becomes a new base while shorter than this.
    log_compact_min: u64,
    emitter: Emitter,
    /// CSV: the columns of the header line the change stream is under (empty before the
    /// first). A reload that brings new columns writes a new header line with them.
    csv_columns: Vec<String>,
    /// After a restart: what the replayed inputs give minus what was committed (the changes
    /// of files that went or changed while stopped), added to the next epoch's changes.
    carry: BTreeMap<(usize, Row), i64>,
    /// After a restart: the epoch the previous process had started.
    pending: Option<Vec<Action>>,
    notes: Vec<String>,
    noted: BTreeSet<String>,
    /// Paths never read as input (the state folder, the emit file).
    own_paths: Vec<PathBuf>,
    /// Per kind: chunks and rows of the stream taken so far.
    streams: [(u64, u64); 2],
    /// The pattern files (and `use`d files) of the running plans, recorded in the state.
    pattern_sources: Vec<PatternSource>,
    /// New plans for the next epoch ([`Watch::replace_patterns`]).
    replan: Option<Replan>,
    /// Whether every epoch report carries its changes as JSON lines ([`Watch::keep_jsonl`]).
    keep_jsonl: bool,
}

/// New plans waiting for their epoch, with the pattern file changes behind them.
struct Replan {
    plans: Arc<Vec<Arc<JoinPlan>>>,
    causes: Vec<String>,
}

/// The plans an epoch replaced, and what they had: `-` lines are printed with them.
struct Retired {
    plans: Arc<Vec<Arc<JoinPlan>>>,
    sets: Vec<ResultSet>,
    headers: Vec<Vec<String>>,
    file_cells: Vec<Vec<(usize, usize)>>,
    current: Vec<HashMap<Row, i64, FastState>>,
    /// For each new plan, the old plan of the same name.
    map: Vec<Option<usize>>,
    /// Old plans whose name is gone; change index `new plans + k` is `gone[k]`.
    gone: Vec<usize>,
}

impl Retired {
    /// The old plan behind change index `p` (of `n_plans` new plans).
    fn old_index(&self, p: usize, n_plans: usize) -> usize {
        match p.checked_sub(n_plans) {
            Some(k) => self.gone[k],
            None => self.map[p].unwrap_or_default(),
        }
    }
}

/// SHA-256 of the plans' explain text: what a state folder belongs to.
fn digest_of(plans: &[Arc<JoinPlan>]) -> String {
    state::sha256_text(
        &plans
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl Watch {
    /// Starts the workers and, with a state folder that holds a committed epoch, brings the
    /// dataflow back to it: the emit file is cut back to its committed length and every
    /// recorded file whose content is unchanged is fed again, without emitting anything.
    pub fn start(plans: &[JoinPlan], opts: WatchOptions) -> Result<Watch, WatchError> {
        Watch::start_in(plans, opts, None)
    }

    /// As [`Watch::start`], as process 0 of a cluster: its workers and those of every other
    /// process (each running [`serve`]) make one dataflow; this process decides the epochs,
    /// emits the changes and keeps the state.
    pub fn start_cluster(
        plans: &[JoinPlan],
        opts: WatchOptions,
        spec: &crate::cluster::ClusterSpec,
    ) -> Result<Watch, WatchError> {
        Watch::start_in(plans, opts, Some(spec))
    }

    fn start_in(
        plans: &[JoinPlan],
        opts: WatchOptions,
        spec: Option<&crate::cluster::ClusterSpec>,
    ) -> Result<Watch, WatchError> {
        // A folder that does not exist is a mistake, not an empty archive (a glob may match
        // nothing yet).
        for path in opts.flows.iter().chain(&opts.events) {
            if !path.exists() && !path.to_string_lossy().contains(['*', '?', '[']) {
                let source =
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder");
                return Err(LoadError::Io {
                    path: path.clone(),
                    source,
                }
                .into());
            }
        }
        let plans: Arc<Vec<Arc<JoinPlan>>> =
            Arc::new(plans.iter().cloned().map(Arc::new).collect());
        let sets: Vec<ResultSet> = plans
            .iter()
            .map(|p| ResultSet::new(p, Vec::new()))
            .collect();
        let headers = sets.iter().map(ResultSet::header).collect();
        let file_cells = sets.iter().map(file_cell_positions).collect();
        let plans_digest = digest_of(&plans);
        let rebuild_on_relabel = plans.iter().any(|p| labels_in_dataflow(p));
        let doc = match &opts.state {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| WatchError::Io {
                    path: dir.clone(),
                    source,
                })?;
                state::read_state(dir)?
            }
            None => None,
        };
        let emit_path = match &opts.emit {
            Some(EmitTarget::File(p)) => Some(std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            _ => None,
        };
        let (networks_text, committed_bytes) = match &doc {
            Some(doc) => {
                let state_path = opts
                    .state
                    .as_ref()
                    .map(|d| d.join(STATE_FILE))
                    .unwrap_or_default();
                let mismatch = |what| {
                    Err(WatchError::StateMismatch {
                        path: state_path.clone(),
                        what,
                    })
                };
                if doc.plans != plans_digest {
                    return mismatch(StateMismatch::Patterns);
                }
                if doc.emit != emit_path {
                    return mismatch(StateMismatch::Emit {
                        recorded: doc.emit.clone(),
                        given: emit_path,
                    });
                }
                if doc.retain_micros != opts.retain {
                    return mismatch(StateMismatch::Retain {
                        recorded: doc.retain_micros,
                        given: opts.retain,
                    });
                }
                (doc.networks_text.clone(), doc.emit_bytes)
            }
            None => (
                std::fs::read_to_string(&opts.networks).map_err(|source| WatchError::Io {
                    path: opts.networks.clone(),
                    source,
                })?,
                0,
            ),
        };
        let networks = Networks::parse(&networks_text, &opts.networks.display().to_string())?;
        let networks_fingerprint = networks.fingerprint();
        let cluster = match spec {
            Some(spec) => Cluster::start_distributed(spec, &opts, plans.clone(), &networks)?,
            None => Cluster::start(opts.workers, plans.clone(), Arc::new(networks), opts.read)?,
        };
        let emitter = Emitter::open(
            opts.emit.clone(),
            committed_bytes,
            opts.format,
            opts.state.is_some(),
        )?;
        let mut own_paths = Vec::new();
        if let Some(dir) = &opts.state {
            own_paths.extend(std::fs::canonicalize(dir).ok());
        }
        if let Some(p) = emitter.path() {
            own_paths.extend(std::fs::canonicalize(p).ok());
        }
        let n_plans = plans.len();
        let mut watch = Watch {
            plans,
            sets,
            headers,
            file_cells,
            no_files: FileTable::default(),
            plans_digest,
            rebuild_on_relabel,
            cluster,
            live: BTreeMap::new(),
            ids: BTreeMap::new(),
            names: [Vec::new(), Vec::new()],
            candidates: BTreeMap::new(),
            hashed: BTreeMap::new(),
            networks_text,
            networks_fingerprint,
            networks_seen: None,
            networks_candidate: None,
            current: vec![HashMap::default(); n_plans],
            max_time: None,
            committed: None,
            results_name: None,
            results_base_bytes: 0,
            results_log_bytes: 0,
            compact_next: false,
            log_compact_min: log_compact_min(),
            emitter,
            csv_columns: Vec::new(),
            carry: BTreeMap::new(),
            pending: None,
            notes: Vec::new(),
            noted: BTreeSet::new(),
            own_paths,
            streams: [(0, 0); 2],
            pattern_sources: Vec::new(),
            replan: None,
            keep_jsonl: true,
            opts,
        };
        match doc {
            Some(doc) => watch.restore(doc)?,
            None => watch.networks_seen = observe(&watch.opts.networks).ok(),
        }
        Ok(watch)
    }

    /// Whether each [`EpochReport::jsonl`] holds the epoch's changes as JSON lines whatever the
    /// emit format (for `--on-change`). On by default; formatting them costs as much as the
    /// rest of a small epoch, so turn it off when nothing reads them.
    pub fn keep_jsonl(&mut self, keep: bool) {
        self.keep_jsonl = keep;
    }

    /// Records the pattern files the running plans were compiled from (and the files they
    /// `use`), so that a restart from the state folder compiles these versions
    /// ([`recorded_patterns`]). Written with the next commit.
    pub fn set_pattern_sources(&mut self, sources: Vec<PatternSource>) {
        self.pattern_sources = sources;
    }

    /// Runs the plans of edited pattern files from now on: one epoch (its causes `causes`,
    /// such as `pattern:patterns/exfiltration.pattern`) rebuilds the dataflow for `plans`,
    /// feeds it every held record again, and emits the difference between each pattern's
    /// current results and its new ones on the same data, pattern by pattern name and columns
    /// (a pattern whose name or columns are gone: all `-`; a new one: all `+`; an unchanged
    /// pattern: nothing).
    /// `sources` are the texts compiled, recorded in the state with the epoch's commit. Plans
    /// whose explain text is unchanged run no epoch (`Ok(None)`). Not on a cluster of processes.
    pub fn replace_patterns(
        &mut self,
        plans: &[JoinPlan],
        causes: Vec<String>,
        sources: Vec<PatternSource>,
    ) -> Result<Option<EpochReport>, WatchError> {
        let plans: Arc<Vec<Arc<JoinPlan>>> =
            Arc::new(plans.iter().cloned().map(Arc::new).collect());
        self.pattern_sources = sources;
        if digest_of(&plans) == self.plans_digest {
            // Same plans (a comment or layout edit): only the recorded texts change.
            if self.committed.is_some() {
                self.write_state(None)?;
            }
            return Ok(None);
        }
        self.replan = Some(Replan { plans, causes });
        self.run_epoch(Vec::new(), Vec::new(), Vec::new()).map(Some)
    }

    /// The patterns' names, in plan order.
    pub fn patterns(&self) -> Vec<String> {
        self.plans.iter().map(|p| p.pattern.clone()).collect()
    }

    /// Column names of each pattern's rows, as `run` prints them.
    pub fn headers(&self) -> &[Vec<String>] {
        &self.headers
    }

    /// The last committed epoch.
    pub fn committed_epoch(&self) -> Option<Epoch> {
        self.committed
    }

    /// Starts file-system notifications over the watched folders, files and globs and the
    /// networks file: `wake` is called (on another thread) whenever a look may find a
    /// change. Keep the [`Notifier`] alive as long as notifications are wanted. Errors when
    /// the platform offers no notifications (then poll).
    pub fn notify(&self, wake: impl Fn() + Send + 'static) -> Result<Notifier, String> {
        self.notify_with(&[], wake)
    }

    /// As [`Watch::notify`], also over `patterns` (pattern folders and files, and the files
    /// they `use`), for a caller that reloads edited patterns ([`Watch::replace_patterns`]).
    pub fn notify_with(
        &self,
        patterns: &[PathBuf],
        wake: impl Fn() + Send + 'static,
    ) -> Result<Notifier, String> {
        let inputs: Vec<PathBuf> = self
            .opts
            .flows
            .iter()
            .chain(&self.opts.events)
            .chain(patterns)
            .cloned()
            .collect();
        wake::start(&inputs, &self.opts.networks, self.own_paths.clone(), wake)
    }

    /// Checks the schema of a stream of `kind` before its first batch, so that a stream that
    /// lacks a needed column fails at once rather than at every epoch.
    pub fn check_stream(
        &self,
        kind: Kind,
        schema: &arrow::datatypes::SchemaRef,
    ) -> Result<(), LoadError> {
        let owned: Vec<JoinPlan> = self.plans.iter().map(|p| (**p).clone()).collect();
        let (flow_req, event_req) = crate::run::requested_columns(&owned);
        let networks = Networks::parse(&self.networks_text, "networks")?;
        match kind {
            Kind::Flows => load::check_flow_schema(schema, STDIN, &flow_req, &networks),
            Kind::Events => load::check_event_schema(schema, STDIN, &event_req, &networks),
        }
    }

    /// Runs one epoch that adds the records of `batches`, the next batches of the stream of
    /// `kind` (named [`STDIN`], rows numbered on from the previous batches). Batches without
    /// rows are no epoch (`Ok(None)`). Refused when the watch keeps a state folder.
    pub fn feed_stream(
        &mut self,
        kind: Kind,
        batches: Vec<arrow::record_batch::RecordBatch>,
    ) -> Result<Option<EpochReport>, WatchError> {
        if self.opts.state.is_some() {
            return Err(WatchError::StreamWithState);
        }
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if rows == 0 {
            return Ok(None);
        }
        let id = self.id_for(kind, STDIN);
        let (chunk, first_row) = self.streams[kind.index()];
        self.streams[kind.index()] = (chunk + 1, first_row + rows);
        let cause = Cause {
            text: format!(
                "add {}:{STDIN} rows {first_row}-{}",
                kind.name(),
                first_row + rows - 1
            ),
            file: Some((kind, id)),
        };
        let chunk = Arc::new(StreamChunk {
            id,
            display: STDIN.to_string(),
            chunk,
            first_row,
            batches,
        });
        self.run_epoch(Vec::new(), vec![cause], vec![(kind, chunk)])
            .map(Some)
    }

    fn restore(&mut self, doc: StateDoc) -> Result<(), WatchError> {
        for rec in &doc.ids {
            self.remember_id(rec.kind, &rec.display, FileId(rec.id));
        }
        self.max_time = doc.max_time;
        self.committed = doc.epoch;
        self.results_name = doc.results.clone();
        self.results_log_bytes = doc.results_log_bytes;
        self.pending = doc.pending.clone();
        if !self.emitter.needs_header {
            // The stream goes on under the header last written (a state from before headers
            // were recorded: the one these patterns give).
            self.csv_columns = doc.emit_csv_columns.clone();
            if self.csv_columns.is_empty() && self.opts.format == ChangeFormat::Csv {
                self.csv_columns = self.csv_header();
            }
        }
        let dir = self.opts.state.clone().unwrap_or_default();
        if let Some(name) = &doc.results {
            self.results_base_bytes = std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
            state::truncate_log(&dir, name, doc.results_log_bytes)?;
        }
        if let Some(epoch) = doc.epoch {
            // Every recorded file stays ingested; the ones whose content is gone or changed are
            // not fed, so the next epoch (their removal or replacement, or the one redone)
            // carries the difference — the same changes an uninterrupted run emits for it.
            let mut add = Vec::new();
            for rec in &doc.files {
                self.live
                    .insert((rec.kind, rec.display.clone()), rec.clone());
                let same = state::sha256_file(&rec.path).is_ok_and(|h| h == rec.sha256);
                match same.then(|| self.entry(rec.kind, &rec.display, &rec.path, FileId(rec.id)).ok()).flatten() {
                    Some(entry) => add.push((rec.kind, entry)),
                    None => self.notes.push(format!("{}:{} changed or went away while the watch was stopped; the next epoch carries its changes", rec.kind.name(), rec.display)),
                }
            }
            let loaded = self.cluster.load(LoadStep {
                epoch,
                remove: Vec::new(),
                relabel: None,
                add,
                chunks: Vec::new(),
                plans: None,
            })?;
            for outcome in loaded.outcomes {
                if let Err(e) = outcome.result {
                    self.notes.push(format!(
                        "{}:{} could not be read again ({e}); the next epoch carries its changes",
                        outcome.kind.name(),
                        outcome.display
                    ));
                }
            }
            self.max_time = self.max_time.max(loaded.max_time);
            let sealed = self.cluster.seal(self.cutoff())?;
            let (committed, sorted) = state::committed_rows(&dir, &doc)?;
            self.compact_next = !sorted;
            for (p, row, _time, diff) in sealed.updates {
                *self.carry.entry((p, row)).or_default() += diff as i64;
            }
            for (p, row, count) in committed {
                if let Some(current) = self.current.get_mut(p) {
                    *self.carry.entry((p, row.clone())).or_default() -= count;
                    current.insert(row, count);
                }
            }
            self.carry.retain(|_, d| *d != 0);
        }
        // Results bases (and logs) of epochs that never committed.
        let log = doc.results.as_deref().map(state::log_name);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("results-")
                    && (name.ends_with(".json") || name.ends_with(".log"))
                    && Some(&name) != doc.results.as_ref()
                    && Some(&name) != log.as_ref()
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn remember_id(&mut self, kind: Kind, display: &str, id: FileId) {
        self.ids.insert((kind, display.to_string()), id);
        let names = &mut self.names[kind.index()];
        let idx = id.0 as usize;
        if names.len() <= idx {
            names.resize(idx + 1, String::new());
        }
        names[idx] = display.to_string();
    }

    /// The id of a display path: the one it had before, or the next free one.
    fn id_for(&mut self, kind: Kind, display: &str) -> FileId {
        if let Some(id) = self.ids.get(&(kind, display.to_string())) {
            return *id;
        }
        let id = FileId(self.names[kind.index()].len() as u32);
        self.remember_id(kind, display, id);
        id
    }

    fn display(&self, kind: Kind, id: FileId) -> &str {
        self.names[kind.index()]
            .get(id.0 as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// A file as the loader wants it; a Parquet file must have a readable footer (complete).
    fn entry(
        &self,
        kind: Kind,
        display: &str,
        path: &Path,
        id: FileId,
    ) -> Result<FileEntry, LoadError> {
        let text = match kind {
            Kind::Flows => self.opts.flows_format,
            Kind::Events => self.opts.events_format,
        };
        let format = detect_format_as(path, display, text)?;
        let entry = FileEntry {
            id,
            path: path.to_path_buf(),
            display: display.to_string(),
            format,
        };
        if format == FileFormat::Parquet {
            load::check_complete(&entry)?;
        }
        Ok(entry)
    }

    fn cutoff(&self) -> Option<i64> {
        Some(self.max_time?.saturating_sub(self.opts.retain?))
    }

    fn next_epoch(&self) -> Epoch {
        self.committed.map_or(0, |e| e + 1)
    }

    fn note(&mut self, notes: &mut Vec<String>, text: String) {
        if self.noted.insert(text.clone()) {
            notes.push(text);
        }
    }

    /// Lists the watched inputs: `(kind, display) → (path, observation)`; `None` when a
    /// listing failed (the poll is skipped rather than mistaking it for removals).
    fn list(
        &mut self,
        notes: &mut Vec<String>,
    ) -> Option<BTreeMap<(Kind, String), (PathBuf, Observation)>> {
        let mut out = BTreeMap::new();
        for kind in [Kind::Flows, Kind::Events] {
            let given = match kind {
                Kind::Flows => self.opts.flows.clone(),
                Kind::Events => self.opts.events.clone(),
            };
            for path in given {
                let listed = match load::list_files_noting(std::slice::from_ref(&path)) {
                    Ok(listing) => {
                        // Said once per file, as `run` says it once per run.
                        for skipped in &listing.not_data {
                            self.note(
                                notes,
                                format!(
                                    "note: {} left out of the {} folder as not data (name the file to read it)",
                                    skipped.display(),
                                    kind.name()
                                ),
                            );
                        }
                        listing.files
                    }
                    Err(LoadError::NoMatch { .. }) => continue,
                    Err(e) => {
                        self.note(
                            notes,
                            format!(
                                "cannot list {}: {e}; waiting for the next poll",
                                path.display()
                            ),
                        );
                        return None;
                    }
                };
                for file in listed {
                    if self.own_paths.iter().any(|own| file.path.starts_with(own))
                        || file.display == STDIN
                    {
                        continue;
                    }
                    if let Ok(obs) = observe(&file.path) {
                        out.entry((kind, file.display)).or_insert((file.path, obs));
                    }
                }
            }
        }
        Some(out)
    }

    /// One poll: runs any epoch left by a previous process, then lists the inputs and runs an
    /// epoch per change that is ready (all of them in one epoch if nothing was ingested yet).
    pub fn poll(&mut self) -> Result<PollOutcome, WatchError> {
        let mut out = PollOutcome {
            notes: std::mem::take(&mut self.notes),
            ..PollOutcome::default()
        };
        if let Some(actions) = self.pending.take() {
            out.epochs
                .push(self.run_epoch(actions, Vec::new(), Vec::new())?);
        }
        let Some(listing) = self.list(&mut out.notes) else {
            return Ok(out);
        };
        let mut removes = Vec::new();
        for (kind, display) in self.live.keys() {
            if !listing.contains_key(&(*kind, display.clone())) {
                removes.push(Action::Remove {
                    kind: *kind,
                    display: display.clone(),
                });
            }
        }
        let mut adds = Vec::new();
        for (key, (path, obs)) in &listing {
            if self
                .live
                .get(key)
                .is_some_and(|rec| rec.size == obs.size && rec.mtime_ns == obs.mtime_ns)
            {
                self.candidates.remove(key);
                continue;
            }
            match self.candidates.get(key) {
                Some(c) if c.obs == *obs => {
                    if c.refused {
                        continue;
                    }
                }
                _ => {
                    self.candidates.insert(
                        key.clone(),
                        Candidate {
                            obs: *obs,
                            refused: false,
                        },
                    );
                    out.waiting += 1;
                    continue;
                }
            }
            // Stable across two polls.
            let hash = match state::sha256_file(path) {
                Ok(hash) => hash,
                Err(_) => continue,
            };
            if let Some(rec) = self.live.get_mut(key) {
                if rec.sha256 == hash {
                    // Touched, not changed.
                    rec.size = obs.size;
                    rec.mtime_ns = obs.mtime_ns;
                    self.candidates.remove(key);
                    continue;
                }
            }
            if let Err(e) = self.entry(key.0, &key.1, path, FileId(0)) {
                // A file whose content contradicts the format named for it (or a text format
                // named for a Parquet file) will not become readable by waiting: on the first
                // look it stops the watch as it stops `run`; later it is refused and named.
                let contradicts = matches!(
                    e,
                    LoadError::WrongTextFormat { .. } | LoadError::NotText { .. }
                );
                if contradicts && self.committed.is_none() {
                    return Err(WatchError::Load(e));
                }
                self.candidates.insert(
                    key.clone(),
                    Candidate {
                        obs: *obs,
                        refused: true,
                    },
                );
                let text = if contradicts {
                    format!(
                        "error: {}:{} refused: {e}; it is read again when it changes",
                        key.0.name(),
                        key.1
                    )
                } else {
                    format!(
                        "{}:{} is not readable yet ({e}); it is retried when it changes",
                        key.0.name(),
                        key.1
                    )
                };
                self.note(&mut out.notes, text);
                continue;
            }
            self.candidates.remove(key);
            self.hashed.insert(key.clone(), (*obs, hash));
            adds.push(Action::Add {
                kind: key.0,
                display: key.1.clone(),
                path: path.clone(),
            });
        }
        self.candidates.retain(|k, _| listing.contains_key(k));
        let relabel = self.poll_networks(&mut out);
        let mut epochs: Vec<Vec<Action>> = Vec::new();
        if self.committed.is_none() {
            let all: Vec<Action> = removes.into_iter().chain(adds).chain(relabel).collect();
            if !all.is_empty() {
                epochs.push(all);
            }
        } else {
            epochs.extend(
                removes
                    .into_iter()
                    .chain(adds)
                    .chain(relabel)
                    .map(|a| vec![a]),
            );
        }
        for actions in epochs {
            out.epochs
                .push(self.run_epoch(actions, Vec::new(), Vec::new())?);
        }
        if !self.carry.is_empty() && out.idle() {
            // Inputs changed while stopped and no epoch of this poll took the difference.
            let cause = Cause {
                text: "restart: inputs changed while stopped".into(),
                file: None,
            };
            out.epochs
                .push(self.run_epoch(Vec::new(), vec![cause], Vec::new())?);
        }
        Ok(out)
    }

    fn poll_networks(&mut self, out: &mut PollOutcome) -> Option<Action> {
        let path = self.opts.networks.clone();
        let obs = match observe(&path) {
            Ok(obs) => obs,
            Err(e) => {
                self.note(
                    &mut out.notes,
                    format!(
                        "cannot read the networks file {}: {e}; keeping the current labels",
                        path.display()
                    ),
                );
                return None;
            }
        };
        if self.networks_seen == Some(obs) {
            self.networks_candidate = None;
            return None;
        }
        match self.networks_candidate {
            Some(c) if c.obs == obs => {
                if c.refused {
                    return None;
                }
            }
            _ => {
                self.networks_candidate = Some(Candidate {
                    obs,
                    refused: false,
                });
                out.waiting += 1;
                return None;
            }
        }
        let parsed = std::fs::read_to_string(&path)
            .map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })
            .and_then(|text| {
                Networks::parse(&text, &path.display().to_string()).map(|n| (text, n))
            });
        match parsed {
            Ok((text, networks)) => {
                self.networks_seen = Some(obs);
                self.networks_candidate = None;
                let fingerprint = networks.fingerprint();
                (fingerprint != self.networks_fingerprint)
                    .then_some(Action::Networks { fingerprint, text })
            }
            Err(e) => {
                self.networks_candidate = Some(Candidate { obs, refused: true });
                self.note(
                    &mut out.notes,
                    format!("networks file not used: {e}; keeping the current labels"),
                );
                None
            }
        }
    }

    fn state_doc(&self, pending: Option<Vec<Action>>) -> StateDoc {
        StateDoc {
            version: STATE_VERSION,
            plans: self.plans_digest.clone(),
            patterns: self.patterns(),
            epoch: self.committed,
            emit: self
                .emitter
                .path()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())),
            emit_bytes: if self.emitter.path().is_some() {
                self.emitter.len
            } else {
                0
            },
            networks_path: self.opts.networks.clone(),
            networks_fingerprint: self.networks_fingerprint.clone(),
            networks_text: self.networks_text.clone(),
            retain_micros: self.opts.retain,
            max_time: self.max_time,
            ids: self
                .ids
                .iter()
                .map(|((kind, display), id)| IdRecord {
                    kind: *kind,
                    display: display.clone(),
                    id: id.0,
                })
                .collect(),
            files: self.live.values().cloned().collect(),
            results: self.results_name.clone(),
            results_log_bytes: self.results_log_bytes,
            emit_csv_columns: self.csv_columns.clone(),
            pending,
            pattern_sources: self.pattern_sources.clone(),
        }
    }

    fn write_state(&self, pending: Option<Vec<Action>>) -> Result<(), WatchError> {
        if let Some(dir) = &self.opts.state {
            let bytes =
                serde_json::to_vec_pretty(&self.state_doc(pending)).expect("the state serialises");
            state::write_atomic(&dir.join(STATE_FILE), &bytes)?;
        }
        Ok(())
    }

    fn crash(&self, stage: CrashStage, epoch: Epoch) {
        if self.crash_at(stage, epoch) {
            std::process::abort();
        }
    }

    fn crash_at(&self, stage: CrashStage, epoch: Epoch) -> bool {
        self.opts.crash == Some(CrashPoint { stage, epoch })
    }

    /// Runs one epoch: feeds `actions`, closes the epoch, emits and commits its changes.
    fn run_epoch(
        &mut self,
        actions: Vec<Action>,
        mut causes: Vec<Cause>,
        chunks: Vec<(Kind, Arc<StreamChunk>)>,
    ) -> Result<EpochReport, WatchError> {
        let started = Instant::now();
        let epoch = self.next_epoch();
        let replan = self.replan.take();
        if replan.is_none() {
            self.write_state(Some(actions.clone()))?;
        }
        // A pattern epoch records no pending actions: until it commits, the state names the
        // old pattern texts, so a restart runs the old version and reloads the edit again.
        let mut step = LoadStep {
            epoch,
            remove: Vec::new(),
            relabel: None,
            add: Vec::new(),
            chunks,
            plans: replan.as_ref().map(|r| r.plans.clone()),
        };
        if let Some(replan) = &replan {
            causes.extend(replan.causes.iter().map(|text| Cause {
                text: text.clone(),
                file: None,
            }));
        }
        let mut problems = Vec::new();
        let mut prepared: BTreeMap<(Kind, String), FileRecord> = BTreeMap::new();
        let mut relabel_to = None;
        for action in actions {
            match action {
                Action::Remove { kind, display } => {
                    if let Some(rec) = self.live.remove(&(kind, display.clone())) {
                        step.remove.push((kind, FileId(rec.id)));
                        causes.push(Cause {
                            text: format!("remove {}:{display}", kind.name()),
                            file: Some((kind, FileId(rec.id))),
                        });
                    }
                }
                Action::Add {
                    kind,
                    display,
                    path,
                } => {
                    let key = (kind, display.clone());
                    let obs = observe(&path);
                    let hash = match (self.hashed.remove(&key), &obs) {
                        (Some((seen, hash)), Ok(now)) if seen == *now => Ok(hash),
                        _ => state::sha256_file(&path),
                    };
                    let id = self.id_for(kind, &display);
                    let entry = self.entry(kind, &display, &path, id);
                    let (obs, hash, entry) = match (obs, hash, entry) {
                        (Ok(obs), Ok(hash), Ok(entry)) => (obs, hash, entry),
                        (Err(e), ..) | (_, Err(e), _) => {
                            problems.push(format!("{}:{display}: {e}", kind.name()));
                            continue;
                        }
                        (_, _, Err(e)) => {
                            problems.push(e.to_string());
                            continue;
                        }
                    };
                    let verb = if self.live.contains_key(&key) {
                        "replace"
                    } else {
                        "add"
                    };
                    if verb == "replace" {
                        step.remove.push((kind, id));
                    }
                    causes.push(Cause {
                        text: format!("{verb} {}:{display}", kind.name()),
                        file: Some((kind, id)),
                    });
                    step.add.push((kind, entry));
                    prepared.insert(
                        key,
                        FileRecord {
                            kind,
                            display,
                            path,
                            size: obs.size,
                            mtime_ns: obs.mtime_ns,
                            sha256: hash,
                            id: id.0,
                            epoch,
                        },
                    );
                }
                Action::Networks { fingerprint, text } => {
                    match Networks::parse(&text, &self.opts.networks.display().to_string()) {
                        Ok(networks) => {
                            step.relabel = Some((Arc::new(networks), self.rebuild_on_relabel));
                            causes.push(Cause {
                                text: format!("networks {}", self.opts.networks.display()),
                                file: None,
                            });
                            relabel_to = Some((fingerprint, text));
                        }
                        Err(e) => problems.push(e.to_string()),
                    }
                }
            }
        }
        let rebuilt = step.relabel.as_ref().is_some_and(|(_, rebuild)| *rebuild);
        let replanned = step.plans.is_some();
        let t_pre = started.elapsed();
        let loaded = self.cluster.load(step)?;
        let t_load = started.elapsed();
        let mut loads = Vec::new();
        for outcome in loaded.outcomes {
            let key = (outcome.kind, outcome.display.clone());
            match outcome.result {
                Ok(report) => loads.push(report),
                Err(e) => {
                    problems.push(e.to_string());
                    prepared.remove(&key);
                    if let Some(rec) = self.live.remove(&key) {
                        // A re-read for new labels failed: its records are gone from the dataflow.
                        causes.push(Cause {
                            text: format!("remove {}:{}", key.0.name(), key.1),
                            file: Some((key.0, FileId(rec.id))),
                        });
                    }
                    if let Some(Ok(obs)) = outcome.path.as_deref().map(observe) {
                        self.candidates
                            .insert(key, Candidate { obs, refused: true });
                    }
                }
            }
        }
        self.live.extend(prepared);
        if let Some((fingerprint, text)) = relabel_to {
            self.networks_fingerprint = fingerprint;
            self.networks_text = text;
        }
        self.max_time = self.max_time.max(loaded.max_time);
        let cutoff = self.cutoff();
        let sealed = self.cluster.seal(cutoff)?;
        let t_seal = started.elapsed();
        // Under new plans every held file is read again, and what was expired before is
        // expired again: no new expiry.
        if sealed.expired > 0 && !replanned {
            let before = cutoff.map(format_time).unwrap_or_default();
            causes.push(Cause {
                text: format!(
                    "retain: {} record(s) before {before} expired",
                    sealed.expired
                ),
                file: None,
            });
        }
        let retired = replan.map(|r| self.swap_plans(r.plans));
        let moved = match &retired {
            Some(retired) => self.apply_replan(sealed.updates, retired),
            None => self.apply(sealed.updates, rebuilt),
        };
        let n_plans = self.plans.len();
        let mut keyed: Vec<(usize, Vec<SortPart<'_>>, Sign, Change)> =
            Vec::with_capacity(moved.len() * 2);
        let mut cause_of: HashMap<Vec<(Kind, FileId)>, String, FastState> = HashMap::default();
        for (p, row, old, new) in &moved {
            // Rows of the same files have the same cause (most rows of an epoch: its file).
            let files: Vec<(Kind, FileId)> = row.iter().filter_map(record_file).collect();
            let cause = match cause_of.get(&files) {
                Some(cause) => String::clone(cause),
                None => {
                    let cause = self.cause_for(&files, &causes);
                    cause_of.insert(files, cause.clone());
                    cause
                }
            };
            let key = self.sort_key(row);
            for (sign, count) in [(Sign::Minus, *old), (Sign::Plus, *new)] {
                if count != 0 {
                    let change = Change {
                        sign,
                        plan: *p,
                        pattern: match (&retired, sign) {
                            (Some(old), Sign::Minus) => {
                                let op = old.old_index(*p, n_plans);
                                old.plans[op].pattern.clone()
                            }
                            _ => self.plans[*p].pattern.clone(),
                        },
                        cause: cause.clone(),
                        cells: match (&retired, sign) {
                            (Some(old), Sign::Minus) => {
                                let op = old.old_index(*p, n_plans);
                                self.cells_with(&old.sets[op], &old.file_cells[op], row, count)
                            }
                            _ => self.typed_cells(*p, row, count),
                        },
                    };
                    keyed.push((*p, key.clone(), sign, change));
                }
            }
        }
        let t_apply = started.elapsed();
        keyed.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
        let changes: Vec<Change> = keyed.into_iter().map(|(.., c)| c).collect();
        let causes = causes.into_iter().map(|c| c.text).collect();
        // The `-` lines of patterns that are gone are written with their old columns.
        if let Some(old) = &retired {
            for &op in &old.gone {
                self.headers.push(old.headers[op].clone());
            }
        }
        let t_sort = started.elapsed();
        let report = self.finish_epoch(
            epoch,
            causes,
            changes,
            (&moved, replanned),
            loads,
            problems,
            started,
        );
        if std::env::var_os("FLOWPAT_EPOCH_PHASES").is_some() {
            // Where an epoch's time goes (bench/README.md): cumulative milliseconds.
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            eprintln!(
                "epoch {epoch} phases (ms, cumulative): prepare {:.1}, read+feed {:.1}, dataflow {:.1}, apply+cells {:.1}, sort {:.1}, emit {:.1}",
                ms(t_pre),
                ms(t_load),
                ms(t_seal),
                ms(t_apply),
                ms(t_sort),
                ms(started.elapsed())
            );
        }
        self.headers.truncate(n_plans);
        report
    }

    /// Takes `plans` as the running plans, returning the old ones and what they had.
    fn swap_plans(&mut self, plans: Arc<Vec<Arc<JoinPlan>>>) -> Retired {
        let sets: Vec<ResultSet> = plans
            .iter()
            .map(|p| ResultSet::new(p, Vec::new()))
            .collect();
        let headers: Vec<Vec<String>> = sets.iter().map(ResultSet::header).collect();
        let file_cells = sets.iter().map(file_cell_positions).collect();
        // The same pattern is the same name with the same columns: a version that renames or
        // reorders its columns retracts every row under the old ones and adds them under the new.
        let map: Vec<Option<usize>> = plans
            .iter()
            .zip(&headers)
            .map(|(p, header)| {
                (0..self.plans.len()).find(|&o| {
                    self.plans[o].pattern == p.pattern && self.headers.get(o) == Some(header)
                })
            })
            .collect();
        let gone = (0..self.plans.len())
            .filter(|op| !map.contains(&Some(*op)))
            .collect();
        self.plans_digest = digest_of(&plans);
        self.rebuild_on_relabel = plans.iter().any(|p| labels_in_dataflow(p));
        let n_plans = plans.len();
        Retired {
            plans: std::mem::replace(&mut self.plans, plans),
            sets: std::mem::replace(&mut self.sets, sets),
            headers: std::mem::replace(&mut self.headers, headers),
            file_cells: std::mem::replace(&mut self.file_cells, file_cells),
            current: std::mem::replace(&mut self.current, vec![HashMap::default(); n_plans]),
            map,
            gone,
        }
    }

    /// After new plans: their complete results (`updates` of the rebuilt dataflow) become the
    /// current ones; returns `(change index, row, old count, new count)` for every row whose
    /// count differs from what the old plan of the same name had (an old plan whose name is
    /// gone: all its rows, at index `new plans + k`).
    fn apply_replan(
        &mut self,
        updates: Vec<crate::render::Update>,
        retired: &Retired,
    ) -> Vec<(usize, Row, i64, i64)> {
        // The complete results supersede any difference carried over a restart.
        self.carry.clear();
        let n_plans = self.plans.len();
        for (p, row, _time, diff) in updates {
            *self.current[p].entry(row).or_default() += diff as i64;
        }
        for rows in &mut self.current {
            rows.retain(|_, count| *count != 0);
        }
        let empty = HashMap::default();
        let mut moved = Vec::new();
        for (q, new) in self.current.iter().enumerate() {
            let old = retired.map[q].map_or(&empty, |op| &retired.current[op]);
            let rows: BTreeSet<&Row> = old.keys().chain(new.keys()).collect();
            for row in rows {
                let (a, b) = (
                    old.get(row).copied().unwrap_or(0),
                    new.get(row).copied().unwrap_or(0),
                );
                if a != b {
                    moved.push((q, row.clone(), a, b));
                }
            }
        }
        for (k, &op) in retired.gone.iter().enumerate() {
            for (row, count) in &retired.current[op] {
                moved.push((n_plans + k, row.clone(), *count, 0));
            }
        }
        moved
    }

    /// Emits and commits an epoch's changes.
    #[allow(clippy::too_many_arguments)]
    fn finish_epoch(
        &mut self,
        epoch: Epoch,
        causes: Vec<String>,
        changes: Vec<Change>,
        (moved, replanned): (&[(usize, Row, i64, i64)], bool),
        loads: Vec<LoadReport>,
        problems: Vec<String>,
        started: Instant,
    ) -> Result<EpochReport, WatchError> {
        self.crash(CrashStage::BeforeEmit, epoch);
        let columns = match self.opts.format {
            ChangeFormat::Csv => self.csv_header(),
            ChangeFormat::Jsonl => Vec::new(),
        };
        let header = columns != self.csv_columns;
        let bytes = self.format_changes(epoch, &changes, self.opts.format, header);
        let crash_midway = self.crash_at(CrashStage::MidEmit, epoch);
        self.emitter.write(&bytes, crash_midway)?;
        if !bytes.is_empty() {
            self.csv_columns = columns;
        }
        self.crash(CrashStage::AfterEmit, epoch);
        self.committed = Some(epoch);
        if let Some(dir) = self.opts.state.clone() {
            let old = self.commit_results(&dir, epoch, moved, replanned)?;
            self.crash(CrashStage::AfterResults, epoch);
            self.write_state(None)?;
            self.crash(CrashStage::AfterState, epoch);
            if let Some(old) = old {
                let _ = std::fs::remove_file(dir.join(state::log_name(&old)));
                let _ = std::fs::remove_file(dir.join(old));
            }
        }
        let jsonl = if self.opts.format == ChangeFormat::Jsonl && !bytes.is_empty() {
            String::from_utf8(bytes).unwrap_or_default()
        } else if !self.keep_jsonl {
            String::new()
        } else {
            String::from_utf8(self.format_changes(epoch, &changes, ChangeFormat::Jsonl, false))
                .unwrap_or_default()
        };
        Ok(EpochReport {
            epoch,
            causes,
            changes,
            loads,
            problems,
            jsonl,
            elapsed: started.elapsed(),
        })
    }

    /// Adds the epoch's output updates (and any difference carried over a restart) to the
    /// current results; returns `(plan, row, old count, new count)` for every row whose count
    /// moved. After a rebuild the updates are the complete new results rather than a difference.
    fn apply(
        &mut self,
        updates: Vec<crate::render::Update>,
        complete: bool,
    ) -> Vec<(usize, Row, i64, i64)> {
        let carried = std::mem::take(&mut self.carry);
        let mut diffs: HashMap<(usize, Row), i64, FastState> = HashMap::default();
        diffs.reserve(updates.len());
        if !complete {
            diffs.extend(carried);
        }
        for (p, row, _time, diff) in updates {
            *diffs.entry((p, row)).or_default() += diff as i64;
        }
        if complete {
            for (p, rows) in self.current.iter().enumerate() {
                for (row, count) in rows {
                    *diffs.entry((p, row.clone())).or_default() -= count;
                }
            }
        }
        let mut moved = Vec::new();
        for ((p, row), diff) in diffs {
            if diff == 0 {
                continue;
            }
            let (old, new) = match self.current[p].entry(row.clone()) {
                Entry::Occupied(mut e) => {
                    let old = *e.get();
                    if old + diff == 0 {
                        e.remove();
                    } else {
                        *e.get_mut() = old + diff;
                    }
                    (old, old + diff)
                }
                Entry::Vacant(e) => {
                    e.insert(diff);
                    (0, diff)
                }
            };
            moved.push((p, row, old, new));
        }
        // In row order, the changes are built next to each other in memory and the sort by
        // display key that follows meets runs it has little to do with (on a 3.8 M-change
        // initial load: 5 s of sorting and 5 s of writing saved for 1.5 s here).
        moved.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        moved
    }

    fn sort_key<'a>(&'a self, row: &'a Row) -> Vec<SortPart<'a>> {
        row_sort_key(row, &self.names)
    }

    /// The file changes of this epoch that touch the row's records; all of them (shortened)
    /// when none does, as for an aggregate row.
    fn cause_for(&self, files: &[(Kind, FileId)], causes: &[Cause]) -> String {
        let hits: Vec<&str> = causes
            .iter()
            .filter(|c| c.file.is_some_and(|f| files.contains(&f)))
            .map(|c| c.text.as_str())
            .collect();
        if !hits.is_empty() {
            return hits.join("; ");
        }
        let all: Vec<&str> = causes.iter().map(|c| c.text.as_str()).collect();
        if all.len() > 3 {
            format!("{}; … ({} in all)", all[..2].join("; "), all.len())
        } else {
            all.join("; ")
        }
    }

    /// Printed cells of a row with `count` matches, file columns named by display path.
    fn cells(&self, p: usize, row: &Row, count: i64) -> Vec<String> {
        self.typed_cells(p, row, count)
            .iter()
            .map(crate::output::Cell::text)
            .collect()
    }

    /// Typed cells of a row with `count` matches, file columns named by display path.
    fn typed_cells(&self, p: usize, row: &Row, count: i64) -> Vec<crate::output::Cell> {
        self.cells_with(&self.sets[p], &self.file_cells[p], row, count)
    }

    /// Typed cells of a row of `set` (whose file cells are at `file_cells`).
    fn cells_with(
        &self,
        set: &ResultSet,
        file_cells: &[(usize, usize)],
        row: &Row,
        count: i64,
    ) -> Vec<crate::output::Cell> {
        let mut cells = set.typed_cells(
            &ResultRow {
                values: row.clone(),
                count,
            },
            &self.no_files,
            &self.no_files,
        );
        for (pos, item) in file_cells {
            if let (Some((kind, id)), Some(cell)) =
                (row.get(*item).and_then(record_file), cells.get_mut(*pos))
            {
                *cell = crate::output::Cell::Text(self.display(kind, id).to_string());
            }
        }
        cells
    }

    /// The current results of every pattern, printed and sorted as `run` sorts them.
    pub fn snapshot(&self) -> ResultsSnapshot {
        self.snapshot_of(&self.sorted_rows())
    }

    /// Every plan's current rows with their counts, sorted as `run` sorts them.
    fn sorted_rows(&self) -> Vec<Vec<(&Row, i64)>> {
        self.current
            .iter()
            .map(|rows| {
                let mut keyed: Vec<(Vec<SortPart<'_>>, &Row, i64)> = rows
                    .iter()
                    .map(|(row, count)| (self.sort_key(row), row, *count))
                    .collect();
                keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                keyed
                    .into_iter()
                    .map(|(_, row, count)| (row, count))
                    .collect()
            })
            .collect()
    }

    fn snapshot_of(&self, sorted: &[Vec<(&Row, i64)>]) -> ResultsSnapshot {
        let patterns = sorted
            .iter()
            .enumerate()
            .map(|(p, rows)| PatternResults {
                pattern: self.plans[p].pattern.clone(),
                header: self.headers[p].clone(),
                rows: rows
                    .iter()
                    .map(|(row, count)| self.cells(p, row, *count))
                    .collect(),
            })
            .collect();
        ResultsSnapshot {
            epoch: self.committed,
            patterns,
        }
    }

    /// Records the committed epoch's results in the state folder: its changes appended to the
    /// results log, or a new base when the log has outgrown the base (or there is none, or
    /// the patterns changed).
    fn commit_results(
        &mut self,
        dir: &Path,
        epoch: Epoch,
        moved: &[(usize, Row, i64, i64)],
        replanned: bool,
    ) -> Result<Option<String>, WatchError> {
        let compact = self.compact_next
            || replanned
            || self.results_name.is_none()
            || self.results_log_bytes > self.results_base_bytes.max(self.log_compact_min);
        if !compact {
            if !moved.is_empty() {
                let entry = state::LogEntry {
                    epoch,
                    changes: moved
                        .iter()
                        .map(|(p, row, _, new)| {
                            let cells = (*new != 0).then(|| self.cells(*p, row, *new));
                            (*p, row, *new, cells)
                        })
                        .collect(),
                };
                let name = self.results_name.as_deref().unwrap_or_default();
                self.results_log_bytes += state::append_log(dir, name, &entry)?;
            }
            return Ok(None);
        }
        let name = format!("results-{epoch}.json");
        let sorted = self.sorted_rows();
        let rows = sorted
            .iter()
            .enumerate()
            .flat_map(|(p, rows)| {
                rows.iter()
                    .map(move |(row, count)| (p, (*row).clone(), *count))
            })
            .collect();
        let bytes = serde_json::to_vec(&state::CommittedResults {
            snapshot: self.snapshot_of(&sorted),
            rows,
            sorted: true,
        })
        .expect("results serialise");
        drop(sorted);
        state::write_atomic(&dir.join(&name), &bytes)?;
        // A log left by an epoch that never committed.
        let _ = std::fs::remove_file(dir.join(state::log_name(&name)));
        self.results_base_bytes = bytes.len() as u64;
        self.results_log_bytes = 0;
        self.compact_next = false;
        Ok(self
            .results_name
            .replace(name.clone())
            .filter(|old| *old != name))
    }

    /// The change lines of an epoch in `format` (with the CSV header first if `header`).
    fn format_changes(
        &self,
        epoch: Epoch,
        changes: &[Change],
        format: ChangeFormat,
        header: bool,
    ) -> Vec<u8> {
        if changes.is_empty() {
            return Vec::new();
        }
        match format {
            ChangeFormat::Jsonl => {
                let mut out = String::with_capacity(changes.len() * 256);
                for c in changes {
                    write_change_json(&mut out, epoch, c, &self.headers[c.plan]);
                    out.push('\n');
                }
                out.into_bytes()
            }
            ChangeFormat::Csv => {
                let union = self.csv_header();
                let position: BTreeMap<&str, usize> = union
                    .iter()
                    .enumerate()
                    .map(|(k, h)| (h.as_str(), k))
                    .collect();
                // Per pattern: the union column of each of its columns.
                let columns: Vec<Vec<Option<usize>>> = self
                    .headers
                    .iter()
                    .map(|header| {
                        header
                            .iter()
                            .map(|h| position.get(h.as_str()).copied())
                            .collect()
                    })
                    .collect();
                let mut writer = csv::Writer::from_writer(Vec::with_capacity(changes.len() * 200));
                if header {
                    let _ = writer.write_record(&union);
                }
                let epoch_text = epoch.to_string();
                let mut slots: Vec<Option<&crate::output::Cell>> = vec![None; union.len()];
                let mut text = String::with_capacity(64);
                for c in changes {
                    slots.iter_mut().for_each(|s| *s = None);
                    for (k, cell) in columns[c.plan].iter().zip(&c.cells) {
                        if let Some(k) = k {
                            slots[*k] = Some(cell);
                        }
                    }
                    let _ = writer.write_field(c.sign.symbol());
                    let _ = writer.write_field(&epoch_text);
                    let _ = writer.write_field(&c.pattern);
                    let _ = writer.write_field(&c.cause);
                    for slot in &slots[4..] {
                        text.clear();
                        if let Some(cell) = slot {
                            cell.write_text(&mut text);
                        }
                        let _ = writer.write_field(&text);
                    }
                    let _ = writer.write_record(std::iter::empty::<&[u8]>());
                }
                writer.into_inner().unwrap_or_default()
            }
        }
    }

    /// `change,epoch,pattern,cause`, every pattern's columns once (in first-seen order: those
    /// of the stream's header so far first), `matches`.
    fn csv_header(&self) -> Vec<String> {
        let mut out: Vec<String> = match self.csv_columns.split_last() {
            Some((_matches, before)) => before.to_vec(),
            None => ["change", "epoch", "pattern", "cause"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        for header in &self.headers {
            for h in header {
                if h != "matches" && !out.contains(h) {
                    out.push(h.clone());
                }
            }
        }
        out.push("matches".into());
        out
    }
}

/// One change as a JSON object: `change`, `epoch`, `pattern`, `cause`, then the pattern's
/// columns typed as `run --format jsonl` writes them, appended to `out`.
fn write_change_json(out: &mut String, epoch: Epoch, change: &Change, header: &[String]) {
    use crate::output::{write_json_str, write_json_value};
    out.push_str("{\"change\":");
    write_json_str(out, change.sign.symbol());
    out.push_str(",\"epoch\":");
    out.push_str(itoa::Buffer::new().format(epoch));
    out.push_str(",\"pattern\":");
    write_json_str(out, &change.pattern);
    out.push_str(",\"cause\":");
    write_json_str(out, &change.cause);
    for (h, cell) in header.iter().zip(&change.cells) {
        out.push(',');
        write_json_str(out, h);
        out.push(':');
        write_json_value(out, cell);
    }
    out.push('}');
}
