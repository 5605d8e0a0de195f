//! `why`: explains one result row — which records bound each instance and which clause each
//! satisfied — by evaluating the plan's own compiled conditions (`compiler::eval`) on the
//! row's records. No second interpreter: a clause shown as satisfied here is the clause the
//! dataflow checked.
//!
//! A grouped result holds only its group key, so the records behind it come from
//! [`members_plan`]: the same plan (same scans, filters, joins, anti-joins) without the
//! group-by, exporting every bound record; its rows with the result's key ([`group_members`])
//! are explained one by one with [`explain_member`].

use compiler::eval::{self, Val};
use compiler::hir::{Expr, ExprDisplay, InstanceId};
use compiler::model::Entity;
use compiler::plan::{JoinPlan, OutputItem, ScanId};

use crate::datum::Datum;
use crate::env::{RowEnv, RowLayout};
use crate::load::networks::Networks;
use crate::output::{datum_text, ResultRow};

/// One checked clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    /// The clause as `explain` prints it.
    pub text: String,
    /// Whether it holds for this row (`None`: it reads an instance this row does not carry).
    pub holds: Option<bool>,
    /// The attribute values it read, `name = value`.
    pub values: Vec<String>,
}

/// What bound one instance, and the clauses checked on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Instance name.
    pub instance: String,
    /// What it is bound to (`10.0.1.7`, `flows part-0001.parquet row 774`).
    pub bound_to: String,
    /// Clauses pushed down to its scan, or checked on a join it completes.
    pub clauses: Vec<Clause>,
}

fn values_read(e: &Expr, env: &RowEnv<'_>, names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    e.visit(&mut |x| {
        if let Expr::Attr(i, a) = x {
            let v = eval::eval(x, env);
            let text = match v {
                Val::Null => "absent".to_string(),
                v => datum_text(&Datum::from_val(&v)),
            };
            let line = format!("{}.{} = {text}", names[i.index()], a.name());
            if !out.contains(&line) {
                out.push(line);
            }
        }
    });
    out
}

/// Explains `row` of `plan`'s results. Records not exported are not in the row; clauses that
/// read them are shown as unknown.
pub fn explain_row(
    plan: &JoinPlan,
    row: &ResultRow,
    networks: &Networks,
    describe_record: &dyn Fn(&Datum) -> String,
) -> Vec<Binding> {
    let mut layout = RowLayout {
        records: vec![],
        addresses: vec![],
        addr_slots: vec![],
        flow_extra: vec![],
        event_extra: vec![],
    };
    let mut addr_values: Vec<(InstanceId, Datum)> = Vec::new();
    for (pos, (item, value)) in plan.output.iter().zip(&row.values).enumerate() {
        match item {
            OutputItem::Record(i) => layout.records.push((*i, pos)),
            OutputItem::Address(i) => addr_values.push((*i, value.clone())),
            OutputItem::Aggregate(_) => {}
        }
    }
    layout.addresses = plan
        .addresses
        .iter()
        .copied()
        .filter(|b| layout.records.iter().any(|(r, _)| *r == b.record))
        .collect();
    let env = RowEnv {
        layout: &layout,
        row: &row.values,
        networks,
        aggs: &[],
    };
    let show = |e: &Expr| {
        ExprDisplay {
            expr: e,
            names: &plan.names,
            aggs: &plan.agg_names,
        }
        .to_string()
    };
    let known = |e: &Expr| {
        e.instances().iter().all(|i| {
            layout.records.iter().any(|(r, _)| r == i)
                || layout.addresses.iter().any(|b| b.address == *i)
        })
    };
    let clause = |e: &Expr| Clause {
        text: show(e),
        holds: known(e).then(|| eval::test(e, &env)),
        values: if known(e) {
            values_read(e, &env, &plan.names)
        } else {
            vec![]
        },
    };

    let mut out = Vec::new();
    for (k, scan) in plan.scans.iter().enumerate() {
        let bound_to = match layout.record(&row.values, scan.instance) {
            Some(d) => describe_record(d),
            None if plan
                .antijoins
                .iter()
                .any(|a| a.scans.iter().any(|s| s.0 as usize == k)) =>
            {
                "nothing (an absent block: no witness may exist)".to_string()
            }
            // A grouped result holds its key only; the records behind it are explained one
            // joined row at a time (`explain_member`), clauses included.
            None if plan.group.is_some() => {
                out.push(Binding {
                    instance: plan.names[scan.instance.index()].clone(),
                    bound_to: "one record per joined row of the group (listed below)".to_string(),
                    clauses: vec![],
                });
                continue;
            }
            None => "not exported (not in the result row)".to_string(),
        };
        let mut clauses: Vec<Clause> = scan
            .filter
            .clone()
            .map(Expr::conjuncts)
            .unwrap_or_default()
            .iter()
            .map(clause)
            .collect();
        for j in plan.joins.iter().filter(|j| j.scan.0 as usize == k) {
            clauses.extend(j.residual.iter().map(clause));
        }
        out.push(Binding {
            instance: plan.names[scan.instance.index()].clone(),
            bound_to,
            clauses,
        });
    }
    for (i, value) in addr_values {
        let via = plan
            .addresses
            .iter()
            .find(|b| b.address == i)
            .map(|b| {
                format!(
                    " (the {} of {})",
                    b.role.name(),
                    plan.names[b.record.index()]
                )
            })
            .unwrap_or_default();
        let label = match &value {
            Datum::Addr(a) => format!(", disposition {}", networks.label_name(networks.label(*a))),
            _ => String::new(),
        };
        out.push(Binding {
            instance: plan.names[i.index()].clone(),
            bound_to: format!("{}{via}{label}", datum_text(&value)),
            clauses: vec![],
        });
    }
    if let Some(g) = &plan.group {
        let aggs: Vec<Datum> = plan
            .output
            .iter()
            .zip(&row.values)
            .filter(|(o, _)| matches!(o, OutputItem::Aggregate(_)))
            .map(|(_, v)| v.clone())
            .collect();
        let agg_env = RowEnv {
            layout: &layout,
            row: &row.values,
            networks,
            aggs: &aggs,
        };
        let mut clauses = Vec::new();
        if let Some(h) = &g.having {
            if aggs.len() == g.aggregates.len() {
                clauses.push(Clause {
                    text: show(h),
                    holds: Some(eval::test(h, &agg_env)),
                    values: g
                        .aggregates
                        .iter()
                        .zip(&aggs)
                        .map(|(a, v)| format!("{} = {}", a.name, datum_text(v)))
                        .collect(),
                });
            } else {
                clauses.push(Clause {
                    text: show(h),
                    holds: None,
                    values: vec![],
                });
            }
        }
        let by: Vec<&str> =
            g.by.iter()
                .map(|i| plan.names[i.index()].as_str())
                .collect();
        out.push(Binding {
            instance: format!("group by {}", by.join(", ")),
            bound_to: format!("{} matching row(s)", row.count),
            clauses,
        });
    }
    out
}

/// The scans whose records every joined row binds: the first one and each one joined in
/// (not anti-joins' or chains' scans).
fn bound_scans(plan: &JoinPlan) -> Vec<ScanId> {
    let mut scans = Vec::new();
    if plan.has_records() {
        scans.push(plan.first);
    }
    scans.extend(plan.joins.iter().map(|j| j.scan));
    scans
}

/// For a grouped plan, the plan whose results are the joined rows behind its groups: the same
/// scans, filters, joins, anti-joins and chains, without the group-by, exporting every bound
/// record and every grouped address. `None` for a plan without a group-by.
pub fn members_plan(plan: &JoinPlan) -> Option<JoinPlan> {
    let group = plan.group.as_ref()?;
    let mut members = plan.clone();
    members.group = None;
    members.output = bound_scans(plan)
        .into_iter()
        .map(|s| OutputItem::Record(plan.scans[s.0 as usize].instance))
        .collect();
    for &i in &group.by {
        let item = if plan.entities[i.index()] == Entity::Address {
            OutputItem::Address(i)
        } else {
            OutputItem::Record(i)
        };
        if !members.output.contains(&item) {
            members.output.push(item);
        }
    }
    Some(members)
}

/// The rows of `members` (results of [`members_plan`]`(plan)`) behind `row` of `plan`: those
/// whose grouped instances hold the values `row` exports. When `plan` exports every grouped
/// instance these are exactly the joined rows of the group, and their counts sum to
/// `row.count`.
pub fn group_members<'m>(
    plan: &JoinPlan,
    members_plan: &JoinPlan,
    row: &ResultRow,
    members: &'m [ResultRow],
) -> Vec<&'m ResultRow> {
    // (position in `row`, position in a member row) of every exported instance.
    let pairs: Vec<(usize, usize)> = plan
        .output
        .iter()
        .enumerate()
        .filter(|(_, item)| !matches!(item, OutputItem::Aggregate(_)))
        .filter_map(|(pos, item)| {
            members_plan
                .output
                .iter()
                .position(|m| m == item)
                .map(|mpos| (pos, mpos))
        })
        .collect();
    members
        .iter()
        .filter(|m| {
            pairs
                .iter()
                .all(|&(pos, mpos)| row.values.get(pos) == m.values.get(mpos))
        })
        .collect()
}

/// One joined row behind a grouped result: its records with the clauses each satisfied, and
/// the aggregate arguments it contributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The row's records and absent blocks, as [`explain_row`] explains an ungrouped result.
    pub bindings: Vec<Binding>,
    /// Per aggregate: `name ← argument = value` (`count` without an argument: `name ← 1 row`).
    pub aggregates: Vec<String>,
    /// How many times this row occurs (the same records joined more than once).
    pub count: i64,
}

/// Explains `member`, a row of [`members_plan`]`(plan)`, with the plan's own compiled clauses.
pub fn explain_member(
    plan: &JoinPlan,
    members_plan: &JoinPlan,
    member: &ResultRow,
    networks: &Networks,
    describe_record: &dyn Fn(&Datum) -> String,
) -> Member {
    let bindings: Vec<Binding> = explain_row(members_plan, member, networks, describe_record)
        .into_iter()
        .filter(|b| {
            // The grouped addresses are the result's key, printed once above.
            plan.names
                .iter()
                .position(|n| *n == b.instance)
                .is_none_or(|i| plan.entities[i].is_record())
        })
        .collect();
    let mut layout = RowLayout {
        records: vec![],
        addresses: vec![],
        addr_slots: vec![],
        flow_extra: vec![],
        event_extra: vec![],
    };
    for (pos, item) in members_plan.output.iter().enumerate() {
        if let OutputItem::Record(i) = item {
            layout.records.push((*i, pos));
        }
    }
    layout.addresses = plan.addresses.clone();
    let env = RowEnv {
        layout: &layout,
        row: &member.values,
        networks,
        aggs: &[],
    };
    let aggregates = plan
        .group
        .iter()
        .flat_map(|g| &g.aggregates)
        .map(|a| match &a.arg {
            Some(arg) => {
                let text = ExprDisplay {
                    expr: arg,
                    names: &plan.names,
                    aggs: &plan.agg_names,
                }
                .to_string();
                let value = match eval::eval(arg, &env) {
                    Val::Null => "absent".to_string(),
                    v => datum_text(&Datum::from_val(&v)),
                };
                format!("{} ← {text} = {value}", a.name)
            }
            None => format!("{} ← this row", a.name),
        })
        .collect();
    Member {
        bindings,
        aggregates,
        count: member.count,
    }
}

/// A record's key attributes as people read them: endpoints, protocol, start and byte counts
/// of a connection; endpoints, signature and time of an event.
pub fn record_summary(d: &Datum) -> String {
    match d {
        Datum::Conn(c) => {
            let end = |a: &crate::model::Addr, port: u16| {
                let a = a.to_string();
                if a.contains(':') {
                    format!("[{a}]:{port}")
                } else {
                    format!("{a}:{port}")
                }
            };
            format!(
                "{} → {} protocol {}, start {}, sent {} B, received {} B",
                end(&c.src, c.src_port),
                end(&c.dst, c.dst_port),
                c.protocol,
                datum_text(&Datum::Time(c.start)),
                c.bytes_sent,
                c.bytes_received
            )
        }
        Datum::Event(e) => format!(
            "{} → {} `{}`, at {}",
            e.src,
            e.dst,
            e.signature,
            datum_text(&Datum::Time(e.time))
        ),
        other => datum_text(other),
    }
}
