//! `flowpat generate`: a deterministic synthetic flow archive for tests, demos and benchmarks.
//!
//! Real archives cannot be shipped, yet every catalog pattern needs data that exercises its
//! boundaries. This module writes an archive in the canonical layout of `flow-model.md`
//! (`flows/part-NNNN.parquet`, `events/events.parquet`, `networks.csv`) with a realistic mix
//! (mostly TCP/UDP, some ICMP, ICMPv6, GRE and ESP; heavy-tailed sizes and durations; ~5 % IPv6;
//! a few thousand internal hosts and many external ones; popular servers) and, spread through
//! it, *planted* records that sit exactly on every threshold of the catalog (ports 1024/1025,
//! `bytesSent` 1000000/1000001, ratio exactly 10, duration 0, 1 µs and exactly 1 s, FTP event
//! lags 0, 1 µs, 24 h and 24 h + 1 µs, bytes per packet at each protocol minimum and at 65535,
//! port-jumping pairs with 2 and 3 ports, TCP/53 + UDP/53, port 0, dmz destinations, IPv4-mapped
//! IPv6 text, u64 extremes). Planted records use address ranges the random mix never uses
//! (`10.255.0.0/16`, `198.18.0.0/16`, `2001:db8:1:ff::/64`, `2001:db8:ff::/48`,
//! `172.16.255.0/24`), so random traffic cannot change what they mean.
//!
//! The same options give byte-identical files: randomness is a hand-written SplitMix64 seeded
//! per file, no floating point decides a value, no clock is read, and Parquet's `created_by` is
//! fixed. Files are generated in parallel; each one depends only on its own index.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{
    ArrayRef, Int32Array, StringArray, TimestampMicrosecondArray, UInt16Array, UInt64Array,
    UInt8Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::model::{event_columns as ec, flow_columns as fc};

/// 2024-03-01T00:00:00Z in microseconds: the default start of generated traffic.
pub const DEFAULT_START: i64 = 1_709_251_200_000_000;

const MICROS_PER_SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * MICROS_PER_SECOND;
const BATCH_ROWS: usize = 64 * 1024;

/// The networks file every generated archive carries.
pub const NETWORKS_CSV: &str = "# flowpat generate: site networks (longest prefix wins)\n\
10.0.0.0/8,internal\n\
192.168.0.0/16,internal\n\
2001:db8:1::/48,internal\n\
172.16.0.0/12,dmz\n\
default,external\n";

/// Parquet compression of generated files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Codec {
    /// Snappy: fast, the default.
    Snappy,
    /// Zstandard level 3: smaller.
    Zstd,
}

/// What to generate.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GenerateOptions {
    /// Number of flows (raised to the number of planted flows if smaller).
    pub rows: u64,
    /// Seed; the same seed and options give byte-identical files.
    pub seed: u64,
    /// Number of flow files (at least 1); each covers a later slice of time.
    pub files: usize,
    /// Output folder (created if missing; existing files of the same names are replaced).
    pub out_dir: PathBuf,
    /// Random events besides the planted ones; `None`: one per 200 flows.
    pub events: Option<u64>,
    /// Start of the traffic, UTC micros.
    pub start: i64,
    /// Length of the traffic period in days (at least 1).
    pub days: u32,
    /// Parquet compression.
    pub codec: Codec,
    /// Maximum rows per Parquet row group.
    pub row_group_rows: usize,
    /// Worker threads; `None`: the machine's parallelism.
    pub threads: Option<usize>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            rows: 100_000,
            seed: 1,
            files: 4,
            out_dir: PathBuf::from("archive"),
            events: None,
            start: DEFAULT_START,
            days: 7,
            codec: Codec::Snappy,
            row_group_rows: 1 << 20,
            threads: None,
        }
    }
}

/// Whether a planted record is a flow or an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PlantedKind {
    /// A flow record.
    Flow,
    /// An event record.
    Event,
}

/// Where one planted record landed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Planted {
    /// The case, `pattern/what` (`exfil/ratio-exactly-10x`); several rows may share one.
    pub case: &'static str,
    /// Flow or event.
    pub kind: PlantedKind,
    /// The file, relative to the output folder (`flows/part-0001.parquet`).
    pub file: PathBuf,
    /// 0-based row in that file.
    pub row: u64,
}

/// What was written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GenerateSummary {
    /// Flow files, in order, as paths under the output folder.
    pub flow_files: Vec<PathBuf>,
    /// The event file.
    pub events_file: PathBuf,
    /// The networks file.
    pub networks_file: PathBuf,
    /// Flows written.
    pub flow_rows: u64,
    /// Events written.
    pub event_rows: u64,
    /// Every planted record, flows in file order then events.
    pub planted: Vec<Planted>,
}

/// Errors of `generate`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GenerateError {
    /// The options cannot be honoured.
    #[error("invalid generate options: {reason}")]
    #[diagnostic(code(engine::generate::options))]
    Options {
        /// Which option and why.
        reason: &'static str,
    },
    /// The output folder already holds an archive, which new files would mix with (a smaller
    /// `--files` would leave old part files behind, read by the next run).
    #[error(
        "{} already holds an archive ({}): generate into a new or empty folder (or remove it)",
        path.display(),
        found.join(", ")
    )]
    #[diagnostic(code(engine::generate::archive_exists))]
    ArchiveExists {
        /// The output folder.
        path: PathBuf,
        /// What of an archive it holds (`flows/`, `networks.csv`, …).
        found: Vec<String>,
    },
    /// Writing a file or folder failed.
    #[error("cannot write {}: {source}", path.display())]
    #[diagnostic(code(engine::generate::io))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("cannot write Parquet {}: {source}", path.display())]
    #[diagnostic(code(engine::generate::parquet))]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (a bug: the schema is fixed).
    #[error("cannot build an Arrow batch for {}: {source}", path.display())]
    #[diagnostic(code(engine::generate::arrow))]
    Arrow {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// The canonical flow schema, as written by `generate` and `import`.
pub fn flow_schema() -> SchemaRef {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new(fc::START_TIME, time.clone(), false),
        Field::new(fc::END_TIME, time, false),
        Field::new(fc::SRC_ADDR, DataType::Utf8, false),
        Field::new(fc::DST_ADDR, DataType::Utf8, false),
        Field::new(fc::SRC_PORT, DataType::UInt16, false),
        Field::new(fc::DST_PORT, DataType::UInt16, false),
        Field::new(fc::PROTOCOL, DataType::UInt8, false),
        Field::new(fc::BYTES_SENT, DataType::UInt64, false),
        Field::new(fc::BYTES_RECEIVED, DataType::UInt64, false),
        Field::new(fc::PACKETS_SENT, DataType::UInt64, false),
        Field::new(fc::PACKETS_RECEIVED, DataType::UInt64, false),
        Field::new(fc::SERVICE, DataType::Utf8, true),
    ]))
}

/// The canonical event schema.
pub fn event_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            ec::TIME,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new(ec::SRC_ADDR, DataType::Utf8, false),
        Field::new(ec::DST_ADDR, DataType::Utf8, false),
        Field::new(ec::SIGNATURE, DataType::Utf8, false),
        Field::new(ec::SEVERITY, DataType::Int32, false),
        Field::new(ec::CATEGORY, DataType::Utf8, true),
    ]))
}

/// Writes the archive described by `opts` and says where every planted record is.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    if opts.files == 0 {
        return Err(GenerateError::Options {
            reason: "at least one flow file is needed",
        });
    }
    if opts.days == 0 {
        return Err(GenerateError::Options {
            reason: "the traffic period must be at least one day",
        });
    }
    if opts.row_group_rows == 0 {
        return Err(GenerateError::Options {
            reason: "row groups must hold at least one row",
        });
    }
    let planted = planted_flows();
    let total_rows = opts.rows.max(planted.len() as u64);
    if opts.files as u64 > total_rows {
        return Err(GenerateError::Options {
            reason: "more flow files than flows",
        });
    }
    let span = i64::from(opts.days) * DAY;
    let step = (span / i64::try_from(total_rows).unwrap_or(i64::MAX)).max(1);
    let world = World::new(total_rows, opts.seed);
    let n_planted = planted.len() as u64;
    // Planted flows sit at evenly spread rows, so every file gets some and every time slice
    // is represented; their start is exactly on the row's time step.
    let slots: Vec<(u64, &PlantedFlow)> = planted
        .iter()
        .enumerate()
        .map(|(j, flow)| ((2 * j as u64 + 1) * total_rows / (2 * n_planted), flow))
        .collect();
    let plan = Plan {
        opts,
        world: &world,
        slots: &slots,
        total_rows,
        step,
    };

    let found = archive_entries(&opts.out_dir);
    if !found.is_empty() {
        return Err(GenerateError::ArchiveExists {
            path: opts.out_dir.clone(),
            found,
        });
    }
    for dir in [opts.out_dir.join("flows"), opts.out_dir.join("events")] {
        std::fs::create_dir_all(&dir).map_err(|source| GenerateError::Io { path: dir, source })?;
    }
    let networks_file = PathBuf::from("networks.csv");
    let networks_path = opts.out_dir.join(&networks_file);
    std::fs::write(&networks_path, NETWORKS_CSV).map_err(|source| GenerateError::Io {
        path: networks_path,
        source,
    })?;

    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, opts.files);
    let next_file = AtomicUsize::new(0);
    let results: Mutex<Vec<FileOutcome>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let file_idx = next_file.fetch_add(1, Ordering::Relaxed);
                if file_idx >= opts.files {
                    break;
                }
                let result = plan.write_flow_file(file_idx);
                results
                    .lock()
                    .expect("no generator thread panics while holding the lock")
                    .push((file_idx, result));
            });
        }
    });
    let mut results = results.into_inner().expect("generator threads finished");
    results.sort_by_key(|(idx, _)| *idx);
    let mut planted_out = Vec::new();
    for (_, result) in results {
        planted_out.extend(result?);
    }
    let flow_files = (0..opts.files).map(flow_file_name).collect();

    let (event_rows, planted_events) = plan.write_events()?;
    planted_out.extend(planted_events);
    Ok(GenerateSummary {
        flow_files,
        events_file: PathBuf::from("events/events.parquet"),
        networks_file,
        flow_rows: total_rows,
        event_rows,
        planted: planted_out,
    })
}

/// What of an archive `dir` already holds: `flows/`, `events/`, `networks.csv` and part files,
/// in that order (nothing for a missing or empty folder).
fn archive_entries(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for (name, shown) in [
        ("flows", "flows/"),
        ("events", "events/"),
        ("networks.csv", "networks.csv"),
    ] {
        if dir.join(name).exists() {
            found.push(shown.to_string());
        }
    }
    let mut parts: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("part-") && n.ends_with(".parquet"))
        .collect();
    parts.sort();
    found.extend(parts);
    found
}

/// A flow file's index and what writing it gave.
type FileOutcome = (usize, Result<Vec<Planted>, GenerateError>);

fn flow_file_name(file_idx: usize) -> PathBuf {
    PathBuf::from(format!("flows/part-{file_idx:04}.parquet"))
}

// ---- randomness ---------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and the same everywhere (no dependency's algorithm can change).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000`.
    fn per_mille(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Heavy-tailed in `1..=2^max_bits`: a uniformly chosen bit length, then a uniform value
    /// of that length (log-uniform), skewed further towards small values.
    fn heavy(&mut self, max_bits: u32) -> u64 {
        let cap = self.below(u64::from(max_bits)) + 1;
        let bits = self.below(cap) as u32;
        (1u64 << bits) + self.below(1u64 << bits)
    }

    /// An index in `0..n` where low indices are much more likely (popular hosts).
    fn popular(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        let c = self.below(n);
        a.min(b).min(c)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---- the simulated site -------------------------------------------------------------------

/// Address pools of the simulated site, as text (formatted once, shared by all files).
struct World {
    internal_v4: Vec<String>,
    internal_v6: Vec<String>,
    dmz: Vec<String>,
    external_v4: Vec<String>,
    external_v6: Vec<String>,
}

/// First octets of "public" external IPv4 addresses: none private, reserved or planted.
const EXTERNAL_FIRST_OCTETS: [u8; 24] = [
    5, 23, 31, 37, 45, 52, 54, 62, 77, 81, 91, 104, 109, 141, 151, 154, 176, 185, 193, 195, 199,
    203, 212, 217,
];

impl World {
    fn new(total_rows: u64, seed: u64) -> World {
        let n_internal = 3_000usize;
        let internal_v4 = (0..n_internal)
            .map(|i| {
                if i % 10 == 9 {
                    format!("192.168.{}.{}", 1 + (i / 250) % 250, 1 + i % 250)
                } else {
                    format!("10.{}.{}.{}", i / 62_500, 1 + (i / 250) % 250, 1 + i % 250)
                }
            })
            .collect();
        let internal_v6 = (0..200usize)
            .map(|i| format!("2001:db8:1:{:x}::{:x}", i / 50, 0x10 + i % 50))
            .collect();
        let dmz = (0..40usize)
            .map(|i| format!("172.16.{}.{}", i / 20, 10 + i % 20))
            .collect();
        let n_external = (total_rows / 16).clamp(2_000, 1_000_000) as usize;
        let external_v4 = (0..n_external as u64)
            .map(|i| {
                let h = mix(seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
                let first =
                    EXTERNAL_FIRST_OCTETS[(h % EXTERNAL_FIRST_OCTETS.len() as u64) as usize];
                format!(
                    "{first}.{}.{}.{}",
                    (h >> 8) & 0xff,
                    (h >> 16) & 0xff,
                    1 + (h >> 24) % 254
                )
            })
            .collect();
        let external_v6 = (0..(n_external / 20) as u64)
            .map(|i| {
                let h = mix(seed ^ 0x6666 ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
                format!(
                    "2a0{}:{:x}:{:x}::{:x}",
                    1 + h % 9,
                    (h >> 8) & 0xffff,
                    (h >> 24) & 0xffff,
                    1 + (h >> 40) % 0xfffe
                )
            })
            .collect();
        World {
            internal_v4,
            internal_v6,
            dmz,
            external_v4,
            external_v6,
        }
    }
}

/// Popular server ports with their service labels; weights favour the first entries.
const SERVER_PORTS: [(u16, Option<&str>); 16] = [
    (443, Some("ssl")),
    (80, Some("http")),
    (53, Some("dns")),
    (443, None),
    (22, Some("ssh")),
    (25, Some("smtp")),
    (123, Some("ntp")),
    (993, Some("imaps")),
    (445, Some("smb")),
    (3389, Some("rdp")),
    (8080, Some("http")),
    (21, Some("ftp")),
    (389, Some("ldap")),
    (5353, Some("dns")),
    (1194, None),
    (0, None),
];

/// One flow row in plain values, before it goes into column builders.
#[derive(Clone, Debug)]
struct FlowRow<'a> {
    start: i64,
    end: i64,
    src: &'a str,
    dst: &'a str,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    bytes_sent: u64,
    bytes_received: u64,
    packets_sent: u64,
    packets_received: u64,
    service: Option<&'a str>,
}

/// Minimum bytes per packet of a protocol (flow-model catalog entry 5).
fn min_packet(protocol: u8) -> u64 {
    match protocol {
        6 => 40,
        17 | 1 => 28,
        _ => 20,
    }
}

impl World {
    /// A random flow starting at `start`.
    fn random_flow<'w>(&'w self, rng: &mut Rng, start: i64) -> FlowRow<'w> {
        let v6 = rng.per_mille(50);
        let pick = |rng: &mut Rng, pool: &'w [String]| -> &'w str {
            &pool[rng.popular(pool.len() as u64) as usize]
        };
        let internal = |rng: &mut Rng| {
            if v6 {
                pick(rng, &self.internal_v6)
            } else {
                pick(rng, &self.internal_v4)
            }
        };
        let external = |rng: &mut Rng| {
            if v6 {
                pick(rng, &self.external_v6)
            } else {
                pick(rng, &self.external_v4)
            }
        };
        let direction = rng.below(100);
        let (src, dst) = match direction {
            0..=69 => (internal(rng), external(rng)),
            70..=84 => (external(rng), internal(rng)),
            85..=94 => (internal(rng), internal(rng)),
            _ if v6 => (internal(rng), external(rng)),
            _ => (
                if rng.per_mille(500) {
                    internal(rng)
                } else {
                    external(rng)
                },
                pick(rng, &self.dmz),
            ),
        };
        let kind = rng.below(1000);
        let protocol: u8 = match kind {
            0..=739 => 6,
            740..=949 => 17,
            950..=979 => {
                if v6 {
                    58
                } else {
                    1
                }
            }
            980..=994 => 47,
            _ => 50,
        };
        let (src_port, dst_port, service) = match protocol {
            6 | 17 => {
                let client = if rng.per_mille(30) {
                    rng.below(1025) as u16
                } else {
                    1024 + rng.below(64_512) as u16
                };
                if rng.per_mille(200) {
                    (client, 1024 + rng.below(64_512) as u16, None)
                } else {
                    let (port, service) =
                        SERVER_PORTS[rng.popular(SERVER_PORTS.len() as u64) as usize];
                    (client, port, service)
                }
            }
            // ICMP and ICMPv6 carry type and code in the ports, as Zeek and Argus write them.
            1 => (
                [8u16, 0, 3, 11][rng.below(4) as usize],
                rng.below(4) as u16,
                None,
            ),
            58 => ([128u16, 129, 135, 136][rng.below(4) as usize], 0, None),
            _ => (0, 0, None),
        };
        let min = min_packet(protocol);
        let packets_sent = rng.heavy(16);
        let packets_received = if rng.per_mille(150) { 0 } else { rng.heavy(16) };
        let size = |rng: &mut Rng| min + rng.below(1_501 - min);
        let mut bytes_sent = packets_sent * size(rng);
        let mut bytes_received = packets_received * size(rng);
        let mut packets_sent = packets_sent;
        // A few anomalies: exfiltration-like uploads and broken counters.
        match rng.below(10_000) {
            0..=4 => {
                bytes_sent = 1_000_000 + rng.heavy(30);
                packets_sent = bytes_sent / 1_200 + 1;
                bytes_received = rng.below(bytes_sent / 5);
            }
            5..=7 => bytes_sent = packets_sent * (min - 1),
            8 => packets_sent = 0,
            _ => {}
        }
        let duration = if packets_sent + packets_received <= 1 || rng.per_mille(100) {
            0
        } else if rng.per_mille(1) {
            -(rng.heavy(20) as i64)
        } else {
            rng.heavy(32) as i64
        };
        FlowRow {
            start,
            end: start + duration,
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            bytes_sent,
            bytes_received,
            packets_sent,
            packets_received,
            service,
        }
    }
}

// ---- planted records ----------------------------------------------------------------------

/// A planted flow: exact values, placed at a fixed row.
#[derive(Clone, Debug)]
struct PlantedFlow {
    case: &'static str,
    src: &'static str,
    dst: &'static str,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    duration: i64,
    bytes_sent: u64,
    bytes_received: u64,
    packets_sent: u64,
    packets_received: u64,
    service: Option<&'static str>,
}

/// Packets for `bytes` at ~1000 bytes each: valid for every protocol.
fn packets_for(bytes: u64) -> u64 {
    if bytes == 0 {
        0
    } else {
        (bytes / 1_000).max(1)
    }
}

/// A neutral TCP flow between planted hosts: matches nothing on its own.
fn neutral(case: &'static str, src: &'static str, dst: &'static str) -> PlantedFlow {
    PlantedFlow {
        case,
        src,
        dst,
        src_port: 40_000,
        dst_port: 443,
        protocol: 6,
        duration: 500_000,
        bytes_sent: 4_000,
        bytes_received: 8_000,
        packets_sent: 10,
        packets_received: 12,
        service: None,
    }
}

fn with_ports(mut flow: PlantedFlow, src_port: u16, dst_port: u16) -> PlantedFlow {
    flow.src_port = src_port;
    flow.dst_port = dst_port;
    flow
}

fn with_bytes(mut flow: PlantedFlow, sent: (u64, u64), received: (u64, u64)) -> PlantedFlow {
    (flow.bytes_sent, flow.packets_sent) = sent;
    (flow.bytes_received, flow.packets_received) = received;
    flow
}

fn with_protocol(mut flow: PlantedFlow, protocol: u8) -> PlantedFlow {
    flow.protocol = protocol;
    flow
}

fn with_duration(mut flow: PlantedFlow, duration: i64) -> PlantedFlow {
    flow.duration = duration;
    flow
}

/// Every planted flow, in placement order.
fn planted_flows() -> Vec<PlantedFlow> {
    const H: &str = "10.255.0.1";
    const X: &str = "198.18.0.1";
    let mut flows = Vec::new();

    // 1. Ephemeral TCP: srcPort > 1024, destPort > 1024, duration > 0, bytesSent > 0.
    let eph = |case, src, dst| with_ports(neutral(case, src, dst), 5_000, 5_001);
    flows.push(with_bytes(
        with_duration(
            with_ports(
                neutral("eph/match-ports-1025-duration-1us", H, X),
                1025,
                1025,
            ),
            1,
        ),
        (40, 1),
        (40, 1),
    ));
    flows.push(with_ports(neutral("eph/src-port-1024", H, X), 1024, 1025));
    flows.push(with_ports(neutral("eph/dst-port-1024", H, X), 1025, 1024));
    flows.push(with_duration(eph("eph/duration-0", H, X), 0));
    flows.push(with_duration(
        eph("eph/duration-negative", H, X),
        -MICROS_PER_SECOND,
    ));
    flows.push(with_bytes(
        eph("eph/bytes-sent-0", H, X),
        (0, 0),
        (8_000, 12),
    ));
    flows.push(with_bytes(
        eph("eph/bytes-sent-1", H, X),
        (1, 1),
        (8_000, 12),
    ));
    flows.push(with_protocol(eph("eph/udp", H, X), 17));
    flows.push(eph("eph/to-dmz", H, "172.16.255.1"));
    flows.push(eph("eph/ipv6", "2001:db8:1:ff::1", "2001:db8:ff::1"));
    flows.push(eph("eph/mapped-ipv4-source", "::ffff:10.255.0.3", X));
    flows.push(eph("eph/from-external", "198.18.1.1", X));
    flows.push(eph("eph/internal-to-internal", H, "10.255.0.2"));

    // 2. Exfiltration: bytesSent > 1000000, bytesSent >= 10 * bytesReceived, duration > 1 s.
    let exfil = |case, sent: u64, received: u64, duration| {
        with_duration(
            with_bytes(
                neutral(case, H, X),
                (sent, packets_for(sent)),
                (received, packets_for(received)),
            ),
            duration,
        )
    };
    let just_over_1s = MICROS_PER_SECOND + 1;
    flows.push(exfil(
        "exfil/sent-1000001-received-0",
        1_000_001,
        0,
        just_over_1s,
    ));
    flows.push(exfil(
        "exfil/sent-exactly-1000000",
        1_000_000,
        0,
        2 * MICROS_PER_SECOND,
    ));
    flows.push(exfil(
        "exfil/ratio-exactly-10x",
        2_000_000,
        200_000,
        2 * MICROS_PER_SECOND,
    ));
    flows.push(exfil(
        "exfil/ratio-just-below-10x",
        2_000_000,
        200_001,
        2 * MICROS_PER_SECOND,
    ));
    flows.push(exfil(
        "exfil/duration-exactly-1s",
        5_000_000,
        0,
        MICROS_PER_SECOND,
    ));
    flows.push(exfil(
        "exfil/u64-extremes",
        u64::MAX,
        u64::MAX / 10,
        2 * MICROS_PER_SECOND,
    ));
    let mut to_dmz = exfil("exfil/to-dmz", 2_000_000, 0, 2 * MICROS_PER_SECOND);
    to_dmz.dst = "172.16.255.2";
    flows.push(to_dmz);

    // 3 and 4. FTP: TCP from an internal host to an external one on port 21; events below.
    let mut ftp = with_ports(neutral("ftp/flow", "10.255.2.1", "198.18.2.1"), 40_001, 21);
    ftp.service = Some("ftp");
    flows.push(ftp.clone());
    let mut ftp_udp = with_protocol(ftp.clone(), 17);
    (ftp_udp.case, ftp_udp.src) = ("ftp/udp-port-21", "10.255.2.2");
    flows.push(ftp_udp);
    let mut ftp_internal = ftp.clone();
    (ftp_internal.case, ftp_internal.src, ftp_internal.dst) =
        ("ftp/to-internal", "10.255.2.3", "10.255.2.4");
    flows.push(ftp_internal);

    // 5. Invalid IP packets: bytes per packet below the protocol minimum or above 65535, or
    // one of bytes/packets zero while the other is not.
    let pkt = |case, protocol, sent: (u64, u64), received: (u64, u64)| {
        let flow = with_protocol(neutral(case, H, X), protocol);
        let flow = match protocol {
            1 => with_ports(flow, 8, 0),
            6 | 17 => flow,
            _ => with_ports(flow, 0, 0),
        };
        with_bytes(flow, sent, received)
    };
    flows.push(pkt("pkt/tcp-40-at-min", 6, (40, 1), (0, 0)));
    flows.push(pkt("pkt/tcp-39-below", 6, (39, 1), (0, 0)));
    flows.push(pkt("pkt/tcp-120-over-3-at-min", 6, (120, 3), (0, 0)));
    flows.push(pkt("pkt/tcp-119-over-3-below", 6, (119, 3), (0, 0)));
    flows.push(pkt("pkt/udp-28-at-min", 17, (28, 1), (0, 0)));
    flows.push(pkt("pkt/udp-27-below", 17, (27, 1), (0, 0)));
    flows.push(pkt("pkt/icmp-28-at-min", 1, (28, 1), (28, 1)));
    flows.push(pkt("pkt/icmp-27-below", 1, (27, 1), (28, 1)));
    let mut v6 = pkt("pkt/icmpv6-20-at-min", 58, (20, 1), (0, 0));
    (v6.src, v6.dst, v6.src_port) = ("2001:db8:1:ff::2", "2001:db8:ff::2", 128);
    flows.push(v6.clone());
    (v6.case, v6.bytes_sent) = ("pkt/icmpv6-19-below", 19);
    flows.push(v6.clone());
    let mut udp6 = with_ports(v6, 5_353, 53);
    (udp6.case, udp6.protocol, udp6.bytes_sent) = ("pkt/udp-ipv6-27-below", 17, 27);
    flows.push(udp6);
    flows.push(pkt("pkt/gre-20-at-min", 47, (20, 1), (20, 1)));
    flows.push(pkt("pkt/gre-19-below", 47, (19, 1), (20, 1)));
    flows.push(pkt("pkt/bytes-65535-at-max", 6, (65_535, 1), (0, 0)));
    flows.push(pkt("pkt/bytes-65536-above-max", 6, (65_536, 1), (0, 0)));
    flows.push(pkt("pkt/bytes-without-packets", 6, (100, 0), (0, 0)));
    flows.push(pkt("pkt/packets-without-bytes", 6, (0, 3), (0, 0)));
    flows.push(pkt("pkt/received-below", 6, (400, 1), (10, 1)));
    flows.push(pkt("pkt/both-directions-zero", 6, (0, 0), (0, 0)));
    flows.push(pkt("pkt/u64-packets", 6, (u64::MAX, u64::MAX), (0, 0)));

    // 6. Port jumping: >= 3 distinct destination ports < 1024 from one internal host to one
    // external host, TCP or UDP; TCP/53 and UDP/53 are one port; port 0 counts.
    let pj = |case, src, dst, protocol, port| {
        with_protocol(with_ports(neutral(case, src, dst), 40_002, port), protocol)
    };
    let (a, b, c, d, e, f, g) = (
        ("10.255.3.1", "198.18.3.1"),
        ("10.255.3.2", "198.18.3.2"),
        ("10.255.3.3", "198.18.3.3"),
        ("10.255.3.4", "198.18.3.4"),
        ("10.255.3.5", "198.18.3.5"),
        ("10.255.3.6", "198.18.3.6"),
        ("10.255.3.7", "198.18.3.7"),
    );
    for port in [22, 80] {
        flows.push(pj("pj/two-ports", a.0, a.1, 6, port));
    }
    for port in [22, 80, 443, 22] {
        flows.push(pj("pj/three-ports-four-conns", b.0, b.1, 6, port));
    }
    for (protocol, port) in [(6, 53), (17, 53), (6, 80)] {
        flows.push(pj("pj/tcp53-udp53-one-port", c.0, c.1, protocol, port));
    }
    for (protocol, port) in [(6, 53), (17, 53), (6, 80), (17, 0)] {
        flows.push(pj("pj/port-0-counts", d.0, d.1, protocol, port));
    }
    for port in [22, 80, 1024] {
        flows.push(pj("pj/port-1024-excluded", e.0, e.1, 6, port));
    }
    for port in [22, 80, 1023] {
        flows.push(pj("pj/port-1023-included", f.0, f.1, 6, port));
    }
    for (protocol, port) in [(6, 22), (6, 80), (1, 0)] {
        flows.push(pj("pj/icmp-not-counted", g.0, g.1, protocol, port));
    }
    for port in [22, 80, 443] {
        flows.push(pj(
            "pj/external-source",
            "198.18.3.99",
            "10.255.3.99",
            6,
            port,
        ));
    }
    for port in [22, 80, 443] {
        flows.push(pj("pj/to-dmz", "10.255.3.8", "172.16.255.3", 17, port));
    }
    flows
}

/// Planted events: `(case, flow case it refers to, lag before that flow's start, src, dst)`.
const PLANTED_EVENTS: [(&str, &str, i64, &str, &str); 8] = [
    ("ftp/event-lag-0", "ftp/flow", 0, "198.18.9.9", "10.255.2.1"),
    (
        "ftp/event-lag-1us",
        "ftp/flow",
        1,
        "198.18.9.9",
        "10.255.2.1",
    ),
    (
        "ftp/event-lag-24h",
        "ftp/flow",
        DAY,
        "198.18.9.9",
        "10.255.2.1",
    ),
    (
        "ftp/event-lag-24h-1us",
        "ftp/flow",
        DAY + 1,
        "198.18.9.9",
        "10.255.2.1",
    ),
    (
        "ftp/event-after-flow",
        "ftp/flow",
        -MICROS_PER_SECOND,
        "198.18.9.9",
        "10.255.2.1",
    ),
    (
        "ftp/event-udp-host",
        "ftp/udp-port-21",
        MICROS_PER_SECOND,
        "198.18.9.9",
        "10.255.2.2",
    ),
    (
        "ftp/event-internal-dst-flow",
        "ftp/to-internal",
        MICROS_PER_SECOND,
        "198.18.9.9",
        "10.255.2.3",
    ),
    (
        "ftp/event-about-external",
        "ftp/flow",
        MICROS_PER_SECOND,
        "10.255.2.1",
        "198.18.2.1",
    ),
];

const SIGNATURES: [(&str, &str, i32); 8] = [
    ("ET SCAN Potential SSH Scan", "attempted-recon", 2),
    ("ET POLICY FTP Login Successful", "policy-violation", 3),
    ("ET TROJAN Generic Beacon", "trojan-activity", 1),
    ("ET INFO Suspicious User-Agent", "misc-activity", 3),
    (
        "SURICATA STREAM 3way handshake wrong seq",
        "protocol-command-decode",
        3,
    ),
    ("ET EXPLOIT Possible SMB Exploit", "attempted-admin", 1),
    ("ET DNS Query for Suspicious Domain", "bad-unknown", 2),
    (
        "ET WEB_SERVER SQL Injection Attempt",
        "web-application-attack",
        1,
    ),
];

// ---- writing ------------------------------------------------------------------------------

/// Everything the per-file writers share.
struct Plan<'a> {
    opts: &'a GenerateOptions,
    world: &'a World,
    slots: &'a [(u64, &'a PlantedFlow)],
    total_rows: u64,
    step: i64,
}

impl Plan<'_> {
    fn properties(&self) -> WriterProperties {
        let compression = match self.opts.codec {
            Codec::Snappy => Compression::SNAPPY,
            Codec::Zstd => Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()),
        };
        WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.opts.row_group_rows))
            .set_created_by("flowpat generate".to_string())
            // Address columns stay dictionary-encoded for a whole row group (the default 1 MiB
            // dictionary limit would fall back to plain pages after ~70 k distinct addresses),
            // so readers can label each distinct address once per row group.
            .set_column_dictionary_page_size_limit(ColumnPath::from(fc::SRC_ADDR), 64 << 20)
            .set_column_dictionary_page_size_limit(ColumnPath::from(fc::DST_ADDR), 64 << 20)
            .build()
    }

    fn row_start(&self, row: u64) -> i64 {
        self.opts.start
            + i64::try_from(row)
                .unwrap_or(i64::MAX)
                .saturating_mul(self.step)
    }

    /// Writes flow file `file_idx` (its share of the rows, in time order).
    fn write_flow_file(&self, file_idx: usize) -> Result<Vec<Planted>, GenerateError> {
        let files = self.opts.files as u64;
        let first = file_idx as u64 * self.total_rows / files;
        let last = (file_idx as u64 + 1) * self.total_rows / files;
        let rel = flow_file_name(file_idx);
        let path = self.opts.out_dir.join(&rel);
        let out = File::create(&path).map_err(|source| GenerateError::Io {
            path: path.clone(),
            source,
        })?;
        let parquet_error = |source| GenerateError::Parquet {
            path: path.clone(),
            source,
        };
        let schema = flow_schema();
        let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(self.properties()))
            .map_err(parquet_error)?;
        let mut rng = Rng::new(self.opts.seed, file_idx as u64 + 1);
        let mut slot = self.slots.partition_point(|(row, _)| *row < first);
        let mut planted = Vec::new();
        let mut rows: Vec<FlowRow> = Vec::with_capacity(BATCH_ROWS);
        for row in first..last {
            let start = self.row_start(row);
            let flow = match self.slots.get(slot) {
                Some((slot_row, p)) if *slot_row == row => {
                    slot += 1;
                    planted.push(Planted {
                        case: p.case,
                        kind: PlantedKind::Flow,
                        file: rel.clone(),
                        row: row - first,
                    });
                    FlowRow {
                        start,
                        end: start + p.duration,
                        src: p.src,
                        dst: p.dst,
                        src_port: p.src_port,
                        dst_port: p.dst_port,
                        protocol: p.protocol,
                        bytes_sent: p.bytes_sent,
                        bytes_received: p.bytes_received,
                        packets_sent: p.packets_sent,
                        packets_received: p.packets_received,
                        service: p.service,
                    }
                }
                _ => {
                    let jitter = rng.below(self.step as u64) as i64;
                    self.world.random_flow(&mut rng, start + jitter)
                }
            };
            rows.push(flow);
            if rows.len() == BATCH_ROWS {
                let batch = flow_batch(&schema, &rows).map_err(|source| GenerateError::Arrow {
                    path: path.clone(),
                    source,
                })?;
                writer.write(&batch).map_err(parquet_error)?;
                rows.clear();
            }
        }
        if !rows.is_empty() {
            let batch = flow_batch(&schema, &rows).map_err(|source| GenerateError::Arrow {
                path: path.clone(),
                source,
            })?;
            writer.write(&batch).map_err(parquet_error)?;
        }
        writer.close().map_err(parquet_error)?;
        Ok(planted)
    }

    /// Writes the event file: random events about internal hosts plus the planted FTP events,
    /// sorted by time. Returns the row count and where the planted events landed.
    fn write_events(&self) -> Result<(u64, Vec<Planted>), GenerateError> {
        struct EventRow<'a> {
            time: i64,
            src: &'a str,
            dst: &'a str,
            signature: &'a str,
            severity: i32,
            category: Option<&'a str>,
            planted: Option<&'static str>,
        }
        let flow_start = |case: &str| -> Option<i64> {
            let (row, _) = self.slots.iter().find(|(_, p)| p.case == case)?;
            Some(self.row_start(*row))
        };
        let mut rng = Rng::new(self.opts.seed, 0xE5E5_E5E5);
        let n_random = self.opts.events.unwrap_or(self.total_rows / 200);
        let span = i64::from(self.opts.days) * DAY;
        let world = self.world;
        // Events concern "some" internal hosts: the most active tenth of them.
        let watched = (world.internal_v4.len() / 10).max(1) as u64;
        let mut events: Vec<EventRow> =
            Vec::with_capacity(n_random as usize + PLANTED_EVENTS.len());
        for _ in 0..n_random {
            let (signature, category, severity) =
                SIGNATURES[rng.popular(SIGNATURES.len() as u64) as usize];
            let internal = world.internal_v4[rng.popular(watched) as usize].as_str();
            let external =
                world.external_v4[rng.popular(world.external_v4.len() as u64) as usize].as_str();
            let (src, dst) = if rng.per_mille(800) {
                (external, internal)
            } else {
                (internal, external)
            };
            events.push(EventRow {
                time: self.opts.start + rng.below(span as u64) as i64,
                src,
                dst,
                signature,
                severity,
                category: (!rng.per_mille(20)).then_some(category),
                planted: None,
            });
        }
        for (case, flow_case, lag, src, dst) in PLANTED_EVENTS {
            let Some(start) = flow_start(flow_case) else {
                continue;
            };
            events.push(EventRow {
                time: start - lag,
                src,
                dst,
                signature: "ET POLICY FTP Login Successful",
                severity: 3,
                category: Some("policy-violation"),
                planted: Some(case),
            });
        }
        // Stable sort: equal times keep generation order, so the output is deterministic.
        events.sort_by_key(|e| e.time);
        let rel = PathBuf::from("events/events.parquet");
        let path = self.opts.out_dir.join(&rel);
        let planted = events
            .iter()
            .enumerate()
            .filter_map(|(row, e)| {
                e.planted.map(|case| Planted {
                    case,
                    kind: PlantedKind::Event,
                    file: rel.clone(),
                    row: row as u64,
                })
            })
            .collect();
        let out = File::create(&path).map_err(|source| GenerateError::Io {
            path: path.clone(),
            source,
        })?;
        let parquet_error = |source| GenerateError::Parquet {
            path: path.clone(),
            source,
        };
        let schema = event_schema();
        let mut writer = ArrowWriter::try_new(out, Arc::clone(&schema), Some(self.properties()))
            .map_err(parquet_error)?;
        for chunk in events.chunks(BATCH_ROWS) {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(chunk.iter().map(|e| e.time))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.src))),
                Arc::new(StringArray::from_iter_values(chunk.iter().map(|e| e.dst))),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|e| e.signature),
                )),
                Arc::new(Int32Array::from_iter_values(
                    chunk.iter().map(|e| e.severity),
                )),
                Arc::new(chunk.iter().map(|e| e.category).collect::<StringArray>()),
            ];
            let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|source| {
                GenerateError::Arrow {
                    path: path.clone(),
                    source,
                }
            })?;
            writer.write(&batch).map_err(parquet_error)?;
        }
        writer.close().map_err(parquet_error)?;
        Ok((events.len() as u64, planted))
    }
}

fn flow_batch(
    schema: &SchemaRef,
    rows: &[FlowRow],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.start))
                .with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.end))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.src))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.dst))),
        Arc::new(UInt16Array::from_iter_values(
            rows.iter().map(|r| r.src_port),
        )),
        Arc::new(UInt16Array::from_iter_values(
            rows.iter().map(|r| r.dst_port),
        )),
        Arc::new(UInt8Array::from_iter_values(
            rows.iter().map(|r| r.protocol),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.bytes_sent),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.bytes_received),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.packets_sent),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.packets_received),
        )),
        Arc::new(rows.iter().map(|r| r.service).collect::<StringArray>()),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{self, FlowColumns, ReadOptions};
    use std::path::Path;

    fn run(dir: &Path, rows: u64, seed: u64, files: usize) -> GenerateSummary {
        generate(&GenerateOptions {
            rows,
            seed,
            files,
            out_dir: dir.to_path_buf(),
            threads: Some(2),
            ..GenerateOptions::default()
        })
        .expect("generates")
    }

    fn bytes_of(dir: &Path, summary: &GenerateSummary) -> Vec<Vec<u8>> {
        summary
            .flow_files
            .iter()
            .chain([&summary.events_file, &summary.networks_file])
            .map(|rel| std::fs::read(dir.join(rel)).expect("read"))
            .collect()
    }

    #[test]
    fn same_seed_gives_identical_files() {
        let (a, b, c) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let sa = run(a.path(), 5_000, 42, 3);
        let sb = generate(&GenerateOptions {
            rows: 5_000,
            seed: 42,
            files: 3,
            out_dir: b.path().to_path_buf(),
            threads: Some(1),
            ..GenerateOptions::default()
        })
        .expect("generates");
        assert_eq!(sa, sb);
        assert_eq!(bytes_of(a.path(), &sa), bytes_of(b.path(), &sb));
        let sc = run(c.path(), 5_000, 43, 3);
        assert_ne!(bytes_of(a.path(), &sa), bytes_of(c.path(), &sc));
    }

    #[test]
    fn planted_cases_are_present_and_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary = run(dir.path(), 2_000, 7, 4);
        assert_eq!(summary.flow_rows, 2_000);
        let planted = planted_flows();
        assert_eq!(
            summary
                .planted
                .iter()
                .filter(|p| p.kind == PlantedKind::Flow)
                .count(),
            planted.len()
        );
        assert_eq!(
            summary
                .planted
                .iter()
                .filter(|p| p.kind == PlantedKind::Event)
                .count(),
            PLANTED_EVENTS.len()
        );
        for p in &summary.planted {
            assert!(p.file.starts_with(if p.kind == PlantedKind::Flow {
                "flows"
            } else {
                "events"
            }));
        }

        let networks =
            load::Networks::load(&dir.path().join(&summary.networks_file)).expect("networks");
        let table = load::discover(&[dir.path().join("flows")]).expect("discover");
        assert_eq!(table.len(), 4);
        let mut conns = Vec::new();
        let mut total = 0;
        for file in table.files() {
            let report = load::read_flows(
                file,
                &FlowColumns::all(),
                &networks,
                &ReadOptions::default(),
                &mut |batch| {
                    conns.extend((0..batch.len()).map(|i| (file.display.clone(), batch.to_conn(i))))
                },
            )
            .expect("reads");
            assert_eq!(report.rows_skipped, 0, "{}", file.display);
            total += report.rows_kept;
        }
        assert_eq!(total, 2_000);
        let find = |case: &str| {
            let p = summary
                .planted
                .iter()
                .find(|p| p.case == case)
                .expect("case planted");
            let display = p
                .file
                .strip_prefix("flows")
                .expect("flow file")
                .to_string_lossy()
                .into_owned();
            conns
                .iter()
                .find(|(d, c)| *d == display && c.id.row == p.row)
                .map(|(_, c)| c.clone())
                .expect("planted row read back")
        };
        let conn = find("eph/match-ports-1025-duration-1us");
        assert_eq!(
            (conn.src_port, conn.dst_port, conn.end - conn.start),
            (1025, 1025, 1)
        );
        assert_eq!(networks.label_name(networks.label(conn.src)), "internal");
        let conn = find("exfil/ratio-exactly-10x");
        assert_eq!(conn.bytes_sent, 10 * conn.bytes_received);
        let conn = find("exfil/u64-extremes");
        assert_eq!(conn.bytes_sent, u64::MAX);
        let conn = find("eph/mapped-ipv4-source");
        assert!(conn.src.is_v4());
        let conn = find("eph/to-dmz");
        assert_eq!(networks.label_name(networks.label(conn.dst)), "dmz");
        let conn = find("pkt/icmpv6-19-below");
        assert_eq!(
            (conn.protocol, conn.bytes_sent, conn.packets_sent),
            (58, 19, 1)
        );
        let ftp = find("ftp/flow");
        assert_eq!((ftp.protocol, ftp.dst_port), (6, 21));

        // Events: the lags around the FTP flow are exact.
        let events_file =
            load::discover(&[dir.path().join(&summary.events_file)]).expect("discover");
        let mut events = Vec::new();
        load::read_events(
            &events_file.files()[0],
            &load::EventColumns::all(),
            &networks,
            &ReadOptions::default(),
            &mut |batch| events.extend((0..batch.len()).map(|i| batch.to_event(i))),
        )
        .expect("reads events");
        let lag = |case: &str| {
            let p = summary
                .planted
                .iter()
                .find(|p| p.case == case)
                .expect("event planted");
            let event = events
                .iter()
                .find(|e| e.id.row == p.row)
                .expect("event read back");
            ftp.start - event.time
        };
        assert_eq!(lag("ftp/event-lag-0"), 0);
        assert_eq!(lag("ftp/event-lag-1us"), 1);
        assert_eq!(lag("ftp/event-lag-24h"), DAY);
        assert_eq!(lag("ftp/event-lag-24h-1us"), DAY + 1);
        assert!(events.windows(2).all(|w| w[0].time <= w[1].time));

        // Flow files are time-ordered.
        let mut by_file: Vec<(String, i64, i64)> = Vec::new();
        for (display, conn) in &conns {
            match by_file.iter_mut().find(|(d, _, _)| d == display) {
                Some(entry) => {
                    entry.1 = entry.1.min(conn.start);
                    entry.2 = entry.2.max(conn.start);
                }
                None => by_file.push((display.clone(), conn.start, conn.start)),
            }
        }
        by_file.sort();
        assert!(by_file.windows(2).all(|w| w[0].2 < w[1].1), "{by_file:?}");
    }

    #[test]
    fn bad_options_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = generate(&GenerateOptions {
            files: 0,
            out_dir: dir.path().to_path_buf(),
            ..GenerateOptions::default()
        });
        assert!(matches!(err, Err(GenerateError::Options { .. })));
    }

    #[test]
    fn a_folder_holding_an_archive_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = GenerateOptions {
            rows: 2_000,
            files: 4,
            out_dir: dir.path().to_path_buf(),
            ..GenerateOptions::default()
        };
        // An existing empty folder is fine.
        generate(&opts).expect("generates into an empty folder");
        // A second generate, with fewer files, would leave part-0002/0003 behind: refused,
        // and nothing is touched.
        let again = GenerateOptions { files: 2, ..opts };
        let err = generate(&again).expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "{} already holds an archive (flows/, events/, networks.csv): generate into a \
                 new or empty folder (or remove it)",
                dir.path().display()
            )
        );
        let mut parts: Vec<String> = std::fs::read_dir(dir.path().join("flows"))
            .expect("flows")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        parts.sort();
        assert_eq!(parts.len(), 4);
        // Part files alone (an import's output) are an archive too.
        let import = tempfile::tempdir().expect("tempdir");
        std::fs::write(import.path().join("part-0000.parquet"), b"PAR1").expect("write");
        let err = generate(&GenerateOptions {
            out_dir: import.path().to_path_buf(),
            ..again
        })
        .expect_err("refused");
        assert!(
            matches!(&err, GenerateError::ArchiveExists { found, .. } if found == &["part-0000.parquet"]),
            "{err}"
        );
    }
}
