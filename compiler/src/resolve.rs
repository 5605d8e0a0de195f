//! Resolve: [`ast::File`] → [`hir::Pattern`]s, with every name, type and literal checked.
//!
//! This is where the language gets its meaning: instance names are bound, attribute names are
//! looked up in [`crate::model`] (with did-you-mean help), literals are read by what they are
//! compared with (`protocol = "06"` is protocol 6; `durationSeconds > 1` is one second;
//! `bytesSent > 1MB` is 1,000,000 bytes), temporal `order` rules become exact time conditions,
//! and shapes that would silently run forever (cross products) are refused. Every problem is
//! collected; resolution carries on past errors so one run reports them all.

use std::collections::BTreeMap;

use crate::ast::{self, AggFunc, BinOp, LiteralKind, OrderOp};
use crate::diagnostic::{did_you_mean, Diagnostic, ResolveError};
use crate::hir::{self, Expr, InstanceId, Value};
use crate::model::{protocol_number, Attr, Entity, Role, Type};
use crate::num::Num;
use crate::source::Span;
use crate::value::{Addr, Prefix};

/// File-level names visible to patterns: definitions and parameter defaults, from the file and
/// everything it `use`s.
#[derive(Default, Clone, Debug)]
pub struct Scope {
    /// `define` items by name.
    pub defines: BTreeMap<String, ast::Define>,
    /// File-level `param` items by name.
    pub params: BTreeMap<String, ast::Param>,
}

impl Scope {
    /// Adds a file's definitions and parameters, reporting duplicates.
    pub fn add_file(&mut self, file: &ast::File, diags: &mut Vec<Diagnostic>) {
        for item in &file.items {
            match item {
                ast::Item::Define(d) => {
                    if let Some(first) = self.defines.get(&d.name.name) {
                        if first.span != d.span {
                            diags.push(dup(&d.name.name, d.name.span, first.name.span));
                        }
                        continue;
                    }
                    if Entity::from_name(&d.name.name).is_some() {
                        diags.push(invalid(
                            format!(
                                "`{}` is a built-in type and cannot be redefined",
                                d.name.name
                            ),
                            "choose another name".into(),
                            d.name.span,
                        ));
                        continue;
                    }
                    self.defines.insert(d.name.name.clone(), d.clone());
                }
                ast::Item::Param(p) => {
                    self.params
                        .entry(p.name.name.clone())
                        .or_insert_with(|| p.clone());
                }
                _ => {}
            }
        }
    }
}

fn dup(name: &str, span: Span, first: Span) -> Diagnostic {
    ResolveError::Duplicate {
        name: name.to_string(),
        span,
        first,
    }
    .into()
}

/// Names the output gives its own columns (`matches`) and fields (`pattern` of JSON lines;
/// `change`, `epoch`, `cause` of a watch's change lines): an instance or aggregate of that name
/// would overwrite one in the results.
const RESERVED_NAMES: [&str; 5] = ["matches", "pattern", "change", "epoch", "cause"];

/// The error for declaring a reserved name, if `name` is one.
fn reserved(name: &ast::Ident, what: &str) -> Option<Diagnostic> {
    RESERVED_NAMES.contains(&name.name.as_str()).then(|| {
        invalid(
            format!(
                "`{}` is a column name of the results: no {what} may take it",
                name.name
            ),
            format!(
                "give the {what} another name (reserved: {})",
                RESERVED_NAMES.join(", ")
            ),
            name.span,
        )
    })
}

fn invalid(message: String, help: String, span: Span) -> Diagnostic {
    ResolveError::Invalid {
        message,
        help,
        span,
    }
    .into()
}

/// A parameter override from the command line: name and the literal text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamOverride {
    /// Parameter name.
    pub name: String,
    /// Literal, parsed by the pattern's grammar (`2MB`, `"tcp"`, `24h`).
    pub literal: ast::Literal,
}

/// Resolves one `search` against a scope.
pub fn resolve_search(
    search: &ast::Search,
    scope: &Scope,
    overrides: &[ParamOverride],
    diags: &mut Vec<Diagnostic>,
) -> Option<hir::Pattern> {
    let errors_before = diags.iter().filter(|d| !d.is_warning()).count();
    let mut r = Resolver {
        scope,
        diags,
        instances: Vec::new(),
        by_name: BTreeMap::new(),
        params: BTreeMap::new(),
        self_inst: None,
        aggs: Vec::new(),
    };

    // Parameters: file defaults, then the pattern's own, then overrides.
    for (name, p) in &scope.params {
        r.params.insert(name.clone(), p.default.clone());
    }
    let mut meta = hir::Meta::default();
    for section in &search.sections {
        match section {
            ast::Section::Param(p) => {
                r.params.insert(p.name.name.clone(), p.default.clone());
            }
            ast::Section::Meta(entries, _) => {
                for e in entries {
                    meta.entries.push((e.key.name.clone(), e.value.clone()));
                }
            }
            _ => {}
        }
    }
    for o in overrides {
        if r.params.contains_key(&o.name) {
            r.params.insert(o.name.clone(), o.literal.clone());
        }
    }

    // Instances first, so any section may refer to any instance.
    for section in &search.sections {
        if let ast::Section::Instance(inst) = section {
            r.declare(inst, None);
        }
    }
    let mut chains = Vec::new();
    for section in &search.sections {
        if let ast::Section::Chain(c) = section {
            if let Some(chain) = r.chain(c) {
                chains.push(chain);
            }
        }
    }
    let mut absent_asts = Vec::new();
    for section in &search.sections {
        if let ast::Section::Absent(a) = section {
            let group = absent_asts.len();
            for s in &a.sections {
                if let ast::Section::Instance(inst) = s {
                    r.declare(inst, Some(group));
                }
            }
            absent_asts.push(a);
        }
    }
    // Predicates of instances (after all are declared; predicates read only their instance).
    for section in &search.sections {
        if let ast::Section::Instance(inst) = section {
            r.instance_predicate(inst);
        }
    }
    for a in &absent_asts {
        for s in &a.sections {
            if let ast::Section::Instance(inst) = s {
                r.instance_predicate(inst);
            }
        }
    }

    let mut edges = Vec::new();
    let mut requires = Vec::new();
    let mut orders = Vec::new();
    let mut group = None;
    let mut export = Vec::new();
    let mut allow_cross = false;
    let mut export_seen = false;
    for section in &search.sections {
        match section {
            ast::Section::Connections(list, _) => edges.extend(r.edges(list, None)),
            ast::Section::Order(rules, _) => {
                for rule in rules {
                    if let Some((order, cond)) = r.order(rule) {
                        orders.push(order);
                        requires.push(cond);
                    }
                }
            }
            ast::Section::Require(e, _) => {
                if let Some(e) = r.bool_expr(e) {
                    requires.push(e);
                }
            }
            ast::Section::Group(g) => {
                if group.is_some() {
                    r.diags.push(invalid(
                        "a pattern has at most one `group` block".into(),
                        "merge the blocks".into(),
                        g.span,
                    ));
                } else {
                    group = r.group(g);
                }
            }
            ast::Section::Allow(what, _) => {
                if what.name == "crossproduct" {
                    allow_cross = true;
                } else {
                    r.diags.push(invalid(
                        format!("unknown `allow` option `{}`", what.name),
                        "the only option is `allow crossproduct;`".into(),
                        what.span,
                    ));
                }
            }
            ast::Section::Export(items, span) => {
                if export_seen {
                    r.diags.push(invalid(
                        "a pattern has at most one `export` block".into(),
                        "merge the blocks".into(),
                        *span,
                    ));
                }
                export_seen = true;
                for item in items {
                    if let Some(k) = r.aggs.iter().position(|a| a.name == item.name) {
                        export.push(hir::ExportItem::Aggregate(k));
                    } else if let Some(id) = r.lookup_instance(item) {
                        if r.instances[id.index()].absent_group.is_some() {
                            r.diags.push(invalid(
                                format!(
                                    "`{}` belongs to an `absent` block and cannot be exported",
                                    item.name
                                ),
                                "export instances of the pattern itself".into(),
                                item.span,
                            ));
                        } else {
                            export.push(hir::ExportItem::Instance(id));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !export_seen {
        r.diags.push(invalid(
            "the pattern has no `export` block".into(),
            "add `export … end` naming the instances to report".into(),
            search.name_span,
        ));
    }

    // Absent blocks: their edges and conditions.
    let mut absent = Vec::new();
    for (k, a) in absent_asts.iter().enumerate() {
        let mut block = hir::Absent {
            instances: r
                .instances
                .iter()
                .filter(|i| i.absent_group == Some(k))
                .map(|i| i.id)
                .collect(),
            edges: Vec::new(),
            requires: Vec::new(),
            orders: Vec::new(),
        };
        for s in &a.sections {
            match s {
                ast::Section::Connections(list, _) => block.edges.extend(r.edges(list, Some(k))),
                ast::Section::Order(rules, _) => {
                    for rule in rules {
                        if let Some((order, cond)) = r.order(rule) {
                            block.orders.push(order);
                            block.requires.push(cond);
                        }
                    }
                }
                ast::Section::Require(e, _) => {
                    if let Some(e) = r.bool_expr(e) {
                        block.requires.push(e);
                    }
                }
                _ => {}
            }
        }
        absent.push(block);
    }

    // Grouped patterns export only grouped instances and aggregates.
    if let Some(g) = &group {
        for item in &export {
            if let hir::ExportItem::Instance(id) = item {
                if !g.by.contains(id) {
                    let inst = &r.instances[id.index()];
                    r.diags.push(invalid(
                        format!("`{}` is exported but not grouped by", inst.name),
                        "add it to `group by`, or export an aggregate over it".to_string(),
                        inst.span,
                    ));
                }
            }
        }
    }

    r.check_connected(&edges, &chains, &absent, allow_cross);
    r.check_impossible();

    let extra_columns = r.extra_columns(&requires, &group, &absent, &chains);
    let errors_after = r.diags.iter().filter(|d| !d.is_warning()).count();
    if errors_after > errors_before {
        return None;
    }
    let params = r
        .params
        .iter()
        .map(|(name, lit)| {
            (
                name.clone(),
                natural_value(lit).unwrap_or(Value::Str(lit.text.clone())),
            )
        })
        .collect();
    Some(hir::Pattern {
        name: search.name.clone(),
        meta,
        params,
        instances: r.instances,
        edges,
        requires,
        orders,
        group,
        absent,
        chains,
        export,
        extra_columns,
        span: search.span,
    })
}

struct Resolver<'s, 'd> {
    scope: &'s Scope,
    diags: &'d mut Vec<Diagnostic>,
    instances: Vec<hir::Instance>,
    by_name: BTreeMap<String, InstanceId>,
    params: BTreeMap<String, ast::Literal>,
    /// The instance whose `where` is being resolved (bare attribute names refer to it).
    self_inst: Option<InstanceId>,
    /// Aggregates declared so far (for `having` and export).
    aggs: Vec<hir::Aggregate>,
}

impl Resolver<'_, '_> {
    fn error(&mut self, e: ResolveError) {
        self.diags.push(e.into());
    }

    /// Entity of a type name, following definitions; also returns the definitions' chain.
    fn entity_of(&mut self, type_name: &ast::Ident) -> Option<(Entity, Vec<ast::Define>)> {
        let mut chain = Vec::new();
        let mut name = type_name.clone();
        loop {
            if let Some(e) = Entity::from_name(&name.name) {
                return Some((e, chain));
            }
            match self.scope.defines.get(&name.name) {
                Some(d)
                    if chain.len() < 32
                        && !chain
                            .iter()
                            .any(|c: &ast::Define| c.name.name == d.name.name) =>
                {
                    chain.push(d.clone());
                    name = d.base.clone();
                }
                Some(d) => {
                    self.error(ResolveError::Invalid {
                        message: format!("definition `{}` refers to itself", d.name.name),
                        help: "break the cycle".into(),
                        span: d.span,
                    });
                    return None;
                }
                None => {
                    let mut candidates: Vec<&str> = Entity::NAMES.to_vec();
                    candidates.extend(self.scope.defines.keys().map(String::as_str));
                    let help = did_you_mean(&name.name, &candidates);
                    self.error(ResolveError::UnknownType {
                        name: name.name.clone(),
                        help,
                        span: name.span,
                    });
                    return None;
                }
            }
        }
    }

    fn declare(&mut self, inst: &ast::Instance, absent_group: Option<usize>) {
        if let Some(e) = reserved(&inst.name, "instance") {
            self.diags.push(e);
        }
        if let Some(first) = self.by_name.get(&inst.name.name) {
            let first_span = self.instances[first.index()].span;
            self.diags
                .push(dup(&inst.name.name, inst.name.span, first_span));
            return;
        }
        let Some((entity, _)) = self.entity_of(&inst.type_name) else {
            // Declare anyway (as an address) so later references do not cascade into errors.
            self.push_instance(&inst.name, Entity::Address, absent_group, inst.span, true);
            return;
        };
        self.push_instance(&inst.name, entity, absent_group, inst.span, false);
    }

    fn push_instance(
        &mut self,
        name: &ast::Ident,
        entity: Entity,
        absent_group: Option<usize>,
        span: Span,
        _poisoned: bool,
    ) -> InstanceId {
        let id =
            InstanceId(u32::try_from(self.instances.len()).expect("fewer than 2^32 instances"));
        self.instances.push(hir::Instance {
            id,
            name: name.name.clone(),
            entity,
            predicate: None,
            absent_group,
            span,
        });
        self.by_name.insert(name.name.clone(), id);
        id
    }

    fn instance_predicate(&mut self, inst: &ast::Instance) {
        let Some(&id) = self.by_name.get(&inst.name.name) else {
            return;
        };
        if self.instances[id.index()].span != inst.span {
            return; // a duplicate declaration, already reported
        }
        let Some((_, defines)) = self.entity_of_quiet(&inst.type_name) else {
            return;
        };
        let mut predicate = None;
        self.self_inst = Some(id);
        // Definitions' predicates, base first, then the instance's own.
        for d in defines.iter().rev() {
            if let Some(p) = &d.predicate {
                predicate = Expr::and(predicate, self.bool_expr(p));
            }
        }
        if let Some(p) = &inst.predicate {
            predicate = Expr::and(predicate, self.bool_expr(p));
        }
        self.self_inst = None;
        self.instances[id.index()].predicate = predicate;
    }

    fn entity_of_quiet(&mut self, type_name: &ast::Ident) -> Option<(Entity, Vec<ast::Define>)> {
        let mut chain = Vec::new();
        let mut name = type_name.name.clone();
        loop {
            if let Some(e) = Entity::from_name(&name) {
                return Some((e, chain));
            }
            let d = self.scope.defines.get(&name)?;
            if chain.len() >= 32
                || chain
                    .iter()
                    .any(|c: &ast::Define| c.name.name == d.name.name)
            {
                return None;
            }
            chain.push(d.clone());
            name = d.base.name.clone();
        }
    }

    /// The entity of the instance `name` names, if it names one (a bare name where a value is
    /// expected).
    fn instance_value(&self, name: &ast::Ident) -> Option<Entity> {
        self.by_name
            .get(&name.name)
            .map(|id| self.instances[id.index()].entity)
    }

    fn lookup_instance(&mut self, name: &ast::Ident) -> Option<InstanceId> {
        if let Some(id) = self.by_name.get(&name.name) {
            return Some(*id);
        }
        let names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        let help = did_you_mean(&name.name, &names);
        self.error(ResolveError::UnknownInstance {
            name: name.name.clone(),
            help,
            span: name.span,
        });
        None
    }

    fn edges(&mut self, list: &[ast::Edge], group: Option<usize>) -> Vec<hir::Edge> {
        let mut out: Vec<(hir::Edge, Span)> = Vec::new();
        for e in list {
            let (Some(record), Some(address)) = (
                self.lookup_instance(&e.record),
                self.lookup_instance(&e.address),
            ) else {
                continue;
            };
            let rec = &self.instances[record.index()];
            if !rec.entity.is_record() {
                let msg = format!(
                    "`{}` is a {} and has no `{}` edge",
                    rec.name, rec.entity, e.role.name
                );
                self.error(ResolveError::BadEdge { message: msg, help: "edges go from a NetworkConnection or Event to a NetworkAddress: `conn.source connects addr;`".into(), span: e.span });
                continue;
            }
            let Some(role) = Role::from_name(&e.role.name) else {
                let help = did_you_mean(&e.role.name, &["source", "destination"]);
                self.error(ResolveError::BadEdge {
                    message: format!("unknown edge `{}`", e.role.name),
                    help,
                    span: e.role.span,
                });
                continue;
            };
            let addr = &self.instances[address.index()];
            if addr.entity != Entity::Address {
                let msg = format!(
                    "`{}` is a {}, but edges connect to a NetworkAddress",
                    addr.name, addr.entity
                );
                self.error(ResolveError::BadEdge {
                    message: msg,
                    help: "declare it as `instance x : NetworkAddress`".into(),
                    span: e.address.span,
                });
                continue;
            }
            if group.is_none() && (rec.absent_group.is_some() || addr.absent_group.is_some()) {
                self.error(ResolveError::BadEdge {
                    message: "edges to instances of an `absent` block belong inside that block"
                        .into(),
                    help: "move this edge into the block's `connections`".into(),
                    span: e.span,
                });
                continue;
            }
            if let Some((_, first)) = out
                .iter()
                .find(|(x, _)| x.record == record && x.role == role)
            {
                let first = *first;
                let name = format!("{}.{}", e.record.name, e.role.name);
                self.diags.push(dup(&name, e.span, first));
                continue;
            }
            out.push((
                hir::Edge {
                    record,
                    role,
                    address,
                },
                e.span,
            ));
        }
        out.into_iter().map(|(e, _)| e).collect()
    }

    fn record_instance(&mut self, name: &ast::Ident) -> Option<(InstanceId, Entity)> {
        let id = self.lookup_instance(name)?;
        let inst = &self.instances[id.index()];
        if !inst.entity.is_record() {
            let msg = format!(
                "`{}` is a NetworkAddress; only connections and events have a time",
                inst.name
            );
            self.error(ResolveError::Invalid {
                message: msg,
                help: "order connections and events".into(),
                span: name.span,
            });
            return None;
        }
        Some((id, inst.entity))
    }

    /// `a before b within d` ⇒ `0 < b.t − a.t ≤ d` (t: `startTime` of a connection, `time` of an event).
    fn order(&mut self, rule: &ast::OrderRule) -> Option<(hir::Order, Expr)> {
        let left = self.record_instance(&rule.left);
        let right = self.record_instance(&rule.right);
        let within = match &rule.within {
            Some(e) => match self.expr(e, Some(Type::Duration)) {
                Some((Expr::Lit(Value::Dur(d)), _)) if d >= 0 => Some(d),
                Some(_) => {
                    self.error(ResolveError::BadLiteral { text: "this bound".into(), expected: "non-negative duration".into(), help: "write a duration such as `24h`, `90s` or `7d`, or a parameter holding one".into(), span: e.span() });
                    None
                }
                None => None,
            },
            None => None,
        };
        let ((l, le), (r, re)) = (left?, right?);
        let t =
            |id: InstanceId, e: Entity| Expr::Attr(id, e.time_attr().expect("records have a time"));
        let end = |id: InstanceId, e: Entity| {
            Expr::Attr(id, e.end_time_attr().expect("records have an end"))
        };
        let gap = |a: Expr, b: Expr| Expr::Bin(BinOp::Sub, Box::new(b), Box::new(a));
        let zero = Expr::Lit(Value::Dur(0));
        let cmp = |op: BinOp, a: Expr, b: Expr| Expr::Bin(op, Box::new(a), Box::new(b));
        let cond = match rule.op {
            OrderOp::Before | OrderOp::After => {
                let (first, second) = if rule.op == OrderOp::Before {
                    (t(l, le), t(r, re))
                } else {
                    (t(r, re), t(l, le))
                };
                let mut c = cmp(BinOp::Gt, gap(first.clone(), second.clone()), zero);
                if let Some(d) = within {
                    c = cmp(
                        BinOp::And,
                        c,
                        cmp(BinOp::Le, gap(first, second), Expr::Lit(Value::Dur(d))),
                    );
                }
                c
            }
            OrderOp::Overlaps => {
                // Intervals overlap (each starts no later than the other ends), widened by `within`.
                let slack = Expr::Lit(Value::Dur(within.unwrap_or(0)));
                let a = cmp(
                    BinOp::Le,
                    t(l, le),
                    cmp(BinOp::Add, end(r, re), slack.clone()),
                );
                let b = cmp(BinOp::Le, t(r, re), cmp(BinOp::Add, end(l, le), slack));
                cmp(BinOp::And, a, b)
            }
        };
        Some((
            hir::Order {
                left: l,
                op: rule.op,
                right: r,
                within,
            },
            cond,
        ))
    }

    fn group(&mut self, g: &ast::Group) -> Option<hir::Group> {
        let mut by = Vec::new();
        for name in &g.by {
            if let Some(id) = self.lookup_instance(name) {
                by.push(id);
            }
        }
        for a in &g.aggregates {
            if let Some(e) = reserved(&a.name, "aggregate") {
                self.diags.push(e);
                continue;
            }
            if self.aggs.iter().any(|x| x.name == a.name.name)
                || self.by_name.contains_key(&a.name.name)
            {
                self.error(ResolveError::Invalid {
                    message: format!("`{}` is already a name in this pattern", a.name.name),
                    help: "give the aggregate another name".into(),
                    span: a.name.span,
                });
                continue;
            }
            let arg = match &a.arg {
                // `count distinct destadr`: an address instance is its address, so distinct
                // instances are distinct addresses. Other instances have no value to count by.
                Some(ast::Expr::Attr {
                    instance: None,
                    attr,
                    ..
                }) if a.func == AggFunc::CountDistinct
                    && self.instance_value(attr) == Some(Entity::Address) =>
                {
                    let id = self.by_name[&attr.name];
                    Some((Expr::Attr(id, Attr::Address), Type::Addr))
                }
                Some(ast::Expr::Attr {
                    instance: None,
                    attr,
                    ..
                }) if self.instance_value(attr).is_some() => {
                    let entity = self.instance_value(attr).expect("checked by the guard");
                    let func = a.func.keyword();
                    let attrs: Vec<String> = entity
                        .attributes()
                        .iter()
                        .map(|x| format!("`{}.{}`", attr.name, x.name()))
                        .collect();
                    self.error(ResolveError::Invalid {
                        message: format!(
                            "`{func}` takes an attribute, and `{}` is an instance ({})",
                            attr.name,
                            entity.name()
                        ),
                        help: format!(
                            "write `{func}` of one of its attributes: {} (`count` alone counts the group's matches)",
                            attrs.join(", ")
                        ),
                        span: attr.span,
                    });
                    // Still declared, so that `having` and `export` do not report it again.
                    self.aggs.push(hir::Aggregate {
                        name: a.name.name.clone(),
                        func: a.func,
                        arg: None,
                        ty: Type::Int,
                    });
                    continue;
                }
                Some(e) => self.expr(e, None),
                None => None,
            };
            let ty = match (a.func, &arg) {
                (AggFunc::Count | AggFunc::CountDistinct, _) => Type::Int,
                (_, Some((_, t))) => *t,
                (f, None) => {
                    let name = format!("{f:?}").to_lowercase();
                    self.error(ResolveError::Invalid {
                        message: format!("`{name}` needs an argument"),
                        help: format!("write `{} = {name} conn.bytesSent;`", a.name.name),
                        span: a.span,
                    });
                    continue;
                }
            };
            if matches!(a.func, AggFunc::Sum) && !(ty.is_numeric() || ty == Type::Duration) {
                self.error(ResolveError::TypeMismatch {
                    message: "`sum` adds numbers or durations".into(),
                    help: "sum a numeric attribute".into(),
                    span: a.span,
                    left: "sum".into(),
                    right: ty.name().into(),
                });
                continue;
            }
            self.aggs.push(hir::Aggregate {
                name: a.name.name.clone(),
                func: a.func,
                arg: arg.map(|(e, _)| e),
                ty,
            });
        }
        let having = g.having.as_ref().and_then(|h| self.bool_expr(h));
        Some(hir::Group {
            by,
            aggregates: self.aggs.clone(),
            having,
        })
    }

    fn chain(&mut self, c: &ast::Chain) -> Option<hir::Chain> {
        let (entity, _) = self.entity_of(&c.type_name)?;
        if entity != Entity::Connection {
            self.error(ResolveError::Invalid {
                message: "a chain's steps are connections".into(),
                help: "write `chain hop : NetworkConnection from a to b;`".into(),
                span: c.type_name.span,
            });
            return None;
        }
        let from = self.lookup_instance(&c.from);
        let to = self.lookup_instance(&c.to);
        if c.max_hops.is_some_and(|m| m < c.min_hops) || c.min_hops == 0 {
            self.error(ResolveError::Invalid {
                message: "hop bounds must satisfy 1 <= min <= max".into(),
                help: "write `hops 1..5`".into(),
                span: c.span,
            });
        }
        if let Some(e) = reserved(&c.name, "instance") {
            self.diags.push(e);
        }
        if self.by_name.contains_key(&c.name.name) {
            let first = self.instances[self.by_name[&c.name.name].index()].span;
            self.diags.push(dup(&c.name.name, c.name.span, first));
            return None;
        }
        let step = self.push_instance(&c.name, Entity::Connection, None, c.span, false);
        self.self_inst = Some(step);
        let mut predicate = None;
        if let Some((_, defines)) = self.entity_of_quiet(&c.type_name) {
            for d in defines.iter().rev() {
                if let Some(p) = &d.predicate {
                    predicate = Expr::and(predicate, self.bool_expr(p));
                }
            }
        }
        if let Some(p) = &c.predicate {
            predicate = Expr::and(predicate, self.bool_expr(p));
        }
        self.self_inst = None;
        for (id, ident) in [(from, &c.from), (to, &c.to)] {
            if let Some(id) = id {
                if self.instances[id.index()].entity != Entity::Address {
                    self.error(ResolveError::BadEdge {
                        message: format!(
                            "a chain runs between addresses; `{}` is not one",
                            ident.name
                        ),
                        help: "name NetworkAddress instances after `from` and `to`".into(),
                        span: ident.span,
                    });
                    return None;
                }
            }
        }
        Some(hir::Chain {
            name: c.name.name.clone(),
            from: from?,
            to: to?,
            min_hops: c.min_hops,
            max_hops: c.max_hops,
            predicate,
            step,
        })
    }

    fn bool_expr(&mut self, e: &ast::Expr) -> Option<Expr> {
        let (x, t) = self.expr(e, Some(Type::Bool))?;
        if t != Type::Bool {
            self.error(ResolveError::TypeMismatch {
                message: format!("a condition must be true or false, this is a {t}"),
                help: "compare it: `bytesSent > 0`".into(),
                span: e.span(),
                left: t.name().into(),
                right: "boolean".into(),
            });
            return None;
        }
        Some(x)
    }

    fn is_literalish(&self, e: &ast::Expr) -> bool {
        match e {
            ast::Expr::Literal(_) => true,
            ast::Expr::Attr {
                instance: None,
                attr,
                ..
            } => self.params.contains_key(&attr.name) && !self.attr_of_self(&attr.name),
            ast::Expr::Neg(x, _) | ast::Expr::Paren(x, _) => self.is_literalish(x),
            _ => false,
        }
    }

    fn attr_of_self(&self, name: &str) -> bool {
        self.self_inst
            .is_some_and(|i| Attr::lookup(self.instances[i.index()].entity, name).is_some())
    }

    fn expr(&mut self, e: &ast::Expr, expected: Option<Type>) -> Option<(Expr, Type)> {
        match e {
            ast::Expr::Literal(lit) => {
                let hint = expected.filter(|t| *t != Type::Bool);
                self.literal(lit, hint).map(|(v, t)| (Expr::Lit(v), t))
            }
            ast::Expr::Paren(x, _) => self.expr(x, expected),
            ast::Expr::Attr {
                instance,
                attr,
                span,
            } => self.attr_ref(instance.as_ref(), attr, *span, expected),
            ast::Expr::Column {
                instance,
                name,
                span,
            } => {
                let id = match instance {
                    Some(i) => self.lookup_instance(i)?,
                    None => {
                        match self.self_inst {
                            Some(i) => i,
                            None => {
                                self.error(ResolveError::Invalid { message: "`column(…)` outside an instance's `where` needs its instance".into(), help: format!("write `conn.column({name:?})`"), span: *span });
                                return None;
                            }
                        }
                    }
                };
                if !self.instances[id.index()].entity.is_record() {
                    self.error(ResolveError::Invalid {
                        message: "extra columns belong to connections and events".into(),
                        help: "name a connection or event instance".into(),
                        span: *span,
                    });
                    return None;
                }
                Some((Expr::Column(id, name.clone()), Type::Str))
            }
            ast::Expr::Not(x, span) => {
                let (x, t) = self.expr(x, Some(Type::Bool))?;
                if t != Type::Bool {
                    self.error(ResolveError::TypeMismatch {
                        message: "`not` applies to conditions".into(),
                        help: "write `not (a = b)`".into(),
                        span: *span,
                        left: "not".into(),
                        right: t.name().into(),
                    });
                    return None;
                }
                Some((Expr::Not(Box::new(x)), Type::Bool))
            }
            ast::Expr::Neg(x, span) => {
                let (x, t) = self.expr(x, expected)?;
                if !(t.is_numeric() || t == Type::Duration) {
                    self.error(ResolveError::TypeMismatch {
                        message: "`-` applies to numbers and durations".into(),
                        help: String::new(),
                        span: *span,
                        left: "-".into(),
                        right: t.name().into(),
                    });
                    return None;
                }
                // Fold negative literals so `x > -5` stays a literal comparison.
                match x {
                    Expr::Lit(Value::Num(n)) => Some((Expr::Lit(Value::Num(n.neg())), t)),
                    Expr::Lit(Value::Dur(d)) => Some((Expr::Lit(Value::Dur(-d)), t)),
                    x => Some((Expr::Neg(Box::new(x)), t)),
                }
            }
            ast::Expr::Binary {
                op,
                left,
                right,
                span,
            } => self.binary(*op, left, right, *span),
            ast::Expr::In {
                expr,
                list,
                negated,
                span,
            } => {
                let (x, t) = self.expr(expr, None)?;
                if t == Type::Addr {
                    let mut prefixes = Vec::new();
                    for lit in list {
                        match lit.kind {
                            LiteralKind::Cidr | LiteralKind::Address | LiteralKind::String => {
                                match Prefix::parse(&lit.text) {
                                    Some(p) => prefixes.push(p),
                                    None => self.error(ResolveError::BadLiteral {
                                        text: lit.text.clone(),
                                        expected: "network (CIDR)".into(),
                                        help: "write `10.0.0.0/8` or `2001:db8::/32`".into(),
                                        span: lit.span,
                                    }),
                                }
                            }
                            _ => self.error(ResolveError::BadLiteral {
                                text: lit.text.clone(),
                                expected: "network (CIDR)".into(),
                                help: "write `10.0.0.0/8` or `2001:db8::/32`".into(),
                                span: lit.span,
                            }),
                        }
                    }
                    return Some((Expr::InCidr(Box::new(x), prefixes, *negated), Type::Bool));
                }
                let mut values = Vec::new();
                for lit in list {
                    if let Some((v, _)) = self.literal(lit, Some(t)) {
                        values.push(v);
                    }
                }
                if let Expr::Attr(_, attr) = &x {
                    let never = |v: &Value| matches!(v, Value::Num(n) if outside_range(*attr, BinOp::Eq, n).is_some());
                    if !negated && values.len() == list.len() && values.iter().all(never) {
                        if let Some((lo, hi)) = attr.range() {
                            self.error(ResolveError::NeverHolds {
                                reason: format!(
                                    "{attr} is a whole number from {lo} to {hi}, and no value in the list is"
                                ),
                                span: *span,
                            });
                        }
                    }
                }
                Some((Expr::In(Box::new(x), values, *negated), Type::Bool))
            }
        }
    }

    fn attr_ref(
        &mut self,
        instance: Option<&ast::Ident>,
        attr: &ast::Ident,
        span: Span,
        expected: Option<Type>,
    ) -> Option<(Expr, Type)> {
        let id = match instance {
            Some(i) => self.lookup_instance(i)?,
            None => {
                // A bare name: an attribute of the instance being declared, an aggregate
                // (in `having`), or a parameter.
                if self.attr_of_self(&attr.name) {
                    self.self_inst.expect("checked by attr_of_self")
                } else if let Some(k) = self.aggs.iter().position(|a| a.name == attr.name) {
                    return Some((Expr::Agg(k), self.aggs[k].ty));
                } else if let Some(lit) = self.params.get(&attr.name).cloned() {
                    let hint = expected.filter(|t| *t != Type::Bool);
                    let lit = ast::Literal { span, ..lit };
                    return self.literal(&lit, hint).map(|(v, t)| (Expr::Lit(v), t));
                } else if let Some(i) = self.self_inst {
                    let entity = self.instances[i.index()].entity;
                    let names: Vec<&str> = entity.attributes().iter().map(|a| a.name()).collect();
                    let help = did_you_mean(&attr.name, &names);
                    self.error(ResolveError::UnknownAttribute {
                        name: attr.name.clone(),
                        entity: entity.name(),
                        help,
                        span: attr.span,
                    });
                    return None;
                } else if self.instance_value(attr).is_some() {
                    // An instance where a value is expected: name its attributes, never
                    // "did you mean" the same name.
                    let id = self.by_name[&attr.name];
                    let entity = self.instances[id.index()].entity;
                    let attrs: Vec<String> = entity
                        .attributes()
                        .iter()
                        .map(|a| format!("`{}.{}`", attr.name, a.name()))
                        .collect();
                    let hint = if entity == Entity::Address {
                        format!("did you mean `{}.address`? ", attr.name)
                    } else {
                        String::new()
                    };
                    self.error(ResolveError::Invalid {
                        message: format!(
                            "`{}` is an instance ({}), not a value: an expression takes one of its attributes",
                            attr.name,
                            entity.name()
                        ),
                        help: format!("{hint}its attributes: {}", attrs.join(", ")),
                        span: attr.span,
                    });
                    return None;
                } else {
                    let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
                    names.extend(self.aggs.iter().map(|a| a.name.as_str()));
                    names.extend(self.params.keys().map(String::as_str));
                    let help = format!(
                        "{} (outside an instance's `where`, write `instance.attribute`)",
                        did_you_mean(&attr.name, &names)
                    );
                    self.error(ResolveError::UnknownInstance {
                        name: attr.name.clone(),
                        help,
                        span: attr.span,
                    });
                    return None;
                }
            }
        };
        if let Some(own) = self.self_inst {
            if own != id && instance.is_some() {
                let msg = format!(
                    "an instance's `where` reads only that instance; `{}` is another",
                    self.instances[id.index()].name
                );
                self.error(ResolveError::Invalid {
                    message: msg,
                    help: "move the condition into `require …;` or an `order` block".into(),
                    span,
                });
                return None;
            }
        }
        let entity = self.instances[id.index()].entity;
        match Attr::lookup(entity, &attr.name) {
            Some(a) => Some((Expr::Attr(id, a), a.ty())),
            None => {
                let names: Vec<&str> = entity.attributes().iter().map(|a| a.name()).collect();
                let mut help = did_you_mean(&attr.name, &names);
                if entity.is_record() {
                    help.push_str(&format!(
                        "; an extra archive column is read with `column(\"{}\")`",
                        attr.name
                    ));
                }
                self.error(ResolveError::UnknownAttribute {
                    name: attr.name.clone(),
                    entity: entity.name(),
                    help,
                    span: attr.span,
                });
                None
            }
        }
    }

    fn binary(
        &mut self,
        op: BinOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
    ) -> Option<(Expr, Type)> {
        if matches!(op, BinOp::And | BinOp::Or) {
            let l = self.bool_expr(left);
            let r = self.bool_expr(right);
            return Some((Expr::Bin(op, Box::new(l?), Box::new(r?)), Type::Bool));
        }
        // Read literals by what they meet: resolve the non-literal side first.
        let (l, r) = if self.is_literalish(left) && !self.is_literalish(right) {
            let r = self.expr(right, None);
            let hint = r.as_ref().map(|(_, t)| operand_hint(op, *t));
            let l = self.expr(left, hint);
            (l, r)
        } else {
            let l = self.expr(left, None);
            let hint = l.as_ref().map(|(_, t)| operand_hint(op, *t));
            let r = self.expr(right, hint);
            (l, r)
        };
        let ((l, lt), (r, rt)) = (l?, r?);
        let mismatch = |s: &mut Self, help: &str| {
            s.error(ResolveError::TypeMismatch {
                message: format!("cannot apply `{}` to {lt} and {rt}", op.symbol()),
                help: help.to_string(),
                span,
                left: lt.name().into(),
                right: rt.name().into(),
            });
            None
        };
        let num = |t: Type| t.is_numeric();
        let ty = match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ok = (num(lt) && num(rt))
                    || (lt == rt && lt != Type::Bool)
                    || (lt == Type::Bool
                        && rt == Type::Bool
                        && matches!(op, BinOp::Eq | BinOp::Ne))
                    || (lt == Type::Duration && num(rt))
                    || (num(lt) && rt == Type::Duration);
                if !ok {
                    return mismatch(self, "compare values of the same kind: numbers with numbers, times with times, strings with strings");
                }
                if let Some(reason) = never_holds(op, &l, &r) {
                    self.error(ResolveError::NeverHolds { reason, span });
                }
                Type::Bool
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => match (op, lt, rt) {
                (_, a, b) if num(a) && num(b) => {
                    if op == BinOp::Div || a == Type::Decimal || b == Type::Decimal {
                        Type::Decimal
                    } else {
                        Type::Int
                    }
                }
                (BinOp::Sub, Type::Time, Type::Time) => Type::Duration,
                (BinOp::Add, Type::Time, Type::Duration)
                | (BinOp::Add, Type::Duration, Type::Time)
                | (BinOp::Sub, Type::Time, Type::Duration) => Type::Time,
                (BinOp::Add | BinOp::Sub, Type::Duration, Type::Duration) => Type::Duration,
                (BinOp::Div, Type::Duration, Type::Duration) => Type::Decimal,
                (_, Type::Duration, b) if num(b) => Type::Decimal,
                (_, a, Type::Duration) if num(a) => Type::Decimal,
                _ => return mismatch(
                    self,
                    "arithmetic works on numbers, durations and times (time - time is a duration)",
                ),
            },
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        };
        Some((Expr::Bin(op, Box::new(l), Box::new(r)), ty))
    }

    /// A literal read as `expected` (by meaning), or by its own kind when nothing is expected.
    fn literal(&mut self, lit: &ast::Literal, expected: Option<Type>) -> Option<(Value, Type)> {
        let bad = |s: &mut Self, expected: &str, help: &str| {
            s.error(ResolveError::BadLiteral {
                text: lit.text.clone(),
                expected: expected.to_string(),
                help: help.to_string(),
                span: lit.span,
            });
            None
        };
        let numeric = matches!(
            expected,
            Some(Type::Int | Type::Decimal | Type::Protocol | Type::Duration)
        );
        if lit.kind != LiteralKind::String || numeric {
            if let Some((problem, help)) = number_too_large(lit) {
                self.error(ResolveError::NumberTooLarge {
                    text: lit.text.clone(),
                    problem,
                    help,
                    span: lit.span,
                });
                return None;
            }
        }
        let Some(expected) = expected else {
            return match natural_value(lit) {
                Some(v) => {
                    let t = match (&v, lit.kind) {
                        (Value::Num(_), LiteralKind::Decimal) => Type::Decimal,
                        (Value::Num(_), _) => Type::Int,
                        (Value::Str(_), _) => Type::Str,
                        (Value::Dur(_), _) => Type::Duration,
                        (Value::Time(_), _) => Type::Time,
                        (Value::Addr(_), _) => Type::Addr,
                        _ => Type::Str,
                    };
                    Some((v, t))
                }
                None => bad(
                    self,
                    literal_kind_name(lit.kind),
                    "check the literal's form",
                ),
            };
        };
        let text = lit.text.as_str();
        match expected {
            Type::Protocol => match lit.kind {
                LiteralKind::Integer | LiteralKind::String => match protocol_number(text) {
                    Some(n) => Some((Value::Num(Num::int(n.into())), Type::Protocol)),
                    // A number past 255 means something (no protocol has it): the comparison
                    // is then reported as one that can never hold, not as a bad literal.
                    None => match whole_number(text) {
                        Some(n) => Some((Value::Num(n), Type::Protocol)),
                        None => bad(self, "protocol", "write a number 0-255 or a name such as \"tcp\", \"udp\", \"icmp\""),
                    },
                },
                _ => bad(self, "protocol", "write a number 0-255 or a name such as \"tcp\", \"udp\", \"icmp\""),
            },
            Type::Int | Type::Decimal => match lit.kind {
                LiteralKind::Integer | LiteralKind::Decimal => match Num::parse_decimal(text) {
                    Some(n) => Some((Value::Num(n), if lit.kind == LiteralKind::Decimal { Type::Decimal } else { Type::Int })),
                    None => bad(self, "number", "the number is too large"),
                },
                LiteralKind::ByteSize => match parse_bytesize(text) {
                    Some(n) => Some((Value::Num(Num::int(n)), Type::Int)),
                    None => bad(self, "byte size", "write a whole number of bytes, e.g. `1MB` (1,000,000) or `1MiB` (1,048,576)"),
                },
                LiteralKind::String => match Num::parse_decimal(text.trim()) {
                    Some(n) => Some((Value::Num(n), Type::Int)),
                    None => bad(self, "number", "compare with a number, e.g. `destPort = 21`"),
                },
                _ => bad(self, "number", "compare with a number"),
            },
            Type::Duration => match lit.kind {
                LiteralKind::Integer | LiteralKind::Decimal => match Num::parse_decimal(text).and_then(|n| seconds_to_micros(&n)) {
                    Some(us) => Some((Value::Dur(us), Type::Duration)),
                    None => bad(self, "duration in seconds", "durations are exact to the microsecond"),
                },
                LiteralKind::Duration | LiteralKind::String => match parse_duration(text) {
                    Some(us) => Some((Value::Dur(us), Type::Duration)),
                    None => bad(self, "duration", "write `90s`, `500ms`, `24h` or `7d`"),
                },
                _ => bad(self, "duration", "write `90s`, `500ms`, `24h` or `7d`"),
            },
            Type::Time => match lit.kind {
                LiteralKind::Timestamp | LiteralKind::String => match parse_timestamp(text) {
                    Some(t) => Some((Value::Time(t), Type::Time)),
                    None => bad(self, "timestamp", "write RFC 3339, e.g. `2024-05-01T10:00:00Z`"),
                },
                _ => bad(self, "timestamp", "write RFC 3339, e.g. `2024-05-01T10:00:00Z`"),
            },
            Type::Addr => match lit.kind {
                LiteralKind::Address | LiteralKind::String => match Addr::parse(text) {
                    Some(a) => Some((Value::Addr(a), Type::Addr)),
                    None => bad(self, "IP address", "write `192.0.2.1` or `2001:db8::1`; for a network use `in 10.0.0.0/8`"),
                },
                _ => bad(self, "IP address", "write `192.0.2.1` or `2001:db8::1`; for a network use `in 10.0.0.0/8`"),
            },
            Type::Str => match lit.kind {
                LiteralKind::String => Some((Value::Str(lit.text.clone()), Type::Str)),
                _ => bad(self, "string", "quote text: `service = \"ftp\"`"),
            },
            Type::Bool => bad(self, "condition", "write a comparison"),
        }
    }

    fn check_connected(
        &mut self,
        edges: &[hir::Edge],
        chains: &[hir::Chain],
        absent: &[hir::Absent],
        allow_cross: bool,
    ) {
        let outer: Vec<InstanceId> = self
            .instances
            .iter()
            .filter(|i| i.absent_group.is_none() && !chains.iter().any(|c| c.step == i.id))
            .map(|i| i.id)
            .collect();
        if outer.is_empty() {
            return;
        }
        // Union-find over instances joined by edges and chains.
        let mut parent: Vec<usize> = (0..self.instances.len()).collect();
        fn find(p: &mut [usize], x: usize) -> usize {
            let mut r = x;
            while p[r] != r {
                r = p[r];
            }
            p[x] = r;
            r
        }
        let union = |p: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (find(p, a), find(p, b));
            p[ra] = rb;
        };
        for e in edges {
            union(&mut parent, e.record.index(), e.address.index());
        }
        for c in chains {
            union(&mut parent, c.from.index(), c.to.index());
        }
        let _ = absent;
        let root = find(&mut parent, outer[0].index());
        let addresses_alone: Vec<InstanceId> = outer
            .iter()
            .copied()
            .filter(|i| {
                self.instances[i.index()].entity == Entity::Address
                    && !edges.iter().any(|e| e.address == *i)
                    && !chains.iter().any(|c| c.from == *i || c.to == *i)
            })
            .collect();
        for id in addresses_alone {
            let inst = &self.instances[id.index()];
            let (name, span) = (inst.name.clone(), inst.span);
            self.error(ResolveError::Invalid {
                message: format!("address `{name}` is connected to no connection or event"),
                help: format!(
                    "add `conn.source connects {name};` (or `.destination`) in `connections`"
                ),
                span,
            });
        }
        if allow_cross {
            return;
        }
        for id in &outer {
            if find(&mut parent, id.index()) != root
                && self.instances[id.index()].entity.is_record()
            {
                let inst = &self.instances[id.index()];
                self.error(ResolveError::CrossProduct {
                    name: inst.name.clone(),
                    span: inst.span,
                });
            }
        }
    }

    /// Warns about conjunctions of literal bounds on one attribute that no value satisfies.
    fn check_impossible(&mut self) {
        let mut warnings = Vec::new();
        for inst in &self.instances {
            let Some(p) = &inst.predicate else { continue };
            // (attr) -> (lower bound, strict), (upper bound, strict), equalities
            let mut bounds: BTreeMap<Attr, (Option<Bound>, Option<Bound>)> = BTreeMap::new();
            let mut eqs: BTreeMap<Attr, Vec<Value>> = BTreeMap::new();
            for c in p.clone().conjuncts() {
                let Expr::Bin(op, l, r) = &c else { continue };
                let (attr, lit, op) = match (&**l, &**r) {
                    (Expr::Attr(_, a), Expr::Lit(v)) => (*a, v.clone(), *op),
                    (Expr::Lit(v), Expr::Attr(_, a)) => (*a, v.clone(), flip(*op)),
                    _ => continue,
                };
                if op == BinOp::Eq {
                    eqs.entry(attr).or_default().push(lit.clone());
                }
                let n = match lit {
                    Value::Num(n) => n,
                    Value::Dur(d) | Value::Time(d) => Num::int(d.into()),
                    _ => continue,
                };
                let entry = bounds.entry(attr).or_default();
                match op {
                    BinOp::Gt | BinOp::Ge => {
                        let strict = op == BinOp::Gt;
                        if entry.0.as_ref().is_none_or(|(b, _)| n.cmp_exact(b).is_gt()) {
                            entry.0 = Some((n, strict));
                        }
                    }
                    BinOp::Lt | BinOp::Le => {
                        let strict = op == BinOp::Lt;
                        if entry.1.as_ref().is_none_or(|(b, _)| n.cmp_exact(b).is_lt()) {
                            entry.1 = Some((n, strict));
                        }
                    }
                    BinOp::Eq => {
                        let e = bounds.entry(attr).or_default();
                        if e.0.as_ref().is_none_or(|(b, _)| n.cmp_exact(b).is_gt()) {
                            e.0 = Some((n.clone(), false));
                        }
                        if e.1.as_ref().is_none_or(|(b, _)| n.cmp_exact(b).is_lt()) {
                            e.1 = Some((n, false));
                        }
                    }
                    _ => {}
                }
            }
            for (attr, (lo, hi)) in &bounds {
                if let (Some((lo, ls)), Some((hi, hs))) = (lo, hi) {
                    let ord = lo.cmp_exact(hi);
                    if ord.is_gt() || (ord.is_eq() && (*ls || *hs)) {
                        warnings.push((
                            format!(
                                "`{}.{attr}` cannot be above {lo} and below {hi} at once",
                                inst.name
                            ),
                            inst.span,
                        ));
                    }
                }
            }
            for (attr, vals) in &eqs {
                if vals.windows(2).any(|w| w[0] != w[1]) && !bounds.contains_key(attr) {
                    warnings.push((
                        format!("`{}.{attr}` cannot equal two different values", inst.name),
                        inst.span,
                    ));
                }
            }
        }
        for (reason, span) in warnings {
            self.error(ResolveError::Impossible { reason, span });
        }
    }

    fn extra_columns(
        &self,
        requires: &[Expr],
        group: &Option<hir::Group>,
        absent: &[hir::Absent],
        chains: &[hir::Chain],
    ) -> Vec<(Entity, String)> {
        let mut out = Vec::new();
        let mut visit = |e: &Expr| {
            e.visit(&mut |x| {
                if let Expr::Column(i, name) = x {
                    out.push((self.instances[i.index()].entity, name.clone()));
                }
            })
        };
        for i in &self.instances {
            if let Some(p) = &i.predicate {
                visit(p);
            }
        }
        requires.iter().for_each(&mut visit);
        for a in absent {
            a.requires.iter().for_each(&mut visit);
        }
        for c in chains {
            if let Some(p) = &c.predicate {
                visit(p);
            }
        }
        if let Some(g) = group {
            for a in &g.aggregates {
                if let Some(arg) = &a.arg {
                    visit(arg);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A literal bound on an attribute and whether it is strict.
type Bound = (Num, bool);

/// Why `l op r` can never hold for an attribute compared with a number outside what the
/// attribute can hold (`destPort > 70000`, `bytesSent < 0`, `protocol = 300`).
fn never_holds(op: BinOp, l: &Expr, r: &Expr) -> Option<String> {
    match (l, r) {
        (Expr::Attr(_, a), Expr::Lit(Value::Num(n))) => outside_range(*a, op, n),
        (Expr::Lit(Value::Num(n)), Expr::Attr(_, a)) => outside_range(*a, flip(op), n),
        _ => None,
    }
}

/// Why `attr op n` holds for no value in [`Attr::range`], if it holds for none.
fn outside_range(attr: Attr, op: BinOp, n: &Num) -> Option<String> {
    let (lo, hi) = attr.range()?;
    let (lo_n, hi_n) = (Num::int(lo), Num::int(hi));
    let above = |strict: bool| {
        let c = n.cmp_exact(&hi_n);
        c.is_gt() || (strict && c.is_eq())
    };
    let below = |strict: bool| {
        let c = n.cmp_exact(&lo_n);
        c.is_lt() || (strict && c.is_eq())
    };
    let at_most = || Some(format!("{attr} is at most {hi}"));
    let at_least = || Some(format!("{attr} is at least {lo}"));
    match op {
        BinOp::Gt if above(true) => at_most(),
        BinOp::Ge if above(false) => at_most(),
        BinOp::Lt if below(true) => at_least(),
        BinOp::Le if below(false) => at_least(),
        BinOp::Eq if above(false) => at_most(),
        BinOp::Eq if below(false) => at_least(),
        BinOp::Eq if n.as_int().is_none() => Some(format!("{attr} is a whole number")),
        _ => None,
    }
}

/// An integer written as digits (optionally `-`), at any size `Num` holds.
fn whole_number(text: &str) -> Option<Num> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Num::parse_decimal(t)
}

/// The largest number a literal may write (`Num` parses literals into `i128`).
const LARGEST_LITERAL: i128 = i128::MAX;

/// What is wrong (`large`, or `long` for too many digits after the point) and help text if a
/// number literal (`99…9`, `1.00…01`, `99…9s`, `99…9MB`, or a string of digits) does not fit
/// the compiler's exact numbers.
fn number_too_large(lit: &ast::Literal) -> Option<(&'static str, String)> {
    let text = lit.text.trim();
    let number = match lit.kind {
        LiteralKind::Integer | LiteralKind::Decimal => text,
        LiteralKind::Duration | LiteralKind::ByteSize => {
            &text[..text.find(|c: char| c.is_ascii_alphabetic())?]
        }
        LiteralKind::String => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
            let numeric = !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit());
            if !numeric {
                return None;
            }
            text
        }
        _ => return None,
    };
    if Num::parse_decimal(number).is_some() {
        return None;
    }
    let int_part = number.split_once('.').map_or(number, |(i, _)| i);
    Some(if Num::parse_decimal(int_part).is_some() {
        (
            "long",
            format!(
                "a number literal holds at most {} digits in all, before and after the point",
                LARGEST_LITERAL.to_string().len() - 1
            ),
        )
    } else {
        (
            "large",
            format!(
                "the largest number a pattern can write is {LARGEST_LITERAL} (counters hold at most {})",
                u64::MAX
            ),
        )
    })
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        o => o,
    }
}

/// The type a literal operand should be read as, given the other operand's type.
fn operand_hint(op: BinOp, other: Type) -> Type {
    match (op, other) {
        // `time - 1h`, `time + 90s`: the literal is a duration.
        (BinOp::Add | BinOp::Sub, Type::Time) => Type::Duration,
        // `10 * bytesReceived`: a plain number, whatever the attribute.
        (BinOp::Mul | BinOp::Div, Type::Protocol) => Type::Int,
        (BinOp::Mul | BinOp::Div, Type::Duration) => Type::Decimal,
        (_, t) => t,
    }
}

fn literal_kind_name(kind: LiteralKind) -> &'static str {
    match kind {
        LiteralKind::Integer => "integer",
        LiteralKind::Decimal => "decimal",
        LiteralKind::String => "string",
        LiteralKind::Duration => "duration",
        LiteralKind::ByteSize => "byte size",
        LiteralKind::Timestamp => "timestamp",
        LiteralKind::Address => "IP address",
        LiteralKind::Cidr => "network",
    }
}

/// A literal's value by its own kind.
pub fn natural_value(lit: &ast::Literal) -> Option<Value> {
    let text = lit.text.as_str();
    Some(match lit.kind {
        LiteralKind::Integer | LiteralKind::Decimal => Value::Num(Num::parse_decimal(text)?),
        LiteralKind::String => Value::Str(lit.text.clone()),
        LiteralKind::Duration => Value::Dur(parse_duration(text)?),
        LiteralKind::ByteSize => Value::Num(Num::int(parse_bytesize(text)?)),
        LiteralKind::Timestamp => Value::Time(parse_timestamp(text)?),
        LiteralKind::Address => Value::Addr(Addr::parse(text)?),
        LiteralKind::Cidr => Value::Str(Prefix::parse(text)?.to_string()),
    })
}

fn seconds_to_micros(n: &Num) -> Option<i64> {
    let us = n.mul(&Num::int(1_000_000));
    us.as_int().and_then(|v| i64::try_from(v).ok())
}

/// `90s`, `1.5h`, `500ms`, `7d` → microseconds (must be whole).
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    let scale: i128 = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        "w" => 604_800_000_000,
        _ => return None,
    };
    let n = Num::parse_decimal(num)?.mul(&Num::int(scale));
    n.as_int().and_then(|v| i64::try_from(v).ok())
}

/// `1MB` = 1,000,000; `1MiB` = 1,048,576; `1.5KB` = 1,500 (must be whole bytes).
pub fn parse_bytesize(text: &str) -> Option<i128> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = t.split_at(split);
    let scale: i128 = match unit {
        "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    Num::parse_decimal(num)?.mul(&Num::int(scale)).as_int()
}

/// RFC 3339 → microseconds UTC (sub-microsecond digits must be zero).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    if t.timestamp_subsec_nanos() % 1000 != 0 {
        return None;
    }
    Some(t.timestamp_micros())
}
