//! Suricata EVE JSON (`eve.json`): `flow` records as flows, `alert` records as events.
//!
//! One EVE file holds many record types; reading it as flows takes the `flow` records, as
//! events the `alert` records, and counts every other record (`dns`, `http`, `stats`, …) in
//! `skipped_other_types`. `source_row` counts every JSON line, so the same file read both ways
//! gives flows and events distinct, stable identities.
//!
//! Flows: start/end = `flow.start`/`flow.end` (`2024-05-01T10:00:00.000000+0000`; a missing
//! end is the start); `src_ip`/`dest_ip` (IPv6 written out in full is normalised);
//! `src_port`/`dest_port`, absent for ICMP (the type and code are in `icmp_type`/`icmp_code`,
//! kept as extras), are then 0 (C14); `proto` by name or number (`IPv6-ICMP` → 58, `"047"` →
//! 47); packets sent/received = `flow.pkts_toserver`/`flow.pkts_toclient`, bytes likewise from
//! `bytes_toserver`/`bytes_toclient` (Suricata's "server" is the responder); `app_proto` →
//! service, as given (`failed` included).
//!
//! Alerts: time = `timestamp`; `src_ip` → `dest_ip`; signature, severity, category =
//! `alert.signature`, `alert.severity` (3 when absent), `alert.category` (empty when absent).
//!
//! Nested objects are flattened to dotted names; every member not mapped (`flow_id`,
//! `community_id`, `flow.state`, `alert.signature_id`, `http.hostname`, …) is an extra column,
//! so alerts and flows can be joined on `flow_id`. `event_type` itself is dropped. Strings are
//! taken as `serde_json` decodes them (EVE uses ordinary JSON escapes).

use chrono::FixedOffset;

use super::batch::{Collector, EventRow, FlowRow, RowProblem};
use super::json::{self, Members};
use super::proto::protocol_number;
use super::text::{parse_addr, parse_count, parse_port};
use super::time::parse_time;
use super::{Kind, LineParser, PresetError};
use crate::model::Addr;

/// Reads EVE lines as `kind`.
pub(crate) struct EveParser {
    kind: Kind,
    tz: Option<FixedOffset>,
}

impl EveParser {
    pub(crate) fn new(kind: Kind, tz: Option<FixedOffset>) -> EveParser {
        EveParser { kind, tz }
    }
}

const FLOW_FIELDS: &[&str] = &[
    "event_type",
    "src_ip",
    "dest_ip",
    "src_port",
    "dest_port",
    "proto",
    "app_proto",
    "flow.start",
    "flow.end",
    "flow.pkts_toserver",
    "flow.pkts_toclient",
    "flow.bytes_toserver",
    "flow.bytes_toclient",
];

const ALERT_FIELDS: &[&str] = &[
    "event_type",
    "timestamp",
    "src_ip",
    "dest_ip",
    "alert.signature",
    "alert.severity",
    "alert.category",
];

impl LineParser for EveParser {
    fn line(&mut self, line: u64, text: &str, out: &mut Collector) -> Result<(), PresetError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let source_row = out.next_row();
        let members = match json::parse_line(text) {
            Ok(members) => members,
            Err(err) => {
                return out.problem(
                    line,
                    RowProblem::new(None, text, format!("not a JSON object: {err}")),
                )
            }
        };
        let record = Record { members: &members };
        let event_type = match record.text("event_type") {
            Ok(Some(event_type)) => event_type,
            Ok(None) => return out.problem(line, RowProblem::new(None, text, "no `event_type`")),
            Err(problem) => return out.problem(line, problem),
        };
        let mapped = match (self.kind, event_type.as_str()) {
            (Kind::Flows, "flow") => record
                .flow(self.tz, source_row)
                .map(|row| (Some(row), None)),
            (Kind::Events, "alert") => record
                .alert(self.tz, source_row)
                .map(|row| (None, Some(row))),
            _ => {
                out.other_type();
                return Ok(());
            }
        };
        let consumed = match self.kind {
            Kind::Flows => FLOW_FIELDS,
            Kind::Events => ALERT_FIELDS,
        };
        match mapped.and_then(|rows| Ok((rows, record.extras(consumed, out)?))) {
            Ok(((Some(row), _), extras)) => out.flow(FlowRow { extras, ..row }),
            Ok(((_, Some(row)), extras)) => out.event(EventRow { extras, ..row }),
            Ok(((None, None), _)) => Ok(()),
            Err(problem) => out.problem(line, problem),
        }
    }
}

struct Record<'m, 'a> {
    members: &'m Members<'a>,
}

impl Record<'_, '_> {
    fn text(&self, name: &str) -> Result<Option<String>, RowProblem> {
        match json::get(self.members, name) {
            None => Ok(None),
            Some(raw) => json::value_text(raw, json::as_is).map_err(|err| {
                RowProblem::new(
                    Some(name),
                    raw.get(),
                    format!("unreadable JSON value: {err}"),
                )
            }),
        }
    }

    fn required(&self, name: &str) -> Result<String, RowProblem> {
        self.text(name)?
            .ok_or_else(|| RowProblem::new(Some(name), "", "required member is missing or null"))
    }

    fn time(&self, name: &str, tz: Option<FixedOffset>) -> Result<i64, RowProblem> {
        let text = self.required(name)?;
        parse_time(&text, tz).ok_or_else(|| RowProblem::new(Some(name), &text, "not a timestamp"))
    }

    fn addr(&self, name: &str) -> Result<Addr, RowProblem> {
        let text = self.required(name)?;
        parse_addr(&text).map_err(|reason| RowProblem::new(Some(name), &text, reason))
    }

    fn port(&self, name: &str) -> Result<u16, RowProblem> {
        match self.text(name)? {
            Some(text) => {
                parse_port(&text).map_err(|reason| RowProblem::new(Some(name), &text, reason))
            }
            None => Ok(0),
        }
    }

    fn count(&self, name: &str) -> Result<u64, RowProblem> {
        match self.text(name)? {
            Some(text) => {
                parse_count(&text).map_err(|reason| RowProblem::new(Some(name), &text, reason))
            }
            None => Ok(0),
        }
    }

    fn flow(&self, tz: Option<FixedOffset>, source_row: u64) -> Result<FlowRow, RowProblem> {
        let start = self.time("flow.start", tz)?;
        let end = match self.text("flow.end")? {
            Some(_) => self.time("flow.end", tz)?,
            None => start,
        };
        let proto = self.required("proto")?;
        let protocol = protocol_number(&proto).ok_or_else(|| {
            RowProblem::new(Some("proto"), &proto, "not an IP protocol number or name")
        })?;
        Ok(FlowRow {
            start,
            end,
            src: self.addr("src_ip")?,
            dst: self.addr("dest_ip")?,
            src_port: self.port("src_port")?,
            dst_port: self.port("dest_port")?,
            protocol,
            bytes_sent: self.count("flow.bytes_toserver")?,
            bytes_received: self.count("flow.bytes_toclient")?,
            packets_sent: self.count("flow.pkts_toserver")?,
            packets_received: self.count("flow.pkts_toclient")?,
            service: self.text("app_proto")?,
            source_row,
            extras: Vec::new(),
        })
    }

    fn alert(&self, tz: Option<FixedOffset>, source_row: u64) -> Result<EventRow, RowProblem> {
        let severity = match self.text("alert.severity")? {
            Some(text) => text.parse::<i32>().map_err(|_| {
                RowProblem::new(Some("alert.severity"), &text, "not a whole number")
            })?,
            None => 3,
        };
        Ok(EventRow {
            time: self.time("timestamp", tz)?,
            src: self.addr("src_ip")?,
            dst: self.addr("dest_ip")?,
            signature: self.required("alert.signature")?,
            severity,
            category: self.text("alert.category")?.unwrap_or_default(),
            source_row,
            extras: Vec::new(),
        })
    }

    fn extras(
        &self,
        consumed: &[&str],
        out: &mut Collector,
    ) -> Result<Vec<(usize, String)>, RowProblem> {
        let mut extras = Vec::new();
        for (name, _) in self.members.iter() {
            if consumed.contains(&name.as_ref()) {
                continue;
            }
            let slot = out.extra_slot(name);
            if let Some(value) = self.text(name)? {
                extras.push((slot, value));
            }
        }
        Ok(extras)
    }
}
