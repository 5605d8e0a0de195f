//! Diagnostics: every user-facing problem with a pattern, as a typed value with a span.
//!
//! Each stage has its own error enum (`SyntaxError`, `ResolveError`, `PlanError`); they are
//! collected as [`Diagnostic`] so one run reports every problem it can find. Broken invariants
//! are not diagnostics: they are bugs and `expect` with a reason.

use crate::source::{SourceMap, Span};

/// A problem in the shape of the text (the grammar).
#[derive(Clone, Debug, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum SyntaxError {
    /// The parser met something it did not expect.
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(compiler::syntax::unexpected))]
    Unexpected {
        /// What would have been accepted, human-readable (`` `;` or `and` ``).
        expected: String,
        /// What was there.
        found: String,
        /// Where.
        #[label("here")]
        span: Span,
    },
    /// A string literal with no closing quote on its line.
    #[error("unterminated string")]
    #[diagnostic(
        code(compiler::syntax::unterminated_string),
        help("close it with `\"` on the same line (a string cannot span lines; write `\\\"` for a quote inside it)")
    )]
    UnterminatedString {
        /// The opening quote.
        #[label("this string is never closed")]
        span: Span,
    },
    /// A keyword written with capitals (`Search`, `WHERE`).
    #[error("keywords are lower case: did you mean `{keyword}`?")]
    #[diagnostic(code(compiler::syntax::keyword_case))]
    KeywordCase {
        /// The keyword meant, lower case.
        keyword: &'static str,
        /// Where.
        #[label("write `{keyword}`")]
        span: Span,
    },
    /// A literal whose text is malformed although the grammar accepted its shape.
    #[error("invalid {kind} literal `{text}`: {reason}")]
    #[diagnostic(code(compiler::syntax::invalid_literal))]
    InvalidLiteral {
        /// Literal kind.
        kind: &'static str,
        /// The text.
        text: String,
        /// Why.
        reason: &'static str,
        /// Where.
        #[label("this literal")]
        span: Span,
    },
}

impl SyntaxError {
    /// Where.
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::Unexpected { span, .. }
            | SyntaxError::UnterminatedString { span }
            | SyntaxError::KeywordCase { span, .. }
            | SyntaxError::InvalidLiteral { span, .. } => *span,
        }
    }
}

/// A problem with names, types or the meaning of a pattern.
#[derive(Clone, Debug, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum ResolveError {
    /// Unknown entity type or definition.
    #[error("unknown type `{name}`")]
    #[diagnostic(code(compiler::resolve::unknown_type), help("{help}"))]
    UnknownType {
        /// As written.
        name: String,
        /// Suggestion text.
        help: String,
        /// Where.
        #[label("not a known type")]
        span: Span,
    },
    /// Unknown attribute of an entity.
    #[error("unknown attribute `{name}` on {entity}")]
    #[diagnostic(code(compiler::resolve::unknown_attribute), help("{help}"))]
    UnknownAttribute {
        /// As written.
        name: String,
        /// The entity type.
        entity: &'static str,
        /// Suggestion text.
        help: String,
        /// Where.
        #[label("no such attribute")]
        span: Span,
    },
    /// An instance name used but not declared.
    #[error("unknown instance `{name}`")]
    #[diagnostic(code(compiler::resolve::unknown_instance), help("{help}"))]
    UnknownInstance {
        /// As written.
        name: String,
        /// Suggestion text.
        help: String,
        /// Where.
        #[label("not declared in this pattern")]
        span: Span,
    },
    /// A name declared twice.
    #[error("`{name}` is declared twice")]
    #[diagnostic(code(compiler::resolve::duplicate_name))]
    Duplicate {
        /// The name.
        name: String,
        /// Second declaration.
        #[label("declared again here")]
        span: Span,
        /// First declaration.
        #[label("first declared here")]
        first: Span,
    },
    /// An edge role that the record type does not have, or an edge between wrong types.
    #[error("{message}")]
    #[diagnostic(code(compiler::resolve::bad_edge), help("{help}"))]
    BadEdge {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
        /// Where.
        #[label("here")]
        span: Span,
    },
    /// Operand types that do not fit the operator.
    #[error("type mismatch: {message}")]
    #[diagnostic(code(compiler::resolve::type_mismatch), help("{help}"))]
    TypeMismatch {
        /// What does not fit.
        message: String,
        /// How to fix it.
        help: String,
        /// Where.
        #[label("{left} vs {right}")]
        span: Span,
        /// Left operand type.
        left: String,
        /// Right operand type.
        right: String,
    },
    /// A literal that cannot mean anything for the attribute it is compared with.
    #[error("`{text}` is not a valid {expected}")]
    #[diagnostic(code(compiler::resolve::bad_literal), help("{help}"))]
    BadLiteral {
        /// The literal text.
        text: String,
        /// What was expected.
        expected: String,
        /// How to fix it.
        help: String,
        /// Where.
        #[label("here")]
        span: Span,
    },
    /// An instance joined to nothing else: the pattern would be a cross product.
    #[error("instance `{name}` is not connected to the rest of the pattern (a cross product)")]
    #[diagnostic(
        code(compiler::resolve::cross_product),
        help("connect it with `connections … end`, or write `allow crossproduct;` if the cross product is intended")
    )]
    CrossProduct {
        /// The instance.
        name: String,
        /// Its declaration.
        #[label("joined to nothing")]
        span: Span,
    },
    /// A predicate that can never hold, seen statically.
    #[error("this predicate can never be true: {reason}")]
    #[diagnostic(code(compiler::resolve::impossible_predicate), severity(Warning))]
    Impossible {
        /// Why.
        reason: String,
        /// Where.
        #[label("always false")]
        span: Span,
    },
    /// A comparison that no value of the attribute's type can satisfy (`destPort > 70000`).
    #[error("can never hold: {reason}")]
    #[diagnostic(
        code(compiler::resolve::out_of_range),
        severity(Warning),
        help("the pattern still compiles, but this comparison is never true")
    )]
    NeverHolds {
        /// Why (`destPort is at most 65535`).
        reason: String,
        /// The comparison.
        #[label("never true")]
        span: Span,
    },
    /// A number literal too large (or too long) for the compiler's exact numbers (`i128`).
    #[error("number literal `{text}` is too {problem}")]
    #[diagnostic(code(compiler::resolve::number_too_large), help("{help}"))]
    NumberTooLarge {
        /// The literal text.
        text: String,
        /// `large`, or `long` for a decimal with too many digits after the point.
        problem: &'static str,
        /// The limit.
        help: String,
        /// Where.
        #[label("too {problem}")]
        span: Span,
    },
    /// Two patterns of one run with the same name.
    #[error("two patterns are named `{name}` (the first at {first_at})")]
    #[diagnostic(
        code(compiler::resolve::duplicate_pattern),
        help("pattern names must be unique among the files of a run: rename one")
    )]
    DuplicatePattern {
        /// The name.
        name: String,
        /// `file:line:col` of the first definition.
        first_at: String,
        /// The second definition's name.
        #[label("named again here")]
        span: Span,
        /// The first definition's name, when it is in the same file.
        #[label("first named here")]
        first: Option<Span>,
    },
    /// A construct in the wrong place (export of an aggregate without group, …).
    #[error("{message}")]
    #[diagnostic(code(compiler::resolve::invalid), help("{help}"))]
    Invalid {
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
        /// Where.
        #[label("here")]
        span: Span,
    },
    /// A `use` whose file cannot be read.
    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(code(compiler::resolve::use_not_found))]
    UseNotFound {
        /// The path as written.
        path: String,
        /// The I/O error text.
        reason: String,
        /// Where.
        #[label("used here")]
        span: Span,
    },
}

/// Any diagnostic about pattern text.
#[derive(Clone, Debug, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum Diagnostic {
    /// From parsing.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(#[from] SyntaxError),
    /// From name and type resolution.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Resolve(#[from] ResolveError),
}

impl Diagnostic {
    /// The primary span.
    pub fn span(&self) -> Span {
        match self {
            Diagnostic::Syntax(e) => e.span(),
            Diagnostic::Resolve(e) => match e {
                ResolveError::UnknownType { span, .. }
                | ResolveError::UnknownAttribute { span, .. }
                | ResolveError::UnknownInstance { span, .. }
                | ResolveError::Duplicate { span, .. }
                | ResolveError::BadEdge { span, .. }
                | ResolveError::TypeMismatch { span, .. }
                | ResolveError::BadLiteral { span, .. }
                | ResolveError::CrossProduct { span, .. }
                | ResolveError::Impossible { span, .. }
                | ResolveError::NeverHolds { span, .. }
                | ResolveError::NumberTooLarge { span, .. }
                | ResolveError::DuplicatePattern { span, .. }
                | ResolveError::Invalid { span, .. }
                | ResolveError::UseNotFound { span, .. } => *span,
            },
        }
    }

    /// Whether this is only a warning (the pattern still compiles).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Diagnostic::Resolve(ResolveError::Impossible { .. } | ResolveError::NeverHolds { .. })
        )
    }

    /// The stable diagnostic code, e.g. `compiler::resolve::unknown_attribute`.
    pub fn code_str(&self) -> String {
        use miette::Diagnostic as _;
        self.code().map(|c| c.to_string()).unwrap_or_default()
    }

    /// The help text, if any.
    pub fn help_str(&self) -> Option<String> {
        use miette::Diagnostic as _;
        self.help().map(|h| h.to_string()).filter(|h| !h.is_empty())
    }

    /// `file:line:col: severity: message` — one line, for logs and tests.
    pub fn one_line(&self, sources: &SourceMap) -> String {
        let span = self.span();
        let (line, col) = sources.line_col(span.source, span.start);
        let sev = if self.is_warning() {
            "warning"
        } else {
            "error"
        };
        format!(
            "{}:{line}:{col}: {sev}: {self}",
            sources.get(span.source).name
        )
    }
}

/// Nearest names by edit distance, for `did you mean` help.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(2))
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Help text listing a suggestion or the valid names.
pub fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    match suggest(name, candidates.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
