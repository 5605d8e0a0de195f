//! A small archive on disk plus the same records in memory, so one fixture feeds both the
//! engine (through the CLI) and the oracle.

use std::path::{Path, PathBuf};

use crate::archive::{write_events_parquet, write_flows_parquet};
use crate::cli::{self, CatalogPattern};
use crate::model::{Ev, Flow};
use crate::networks::Networks;
use crate::oracle::Results;

/// A temporary archive: `flows/`, `events/` and `networks.csv` in a fresh folder.
pub struct Fixture {
    dir: tempfile::TempDir,
    /// Every flow written, with its `file` and `row`.
    pub flows: Vec<Flow>,
    /// Every event written, with its `file` and `row`.
    pub events: Vec<Ev>,
    /// The networks file, parsed by the harness.
    pub networks: Networks,
}

impl Fixture {
    /// An empty archive with the given networks file text.
    pub fn new(networks: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("creating a fixture folder");
        std::fs::create_dir_all(dir.path().join("flows")).expect("creating flows/");
        std::fs::create_dir_all(dir.path().join("events")).expect("creating events/");
        std::fs::write(dir.path().join("networks.csv"), networks).expect("writing networks.csv");
        let networks = Networks::parse(networks).expect("fixture networks parse");
        Fixture {
            dir,
            flows: Vec::new(),
            events: Vec::new(),
            networks,
        }
    }

    /// Writes `flows` as `flows/<file>`, numbering their rows; returns them as written.
    pub fn flows(&mut self, file: &str, flows: Vec<Flow>) -> Vec<Flow> {
        let flows: Vec<Flow> = flows
            .into_iter()
            .enumerate()
            .map(|(row, flow)| Flow {
                file: file.to_owned(),
                row: row as u64,
                ..flow
            })
            .collect();
        write_flows_parquet(&self.flows_dir().join(file), &flows).expect("writing fixture flows");
        self.flows.extend(flows.iter().cloned());
        flows
    }

    /// Writes `events` as `events/<file>`, numbering their rows; returns them as written.
    pub fn events(&mut self, file: &str, events: Vec<Ev>) -> Vec<Ev> {
        let events: Vec<Ev> = events
            .into_iter()
            .enumerate()
            .map(|(row, event)| Ev {
                file: file.to_owned(),
                row: row as u64,
                ..event
            })
            .collect();
        write_events_parquet(&self.path().join("events").join(file), &events)
            .expect("writing fixture events");
        self.events.extend(events.iter().cloned());
        events
    }

    /// The folder given to `--flows`.
    pub fn flows_dir(&self) -> PathBuf {
        self.dir.path().join("flows")
    }

    /// The folder given to `--events` (only when an event file was written).
    pub fn events_dir(&self) -> Option<PathBuf> {
        (!self.events.is_empty()).then(|| self.dir.path().join("events"))
    }

    /// The networks file.
    pub fn networks_path(&self) -> PathBuf {
        self.dir.path().join("networks.csv")
    }

    /// The fixture's root folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The oracle's results for `pattern`.
    pub fn oracle(&self, pattern: &CatalogPattern) -> Results {
        (pattern.oracle)(&self.flows, &self.events, &self.networks)
    }

    /// The engine's results for `pattern`, through the CLI.
    pub fn engine(&self, pattern: &CatalogPattern) -> Results {
        let events = if pattern.uses_events {
            self.events_dir()
        } else {
            None
        };
        cli::run_catalog(
            pattern.name,
            &self.flows_dir(),
            events.as_deref(),
            &self.networks_path(),
        )
    }

    /// Asserts engine == oracle for `pattern` and returns the (shared) results.
    pub fn assert_engine_matches_oracle(&self, pattern: &CatalogPattern) -> Results {
        let expected = self.oracle(pattern);
        let actual = self.engine(pattern);
        assert_results_eq(
            &actual,
            &expected,
            &format!("engine vs oracle, pattern {}", pattern.name),
        );
        actual
    }
}

/// Asserts two result sets are equal, listing the tuples only one side has.
pub fn assert_results_eq(actual: &Results, expected: &Results, what: &str) {
    if actual == expected {
        return;
    }
    let mut report = String::new();
    for (tuple, matches) in actual {
        match expected.get(tuple) {
            None => report.push_str(&format!("  unexpected {tuple:?} matches={matches}\n")),
            Some(want) if want != matches => {
                report.push_str(&format!("  {tuple:?} matches={matches}, expected {want}\n"))
            }
            Some(_) => {}
        }
    }
    for (tuple, matches) in expected {
        if !actual.contains_key(tuple) {
            report.push_str(&format!("  missing {tuple:?} matches={matches}\n"));
        }
    }
    panic!(
        "{what}: {} rows, expected {}\n{report}",
        actual.len(),
        expected.len()
    );
}

/// Builds expected results from literal rows: each tuple with its `matches`.
pub fn rows(rows: &[(&[&str], u64)]) -> Results {
    rows.iter()
        .map(|(tuple, matches)| (tuple.iter().map(|s| (*s).to_owned()).collect(), *matches))
        .collect()
}
