//! Rules: a resolved pattern as Datalog-style rules — the logical meaning, before any
//! physical decision.
//!
//! A pattern becomes one `match` rule whose body holds a relational atom per connection or
//! event instance (with its address edges as arguments), the instances' predicates as
//! filters, cross-instance conditions, and `not witness_k(…)` for each `absent` block.
//! A `group` adds an aggregate rule; a `chain` adds a recursive `reach` rule.
//! Safety is checked here: every head variable is bound by a positive atom.

use std::fmt;

use crate::hir::{self, Expr, InstanceId};
use crate::model::{Entity, Role};

/// A relational atom.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    /// `NetworkConnection(conn, source: a, destination: b)` / `Event(e, …)`.
    Record {
        /// The record's entity.
        entity: Entity,
        /// The record variable.
        var: InstanceId,
        /// Address variable bound to its source, if any.
        source: Option<InstanceId>,
        /// Address variable bound to its destination, if any.
        destination: Option<InstanceId>,
    },
    /// A derived relation (`witness_1(conn, srcadr)`, `reach(a, b)`).
    Derived {
        /// Relation name.
        name: String,
        /// Arguments.
        vars: Vec<InstanceId>,
    },
}

/// One rule `head :- body, filters, not negated`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Head relation name.
    pub head: String,
    /// Head variables.
    pub head_vars: Vec<InstanceId>,
    /// Aggregates computed in the head (`ports = count distinct conn.destPort`), by name.
    pub aggregate: Vec<hir::Aggregate>,
    /// Positive atoms.
    pub body: Vec<Atom>,
    /// Conditions over bound variables.
    pub filters: Vec<Expr>,
    /// Negated atoms (absent blocks).
    pub negated: Vec<Atom>,
}

/// All rules of one pattern, `match` last.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The pattern's name.
    pub pattern: String,
    /// Instance names, for display.
    pub names: Vec<String>,
    /// Aggregate names, for display.
    pub agg_names: Vec<String>,
    /// The rules.
    pub rules: Vec<Rule>,
}

fn record_atom(p: &hir::Pattern, edges: &[hir::Edge], var: InstanceId) -> Atom {
    let role = |r: Role| {
        edges
            .iter()
            .find(|e| e.record == var && e.role == r)
            .map(|e| e.address)
    };
    Atom::Record {
        entity: p.instances[var.index()].entity,
        var,
        source: role(Role::Source),
        destination: role(Role::Destination),
    }
}

/// Lowers a resolved pattern to rules.
pub fn lower(p: &hir::Pattern) -> Program {
    let mut rules = Vec::new();
    let outer: Vec<&hir::Instance> = p.outer_instances().collect();
    let records: Vec<InstanceId> = outer
        .iter()
        .filter(|i| i.entity.is_record())
        .map(|i| i.id)
        .collect();
    let mut filters: Vec<Expr> = outer
        .iter()
        .filter_map(|i| i.predicate.clone())
        .flat_map(Expr::conjuncts)
        .collect();
    filters.extend(p.requires.iter().cloned().flat_map(Expr::conjuncts));
    let mut body: Vec<Atom> = records
        .iter()
        .map(|r| record_atom(p, &p.edges, *r))
        .collect();

    for (k, c) in p.chains.iter().enumerate() {
        let name = format!("reach_{}", k + 1);
        let step = c.step;
        let atom = Atom::Record {
            entity: Entity::Connection,
            var: step,
            source: Some(c.from),
            destination: Some(c.to),
        };
        let pred: Vec<Expr> = c.predicate.clone().map(Expr::conjuncts).unwrap_or_default();
        rules.push(Rule {
            head: name.clone(),
            head_vars: vec![c.from, c.to],
            aggregate: vec![],
            body: vec![atom.clone()],
            filters: pred.clone(),
            negated: vec![],
        });
        rules.push(Rule {
            head: name.clone(),
            head_vars: vec![c.from, c.to],
            aggregate: vec![],
            body: vec![
                Atom::Derived {
                    name: name.clone(),
                    vars: vec![c.from, step],
                },
                atom,
            ],
            filters: pred,
            negated: vec![],
        });
        body.push(Atom::Derived {
            name,
            vars: vec![c.from, c.to],
        });
    }

    let mut negated = Vec::new();
    for (k, a) in p.absent.iter().enumerate() {
        let name = format!("witness_{}", k + 1);
        // The witness is keyed by the outer variables it reads: addresses it connects to and
        // instances its conditions mention.
        let mut vars: Vec<InstanceId> = a
            .edges
            .iter()
            .map(|e| e.address)
            .filter(|v| p.instances[v.index()].absent_group.is_none())
            .collect();
        for r in &a.requires {
            vars.extend(
                r.instances()
                    .into_iter()
                    .filter(|v| p.instances[v.index()].absent_group.is_none()),
            );
        }
        vars.sort();
        vars.dedup();
        let inner_records: Vec<InstanceId> = a
            .instances
            .iter()
            .copied()
            .filter(|i| p.instances[i.index()].entity.is_record())
            .collect();
        let mut wbody: Vec<Atom> = inner_records
            .iter()
            .map(|r| record_atom(p, &a.edges, *r))
            .collect();
        for v in &vars {
            if p.instances[v.index()].entity.is_record() {
                wbody.push(record_atom(p, &p.edges, *v));
            }
        }
        let mut wfilters: Vec<Expr> = a
            .instances
            .iter()
            .filter_map(|i| p.instances[i.index()].predicate.clone())
            .flat_map(Expr::conjuncts)
            .collect();
        wfilters.extend(a.requires.iter().cloned().flat_map(Expr::conjuncts));
        rules.push(Rule {
            head: name.clone(),
            head_vars: vars.clone(),
            aggregate: vec![],
            body: wbody,
            filters: wfilters,
            negated: vec![],
        });
        negated.push(Atom::Derived { name, vars });
    }

    let export_vars: Vec<InstanceId> = p
        .export
        .iter()
        .filter_map(|e| {
            if let hir::ExportItem::Instance(i) = e {
                Some(*i)
            } else {
                None
            }
        })
        .collect();
    match &p.group {
        Some(g) => {
            let mut vars: Vec<InstanceId> = outer.iter().map(|i| i.id).collect();
            vars.sort();
            rules.push(Rule {
                head: "binding".into(),
                head_vars: vars.clone(),
                aggregate: vec![],
                body,
                filters,
                negated,
            });
            rules.push(Rule {
                head: "group".into(),
                head_vars: g.by.clone(),
                aggregate: g.aggregates.clone(),
                body: vec![Atom::Derived {
                    name: "binding".into(),
                    vars,
                }],
                filters: vec![],
                negated: vec![],
            });
            let mut having: Vec<Expr> = g.having.clone().map(Expr::conjuncts).unwrap_or_default();
            having.retain(|_| true);
            rules.push(Rule {
                head: "match".into(),
                head_vars: export_vars,
                aggregate: vec![],
                body: vec![Atom::Derived {
                    name: "group".into(),
                    vars: g.by.clone(),
                }],
                filters: having,
                negated: vec![],
            });
        }
        None => rules.push(Rule {
            head: "match".into(),
            head_vars: export_vars,
            aggregate: vec![],
            body,
            filters,
            negated,
        }),
    }
    Program {
        pattern: p.name.clone(),
        names: p.names(),
        agg_names: p.agg_names(),
        rules,
    }
}

impl Program {
    /// Variables used in a rule's head but bound by none of its positive atoms (should be
    /// empty; `resolve` guarantees it, this is the invariant's check).
    pub fn unsafe_vars(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for r in &self.rules {
            let mut bound = Vec::new();
            for a in &r.body {
                match a {
                    Atom::Record {
                        var,
                        source,
                        destination,
                        ..
                    } => {
                        bound.push(*var);
                        bound.extend(source.iter().chain(destination.iter()).copied());
                    }
                    Atom::Derived { vars, .. } => bound.extend(vars.iter().copied()),
                }
            }
            for v in &r.head_vars {
                if !bound.contains(v) {
                    out.push((r.head.clone(), self.names[v.index()].clone()));
                }
            }
        }
        out
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: &InstanceId| self.names[v.index()].as_str();
        for r in &self.rules {
            let mut head: Vec<String> = r.head_vars.iter().map(|v| n(v).to_string()).collect();
            for a in &r.aggregate {
                let func = match a.func {
                    crate::ast::AggFunc::Count => "count",
                    crate::ast::AggFunc::CountDistinct => "count distinct",
                    crate::ast::AggFunc::Sum => "sum",
                    crate::ast::AggFunc::Min => "min",
                    crate::ast::AggFunc::Max => "max",
                };
                let arg = a
                    .arg
                    .as_ref()
                    .map(|e| {
                        format!(
                            " {}",
                            hir::ExprDisplay {
                                expr: e,
                                names: &self.names,
                                aggs: &self.agg_names
                            }
                        )
                    })
                    .unwrap_or_default();
                head.push(format!("{} = {func}{arg}", a.name));
            }
            writeln!(f, "{}({}) :-", r.head, head.join(", "))?;
            let mut lines: Vec<String> = Vec::new();
            for a in &r.body {
                lines.push(match a {
                    Atom::Record {
                        entity,
                        var,
                        source,
                        destination,
                    } => {
                        let mut args = vec![n(var).to_string()];
                        if let Some(s) = source {
                            args.push(format!("source: {}", n(s)));
                        }
                        if let Some(d) = destination {
                            args.push(format!("destination: {}", n(d)));
                        }
                        format!("{entity}({})", args.join(", "))
                    }
                    Atom::Derived { name, vars } => format!(
                        "{name}({})",
                        vars.iter().map(n).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            for e in &r.filters {
                lines.push(
                    hir::ExprDisplay {
                        expr: e,
                        names: &self.names,
                        aggs: &self.agg_names,
                    }
                    .to_string(),
                );
            }
            for a in &r.negated {
                if let Atom::Derived { name, vars } = a {
                    lines.push(format!(
                        "not {name}({})",
                        vars.iter().map(n).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            let last = lines.len().saturating_sub(1);
            for (k, l) in lines.iter().enumerate() {
                writeln!(f, "    {l}{}", if k == last { "." } else { "," })?;
            }
        }
        Ok(())
    }
}
