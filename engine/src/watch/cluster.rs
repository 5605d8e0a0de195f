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
//!
//! On a cluster (`Cluster::start_distributed` on process 0, [`serve`] on the others) the same
//! commands reach every worker of every process through a control dataflow, and the replies
//! come back through it to process 0: see "A watch across processes" below.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use compiler::plan::JoinPlan;
use timely::communication::initialize::WorkerGuards;
use timely::dataflow::operators::vec::{Broadcast, Input};
use timely::dataflow::operators::{Exchange, Inspect};
use timely::worker::Worker;

use super::{Kind, WatchError, WatchOptions};
use crate::cluster::{fingerprint_part, ClusterSpec, JobFingerprint, Running};
use crate::datum::Datum;
use crate::load::batch::{EventColumns, FlowColumns};
use crate::load::networks::Networks;
use crate::load::{self, FileEntry, FileFormat, LoadError, LoadReport, ReadOptions};
use crate::model::FileId;
use crate::presets::Preset;
use crate::render::{self, Epoch, Rendered, Update};
use crate::run::{requested_columns, scan_events, scan_flows};

/// How long an idle worker waits for a command before it steps the dataflow once more.
const IDLE_STEP: Duration = Duration::from_millis(5);

/// How long a worker whose dataflow has nothing left to do waits for a command before it
/// steps once more anyway.
const IDLE_WAIT: Duration = Duration::from_secs(1);

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
    /// New plans (an edited pattern file): the dataflow is rebuilt for them, as for labels it
    /// holds, and every held file read again under them. Not on a cluster of processes.
    pub plans: Option<Arc<Vec<Arc<JoinPlan>>>>,
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
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct FileOutcome {
    /// Which archive.
    pub kind: Kind,
    /// Its display path.
    pub display: String,
    /// Its path (`None` for a stream chunk).
    pub path: Option<std::path::PathBuf>,
    /// The load report, or why nothing of the file was fed (a [`LoadError`] as text: it may
    /// come from another process).
    pub result: Result<LoadReport, String>,
}

/// What a worker did with a `Load`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Loaded {
    /// Newest record time among the rows read (flow start or event time).
    pub max_time: Option<i64>,
    /// One outcome per file read.
    pub outcomes: Vec<FileOutcome>,
}

/// What a worker produced for a `Seal`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
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

#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Reply {
    Loaded(Loaded),
    Sealed(Sealed),
}

/// The coordinator's handle on the workers.
pub(super) struct Cluster {
    backend: Backend,
}

/// Local workers of this process alone, or this process's part of a multi-process cluster.
enum Backend {
    /// Every worker takes each command from its own channel.
    Local {
        to: Vec<Sender<Command>>,
        from: Vec<Receiver<Reply>>,
        guards: Option<WorkerGuards<()>>,
    },
    /// Process 0 of a cluster: global worker 0 takes the commands and broadcasts them through
    /// the control dataflow, and hands back every worker's reply (see [`distributed_worker`]).
    Distributed {
        to: Option<Sender<Control>>,
        from: Receiver<Vec<Reply>>,
        running: Option<Running>,
        done: Arc<AtomicUsize>,
        workers: usize,
    },
}

type Channels = Vec<Mutex<Option<(Receiver<Command>, Sender<Reply>)>>>;

/// The reason a worker stopped answering.
fn stopped(reason: &str) -> WatchError {
    WatchError::Dataflow {
        reason: reason.into(),
    }
}

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
                // While the dataflow has work of its own (arrangements merging after an
                // epoch) it is stepped every IDLE_STEP between commands; once it has none the
                // worker sleeps until the next command (every worker gets every command).
                let settled = worker
                    .activations()
                    .borrow()
                    .empty_for()
                    .is_none_or(|wait| wait >= IDLE_WAIT);
                let wait = if settled { IDLE_WAIT } else { IDLE_STEP };
                let command = match rx.recv_timeout(wait) {
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
            backend: Backend::Local {
                to,
                from,
                guards: Some(guards),
            },
        })
    }

    /// Process 0 of a cluster: connects to the other processes (which run [`serve`]) and
    /// starts this process's workers; every worker of every process renders the dataflow of
    /// `plans` under `networks`, sent to them as the first control message.
    pub fn start_distributed(
        spec: &ClusterSpec,
        opts: &WatchOptions,
        plans: Arc<Vec<Arc<JoinPlan>>>,
        networks: &Networks,
    ) -> Result<Cluster, WatchError> {
        let workers = opts.workers.max(1);
        let (cmd_tx, cmd_rx) = mpsc::channel::<Control>();
        let (reply_tx, reply_rx) = mpsc::channel::<Vec<Reply>>();
        let coordinator = Arc::new(Mutex::new(Some((cmd_rx, reply_tx))));
        let done = Arc::new(AtomicUsize::new(0));
        let running = launch(spec, opts, plans, Some(coordinator), done.clone())?;
        cmd_tx
            .send(Control::Start {
                networks: networks_text(networks),
            })
            .map_err(|_| stopped("worker 0 stopped before the dataflow was built"))?;
        Ok(Cluster {
            backend: Backend::Distributed {
                to: Some(cmd_tx),
                from: reply_rx,
                running: Some(running),
                done,
                workers,
            },
        })
    }

    fn broadcast(
        &self,
        local: impl Fn() -> Command,
        wire: impl FnOnce() -> Result<Control, WatchError>,
    ) -> Result<Vec<Reply>, WatchError> {
        match &self.backend {
            Backend::Local { to, from, .. } => {
                for tx in to {
                    tx.send(local()).map_err(|_| stopped("a worker stopped"))?;
                }
                from.iter()
                    .map(|rx| {
                        rx.recv()
                            .map_err(|_| stopped("a worker stopped before answering"))
                    })
                    .collect()
            }
            Backend::Distributed {
                to, from, running, ..
            } => {
                let failed = || {
                    running
                        .as_ref()
                        .and_then(Running::failure)
                        .map(WatchError::from)
                };
                let wire = wire()?;
                to.as_ref()
                    .and_then(|tx| tx.send(wire).ok())
                    .ok_or_else(|| failed().unwrap_or_else(|| stopped("worker 0 stopped")))?;
                loop {
                    match from.recv_timeout(Duration::from_millis(50)) {
                        Ok(replies) => return Ok(replies),
                        Err(RecvTimeoutError::Timeout) => {
                            if let Some(e) = failed() {
                                return Err(e);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            return Err(failed()
                                .unwrap_or_else(|| stopped("worker 0 stopped before answering")))
                        }
                    }
                }
            }
        }
    }

    /// Feeds one epoch's removals, re-labelling and additions.
    pub fn load(&self, step: LoadStep) -> Result<Loaded, WatchError> {
        let step = Arc::new(step);
        let mut all = Loaded {
            max_time: None,
            outcomes: Vec::new(),
        };
        let wire = || WireStep::of(&step).map(Control::Load);
        for reply in self.broadcast(|| Command::Load(step.clone()), wire)? {
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
        for reply in self.broadcast(|| Command::Seal { cutoff }, || Ok(Control::Seal { cutoff }))? {
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
        match &mut self.backend {
            Backend::Local { to, guards, .. } => {
                // Closing the command channels ends every worker's loop.
                to.clear();
                if let Some(guards) = guards.take() {
                    drop(guards.join());
                }
            }
            Backend::Distributed {
                to,
                running,
                done,
                workers,
                ..
            } => {
                // `Stop` reaches every worker of every process; they close their inputs, let
                // the dataflows drain and return, and the other processes exit.
                if let Some(tx) = to.take() {
                    let _ = tx.send(Control::Stop);
                }
                let Some(running) = running.take() else {
                    return;
                };
                let deadline = std::time::Instant::now() + STOP_WAIT;
                while done.load(Ordering::SeqCst) < *workers {
                    if running.failure().is_some() || std::time::Instant::now() > deadline {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = running.join();
            }
        }
    }
}

/// How long a stopping watch waits for the workers of every process to wind down.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// A process other than 0 of a cluster watch: runs this process's workers, which take their
/// commands from process 0 through the dataflow, until process 0 stops them (`Ok`) or a
/// process is lost (`Err`, naming it). Writes nothing: process 0 emits, keeps the state and
/// runs `--on-change`.
pub fn serve(
    plans: &[JoinPlan],
    opts: &WatchOptions,
    spec: &ClusterSpec,
) -> Result<(), WatchError> {
    let plans: Arc<Vec<Arc<JoinPlan>>> = Arc::new(plans.iter().cloned().map(Arc::new).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let running = launch(spec, opts, plans, None, done.clone())?;
    let workers = opts.workers.max(1);
    while done.load(Ordering::SeqCst) < workers {
        if let Some(e) = running.failure() {
            return Err(e.into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    running.join()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A watch across processes.
//
// Process 0's coordinator decides every epoch, as in one process, and hands each command to
// global worker 0, which sends it into a small control dataflow that every worker of every
// process builds first: its input (fed by worker 0 alone) is broadcast to all workers, which
// run the commands in sequence order, exactly as local workers run them from their channels.
// Each worker's reply goes into the same dataflow's second input, exchanged to worker 0, which
// hands the replies of a command back to the coordinator once all of them arrived. The data
// itself moves through the rendered dataflow (by its join and group keys); files are read by
// the worker that owns them (`owner`), whichever process it is in, so every process must see
// the files at the same absolute paths.

/// A command as it travels between processes.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Control {
    /// Build the dataflow under these networks (canonical text).
    Start { networks: String },
    /// As [`Command::Load`].
    Load(WireStep),
    /// As [`Command::Seal`].
    Seal { cutoff: Option<i64> },
    /// Close the inputs and return.
    Stop,
}

/// A [`LoadStep`] without stream chunks (a cluster watch reads no stdin), files as paths and
/// format tags, networks as canonical text.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct WireStep {
    epoch: Epoch,
    remove: Vec<(Kind, u32)>,
    relabel: Option<(String, bool)>,
    add: Vec<WireFile>,
}

/// A file to read: kind, id, path, display path, format tag (and preset index for text).
type WireFile = (Kind, u32, std::path::PathBuf, String, (u8, u8));

impl WireStep {
    fn of(step: &LoadStep) -> Result<WireStep, WatchError> {
        if !step.chunks.is_empty() {
            return Err(stopped("a cluster watch cannot take records from stdin"));
        }
        if step.plans.is_some() {
            return Err(stopped("a cluster watch cannot reload its patterns"));
        }
        Ok(WireStep {
            epoch: step.epoch,
            remove: step.remove.iter().map(|(k, id)| (*k, id.0)).collect(),
            relabel: step
                .relabel
                .as_ref()
                .map(|(n, rebuild)| (networks_text(n), *rebuild)),
            add: step
                .add
                .iter()
                .map(|(k, e)| {
                    let format = match e.format {
                        FileFormat::Parquet => (0, 0),
                        FileFormat::ArrowIpcFile => (1, 0),
                        FileFormat::ArrowIpcStream => (2, 0),
                        FileFormat::Text(p) => (
                            3,
                            Preset::ALL.iter().position(|q| *q == p).unwrap_or(0) as u8,
                        ),
                    };
                    (*k, e.id.0, e.path.clone(), e.display.clone(), format)
                })
                .collect(),
        })
    }

    fn step(self) -> LoadStep {
        LoadStep {
            epoch: self.epoch,
            remove: self
                .remove
                .into_iter()
                .map(|(k, id)| (k, FileId(id)))
                .collect(),
            relabel: self
                .relabel
                .map(|(text, rebuild)| (Arc::new(parse_networks(&text)), rebuild)),
            add: self
                .add
                .into_iter()
                .map(|(k, id, path, display, (tag, preset))| {
                    let format = match tag {
                        0 => FileFormat::Parquet,
                        1 => FileFormat::ArrowIpcFile,
                        2 => FileFormat::ArrowIpcStream,
                        _ => FileFormat::Text(Preset::ALL[preset as usize % Preset::ALL.len()]),
                    };
                    let entry = FileEntry {
                        id: FileId(id),
                        path,
                        display,
                        format,
                    };
                    (k, entry)
                })
                .collect(),
            chunks: Vec::new(),
            plans: None,
        }
    }
}

/// The canonical text of a networks table (what its fingerprint hashes): every process parses
/// the same text, so every worker holds the same labels under the same ids.
fn networks_text(networks: &Networks) -> String {
    let mut text = String::new();
    for (prefix, label) in networks.entries() {
        text.push_str(&format!("{prefix},{}\n", networks.label_name(*label)));
    }
    text.push_str(&format!(
        "default,{}\n",
        networks.label_name(networks.default_label())
    ));
    text
}

fn parse_networks(text: &str) -> Networks {
    // The text was printed from a parsed table, so it parses.
    Networks::parse(text, "networks (from process 0)").unwrap_or_default()
}

/// What every process of a cluster watch must agree on: the plans, the watched paths and
/// text formats, the networks path (its content comes from process 0), the read options.
fn fingerprint(opts: &WatchOptions, plans: &[Arc<JoinPlan>]) -> JobFingerprint {
    let plans: String = plans.iter().map(|plan| format!("{plan:?}\n")).collect();
    let files = format!(
        "flows {:?}\nevents {:?}\nflows-format {:?}\nevents-format {:?}\n",
        opts.flows, opts.events, opts.flows_format, opts.events_format
    );
    JobFingerprint {
        plans: fingerprint_part(&plans),
        files: fingerprint_part(&files),
        networks: fingerprint_part(&opts.networks.display().to_string()),
        options: fingerprint_part(&format!("{:?}", opts.read)),
    }
}

type Coordinator = Arc<Mutex<Option<(Receiver<Control>, Sender<Vec<Reply>>)>>>;

/// Connects to the cluster and starts this process's workers (see [`distributed_worker`]).
fn launch(
    spec: &ClusterSpec,
    opts: &WatchOptions,
    plans: Arc<Vec<Arc<JoinPlan>>>,
    coordinator: Option<Coordinator>,
    done: Arc<AtomicUsize>,
) -> Result<Running, WatchError> {
    let job = fingerprint(opts, &plans);
    let read = opts.read;
    let running = crate::cluster::start(opts.workers.max(1), spec, job, move |worker| {
        let channels = coordinator
            .as_ref()
            .filter(|_| worker.index() == 0)
            .and_then(|c| c.lock().ok().and_then(|mut slot| slot.take()));
        distributed_worker(worker, plans.clone(), read, channels);
        done.fetch_add(1, Ordering::SeqCst);
    })?;
    Ok(running)
}

/// One worker of a cluster watch. Global worker 0 (`coordinator` is `Some`) feeds the commands
/// of process 0's coordinator into the control dataflow and returns the replies.
fn distributed_worker(
    worker: &mut Worker,
    plans: Arc<Vec<Arc<JoinPlan>>>,
    read: ReadOptions,
    coordinator: Option<(Receiver<Control>, Sender<Vec<Reply>>)>,
) {
    let (index, peers) = (worker.index(), worker.peers());
    let inbox: Rc<RefCell<BTreeMap<u64, Control>>> = Rc::default();
    // Worker 0: the replies to each command, with the worker that sent them.
    type Answers = BTreeMap<u64, Vec<(usize, Reply)>>;
    let answers: Rc<RefCell<Answers>> = Rc::default();
    let (mut control, mut answer) = {
        let (inbox, answers) = (inbox.clone(), answers.clone());
        worker.dataflow::<u64, _, _>(move |scope| {
            let (control, commands) = scope.new_input::<(u64, Control)>();
            commands.broadcast().inspect(move |(seq, command)| {
                inbox.borrow_mut().insert(*seq, command.clone());
            });
            let (answer, replies) = scope.new_input::<(u64, usize, Reply)>();
            replies.exchange(|_| 0).inspect(move |(seq, from, reply)| {
                answers
                    .borrow_mut()
                    .entry(*seq)
                    .or_default()
                    .push((*from, reply.clone()));
            });
            (control, answer)
        })
    };
    let mut sent = 0u64; // worker 0: commands sent into the control dataflow
    let mut next = 0u64; // the next command to run
    let mut state: Option<WorkerState> = None;
    let mut stopping = false;
    loop {
        if let Some((rx, _)) = &coordinator {
            if !stopping {
                let command = match rx.try_recv() {
                    Ok(command) => Some(command),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => Some(Control::Stop),
                };
                if let Some(command) = command {
                    stopping = matches!(command, Control::Stop);
                    control.send((sent, command));
                    sent += 1;
                    control.advance_to(sent);
                }
            }
        }
        let command = inbox.borrow_mut().remove(&next);
        match command {
            None => {
                worker.step_or_park(Some(IDLE_STEP));
            }
            Some(command) => {
                let seq = next;
                next += 1;
                let reply = match (command, state.as_mut()) {
                    (Control::Stop, _) => break,
                    (Control::Start { networks }, _) => {
                        let networks = Arc::new(parse_networks(&networks));
                        state = Some(WorkerState::new(worker, plans.clone(), networks, read));
                        None
                    }
                    (Control::Load(step), Some(state)) => {
                        Some(Reply::Loaded(state.load(worker, &step.step())))
                    }
                    (Control::Seal { cutoff }, Some(state)) => {
                        Some(Reply::Sealed(state.seal(worker, cutoff)))
                    }
                    // Never sent before `Start`.
                    (_, None) => None,
                };
                if let Some(reply) = reply {
                    answer.send((seq, index, reply));
                }
                answer.advance_to(next);
            }
        }
        if let Some((_, tx)) = &coordinator {
            let complete: Vec<u64> = answers
                .borrow()
                .iter()
                .filter(|(_, replies)| replies.len() == peers)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in complete {
                if let Some(mut replies) = answers.borrow_mut().remove(&seq) {
                    replies.sort_by_key(|(from, _)| *from);
                    let _ = tx.send(replies.into_iter().map(|(_, r)| r).collect());
                }
            }
        }
    }
    // Close every input; the dataflows drain on every process, then the workers return.
    drop(state);
    drop(control);
    drop(answer);
    while worker.has_dataflows() {
        worker.step_or_park(Some(IDLE_STEP));
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
            result: result.map_err(|e| e.to_string()),
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
        if step.relabel.is_some() || step.plans.is_some() {
            let files: Vec<Held> = std::mem::take(&mut self.held).into_values().collect();
            if let Some(plans) = &step.plans {
                // Held rows are per plan and scan: under new plans every file is read again.
                let owned: Vec<JoinPlan> = plans.iter().map(|p| (**p).clone()).collect();
                (self.flow_req, self.event_req) = requested_columns(&owned);
                self.plans = plans.clone();
            }
            let networks = match &step.relabel {
                Some((networks, _)) => networks.clone(),
                None => self.networks.clone(),
            };
            let rebuild =
                step.plans.is_some() || step.relabel.as_ref().is_some_and(|(_, rebuild)| *rebuild);
            if rebuild {
                // The old dataflow's closures hold the old labels (or it runs the old plans):
                // retire it (dropping its inputs closes them) and feed everything into a fresh one.
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
            self.networks = networks;
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
