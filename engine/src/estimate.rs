//! Estimates: how many results a plan will give on an archive and how long a full run will
//! take, from the ordinary engine run on a deterministic sample of the archive.
//!
//! A sample is a small archive of its own (Arrow IPC files in a scratch folder, one per input
//! file, keeping each file's display path and so its `FileId`), so the run that measures it
//! is [`run::run`] itself and an estimate can never disagree with the engine about what a
//! pattern means. What a sample keeps decides how its result count scales, and that depends
//! on the plan ([`Method`]):
//!
//! - **Rows.** Each table is sampled in evenly spaced blocks of consecutive rows (spread over
//!   the whole file, so over the whole time range). A result needs one record per scan, so a
//!   single-record pattern scales by `1/f` and an event × flow join by `1/(f_events·f_flows)`.
//!   Small tables are read whole ([`EstimateOptions::min_sample_rows`]).
//! - **Groups.** Sampling rows would split groups (`count distinct` over a third of a host's
//!   flows is not a third of its count), so a group-by plan keeps *whole groups*: the records
//!   of one table whose group-key addresses hash below `a` (the same hash in every process,
//!   so samples are nested and reproducible), other tables whole. Each group is in or out
//!   with probability `a`, and the count scales by `1/a`.
//!
//! A sample with few results says little, so the fraction doubles until the sample holds
//! [`EstimateOptions::min_hits`] results, the whole archive is read (the estimate is then
//! exact), or [`EstimateOptions::max_fraction`] is passed. Decisions depend only on counts,
//! never on the clock; only the runtime estimate reads it. The runtime is the sample run's
//! time scaled by the ratio of archive rows to sample rows over the tables the plan reads.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::{FileReader, StreamReader};
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use compiler::model::{Entity, Role};
use compiler::plan::{JoinPlan, ScanId};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};

use crate::load::{self, EventColumns, EventDecoder, FileEntry, FileFormat, FileTable, FlowColumns, FlowDecoder, ListedFile, LoadError, Networks, ReadOptions};
use crate::model::{flow_columns, Addr};
use crate::run::{self, Inputs, RunError, RunOptions};

/// How far to sample.
#[derive(Clone, Debug)]
pub struct EstimateOptions {
    /// Timely workers for the sample runs (use the full run's, so times compare).
    pub workers: usize,
    /// First fraction of each large table to sample.
    pub initial_fraction: f64,
    /// A table with at most this many rows is read whole, and a larger one never sampled
    /// below this many rows.
    pub min_sample_rows: u64,
    /// A sample with at least this many results is enough.
    pub min_hits: u64,
    /// Stop doubling past this fraction, even with few results (an empty pattern must not
    /// cost a full run).
    pub max_fraction: f64,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            workers: 1,
            initial_fraction: 0.05,
            min_sample_rows: 20_000,
            min_hits: 30,
            max_fraction: 0.5,
        }
    }
}

/// Which ends of a record make up its hash key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HashKey {
    /// The source address.
    Source,
    /// The destination address.
    Destination,
    /// The ordered pair (source, destination).
    Both,
}

/// How a plan is sampled so that its result count scales (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method {
    /// Blocks of rows from every table; the count scales by the product over the plan's
    /// scans of `rows / sampled rows`.
    Rows,
    /// Whole groups: records of `entity` whose `key` addresses hash into the sample, other
    /// tables whole; the count scales by `1 / fraction`.
    Groups {
        /// The table sampled by hash.
        entity: Entity,
        /// The ends hashed.
        key: HashKey,
    },
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Rows => f.write_str("rows"),
            Method::Groups { entity, key } => {
                let key = match key {
                    HashKey::Source => "source",
                    HashKey::Destination => "destination",
                    HashKey::Both => "source and destination",
                };
                write!(f, "whole groups by {key} of {}", entity.name())
            }
        }
    }
}

/// What one table of a sample keeps.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum TableSample {
    /// Every record.
    All,
    /// Evenly spaced blocks of consecutive rows, about `fraction` of each file.
    Blocks {
        /// Share of rows kept.
        fraction: f64,
    },
    /// Records whose `key` hashes below `fraction` of the hash range.
    Hash {
        /// Share of keys kept.
        fraction: f64,
        /// The ends hashed.
        key: HashKey,
    },
}

/// The estimate of one plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The pattern.
    pub pattern: String,
    /// Estimated number of result rows of a full run.
    pub results: f64,
    /// Estimated wall time of a full run of this pattern alone.
    pub runtime: Duration,
    /// Result rows in the final sample.
    pub sample_results: u64,
    /// Factor the sample count was multiplied by.
    pub scale: f64,
    /// Whether the sample was the whole archive (the count is then exact).
    pub exact: bool,
    /// How the plan was sampled.
    pub method: Method,
    /// Rows of the tables the plan reads, in the final sample and in the archive.
    pub rows_sampled: u64,
    /// Rows in the archive's tables the plan reads (where known).
    pub rows_total: u64,
}

/// Why an estimate failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EstimateError {
    /// Reading the archive failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A sample run failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Writing a sample file failed.
    #[error("cannot write sample file {}: {source}", path.display())]
    #[diagnostic(code(engine::estimate::io))]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading a Parquet file for the sample failed.
    #[error("{file}: cannot read Parquet for a sample: {source}")]
    #[diagnostic(code(engine::estimate::parquet))]
    Parquet {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Reading or writing Arrow data for the sample failed.
    #[error("{file}: cannot copy Arrow data into a sample: {source}")]
    #[diagnostic(code(engine::estimate::arrow))]
    Arrow {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// The scans a result row binds: the first and every join (not anti-joins).
fn outer_scans(plan: &JoinPlan) -> Vec<ScanId> {
    std::iter::once(plan.first).chain(plan.joins.iter().map(|j| j.scan)).collect()
}

/// How `plan` is sampled: whole groups when it groups by addresses that one record scan
/// binds (and no other scan reads that table), otherwise rows.
pub fn method(plan: &JoinPlan) -> Method {
    let Some(group) = &plan.group else { return Method::Rows };
    let keys: Vec<_> = group.by.iter().copied().filter(|i| plan.entities[i.index()] == Entity::Address).collect();
    let scans = outer_scans(plan);
    let mut best: Option<(usize, ScanId, HashKey)> = None;
    for id in &scans {
        let scan = &plan.scans[id.0 as usize];
        let mut bound: Vec<_> = scan.addresses.iter().filter(|b| keys.contains(&b.address)).collect();
        bound.sort_by_key(|b| (b.address, b.role));
        bound.dedup_by_key(|b| b.address);
        let roles: Vec<Role> = bound.iter().map(|b| b.role).collect();
        let key = match (roles.contains(&Role::Source), roles.contains(&Role::Destination)) {
            (true, true) => HashKey::Both,
            (true, false) => HashKey::Source,
            (false, true) => HashKey::Destination,
            (false, false) => continue,
        };
        if best.is_none_or(|(n, _, _)| bound.len() > n) {
            best = Some((bound.len(), *id, key));
        }
    }
    let Some((_, chosen, key)) = best else { return Method::Rows };
    let entity = plan.scans[chosen.0 as usize].entity;
    // Another scan of the same table would be sampled by the same hash, splitting groups.
    let shared = scans.iter().any(|s| *s != chosen && plan.scans[s.0 as usize].entity == entity);
    if shared {
        return Method::Rows;
    }
    Method::Groups { entity, key }
}

/// A stable 64-bit mix of an address (SplitMix64 finaliser over both halves).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn addr_hash(a: Addr, seed: u64) -> u64 {
    mix(mix(seed ^ (a.0 >> 64) as u64) ^ a.0 as u64)
}

/// Whether a key hashes into the first `fraction` of the hash range. Samples are nested:
/// a key in the sample at one fraction is in it at every larger one.
fn in_sample(hash: u64, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    ((hash >> 11) as f64) < fraction * (1u64 << 53) as f64
}

fn key_hash(key: HashKey, src: Addr, dst: Addr) -> u64 {
    match key {
        HashKey::Source => addr_hash(src, 1),
        HashKey::Destination => addr_hash(dst, 1),
        HashKey::Both => mix(addr_hash(src, 1) ^ addr_hash(dst, 2).rotate_left(17)),
    }
}

/// Rows `[start, start + len)` kept by block sampling of a file of `n_rows`: about
/// `fraction × n_rows` rows in at least a few dozen blocks spread evenly over the file.
fn blocks(n_rows: u64, fraction: f64) -> Vec<(u64, u64)> {
    if n_rows == 0 {
        return Vec::new();
    }
    let target = ((n_rows as f64 * fraction).ceil() as u64).clamp(1, n_rows);
    if target == n_rows {
        return vec![(0, n_rows)];
    }
    let block = (target / 64).clamp(16, 4096).min(target);
    let n_blocks = target.div_ceil(block);
    let mut out = Vec::with_capacity(n_blocks as usize);
    let mut left = target;
    for k in 0..n_blocks {
        let start = (u128::from(k) * u128::from(n_rows) / u128::from(n_blocks)) as u64;
        let len = block.min(left).min(n_rows - start);
        out.push((start, len));
        left -= len;
    }
    out
}

/// One table of a built sample.
#[derive(Clone, Debug)]
struct SampleTable {
    files: FileTable,
    /// Rows in the archive's files (0 where a format does not record it and nothing was read).
    rows_total: u64,
    /// Rows written to the sample.
    rows_sampled: u64,
}

/// A built sample archive.
#[derive(Clone, Debug)]
struct Sample {
    flows: TableSample,
    events: TableSample,
    inputs: Inputs,
    flow_rows: (u64, u64),
    event_rows: (u64, u64),
}

/// Row counts of a table from metadata (`None` if a file does not record it).
fn table_rows(files: &FileTable) -> Result<Option<u64>, LoadError> {
    let mut total = 0u64;
    for file in files.files() {
        match load::file_row_count(file)? {
            Some(n) => total += n,
            None => return Ok(None),
        }
    }
    Ok(Some(total))
}

struct Writer {
    path: PathBuf,
    display: String,
    writer: Option<FileWriter<std::io::BufWriter<File>>>,
    rows: u64,
}

impl Writer {
    fn new(path: PathBuf, display: &str) -> Writer {
        Writer {
            path,
            display: display.to_string(),
            writer: None,
            rows: 0,
        }
    }

    fn arrow_error(&self, source: arrow::error::ArrowError) -> EstimateError {
        EstimateError::Arrow {
            file: self.display.clone(),
            source,
        }
    }

    fn open(&mut self, schema: &SchemaRef) -> Result<(), EstimateError> {
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|source| EstimateError::Io {
                path: self.path.clone(),
                source,
            })?;
            let writer = FileWriter::try_new(std::io::BufWriter::new(file), schema).map_err(|e| self.arrow_error(e))?;
            self.writer = Some(writer);
        }
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), EstimateError> {
        self.open(&batch.schema())?;
        if batch.num_rows() > 0 {
            self.rows += batch.num_rows() as u64;
            let result = self.writer.as_mut().map(|w| w.write(batch));
            if let Some(Err(e)) = result {
                return Err(self.arrow_error(e));
            }
        }
        Ok(())
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<u64, EstimateError> {
        self.open(schema)?;
        if let Some(mut writer) = self.writer.take() {
            writer.finish().map_err(|e| self.arrow_error(e))?;
        }
        Ok(self.rows)
    }
}

/// Streams every record batch of a file (all columns) with the position of its first row.
/// Parquet honours `selection` (rows not selected are never returned); other formats return
/// every row and leave selection to the caller.
fn for_each_batch(
    file: &FileEntry,
    selection: Option<&dyn Fn(u64) -> Vec<(u64, u64)>>,
    sink: &mut dyn FnMut(&RecordBatch, Option<u64>) -> Result<(), EstimateError>,
) -> Result<SchemaRef, EstimateError> {
    let open = || {
        File::open(&file.path).map_err(|source| {
            EstimateError::Load(LoadError::Io {
                path: file.path.clone(),
                source,
            })
        })
    };
    let arrow_error = |source| EstimateError::Arrow {
        file: file.display.clone(),
        source,
    };
    match file.format {
        FileFormat::Parquet => {
            let parquet_error = |source| EstimateError::Parquet {
                file: file.display.clone(),
                source,
            };
            let builder = ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(parquet_error)?;
            let schema = builder.schema().clone();
            let n_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let mut builder = builder.with_batch_size(16 * 1024);
            if let Some(select) = selection {
                let mut selectors = Vec::new();
                let mut at = 0u64;
                for (start, len) in select(n_rows) {
                    if start > at {
                        selectors.push(RowSelector::skip((start - at) as usize));
                    }
                    selectors.push(RowSelector::select(len as usize));
                    at = start + len;
                }
                if at < n_rows {
                    selectors.push(RowSelector::skip((n_rows - at) as usize));
                }
                builder = builder.with_row_selection(RowSelection::from(selectors));
            }
            let mut position = 0u64;
            for batch in builder.build().map_err(parquet_error)? {
                let batch = batch.map_err(arrow_error)?;
                // Selected rows lose their positions; callers that need them read everything.
                sink(&batch, selection.is_none().then_some(position))?;
                position += batch.num_rows() as u64;
            }
            Ok(schema)
        }
        FileFormat::ArrowIpcFile => {
            let reader = FileReader::try_new(BufReader::new(open()?), None).map_err(arrow_error)?;
            let schema = reader.schema();
            let mut position = 0u64;
            for batch in reader {
                let batch = batch.map_err(arrow_error)?;
                sink(&batch, Some(position))?;
                position += batch.num_rows() as u64;
            }
            Ok(schema)
        }
        FileFormat::ArrowIpcStream => {
            let reader = StreamReader::try_new(BufReader::new(open()?), None).map_err(arrow_error)?;
            let schema = reader.schema();
            let mut position = 0u64;
            for batch in reader {
                let batch = batch.map_err(arrow_error)?;
                sink(&batch, Some(position))?;
                position += batch.num_rows() as u64;
            }
            Ok(schema)
        }
    }
}

/// The batch without `source_row`, so that decoded identity rows are positions in the batch.
fn without_source_row(batch: &RecordBatch) -> RecordBatch {
    match batch.schema().index_of(flow_columns::SOURCE_ROW) {
        Ok(skip) => {
            let keep: Vec<usize> = (0..batch.num_columns()).filter(|c| *c != skip).collect();
            batch.project(&keep).expect("projecting existing columns")
        }
        Err(_) => batch.clone(),
    }
}

/// For each row of `batch`: its (source, destination) if the row decodes, else `None`.
fn batch_addresses(batch: &RecordBatch, entity: Entity, file: &FileEntry, networks: &Networks) -> Result<Vec<Option<(Addr, Addr)>>, EstimateError> {
    let plain = without_source_row(batch);
    let mut out = vec![None; batch.num_rows()];
    let (rows, src, dst) = if entity == Entity::Event {
        let req = EventColumns {
            src_addr: true,
            dst_addr: true,
            ..EventColumns::default()
        };
        let mut decoder = EventDecoder::new(file.id, &file.display, &req, networks, ReadOptions::default());
        decoder.set_next_row(0);
        let decoded = decoder.decode(&plain)?;
        (decoded.rows, decoded.src, decoded.dst)
    } else {
        let req = FlowColumns {
            src_addr: true,
            dst_addr: true,
            ..FlowColumns::default()
        };
        let mut decoder = FlowDecoder::new(file.id, &file.display, &req, networks, ReadOptions::default());
        decoder.set_next_row(0);
        let decoded = decoder.decode(&plain)?;
        (decoded.rows, decoded.src, decoded.dst)
    };
    for (k, row) in rows.iter().enumerate() {
        if let Some(slot) = out.get_mut(*row as usize) {
            *slot = Some((src[k], dst[k]));
        }
    }
    Ok(out)
}

/// Writes the sample of one table into `dir`; returns its file table and row counts.
fn sample_table(files: &FileTable, entity: Entity, how: TableSample, networks: &Networks, dir: &Path) -> Result<SampleTable, EstimateError> {
    if how == TableSample::All {
        let rows = table_rows(files)?.unwrap_or(0);
        return Ok(SampleTable {
            files: files.clone(),
            rows_total: rows,
            rows_sampled: rows,
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| EstimateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut listed = Vec::new();
    let (mut rows_total, mut rows_sampled) = (0u64, 0u64);
    for file in files.files() {
        let path = dir.join(format!("{:06}.arrow", file.id.0));
        let mut writer = Writer::new(path.clone(), &file.display);
        let mut seen = 0u64;
        let schema = match how {
            TableSample::All => unreachable!("handled above"),
            TableSample::Blocks { fraction } => {
                let select = move |n: u64| blocks(n, fraction);
                if file.format == FileFormat::Parquet {
                    rows_total += load::file_row_count(file)?.unwrap_or(0);
                    for_each_batch(file, Some(&select), &mut |batch, _| writer.write(batch))?
                } else {
                    // No row count up front: keep one block of 1024 rows in each `1/fraction`.
                    let period = (1024.0 / fraction.max(1e-9)).ceil() as u64;
                    for_each_batch(file, None, &mut |batch, first| {
                        let first = first.unwrap_or(0);
                        seen += batch.num_rows() as u64;
                        let keep: BooleanArray = (0..batch.num_rows() as u64).map(|i| Some((first + i) % period < 1024)).collect();
                        let kept = filter_record_batch(batch, &keep).map_err(|source| EstimateError::Arrow {
                            file: file.display.clone(),
                            source,
                        })?;
                        writer.write(&kept)
                    })?
                }
            }
            TableSample::Hash { fraction, key } => for_each_batch(file, None, &mut |batch, _| {
                seen += batch.num_rows() as u64;
                let addresses = batch_addresses(batch, entity, file, networks)?;
                let keep: BooleanArray = addresses
                    .iter()
                    .map(|a| Some(a.is_some_and(|(s, d)| in_sample(key_hash(key, s, d), fraction))))
                    .collect();
                let kept = filter_record_batch(batch, &keep).map_err(|source| EstimateError::Arrow {
                    file: file.display.clone(),
                    source,
                })?;
                writer.write(&kept)
            })?,
        };
        rows_total += seen;
        rows_sampled += writer.finish(&schema)?;
        listed.push(ListedFile {
            display: file.display.clone(),
            path,
        });
    }
    Ok(SampleTable {
        files: FileTable::from_listed(listed)?,
        rows_total,
        rows_sampled,
    })
}

/// Samples built so far, reused by plans that ask for the same one.
struct Samples<'a> {
    inputs: &'a Inputs,
    dir: &'a Path,
    built: Vec<Sample>,
}

impl Samples<'_> {
    fn get(&mut self, flows: TableSample, events: TableSample) -> Result<&Sample, EstimateError> {
        if let Some(k) = self.built.iter().position(|s| s.flows == flows && s.events == events) {
            return Ok(&self.built[k]);
        }
        let dir = self.dir.join(format!("sample-{}", self.built.len()));
        let flow_table = sample_table(&self.inputs.flows, Entity::Connection, flows, &self.inputs.networks, &dir.join("flows"))?;
        let event_table = sample_table(&self.inputs.events, Entity::Event, events, &self.inputs.networks, &dir.join("events"))?;
        self.built.push(Sample {
            flows,
            events,
            inputs: Inputs {
                flows: flow_table.files,
                events: event_table.files,
                networks: self.inputs.networks.clone(),
            },
            flow_rows: (flow_table.rows_total, flow_table.rows_sampled),
            event_rows: (event_table.rows_total, event_table.rows_sampled),
        });
        Ok(self.built.last().expect("just pushed"))
    }
}

/// The fraction of a table of `rows` rows (`None`: unknown) sampled at `level`.
fn table_fraction(rows: Option<u64>, level: f64, options: &EstimateOptions) -> f64 {
    match rows {
        Some(n) if n <= options.min_sample_rows => 1.0,
        Some(n) => level.max(options.min_sample_rows as f64 / n as f64).min(1.0),
        None => level.min(1.0),
    }
}

fn table_sample(fraction: f64, hash: Option<HashKey>) -> TableSample {
    match (fraction >= 1.0, hash) {
        (true, _) => TableSample::All,
        (false, None) => TableSample::Blocks { fraction },
        (false, Some(key)) => TableSample::Hash { fraction, key },
    }
}

/// Estimates every plan on `inputs`; sample files go under `scratch` (an empty folder the
/// caller removes afterwards).
pub fn estimate(plans: &[JoinPlan], inputs: &Inputs, options: &EstimateOptions, scratch: &Path) -> Result<Vec<Estimate>, EstimateError> {
    let flow_rows = table_rows(&inputs.flows)?;
    let event_rows = table_rows(&inputs.events)?;
    let mut samples = Samples {
        inputs,
        dir: scratch,
        built: Vec::new(),
    };
    let run_options = RunOptions {
        workers: options.workers.max(1),
        ..RunOptions::default()
    };
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let method = method(plan);
        let scans = outer_scans(plan);
        let reads = |entity: Entity| scans.iter().any(|s| plan.scans[s.0 as usize].entity == entity);
        let (reads_flows, reads_events) = (reads(Entity::Connection), reads(Entity::Event));
        let mut level = options.initial_fraction.clamp(1e-6, 1.0);
        loop {
            let (flows, events) = match method {
                Method::Rows => (
                    table_sample(if reads_flows { table_fraction(flow_rows, level, options) } else { 1.0 }, None),
                    table_sample(if reads_events { table_fraction(event_rows, level, options) } else { 1.0 }, None),
                ),
                Method::Groups { entity, key } => {
                    let rows = if entity == Entity::Event { event_rows } else { flow_rows };
                    let keyed = table_sample(table_fraction(rows, level, options), Some(key));
                    if entity == Entity::Event {
                        (TableSample::All, keyed)
                    } else {
                        (keyed, TableSample::All)
                    }
                }
            };
            // Tables the plan does not read are never copied.
            let flows = if reads_flows { flows } else { TableSample::All };
            let events = if reads_events { events } else { TableSample::All };
            let sample = samples.get(flows, events)?.clone();
            let started = Instant::now();
            let result = run::run(std::slice::from_ref(plan), &sample.inputs, &run_options)?;
            let elapsed = started.elapsed();
            let hits = result.results.first().map(|r| r.rows.len() as u64).unwrap_or(0);

            let ratio = |(total, sampled): (u64, u64)| if sampled == 0 { f64::INFINITY } else { total as f64 / sampled as f64 };
            let scale = match method {
                Method::Rows => scans
                    .iter()
                    .map(|s| match plan.scans[s.0 as usize].entity {
                        Entity::Event => {
                            if events == TableSample::All {
                                1.0
                            } else {
                                ratio(sample.event_rows)
                            }
                        }
                        _ => {
                            if flows == TableSample::All {
                                1.0
                            } else {
                                ratio(sample.flow_rows)
                            }
                        }
                    })
                    .product::<f64>(),
                Method::Groups { entity, .. } => {
                    let how = if entity == Entity::Event { events } else { flows };
                    match how {
                        TableSample::Hash { fraction, .. } => 1.0 / fraction,
                        _ => 1.0,
                    }
                }
            };
            let exact = flows == TableSample::All && events == TableSample::All;
            let mut used = (0u64, 0u64);
            for (read, rows) in [(reads_flows, sample.flow_rows), (reads_events, sample.event_rows)] {
                if read {
                    used.0 += rows.0;
                    used.1 += rows.1;
                }
            }
            let fractions: Vec<f64> = [flows, events]
                .iter()
                .filter_map(|t| match t {
                    TableSample::All => None,
                    TableSample::Blocks { fraction } | TableSample::Hash { fraction, .. } => Some(*fraction),
                })
                .collect();
            let smallest = fractions.iter().copied().fold(1.0, f64::min);
            // An empty sample of a non-empty table says nothing: read more.
            let enough = hits >= options.min_hits || exact || smallest >= options.max_fraction;
            if enough && scale.is_finite() {
                let time_scale = if used.1 == 0 { 1.0 } else { (used.0 as f64 / used.1 as f64).max(1.0) };
                out.push(Estimate {
                    pattern: plan.pattern.clone(),
                    results: hits as f64 * scale,
                    runtime: elapsed.mul_f64(time_scale),
                    sample_results: hits,
                    scale,
                    exact,
                    method,
                    rows_sampled: used.1,
                    rows_total: used.0,
                });
                break;
            }
            level = (smallest * 2.0).min(1.0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_fraction_evenly() {
        let b = blocks(250_000, 0.05);
        let total: u64 = b.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 12_500);
        assert!(b.len() >= 16, "{} blocks", b.len());
        assert!(b.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
        assert!(b.last().is_some_and(|(s, _)| *s > 200_000));
        assert_eq!(blocks(10, 1.0), vec![(0, 10)]);
        assert_eq!(blocks(0, 0.5), Vec::<(u64, u64)>::new());
        let small = blocks(100, 0.05);
        assert_eq!(small.iter().map(|(_, n)| n).sum::<u64>(), 5);
    }

    #[test]
    fn hash_samples_are_nested_and_near_their_fraction() {
        let addrs: Vec<Addr> = (0..20_000u32).map(|i| Addr::v4(std::net::Ipv4Addr::from(0x0a00_0000 + i))).collect();
        let at = |f: f64| addrs.iter().filter(|a| in_sample(key_hash(HashKey::Source, **a, **a), f)).count();
        let (small, large) = (at(0.1), at(0.2));
        assert!((1_700..2_300).contains(&small), "{small}");
        assert!((3_600..4_400).contains(&large), "{large}");
        assert!(addrs
            .iter()
            .all(|a| !in_sample(key_hash(HashKey::Both, *a, *a), 0.1) || in_sample(key_hash(HashKey::Both, *a, *a), 0.2)));
        assert_eq!(at(1.0), addrs.len());
    }
}
