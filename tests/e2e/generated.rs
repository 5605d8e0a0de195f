//! The catalog on `flowpat generate` output: the harness reads the generated Parquet itself,
//! runs the oracle, and compares with `flowpat run`; and worker counts must not change a byte.

use std::path::{Path, PathBuf};

use flowpat_tests::archive::{read_events, read_flows};
use flowpat_tests::cli::{self, Run, CATALOG};
use flowpat_tests::fixture::assert_results_eq;
use flowpat_tests::networks::Networks;

/// A generated archive in a temporary folder.
struct Generated {
    dir: tempfile::TempDir,
}

impl Generated {
    /// `flowpat generate --rows 20000 --seed 7 --out DIR`.
    fn new() -> Generated {
        let dir = tempfile::tempdir().expect("tempdir");
        cli::flowpat(&[
            "generate".as_ref(),
            "--rows".as_ref(),
            "20000".as_ref(),
            "--seed".as_ref(),
            "7".as_ref(),
            "--out".as_ref(),
            dir.path().as_os_str(),
        ]);
        Generated { dir }
    }

    fn flows(&self) -> PathBuf {
        self.dir.path().join("flows")
    }

    fn events(&self) -> PathBuf {
        self.dir.path().join("events")
    }

    fn networks(&self) -> PathBuf {
        self.dir.path().join("networks.csv")
    }

    fn run(&self, pattern: &str) -> Run {
        Run::new(
            cli::pattern_path(pattern),
            &self.flows(),
            Some(&self.events()),
            &self.networks(),
        )
    }
}

fn require(path: &Path) {
    assert!(
        path.exists(),
        "`flowpat generate` did not write {}",
        path.display()
    );
}

#[test]
fn generated_archive_matches_oracle() {
    let generated = Generated::new();
    for path in [
        generated.flows(),
        generated.events().join("events.parquet"),
        generated.networks(),
    ] {
        require(&path);
    }
    let flows = read_flows(&generated.flows()).expect("reading generated flows");
    let events = read_events(&generated.events()).expect("reading generated events");
    let networks = Networks::read(&generated.networks()).expect("reading generated networks");
    assert_eq!(
        flows.records.len(),
        20_000,
        "--rows 20000 gives 20000 flow records"
    );
    assert_eq!(
        (flows.skipped, events.skipped),
        (0, 0),
        "generated data has no rows the load rule skips"
    );
    assert!(!events.records.is_empty(), "the generator wrote no events");

    for pattern in &CATALOG {
        let expected = (pattern.oracle)(&flows.records, &events.records, &networks);
        assert!(
            !expected.is_empty(),
            "the oracle finds no {} match in generated data: the comparison would be vacuous",
            pattern.name
        );
        let csv = generated.run(pattern.name).csv();
        let actual = cli::parse_results(&csv, pattern.key_columns);
        assert_results_eq(
            &actual,
            &expected,
            &format!("generated data, pattern {}", pattern.name),
        );
    }
}

#[test]
fn workers_do_not_change_output_on_generated_archive() {
    let generated = Generated::new();
    for pattern in &CATALOG {
        let one = generated.run(pattern.name).workers(1).csv();
        let four = generated.run(pattern.name).workers(4).csv();
        assert!(
            one.lines().count() > 1,
            "pattern {} printed no rows on generated data",
            pattern.name
        );
        assert_eq!(
            one, four,
            "pattern {}: --workers 1 and --workers 4 differ",
            pattern.name
        );
    }
}

/// `generate --out DIR` refuses a folder that already holds an archive, as `import` refuses one
/// holding part files: a second, smaller archive would leave the first one's extra part files
/// behind, and the next run would read both.
#[test]
fn generate_refuses_a_folder_holding_an_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("synthetic");
    let generate = |files: &str| {
        std::process::Command::new(cli::flowpat_bin())
            .args(["generate", "--rows", "1000", "--files", files, "--out"])
            .arg(&out)
            .output()
            .expect("spawning flowpat")
    };
    let first = generate("4");
    assert!(first.status.success());
    let second = generate("2");
    assert_eq!(second.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&second.stderr).trim_end(),
        format!(
            "error: {} already holds an archive (flows/, events/, networks.csv): generate into \
             a new or empty folder (or remove it)",
            out.display()
        )
    );
    let mut parts: Vec<String> = std::fs::read_dir(out.join("flows"))
        .expect("flows/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            "part-0000.parquet",
            "part-0001.parquet",
            "part-0002.parquet",
            "part-0003.parquet"
        ]
    );
}
