//! Values that travel through the dataflow: records, addresses, aggregate values.
//!
//! A joined row is one [`Datum`] per bound record (in the plan's join order); addresses are
//! read off the records through the plan's edges. After a group-by, a row is the group's
//! address/record identities followed by the aggregate values.

use std::sync::Arc;

use compiler::eval::Val;
use compiler::num::Num;

use crate::model::{Addr, Conn, Event};

/// One value in a dataflow row. Ordering is structural (used for determinism, not meaning).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Datum {
    /// A bound connection.
    Conn(Arc<Conn>),
    /// A bound event.
    Event(Arc<Event>),
    /// An address.
    Addr(Addr),
    /// Absent value.
    Null,
    /// Boolean.
    Bool(bool),
    /// Whole number.
    Int(i128),
    /// Exact fraction `n/d`, `d > 0`.
    Ratio(i128, i128),
    /// Instant, µs.
    Time(i64),
    /// Span, µs.
    Dur(i64),
    /// Text.
    Str(String),
}

impl Datum {
    /// From an evaluated value (numbers beyond `i128` ratios become `Null`; aggregates of
    /// `u64` attributes never get there).
    pub fn from_val(v: &Val<'_>) -> Datum {
        match v {
            Val::Null => Datum::Null,
            Val::Bool(b) => Datum::Bool(*b),
            Val::Num(Num::Small(n, 1)) => Datum::Int(*n),
            Val::Num(Num::Small(n, d)) => Datum::Ratio(*n, *d),
            Val::Num(Num::Big(_)) => Datum::Null,
            Val::Time(t) => Datum::Time(*t),
            Val::Dur(d) => Datum::Dur(*d),
            Val::Str(s) => Datum::Str((*s).to_string()),
            Val::Addr(a) => Datum::Addr(*a),
        }
    }

    /// As an evaluation value (records have none).
    pub fn to_val(&self) -> Val<'_> {
        match self {
            Datum::Null | Datum::Conn(_) | Datum::Event(_) => Val::Null,
            Datum::Bool(b) => Val::Bool(*b),
            Datum::Int(n) => Val::Num(Num::int(*n)),
            Datum::Ratio(n, d) => Num::ratio(*n, *d).map(Val::Num).unwrap_or(Val::Null),
            Datum::Time(t) => Val::Time(*t),
            Datum::Dur(d) => Val::Dur(*d),
            Datum::Str(s) => Val::Str(s),
            Datum::Addr(a) => Val::Addr(*a),
        }
    }
}

/// A dataflow row.
pub type Row = Vec<Datum>;
