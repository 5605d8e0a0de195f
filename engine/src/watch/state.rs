//! What `--state DIR` keeps, and the emit file whose committed length it records.
//!
//! The commit protocol of one epoch, in order: append the epoch's change lines to the emit
//! file and fsync it; append the epoch's changes to the current results to the results log
//! (`results-<base>.log`, fsync), or, when the log has grown past its base (or the patterns
//! changed), write a new base `results-<epoch>.json` (the complete current results) with an
//! empty log; write `state.json` (temporary file, fsync, rename, fsync of the folder); delete
//! the previous base and log after a new base. So an epoch costs time in proportion to its
//! changes, not to all the results (a rewrite of the base every so often doubles that at
//! most). `state.json` is the commit point: it names the last committed epoch, the emit
//! file's length after it, the results base and the log's length after it, every ingested
//! file with its fingerprint, the networks text and the retention clock. Before an epoch starts, the same
//! document is written with the epoch's intended actions (`pending`), so that after a crash
//! the restart re-runs exactly that epoch instead of regrouping files that arrived meanwhile.
//! A crash anywhere therefore leaves either the old commit (the emit file is cut back to its
//! recorded length on restart and the epoch is redone) or the new one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{ChangeFormat, EmitTarget, Kind, StateMismatch, WatchError};
use crate::datum::Row;
use crate::render::Epoch;

/// Version of the `state.json` layout.
pub(super) const STATE_VERSION: u32 = 1;
/// The commit document in a state folder.
pub(super) const STATE_FILE: &str = "state.json";

/// One ingested file, as committed.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct FileRecord {
    pub kind: Kind,
    pub display: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    pub id: u32,
    /// The epoch that ingested this version of the file.
    pub epoch: Epoch,
}

/// One intended change of a pending epoch.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub(super) enum Action {
    /// Read a new file, or a new version of an ingested one.
    Add {
        kind: Kind,
        display: String,
        path: PathBuf,
    },
    /// Retract an ingested file.
    Remove { kind: Kind, display: String },
    /// Relabel every record under this networks text.
    Networks { fingerprint: String, text: String },
}

/// A file id assigned to a display path (kept after the file goes, so it comes back as itself).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct IdRecord {
    pub kind: Kind,
    pub display: String,
    pub id: u32,
}

/// `state.json`.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct StateDoc {
    pub version: u32,
    /// SHA-256 of the join plans' explain text: a state belongs to one set of patterns.
    pub plans: String,
    pub patterns: Vec<String>,
    /// Last committed epoch.
    pub epoch: Option<Epoch>,
    /// The emit file (absent for stdout) and its length after the committed epoch.
    pub emit: Option<PathBuf>,
    pub emit_bytes: u64,
    pub networks_path: PathBuf,
    pub networks_fingerprint: String,
    pub networks_text: String,
    pub retain_micros: Option<i64>,
    /// Newest record time seen (the retention clock).
    pub max_time: Option<i64>,
    pub ids: Vec<IdRecord>,
    pub files: Vec<FileRecord>,
    /// Name of the results base (complete results of some epoch up to the committed one), in
    /// the state folder; its log ([`log_name`]) holds the changes of the epochs after it.
    pub results: Option<String>,
    /// Committed length of the results log (absent in states written before there was one).
    #[serde(default)]
    pub results_log_bytes: u64,
    /// CSV: the columns of the last header line in the emitted stream (absent in states
    /// written before a reload could add columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emit_csv_columns: Vec<String>,
    /// The epoch under way when this was written, if any.
    pub pending: Option<Vec<Action>>,
    /// The pattern files (and `use`d files) the committed plans were compiled from; absent in
    /// states written before patterns were reloaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pattern_sources: Vec<PatternSource>,
}

/// One pattern file a watch's plans were compiled from, as it was read.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct PatternSource {
    /// The path as given (or as a `use` named it, relative to the using file).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Named on the command line (or found in a pattern folder), not only `use`d.
    pub root: bool,
}

/// The current results of every pattern, as printed: what `flowpat results` shows.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct ResultsSnapshot {
    /// The epoch these results are current after (`None` before the first).
    pub epoch: Option<Epoch>,
    /// One entry per pattern, in pattern order.
    pub patterns: Vec<PatternResults>,
}

/// The current results of one pattern.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct PatternResults {
    /// The pattern's name.
    pub pattern: String,
    /// Column names, as `run` prints them (last `matches`).
    pub header: Vec<String>,
    /// Rows of printed cells aligned with `header`, sorted by identity.
    pub rows: Vec<Vec<String>>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WatchError + '_ {
    move |source| WatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
/// the folder.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WatchError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    // The rename is durable once the folder is.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads `state.json` of `dir`, if there is one.
pub(super) fn read_state(dir: &Path) -> Result<Option<StateDoc>, WatchError> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(WatchError::Io { path, source }),
    };
    let doc: StateDoc = serde_json::from_str(&text).map_err(|source| WatchError::BadState {
        path: path.clone(),
        source,
    })?;
    if doc.version != STATE_VERSION {
        return Err(WatchError::StateMismatch {
            path,
            what: StateMismatch::Version { found: doc.version },
        });
    }
    Ok(Some(doc))
}

/// A results file: the printed results (what `flowpat results` reads) and the result rows
/// themselves, which a restart takes as the committed state of the change stream.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct CommittedResults {
    #[serde(flatten)]
    pub snapshot: ResultsSnapshot,
    /// `(plan, row, matches)`.
    pub rows: PlanRows,
    /// Whether `rows` are in the order of the snapshot's rows, plan by plan (so the printed
    /// cells of a row are known); not so in states written before the results log.
    #[serde(default)]
    pub sorted: bool,
}

/// One committed epoch's changes to the current results: a line of a results log.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct LogEntry<R> {
    pub epoch: Epoch,
    /// `(plan, row, matches after, printed cells after)`; a row that went away has 0 matches
    /// and no cells.
    pub changes: Vec<(usize, R, i64, Option<Vec<String>>)>,
}

/// The log that follows the results base `results`.
pub(super) fn log_name(results: &str) -> String {
    format!("{}.log", results.strip_suffix(".json").unwrap_or(results))
}

/// The committed entries of the log after base `results`: its first `bytes` bytes.
fn read_log(dir: &Path, results: &str, bytes: u64) -> Result<Vec<LogEntry<Row>>, WatchError> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let path = dir.join(log_name(results));
    let mut file = File::open(&path).map_err(io_err(&path))?;
    let found = file.metadata().map_err(io_err(&path))?.len();
    let path = log_holds(path, found, bytes)?;
    let mut buf = Vec::with_capacity(bytes as usize);
    (&mut file)
        .take(bytes)
        .read_to_end(&mut buf)
        .map_err(io_err(&path))?;
    buf.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line).map_err(|source| WatchError::BadState {
                path: path.clone(),
                source,
            })
        })
        .collect()
}

/// The log at `path` (`found` bytes long) holds the `bytes` the state committed; its path back.
fn log_holds(path: PathBuf, found: u64, bytes: u64) -> Result<PathBuf, WatchError> {
    if found < bytes {
        return Err(WatchError::StateMismatch {
            path,
            what: StateMismatch::LogShorter {
                committed: bytes,
                found,
            },
        });
    }
    Ok(path)
}

/// Cuts the log after base `results` back to its committed `bytes` (a crash may have left an
/// uncommitted entry), before a restart appends to it.
pub(super) fn truncate_log(dir: &Path, results: &str, bytes: u64) -> Result<(), WatchError> {
    let path = dir.join(log_name(results));
    match OpenOptions::new().write(true).open(&path) {
        Ok(file) => {
            let found = file.metadata().map_err(io_err(&path))?.len();
            let path = log_holds(path, found, bytes)?;
            file.set_len(bytes).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && bytes == 0 => Ok(()),
        Err(source) => Err(WatchError::Io { path, source }),
    }
}

/// Appends one entry to the log after base `results` and syncs it; returns its length in bytes.
pub(super) fn append_log(
    dir: &Path,
    results: &str,
    entry: &LogEntry<&Row>,
) -> Result<u64, WatchError> {
    let path = dir.join(log_name(results));
    let mut line = serde_json::to_vec(entry).expect("a log entry serialises");
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    file.write_all(&line).map_err(io_err(&path))?;
    file.sync_data().map_err(io_err(&path))?;
    Ok(line.len() as u64)
}

/// Result rows as `(plan, row, matches)`.
pub(super) type PlanRows = Vec<(usize, Row, i64)>;

/// The committed result rows of a state (its base with the log applied), and whether the
/// base's rows were sorted (a base written before the log was not).
pub(super) fn committed_rows(dir: &Path, doc: &StateDoc) -> Result<(PlanRows, bool), WatchError> {
    let Some(name) = &doc.results else {
        return Ok((Vec::new(), true));
    };
    let base: CommittedResults = read_json(dir, name)?;
    let log = read_log(dir, name, doc.results_log_bytes)?;
    if log.is_empty() {
        return Ok((base.rows, base.sorted));
    }
    let mut rows: std::collections::HashMap<(usize, Row), i64> = base
        .rows
        .into_iter()
        .map(|(p, row, count)| ((p, row), count))
        .collect();
    for entry in log {
        for (p, row, count, _) in entry.changes {
            if count == 0 {
                rows.remove(&(p, row));
            } else {
                rows.insert((p, row), count);
            }
        }
    }
    Ok((
        rows.into_iter().map(|((p, row), c)| (p, row, c)).collect(),
        base.sorted,
    ))
}

/// The printed results of a state: the base's, with the log's changes applied and every
/// pattern's rows sorted again as `run` sorts them.
fn current_results(
    base: CommittedResults,
    log: Vec<LogEntry<Row>>,
    doc: &StateDoc,
) -> ResultsSnapshot {
    let mut snapshot = base.snapshot;
    snapshot.epoch = doc.epoch;
    if log.is_empty() {
        return snapshot;
    }
    let mut names: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for rec in &doc.ids {
        let names = &mut names[rec.kind.index()];
        let idx = rec.id as usize;
        if names.len() <= idx {
            names.resize(idx + 1, String::new());
        }
        names[idx] = rec.display.clone();
    }
    let mut rows: Vec<std::collections::HashMap<Row, Vec<String>>> =
        vec![Default::default(); snapshot.patterns.len()];
    let mut next = vec![0usize; snapshot.patterns.len()];
    for (p, row, _) in base.rows {
        if let Some(cells) = snapshot
            .patterns
            .get_mut(p)
            .and_then(|r| r.rows.get_mut(next[p]))
        {
            rows[p].insert(row, std::mem::take(cells));
            next[p] += 1;
        }
    }
    for entry in log {
        for (p, row, count, cells) in entry.changes {
            let Some(rows) = rows.get_mut(p) else {
                continue;
            };
            match cells.filter(|_| count != 0) {
                Some(cells) => rows.insert(row, cells),
                None => rows.remove(&row),
            };
        }
    }
    for (pattern, rows) in snapshot.patterns.iter_mut().zip(rows) {
        let (rows, cells): (Vec<Row>, Vec<Vec<String>>) = rows.into_iter().unzip();
        let mut order: Vec<(Vec<super::SortPart<'_>>, usize)> = rows
            .iter()
            .enumerate()
            .map(|(k, row)| (super::row_sort_key(row, &names), k))
            .collect();
        order.sort_unstable();
        let mut cells: Vec<Option<Vec<String>>> = cells.into_iter().map(Some).collect();
        pattern.rows = order.iter().filter_map(|(_, k)| cells[*k].take()).collect();
    }
    snapshot
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, WatchError> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    serde_json::from_str(&text).map_err(|source| WatchError::BadState { path, source })
}

/// The current results recorded in a state folder by a running or finished `watch`.
pub fn read_results(state_dir: &Path) -> Result<ResultsSnapshot, WatchError> {
    // A running watch may commit between reading the state and its results file (and then
    // delete the older results file); read again in that case.
    let mut last = None;
    for _ in 0..5 {
        let Some(doc) = read_state(state_dir)? else {
            return Err(WatchError::NoState {
                path: state_dir.to_path_buf(),
            });
        };
        let Some(name) = doc.results.clone() else {
            return Ok(ResultsSnapshot {
                epoch: None,
                patterns: Vec::new(),
            });
        };
        let read = read_json::<CommittedResults>(state_dir, &name).and_then(|base| {
            let log = read_log(state_dir, &name, doc.results_log_bytes)?;
            Ok(current_results(base, log, &doc))
        });
        match read {
            Ok(snapshot) => return Ok(snapshot),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(WatchError::NoState {
        path: state_dir.to_path_buf(),
    }))
}

/// The pattern files the committed plans of a state folder were compiled from (empty when the
/// state has none recorded, or there is no state): a restart compiles these versions, so that
/// it runs what was running, and then reloads whatever changed since.
pub fn recorded_patterns(state_dir: &Path) -> Result<Vec<PatternSource>, WatchError> {
    Ok(read_state(state_dir)?
        .map(|doc| doc.pattern_sources)
        .unwrap_or_default())
}

/// SHA-256 (hex) of a file's bytes.
pub(super) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// SHA-256 (hex) of some text.
pub(super) fn sha256_text(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where change lines go, and how many bytes of a file are committed.
pub(super) struct Emitter {
    target: Option<EmitTarget>,
    file: Option<File>,
    /// Bytes in the emit file (committed or not).
    pub len: u64,
    /// Whether the CSV header still has to be written (first bytes of the stream).
    pub needs_header: bool,
    /// Whether writes are synced: a regular file under a state folder (not a device or a
    /// pipe, and not a watch whose restarts start over).
    sync: bool,
}

impl Emitter {
    /// Opens the emit target; a file is cut back to `committed` bytes (what the last commit
    /// recorded; 0 for a new stream). With `durable` (a state folder records commits) every
    /// write is synced before the commit that counts it; without, a restart starts over and
    /// nothing waits for the disk.
    pub fn open(
        target: Option<EmitTarget>,
        committed: u64,
        format: ChangeFormat,
        durable: bool,
    ) -> Result<Emitter, WatchError> {
        let mut file = None;
        if let Some(EmitTarget::File(path)) = &target {
            if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
                // A device or a pipe (`--emit /dev/null`, a FIFO): written as a stream; it
                // cannot be cut back or made durable, so a restart cannot resume it exactly.
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_err(path))?;
                return Ok(Emitter {
                    target,
                    file: Some(f),
                    len: committed,
                    needs_header: format == ChangeFormat::Csv,
                    sync: false,
                });
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
                .map_err(io_err(path))?;
            let found = f.metadata().map_err(io_err(path))?.len();
            if found < committed {
                return Err(WatchError::StateMismatch {
                    path: path.clone(),
                    what: StateMismatch::EmitShorter { committed, found },
                });
            }
            f.set_len(committed).map_err(io_err(path))?;
            f.seek(SeekFrom::Start(committed)).map_err(io_err(path))?;
            f.sync_all().map_err(io_err(path))?;
            file = Some(f);
        }
        Ok(Emitter {
            target,
            file,
            len: committed,
            needs_header: committed == 0 && format == ChangeFormat::Csv,
            sync: durable,
        })
    }

    /// Appends bytes. `crash_midway` is the test hook: write half, make it durable, abort.
    pub fn write(&mut self, bytes: &[u8], crash_midway: bool) -> Result<(), WatchError> {
        if bytes.is_empty() {
            return Ok(());
        }
        match (&self.target, &mut self.file) {
            (Some(EmitTarget::File(path)), Some(f)) => {
                if crash_midway {
                    let half = bytes.len() / 2;
                    f.write_all(&bytes[..half]).map_err(io_err(path))?;
                    let _ = f.sync_all();
                    std::process::abort();
                }
                f.write_all(bytes).map_err(io_err(path))?;
                if self.sync {
                    f.sync_data().map_err(io_err(path))?;
                }
            }
            (Some(EmitTarget::Stdout), _) => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                let path = Path::new("<stdout>");
                lock.write_all(bytes).map_err(io_err(path))?;
                lock.flush().map_err(io_err(path))?;
            }
            _ => {}
        }
        self.len += bytes.len() as u64;
        self.needs_header = false;
        Ok(())
    }

    /// The emit file's path, if changes go to a file.
    pub fn path(&self) -> Option<&Path> {
        match &self.target {
            Some(EmitTarget::File(p)) => Some(p),
            _ => None,
        }
    }
}
