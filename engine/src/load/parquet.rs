//! Parquet reading: only the needed columns, addresses as dictionaries, row groups outside the
//! time window never read, and batches streamed to the decoder one at a time.
//!
//! Two facts of the Parquet reader shape this module. It returns plain strings unless the
//! read schema asks for `Dictionary(Int32, Utf8)`, so string address columns are requested as
//! dictionaries (if the reader refuses the override, plain strings are read and parsed per
//! row: slower, same result). And a reader's batches may span row-group boundaries, so when
//! row groups are skipped each contiguous run of kept groups gets its own reader, which keeps
//! every row's position in the file (its identity) exact.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Field, Int64Type, Schema, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use super::arrow_decode::{RecordDecoder, ADDRESS_COLUMNS};
use super::files::{FileEntry, FileFormat};
use super::{LoadError, ReadOptions};

/// Statistics of one Parquet row group.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RowGroupStats {
    /// Rows in the group.
    pub rows: u64,
    /// Smallest value of the time column, UTC micros (rounded down), if recorded.
    pub time_min: Option<i64>,
    /// Largest value of the time column, UTC micros (rounded up), if recorded.
    pub time_max: Option<i64>,
}

/// What a file's metadata says without reading its rows (for estimates and planning).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileStats {
    /// Total rows, when the format records it (Parquet) — `None` for Arrow IPC.
    pub rows: Option<u64>,
    /// Per row group (Parquet only).
    pub row_groups: Vec<RowGroupStats>,
}

impl FileStats {
    /// The time range of the whole file, if every row group recorded one.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        for group in self.row_groups.iter().filter(|g| g.rows > 0) {
            let (lo, hi) = (group.time_min?, group.time_max?);
            range = Some(match range {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
        range
    }
}

/// Row count and per-row-group statistics of `time_column` (`start_time` for flows, `time`
/// for events), from the file's metadata only.
pub fn file_stats(file: &FileEntry, time_column: &str) -> Result<FileStats, LoadError> {
    if file.format != FileFormat::Parquet {
        return Ok(FileStats {
            rows: None,
            row_groups: Vec::new(),
        });
    }
    let handle = open(file)?;
    let metadata = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new())
        .map_err(|source| parquet_error(file, source))?;
    let (mins, maxes) = time_statistics(&metadata, time_column);
    let row_groups: Vec<RowGroupStats> = metadata
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .map(|(i, group)| RowGroupStats {
            rows: u64::try_from(group.num_rows()).unwrap_or(0),
            time_min: mins.get(i).copied().flatten(),
            time_max: maxes.get(i).copied().flatten(),
        })
        .collect();
    Ok(FileStats {
        rows: Some(row_groups.iter().map(|g| g.rows).sum()),
        row_groups,
    })
}

/// Rows in the file, when its metadata records it (Parquet).
pub fn file_row_count(file: &FileEntry) -> Result<Option<u64>, LoadError> {
    if file.format != FileFormat::Parquet {
        return Ok(None);
    }
    let handle = open(file)?;
    let metadata = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new())
        .map_err(|source| parquet_error(file, source))?;
    let rows = metadata.metadata().file_metadata().num_rows();
    Ok(Some(u64::try_from(rows).unwrap_or(0)))
}

fn open(file: &FileEntry) -> Result<File, LoadError> {
    File::open(&file.path).map_err(|source| LoadError::Io {
        path: file.path.clone(),
        source,
    })
}

fn parquet_error(file: &FileEntry, source: parquet::errors::ParquetError) -> LoadError {
    LoadError::Parquet {
        file: file.display.clone(),
        source,
    }
}

/// Reads one Parquet file through `decoder`.
pub(crate) fn read<D: RecordDecoder>(
    file: &FileEntry,
    decoder: &mut D,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<(), LoadError> {
    let handle = open(file)?;
    let base = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new())
        .map_err(|source| parquet_error(file, source))?;
    decoder.check_schema(base.schema())?;
    let mask = ProjectionMask::roots(base.parquet_schema(), decoder.projection(base.schema()));
    let keep_groups: Vec<bool> = match decoder.window_column() {
        Some(time_column) => {
            let (mins, maxes) = time_statistics(&base, time_column);
            (0..base.metadata().num_row_groups())
                .map(|i| {
                    let below = matches!((maxes.get(i), opts.since), (Some(Some(hi)), Some(since)) if *hi < since);
                    let above = matches!((mins.get(i), opts.until), (Some(Some(lo)), Some(until)) if *lo >= until);
                    !(below || above)
                })
                .collect()
        }
        None => vec![true; base.metadata().num_row_groups()],
    };
    let group_rows: Vec<u64> = base
        .metadata()
        .row_groups()
        .iter()
        .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
        .collect();
    let metadata = with_dictionary_addresses(&base).unwrap_or(base);
    decoder.report_mut().row_groups = group_rows.len() as u64;

    let mut group = 0;
    let mut next_row = 0u64;
    while group < group_rows.len() {
        if !keep_groups[group] {
            let report = decoder.report_mut();
            report.row_groups_skipped += 1;
            report.rows_read += group_rows[group];
            report.rows_outside_window += group_rows[group];
            next_row += group_rows[group];
            group += 1;
            continue;
        }
        let first_group = group;
        let first_row = next_row;
        while group < group_rows.len() && keep_groups[group] {
            next_row += group_rows[group];
            group += 1;
        }
        let handle = handle.try_clone().map_err(|source| LoadError::Io {
            path: file.path.clone(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata.clone())
            .with_row_groups((first_group..group).collect())
            .with_projection(mask.clone())
            .with_batch_size(opts.batch_rows.max(1))
            .build()
            .map_err(|source| parquet_error(file, source))?;
        decoder.set_next_row(first_row);
        for batch in reader {
            let batch = batch.map_err(|source| LoadError::Arrow {
                file: file.display.clone(),
                source,
            })?;
            let decoded = decoder.decode(&batch)?;
            if !D::batch_is_empty(&decoded) {
                sink(decoded);
            }
        }
    }
    Ok(())
}

/// The reader metadata with string address columns read as `Dictionary(Int32, Utf8)`, or
/// `None` if there are none or the reader refuses.
fn with_dictionary_addresses(base: &ArrowReaderMetadata) -> Option<ArrowReaderMetadata> {
    let schema = base.schema();
    let mut changed = false;
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| {
            let is_text = matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            if is_text && ADDRESS_COLUMNS.contains(&field.name().as_str()) {
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
    ArrowReaderMetadata::try_new(
        Arc::clone(base.metadata()),
        ArrowReaderOptions::new().with_schema(supplied),
    )
    .ok()
}

/// Per row group: min (rounded down) and max (rounded up) of `time_column` in UTC micros;
/// `None` where unrecorded or unreadable, which never excludes a group.
fn time_statistics(
    metadata: &ArrowReaderMetadata,
    time_column: &str,
) -> (Vec<Option<i64>>, Vec<Option<i64>>) {
    let n_groups = metadata.metadata().num_row_groups();
    let unknown = || (vec![None; n_groups], vec![None; n_groups]);
    let Ok(converter) =
        StatisticsConverter::try_new(time_column, metadata.schema(), metadata.parquet_schema())
    else {
        return unknown();
    };
    let groups = metadata.metadata().row_groups();
    let (Ok(mins), Ok(maxes)) = (
        converter.row_group_mins(groups.iter()),
        converter.row_group_maxes(groups.iter()),
    ) else {
        return unknown();
    };
    (to_micros(&mins, false), to_micros(&maxes, true))
}

fn to_micros(array: &ArrayRef, round_up: bool) -> Vec<Option<i64>> {
    let scaled = |values: Vec<Option<i64>>, per_micro: i64, micros_per: i64| -> Vec<Option<i64>> {
        values
            .into_iter()
            .map(|v| {
                let v = v?;
                if micros_per > 1 {
                    v.checked_mul(micros_per)
                } else if round_up {
                    Some(v.div_euclid(per_micro) + i64::from(v.rem_euclid(per_micro) != 0))
                } else {
                    Some(v.div_euclid(per_micro))
                }
            })
            .collect()
    };
    let values = |a: &dyn Array| -> Vec<Option<i64>> {
        match a.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                a.as_primitive::<TimestampSecondType>().iter().collect()
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => a
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .collect(),
            DataType::Timestamp(TimeUnit::Microsecond, _) => a
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .collect(),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                a.as_primitive::<TimestampNanosecondType>().iter().collect()
            }
            DataType::Int64 => a.as_primitive::<Int64Type>().iter().collect(),
            _ => vec![None; a.len()],
        }
    };
    let raw = values(array.as_ref());
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scaled(raw, 1, 1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => scaled(raw, 1, 1_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => scaled(raw, 1_000, 1),
        _ => raw,
    }
}
