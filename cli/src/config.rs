//! `flowpat.toml`: an analyst's defaults (networks file, archive roots, workers), so the daily
//! command is short. Found in the working directory or the nearest parent, or named with
//! `--config`. Paths in it are relative to the file. Command-line options always win.
//!
//! ```toml
//! networks = "networks.csv"
//! flows = ["archive/flows"]
//! events = ["archive/events"]
//! workers = 2
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::run::RunArgs;

/// The settings a config file may hold.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Networks file.
    pub networks: Option<PathBuf>,
    /// Flow archive paths.
    #[serde(default)]
    pub flows: Vec<PathBuf>,
    /// Event archive paths.
    #[serde(default)]
    pub events: Vec<PathBuf>,
    /// Worker threads.
    pub workers: Option<usize>,
}

/// Finds `flowpat.toml` from `start` upward.
pub fn find(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join("flowpat.toml");
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Reads a config file, resolving its paths against its folder.
pub fn load(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut config: Config =
        toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    config.networks.iter_mut().for_each(fix);
    config.flows.iter_mut().for_each(fix);
    config.events.iter_mut().for_each(fix);
    Ok(config)
}

/// Fills what the command line left unset from the config (explicit `--config`, or the one
/// found upward from the working directory). Returns the file used, if any.
pub fn apply(
    args: &mut RunArgs,
    explicit: Option<&Path>,
    workers_given: bool,
) -> Result<Option<PathBuf>> {
    let path = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir().ok().and_then(|d| find(&d)),
    };
    let Some(path) = path else { return Ok(None) };
    let config = load(&path)?;
    if args.networks.is_none() {
        args.networks = config.networks;
    }
    if args.flows.is_empty() && !args.sample {
        args.flows = config.flows;
    }
    if args.events.is_empty() && !args.sample {
        args.events = config.events;
    }
    if !workers_given {
        if let Some(w) = config.workers {
            if w == 0 {
                return Err(crate::usage(format!(
                    "{}: `workers = 0`: a run needs at least one worker",
                    path.display()
                )));
            }
            args.workers = w;
        }
    }
    Ok(Some(path))
}
