//! Golden tests: every catalog pattern and the seed example → `explain` text; every
//! `data/fail/*.pattern` → its rendered diagnostics. Snapshots are reviewed with
//! `cargo insta review`, never hand-typed.

use std::path::Path;

use compiler::source::SourceMap;
use compiler::CompileOptions;

fn compile(path: &Path) -> (SourceMap, Vec<compiler::Compiled>, Vec<compiler::diagnostic::Diagnostic>) {
    let mut sources = SourceMap::new();
    let text = std::fs::read_to_string(path).expect("test file readable");
    let name = path.file_name().expect("file name").to_string_lossy().to_string();
    let dir = path.parent().expect("parent").to_path_buf();
    let id = sources.add(name, text);
    let mut read_use = |p: &str, _from: &str| std::fs::read_to_string(dir.join(p)).map(|t| (p.to_string(), t)).map_err(|e| e.to_string());
    let (compiled, diags) = compiler::compile(&mut sources, id, &CompileOptions::default(), &mut read_use);
    (sources, compiled, diags)
}

fn render(sources: &SourceMap, diags: &[compiler::diagnostic::Diagnostic]) -> String {
    let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.one_line(sources));
        out.push('\n');
        let src = sources.get(d.span().source);
        let report = miette::Report::new(d.clone()).with_source_code(miette::NamedSource::new(src.name.clone(), src.text.clone()));
        handler.render_report(&mut out, report.as_ref()).expect("render");
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

#[test]
fn diagnostics() {
    insta::glob!("data/fail", "*.pattern", |path| {
        let (sources, _compiled, diags) = compile(path);
        assert!(!diags.is_empty(), "expected a diagnostic for {}", path.display());
        insta::assert_snapshot!(render(&sources, &diags));
    });
}
