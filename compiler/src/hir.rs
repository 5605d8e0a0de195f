//! The resolved, typed pattern: every name bound to an instance, attribute or parameter,
//! every literal turned into a value by meaning (`"06"`, `6` and `"tcp"` are all `Protocol 6`),
//! every expression typed. Later stages never look at names again.

use std::fmt;

use crate::ast::{AggFunc, BinOp};
use crate::model::{Attr, Entity, Role, Type};
use crate::num::Num;
use crate::source::Span;
use crate::value::{Addr, Prefix};

/// Index of an instance within its [`Pattern`] (absent sub-patterns' instances included).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct InstanceId(pub u32);

impl InstanceId {
    /// As an index into [`Pattern::instances`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A literal value by meaning.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Absent value (`service` with no label, division by zero).
    Null,
    /// Boolean.
    Bool(bool),
    /// Exact number (integers, decimals, protocol numbers).
    Num(Num),
    /// Instant, microseconds UTC.
    Time(i64),
    /// Span of time, microseconds.
    Dur(i64),
    /// Text.
    Str(String),
    /// Address.
    Addr(Addr),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Time(t) => f.write_str(&format_time(*t)),
            Value::Dur(d) => f.write_str(&format_duration(*d)),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// RFC 3339 with microseconds, UTC (`2024-05-01T10:00:00.000000Z`).
pub fn format_time(micros: i64) -> String {
    let mut out = String::with_capacity(27);
    write_time(&mut out, micros);
    out
}

/// Appends [`format_time`]'s text to `out`.
pub fn write_time(out: &mut String, micros: i64) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    match chrono::DateTime::from_timestamp_micros(micros) {
        // Years 0–9999 (all real data) are written digit by digit: results print a time per
        // cell, and `format!` machinery or chrono's `format` (which parses its format string
        // every call) cost more than the rest of the row.
        Some(t) if (0..=9999).contains(&t.year()) => {
            let mut b = *b"0000-00-00T00:00:00.000000Z";
            let mut put = |at: usize, width: usize, mut v: u32| {
                for k in (at..at + width).rev() {
                    b[k] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            };
            put(0, 4, t.year() as u32);
            put(5, 2, t.month());
            put(8, 2, t.day());
            put(11, 2, t.hour());
            put(14, 2, t.minute());
            put(17, 2, t.second());
            put(20, 6, micros.rem_euclid(1_000_000) as u32);
            out.push_str(std::str::from_utf8(&b).expect("ASCII digits"));
        }
        Some(t) => {
            let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        }
        None => {
            let _ = write!(out, "{micros}us");
        }
    }
}

/// The shortest exact duration literal (`24h`, `90s`, `1500ms`, `3us`).
pub fn format_duration(micros: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (86_400_000_000, "d"),
        (3_600_000_000, "h"),
        (60_000_000, "m"),
        (1_000_000, "s"),
        (1_000, "ms"),
        (1, "us"),
    ];
    if micros == 0 {
        return "0s".into();
    }
    for (scale, unit) in UNITS {
        // Whole days read better as hours below a week (`24h`, not `1d`).
        if unit == "d" && micros.abs() < 7 * scale {
            continue;
        }
        if micros % scale == 0 {
            return format!("{}{unit}", micros / scale);
        }
    }
    format!("{micros}us")
}

/// A typed expression. Leaves name instances by id and attributes by [`Attr`].
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Lit(Value),
    /// An attribute of an instance.
    Attr(InstanceId, Attr),
    /// An extra archive column of a record instance, resolved by name against the data.
    Column(InstanceId, String),
    /// The value of the pattern's `index`-th aggregate (only in `having`).
    Agg(usize),
    /// Boolean negation.
    Not(Box<Expr>),
    /// Arithmetic negation.
    Neg(Box<Expr>),
    /// Binary operation; the operand types were checked by `resolve`.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// Membership in a list of values.
    In(Box<Expr>, Vec<Value>, bool),
    /// Membership of an address in any of some prefixes.
    InCidr(Box<Expr>, Vec<Prefix>, bool),
    /// A duration as exact decimal seconds (inserted where durations meet plain numbers).
    Seconds(Box<Expr>),
}

impl Expr {
    /// The instances this expression reads, sorted and deduplicated.
    pub fn instances(&self) -> Vec<InstanceId> {
        let mut out = Vec::new();
        self.visit(&mut |e| match e {
            Expr::Attr(i, _) | Expr::Column(i, _) => out.push(*i),
            _ => {}
        });
        out.sort();
        out.dedup();
        out
    }

    /// Calls `f` on every node, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Lit(_) | Expr::Attr(..) | Expr::Column(..) | Expr::Agg(_) => {}
            Expr::Not(e)
            | Expr::Neg(e)
            | Expr::Seconds(e)
            | Expr::In(e, ..)
            | Expr::InCidr(e, ..) => e.visit(f),
            Expr::Bin(_, l, r) => {
                l.visit(f);
                r.visit(f);
            }
        }
    }

    /// `a and b`, dropping `true`.
    pub fn and(a: Option<Expr>, b: Option<Expr>) -> Option<Expr> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Expr::Bin(BinOp::And, Box::new(a), Box::new(b))),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// Splits a conjunction into its conjuncts.
    pub fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::Bin(BinOp::And, l, r) => {
                let mut v = l.conjuncts();
                v.extend(r.conjuncts());
                v
            }
            e => vec![e],
        }
    }

    /// Joins conjuncts back with `and`.
    pub fn all(conjuncts: Vec<Expr>) -> Option<Expr> {
        conjuncts
            .into_iter()
            .fold(None, |acc, e| Expr::and(acc, Some(e)))
    }
}

/// Display with instance names.
pub struct ExprDisplay<'a> {
    /// The expression.
    pub expr: &'a Expr,
    /// Instance names by id.
    pub names: &'a [String],
    /// Aggregate names by index.
    pub aggs: &'a [String],
}

impl fmt::Display for ExprDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, self.expr, 0)
    }
}

impl ExprDisplay<'_> {
    fn write(&self, f: &mut fmt::Formatter<'_>, e: &Expr, outer: u8) -> fmt::Result {
        match e {
            Expr::Lit(v) => write!(f, "{v}"),
            Expr::Attr(i, a) => write!(f, "{}.{a}", self.names[i.index()]),
            Expr::Column(i, c) => write!(f, "{}.column({c:?})", self.names[i.index()]),
            Expr::Agg(k) => f.write_str(&self.aggs[*k]),
            Expr::Not(x) => {
                f.write_str("not ")?;
                self.write(f, x, 3)
            }
            Expr::Neg(x) => {
                f.write_str("-")?;
                self.write(f, x, 7)
            }
            Expr::Seconds(x) => self.write(f, x, outer),
            Expr::Bin(op, l, r) => {
                let p = op.precedence();
                let paren = p < outer;
                if paren {
                    f.write_str("(")?;
                }
                self.write(f, l, p)?;
                write!(f, " {} ", op.symbol())?;
                self.write(f, r, p + 1)?;
                if paren {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Expr::In(x, list, neg) => {
                self.write(f, x, 5)?;
                f.write_str(if *neg { " not in (" } else { " in (" })?;
                for (k, v) in list.iter().enumerate() {
                    if k > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::InCidr(x, list, neg) => {
                self.write(f, x, 5)?;
                f.write_str(if *neg { " not in (" } else { " in (" })?;
                for (k, p) in list.iter().enumerate() {
                    if k > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{p}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// One instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Its id.
    pub id: InstanceId,
    /// Its variable name.
    pub name: String,
    /// Its entity type.
    pub entity: Entity,
    /// The predicates over this instance alone (definitions' and its own, conjoined).
    pub predicate: Option<Expr>,
    /// Whether it belongs to an `absent` block (it must not be matched).
    pub absent_group: Option<usize>,
    /// Its declaration.
    pub span: Span,
}

/// A resolved edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The connection or event.
    pub record: InstanceId,
    /// Which end.
    pub role: Role,
    /// The address instance.
    pub address: InstanceId,
}

/// A resolved temporal order rule, kept for explanation; its meaning is also in `requires`.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Left instance.
    pub left: InstanceId,
    /// Relation.
    pub op: crate::ast::OrderOp,
    /// Right instance.
    pub right: InstanceId,
    /// Bound on the gap, microseconds.
    pub within: Option<i64>,
}

/// A resolved aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// Its name.
    pub name: String,
    /// Function.
    pub func: AggFunc,
    /// Argument (`None` for `count`).
    pub arg: Option<Expr>,
    /// Result type.
    pub ty: Type,
}

/// Group-by with aggregates and a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Instances grouped by (their identities form the group key).
    pub by: Vec<InstanceId>,
    /// Aggregates.
    pub aggregates: Vec<Aggregate>,
    /// Threshold.
    pub having: Option<Expr>,
}

/// A sub-pattern that must not exist for a match to count.
#[derive(Clone, Debug, PartialEq)]
pub struct Absent {
    /// Its own instances (ids into [`Pattern::instances`]).
    pub instances: Vec<InstanceId>,
    /// Its edges (may connect its instances to the outer pattern's).
    pub edges: Vec<Edge>,
    /// Its conditions (may read outer instances).
    pub requires: Vec<Expr>,
    /// Its order rules, for explanation.
    pub orders: Vec<Order>,
}

/// A chain of connection steps from one address to another.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    /// Step variable name.
    pub name: String,
    /// Start address instance.
    pub from: InstanceId,
    /// End address instance.
    pub to: InstanceId,
    /// Minimum hops.
    pub min_hops: u32,
    /// Maximum hops (`None`: unbounded).
    pub max_hops: Option<u32>,
    /// Predicate every step satisfies; reads the step as instance `step`.
    pub predicate: Option<Expr>,
    /// The instance id standing for "the step" in `predicate`.
    pub step: InstanceId,
}

/// What an export line names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportItem {
    /// An instance (its identity, and for records its attributes).
    Instance(InstanceId),
    /// An aggregate's value.
    Aggregate(usize),
}

/// Pattern metadata as written (`meta … end`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// Entries in the order written.
    pub entries: Vec<(String, String)>,
}

impl Meta {
    /// Value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One resolved pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    /// The name between `search` and `is`.
    pub name: String,
    /// Metadata.
    pub meta: Meta,
    /// Parameters with the values used (defaults or overrides).
    pub params: Vec<(String, Value)>,
    /// All instances, outer and absent; index = id.
    pub instances: Vec<Instance>,
    /// Outer edges.
    pub edges: Vec<Edge>,
    /// Cross-instance conditions of the outer pattern (from `require` and `order`).
    pub requires: Vec<Expr>,
    /// Order rules, for explanation.
    pub orders: Vec<Order>,
    /// Group-by, if any.
    pub group: Option<Group>,
    /// Absent sub-patterns.
    pub absent: Vec<Absent>,
    /// Chains.
    pub chains: Vec<Chain>,
    /// Exported items in order.
    pub export: Vec<ExportItem>,
    /// Extra archive columns read, per record entity: (entity, column name), sorted.
    pub extra_columns: Vec<(Entity, String)>,
    /// The pattern's text span.
    pub span: Span,
}

impl Pattern {
    /// Instance names by id.
    pub fn names(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.name.clone()).collect()
    }

    /// Aggregate names by index.
    pub fn agg_names(&self) -> Vec<String> {
        self.group
            .as_ref()
            .map(|g| g.aggregates.iter().map(|a| a.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The outer (non-absent, non-chain-step) instances.
    pub fn outer_instances(&self) -> impl Iterator<Item = &Instance> {
        let steps: Vec<InstanceId> = self.chains.iter().map(|c| c.step).collect();
        self.instances
            .iter()
            .filter(move |i| i.absent_group.is_none() && !steps.contains(&i.id))
    }

    /// Shows an expression with this pattern's names.
    pub fn show<'a>(
        &'a self,
        expr: &'a Expr,
        names: &'a [String],
        aggs: &'a [String],
    ) -> ExprDisplay<'a> {
        ExprDisplay { expr, names, aggs }
    }
}
