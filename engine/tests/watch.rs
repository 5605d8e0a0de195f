//! `watch` against the batch run: whatever order files arrive, go and come back in, the sum of
//! the emitted changes is the batch result over the files present, for every catalog pattern,
//! with one and two workers. Also: networks edits (replayed and rebuilt dataflows), retention,
//! and restarting from a state folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use compiler::plan::JoinPlan;
use compiler::source::SourceMap;
use engine::generate::{generate, GenerateOptions};
use engine::load::{self, FileTable, Networks, ReadOptions};
use engine::run::{run, Inputs, RunOptions};
use engine::watch::{ChangeFormat, EmitTarget, EpochReport, Sign, Watch, WatchOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn compile_text(name: &str, text: &str) -> Vec<JoinPlan> {
    let dir = workspace().join("patterns");
    let mut sources = SourceMap::new();
    let id = sources.add(dir.join(name).display().to_string(), text.to_string());
    let mut read_use = |path: &str, _from: &str| -> Result<(String, String), String> {
        let full = dir.join(path);
        std::fs::read_to_string(&full)
            .map(|t| (full.display().to_string(), t))
            .map_err(|e| e.to_string())
    };
    let (compiled, diags) = compiler::compile(
        &mut sources,
        id,
        &compiler::CompileOptions::default(),
        &mut read_use,
    );
    assert!(
        diags.iter().all(|d| d.is_warning()),
        "{name} does not compile: {diags:?}"
    );
    compiled.into_iter().map(|c| c.plan).collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("engine/ has a parent")
        .to_path_buf()
}

/// Every pattern of the catalog (`patterns/*.pattern`), in file order.
fn catalog() -> Vec<JoinPlan> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("patterns"))
        .expect("patterns/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pattern"))
        .collect();
    files.sort();
    let mut plans = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("pattern text");
        plans.extend(compile_text(
            &file.file_name().expect("name").to_string_lossy(),
            &text,
        ));
    }
    assert!(plans.len() >= 6, "the catalog has six patterns");
    plans
}

/// `(pattern index, printed cells with matches) → multiplicity`.
type Bag = BTreeMap<(usize, Vec<String>), i64>;

fn add_changes(bag: &mut Bag, epochs: &[EpochReport]) {
    for epoch in epochs {
        for change in &epoch.changes {
            let d = if change.sign == Sign::Plus { 1 } else { -1 };
            *bag.entry((
                change.plan,
                change
                    .cells
                    .iter()
                    .map(engine::output::Cell::text)
                    .collect::<Vec<_>>(),
            ))
            .or_default() += d;
        }
    }
    bag.retain(|_, n| *n != 0);
}

fn discover_dir(dir: &Path) -> FileTable {
    if std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
    {
        return FileTable::default();
    }
    load::discover(&[dir.to_path_buf()]).expect("discover")
}

/// The batch result over `root/flows`, `root/events` and `networks`, as a bag of printed rows.
fn batch(plans: &[JoinPlan], root: &Path, networks: &Path) -> Bag {
    let inputs = Inputs {
        flows: discover_dir(&root.join("flows")),
        events: discover_dir(&root.join("events")),
        networks: Networks::load(networks).expect("networks"),
    };
    let out = run(plans, &inputs, &RunOptions::default()).expect("batch run");
    let mut bag = Bag::new();
    for (p, set) in out.results.iter().enumerate() {
        for row in &set.rows {
            *bag.entry((p, set.cells(row, &inputs.flows, &inputs.events)))
                .or_default() += 1;
        }
    }
    bag
}

fn options(root: &Path, workers: usize) -> WatchOptions {
    WatchOptions {
        flows: vec![root.join("flows")],
        events: vec![root.join("events")],
        networks: root.join("networks.csv"),
        state: None,
        retain: None,
        emit: None,
        format: ChangeFormat::Jsonl,
        workers,
        read: ReadOptions::default(),
        flows_format: None,
        events_format: None,
        crash: None,
    }
}

/// Polls until a poll finds nothing to do; returns every epoch run.
fn settle(watch: &mut Watch) -> Vec<EpochReport> {
    let mut epochs = Vec::new();
    let mut polls = 0;
    loop {
        let out = watch.poll().expect("poll");
        polls += 1;
        let idle = out.idle();
        epochs.extend(out.epochs);
        if polls >= 2 && idle {
            return epochs;
        }
        assert!(polls < 20, "the watch does not settle");
    }
}

fn summarize(bag: &Bag, plans: &[JoinPlan]) -> String {
    let mut per = vec![0; plans.len()];
    for (p, _) in bag.keys() {
        per[*p] += 1;
    }
    plans
        .iter()
        .zip(per)
        .map(|(p, n)| format!("{}: {n}", p.pattern))
        .collect::<Vec<_>>()
        .join(", ")
}

fn assert_same(watch_bag: &Bag, batch_bag: &Bag, plans: &[JoinPlan], what: &str) {
    if watch_bag != batch_bag {
        let only_watch: Vec<_> = watch_bag
            .iter()
            .filter(|(k, v)| batch_bag.get(*k) != Some(v))
            .take(5)
            .collect();
        let only_batch: Vec<_> = batch_bag
            .iter()
            .filter(|(k, v)| watch_bag.get(*k) != Some(v))
            .take(5)
            .collect();
        panic!("{what}: watch ({}) != batch ({})\nwatch only: {only_watch:#?}\nbatch only: {only_batch:#?}", summarize(watch_bag, plans), summarize(batch_bag, plans));
    }
}

fn archive(seed: u64) -> (tempfile::TempDir, engine::generate::GenerateSummary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = generate(&GenerateOptions {
        rows: 3000,
        seed,
        files: 6,
        out_dir: dir.path().to_path_buf(),
        threads: Some(1),
        ..GenerateOptions::default()
    })
    .expect("generate");
    (dir, summary)
}

/// A watched folder with `flows/`, `events/` and the archive's networks file.
fn watched(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("events")).expect("mkdir");
    std::fs::copy(src.join("networks.csv"), dir.path().join("networks.csv"))
        .expect("copy networks");
    dir
}

/// Copies through a dot-file and a rename, as a careful writer does.
fn put(from: &Path, to: &Path) {
    let staged = to.with_file_name(format!(
        ".{}.partial",
        to.file_name().expect("name").to_string_lossy()
    ));
    std::fs::copy(from, &staged).expect("copy");
    std::fs::rename(&staged, to).expect("rename");
}

#[test]
fn random_epochs_sum_to_the_batch_result() {
    let plans = catalog();
    let mut saw_temporal = false;
    for seed in [1u64, 2, 3] {
        let (src, summary) = archive(seed);
        let sources: Vec<PathBuf> = summary
            .flow_files
            .iter()
            .map(|f| src.path().join(f))
            .collect();
        let events_src = src.path().join(&summary.events_file);
        for workers in [1usize, 2] {
            let dir = watched(src.path());
            let root = dir.path();
            let mut rng = SmallRng::seed_from_u64(seed * 10 + workers as u64);
            // The first epoch: the events and a random part of the flows.
            put(&events_src, &root.join("events/events.parquet"));
            for (k, file) in sources.iter().enumerate() {
                if rng.gen_bool(0.5) {
                    put(file, &root.join(format!("flows/part-{k}.parquet")));
                }
            }
            let mut watch = Watch::start(&plans, options(root, workers)).expect("start");
            let mut bag = Bag::new();
            let mut epochs = 0usize;
            for round in 0..6 {
                let first = settle(&mut watch);
                epochs += first.len();
                add_changes(&mut bag, &first);
                saw_temporal |= bag
                    .keys()
                    .any(|(p, _)| plans[*p].pattern.contains("temporal"));
                assert_same(
                    &bag,
                    &batch(&plans, root, &root.join("networks.csv")),
                    &plans,
                    &format!("seed {seed}, {workers} worker(s), round {round}"),
                );
                // Random changes: add, remove, replace with another part's content, events in or out.
                for _ in 0..rng.gen_range(1..=3) {
                    let k = rng.gen_range(0..sources.len());
                    let target = root.join(format!("flows/part-{k}.parquet"));
                    match rng.gen_range(0..4) {
                        0 if target.exists() => std::fs::remove_file(&target).expect("remove"),
                        1 if target.exists() => put(
                            &sources[(k + 1 + rng.gen_range(0..sources.len() - 1)) % sources.len()],
                            &target,
                        ),
                        2 => {
                            let events = root.join("events/events.parquet");
                            if events.exists() {
                                std::fs::remove_file(&events).expect("remove events");
                            } else {
                                put(&events_src, &events);
                            }
                        }
                        _ => put(&sources[k], &target),
                    }
                }
            }
            let last = settle(&mut watch);
            epochs += last.len();
            add_changes(&mut bag, &last);
            assert_same(
                &bag,
                &batch(&plans, root, &root.join("networks.csv")),
                &plans,
                &format!("seed {seed}, {workers} worker(s), final"),
            );
            assert!(epochs >= 4, "seed {seed}: only {epochs} epochs");
        }
    }
    assert!(
        saw_temporal,
        "the temporal FTP pattern found nothing to check"
    );
}

/// Relabels the generated networks file: every `internal` prefix becomes `dmz`, except the first.
fn relabel(networks: &Path) -> String {
    let text = std::fs::read_to_string(networks).expect("networks");
    let mut kept_one = false;
    text.lines()
        .map(|line| {
            if line.ends_with(",internal") && !line.starts_with('#') {
                if kept_one {
                    return line.replace(",internal", ",dmz");
                }
                kept_one = true;
            }
            line.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn networks_edit_relabels_replayed_and_rebuilt() {
    // A pattern that reads dispositions inside the dataflow (in an aggregate), so the edit
    // takes the rebuild path; the catalog's pushed-down labels take the replay path.
    let spread = compile_text(
        "label-spread.pattern",
        r#"search label spread is
   instance srcadr : NetworkAddress;
   instance conn : NetworkConnection;
   instance destadr : NetworkAddress;
   connections
      conn.source connects srcadr;
      conn.destination connects destadr;
   end
   group by srcadr
      labels = count distinct destadr.disposition;
      having labels >= 2;
   end
   export
      srcadr; labels;
   end
end
"#,
    );
    assert!(
        spread[0]
            .group
            .as_ref()
            .is_some_and(|g| g.aggregates.iter().any(|a| a.arg.is_some())),
        "the labels are counted in the dataflow:\n{}",
        spread[0]
    );
    let (src, summary) = archive(5);
    for (plans, what) in [
        (catalog(), "catalog (replay)"),
        (spread, "labels in an aggregate (rebuild)"),
    ] {
        let dir = watched(src.path());
        let root = dir.path();
        for (k, file) in summary.flow_files.iter().enumerate() {
            put(
                &src.path().join(file),
                &root.join(format!("flows/part-{k}.parquet")),
            );
        }
        put(
            &src.path().join(&summary.events_file),
            &root.join("events/events.parquet"),
        );
        let mut watch = Watch::start(&plans, options(root, 2)).expect("start");
        let mut bag = Bag::new();
        add_changes(&mut bag, &settle(&mut watch));
        let before = bag.clone();
        assert_same(
            &bag,
            &batch(&plans, root, &root.join("networks.csv")),
            &plans,
            what,
        );
        std::fs::write(
            root.join("networks.csv"),
            relabel(&root.join("networks.csv")),
        )
        .expect("edit networks");
        let epochs = settle(&mut watch);
        assert_eq!(epochs.len(), 1, "{what}: one epoch for the edit");
        assert!(
            epochs[0].causes.iter().any(|c| c.starts_with("networks")),
            "{what}: cause {:?}",
            epochs[0].causes
        );
        add_changes(&mut bag, &epochs);
        let after = batch(&plans, root, &root.join("networks.csv"));
        assert_same(&bag, &after, &plans, what);
        assert_ne!(before, after, "{what}: the edit changes some results");
        // Exactly the difference: a `-` for each row that went or changed, a `+` for each new one.
        let minus: usize = before.keys().filter(|k| !after.contains_key(*k)).count();
        let plus: usize = after.keys().filter(|k| !before.contains_key(*k)).count();
        assert_eq!(epochs[0].counts(), (plus, minus), "{what}");
        // Editing it back restores the first results.
        std::fs::copy(src.path().join("networks.csv"), root.join("networks.csv"))
            .expect("restore networks");
        add_changes(&mut bag, &settle(&mut watch));
        assert_same(&bag, &before, &plans, what);
    }
}

#[test]
fn retention_retracts_old_records() {
    let plans = catalog();
    let (src, summary) = archive(7);
    let dir = watched(src.path());
    let root = dir.path();
    let mut opts = options(root, 1);
    opts.retain = Some(24 * 3_600_000_000);
    let mut watch = Watch::start(&plans, opts).expect("start");
    let mut bag = Bag::new();
    let mut expired = 0;
    for (k, file) in summary.flow_files.iter().enumerate() {
        put(
            &src.path().join(file),
            &root.join(format!("flows/part-{k}.parquet")),
        );
        let epochs = settle(&mut watch);
        expired += epochs
            .iter()
            .filter(|e| e.causes.iter().any(|c| c.starts_with("retain")))
            .count();
        add_changes(&mut bag, &epochs);
    }
    assert!(
        expired > 0,
        "a week of traffic with a one-day window expires something"
    );
    // Every remaining record-level row is within a day of the newest flow.
    let newest = summary
        .flow_files
        .iter()
        .map(|f| src.path().join(f))
        .map(|p| newest_start(&p))
        .max()
        .expect("files");
    let cut = engine_time(newest - 24 * 3_600_000_000);
    for (p, cells) in bag.keys() {
        let header = &watch.headers()[*p];
        for (h, cell) in header.iter().zip(cells) {
            if h == "conn.startTime" {
                assert!(
                    *cell >= cut,
                    "{}: {cell} is older than the window ({cut})",
                    plans[*p].pattern
                );
            }
        }
    }
    // And the current results are what the emitted changes add up to.
    let snapshot = watch.snapshot();
    let mut current = Bag::new();
    for (p, set) in snapshot.patterns.iter().enumerate() {
        for row in &set.rows {
            current.insert((p, row.clone()), 1);
        }
    }
    assert_same(&bag, &current, &plans, "snapshot");
}

fn engine_time(us: i64) -> String {
    compiler::hir::format_time(us)
}

fn newest_start(path: &Path) -> i64 {
    let table = load::discover(&[path.to_path_buf()]).expect("discover");
    let (req, _) = engine::run::requested_columns(&[]);
    let mut newest = i64::MIN;
    load::read_flows(
        &table.files()[0],
        &req,
        &Networks::default(),
        &ReadOptions::default(),
        &mut |b| newest = newest.max(b.start.iter().copied().max().unwrap_or(i64::MIN)),
    )
    .expect("read");
    newest
}

#[test]
fn restart_replays_without_emitting_and_continues() {
    let plans = catalog();
    let (src, summary) = archive(11);
    let dir = watched(src.path());
    let root = dir.path();
    let state = root.join("state");
    let emit = root.join("changes.jsonl");
    let mut opts = options(root, 1);
    opts.state = Some(state.clone());
    opts.emit = Some(EmitTarget::File(emit.clone()));
    for file in &summary.flow_files[..3] {
        put(
            &src.path().join(file),
            &root.join("flows").join(file.file_name().expect("name")),
        );
    }
    {
        let mut watch = Watch::start(&plans, opts.clone()).expect("start");
        settle(&mut watch);
    }
    let after_first = std::fs::read(&emit).expect("emit");
    assert!(!after_first.is_empty());
    // Unchanged inputs: the restart emits nothing.
    {
        let mut watch = Watch::start(&plans, opts.clone()).expect("restart");
        assert_eq!(watch.committed_epoch(), Some(0));
        assert!(settle(&mut watch).is_empty());
    }
    assert_eq!(std::fs::read(&emit).expect("emit"), after_first);
    // A file removed while stopped, another added: the removal, then the addition.
    std::fs::remove_file(
        root.join("flows")
            .join(summary.flow_files[0].file_name().expect("name")),
    )
    .expect("remove");
    put(
        &src.path().join(&summary.flow_files[3]),
        &root
            .join("flows")
            .join(summary.flow_files[3].file_name().expect("name")),
    );
    let mut watch = Watch::start(&plans, opts.clone()).expect("restart");
    let epochs = settle(&mut watch);
    assert_eq!(
        epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // The removal while stopped is its own epoch, carrying the rows the replay could not read.
    assert_eq!(
        epochs[0].causes,
        vec![format!(
            "remove flows:{}",
            summary.flow_files[0]
                .file_name()
                .expect("name")
                .to_string_lossy()
        )]
    );
    assert!(
        epochs[0].changes.iter().all(|c| c.sign == Sign::Minus) && !epochs[0].changes.is_empty()
    );
    let text = std::fs::read_to_string(&emit).expect("emit");
    let mut bag = Bag::new();
    let headers = watch.headers().to_vec();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        let p = plans
            .iter()
            .position(|pl| pl.pattern == v["pattern"])
            .expect("pattern");
        // Values as written (numbers exactly as printed, null as the empty CSV cell).
        let raw: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
            serde_json::from_str(line).expect("json line");
        let cells: Vec<String> = headers[p]
            .iter()
            .map(|h| {
                let text = raw[h].get();
                match serde_json::from_str::<serde_json::Value>(text).expect("json value") {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => String::new(),
                    _ => text.to_string(),
                }
            })
            .collect();
        *bag.entry((p, cells)).or_default() += if v["change"] == "+" { 1 } else { -1 };
    }
    bag.retain(|_, n| *n != 0);
    assert_same(
        &bag,
        &batch(&plans, root, &root.join("networks.csv")),
        &plans,
        "emit file after restarts",
    );
    // `results` reads the same thing.
    let snapshot = engine::watch::read_results(&state).expect("results");
    assert_eq!(snapshot, watch.snapshot());
    assert_eq!(snapshot.epoch, Some(2));
}

/// The flows of `files`, `rows` at a time, as record batches of one schema.
fn flow_batches(files: &[PathBuf], rows: usize) -> Vec<arrow::record_batch::RecordBatch> {
    let mut out = Vec::new();
    for file in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(file).expect("open part"),
        )
        .expect("parquet")
        .with_batch_size(rows)
        .build()
        .expect("reader");
        out.extend(reader.map(|b| b.expect("batch")));
    }
    out
}

/// Writes batches as one Arrow IPC stream file.
fn write_stream(path: &Path, batches: &[arrow::record_batch::RecordBatch]) {
    let file = std::fs::File::create(path).expect("create stream file");
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(file, &batches[0].schema()).expect("writer");
    for batch in batches {
        writer.write(batch).expect("write batch");
    }
    writer.finish().expect("finish");
}

/// A bag with every `<stdin>` cell named `name` instead.
fn renamed(bag: &Bag, name: &str) -> Bag {
    bag.iter()
        .map(|((p, cells), n)| {
            let cells = cells
                .iter()
                .map(|c| {
                    if c == engine::watch::STDIN {
                        name.to_string()
                    } else {
                        c.clone()
                    }
                })
                .collect();
            ((*p, cells), *n)
        })
        .collect()
}

#[test]
fn stream_chunks_sum_to_the_batch_result_and_relabel() {
    let plans = catalog();
    let (src, summary) = archive(13);
    let parts: Vec<PathBuf> = summary
        .flow_files
        .iter()
        .map(|f| src.path().join(f))
        .collect();
    let batches = flow_batches(&parts, 700);
    assert!(batches.len() >= 6, "{} batches", batches.len());
    for workers in [1usize, 2] {
        let dir = watched(src.path());
        let root = dir.path();
        put(
            &src.path().join(&summary.events_file),
            &root.join("events/events.parquet"),
        );
        // The same rows as one stream file, for the batch run (in a folder of its own).
        let batch_dir = watched(src.path());
        put(
            &src.path().join(&summary.events_file),
            &batch_dir.path().join("events/events.parquet"),
        );
        write_stream(&batch_dir.path().join("flows/stream.arrows"), &batches);
        let mut watch = Watch::start(&plans, options(root, workers)).expect("start");
        let mut bag = Bag::new();
        add_changes(&mut bag, &settle(&mut watch));
        // Chunks of 1, 2 and 3 batches, each one epoch.
        let mut rest = batches.as_slice();
        let mut size = 1;
        let mut first_row = 0;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            let rows: usize = chunk.iter().map(|b| b.num_rows()).sum();
            let epoch = watch
                .feed_stream(engine::watch::Kind::Flows, chunk.to_vec())
                .expect("feed")
                .expect("an epoch");
            assert_eq!(
                epoch.causes,
                vec![format!(
                    "add flows:<stdin> rows {first_row}-{}",
                    first_row + rows - 1
                )]
            );
            assert_eq!(epoch.loads[0].rows_read, rows as u64);
            first_row += rows;
            add_changes(&mut bag, &[epoch]);
            size = size % 3 + 1;
        }
        let what = format!("{workers} worker(s)");
        let expected = batch(&plans, batch_dir.path(), &root.join("networks.csv"));
        assert!(expected
            .keys()
            .any(|(_, cells)| cells.iter().any(|c| c == "stream.arrows")));
        assert_same(&renamed(&bag, "stream.arrows"), &expected, &plans, &what);
        // A networks edit relabels the stream's records too (they are decoded again from the
        // kept batches).
        let edited = relabel(&root.join("networks.csv"));
        std::fs::write(root.join("networks.csv"), &edited).expect("edit networks");
        std::fs::write(batch_dir.path().join("networks.csv"), &edited).expect("edit networks");
        add_changes(&mut bag, &settle(&mut watch));
        let after = batch(&plans, batch_dir.path(), &root.join("networks.csv"));
        assert_ne!(expected, after, "the edit changes some results");
        assert_same(&renamed(&bag, "stream.arrows"), &after, &plans, &what);
        // An empty batch is no epoch.
        let empty = batches[0].slice(0, 0);
        assert!(watch
            .feed_stream(engine::watch::Kind::Flows, vec![empty])
            .expect("feed")
            .is_none());
    }
}

#[test]
fn stream_with_a_state_folder_is_refused() {
    let plans = catalog();
    let (src, summary) = archive(17);
    let dir = watched(src.path());
    let mut opts = options(dir.path(), 1);
    opts.state = Some(dir.path().join("state"));
    let mut watch = Watch::start(&plans, opts).expect("start");
    let batches = flow_batches(&[src.path().join(&summary.flow_files[0])], 100);
    // A stream's schema is checked before its first batch.
    let schema = batches[0].schema();
    assert!(watch
        .check_stream(engine::watch::Kind::Flows, &schema)
        .is_ok());
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != engine::model::flow_columns::SRC_ADDR)
        .collect();
    let err = watch
        .check_stream(
            engine::watch::Kind::Flows,
            &std::sync::Arc::new(schema.project(&keep).expect("project")),
        )
        .expect_err("no source address");
    assert!(
        err.to_string()
            .contains("<stdin>: missing column `src_addr`"),
        "{err}"
    );
    let err = watch
        .feed_stream(engine::watch::Kind::Flows, batches)
        .expect_err("refused");
    assert!(err.to_string().contains("cannot be replayed"), "{err}");
}
