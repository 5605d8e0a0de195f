//! The abstract syntax tree: a faithful tree of what the user wrote.
//!
//! Nothing is checked here beyond what the grammar guarantees; names are still strings and
//! literals still text. Every node has a [`Span`]. The pretty-printer (`fmt`) prints this tree,
//! so it keeps everything needed to write the pattern back (but not comments, which `fmt`
//! recovers from the source text).

use crate::source::Span;

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// One pattern file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level items in order.
    pub items: Vec<Item>,
    /// The whole file.
    pub span: Span,
}

/// A top-level item.
#[allow(missing_docs)] // fields are named for what they hold; the variant says what it is
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `use "common.pattern";`
    Use { path: String, span: Span },
    /// `define internal : NetworkAddress where disposition = "internal";`
    Define(Define),
    /// `param threshold = 1MB;` (file-wide default)
    Param(Param),
    /// `search … is … end`
    Search(Search),
}

/// A named, reusable instance type with a predicate.
#[derive(Clone, Debug, PartialEq)]
pub struct Define {
    /// The new type name.
    pub name: Ident,
    /// The entity type (or another definition) it refines.
    pub base: Ident,
    /// Its predicate.
    pub predicate: Option<Expr>,
    /// The whole definition.
    pub span: Span,
}

/// A pattern parameter with its default.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its default value.
    pub default: Literal,
    /// The whole declaration.
    pub span: Span,
}

/// A pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// The words between `search` and `is`, joined by single spaces.
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// Sections in the order written.
    pub sections: Vec<Section>,
    /// The whole pattern.
    pub span: Span,
}

/// A part of a pattern body.
#[derive(Clone, Debug, PartialEq)]
pub enum Section {
    /// `meta key "value"; … end`
    Meta(Vec<MetaEntry>, Span),
    /// `param name = literal;`
    Param(Param),
    /// `instance x : Type where …;`
    Instance(Instance),
    /// `connections x.role connects y; … end`
    Connections(Vec<Edge>, Span),
    /// `order a before b within 24h; … end`
    Order(Vec<OrderRule>, Span),
    /// `require expr;`
    Require(Expr, Span),
    /// `group by a, b  name = count distinct x.attr; having …; end`
    Group(Group),
    /// `absent … end`
    Absent(Absent),
    /// `chain hop : NetworkConnection from a to b hops 1..5 where …;`
    Chain(Chain),
    /// `allow crossproduct;`
    Allow(Ident, Span),
    /// `export x; … end`
    Export(Vec<Ident>, Span),
}

/// One metadata entry.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaEntry {
    /// `description`, `author`, `access`, `schedule`, …
    pub key: Ident,
    /// The value as written (unescaped).
    pub value: String,
    /// The entry.
    pub span: Span,
}

/// An instance declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The variable.
    pub name: Ident,
    /// Entity type or definition name.
    pub type_name: Ident,
    /// Attribute predicate over this instance.
    pub predicate: Option<Expr>,
    /// The declaration.
    pub span: Span,
}

/// `record.role connects address;`
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// The connection or event instance.
    pub record: Ident,
    /// `source` or `destination`.
    pub role: Ident,
    /// The address instance.
    pub address: Ident,
    /// The edge.
    pub span: Span,
}

/// Temporal relation keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderOp {
    /// `a before b`
    Before,
    /// `a after b`
    After,
    /// `a overlaps b`
    Overlaps,
}

/// `a before b within 24h;`
#[derive(Clone, Debug, PartialEq)]
pub struct OrderRule {
    /// Left instance.
    pub left: Ident,
    /// Relation.
    pub op: OrderOp,
    /// Right instance.
    pub right: Ident,
    /// Optional bound on the gap (a duration literal or parameter).
    pub within: Option<Expr>,
    /// The rule.
    pub span: Span,
}

/// Aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    /// `count`
    Count,
    /// `count distinct`
    CountDistinct,
    /// `sum`
    Sum,
    /// `min`
    Min,
    /// `max`
    Max,
}

impl AggFunc {
    /// The function as the language spells it (`count distinct`).
    pub fn keyword(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::CountDistinct => "count distinct",
            AggFunc::Sum => "sum",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// `name = func arg;`
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The aggregate's name (exportable, usable in `having`).
    pub name: Ident,
    /// The function.
    pub func: AggFunc,
    /// Its argument, `None` for a bare `count`.
    pub arg: Option<Expr>,
    /// The entry.
    pub span: Span,
}

/// A group-by block.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Instances grouped by.
    pub by: Vec<Ident>,
    /// Aggregates computed per group.
    pub aggregates: Vec<Aggregate>,
    /// Threshold over the aggregates.
    pub having: Option<Expr>,
    /// The block.
    pub span: Span,
}

/// A sub-pattern that must not exist.
#[derive(Clone, Debug, PartialEq)]
pub struct Absent {
    /// Its sections: instances, connections, order rules, requirements.
    pub sections: Vec<Section>,
    /// The block.
    pub span: Span,
}

/// A bounded or unbounded repetition of connection steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    /// The step's variable (usable in the chain's predicate).
    pub name: Ident,
    /// The step's type (a connection type).
    pub type_name: Ident,
    /// Address instance the chain starts at.
    pub from: Ident,
    /// Address instance the chain ends at.
    pub to: Ident,
    /// Minimum hops (default 1).
    pub min_hops: u32,
    /// Maximum hops (`None`: unbounded).
    pub max_hops: Option<u32>,
    /// Predicate every step satisfies.
    pub predicate: Option<Expr>,
    /// The declaration.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }

    /// Binding strength (higher binds tighter), for printing with minimal parentheses.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div => 6,
        }
    }
}

/// An expression.
#[allow(missing_docs)] // fields are named for what they hold; the variant says what it is
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal.
    Literal(Literal),
    /// `attr` or `inst.attr` (or a parameter name).
    Attr {
        instance: Option<Ident>,
        attr: Ident,
        span: Span,
    },
    /// `column("label")` or `inst.column("label")`: an extra archive column.
    Column {
        instance: Option<Ident>,
        name: String,
        span: Span,
    },
    /// `not e`
    Not(Box<Expr>, Span),
    /// `-e`
    Neg(Box<Expr>, Span),
    /// `a op b`
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        span: Span,
    },
    /// `e in (l, …)` / `e not in (…)` / `e in 10.0.0.0/8`
    In {
        expr: Box<Expr>,
        list: Vec<Literal>,
        negated: bool,
        span: Span,
    },
    /// `( e )`, kept so the printer can keep the user's grouping.
    Paren(Box<Expr>, Span),
}

impl Expr {
    /// Where the expression is.
    pub fn span(&self) -> Span {
        match self {
            Expr::Literal(l) => l.span,
            Expr::Attr { span, .. }
            | Expr::Column { span, .. }
            | Expr::Not(_, span)
            | Expr::Neg(_, span)
            | Expr::Binary { span, .. }
            | Expr::In { span, .. }
            | Expr::Paren(_, span) => *span,
        }
    }
}

/// Kinds of literal, by their lexical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiteralKind {
    /// `1024`
    Integer,
    /// `1.5`
    Decimal,
    /// `"06"`
    String,
    /// `24h`
    Duration,
    /// `1MB`
    ByteSize,
    /// `2024-05-01T10:00:00Z`
    Timestamp,
    /// `10.0.0.1`, `2001:db8::1`
    Address,
    /// `10.0.0.0/8`
    Cidr,
}

/// A literal as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    /// Its lexical kind.
    pub kind: LiteralKind,
    /// The text as written (strings: unescaped content, without quotes).
    pub text: String,
    /// Where.
    pub span: Span,
}
