//! Reading and compiling pattern files for every subcommand, and printing their diagnostics.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use compiler::ast;
use compiler::diagnostic::Diagnostic;
use compiler::source::SourceMap;
use compiler::{CompileOptions, Compiled};

/// Pattern files named on the command line: files as given, folders searched recursively for
/// `*.pattern`, in sorted order. A file reached twice (`x.pattern ./x.pattern`, or a folder and
/// a file in it) is read once, under the first spelling: the same path canonicalised.
pub fn pattern_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut found = Vec::new();
            collect(arg, &mut found)
                .with_context(|| format!("reading pattern folder {}", arg.display()))?;
            found.sort();
            if found.is_empty() {
                bail!("no *.pattern files in {}", arg.display());
            }
            out.extend(found);
        } else if arg.exists() {
            out.push(arg.clone());
        } else {
            bail!("pattern file {} does not exist", arg.display());
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|file| seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())));
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "pattern") {
            out.push(path);
        }
    }
    Ok(())
}

/// The result of compiling a set of files.
pub struct CompiledSet {
    /// All sources read (for rendering diagnostics).
    pub sources: SourceMap,
    /// Compiled patterns with the file each came from.
    pub patterns: Vec<(PathBuf, Compiled)>,
    /// Every diagnostic.
    pub diagnostics: Vec<Diagnostic>,
}

impl CompiledSet {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| !d.is_warning())
    }
}

/// Names of the parameters pattern text declares: file-wide `param`s and each pattern's own.
pub fn declared_params(text: &str) -> Vec<String> {
    let source = compiler::source::Source {
        id: compiler::source::SourceId(0),
        name: String::new(),
        text: text.to_string(),
    };
    let mut out = Vec::new();
    let Some(file) = compiler::syntax::parse(&source).0 else {
        return out;
    };
    for item in &file.items {
        match item {
            ast::Item::Param(p) => out.push(p.name.name.clone()),
            ast::Item::Search(search) => {
                for section in &search.sections {
                    if let ast::Section::Param(p) = section {
                        out.push(p.name.name.clone());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Fails if a `--param` names a parameter that no pattern of the run declares (in its file or
/// a file it uses), with a did-you-mean and the parameters there are: an override that
/// silently does nothing would give results the analyst did not ask for.
pub fn check_params(params: &[(String, String)], declared: &BTreeSet<String>) -> Result<()> {
    let unknown: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, _)| !declared.contains(name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known = if declared.is_empty() {
        "the patterns declare no parameters".to_string()
    } else {
        format!(
            "the patterns' parameters: {}",
            declared
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let problems: Vec<String> = unknown
        .iter()
        .map(|(name, value)| {
            let hint = compiler::diagnostic::suggest(name, declared.iter().map(String::as_str))
                .map(|s| format!(": did you mean `{s}`?"))
                .unwrap_or_default();
            format!("unknown parameter `{name}` in --param {name}={value}{hint}")
        })
        .collect();
    Err(crate::usage(format!("{} ({known})", problems.join("; "))))
}

/// A pattern file's text; bytes that are not UTF-8 are an error naming the line, column and
/// byte offset of the first one.
fn read_pattern_file(path: &Path) -> Result<String> {
    Ok(compiler::source::decode(std::fs::read(path)?)?)
}

/// Compiles every file; never stops at the first problem. An unknown `--param` is an error.
pub fn compile_files(files: &[PathBuf], options: &CompileOptions) -> Result<CompiledSet> {
    compile_with(files, options, &mut |path: &Path| read_pattern_file(path))
}

/// As [`compile_files`], every file (named or `use`d) read through `read` (`watch` serves the
/// versions it runs, or records what it read).
pub fn compile_with(
    files: &[PathBuf],
    options: &CompileOptions,
    read: &mut dyn FnMut(&Path) -> Result<String>,
) -> Result<CompiledSet> {
    let mut sources = SourceMap::new();
    let mut patterns = Vec::new();
    let mut diagnostics = Vec::new();
    let mut declared = BTreeSet::new();
    for file in files {
        let text =
            read(file).with_context(|| format!("reading pattern file {}", file.display()))?;
        declared.extend(declared_params(&text));
        let id = sources.add(file.display().to_string(), text);
        let mut read_use = |path: &str, from: &str| -> Result<(String, String), String> {
            let base = Path::new(from).parent().unwrap_or(Path::new("."));
            let full = base.join(path);
            let text = read(&full).map_err(|e| e.to_string())?;
            declared.extend(declared_params(&text));
            Ok((full.display().to_string(), text))
        };
        let (compiled, diags) = compiler::compile(&mut sources, id, options, &mut read_use);
        diagnostics.extend(diags);
        patterns.extend(compiled.into_iter().map(|c| (file.clone(), c)));
    }
    // With errors the run stops anyway, and their diagnostics come first.
    if !diagnostics.iter().any(|d| !d.is_warning()) {
        check_params(&options.params, &declared)?;
    }
    Ok(CompiledSet {
        sources,
        patterns,
        diagnostics,
    })
}

/// Whether to use colour on stderr (`NO_COLOR` respected).
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Renders diagnostics as miette reports with the source text (file:line:col and a caret).
pub fn render_diagnostics(set: &CompiledSet, color: bool) -> String {
    let mut out = String::new();
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    for d in &set.diagnostics {
        let span = d.span();
        let src = set.sources.get(span.source);
        // (miette prints the label's line and column after the name.)
        let named = miette::NamedSource::new(src.name.clone(), src.text.clone());
        let report = miette::Report::new(d.clone()).with_source_code(named);
        let mut text = String::new();
        if handler.render_report(&mut text, report.as_ref()).is_err() {
            text = d.one_line(&set.sources);
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// Diagnostics as JSON lines, for editors and CI.
pub fn diagnostics_json(set: &CompiledSet) -> String {
    let mut out = String::new();
    for d in &set.diagnostics {
        let span = d.span();
        let (line, column) = set.sources.line_col(span.source, span.start);
        let (end_line, end_column) = set.sources.line_col(span.source, span.end);
        let v = serde_json::json!({
            "file": set.sources.get(span.source).name,
            "line": line, "column": column, "end_line": end_line, "end_column": end_column,
            "severity": if d.is_warning() { "warning" } else { "error" },
            "code": d.code_str(),
            "message": d.to_string(),
            "help": d.help_str(),
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// The labels a pattern compares `disposition` with (`= "internal"`, `!= …`, `in (…)`), in
/// any condition: its instances' `where`, `require`, `absent` blocks, chain steps, `having`.
pub fn disposition_labels(pattern: &compiler::hir::Pattern) -> BTreeSet<String> {
    use compiler::hir::{Expr, Value};
    use compiler::model::Attr;
    let mut exprs: Vec<&Expr> = Vec::new();
    exprs.extend(
        pattern
            .instances
            .iter()
            .filter_map(|i| i.predicate.as_ref()),
    );
    exprs.extend(&pattern.requires);
    exprs.extend(pattern.absent.iter().flat_map(|a| &a.requires));
    exprs.extend(pattern.chains.iter().filter_map(|c| c.predicate.as_ref()));
    if let Some(g) = &pattern.group {
        exprs.extend(&g.having);
        exprs.extend(g.aggregates.iter().filter_map(|a| a.arg.as_ref()));
    }
    let is_disposition = |e: &Expr| matches!(e, Expr::Attr(_, Attr::Disposition));
    let mut out = BTreeSet::new();
    for e in exprs {
        e.visit(&mut |e| match e {
            Expr::Bin(ast::BinOp::Eq | ast::BinOp::Ne, l, r) => {
                for (a, b) in [(l, r), (r, l)] {
                    if let (true, Expr::Lit(Value::Str(s))) = (is_disposition(a), b.as_ref()) {
                        out.insert(s.clone());
                    }
                }
            }
            Expr::In(x, values, _) if is_disposition(x) => {
                out.extend(values.iter().filter_map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                }));
            }
            _ => {}
        });
    }
    out
}

/// What the inputs make of the patterns before anything runs: warnings about `disposition`
/// labels the networks file never gives (the patterns that test them cannot match as meant),
/// and notes about patterns that read events when no event archive is given.
pub struct InputNotes {
    /// Printed even with `--quiet`: the results are almost certainly not what was meant.
    pub warnings: Vec<String>,
    /// Printed unless `--quiet`.
    pub notes: Vec<String>,
}

/// See [`InputNotes`]. `networks_name` names the networks file in the warning.
pub fn input_notes(
    set: &CompiledSet,
    networks: &engine::load::Networks,
    networks_name: &str,
    events_given: bool,
) -> InputNotes {
    use compiler::model::Entity;
    let labels = networks.labels();
    let default = networks.label_name(networks.default_label());
    let mut missing: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (_, c) in &set.patterns {
        for label in disposition_labels(&c.pattern) {
            if !labels.contains(&label) {
                missing.entry(label).or_default().push(&c.pattern.name);
            }
        }
    }
    let listed: Vec<String> = labels
        .iter()
        .map(|l| {
            if l == default {
                format!("`{l}` (the default, for addresses in no listed network)")
            } else {
                format!("`{l}`")
            }
        })
        .collect();
    let warnings = missing
        .into_iter()
        .map(|(label, users)| {
            let near = labels
                .iter()
                .find(|l| l.eq_ignore_ascii_case(&label))
                .map(String::as_str)
                .or_else(|| {
                    compiler::diagnostic::suggest(&label, labels.iter().map(String::as_str))
                })
                .map(|l| format!("; labels are case-sensitive: did you mean `{l}`?"))
                .unwrap_or_default();
            format!(
                "warning: {} compare{} `disposition` with `{label}`, but no address is labelled \
                 `{label}`: {networks_name} gives only {}{near}",
                users
                    .iter()
                    .map(|u| format!("`{u}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if users.len() == 1 { "s" } else { "" },
                listed.join(", "),
            )
        })
        .collect();
    let mut notes = Vec::new();
    if !events_given {
        for (_, c) in &set.patterns {
            let events = |absent: bool| {
                c.pattern
                    .instances
                    .iter()
                    .any(|i| i.entity == Entity::Event && i.absent_group.is_some() == absent)
            };
            if events(false) {
                notes.push(format!(
                    "note: `{}` matches events and no --events archive was given: it will have no results",
                    c.pattern.name
                ));
            } else if events(true) {
                notes.push(format!(
                    "note: `{}` requires the absence of an event and no --events archive was given: \
                     the absence holds for every match",
                    c.pattern.name
                ));
            }
        }
    }
    InputNotes { warnings, notes }
}
