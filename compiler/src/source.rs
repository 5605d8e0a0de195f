//! Pattern source text and positions in it.
//!
//! Every AST node carries a [`Span`] so that every later stage can point at the text a user
//! wrote. A span is a byte range plus the [`SourceId`] of the file it came from, so diagnostics
//! from patterns that `use` other files still name the right file.

use std::fmt;

/// Index of a [`Source`] in a [`SourceMap`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SourceId(pub u32);

/// One pattern file as read: its name (as the user gave it) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Identity within a [`SourceMap`].
    pub id: SourceId,
    /// The path or name to show in diagnostics.
    pub name: String,
    /// The text.
    pub text: String,
}

/// All sources of one compilation, so spans can be turned back into text and line/column.
///
/// The map also remembers the name of every pattern compiled from it, so that compiling
/// several files into one map (one `check` or `run`) reports a name used twice across them.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
    patterns: std::collections::BTreeMap<String, Span>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a source and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        let id = SourceId(u32::try_from(self.sources.len()).expect("fewer than 2^32 sources"));
        self.sources.push(Source {
            id,
            name: name.into(),
            text: text.into(),
        });
        id
    }

    /// The source with this id.
    pub fn get(&self, id: SourceId) -> &Source {
        &self.sources[id.0 as usize]
    }

    /// The source with this name, if already loaded.
    pub fn find(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// Records that a pattern named `name` is defined at `span`; if the name is already taken,
    /// returns where it was defined first (and keeps that definition).
    pub fn name_pattern(&mut self, name: &str, span: Span) -> Result<(), Span> {
        match self.patterns.get(name) {
            Some(first) => Err(*first),
            None => {
                self.patterns.insert(name.to_string(), span);
                Ok(())
            }
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let text = &self.get(id).text;
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }
}

/// Pattern file bytes that are not UTF-8: where the first bad byte is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column} (byte offset {offset}): {what} is not valid UTF-8 (pattern files are UTF-8 text)")]
pub struct InvalidUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: usize,
    /// 1-based column (in characters) of the first invalid byte.
    pub column: usize,
    /// Byte offset of the first invalid byte.
    pub offset: usize,
    /// The offending byte(s), e.g. `byte 0xff`.
    pub what: String,
}

/// Decodes a pattern file's bytes as UTF-8, naming the position of the first invalid byte. A
/// leading UTF-8 byte-order mark (as some Windows editors write) is not part of the text.
pub fn decode(mut bytes: Vec<u8>) -> Result<String, InvalidUtf8> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let err = e.utf8_error();
        let offset = err.valid_up_to();
        let valid = std::str::from_utf8(&bytes[..offset]).expect("valid up to here");
        let line = valid.matches('\n').count() + 1;
        let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let what = match err.error_len() {
            Some(n) => {
                let bad: Vec<String> = bytes[offset..offset + n]
                    .iter()
                    .map(|b| format!("0x{b:02x}"))
                    .collect();
                format!("byte {}", bad.join(" "))
            }
            None => "the last bytes of the file (an incomplete character)".to_string(),
        };
        InvalidUtf8 {
            line,
            column,
            offset,
            what,
        }
    })
}

/// A byte range in one source.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// The file.
    pub source: SourceId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span in `source` from `start` to `end`.
    pub fn new(source: SourceId, start: usize, end: usize) -> Span {
        Span { source, start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            source: self.source,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> miette::SourceSpan {
        (span.start, span.end.saturating_sub(span.start)).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let bytes =
            b"search bad is\n   instance a : NetworkAddress where disposition = \"g\xffv\";\n"
                .to_vec();
        let err = decode(bytes).expect_err("not UTF-8");
        assert_eq!((err.line, err.column, err.offset), (2, 54, 67));
        assert_eq!(
            err.to_string(),
            "line 2, column 54 (byte offset 67): byte 0xff is not valid UTF-8 (pattern files are UTF-8 text)"
        );
        // Columns count characters, not bytes; a cut-off character at the end is named too.
        let err = decode(b"\xc3\xa9\xc3\xa9x\n\xc3\xa9\xe2\x82".to_vec()).expect_err("cut");
        assert_eq!((err.line, err.column, err.offset), (2, 2, 8));
        assert!(err.to_string().contains("incomplete character"), "{err}");
        assert_eq!(decode(b"ok".to_vec()).as_deref(), Ok("ok"));
        assert_eq!(
            decode(b"\xef\xbb\xbfuse x;".to_vec()).as_deref(),
            Ok("use x;")
        );
    }
}
