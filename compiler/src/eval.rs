//! The one meaning of an expression.
//!
//! The engine evaluates compiled [`Expr`]s here when it filters Arrow-decoded rows before the
//! dataflow, when it checks cross-instance conditions inside joins, and when `why` explains a
//! result; there is no second interpreter. Values are borrowed from the row ([`Val`]), so
//! string comparisons cost no allocation.
//!
//! Logic is three-valued: a comparison with an absent value (`service` of an unlabelled flow,
//! a division by zero) is unknown, and a filter keeps a row only when its predicate is true.

use std::cmp::Ordering;

use crate::ast::BinOp;
use crate::hir::{Expr, InstanceId, Value};
use crate::model::Attr;
use crate::num::Num;
use crate::value::Addr;

/// A value during evaluation, borrowing strings from the row or the expression.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// Absent / unknown.
    Null,
    /// Boolean.
    Bool(bool),
    /// Exact number.
    Num(Num),
    /// Instant, µs UTC.
    Time(i64),
    /// Span, µs.
    Dur(i64),
    /// Text.
    Str(&'a str),
    /// Address.
    Addr(Addr),
}

impl<'a> Val<'a> {
    /// A whole number.
    pub fn int(n: impl Into<i128>) -> Val<'a> {
        Val::Num(Num::int(n.into()))
    }

    fn of(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Num(n) => Val::Num(n.clone()),
            Value::Time(t) => Val::Time(*t),
            Value::Dur(d) => Val::Dur(*d),
            Value::Str(s) => Val::Str(s),
            Value::Addr(a) => Val::Addr(*a),
        }
    }

    /// An owned copy.
    pub fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => Value::Num(n.clone()),
            Val::Time(t) => Value::Time(*t),
            Val::Dur(d) => Value::Dur(*d),
            Val::Str(s) => Value::Str((*s).to_string()),
            Val::Addr(a) => Value::Addr(*a),
        }
    }
}

/// Where attribute values come from: a decoded batch row, a joined dataflow row, a result.
pub trait Env<'a> {
    /// The value of `attr` of instance `inst`.
    fn attr(&self, inst: InstanceId, attr: Attr) -> Val<'a>;
    /// The value of an extra archive column of `inst` (`Null` if absent).
    fn column(&self, inst: InstanceId, name: &str) -> Val<'a>;
    /// The value of the `k`-th aggregate (only inside `having`).
    fn agg(&self, _k: usize) -> Val<'a> {
        Val::Null
    }
}

/// Whether `expr` is true for `env` (unknown counts as false).
pub fn test<'a>(expr: &'a Expr, env: &impl Env<'a>) -> bool {
    matches!(eval(expr, env), Val::Bool(true))
}

/// Evaluates `expr`.
pub fn eval<'a>(expr: &'a Expr, env: &impl Env<'a>) -> Val<'a> {
    match expr {
        Expr::Lit(v) => Val::of(v),
        Expr::Attr(i, a) => env.attr(*i, *a),
        Expr::Column(i, name) => env.column(*i, name),
        Expr::Agg(k) => env.agg(*k),
        Expr::Not(e) => match eval(e, env) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Expr::Neg(e) => match eval(e, env) {
            Val::Num(n) => Val::Num(n.neg()),
            Val::Dur(d) => d.checked_neg().map(Val::Dur).unwrap_or(Val::Null),
            _ => Val::Null,
        },
        Expr::Seconds(e) => match eval(e, env) {
            Val::Dur(d) => Num::ratio(i128::from(d), 1_000_000)
                .map(Val::Num)
                .unwrap_or(Val::Null),
            v => v,
        },
        Expr::Bin(BinOp::And, l, r) => match eval(l, env) {
            Val::Bool(false) => Val::Bool(false),
            lv => match (lv, eval(r, env)) {
                (_, Val::Bool(false)) => Val::Bool(false),
                (Val::Bool(true), Val::Bool(true)) => Val::Bool(true),
                _ => Val::Null,
            },
        },
        Expr::Bin(BinOp::Or, l, r) => match eval(l, env) {
            Val::Bool(true) => Val::Bool(true),
            lv => match (lv, eval(r, env)) {
                (_, Val::Bool(true)) => Val::Bool(true),
                (Val::Bool(false), Val::Bool(false)) => Val::Bool(false),
                _ => Val::Null,
            },
        },
        Expr::Bin(op, l, r) => binary(*op, eval(l, env), eval(r, env)),
        Expr::In(e, list, negated) => {
            let v = eval(e, env);
            if matches!(v, Val::Null) {
                return Val::Null;
            }
            let found = list
                .iter()
                .any(|item| compare(&v, &Val::of(item)) == Some(Ordering::Equal));
            Val::Bool(found != *negated)
        }
        Expr::InCidr(e, prefixes, negated) => match eval(e, env) {
            Val::Addr(a) => Val::Bool(prefixes.iter().any(|p| p.contains(a)) != *negated),
            _ => Val::Null,
        },
    }
}

fn secs(d: i64) -> Num {
    Num::ratio(i128::from(d), 1_000_000).expect("non-zero denominator")
}

fn binary<'a>(op: BinOp, l: Val<'a>, r: Val<'a>) -> Val<'a> {
    use BinOp::*;
    match op {
        Eq | Ne | Lt | Le | Gt | Ge => match compare(&l, &r) {
            None => Val::Null,
            Some(ord) => Val::Bool(match op {
                Eq => ord == Ordering::Equal,
                Ne => ord != Ordering::Equal,
                Lt => ord == Ordering::Less,
                Le => ord != Ordering::Greater,
                Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }),
        },
        Add | Sub | Mul | Div => arith(op, l, r),
        And | Or => unreachable!("logical operators are evaluated lazily"),
    }
}

fn arith<'a>(op: BinOp, l: Val<'a>, r: Val<'a>) -> Val<'a> {
    use BinOp::*;
    match (op, l, r) {
        (_, Val::Num(a), Val::Num(b)) => num_op(op, &a, &b),
        (Sub, Val::Time(a), Val::Time(b)) => a.checked_sub(b).map(Val::Dur).unwrap_or(Val::Null),
        (Add, Val::Time(a), Val::Dur(b)) | (Add, Val::Dur(b), Val::Time(a)) => {
            a.checked_add(b).map(Val::Time).unwrap_or(Val::Null)
        }
        (Sub, Val::Time(a), Val::Dur(b)) => a.checked_sub(b).map(Val::Time).unwrap_or(Val::Null),
        (Add, Val::Dur(a), Val::Dur(b)) => a.checked_add(b).map(Val::Dur).unwrap_or(Val::Null),
        (Sub, Val::Dur(a), Val::Dur(b)) => a.checked_sub(b).map(Val::Dur).unwrap_or(Val::Null),
        (Div, Val::Dur(a), Val::Dur(b)) => num_op(Div, &Num::int(a.into()), &Num::int(b.into())),
        // Durations meeting plain numbers are seconds (`bytesSent / durationSeconds`).
        (_, Val::Dur(a), Val::Num(b)) => num_op(op, &secs(a), &b),
        (_, Val::Num(a), Val::Dur(b)) => num_op(op, &a, &secs(b)),
        _ => Val::Null,
    }
}

fn num_op<'a>(op: BinOp, a: &Num, b: &Num) -> Val<'a> {
    match op {
        BinOp::Add => Val::Num(a.add(b)),
        BinOp::Sub => Val::Num(a.sub(b)),
        BinOp::Mul => Val::Num(a.mul(b)),
        _ => a.div(b).map(Val::Num).unwrap_or(Val::Null),
    }
}

/// Orders two values of comparable types; `None` if either is absent or they do not compare.
pub fn compare(l: &Val<'_>, r: &Val<'_>) -> Option<Ordering> {
    Some(match (l, r) {
        (Val::Num(a), Val::Num(b)) => a.cmp_exact(b),
        (Val::Time(a), Val::Time(b)) | (Val::Dur(a), Val::Dur(b)) => a.cmp(b),
        (Val::Dur(a), Val::Num(b)) => secs(*a).cmp_exact(b),
        (Val::Num(a), Val::Dur(b)) => a.cmp_exact(&secs(*b)),
        (Val::Str(a), Val::Str(b)) => a.cmp(b),
        (Val::Addr(a), Val::Addr(b)) => a.cmp(b),
        (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
        _ => return None,
    })
}
