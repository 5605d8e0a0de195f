//! Zeek logs: `conn.log` as flows, `notice.log` as events, in either of Zeek's encodings.
//!
//! Encoding is decided per line, so TSV and JSON logs (and several logs of either kind) may be
//! concatenated: a line starting with `{` is a JSON object, a line starting with `#` is a TSV
//! directive, anything else a TSV record. TSV honours `#separator` (written `\x09`),
//! `#set_separator`, `#empty_field` and `#unset_field`; a new `#fields` line (another log appended)
//! replaces the columns; `#close` and other `#` lines are ignored. A file whose first line is a
//! bare `ts<TAB>uid<TAB>…` title (as `zeek-cut -c`-like tools print) uses it as `#fields`. A
//! header-only or empty file yields no rows and no error.
//!
//! Other logs, one rule for both encodings: the records of a log of another type than the one
//! read are counted as other types ([`TextReport::skipped_other_types`](super::TextReport)) —
//! not malformed, not an error under `--strict` — so a folder of Zeek logs reads whole. A log is
//! the type it names: a TSV log's `#path`, a JSON line's `_path` (a path not starting `conn`, or
//! `notice`, is another type, and so are `notice_alarm` and `conn_long`, which repeat records of
//! `notice.log` and `conn.log`: read as well, they would count records twice). A log that names
//! none is the type its fields show: a TSV log's `#fields`, a JSON log's first object (the
//! first after the start of the file or after a TSV header line, whose later lines follow it as
//! a TSV log's records follow its header). A field
//! only `conn.log` writes (`conn_state`, `history`, the packet and byte counters…) makes a conn
//! log; else `note` a notice log; else a field only another standard Zeek log writes
//! (`query`/`qtype` of `dns.log`, `method`/`uri` of `http.log`, `server_name` of `ssl.log`,
//! `fuid` of `files.log`, `peer` of `weird.log`…) another log; a log with none of these is read
//! as the log asked for. So a record of a log read as asked that lacks a needed field is
//! malformed, as always. JSON logs concatenated into one file without `_path` are all judged by
//! the first one's first object.
//!
//! Fields are found by name, never by position. Accepted spellings: `id.orig_h`, `id_orig_h`
//! (`scope_sep` set to `_`), and the renamings of Zeek's `field-name-map` test (`src`, `src_port`,
//! `dst`, `dst_port`); the same for the responder. Every field not mapped — `uid`, `conn_state`,
//! `history`, `orig_bytes`, `community_id`, `resp_cc`, `label`, `detailedlabel`, anything — is an
//! extra column under its own name. Unset (`-`) and empty (`(empty)`) values are null. A TSV
//! `bool` (`T`/`F`) becomes `true`/`false` as in JSON, and a JSON array is joined with `,` as
//! the TSV set separator does, so both encodings give the same extra values.
//!
//! Escapes (flow-model C23): TSV values have their `\xNN` escapes decoded to bytes, and a JSON
//! string, once `serde_json` has decoded it, gets the same treatment — Zeek's JSON writer
//! escapes non-printable bytes as the text `\xNN` (`"bad\\x07byte"`), so `bad\x07byte` in TSV
//! and in JSON both import as `bad`, BEL, `byte`. Decoded bytes are read as UTF-8; a byte that is
//! not valid UTF-8 is kept as its `\xNN` text (lossless, and the column stays valid UTF-8).
//! Other backslashes are literal, as in Zeek's own reader.
//!
//! `conn.log` → flows:
//! - start = `ts` (epoch seconds, exact from the text, or an ISO 8601 string written with
//!   `json_timestamps`); end = start + `duration`, or start when `duration` is unset or absent.
//! - bytes are IP-level: `orig_ip_bytes`/`resp_ip_bytes` (`orig_bytes`/`resp_bytes`, the payload,
//!   only when the IP-level fields are absent from the log); packets `orig_pkts`/`resp_pkts`;
//!   unset or absent counters are 0. `service` is kept (null when unset).
//! - protocol: `ip_proto` when the log has it (Zeek's own number), else `proto` by name; Zeek
//!   logs ICMPv6 as `icmp`, so `icmp` between IPv6 addresses is 58. `unknown_transport` without
//!   `ip_proto` cannot be numbered and the record is reported.
//! - ICMP: Zeek writes the ICMP type in `id.orig_p` and the code in `id.resp_p`; they are kept
//!   as given, so port conditions must also test the protocol (C13).
//!
//! `notice.log` → events: time = `ts`; signature = `note`; source = `src`, else `id.orig_h`
//! (a notice with neither is skipped and reported); destination = `dst`, else `id.resp_h`. An
//! event connects two addresses, so a well-formed notice naming no destination (scan notices)
//! is no event: skipped and counted apart ([`TextReport::skipped_not_events`](super::TextReport)),
//! not malformed, not an error under `--strict`, never a row with a null destination. Severity
//! 3 unless a numeric `severity` field says otherwise; category `notice`; `msg` and every other
//! field are extras.

use std::borrow::Cow;

use chrono::FixedOffset;

use super::batch::{Collector, EventRow, FlowRow, RowProblem};
use super::json;
use super::proto::protocol_number;
use super::text::{parse_addr, parse_count, parse_port, unescape_zeek};
use super::time::{parse_decimal_micros, parse_time};
use super::{LineParser, PresetError};
use crate::model::Addr;

/// Which Zeek log is being read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Log {
    /// `conn.log` → flows.
    Conn,
    /// `notice.log` → events.
    Notice,
}

impl Log {
    /// Whether a log naming `path` (`#path`, `_path`) is this log: a path starting as Zeek's
    /// stream of it does (`conn`, a filter's `conn-exc`), but not a standard log that repeats
    /// records of it (`notice_alarm`: alarms that `notice.log` holds too; `conn_long`:
    /// interim records of connections that `conn.log` ends).
    fn named_by(self, path: &str) -> bool {
        path.starts_with(self.path()) && !["notice_alarm", "conn_long"].contains(&path)
    }

    /// The path Zeek's stream of this log writes.
    fn path(self) -> &'static str {
        match self {
            Log::Conn => "conn",
            Log::Notice => "notice",
        }
    }
}

struct Header {
    names: Vec<String>,
    bools: Vec<bool>,
}

/// Reads Zeek TSV and JSON lines.
pub(crate) struct ZeekParser {
    log: Log,
    tz: Option<FixedOffset>,
    separator: String,
    empty_field: String,
    unset_field: String,
    header: Option<Header>,
    /// Whether the current TSV log is of another log type: as its `#path` says, else as its
    /// `#fields` show.
    other_path: bool,
    /// Whether the current TSV log named its path (`#path` since its `#separator`).
    path_named: bool,
    /// Whether the current JSON log is of another log type, once judged from its first object
    /// that names no `_path`; `None` until then (and again after a TSV header line).
    json_other: Option<bool>,
}

impl ZeekParser {
    pub(crate) fn new(log: Log, tz: Option<FixedOffset>) -> ZeekParser {
        ZeekParser {
            log,
            tz,
            separator: "\t".to_string(),
            empty_field: "(empty)".to_string(),
            unset_field: "-".to_string(),
            header: None,
            other_path: false,
            path_named: false,
            json_other: None,
        }
    }

    fn directive(&mut self, text: &str) {
        // A TSV header line: JSON lines after it start a new JSON log.
        self.json_other = None;
        if let Some(rest) = text.strip_prefix("#separator") {
            // Zeek starts every log with `#separator`: a new log, which has named no path yet.
            self.path_named = false;
            self.other_path = false;
            let value = rest.strip_prefix([' ', '\t']).unwrap_or(rest);
            let separator = unescape_zeek(value);
            if !separator.is_empty() {
                self.separator = separator.into_owned();
            }
            return;
        }
        let (name, value) = text
            .split_once(self.separator.as_str())
            .unwrap_or((text, ""));
        match name {
            "#set_separator" => {}
            "#empty_field" => self.empty_field = value.to_string(),
            "#unset_field" => self.unset_field = value.to_string(),
            "#path" => {
                self.path_named = true;
                self.other_path = !self.log.named_by(value);
            }
            "#fields" => {
                let names: Vec<String> = value
                    .split(self.separator.as_str())
                    .map(str::to_string)
                    .collect();
                if !self.path_named {
                    self.other_path =
                        Shape::of(names.iter().map(String::as_str)).is_other(self.log);
                }
                let bools = vec![false; names.len()];
                self.header = Some(Header { names, bools });
            }
            "#types" => {
                if let Some(header) = self.header.as_mut() {
                    let types: Vec<&str> = value.split(self.separator.as_str()).collect();
                    if types.len() == header.names.len() {
                        header.bools = types.iter().map(|t| *t == "bool").collect();
                    }
                }
            }
            _ => {}
        }
    }

    fn tsv_record(
        &mut self,
        line: u64,
        text: &str,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        let source_row = out.next_row();
        if self.other_path {
            out.other_type();
            return Ok(());
        }
        let Some(header) = &self.header else {
            return out.problem(
                line,
                RowProblem::new(None, text, "record before any #fields header"),
            );
        };
        let raw: Vec<&str> = text.split(self.separator.as_str()).collect();
        if raw.len() != header.names.len() {
            let reason = format!(
                "has {} fields, the #fields header names {}",
                raw.len(),
                header.names.len()
            );
            return out.problem(line, RowProblem::new(None, text, reason));
        }
        let values = raw
            .iter()
            .zip(&header.bools)
            .map(|(value, is_bool)| {
                if *value == self.unset_field || *value == self.empty_field {
                    None
                } else if *is_bool && *value == "T" {
                    Some(Cow::Borrowed("true"))
                } else if *is_bool && *value == "F" {
                    Some(Cow::Borrowed("false"))
                } else {
                    Some(unescape_zeek(value))
                }
            })
            .collect();
        let names = header.names.iter().map(String::as_str).collect();
        let fields = Fields::new(names, values);
        self.record(line, fields, source_row, out)
    }

    fn json_record(
        &mut self,
        line: u64,
        text: &str,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        let source_row = out.next_row();
        let members = match json::parse_line(text) {
            Ok(members) => members,
            // A line of a log of another type is not ours to judge (as in a TSV log).
            Err(_) if self.json_other == Some(true) => {
                out.other_type();
                return Ok(());
            }
            Err(err) => {
                return out.problem(
                    line,
                    RowProblem::new(None, text, format!("not a JSON object: {err}")),
                )
            }
        };
        if self.json_is_other(&members) {
            out.other_type();
            return Ok(());
        }
        let mut names = Vec::with_capacity(members.len());
        let mut values = Vec::with_capacity(members.len());
        for (name, raw) in &members {
            match json::value_text(raw, decode_zeek) {
                Ok(value) => {
                    names.push(name.as_ref());
                    values.push(value.map(Cow::Owned));
                }
                Err(err) => {
                    let reason = format!("unreadable JSON value: {err}");
                    return out.problem(line, RowProblem::new(Some(name), raw.get(), reason));
                }
            }
        }
        let mut fields = Fields::new(names, values);
        // `_path` says which log a multiplexed JSON stream line belongs to; it is not a column.
        fields.pick(&["_path"]);
        self.record(line, fields, source_row, out)
    }

    /// Whether a JSON record belongs to another log: by its own `_path` when it names one, else
    /// by the shape of its log, judged once from the log's first object that names no path.
    fn json_is_other(&mut self, members: &json::Members<'_>) -> bool {
        let path = members
            .iter()
            .find(|(name, _)| name == "_path")
            .and_then(|(_, raw)| json::value_text(raw, decode_zeek).ok().flatten());
        if let Some(path) = path {
            return !self.log.named_by(&path);
        }
        let log = self.log;
        *self.json_other.get_or_insert_with(|| {
            Shape::of(members.iter().map(|(name, _)| name.as_ref())).is_other(log)
        })
    }

    fn record(
        &self,
        line: u64,
        mut fields: Fields<'_>,
        source_row: u64,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        let mapped = match self.log {
            Log::Conn => conn(&mut fields, self.tz, source_row).map(Record::Flow),
            Log::Notice => notice(&mut fields, self.tz, source_row),
        };
        match mapped {
            Ok(Record::Flow(row)) => {
                let extras = fields.extras(out);
                out.flow(FlowRow { extras, ..row })
            }
            Ok(Record::Event(row)) => {
                let extras = fields.extras(out);
                out.event(EventRow { extras, ..row })
            }
            Ok(Record::NotAnEvent(reason)) => {
                out.not_an_event(reason);
                Ok(())
            }
            Err(problem) => out.problem(line, problem),
        }
    }
}

/// Which log a record's field names show it to be (for a log that names no path).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// It has a field only `conn.log` writes.
    Conn,
    /// No conn field, but `note`.
    Notice,
    /// Neither, but a field only another standard Zeek log writes.
    Other,
    /// Nothing telling: read as the log asked for.
    Unknown,
}

/// Fields only `conn.log` writes. Zeek always writes `conn_state`, `missed_bytes` and the
/// packet and IP byte counters, so every conn record it logs has some.
const CONN_ONLY: &[&str] = &[
    "conn_state",
    "history",
    "missed_bytes",
    "orig_pkts",
    "resp_pkts",
    "orig_ip_bytes",
    "resp_ip_bytes",
    "orig_bytes",
    "resp_bytes",
    "ip_proto",
];

/// Fields that standard Zeek logs other than `conn.log` and `notice.log` write and those two
/// never do, by log. Many of these logs carry `ts`, `uid`, `id.orig_h`… (and `dns.log` even
/// `proto`), so without this they would read as connections.
const OTHER_LOGS_ONLY: &[&str] = &[
    // dns
    "query",
    "qtype",
    "qclass",
    "rcode",
    "trans_id",
    "AA",
    "RD",
    // http (`trans_depth` also smtp, sip)
    "method",
    "uri",
    "status_code",
    "trans_depth",
    "user_agent",
    "request_body_len",
    "response_body_len",
    // ssl, x509
    "server_name",
    "cipher",
    "established",
    "resumed",
    "ssl_history",
    "fingerprint",
    "certificate.version",
    "certificate.subject",
    // ssh
    "auth_success",
    "auth_attempts",
    "host_key",
    // files (`fuid` also in notices: `note` decides first), smb_files, pe
    "fuid",
    "seen_bytes",
    "total_bytes",
    "mime_type",
    "machine",
    // smtp, ftp
    "helo",
    "mailfrom",
    "rcptto",
    "command",
    "reply_code",
    // dhcp, kerberos, ntlm, rdp, sip, snmp, syslog, dce_rpc, smb_mapping, mysql, tunnel, ntp
    "msg_types",
    "lease_time",
    "assigned_addr",
    "request_type",
    "domainname",
    "server_nb_computer_name",
    "cookie",
    "security_protocol",
    "call_id",
    "community",
    "get_requests",
    "facility",
    "endpoint",
    "named_pipe",
    "share_type",
    "cmd",
    "tunnel_type",
    "stratum",
    // weird, stats, capture_loss, telemetry (`peer`), loaded_scripts (`name`), reporter,
    // packet_filter, known_hosts/services, software, intel, signatures, dpd/analyzer
    "peer",
    "addl",
    "name",
    "message",
    "filter",
    "host",
    "port_num",
    "software_type",
    "seen.indicator",
    "sig_id",
    "failure_reason",
];

impl Shape {
    /// The shape of a log (or record) with these field names: a conn field wins, then `note`.
    fn of<'n>(names: impl IntoIterator<Item = &'n str>) -> Shape {
        let mut shape = Shape::Unknown;
        for name in names {
            if CONN_ONLY.contains(&name) {
                return Shape::Conn;
            }
            if name == "note" {
                shape = Shape::Notice;
            } else if shape == Shape::Unknown && OTHER_LOGS_ONLY.contains(&name) {
                shape = Shape::Other;
            }
        }
        shape
    }

    /// Whether a log of this shape is clearly another type than `log`.
    fn is_other(self, log: Log) -> bool {
        match self {
            Shape::Unknown => false,
            Shape::Conn => log != Log::Conn,
            Shape::Notice => log != Log::Notice,
            Shape::Other => true,
        }
    }
}

enum Record {
    Flow(FlowRow),
    Event(EventRow),
    /// A well-formed record that describes no event, and why (`no destination`).
    NotAnEvent(&'static str),
}

fn decode_zeek(text: String) -> String {
    match unescape_zeek(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(decoded) => decoded,
    }
}

impl LineParser for ZeekParser {
    fn line(&mut self, line: u64, text: &str, out: &mut Collector) -> Result<(), PresetError> {
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            return Ok(());
        }
        if trimmed.starts_with('#') {
            self.directive(trimmed);
            return Ok(());
        }
        if trimmed.starts_with('{') {
            return self.json_record(line, trimmed, out);
        }
        if self.header.is_none() && text.split(self.separator.as_str()).next() == Some("ts") {
            self.directive(&format!("#fields{}{}", self.separator, text));
            return Ok(());
        }
        self.tsv_record(line, text, out)
    }

    fn invalid_utf8(
        &mut self,
        line: u64,
        lossy: &str,
        out: &mut Collector,
    ) -> Result<(), PresetError> {
        if lossy.starts_with('#') {
            return Ok(());
        }
        out.next_row();
        out.problem(
            line,
            RowProblem::new(None, lossy, "line is not valid UTF-8"),
        )
    }
}

/// One record's fields by name, tracking which ones a mapping used.
struct Fields<'a> {
    names: Vec<&'a str>,
    values: Vec<Option<Cow<'a, str>>>,
    used: Vec<bool>,
}

impl<'a> Fields<'a> {
    fn new(names: Vec<&'a str>, values: Vec<Option<Cow<'a, str>>>) -> Fields<'a> {
        let used = vec![false; names.len()];
        Fields {
            names,
            values,
            used,
        }
    }

    /// The first of `aliases` the record has (set or not).
    fn find(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|alias| self.names.iter().position(|name| name == alias))
    }

    /// As [`Fields::find`], and marks the field used.
    fn pick(&mut self, aliases: &[&str]) -> Option<usize> {
        let at = self.find(aliases)?;
        self.used[at] = true;
        Some(at)
    }

    /// The first of `aliases` that is set, marked used.
    fn pick_set(&mut self, aliases: &[&str]) -> Option<usize> {
        let at = aliases.iter().find_map(|alias| {
            self.names
                .iter()
                .zip(&self.values)
                .position(|(name, value)| name == alias && value.is_some())
        })?;
        self.used[at] = true;
        Some(at)
    }

    fn text(&self, at: Option<usize>) -> Option<&str> {
        self.values.get(at?)?.as_deref()
    }

    fn problem(&self, at: usize, reason: &str) -> RowProblem {
        RowProblem::new(
            Some(self.names[at]),
            self.text(Some(at)).unwrap_or(""),
            reason,
        )
    }

    /// A required field: absent and unset are problems naming the first alias.
    fn required(&self, at: Option<usize>, aliases: &[&str]) -> Result<(usize, &str), RowProblem> {
        match at {
            None => Err(RowProblem::new(
                None,
                "",
                format!("no `{}` field", aliases.join("`/`")),
            )),
            Some(at) => match self.text(Some(at)) {
                Some(text) => Ok((at, text)),
                None => Err(RowProblem::new(
                    Some(self.names[at]),
                    "-",
                    "required field is unset",
                )),
            },
        }
    }

    fn time(
        &self,
        at: Option<usize>,
        aliases: &[&str],
        tz: Option<FixedOffset>,
    ) -> Result<i64, RowProblem> {
        let (at, text) = self.required(at, aliases)?;
        parse_time(text, tz)
            .ok_or_else(|| self.problem(at, "not an epoch time or ISO 8601 timestamp"))
    }

    fn addr(&self, at: usize) -> Result<Addr, RowProblem> {
        parse_addr(self.text(Some(at)).unwrap_or("")).map_err(|reason| self.problem(at, reason))
    }

    fn port(&self, at: Option<usize>) -> Result<u16, RowProblem> {
        match (at, self.text(at)) {
            (Some(at), Some(text)) => parse_port(text).map_err(|reason| self.problem(at, reason)),
            _ => Ok(0),
        }
    }

    fn count(&self, at: Option<usize>) -> Result<u64, RowProblem> {
        match (at, self.text(at)) {
            (Some(at), Some(text)) => parse_count(text).map_err(|reason| self.problem(at, reason)),
            _ => Ok(0),
        }
    }

    /// Every field no mapping used, as extra columns (registered even when unset, so a TSV
    /// log's columns all appear).
    fn extras(&self, out: &mut Collector) -> Vec<(usize, String)> {
        let mut extras = Vec::new();
        for (at, name) in self.names.iter().enumerate() {
            if self.used[at] {
                continue;
            }
            let slot = out.extra_slot(name);
            if let Some(value) = &self.values[at] {
                extras.push((slot, value.to_string()));
            }
        }
        extras
    }
}

const TS: &[&str] = &["ts"];
const ORIG_H: &[&str] = &["id.orig_h", "id_orig_h", "src", "orig_h"];
const ORIG_P: &[&str] = &["id.orig_p", "id_orig_p", "src_port", "orig_p"];
const RESP_H: &[&str] = &["id.resp_h", "id_resp_h", "dst", "resp_h"];
const RESP_P: &[&str] = &["id.resp_p", "id_resp_p", "dst_port", "resp_p"];

fn conn(
    f: &mut Fields<'_>,
    tz: Option<FixedOffset>,
    source_row: u64,
) -> Result<FlowRow, RowProblem> {
    let ts = f.pick(TS);
    let src = f.pick(ORIG_H);
    let src_port = f.pick(ORIG_P);
    let dst = f.pick(RESP_H);
    let dst_port = f.pick(RESP_P);
    let proto = f.pick(&["proto"]);
    let ip_proto = f.pick(&["ip_proto"]);
    let duration = f.pick(&["duration"]);
    let orig_bytes = f
        .pick(&["orig_ip_bytes"])
        .or_else(|| f.pick(&["orig_bytes"]));
    let resp_bytes = f
        .pick(&["resp_ip_bytes"])
        .or_else(|| f.pick(&["resp_bytes"]));
    let orig_pkts = f.pick(&["orig_pkts"]);
    let resp_pkts = f.pick(&["resp_pkts"]);
    let service = f.pick(&["service"]);

    let start = f.time(ts, TS, tz)?;
    let (src_at, _) = f.required(src, ORIG_H)?;
    let (dst_at, _) = f.required(dst, RESP_H)?;
    let src = f.addr(src_at)?;
    let dst = f.addr(dst_at)?;
    let src_port = f.port(src_port)?;
    let dst_port = f.port(dst_port)?;
    let protocol = match (ip_proto, f.text(ip_proto)) {
        (Some(at), Some(text)) => {
            protocol_number(text).ok_or_else(|| f.problem(at, "not an IP protocol number"))?
        }
        _ => match (proto, f.text(proto)) {
            (None, _) | (_, None) => {
                return Err(RowProblem::new(
                    None,
                    "",
                    "no protocol: `proto` and `ip_proto` are absent or unset",
                ))
            }
            (Some(_), Some(name)) if name.eq_ignore_ascii_case("icmp") => {
                if src.is_v4() && dst.is_v4() {
                    1
                } else {
                    58
                }
            }
            (Some(at), Some(name)) => protocol_number(name).ok_or_else(|| {
                f.problem(
                    at,
                    "unknown protocol (`unknown_transport` needs an `ip_proto` field)",
                )
            })?,
        },
    };
    let end = match (duration, f.text(duration)) {
        (Some(at), Some(text)) => {
            let micros = parse_decimal_micros(text)
                .ok_or_else(|| f.problem(at, "not a duration in seconds"))?;
            start
                .checked_add(micros)
                .ok_or_else(|| f.problem(at, "duration out of range"))?
        }
        _ => start,
    };
    Ok(FlowRow {
        start,
        end,
        src,
        dst,
        src_port,
        dst_port,
        protocol,
        bytes_sent: f.count(orig_bytes)?,
        bytes_received: f.count(resp_bytes)?,
        packets_sent: f.count(orig_pkts)?,
        packets_received: f.count(resp_pkts)?,
        service: f.text(service).map(str::to_string),
        source_row,
        extras: Vec::new(),
    })
}

const NOTICE_SRC: &[&str] = &["src", "id.orig_h", "id_orig_h"];
const NOTICE_DST: &[&str] = &["dst", "id.resp_h", "id_resp_h"];

fn notice(
    f: &mut Fields<'_>,
    tz: Option<FixedOffset>,
    source_row: u64,
) -> Result<Record, RowProblem> {
    let ts = f.pick(TS);
    let note = f.pick(&["note"]);
    let src = f.pick_set(NOTICE_SRC);
    let dst = f.pick_set(NOTICE_DST);
    let severity_at = f.pick(&["severity"]);
    let severity = match f.text(severity_at).map(|text| text.trim().parse::<i32>()) {
        Some(Ok(severity)) => severity,
        _ => {
            // Not a number (or absent): the default, and the field stays an extra column.
            if let Some(at) = severity_at {
                f.used[at] = false;
            }
            3
        }
    };

    let time = f.time(ts, TS, tz)?;
    let (_, signature) = f.required(note, &["note"])?;
    let signature = signature.to_string();
    let Some(src_at) = src else {
        return Err(RowProblem::new(
            None,
            "",
            "no source address: `src` and `id.orig_h` are absent or unset",
        ));
    };
    let src = f.addr(src_at)?;
    let Some(dst_at) = dst else {
        // Scan notices name no destination: no event (an event connects two addresses).
        return Ok(Record::NotAnEvent("no destination"));
    };
    let dst = f.addr(dst_at)?;
    Ok(Record::Event(EventRow {
        time,
        src,
        dst,
        signature,
        severity,
        category: "notice".to_string(),
        source_row,
        extras: Vec::new(),
    }))
}
