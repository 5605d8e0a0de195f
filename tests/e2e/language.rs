//! Language extensions beyond the catalog, end to end, on small hand-made archives with
//! hand-computed expected rows: chains (iteration), absence (anti-join), CIDR membership,
//! aggregates other than count distinct, and parameters overridden from the command line.

use std::path::{Path, PathBuf};

use flowpat_tests::cli::{flowpat, parse_results};
use flowpat_tests::fixture::{assert_results_eq, rows, Fixture};
use flowpat_tests::model::{proto, Ev, Flow, BASE_US, HOUR_US, SECOND_US};

const NETWORKS: &str = "10.0.0.0/8,internal\n2001:db8:1::/48,internal\n";

fn write_pattern(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing pattern");
    path
}

fn run(fx: &Fixture, pattern: &Path, extra: &[&str]) -> String {
    let mut args: Vec<String> = vec![
        "run".into(),
        pattern.display().to_string(),
        "--flows".into(),
        fx.flows_dir().display().to_string(),
    ];
    if let Some(events) = fx.events_dir() {
        args.extend(["--events".into(), events.display().to_string()]);
    }
    args.extend([
        "--networks".into(),
        fx.networks_path().display().to_string(),
        "--format".into(),
        "csv".into(),
        "--quiet".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    flowpat(&args)
}

fn smb(src: &str, dst: &str, start_s: i64) -> Flow {
    let mut f = Flow::new(proto::TCP, src, 50000, dst, 445);
    f.start_us = BASE_US + start_s * SECOND_US;
    f.end_us = f.start_us + SECOND_US;
    f
}

/// A → B at 10 s, B → C at 20 s, C → D at 30 s (port 445), and B → E at 5 s (before A → B,
/// so A cannot reach E through B). Chains of 2..3 hops from an internal host to an internal
/// host: A→C (2 hops), A→D (3 hops), B→D (2 hops). A→B, B→C, C→D alone are 1 hop.
#[test]
fn chain_follows_hops_in_time_order() {
    let mut fx = Fixture::new(NETWORKS);
    fx.flows(
        "smb.parquet",
        vec![
            smb("10.0.0.1", "10.0.0.2", 10),
            smb("10.0.0.2", "10.0.0.3", 20),
            smb("10.0.0.3", "10.0.0.4", 30),
            smb("10.0.0.2", "10.0.0.5", 5),
        ],
    );
    let pattern = write_pattern(
        fx.path(),
        "lateral.pattern",
        "search lateral movement is
   instance a : NetworkAddress where disposition = \"internal\";
   instance b : NetworkAddress where disposition = \"internal\";
   chain hop : NetworkConnection from a to b hops 2..3 where destPort = 445;
   export a; b; end
end
",
    );
    let actual = parse_results(&run(&fx, &pattern, &[]), &["a", "b"]);
    let expected = rows(&[
        (&["10.0.0.1", "10.0.0.3"], 1),
        (&["10.0.0.1", "10.0.0.4"], 1),
        (&["10.0.0.2", "10.0.0.4"], 1),
    ]);
    assert_results_eq(&actual, &expected, "chain hops 2..3");

    // Unbounded: every reachable pair, 1 hop or more, in time order.
    let pattern = write_pattern(
        fx.path(),
        "reach.pattern",
        "search reach is
   instance a : NetworkAddress;
   instance b : NetworkAddress;
   chain hop : NetworkConnection from a to b hops 1..;
   export a; b; end
end
",
    );
    let actual = parse_results(&run(&fx, &pattern, &[]), &["a", "b"]);
    let expected = rows(&[
        (&["10.0.0.1", "10.0.0.2"], 1),
        (&["10.0.0.1", "10.0.0.3"], 1),
        (&["10.0.0.1", "10.0.0.4"], 1),
        (&["10.0.0.2", "10.0.0.3"], 1),
        (&["10.0.0.2", "10.0.0.4"], 1),
        (&["10.0.0.2", "10.0.0.5"], 1),
        (&["10.0.0.3", "10.0.0.4"], 1),
    ]);
    assert_results_eq(&actual, &expected, "chain hops 1..");
}

/// Outbound connections with no event about their source in the hour before: conn 0 has an
/// alert 30 min before (excluded), conn 1 an alert 2 h before (kept), conn 2 an alert 10 min
/// *after* (kept), conn 3 no alert at all (kept).
#[test]
fn absent_block_is_an_antijoin_with_a_window() {
    let mut fx = Fixture::new(NETWORKS);
    let mut conns = Vec::new();
    for (k, host) in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        .iter()
        .enumerate()
    {
        let mut f = Flow::new(proto::TCP, host, 40000, "203.0.113.9", 443);
        f.start_us = BASE_US + 5 * HOUR_US + k as i64 * SECOND_US;
        f.end_us = f.start_us + SECOND_US;
        conns.push(f);
    }
    let conn_start = |k: i64| BASE_US + 5 * HOUR_US + k * SECOND_US;
    fx.flows("out.parquet", conns);
    let ev = |src: &str, time_us: i64| Ev {
        file: String::new(),
        row: 0,
        time_us,
        src: src.parse().expect("ip"),
        dst: "198.51.100.1".parse().expect("ip"),
        signature: "ET TEST".into(),
        severity: 2,
        category: "test".into(),
    };
    fx.events(
        "alerts.parquet",
        vec![
            ev("10.0.0.1", conn_start(0) - HOUR_US / 2),
            ev("10.0.0.2", conn_start(1) - 2 * HOUR_US),
            ev("10.0.0.3", conn_start(2) + HOUR_US / 6),
        ],
    );
    let pattern = write_pattern(
        fx.path(),
        "quiet.pattern",
        "search unalerted outbound is
   instance src : NetworkAddress where disposition = \"internal\";
   instance conn : NetworkConnection where destPort = 443;
   instance dst : NetworkAddress where disposition != \"internal\";
   connections conn.source connects src; conn.destination connects dst; end
   absent
      instance alert : Event;
      connections alert.source connects src; end
      order alert before conn within 1h; end
   end
   export src; conn; end
end
",
    );
    let actual = parse_results(&run(&fx, &pattern, &[]), &["src", "conn.row"]);
    let expected = rows(&[
        (&["10.0.0.2", "1"], 1),
        (&["10.0.0.3", "2"], 1),
        (&["10.0.0.4", "3"], 1),
    ]);
    assert_results_eq(&actual, &expected, "absent alert in the hour before");
}

/// CIDR membership (IPv4 and IPv6), sum/min/max aggregates and a parameter override.
#[test]
fn cidr_aggregates_and_params() {
    let mut fx = Fixture::new(NETWORKS);
    let mut flows = Vec::new();
    for (k, (src, bytes)) in [
        ("10.1.0.1", 100u64),
        ("10.1.0.1", 300),
        ("10.2.0.1", 50),
        ("2001:db8:1::7", 1000),
    ]
    .iter()
    .enumerate()
    {
        let mut f = Flow::new(proto::UDP, src, 5000 + k as u16, "203.0.113.1", 53);
        f.bytes_sent = *bytes;
        flows.push(f);
    }
    fx.flows("dns.parquet", flows);
    let pattern = write_pattern(
        fx.path(),
        "volume.pattern",
        "search dns volume is
   param floor = 0;
   instance src : NetworkAddress where address in (10.1.0.0/16, 2001:db8::/32);
   instance conn : NetworkConnection where destPort = 53 and bytesSent > floor;
   instance dst : NetworkAddress;
   connections conn.source connects src; conn.destination connects dst; end
   group by src
      total = sum conn.bytesSent;
      smallest = min conn.bytesSent;
      largest = max conn.bytesSent;
      having total >= 100;
   end
   export src; total; smallest; largest; end
end
",
    );
    let actual = parse_results(
        &run(&fx, &pattern, &[]),
        &["src", "total", "smallest", "largest"],
    );
    let expected = rows(&[
        (&["10.1.0.1", "400", "100", "300"], 2),
        (&["2001:db8:1::7", "1000", "1000", "1000"], 1),
    ]);
    assert_results_eq(&actual, &expected, "sum/min/max by CIDR-selected source");

    let actual = parse_results(
        &run(&fx, &pattern, &["--param", "floor=200"]),
        &["src", "total", "smallest", "largest"],
    );
    let expected = rows(&[
        (&["10.1.0.1", "300", "300", "300"], 1),
        (&["2001:db8:1::7", "1000", "1000", "1000"], 1),
    ]);
    assert_results_eq(&actual, &expected, "--param floor=200");
}

/// A join condition that reads address attributes of two different records: the event's
/// source must carry the same label as the flow's destination.
#[test]
fn join_conditions_read_addresses_of_both_records() {
    let mut fx = Fixture::new("10.0.0.0/8,internal\n198.51.100.0/24,partner\n");
    let mut f0 = Flow::new(proto::TCP, "10.0.0.1", 40000, "198.51.100.7", 443);
    f0.start_us = BASE_US + HOUR_US;
    let mut f1 = Flow::new(proto::TCP, "10.0.0.1", 40001, "203.0.113.7", 443);
    f1.start_us = BASE_US + HOUR_US;
    fx.flows("f.parquet", vec![f0, f1]);
    let ev = |src: &str| Ev {
        file: String::new(),
        row: 0,
        time_us: BASE_US,
        src: src.parse().expect("ip"),
        dst: "10.0.0.1".parse().expect("ip"),
        signature: "ET TEST".into(),
        severity: 2,
        category: "test".into(),
    };
    fx.events("e.parquet", vec![ev("198.51.100.9"), ev("203.0.113.9")]);
    let pattern = write_pattern(
        fx.path(),
        "same-label.pattern",
        "search same label is
   instance h : NetworkAddress;
   instance e : Event;
   instance s : NetworkAddress;
   instance conn : NetworkConnection;
   instance d : NetworkAddress;
   connections e.destination connects h; e.source connects s; conn.source connects h; conn.destination connects d; end
   require s.disposition = d.disposition;
   export e; conn; end
end
",
    );
    let actual = parse_results(&run(&fx, &pattern, &[]), &["e.row", "conn.row"]);
    // Event 0 (partner) pairs with flow 0 (partner); event 1 (external) with flow 1 (external).
    let expected = rows(&[(&["0", "0"], 1), (&["1", "1"], 1)]);
    assert_results_eq(&actual, &expected, "labels compared across records");
}

/// `count distinct` as a second aggregate: the group's rows are ordered by the whole argument
/// tuple (bytes first), so ports 80, 443, 80 arrive unsorted and must still count as 2.
#[test]
fn count_distinct_after_another_aggregate() {
    let mut fx = Fixture::new(NETWORKS);
    let flows = [(100u64, 80u16), (200, 443), (300, 80)]
        .iter()
        .enumerate()
        .map(|(k, (bytes, port))| {
            let mut f = Flow::new(
                proto::TCP,
                "10.1.0.1",
                40000 + k as u16,
                "203.0.113.1",
                *port,
            );
            f.bytes_sent = *bytes;
            f
        })
        .collect();
    fx.flows("web.parquet", flows);
    let pattern = write_pattern(
        fx.path(),
        "spread.pattern",
        "search spread is
   instance src : NetworkAddress;
   instance conn : NetworkConnection;
   instance dst : NetworkAddress;
   connections conn.source connects src; conn.destination connects dst; end
   group by src, dst
      total = sum conn.bytesSent;
      ports = count distinct conn.destPort;
   end
   export src; dst; total; ports; end
end
",
    );
    let actual = parse_results(&run(&fx, &pattern, &[]), &["src", "dst", "total", "ports"]);
    let expected = rows(&[(&["10.1.0.1", "203.0.113.1", "600", "2"], 3)]);
    assert_results_eq(&actual, &expected, "sum then count distinct");
}
