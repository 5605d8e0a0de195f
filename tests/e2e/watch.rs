//! `flowpat watch` and `flowpat results` as a user runs them: late events, networks edits,
//! `--on-change`, and the restart promise — after a crash at any point (the
//! `FLOWPAT_CRASH_AT` test hook, and a real `kill -9`) the emit file holds exactly the change
//! stream of an uninterrupted run, and its changes add up to `flowpat run` on the final files.

use std::collections::BTreeMap;
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
    let results = flowpat(&[
        "results",
        "--state",
        &root.join("state").display().to_string(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(results, run);

    for point in [
        "mid-emit:0",
        "after-emit:1",
        "before-emit:2",
        "mid-emit:3",
        "after-results:4",
        "after-state:5",
        "after-emit:6",
    ] {
        let (stream, restarts, _dir) = drive(&scenario, Interrupt::Hook(point));
        assert_eq!(restarts, 1, "{point}: the hook crashed the watch once");
        assert!(
            stream == reference,
            "{point}: the emit file differs from the uninterrupted run's: {}",
            first_difference(&stream, &reference)
        );
    }
    let (stream, restarts, _dir) = drive(
        &scenario,
        Interrupt::Kill(&[(0, 0), (2, 3), (4, 12), (5, 30)]),
    );
    assert_eq!(restarts, 4);
    assert!(
        stream == reference,
        "kill -9: the emit file differs from the uninterrupted run's: {}",
        first_difference(&stream, &reference)
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
