//! Driving the `flowpat` binary as a user would, and reading its CSV back by header name.
//!
//! The binary belongs to another package, so `cargo test -p flowpat-tests` would not build it
//! and a stale copy could answer. The first run in a test process therefore builds it with the
//! same cargo, profile and target folder (`FLOWPAT_BIN` names a binary to use instead).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::oracle::{self, Oracle, Results};

/// The workspace root (where `patterns/` lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `flowpat` binary, built once per test process.
pub fn flowpat_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_flowpat) {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

fn build_flowpat() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("FLOWPAT_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("FLOWPAT_BIN={} is not a file", path.display()))
        };
    }
    // The test executable lives in <target>/<profile>/deps/.
    let exe =
        std::env::current_exe().map_err(|err| format!("locating the test executable: {err}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test executable is not in <target>/<profile>/deps")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("test executable is not in <target>/<profile>/deps")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => return Err("test executable's profile folder has no name".to_owned()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "flowpat-cli",
            "--bin",
            "flowpat",
            "--profile",
            &profile,
            "--target-dir",
        ])
        .arg(target_dir)
        .output()
        .map_err(|err| format!("running cargo to build flowpat: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "could not build the flowpat binary (cargo build -p flowpat-cli): {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let bin = profile_dir.join(format!("flowpat{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "cargo built flowpat-cli but {} is missing",
            bin.display()
        ))
    }
}

/// Runs `flowpat` with `args`, returning stdout; panics with the command and its stderr on a
/// non-zero exit.
pub fn flowpat<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let bin = flowpat_bin();
    let output = Command::new(bin)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|err| panic!("spawning {}: {err}", bin.display()));
    let shown = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        output.status.success(),
        "`flowpat {shown}` failed with {}\nstderr:\n{}\nstdout:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout)
        .unwrap_or_else(|err| panic!("`flowpat {shown}` printed non-UTF-8: {err}"))
}

/// One `flowpat run … --format csv` invocation.
#[derive(Clone, Debug)]
pub struct Run {
    /// Pattern files.
    pub patterns: Vec<PathBuf>,
    /// Flow archive folders or files.
    pub flows: PathBuf,
    /// Event archive folder or file, if any.
    pub events: Option<PathBuf>,
    /// Networks file.
    pub networks: PathBuf,
    /// `--workers`, if given.
    pub workers: Option<u32>,
}

impl Run {
    /// A run of one pattern file.
    pub fn new(
        pattern: impl Into<PathBuf>,
        flows: &Path,
        events: Option<&Path>,
        networks: &Path,
    ) -> Run {
        Run {
            patterns: vec![pattern.into()],
            flows: flows.to_path_buf(),
            events: events.map(Path::to_path_buf),
            networks: networks.to_path_buf(),
            workers: None,
        }
    }

    /// The same run with `--workers n`.
    pub fn workers(mut self, n: u32) -> Run {
        self.workers = Some(n);
        self
    }

    /// Runs it and returns the CSV text.
    pub fn csv(&self) -> String {
        for pattern in &self.patterns {
            assert!(
                pattern.is_file(),
                "pattern file {} does not exist (yet?)",
                pattern.display()
            );
        }
        let mut args: Vec<std::ffi::OsString> = vec!["run".into()];
        args.extend(self.patterns.iter().map(|p| p.as_os_str().to_owned()));
        args.extend(["--flows".into(), self.flows.as_os_str().to_owned()]);
        if let Some(events) = &self.events {
            args.extend(["--events".into(), events.as_os_str().to_owned()]);
        }
        args.extend(["--networks".into(), self.networks.as_os_str().to_owned()]);
        args.extend(["--format".into(), "csv".into(), "--quiet".into()]);
        if let Some(n) = self.workers {
            args.extend(["--workers".into(), n.to_string().into()]);
        }
        flowpat(&args)
    }
}

/// Projects CSV output onto `key_columns` (by header name) and `matches`. Panics if a column
/// is missing or a tuple is printed twice (results are distinct tuples).
pub fn parse_results(csv_text: &str, key_columns: &[&str]) -> Results {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .unwrap_or_else(|err| panic!("CSV header: {err}\n{csv_text}"))
        .clone();
    let index = |name: &str| {
        headers.iter().position(|h| h == name).unwrap_or_else(|| {
            panic!(
                "CSV has no column `{name}`; header is `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            )
        })
    };
    let key_idx: Vec<usize> = key_columns.iter().map(|name| index(name)).collect();
    let matches_idx = index("matches");
    let mut results = Results::new();
    for record in reader.records() {
        let record = record.unwrap_or_else(|err| panic!("CSV record: {err}\n{csv_text}"));
        let key: Vec<String> = key_idx.iter().map(|&i| record[i].to_owned()).collect();
        let matches: u64 = record[matches_idx]
            .parse()
            .unwrap_or_else(|err| panic!("`matches` = `{}`: {err}", &record[matches_idx]));
        if let Some(previous) = results.insert(key.clone(), matches) {
            panic!("tuple {key:?} printed twice (matches {previous} and {matches})");
        }
    }
    results
}

/// A catalog pattern: its file in `patterns/`, the CSV columns of its identity tuple, its oracle.
#[derive(Clone, Copy, Debug)]
pub struct CatalogPattern {
    /// File stem in `patterns/`.
    pub name: &'static str,
    /// Columns of the exported identity tuple, in the oracle's order.
    pub key_columns: &'static [&'static str],
    /// The independent oracle.
    pub oracle: Oracle,
    /// Whether the pattern reads events.
    pub uses_events: bool,
}

const CONN_KEY: &[&str] = &["srcadr", "conn.file", "conn.row", "destadr"];
const FTP_KEY: &[&str] = &[
    "event.file",
    "event.row",
    "srcadr",
    "conn.file",
    "conn.row",
    "destadr",
];

/// The six catalog patterns of `flow-model.md`, in catalog order.
pub const CATALOG: [CatalogPattern; 6] = [
    CatalogPattern {
        name: "ephemeral-tcp",
        key_columns: CONN_KEY,
        oracle: oracle::ephemeral_tcp,
        uses_events: false,
    },
    CatalogPattern {
        name: "exfiltration",
        key_columns: CONN_KEY,
        oracle: oracle::exfiltration,
        uses_events: false,
    },
    CatalogPattern {
        name: "ftp-exfiltration",
        key_columns: FTP_KEY,
        oracle: oracle::ftp_exfiltration,
        uses_events: true,
    },
    CatalogPattern {
        name: "ftp-exfiltration-temporal",
        key_columns: FTP_KEY,
        oracle: oracle::ftp_exfiltration_temporal,
        uses_events: true,
    },
    CatalogPattern {
        name: "invalid-ip-packets",
        key_columns: CONN_KEY,
        oracle: oracle::invalid_ip_packets,
        uses_events: false,
    },
    CatalogPattern {
        name: "port-jumping",
        key_columns: &["srcadr", "destadr", "ports"],
        oracle: oracle::port_jumping,
        uses_events: false,
    },
];

/// The catalog entry named `name` (its `patterns/` file stem).
pub fn catalog(name: &str) -> CatalogPattern {
    CATALOG
        .iter()
        .find(|p| p.name == name)
        .copied()
        .unwrap_or_else(|| panic!("no catalog pattern `{name}`"))
}

/// `patterns/<name>.pattern` in the workspace.
pub fn pattern_path(name: &str) -> PathBuf {
    workspace_root()
        .join("patterns")
        .join(format!("{name}.pattern"))
}

/// Runs catalog pattern `pattern_name` through the CLI and returns its results by identity tuple.
pub fn run_catalog(
    pattern_name: &str,
    flows_dir: &Path,
    events_dir: Option<&Path>,
    networks: &Path,
) -> Results {
    let pattern = catalog(pattern_name);
    let csv_text = Run::new(pattern_path(pattern.name), flows_dir, events_dir, networks).csv();
    parse_results(&csv_text, pattern.key_columns)
}
