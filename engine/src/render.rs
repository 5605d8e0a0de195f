//! Render: a [`JoinPlan`] → a differential dataflow, mechanically.
//!
//! This is the only module that names timely or differential-dataflow types. Every decision
//! (keys, join order, where a condition is checked) was made by `compiler::plan`; this module
//! walks the plan. Records enter as [`Datum`]s through one input per scan; joins arrange both
//! sides by the shared addresses and check each joined pair's conditions in `join_core`;
//! `absent` blocks become anti-joins against the distinct set of rows that have a witness;
//! a group-by is a `reduce` whose output multiplicity is the number of rows behind the group.
//! Output updates are captured per worker and consolidated by the caller.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use compiler::ast::AggFunc;
use compiler::eval::{self, Val};
use compiler::model::{Entity, Role};
use compiler::plan::{AddrBinding, JoinPlan, OutputItem};
use differential_dataflow::input::{Input, InputSession};
use differential_dataflow::VecCollection;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::Probe;
use timely::worker::Worker;

use crate::datum::{Datum, GroupKey, Key, Row, Vals};
use crate::env::{RowEnv, RowLayout};
use crate::load::networks::Networks;
use crate::model::Addr;

/// Logical time of the dataflow: the epoch (0 for a batch run).
pub type Epoch = u64;

/// One captured output update: plan index, row, epoch, change in multiplicity.
pub type Update = (usize, Row, Epoch, isize);

/// Inputs of one plan, one per scan (in `JoinPlan::scans` order).
pub struct PlanInputs {
    /// One input per scan.
    pub scans: Vec<InputSession<Epoch, Datum, isize>>,
}

/// Rows (net updates) out of one operator, counted on this worker (for `explain --analyze`).
pub type OperatorCounts = Vec<(String, Arc<AtomicI64>)>;

/// Handles of a rendered dataflow.
pub struct Rendered {
    /// Inputs per plan.
    pub plans: Vec<PlanInputs>,
    /// Per plan, rows out of each operator, in plan order.
    pub counts: Vec<OperatorCounts>,
    /// Passes an epoch once every output has been brought up to date for it.
    pub probe: ProbeHandle<Epoch>,
}

fn read_addr(row: &[Datum], layout: &RowLayout, b: &AddrBinding) -> Addr {
    let pos = layout
        .records
        .iter()
        .find(|(i, _)| *i == b.record)
        .map(|(_, p)| *p)
        .expect("plan: binding reads a bound record");
    rec_addr(&row[pos], b.role)
}

fn rec_addr(d: &Datum, role: Role) -> Addr {
    match (d, role) {
        (Datum::Conn(c), Role::Source) => c.src,
        (Datum::Conn(c), Role::Destination) => c.dst,
        (Datum::Event(e), Role::Source) => e.src,
        (Datum::Event(e), Role::Destination) => e.dst,
        _ => unreachable!("plan: addresses are read from records"),
    }
}

/// Builds the dataflow for `plans` in `worker` and returns its inputs and probe; output updates
/// are appended to `sink`.
pub fn render(
    worker: &mut Worker,
    plans: &[Arc<JoinPlan>],
    networks: Arc<Networks>,
    flow_extra: Arc<Vec<String>>,
    event_extra: Arc<Vec<String>>,
    sink: Arc<Mutex<Vec<Update>>>,
) -> Rendered {
    worker.dataflow::<Epoch, _, _>(|scope| {
        let probe = ProbeHandle::new();
        let mut inputs = Vec::new();
        let mut all_counts = Vec::new();
        for (plan_index, plan) in plans.iter().enumerate() {
            let mut counts: OperatorCounts = Vec::new();
            let mut sessions = Vec::new();
            let mut colls = Vec::new();
            for _ in &plan.scans {
                let (input, coll) = scope.new_collection::<Datum, isize>();
                sessions.push(input);
                colls.push(Some(coll));
            }
            let mut layout = RowLayout {
                records: vec![],
                addresses: vec![],
                addr_slots: vec![],
                flow_extra: (*flow_extra).clone(),
                event_extra: (*event_extra).clone(),
            };
            let first = plan.first.0 as usize;
            let mut rows: Option<VecCollection<'_, Epoch, Row, isize>> = None;
            if plan.has_records() {
                layout.records.push((plan.scans[first].instance, 0));
                // Addresses become readable as soon as a record binding them is in the row, so
                // join conditions may read them (`require a.disposition = b.disposition`).
                layout
                    .addresses
                    .extend(plan.scans[first].addresses.iter().copied());
                let scanned = colls[first]
                    .take()
                    .expect("plan: first scan used once")
                    .map(|d| vec![d]);
                rows = Some(counted(
                    scanned,
                    format!(
                        "scan `{}` (after push-down)",
                        plan.names[plan.scans[first].instance.index()]
                    ),
                    &mut counts,
                ));
            }

            for step in &plan.joins {
                let idx = step.scan.0 as usize;
                let scan_coll = colls[idx].take().expect("plan: each scan joined once");
                let left_layout = layout.clone();
                let left_key = step.left_key.clone();
                let keyed_left = rows
                    .take()
                    .expect("plan: joins follow the first record")
                    .map(move |row| {
                        (
                            Key::of(left_key.iter().map(|b| read_addr(&row, &left_layout, b))),
                            row,
                        )
                    });
                let right_key = step.right_key.clone();
                let scan_coll = counted(
                    scan_coll,
                    format!(
                        "scan `{}` (after push-down)",
                        plan.names[plan.scans[idx].instance.index()]
                    ),
                    &mut counts,
                );
                let keyed_right = scan_coll
                    .map(move |d| (Key::of(right_key.iter().map(|b| rec_addr(&d, b.role))), d))
                    .arrange_by_key();
                layout
                    .records
                    .push((plan.scans[idx].instance, layout.records.len()));
                layout
                    .addresses
                    .extend(plan.scans[idx].addresses.iter().copied());
                let residual = step.residual.clone();
                let pair_layout = layout.clone();
                let nets = networks.clone();
                let joined =
                    keyed_left.join_core(keyed_right, move |_key, row: &Row, rec: &Datum| {
                        let mut joined = row.clone();
                        joined.push(rec.clone());
                        let env = RowEnv {
                            layout: &pair_layout,
                            row: &joined,
                            networks: &nets,
                            aggs: &[],
                        };
                        let ok = residual.iter().all(|c| eval::test(c, &env));
                        ok.then_some(joined)
                    });
                rows = Some(counted(
                    joined,
                    format!(
                        "join with `{}` (after conditions)",
                        plan.names[plan.scans[idx].instance.index()]
                    ),
                    &mut counts,
                ));
            }
            layout.addresses = plan.addresses.clone();

            for chain in &plan.chains {
                let steps = colls[chain.scan.0 as usize]
                    .take()
                    .expect("plan: each scan used once");
                let reach = chain_reach(steps, chain.min_hops, chain.max_hops);
                let bound = |i| {
                    layout.addresses.iter().any(|b| b.address == i)
                        || layout.addr_slots.iter().any(|(a, _)| *a == i)
                };
                let (from_bound, to_bound) = (bound(chain.from), bound(chain.to));
                let width = layout.records.len() + layout.addr_slots.len();
                let joined = match rows.take() {
                    None => {
                        layout.addr_slots.push((chain.from, 0));
                        layout.addr_slots.push((chain.to, 1));
                        reach.map(|(a, b)| vec![Datum::Addr(a), Datum::Addr(b)])
                    }
                    Some(current) => {
                        let key_layout = layout.clone();
                        let (from, to) = (chain.from, chain.to);
                        let keyed = current.map(move |row| {
                            let mut key = Vec::new();
                            if from_bound {
                                key.push(
                                    key_layout
                                        .address(&row, from)
                                        .expect("plan: bound chain end"),
                                );
                            }
                            if to_bound {
                                key.push(
                                    key_layout.address(&row, to).expect("plan: bound chain end"),
                                );
                            }
                            (Key::of(key.into_iter()), row)
                        });
                        let reach_keyed = reach
                            .map(move |(a, b)| {
                                let mut key = Vec::new();
                                if from_bound {
                                    key.push(a);
                                }
                                if to_bound {
                                    key.push(b);
                                }
                                (Key::of(key.into_iter()), (a, b))
                            })
                            .arrange_by_key();
                        let mut slot = width;
                        if !from_bound {
                            layout.addr_slots.push((chain.from, slot));
                            slot += 1;
                        }
                        if !to_bound {
                            layout.addr_slots.push((chain.to, slot));
                        }
                        keyed.join_core(
                            reach_keyed,
                            move |_k, row: &Row, &(a, b): &(Addr, Addr)| {
                                let mut out = row.clone();
                                if !from_bound {
                                    out.push(Datum::Addr(a));
                                }
                                if !to_bound {
                                    out.push(Datum::Addr(b));
                                }
                                Some(out)
                            },
                        )
                    }
                };
                rows = Some(match &chain.endpoint_filter {
                    None => joined,
                    Some(f) => {
                        let (f, filter_layout, nets) =
                            (f.clone(), layout.clone(), networks.clone());
                        joined.filter(move |row| {
                            eval::test(
                                &f,
                                &RowEnv {
                                    layout: &filter_layout,
                                    row,
                                    networks: &nets,
                                    aggs: &[],
                                },
                            )
                        })
                    }
                });
            }
            let mut rows = rows.expect("plan: a pattern binds a record or a chain");
            if !plan.chains.is_empty() {
                rows = counted(rows, "chains (after end conditions)".into(), &mut counts);
            }

            for anti in &plan.antijoins {
                let idx = anti.scans[0].0 as usize;
                let inner = colls[idx].take().expect("plan: each scan used once");
                let outer_layout = layout.clone();
                let outer_key = anti.outer_key.clone();
                let keyed_outer = rows.clone().map(move |row| {
                    (
                        Key::of(outer_key.iter().map(|b| read_addr(&row, &outer_layout, b))),
                        row,
                    )
                });
                let inner_key = anti.inner_key.clone();
                let keyed_inner = inner
                    .map(move |d| (Key::of(inner_key.iter().map(|b| rec_addr(&d, b.role))), d))
                    .arrange_by_key();
                let mut pair_layout = layout.clone();
                pair_layout
                    .records
                    .push((plan.scans[idx].instance, layout.records.len()));
                for b in &anti.inner_key {
                    pair_layout.addresses.push(*b);
                }
                let residual = anti.residual.clone();
                let nets = networks.clone();
                let witnessed = keyed_outer
                    .join_core(keyed_inner, move |_key, row: &Row, rec: &Datum| {
                        let mut joined = row.clone();
                        joined.push(rec.clone());
                        let env = RowEnv {
                            layout: &pair_layout,
                            row: &joined,
                            networks: &nets,
                            aggs: &[],
                        };
                        residual
                            .iter()
                            .all(|c| eval::test(c, &env))
                            .then(|| row.clone())
                    })
                    .distinct();
                rows = counted(
                    rows.map(|r| (r, ())).antijoin(witnessed).map(|(r, ())| r),
                    "anti-join (rows without a witness)".into(),
                    &mut counts,
                );
            }

            let output: VecCollection<'_, Epoch, Row, isize> = match &plan.group {
                None => {
                    let out_layout = layout.clone();
                    let items = plan.output.clone();
                    rows.map(move |row| project(&items, &out_layout, &row, None))
                }
                Some(group) => {
                    let key_layout = layout.clone();
                    let by = group.by.clone();
                    let entities = plan.entities.clone();
                    let args: Vec<Option<compiler::hir::Expr>> =
                        group.aggregates.iter().map(|a| a.arg.clone()).collect();
                    let nets = networks.clone();
                    let by_addresses = by.iter().all(|i| entities[i.index()] == Entity::Address);
                    let keyed = rows.map(move |row| {
                        let address = |i: &compiler::hir::InstanceId| {
                            key_layout
                                .address(&row, *i)
                                .expect("plan: grouped address is bound")
                        };
                        let key = if by_addresses {
                            GroupKey::Addrs(Key::of(by.iter().map(address)))
                        } else {
                            GroupKey::Row(
                                by.iter()
                                    .map(|i| match entities[i.index()] {
                                        Entity::Address => Datum::Addr(address(i)),
                                        _ => key_layout
                                            .record(&row, *i)
                                            .cloned()
                                            .expect("plan: grouped record is bound"),
                                    })
                                    .collect(),
                            )
                        };
                        let env = RowEnv {
                            layout: &key_layout,
                            row: &row,
                            networks: &nets,
                            aggs: &[],
                        };
                        let val = |a: &Option<compiler::hir::Expr>| {
                            a.as_ref()
                                .map(|e| Datum::from_val(&eval::eval(e, &env)))
                                .unwrap_or(Datum::Null)
                        };
                        let vals = if args.len() == 1 {
                            Vals::One(val(&args[0]))
                        } else {
                            Vals::Many(args.iter().map(val).collect())
                        };
                        (key, vals)
                    });
                    let keyed = counted(keyed, "group by (rows in)".into(), &mut counts);
                    let funcs: Vec<AggFunc> = group.aggregates.iter().map(|a| a.func).collect();
                    let having = group.having.clone();
                    let having_layout = RowLayout {
                        records: vec![],
                        addresses: vec![],
                        addr_slots: vec![],
                        flow_extra: vec![],
                        event_extra: vec![],
                    };
                    let nets = networks.clone();
                    let reduced = keyed.reduce(
                        move |_key,
                              input: &[(&Vals, isize)],
                              out: &mut Vec<((Row, i64), isize)>| {
                            let aggs = aggregate(&funcs, input);
                            let matches: i64 = input.iter().map(|(_, d)| *d as i64).sum();
                            let env = RowEnv {
                                layout: &having_layout,
                                row: &[],
                                networks: &nets,
                                aggs: &aggs,
                            };
                            if matches > 0 && having.as_ref().is_none_or(|h| eval::test(h, &env)) {
                                out.push(((aggs, matches), 1));
                            }
                        },
                    );
                    let reduced = counted(reduced, "groups out (after having)".into(), &mut counts);
                    let items = plan.output.clone();
                    let group_by = group.by.clone();
                    reduced.explode(move |(key, (aggs, matches))| {
                        let row = project_group(&items, &group_by, &key, &aggs);
                        Some((row, matches as isize))
                    })
                }
            };
            let output = counted(output, "results (net rows × matches)".into(), &mut counts);
            let sink = sink.clone();
            // The rows move into the sink (an inspection would clone every result row). The
            // probe watches this operator's (empty) output, whose frontier passes a time only
            // once the operator has taken every row of that time.
            output
                .inner
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Pipeline,
                    "Results",
                    move |_, _| {
                        move |input, _output| {
                            input.for_each(|_time, data| {
                                let mut s = sink.lock().expect("output sink lock");
                                s.extend(data.drain(..).map(|(row, t, d)| (plan_index, row, t, d)));
                            });
                        }
                    },
                )
                .probe_with(&probe);
            inputs.push(PlanInputs { scans: sessions });
            all_counts.push(counts);
        }
        Rendered {
            plans: inputs,
            counts: all_counts,
            probe,
        }
    })
}

/// Counts net rows out of an operator (once per batch of updates) for `explain --analyze`.
fn counted<'s, D: differential_dataflow::Data>(
    coll: VecCollection<'s, Epoch, D, isize>,
    label: String,
    counts: &mut OperatorCounts,
) -> VecCollection<'s, Epoch, D, isize> {
    let counter = Arc::new(AtomicI64::new(0));
    counts.push((label, counter.clone()));
    coll.inspect_batch(move |_t, updates| {
        counter.fetch_add(updates.iter().map(|u| u.2 as i64).sum(), Ordering::Relaxed);
    })
}

/// All (origin, end) address pairs joined by a chain of `steps` (connections), each step
/// starting after the previous one, with `min..=max` hops. Iterates to a fixed point; hop counts
/// above `min` are folded into `min` when unbounded, so the state stays finite.
fn chain_reach<'s>(
    steps: VecCollection<'s, Epoch, Datum, isize>,
    min: u32,
    max: Option<u32>,
) -> VecCollection<'s, Epoch, (Addr, Addr), isize> {
    use differential_dataflow::operators::Iterate;
    let edges = steps.flat_map(|d| match d {
        Datum::Conn(c) => Some((c.src, (c.dst, c.start))),
        _ => None,
    });
    let next = move |h: u32| match max {
        Some(_) => h + 1,
        None => (h + 1).min(min),
    };
    let seed = edges.clone().map(move |(s, (d, t))| (s, d, t, next(0)));
    let paths = seed.clone().iterate(|scope, inner| {
        let edges = edges.enter(scope).arrange_by_key();
        let seed = seed.enter(scope);
        inner
            .map(|(o, e, t, h)| (e, (o, t, h)))
            .join_core(
                edges,
                move |_e, &(o, t, h): &(Addr, i64, u32), &(d, t2): &(Addr, i64)| {
                    (t2 > t && max.is_none_or(|m| h < m)).then(|| (o, d, t2, next(h)))
                },
            )
            .concat(seed)
            .distinct()
    });
    paths
        .filter(move |(_, _, _, h)| *h >= min && max.is_none_or(|m| *h <= m))
        .map(|(o, d, _, _)| (o, d))
        .distinct()
}

/// Output row of an ungrouped plan: addresses as [`Datum::Addr`], records as themselves.
fn project(items: &[OutputItem], layout: &RowLayout, row: &[Datum], _aggs: Option<&Row>) -> Row {
    items
        .iter()
        .map(|item| match item {
            OutputItem::Address(i) => Datum::Addr(
                layout
                    .address(row, *i)
                    .expect("plan: exported address is bound"),
            ),
            OutputItem::Record(i) => layout
                .record(row, *i)
                .cloned()
                .expect("plan: exported record is bound"),
            OutputItem::Aggregate(_) => Datum::Null,
        })
        .collect()
}

/// Output row of a grouped plan, from the group key and the aggregates.
fn project_group(
    items: &[OutputItem],
    by: &[compiler::hir::InstanceId],
    key: &GroupKey,
    aggs: &Row,
) -> Row {
    items
        .iter()
        .map(|item| match item {
            OutputItem::Address(i) | OutputItem::Record(i) => {
                let pos = by
                    .iter()
                    .position(|b| b == i)
                    .expect("resolve: exported instances are grouped");
                key.get(pos)
            }
            OutputItem::Aggregate(k) => aggs[*k].clone(),
        })
        .collect()
}

/// Computes the aggregates of one group from its (argument values, multiplicity) pairs.
fn aggregate(funcs: &[AggFunc], input: &[(&Vals, isize)]) -> Row {
    funcs
        .iter()
        .enumerate()
        .map(|(k, func)| match func {
            AggFunc::Count => Datum::Int(input.iter().map(|(_, d)| *d as i128).sum()),
            AggFunc::CountDistinct => {
                // Distinct non-null values present. `input` is sorted by the whole argument
                // tuple, which orders the values of the first aggregate only.
                let mut present: Vec<&Datum> = input
                    .iter()
                    .filter(|(_, d)| *d > 0)
                    .map(|(vals, _)| vals.get(k))
                    .filter(|v| !matches!(v, Datum::Null))
                    .collect();
                if k > 0 {
                    present.sort();
                }
                present.dedup();
                Datum::Int(present.len() as i128)
            }
            AggFunc::Sum => {
                let mut acc: Option<Val<'_>> = None;
                for (vals, d) in input {
                    let v = vals.get(k).to_val();
                    let times = Val::int(*d as i128);
                    let term = match (&v, &times) {
                        (Val::Num(a), Val::Num(b)) => Val::Num(a.mul(b)),
                        (Val::Dur(a), _) => Val::Dur(a.saturating_mul(*d as i64)),
                        _ => continue,
                    };
                    acc = Some(match (acc, term) {
                        (None, t) => t,
                        (Some(Val::Num(a)), Val::Num(b)) => Val::Num(a.add(&b)),
                        (Some(Val::Dur(a)), Val::Dur(b)) => Val::Dur(a.saturating_add(b)),
                        (Some(a), _) => a,
                    });
                }
                acc.map(|v| Datum::from_val(&v)).unwrap_or(Datum::Int(0))
            }
            AggFunc::Min | AggFunc::Max => {
                let mut best: Option<Val<'_>> = None;
                for (vals, d) in input {
                    if *d <= 0 {
                        continue;
                    }
                    let v = vals.get(k).to_val();
                    if matches!(v, Val::Null) {
                        continue;
                    }
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let ord = eval::compare(&v, &b);
                            let better = match func {
                                AggFunc::Min => ord == Some(std::cmp::Ordering::Less),
                                _ => ord == Some(std::cmp::Ordering::Greater),
                            };
                            if better {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                best.map(|v| Datum::from_val(&v)).unwrap_or(Datum::Null)
            }
        })
        .collect()
}
