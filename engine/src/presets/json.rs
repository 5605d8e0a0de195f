//! JSON lines (Zeek JSON logs, Suricata EVE) as flat lists of `(dotted.name, raw value)`.
//!
//! Values are kept as `serde_json` raw text so that a number keeps its exact decimal spelling
//! (`1551475010.62966` must not pass through `f64`), while strings are still decoded by
//! `serde_json`. Nested objects are flattened to dotted names (`flow.start`, `alert.signature`),
//! which is also how Zeek itself names record fields (`id.orig_h`). Key order is kept, so
//! extra columns appear in the order the sensor wrote them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

/// One JSON object's members, flattened: `(dotted name, raw value)`, in file order.
pub(crate) type Members<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

/// A JSON value by kind, with a number still as its text.
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    Str(String),
    Array(&'a RawValue),
}

/// Parses one line holding one JSON object (and nothing else) into flattened members.
pub(crate) fn parse_line(line: &str) -> Result<Members<'_>, serde_json::Error> {
    let mut out = Vec::new();
    flatten_into(None, parse_object(line)?, &mut out)?;
    Ok(out)
}

fn parse_object(text: &str) -> Result<Members<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let members = (&mut de).deserialize_map(ObjectVisitor)?;
    de.end()?;
    Ok(members)
}

fn flatten_into<'a>(
    prefix: Option<&str>,
    members: Members<'a>,
    out: &mut Members<'a>,
) -> Result<(), serde_json::Error> {
    for (key, value) in members {
        let name: Cow<'a, str> = match prefix {
            Some(prefix) => Cow::Owned(format!("{prefix}.{key}")),
            None => key,
        };
        if value.get().starts_with('{') {
            let inner = parse_object(value.get())?;
            flatten_into(Some(&name), inner, out)?;
        } else {
            out.push((name, value));
        }
    }
    Ok(())
}

/// The value of the last member called `name` (JSON leaves duplicate keys to the reader;
/// `serde_json` itself keeps the last).
pub(crate) fn get<'a>(members: &Members<'a>, name: &str) -> Option<&'a RawValue> {
    members
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| *value)
}

/// Classifies a raw value; strings are decoded.
pub(crate) fn classify(raw: &RawValue) -> Result<Json<'_>, serde_json::Error> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'"') => Json::Str(serde_json::from_str(text)?),
        Some(b'n') => Json::Null,
        Some(b't') => Json::Bool(true),
        Some(b'f') => Json::Bool(false),
        Some(b'[') => Json::Array(raw),
        _ => Json::Number(text),
    })
}

/// A value as column text: `None` for null and for an empty array; booleans as
/// `true`/`false`; numbers as written; arrays as their elements' texts joined by `,` (Zeek's
/// set separator, so a JSON set reads like the TSV one). `decode` is applied to every string.
pub(crate) fn value_text(
    raw: &RawValue,
    decode: fn(String) -> String,
) -> Result<Option<String>, serde_json::Error> {
    Ok(match classify(raw)? {
        Json::Null => None,
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(text) => Some(text.to_string()),
        Json::Str(s) => Some(decode(s)),
        Json::Array(raw) => {
            let items: Vec<&RawValue> = serde_json::from_str(raw.get())?;
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match classify(item)? {
                    Json::Null => {}
                    Json::Str(s) => texts.push(decode(s)),
                    Json::Bool(b) => texts.push(b.to_string()),
                    _ => texts.push(item.get().to_string()),
                }
            }
            if texts.is_empty() {
                None
            } else {
                Some(texts.join(","))
            }
        }
    })
}

/// Keeps strings as `serde_json` decoded them.
pub(crate) fn as_is(text: String) -> String {
    text
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        Ok(members)
    }
}

/// An object key, borrowed from the line unless it contains escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_and_objects_flatten() {
        let members = parse_line(
            r#"{"ts":1551475010.62966,"id":{"orig_h":"192.0.2.1"},"flow":{"start":"x","n":[1,"a\\x07"]},"e":[],"k\u0041":null}"#,
        )
        .expect("valid json");
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            names,
            ["ts", "id.orig_h", "flow.start", "flow.n", "e", "kA"]
        );
        let text =
            |name: &str| get(&members, name).and_then(|raw| value_text(raw, as_is).expect("valid"));
        assert_eq!(text("ts").as_deref(), Some("1551475010.62966"));
        assert_eq!(text("id.orig_h").as_deref(), Some("192.0.2.1"));
        assert_eq!(text("flow.n").as_deref(), Some("1,a\\x07"));
        assert_eq!(text("e"), None);
        assert_eq!(text("kA"), None);
    }

    #[test]
    fn rejects_non_objects_and_trailing_text() {
        assert!(parse_line("[1,2]").is_err());
        assert!(parse_line("{\"a\":1} x").is_err());
        assert!(parse_line("{\"a\":").is_err());
        assert!(parse_line("").is_err());
    }
}
