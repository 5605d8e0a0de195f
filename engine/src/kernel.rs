//! Scan filters evaluated a column at a time.
//!
//! A scan's pushed-down filter is a compiled [`Expr`]; [`Filter`] evaluates that same expression
//! over a decoded batch's column vectors instead of row by row through [`compiler::eval`].
//! It is not a second meaning of the language: every node it accepts is evaluated exactly as
//! `eval` does (exact rationals, three-valued logic, `compare` for text), and every node it does
//! not accept is handed to `eval` itself, one row at a time, for the rows still selected.
//! `tests` compare the two on random expressions and batches.
//!
//! Numbers: an integer-valued sub-expression is evaluated in `i128` as `raw / scale` (a
//! duration is microseconds with scale 10⁶, a literal `1.5` is `3/2`). Before evaluation, the
//! static bounds of every node are computed from the column types (`u64`, `u16`, …); a node
//! whose bounds could leave `i128` is not compiled (it goes to `eval`, which promotes to big
//! integers), so no kernel can wrap. `i128::MIN` marks an absent value (a duration whose
//! `end - start` leaves `i64`, where `eval` gives null).

use std::cmp::Ordering;

use compiler::ast::BinOp;
use compiler::eval::{self, Val};
use compiler::hir::{Expr, InstanceId, Value};
use compiler::model::{Attr, Role};
use compiler::num::Num;
use compiler::plan::AddrBinding;
use compiler::value::Prefix;

use crate::load::batch::{EventBatch, FlowBatch};
use crate::load::networks::{LabelId, Networks};
use crate::model::Addr;

const NULL: i128 = i128::MIN;
const MICROS: i128 = 1_000_000;

/// Truth value of one row: false, true or unknown (null).
type Tri = u8;
const F: Tri = 0;
const T: Tri = 1;
const U: Tri = 2;

/// An integer-valued column of the record a scan binds.
#[derive(Clone, Copy)]
enum Col<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    I32(&'a [i32]),
    U64(&'a [u64]),
    /// Instants (µs) or, with `end`, the duration `end - start`.
    I64(&'a [i64]),
    Dur(&'a [i64], &'a [i64]),
}

impl Col<'_> {
    fn len(self) -> usize {
        match self {
            Col::U8(c) => c.len(),
            Col::U16(c) => c.len(),
            Col::I32(c) => c.len(),
            Col::U64(c) => c.len(),
            Col::I64(c) => c.len(),
            Col::Dur(s, e) => s.len().min(e.len()),
        }
    }

    fn bounds(self) -> (i128, i128) {
        match self {
            Col::U8(_) => (0, u8::MAX.into()),
            Col::U16(_) => (0, u16::MAX.into()),
            Col::I32(_) => (i32::MIN.into(), i32::MAX.into()),
            Col::U64(_) => (0, u64::MAX.into()),
            Col::I64(_) | Col::Dur(..) => (i64::MIN.into(), i64::MAX.into()),
        }
    }

    fn get(self, i: usize) -> i128 {
        match self {
            Col::U8(c) => c[i].into(),
            Col::U16(c) => c[i].into(),
            Col::I32(c) => c[i].into(),
            Col::U64(c) => c[i].into(),
            Col::I64(c) => c[i].into(),
            // `eval` computes `end - start` in i64 and gives null when it leaves i64.
            Col::Dur(start, end) => end[i].checked_sub(start[i]).map_or(NULL, i128::from),
        }
    }
}

/// The columns of a decoded batch that kernels read.
pub(crate) trait Columns {
    /// Rows in the batch.
    fn rows(&self) -> usize;
    /// The integer-valued attribute `attr` of the batch's record, if it has one as a column.
    #[allow(private_interfaces)]
    fn column(&self, attr: Attr) -> Option<(Col<'_>, Kind)>;
    /// Addresses and their labels at one end of every row.
    fn end(&self, role: Role) -> (&[Addr], &[LabelId]);
}

impl Columns for FlowBatch {
    fn rows(&self) -> usize {
        self.len()
    }
    #[allow(private_interfaces)]
    fn column(&self, attr: Attr) -> Option<(Col<'_>, Kind)> {
        let n = self.len();
        let (col, kind) = match attr {
            Attr::Protocol => (Col::U8(&self.protocol), Kind::Num),
            Attr::SrcPort => (Col::U16(&self.src_port), Kind::Num),
            Attr::DestPort => (Col::U16(&self.dst_port), Kind::Num),
            Attr::StartTime => (Col::I64(&self.start), Kind::Time),
            Attr::EndTime => (Col::I64(&self.end), Kind::Time),
            Attr::DurationSeconds => (Col::Dur(&self.start, &self.end), Kind::Dur),
            Attr::BytesSent => (Col::U64(&self.bytes_sent), Kind::Num),
            Attr::BytesReceived => (Col::U64(&self.bytes_received), Kind::Num),
            Attr::PacketsSent => (Col::U64(&self.packets_sent), Kind::Num),
            Attr::PacketsReceived => (Col::U64(&self.packets_received), Kind::Num),
            _ => return None,
        };
        // An unrequested column is empty: leave it to `eval`.
        (col.len() == n).then_some((col, kind))
    }
    fn end(&self, role: Role) -> (&[Addr], &[LabelId]) {
        match role {
            Role::Source => (&self.src, &self.src_label),
            Role::Destination => (&self.dst, &self.dst_label),
        }
    }
}

impl Columns for EventBatch {
    fn rows(&self) -> usize {
        self.len()
    }
    #[allow(private_interfaces)]
    fn column(&self, attr: Attr) -> Option<(Col<'_>, Kind)> {
        let (col, kind) = match attr {
            Attr::Time => (Col::I64(&self.time), Kind::Time),
            Attr::Severity => (Col::I32(&self.severity), Kind::Num),
            _ => return None,
        };
        (col.len() == self.len()).then_some((col, kind))
    }
    fn end(&self, role: Role) -> (&[Addr], &[LabelId]) {
        match role {
            Role::Source => (&self.src, &self.src_label),
            Role::Destination => (&self.dst, &self.dst_label),
        }
    }
}

/// What an integer-valued node means, which decides what it may be compared with (as
/// `eval::compare` does: numbers with numbers and durations, instants with instants).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Num,
    Time,
    Dur,
}

/// An integer-valued node: its value is `raw / scale`.
struct Int<'a> {
    node: IntNode<'a>,
    kind: Kind,
    scale: i128,
    lo: i128,
    hi: i128,
}

enum IntNode<'a> {
    Col(Col<'a>),
    Const(i128),
    /// `a * ma + b * mb` (`mb` negative for a difference).
    Lin(Box<Int<'a>>, i128, Box<Int<'a>>, i128),
    Mul(Box<Int<'a>>, Box<Int<'a>>),
    Neg(Box<Int<'a>>),
}

/// Bounds of `x * m` for `x` in `lo..=hi`, if they stay inside `i128` (above the null mark).
fn scaled(lo: i128, hi: i128, m: i128) -> Option<(i128, i128)> {
    let (a, b) = (lo.checked_mul(m)?, hi.checked_mul(m)?);
    let (lo, hi) = (a.min(b), a.max(b));
    (lo > NULL).then_some((lo, hi))
}

impl<'a> Int<'a> {
    fn eval(&self, sel: &[u32], out: &mut Vec<i128>) {
        out.clear();
        match &self.node {
            // One loop per column type (the type is not matched per row).
            IntNode::Col(c) => match *c {
                Col::U8(v) => out.extend(sel.iter().map(|&i| i128::from(v[i as usize]))),
                Col::U16(v) => out.extend(sel.iter().map(|&i| i128::from(v[i as usize]))),
                Col::I32(v) => out.extend(sel.iter().map(|&i| i128::from(v[i as usize]))),
                Col::U64(v) => out.extend(sel.iter().map(|&i| i128::from(v[i as usize]))),
                Col::I64(v) => out.extend(sel.iter().map(|&i| i128::from(v[i as usize]))),
                Col::Dur(..) => out.extend(sel.iter().map(|&i| c.get(i as usize))),
            },
            IntNode::Const(v) => out.resize(sel.len(), *v),
            IntNode::Lin(a, ma, b, mb) => {
                let mut bv = Vec::new();
                a.eval(sel, out);
                b.eval(sel, &mut bv);
                for (x, y) in out.iter_mut().zip(&bv) {
                    *x = if *x == NULL || *y == NULL {
                        NULL
                    } else {
                        *x * ma + *y * mb
                    };
                }
            }
            IntNode::Mul(a, b) => {
                let mut bv = Vec::new();
                a.eval(sel, out);
                b.eval(sel, &mut bv);
                for (x, y) in out.iter_mut().zip(&bv) {
                    *x = if *x == NULL || *y == NULL {
                        NULL
                    } else {
                        *x * *y
                    };
                }
            }
            IntNode::Neg(a) => {
                a.eval(sel, out);
                for x in out.iter_mut() {
                    if *x != NULL {
                        *x = -*x;
                    }
                }
            }
        }
    }
}

/// A boolean node.
enum Bool<'a> {
    Const(Tri),
    Not(Box<Bool<'a>>),
    And(Box<Bool<'a>>, Box<Bool<'a>>),
    Or(Box<Bool<'a>>, Box<Bool<'a>>),
    /// `a * ma  OP  b * mb`.
    Cmp(BinOp, Int<'a>, i128, Int<'a>, i128),
    /// Membership: `a * m` equals one of the constants (brought to the same scale);
    /// `negated` flips.
    In(Int<'a>, i128, Vec<i128>, bool),
    /// A value per address label, at one end of the row.
    Label(&'a [LabelId], Vec<Tri>),
    /// Membership of an end's address in prefixes.
    Cidr(&'a [Addr], Vec<Prefix>, bool),
    /// Not compiled: `eval` per row.
    Row(&'a Expr),
}

/// Compiles `expr` for one scan over `cols`.
struct Compiler<'a, C: Columns> {
    cols: &'a C,
    instance: InstanceId,
    addresses: &'a [AddrBinding],
    networks: &'a Networks,
}

impl<'a, C: Columns> Compiler<'a, C> {
    fn boolean(&self, e: &'a Expr) -> Bool<'a> {
        self.try_boolean(e).unwrap_or(Bool::Row(e))
    }

    fn try_boolean(&self, e: &'a Expr) -> Option<Bool<'a>> {
        Some(match e {
            Expr::Lit(Value::Bool(b)) => Bool::Const(if *b { T } else { F }),
            Expr::Lit(Value::Null) => Bool::Const(U),
            Expr::Not(x) => Bool::Not(Box::new(self.boolean(x))),
            Expr::Bin(BinOp::And, l, r) => {
                Bool::And(Box::new(self.boolean(l)), Box::new(self.boolean(r)))
            }
            Expr::Bin(BinOp::Or, l, r) => {
                Bool::Or(Box::new(self.boolean(l)), Box::new(self.boolean(r)))
            }
            Expr::Bin(
                op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge),
                l,
                r,
            ) => {
                if let Some(b) = self.label_cmp(*op, l, r) {
                    return Some(b);
                }
                let (a, b) = (self.int(l)?, self.int(r)?);
                let (ma, mb) = comparable(&a, &b)?;
                scaled(a.lo, a.hi, ma)?;
                scaled(b.lo, b.hi, mb)?;
                Bool::Cmp(*op, a, ma, b, mb)
            }
            Expr::In(x, items, negated) => {
                if let Some(labels) = self.label(x) {
                    let (labels, table) = labels;
                    let t = table
                        .iter()
                        .map(|name| {
                            let v = Val::Str(name);
                            let found = items.iter().any(|item| {
                                eval::compare(&v, &val_of(item)) == Some(Ordering::Equal)
                            });
                            if found != *negated {
                                T
                            } else {
                                F
                            }
                        })
                        .collect();
                    return Some(Bool::Label(labels, t));
                }
                let a = self.int(x)?;
                let mut m = None;
                let mut consts = Vec::new();
                for item in items {
                    let Some(c) = self.literal(item) else {
                        if matches!(item, Value::Num(_) | Value::Time(_) | Value::Dur(_)) {
                            return None;
                        }
                        // Text, addresses, null never compare equal to a number.
                        continue;
                    };
                    // Items of another kind never compare equal either.
                    let Some((ma, mb)) = comparable(&a, &c) else {
                        continue;
                    };
                    if *m.get_or_insert(ma) != ma {
                        return None;
                    }
                    scaled(a.lo, a.hi, ma)?;
                    consts.push(c.lo.checked_mul(mb)?);
                }
                Bool::In(a, m.unwrap_or(1), consts, *negated)
            }
            Expr::InCidr(x, prefixes, negated) => {
                let Expr::Attr(inst, Attr::Address) = &**x else {
                    return None;
                };
                let role = self.role(*inst)?;
                Bool::Cidr(self.cols.end(role).0, prefixes.clone(), *negated)
            }
            _ => return None,
        })
    }

    fn role(&self, inst: InstanceId) -> Option<Role> {
        self.addresses
            .iter()
            .find(|b| b.address == inst)
            .map(|b| b.role)
    }

    /// `disposition` of an address bound to this row: its label column and every label's name.
    fn label(&self, e: &Expr) -> Option<(&'a [LabelId], &'a [String])> {
        let Expr::Attr(inst, Attr::Disposition) = e else {
            return None;
        };
        let role = self.role(*inst)?;
        Some((self.cols.end(role).1, self.networks.labels()))
    }

    fn label_cmp(&self, op: BinOp, l: &Expr, r: &Expr) -> Option<Bool<'a>> {
        let (labels, names, lit, flipped) = match (self.label(l), self.label(r), l, r) {
            (Some((c, n)), None, _, Expr::Lit(v)) => (c, n, v, false),
            (None, Some((c, n)), Expr::Lit(v), _) => (c, n, v, true),
            _ => return None,
        };
        let lit = val_of(lit);
        let table = names
            .iter()
            .map(|name| {
                let v = Val::Str(name);
                let ord = if flipped {
                    eval::compare(&lit, &v)
                } else {
                    eval::compare(&v, &lit)
                };
                match ord {
                    None => U,
                    Some(o) => {
                        if holds(op, o) {
                            T
                        } else {
                            F
                        }
                    }
                }
            })
            .collect();
        Some(Bool::Label(labels, table))
    }

    fn literal(&self, v: &Value) -> Option<Int<'a>> {
        let (raw, scale, kind) = match v {
            Value::Num(Num::Small(n, d)) => (*n, *d, Kind::Num),
            Value::Time(t) => (i128::from(*t), 1, Kind::Time),
            Value::Dur(d) => (i128::from(*d), 1, Kind::Dur),
            _ => return None,
        };
        (raw > NULL && scale > 0).then_some(Int {
            node: IntNode::Const(raw),
            kind,
            scale,
            lo: raw,
            hi: raw,
        })
    }

    fn int(&self, e: &'a Expr) -> Option<Int<'a>> {
        match e {
            Expr::Lit(v) => self.literal(v),
            Expr::Attr(inst, attr) if *inst == self.instance => {
                let (col, kind) = self.cols.column(*attr)?;
                let (lo, hi) = col.bounds();
                Some(Int {
                    node: IntNode::Col(col),
                    kind,
                    scale: 1,
                    lo,
                    hi,
                })
            }
            Expr::Seconds(x) => {
                let a = self.int(x)?;
                match a.kind {
                    // A duration in seconds: µs / 10⁶.
                    Kind::Dur if a.scale == 1 => Some(Int {
                        kind: Kind::Num,
                        scale: MICROS,
                        ..a
                    }),
                    Kind::Num => Some(a),
                    _ => None,
                }
            }
            Expr::Neg(x) => {
                let a = self.int(x)?;
                if a.kind != Kind::Num {
                    return None;
                }
                let (lo, hi) = scaled(a.lo, a.hi, -1)?;
                Some(Int {
                    kind: Kind::Num,
                    scale: a.scale,
                    lo,
                    hi,
                    node: IntNode::Neg(Box::new(a)),
                })
            }
            Expr::Bin(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul), l, r) => {
                let (a, b) = (self.int(l)?, self.int(r)?);
                // Only plain numbers: instants and durations use i64 arithmetic in `eval`.
                if a.kind != Kind::Num || b.kind != Kind::Num {
                    return None;
                }
                if *op == BinOp::Mul {
                    let scale = a.scale.checked_mul(b.scale)?;
                    let corners = [
                        a.lo.checked_mul(b.lo)?,
                        a.lo.checked_mul(b.hi)?,
                        a.hi.checked_mul(b.lo)?,
                        a.hi.checked_mul(b.hi)?,
                    ];
                    let (lo, hi) = (*corners.iter().min()?, *corners.iter().max()?);
                    (lo > NULL).then_some(())?;
                    return Some(Int {
                        node: IntNode::Mul(Box::new(a), Box::new(b)),
                        kind: Kind::Num,
                        scale,
                        lo,
                        hi,
                    });
                }
                // a/sa ± b/sb = (a·sb ± b·sa) / (sa·sb), or over the common scale.
                let (ma, mb, scale) = if a.scale == b.scale {
                    (1, 1, a.scale)
                } else {
                    (b.scale, a.scale, a.scale.checked_mul(b.scale)?)
                };
                let mb = if *op == BinOp::Sub { -mb } else { mb };
                let (alo, ahi) = scaled(a.lo, a.hi, ma)?;
                let (blo, bhi) = scaled(b.lo, b.hi, mb)?;
                let (lo, hi) = (alo.checked_add(blo)?, ahi.checked_add(bhi)?);
                (lo > NULL).then_some(())?;
                Some(Int {
                    node: IntNode::Lin(Box::new(a), ma, Box::new(b), mb),
                    kind: Kind::Num,
                    scale,
                    lo,
                    hi,
                })
            }
            _ => None,
        }
    }
}

/// Multipliers that bring `a` and `b` to a common scale, if `eval::compare` compares them.
fn comparable(a: &Int<'_>, b: &Int<'_>) -> Option<(i128, i128)> {
    // A duration against a number is compared in seconds.
    let scale_of = |x: &Int<'_>, other: Kind| match (x.kind, other) {
        (Kind::Dur, Kind::Num) => x.scale.checked_mul(MICROS),
        _ => Some(x.scale),
    };
    let ok = matches!(
        (a.kind, b.kind),
        (Kind::Num, Kind::Num)
            | (Kind::Time, Kind::Time)
            | (Kind::Dur, Kind::Dur)
            | (Kind::Dur, Kind::Num)
            | (Kind::Num, Kind::Dur)
    );
    if !ok {
        return None;
    }
    let (sa, sb) = (scale_of(a, b.kind)?, scale_of(b, a.kind)?);
    // a/sa OP b/sb  ⇔  a·sb OP b·sa  (sa, sb > 0)
    Some((sb, sa))
}

fn holds(op: BinOp, ord: Ordering) -> bool {
    match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::Ne => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }
}

fn val_of(v: &Value) -> Val<'_> {
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

impl Bool<'_> {
    fn is_row(&self) -> bool {
        match self {
            Bool::Row(_) => true,
            Bool::Not(x) => x.is_row(),
            Bool::And(a, b) | Bool::Or(a, b) => a.is_row() || b.is_row(),
            _ => false,
        }
    }

    /// The truth value of every selected row.
    fn eval(&self, sel: &[u32], row: &dyn Fn(&Expr, usize) -> Tri, out: &mut Vec<Tri>) {
        out.clear();
        match self {
            Bool::Const(t) => out.resize(sel.len(), *t),
            Bool::Not(x) => {
                x.eval(sel, row, out);
                for t in out.iter_mut() {
                    *t = match *t {
                        T => F,
                        F => T,
                        _ => U,
                    };
                }
            }
            Bool::And(a, b) => {
                a.eval(sel, row, out);
                // Rows already false stay false; only the others need the right side.
                let rest: Vec<u32> = sel
                    .iter()
                    .zip(out.iter())
                    .filter(|(_, t)| **t != F)
                    .map(|(i, _)| *i)
                    .collect();
                let mut rv = Vec::new();
                b.eval(&rest, row, &mut rv);
                let mut k = 0;
                for t in out.iter_mut() {
                    if *t != F {
                        let r = rv[k];
                        k += 1;
                        *t = if r == F {
                            F
                        } else if *t == T && r == T {
                            T
                        } else {
                            U
                        };
                    }
                }
            }
            Bool::Or(a, b) => {
                a.eval(sel, row, out);
                let rest: Vec<u32> = sel
                    .iter()
                    .zip(out.iter())
                    .filter(|(_, t)| **t != T)
                    .map(|(i, _)| *i)
                    .collect();
                let mut rv = Vec::new();
                b.eval(&rest, row, &mut rv);
                let mut k = 0;
                for t in out.iter_mut() {
                    if *t != T {
                        let r = rv[k];
                        k += 1;
                        *t = if r == T {
                            T
                        } else if *t == F && r == F {
                            F
                        } else {
                            U
                        };
                    }
                }
            }
            Bool::Cmp(op, a, ma, b, mb) => {
                let (mut av, mut bv) = (Vec::new(), Vec::new());
                a.eval(sel, &mut av);
                b.eval(sel, &mut bv);
                let (op, ma, mb) = (*op, *ma, *mb);
                out.extend(av.iter().zip(&bv).map(|(&x, &y)| {
                    if x == NULL || y == NULL {
                        U
                    } else if holds(op, (x * ma).cmp(&(y * mb))) {
                        T
                    } else {
                        F
                    }
                }));
            }
            Bool::In(a, m, consts, negated) => {
                let mut av = Vec::new();
                a.eval(sel, &mut av);
                out.extend(av.iter().map(|&x| {
                    if x == NULL {
                        U
                    } else {
                        let v = x * m;
                        let found = consts.contains(&v);
                        if found != *negated {
                            T
                        } else {
                            F
                        }
                    }
                }));
            }
            Bool::Label(labels, table) => {
                out.extend(
                    sel.iter()
                        .map(|&i| table[usize::from(labels[i as usize].0)]),
                );
            }
            Bool::Cidr(addrs, prefixes, negated) => {
                out.extend(sel.iter().map(|&i| {
                    let a = addrs[i as usize];
                    if prefixes.iter().any(|p| p.contains(a)) != *negated {
                        T
                    } else {
                        F
                    }
                }));
            }
            Bool::Row(e) => out.extend(sel.iter().map(|&i| row(e, i as usize))),
        }
    }
}

/// A scan filter compiled against one batch.
pub(crate) struct Filter<'a> {
    /// Top-level conjuncts, column kernels first.
    conjuncts: Vec<Bool<'a>>,
}

impl<'a> Filter<'a> {
    /// Compiles `filter` (a scan's pushed-down filter over `instance` and its `addresses`)
    /// against the columns of `cols`.
    pub(crate) fn new<C: Columns>(
        filter: &'a Expr,
        cols: &'a C,
        instance: InstanceId,
        addresses: &'a [AddrBinding],
        networks: &'a Networks,
    ) -> Filter<'a> {
        let c = Compiler {
            cols,
            instance,
            addresses,
            networks,
        };
        let mut parts = Vec::new();
        split_and(filter, &mut parts);
        let mut conjuncts: Vec<Bool<'a>> = parts.into_iter().map(|p| c.boolean(p)).collect();
        // A row passes only if every conjunct is true, so their order does not matter:
        // cheap column kernels narrow the selection before any row-at-a-time work.
        conjuncts.sort_by_key(|b| b.is_row());
        Filter { conjuncts }
    }

    /// Narrows `sel` (row indices) to the rows for which the filter is true; `row(e, i)`
    /// evaluates an uncompiled part `e` on row `i` with `eval` (`None` for null or a
    /// non-boolean value).
    pub(crate) fn select(&self, sel: &mut Vec<u32>, row: &dyn Fn(&Expr, usize) -> Option<bool>) {
        let tri = |e: &Expr, i: usize| match row(e, i) {
            Some(true) => T,
            Some(false) => F,
            None => U,
        };
        let mut out = Vec::new();
        for c in &self.conjuncts {
            if sel.is_empty() {
                return;
            }
            c.eval(sel, &tri, &mut out);
            let mut k = 0;
            sel.retain(|_| {
                let keep = out[k] == T;
                k += 1;
                keep
            });
        }
    }
}

fn split_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Bin(BinOp::And, l, r) => {
            split_and(l, out);
            split_and(r, out);
        }
        _ => out.push(e),
    }
}

#[cfg(test)]
mod tests;
