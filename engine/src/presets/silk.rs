//! SiLK `rwcut` text.
//!
//! `rwcut` prints a title line and `|`-delimited, space-padded columns with a final `|`
//! (`sIP|dIP|sPort|dPort|protocol|packets|bytes|flags|sTime|duration|eTime|sensor|`); columns are
//! found by title in any case and order, with the short titles of older releases (`pro`, `dur`,
//! `sen`) too. `--delimited=C` / `--column-separator=C` output with `,` or tab also reads.
//! Without titles (`--no-titles`) the first line must be a record in the default field order
//! `sIP,dIP,sPort,dPort,protocol,packets,bytes,flags,sTime,duration,eTime,sensor`.
//!
//! Mapping: start = `sTime` (`2009/02/12T19:26:01.123`, ISO, or `--epoch-time` seconds; SiLK
//! prints UTC unless built for local time: then pass `tz`), end = `eTime`, else start +
//! `duration`. SiLK flows are unidirectional: `packets`/`bytes` are sent, received is 0 unless
//! `biflow_timeout` pairs the directions. Addresses may be zero-padded (`--zero-pad-ips`) or
//! integers (`--integer-ips`). `flags`, `sensor`, `application`, `iType`/`iCode` and every other
//! column are extras.

use chrono::FixedOffset;

use super::delimited::{find, require, Dialect, Mapping};
use super::text::parse_silk_addr;

/// The SiLK dialect.
pub(crate) struct Silk;

/// `rwcut`'s default fields 1–12, the headerless layout.
const DEFAULT_FIELDS: &[&str] = &[
    "sIP", "dIP", "sPort", "dPort", "protocol", "packets", "bytes", "flags", "sTime", "duration",
    "eTime", "sensor",
];

impl Dialect for Silk {
    fn delimiter(&self, first_line: &str) -> char {
        ['|', '\t', ',']
            .into_iter()
            .find(|d| first_line.contains(*d))
            .unwrap_or('|')
    }

    fn is_header(&self, fields: &[&str]) -> bool {
        fields
            .iter()
            .any(|f| f.eq_ignore_ascii_case("sIP") || f.eq_ignore_ascii_case("sTime"))
    }

    fn headerless_names(&self, fields: &[&str], _tz: Option<FixedOffset>) -> Option<Vec<String>> {
        parse_silk_addr(fields.first()?).ok()?;
        Some(
            (0..fields.len())
                .map(|at| {
                    DEFAULT_FIELDS
                        .get(at)
                        .map_or_else(|| format!("column_{}", at + 1), |n| n.to_string())
                })
                .collect(),
        )
    }

    fn map(&self, names: &[String]) -> Result<Mapping, String> {
        Ok(Mapping {
            start: require(names, &["sTime", "sTime+msec"])?,
            end: find(names, &["eTime", "eTime+msec"]),
            duration: find(names, &["duration", "dur", "dur+msec"]),
            src: require(names, &["sIP"])?,
            dst: require(names, &["dIP"])?,
            src_port: find(names, &["sPort"]),
            dst_port: find(names, &["dPort"]),
            protocol: require(names, &["protocol", "pro", "proto"])?,
            bytes_sent: find(names, &["bytes", "byt"]),
            bytes_received: None,
            bytes_total: None,
            packets_sent: find(names, &["packets", "pkts", "pkt"]),
            packets_received: None,
            packets_total: None,
            silk_addresses: true,
        })
    }
}
