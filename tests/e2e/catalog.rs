//! The six catalog patterns on hand-made boundary archives.
//!
//! `oracle_*` tests check the oracle against results computed by hand (no binary needed);
//! `engine_*` tests run `flowpat run` and check it against the oracle and the hand results.

use flowpat_tests::boundary::{self, NETWORKS};
use flowpat_tests::cli::{self, catalog, Run, CATALOG};
use flowpat_tests::fixture::{assert_results_eq, rows, Fixture};
use flowpat_tests::oracle::Results;

/// A fixture holding one boundary file (and events for the FTP patterns).
fn single(write: impl FnOnce(&mut Fixture) -> Results) -> (Fixture, Results) {
    let mut fx = Fixture::new(NETWORKS);
    let expected = write(&mut fx);
    (fx, expected)
}

fn ftp_fixture() -> (Fixture, boundary::FtpExpected) {
    let mut fx = Fixture::new(NETWORKS);
    let expected = boundary::write_ftp(&mut fx);
    (fx, expected)
}

/// Oracle == hand results, then engine == both.
fn check_engine(fx: &Fixture, name: &str, expected: &Results) {
    let pattern = catalog(name);
    assert_results_eq(
        &fx.oracle(&pattern),
        expected,
        &format!("oracle vs hand results, pattern {name}"),
    );
    let engine = fx.assert_engine_matches_oracle(&pattern);
    assert_results_eq(
        &engine,
        expected,
        &format!("engine vs hand results, pattern {name}"),
    );
}

#[test]
fn oracle_ephemeral_tcp_boundaries() {
    let (fx, expected) = single(boundary::write_ephemeral_tcp);
    assert_results_eq(
        &fx.oracle(&catalog("ephemeral-tcp")),
        &expected,
        "oracle, ephemeral-tcp",
    );
}

#[test]
fn oracle_exfiltration_boundaries() {
    let (fx, expected) = single(boundary::write_exfiltration);
    assert_results_eq(
        &fx.oracle(&catalog("exfiltration")),
        &expected,
        "oracle, exfiltration",
    );
}

#[test]
fn oracle_ftp_boundaries() {
    let (fx, expected) = ftp_fixture();
    assert_eq!(
        expected.untimed.len(),
        13,
        "5 events × 2 flows of 10.0.0.1 + 3 events × 1 flow of 10.0.0.2"
    );
    assert_results_eq(
        &fx.oracle(&catalog("ftp-exfiltration")),
        &expected.untimed,
        "oracle, ftp-exfiltration",
    );
    assert_results_eq(
        &fx.oracle(&catalog("ftp-exfiltration-temporal")),
        &expected.temporal,
        "oracle, ftp-exfiltration-temporal",
    );
}

#[test]
fn oracle_invalid_ip_packets_boundaries() {
    let (fx, expected) = single(boundary::write_invalid_ip_packets);
    assert_results_eq(
        &fx.oracle(&catalog("invalid-ip-packets")),
        &expected,
        "oracle, invalid-ip-packets",
    );
}

#[test]
fn oracle_port_jumping_boundaries() {
    let (fx, expected) = single(boundary::write_port_jumping);
    assert_results_eq(
        &fx.oracle(&catalog("port-jumping")),
        &expected,
        "oracle, port-jumping",
    );
}

#[test]
fn engine_ephemeral_tcp_boundaries() {
    let (fx, expected) = single(boundary::write_ephemeral_tcp);
    check_engine(&fx, "ephemeral-tcp", &expected);
}

#[test]
fn engine_exfiltration_boundaries() {
    let (fx, expected) = single(boundary::write_exfiltration);
    check_engine(&fx, "exfiltration", &expected);
}

#[test]
fn engine_ftp_exfiltration_boundaries() {
    let (fx, expected) = ftp_fixture();
    check_engine(&fx, "ftp-exfiltration", &expected.untimed);
}

/// Pattern 4 returns exactly events e1, e2 with c0; e0, e1 with c6; e5, e8 with c4.
#[test]
fn engine_ftp_exfiltration_temporal_boundaries() {
    let (fx, expected) = ftp_fixture();
    let (ev, ftp) = ("events.parquet", "ftp.parquet");
    let literal = rows(&[
        (&[ev, "1", "10.0.0.1", ftp, "0", "203.0.113.1"], 1),
        (&[ev, "2", "10.0.0.1", ftp, "0", "203.0.113.1"], 1),
        (&[ev, "0", "10.0.0.1", ftp, "6", "10.9.0.5"], 1),
        (&[ev, "1", "10.0.0.1", ftp, "6", "10.9.0.5"], 1),
        (&[ev, "5", "10.0.0.2", ftp, "4", "203.0.113.2"], 1),
        (&[ev, "8", "10.0.0.2", ftp, "4", "203.0.113.2"], 1),
    ]);
    assert_eq!(expected.temporal, literal);
    check_engine(&fx, "ftp-exfiltration-temporal", &expected.temporal);
}

#[test]
fn engine_invalid_ip_packets_boundaries() {
    let (fx, expected) = single(boundary::write_invalid_ip_packets);
    check_engine(&fx, "invalid-ip-packets", &expected);
}

#[test]
fn engine_port_jumping_boundaries() {
    let (fx, expected) = single(boundary::write_port_jumping);
    check_engine(&fx, "port-jumping", &expected);
}

/// All boundary files in one archive: every pattern sees every other pattern's rows.
#[test]
fn engine_matches_oracle_on_combined_boundary_archive() {
    let fx = boundary::all();
    for pattern in &CATALOG {
        let results = fx.assert_engine_matches_oracle(pattern);
        assert!(
            !results.is_empty(),
            "pattern {} found nothing on the combined archive",
            pattern.name
        );
    }
}

/// One worker and four print byte-identical CSV.
#[test]
fn workers_do_not_change_output_on_boundary_archive() {
    let fx = boundary::all();
    for pattern in &CATALOG {
        let events = fx.events_dir();
        let run = Run::new(
            cli::pattern_path(pattern.name),
            &fx.flows_dir(),
            events.as_deref(),
            &fx.networks_path(),
        );
        let one = run.clone().workers(1).csv();
        let four = run.workers(4).csv();
        assert_eq!(
            one, four,
            "pattern {}: --workers 1 and --workers 4 differ",
            pattern.name
        );
    }
}

/// `--out FILE` writes what stdout would have shown.
#[test]
fn out_file_equals_stdout() {
    let fx = boundary::all();
    let pattern = catalog("port-jumping");
    let stdout = Run::new(
        cli::pattern_path(pattern.name),
        &fx.flows_dir(),
        None,
        &fx.networks_path(),
    )
    .csv();
    let out = fx.path().join("out.csv");
    let args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        cli::pattern_path(pattern.name).into(),
        "--flows".into(),
        fx.flows_dir().into(),
        "--networks".into(),
        fx.networks_path().into(),
        "--format".into(),
        "csv".into(),
        "--quiet".into(),
        "--out".into(),
        out.clone().into(),
    ];
    let printed = cli::flowpat(&args);
    assert_eq!(printed, "", "with --out nothing goes to stdout");
    let written = std::fs::read_to_string(&out).expect("reading --out file");
    assert_eq!(written, stdout);
}

/// `--since`/`--until` select flows by start time; events are not cut by the window, so an
/// alert the day before still precedes an FTP flow inside it (pattern 4 keeps e1 and e2 with
/// c0, whose lags are 1 µs and 24 h across the window's start).
#[test]
fn time_window_selects_flows_not_the_events_before_them() {
    use flowpat_tests::model::BASE_US;
    let (fx, expected) = ftp_fixture();
    let since = chrono::DateTime::from_timestamp_micros(BASE_US)
        .expect("base time")
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let pattern = cli::pattern_path("ftp-exfiltration-temporal");
    let events = fx.events_dir().expect("events");
    let csv = cli::flowpat(&[
        "run".as_ref(),
        pattern.as_os_str(),
        "--flows".as_ref(),
        fx.flows_dir().as_os_str(),
        "--events".as_ref(),
        events.as_os_str(),
        "--networks".as_ref(),
        fx.networks_path().as_os_str(),
        "--since".as_ref(),
        since.as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
        "--quiet".as_ref(),
    ]);
    let keys = catalog("ftp-exfiltration-temporal").key_columns;
    let got = cli::parse_results(&csv, keys);
    assert_results_eq(&got, &expected.temporal, "--since at the first FTP flow");
}
