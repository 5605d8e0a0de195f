//! The batch run: read every input file once, filter each batch for every scan of every plan,
//! feed the survivors into one dataflow that holds all plans, and collect consolidated results.
//!
//! Files are split between timely workers (file `i` goes to worker `i mod workers`); the
//! dataflow exchanges rows by join and group keys, so the output is the same for any number
//! of workers, and it is sorted before anyone sees it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use compiler::eval;
use compiler::model::Entity;
use compiler::plan::JoinPlan;

use crate::cluster::{self, ClusterError, ClusterSpec};
use crate::datum::{Datum, Row};
use crate::env::{EventRowEnv, FlowRowEnv};
use crate::kernel::{Columns, Filter};
use crate::load::batch::{EventBatch, EventColumns, FlowBatch, FlowColumns};
use crate::load::files::FileTable;
use crate::load::networks::Networks;
use crate::load::{self, LoadError, LoadReport, ReadOptions};
use crate::output::{consolidate, merge_sorted, ResultSet};
use crate::render;

/// What a run reads.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Flow archive files.
    pub flows: FileTable,
    /// Event archive files.
    pub events: FileTable,
    /// Address labels.
    pub networks: Networks,
}

/// Counters a caller may watch while a run is under way (for a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// Files finished.
    pub files_done: AtomicU64,
    /// Rows decoded.
    pub rows_read: AtomicU64,
    /// Rows that passed at least one scan filter.
    pub rows_kept: AtomicU64,
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Timely worker threads.
    pub workers: usize,
    /// Bad-row policy and time window.
    pub read: ReadOptions,
    /// Shared counters for progress display.
    pub progress: Arc<Progress>,
    /// Run as one process of a cluster (see [`crate::cluster`]); `None` runs in this process
    /// alone. In a cluster, only process 0 gets the results, the load reports of every file
    /// and the counters summed over all processes; the other processes get empty result sets.
    pub cluster: Option<ClusterSpec>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            read: ReadOptions::default(),
            progress: Arc::new(Progress::default()),
            cluster: None,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// One result set per plan, in plan order.
    pub results: Vec<ResultSet>,
    /// Per-file load reports (flows then events), sorted by file.
    pub reports: Vec<LoadReport>,
    /// Rows decoded.
    pub rows_read: u64,
    /// Rows that entered the dataflow (summed over scans).
    pub rows_kept: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Per plan, net rows out of each operator (summed over workers), for `explain --analyze`.
    pub operators: Vec<Vec<(String, i64)>>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    /// Reading an input failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The dataflow could not start or a worker failed.
    #[error("dataflow failed: {reason}")]
    Dataflow {
        /// What timely reported.
        reason: String,
    },
    /// A cluster run could not connect its processes, or lost one.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Columns every plan needs; records travel whole, so all canonical columns are read.
pub fn requested_columns(plans: &[JoinPlan]) -> (FlowColumns, EventColumns) {
    let mut flows = FlowColumns::all();
    let mut events = EventColumns::all();
    for p in plans {
        for (entity, name) in &p.extra_columns {
            match entity {
                Entity::Connection if !flows.extra.contains(name) => flows.extra.push(name.clone()),
                Entity::Event if !events.extra.contains(name) => events.extra.push(name.clone()),
                _ => {}
            }
        }
    }
    (flows, events)
}

/// Runs the pushed-down filter of every connection scan of every plan over one decoded flow
/// batch and hands each row that passes to `keep(plan, scan, record)`, in plan, scan, row
/// order. The batch run feeds the survivors once; `watch` also remembers them, to retract them
/// when their file goes away.
pub(crate) fn scan_flows(
    plans: &[Arc<JoinPlan>],
    batch: &FlowBatch,
    networks: &Networks,
    extra: &[String],
    keep: &mut dyn FnMut(usize, usize, Datum),
) {
    scan_batch(
        plans,
        Entity::Connection,
        batch,
        networks,
        |row| batch.src[row] == batch.dst[row],
        |scan, row, f| {
            let env = FlowRowEnv {
                batch,
                row,
                instance: scan.instance,
                addresses: &scan.addresses,
                networks,
                extra,
            };
            as_bool(eval::eval(f, &env))
        },
        |row| Datum::Conn(Arc::new(batch.to_conn(row))),
        keep,
    );
}

/// [`scan_flows`] for event batches and event scans.
pub(crate) fn scan_events(
    plans: &[Arc<JoinPlan>],
    batch: &EventBatch,
    networks: &Networks,
    extra: &[String],
    keep: &mut dyn FnMut(usize, usize, Datum),
) {
    scan_batch(
        plans,
        Entity::Event,
        batch,
        networks,
        |row| batch.src[row] == batch.dst[row],
        |scan, row, f| {
            let env = EventRowEnv {
                batch,
                row,
                instance: scan.instance,
                addresses: &scan.addresses,
                networks,
                extra,
            };
            as_bool(eval::eval(f, &env))
        },
        |row| Datum::Event(Arc::new(batch.to_event(row))),
        keep,
    );
}

fn as_bool(v: eval::Val<'_>) -> Option<bool> {
    match v {
        eval::Val::Bool(b) => Some(b),
        _ => None,
    }
}

/// The scan loop shared by flows and events: for every scan of `entity` in every plan, the
/// rows that satisfy `same_ends` (when the scan needs it) and the scan's filter — evaluated
/// a column at a time by [`Filter`], with `eval_row` for the parts it leaves to `eval` — are
/// built as records (once per row, shared by every scan that keeps it) and handed to `keep`.
#[allow(clippy::too_many_arguments)]
fn scan_batch<C: Columns>(
    plans: &[Arc<JoinPlan>],
    entity: Entity,
    cols: &C,
    networks: &Networks,
    same_ends: impl Fn(usize) -> bool,
    eval_row: impl Fn(&compiler::plan::Scan, usize, &compiler::hir::Expr) -> Option<bool>,
    record: impl Fn(usize) -> Datum,
    keep: &mut dyn FnMut(usize, usize, Datum),
) {
    let rows = cols.rows();
    let mut records: Vec<Option<Datum>> = Vec::new();
    let mut sel: Vec<u32> = Vec::with_capacity(rows);
    for (p, plan) in plans.iter().enumerate() {
        for (s, scan) in plan.scans.iter().enumerate() {
            if scan.entity != entity {
                continue;
            }
            sel.clear();
            sel.extend(0..rows as u32);
            if scan.same_ends {
                sel.retain(|&i| same_ends(i as usize));
            }
            if let Some(f) = &scan.filter {
                Filter::new(f, cols, scan.instance, &scan.addresses, networks)
                    .select(&mut sel, &|e, i| eval_row(scan, i, e));
            }
            if sel.is_empty() {
                continue;
            }
            if records.is_empty() {
                records.resize(rows, None);
            }
            for &i in &sel {
                let d = records[i as usize].get_or_insert_with(|| record(i as usize));
                keep(p, s, d.clone());
            }
        }
    }
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct WorkerOut {
    /// Per plan, this worker's results consolidated and sorted (workers sort in parallel;
    /// the main thread merges the sorted runs).
    results: Vec<Vec<(Row, i64)>>,
    reports: Vec<LoadReport>,
    operators: Vec<Vec<(String, i64)>>,
    /// Rows this worker decoded and fed (a cluster sums them on process 0).
    rows_read: u64,
    rows_kept: u64,
}

/// Runs `plans` over `inputs` as one batch (a single epoch).
pub fn run(
    plans: &[JoinPlan],
    inputs: &Inputs,
    options: &RunOptions,
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    let (flow_req, event_req) = requested_columns(plans);
    let plans: Arc<Vec<Arc<JoinPlan>>> = Arc::new(plans.iter().cloned().map(Arc::new).collect());
    let job = options
        .cluster
        .as_ref()
        .map(|_| cluster::job_fingerprint(&plans, inputs, options))
        .unwrap_or_default();
    let shared = Arc::new((inputs.clone(), flow_req, event_req, options.clone()));
    let worker_plans = plans.clone();
    let guards = cluster::execute(
        options.workers.max(1),
        options.cluster.as_ref(),
        job,
        move |worker| -> Result<WorkerOut, LoadError> {
            let (inputs, flow_req, event_req, options) = &*shared;
            let networks = Arc::new(inputs.networks.clone());
            let sink = Arc::new(Mutex::new(Vec::new()));
            let mut rendered = render::render(
                worker,
                &worker_plans,
                networks.clone(),
                Arc::new(flow_req.extra.clone()),
                Arc::new(event_req.extra.clone()),
                sink.clone(),
            );
            let (index, peers) = (worker.index(), worker.peers());
            let mut reports = Vec::new();
            let progress = &options.progress;
            let mut failure = None;
            let (mut rows_read, mut rows_kept) = (0u64, 0u64);
            for file in inputs
                .flows
                .files()
                .iter()
                .filter(|f| f.id.0 as usize % peers == index)
            {
                let mut sink_batch = |batch: load::batch::FlowBatch| {
                    progress
                        .rows_read
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    rows_read += batch.len() as u64;
                    scan_flows(
                        &worker_plans,
                        &batch,
                        &networks,
                        &flow_req.extra,
                        &mut |p, s, record| {
                            progress.rows_kept.fetch_add(1, Ordering::Relaxed);
                            rows_kept += 1;
                            rendered.plans[p].scans[s].update(record, 1);
                        },
                    );
                };
                match load::read_flows(file, flow_req, &networks, &options.read, &mut sink_batch) {
                    Ok(report) => reports.push(report),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
                progress.files_done.fetch_add(1, Ordering::Relaxed);
                worker.step();
            }
            if failure.is_none() {
                for file in inputs
                    .events
                    .files()
                    .iter()
                    .filter(|f| f.id.0 as usize % peers == index)
                {
                    let mut sink_batch = |batch: load::batch::EventBatch| {
                        progress
                            .rows_read
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        rows_read += batch.len() as u64;
                        scan_events(
                            &worker_plans,
                            &batch,
                            &networks,
                            &event_req.extra,
                            &mut |p, s, record| {
                                progress.rows_kept.fetch_add(1, Ordering::Relaxed);
                                rows_kept += 1;
                                rendered.plans[p].scans[s].update(record, 1);
                            },
                        );
                    };
                    match load::read_events(
                        file,
                        event_req,
                        &networks,
                        &options.read,
                        &mut sink_batch,
                    ) {
                        Ok(report) => reports.push(report),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                    progress.files_done.fetch_add(1, Ordering::Relaxed);
                    worker.step();
                }
            }
            // Close every input (also on failure, so other workers are not left waiting).
            for plan in &mut rendered.plans {
                for session in &mut plan.scans {
                    session.advance_to(1);
                    session.flush();
                }
            }
            let probe = rendered.probe.clone();
            worker.step_while(|| probe.less_than(&1));
            if let Some(e) = failure {
                return Err(e);
            }
            let updates = std::mem::take(&mut *sink.lock().expect("output sink lock"));
            let mut sizes = vec![0usize; worker_plans.len()];
            for (k, ..) in &updates {
                sizes[*k] += 1;
            }
            let mut results: Vec<Vec<(Row, i64)>> =
                sizes.into_iter().map(Vec::with_capacity).collect();
            for (k, row, _, diff) in updates {
                results[k].push((row, diff as i64));
            }
            let results = results
                .into_iter()
                .map(|rows| {
                    consolidate(rows)
                        .into_iter()
                        .map(|r| (r.values, r.count))
                        .collect()
                })
                .collect();
            let operators = rendered
                .counts
                .iter()
                .map(|plan| {
                    plan.iter()
                        .map(|(label, c)| (label.clone(), c.load(Ordering::Relaxed)))
                        .collect()
                })
                .collect();
            Ok(WorkerOut {
                results,
                reports,
                operators,
                rows_read,
                rows_kept,
            })
        },
    )
    .map_err(|e| match e {
        ClusterError::Start { reason } => RunError::Dataflow { reason },
        e => RunError::Cluster(e),
    })?;

    let mut per_plan: Vec<Vec<Vec<(Row, i64)>>> = vec![Vec::new(); plans.len()];
    let mut reports = Vec::new();
    let mut operators: Vec<Vec<(String, i64)>> = Vec::new();
    let (mut rows_read, mut rows_kept) = (0u64, 0u64);
    for result in guards {
        match result {
            Ok(Ok(out)) => {
                rows_read += out.rows_read;
                rows_kept += out.rows_kept;
                for (runs, rows) in per_plan.iter_mut().zip(out.results) {
                    runs.push(rows);
                }
                reports.extend(out.reports);
                if operators.is_empty() {
                    operators = out.operators;
                } else {
                    for (acc, plan) in operators.iter_mut().zip(out.operators) {
                        for (a, (_, n)) in acc.iter_mut().zip(plan) {
                            a.1 += n;
                        }
                    }
                }
            }
            Ok(Err(e)) => return Err(RunError::Load(e)),
            Err(reason) => return Err(RunError::Dataflow { reason }),
        }
    }
    reports.sort_by(|a, b| a.file.cmp(&b.file).then(a.display.cmp(&b.display)));
    // Each plan's sorted runs, one per worker, merged (a row that several workers produced is
    // summed).
    let results = plans
        .iter()
        .zip(per_plan)
        .map(|(plan, runs)| ResultSet::new(plan, merge_sorted(runs)))
        .collect();
    Ok(RunOutput {
        results,
        reports,
        rows_read: if options.cluster.is_some() {
            rows_read
        } else {
            options.progress.rows_read.load(Ordering::Relaxed)
        },
        rows_kept: if options.cluster.is_some() {
            rows_kept
        } else {
            options.progress.rows_kept.load(Ordering::Relaxed)
        },
        elapsed: started.elapsed(),
        operators,
    })
}
