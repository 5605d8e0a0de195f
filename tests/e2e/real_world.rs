//! Real-world cases of `shared/spec/real-world-cases.md` at pattern level, on canonical Parquet
//! fixtures: each asserts the case's expected count literally, and engine == oracle.

use flowpat_tests::cli::{self, catalog, parse_results, Run};
use flowpat_tests::fixture::{assert_results_eq, rows, Fixture};
use flowpat_tests::model::{proto, Flow, BASE_US, SECOND_US};

/// The networks every case uses unless it says otherwise.
const NETWORKS: &str = "192.0.2.0/24,internal\n2001:db8:1::/48,internal\n";

/// Asserts the oracle and the engine both give `expected` for pattern `name`.
fn check(fx: &Fixture, name: &str, expected: &flowpat_tests::oracle::Results) {
    let pattern = catalog(name);
    assert_results_eq(
        &fx.oracle(&pattern),
        expected,
        &format!("oracle, pattern {name}"),
    );
    assert_results_eq(
        &fx.engine(&pattern),
        expected,
        &format!("engine, pattern {name}"),
    );
}

fn none() -> flowpat_tests::oracle::Results {
    rows(&[])
}

/// C03: a mapped source address is the internal IPv4 host.
#[test]
fn c03_mapped_source_is_internal() {
    let mut fx = Fixture::new("192.0.2.0/24,internal\n");
    fx.flows(
        "c03.parquet",
        vec![Flow::tcp("::ffff:192.0.2.7", 51000, "203.0.113.9", 51001)
            .lasting(3 * SECOND_US)
            .counts(500, 5, 100, 4)],
    );
    check(
        &fx,
        "ephemeral-tcp",
        &rows(&[(&["192.0.2.7", "c03.parquet", "0", "203.0.113.9"], 1)]),
    );
}

/// C04: one session logged as three records is three connections.
#[test]
fn c04_split_session_is_three_connections() {
    let mut fx = Fixture::new(NETWORKS);
    let record = |minute: i64, seconds: i64, received| {
        Flow::tcp("192.0.2.20", 49800, "203.0.113.30", 8443)
            .starting(BASE_US + minute * 60 * SECOND_US)
            .lasting(seconds * SECOND_US)
            .bytes(600_000, received)
    };
    fx.flows(
        "c04.parquet",
        vec![record(0, 240, 1000), record(20, 300, 0), record(40, 100, 0)],
    );
    let conn = |row| ["192.0.2.20", "c04.parquet", row, "203.0.113.30"];
    let (r0, r1, r2) = (conn("0"), conn("1"), conn("2"));
    check(&fx, "ephemeral-tcp", &rows(&[(&r0, 1), (&r1, 1), (&r2, 1)]));
    check(&fx, "exfiltration", &none());
}

/// C08: one side at 0 packets and 0 bytes, or all counters 0, is not invalid.
#[test]
fn c08_zero_counters_are_not_invalid() {
    let mut fx = Fixture::new(NETWORKS);
    fx.flows(
        "c08.parquet",
        vec![
            Flow::tcp("192.0.2.42", 49197, "203.0.113.44", 443).counts(0, 0, 11003, 11),
            Flow::tcp("192.0.2.42", 40000, "203.0.113.44", 80)
                .counts(0, 0, 0, 0)
                .lasting(0),
        ],
    );
    check(&fx, "invalid-ip-packets", &none());
    check(&fx, "ephemeral-tcp", &none());
    check(&fx, "exfiltration", &none());
}

/// C11: petabyte ICMP counters are exact: invalid (> 65535 B/packet) and exfiltration.
#[test]
fn c11_huge_icmp_counters() {
    let mut fx = Fixture::new(NETWORKS);
    fx.flows(
        "c11.parquet",
        vec![Flow::new(proto::ICMP, "192.0.2.90", 0, "198.51.100.1", 0)
            .lasting(10 * SECOND_US)
            .counts(1_600_000_000_000_000, 4_294_967_295, 0, 0)],
    );
    let expected = rows(&[(&["192.0.2.90", "c11.parquet", "0", "198.51.100.1"], 1)]);
    check(&fx, "invalid-ip-packets", &expected);
    check(&fx, "exfiltration", &expected);
}

/// Rewrites every `protocol = <literal>` comparison of a pattern's text to use `spelling`.
/// Returns `None` when the text has no such comparison.
fn respell_protocol(text: &str, spelling: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    let mut replaced = false;
    while let Some(at) = rest.find("protocol") {
        let (before, from) = rest.split_at(at + "protocol".len());
        out.push_str(before);
        let after_ws = from.trim_start();
        let Some(after_eq) = after_ws
            .strip_prefix("==")
            .or_else(|| after_ws.strip_prefix('='))
        else {
            rest = from;
            continue;
        };
        let literal_text = after_eq.trim_start();
        let literal_len = if let Some(quoted) = literal_text.strip_prefix('"') {
            quoted.find('"')? + 2
        } else {
            literal_text
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(literal_text.len())
        };
        if literal_len == 0 {
            rest = from;
            continue;
        }
        out.push_str(&from[..from.len() - literal_text.len()]);
        out.push_str(spelling);
        rest = &literal_text[literal_len..];
        replaced = true;
    }
    out.push_str(rest);
    replaced.then_some(out)
}

#[test]
fn respell_protocol_rewrites_comparisons() {
    assert_eq!(
        respell_protocol(
            "where conn.protocol = \"tcp\" and conn.protocol == 6)",
            "\"06\""
        ),
        Some("where conn.protocol = \"06\" and conn.protocol == \"06\")".to_owned())
    );
    assert_eq!(
        respell_protocol("no comparison of protocol here", "6"),
        None
    );
}

/// C30: three TCP records; `protocol = "06"`, `6` and `"tcp"` select the same three.
#[test]
fn c30_protocol_spellings_select_the_same_rows() {
    let mut fx = Fixture::new(NETWORKS);
    let flow = || {
        Flow::tcp("192.0.2.170", 50000, "203.0.113.170", 50001)
            .lasting(2 * SECOND_US)
            .counts(100, 2, 50, 1)
    };
    for file in ["a.parquet", "b.parquet", "c.parquet"] {
        fx.flows(file, vec![flow()]);
    }
    let expected = rows(&[
        (&["192.0.2.170", "a.parquet", "0", "203.0.113.170"], 1),
        (&["192.0.2.170", "b.parquet", "0", "203.0.113.170"], 1),
        (&["192.0.2.170", "c.parquet", "0", "203.0.113.170"], 1),
    ]);
    check(&fx, "ephemeral-tcp", &expected);

    // The catalog file spells TCP through `common.pattern`; the variants are the seed example
    // (self-contained, the same conditions) with `internal` as the label and each spelling.
    let seed_path = cli::workspace_root().join("compiler/tests/data/seed.pattern");
    let seed = std::fs::read_to_string(&seed_path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", seed_path.display()))
        .replace("\"gov\"", "\"internal\"");
    let pattern = catalog("ephemeral-tcp");
    for (idx, spelling) in ["\"06\"", "6", "\"tcp\""].into_iter().enumerate() {
        let text = respell_protocol(&seed, spelling).unwrap_or_else(|| {
            panic!(
                "{} has no `protocol = <literal>` comparison to respell",
                seed_path.display()
            )
        });
        let variant = fx.path().join(format!("ephemeral-tcp-{idx}.pattern"));
        std::fs::write(&variant, text).expect("writing pattern variant");
        let csv = Run::new(&variant, &fx.flows_dir(), None, &fx.networks_path()).csv();
        let actual = parse_results(&csv, pattern.key_columns);
        assert_results_eq(&actual, &expected, &format!("protocol = {spelling}"));
    }
}

/// C31: per-record semantics: a unidirectional upload matches pattern 2, the bidirectional
/// record of the same session does not.
#[test]
fn c31_unidirectional_and_bidirectional_records() {
    let upload = || Flow::tcp("192.0.2.180", 50000, "203.0.113.180", 443).lasting(5 * SECOND_US);

    let mut unidirectional = Fixture::new(NETWORKS);
    unidirectional.flows(
        "nfdump.parquet",
        vec![
            upload().counts(2_000_000, 1500, 0, 0),
            Flow::tcp("203.0.113.180", 443, "192.0.2.180", 50000)
                .lasting(5 * SECOND_US)
                .counts(2_500_000, 1800, 0, 0),
        ],
    );
    check(
        &unidirectional,
        "exfiltration",
        &rows(&[(&["192.0.2.180", "nfdump.parquet", "0", "203.0.113.180"], 1)]),
    );

    let mut bidirectional = Fixture::new(NETWORKS);
    bidirectional.flows(
        "zeek.parquet",
        vec![upload().counts(2_000_000, 1500, 2_500_000, 1800)],
    );
    check(&bidirectional, "exfiltration", &none());
}
