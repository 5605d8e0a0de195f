//! The flowpat pattern compiler: pattern text → AST → resolved IR → rules → join plan.
//!
//! This crate knows the language and the flow model's vocabulary, and nothing about how data
//! is stored or run: it depends on neither differential dataflow, timely nor arrow. The one
//! meaning of an expression is [`eval`], used by the engine for push-down filters, joins and
//! explanations alike.
#![warn(missing_docs)]

pub mod ast;
pub mod diagnostic;
pub mod eval;
pub mod hir;
pub mod model;
pub mod num;
pub mod plan;
pub mod resolve;
pub mod rules;
pub mod source;
pub mod syntax;
pub mod value;

use std::collections::BTreeSet;

use diagnostic::{Diagnostic, ResolveError};
use source::{SourceId, SourceMap};

/// One compiled pattern: the resolved IR, its rules and its plan.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The file it came from.
    pub source: SourceId,
    /// Resolved pattern.
    pub pattern: hir::Pattern,
    /// Datalog-style rules.
    pub program: rules::Program,
    /// The physical plan.
    pub plan: plan::JoinPlan,
}

impl Compiled {
    /// The `explain` text: rules, then the plan.
    pub fn explain(&self) -> String {
        format!(
            "pattern `{}`\n\nrules:\n{}\n{}",
            self.pattern.name, self.program, self.plan
        )
    }
}

/// Options of a compilation.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Parameter overrides (`--param threshold=2MB`): name and literal text.
    pub params: Vec<(String, String)>,
}

/// Reads a file named by `use "…"`: given the path as written and the using file's name,
/// returns the used file's display name and text, or an I/O error message.
pub type UseReader<'a> = dyn FnMut(&str, &str) -> Result<(String, String), String> + 'a;

/// Compiles every pattern of one source. Returns the patterns that compiled and every
/// diagnostic (warnings included); a pattern with an error is left out.
pub fn compile(
    sources: &mut SourceMap,
    root: SourceId,
    options: &CompileOptions,
    read_use: &mut UseReader<'_>,
) -> (Vec<Compiled>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let (file, errors) = syntax::parse(sources.get(root));
    diags.extend(errors.into_iter().map(Diagnostic::from));
    let Some(file) = file else {
        return (Vec::new(), diags);
    };

    // The scope: this file's names, then those of files it uses (transitively).
    let mut scope = resolve::Scope::default();
    scope.add_file(&file, &mut diags);
    let mut seen = BTreeSet::from([sources.get(root).name.clone()]);
    let mut queue: Vec<(ast::File, String)> = vec![(file.clone(), sources.get(root).name.clone())];
    while let Some((f, from)) = queue.pop() {
        for item in &f.items {
            if let ast::Item::Use { path, span } = item {
                match read_use(path, &from) {
                    Ok((name, text)) => {
                        if !seen.insert(name.clone()) {
                            continue;
                        }
                        let id = sources.add(name.clone(), text);
                        let (used, errors) = syntax::parse(sources.get(id));
                        diags.extend(errors.into_iter().map(Diagnostic::from));
                        if let Some(used) = used {
                            scope.add_file(&used, &mut diags);
                            queue.push((used, name));
                        }
                    }
                    Err(reason) => diags.push(
                        ResolveError::UseNotFound {
                            path: path.clone(),
                            reason,
                            span: *span,
                        }
                        .into(),
                    ),
                }
            }
        }
    }

    let overrides = parse_overrides(&options.params, sources);
    let mut out = Vec::new();
    for item in &file.items {
        let ast::Item::Search(search) = item else {
            continue;
        };
        // A second pattern of the same name (in this file or one compiled before it into the
        // same map) is an error of its own; it is still resolved so its other errors show.
        let duplicate = match sources.name_pattern(&search.name, search.name_span) {
            Ok(()) => false,
            Err(first) => {
                let (line, col) = sources.line_col(first.source, first.start);
                diags.push(
                    ResolveError::DuplicatePattern {
                        name: search.name.clone(),
                        first_at: format!("{}:{line}:{col}", sources.get(first.source).name),
                        span: search.name_span,
                        first: (first.source == search.name_span.source).then_some(first),
                    }
                    .into(),
                );
                true
            }
        };
        let Some(pattern) = resolve::resolve_search(search, &scope, &overrides, &mut diags) else {
            continue;
        };
        let program = rules::lower(&pattern);
        match plan::plan(&pattern, &program) {
            Ok(_) if duplicate => {}
            Ok(plan) => out.push(Compiled {
                source: root,
                pattern,
                program,
                plan,
            }),
            Err(e) => diags.push(
                ResolveError::Invalid {
                    message: e.to_string(),
                    help: "see LANGUAGE.md for what the engine runs today".into(),
                    span: search.name_span,
                }
                .into(),
            ),
        }
    }
    // A definition's predicate is resolved for every instance of it: report each problem once.
    let mut unique: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for d in diags {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    let mut diags = unique;
    diags.sort_by_key(|d| {
        let span = d.span();
        (span.source, span.start)
    });
    (out, diags)
}

/// Reads `--param name=value` texts as literals of the language.
fn parse_overrides(
    params: &[(String, String)],
    sources: &mut SourceMap,
) -> Vec<resolve::ParamOverride> {
    params
        .iter()
        .map(|(name, text)| {
            let id = sources.add(format!("--param {name}"), format!("param {name} = {text};"));
            let (file, errors) = syntax::parse(sources.get(id));
            let literal = match file.and_then(|f| f.items.into_iter().next()) {
                Some(ast::Item::Param(p)) if errors.is_empty() => p.default,
                _ => ast::Literal {
                    kind: ast::LiteralKind::String,
                    text: text.clone(),
                    span: source::Span::new(id, 0, 0),
                },
            };
            resolve::ParamOverride {
                name: name.clone(),
                literal,
            }
        })
        .collect()
}
pub mod fmt;
