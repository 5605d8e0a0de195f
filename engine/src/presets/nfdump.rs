//! nfdump `-o csv` text.
//!
//! Two layouts are known and both are read by column name: nfdump 1.7.1
//! (`ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,…`) and 1.7.6
//! (`firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows`). Without a
//! header (`-q`) the first line must be a record: when its second field is a timestamp the
//! 1.7.1 order is assumed, otherwise the 1.7.6 order. The trailer `nfdump -o csv` appends (a
//! blank line, `Summary`, a second header and a totals row) is ignored up to the next flow
//! header, so concatenated exports also read.
//!
//! Mapping: start = `ts`/`firstSeen`; end = `te`/`lastSeen` when present (exact, e.g. durations
//! of 2^32 ms), else start + `td`/`duration`; `pr`/`proto` as a name (`TCP`) or a number; bytes
//! and packets sent = `ibyt`/`bytes` and `ipkt`/`packets`. NetFlow records are
//! unidirectional, so bytes and packets received are 0 unless `biflow_timeout` pairs the two
//! directions of a conversation (see `biflow`). `opkt`/`obyt` are kept as extra columns, not
//! mapped: they mean egress counters for plain NetFlow v9 but the reverse direction for NSEL, and
//! nfdump does not say which. nfdump prints local time: pass `tz` unless the exporter ran on UTC.
//!
//! nfdump's human-readable formats shorten IPv6 addresses (`2001:db..:1::10`); such a record is
//! rejected with its line, column and value. Export with `-o csv` (full addresses) or `-6`.

use chrono::FixedOffset;

use super::delimited::{find, require, Dialect, Mapping};
use super::time::parse_time;

/// The nfdump dialect.
pub(crate) struct Nfdump;

const START: &[&str] = &["ts", "firstSeen", "first", "tstart"];

/// Column names of a headerless 1.7.1 `-o csv` line, in order.
const LAYOUT_171: &[&str] = &[
    "ts", "te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "ipkt", "ibyt", "opkt",
    "obyt", "in", "out", "sas", "das", "smk", "dmk", "dtos", "dir", "nh", "nhb", "svln", "dvln",
    "ismc", "odmc", "idmc", "osmc", "mpls1", "mpls2", "mpls3", "mpls4", "mpls5", "mpls6", "mpls7",
    "mpls8", "mpls9", "mpls10", "cl", "sl", "al", "ra", "eng", "exid", "tr",
];

/// Column names of a headerless 1.7.6 `-o csv` line, in order.
const LAYOUT_176: &[&str] = &[
    "firstSeen",
    "duration",
    "proto",
    "srcAddr",
    "srcPort",
    "dstAddr",
    "dstPort",
    "packets",
    "bytes",
    "flows",
];

impl Dialect for Nfdump {
    fn delimiter(&self, _first_line: &str) -> char {
        ','
    }

    fn is_header(&self, fields: &[&str]) -> bool {
        fields
            .iter()
            .any(|f| START.iter().any(|s| f.eq_ignore_ascii_case(s)))
    }

    fn headerless_names(&self, fields: &[&str], tz: Option<FixedOffset>) -> Option<Vec<String>> {
        parse_time(fields.first()?, tz)?;
        let layout = match fields.get(1) {
            Some(second) if parse_time(second, tz).is_some() && second.contains(':') => LAYOUT_171,
            _ => LAYOUT_176,
        };
        Some(
            (0..fields.len())
                .map(|at| {
                    layout
                        .get(at)
                        .map_or_else(|| format!("column_{}", at + 1), |n| n.to_string())
                })
                .collect(),
        )
    }

    fn map(&self, names: &[String]) -> Result<Mapping, String> {
        Ok(Mapping {
            start: require(names, START)?,
            end: find(names, &["te", "lastSeen", "last", "tend"]),
            duration: find(names, &["td", "duration"]),
            src: require(names, &["sa", "srcAddr", "srcip"])?,
            dst: require(names, &["da", "dstAddr", "dstip"])?,
            src_port: find(names, &["sp", "srcPort"]),
            dst_port: find(names, &["dp", "dstPort"]),
            protocol: require(names, &["pr", "proto", "protocol"])?,
            bytes_sent: find(names, &["ibyt", "bytes", "byt", "inBytes"]),
            bytes_received: None,
            bytes_total: None,
            packets_sent: find(names, &["ipkt", "packets", "pkt", "inPackets"]),
            packets_received: None,
            packets_total: None,
            silk_addresses: false,
        })
    }

    fn is_trailer_start(&self, line: &str) -> bool {
        line.trim().eq_ignore_ascii_case("summary")
    }
}
