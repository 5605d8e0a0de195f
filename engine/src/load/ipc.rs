//! Arrow IPC reading, file and stream formats, through the same decoders as Parquet.
//!
//! The file format has a footer, so its schema is known before any batch and only the needed
//! columns are read. A stream (a file without footer, or stdin) can only be read front to
//! back once, so it is read whole and the decoder ignores the columns it does not need.
//! Dictionaries in IPC data stay the same array until the stream replaces them, which is
//! what the decoder's identity-keyed dictionary cache relies on.

use std::fs::File;
use std::io::{BufReader, Read};

use arrow::ipc::reader::{FileReader, StreamReader};

use super::arrow_decode::RecordDecoder;
use super::files::FileEntry;
use super::LoadError;

/// Reads an Arrow IPC file-format file through `decoder`.
pub(crate) fn read_file<D: RecordDecoder>(
    file: &FileEntry,
    decoder: &mut D,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<(), LoadError> {
    let open = || {
        File::open(&file.path)
            .map(BufReader::new)
            .map_err(|source| LoadError::Io {
                path: file.path.clone(),
                source,
            })
    };
    let arrow_error = |source| LoadError::Arrow {
        file: file.display.clone(),
        source,
    };
    let schema = FileReader::try_new(open()?, None)
        .map_err(arrow_error)?
        .schema();
    decoder.check_schema(&schema)?;
    let projection = decoder.projection(&schema);
    let reader = FileReader::try_new(open()?, Some(projection)).map_err(arrow_error)?;
    decoder.set_next_row(0);
    for batch in reader {
        let decoded = decoder.decode(&batch.map_err(arrow_error)?)?;
        if !D::batch_is_empty(&decoded) {
            sink(decoded);
        }
    }
    Ok(())
}

/// Reads an Arrow IPC stream through `decoder`; `display` names it in errors.
pub(crate) fn read_stream<D: RecordDecoder, R: Read>(
    reader: R,
    display: &str,
    decoder: &mut D,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<(), LoadError> {
    let arrow_error = |source| LoadError::Arrow {
        file: display.to_string(),
        source,
    };
    let reader = StreamReader::try_new(BufReader::new(reader), None).map_err(arrow_error)?;
    decoder.check_schema(&reader.schema())?;
    decoder.set_next_row(0);
    for batch in reader {
        let decoded = decoder.decode(&batch.map_err(arrow_error)?)?;
        if !D::batch_is_empty(&decoded) {
            sink(decoded);
        }
    }
    Ok(())
}
