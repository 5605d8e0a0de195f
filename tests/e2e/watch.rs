//! `flowpat watch` and `flowpat results` as a user runs them: late events, networks edits,
//! `--on-change`, and the restart promise — after a crash at any point (the
//! `FLOWPAT_CRASH_AT` test hook, and a real `kill -9`) the emit file holds exactly the change
//! stream of an uninterrupted run, and its changes add up to `flowpat run` on the final files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flowpat_tests::cli::{flowpat, flowpat_bin, pattern_path, workspace_root};
use flowpat_tests::fixture::Fixture;
use flowpat_tests::model::{Ev, Flow, BASE_US, HOUR_US};

/// `flowpat watch PATTERN --once` over a fixture, with a state folder and an emit file.
fn watch_once(pattern: &Path, root: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(flowpat_bin());
    cmd.arg("watch")
        .arg(pattern)
        .arg("--flows")
        .arg(root.join("flows"))
        .arg("--events")
        .arg(root.join("events"));
    cmd.arg("--networks")
        .arg(root.join("networks.csv"))
        .arg("--state")
        .arg(root.join("state"));
    cmd.arg("--emit")
        .arg(root.join("changes.jsonl"))
        .args(["--once", "--poll", "20", "--workers", "1"])
        .args(extra);
    let out = cmd
        .current_dir(workspace_root())
        .output()
        .expect("running flowpat watch");
    assert!(
        out.status.success(),
        "watch failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The lines of one epoch, as `(change, cause, selected fields)`.
fn epoch_lines(
    all: &[serde_json::Value],
    epoch: u64,
    fields: &[&str],
) -> Vec<(String, String, Vec<String>)> {
    all.iter()
        .filter(|v| v["epoch"] == epoch)
        .map(|v| {
            let values = fields
                .iter()
                .map(|f| {
                    v[*f]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v[*f].to_string())
                })
                .collect();
            (
                v["change"].as_str().unwrap_or("").to_owned(),
                v["cause"].as_str().unwrap_or("").to_owned(),
                values,
            )
        })
        .collect()
}

const FTP_NETWORKS: &str = "10.0.0.0/8,internal\ndefault,external\n";

#[test]
fn late_event_still_matches_the_temporal_ftp_pattern() {
    let mut fx = Fixture::new(FTP_NETWORKS);
    // An FTP upload from internal 10.0.0.5 at BASE + 10 h, and one at BASE + 40 h.
    fx.flows(
        "ftp.parquet",
        vec![
            Flow::tcp("10.0.0.5", 40000, "198.51.100.7", 21).starting(BASE_US + 10 * HOUR_US),
            Flow::tcp("10.0.0.5", 40001, "198.51.100.7", 21).starting(BASE_US + 40 * HOUR_US),
        ],
    );
    let pattern = pattern_path("ftp-exfiltration-temporal");
    watch_once(&pattern, fx.path(), &[]);
    assert!(
        lines(&fx.path().join("changes.jsonl")).is_empty(),
        "no event yet, no match"
    );
    // The alert about the host arrives afterwards: 1 h before the first upload (so 31 h before
    // the second, outside the window), and one exactly at the first upload (a lag of 0: no match).
    fx.events(
        "late.parquet",
        vec![
            Ev::new(
                BASE_US + 9 * HOUR_US,
                "203.0.113.66",
                "10.0.0.5",
                "ET POLICY suspicious",
            ),
            Ev::new(
                BASE_US + 10 * HOUR_US,
                "203.0.113.66",
                "10.0.0.5",
                "ET POLICY at the same time",
            ),
        ],
    );
    let out = watch_once(&pattern, fx.path(), &[]);
    let all = lines(&fx.path().join("changes.jsonl"));
    assert_eq!(
        epoch_lines(
            &all,
            1,
            &[
                "event.file",
                "event.row",
                "srcadr",
                "conn.file",
                "conn.row",
                "destadr",
                "matches"
            ]
        ),
        vec![(
            "+".to_owned(),
            "add events:late.parquet".to_owned(),
            [
                "late.parquet",
                "0",
                "10.0.0.5",
                "ftp.parquet",
                "0",
                "198.51.100.7",
                "1"
            ]
            .map(String::from)
            .to_vec()
        )]
    );
    assert_eq!(all.len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("epoch 1 [add events:late.parquet]: +1 -0"),
        "summary line: {stderr}"
    );
    // `results` shows the match from the state alone.
    let results = flowpat(&[
        "results",
        "--state",
        &fx.path().join("state").display().to_string(),
        "--format",
        "csv",
    ]);
    let mut rows = results.lines();
    assert!(rows
        .next()
        .expect("header")
        .starts_with("event.file,event.row,"));
    let row = rows.next().expect("one row");
    assert!(
        row.starts_with("late.parquet,0,")
            && row.contains(",10.0.0.5,ftp.parquet,0,")
            && row.ends_with(",1"),
        "{row}"
    );
    assert_eq!(rows.next(), None);
}

#[test]
fn networks_edit_retracts_and_adds_exactly_the_relabelled_rows() {
    let mut fx = Fixture::new("10.0.0.0/8,internal\ndefault,external\n");
    // Two lopsided uploads: from 10.0.0.5 (internal now) and from 192.168.1.7 (internal after the edit).
    fx.flows(
        "up.parquet",
        vec![
            Flow::tcp("10.0.0.5", 40000, "198.51.100.7", 443).bytes(5_000_000, 1000),
            Flow::tcp("192.168.1.7", 40000, "198.51.100.8", 443).bytes(7_000_000, 0),
        ],
    );
    let pattern = pattern_path("exfiltration");
    watch_once(&pattern, fx.path(), &[]);
    let fields = ["srcadr", "conn.file", "conn.row", "destadr", "matches"];
    let all = lines(&fx.path().join("changes.jsonl"));
    assert_eq!(
        epoch_lines(&all, 0, &fields),
        vec![(
            "+".to_owned(),
            "add flows:up.parquet".to_owned(),
            ["10.0.0.5", "up.parquet", "0", "198.51.100.7", "1"]
                .map(String::from)
                .to_vec()
        )]
    );
    std::fs::write(
        fx.networks_path(),
        "# 10/8 moves to the dmz\n10.0.0.0/8,dmz\n192.168.0.0/16,internal\ndefault,external\n",
    )
    .expect("edit networks");
    let out = watch_once(&pattern, fx.path(), &[]);
    let all = lines(&fx.path().join("changes.jsonl"));
    let cause = format!("networks {}", fx.networks_path().display());
    assert_eq!(
        epoch_lines(&all, 1, &fields),
        vec![
            (
                "-".to_owned(),
                cause.clone(),
                ["10.0.0.5", "up.parquet", "0", "198.51.100.7", "1"]
                    .map(String::from)
                    .to_vec()
            ),
            (
                "+".to_owned(),
                cause,
                ["192.168.1.7", "up.parquet", "1", "198.51.100.8", "1"]
                    .map(String::from)
                    .to_vec()
            ),
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(all.len(), 3);
}

#[test]
fn on_change_gets_each_epoch_and_failures_are_retried_not_fatal() {
    let mut fx = Fixture::new(FTP_NETWORKS);
    fx.flows(
        "up.parquet",
        vec![Flow::tcp("10.0.0.5", 40000, "198.51.100.7", 443).bytes(5_000_000, 1000)],
    );
    let hook_out = fx.path().join("hook.out");
    let hook = format!("cat >> '{}'", hook_out.display());
    watch_once(
        &pattern_path("exfiltration"),
        fx.path(),
        &["--on-change", &hook],
    );
    assert_eq!(
        std::fs::read_to_string(&hook_out).expect("hook output"),
        std::fs::read_to_string(fx.path().join("changes.jsonl")).expect("emit")
    );
    fx.flows(
        "more.parquet",
        vec![Flow::tcp("10.0.0.6", 40000, "198.51.100.7", 443).bytes(5_000_000, 1000)],
    );
    let out = watch_once(
        &pattern_path("exfiltration"),
        fx.path(),
        &["--on-change", "cat >/dev/null; exit 3"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .matches("--on-change for epoch 1 exited with exit status: 3; retrying")
            .count(),
        3,
        "{stderr}"
    );
    assert!(stderr.contains("gave up after 4 attempts"), "{stderr}");
    assert_eq!(lines(&fx.path().join("changes.jsonl")).len(), 2);
}

/// An archive from `flowpat generate`, and the changes a driver applies to a watched folder:
/// the first epoch is `part-0000` and the events; then one change per epoch.
struct Scenario {
    _src: tempfile::TempDir,
    src: PathBuf,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Add(usize),
    Remove(usize),
    /// Part `.0`'s name with part `.1`'s content.
    Replace(usize, usize),
}

const STEPS: [Step; 6] = [
    Step::Add(1),
    Step::Add(2),
    Step::Remove(0),
    Step::Add(3),
    Step::Replace(1, 4),
    Step::Add(0),
];

impl Scenario {
    fn new() -> Scenario {
        let dir = tempfile::tempdir().expect("tempdir");
        flowpat(&[
            "generate",
            "--rows",
            "2500",
            "--seed",
            "4",
            "--files",
            "5",
            "--out",
            &dir.path().display().to_string(),
        ]);
        Scenario {
            src: dir.path().to_path_buf(),
            _src: dir,
        }
    }

    fn part(&self, k: usize) -> PathBuf {
        let mut parts: Vec<PathBuf> = std::fs::read_dir(self.src.join("flows"))
            .expect("flows")
            .map(|e| e.expect("entry").path())
            .collect();
        parts.sort();
        parts[k].clone()
    }

    fn put(&self, k: usize, root: &Path, name: usize) {
        let to = root.join(format!("flows/part-{name}.parquet"));
        let staged = root.join(format!("flows/.part-{name}.partial"));
        std::fs::copy(self.part(k), &staged).expect("copy");
        std::fs::rename(&staged, &to).expect("rename");
    }

    fn apply(&self, step: Step, root: &Path) {
        match step {
            Step::Add(k) => self.put(k, root, k),
            Step::Remove(k) => {
                std::fs::remove_file(root.join(format!("flows/part-{k}.parquet"))).expect("remove")
            }
            Step::Replace(k, from) => self.put(from, root, k),
        }
    }

    /// A fresh watched folder holding the first epoch's files.
    fn folder(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("events")).expect("mkdir");
        std::fs::copy(
            self.src.join("networks.csv"),
            dir.path().join("networks.csv"),
        )
        .expect("networks");
        std::fs::copy(
            self.src.join("events/events.parquet"),
            dir.path().join("events/events.parquet"),
        )
        .expect("events");
        self.put(0, dir.path(), 0);
        dir
    }
}

fn spawn_watch(root: &Path, crash: Option<&str>) -> Child {
    let mut cmd = Command::new(flowpat_bin());
    cmd.arg("watch")
        .arg(workspace_root().join("patterns"))
        .arg("--flows")
        .arg(root.join("flows"))
        .arg("--events")
        .arg(root.join("events"));
    cmd.arg("--networks")
        .arg(root.join("networks.csv"))
        .arg("--state")
        .arg(root.join("state"))
        .arg("--emit")
        .arg(root.join("changes.jsonl"));
    cmd.args(["--poll", "15", "--workers", "2", "--quiet"])
        .env_remove("FLOWPAT_CRASH_AT")
        // Small results logs become new bases, so that commits both append to the log and
        // write bases.
        .env("FLOWPAT_RESULTS_LOG_MIN", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(point) = crash {
        cmd.env("FLOWPAT_CRASH_AT", point);
    }
    cmd.spawn().expect("spawning flowpat watch")
}

fn committed_epoch(root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(root.join("state/state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["epoch"].as_u64()
}

/// What may interrupt a driven watch.
#[derive(Clone, Copy)]
enum Interrupt {
    None,
    /// `FLOWPAT_CRASH_AT` for the first process.
    Hook(&'static str),
    /// `kill -9` this long after each of these steps is applied.
    Kill(&'static [(usize, u64)]),
}

/// Runs the scenario against a live watch, applying each step once the previous epoch has
/// committed; restarts the watch whenever it dies. Returns the emit file and whether the
/// watch was interrupted.
fn drive(scenario: &Scenario, interrupt: Interrupt) -> (Vec<u8>, u32, tempfile::TempDir) {
    let dir = scenario.folder();
    let root = dir.path();
    let mut child = spawn_watch(
        root,
        if let Interrupt::Hook(point) = interrupt {
            Some(point)
        } else {
            None
        },
    );
    let mut restarts = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    let wait_for = |epoch: u64, child: &mut Child, restarts: &mut u32| {
        while committed_epoch(root) != Some(epoch) {
            assert!(Instant::now() < deadline, "epoch {epoch} never committed");
            if let Ok(Some(_status)) = child.try_wait() {
                *child = spawn_watch(root, None);
                *restarts += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for(0, &mut child, &mut restarts);
    for (k, step) in STEPS.iter().enumerate() {
        scenario.apply(*step, root);
        if let Interrupt::Kill(points) = interrupt {
            if let Some((_, delay)) = points.iter().find(|(at, _)| *at == k) {
                std::thread::sleep(Duration::from_millis(*delay));
                child.kill().expect("kill -9");
                let _ = child.wait();
                // Restarted at once: the epoch may have committed before the kill (a fast
                // epoch), and after the last step nothing else would restart it.
                child = spawn_watch(root, None);
                restarts += 1;
            }
        }
        wait_for(k as u64 + 1, &mut child, &mut restarts);
    }
    child.kill().expect("stopping the watch");
    let _ = child.wait();
    (
        std::fs::read(root.join("changes.jsonl")).expect("emit file"),
        restarts,
        dir,
    )
}

/// JSON objects as a multiset, without the fields only a change line has.
fn bag(lines: impl Iterator<Item = (i64, serde_json::Value)>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (d, mut v) in lines {
        if let Some(obj) = v.as_object_mut() {
            for field in ["change", "epoch", "cause"] {
                obj.remove(field);
            }
        }
        *out.entry(v.to_string()).or_default() += d;
    }
    out.retain(|_, n| *n != 0);
    out
}

#[test]
fn crashes_lose_and_repeat_no_change() {
    let scenario = Scenario::new();
    let (reference, restarts, dir) = drive(&scenario, Interrupt::None);
    assert_eq!(restarts, 0);
    // The uninterrupted stream adds up to `flowpat run` on the final files.
    let root = dir.path();
    let text = String::from_utf8(reference.clone()).expect("utf-8");
    let emitted = bag(text.lines().map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        (if v["change"] == "+" { 1 } else { -1 }, v)
    }));
    let run = flowpat(&[
        "run",
        &workspace_root().join("patterns").display().to_string(),
        "--flows",
        &root.join("flows").display().to_string(),
        "--events",
        &root.join("events").display().to_string(),
        "--networks",
        &root.join("networks.csv").display().to_string(),
        "--format",
        "jsonl",
        "--workers",
        "1",
        "--quiet",
    ]);
    let batch = bag(run
        .lines()
        .map(|l| (1, serde_json::from_str(l).expect("json"))));
    assert!(!batch.is_empty());
    assert_eq!(emitted, batch, "the change stream sums to the batch result");
    let epochs: std::collections::BTreeSet<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["epoch"]
                .as_u64()
                .expect("epoch")
        })
        .collect();
    assert!(epochs.len() >= 5, "changes in most epochs: {epochs:?}");
    // `results` prints what `run` prints.
    let results = |root: &Path| {
        flowpat(&[
            "results",
            "--state",
            &root.join("state").display().to_string(),
            "--format",
            "jsonl",
        ])
    };
    assert_eq!(results(root), run);
    // Six patterns' CSV on stdout would be six documents in one: refused, as `run` does.
    let csv = Command::new(flowpat_bin())
        .args(["results", "--format", "csv", "--state"])
        .arg(root.join("state"))
        .output()
        .expect("flowpat results");
    assert_eq!(csv.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&csv.stderr).contains("give --out DIR/"));
    // The results were committed both as log entries and as new bases: with
    // `FLOWPAT_RESULTS_LOG_MIN=0` a log becomes a new base once it outgrows the old one (here
    // epochs 1, 3, 4 and 5 are logged, 2 and 6 write bases).
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("state/state.json")).expect("state"),
    )
    .expect("json");
    assert_ne!(doc["results"], "results-0.json", "a later base was written");
    assert!(
        !root.join("state/results-0.json").exists(),
        "the old base is gone"
    );

    for point in [
        "mid-emit:0",
        "after-emit:1",
        "before-emit:2",
        "mid-emit:3",
        "after-results:4",
        "after-state:5",
        "after-emit:6",
    ] {
        let (stream, restarts, dir) = drive(&scenario, Interrupt::Hook(point));
        assert_eq!(restarts, 1, "{point}: the hook crashed the watch once");
        assert!(
            stream == reference,
            "{point}: the emit file differs from the uninterrupted run's: {}",
            first_difference(&stream, &reference)
        );
        assert_eq!(
            results(dir.path()),
            run,
            "{point}: results after the restart"
        );
    }
    let (stream, restarts, dir) = drive(
        &scenario,
        Interrupt::Kill(&[(0, 0), (2, 3), (4, 12), (5, 30)]),
    );
    assert_eq!(restarts, 4);
    assert!(
        stream == reference,
        "kill -9: the emit file differs from the uninterrupted run's: {}",
        first_difference(&stream, &reference)
    );
    assert_eq!(
        results(dir.path()),
        run,
        "kill -9: results after the restarts"
    );
}

/// The first line where two emit files differ, for the failure message.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let (got, want) = (String::from_utf8_lossy(got), String::from_utf8_lossy(want));
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let k = g
        .iter()
        .zip(&w)
        .position(|(a, b)| a != b)
        .unwrap_or(g.len().min(w.len()));
    format!(
        "{} lines vs {} expected; line {k}:\n got  {}\n want {}",
        g.len(),
        w.len(),
        g.get(k).unwrap_or(&"<end>"),
        w.get(k).unwrap_or(&"<end>")
    )
}

/// The rows of the first `parts` generated flow parts, `rows` per batch, as the segments of one
/// Arrow IPC stream: the schema and each batch's bytes (concatenated with `end`, the stream).
struct Stream {
    segments: Vec<Vec<u8>>,
    end: Vec<u8>,
    batch_rows: Vec<usize>,
}

impl Stream {
    fn of(scenario: &Scenario, parts: usize, rows: usize) -> Stream {
        let mut batches = Vec::new();
        for k in 0..parts {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(scenario.part(k)).expect("part"),
            )
            .expect("parquet")
            .with_batch_size(rows)
            .build()
            .expect("reader");
            batches.extend(reader.map(|b| b.expect("batch")));
        }
        let mut writer =
            arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &batches[0].schema())
                .expect("writer");
        let mut segments = Vec::new();
        let mut at = 0;
        for (k, batch) in batches.iter().enumerate() {
            writer.write(batch).expect("write");
            let len = writer.get_ref().len();
            // The schema goes with the first batch.
            segments.push(writer.get_ref()[at..len].to_vec());
            at = len;
            let _ = k;
        }
        let all = writer.into_inner().expect("finish");
        Stream {
            segments,
            end: all[at..].to_vec(),
            batch_rows: batches.iter().map(|b| b.num_rows()).collect(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.segments.concat();
        out.extend(&self.end);
        out
    }

    /// `rows a-b` of each group of batches, as the causes name them.
    fn ranges(&self, groups: &[usize]) -> Vec<String> {
        let mut out = Vec::new();
        let (mut first, mut k) = (0, 0);
        for &n in groups {
            let rows: usize = self.batch_rows[k..k + n].iter().sum();
            out.push(format!(
                "add flows:<stdin> rows {first}-{}",
                first + rows - 1
            ));
            first += rows;
            k += n;
        }
        out
    }
}

/// The bag of an emit file's changes, with stdin's records named `name`.
fn emitted_bag(path: &Path, name: &str) -> BTreeMap<String, i64> {
    bag(lines(path).into_iter().map(|mut v| {
        if let Some(obj) = v.as_object_mut() {
            for value in obj.values_mut() {
                if value == "<stdin>" {
                    *value = serde_json::Value::from(name);
                }
            }
        }
        (if v["change"] == "+" { 1 } else { -1 }, v)
    }))
}

/// `flowpat run` over the catalog as a bag of JSON rows.
fn run_bag(extra: &[&str]) -> BTreeMap<String, i64> {
    let mut args = vec![
        "run".to_string(),
        workspace_root().join("patterns").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--format", "jsonl", "--workers", "1", "--quiet"].map(String::from));
    bag(flowpat(&args)
        .lines()
        .map(|l| (1, serde_json::from_str(l).expect("json"))))
}

/// The causes of the summary lines on stderr that read stdin.
fn stdin_causes(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let start = l.find("[add flows:<stdin>")?;
            let end = l[start..].find(']')?;
            Some(l[start + 1..start + end].to_string())
        })
        .collect()
}

/// `flowpat watch` of the catalog with `args`, stdin fed by `feed` (which closes it).
fn watch_stdin(
    root: &Path,
    args: &[&str],
    feed: impl FnOnce(&mut std::process::ChildStdin),
) -> std::process::Output {
    let mut child = Command::new(flowpat_bin())
        .arg("watch")
        .arg(workspace_root().join("patterns"))
        .args(["--flows", "-", "--networks"])
        .arg(root.join("networks.csv"))
        .arg("--emit")
        .arg(root.join("changes.jsonl"))
        .args(["--poll", "20", "--workers", "2"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning flowpat watch");
    let mut stdin = child.stdin.take().expect("stdin");
    feed(&mut stdin);
    drop(stdin);
    let out = child.wait_with_output().expect("watch output");
    assert!(
        out.status.success(),
        "watch failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn stdin_stream_sums_to_run_on_the_same_rows() {
    use std::io::Write as _;
    let scenario = Scenario::new();
    let stream = Stream::of(&scenario, 3, 230);
    assert!(stream.segments.len() >= 6);
    let dir = scenario.folder();
    let root = dir.path();
    // Flows from stdin, events from a watched folder (which part-0 leaves alone: it is moved
    // out of the flows folder, which is not watched here).
    std::fs::remove_file(root.join("flows/part-0.parquet")).expect("rm");
    let out = watch_stdin(
        root,
        &[
            "--events",
            &root.join("events").display().to_string(),
            "--once",
        ],
        |stdin| stdin.write_all(&stream.bytes()).expect("write stdin"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: reading flows from stdin"),
        "{stderr}"
    );
    // One epoch per batch, rows numbered across the stream.
    let mut causes = stdin_causes(&stderr);
    causes.sort_by_key(|c| {
        c.split(' ')
            .nth(2)
            .and_then(|r| r.split('-').next()?.parse::<usize>().ok())
    });
    assert_eq!(
        causes,
        stream.ranges(&vec![1; stream.segments.len()]),
        "{stderr}"
    );
    // The same rows written as one file give the same results under `run`.
    let file = root.join("stream.arrows");
    std::fs::write(&file, stream.bytes()).expect("stream file");
    let file = file.display().to_string();
    let batch = run_bag(&[
        "--flows",
        &file,
        "--events",
        &root.join("events").display().to_string(),
        "--networks",
        &root.join("networks.csv").display().to_string(),
    ]);
    assert!(
        batch.keys().any(|k| k.contains(&file)),
        "stdin rows in the results"
    );
    let emitted = emitted_bag(&root.join("changes.jsonl"), &file);
    assert_eq!(emitted, batch, "the change stream sums to the batch result");
}

#[test]
fn epoch_every_groups_the_batches_that_arrive_within_it() {
    use std::io::Write as _;
    let scenario = Scenario::new();
    let stream = Stream::of(&scenario, 2, 250);
    assert!(stream.segments.len() >= 4);
    let dir = scenario.folder();
    let root = dir.path();
    let out = watch_stdin(root, &["--epoch-every", "1s"], |stdin| {
        // Two batches at once, a pause well past the period, then the rest.
        stdin
            .write_all(&stream.segments[..2].concat())
            .expect("write");
        stdin.flush().expect("flush");
        std::thread::sleep(Duration::from_secs(3));
        stdin
            .write_all(&stream.segments[2..].concat())
            .expect("write");
        stdin.write_all(&stream.end).expect("write");
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Stdin only: the watch ends with the stream, the last group fed at its end.
    assert!(stderr.contains("stdin ended"), "{stderr}");
    assert_eq!(
        stdin_causes(&stderr),
        stream.ranges(&[2, stream.segments.len() - 2]),
        "{stderr}"
    );
    let file = root.join("stream.arrows");
    std::fs::write(&file, stream.bytes()).expect("stream file");
    let file = file.display().to_string();
    let batch = run_bag(&[
        "--flows",
        &file,
        "--networks",
        &root.join("networks.csv").display().to_string(),
    ]);
    assert!(!batch.is_empty());
    assert_eq!(emitted_bag(&root.join("changes.jsonl"), &file), batch);
}

#[test]
fn stdin_with_state_is_refused() {
    let out = Command::new(flowpat_bin())
        .arg("watch")
        .arg(pattern_path("exfiltration"))
        .args(["--flows", "-", "--networks", "n.csv", "--state", "st"])
        .stdin(Stdio::null())
        .output()
        .expect("flowpat");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--state cannot be used with `--flows -`"),
        "{stderr}"
    );
}

#[test]
fn emit_to_a_device_streams_and_zero_workers_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("archive");
    flowpat(&[
        "generate",
        "--rows",
        "2000",
        "--seed",
        "3",
        "--files",
        "1",
        "--out",
        root.to_str().expect("utf-8 path"),
    ]);
    let watch = |extra: &[&str]| {
        Command::new(flowpat_bin())
            .arg("watch")
            .arg(pattern_path("ephemeral-tcp"))
            .arg("--flows")
            .arg(root.join("flows"))
            .arg("--networks")
            .arg(root.join("networks.csv"))
            .args(["--once", "--format", "csv"])
            .args(extra)
            .output()
            .expect("flowpat watch")
    };
    // `/dev/null` cannot be cut back or synced: it is written as a stream. A README beside
    // the parts is left out as not data, said once (not with --quiet).
    std::fs::write(root.join("flows").join("README.txt"), "about these flows\n").expect("write");
    let out = watch(&["--emit", "/dev/null", "--workers", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("epoch 0 ["), "{stderr}");
    assert_eq!(
        stderr
            .matches("README.txt left out of the flows folder as not data")
            .count(),
        1,
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let quiet = watch(&["--emit", "/dev/null", "--quiet"]);
    assert!(quiet.status.success());
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("README.txt"));
    let out = watch(&["--workers", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a run needs at least one worker"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_file_contradicting_its_named_format_stops_the_first_look() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("mkdir");
    std::fs::write(
        flows.join("capture.binetflow"),
        "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n\
         2011/08/10 09:46:53.047277,3550.182373,udp,212.50.71.179,39678,  <->,147.32.84.229,13363,CON,0,0,12,875,413,flow=Background\n",
    )
    .expect("write");
    let networks = dir.path().join("networks.csv");
    std::fs::write(&networks, "147.32.0.0/16,internal\n").expect("write");
    let out = Command::new(flowpat_bin())
        .arg("watch")
        .arg(pattern_path("exfiltration"))
        .arg("--flows")
        .arg(&flows)
        .args(["--flows-format", "zeek", "--networks"])
        .arg(&networks)
        .args(["--emit", "/dev/null", "--once"])
        .output()
        .expect("flowpat watch");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "capture.binetflow: given as zeek text, but it looks like Argus/CTU binetflow CSV"
        ),
        "{stderr}"
    );
}

#[test]
fn results_out_folder_matches_run_out_folder_file_for_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("archive");
    let arg = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    flowpat(&[
        "generate",
        "--rows",
        "3000",
        "--seed",
        "5",
        "--files",
        "2",
        "--out",
        &arg(&root),
    ]);
    let patterns = workspace_root().join("patterns");
    let common = [
        "--flows".to_string(),
        arg(&root.join("flows")),
        "--events".to_string(),
        arg(&root.join("events")),
        "--networks".to_string(),
        arg(&root.join("networks.csv")),
        "--quiet".to_string(),
    ];
    let state = dir.path().join("state");
    let mut watch = vec!["watch".to_string(), arg(&patterns)];
    watch.extend(common.iter().cloned());
    watch.extend(["--once", "--emit", "/dev/null", "--workers", "1", "--state"].map(String::from));
    watch.push(arg(&state));
    flowpat(&watch);
    let (from_state, from_run) = (dir.path().join("results/"), dir.path().join("run/"));
    flowpat(&[
        "results",
        "--state",
        &arg(&state),
        "--format",
        "csv",
        "--out",
        &arg(&from_state),
    ]);
    let mut run = vec!["run".to_string(), arg(&patterns)];
    run.extend(common.iter().cloned());
    run.extend(["--format", "csv", "--out"].map(String::from));
    run.push(arg(&from_run));
    flowpat(&run);
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let listed = names(&from_run);
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(
        listed.contains(&"exfiltration.csv".to_string()),
        "{listed:?}"
    );
    assert_eq!(names(&from_state), listed);
    for name in &listed {
        assert_eq!(
            std::fs::read(from_state.join(name)).expect("results file"),
            std::fs::read(from_run.join(name)).expect("run file"),
            "{name}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |d: &Path| {
                std::fs::metadata(d.join(name))
                    .expect("metadata")
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(
                (mode(&from_state), mode(&from_run)),
                (0o644, 0o644),
                "{name}"
            );
        }
    }
}

/// Lines of a child's stderr as they come.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for_line(
    rx: &std::sync::mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    within: Duration,
    pred: impl Fn(&str) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = pred(&line);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn zeek_logs_renamed_in_are_noticed_long_before_the_poll() {
    let zeek = workspace_root().join("engine/tests/data/presets/zeek");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("logs")).expect("mkdir");
    std::fs::write(
        root.join("networks.csv"),
        "192.0.2.0/24,internal\n2001:db8::/32,internal\ndefault,external\n",
    )
    .expect("networks");
    std::fs::copy(zeek.join("conn-concatenated.log"), root.join("logs/a.log")).expect("a.log");
    let mut child = Command::new(flowpat_bin())
        .arg("watch")
        .arg(workspace_root().join("patterns"))
        .arg("--flows")
        .arg(root.join("logs"))
        .args(["--flows-format", "zeek", "--networks"])
        .arg(root.join("networks.csv"))
        .arg("--emit")
        .arg(root.join("changes.jsonl"))
        // Were the watch to rely on polling, nothing after the first look would be seen for a minute.
        .args(["--poll", "60000", "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning flowpat watch");
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    // The log that is there: seen at the first look, taken once a second look agrees.
    let first = wait_for_line(&rx, &mut seen, Duration::from_secs(30), |l| {
        l.starts_with("epoch 0 [add flows:a.log]")
    });
    let staged = root.join("logs/.b.log.partial");
    std::fs::copy(zeek.join("conn-tsv.log"), &staged).expect("stage");
    let renamed = Instant::now();
    std::fs::rename(&staged, root.join("logs/b.log")).expect("rename");
    let second = first
        && wait_for_line(&rx, &mut seen, Duration::from_secs(30), |l| {
            // The summary line, then the malformed line reported as `run` reports it.
            l.contains("b.log: 1 of 7 row(s) skipped")
        });
    let took = renamed.elapsed();
    // An edit of the networks file (here by rename, as editors save) is noticed too.
    let edited = root.join(".networks.csv.new");
    std::fs::write(
        &edited,
        "192.0.2.0/25,dmz\n192.0.2.0/24,internal\n2001:db8::/32,internal\ndefault,external\n",
    )
    .expect("edit");
    std::fs::rename(&edited, root.join("networks.csv")).expect("rename networks");
    let third = second
        && wait_for_line(&rx, &mut seen, Duration::from_secs(30), |l| {
            l.starts_with("epoch 2 [networks ")
        });
    let _ = child.kill();
    let _ = child.wait();
    assert!(first && second && third, "stderr: {seen:#?}");
    // b.log's FTP data transfer from 192.0.2.20 leaves the internal hosts.
    assert!(
        seen.iter().any(|l| l.starts_with("epoch 2 [networks ")
            && l.contains("(ephemeral tcp connections +0 -1)")),
        "{seen:#?}"
    );
    assert!(
        took < Duration::from_secs(30),
        "picked up after {took:?}, not by the 60 s poll"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("epoch 1 [add flows:b.log]: +2 -0")),
        "{seen:#?}"
    );
    let batch = run_bag(&[
        "--flows",
        &root.join("logs").display().to_string(),
        "--flows-format",
        "zeek",
        "--networks",
        &root.join("networks.csv").display().to_string(),
    ]);
    // Both logs contribute: a row of each (b.log's row 4 is the FTP data transfer).
    assert!(
        batch.keys().any(|k| k.contains("\"conn.file\":\"a.log\"")),
        "{batch:#?}"
    );
    assert!(
        batch
            .keys()
            .any(|k| k.contains("\"conn.file\":\"b.log\"") && k.contains("\"conn.row\":4")),
        "{batch:#?}"
    );
    assert_eq!(emitted_bag(&root.join("changes.jsonl"), ""), batch);
}

/// `flowpat run PATTERNS` on the given folders as a bag of JSON rows.
fn run_bag_of(
    patterns: &Path,
    flows: &Path,
    events: &Path,
    networks: &Path,
) -> BTreeMap<String, i64> {
    let out = Command::new(flowpat_bin())
        .arg("run")
        .arg(patterns)
        .arg("--flows")
        .arg(flows)
        .arg("--events")
        .arg(events)
        .arg("--networks")
        .arg(networks)
        .args(["--format", "jsonl", "--workers", "1", "--quiet"])
        .output()
        .expect("flowpat run");
    bag(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| (1, serde_json::from_str(l).expect("json"))))
}

/// A pattern folder holding one version of exfiltration.pattern and common.pattern.
fn version(root: &Path, name: &str, text: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(
        workspace_root().join("patterns/common.pattern"),
        dir.join("common.pattern"),
    )
    .expect("common");
    std::fs::write(dir.join("exfiltration.pattern"), text).expect("version");
    dir
}

/// Writes `text` to `path` as an editor saves: a dot-file renamed into place.
fn save(path: &Path, text: &str) {
    let staged = path.with_file_name(".saving.tmp");
    std::fs::write(&staged, text).expect("stage");
    std::fs::rename(&staged, path).expect("rename");
}

/// The changes of one epoch as a bag (`+` 1, `-` −1), with the pattern and cause of each.
fn epoch_bag(all: &[serde_json::Value], epoch: u64) -> (BTreeMap<String, i64>, BTreeSet<String>) {
    let mut tags = BTreeSet::new();
    let lines = all.iter().filter(|v| v["epoch"] == epoch).map(|v| {
        tags.insert(format!("{} {} [{}]", v["change"], v["pattern"], v["cause"]));
        (if v["change"] == "+" { 1 } else { -1 }, v.clone())
    });
    let bag = bag(lines.collect::<Vec<_>>().into_iter());
    (bag, tags)
}

/// `b − a` of two bags.
fn minus(b: &BTreeMap<String, i64>, a: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut out = b.clone();
    for (k, n) in a {
        *out.entry(k.clone()).or_default() -= n;
    }
    out.retain(|_, n| *n != 0);
    out
}

/// A generated 20 k-flow archive under `root/gen` and an empty watched `root/flows`:
/// `(flows, events, networks)`; [`add_part`] moves generated files in.
fn generated_archive(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    flowpat(&[
        "generate".as_ref(),
        "--rows".as_ref(),
        "20000".as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
        "--out".as_ref(),
        root.join("gen").as_os_str(),
    ]);
    let (events, networks) = (root.join("gen/events"), root.join("gen/networks.csv"));
    let flows = root.join("flows");
    std::fs::create_dir_all(&flows).expect("mkdir");
    (flows, events, networks)
}

/// `flowpat watch PAT` over [`generated_archive`] with a state folder and `root/EMIT`, one
/// worker, polling every 50 ms; stderr piped (for [`stderr_lines`]).
fn spawn_archive_watch(root: &Path, pat: &Path, emit: &str, extra: &[&str]) -> Child {
    Command::new(flowpat_bin())
        .arg("watch")
        .arg(pat)
        .arg("--flows")
        .arg(root.join("flows"))
        .arg("--events")
        .arg(root.join("gen/events"))
        .arg("--networks")
        .arg(root.join("gen/networks.csv"))
        .arg("--state")
        .arg(root.join("state"))
        .arg("--emit")
        .arg(root.join(emit))
        .args(["--poll", "50", "--workers", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning flowpat watch")
}

/// Waits (up to a minute) for the watch to report `epoch` and commit it to `root/state`.
fn wait_committed(
    root: &Path,
    rx: &std::sync::mpsc::Receiver<String>,
    epoch: u64,
    seen: &mut Vec<String>,
) -> bool {
    let within = Duration::from_secs(60);
    let hit = wait_for_line(rx, seen, within, |l| {
        l.starts_with(&format!("epoch {epoch} ["))
    });
    let deadline = Instant::now() + within;
    while hit && committed_epoch(root) != Some(epoch) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    hit && committed_epoch(root) == Some(epoch)
}

/// Copies the generated `gen/flows/{part}.parquet` into `root/flows` as a sensor does: staged
/// under a dot-name, then renamed.
fn add_part(root: &Path, part: &str) {
    let staged = root.join(format!("flows/.{part}.tmp"));
    std::fs::copy(root.join(format!("gen/flows/{part}.parquet")), &staged).expect("copy");
    std::fs::rename(&staged, root.join(format!("flows/{part}.parquet"))).expect("rename");
}

#[test]
fn an_edited_pattern_emits_exactly_the_difference_of_its_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (flows, events, networks) = generated_archive(root);
    for part in ["part-0000", "part-0001", "part-0002"] {
        add_part(root, part);
    }
    let pat = root.join("pat");
    std::fs::create_dir_all(&pat).expect("mkdir");
    for entry in std::fs::read_dir(workspace_root().join("patterns")).expect("catalog") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, pat.join(path.file_name().expect("name"))).expect("copy");
    }
    let exfil = pat.join("exfiltration.pattern");
    let original = std::fs::read_to_string(&exfil).expect("pattern");
    assert!(original.contains("param threshold = 1MB;"));
    let tight = original.replace("param threshold = 1MB;", "param threshold = 5MB;");
    let loose = original.replace("param threshold = 1MB;", "param threshold = 500KB;");
    let renamed = loose.replace("search exfiltration connections", "search big uploads");
    let run_of =
        |name: &str, text: &str| run_bag_of(&version(root, name, text), &flows, &events, &networks);
    let (v_orig, v_tight) = (run_of("v-orig", &original), run_of("v-tight", &tight));
    let v_loose = run_of("v-loose", &loose);
    let mut child = spawn_archive_watch(root, &pat, "changes.jsonl", &[]);
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    let wait_epoch = |epoch: u64, seen: &mut Vec<String>| wait_committed(root, &rx, epoch, seen);
    let cause = format!("pattern:{}", exfil.display());
    let mut ok = wait_epoch(0, &mut seen);
    // Tightened: exactly the rows the old version has and the new one lacks, all `-`.
    save(&exfil, &tight);
    ok = ok && wait_epoch(1, &mut seen);
    // Loosened: exactly the rows added, all `+`.
    save(&exfil, &loose);
    ok = ok && wait_epoch(2, &mut seen);
    // Does not compile: diagnostics, nothing emitted, the watch goes on.
    save(&exfil, &format!("{loose}\nsearch broken is garbage\n"));
    ok = ok
        && wait_for_line(&rx, &mut seen, Duration::from_secs(60), |l| {
            l.contains("not reloaded (errors above)")
        });
    let after_broken = committed_epoch(root);
    add_part(root, "part-0003");
    ok = ok && wait_epoch(3, &mut seen);
    // Renamed: all `-` under the old name, all `+` under the new.
    save(&exfil, &renamed);
    ok = ok && wait_epoch(4, &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "stderr: {seen:#?}");
    assert_eq!(after_broken, Some(2), "a broken edit runs no epoch");
    assert!(
        seen.iter()
            .any(|l| l.contains("expected `end`, found `garbage`")),
        "diagnostics as `check` prints them: {seen:#?}"
    );
    let all = lines(&root.join("changes.jsonl"));
    let name = "\"exfiltration connections\"";
    let (one, tags) = epoch_bag(&all, 1);
    assert_eq!(one, minus(&v_tight, &v_orig));
    assert!(!one.is_empty() && one.values().all(|n| *n < 0));
    assert_eq!(
        tags,
        BTreeSet::from([format!("\"-\" {name} [\"{cause}\"]")])
    );
    let (two, tags) = epoch_bag(&all, 2);
    assert_eq!(two, minus(&v_loose, &v_tight));
    assert!(!two.is_empty() && two.values().all(|n| *n > 0));
    assert_eq!(
        tags,
        BTreeSet::from([format!("\"+\" {name} [\"{cause}\"]")])
    );
    let (three, _) = epoch_bag(&all, 3);
    assert!(
        !three.is_empty(),
        "a data file after the broken edit still produces changes"
    );
    assert!(all
        .iter()
        .filter(|v| v["epoch"] == 3)
        .all(|v| v["cause"] == "add flows:part-0003.parquet"));
    let (_, tags) = epoch_bag(&all, 4);
    assert_eq!(
        tags,
        BTreeSet::from([
            format!("\"+\" \"big uploads\" [\"{cause}\"]"),
            format!("\"-\" {name} [\"{cause}\"]"),
        ])
    );
    // Everything emitted adds up to a batch run of the final versions on the final files.
    let emitted = bag(all
        .into_iter()
        .map(|v| (if v["change"] == "+" { 1 } else { -1 }, v)));
    std::fs::write(&exfil, &renamed).expect("final");
    assert_eq!(emitted, run_bag_of(&pat, &flows, &events, &networks));
    // `flowpat results` shows the new version.
    let results = flowpat(&[
        "results".as_ref(),
        "--state".as_ref(),
        root.join("state").as_os_str(),
    ]);
    assert!(results.contains("big uploads"), "{results}");
    assert!(
        !results
            .lines()
            .any(|l| l.starts_with("exfiltration connections")),
        "{results}"
    );
}

/// A pattern added while `watch --format csv` runs brings columns the header line lacks: a new
/// header line (the grown union) comes before its changes, every row has as many fields as the
/// header it is under, and a restart goes on under the header last written.
#[test]
fn csv_stream_gets_a_new_header_line_when_a_reload_adds_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    generated_archive(root);
    for part in ["part-0000", "part-0001", "part-0002"] {
        add_part(root, part);
    }
    let pat = root.join("pat");
    std::fs::create_dir_all(&pat).expect("mkdir");
    for name in ["common.pattern", "exfiltration.pattern"] {
        std::fs::copy(workspace_root().join("patterns").join(name), pat.join(name)).expect("copy");
    }
    let spawn = || spawn_archive_watch(root, &pat, "changes.csv", &["--format", "csv"]);
    let wait_epoch =
        |rx: &std::sync::mpsc::Receiver<String>, epoch: u64, seen: &mut Vec<String>| {
            wait_committed(root, rx, epoch, seen)
        };
    let mut seen = Vec::new();
    let mut child = spawn();
    let rx = stderr_lines(&mut child);
    let mut ok = wait_epoch(&rx, 0, &mut seen);
    save(
        &pat.join("port-jumping.pattern"),
        &std::fs::read_to_string(workspace_root().join("patterns/port-jumping.pattern"))
            .expect("pattern"),
    );
    ok = ok && wait_epoch(&rx, 1, &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    let mut child = spawn();
    let rx = stderr_lines(&mut child);
    add_part(root, "part-0003");
    ok = ok && wait_epoch(&rx, 2, &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "stderr: {seen:#?}");

    let text = std::fs::read_to_string(root.join("changes.csv")).expect("emitted");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("csv")).collect();
    let headers: Vec<usize> = (0..records.len())
        .filter(|&k| &records[k][0] == "change")
        .collect();
    assert_eq!(headers.len(), 2, "two header lines:\n{text}");
    assert_eq!(headers[0], 0);
    let (first, second) = (&records[headers[0]], &records[headers[1]]);
    let names = |r: &csv::StringRecord| r.iter().map(str::to_string).collect::<Vec<_>>();
    let (first, second) = (names(first), names(second));
    assert!(!first.contains(&"ports".to_string()), "{first:?}");
    assert!(second.contains(&"ports".to_string()), "{second:?}");
    assert_eq!(
        second[..first.len() - 1],
        first[..first.len() - 1],
        "the grown header keeps the columns in place"
    );
    assert_eq!(second.last().map(String::as_str), Some("matches"));
    let mut under = &first;
    let mut epochs_under_second = BTreeSet::new();
    let ports = second.iter().position(|c| c == "ports").expect("ports");
    for (k, record) in records.iter().enumerate() {
        if &record[0] == "change" {
            under = if k == headers[0] { &first } else { &second };
            continue;
        }
        assert_eq!(
            record.len(),
            under.len(),
            "row {k}: {record:?} under {under:?}"
        );
        if k < headers[1] {
            assert_eq!(&record[1], "0", "row {k}");
        } else {
            epochs_under_second.insert(record[1].to_string());
            if &record[2] == "port jumping hosts" {
                assert!(!record[ports].is_empty(), "row {k}: {record:?}");
            }
        }
    }
    assert_eq!(
        epochs_under_second,
        BTreeSet::from(["1".to_string(), "2".to_string()]),
        "the restarted watch goes on under the second header"
    );
}

/// An edit that renames an exported column keeps the pattern's name but not its columns: the
/// reload retracts every row under the old column and adds it under the new one (before, it
/// emitted nothing and later `-` lines no longer matched the `+` lines they retracted).
#[test]
fn a_renamed_column_retracts_and_adds_every_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (flows, events, networks) = generated_archive(root);
    for part in ["part-0000", "part-0001", "part-0002"] {
        add_part(root, part);
    }
    let pat = root.join("pat");
    std::fs::create_dir_all(&pat).expect("mkdir");
    for name in ["common.pattern", "port-jumping.pattern"] {
        std::fs::copy(workspace_root().join("patterns").join(name), pat.join(name)).expect("copy");
    }
    let jumping = pat.join("port-jumping.pattern");
    let original = std::fs::read_to_string(&jumping).expect("pattern");
    let renamed = original
        .replace("ports = count", "nports = count")
        .replace("having ports", "having nports")
        .replace("destadr; ports;", "destadr; nports;");
    assert_eq!(renamed.matches("nports").count(), 3, "{renamed}");
    let mut child = spawn_archive_watch(root, &pat, "changes.jsonl", &[]);
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    let mut ok = wait_committed(root, &rx, 0, &mut seen);
    save(&jumping, &renamed);
    ok = ok && wait_committed(root, &rx, 1, &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "stderr: {seen:#?}");
    let all = lines(&root.join("changes.jsonl"));
    let first: Vec<&serde_json::Value> = all.iter().filter(|v| v["epoch"] == 0).collect();
    let reload: Vec<&serde_json::Value> = all.iter().filter(|v| v["epoch"] == 1).collect();
    assert!(!first.is_empty());
    let minus: Vec<_> = reload.iter().filter(|v| v["change"] == "-").collect();
    let plus: Vec<_> = reload.iter().filter(|v| v["change"] == "+").collect();
    assert_eq!((minus.len(), plus.len()), (first.len(), first.len()));
    assert!(minus
        .iter()
        .all(|v| v.get("ports").is_some() && v.get("nports").is_none()));
    assert!(plus
        .iter()
        .all(|v| v.get("nports").is_some() && v.get("ports").is_none()));
    // Everything emitted adds up to a batch run of the renamed version.
    let emitted = bag(all
        .into_iter()
        .map(|v| (if v["change"] == "+" { 1 } else { -1 }, v)));
    assert_eq!(emitted, run_bag_of(&pat, &flows, &events, &networks));
}
