//! Plan: rules → [`JoinPlan`], every physical decision made here so that the engine's
//! renderer is a mechanical walk.
//!
//! Decisions: which conjuncts are pushed into which scan (an address instance's predicate is
//! pushed into the scan of every record connected to it — in a batch run the address is a
//! filter, not a join); the join order (declaration order, each next record chosen among
//! those sharing an address with what is already joined); the join keys (the shared address
//! instances); where each cross-instance condition (a temporal `order`) is checked — in the
//! first join at which all its instances are bound; the anti-joins for `absent` blocks; and
//! the group-by. The plan's `Display` is the `explain` text: same pattern, same text.
//!
//! Row layout: a dataflow row holds one slot per bound record instance (the whole record);
//! addresses are read off the records through the plan's edges, so they never travel twice.

use std::fmt;

use crate::ast::AggFunc;
use crate::hir::{self, Expr, ExprDisplay, InstanceId};
use crate::model::{Entity, Role};
use crate::rules::Program;

/// Index of a scan in [`JoinPlan::scans`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ScanId(pub u32);

/// How an address instance is read from a bound record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AddrBinding {
    /// The address instance.
    pub address: InstanceId,
    /// The record it is read from.
    pub record: InstanceId,
    /// Which end of that record.
    pub role: Role,
}

/// Reads one kind of record from the archive, filtered before anything enters the dataflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    /// The record instance this scan binds.
    pub instance: InstanceId,
    /// Connections or events.
    pub entity: Entity,
    /// The pushed-down filter: the record's predicate, its addresses' predicates read through
    /// its edges, single-record conditions, and `source = destination` when one address
    /// instance is both ends. Evaluated on decoded batches, per row.
    pub filter: Option<Expr>,
    /// Address instances readable from this record (for evaluating `filter`).
    pub addresses: Vec<AddrBinding>,
    /// Whether the two ends must be the same address.
    pub same_ends: bool,
}

/// Joins the rows built so far with one more scan, on shared addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinStep {
    /// The scan joined in.
    pub scan: ScanId,
    /// Key read from the left row: addresses (through bindings of already-bound records).
    pub left_key: Vec<AddrBinding>,
    /// Key read from the scan's record, aligned with `left_key`.
    pub right_key: Vec<AddrBinding>,
    /// Conditions checked on each joined pair (temporal order, cross-record `require`).
    pub residual: Vec<Expr>,
}

/// Removes rows for which an `absent` sub-pattern has a witness.
#[derive(Clone, Debug, PartialEq)]
pub struct AntiJoin {
    /// Scans of the block's records (usually one).
    pub scans: Vec<ScanId>,
    /// Keys read from the outer row, aligned with `inner_key`.
    pub outer_key: Vec<AddrBinding>,
    /// Keys read from the block's (first) record.
    pub inner_key: Vec<AddrBinding>,
    /// Conditions on outer row × witness.
    pub residual: Vec<Expr>,
}

/// One aggregate of a group-by.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregatePlan {
    /// Name (exported as a column).
    pub name: String,
    /// Function.
    pub func: AggFunc,
    /// Argument, evaluated on each joined row.
    pub arg: Option<Expr>,
}

/// The group-by: group keys are instance identities, the result's `matches` is the number of
/// joined rows behind each group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPlan {
    /// Instances grouped by, in key order.
    pub by: Vec<InstanceId>,
    /// Aggregates.
    pub aggregates: Vec<AggregatePlan>,
    /// Threshold over the aggregates (reads `Expr::Agg`).
    pub having: Option<Expr>,
}

/// A bounded or unbounded connection chain, run as an iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainPlan {
    /// The scan of chain steps.
    pub scan: ScanId,
    /// Start / end address instances.
    pub from: InstanceId,
    /// End address instance.
    pub to: InstanceId,
    /// Hop bounds.
    pub min_hops: u32,
    /// Upper bound (`None`: until no new hop is found).
    pub max_hops: Option<u32>,
    /// Predicates of the end addresses that no record binds, checked on the chain's rows.
    pub endpoint_filter: Option<Expr>,
}

/// One exported column group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputItem {
    /// An address instance.
    Address(InstanceId),
    /// A connection or event instance (identity and attributes).
    Record(InstanceId),
    /// The `k`-th aggregate.
    Aggregate(usize),
}

/// The physical plan of one pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinPlan {
    /// Pattern name.
    pub pattern: String,
    /// Instance names (for display and output headers).
    pub names: Vec<String>,
    /// Instance entities by id.
    pub entities: Vec<Entity>,
    /// Aggregate names.
    pub agg_names: Vec<String>,
    /// All scans (outer records first, in join order; then absent blocks' and chains').
    pub scans: Vec<Scan>,
    /// The first scan; joins follow.
    pub first: ScanId,
    /// Join steps in order.
    pub joins: Vec<JoinStep>,
    /// Addresses of the outer pattern and where each is read from once all records are bound.
    pub addresses: Vec<AddrBinding>,
    /// Anti-joins, after the joins.
    pub antijoins: Vec<AntiJoin>,
    /// Chains, joined after the records.
    pub chains: Vec<ChainPlan>,
    /// The group-by, if any.
    pub group: Option<GroupPlan>,
    /// What is exported, in order.
    pub output: Vec<OutputItem>,
    /// Extra archive columns read, per entity.
    pub extra_columns: Vec<(Entity, String)>,
}

/// A plan invariant did not hold (a bug in planning, not a user error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A head variable is unbound.
    #[error("rule `{rule}` does not bind `{var}`")]
    Unsafe {
        /// The rule.
        rule: String,
        /// The variable.
        var: String,
    },
    /// Chains are not yet supported alongside other records.
    #[error("pattern `{pattern}`: {what} is not supported yet")]
    Unsupported {
        /// The pattern.
        pattern: String,
        /// What.
        what: String,
    },
}

fn bindings_of(edges: &[hir::Edge], record: InstanceId) -> Vec<AddrBinding> {
    let mut out: Vec<AddrBinding> = edges
        .iter()
        .filter(|e| e.record == record)
        .map(|e| AddrBinding {
            address: e.address,
            record,
            role: e.role,
        })
        .collect();
    out.sort_by_key(|b| (b.address, b.role));
    out
}

/// Instances an expression needs, with address instances replaced by records that bind them.
fn needs(
    e: &Expr,
    bound_addr: &dyn Fn(InstanceId) -> bool,
    bound_rec: &dyn Fn(InstanceId) -> bool,
) -> bool {
    e.instances()
        .into_iter()
        .all(|i| bound_rec(i) || bound_addr(i))
}

/// Plans one resolved pattern.
pub fn plan(p: &hir::Pattern, program: &Program) -> Result<JoinPlan, PlanError> {
    if let Some((rule, var)) = program.unsafe_vars().into_iter().next() {
        return Err(PlanError::Unsafe { rule, var });
    }
    let entities: Vec<Entity> = p.instances.iter().map(|i| i.entity).collect();
    let outer: Vec<&hir::Instance> = p.outer_instances().collect();
    let records: Vec<InstanceId> = outer
        .iter()
        .filter(|i| i.entity.is_record())
        .map(|i| i.id)
        .collect();
    if records.is_empty() && p.chains.is_empty() {
        return Err(PlanError::Unsupported {
            pattern: p.name.clone(),
            what: "a pattern without connections or events".into(),
        });
    }

    // Join order: declaration order, each next record sharing an address with those joined
    // (cross products last, which `resolve` allows only when asked).
    let shares = |a: InstanceId, b: InstanceId| {
        p.edges.iter().any(|x| {
            x.record == a
                && p.edges
                    .iter()
                    .any(|y| y.record == b && y.address == x.address)
        })
    };
    let mut order: Vec<InstanceId> = records.first().copied().into_iter().collect();
    while order.len() < records.len() {
        let next = records
            .iter()
            .copied()
            .filter(|r| !order.contains(r))
            .find(|r| order.iter().any(|o| shares(*o, *r)))
            .or_else(|| records.iter().copied().find(|r| !order.contains(r)))
            .expect("a record is left");
        order.push(next);
    }

    // Conjuncts of cross-instance conditions, placed as early as possible.
    let mut pending: Vec<Expr> = p
        .requires
        .iter()
        .cloned()
        .flat_map(Expr::conjuncts)
        .collect();
    let addr_bound = |bound: &[InstanceId], a: InstanceId| {
        p.edges
            .iter()
            .any(|e| e.address == a && bound.contains(&e.record))
    };

    let mut scans = Vec::new();
    let make_scan =
        |p: &hir::Pattern, record: InstanceId, edges: &[hir::Edge], extra: Vec<Expr>| -> Scan {
            let addresses = bindings_of(edges, record);
            let mut filter = p.instances[record.index()].predicate.clone();
            let mut seen = Vec::new();
            for b in &addresses {
                if !seen.contains(&b.address) {
                    seen.push(b.address);
                    filter = Expr::and(filter, p.instances[b.address.index()].predicate.clone());
                }
            }
            for e in extra {
                filter = Expr::and(filter, Some(e));
            }
            let same_ends = addresses.len() == 2 && addresses[0].address == addresses[1].address;
            Scan {
                instance: record,
                entity: p.instances[record.index()].entity,
                filter,
                addresses,
                same_ends,
            }
        };

    let mut pending_for_chains: Vec<Expr> = Vec::new();
    let mut joins = Vec::new();
    let mut bound: Vec<InstanceId> = Vec::new();
    for (k, r) in order.iter().enumerate() {
        // Conditions that read only this record (and its addresses) go into its scan.
        let own: Vec<Expr> = {
            let mut own = Vec::new();
            let mut rest = Vec::new();
            for e in pending.drain(..) {
                let only_r = needs(
                    &e,
                    &|a| p.edges.iter().any(|x| x.address == a && x.record == *r),
                    &|i| i == *r,
                );
                if only_r {
                    own.push(e);
                } else {
                    rest.push(e);
                }
            }
            pending = rest;
            own
        };
        let scan_id = ScanId(scans.len() as u32);
        scans.push(make_scan(p, *r, &p.edges, own));
        if k == 0 {
            bound.push(*r);
            continue;
        }
        let right = bindings_of(&p.edges, *r);
        let mut left_key = Vec::new();
        let mut right_key = Vec::new();
        for rb in &right {
            if left_key
                .iter()
                .any(|l: &AddrBinding| l.address == rb.address)
            {
                continue;
            }
            if let Some(e) = p
                .edges
                .iter()
                .find(|e| e.address == rb.address && bound.contains(&e.record))
            {
                left_key.push(AddrBinding {
                    address: rb.address,
                    record: e.record,
                    role: e.role,
                });
                right_key.push(*rb);
            }
        }
        bound.push(*r);
        let (ready, rest): (Vec<Expr>, Vec<Expr>) = pending
            .drain(..)
            .partition(|e| needs(e, &|a| addr_bound(&bound, a), &|i| bound.contains(&i)));
        pending = rest;
        joins.push(JoinStep {
            scan: scan_id,
            left_key,
            right_key,
            residual: ready,
        });
    }
    // Anything left reads only addresses already bound by the first record, or a chain's ends.
    if records.is_empty() {
        pending_for_chains = std::mem::take(&mut pending);
    }
    if !pending.is_empty() {
        if let Some(first) = scans.first_mut() {
            for e in pending.drain(..) {
                first.filter = Expr::and(first.filter.take(), Some(e));
            }
        }
    }

    let mut addresses: Vec<AddrBinding> = Vec::new();
    for i in &outer {
        if i.entity == Entity::Address {
            if let Some(e) = p
                .edges
                .iter()
                .filter(|e| e.address == i.id)
                .min_by_key(|e| order.iter().position(|r| *r == e.record))
            {
                addresses.push(AddrBinding {
                    address: i.id,
                    record: e.record,
                    role: e.role,
                });
            }
        }
    }

    let mut antijoins = Vec::new();
    for a in &p.absent {
        let inner_records: Vec<InstanceId> = a
            .instances
            .iter()
            .copied()
            .filter(|i| p.instances[i.index()].entity.is_record())
            .collect();
        let Some(&first_inner) = inner_records.first() else {
            return Err(PlanError::Unsupported {
                pattern: p.name.clone(),
                what: "an `absent` block without a connection or event".into(),
            });
        };
        if inner_records.len() > 1 {
            return Err(PlanError::Unsupported {
                pattern: p.name.clone(),
                what: "an `absent` block with more than one connection or event".into(),
            });
        }
        let scan_id = ScanId(scans.len() as u32);
        scans.push(make_scan(p, first_inner, &a.edges, vec![]));
        let inner = bindings_of(&a.edges, first_inner);
        let mut outer_key = Vec::new();
        let mut inner_key = Vec::new();
        for ib in inner {
            if p.instances[ib.address.index()].absent_group.is_some() {
                continue;
            }
            if let Some(ob) = addresses.iter().find(|b| b.address == ib.address) {
                outer_key.push(*ob);
                inner_key.push(ib);
            }
        }
        antijoins.push(AntiJoin {
            scans: vec![scan_id],
            outer_key,
            inner_key,
            residual: a
                .requires
                .iter()
                .cloned()
                .flat_map(Expr::conjuncts)
                .collect(),
        });
    }

    let mut chains = Vec::new();
    for c in &p.chains {
        let scan_id = ScanId(scans.len() as u32);
        scans.push(Scan {
            instance: c.step,
            entity: Entity::Connection,
            filter: c.predicate.clone(),
            addresses: vec![],
            same_ends: false,
        });
        let mut endpoint_filter = None;
        for end in [c.from, c.to] {
            if !addresses.iter().any(|b| b.address == end) {
                endpoint_filter =
                    Expr::and(endpoint_filter, p.instances[end.index()].predicate.clone());
            }
        }
        for e in pending_for_chains.drain(..) {
            endpoint_filter = Expr::and(endpoint_filter, Some(e));
        }
        chains.push(ChainPlan {
            scan: scan_id,
            from: c.from,
            to: c.to,
            min_hops: c.min_hops,
            max_hops: c.max_hops,
            endpoint_filter,
        });
    }

    let group = p.group.as_ref().map(|g| GroupPlan {
        by: g.by.clone(),
        aggregates: g
            .aggregates
            .iter()
            .map(|a| AggregatePlan {
                name: a.name.clone(),
                func: a.func,
                arg: a.arg.clone(),
            })
            .collect(),
        having: g.having.clone(),
    });
    let output = p
        .export
        .iter()
        .map(|e| match e {
            hir::ExportItem::Aggregate(k) => OutputItem::Aggregate(*k),
            hir::ExportItem::Instance(i) if entities[i.index()] == Entity::Address => {
                OutputItem::Address(*i)
            }
            hir::ExportItem::Instance(i) => OutputItem::Record(*i),
        })
        .collect();
    Ok(JoinPlan {
        pattern: p.name.clone(),
        names: p.names(),
        entities,
        agg_names: p.agg_names(),
        scans,
        first: ScanId(0),
        joins,
        addresses,
        antijoins,
        chains,
        group,
        output,
        extra_columns: p.extra_columns.clone(),
    })
}

impl JoinPlan {
    /// Whether the pattern binds any record outside chains (else it starts from the chains).
    pub fn has_records(&self) -> bool {
        let chain_scans: Vec<ScanId> = self.chains.iter().map(|c| c.scan).collect();
        !self.scans.is_empty()
            && !chain_scans.contains(&self.first)
            && self.scans[self.first.0 as usize].entity.is_record()
            && !self.antijoins.iter().any(|a| a.scans.contains(&self.first))
    }

    /// The scan with this id.
    pub fn scan(&self, id: ScanId) -> &Scan {
        &self.scans[id.0 as usize]
    }

    fn show<'a>(&'a self, e: &'a Expr) -> ExprDisplay<'a> {
        ExprDisplay {
            expr: e,
            names: &self.names,
            aggs: &self.agg_names,
        }
    }

    fn binding(&self, b: &AddrBinding) -> String {
        format!(
            "{} = {}.{}",
            self.names[b.address.index()],
            self.names[b.record.index()],
            b.role.name()
        )
    }

    /// Output column headers, as `run --format csv` prints them (without record attributes).
    pub fn output_names(&self) -> Vec<String> {
        self.output
            .iter()
            .map(|o| match o {
                OutputItem::Address(i) | OutputItem::Record(i) => self.names[i.index()].clone(),
                OutputItem::Aggregate(k) => self.agg_names[*k].clone(),
            })
            .collect()
    }

    /// Whether every output row is unique before counting (an exported record makes it so),
    /// in which case no consolidation work is needed beyond the final sort.
    pub fn rows_unique(&self) -> bool {
        self.group.is_none()
            && self.joins.is_empty()
            && self
                .output
                .iter()
                .any(|o| matches!(o, OutputItem::Record(_)))
    }
}

impl fmt::Display for JoinPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan for `{}`:", self.pattern)?;
        let mut step = 1;
        let scan_line = |f: &mut fmt::Formatter<'_>, s: &Scan, step: usize| -> fmt::Result {
            let src = if s.entity == Entity::Connection {
                "flows"
            } else {
                "events"
            };
            writeln!(
                f,
                "  {step}. scan {src} as `{}`",
                self.names[s.instance.index()]
            )?;
            for b in &s.addresses {
                writeln!(f, "       bind {}", self.binding(b))?;
            }
            if s.same_ends {
                writeln!(f, "       filter source = destination")?;
            }
            match &s.filter {
                Some(e) => {
                    writeln!(
                        f,
                        "       push down (evaluated on Arrow batches before the dataflow):"
                    )?;
                    for c in e.clone().conjuncts() {
                        writeln!(f, "         {}", self.show(&c))?;
                    }
                }
                None => writeln!(f, "       no filter")?,
            }
            Ok(())
        };
        if self.has_records() {
            scan_line(f, self.scan(self.first), step)?;
            step += 1;
        }
        for j in &self.joins {
            scan_line(f, self.scan(j.scan), step)?;
            step += 1;
            let keys: Vec<String> = j
                .left_key
                .iter()
                .zip(&j.right_key)
                .map(|(l, r)| {
                    format!(
                        "{}.{} = {}.{}",
                        self.names[l.record.index()],
                        l.role.name(),
                        self.names[r.record.index()],
                        r.role.name()
                    )
                })
                .collect();
            if keys.is_empty() {
                writeln!(
                    f,
                    "  {step}. cross join with `{}` (explicitly allowed)",
                    self.names[j.scan_instance(self).index()]
                )?;
            } else {
                writeln!(
                    f,
                    "  {step}. join with `{}`, both sides arranged by key [{}]",
                    self.names[j.scan_instance(self).index()],
                    keys.join(", ")
                )?;
            }
            for r in &j.residual {
                writeln!(f, "       on each joined pair: {}", self.show(r))?;
            }
            step += 1;
        }
        for a in &self.antijoins {
            for s in &a.scans {
                scan_line(f, self.scan(*s), step)?;
                step += 1;
            }
            let keys: Vec<String> = a
                .outer_key
                .iter()
                .zip(&a.inner_key)
                .map(|(o, i)| {
                    format!(
                        "{} = {}.{}",
                        self.names[o.address.index()],
                        self.names[i.record.index()],
                        i.role.name()
                    )
                })
                .collect();
            writeln!(
                f,
                "  {step}. anti-join: drop rows with a witness on [{}]",
                keys.join(", ")
            )?;
            for r in &a.residual {
                writeln!(f, "       witness condition: {}", self.show(r))?;
            }
            step += 1;
        }
        for c in &self.chains {
            scan_line(f, self.scan(c.scan), step)?;
            step += 1;
            let hops = match c.max_hops {
                Some(m) => format!("{}..{m}", c.min_hops),
                None => format!("{}.. (until no new hop)", c.min_hops),
            };
            writeln!(
                f,
                "  {step}. iterate: chains of `{}` steps from `{from}` to `{to}`, hops {hops}, each step starting after the previous one; keeps distinct (`{from}`, `{to}`) pairs",
                self.names[self.scan(c.scan).instance.index()],
                from = self.names[c.from.index()],
                to = self.names[c.to.index()]
            )?;
            if let Some(e) = &c.endpoint_filter {
                writeln!(f, "       on each chain: {}", self.show(e))?;
            }
            step += 1;
        }
        if let Some(g) = &self.group {
            let by: Vec<&str> =
                g.by.iter()
                    .map(|i| self.names[i.index()].as_str())
                    .collect();
            writeln!(
                f,
                "  {step}. group by [{}] (reduce, arranged by group key)",
                by.join(", ")
            )?;
            for a in &g.aggregates {
                let func = a.func.keyword();
                let arg = a
                    .arg
                    .as_ref()
                    .map(|e| format!(" {}", self.show(e)))
                    .unwrap_or_default();
                writeln!(f, "       {} = {func}{arg}", a.name)?;
            }
            if let Some(h) = &g.having {
                writeln!(f, "       having {}", self.show(h))?;
            }
            writeln!(f, "       matches = number of joined rows in the group")?;
            step += 1;
        }
        let out: Vec<String> = self.output_names();
        let how = if self.rows_unique() {
            "each row is unique (an exported record): no distinct needed"
        } else {
            "distinct tuples, matches = multiplicity"
        };
        writeln!(f, "  {step}. export [{}]; {how}", out.join(", "))?;
        if !self.extra_columns.is_empty() {
            let cols: Vec<String> = self
                .extra_columns
                .iter()
                .map(|(e, c)| format!("{e}.{c}"))
                .collect();
            writeln!(f, "  extra columns read: {}", cols.join(", "))?;
        }
        Ok(())
    }
}

impl JoinStep {
    fn scan_instance(&self, plan: &JoinPlan) -> InstanceId {
        plan.scan(self.scan).instance
    }
}
