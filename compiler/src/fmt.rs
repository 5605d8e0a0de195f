//! Canonical layout of pattern files (`flowpat fmt`).
//!
//! The printer walks the AST, so what it writes parses back to the same tree (spans aside).
//! Comments are not in the AST; they are recovered from the source text by position and
//! re-emitted on their own lines before the statement (or `end`) that followed them. The
//! output is a fixed point: formatting formatted text changes nothing.

use crate::ast::{self, Expr, Section};
use crate::source::Source;

const INDENT: &str = "   ";
const WIDTH: usize = 100;

/// A `//` comment and where it starts.
struct Comment {
    start: usize,
    text: String,
}

/// Finds `//` comments outside string literals.
fn comments(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' || c == b'\n' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = text[i..].find('\n').map(|n| i + n).unwrap_or(text.len());
            out.push(Comment {
                start: i,
                text: text[i..end].trim_end().to_string(),
            });
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

struct Printer {
    out: String,
    comments: Vec<Comment>,
    next: usize,
}

impl Printer {
    /// Emits comments that start before `pos`, each on its own line at `depth`.
    fn comments_before(&mut self, pos: usize, depth: usize) {
        while self.next < self.comments.len() && self.comments[self.next].start < pos {
            let text = self.comments[self.next].text.clone();
            self.line(depth, &text);
            self.next += 1;
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// A statement `head where <expr>;`, breaking a long predicate at `and`/`or`, nested
    /// parentheses included, with continuation lines aligned under what they continue.
    fn predicate_line(&mut self, depth: usize, head: &str, predicate: Option<&Expr>) {
        let Some(p) = predicate else {
            self.line(depth, &format!("{head};"));
            return;
        };
        let indent = depth * INDENT.len();
        let start = format!("{head} where ");
        let mut lines = layout(p, indent + start.len());
        lines[0] = format!("{}{start}{}", INDENT.repeat(depth), lines[0]);
        let last = lines.len() - 1;
        lines[last].push(';');
        for l in lines {
            self.out.push_str(&l);
            self.out.push('\n');
        }
    }

    fn section(&mut self, s: &Section, depth: usize) {
        match s {
            Section::Meta(entries, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, "meta");
                for e in entries {
                    self.comments_before(e.span.start, depth + 1);
                    self.line(depth + 1, &format!("{} {};", e.key.name, string(&e.value)));
                }
                self.comments_before(span.end, depth + 1);
                self.line(depth, "end");
            }
            Section::Param(p) => {
                self.comments_before(p.span.start, depth);
                self.line(
                    depth,
                    &format!("param {} = {};", p.name.name, literal(&p.default)),
                );
            }
            Section::Instance(i) => {
                self.comments_before(i.span.start, depth);
                self.predicate_line(
                    depth,
                    &format!("instance {} : {}", i.name.name, i.type_name.name),
                    i.predicate.as_ref(),
                );
            }
            Section::Connections(edges, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, "connections");
                for e in edges {
                    self.comments_before(e.span.start, depth + 1);
                    self.line(
                        depth + 1,
                        &format!(
                            "{}.{} connects {};",
                            e.record.name, e.role.name, e.address.name
                        ),
                    );
                }
                self.comments_before(span.end, depth + 1);
                self.line(depth, "end");
            }
            Section::Order(rules, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, "order");
                for r in rules {
                    self.comments_before(r.span.start, depth + 1);
                    let op = match r.op {
                        ast::OrderOp::Before => "before",
                        ast::OrderOp::After => "after",
                        ast::OrderOp::Overlaps => "overlaps",
                    };
                    let within = r
                        .within
                        .as_ref()
                        .map(|w| format!(" within {}", expr(w)))
                        .unwrap_or_default();
                    self.line(
                        depth + 1,
                        &format!("{} {op} {}{within};", r.left.name, r.right.name),
                    );
                }
                self.comments_before(span.end, depth + 1);
                self.line(depth, "end");
            }
            Section::Require(e, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, &format!("require {};", expr(e)));
            }
            Section::Group(g) => {
                self.comments_before(g.span.start, depth);
                let by: Vec<&str> = g.by.iter().map(|i| i.name.as_str()).collect();
                self.line(depth, &format!("group by {}", by.join(", ")));
                for a in &g.aggregates {
                    self.comments_before(a.span.start, depth + 1);
                    let func = a.func.keyword();
                    let arg = a
                        .arg
                        .as_ref()
                        .map(|e| format!(" {}", expr(e)))
                        .unwrap_or_default();
                    self.line(depth + 1, &format!("{} = {func}{arg};", a.name.name));
                }
                if let Some(h) = &g.having {
                    self.comments_before(h.span().start, depth + 1);
                    self.line(depth + 1, &format!("having {};", expr(h)));
                }
                self.comments_before(g.span.end, depth + 1);
                self.line(depth, "end");
            }
            Section::Absent(a) => {
                self.comments_before(a.span.start, depth);
                self.line(depth, "absent");
                for s in &a.sections {
                    self.section(s, depth + 1);
                }
                self.comments_before(a.span.end, depth + 1);
                self.line(depth, "end");
            }
            Section::Chain(c) => {
                self.comments_before(c.span.start, depth);
                let hops = match c.max_hops {
                    Some(m) if m == c.min_hops => format!("hops {m}"),
                    Some(m) => format!("hops {}..{m}", c.min_hops),
                    None => format!("hops {}..", c.min_hops),
                };
                let head = format!(
                    "chain {} : {} from {} to {} {hops}",
                    c.name.name, c.type_name.name, c.from.name, c.to.name
                );
                self.predicate_line(depth, &head, c.predicate.as_ref());
            }
            Section::Allow(what, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, &format!("allow {};", what.name));
            }
            Section::Export(items, span) => {
                self.comments_before(span.start, depth);
                self.line(depth, "export");
                let names: Vec<String> = items.iter().map(|i| format!("{};", i.name)).collect();
                self.comments_before(
                    items.first().map(|i| i.span.start).unwrap_or(span.end),
                    depth + 1,
                );
                if !names.is_empty() {
                    self.line(depth + 1, &names.join(" "));
                }
                self.comments_before(span.end, depth + 1);
                self.line(depth, "end");
            }
        }
    }
}

/// Lays an expression out from column `col`: the first line continues the current one; the
/// others are whole lines (with their leading spaces).
fn layout(e: &Expr, col: usize) -> Vec<String> {
    let text = expr(e);
    if col + text.len() <= WIDTH {
        return vec![text];
    }
    match e {
        Expr::Paren(x, _) => {
            let mut lines = layout(x, col + 1);
            lines[0] = format!("({}", lines[0]);
            let last = lines.len() - 1;
            lines[last].push(')');
            lines
        }
        Expr::Binary {
            op: op @ (ast::BinOp::And | ast::BinOp::Or),
            ..
        } => {
            let mut parts = Vec::new();
            flatten(e, *op, &mut parts);
            let word = op.symbol();
            let mut lines = layout(parts[0], col);
            for part in &parts[1..] {
                let prefix = format!("{}{word} ", " ".repeat(col));
                let mut sub = layout(part, col + word.len() + 1);
                sub[0] = format!("{prefix}{}", sub[0]);
                lines.extend(sub);
            }
            lines
        }
        _ => vec![text],
    }
}

fn flatten<'a>(e: &'a Expr, op: ast::BinOp, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Binary {
            op: o, left, right, ..
        } if *o == op => {
            flatten(left, op, out);
            flatten(right, op, out);
        }
        e => out.push(e),
    }
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal(l: &ast::Literal) -> String {
    match l.kind {
        ast::LiteralKind::String => string(&l.text),
        _ => l.text.clone(),
    }
}

/// An expression as canonical text; the AST's own parentheses are kept, none are added
/// (the tree already encodes precedence).
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Literal(l) => literal(l),
        Expr::Attr { instance, attr, .. } => match instance {
            Some(i) => format!("{}.{}", i.name, attr.name),
            None => attr.name.clone(),
        },
        Expr::Column { instance, name, .. } => match instance {
            Some(i) => format!("{}.column({})", i.name, string(name)),
            None => format!("column({})", string(name)),
        },
        Expr::Not(x, _) => format!("not {}", expr(x)),
        Expr::Neg(x, _) => format!("-{}", expr(x)),
        Expr::Paren(x, _) => format!("({})", expr(x)),
        // The parser keeps the user's parentheses as `Paren` nodes and otherwise builds the
        // tree by precedence, so printing operands as they are reproduces the same tree.
        Expr::Binary {
            op, left, right, ..
        } => format!("{} {} {}", expr(left), op.symbol(), expr(right)),
        Expr::In {
            expr: x,
            list,
            negated,
            ..
        } => {
            let items: Vec<String> = list.iter().map(literal).collect();
            format!(
                "{} {}in ({})",
                expr(x),
                if *negated { "not " } else { "" },
                items.join(", ")
            )
        }
    }
}

/// Formats a parsed file in canonical layout, keeping the source's comments.
pub fn format(source: &Source, file: &ast::File) -> String {
    let mut p = Printer {
        out: String::new(),
        comments: comments(&source.text),
        next: 0,
    };
    let mut last_kind = None;
    for item in &file.items {
        let kind = std::mem::discriminant(item);
        let span = match item {
            ast::Item::Use { span, .. } => *span,
            ast::Item::Define(d) => d.span,
            ast::Item::Param(x) => x.span,
            ast::Item::Search(s) => s.span,
        };
        if last_kind.is_some() && (last_kind != Some(kind) || matches!(item, ast::Item::Search(_)))
        {
            p.blank();
        }
        last_kind = Some(kind);
        p.comments_before(span.start, 0);
        match item {
            ast::Item::Use { path, .. } => p.line(0, &format!("use {};", string(path))),
            ast::Item::Define(d) => p.predicate_line(
                0,
                &format!("define {} : {}", d.name.name, d.base.name),
                d.predicate.as_ref(),
            ),
            ast::Item::Param(x) => p.line(
                0,
                &format!("param {} = {};", x.name.name, literal(&x.default)),
            ),
            ast::Item::Search(s) => {
                p.line(0, &format!("search {} is", s.name));
                for section in &s.sections {
                    p.section(section, 1);
                }
                p.comments_before(s.span.end, 1);
                p.line(0, "end");
            }
        }
    }
    p.comments_before(usize::MAX, 0);
    p.out
}
