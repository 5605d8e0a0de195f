//! The analyst's workflow through the `flowpat` binary: revision diffs with hand-checked
//! added and removed rows, saved results and their diff, pivots on a planted neighbourhood,
//! the HTML view in a real browser, and catalog estimates against full runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowpat_tests::cli::{flowpat, flowpat_bin, workspace_root};
use flowpat_tests::fixture::Fixture;
use flowpat_tests::model::{Ev, Flow, BASE_US, HOUR_US, SECOND_US};

const NETWORKS: &str = "10.0.0.0/8,internal\ndefault,external\n";
const MINUTE_US: i64 = 60 * SECOND_US;

/// Runs `flowpat` and returns its output whatever the exit code.
fn flowpat_output<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(flowpat_bin())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("spawning flowpat")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// CSV text → rows of (column → value).
fn csv_rows(csv_text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("csv header")
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.expect("csv record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The exfiltration archive of the revision tests; rows are named in the comments.
fn exfil_fixture() -> Fixture {
    let mut fx = Fixture::new(NETWORKS);
    let out = |sent: u64, received: u64| {
        Flow::tcp("10.0.0.5", 40000, "198.51.100.9", 443).bytes(sent, received)
    };
    fx.flows(
        "flows.parquet",
        vec![
            out(1_500_000, 100),                  // 0: OLD only (≤ 2 MB)
            out(3_000_000, 100),                  // 1: both
            out(3_000_000, 400_000),              // 2: NEW only (7.5×)
            out(2_000_000, 0),                    // 3: OLD only (not > 2 MB)
            out(5_000_000, 0).lasting(SECOND_US), // 4: neither (1 s)
            Flow::tcp("198.51.100.9", 443, "10.0.0.5", 40000).bytes(5_000_000, 0), // 5: neither (inbound)
            out(2_000_001, 200_000), // 6: both (exactly 10×, over 2 MB)
        ],
    );
    fx
}

/// A folder with `common.pattern` and a NEW exfiltration pattern: over 2 MB and 5× (OLD: 1 MB
/// and 10×), written without `--param` so that the file itself is the revision.
fn new_revision(dir: &Path) -> PathBuf {
    let root = workspace_root().join("patterns");
    std::fs::copy(root.join("common.pattern"), dir.join("common.pattern")).expect("copy common");
    let old =
        std::fs::read_to_string(root.join("exfiltration.pattern")).expect("read exfiltration");
    let new = old
        .replace("param threshold = 1MB;", "param threshold = 2MB;")
        .replace(
            "bytesSent >= 10 * bytesReceived",
            "bytesSent >= 5 * bytesReceived",
        );
    assert_ne!(
        new, old,
        "the catalog pattern changed shape; update this test"
    );
    let path = dir.join("exfiltration.pattern");
    std::fs::write(&path, new).expect("write NEW");
    path
}

fn data_args(fx: &Fixture) -> Vec<String> {
    let mut args = vec![
        "--flows".to_string(),
        fx.flows_dir().display().to_string(),
        "--networks".into(),
        fx.networks_path().display().to_string(),
        "--workers".into(),
        "1".into(),
    ];
    if let Some(events) = fx.events_dir() {
        args.extend(["--events".to_string(), events.display().to_string()]);
    }
    args
}

/// (change, conn.row) pairs of a diff's CSV.
fn changes(csv_text: &str) -> BTreeSet<(String, String)> {
    csv_rows(csv_text)
        .into_iter()
        .map(|r| (r["change"].clone(), r["conn.row"].clone()))
        .collect()
}

fn expected_changes() -> BTreeSet<(String, String)> {
    [("removed", "0"), ("removed", "3"), ("added", "2")]
        .iter()
        .map(|(c, r)| (c.to_string(), r.to_string()))
        .collect()
}

#[test]
fn revision_diff_reports_hand_checked_rows_and_exit_codes() {
    let fx = exfil_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let new = new_revision(dir.path());
    let old = workspace_root().join("patterns/exfiltration.pattern");

    let mut args = vec![
        "diff".to_string(),
        old.display().to_string(),
        new.display().to_string(),
        "--format".into(),
        "csv".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "differences exit 1\n{}",
        text(&out.stderr)
    );
    assert_eq!(changes(&text(&out.stdout)), expected_changes());

    // The table says how many rows are in both (1 and 6).
    args[4] = "table".into();
    let table = text(&flowpat_output(&args).stdout);
    assert!(
        table.contains(
            "in both: 2   only in OLD (removed): 2   only in NEW (added): 1   matches changed: 0"
        ),
        "{table}"
    );

    // A revision against itself agrees.
    let mut same = vec![
        "diff".to_string(),
        old.display().to_string(),
        old.display().to_string(),
    ];
    same.extend(data_args(&fx));
    let out = flowpat_output(&same);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no differences"));
}

#[test]
fn revision_diff_reads_old_from_git() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let fx = exfil_fixture();
    let repo = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    git(&["init", "-q"]);
    let root = workspace_root().join("patterns");
    for name in ["common.pattern", "exfiltration.pattern"] {
        std::fs::copy(root.join(name), repo.path().join(name)).expect("copy");
    }
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "-m",
        "catalog",
    ]);
    let new = new_revision(repo.path());

    let mut args = vec![
        "diff".to_string(),
        format!("{}@HEAD", new.display()),
        new.display().to_string(),
        "--format".into(),
        "csv".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(changes(&text(&out.stdout)), expected_changes());
}

#[test]
fn saved_results_carry_provenance_and_diff() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let fx = exfil_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let new = new_revision(dir.path());
    let old = workspace_root().join("patterns/exfiltration.pattern");
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    for (pattern, out) in [(&old, &a), (&new, &b)] {
        let mut args = vec![
            "run".to_string(),
            pattern.display().to_string(),
            "--format".into(),
            "parquet".into(),
            "--out".into(),
            out.display().to_string(),
            "-q".into(),
        ];
        args.extend(data_args(&fx));
        flowpat(&args);
    }
    let reader =
        SerializedFileReader::new(std::fs::File::open(&a).expect("open a")).expect("parquet");
    let kv: std::collections::BTreeMap<String, String> = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .expect("key-value metadata")
        .iter()
        .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    let source = std::fs::read_to_string(&old).expect("read pattern");
    assert_eq!(kv["flowpat.pattern.text"], source);
    assert!(
        kv["flowpat.pattern.uses"].contains("define internal"),
        "{}",
        kv["flowpat.pattern.uses"]
    );
    assert_eq!(kv["flowpat.pattern.sha256"].len(), 64);
    assert!(
        kv["flowpat.flows"].contains("flows.parquet"),
        "{}",
        kv["flowpat.flows"]
    );

    let out = flowpat_output(&[
        "diff",
        "--results",
        &a.display().to_string(),
        &b.display().to_string(),
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(changes(&text(&out.stdout)), expected_changes());
    assert!(
        text(&out.stderr).contains("flowpat.pattern.sha256 differs"),
        "{}",
        text(&out.stderr)
    );
    let out = flowpat_output(&[
        "diff",
        "--results",
        &a.display().to_string(),
        &a.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

/// Host 10.1.1.1 around T0 = BASE_US: three flows and one event within an hour, others outside
/// the hour or about other hosts.
fn planted() -> Fixture {
    let t0 = BASE_US;
    let mut fx = Fixture::new(NETWORKS);
    fx.flows(
        "flows.parquet",
        vec![
            Flow::tcp("10.1.1.1", 50001, "203.0.113.5", 443).starting(t0 + 10 * MINUTE_US), // 0: out, in window
            Flow::tcp("10.1.1.1", 50002, "203.0.113.6", 22).starting(t0 - 30 * MINUTE_US), // 1: out, in window
            Flow::tcp("198.51.100.7", 50003, "10.1.1.1", 3389).starting(t0 + 50 * MINUTE_US), // 2: in, in window
            Flow::tcp("10.1.1.1", 50004, "203.0.113.5", 443).starting(t0 + 2 * HOUR_US), // 3: too late
            Flow::tcp("10.1.1.2", 50005, "203.0.113.5", 443).starting(t0), // 4: another host
            Flow::tcp("10.1.1.1", 50006, "203.0.113.9", 80).starting(t0 - 61 * MINUTE_US), // 5: too early
        ],
    );
    fx.events(
        "events.parquet",
        vec![
            Ev::new(
                t0 + 5 * MINUTE_US,
                "198.51.100.7",
                "10.1.1.1",
                "ET SCAN RDP",
            ), // 0: in window
            Ev::new(t0, "10.1.1.2", "198.51.100.99", "ET POLICY other host"), // 1: another host
            Ev::new(t0 + 3 * HOUR_US, "198.51.100.7", "10.1.1.1", "ET SCAN late"), // 2: too late
        ],
    );
    fx
}

fn records(csv_text: &str) -> BTreeSet<(String, String)> {
    csv_rows(csv_text)
        .into_iter()
        .map(|r| (r["kind"].clone(), r["row"].clone()))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn pivot_returns_exactly_the_planted_neighbourhood() {
    let fx = planted();
    let dir = tempfile::tempdir().expect("tempdir");
    let hood = dir.path().join("hood.csv");
    let mut args = vec![
        "pivot".to_string(),
        "--address".into(),
        "10.1.1.1".into(),
        "--at".into(),
        "2024-05-01T10:00:00Z".into(),
        "--window".into(),
        "1h".into(),
        "--format".into(),
        "csv".into(),
        "--out".into(),
        hood.display().to_string(),
    ];
    args.extend(data_args(&fx));
    flowpat(&args);
    let first = std::fs::read_to_string(&hood).expect("read hood");
    assert_eq!(
        records(&first),
        set(&[("flow", "0"), ("flow", "1"), ("flow", "2"), ("event", "0")])
    );

    // From a connection: its two ends within an hour of it (flow 2 at T0+50m, 198.51.100.7 ↔ 10.1.1.1).
    let mut args = vec![
        "pivot".to_string(),
        "--conn".into(),
        "flows.parquet:2".into(),
        "--window".into(),
        "1h".into(),
        "--format".into(),
        "csv".into(),
        "--no-patterns".into(),
    ];
    args.extend(data_args(&fx));
    assert_eq!(
        records(&flowpat(&args)),
        set(&[("flow", "0"), ("flow", "2"), ("event", "0")])
    );

    // Pivoting again from the first CSV: one more hop, each record with its own window.
    let mut args = vec![
        "pivot".to_string(),
        "--from".into(),
        hood.display().to_string(),
        "--window".into(),
        "1h".into(),
        "--format".into(),
        "csv".into(),
        "--no-patterns".into(),
    ];
    args.extend(data_args(&fx));
    assert_eq!(
        records(&flowpat(&args)),
        set(&[
            ("flow", "0"),
            ("flow", "1"),
            ("flow", "2"),
            ("flow", "4"),
            ("flow", "5"),
            ("event", "0")
        ])
    );
}

/// Ids the page drew, from `chromium --dump-dom`.
fn drawn(dom: &str, id: &str) -> BTreeSet<String> {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let open = start + dom[start..].find('>').expect("tag end") + 1;
    let close = open + dom[open..].find("</pre>").expect("pre end");
    dom[open..close]
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.replace("&amp;", "&"))
        .collect()
}

#[test]
fn html_view_draws_exactly_the_results_in_chromium() {
    let browser = Path::new("/usr/bin/chromium");
    if !browser.exists() {
        eprintln!("skipping the HTML view test: /usr/bin/chromium is absent (apt-get install -y chromium)");
        return;
    }
    let fx = view_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("exfil.html");
    let pattern = workspace_root().join("patterns/exfiltration.pattern");
    let mut args = vec![
        "run".to_string(),
        pattern.display().to_string(),
        "--format".into(),
        "html".into(),
        "--out".into(),
        page.display().to_string(),
        "-q".into(),
    ];
    args.extend(data_args(&fx));
    flowpat(&args);
    let mut csv_args = vec![
        "run".to_string(),
        pattern.display().to_string(),
        "--format".into(),
        "csv".into(),
        "-q".into(),
    ];
    csv_args.extend(data_args(&fx));
    let results = csv_rows(&flowpat(&csv_args));
    assert_eq!(results.len(), 3);
    let want_nodes: BTreeSet<String> = results
        .iter()
        .flat_map(|r| [r["srcadr"].clone(), r["destadr"].clone()])
        .collect();
    let want_edges: BTreeSet<String> = results
        .iter()
        .map(|r| format!("flow:{}:{}", r["conn.file"], r["conn.row"]))
        .collect();

    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        text(&out.stderr)
    );
    let dom = text(&out.stdout);
    assert!(
        dom.contains("data-drawn=\"yes\""),
        "the page script did not finish:\n{dom}"
    );
    assert_eq!(drawn(&dom, "drawn-nodes"), want_nodes);
    assert_eq!(drawn(&dom, "drawn-edges"), want_edges);
    // Self-contained: nothing is fetched from anywhere.
    let html = std::fs::read_to_string(&page).expect("read page");
    for remote in ["http://", "https://", "src=\"", "<link"] {
        assert!(
            !html
                .replace("http://www.w3.org/2000/svg", "")
                .contains(remote),
            "the page refers to `{remote}`"
        );
    }
    // Dispositions colour the nodes: internal and external both appear in the legend.
    assert!(html.contains(">internal</span>") && html.contains(">external</span>"));
}

/// The planted archive plus three exfiltration results: two flows sharing their ends, and
/// one more pair of hosts.
fn view_fixture() -> Fixture {
    let mut fx = planted();
    fx.flows(
        "more.parquet",
        vec![
            Flow::tcp("10.2.2.2", 40000, "192.0.2.50", 443).bytes(3_000_000, 10),
            Flow::tcp("10.2.2.2", 40001, "192.0.2.50", 443).bytes(4_000_000, 10),
            Flow::udp("10.2.2.3", 40002, "192.0.2.51", 53).bytes(9_000_000, 0),
        ],
    );
    fx
}

#[test]
fn dot_view_lists_the_same_graph() {
    let fx = view_fixture();
    let pattern = workspace_root().join("patterns/exfiltration.pattern");
    let mut args = vec![
        "run".to_string(),
        pattern.display().to_string(),
        "--format".into(),
        "dot".into(),
        "-q".into(),
    ];
    args.extend(data_args(&fx));
    let dot = flowpat(&args);
    assert!(dot.starts_with("digraph "), "{dot}");
    let edges: BTreeSet<&str> = dot
        .lines()
        .filter(|l| l.contains(" -> "))
        .filter_map(|l| l.split("id=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        edges,
        [
            "flow:more.parquet:0",
            "flow:more.parquet:1",
            "flow:more.parquet:2"
        ]
        .into_iter()
        .collect()
    );
    assert!(
        dot.contains("\"10.2.2.2\" [fillcolor=\"#4e79a7\""),
        "internal hosts are blue:\n{dot}"
    );
}

/// Estimates from samples against full runs on a generated archive of modest size.
#[test]
fn catalog_estimates_are_within_twice_the_actual_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("g");
    flowpat(&[
        "generate",
        "--rows",
        "200000",
        "--seed",
        "3",
        "--out",
        &archive.display().to_string(),
    ]);
    let data = |archive: &Path| {
        vec![
            "--flows".to_string(),
            archive.join("flows").display().to_string(),
            "--events".into(),
            archive.join("events").display().to_string(),
            "--networks".into(),
            archive.join("networks.csv").display().to_string(),
        ]
    };
    let mut catalog_args = vec![
        "catalog".to_string(),
        "patterns".into(),
        "--format".into(),
        "csv".into(),
        "-q".into(),
    ];
    catalog_args.extend(data(&archive));
    let estimates = csv_rows(&flowpat(&catalog_args));
    assert_eq!(estimates.len(), 6);
    for entry in &estimates {
        assert!(
            !entry["description"].is_empty()
                && !entry["author"].is_empty()
                && !entry["scheduled"].is_empty(),
            "{entry:?}"
        );
        let mut run_args = vec![
            "run".to_string(),
            entry["file"].clone(),
            "--format".into(),
            "csv".into(),
            "-q".into(),
        ];
        run_args.extend(data(&archive));
        let actual = csv_rows(&flowpat(&run_args)).len() as f64;
        let estimate: f64 = entry["estimated_results"].parse().expect("a number");
        eprintln!(
            "{}: estimated {estimate}, actual {actual} ({})",
            entry["name"], entry["sampling"]
        );
        if actual == 0.0 {
            assert!(
                estimate < 10.0,
                "{}: estimated {estimate} for none",
                entry["name"]
            );
        } else {
            assert!(
                estimate <= 2.0 * actual && estimate >= actual / 2.0,
                "{}: estimated {estimate}, actual {actual}",
                entry["name"]
            );
        }
        let runtime: f64 = entry["estimated_runtime_seconds"]
            .parse()
            .expect("a number");
        assert!(runtime > 0.0);
    }
}

/// Port jumping around two hosts: 10.0.0.5 reaches 198.51.100.9 on 21, 22 (twice) and 23/udp
/// (rows 0–3) and on 8080 (row 4, above 1024: no member); 10.0.0.6 reaches it on 25 ports
/// (rows 5–29); one flow ends before it starts (row 30, from 10.0.0.7, outbound to 443).
fn port_jumping_fixture() -> Fixture {
    let mut fx = Fixture::new(NETWORKS);
    let to = |src: &str, port: u16| Flow::tcp(src, 40000, "198.51.100.9", port);
    let mut flows = vec![
        to("10.0.0.5", 21),
        to("10.0.0.5", 22),
        to("10.0.0.5", 22).starting(BASE_US + HOUR_US),
        Flow::udp("10.0.0.5", 40000, "198.51.100.9", 23),
        to("10.0.0.5", 8080),
    ];
    flows.extend((1..=25).map(|p| to("10.0.0.6", 100 + p)));
    flows.push(Flow::tcp("10.0.0.7", 40000, "198.51.100.10", 443).lasting(-SECOND_US));
    fx.flows("flows.parquet", flows);
    fx
}

/// [`data_args`] without `--workers` (`why` and `explain` take none).
fn archive_args(fx: &Fixture) -> Vec<String> {
    let mut args = data_args(fx);
    let at = args
        .iter()
        .position(|a| a == "--workers")
        .expect("data_args gives --workers");
    args.drain(at..at + 2);
    args
}

#[test]
fn why_lists_the_records_behind_a_grouped_result() {
    let fx = port_jumping_fixture();
    let why = |key: &str| {
        let mut args = vec![
            "why".to_string(),
            "patterns/port-jumping.pattern".into(),
            "--key".into(),
            key.into(),
        ];
        args.extend(archive_args(&fx));
        flowpat(&args)
    };

    let text = why("srcadr=10.0.0.5");
    assert!(text.contains("(4 matches)"), "{text}");
    assert!(
        text.contains(
            "  group by srcadr, destadr = 4 matching row(s)\n      ✓ ports >= 3   [ports = 3]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  records behind the group: 4 joined row(s)\n"),
        "{text}"
    );
    // Each member: file:row, key attributes, every clause with the value it read, and what it
    // gave the aggregate.
    for (n, row, proto, port) in [(1, 0, 6, 21), (2, 1, 6, 22), (3, 2, 6, 22), (4, 3, 17, 23)] {
        let start = if row == 2 {
            "2024-05-01T11:00:00.000000Z"
        } else {
            "2024-05-01T10:00:00.000000Z"
        };
        let member = format!(
            "     {n}. conn = flow flows.parquet:{row}  10.0.0.5:40000 → 198.51.100.9:{port} protocol {proto}, start {start}, sent 1000 B, received 1000 B\n\
             \x20         ✓ conn.protocol in (6, 17)   [conn.protocol = {proto}]\n\
             \x20         ✓ conn.destPort < 1024   [conn.destPort = {port}]\n\
             \x20         ✓ srcadr.disposition = \"internal\"   [srcadr.disposition = internal]\n\
             \x20         ✓ destadr.disposition != \"internal\"   [destadr.disposition = external]\n\
             \x20         → ports ← conn.destPort = {port}\n"
        );
        assert!(text.contains(&member), "missing\n{member}\nin\n{text}");
    }
    assert!(!text.contains("flows.parquet:4"), "{text}");
    assert!(!text.contains("… and"), "{text}");

    // A group of 25: twenty listed, then how many more.
    let text = why("srcadr=10.0.0.6");
    assert!(
        text.contains("  records behind the group: 25 joined row(s)\n"),
        "{text}"
    );
    assert!(
        text.contains("    20. conn = flow flows.parquet:24  "),
        "{text}"
    );
    assert!(!text.contains("    21. "), "{text}");
    assert!(text.contains("    … and 5 more\n"), "{text}");
    assert!(text.contains("→ ports ← conn.destPort = 120\n"), "{text}");
    assert!(!text.contains("conn.destPort = 121]"), "{text}");
}

#[test]
fn analyze_counts_group_rows_and_quiet_silences_notes() {
    let fx = port_jumping_fixture();
    let mut args = vec![
        "explain".to_string(),
        "--analyze".into(),
        "patterns/port-jumping.pattern".into(),
    ];
    args.extend(archive_args(&fx));
    let analyze = flowpat(&args);
    // 30 flows pass the scan (all but the one to 8080) and go into the group-by; 2 groups
    // (10.0.0.5 and 10.0.0.6) reach 3 ports, with 4 + 25 rows behind them.
    for line in [
        "            30  scan `conn` (after push-down)\n",
        "            30  group by (rows in)\n",
        "             2  groups out (after having)\n",
        "            29  results (net rows × matches)\n",
        "all patterns together: 31 rows read, 30 row-scan pairs entered the dataflow",
    ] {
        assert!(analyze.contains(line), "missing {line:?} in\n{analyze}");
    }

    // The flow that ends before it starts is a note, gone with --quiet; the summary too.
    let mut run = vec![
        "run".to_string(),
        "patterns/".into(),
        "--format".into(),
        "jsonl".into(),
    ];
    run.extend(data_args(&fx));
    let out = flowpat_output(&run);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("flows.parquet: 31 row(s) read, 1 with end before start (kept)\n"),
        "{stderr}"
    );
    // Six patterns over one flow file: each row is counted once per scan that keeps it.
    assert!(stderr.contains("read 31 rows from 1 file(s); "), "{stderr}");
    run.push("-q".into());
    let out = flowpat_output(&run);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn out_names_a_folder_for_several_patterns() {
    let fx = port_jumping_fixture();
    let dir = tempfile::tempdir().expect("tempdir");

    // Several patterns, a file name: refused before anything is written.
    let file = dir.path().join("results.csv");
    let mut args = vec![
        "run".to_string(),
        "patterns/".into(),
        "--format".into(),
        "csv".into(),
        "--out".into(),
        file.display().to_string(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "--out {}: 6 patterns write one file each, so --out names a folder: give --out {}/",
            file.display(),
            dir.path().join("results").display()
        )),
        "{stderr}"
    );
    assert!(!file.exists());

    // One pattern, a missing folder with a trailing slash: created, the file inside.
    let folder = dir.path().join("new").join("deeper");
    let mut args = vec![
        "run".to_string(),
        "patterns/port-jumping.pattern".into(),
        "--format".into(),
        "csv".into(),
        "-q".into(),
        "--out".into(),
        format!("{}/", folder.display()),
    ];
    args.extend(data_args(&fx));
    flowpat(&args);
    let written =
        std::fs::read_to_string(folder.join("port-jumping.csv")).expect("port-jumping.csv");
    let rows = csv_rows(&written);
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["srcadr"].clone(),
                r["ports"].clone(),
                r["matches"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("10.0.0.5".to_string(), "3".to_string(), "4".to_string()),
            ("10.0.0.6".to_string(), "25".to_string(), "25".to_string())
        ]
    );
}

#[test]
fn pivot_names_a_missing_record_and_keeps_the_dot_name_short() {
    let fx = port_jumping_fixture();
    let mut args = vec![
        "pivot".to_string(),
        "--conn".into(),
        "flows.parquet:99999999".into(),
        "--no-patterns".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            "flow flows.parquet:99999999 is not in the archive: flows.parquet has 31 record(s), rows 0 to 30"
        ),
        "{}",
        text(&out.stderr)
    );

    let mut args = vec!["pivot".to_string()];
    for row in 0..30 {
        args.extend(["--conn".to_string(), format!("flows.parquet:{row}")]);
    }
    args.extend(["--no-patterns".into(), "--format".into(), "dot".into()]);
    args.extend(data_args(&fx));
    let dot = flowpat(&args);
    assert_eq!(
        dot.lines().next(),
        Some("digraph \"flowpat pivot: flow flows.parquet:0 and 29 more\" {")
    );

    // Without an archive the catalog leaves its estimates out and says why.
    let out = flowpat_output(&["catalog", "patterns/", "--format", "csv"]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("no archive given: estimated results and runtime need one"),
        "{}",
        text(&out.stderr)
    );
    for row in csv_rows(&text(&out.stdout)) {
        assert_eq!(
            (
                row["estimated_results"].as_str(),
                row["estimated_runtime_seconds"].as_str()
            ),
            ("", "")
        );
    }
}

// Findings of a new user's trial: a file given twice, long file names in the table, the
// diff's "… more" line, `why --pattern`, exit codes, inputs that gave nothing without a word,
// `count distinct` of an instance.

#[test]
fn a_pattern_file_given_twice_is_read_once() {
    let whole = flowpat_output(&["check", "patterns/"]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let again = flowpat_output(&["check", "patterns/", "patterns/exfiltration.pattern"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stderr), text(&whole.stderr));

    let fx = exfil_fixture();
    let mut args = vec![
        "run".to_string(),
        "patterns/exfiltration.pattern".into(),
        "./patterns/exfiltration.pattern".into(),
        "--format".into(),
        "csv".into(),
        "-q".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<String> = csv_rows(&text(&out.stdout))
        .into_iter()
        .map(|r| r["conn.row"].clone())
        .collect();
    assert_eq!(rows, ["0", "1", "3", "6"]);
}

#[test]
fn table_keeps_the_end_of_a_long_file_name() {
    let fx = exfil_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("scenario-042-malicious");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let file = folder.join("flows.parquet");
    std::fs::copy(fx.flows_dir().join("flows.parquet"), &file).expect("copy");
    assert!(file.display().to_string().chars().count() > 40);
    let out = flowpat(&[
        "run".to_string(),
        "patterns/exfiltration.pattern".into(),
        "--flows".into(),
        file.display().to_string(),
        "--networks".into(),
        fx.networks_path().display().to_string(),
        "-q".into(),
    ]);
    let cells: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|c| c.contains("flows.parquet"))
        .collect();
    assert_eq!(
        cells, ["…/scenario-042-malicious/flows.parquet"; 4],
        "{out}"
    );
}

#[test]
fn result_diff_with_a_limit_says_how_many_more() {
    let fx = exfil_fixture();
    let dir = tempfile::tempdir().expect("tempdir");
    let new = new_revision(dir.path());
    let old = workspace_root().join("patterns/exfiltration.pattern");
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    for (pattern, out) in [(&old, &a), (&new, &b)] {
        let mut args = vec![
            "run".to_string(),
            pattern.display().to_string(),
            "--format".into(),
            "csv".into(),
            "--out".into(),
            out.display().to_string(),
            "-q".into(),
        ];
        args.extend(data_args(&fx));
        flowpat(&args);
    }
    let out = flowpat_output(&[
        "diff",
        "--results",
        &a.display().to_string(),
        &b.display().to_string(),
        "--limit",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Two rows removed (one shown), one added (shown).
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("more (use --limit or --format csv)"))
            .collect::<Vec<_>>(),
        ["  … 1 more (use --limit or --format csv)"],
        "{stdout}"
    );
}

#[test]
fn why_names_a_missing_pattern_before_asking_for_a_row() {
    let fx = exfil_fixture();
    let mut args = vec![
        "why".to_string(),
        "patterns/exfiltration.pattern".into(),
        "--pattern".into(),
        "nope".into(),
    ];
    args.extend(archive_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "error: --pattern nope: no pattern of that name in patterns/exfiltration.pattern \
         (it has: `exfiltration connections`)\n"
    );
}

#[test]
fn exit_codes_follow_the_readme() {
    let fx = exfil_fixture();
    let run = |extra: &[&str]| {
        let mut args = vec!["run".to_string(), "patterns/exfiltration.pattern".into()];
        args.extend(archive_args(&fx));
        args.extend(extra.iter().map(|s| s.to_string()));
        flowpat_output(&args)
    };
    let expect = |out: Output, code: i32, message: &str| {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    };
    // 2: usage, found by clap or after parsing.
    expect(
        run(&["--workers", "0"]),
        2,
        "invalid value '0' for '--workers <WORKERS>': a run needs at least one worker",
    );
    expect(
        run(&["--since", "2024-05-02", "--until", "2024-05-01"]),
        2,
        "--since 2024-05-02 is not before --until 2024-05-01",
    );
    expect(
        run(&["--flows-format", "zeek", "--biflow", "60s"]),
        2,
        "--biflow pairs the two directions of unidirectional records (nfdump, silk); zeek records are already bidirectional",
    );
    expect(
        run(&["--param", "threshold"]),
        2,
        "--param takes NAME=VALUE, got `threshold`",
    );
    expect(
        run(&["--since", "yesterday"]),
        2,
        "`yesterday` is not a time",
    );
    // 3: runtime errors, `check` on a missing file included.
    expect(
        flowpat_output(&["check", "patterns/nope.pattern"]),
        3,
        "pattern file patterns/nope.pattern does not exist",
    );
    expect(
        flowpat_output(&[
            "run",
            "patterns/exfiltration.pattern",
            "--flows",
            &fx.flows_dir().display().to_string(),
            "--networks",
            "/nonexistent/networks.csv",
        ]),
        3,
        "reading networks file /nonexistent/networks.csv",
    );
    // 1: findings.
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.pattern");
    std::fs::write(&broken, "search x is\n   instance a : Nothing;\nend\n").expect("write");
    expect(
        flowpat_output(&["check".to_string(), broken.display().to_string()]),
        1,
        "error(s)",
    );
    // The location once (`file:line:col`), not twice.
    let out = flowpat_output(&["check".to_string(), broken.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.pattern:2:17]"), "{stderr}");
    assert!(!stderr.contains("broken.pattern:2:17:"), "{stderr}");
    // A file that ends mid-pattern: the caret is after the last thing written.
    let cut = dir.path().join("cut.pattern");
    std::fs::write(
        &cut,
        "search x is\n   instance a : NetworkAddress where disposition = \"gov\";\n\n",
    )
    .expect("write");
    let out = flowpat_output(&["check".to_string(), cut.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected `end`, found end of file")
            && stderr.contains("cut.pattern:2:58]"),
        "{stderr}"
    );
    // A file whose first item does not parse has that error alone (not also "holds nothing").
    let first_bad = dir.path().join("first-bad.pattern");
    std::fs::write(&first_bad, "serch x is\nend\n").expect("write");
    let out = flowpat_output(&["check".to_string(), first_bad.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("holds no") && stderr.contains("1 error(s)"),
        "{stderr}"
    );
    // An empty file checks out as nothing: an error, as `run` refuses it.
    let empty = dir.path().join("empty.pattern");
    std::fs::write(&empty, "// nothing yet\n").expect("write");
    expect(
        flowpat_output(&["check".to_string(), empty.display().to_string()]),
        1,
        "holds no `search`, `define` or `param`: nothing to check",
    );
    let mut args = vec!["run".to_string(), empty.display().to_string()];
    args.extend(data_args(&fx));
    expect(flowpat_output(&args), 1, "no patterns to run in");
    // … but not for `diff`, whose 1 means "they differ".
    let mut args = vec![
        "diff".to_string(),
        broken.display().to_string(),
        "patterns/exfiltration.pattern".into(),
    ];
    args.extend(data_args(&fx));
    expect(
        flowpat_output(&args),
        3,
        "a revision does not compile; nothing compared",
    );
    // Missing inputs are usage mistakes, said before the sample is generated.
    let fresh = dir.path().join("never-generated");
    let out = Command::new(flowpat_bin())
        .env("FLOWPAT_SAMPLE_DIR", &fresh)
        .args(["run", "patterns/exfiltration.pattern", "--sample", "-q"])
        .args(["--since", "2024-03-05", "--until", "2024-03-01"])
        .current_dir(workspace_root())
        .output()
        .expect("flowpat");
    expect(out, 2, "is not before --until");
    assert!(
        !fresh.exists(),
        "the sample was generated before the usage error"
    );
    expect(
        flowpat_output(&[
            "run".to_string(),
            "patterns/exfiltration.pattern".into(),
            "--flows".into(),
            fx.flows_dir().display().to_string(),
        ]),
        2,
        "no networks file: give --networks FILE",
    );
    let mut args = vec!["pivot".to_string(), "--no-patterns".into()];
    args.extend(data_args(&fx));
    expect(
        flowpat_output(&args),
        2,
        "nothing to pivot from: give --address, --conn, --event or --from",
    );
    // The help lists the scheme.
    let help = flowpat(&["--help"]);
    assert!(
        help.contains("Exit status:") && help.contains("3  runtime error"),
        "{help}"
    );
}

#[test]
fn inputs_that_give_nothing_say_why() {
    // `Internal` where the catalog tests `internal`: a warning names both, also with -q.
    let mut fx = Fixture::new("10.0.0.0/8,Internal\n");
    fx.flows(
        "flows.parquet",
        vec![Flow::tcp("10.0.0.5", 40000, "198.51.100.9", 443).bytes(3_000_000, 100)],
    );
    let mut args = vec![
        "run".to_string(),
        "patterns/exfiltration.pattern".into(),
        "-q".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "warning: `exfiltration connections` compares `disposition` with `internal`, but no \
             address is labelled `internal`: {} gives only `Internal`, `external` (the default, \
             for addresses in no listed network); labels are case-sensitive: did you mean \
             `Internal`?\n",
            fx.networks_path().display()
        )
    );

    // `why` says the same before it finds no result.
    let mut args = vec![
        "why".to_string(),
        "patterns/exfiltration.pattern".into(),
        "--row".into(),
        "0".into(),
    ];
    args.extend(archive_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "warning: `exfiltration connections` compares `disposition` with `internal`"
        ) && stderr.ends_with("error: `exfiltration connections` has no results on this data\n"),
        "{stderr}"
    );

    // A pattern of events without --events: a note, not with -q.
    let fx = exfil_fixture();
    let mut args = vec![
        "run".to_string(),
        "patterns/ftp-exfiltration.pattern".into(),
    ];
    args.extend(data_args(&fx));
    let out = flowpat_output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "note: `ftp exfiltration connections` matches events and no --events archive was given: it will have no results"
        ),
        "{}",
        text(&out.stderr)
    );
    args.push("-q".into());
    let out = flowpat_output(&args);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn count_distinct_of_an_address_instance_counts_addresses() {
    let mut fx = Fixture::new(NETWORKS);
    let to = |src: &str, dst: &str| Flow::tcp(src, 40000, dst, 443);
    fx.flows(
        "flows.parquet",
        vec![
            to("10.0.0.5", "198.51.100.1"),
            to("10.0.0.5", "198.51.100.2"),
            to("10.0.0.5", "198.51.100.3"),
            to("10.0.0.5", "198.51.100.3"),
            to("10.0.0.6", "198.51.100.1"),
            to("10.0.0.6", "198.51.100.1"),
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        workspace_root().join("patterns/common.pattern"),
        dir.path().join("common.pattern"),
    )
    .expect("copy common");
    let pattern = |arg: &str| {
        format!(
            "use \"common.pattern\";\nsearch spread is\n   instance srcadr : internal;\n   \
             instance destadr : outside;\n   instance conn : NetworkConnection;\n   connections\n      \
             conn.source connects srcadr;\n      conn.destination connects destadr;\n   end\n   \
             group by srcadr\n      peers = count distinct {arg};\n   end\n   export srcadr; peers; end\nend\n"
        )
    };
    let mut got = Vec::new();
    for (name, arg) in [("instance", "destadr"), ("attribute", "destadr.address")] {
        let path = dir.path().join(format!("{name}.pattern"));
        std::fs::write(&path, pattern(arg)).expect("write pattern");
        let mut args = vec![
            "run".to_string(),
            path.display().to_string(),
            "--format".into(),
            "csv".into(),
            "-q".into(),
        ];
        args.extend(data_args(&fx));
        got.push(flowpat(&args));
    }
    assert_eq!(got[0], "srcadr,peers,matches\n10.0.0.5,3,4\n10.0.0.6,1,2\n");
    assert_eq!(got[0], got[1]);
}

#[test]
fn import_refuses_biflow_for_bidirectional_presets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("conn.log");
    std::fs::write(&log, "#separator \\x09\n#fields\tts\tuid\n").expect("write log");
    let out = Command::new(flowpat_bin())
        .args(["import", "--from", "zeek", "--biflow", "60s"])
        .arg(&log)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("flowpat import");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("zeek records are already bidirectional"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}

/// The built-in sample is generated beside its folder and renamed into place: runs started
/// together (two terminals, the processes of a cluster on one host) all read a whole archive,
/// write the same results and leave nothing staged behind.
#[test]
fn concurrent_first_runs_of_the_sample_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = dir.path().join("sample");
    let children: Vec<_> = (0..3)
        .map(|k| {
            Command::new(flowpat_bin())
                .env("FLOWPAT_SAMPLE_DIR", &sample)
                .arg("run")
                .arg(workspace_root().join("patterns"))
                .args(["--sample", "--quiet", "--format", "csv", "--out"])
                .arg(dir.path().join(format!("out{k}")))
                .spawn()
                .expect("spawning flowpat run")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let listing = |path: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .expect("listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(listing(dir.path()), ["out0", "out1", "out2", "sample"]);
    for name in listing(&dir.path().join("out0")) {
        let read = |k: usize| {
            std::fs::read(dir.path().join(format!("out{k}")).join(&name)).expect("result file")
        };
        assert!(!read(0).is_empty(), "{name}");
        assert_eq!(read(0), read(1), "{name}");
        assert_eq!(read(0), read(2), "{name}");
    }
}

/// A sample folder that exists without a complete archive (FLOWPAT_SAMPLE_DIR naming the wrong
/// folder, say) is refused and left as it is, never replaced.
#[test]
fn an_incomplete_sample_folder_is_refused_not_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kept = dir.path().join("flows/keep.parquet");
    std::fs::create_dir_all(kept.parent().expect("parent")).expect("mkdir");
    std::fs::write(&kept, b"not mine to delete").expect("write");
    let out = Command::new(flowpat_bin())
        .env("FLOWPAT_SAMPLE_DIR", dir.path())
        .args(["run", "patterns/exfiltration.pattern", "--sample", "-q"])
        .current_dir(workspace_root())
        .output()
        .expect("flowpat");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("holds no complete sample archive (no networks.csv)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&kept).expect("kept"), b"not mine to delete");
}

/// A staging folder of the sample that a killed run left (untouched for over an hour) is
/// removed by the next generation; a recent one, perhaps another run's at work, is not.
#[test]
fn stale_sample_staging_folders_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stage = |pid: u32, age_secs: u64| {
        let path = dir.path().join(format!(".sample.{pid}.tmp"));
        std::fs::create_dir_all(path.join("flows")).expect("mkdir");
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
        std::fs::File::open(&path)
            .expect("open")
            .set_modified(when)
            .expect("mtime");
        path
    };
    let (stale, recent) = (stage(999_991, 7200), stage(999_992, 10));
    let out = Command::new(flowpat_bin())
        .env("FLOWPAT_SAMPLE_DIR", dir.path().join("sample"))
        .args(["run", "patterns/exfiltration.pattern", "--sample", "-q"])
        .current_dir(workspace_root())
        .output()
        .expect("flowpat");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stale.exists(), "the stale stage is still there");
    assert!(recent.exists(), "a recent stage was removed");
    assert!(dir.path().join("sample/networks.csv").exists());
}
