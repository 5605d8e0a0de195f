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
//! never on the clock; only the runtime estimate reads it. The runtime is a run's fixed cost
//! (measured on no data) plus the rest of the sample run's time scaled by the ratio of
//! archive rows to sample rows over the tables the plan reads.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::reader::{FileReader, StreamReader};
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;
use compiler::model::{Entity, Role};
use compiler::plan::{JoinPlan, ScanId};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

use crate::load::{
    self, EventColumns, EventDecoder, FileEntry, FileFormat, FileTable, FlowColumns, FlowDecoder,
    ListedFile, LoadError, Networks, ReadOptions,
};
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
    /// Rows of the tables the plan reads in the final sample.
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
    std::iter::once(plan.first)
        .chain(plan.joins.iter().map(|j| j.scan))
        .collect()
}

/// How `plan` is sampled: whole groups when it groups by addresses that one record scan
/// binds (and no other scan reads that table), otherwise rows.
pub fn method(plan: &JoinPlan) -> Method {
    let Some(group) = &plan.group else {
        return Method::Rows;
    };
    let keys: Vec<_> = group
        .by
        .iter()
        .copied()
        .filter(|i| plan.entities[i.index()] == Entity::Address)
        .collect();
    let scans = outer_scans(plan);
    let mut best: Option<(usize, ScanId, HashKey)> = None;
    for id in &scans {
        let scan = &plan.scans[id.0 as usize];
        let mut bound: Vec<_> = scan
            .addresses
            .iter()
            .filter(|b| keys.contains(&b.address))
            .collect();
        bound.sort_by_key(|b| (b.address, b.role));
        bound.dedup_by_key(|b| b.address);
        let roles: Vec<Role> = bound.iter().map(|b| b.role).collect();
        let key = match (
            roles.contains(&Role::Source),
            roles.contains(&Role::Destination),
        ) {
            (true, true) => HashKey::Both,
            (true, false) => HashKey::Source,
            (false, true) => HashKey::Destination,
            (false, false) => continue,
        };
        if best.is_none_or(|(n, _, _)| bound.len() > n) {
            best = Some((bound.len(), *id, key));
        }
    }
    let Some((_, chosen, key)) = best else {
        return Method::Rows;
    };
    let entity = plan.scans[chosen.0 as usize].entity;
    // Another scan of the same table would be sampled by the same hash, splitting groups.
    let shared = scans
        .iter()
        .any(|s| *s != chosen && plan.scans[s.0 as usize].entity == entity);
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
    /// Whether this is the whole table (asked for, or text that cannot be sampled).
    whole: bool,
    /// Rows in the archive's files (0 where a format does not record it and nothing was read).
    rows_total: u64,
    /// Rows written to the sample.
    rows_sampled: u64,
}

impl SampleTable {
    /// How many archive rows each sample row stands for.
    fn ratio(&self) -> f64 {
        match (self.whole, self.rows_sampled) {
            (true, _) => 1.0,
            (false, 0) => f64::INFINITY,
            (false, n) => self.rows_total as f64 / n as f64,
        }
    }
}

/// A built sample archive.
#[derive(Clone, Debug)]
struct Sample {
    flows: TableSample,
    events: TableSample,
    inputs: Inputs,
    flow_table: SampleTable,
    event_table: SampleTable,
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
            let writer = FileWriter::try_new(std::io::BufWriter::new(file), schema)
                .map_err(|e| self.arrow_error(e))?;
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

/// Receives a batch, the position of its first row in the file (when known) and the file's
/// own schema.
type BatchSink<'a> =
    dyn FnMut(&RecordBatch, Option<u64>, &SchemaRef) -> Result<(), EstimateError> + 'a;

/// Streams every record batch of a file (all columns) with the position of its first row.
/// Parquet honours `selection` (rows not selected are never returned); other formats return
/// every row and leave selection to the caller.
fn for_each_batch(
    file: &FileEntry,
    selection: Option<&dyn Fn(u64) -> Vec<(u64, u64)>>,
    dictionary_addresses: bool,
    sink: &mut BatchSink<'_>,
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
            // The page index lets a row selection skip whole pages instead of decoding them.
            let policy = if selection.is_some() {
                PageIndexPolicy::Optional
            } else {
                PageIndexPolicy::Skip
            };
            let options = ArrowReaderOptions::new().with_page_index_policy(policy);
            let handle = open()?;
            let metadata =
                ArrowReaderMetadata::load(&handle, options.clone()).map_err(parquet_error)?;
            let schema = metadata.schema().clone();
            let metadata = if dictionary_addresses {
                with_dictionary_addresses(&metadata, options).unwrap_or(metadata)
            } else {
                metadata
            };
            let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata);
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
                sink(&batch, selection.is_none().then_some(position), &schema)?;
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
                sink(&batch, Some(position), &schema)?;
                position += batch.num_rows() as u64;
            }
            Ok(schema)
        }
        FileFormat::Text(_) => unreachable!("text tables are read whole, never copied"),
        FileFormat::ArrowIpcStream => {
            let reader =
                StreamReader::try_new(BufReader::new(open()?), None).map_err(arrow_error)?;
            let schema = reader.schema();
            let mut position = 0u64;
            for batch in reader {
                let batch = batch.map_err(arrow_error)?;
                sink(&batch, Some(position), &schema)?;
                position += batch.num_rows() as u64;
            }
            Ok(schema)
        }
    }
}

/// The reader metadata with text address columns read as dictionaries (each distinct address
/// then decodes once), or `None` if there are none or the reader refuses.
fn with_dictionary_addresses(
    base: &ArrowReaderMetadata,
    options: ArrowReaderOptions,
) -> Option<ArrowReaderMetadata> {
    let schema = base.schema();
    let mut changed = false;
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| {
            let address =
                [flow_columns::SRC_ADDR, flow_columns::DST_ADDR].contains(&field.name().as_str());
            if address && field.data_type() == &DataType::Utf8 {
                changed = true;
                let dict =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                Arc::new(field.as_ref().clone().with_data_type(dict))
            } else {
                Arc::clone(field)
            }
        })
        .collect();
    if !changed {
        return None;
    }
    let supplied = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(Arc::clone(base.metadata()), options.with_schema(supplied)).ok()
}

/// `batch` with every column cast back to its type in `schema` (dictionary-read addresses
/// are written as the text they were; IPC files cannot replace dictionaries between batches).
fn restore(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                arrow::compute::cast(column, field.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
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

/// Reads the two addresses of each row of one file's batches, keeping the engine decoder's
/// per-dictionary cache across batches (each distinct address is parsed once).
enum AddrReader<'a> {
    Flows(FlowDecoder<'a>),
    Events(EventDecoder<'a>),
}

impl<'a> AddrReader<'a> {
    fn new(entity: Entity, file: &FileEntry, networks: &'a Networks) -> AddrReader<'a> {
        if entity == Entity::Event {
            let req = EventColumns {
                src_addr: true,
                dst_addr: true,
                ..EventColumns::default()
            };
            AddrReader::Events(EventDecoder::new(
                file.id,
                &file.display,
                &req,
                networks,
                ReadOptions::default(),
            ))
        } else {
            let req = FlowColumns {
                src_addr: true,
                dst_addr: true,
                ..FlowColumns::default()
            };
            AddrReader::Flows(FlowDecoder::new(
                file.id,
                &file.display,
                &req,
                networks,
                ReadOptions::default(),
            ))
        }
    }

    /// For each row of `batch`: its (source, destination), or `None` if the row does not
    /// decode (the engine would skip it too).
    fn addresses(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<Vec<Option<(Addr, Addr)>>, EstimateError> {
        let plain = without_source_row(batch);
        let (rows, src, dst) = match self {
            AddrReader::Events(decoder) => {
                decoder.set_next_row(0);
                let decoded = decoder.decode(&plain)?;
                (decoded.rows, decoded.src, decoded.dst)
            }
            AddrReader::Flows(decoder) => {
                decoder.set_next_row(0);
                let decoded = decoder.decode(&plain)?;
                (decoded.rows, decoded.src, decoded.dst)
            }
        };
        let mut out = vec![None; batch.num_rows()];
        for (k, row) in rows.iter().enumerate() {
            if let Some(slot) = out.get_mut(*row as usize) {
                *slot = Some((src[k], dst[k]));
            }
        }
        Ok(out)
    }
}

/// A table split by key hash into nested buckets: bucket `j` holds the records whose hash
/// lies in `[levels[j-1], levels[j])`, so the sample at `levels[j]` is buckets `0..=j`. One
/// pass over the table serves several doublings.
#[derive(Clone, Debug)]
struct HashBuckets {
    entity: Entity,
    key: HashKey,
    levels: Vec<f64>,
    /// Per bucket: its files (one per input file).
    files: Vec<Vec<ListedFile>>,
    /// Per bucket: rows written.
    rows: Vec<u64>,
    rows_total: u64,
}

impl HashBuckets {
    /// Whether the sample at `fraction` is a union of these buckets.
    fn covers(&self, entity: Entity, key: HashKey, fraction: f64) -> bool {
        self.entity == entity && self.key == key && self.levels.iter().any(|l| same(*l, fraction))
    }

    fn table(&self, fraction: f64) -> Result<SampleTable, LoadError> {
        let n = self
            .levels
            .iter()
            .position(|l| same(*l, fraction))
            .map_or(0, |k| k + 1);
        let mut listed: Vec<ListedFile> = self.files[..n].iter().flatten().cloned().collect();
        listed.sort();
        Ok(SampleTable {
            files: FileTable::from_listed(listed)?,
            whole: false,
            rows_total: self.rows_total,
            rows_sampled: self.rows[..n].iter().sum(),
        })
    }
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// How many doublings one hash pass writes buckets for.
const LEVELS_PER_PASS: usize = 3;

/// One pass over a table writing [`HashBuckets`] for `fraction` and the next doublings.
fn hash_buckets(
    files: &FileTable,
    entity: Entity,
    key: HashKey,
    fraction: f64,
    networks: &Networks,
    dir: &Path,
) -> Result<HashBuckets, EstimateError> {
    let mut levels = vec![fraction];
    while levels.len() < LEVELS_PER_PASS && levels[levels.len() - 1] * 2.0 < 1.0 {
        levels.push(levels[levels.len() - 1] * 2.0);
    }
    std::fs::create_dir_all(dir).map_err(|source| EstimateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = HashBuckets {
        entity,
        key,
        levels: levels.clone(),
        files: vec![Vec::new(); levels.len()],
        rows: vec![0; levels.len()],
        rows_total: 0,
    };
    for file in files.files() {
        let mut writers: Vec<Writer> = (0..levels.len())
            .map(|j| {
                Writer::new(
                    dir.join(format!("{:06}-{j}.arrow", file.id.0)),
                    &file.display,
                )
            })
            .collect();
        let mut reader = AddrReader::new(entity, file, networks);
        let mut seen = 0u64;
        let schema = for_each_batch(file, None, true, &mut |batch, _, original| {
            seen += batch.num_rows() as u64;
            let buckets: Vec<Option<usize>> = reader
                .addresses(batch)?
                .iter()
                .map(|a| {
                    let (s, d) = (*a)?;
                    let hash = key_hash(key, s, d);
                    levels.iter().position(|l| in_sample(hash, *l))
                })
                .collect();
            for (j, writer) in writers.iter_mut().enumerate() {
                let keep: BooleanArray = buckets.iter().map(|b| Some(*b == Some(j))).collect();
                let kept = filter_record_batch(batch, &keep)
                    .and_then(|kept| restore(&kept, original))
                    .map_err(|source| EstimateError::Arrow {
                        file: file.display.clone(),
                        source,
                    })?;
                writer.write(&kept)?;
            }
            Ok(())
        })?;
        out.rows_total += seen;
        for (j, writer) in writers.into_iter().enumerate() {
            let path = writer.path.clone();
            out.rows[j] += writer.finish(&schema)?;
            out.files[j].push(ListedFile {
                display: format!("{}#{j}", file.display),
                path,
            });
        }
    }
    Ok(out)
}

/// Writes the sample of one table into `dir`; returns its file table and row counts.
fn sample_table(
    files: &FileTable,
    how: TableSample,
    dir: &Path,
) -> Result<SampleTable, EstimateError> {
    // Text logs have no batches to copy; they are read whole (and the estimate says so).
    if how == TableSample::All || is_text(files) {
        let rows = table_rows(files)?.unwrap_or(0);
        return Ok(SampleTable {
            files: files.clone(),
            whole: true,
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
                    for_each_batch(file, Some(&select), false, &mut |batch, _, _| {
                        writer.write(batch)
                    })?
                } else {
                    // No row count up front: keep one block of 1024 rows in each `1/fraction`.
                    let period = (1024.0 / fraction.max(1e-9)).ceil() as u64;
                    for_each_batch(file, None, false, &mut |batch, first, _| {
                        let first = first.unwrap_or(0);
                        seen += batch.num_rows() as u64;
                        let keep: BooleanArray = (0..batch.num_rows() as u64)
                            .map(|i| Some((first + i) % period < 1024))
                            .collect();
                        let kept = filter_record_batch(batch, &keep).map_err(|source| {
                            EstimateError::Arrow {
                                file: file.display.clone(),
                                source,
                            }
                        })?;
                        writer.write(&kept)
                    })?
                }
            }
            TableSample::Hash { .. } => unreachable!("hash samples are built as buckets"),
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
        whole: false,
        rows_total,
        rows_sampled,
    })
}

/// Samples built so far, reused by plans that ask for the same one.
struct Samples<'a> {
    inputs: &'a Inputs,
    dir: &'a Path,
    built: Vec<Sample>,
    buckets: Vec<HashBuckets>,
}

impl Samples<'_> {
    fn get(&mut self, flows: TableSample, events: TableSample) -> Result<&Sample, EstimateError> {
        if let Some(k) = self
            .built
            .iter()
            .position(|s| s.flows == flows && s.events == events)
        {
            return Ok(&self.built[k]);
        }
        let dir = self.dir.join(format!("sample-{}", self.built.len()));
        let flow_table = self.table(Entity::Connection, flows, &dir.join("flows"))?;
        let event_table = self.table(Entity::Event, events, &dir.join("events"))?;
        self.built.push(Sample {
            flows,
            events,
            inputs: Inputs {
                flows: flow_table.files.clone(),
                events: event_table.files.clone(),
                networks: self.inputs.networks.clone(),
            },
            flow_table,
            event_table,
        });
        Ok(self.built.last().expect("just pushed"))
    }

    fn table(
        &mut self,
        entity: Entity,
        how: TableSample,
        dir: &Path,
    ) -> Result<SampleTable, EstimateError> {
        let files = if entity == Entity::Event {
            &self.inputs.events
        } else {
            &self.inputs.flows
        };
        let TableSample::Hash { fraction, key } = how else {
            return sample_table(files, how, dir);
        };
        if is_text(files) {
            return sample_table(files, TableSample::All, dir);
        }
        if let Some(b) = self
            .buckets
            .iter()
            .find(|b| b.covers(entity, key, fraction))
        {
            return Ok(b.table(fraction)?);
        }
        let dir = self.dir.join(format!("buckets-{}", self.buckets.len()));
        let built = hash_buckets(files, entity, key, fraction, &self.inputs.networks, &dir)?;
        let table = built.table(fraction)?;
        self.buckets.push(built);
        Ok(table)
    }
}

/// Whether a table holds text logs (read whole: they have no batches to copy).
fn is_text(files: &FileTable) -> bool {
    files
        .files()
        .iter()
        .any(|f| matches!(f.format, FileFormat::Text(_)))
}

/// The fraction of a table of `rows` rows (`None`: unknown) sampled at `level`.
fn table_fraction(rows: Option<u64>, level: f64, options: &EstimateOptions) -> f64 {
    match rows {
        Some(n) if n <= options.min_sample_rows => 1.0,
        Some(n) => level
            .max(options.min_sample_rows as f64 / n as f64)
            .min(1.0),
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
pub fn estimate(
    plans: &[JoinPlan],
    inputs: &Inputs,
    options: &EstimateOptions,
    scratch: &Path,
) -> Result<Vec<Estimate>, EstimateError> {
    let flow_rows = table_rows(&inputs.flows)?;
    let event_rows = table_rows(&inputs.events)?;
    let mut samples = Samples {
        inputs,
        dir: scratch,
        built: Vec::new(),
        buckets: Vec::new(),
    };
    let run_options = RunOptions {
        workers: options.workers.max(1),
        ..RunOptions::default()
    };
    // A run costs a fixed start (workers, dataflow construction) plus work that grows with
    // the rows; only the second part scales, so the first is measured once on no data.
    let overhead = match plans.first() {
        Some(plan) => {
            let empty = Inputs {
                flows: FileTable::default(),
                events: FileTable::default(),
                networks: inputs.networks.clone(),
            };
            let started = Instant::now();
            run::run(std::slice::from_ref(plan), &empty, &run_options)?;
            started.elapsed()
        }
        None => Duration::ZERO,
    };
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let method = method(plan);
        let scans = outer_scans(plan);
        let reads = |entity: Entity| {
            scans
                .iter()
                .any(|s| plan.scans[s.0 as usize].entity == entity)
        };
        let (reads_flows, reads_events) = (reads(Entity::Connection), reads(Entity::Event));
        let mut level = options.initial_fraction.clamp(1e-6, 1.0);
        loop {
            let (flows, events) = match method {
                Method::Rows => (
                    table_sample(
                        if reads_flows {
                            table_fraction(flow_rows, level, options)
                        } else {
                            1.0
                        },
                        None,
                    ),
                    table_sample(
                        if reads_events {
                            table_fraction(event_rows, level, options)
                        } else {
                            1.0
                        },
                        None,
                    ),
                ),
                Method::Groups { entity, key } => {
                    let rows = if entity == Entity::Event {
                        event_rows
                    } else {
                        flow_rows
                    };
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
            let events = if reads_events {
                events
            } else {
                TableSample::All
            };
            let sample = samples.get(flows, events)?.clone();
            let started = Instant::now();
            let result = run::run(std::slice::from_ref(plan), &sample.inputs, &run_options)?;
            let elapsed = started.elapsed();
            let hits = result
                .results
                .first()
                .map(|r| r.rows.len() as u64)
                .unwrap_or(0);

            let table = |entity: Entity| {
                if entity == Entity::Event {
                    (&sample.event_table, events)
                } else {
                    (&sample.flow_table, flows)
                }
            };
            let scale = match method {
                Method::Rows => scans
                    .iter()
                    .map(|s| table(plan.scans[s.0 as usize].entity).0.ratio())
                    .product::<f64>(),
                Method::Groups { entity, .. } => match table(entity) {
                    (t, TableSample::Hash { fraction, .. }) if !t.whole => 1.0 / fraction,
                    _ => 1.0,
                },
            };
            let mut used = (0u64, 0u64);
            let mut smallest = 1.0f64;
            for (read, entity) in [
                (reads_flows, Entity::Connection),
                (reads_events, Entity::Event),
            ] {
                let (t, how) = table(entity);
                if !read {
                    continue;
                }
                used.0 += t.rows_total;
                used.1 += t.rows_sampled;
                if let (
                    false,
                    TableSample::Blocks { fraction } | TableSample::Hash { fraction, .. },
                ) = (t.whole, how)
                {
                    smallest = smallest.min(fraction);
                }
            }
            let exact = smallest >= 1.0;
            // An empty sample of a non-empty table says nothing: read more.
            let enough = hits >= options.min_hits || exact || smallest >= options.max_fraction;
            if enough && scale.is_finite() {
                let time_scale = if used.1 == 0 {
                    1.0
                } else {
                    (used.0 as f64 / used.1 as f64).max(1.0)
                };
                out.push(Estimate {
                    pattern: plan.pattern.clone(),
                    results: hits as f64 * scale,
                    runtime: overhead + elapsed.saturating_sub(overhead).mul_f64(time_scale),
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
        let addrs: Vec<Addr> = (0..20_000u32)
            .map(|i| Addr::v4(std::net::Ipv4Addr::from(0x0a00_0000 + i)))
            .collect();
        let at = |f: f64| {
            addrs
                .iter()
                .filter(|a| in_sample(key_hash(HashKey::Source, **a, **a), f))
                .count()
        };
        let (small, large) = (at(0.1), at(0.2));
        assert!((1_700..2_300).contains(&small), "{small}");
        assert!((3_600..4_400).contains(&large), "{large}");
        assert!(addrs
            .iter()
            .all(|a| !in_sample(key_hash(HashKey::Both, *a, *a), 0.1)
                || in_sample(key_hash(HashKey::Both, *a, *a), 0.2)));
        assert_eq!(at(1.0), addrs.len());
    }
}
