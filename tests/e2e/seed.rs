//! The seed example (`compiler/tests/data/seed.pattern`) names its internal ranges `gov`: on a
//! data set labelled that way it must equal the ephemeral-TCP oracle with `gov` as internal.

use flowpat_tests::boundary;
use flowpat_tests::cli::{self, catalog, parse_results, Run};
use flowpat_tests::fixture::{assert_results_eq, rows, Fixture};
use flowpat_tests::oracle;

/// The boundary networks with `gov` where the catalog says `internal`.
const GOV_NETWORKS: &str = "\
10.0.0.0/8,gov
10.9.0.0/16,dmz
2001:db8:1::/48,gov
";

fn gov_fixture() -> Fixture {
    let mut fx = Fixture::new(GOV_NETWORKS);
    boundary::write_ephemeral_tcp(&mut fx);
    fx
}

#[test]
fn seed_pattern_equals_ephemeral_tcp_oracle_with_gov_label() {
    let fx = gov_fixture();
    let expected = oracle::ephemeral_tcp(
        &fx.flows,
        &fx.events,
        &fx.networks.relabel("gov", "internal"),
    );
    let file = "ephemeral.parquet";
    let literal = rows(&[
        (&["10.0.0.1", file, "0", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "8", "10.9.0.5"], 1),
        (&["2001:db8:1::10", file, "9", "2001:db8:ff::5"], 1),
        (&["10.0.0.1", file, "11", "203.0.113.2"], 1),
        (&["10.0.0.1", file, "12", "203.0.113.1"], 1),
    ]);
    assert_results_eq(&expected, &literal, "oracle with gov as internal");

    let seed = cli::workspace_root().join("compiler/tests/data/seed.pattern");
    let csv = Run::new(&seed, &fx.flows_dir(), None, &fx.networks_path()).csv();
    let actual = parse_results(&csv, catalog("ephemeral-tcp").key_columns);
    assert_results_eq(
        &actual,
        &expected,
        "seed pattern vs ephemeral-TCP oracle (label gov)",
    );
}

/// The catalog pattern asks for `internal`, so on `gov`-labelled data it finds nothing.
#[test]
fn catalog_ephemeral_tcp_finds_nothing_when_internal_is_called_gov() {
    let fx = gov_fixture();
    let pattern = catalog("ephemeral-tcp");
    assert!(fx.oracle(&pattern).is_empty());
    assert_results_eq(
        &fx.engine(&pattern),
        &rows(&[]),
        "ephemeral-tcp on gov-labelled networks",
    );
}
