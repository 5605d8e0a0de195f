//! Rules: a resolved pattern as Datalog-style rules — the logical meaning, before any
//! physical decision.
//!
//! A pattern becomes one `match` rule whose body holds a relational atom per connection or
//! event instance (with its address edges as arguments), the instances' predicates as
//! filters, cross-instance conditions, and `not witness_k(…)` for each `absent` block.
//! A `group` adds an aggregate rule; a `chain` adds a recursive `path` relation (origin, end,
//! start time of the last step, hop count) and a `reach` rule over it, as the plan runs them.
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

/// The recursive rules of one `chain … from a to b hops min..max`:
///
/// ```text
/// path(a, b, hop.startTime, 1) :- NetworkConnection(hop, source: a, destination: b), <step filters>.
/// path(a, b, hop.startTime, n + 1) :- path(a, via, t, n),
///     NetworkConnection(hop, source: via, destination: b), <step filters>, hop.startTime > t, n < max.
/// reach(a, b) :- path(a, b, _, n), n >= min.
/// ```
///
/// Each step starts where the previous one ended and strictly after it started. Without an
/// upper bound the hop count is capped at `min` (`min(n + 1, min)`), which keeps the relation
/// finite and means "at least `min` hops"; with `min` 1 it is left out.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainRules {
    /// The recursive relation (`path_1`).
    pub path: String,
    /// The relation of (origin, end) pairs the pattern joins (`reach_1`).
    pub reach: String,
    /// Origin address variable.
    pub from: InstanceId,
    /// End address variable.
    pub to: InstanceId,
    /// The step (connection) variable.
    pub step: InstanceId,
    /// Conditions on every step.
    pub filters: Vec<Expr>,
    /// Minimum hops.
    pub min_hops: u32,
    /// Maximum hops (`None`: unbounded).
    pub max_hops: Option<u32>,
}

/// All rules of one pattern: chains' recursive rules first, then the others, `match` last.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The pattern's name.
    pub pattern: String,
    /// Instance names, for display.
    pub names: Vec<String>,
    /// Aggregate names, for display.
    pub agg_names: Vec<String>,
    /// The recursive rules of each chain.
    pub chains: Vec<ChainRules>,
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

    let mut chains = Vec::new();
    for (k, c) in p.chains.iter().enumerate() {
        let reach = format!("reach_{}", k + 1);
        chains.push(ChainRules {
            path: format!("path_{}", k + 1),
            reach: reach.clone(),
            from: c.from,
            to: c.to,
            step: c.step,
            filters: c.predicate.clone().map(Expr::conjuncts).unwrap_or_default(),
            min_hops: c.min_hops,
            max_hops: c.max_hops,
        });
        body.push(Atom::Derived {
            name: reach,
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
        chains,
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
        for c in &self.chains {
            self.fmt_chain(f, c)?;
        }
        for r in &self.rules {
            let mut head: Vec<String> = r.head_vars.iter().map(|v| n(v).to_string()).collect();
            for a in &r.aggregate {
                let func = a.func.keyword();
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
            write_body(f, &lines)?;
        }
        Ok(())
    }
}

/// Writes a rule's body lines, comma-separated, ending with a full stop.
fn write_body(f: &mut fmt::Formatter<'_>, lines: &[String]) -> fmt::Result {
    let last = lines.len().saturating_sub(1);
    for (k, l) in lines.iter().enumerate() {
        writeln!(f, "    {l}{}", if k == last { "." } else { "," })?;
    }
    Ok(())
}

impl Program {
    /// A variable name for rule text that no instance or aggregate of the pattern uses.
    fn fresh(&self, base: &str) -> String {
        let taken = |v: &str| self.names.iter().chain(&self.agg_names).any(|n| n == v);
        (1..)
            .map(|k| {
                if k == 1 {
                    base.to_string()
                } else {
                    format!("{base}{k}")
                }
            })
            .find(|v| !taken(v))
            .expect("an unused name")
    }

    fn fmt_chain(&self, f: &mut fmt::Formatter<'_>, c: &ChainRules) -> fmt::Result {
        let n = |v: InstanceId| self.names[v.index()].as_str();
        let (from, to, step) = (n(c.from), n(c.to), n(c.step));
        let (via, t, hops) = (self.fresh("via"), self.fresh("t"), self.fresh("n"));
        let time = format!("{step}.startTime");
        let show = |e: &Expr| {
            hir::ExprDisplay {
                expr: e,
                names: &self.names,
                aggs: &self.agg_names,
            }
            .to_string()
        };
        let filters: Vec<String> = c.filters.iter().map(show).collect();
        // The hop count: none when any number of hops from one on will do; capped at `min`
        // when unbounded (the relation stays finite); else counted up to `max`.
        let (base_count, next_count) = match c.max_hops {
            Some(_) => (Some("1".to_string()), Some(format!("{hops} + 1"))),
            None if c.min_hops <= 1 => (None, None),
            None => (
                Some("1".to_string()),
                Some(format!("min({hops} + 1, {})", c.min_hops)),
            ),
        };
        let with = |args: &[&str], count: &Option<String>| {
            let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            v.extend(count.iter().cloned());
            v.join(", ")
        };
        let counted = base_count.is_some();
        let hop_var = counted.then(|| hops.clone());

        writeln!(
            f,
            "{}({}) :-",
            c.path,
            with(&[from, to, &time], &base_count)
        )?;
        let mut lines = vec![format!(
            "NetworkConnection({step}, source: {from}, destination: {to})"
        )];
        lines.extend(filters.iter().cloned());
        write_body(f, &lines)?;

        writeln!(
            f,
            "{}({}) :-",
            c.path,
            with(&[from, to, &time], &next_count)
        )?;
        let mut lines = vec![
            format!("{}({})", c.path, with(&[from, &via, &t], &hop_var)),
            format!("NetworkConnection({step}, source: {via}, destination: {to})"),
        ];
        lines.extend(filters.iter().cloned());
        lines.push(format!("{time} > {t}"));
        if let Some(max) = c.max_hops {
            lines.push(format!("{hops} < {max}"));
        }
        write_body(f, &lines)?;

        writeln!(f, "{}({from}, {to}) :-", c.reach)?;
        let at_least = (counted && c.min_hops > 1).then(|| format!("{hops} >= {}", c.min_hops));
        let hop_arg = match (&at_least, counted) {
            (Some(_), _) => hop_var,
            (None, true) => Some("_".to_string()),
            (None, false) => None,
        };
        let mut lines = vec![format!("{}({})", c.path, with(&[from, to, "_"], &hop_arg))];
        lines.extend(at_least);
        write_body(f, &lines)
    }
}
