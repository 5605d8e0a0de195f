//! The common reader for header-and-rows text formats (Argus CSV, nfdump CSV, SiLK `rwcut`).
//!
//! These formats differ in column names, delimiters and trailers, but not in how a row
//! becomes a flow, so a [`Dialect`] only names its columns ([`Mapping`]) and recognises its
//! header, headerless and trailer lines; the row rules live here once:
//! - fields are trimmed (Argus and SiLK pad them); a final delimiter ends the line, not a field;
//! - a row whose field count differs from the header's is malformed;
//! - start and addresses and protocol are required; ports, counters, duration may be empty
//!   (port 0, count 0, end = start); `end` comes from an end-time column when present,
//!   else start + duration;
//! - counters: sent and received columns when present; otherwise received = total − sent;
//!   when only a total packet count exists (CTU `binetflow` without `SrcPkts`) packets are
//!   split as [`split_packets`] documents;
//! - every unmapped column is an extra column by its header name; empty text is null.

use chrono::FixedOffset;

use super::batch::{Collector, FlowRow, RowProblem};
use super::proto::protocol_number;
use super::text::{excerpt, parse_addr, parse_count, parse_port, parse_silk_addr};
use super::time::{parse_decimal_micros, parse_time};
use super::{LineParser, PresetError};

/// Column indices of the canonical fields in one header.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mapping {
    pub start: usize,
    pub end: Option<usize>,
    pub duration: Option<usize>,
    pub src: usize,
    pub dst: usize,
    pub src_port: Option<usize>,
    pub dst_port: Option<usize>,
    pub protocol: usize,
    pub bytes_sent: Option<usize>,
    pub bytes_received: Option<usize>,
    pub bytes_total: Option<usize>,
    pub packets_sent: Option<usize>,
    pub packets_received: Option<usize>,
    pub packets_total: Option<usize>,
    /// SiLK also prints zero-padded and integer addresses.
    pub silk_addresses: bool,
}

impl Mapping {
    fn consumed(&self) -> Vec<usize> {
        [
            Some(self.start),
            Some(self.src),
            Some(self.dst),
            Some(self.protocol),
        ]
        .into_iter()
        .chain([
            self.end,
            self.duration,
            self.src_port,
            self.dst_port,
            self.bytes_sent,
            self.bytes_received,
            self.bytes_total,
            self.packets_sent,
            self.packets_received,
            self.packets_total,
        ])
        .flatten()
        .collect()
    }
}

/// The index of the first of `aliases` (compared without regard to case) among `names`.
pub(crate) fn find(names: &[String], aliases: &[&str]) -> Option<usize> {
    aliases.iter().find_map(|alias| {
        names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(alias))
    })
}

/// Like [`find`], but the column is required: the error names what is missing.
pub(crate) fn require(names: &[String], aliases: &[&str]) -> Result<usize, String> {
    find(names, aliases).ok_or_else(|| format!("header has no `{}` column", aliases.join("`/`")))
}

/// What distinguishes one delimited format.
pub(crate) trait Dialect {
    /// The field delimiter, judged from the first non-blank line.
    fn delimiter(&self, first_line: &str) -> char;
    /// Whether these (trimmed) fields are a header line.
    fn is_header(&self, fields: &[&str]) -> bool;
    /// Column names to assume when the first line is already a record, if recognisable.
    fn headerless_names(&self, fields: &[&str], tz: Option<FixedOffset>) -> Option<Vec<String>>;
    /// The mapping of a header; `Err` says why the header is unusable.
    fn map(&self, names: &[String]) -> Result<Mapping, String>;
    /// Whether a record with this protocol field describes no IP flow (Argus `arp`): such a
    /// record is skipped and counted apart, not reported as malformed.
    fn is_not_a_flow(&self, _protocol: &str) -> bool {
        false
    }
    /// Whether this line starts a trailer that holds no flows (nfdump's `Summary`).
    fn is_trailer_start(&self, _line: &str) -> bool {
        false
    }
}

/// A header's columns: names, canonical mapping, and `(column, extra slot)` pairs.
struct Layout {
    names: Vec<String>,
    mapping: Mapping,
    extras: Vec<(usize, usize)>,
}

enum State {
    /// Before the first non-blank line.
    Start,
    /// Reading records under a header.
    Rows(Box<Layout>),
    /// After a trailer began: lines are ignored until a new header.
    Trailer,
}

/// A [`LineParser`] for any [`Dialect`].
pub(crate) struct DelimitedParser<D> {
    dialect: D,
    tz: Option<FixedOffset>,
    delimiter: char,
    state: State,
}

impl<D: Dialect> DelimitedParser<D> {
    pub(crate) fn new(dialect: D, tz: Option<FixedOffset>) -> DelimitedParser<D> {
        DelimitedParser {
            dialect,
            tz,
            delimiter: ',',
            state: State::Start,
        }
    }

    fn start_header(
        &mut self,
        line: u64,
        names: Vec<String>,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        let mapping = self
            .dialect
            .map(&names)
            .map_err(|reason| PresetError::Header {
                file: out.file().clone(),
                line,
                reason,
            })?;
        let consumed = mapping.consumed();
        let extras = (0..names.len())
            .filter(|at| !consumed.contains(at))
            .map(|at| (at, out.extra_slot(&names[at])))
            .collect();
        self.state = State::Rows(Box::new(Layout {
            names,
            mapping,
            extras,
        }));
        Ok(())
    }
}

fn split(line: &str, delimiter: char) -> Vec<&str> {
    let trimmed = line.trim_end();
    let body = trimmed
        .strip_suffix(delimiter)
        .filter(|_| delimiter != ',')
        .unwrap_or(trimmed);
    body.split(delimiter).map(str::trim).collect()
}

impl<D: Dialect> LineParser for DelimitedParser<D> {
    fn line(&mut self, line: u64, text: &str, out: &mut Collector) -> Result<(), PresetError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        if matches!(self.state, State::Start) {
            self.delimiter = self.dialect.delimiter(text);
        }
        let fields = split(text, self.delimiter);
        match &self.state {
            State::Start => {
                if self.dialect.is_header(&fields) {
                    let names = fields.iter().map(|f| f.to_string()).collect();
                    return self.start_header(line, names, out);
                }
                let Some(names) = self.dialect.headerless_names(&fields, self.tz) else {
                    return Err(PresetError::Header {
                        file: out.file().clone(),
                        line,
                        reason: format!(
                            "first line is neither a header nor a record: `{}`",
                            excerpt(text)
                        ),
                    });
                };
                self.start_header(line, names, out)?;
            }
            State::Trailer => {
                if self.dialect.is_header(&fields) {
                    let names = fields.iter().map(|f| f.to_string()).collect();
                    return self.start_header(line, names, out);
                }
                return Ok(());
            }
            State::Rows(_) => {
                if self.dialect.is_trailer_start(text) {
                    self.state = State::Trailer;
                    return Ok(());
                }
                if self.dialect.is_header(&fields) {
                    let names = fields.iter().map(|f| f.to_string()).collect();
                    return self.start_header(line, names, out);
                }
            }
        }
        let State::Rows(layout) = &self.state else {
            return Ok(());
        };
        let Layout {
            names,
            mapping,
            extras,
        } = layout.as_ref();
        let source_row = out.next_row();
        if fields.len() != names.len() {
            let reason = format!(
                "has {} fields, the header names {}",
                fields.len(),
                names.len()
            );
            return out.problem(line, RowProblem::new(None, text, reason));
        }
        if self.dialect.is_not_a_flow(fields[mapping.protocol]) {
            out.not_a_flow(fields[mapping.protocol]);
            return Ok(());
        }
        match flow_row(mapping, names, &fields, self.tz, source_row) {
            Ok(mut row) => {
                row.extras = extras
                    .iter()
                    .filter(|(at, _)| !fields[*at].is_empty())
                    .map(|&(at, slot)| (slot, fields[at].to_string()))
                    .collect();
                out.flow(row)
            }
            Err(problem) => out.problem(line, problem),
        }
    }
}

fn flow_row(
    m: &Mapping,
    names: &[String],
    fields: &[&str],
    tz: Option<FixedOffset>,
    source_row: u64,
) -> Result<FlowRow, RowProblem> {
    let bad = |at: usize, reason: &str| RowProblem::new(Some(&names[at]), fields[at], reason);
    let present = |at: Option<usize>| at.filter(|&at| !fields[at].is_empty());
    let start = parse_time(fields[m.start], tz).ok_or_else(|| {
        bad(
            m.start,
            "not a timestamp (epoch seconds or YYYY-MM-DD hh:mm:ss)",
        )
    })?;
    let end = match (present(m.end), present(m.duration)) {
        (Some(at), _) => parse_time(fields[at], tz).ok_or_else(|| bad(at, "not a timestamp"))?,
        (None, Some(at)) => {
            let duration = parse_decimal_micros(fields[at])
                .ok_or_else(|| bad(at, "not a duration in seconds"))?;
            start
                .checked_add(duration)
                .ok_or_else(|| bad(at, "duration out of range"))?
        }
        (None, None) => start,
    };
    let addr = |at: usize| {
        let parsed = if m.silk_addresses {
            parse_silk_addr(fields[at])
        } else {
            parse_addr(fields[at])
        };
        parsed.map_err(|reason| bad(at, reason))
    };
    let src = addr(m.src)?;
    let dst = addr(m.dst)?;
    let port = |at: Option<usize>| match at {
        Some(at) => parse_port(fields[at]).map_err(|reason| bad(at, reason)),
        None => Ok(0),
    };
    let src_port = port(m.src_port)?;
    let dst_port = port(m.dst_port)?;
    let protocol = protocol_number(fields[m.protocol])
        .ok_or_else(|| bad(m.protocol, "not an IP protocol number or name"))?;
    let count = |at: Option<usize>| match at {
        Some(at) => parse_count(fields[at])
            .map(Some)
            .map_err(|reason| bad(at, reason)),
        None => Ok(None),
    };
    let (sent, received, total) = (
        count(m.bytes_sent)?,
        count(m.bytes_received)?,
        count(m.bytes_total)?,
    );
    let (bytes_sent, bytes_received) = match (sent, received, total) {
        (Some(s), Some(r), _) => (s, r),
        (Some(s), None, Some(t)) => {
            let r = t.checked_sub(s).ok_or_else(|| {
                bad(
                    m.bytes_sent.unwrap_or(m.start),
                    "source bytes exceed total bytes",
                )
            })?;
            (s, r)
        }
        (None, Some(r), Some(t)) => {
            let s = t.checked_sub(r).ok_or_else(|| {
                bad(
                    m.bytes_received.unwrap_or(m.start),
                    "destination bytes exceed total bytes",
                )
            })?;
            (s, r)
        }
        (Some(s), None, None) => (s, 0),
        (None, Some(r), None) => (0, r),
        (None, None, t) => (t.unwrap_or(0), 0),
    };
    let (sent, received, total) = (
        count(m.packets_sent)?,
        count(m.packets_received)?,
        count(m.packets_total)?,
    );
    let (packets_sent, packets_received) = match (sent, received, total) {
        (Some(s), Some(r), _) => (s, r),
        (Some(s), None, Some(t)) => {
            let r = t.checked_sub(s).ok_or_else(|| {
                bad(
                    m.packets_sent.unwrap_or(m.start),
                    "source packets exceed total packets",
                )
            })?;
            (s, r)
        }
        (None, Some(r), Some(t)) => {
            let s = t.checked_sub(r).ok_or_else(|| {
                bad(
                    m.packets_received.unwrap_or(m.start),
                    "destination packets exceed total packets",
                )
            })?;
            (s, r)
        }
        (Some(s), None, None) => (s, 0),
        (None, Some(r), None) => (0, r),
        (None, None, Some(t)) => split_packets(t, bytes_sent, bytes_received),
        (None, None, None) => (0, 0),
    };
    Ok(FlowRow {
        start,
        end,
        src,
        dst,
        src_port,
        dst_port,
        protocol,
        bytes_sent,
        bytes_received,
        packets_sent,
        packets_received,
        service: None,
        source_row,
        extras: Vec::new(),
    })
}

/// Splits a total packet count between the directions when the format gives only the total
/// (CTU `binetflow` without `SrcPkts`).
///
/// One-sided flows are exact (all packets go the way the bytes went). Otherwise the packets
/// are split in proportion to the bytes (rounded half up), each direction keeping at least
/// one packet: both directions then carry the flow's overall bytes per packet, so the
/// invalid-packets pattern tests the average the data really gives, instead of seeing a
/// direction with bytes but no packets that the sensor never reported. A flow with bytes both
/// ways but fewer than two packets is inconsistent; it keeps all packets on the sending side
/// so the inconsistency stays visible.
pub(crate) fn split_packets(total: u64, bytes_sent: u64, bytes_received: u64) -> (u64, u64) {
    if bytes_received == 0 || total < 2 {
        return (total, 0);
    }
    if bytes_sent == 0 {
        return (0, total);
    }
    // total × sent / bytes, rounded half up; the products fit u128 (each factor < 2^64).
    let bytes = u128::from(bytes_sent) + u128::from(bytes_received);
    let share = (u128::from(total) * u128::from(bytes_sent) + bytes / 2) / bytes;
    let sent = u64::try_from(share).unwrap_or(total).clamp(1, total - 1);
    (sent, total - sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_split() {
        assert_eq!(split_packets(10, 500, 0), (10, 0));
        assert_eq!(split_packets(10, 0, 500), (0, 10));
        assert_eq!(split_packets(10, 500, 500), (5, 5));
        assert_eq!(split_packets(2, 1_000_000, 1), (1, 1));
        assert_eq!(split_packets(3, 1, 2), (1, 2));
        assert_eq!(split_packets(1, 70, 70), (1, 0));
        assert_eq!(split_packets(0, 70, 70), (0, 0));
        assert_eq!(
            split_packets(u64::MAX, u64::MAX, u64::MAX),
            (u64::MAX / 2 + 1, u64::MAX / 2)
        );
    }

    #[test]
    fn split_trims_and_drops_a_final_delimiter() {
        assert_eq!(split("  a| b |c|", '|'), ["a", "b", "c"]);
        assert_eq!(split("a,,", ','), ["a", "", ""]);
    }
}
