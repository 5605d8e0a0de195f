//! Golden tests: every catalog pattern and the seed example → `explain` text; every
//! `data/fail/*.pattern` → its rendered diagnostics. Snapshots are reviewed with
//! `cargo insta review`, never hand-typed.

use std::path::Path;

use compiler::source::SourceMap;
use compiler::CompileOptions;

fn compile(
    path: &Path,
) -> (
    SourceMap,
    Vec<compiler::Compiled>,
    Vec<compiler::diagnostic::Diagnostic>,
) {
    let mut sources = SourceMap::new();
    let text = std::fs::read_to_string(path).expect("test file readable");
    let name = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .to_string();
    let dir = path.parent().expect("parent").to_path_buf();
    let id = sources.add(name, text);
    let mut read_use = |p: &str, _from: &str| {
        std::fs::read_to_string(dir.join(p))
            .map(|t| (p.to_string(), t))
            .map_err(|e| e.to_string())
    };
    let (compiled, diags) =
        compiler::compile(&mut sources, id, &CompileOptions::default(), &mut read_use);
    (sources, compiled, diags)
}

fn render(sources: &SourceMap, diags: &[compiler::diagnostic::Diagnostic]) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.one_line(sources));
        out.push('\n');
        let src = sources.get(d.span().source);
        let report = miette::Report::new(d.clone())
            .with_source_code(miette::NamedSource::new(src.name.clone(), src.text.clone()));
        handler
            .render_report(&mut out, report.as_ref())
            .expect("render");
        out.push('\n');
    }
    out
}

#[test]
fn catalog_explain() {
    insta::glob!("../../patterns", "*.pattern", |path| {
        let (sources, compiled, diags) = compile(path);
        assert!(diags.is_empty(), "{}", render(&sources, &diags));
        let text: Vec<String> = compiled.iter().map(|c| c.explain()).collect();
        insta::assert_snapshot!(text.join("\n"));
    });
}

#[test]
fn seed_explain() {
    let (sources, compiled, diags) = compile(Path::new("tests/data/seed.pattern"));
    assert!(diags.is_empty(), "{}", render(&sources, &diags));
    assert_eq!(compiled.len(), 1);
    insta::assert_snapshot!(compiled[0].explain());
}

/// Each `data/explain/*.pattern` (language features the catalog does not use, such as chains)
/// → its `explain` text.
#[test]
fn feature_explain() {
    insta::glob!("data/explain", "*.pattern", |path| {
        let (sources, compiled, diags) = compile(path);
        assert!(diags.is_empty(), "{}", render(&sources, &diags));
        let text: Vec<String> = compiled.iter().map(|c| c.explain()).collect();
        insta::assert_snapshot!(text.join("\n"));
    });
}

/// Two files of one run (compiled into one source map) that name a pattern alike: the second
/// is an error pointing at the first, and every other error of both files is still reported.
#[test]
fn duplicate_pattern_across_files() {
    let mut sources = SourceMap::new();
    let mut no_use =
        |p: &str, _from: &str| -> Result<(String, String), String> { Err(format!("no file {p}")) };
    let a = sources.add(
        "a.pattern",
        "search scan is\n   instance conn : NetworkConnection where dstPort = 22;\n   export conn; end\nend\n",
    );
    let b = sources.add(
        "b.pattern",
        "// another file\nsearch scan is\n   instance conn : NetworkConnection where destPort > 70000;\n   export con; end\nend\n",
    );
    let options = CompileOptions::default();
    let mut lines = Vec::new();
    for id in [a, b] {
        let (_compiled, diags) = compiler::compile(&mut sources, id, &options, &mut no_use);
        lines.extend(diags.iter().map(|d| d.one_line(&sources)));
    }
    assert_eq!(
        lines,
        [
            "a.pattern:2:44: error: unknown attribute `dstPort` on NetworkConnection",
            "b.pattern:2:8: error: two patterns are named `scan` (the first at a.pattern:1:8)",
            "b.pattern:3:44: warning: can never hold: destPort is at most 65535",
            "b.pattern:4:11: error: unknown instance `con`",
        ]
    );
}

#[test]
fn diagnostics() {
    insta::glob!("data/fail", "*.pattern", |path| {
        let (sources, _compiled, diags) = compile(path);
        assert!(
            !diags.is_empty(),
            "expected a diagnostic for {}",
            path.display()
        );
        insta::assert_snapshot!(render(&sources, &diags));
    });
}

/// Debug text of an AST with every span blanked, to compare trees "spans aside".
fn shape(file: &compiler::ast::File) -> String {
    let text = format!("{file:?}");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    // Spans print as `start..end`; blank every digit run that is followed by `..`.
    let mut digits = String::new();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            if c == '.' && chars.peek() == Some(&'.') {
                chars.next();
                while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                }
                out.push('_');
            } else {
                out.push_str(&digits);
                out.push(c);
            }
            digits.clear();
            continue;
        }
        out.push(c);
    }
    out.push_str(&digits);
    out
}

fn parse(name: &str, text: &str) -> (compiler::source::Source, compiler::ast::File) {
    let source = compiler::source::Source {
        id: compiler::source::SourceId(0),
        name: name.into(),
        text: text.into(),
    };
    let (file, errors) = compiler::syntax::parse(&source);
    assert!(errors.is_empty(), "{name}: {errors:?}");
    (source.clone(), file.expect("parsed"))
}

#[test]
fn format_round_trips_and_is_idempotent() {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("../patterns")
        .expect("patterns dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.push("tests/data/seed.pattern".into());
    files.sort();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("readable");
        let (source, ast) = parse(&name, &text);
        let formatted = compiler::fmt::format(&source, &ast);
        let (source2, ast2) = parse(&name, &formatted);
        assert_eq!(
            shape(&ast),
            shape(&ast2),
            "{name}: formatting changed the tree:\n{formatted}"
        );
        assert_eq!(
            compiler::fmt::format(&source2, &ast2),
            formatted,
            "{name}: formatting is not idempotent"
        );
        // Every comment survives.
        let count = |t: &str| {
            t.lines()
                .filter(|l| l.trim_start().starts_with("//"))
                .count()
        };
        assert_eq!(count(&text), count(&formatted), "{name}: comments lost");
    }
}

#[test]
fn format_keeps_comments_in_place() {
    let text = "// head\nsearch a is\n  // before conn\n  instance conn : NetworkConnection where destPort = 21 ; // trailing\n  export conn; end\nend\n";
    let (source, ast) = parse("t", text);
    insta::assert_snapshot!(compiler::fmt::format(&source, &ast));
}

/// Names the results use for their own columns and fields cannot be an instance's or an
/// aggregate's: `matches` would overwrite the match count, `pattern`/`change`/`epoch`/`cause`
/// a JSON line's or a change line's own field.
#[test]
fn reserved_output_names_are_refused() {
    let mut sources = SourceMap::new();
    let mut no_use =
        |p: &str, _from: &str| -> Result<(String, String), String> { Err(format!("no file {p}")) };
    let text = "search ports is\n   instance pattern : NetworkAddress;\n   instance conn : NetworkConnection;\n   connections\n      conn.source connects pattern;\n   end\n   group by pattern\n      matches = count distinct conn.destPort;\n      n = count conn.destPort;\n   end\n   export\n      pattern; n;\n   end\nend\n";
    let id = sources.add("r.pattern", text.to_string());
    let (compiled, diags) =
        compiler::compile(&mut sources, id, &CompileOptions::default(), &mut no_use);
    assert!(compiled.is_empty());
    let lines: Vec<String> = diags.iter().map(|d| d.one_line(&sources)).collect();
    assert_eq!(
        lines,
        [
            "r.pattern:2:13: error: `pattern` is a column name of the results: no instance may take it",
            "r.pattern:8:7: error: `matches` is a column name of the results: no aggregate may take it",
        ]
    );
}
