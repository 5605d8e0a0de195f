//! `why`: explains one result row — which records bound each instance and which clause each
//! satisfied — by evaluating the plan's own compiled conditions (`compiler::eval`) on the
//! row's records. No second interpreter: a clause shown as satisfied here is the clause the
//! dataflow checked.

use compiler::eval::{self, Val};
use compiler::hir::{Expr, ExprDisplay, InstanceId};
use compiler::model::Entity;
use compiler::plan::{JoinPlan, OutputItem};

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
    let _ = Entity::Address;
    out
}
