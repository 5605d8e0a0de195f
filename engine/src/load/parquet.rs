//! Parquet reading: only the needed columns, addresses as dictionaries, row groups outside the
//! time window never read, and batches streamed to the decoder one at a time.
//!
//! Three facts of the Parquet reader shape this module. It returns plain strings unless the
//! read schema asks for `Dictionary(Int32, Utf8)`, so string address columns are requested as
//! dictionaries (if the reader refuses the override, plain strings are read and parsed per
//! row: slower, same result). Where a writer fell back from dictionary to plain pages, asking
//! for a dictionary makes the reader hash every value to build one per batch, so that is
//! decided per row group from the page encodings. And a reader's batches may span row-group
//! boundaries, so each contiguous run of row groups read the same way gets its own reader,
//! which keeps every row's position in the file (its identity) exact.

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
use parquet::basic::Encoding;

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

/// Whether the file ends as a complete Parquet file does: a footer length that fits the file,
/// then the `PAR1` magic. A writer writes the footer last, so a file still being written fails
/// this; unlike [`file_row_count`] the footer itself is not decoded (reading the file does that).
pub fn check_complete(file: &FileEntry) -> Result<(), LoadError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut handle = open(file)?;
    let io = |source| LoadError::Io {
        path: file.path.clone(),
        source,
    };
    let size = handle.metadata().map_err(io)?.len();
    let incomplete = |why: String| {
        parquet_error(
            file,
            parquet::errors::ParquetError::General(format!("not a complete Parquet file: {why}")),
        )
    };
    if size < 12 {
        return Err(incomplete(format!("{size} bytes")));
    }
    let mut tail = [0u8; 8];
    handle.seek(SeekFrom::End(-8)).map_err(io)?;
    handle.read_exact(&mut tail).map_err(io)?;
    if &tail[4..] != b"PAR1" {
        return Err(incomplete("no PAR1 magic at its end".into()));
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer + 12 > size {
        return Err(incomplete(format!(
            "a footer of {footer} bytes in a file of {size}"
        )));
    }
    Ok(())
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
    let modes: Vec<DictMode> = (0..group_rows.len())
        .map(|g| dictionary_mode(&base, g))
        .collect();
    let mut variants: Vec<(DictMode, ArrowReaderMetadata)> = Vec::new();
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
        let mode = modes[group];
        while group < group_rows.len() && keep_groups[group] && modes[group] == mode {
            next_row += group_rows[group];
            group += 1;
        }
        let metadata = match variants.iter().find(|(m, _)| *m == mode) {
            Some((_, metadata)) => metadata.clone(),
            None => {
                let metadata =
                    with_dictionary_addresses(&base, mode).unwrap_or_else(|| base.clone());
                variants.push((mode, metadata.clone()));
                metadata
            }
        };
        let handle = handle.try_clone().map_err(|source| LoadError::Io {
            path: file.path.clone(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata)
            .with_row_groups((first_group..group).collect())
            .with_projection(mask.clone())
            .with_batch_size(opts.batch_rows.max(1))
            .build()
            .map_err(|source| parquet_error(file, source))?;
        decoder.set_next_row(first_row);
        for batch in reader {
            let batch = batch.map_err(|source| parquet_error(file, source.into()))?;
            let decoded = decoder.decode(&batch)?;
            if !D::batch_is_empty(&decoded) {
                sink(decoded);
            }
        }
    }
    Ok(())
}

/// Which address columns (bit 0 `src_addr`, bit 1 `dst_addr`) to read as dictionaries.
type DictMode = u8;

/// The address columns worth reading as dictionaries in row group `group`: string columns
/// whose data pages are all dictionary-encoded (or whose page encodings are not recorded).
/// Asking for a dictionary where the writer fell back to plain pages makes the reader hash
/// every value to rebuild one per batch, which costs more than parsing each row.
fn dictionary_mode(base: &ArrowReaderMetadata, group: usize) -> DictMode {
    let parquet_schema = base.parquet_schema();
    let row_group = base.metadata().row_group(group);
    let mut mode = 0;
    for (bit, name) in ADDRESS_COLUMNS.iter().enumerate() {
        let is_text = base.schema().field_with_name(name).is_ok_and(|field| {
            matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        });
        let leaf = parquet_schema
            .columns()
            .iter()
            .position(|c| c.path().parts() == [name.to_string()]);
        let (true, Some(leaf)) = (is_text, leaf) else {
            continue;
        };
        let chunk = row_group.column(leaf);
        let all_dictionary = chunk.dictionary_page_offset().is_some()
            && chunk.page_encoding_stats_mask().is_none_or(|mask| {
                mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
            });
        if all_dictionary {
            mode |= 1 << bit;
        }
    }
    mode
}

/// The reader metadata with the address columns of `mode` read as `Dictionary(Int32, Utf8)`,
/// or `None` if there are none or the reader refuses.
fn with_dictionary_addresses(
    base: &ArrowReaderMetadata,
    mode: DictMode,
) -> Option<ArrowReaderMetadata> {
    if mode == 0 {
        return None;
    }
    let schema = base.schema();
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|field| {
            let wanted = ADDRESS_COLUMNS
                .iter()
                .position(|name| name == field.name())
                .is_some_and(|bit| mode & (1 << bit) != 0);
            if wanted {
                let dict =
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                Arc::new(field.as_ref().clone().with_data_type(dict))
            } else {
                Arc::clone(field)
            }
        })
        .collect();
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
