//! File-system notifications that wake a watch early.
//!
//! A notification never decides anything: it only makes the caller look (list and `stat`) now
//! rather than at the next poll timeout, and the look applies the usual stability rule. So a
//! missed or spurious notification costs at most a poll interval or one listing, and file
//! systems without notifications (NFS, some FUSE mounts) are served by the timeout alone.
//!
//! What is watched: every input folder recursively; for a single input file, and for the
//! networks file, the folder it is in (editors and writers replace a file by rename, which a
//! watch on the file itself would lose), with only events about that file counted; for a glob,
//! the deepest folder before its first wildcard, recursively. Events inside the state folder or
//! about the emit file, and pure reads (`open`, `close` without writing, our own reads among
//! them), are dropped.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// A running set of notification watches; dropping it stops them.
pub struct Notifier {
    _watcher: RecommendedWatcher,
    /// What could not be watched (those paths are served by the poll timeout alone).
    pub problems: Vec<String>,
}

/// One thing watched: a folder and which paths under it count.
#[derive(Clone, Debug)]
struct Root {
    dir: PathBuf,
    recursive: bool,
    /// For a folder watched for one file: that file.
    only: Option<PathBuf>,
}

impl Root {
    fn counts(&self, path: &Path) -> bool {
        match &self.only {
            Some(file) => path == file,
            None if self.recursive => path.starts_with(&self.dir),
            None => path.parent() == Some(self.dir.as_path()),
        }
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// The root that covers an input path as `watch` lists it.
fn input_root(path: &Path) -> Option<Root> {
    if has_wildcard(&path.to_string_lossy()) {
        let mut dir = PathBuf::new();
        for part in path.components() {
            if has_wildcard(&part.as_os_str().to_string_lossy()) {
                break;
            }
            dir.push(part);
        }
        if dir.as_os_str().is_empty() {
            dir.push(".");
        }
        let dir = std::fs::canonicalize(&dir).ok()?;
        return Some(Root {
            dir,
            recursive: true,
            only: None,
        });
    }
    let real = std::fs::canonicalize(path).ok()?;
    if real.is_dir() {
        Some(Root {
            dir: real,
            recursive: true,
            only: None,
        })
    } else {
        file_root(path)
    }
}

/// The folder of a single file, counting only events about it.
fn file_root(path: &Path) -> Option<Root> {
    let absolute = std::path::absolute(path).ok()?;
    let name = absolute.file_name()?.to_owned();
    let dir = std::fs::canonicalize(absolute.parent()?).ok()?;
    Some(Root {
        only: Some(dir.join(name)),
        dir,
        recursive: false,
    })
}

/// Starts notification watches over `inputs` (folders, files, globs) and the networks file;
/// `wake` is called (from the watcher's thread) whenever something there may have changed.
/// Paths under `ignore` (canonical) never wake. Errors only if no watcher can be created at
/// all; a path that cannot be watched is listed in [`Notifier::problems`].
pub(super) fn start(
    inputs: &[PathBuf],
    networks: &Path,
    ignore: Vec<PathBuf>,
    wake: impl Fn() + Send + 'static,
) -> Result<Notifier, String> {
    let mut roots: Vec<Root> = inputs.iter().filter_map(|p| input_root(p)).collect();
    roots.extend(file_root(networks));
    // A folder inside one already watched recursively needs no watch of its own.
    roots.sort_by_key(|r| (!r.recursive, r.dir.components().count()));
    let mut watched: Vec<Root> = Vec::new();
    for root in &roots {
        if !watched
            .iter()
            .any(|w| w.recursive && root.dir.starts_with(&w.dir))
            && !watched
                .iter()
                .any(|w| w.dir == root.dir && w.recursive == root.recursive)
        {
            watched.push(root.clone());
        }
    }
    let counted = roots.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            // The backend lost track (queue overflow, a watch removed): look again.
            wake();
            return;
        };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.is_empty()
            || event.need_rescan()
            || event.paths.iter().any(|p| {
                !ignore.iter().any(|own| p.starts_with(own))
                    && counted.iter().any(|root| root.counts(p))
            });
        if relevant {
            wake();
        }
    };
    let mut watcher = notify::recommended_watcher(handler).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for root in &watched {
        let mode = if root.recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if let Err(e) = watcher.watch(&root.dir, mode) {
            problems.push(format!("{}: {e}", root.dir.display()));
        }
    }
    for path in inputs {
        if input_root(path).is_none() {
            problems.push(format!("{}: not found", path.display()));
        }
    }
    Ok(Notifier {
        _watcher: watcher,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_rename_into_a_watched_folder_wakes_and_own_files_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let flows = dir.path().join("flows");
        std::fs::create_dir_all(flows.join("sub")).expect("mkdir");
        let state = flows.join("state");
        std::fs::create_dir_all(&state).expect("mkdir");
        let networks = dir.path().join("networks.csv");
        std::fs::write(&networks, "default,external\n").expect("networks");
        let other = dir.path().join("unrelated.txt");
        let (tx, rx) = mpsc::channel();
        let notifier = start(
            std::slice::from_ref(&flows),
            &networks,
            vec![std::fs::canonicalize(&state).expect("state")],
            move || {
                let _ = tx.send(());
            },
        )
        .expect("watcher");
        assert!(notifier.problems.is_empty(), "{:?}", notifier.problems);
        let quiet = |rx: &mpsc::Receiver<()>| {
            // Nothing relevant: no wake within a short while.
            rx.recv_timeout(Duration::from_millis(300)).is_err()
        };
        std::fs::write(state.join("state.json"), "{}").expect("state");
        std::fs::write(&other, "x").expect("other");
        assert!(
            quiet(&rx),
            "own state files and unrelated siblings do not wake"
        );
        std::fs::write(flows.join("sub/.part.tmp"), "data").expect("stage");
        std::fs::rename(flows.join("sub/.part.tmp"), flows.join("sub/part")).expect("rename");
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "a rename wakes"
        );
        while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
        std::fs::write(&networks, "10.0.0.0/8,internal\n").expect("edit networks");
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "a networks edit wakes"
        );
        drop(notifier);
    }
}
