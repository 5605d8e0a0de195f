//! The column kernels against `compiler::eval`, on random expressions and random batches.

use compiler::ast::BinOp;
use compiler::eval;
use compiler::hir::{Expr, InstanceId, Value};
use compiler::model::{Attr, Role};
use compiler::num::Num;
use compiler::plan::AddrBinding;
use compiler::value::{Addr, Prefix};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::Filter;
use crate::env::FlowRowEnv;
use crate::load::batch::FlowBatch;
use crate::load::networks::Networks;
use crate::model::FileId;

const CONN: InstanceId = InstanceId(0);
const SRC: InstanceId = InstanceId(1);
const DST: InstanceId = InstanceId(2);

fn bindings() -> Vec<AddrBinding> {
    vec![
        AddrBinding {
            address: SRC,
            record: CONN,
            role: Role::Source,
        },
        AddrBinding {
            address: DST,
            record: CONN,
            role: Role::Destination,
        },
    ]
}

fn networks() -> Networks {
    Networks::parse(
        "10.0.0.0/8,internal\n10.1.0.0/16,lab\n192.168.0.0/16,internal\ndefault,external\n",
        "test",
    )
    .expect("networks")
}

fn pick<T: Copy>(rng: &mut SmallRng, xs: &[T]) -> T {
    xs[rng.gen_range(0..xs.len())]
}

fn edge_u64(rng: &mut SmallRng) -> u64 {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => rng.gen_range(0..100),
        2 => u64::MAX - rng.gen_range(0..3),
        3 => rng.gen_range(0..5) * 65535,
        _ => rng.gen(),
    }
}

fn edge_i64(rng: &mut SmallRng) -> i64 {
    match rng.gen_range(0..6) {
        0 => i64::MIN + rng.gen_range(0..3),
        1 => i64::MAX - rng.gen_range(0..3),
        2 => rng.gen_range(-3_000_000..3_000_000),
        _ => 1_700_000_000_000_000 + rng.gen_range(0..10_000_000),
    }
}

fn batch(rng: &mut SmallRng, nets: &Networks, n: usize) -> FlowBatch {
    let addrs: Vec<Addr> = [
        "10.0.0.1",
        "10.1.2.3",
        "192.168.1.1",
        "8.8.8.8",
        "2001:db8::1",
        "::1",
    ]
    .iter()
    .map(|a| Addr::parse(a).expect("addr"))
    .collect();
    let src: Vec<Addr> = (0..n).map(|_| pick(rng, &addrs)).collect();
    let dst: Vec<Addr> = (0..n).map(|_| pick(rng, &addrs)).collect();
    let start: Vec<i64> = (0..n).map(|_| edge_i64(rng)).collect();
    let end: Vec<i64> = start
        .iter()
        .map(|s| {
            if rng.gen_bool(0.8) {
                s.saturating_add(rng.gen_range(-1_000_000..5_000_000))
            } else {
                edge_i64(rng)
            }
        })
        .collect();
    FlowBatch {
        file: FileId(0),
        rows: (0..n as u64).collect(),
        src_label: src.iter().map(|a| nets.label(*a)).collect(),
        dst_label: dst.iter().map(|a| nets.label(*a)).collect(),
        src,
        dst,
        start,
        end,
        src_port: (0..n)
            .map(|_| pick(rng, &[0, 21, 80, 1023, 1024, 1025, 65535]))
            .collect(),
        dst_port: (0..n)
            .map(|_| pick(rng, &[0, 21, 80, 1023, 1024, 1025, 65535]))
            .collect(),
        protocol: (0..n).map(|_| pick(rng, &[1, 6, 17, 47, 255])).collect(),
        bytes_sent: (0..n).map(|_| edge_u64(rng)).collect(),
        bytes_received: (0..n).map(|_| edge_u64(rng)).collect(),
        packets_sent: (0..n).map(|_| edge_u64(rng)).collect(),
        packets_received: (0..n).map(|_| edge_u64(rng)).collect(),
        service: (0..n)
            .map(|_| rng.gen_bool(0.5).then(|| "ftp".to_string()))
            .collect(),
        extra: vec![],
    }
}

fn num_lit(rng: &mut SmallRng) -> Value {
    Value::Num(match rng.gen_range(0..7) {
        0 => Num::int(rng.gen_range(-3..70_000)),
        1 => Num::ratio(rng.gen_range(-10..10_000_000), rng.gen_range(1..7)).expect("ratio"),
        2 => Num::int(u64::MAX as i128 + rng.gen_range(-2..2)),
        3 => Num::int(i128::MAX).mul(&Num::int(4)),
        4 => Num::int(pick(rng, &[6, 17, 1, 21, 1024])),
        5 => Num::int(0),
        _ => Num::int(rng.gen_range(0..3) * 65535),
    })
}

fn int_expr(rng: &mut SmallRng, depth: u32) -> Expr {
    let leaf = depth == 0 || rng.gen_bool(0.5);
    if leaf {
        return match rng.gen_range(0..10) {
            0..=4 => Expr::Attr(
                CONN,
                pick(
                    rng,
                    &[
                        Attr::Protocol,
                        Attr::SrcPort,
                        Attr::DestPort,
                        Attr::BytesSent,
                        Attr::BytesReceived,
                        Attr::PacketsSent,
                        Attr::PacketsReceived,
                    ],
                ),
            ),
            5 => Expr::Attr(CONN, pick(rng, &[Attr::StartTime, Attr::EndTime])),
            6 => Expr::Attr(CONN, Attr::DurationSeconds),
            7 => Expr::Seconds(Box::new(Expr::Attr(CONN, Attr::DurationSeconds))),
            8 => Expr::Lit(match rng.gen_range(0..3) {
                0 => Value::Dur(rng.gen_range(-2_000_000..3_000_000)),
                1 => Value::Time(1_700_000_000_000_000 + rng.gen_range(0..10_000_000)),
                _ => Value::Str("ftp".into()),
            }),
            _ => Expr::Lit(num_lit(rng)),
        };
    }
    match rng.gen_range(0..5) {
        0 => Expr::Neg(Box::new(int_expr(rng, depth - 1))),
        1 => Expr::Bin(
            BinOp::Div,
            Box::new(int_expr(rng, depth - 1)),
            Box::new(int_expr(rng, depth - 1)),
        ),
        _ => Expr::Bin(
            pick(rng, &[BinOp::Add, BinOp::Sub, BinOp::Mul]),
            Box::new(int_expr(rng, depth - 1)),
            Box::new(int_expr(rng, depth - 1)),
        ),
    }
}

fn bool_expr(rng: &mut SmallRng, depth: u32) -> Expr {
    let cmp = [
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
    ];
    if depth == 0 || rng.gen_bool(0.4) {
        return match rng.gen_range(0..9) {
            0..=3 => Expr::Bin(
                pick(rng, &cmp),
                Box::new(int_expr(rng, 2)),
                Box::new(int_expr(rng, 1)),
            ),
            4 => {
                let list = (0..rng.gen_range(0..4))
                    .map(|_| match rng.gen_range(0..4) {
                        0 => Value::Str("tcp".into()),
                        1 => Value::Dur(1_000_000),
                        _ => num_lit(rng),
                    })
                    .collect();
                Expr::In(Box::new(int_expr(rng, 1)), list, rng.gen())
            }
            5 => {
                let inst = pick(rng, &[SRC, DST]);
                let lit = Expr::Lit(Value::Str(
                    pick(rng, &["internal", "external", "lab", "gov", ""]).into(),
                ));
                let attr = Expr::Attr(inst, Attr::Disposition);
                let (l, r) = if rng.gen() { (attr, lit) } else { (lit, attr) };
                Expr::Bin(pick(rng, &cmp), Box::new(l), Box::new(r))
            }
            6 => Expr::In(
                Box::new(Expr::Attr(pick(rng, &[SRC, DST]), Attr::Disposition)),
                vec![
                    Value::Str(pick(rng, &["internal", "lab", "x"]).into()),
                    num_lit(rng),
                ],
                rng.gen(),
            ),
            7 => Expr::InCidr(
                Box::new(Expr::Attr(pick(rng, &[SRC, DST]), Attr::Address)),
                vec![
                    Prefix::parse(pick(rng, &["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"]))
                        .expect("prefix"),
                ],
                rng.gen(),
            ),
            _ => match rng.gen_range(0..3) {
                0 => Expr::Lit(Value::Bool(rng.gen())),
                1 => Expr::Lit(Value::Null),
                _ => Expr::Bin(
                    BinOp::Eq,
                    Box::new(Expr::Attr(CONN, Attr::Service)),
                    Box::new(Expr::Lit(Value::Str("ftp".into()))),
                ),
            },
        };
    }
    match rng.gen_range(0..3) {
        0 => Expr::Not(Box::new(bool_expr(rng, depth - 1))),
        1 => Expr::Bin(
            BinOp::And,
            Box::new(bool_expr(rng, depth - 1)),
            Box::new(bool_expr(rng, depth - 1)),
        ),
        _ => Expr::Bin(
            BinOp::Or,
            Box::new(bool_expr(rng, depth - 1)),
            Box::new(bool_expr(rng, depth - 1)),
        ),
    }
}

fn by_eval(e: &Expr, b: &FlowBatch, nets: &Networks, addresses: &[AddrBinding]) -> Vec<u32> {
    (0..b.len())
        .filter(|&row| {
            let env = FlowRowEnv {
                batch: b,
                row,
                instance: CONN,
                addresses,
                networks: nets,
                extra: &[],
            };
            eval::test(e, &env)
        })
        .map(|r| r as u32)
        .collect()
}

fn by_kernel(e: &Expr, b: &FlowBatch, nets: &Networks, addresses: &[AddrBinding]) -> Vec<u32> {
    let mut sel: Vec<u32> = (0..b.len() as u32).collect();
    Filter::new(e, b, CONN, addresses, nets).select(&mut sel, &|x, row| {
        let env = FlowRowEnv {
            batch: b,
            row,
            instance: CONN,
            addresses,
            networks: nets,
            extra: &[],
        };
        match eval::eval(x, &env) {
            eval::Val::Bool(v) => Some(v),
            _ => None,
        }
    });
    sel
}

#[test]
fn kernels_select_exactly_the_rows_eval_accepts() {
    let nets = networks();
    let addresses = bindings();
    let mut rng = SmallRng::seed_from_u64(11);
    let (mut compiled, mut selected) = (0, 0);
    for round in 0..3000 {
        let b = batch(&mut rng, &nets, 64);
        let e = bool_expr(&mut rng, 4);
        if Filter::new(&e, &b, CONN, &addresses, &nets)
            .conjuncts
            .iter()
            .all(|c| !c.is_row())
        {
            compiled += 1;
        }
        let got = by_kernel(&e, &b, &nets, &addresses);
        if !got.is_empty() && got.len() < b.len() {
            selected += 1;
        }
        assert_eq!(
            by_kernel(&e, &b, &nets, &addresses),
            by_eval(&e, &b, &nets, &addresses),
            "round {round}: {e:?}"
        );
    }
    // The generator must exercise the kernels, not only the fallback, and select some rows.
    assert!(compiled > 1000, "{compiled} of 3000 compiled fully");
    assert!(selected > 500, "{selected} of 3000 selected some rows");
}

/// The catalog's heaviest filter (invalid IP packets), written out, compiles entirely to
/// column kernels and agrees with `eval`.
#[test]
fn invalid_ip_filter_is_all_kernels() {
    let attr = |a| Box::new(Expr::Attr(CONN, a));
    let int = |n: i128| Box::new(Expr::Lit(Value::Num(Num::int(n))));
    let bin = |op, l, r| Box::new(Expr::Bin(op, l, r));
    let mut alts = Vec::new();
    for (bytes, packets) in [
        (Attr::BytesSent, Attr::PacketsSent),
        (Attr::BytesReceived, Attr::PacketsReceived),
    ] {
        let per = |k| bin(BinOp::Mul, int(k), attr(packets));
        let tcp = bin(BinOp::Eq, attr(Attr::Protocol), int(6));
        let body = bin(
            BinOp::Or,
            bin(BinOp::Gt, attr(bytes), per(65535)),
            bin(
                BinOp::Or,
                bin(BinOp::And, tcp, bin(BinOp::Lt, attr(bytes), per(40))),
                Box::new(Expr::In(
                    attr(Attr::Protocol),
                    vec![Value::Num(Num::int(17)), Value::Num(Num::int(1))],
                    false,
                )),
            ),
        );
        alts.push(bin(BinOp::And, bin(BinOp::Gt, attr(packets), int(0)), body));
        alts.push(bin(
            BinOp::And,
            bin(BinOp::Gt, attr(bytes), int(0)),
            bin(BinOp::Eq, attr(packets), int(0)),
        ));
    }
    let e = alts
        .into_iter()
        .reduce(|a, b| bin(BinOp::Or, a, b))
        .expect("alternatives");
    let nets = networks();
    let addresses = bindings();
    let mut rng = SmallRng::seed_from_u64(5);
    let b = batch(&mut rng, &nets, 2000);
    let f = Filter::new(&e, &b, CONN, &addresses, &nets);
    assert!(
        f.conjuncts.iter().all(|c| !c.is_row()),
        "every part compiles to a kernel"
    );
    let got = by_kernel(&e, &b, &nets, &addresses);
    assert!(!got.is_empty());
    assert_eq!(got, by_eval(&e, &b, &nets, &addresses));
}
