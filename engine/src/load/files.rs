//! File discovery: the paths a user named → the run's sorted input table.
//!
//! A record's identity is `(FileId, row)` and is printed as the file's display path, so this
//! module fixes both: the display path is the path as given for a file or glob match, and the
//! path relative to the folder for a file found under a folder; the table is sorted by display
//! path and a `FileId` is the index in it. The same inputs therefore give the same ids in every
//! run, whatever order the operating system lists a folder in. Two different files that would
//! print the same way are refused rather than left ambiguous.
//!
//! A file's format is found from its first bytes (Parquet, Arrow IPC), unless the user named a
//! text preset for the archive ([`discover_as`]): text has no magic bytes that would tell a Zeek
//! log from nfdump CSV, so it is never guessed into a reading, only into the error's advice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::LoadError;
use crate::model::FileId;
use crate::presets::Preset;

/// How a file's records are stored, found from its first bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum FileFormat {
    /// Apache Parquet (`PAR1` magic).
    Parquet,
    /// Arrow IPC file format (`ARROW1` magic; "Feather v2").
    ArrowIpcFile,
    /// Arrow IPC streaming format (no magic; recognised by reading its schema message).
    ArrowIpcStream,
    /// Sensor text read through a preset (never detected: named by the user).
    Text(Preset),
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileFormat::Parquet => "parquet",
            FileFormat::ArrowIpcFile => "arrow-ipc-file",
            FileFormat::ArrowIpcStream => "arrow-ipc-stream",
            FileFormat::Text(preset) => return write!(f, "{preset} text"),
        })
    }
}

/// A path found by discovery, before its format is known.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct ListedFile {
    /// The path as printed in results (see the module docs).
    pub display: String,
    /// The canonical absolute path (symlinks resolved), used to open and to deduplicate.
    pub path: PathBuf,
}

/// One input file of a run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileEntry {
    /// Index of this entry in its [`FileTable`].
    pub id: FileId,
    /// Canonical absolute path.
    pub path: PathBuf,
    /// The path as printed in results.
    pub display: String,
    /// Storage format.
    pub format: FileFormat,
}

/// The run's input files, sorted by display path; `FileId(i)` is `files()[i]`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FileTable {
    files: Vec<FileEntry>,
    /// Files found under a folder and left out as not data (see [`is_not_data_name`]).
    not_data: Vec<PathBuf>,
}

impl FileTable {
    /// Files found under the folders given that were left out as obviously not data
    /// (`SOURCE.md`, `labels.config`, …; see [`is_not_data_name`]), as folder joined with the
    /// relative path, in sorted order.
    pub fn not_data(&self) -> &[PathBuf] {
        &self.not_data
    }

    /// All entries, in id order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The entry of an id, if it belongs to this table.
    pub fn get(&self, id: FileId) -> Option<&FileEntry> {
        self.files.get(usize::try_from(id.0).ok()?)
    }

    /// The entry with this display path.
    pub fn by_display(&self, display: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.display.as_str().cmp(display))
            .ok()
            .map(|idx| &self.files[idx])
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// A table from already listed files, detecting each one's format.
    pub fn from_listed(listed: Vec<ListedFile>) -> Result<FileTable, LoadError> {
        FileTable::from_listed_as(listed, None)
    }

    /// A table from already listed files, all read with `text` when it is set (see
    /// [`discover_as`]), else each one's detected format.
    pub fn from_listed_as(
        listed: Vec<ListedFile>,
        text: Option<Preset>,
    ) -> Result<FileTable, LoadError> {
        let mut files = Vec::with_capacity(listed.len());
        for (idx, item) in listed.into_iter().enumerate() {
            let id = FileId(u32::try_from(idx).map_err(|_| LoadError::TooManyFiles)?);
            let format = match text {
                Some(preset) => check_text(&item.path, &item.display, preset)?,
                None => detect_format(&item.path, &item.display)?,
            };
            files.push(FileEntry {
                id,
                path: item.path,
                display: item.display,
                format,
            });
        }
        Ok(FileTable {
            files,
            not_data: Vec::new(),
        })
    }
}

/// Discovers the input files of `paths` and detects their formats (see [`list_files`]).
pub fn discover(paths: &[PathBuf]) -> Result<FileTable, LoadError> {
    discover_as(paths, None)
}

/// Discovers the input files of `paths`; with `text = Some(preset)` every file is sensor text
/// read through that preset (an empty file is then simply an empty log), otherwise each
/// file's format is detected as [`discover`] does.
pub fn discover_as(paths: &[PathBuf], text: Option<Preset>) -> Result<FileTable, LoadError> {
    let listing = list_files_noting(paths)?;
    let mut table = FileTable::from_listed_as(listing.files, text)?;
    table.not_data = listing.not_data;
    Ok(table)
}

/// The format of a file the user named as text: `Text(preset)`, unless its magic bytes say it is
/// Parquet or Arrow IPC, or its first lines clearly are another known text format (an Argus
/// header, a Zeek `#fields` line, EVE JSON: see [`super::text::conflicting_preset`]), which the
/// preset would only misread line by line.
fn check_text(path: &Path, display: &str, preset: Preset) -> Result<FileFormat, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let head = super::text::head(file, 8).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let found = if head.starts_with(b"PAR1") {
        Some(FileFormat::Parquet)
    } else if head.starts_with(b"ARROW1") {
        Some(FileFormat::ArrowIpcFile)
    } else {
        None
    };
    if let Some(found) = found {
        return Err(LoadError::NotText {
            file: display.to_string(),
            preset,
            found,
        });
    }
    let head = super::text::text_head(path, 8192).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match super::text::conflicting_preset(&head, preset) {
        Some(found) => Err(LoadError::WrongTextFormat {
            file: display.to_string(),
            given: preset,
            found,
        }),
        None => Ok(FileFormat::Text(preset)),
    }
}

/// Lists the files named by `paths`, sorted by display path, without opening them (text
/// presets use this too). Each path is a file (display path as given), a folder (read
/// recursively; display path relative to it, `/`-separated; dot-files, dot-folders and `*.tmp`
/// skipped, since writers stage partial files under such names, and so are files whose names
/// say they are no data, see [`is_not_data_name`]) or a glob pattern (display path as
/// matched). A file named directly is always listed. A file reached twice is listed once; two
/// different files with one display path are an error, as is a path that does not exist or a
/// pattern that matches nothing.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<ListedFile>, LoadError> {
    Ok(list_files_noting(paths)?.files)
}

/// What [`list_files_noting`] found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Listing {
    /// The files to read, as [`list_files`] returns them.
    pub files: Vec<ListedFile>,
    /// Files under the folders given that were left out as obviously not data
    /// ([`is_not_data_name`]), as folder joined with the relative path, sorted.
    pub not_data: Vec<PathBuf>,
}

/// Whether a file found under a folder is obviously no data, by its name (compared without
/// regard to case): documentation and configuration that data sets ship beside their logs —
/// `README*`, `LICENSE*`/`LICENCE*`, and names ending `.md`, `.markdown`, `.rst`, `.adoc`,
/// `.txt`, `.pdf`, `.html`, `.htm`, `.config`, `.cfg`, `.conf`, `.ini`, `.toml`, `.yaml`,
/// `.yml`, `.md5`, `.sha1`, `.sha256`, `.asc` or `.sig`. Such a file is left out of a folder's
/// listing (and counted); named directly, it is read like any file. Sensor data keeps its
/// names: `conn.log`, `conn.log.gz`, `notice.log.labeled`, `*.binetflow`, `*.csv`, `eve.json`
/// and `*.parquet` are all data.
pub fn is_not_data_name(name: &str) -> bool {
    const PREFIXES: &[&str] = &["readme", "license", "licence"];
    const EXTENSIONS: &[&str] = &[
        "md", "markdown", "rst", "adoc", "txt", "pdf", "html", "htm", "config", "cfg", "conf",
        "ini", "toml", "yaml", "yml", "md5", "sha1", "sha256", "asc", "sig",
    ];
    let lower = name.to_ascii_lowercase();
    if PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    match lower.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => EXTENSIONS.contains(&ext),
        _ => false,
    }
}

/// As [`list_files`], also saying which files under the folders were left out as not data.
pub fn list_files_noting(paths: &[PathBuf]) -> Result<Listing, LoadError> {
    let mut not_data: Vec<PathBuf> = Vec::new();
    let mut by_path: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut add = |display: String, path: &Path| -> Result<(), LoadError> {
        let real = std::fs::canonicalize(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        by_path.entry(real).or_insert(display);
        Ok(())
    };
    for given in paths {
        let text = given.to_string_lossy();
        if given.is_dir() {
            let mut found = Vec::new();
            walk(given, given, &mut found)?;
            for (display, path) in found {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if is_not_data_name(&name) {
                    not_data.push(given.join(&display));
                    continue;
                }
                add(display, &path)?;
            }
        } else if given.exists() {
            add(text.into_owned(), given)?;
        } else if text.contains(['*', '?', '[']) {
            let matches = glob::glob(&text).map_err(|err| LoadError::BadGlob {
                pattern: text.to_string(),
                message: err.msg.to_string(),
            })?;
            let mut n_matches = 0usize;
            for item in matches {
                let path = item.map_err(|err| LoadError::Io {
                    path: err.path().to_path_buf(),
                    source: std::io::Error::new(err.error().kind(), err.error().to_string()),
                })?;
                if path.is_file() && !is_skipped_name(&path) {
                    n_matches += 1;
                    add(path.to_string_lossy().into_owned(), &path)?;
                }
            }
            if n_matches == 0 {
                return Err(LoadError::NoMatch {
                    pattern: text.to_string(),
                });
            }
        } else {
            return Err(LoadError::Io {
                path: given.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    let mut listed: Vec<ListedFile> = by_path
        .into_iter()
        .map(|(path, display)| ListedFile { display, path })
        .collect();
    listed.sort();
    for pair in listed.windows(2) {
        if pair[0].display == pair[1].display {
            return Err(LoadError::AmbiguousDisplayPath {
                display: pair[0].display.clone(),
                first: pair[0].path.clone(),
                second: pair[1].path.clone(),
            });
        }
    }
    not_data.sort();
    not_data.dedup();
    Ok(Listing {
        files: listed,
        not_data,
    })
}

fn is_skipped_name(path: &Path) -> bool {
    path.file_name()
        .map(|n| {
            let n = n.to_string_lossy();
            n.starts_with('.') || n.ends_with(".tmp")
        })
        .unwrap_or(false)
}

/// Collects `(display, path)` for every file under `dir`, in sorted order.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), LoadError> {
    let io_err = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_err)?;
    entries.sort();
    for path in entries {
        if is_skipped_name(&path) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let display = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((display, path));
        }
    }
    Ok(())
}

/// Detects a file's format from its first bytes; `display` names it in errors.
pub fn detect_format(path: &Path, display: &str) -> Result<FileFormat, LoadError> {
    let io_err = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let mut head = [0u8; 8];
    let mut n_read = 0;
    while n_read < head.len() {
        let n = file.read(&mut head[n_read..]).map_err(io_err)?;
        if n == 0 {
            break;
        }
        n_read += n;
    }
    if n_read == 0 {
        return Err(LoadError::EmptyFile {
            file: display.to_string(),
        });
    }
    if head[..n_read].starts_with(b"PAR1") {
        return Ok(FileFormat::Parquet);
    }
    if head[..n_read].starts_with(b"ARROW1") {
        return Ok(FileFormat::ArrowIpcFile);
    }
    let file = File::open(path).map_err(io_err)?;
    if arrow::ipc::reader::StreamReader::try_new(BufReader::new(file), None).is_ok() {
        return Ok(FileFormat::ArrowIpcStream);
    }
    let head = File::open(path)
        .and_then(|file| super::text::head(file, 8192))
        .map_err(io_err)?;
    Err(LoadError::UnknownFormat {
        file: display.to_string(),
        guess: super::text::guess_preset(&head),
    })
}

/// The format of one file read with `text` (see [`discover_as`]): `Text(preset)` for a file
/// named as sensor text (refused if its magic bytes say Parquet or Arrow IPC), else detected
/// from its first bytes. `watch` takes its files one at a time through this.
pub fn detect_format_as(
    path: &Path,
    display: &str,
    text: Option<Preset>,
) -> Result<FileFormat, LoadError> {
    match text {
        Some(preset) => check_text(path, display, preset),
        None => detect_format(path, display),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: &[u8]) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, bytes).expect("write");
    }

    fn displays(listed: &[ListedFile]) -> Vec<&str> {
        listed.iter().map(|f| f.display.as_str()).collect()
    }

    #[test]
    fn folders_files_and_globs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        touch(&root.join("arch/b/2.parquet"), b"PAR1xxxx");
        touch(&root.join("arch/a.parquet"), b"PAR1xxxx");
        touch(&root.join("arch/.hidden"), b"x");
        touch(&root.join("arch/.staging/x.parquet"), b"PAR1");
        touch(&root.join("arch/part.tmp"), b"x");
        touch(&root.join("other/c.arrow"), b"ARROW1\0\0");
        let listed = list_files(&[root.join("arch")]).expect("list");
        assert_eq!(displays(&listed), ["a.parquet", "b/2.parquet"]);

        let single = root.join("other/c.arrow");
        let pattern = PathBuf::from(format!("{}/arch/*.parquet", root.display()));
        let listed = list_files(&[pattern.clone(), single.clone(), pattern]).expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed
            .iter()
            .any(|f| f.display == single.display().to_string()));

        let single_display = single.display().to_string();
        let table = discover(&[root.join("arch"), single]).expect("discover");
        // Sorted by display path: the absolute path of the named file sorts first.
        let found: Vec<_> = table
            .files()
            .iter()
            .map(|f| (f.id, f.display.as_str(), f.format))
            .collect();
        assert_eq!(
            found,
            [
                (FileId(0), single_display.as_str(), FileFormat::ArrowIpcFile),
                (FileId(1), "a.parquet", FileFormat::Parquet),
                (FileId(2), "b/2.parquet", FileFormat::Parquet),
            ]
        );
        assert_eq!(
            table.by_display("b/2.parquet").map(|f| f.id),
            Some(FileId(2))
        );
    }

    #[test]
    fn empty_folder_unknown_and_empty_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
        assert!(discover(&[dir.path().join("empty")])
            .expect("ok")
            .is_empty());

        touch(&dir.path().join("x/zero.parquet"), b"");
        match discover(&[dir.path().join("x")]) {
            Err(LoadError::EmptyFile { file }) => assert_eq!(file, "zero.parquet"),
            other => panic!("expected EmptyFile, got {other:?}"),
        }
        touch(&dir.path().join("y/notes.dat"), b"hello world");
        match discover(&[dir.path().join("y")]) {
            Err(LoadError::UnknownFormat { file, guess }) => {
                assert_eq!((file.as_str(), guess), ("notes.dat", None))
            }
            other => panic!("expected UnknownFormat, got {other:?}"),
        }
        assert!(matches!(
            discover(&[dir.path().join("missing")]),
            Err(LoadError::Io { .. })
        ));
        let pattern = PathBuf::from(format!("{}/*.nothing", dir.path().display()));
        assert!(matches!(
            discover(&[pattern]),
            Err(LoadError::NoMatch { .. })
        ));
    }

    #[test]
    fn text_archives_are_named_not_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(
            &dir.path().join("logs/conn.log"),
            b"#separator \\x09\n#path\tconn\n",
        );
        touch(&dir.path().join("logs/empty.log"), b"");
        let table = discover_as(&[dir.path().join("logs")], Some(Preset::Zeek)).expect("text");
        let formats: Vec<FileFormat> = table.files().iter().map(|f| f.format).collect();
        assert_eq!(formats, [FileFormat::Text(Preset::Zeek); 2]);
        match discover(&[dir.path().join("logs/conn.log")]) {
            Err(err @ LoadError::UnknownFormat { .. }) => {
                assert!(err.to_string().contains("--flows-format zeek"), "{err}")
            }
            other => panic!("expected UnknownFormat, got {other:?}"),
        }
        touch(&dir.path().join("p/part.parquet"), b"PAR1xxxx");
        assert!(matches!(
            discover_as(&[dir.path().join("p")], Some(Preset::Zeek)),
            Err(LoadError::NotText { .. })
        ));
    }

    #[test]
    fn folders_leave_out_files_that_are_not_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("capture");
        for name in [
            "SOURCE.md",
            "README",
            "readme.rst",
            "LICENSE.txt",
            "labels.config",
            "notes.TXT",
            "sub/conn.log.md5",
            "conn.log",
            "conn.log.gz",
            "notice.log.labeled",
            "test4-malicious.binetflow",
            "flows.csv",
            "eve.json",
            "sub/part-0000.parquet",
            ".hidden.md",
        ] {
            touch(&root.join(name), b"x");
        }
        let listing = list_files_noting(std::slice::from_ref(&root)).expect("list");
        assert_eq!(
            displays(&listing.files),
            [
                "conn.log",
                "conn.log.gz",
                "eve.json",
                "flows.csv",
                "notice.log.labeled",
                "sub/part-0000.parquet",
                "test4-malicious.binetflow",
            ]
        );
        let skipped: Vec<String> = listing
            .not_data
            .iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .expect("under root")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            skipped,
            [
                "LICENSE.txt",
                "README",
                "SOURCE.md",
                "labels.config",
                "notes.TXT",
                "readme.rst",
                "sub/conn.log.md5",
            ]
        );
        // Named directly, such a file is read (here: refused as no known format, not skipped).
        let named = root.join("SOURCE.md");
        let listing = list_files_noting(std::slice::from_ref(&named)).expect("list");
        assert_eq!(listing.files.len(), 1);
        assert!(listing.not_data.is_empty());
        // discover keeps the list for the caller's note.
        touch(&dir.path().join("pq/README.txt"), b"hello");
        touch(&dir.path().join("pq/part-0000.parquet"), b"PAR1xxxx");
        let table = discover(&[dir.path().join("pq")]).expect("a README does not stop the run");
        assert_eq!(table.len(), 1);
        assert_eq!(table.not_data(), [dir.path().join("pq/README.txt")]);
    }

    #[test]
    fn same_display_path_from_two_roots_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(&dir.path().join("d1/part.parquet"), b"PAR1");
        touch(&dir.path().join("d2/part.parquet"), b"PAR1");
        assert!(matches!(
            list_files(&[dir.path().join("d1"), dir.path().join("d2")]),
            Err(LoadError::AmbiguousDisplayPath { .. })
        ));
    }
}
