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
    /// Exact fraction `n/d`, `d > 0` (boxed: rare, and two `i128`s inline would make every
    /// `Datum` 48 bytes instead of 32).
    Ratio(Box<(i128, i128)>),
    /// Instant, µs.
    Time(i64),
    /// Span, µs.
    Dur(i64),
    /// Text.
    Str(String),
}

// Rows, keys and results are vectors of `Datum`: keep it at two words of `u128`.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Datum>() == 32);

impl Datum {
    /// From an evaluated value (numbers beyond `i128` ratios become `Null`; aggregates of
    /// `u64` attributes never get there).
    pub fn from_val(v: &Val<'_>) -> Datum {
        match v {
            Val::Null => Datum::Null,
            Val::Bool(b) => Datum::Bool(*b),
            Val::Num(Num::Small(n, 1)) => Datum::Int(*n),
            Val::Num(Num::Small(n, d)) => Datum::Ratio(Box::new((*n, *d))),
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
            Datum::Ratio(r) => Num::ratio(r.0, r.1).map(Val::Num).unwrap_or(Val::Null),
            Datum::Time(t) => Val::Time(*t),
            Datum::Dur(d) => Val::Dur(*d),
            Datum::Str(s) => Val::Str(s),
            Datum::Addr(a) => Val::Addr(*a),
        }
    }
}

/// A dataflow row.
pub type Row = Vec<Datum>;

/// A join or group key made of addresses: fixed-size for the common one- and two-address keys,
/// so keys are compared as integers and cost no allocation.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Key {
    /// No address (a cross product).
    Zero,
    /// One address.
    One(Addr),
    /// Two addresses.
    Two(Addr, Addr),
    /// More.
    Many(Vec<Addr>),
}

impl Key {
    /// The key of `addrs`, in order.
    pub fn of(mut addrs: impl ExactSizeIterator<Item = Addr>) -> Key {
        match addrs.len() {
            0 => Key::Zero,
            1 => Key::One(addrs.next().expect("one address")),
            2 => {
                let a = addrs.next().expect("two addresses");
                Key::Two(a, addrs.next().expect("two addresses"))
            }
            _ => Key::Many(addrs.collect()),
        }
    }

    /// The `i`-th address.
    pub fn get(&self, i: usize) -> Addr {
        match (self, i) {
            (Key::One(a), 0) | (Key::Two(a, _), 0) | (Key::Two(_, a), 1) => *a,
            (Key::Many(v), i) => v[i],
            _ => panic!("key has no address {i}"),
        }
    }
}

/// The key of a group: its addresses alone when it groups by addresses only (the common
/// case), else the addresses and records as a row.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum GroupKey {
    /// Grouped by addresses only.
    Addrs(Key),
    /// Grouped by records too.
    Row(Row),
}

impl GroupKey {
    /// The `i`-th grouped value.
    pub fn get(&self, i: usize) -> Datum {
        match self {
            GroupKey::Addrs(k) => Datum::Addr(k.get(i)),
            GroupKey::Row(r) => r[i].clone(),
        }
    }
}

/// The aggregate arguments of one row: without allocation for one aggregate.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Vals {
    /// One aggregate.
    One(Datum),
    /// Several (or none).
    Many(Row),
}

impl Vals {
    /// From the argument values, in aggregate order.
    pub fn of(mut vals: Vec<Datum>) -> Vals {
        if vals.len() == 1 {
            Vals::One(vals.pop().expect("one value"))
        } else {
            Vals::Many(vals)
        }
    }

    /// The `k`-th aggregate's argument.
    pub fn get(&self, k: usize) -> &Datum {
        match self {
            Vals::One(d) => {
                assert_eq!(k, 0, "one aggregate");
                d
            }
            Vals::Many(r) => &r[k],
        }
    }
}

/// Hasher state for maps keyed by rows the engine itself built (`watch`'s current results):
/// no untrusted keys, and SipHash made every resize of a million-row map a pause of its own.
pub type FastState = foldhash::fast::FixedState;
