//! The long-lived timely workers behind `watch`: one dataflow for every plan, fed epoch by
//! epoch on command from the coordinating thread.
//!
//! Each worker owns the watched files whose id falls to it and remembers, per file, every
//! record it fed into every scan. That memory is what makes retraction exact: a removed or
//! replaced file, an expired record or a relabelled archive is taken back by feeding the very
//! same `Datum`s with multiplicity −1, so the dataflow consolidates to what a batch run over
//! the remaining input would hold. An epoch is two commands: `Load` (removals, re-labelling,
//! new files and stream chunks — all fed at the epoch's time) and `Seal` (expire by the
//! retention cut-off, advance the inputs, step until the probe passes the epoch, return the
//! captured output).
//!
//! A stream chunk (the batches of one stdin epoch) is held like a file, under the stream's
//! file id and its chunk number, with its Arrow batches kept for re-reading under new labels
//! (a stream cannot be read twice); a chunk all of whose records fall behind the retention
//! cut-off is dropped whole, batches included, so memory stays bounded on an endless stream.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use compiler::plan::JoinPlan;
use timely::communication::initialize::WorkerGuards;
use timely::worker::Worker;

use super::{Kind, WatchError};
use crate::datum::Datum;
use crate::load::batch::{EventColumns, FlowColumns};
use crate::load::networks::Networks;
use crate::load::{self, FileEntry, LoadError, LoadReport, ReadOptions};
use crate::model::FileId;
use crate::render::{self, Epoch, Rendered, Update};
use crate::run::{requested_columns, scan_events, scan_flows};

/// How long an idle worker waits for a command before it steps the dataflow once more.
const IDLE_STEP: Duration = Duration::from_millis(5);

/// What one epoch feeds, in this order: removals, re-labelling, additions.
pub(super) struct LoadStep {
    /// The epoch (timely time) everything is fed at.
    pub epoch: Epoch,
    /// Files whose records are retracted.
    pub remove: Vec<(Kind, FileId)>,
    /// New labels for every held record, and whether the dataflow must be rebuilt for them
    /// (when a plan reads dispositions inside the dataflow, where the labels are fixed).
    pub relabel: Option<(Arc<Networks>, bool)>,
    /// Files to read and insert.
    pub add: Vec<(Kind, FileEntry)>,
    /// Stream chunks to decode and insert.
    pub chunks: Vec<(Kind, Arc<StreamChunk>)>,
}

/// Consecutive record batches of a stream (stdin) fed as one epoch.
pub(super) struct StreamChunk {
    /// The stream's file id (one per stream, shared by its chunks).
    pub id: FileId,
    /// The stream's display name.
    pub display: String,
    /// Chunk number within the stream (0, 1, …).
    pub chunk: u64,
    /// Ordinal of the chunk's first row in the whole stream.
    pub first_row: u64,
    /// The batches.
    pub batches: Vec<RecordBatch>,
}

/// Where held records come from, to read them again under new labels.
#[derive(Clone)]
enum Source {
    File(FileEntry),
    Chunk(Arc<StreamChunk>),
}

impl Source {
    fn display(&self) -> &str {
        match self {
            Source::File(entry) => &entry.display,
            Source::Chunk(chunk) => &chunk.display,
        }
    }

    fn key(&self, kind: Kind) -> HeldKey {
        match self {
            Source::File(entry) => (kind, entry.id, 0),
            Source::Chunk(chunk) => (kind, chunk.id, chunk.chunk),
        }
    }
}

/// `(kind, file, chunk)`: files are chunk 0 of their id.
type HeldKey = (Kind, FileId, u64);

/// How reading one file went.
pub(super) struct FileOutcome {
    /// Which archive.
    pub kind: Kind,
    /// Its display path.
    pub display: String,
    /// Its path (`None` for a stream chunk).
    pub path: Option<std::path::PathBuf>,
    /// The load report, or why nothing of the file was fed.
    pub result: Result<LoadReport, LoadError>,
}

/// What a worker did with a `Load`.
pub(super) struct Loaded {
    /// Newest record time among the rows read (flow start or event time).
    pub max_time: Option<i64>,
    /// One outcome per file read.
    pub outcomes: Vec<FileOutcome>,
}

/// What a worker produced for a `Seal`.
pub(super) struct Sealed {
    /// Output updates of the epoch.
    pub updates: Vec<Update>,
    /// Records retracted because they fell behind the retention cut-off.
    pub expired: u64,
}

enum Command {
    Load(Arc<LoadStep>),
    Seal { cutoff: Option<i64> },
}

enum Reply {
    Loaded(Loaded),
    Sealed(Sealed),
}

/// The coordinator's handle on the workers.
pub(super) struct Cluster {
    to: Vec<Sender<Command>>,
    from: Vec<Receiver<Reply>>,
    guards: Option<WorkerGuards<()>>,
}

type Channels = Vec<Mutex<Option<(Receiver<Command>, Sender<Reply>)>>>;

impl Cluster {
    /// Starts `workers` timely workers, each with the dataflow of `plans` rendered.
    pub fn start(
        workers: usize,
        plans: Arc<Vec<Arc<JoinPlan>>>,
        networks: Arc<Networks>,
        read: ReadOptions,
    ) -> Result<Cluster, WatchError> {
        let workers = workers.max(1);
        let mut to = Vec::new();
        let mut from = Vec::new();
        let mut channels: Channels = Vec::new();
        for _ in 0..workers {
            let (cmd_tx, cmd_rx) = mpsc::channel();
            let (reply_tx, reply_rx) = mpsc::channel();
            to.push(cmd_tx);
            from.push(reply_rx);
            channels.push(Mutex::new(Some((cmd_rx, reply_tx))));
        }
        let channels = Arc::new(channels);
        let guards = timely::execute(timely::Config::process(workers), move |worker| {
            let taken = channels[worker.index()]
                .lock()
                .ok()
                .and_then(|mut slot| slot.take());
            let Some((rx, tx)) = taken else { return };
            let mut state = WorkerState::new(worker, plans.clone(), networks.clone(), read);
            loop {
                let command = match rx.recv_timeout(IDLE_STEP) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout) => {
                        worker.step();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                let reply = match command {
                    Command::Load(step) => Reply::Loaded(state.load(worker, &step)),
                    Command::Seal { cutoff } => Reply::Sealed(state.seal(worker, cutoff)),
                };
                if tx.send(reply).is_err() {
                    return;
                }
            }
        })
        .map_err(|reason| WatchError::Dataflow { reason })?;
        Ok(Cluster {
            to,
            from,
            guards: Some(guards),
        })
    }

    fn broadcast(&self, make: impl Fn() -> Command) -> Result<Vec<Reply>, WatchError> {
        for tx in &self.to {
            tx.send(make()).map_err(|_| WatchError::Dataflow {
                reason: "a worker stopped".into(),
            })?;
        }
        self.from
            .iter()
            .map(|rx| {
                rx.recv().map_err(|_| WatchError::Dataflow {
                    reason: "a worker stopped before answering".into(),
                })
            })
            .collect()
    }

    /// Feeds one epoch's removals, re-labelling and additions.
    pub fn load(&self, step: LoadStep) -> Result<Loaded, WatchError> {
        let step = Arc::new(step);
        let mut all = Loaded {
            max_time: None,
            outcomes: Vec::new(),
        };
        for reply in self.broadcast(|| Command::Load(step.clone()))? {
            if let Reply::Loaded(loaded) = reply {
                all.max_time = all.max_time.max(loaded.max_time);
                all.outcomes.extend(loaded.outcomes);
            }
        }
        all.outcomes
            .sort_by(|a, b| (a.kind, &a.display).cmp(&(b.kind, &b.display)));
        Ok(all)
    }

    /// Expires records before `cutoff`, closes the epoch and returns its output updates.
    pub fn seal(&self, cutoff: Option<i64>) -> Result<Sealed, WatchError> {
        let mut all = Sealed {
            updates: Vec::new(),
            expired: 0,
        };
        for reply in self.broadcast(|| Command::Seal { cutoff })? {
            if let Reply::Sealed(sealed) = reply {
                all.updates.extend(sealed.updates);
                all.expired += sealed.expired;
            }
        }
        Ok(all)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the command channels ends every worker's loop.
        self.to.clear();
        if let Some(guards) = self.guards.take() {
            drop(guards.join());
        }
    }
}

/// Records fed for one file: `(plan, scan, record)`.
type Fed = Vec<(u32, u32, Datum)>;

/// Records one worker fed for one file or stream chunk.
struct Held {
    kind: Kind,
    source: Source,
    rows: Fed,
    /// Oldest record time among `rows` (skip the file when expiring later cut-offs).
    min_time: i64,
    /// Newest record time among all rows read, fed or not (a stream chunk is dropped whole
    /// once the cut-off passes it).
    max_time: Option<i64>,
}

struct WorkerState {
    plans: Arc<Vec<Arc<JoinPlan>>>,
    networks: Arc<Networks>,
    read: ReadOptions,
    flow_req: FlowColumns,
    event_req: EventColumns,
    rendered: Rendered,
    sink: Arc<Mutex<Vec<Update>>>,
    held: BTreeMap<HeldKey, Held>,
    /// The time the inputs are at.
    time: Epoch,
    cutoff: Option<i64>,
    /// Whether records were fed since the last expiry pass (they may already be too old).
    fresh: bool,
}

/// Data time of a record: a flow's start, an event's time.
pub(super) fn record_time(d: &Datum) -> i64 {
    match d {
        Datum::Conn(c) => c.start,
        Datum::Event(e) => e.time,
        _ => i64::MIN,
    }
}

/// Which worker reads and holds a file (chunk 0) or a stream chunk.
fn owner(kind: Kind, id: FileId, chunk: u64, peers: usize) -> usize {
    ((id.0 as u64 + kind.index() as u64 + chunk) % peers as u64) as usize
}

impl WorkerState {
    fn new(
        worker: &mut Worker,
        plans: Arc<Vec<Arc<JoinPlan>>>,
        networks: Arc<Networks>,
        read: ReadOptions,
    ) -> WorkerState {
        let owned: Vec<JoinPlan> = plans.iter().map(|p| (**p).clone()).collect();
        let (flow_req, event_req) = requested_columns(&owned);
        let sink = Arc::new(Mutex::new(Vec::new()));
        let rendered = render::render(
            worker,
            &plans,
            networks.clone(),
            Arc::new(flow_req.extra.clone()),
            Arc::new(event_req.extra.clone()),
            sink.clone(),
        );
        WorkerState {
            plans,
            networks,
            read,
            flow_req,
            event_req,
            rendered,
            sink,
            held: BTreeMap::new(),
            time: 0,
            cutoff: None,
            fresh: false,
        }
    }

    fn feed(&mut self, rows: &[(u32, u32, Datum)], diff: isize) {
        for (p, s, record) in rows {
            self.rendered.plans[*p as usize].scans[*s as usize].update(record.clone(), diff);
        }
    }

    fn advance(&mut self, time: Epoch) {
        for plan in &mut self.rendered.plans {
            for session in &mut plan.scans {
                session.advance_to(time);
            }
        }
        self.time = time;
    }

    /// Reads one file under the current labels; nothing is fed. Returns the load result, the
    /// rows that passed a scan, and the newest record time read.
    fn read(
        &self,
        kind: Kind,
        source: &Source,
    ) -> (Result<LoadReport, LoadError>, Fed, Option<i64>) {
        let mut rows = Vec::new();
        let mut max_time: Option<i64> = None;
        let (plans, networks) = (&self.plans, &*self.networks);
        let mut keep = |p: usize, s: usize, record: Datum| rows.push((p as u32, s as u32, record));
        let (flow_req, event_req, read) = (&self.flow_req, &self.event_req, &self.read);
        let mut flows = |batch: load::FlowBatch| {
            max_time = max_time.max(batch.start.iter().copied().max());
            scan_flows(plans, &batch, networks, &flow_req.extra, &mut keep);
        };
        let result = match (kind, source) {
            (Kind::Flows, Source::File(entry)) => {
                load::read_flows(entry, flow_req, networks, read, &mut flows)
            }
            (Kind::Flows, Source::Chunk(c)) => load::read_flow_batches(
                &c.batches,
                c.id,
                &c.display,
                c.first_row,
                flow_req,
                networks,
                read,
                &mut flows,
            ),
            (Kind::Events, source) => {
                let mut events = |batch: load::EventBatch| {
                    max_time = max_time.max(batch.time.iter().copied().max());
                    scan_events(plans, &batch, networks, &event_req.extra, &mut keep);
                };
                match source {
                    Source::File(entry) => {
                        load::read_events(entry, event_req, networks, read, &mut events)
                    }
                    Source::Chunk(c) => load::read_event_batches(
                        &c.batches,
                        c.id,
                        &c.display,
                        c.first_row,
                        event_req,
                        networks,
                        read,
                        &mut events,
                    ),
                }
            }
        };
        (result, rows, max_time)
    }

    /// Reads `source` and, if that succeeds, feeds and holds its records.
    fn insert(&mut self, worker: &mut Worker, kind: Kind, source: Source, loaded: &mut Loaded) {
        let (result, rows, max_time) = self.read(kind, &source);
        if result.is_ok() {
            self.feed(&rows, 1);
            let min_time = rows
                .iter()
                .map(|(_, _, d)| record_time(d))
                .min()
                .unwrap_or(i64::MAX);
            self.held.insert(
                source.key(kind),
                Held {
                    kind,
                    source: source.clone(),
                    rows,
                    min_time,
                    max_time,
                },
            );
            loaded.max_time = loaded.max_time.max(max_time);
            self.fresh = true;
        }
        loaded.outcomes.push(FileOutcome {
            kind,
            display: source.display().to_string(),
            path: match &source {
                Source::File(entry) => Some(entry.path.clone()),
                Source::Chunk(_) => None,
            },
            result,
        });
        worker.step();
    }

    fn load(&mut self, worker: &mut Worker, step: &LoadStep) -> Loaded {
        let (index, peers) = (worker.index(), worker.peers());
        let mut loaded = Loaded {
            max_time: None,
            outcomes: Vec::new(),
        };
        self.advance(step.epoch);
        for &(kind, id) in &step.remove {
            if let Some(held) = self.held.remove(&(kind, id, 0)) {
                self.feed(&held.rows, -1);
            }
        }
        if let Some((networks, rebuild)) = &step.relabel {
            let files: Vec<Held> = std::mem::take(&mut self.held).into_values().collect();
            if *rebuild {
                // The old dataflow's closures hold the old labels: retire it (dropping its
                // inputs closes them) and feed everything into a fresh one.
                self.sink = Arc::new(Mutex::new(Vec::new()));
                self.rendered = render::render(
                    worker,
                    &self.plans,
                    networks.clone(),
                    Arc::new(self.flow_req.extra.clone()),
                    Arc::new(self.event_req.extra.clone()),
                    self.sink.clone(),
                );
                self.advance(step.epoch);
            } else {
                for held in &files {
                    self.feed(&held.rows, -1);
                }
            }
            self.networks = networks.clone();
            for held in files {
                self.insert(worker, held.kind, held.source, &mut loaded);
            }
        }
        for (kind, entry) in &step.add {
            if owner(*kind, entry.id, 0, peers) == index {
                self.insert(worker, *kind, Source::File(entry.clone()), &mut loaded);
            }
        }
        for (kind, chunk) in &step.chunks {
            if owner(*kind, chunk.id, chunk.chunk, peers) == index {
                self.insert(worker, *kind, Source::Chunk(chunk.clone()), &mut loaded);
            }
        }
        loaded
    }

    fn seal(&mut self, worker: &mut Worker, cutoff: Option<i64>) -> Sealed {
        let mut expired = 0u64;
        if let Some(cut) = cutoff {
            if self.fresh || self.cutoff != Some(cut) {
                let mut gone = Vec::new();
                for held in self.held.values_mut() {
                    if held.min_time >= cut {
                        continue;
                    }
                    let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut held.rows)
                        .into_iter()
                        .partition(|(_, _, d)| record_time(d) < cut);
                    held.rows = keep;
                    held.min_time = held
                        .rows
                        .iter()
                        .map(|(_, _, d)| record_time(d))
                        .min()
                        .unwrap_or(i64::MAX);
                    expired += old.len() as u64;
                    gone.extend(old);
                }
                self.feed(&gone, -1);
                // A stream chunk wholly behind the cut-off can never contribute again, not
                // even under new labels: let its batches go.
                self.held.retain(|_, held| {
                    !(matches!(held.source, Source::Chunk(_))
                        && held.rows.is_empty()
                        && held.max_time.is_none_or(|t| t < cut))
                });
            }
        }
        self.cutoff = cutoff;
        self.fresh = false;
        let next = self.time + 1;
        for plan in &mut self.rendered.plans {
            for session in &mut plan.scans {
                session.advance_to(next);
                session.flush();
            }
        }
        let epoch = self.time;
        self.time = next;
        let probe = self.rendered.probe.clone();
        worker.step_while(|| probe.less_than(&next));
        let mut sink = self.sink.lock().expect("output sink lock");
        let updates = std::mem::take(&mut *sink)
            .into_iter()
            .filter(|u| u.2 <= epoch)
            .collect();
        Sealed { updates, expired }
    }
}
