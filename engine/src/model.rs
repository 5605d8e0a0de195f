//! The engine's typed rows: what a flow or event record is once it has left Arrow.
//!
//! Identity is stable across runs: a record is named by the file it was read from (an index
//! into the run's sorted file list, printed as the path relative to its archive root) and its
//! 0-based row in that file. Addresses are their normalised 128-bit value ([`Addr`]); there is
//! no interner, so processes that read different files agree on identities.

pub use compiler::value::{Addr, Prefix};

/// Index of a file in a run's input list ([`crate::load::FileTable`]).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct FileId(pub u32);

/// A flow or event record's identity: same file and same row ⇒ same id, across runs.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct RecordId {
    /// The file the record was read from.
    pub file: FileId,
    /// 0-based row (for text logs: the ordinal of the data record, malformed ones included).
    pub row: u64,
}

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// One flow record in canonical form (`flow-model.md`, "Flow archive columns").
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize)]
pub struct Conn {
    /// Stable identity.
    pub id: RecordId,
    /// First packet.
    pub start: Micros,
    /// Last packet (may precede `start`; the duration is then negative and kept).
    pub end: Micros,
    /// Originator.
    pub src: Addr,
    /// Responder.
    pub dst: Addr,
    /// Originator port (0 for protocols without ports).
    pub src_port: u16,
    /// Responder port.
    pub dst_port: u16,
    /// IANA protocol number.
    pub protocol: u8,
    /// Originator → responder bytes.
    pub bytes_sent: u64,
    /// Responder → originator bytes.
    pub bytes_received: u64,
    /// Originator → responder packets.
    pub packets_sent: u64,
    /// Responder → originator packets.
    pub packets_received: u64,
    /// Application label, if the sensor gave one.
    pub service: Option<String>,
    /// Extra archive columns the run asked for, in the order of the run's extra-column list;
    /// `None` where the value is null or the file lacks the column.
    pub extra: Vec<Option<String>>,
}

/// One security event / IDS alert record.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Stable identity.
    pub id: RecordId,
    /// When the event happened.
    pub time: Micros,
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Signature / rule name / Zeek `note`.
    pub signature: String,
    /// Severity (Suricata: 1 is highest).
    pub severity: i32,
    /// Category (may be empty).
    pub category: String,
    /// Extra archive columns the run asked for, as for [`Conn::extra`].
    pub extra: Vec<Option<String>>,
}

// A record hashes by its identity alone: equal records have equal ids, and hashing every
// attribute and string of a record made result maps (`watch`) hash-bound.
impl std::hash::Hash for Conn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl std::hash::Hash for Event {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// Canonical column names of flow archives.
pub mod flow_columns {
    /// `Timestamp(Microsecond, UTC)`, first packet.
    pub const START_TIME: &str = "start_time";
    /// `Timestamp(Microsecond, UTC)`, last packet.
    pub const END_TIME: &str = "end_time";
    /// `Utf8`, originator address.
    pub const SRC_ADDR: &str = "src_addr";
    /// `Utf8`, responder address.
    pub const DST_ADDR: &str = "dst_addr";
    /// `UInt16` (Int32 accepted).
    pub const SRC_PORT: &str = "src_port";
    /// `UInt16` (Int32 accepted).
    pub const DST_PORT: &str = "dst_port";
    /// `UInt8`, IANA number.
    pub const PROTOCOL: &str = "protocol";
    /// `UInt64`.
    pub const BYTES_SENT: &str = "bytes_sent";
    /// `UInt64`.
    pub const BYTES_RECEIVED: &str = "bytes_received";
    /// `UInt64`.
    pub const PACKETS_SENT: &str = "packets_sent";
    /// `UInt64`.
    pub const PACKETS_RECEIVED: &str = "packets_received";
    /// `Utf8`, nullable, optional.
    pub const SERVICE: &str = "service";
    /// `Utf8`, optional: the text log an imported row came from.
    pub const SOURCE_FILE: &str = "source_file";
    /// `UInt64`, optional: the row's ordinal in `source_file` (its identity row).
    pub const SOURCE_ROW: &str = "source_row";
}

/// Canonical column names of event archives.
pub mod event_columns {
    /// `Timestamp(Microsecond, UTC)`.
    pub const TIME: &str = "time";
    /// `Utf8`.
    pub const SRC_ADDR: &str = "src_addr";
    /// `Utf8`.
    pub const DST_ADDR: &str = "dst_addr";
    /// `Utf8`.
    pub const SIGNATURE: &str = "signature";
    /// `Int32`.
    pub const SEVERITY: &str = "severity";
    /// `Utf8`.
    pub const CATEGORY: &str = "category";
}
