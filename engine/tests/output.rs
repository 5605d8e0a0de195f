//! The two printers of a result row agree: `ResultSet::for_each_text` (CSV, written without a
//! `String` per cell) prints exactly the text of the typed cells (`typed_cells`, behind JSON
//! lines, Parquet and `cells`), for every catalog pattern's results on a generated archive.

use std::path::{Path, PathBuf};

use compiler::source::SourceMap;
use engine::generate::{generate, GenerateOptions};
use engine::load::{self, Networks};
use engine::output::Cell;
use engine::run::{run, Inputs, RunOptions};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("engine/ has a parent")
        .to_path_buf()
}

fn catalog() -> Vec<compiler::plan::JoinPlan> {
    let dir = workspace().join("patterns");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("patterns/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pattern"))
        .collect();
    files.sort();
    let mut plans = Vec::new();
    for file in files {
        let mut sources = SourceMap::new();
        let text = std::fs::read_to_string(&file).expect("pattern text");
        let id = sources.add(file.display().to_string(), text);
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
        assert!(diags.iter().all(|d| d.is_warning()), "{diags:?}");
        plans.extend(compiled.into_iter().map(|c| c.plan));
    }
    plans
}

#[test]
fn csv_text_is_the_text_of_the_typed_cells() {
    let dir = tempfile::tempdir().expect("tempdir");
    generate(&GenerateOptions {
        rows: 20_000,
        seed: 5,
        files: 3,
        out_dir: dir.path().to_path_buf(),
        threads: Some(1),
        ..GenerateOptions::default()
    })
    .expect("generate");
    let plans = catalog();
    let inputs = Inputs {
        flows: load::discover(&[dir.path().join("flows")]).expect("flows"),
        events: load::discover(&[dir.path().join("events")]).expect("events"),
        networks: Networks::load(&dir.path().join("networks.csv")).expect("networks"),
    };
    let out = run(&plans, &inputs, &RunOptions::default()).expect("run");
    let mut checked = 0;
    for set in &out.results {
        assert!(!set.rows.is_empty(), "`{}` has results", set.pattern);
        let width = set.header().len();
        for row in &set.rows {
            let typed: Vec<String> = set
                .typed_cells(row, &inputs.flows, &inputs.events)
                .iter()
                .map(Cell::text)
                .collect();
            let mut streamed = Vec::new();
            set.for_each_text(row, &inputs.flows, &inputs.events, &mut |t| {
                streamed.push(t.to_string())
            });
            assert_eq!(streamed, typed, "`{}`", set.pattern);
            assert_eq!(streamed.len(), width);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} rows");
}
