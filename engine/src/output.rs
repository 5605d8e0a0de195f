//! Collect: output updates → a consolidated, sorted [`ResultSet`], and the printed form of its
//! columns (headers and cells), shared by every output format.
//!
//! A result row is the distinct tuple of the exported identities (and aggregate values); its
//! `count` is the number of matches behind it. Rows are sorted by that tuple: connections and
//! events by (file, row), addresses by value — the same input gives the same output, for any
//! number of workers.

use compiler::ast::{AggFunc, BinOp};
use compiler::hir::{format_time, Expr, InstanceId, Value};
use compiler::model::{Attr, Entity, Type};
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
    /// Aggregate value types, by the plan (aligned with `agg_names`).
    pub agg_types: Vec<ColumnType>,
    /// Rows, sorted, counts non-zero.
    pub rows: Vec<ResultRow>,
}

/// The type of a result column, for the typed outputs (JSON lines, Parquet). The printed
/// text of every type is the same as in CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Whole number ≥ 0: row numbers, protocol, ports, counters, `matches`, counts.
    UInt,
    /// Whole number: severity, integer aggregates.
    Int,
    /// Instant, microseconds UTC.
    Time,
    /// A span as exact seconds of whole microseconds (`durationSeconds`).
    Seconds,
    /// An exact decimal of no fixed scale (a decimal aggregate), kept as its text.
    Decimal,
    /// True or false.
    Bool,
    /// Text: addresses, file names, services, signatures, categories.
    Text,
}

/// One result column: its header, type, and whether its value can be absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header, as [`ResultSet::header`] prints it.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether a cell may be null (`service`, aggregates).
    pub nullable: bool,
}

/// One typed cell of a result row; [`Cell::text`] is its CSV text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Absent (printed empty).
    Null,
    /// A whole number ≥ 0.
    UInt(u64),
    /// A whole number.
    Int(i128),
    /// An instant, µs UTC.
    Time(i64),
    /// A span in microseconds, printed as exact seconds.
    Seconds(i128),
    /// An exact decimal as printed.
    Decimal(String),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(String),
}

impl Cell {
    /// Appends [`Cell::text`] to `out` without a `String` of its own.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Cell::Null => {}
            Cell::UInt(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Cell::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Cell::Time(t) => compiler::hir::write_time(out, *t),
            Cell::Seconds(us) => write_seconds(out, *us),
            Cell::Decimal(s) | Cell::Text(s) => out.push_str(s),
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }

    /// The printed form (CSV, table).
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }
}

/// The column type of a record attribute.
pub fn attribute_type(attr: Attr) -> ColumnType {
    match attr {
        Attr::Protocol
        | Attr::SrcPort
        | Attr::DestPort
        | Attr::BytesSent
        | Attr::BytesReceived
        | Attr::PacketsSent
        | Attr::PacketsReceived => ColumnType::UInt,
        Attr::Severity => ColumnType::Int,
        Attr::StartTime | Attr::EndTime | Attr::Time => ColumnType::Time,
        Attr::DurationSeconds => ColumnType::Seconds,
        Attr::Address | Attr::Disposition | Attr::Service | Attr::Signature | Attr::Category => {
            ColumnType::Text
        }
    }
}

/// The column type of a value of language type `ty`.
fn value_type(ty: Type) -> ColumnType {
    match ty {
        Type::Int | Type::Protocol => ColumnType::Int,
        Type::Decimal => ColumnType::Decimal,
        Type::Str | Type::Addr => ColumnType::Text,
        Type::Time => ColumnType::Time,
        Type::Duration => ColumnType::Seconds,
        Type::Bool => ColumnType::Bool,
    }
}

/// The language type of an expression, where the plan's expression alone tells it.
fn expr_type(e: &Expr) -> Option<Type> {
    Some(match e {
        Expr::Lit(v) => match v {
            Value::Null => return None,
            Value::Bool(_) => Type::Bool,
            Value::Num(n) if n.as_int().is_some() => Type::Int,
            Value::Num(_) => Type::Decimal,
            Value::Time(_) => Type::Time,
            Value::Dur(_) => Type::Duration,
            Value::Str(_) => Type::Str,
            Value::Addr(_) => Type::Addr,
        },
        Expr::Attr(_, a) => a.ty(),
        Expr::Column(..) => Type::Str,
        Expr::Agg(_) => return None,
        Expr::Not(_) | Expr::In(..) | Expr::InCidr(..) => Type::Bool,
        Expr::Neg(x) => expr_type(x)?,
        Expr::Seconds(_) => Type::Decimal,
        Expr::Bin(op, a, b) => {
            let (a, b) = (expr_type(a)?, expr_type(b)?);
            let int = |t: Type| matches!(t, Type::Int | Type::Protocol);
            match op {
                BinOp::Or
                | BinOp::And
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge => Type::Bool,
                BinOp::Add | BinOp::Sub => match (a, b) {
                    (Type::Time, Type::Time) => Type::Duration,
                    (Type::Time, _) | (_, Type::Time) => Type::Time,
                    (Type::Duration, Type::Duration) => Type::Duration,
                    (x, y) if int(x) && int(y) => Type::Int,
                    (x, y) if x.is_numeric() && y.is_numeric() => Type::Decimal,
                    _ => return None,
                },
                BinOp::Mul => match (a, b) {
                    (x, y) if int(x) && int(y) => Type::Int,
                    (x, y) if x.is_numeric() && y.is_numeric() => Type::Decimal,
                    _ => return None,
                },
                BinOp::Div => Type::Decimal,
            }
        }
    })
}

/// The column type of each aggregate of `plan`: counts are whole numbers ≥ 0; `sum`, `min`
/// and `max` have their argument's type (text when it cannot be told).
fn aggregate_types(plan: &JoinPlan) -> Vec<ColumnType> {
    let Some(group) = &plan.group else {
        return vec![ColumnType::Text; plan.agg_names.len()];
    };
    let mut out: Vec<ColumnType> = group
        .aggregates
        .iter()
        .map(|a| match a.func {
            AggFunc::Count | AggFunc::CountDistinct => ColumnType::UInt,
            AggFunc::Sum | AggFunc::Min | AggFunc::Max => a
                .arg
                .as_ref()
                .and_then(expr_type)
                .map(value_type)
                .unwrap_or(ColumnType::Text),
        })
        .collect();
    out.resize(plan.agg_names.len(), ColumnType::Text);
    out
}

/// Sums multiplicities of equal rows, drops zeros, sorts (in place, without a second copy of
/// the rows).
pub fn consolidate(updates: impl IntoIterator<Item = (Row, i64)>) -> Vec<ResultRow> {
    let mut all: Vec<(Row, i64)> = updates.into_iter().collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    sum_equal_neighbours(&mut all);
    all.into_iter()
        .map(|(values, count)| ResultRow { values, count })
        .collect()
}

/// Sums the counts of equal adjacent rows into the first and drops rows whose sum is zero.
fn sum_equal_neighbours(rows: &mut Vec<(Row, i64)>) {
    rows.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    rows.retain(|r| r.1 != 0);
}

/// [`consolidate`] for rows that come as runs already consolidated and sorted (one per
/// worker): merged in order, a row that several runs hold summed.
pub fn merge_sorted(runs: Vec<Vec<(Row, i64)>>) -> Vec<ResultRow> {
    let mut runs: Vec<Vec<(Row, i64)>> = runs.into_iter().filter(|r| !r.is_empty()).collect();
    while runs.len() > 1 {
        let b = runs.pop().expect("two runs");
        let a = runs.pop().expect("two runs");
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.0 <= y.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            merged.push(if take_a { a.next() } else { b.next() }.expect("peeked"));
        }
        sum_equal_neighbours(&mut merged);
        runs.insert(0, merged);
    }
    runs.pop()
        .unwrap_or_default()
        .into_iter()
        .map(|(values, count)| ResultRow { values, count })
        .collect()
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
            agg_types: aggregate_types(plan),
            rows,
        }
    }

    fn name(&self, i: InstanceId) -> &str {
        &self.names[i.index()]
    }

    /// Column headers: an address `x` → `x`; a record `c` → `c.file`, `c.row` and its
    /// attributes `c.<attribute>`; an aggregate by its name; last `matches`.
    pub fn header(&self) -> Vec<String> {
        self.columns().into_iter().map(|c| c.name).collect()
    }

    /// The columns of [`ResultSet::header`] with their types.
    pub fn columns(&self) -> Vec<Column> {
        let column = |name: String, ty: ColumnType, nullable: bool| Column { name, ty, nullable };
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                OutputItem::Address(i) => {
                    out.push(column(self.name(*i).to_string(), ColumnType::Text, false))
                }
                OutputItem::Record(i) => {
                    let n = self.name(*i);
                    out.push(column(format!("{n}.file"), ColumnType::Text, false));
                    out.push(column(format!("{n}.row"), ColumnType::UInt, false));
                    for attr in self.entities[i.index()].attributes() {
                        out.push(column(
                            format!("{n}.{}", attr.name()),
                            attribute_type(*attr),
                            *attr == Attr::Service,
                        ));
                    }
                }
                OutputItem::Aggregate(k) => out.push(column(
                    self.agg_names[*k].clone(),
                    self.agg_types.get(*k).copied().unwrap_or(ColumnType::Text),
                    true,
                )),
            }
        }
        out.push(column("matches".into(), ColumnType::UInt, false));
        out
    }

    /// Printed cells of one row, aligned with [`ResultSet::header`].
    pub fn cells(&self, row: &ResultRow, flows: &FileTable, events: &FileTable) -> Vec<String> {
        self.typed_cells(row, flows, events)
            .iter()
            .map(Cell::text)
            .collect()
    }

    /// Calls `f` with the printed text of each cell of `row` in header order: the text of
    /// [`ResultSet::cells`], without a `String` per cell (CSV output of large results).
    pub fn for_each_text(
        &self,
        row: &ResultRow,
        flows: &FileTable,
        events: &FileTable,
        f: &mut dyn FnMut(&str),
    ) {
        use std::fmt::Write;
        let mut buf = String::with_capacity(48);
        let mut digits = itoa::Buffer::new();
        macro_rules! put {
            ($($arg:tt)*) => {{
                buf.clear();
                let _ = write!(buf, $($arg)*);
                f(&buf);
            }};
        }
        // Integers through `itoa` (no `fmt` machinery): most cells of a large result are numbers.
        macro_rules! int {
            ($v:expr) => {
                f(digits.format($v))
            };
        }
        let time = |buf: &mut String, f: &mut dyn FnMut(&str), t: i64| {
            buf.clear();
            compiler::hir::write_time(buf, t);
            f(buf);
        };
        for (item, value) in self.items.iter().zip(&row.values) {
            match (item, value) {
                (_, Datum::Conn(c)) => {
                    match flows.get(c.id.file) {
                        Some(entry) => f(&entry.display),
                        None => put!("#{}", c.id.file.0),
                    }
                    int!(c.id.row);
                    int!(c.protocol);
                    int!(c.src_port);
                    int!(c.dst_port);
                    time(&mut buf, f, c.start);
                    time(&mut buf, f, c.end);
                    buf.clear();
                    write_seconds(&mut buf, i128::from(c.end) - i128::from(c.start));
                    f(&buf);
                    int!(c.bytes_sent);
                    int!(c.bytes_received);
                    int!(c.packets_sent);
                    int!(c.packets_received);
                    f(c.service.as_deref().unwrap_or(""));
                }
                (_, Datum::Event(e)) => {
                    match events.get(e.id.file) {
                        Some(entry) => f(&entry.display),
                        None => put!("#{}", e.id.file.0),
                    }
                    int!(e.id.row);
                    time(&mut buf, f, e.time);
                    f(&e.signature);
                    int!(e.severity);
                    f(&e.category);
                }
                (OutputItem::Record(i), _) => {
                    for _ in 0..2 + self.entities[i.index()].attributes().len() {
                        f("");
                    }
                }
                (_, Datum::Addr(a)) => put!("{a}"),
                (_, d) => f(&datum_text(d)),
            }
        }
        int!(row.count);
    }

    /// Typed cells of one row, aligned with [`ResultSet::columns`].
    pub fn typed_cells(&self, row: &ResultRow, flows: &FileTable, events: &FileTable) -> Vec<Cell> {
        let mut out = Vec::new();
        for (item, value) in self.items.iter().zip(&row.values) {
            match (item, value) {
                (_, Datum::Conn(c)) => conn_cells(c, flows, &mut out),
                (_, Datum::Event(e)) => event_cells(e, events, &mut out),
                (OutputItem::Record(i), _) => {
                    // Not reachable for well-formed plans; keep the columns aligned.
                    let n = 2 + self.entities[i.index()].attributes().len();
                    out.extend(std::iter::repeat_n(Cell::Null, n));
                }
                (_, d) => out.push(datum_cell(d)),
            }
        }
        out.push(match u64::try_from(row.count) {
            Ok(n) => Cell::UInt(n),
            Err(_) => Cell::Int(i128::from(row.count)),
        });
        out
    }
}

fn file_name(table: &FileTable, id: crate::model::FileId) -> String {
    table
        .get(id)
        .map(|f| f.display.clone())
        .unwrap_or_else(|| format!("#{}", id.0))
}

fn conn_cells(c: &Conn, flows: &FileTable, out: &mut Vec<Cell>) {
    out.push(Cell::Text(file_name(flows, c.id.file)));
    out.push(Cell::UInt(c.id.row));
    out.push(Cell::UInt(u64::from(c.protocol)));
    out.push(Cell::UInt(u64::from(c.src_port)));
    out.push(Cell::UInt(u64::from(c.dst_port)));
    out.push(Cell::Time(c.start));
    out.push(Cell::Time(c.end));
    out.push(Cell::Seconds(i128::from(c.end) - i128::from(c.start)));
    out.push(Cell::UInt(c.bytes_sent));
    out.push(Cell::UInt(c.bytes_received));
    out.push(Cell::UInt(c.packets_sent));
    out.push(Cell::UInt(c.packets_received));
    out.push(c.service.clone().map_or(Cell::Null, Cell::Text));
}

fn event_cells(e: &Event, events: &FileTable, out: &mut Vec<Cell>) {
    out.push(Cell::Text(file_name(events, e.id.file)));
    out.push(Cell::UInt(e.id.row));
    out.push(Cell::Time(e.time));
    out.push(Cell::Text(e.signature.clone()));
    out.push(Cell::Int(i128::from(e.severity)));
    out.push(Cell::Text(e.category.clone()));
}

/// The typed cell of a non-record value.
pub fn datum_cell(d: &Datum) -> Cell {
    match d {
        Datum::Null => Cell::Null,
        Datum::Bool(b) => Cell::Bool(*b),
        Datum::Int(n) => Cell::Int(*n),
        Datum::Time(t) => Cell::Time(*t),
        Datum::Dur(us) => Cell::Seconds(i128::from(*us)),
        Datum::Str(s) => Cell::Text(s.clone()),
        Datum::Ratio(..) => Cell::Decimal(datum_text(d)),
        Datum::Addr(_) | Datum::Conn(_) | Datum::Event(_) => Cell::Text(datum_text(d)),
    }
}

/// Exact decimal seconds of a microsecond span (`3`, `0.0005`, `-1.5`).
pub fn seconds_text(micros: i128) -> String {
    let mut out = String::new();
    write_seconds(&mut out, micros);
    out
}

/// Appends [`seconds_text`]'s text to `out`: whole seconds, then the microseconds without
/// trailing zeros — the exact decimal as `Num` prints it (checked in the tests), without
/// building a fraction per cell.
pub fn write_seconds(out: &mut String, micros: i128) {
    if micros < 0 {
        out.push('-');
    }
    let (whole, frac) = (
        micros.unsigned_abs() / 1_000_000,
        micros.unsigned_abs() % 1_000_000,
    );
    out.push_str(itoa::Buffer::new().format(whole));
    if frac != 0 {
        let mut b = *b".000000";
        let mut v = frac as u32;
        for k in (1..7).rev() {
            b[k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let digits = std::str::from_utf8(&b).expect("ASCII digits");
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Printed form of a non-record value.
pub fn datum_text(d: &Datum) -> String {
    match d {
        Datum::Addr(a) => a.to_string(),
        Datum::Null => String::new(),
        Datum::Bool(b) => b.to_string(),
        Datum::Int(n) => n.to_string(),
        Datum::Ratio(r) => Num::ratio(r.0, r.1)
            .map(|x| x.to_string())
            .unwrap_or_default(),
        Datum::Time(t) => format_time(*t),
        Datum::Dur(us) => seconds_text(i128::from(*us)),
        Datum::Str(s) => s.clone(),
        Datum::Conn(c) => format!("{}:{}", c.id.file.0, c.id.row),
        Datum::Event(e) => format!("{}:{}", e.id.file.0, e.id.row),
    }
}

/// The JSON text of one typed cell: numbers as JSON numbers (exact, as printed), absent
/// values as `null`, times and text as strings.
pub fn json_value(cell: &Cell) -> String {
    let mut out = String::new();
    write_json_value(&mut out, cell);
    out
}

/// Appends [`json_value`]'s text to `out`.
pub fn write_json_value(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => out.push_str("null"),
        Cell::UInt(_) | Cell::Int(_) | Cell::Seconds(_) | Cell::Bool(_) => cell.write_text(out),
        Cell::Decimal(s) if serde_json::from_str::<serde_json::Number>(s).is_ok() => {
            out.push_str(s)
        }
        Cell::Time(_) | Cell::Decimal(_) => {
            let mut text = String::with_capacity(32);
            cell.write_text(&mut text);
            write_json_str(out, &text);
        }
        Cell::Text(s) => write_json_str(out, s),
    }
}

/// Appends `s` as a JSON string (quoted and escaped) to `out`.
/// The escapes are serde_json's: `\"`, `\\`, `\b \t \n \f \r`, other control characters as
/// `\u00xx`; everything else as is.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0A => "\\n",
            0x0C => "\\f",
            0x0D => "\\r",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xF) as usize] as char);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One JSON line: `pattern` and each column, keys in sorted order.
pub fn json_line(pattern: &str, header: &[String], cells: &[Cell]) -> String {
    let mut fields: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::new();
    fields.insert("pattern", serde_json::Value::from(pattern).to_string());
    for (h, c) in header.iter().zip(cells) {
        fields.insert(h, json_value(c));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::Value::from(*k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_runs_merge_as_one_consolidation() {
        let row = |n: i128| vec![Datum::Int(n)];
        let runs = vec![
            consolidate([(row(5), 1), (row(1), 2), (row(3), 1), (row(3), 1)])
                .into_iter()
                .map(|r| (r.values, r.count))
                .collect(),
            vec![(row(2), 1), (row(3), -2), (row(7), 4)],
            Vec::new(),
            vec![(row(1), 1), (row(7), 1)],
        ];
        let all: Vec<(Row, i64)> = runs.iter().flatten().cloned().collect();
        let merged = merge_sorted(runs);
        assert_eq!(merged, consolidate(all));
        let got: Vec<(i128, i64)> = merged
            .iter()
            .map(|r| match r.values[0] {
                Datum::Int(n) => (n, r.count),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(got, [(1, 3), (2, 1), (5, 1), (7, 5)]);
    }

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        let mut samples: Vec<String> = (0u8..0x80).map(|b| format!("a{}b", b as char)).collect();
        samples
            .extend(["", "\"\\\"", "naïve ✓ 𝄞", "\u{7f}\u{80}", "tab\tand\r\n"].map(String::from));
        for s in samples {
            let mut out = String::from("x");
            write_json_str(&mut out, &s);
            assert_eq!(
                out,
                format!("x{}", serde_json::Value::from(s.as_str())),
                "{s:?}"
            );
        }
    }

    #[test]
    fn written_cells_equal_their_text() {
        let cells = [
            Cell::Null,
            Cell::UInt(u64::MAX),
            Cell::Int(-170141183460469231731687303715884105728),
            Cell::Time(1_700_000_000_123_456),
            Cell::Seconds(-1_500_000),
            Cell::Decimal("1.25".into()),
            Cell::Bool(true),
            Cell::Text("a,b".into()),
        ];
        for cell in &cells {
            let mut out = String::new();
            cell.write_text(&mut out);
            assert_eq!(out, cell.text());
        }
    }

    #[test]
    fn seconds_text_is_the_exact_decimal() {
        let mut values: Vec<i128> = vec![0, 1, 10, 999_999, 1_000_000, 1_500_000, 86_400_000_001];
        values.extend((0..2000).map(|k| (k * 7919 % 3_000_001) as i128));
        values.push(i128::from(i64::MAX));
        values.push(i128::from(i64::MIN));
        for v in values
            .clone()
            .into_iter()
            .chain(values.into_iter().map(|v| -v))
        {
            let want = Num::ratio(v, 1_000_000).map(|n| n.to_string()).unwrap();
            assert_eq!(seconds_text(v), want, "{v} µs");
        }
    }

    #[test]
    fn times_print_as_rfc3339_microseconds() {
        let chrono_text = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        };
        for us in [
            0,
            1,
            -1,
            1_709_251_200_000_000,
            1_709_251_200_123_456,
            -62_135_596_800_000_000, // 0001-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
            253_402_300_800_000_000, // 10000-01-01
        ] {
            assert_eq!(format_time(us), chrono_text(us), "{us}");
        }
    }
}
