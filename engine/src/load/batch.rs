//! What a run asks the loader for, and what it gets back.
//!
//! A request names the canonical columns a plan needs plus extra columns by name; the loader
//! reads only those (a Parquet projection), and a batch's vectors for unrequested columns stay
//! empty. Batches are struct-of-arrays so that scan filters run over plain slices; every
//! non-empty vector of a batch has one entry per kept row, in file order.

use crate::load::networks::LabelId;
use crate::model::{event_columns as ec, flow_columns as fc, Addr, Conn, Event, FileId, RecordId};

/// Which flow columns to decode.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FlowColumns {
    /// `start_time` (also read, but not returned, when a time window is set).
    pub start_time: bool,
    /// `end_time`.
    pub end_time: bool,
    /// `src_addr` with its label.
    pub src_addr: bool,
    /// `dst_addr` with its label.
    pub dst_addr: bool,
    /// `src_port`.
    pub src_port: bool,
    /// `dst_port`.
    pub dst_port: bool,
    /// `protocol`.
    pub protocol: bool,
    /// `bytes_sent`.
    pub bytes_sent: bool,
    /// `bytes_received`.
    pub bytes_received: bool,
    /// `packets_sent`.
    pub packets_sent: bool,
    /// `packets_received`.
    pub packets_received: bool,
    /// `service` (optional: a file without it gives `None`s).
    pub service: bool,
    /// Extra columns by name (optional: a file without one gives `None`s).
    pub extra: Vec<String>,
}

impl FlowColumns {
    /// Every canonical column, `service` included, and no extras.
    pub fn all() -> FlowColumns {
        FlowColumns {
            start_time: true,
            end_time: true,
            src_addr: true,
            dst_addr: true,
            src_port: true,
            dst_port: true,
            protocol: true,
            bytes_sent: true,
            bytes_received: true,
            packets_sent: true,
            packets_received: true,
            service: true,
            extra: Vec::new(),
        }
    }

    /// The requested canonical columns, each with whether it must be present.
    pub(crate) fn canonical(&self) -> [(&'static str, bool, bool); 12] {
        [
            (fc::START_TIME, self.start_time, true),
            (fc::END_TIME, self.end_time, true),
            (fc::SRC_ADDR, self.src_addr, true),
            (fc::DST_ADDR, self.dst_addr, true),
            (fc::SRC_PORT, self.src_port, true),
            (fc::DST_PORT, self.dst_port, true),
            (fc::PROTOCOL, self.protocol, true),
            (fc::BYTES_SENT, self.bytes_sent, true),
            (fc::BYTES_RECEIVED, self.bytes_received, true),
            (fc::PACKETS_SENT, self.packets_sent, true),
            (fc::PACKETS_RECEIVED, self.packets_received, true),
            (fc::SERVICE, self.service, false),
        ]
    }

    /// The names of the columns this request reads, canonical ones first, then extras in
    /// request order (for reports and `explain`).
    pub fn columns(&self) -> Vec<String> {
        self.canonical()
            .iter()
            .filter(|(_, wanted, _)| *wanted)
            .map(|(name, _, _)| name.to_string())
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

/// Which event columns to decode.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EventColumns {
    /// `time` (also read, but not returned, when a time window is set).
    pub time: bool,
    /// `src_addr` with its label.
    pub src_addr: bool,
    /// `dst_addr` with its label.
    pub dst_addr: bool,
    /// `signature`.
    pub signature: bool,
    /// `severity`.
    pub severity: bool,
    /// `category` (optional: absent or null reads as the empty string).
    pub category: bool,
    /// Extra columns by name (optional: absent gives `None`s).
    pub extra: Vec<String>,
}

impl EventColumns {
    /// Every canonical column and no extras.
    pub fn all() -> EventColumns {
        EventColumns {
            time: true,
            src_addr: true,
            dst_addr: true,
            signature: true,
            severity: true,
            category: true,
            extra: Vec::new(),
        }
    }

    /// The requested canonical columns, each with whether it must be present.
    pub(crate) fn canonical(&self) -> [(&'static str, bool, bool); 6] {
        [
            (ec::TIME, self.time, true),
            (ec::SRC_ADDR, self.src_addr, true),
            (ec::DST_ADDR, self.dst_addr, true),
            (ec::SIGNATURE, self.signature, true),
            (ec::SEVERITY, self.severity, true),
            (ec::CATEGORY, self.category, false),
        ]
    }

    /// The names of the columns this request reads, as [`FlowColumns::columns`].
    pub fn columns(&self) -> Vec<String> {
        self.canonical()
            .iter()
            .filter(|(_, wanted, _)| *wanted)
            .map(|(name, _, _)| name.to_string())
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

/// Decoded flows of one file, struct-of-arrays. Vectors of unrequested columns are empty.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FlowBatch {
    /// The file the rows came from.
    pub file: FileId,
    /// Identity row of each kept row (its `source_row` if the file has one, else its 0-based
    /// position in the file).
    pub rows: Vec<u64>,
    /// `start_time`, UTC micros.
    pub start: Vec<i64>,
    /// `end_time`, UTC micros.
    pub end: Vec<i64>,
    /// Originator address.
    pub src: Vec<Addr>,
    /// Responder address.
    pub dst: Vec<Addr>,
    /// Label of `src` in the run's networks.
    pub src_label: Vec<LabelId>,
    /// Label of `dst`.
    pub dst_label: Vec<LabelId>,
    /// Originator port.
    pub src_port: Vec<u16>,
    /// Responder port.
    pub dst_port: Vec<u16>,
    /// IANA protocol number.
    pub protocol: Vec<u8>,
    /// Originator → responder bytes.
    pub bytes_sent: Vec<u64>,
    /// Responder → originator bytes.
    pub bytes_received: Vec<u64>,
    /// Originator → responder packets.
    pub packets_sent: Vec<u64>,
    /// Responder → originator packets.
    pub packets_received: Vec<u64>,
    /// Application label.
    pub service: Vec<Option<String>>,
    /// One vector per requested extra column, in request order.
    pub extra: Vec<Vec<Option<String>>>,
}

impl FlowBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The identity of row `i`.
    pub fn id(&self, i: usize) -> RecordId {
        RecordId {
            file: self.file,
            row: self.rows[i],
        }
    }

    /// Row `i` as a [`Conn`]; unrequested columns read as 0, `None` or `Addr(0)`,
    /// so request what you will look at.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn to_conn(&self, i: usize) -> Conn {
        fn at<T: Copy + Default>(v: &[T], i: usize) -> T {
            v.get(i).copied().unwrap_or_default()
        }
        Conn {
            id: self.id(i),
            start: at(&self.start, i),
            end: at(&self.end, i),
            src: self.src.get(i).copied().unwrap_or(Addr(0)),
            dst: self.dst.get(i).copied().unwrap_or(Addr(0)),
            src_port: at(&self.src_port, i),
            dst_port: at(&self.dst_port, i),
            protocol: at(&self.protocol, i),
            bytes_sent: at(&self.bytes_sent, i),
            bytes_received: at(&self.bytes_received, i),
            packets_sent: at(&self.packets_sent, i),
            packets_received: at(&self.packets_received, i),
            service: self.service.get(i).cloned().flatten(),
            extra: self.extra.iter().map(|col| col[i].clone()).collect(),
        }
    }

    /// Keeps only rows whose `keep` entry is true (every non-empty vector alike).
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        compact(&mut self.rows, keep);
        compact(&mut self.start, keep);
        compact(&mut self.end, keep);
        compact(&mut self.src, keep);
        compact(&mut self.dst, keep);
        compact(&mut self.src_label, keep);
        compact(&mut self.dst_label, keep);
        compact(&mut self.src_port, keep);
        compact(&mut self.dst_port, keep);
        compact(&mut self.protocol, keep);
        compact(&mut self.bytes_sent, keep);
        compact(&mut self.bytes_received, keep);
        compact(&mut self.packets_sent, keep);
        compact(&mut self.packets_received, keep);
        compact(&mut self.service, keep);
        for col in &mut self.extra {
            compact(col, keep);
        }
    }
}

/// Decoded events of one file, struct-of-arrays. Vectors of unrequested columns are empty.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EventBatch {
    /// The file the rows came from.
    pub file: FileId,
    /// Identity row of each kept row (as [`FlowBatch::rows`]).
    pub rows: Vec<u64>,
    /// `time`, UTC micros.
    pub time: Vec<i64>,
    /// Source address.
    pub src: Vec<Addr>,
    /// Destination address.
    pub dst: Vec<Addr>,
    /// Label of `src`.
    pub src_label: Vec<LabelId>,
    /// Label of `dst`.
    pub dst_label: Vec<LabelId>,
    /// Signature / rule name.
    pub signature: Vec<String>,
    /// Severity.
    pub severity: Vec<i32>,
    /// Category (empty when absent).
    pub category: Vec<String>,
    /// One vector per requested extra column, in request order.
    pub extra: Vec<Vec<Option<String>>>,
}

impl EventBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The identity of row `i`.
    pub fn id(&self, i: usize) -> RecordId {
        RecordId {
            file: self.file,
            row: self.rows[i],
        }
    }

    /// Row `i` as an [`Event`]; unrequested columns read as 0 / empty / `Addr(0)`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn to_event(&self, i: usize) -> Event {
        Event {
            id: self.id(i),
            time: self.time.get(i).copied().unwrap_or_default(),
            src: self.src.get(i).copied().unwrap_or(Addr(0)),
            dst: self.dst.get(i).copied().unwrap_or(Addr(0)),
            signature: self.signature.get(i).cloned().unwrap_or_default(),
            severity: self.severity.get(i).copied().unwrap_or_default(),
            category: self.category.get(i).cloned().unwrap_or_default(),
            extra: self.extra.iter().map(|col| col[i].clone()).collect(),
        }
    }

    /// Keeps only rows whose `keep` entry is true.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        compact(&mut self.rows, keep);
        compact(&mut self.time, keep);
        compact(&mut self.src, keep);
        compact(&mut self.dst, keep);
        compact(&mut self.src_label, keep);
        compact(&mut self.dst_label, keep);
        compact(&mut self.signature, keep);
        compact(&mut self.severity, keep);
        compact(&mut self.category, keep);
        for col in &mut self.extra {
            compact(col, keep);
        }
    }
}

fn compact<T>(values: &mut Vec<T>, keep: &[bool]) {
    if values.is_empty() {
        return;
    }
    debug_assert_eq!(values.len(), keep.len());
    let mut flags = keep.iter();
    values.retain(|_| flags.next().copied().unwrap_or(true));
}
