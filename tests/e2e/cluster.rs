//! `flowpat run` across processes on loopback: 2 and 3 processes of 2 workers each must print
//! (or write) byte for byte what one process prints, only process 0 may print, and start-up
//! failures and lost peers must end every process with a non-zero exit naming the peer,
//! within the timeout.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use flowpat_tests::cli::{self, flowpat_bin, workspace_root, CATALOG};

/// `flowpat generate --rows 5000 --seed 3 --files 6`, once per test process.
fn archive() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("archive");
        cli::flowpat(&[
            OsString::from("generate"),
            "--rows".into(),
            "5000".into(),
            "--seed".into(),
            "3".into(),
            "--files".into(),
            "6".into(),
            "--out".into(),
            out.clone().into_os_string(),
        ]);
        (dir, out)
    })
    .1
}

/// The arguments of a run of the whole catalog on the archive with 2 workers.
fn run_args(extra: &[OsString]) -> Vec<OsString> {
    run_args_with_workers("2", extra)
}

fn run_args_with_workers(workers: &str, extra: &[OsString]) -> Vec<OsString> {
    let a = archive();
    let mut args: Vec<OsString> = vec![
        "run".into(),
        workspace_root().join("patterns").into(),
        "--flows".into(),
        a.join("flows").into(),
        "--events".into(),
        a.join("events").into(),
        "--networks".into(),
        a.join("networks.csv").into(),
        // Several patterns share stdout only as JSON lines (CSV needs --out DIR/).
        "--format".into(),
        "jsonl".into(),
        "--quiet".into(),
        "--workers".into(),
        workers.into(),
    ];
    args.extend(extra.iter().cloned());
    args
}

/// `n` loopback addresses whose ports were free a moment ago, in a hostfile. The ports are
/// taken below Linux's ephemeral range (32768 and up), so that no outgoing connection of a
/// concurrent test can take one between this check and the process's own `bind`.
fn hostfile(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 400) * 30;
    let mut addresses = Vec::new();
    let mut holding = Vec::new();
    while addresses.len() < n {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 12_000;
        let port = 20_000 + (port - 20_000) % 12_000;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port as u16)) {
            addresses.push(format!("127.0.0.1:{port}"));
            holding.push(listener);
        }
    }
    drop(holding);
    let path = dir.join("hosts.txt");
    std::fs::write(&path, addresses.join("\n") + "\n").expect("writing the hostfile");
    (path, addresses)
}

/// A spawned `flowpat` whose stdout and stderr go to files.
struct Proc {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    label: String,
}

/// A test that fails part-way leaves no process behind.
impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(dir: &Path, label: &str, args: &[OsString]) -> Proc {
    let stdout = dir.join(format!("{label}.out"));
    let stderr = dir.join(format!("{label}.err"));
    let child = Command::new(flowpat_bin())
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).expect("stdout file"))
        .stderr(File::create(&stderr).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawning flowpat: {e}"));
    Proc {
        child,
        stdout,
        stderr,
        label: label.to_string(),
    }
}

struct Ended {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
    took: Duration,
}

impl Proc {
    /// Waits at most `limit`; a process still running then is killed and the test fails.
    fn wait(mut self, limit: Duration) -> Ended {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > limit {
                panic!(
                    "{} still running after {limit:?} (a hang); stderr:\n{}",
                    self.label,
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ended {
            status,
            stdout: std::fs::read(&self.stdout).expect("stdout file"),
            stderr: std::fs::read_to_string(&self.stderr).expect("stderr file"),
            took: started.elapsed(),
        }
    }
}

const LIMIT: Duration = Duration::from_secs(180);

fn cluster_flags(hosts: &Path, process: usize, timeout: &str) -> Vec<OsString> {
    vec![
        "--hostfile".into(),
        hosts.into(),
        "--process".into(),
        process.to_string().into(),
        "--connect-timeout".into(),
        timeout.into(),
    ]
}

fn cluster_check(hosts: &Path) -> std::process::Output {
    Command::new(flowpat_bin())
        .args([
            OsString::from("cluster-check"),
            "--hostfile".into(),
            hosts.into(),
        ])
        .args(["--timeout", "2s"])
        .output()
        .expect("running cluster-check")
}

/// Runs `n` processes of the catalog run (with `extra` flags) and returns what each printed;
/// every one must succeed. Process 0 starts first, and the others only once `cluster-check`
/// sees it listening (so its start-up also shrugs off a probe that says no hello).
fn run_cluster(dir: &Path, n: usize, extra: &[OsString]) -> Vec<Ended> {
    run_cluster_args(dir, n, &run_args(extra))
}

/// [`run_cluster`] of the command `base` (each process adds its cluster flags).
fn run_cluster_args(dir: &Path, n: usize, base: &[OsString]) -> Vec<Ended> {
    let (hosts, _) = hostfile(dir, n);
    let mut args = base.to_vec();
    args.extend(cluster_flags(&hosts, 0, "60s"));
    let mut procs = vec![spawn(dir, "process-0", &args)];
    let started = Instant::now();
    loop {
        let table = String::from_utf8_lossy(&cluster_check(&hosts).stdout).into_owned();
        if table.lines().nth(1).is_some_and(|l| l.contains(" ok ")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "process 0 never listened:\n{table}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    procs.extend((1..n).map(|p| {
        let mut args = base.to_vec();
        args.extend(cluster_flags(&hosts, p, "60s"));
        spawn(dir, &format!("process-{p}"), &args)
    }));
    let ended: Vec<Ended> = procs.into_iter().map(|p| p.wait(LIMIT)).collect();
    if ended.iter().any(|e| !e.status.success()) {
        let report: Vec<String> = ended
            .iter()
            .enumerate()
            .map(|(p, e)| format!("process {p}: {}\n{}", e.status, e.stderr))
            .collect();
        panic!("a process of {n} failed:\n{}", report.join("\n"));
    }
    ended
}

fn single(extra: &[OsString]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let ended = spawn(dir.path(), "single", &run_args(extra)).wait(LIMIT);
    assert!(
        ended.status.success(),
        "single run failed: {}",
        ended.stderr
    );
    ended.stdout
}

#[test]
fn two_processes_print_what_one_process_prints() {
    let want = single(&[]);
    assert!(!want.is_empty(), "the single run printed nothing");
    let dir = tempfile::tempdir().expect("tempdir");
    let ended = run_cluster(dir.path(), 2, &[]);
    assert!(
        ended[0].stdout == want,
        "process 0 of 2 printed other results than one process ({} vs {} bytes)",
        ended[0].stdout.len(),
        want.len()
    );
    assert!(
        ended[1].stdout.is_empty(),
        "process 1 printed to stdout:\n{}",
        String::from_utf8_lossy(&ended[1].stdout)
    );
}

/// Every process finds the same files, but the note naming a file left out of a folder as not
/// data is process 0's alone, as the results and the summary are.
#[test]
fn only_process_0_notes_a_file_left_out_as_not_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("mkdir flows");
    for entry in std::fs::read_dir(archive().join("flows")).expect("flows") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, flows.join(path.file_name().expect("name"))).expect("copying flows");
    }
    std::fs::write(flows.join("README.md"), "# generated flows\n").expect("README.md");
    // The catalog run on the copied flows, without --quiet.
    let mut args: Vec<OsString> = run_args(&[])
        .into_iter()
        .filter(|a| a != "--quiet")
        .collect();
    let at = args.iter().position(|a| a == "--flows").expect("--flows") + 1;
    args[at] = flows.clone().into();
    let ended = run_cluster_args(dir.path(), 2, &args);
    let note = format!(
        "note: 1 file(s) in the --flows folder(s) left out as not data: {} (name a file to read it)",
        flows.join("README.md").display()
    );
    assert_eq!(
        ended[0].stderr.matches("README.md").count(),
        1,
        "process 0 must name README.md once:\n{}",
        ended[0].stderr
    );
    assert!(
        ended[0].stderr.lines().any(|l| l == note),
        "process 0 did not print the note:\n{}",
        ended[0].stderr
    );
    assert!(
        !ended[1].stderr.contains("README.md") && !ended[1].stderr.contains("not data"),
        "process 1 spoke of the file left out:\n{}",
        ended[1].stderr
    );
    // Process 1 is not quiet: it says it is done and who prints the results.
    assert!(
        ended[1].stderr.contains("process 1 of 2: done"),
        "{}",
        ended[1].stderr
    );
}

#[test]
fn three_processes_write_the_files_one_process_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = dir.path().join("one");
    let three = dir.path().join("three");
    let out = |path: &Path| vec![OsString::from("--out"), path.into()];
    single(&out(&one));
    let ended = run_cluster(dir.path(), 3, &out(&three));
    for (p, e) in ended.iter().enumerate() {
        assert!(e.stdout.is_empty(), "process {p} printed to stdout");
    }
    for pattern in CATALOG {
        let file = format!("{}.jsonl", pattern.name);
        let want = std::fs::read(one.join(&file))
            .unwrap_or_else(|e| panic!("single run wrote no {file}: {e}"));
        let got = std::fs::read(three.join(&file))
            .unwrap_or_else(|e| panic!("the cluster wrote no {file}: {e}"));
        assert!(
            got == want,
            "{file}: 3 processes wrote {} bytes, one process {} bytes",
            got.len(),
            want.len()
        );
        assert!(!want.is_empty(), "{file} is empty");
    }
}

#[test]
fn a_process_that_cannot_reach_its_peer_names_it_within_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hosts, addresses) = hostfile(dir.path(), 2);
    let mut args = run_args(&[]);
    args.extend(cluster_flags(&hosts, 1, "2s"));
    let ended = spawn(dir.path(), "alone-1", &args).wait(Duration::from_secs(60));
    assert!(!ended.status.success(), "process 1 alone succeeded");
    assert!(
        ended
            .stderr
            .contains(&format!("process 0 at {}", addresses[0])),
        "stderr does not name process 0 at {}:\n{}",
        addresses[0],
        ended.stderr
    );
    assert!(ended.stdout.is_empty());
    // The timeout is 2s; start-up (compiling the catalog, listing files) is the rest.
    assert!(
        ended.took < Duration::from_secs(30),
        "took {:?}",
        ended.took
    );

    let mut args = run_args(&[]);
    args.extend(cluster_flags(&hosts, 0, "2s"));
    let ended = spawn(dir.path(), "alone-0", &args).wait(Duration::from_secs(60));
    assert!(!ended.status.success(), "process 0 alone succeeded");
    assert!(
        ended
            .stderr
            .contains(&format!("process 1 ({}) did not connect", addresses[1])),
        "stderr does not name process 1:\n{}",
        ended.stderr
    );
}

#[test]
fn processes_with_other_worker_counts_refuse_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hosts, _) = hostfile(dir.path(), 2);
    let mut args = run_args_with_workers("1", &[]);
    args.extend(cluster_flags(&hosts, 1, "30s"));
    let one = spawn(dir.path(), "w1", &args);
    let mut args = run_args(&[]);
    args.extend(cluster_flags(&hosts, 0, "30s"));
    let zero = spawn(dir.path(), "w0", &args);
    for ended in [zero.wait(LIMIT), one.wait(LIMIT)] {
        assert!(!ended.status.success());
        assert!(
            ended.stderr.contains("--workers"),
            "stderr does not explain the mismatch:\n{}",
            ended.stderr
        );
        assert!(ended.took < Duration::from_secs(40));
    }
}

/// Plays process 0 just long enough to let process 1 start its dataflow, then goes away:
/// process 1 must stop with a non-zero exit that names process 0, not hang. The fake mirrors
/// process 1's hello (magic, index, process count, workers, job fingerprints: 148 bytes, the
/// index a big-endian u32 at offset 8) with its own index, so the fingerprints agree.
#[test]
fn a_lost_peer_stops_the_run_with_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hosts, addresses) = hostfile(dir.path(), 2);
    let fake = TcpListener::bind(&addresses[0]).expect("binding process 0's port");
    let mut args = run_args(&[]);
    args.extend(cluster_flags(&hosts, 1, "60s"));
    let mut process = spawn(dir.path(), "orphan", &args);
    // Never block: the process may fail before it dials.
    fake.set_nonblocking(true).expect("nonblocking");
    let started = Instant::now();
    let mut stream = loop {
        match fake.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accepting process 1: {e}"),
        }
        if let Some(status) = process.child.try_wait().expect("try_wait") {
            panic!(
                "process 1 ended ({status}) before dialling process 0:\n{}",
                std::fs::read_to_string(&process.stderr).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "process 1 never dialled"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut hello = [0u8; 148];
    stream.read_exact(&mut hello).expect("process 1's hello");
    assert_eq!(&hello[..7], b"FLOWPAT", "not a flowpat hello");
    hello[8..12].copy_from_slice(&0u32.to_be_bytes());
    stream.write_all(&hello).expect("answering the hello");
    std::thread::sleep(Duration::from_millis(300));
    drop(stream);
    drop(fake);
    let ended = process.wait(Duration::from_secs(60));
    assert!(
        !ended.status.success(),
        "process 1 succeeded without its peer"
    );
    assert!(
        ended
            .stderr
            .contains(&format!("process 0 ({})", addresses[0]))
            && ended.stderr.contains("lost"),
        "stderr does not say process 0 was lost:\n{}",
        ended.stderr
    );
    assert!(ended.stdout.is_empty());
}

#[test]
fn cluster_check_reports_every_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hosts, addresses) = hostfile(dir.path(), 2);
    let listening = TcpListener::bind(&addresses[0]).expect("binding");
    let out = cluster_check(&hosts);
    assert_eq!(out.status.code(), Some(1), "one address does not listen");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&addresses[0]) && table.contains("ok"),
        "{table}"
    );
    assert!(
        table.contains(&addresses[1]) && table.contains("refused"),
        "{table}"
    );

    let only = dir.path().join("one.txt");
    std::fs::write(&only, format!("{}\n", addresses[0])).expect("hostfile");
    assert_eq!(cluster_check(&only).status.code(), Some(0));
    drop(listening);
}

// ---------------------------------------------------------------------------------------------
// `watch` on a cluster.

/// A watched folder holding the archive's events and its first flow file, and a README.md
/// among the flows that is left out as not data.
fn watch_folder(root: &Path) {
    let a = archive();
    std::fs::create_dir_all(root.join("flows")).expect("mkdir flows");
    std::fs::create_dir_all(root.join("events")).expect("mkdir events");
    std::fs::copy(a.join("networks.csv"), root.join("networks.csv")).expect("networks");
    for entry in std::fs::read_dir(a.join("events")).expect("events") {
        let path = entry.expect("entry").path();
        std::fs::copy(
            &path,
            root.join("events").join(path.file_name().expect("name")),
        )
        .expect("copying events");
    }
    std::fs::write(root.join("flows/README.md"), "# watched flows\n").expect("README.md");
    put_flow(root, 0);
}

/// The archive's `k`-th flow file, staged as `.tmp` and renamed to `part-k.parquet`.
fn put_flow(root: &Path, k: usize) {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(archive().join("flows"))
        .expect("flows")
        .map(|e| e.expect("entry").path())
        .collect();
    parts.sort();
    let staged = root.join(format!("flows/part-{k}.parquet.tmp"));
    std::fs::copy(&parts[k], &staged).expect("staging a flow file");
    std::fs::rename(&staged, root.join(format!("flows/part-{k}.parquet"))).expect("rename");
}

/// What happens to the watched folder after the first epoch: one epoch each.
#[derive(Clone, Copy)]
enum Step {
    Add(usize),
    Remove(usize),
}

const WATCH_STEPS: [Step; 4] = [Step::Add(1), Step::Add(2), Step::Remove(0), Step::Add(3)];

fn watch_args(root: &Path, emit: &Path, stop_after: usize) -> Vec<OsString> {
    vec![
        "watch".into(),
        workspace_root().join("patterns").into(),
        "--flows".into(),
        root.join("flows").into(),
        "--events".into(),
        root.join("events").into(),
        "--networks".into(),
        root.join("networks.csv").into(),
        "--emit".into(),
        emit.into(),
        "--workers".into(),
        "2".into(),
        "--poll".into(),
        "50".into(),
        "--stop-after-epoch".into(),
        stop_after.to_string().into(),
    ]
}

/// Waits until process 0's stderr reports `epoch` (its summary line is printed once the
/// epoch is emitted), failing if any of `procs` ends first.
fn wait_for_epoch(procs: &mut [Proc], epoch: usize) {
    let started = Instant::now();
    let line = format!("epoch {epoch} [");
    loop {
        let stderr = std::fs::read_to_string(&procs[0].stderr).unwrap_or_default();
        if stderr.lines().any(|l| l.starts_with(&line)) {
            return;
        }
        for p in procs.iter_mut() {
            if let Some(status) = p.child.try_wait().expect("try_wait") {
                panic!(
                    "{} ended ({status}) before epoch {epoch}:\n{}",
                    p.label,
                    std::fs::read_to_string(&p.stderr).unwrap_or_default()
                );
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "epoch {epoch} never came:\n{stderr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the watch with `processes` processes (1: no cluster options), stopping after epoch
/// `stop_after`; `round` tells restarts apart.
fn start_watch(
    dir: &Path,
    processes: usize,
    stop_after: usize,
    state: bool,
    round: usize,
) -> Vec<Proc> {
    let root = dir.join("watched");
    let emit = dir.join("changes.jsonl");
    let mut args = watch_args(&root, &emit, stop_after);
    if state {
        args.extend(["--state".into(), dir.join("state").into()]);
    }
    if processes == 1 {
        return vec![spawn(dir, &format!("watch-single-{round}"), &args)];
    }
    let (hosts, _) = hostfile(dir, processes);
    (0..processes)
        .map(|p| {
            let mut args = args.clone();
            args.extend(cluster_flags(&hosts, p, "60s"));
            // Only process 0 writes: the others get an emit path and a state folder that must
            // stay unwritten.
            if p > 0 {
                for (flag, name) in [("--emit", "changes"), ("--state", "state")] {
                    if let Some(at) = args.iter().position(|a| a == flag) {
                        args[at + 1] = dir.join(format!("{name}-{p}")).into();
                    }
                }
            }
            spawn(dir, &format!("watch-{p}-{round}"), &args)
        })
        .collect()
}

/// Waits for every process to end by itself and checks that they succeeded, that only
/// process 0 wrote anything and that only process 0 named the README.md left out as not data
/// (once).
fn finish_watch(dir: &Path, procs: Vec<Proc>) {
    let processes = procs.len();
    let ended: Vec<Ended> = procs.into_iter().map(|p| p.wait(LIMIT)).collect();
    for (p, e) in ended.iter().enumerate() {
        assert!(
            e.status.success(),
            "watch process {p} of {processes} failed: {}\n{}",
            e.status,
            e.stderr
        );
        assert!(
            e.stdout.is_empty(),
            "watch process {p} printed to stdout:\n{}",
            String::from_utf8_lossy(&e.stdout)
        );
        let named = e.stderr.matches("README.md").count();
        assert!(
            named == usize::from(p == 0),
            "watch process {p} of {processes} named README.md {named} time(s):\n{}",
            e.stderr
        );
    }
    for p in 1..processes {
        for name in ["changes", "state"] {
            assert!(
                !dir.join(format!("{name}-{p}")).exists(),
                "process {p} wrote {name}"
            );
        }
    }
}

/// Runs the watch scenario with `processes` processes (1: no cluster options) and returns
/// process 0's emitted lines, epoch by epoch, each epoch's lines sorted. With `restart_at`,
/// the watch keeps a state folder, stops after that epoch and is started again.
fn drive_watch(processes: usize, restart_at: Option<usize>) -> BTreeMap<u64, Vec<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("watched");
    watch_folder(&root);
    let last = WATCH_STEPS.len();
    let state = restart_at.is_some();
    let mut procs = start_watch(dir.path(), processes, restart_at.unwrap_or(last), state, 0);
    wait_for_epoch(&mut procs, 0);
    for (k, step) in WATCH_STEPS.iter().enumerate() {
        if restart_at == Some(k) {
            finish_watch(dir.path(), std::mem::take(&mut procs));
            procs = start_watch(dir.path(), processes, last, state, 1);
        }
        match step {
            Step::Add(n) => put_flow(&root, *n),
            Step::Remove(n) => std::fs::remove_file(root.join(format!("flows/part-{n}.parquet")))
                .expect("removing a flow file"),
        }
        wait_for_epoch(&mut procs, k + 1);
    }
    finish_watch(dir.path(), procs);
    let text = std::fs::read_to_string(dir.path().join("changes.jsonl")).expect("the emit file");
    let mut epochs: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let epoch = v["epoch"].as_u64().expect("epoch");
        epochs.entry(epoch).or_default().push(line.to_string());
    }
    for lines in epochs.values_mut() {
        lines.sort();
    }
    epochs
}

fn assert_same_epochs(got: &BTreeMap<u64, Vec<String>>, want: &BTreeMap<u64, Vec<String>>) {
    for (epoch, lines) in want {
        let theirs = got.get(epoch).cloned().unwrap_or_default();
        assert!(
            &theirs == lines,
            "epoch {epoch}: the cluster emitted {} change(s), one process {}; first differing:\n{:?}",
            theirs.len(),
            lines.len(),
            theirs.iter().zip(lines).find(|(a, b)| a != b)
        );
    }
    assert_eq!(got.len(), want.len(), "the cluster emitted other epochs");
}

#[test]
fn watch_on_two_processes_emits_what_one_process_emits() {
    let want = drive_watch(1, None);
    assert_eq!(
        want.keys().copied().collect::<Vec<_>>(),
        (0..=WATCH_STEPS.len() as u64).collect::<Vec<_>>(),
        "every epoch of the single watch changes something"
    );
    assert_same_epochs(&drive_watch(2, None), &want);
    // Stopped after epoch 2 and started again from process 0's state folder: the stream goes
    // on as if uninterrupted (the replay is read by every process again).
    assert_same_epochs(&drive_watch(2, Some(2)), &want);
}

/// Kills one process of a running 2-process watch: the other must exit non-zero within a
/// timeout, naming the lost process.
fn lost_watch_peer(kill: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    watch_folder(&dir.path().join("watched"));
    let mut procs = start_watch(dir.path(), 2, 1000, false, 0);
    let addresses: Vec<String> = std::fs::read_to_string(dir.path().join("hosts.txt"))
        .expect("hostfile")
        .lines()
        .map(str::to_string)
        .collect();
    wait_for_epoch(&mut procs, 0);
    let mut victim = procs.remove(kill);
    victim.child.kill().expect("kill -9");
    let _ = victim.child.wait();
    let survivor = 1 - kill;
    let ended = procs.remove(0).wait(Duration::from_secs(60));
    assert!(
        !ended.status.success(),
        "process {survivor} went on without process {kill}"
    );
    assert!(
        ended
            .stderr
            .contains(&format!("process {kill} ({})", addresses[kill]))
            && ended.stderr.contains("lost"),
        "process {survivor}'s stderr does not say process {kill} was lost:\n{}",
        ended.stderr
    );
    assert!(ended.stdout.is_empty());
}

#[test]
fn a_watch_peer_killed_mid_watch_stops_process_0_naming_it() {
    lost_watch_peer(1);
}

#[test]
fn process_0_killed_mid_watch_stops_its_peer_naming_it() {
    lost_watch_peer(0);
}

/// A pattern's warnings are process 0's to print, as its notes are; the run goes on.
#[test]
fn only_process_0_prints_pattern_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = dir.path().join("never.pattern");
    std::fs::write(
        &pattern,
        "search never is\n   instance conn : NetworkConnection where destPort > 70000;\n   export\n      conn;\n   end\nend\n",
    )
    .expect("pattern");
    let mut args = run_args(&[]);
    args[1] = pattern.into();
    let ended = run_cluster_args(dir.path(), 2, &args);
    assert!(
        ended[0].stderr.contains("can never hold"),
        "process 0 did not warn:\n{}",
        ended[0].stderr
    );
    assert!(
        !ended[1].stderr.contains("can never hold"),
        "process 1 warned too:\n{}",
        ended[1].stderr
    );
}
