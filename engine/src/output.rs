//! Collect: output updates → a consolidated, sorted [`ResultSet`], and the printed form of its
//! columns (headers and cells), shared by every output format.
//!
//! A result row is the distinct tuple of the exported identities (and aggregate values); its
//! `count` is the number of matches behind it. Rows are sorted by that tuple: connections and
//! events by (file, row), addresses by value — the same input gives the same output, for any
//! number of workers.

use compiler::hir::{format_time, InstanceId};
use compiler::model::Entity;
use compiler::num::Num;
use compiler::plan::{JoinPlan, OutputItem};

use crate::datum::{Datum, Row};
use crate::load::files::FileTable;
use crate::model::{Conn, Event};

/// One result: the exported values and how many matches stand behind them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ResultRow {
    /// Exported values in export order.
    pub values: Row,
    /// Number of matches (bindings of every instance) behind this tuple.
    pub count: i64,
}

/// All results of one pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultSet {
    /// The pattern's name.
    pub pattern: String,
    /// Exported items (to name columns).
    pub items: Vec<OutputItem>,
    /// Instance names and entities, by id.
    pub names: Vec<String>,
    /// Entities by instance id.
    pub entities: Vec<Entity>,
    /// Aggregate names.
    pub agg_names: Vec<String>,
    /// Rows, sorted, counts non-zero.
    pub rows: Vec<ResultRow>,
}

/// Sums multiplicities of equal rows, drops zeros, sorts.
pub fn consolidate(updates: impl IntoIterator<Item = (Row, i64)>) -> Vec<ResultRow> {
    let mut all: Vec<(Row, i64)> = updates.into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<ResultRow> = Vec::with_capacity(all.len());
    for (values, count) in all {
        match out.last_mut() {
            Some(last) if last.values == values => last.count += count,
            _ => out.push(ResultRow { values, count }),
        }
    }
    out.retain(|r| r.count != 0);
    out
}

impl ResultSet {
    /// A result set of `plan` with these rows.
    pub fn new(plan: &JoinPlan, rows: Vec<ResultRow>) -> ResultSet {
        ResultSet {
            pattern: plan.pattern.clone(),
            items: plan.output.clone(),
            names: plan.names.clone(),
            entities: plan.entities.clone(),
            agg_names: plan.agg_names.clone(),
            rows,
        }
    }

    fn name(&self, i: InstanceId) -> &str {
        &self.names[i.index()]
    }

    /// Column headers: an address `x` → `x`; a record `c` → `c.file`, `c.row` and its
    /// attributes `c.<attribute>`; an aggregate by its name; last `matches`.
    pub fn header(&self) -> Vec<String> {
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                OutputItem::Address(i) => out.push(self.name(*i).to_string()),
                OutputItem::Record(i) => {
                    let n = self.name(*i);
                    out.push(format!("{n}.file"));
                    out.push(format!("{n}.row"));
                    for attr in self.entities[i.index()].attributes() {
                        out.push(format!("{n}.{}", attr.name()));
                    }
                }
                OutputItem::Aggregate(k) => out.push(self.agg_names[*k].clone()),
            }
        }
        out.push("matches".into());
        out
    }

    /// Printed cells of one row, aligned with [`ResultSet::header`].
    pub fn cells(&self, row: &ResultRow, flows: &FileTable, events: &FileTable) -> Vec<String> {
        let mut out = Vec::new();
        for (item, value) in self.items.iter().zip(&row.values) {
            match (item, value) {
                (_, Datum::Conn(c)) => conn_cells(c, flows, &mut out),
                (_, Datum::Event(e)) => event_cells(e, events, &mut out),
                (OutputItem::Record(i), _) => {
                    // Not reachable for well-formed plans; keep the columns aligned.
                    let n = 2 + self.entities[i.index()].attributes().len();
                    out.extend(std::iter::repeat_n(String::new(), n));
                }
                (_, d) => out.push(datum_text(d)),
            }
        }
        out.push(row.count.to_string());
        out
    }
}

fn file_name(table: &FileTable, id: crate::model::FileId) -> String {
    table
        .get(id)
        .map(|f| f.display.clone())
        .unwrap_or_else(|| format!("#{}", id.0))
}

fn conn_cells(c: &Conn, flows: &FileTable, out: &mut Vec<String>) {
    out.push(file_name(flows, c.id.file));
    out.push(c.id.row.to_string());
    out.push(c.protocol.to_string());
    out.push(c.src_port.to_string());
    out.push(c.dst_port.to_string());
    out.push(format_time(c.start));
    out.push(format_time(c.end));
    out.push(seconds_text(i128::from(c.end) - i128::from(c.start)));
    out.push(c.bytes_sent.to_string());
    out.push(c.bytes_received.to_string());
    out.push(c.packets_sent.to_string());
    out.push(c.packets_received.to_string());
    out.push(c.service.clone().unwrap_or_default());
}

fn event_cells(e: &Event, events: &FileTable, out: &mut Vec<String>) {
    out.push(file_name(events, e.id.file));
    out.push(e.id.row.to_string());
    out.push(format_time(e.time));
    out.push(e.signature.clone());
    out.push(e.severity.to_string());
    out.push(e.category.clone());
}

/// Exact decimal seconds of a microsecond span (`3`, `0.0005`, `-1.5`).
pub fn seconds_text(micros: i128) -> String {
    Num::ratio(micros, 1_000_000)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// Printed form of a non-record value.
pub fn datum_text(d: &Datum) -> String {
    match d {
        Datum::Addr(a) => a.to_string(),
        Datum::Null => String::new(),
        Datum::Bool(b) => b.to_string(),
        Datum::Int(n) => n.to_string(),
        Datum::Ratio(n, dd) => Num::ratio(*n, *dd)
            .map(|x| x.to_string())
            .unwrap_or_default(),
        Datum::Time(t) => format_time(*t),
        Datum::Dur(us) => seconds_text(i128::from(*us)),
        Datum::Str(s) => s.clone(),
        Datum::Conn(c) => format!("{}:{}", c.id.file.0, c.id.row),
        Datum::Event(e) => format!("{}:{}", e.id.file.0, e.id.row),
    }
}
