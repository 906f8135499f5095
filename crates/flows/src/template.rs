//! Templates: strings with `{{ path }}` placeholders (`Hello {{ record.client.name }}`), and JSON
//! values whose strings are templates. Only the syntax is checked here; what a path resolves to
//! (the record, earlier steps' saved outputs, the environment's variables) is the scheduler's
//! business.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Why a template or a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

/// A string with `{{ path }}` placeholders. Text outside placeholders is literal; braces must
/// balance (`{{` without `}}`, or `}}` without `{{`, is refused), and there is no escape for a
/// literal `{{`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Template {
    source: String,
    parts: Vec<TemplatePart>,
}

/// A piece of a template, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A `{{ path }}` placeholder.
    Placeholder(DataPath),
}

impl Template {
    /// Parses `source`, checking that every placeholder is closed and holds a valid path.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            let open = rest.find("{{");
            let close = rest.find("}}");
            let Some(open) = open.filter(|open| close.is_none_or(|close| *open < close)) else {
                if let Some(close) = close {
                    let at = char_position(source, rest, close);
                    return Err(TemplateError(format!(
                        "'}}}}' at character {at} has no matching '{{{{'"
                    )));
                }
                parts.push(TemplatePart::Text(rest.to_owned()));
                break;
            };
            if open > 0 {
                parts.push(TemplatePart::Text(rest[..open].to_owned()));
            }
            let at = char_position(source, rest, open);
            let inside = &rest[open + 2..];
            let Some(end) = inside.find("}}") else {
                return Err(TemplateError(format!(
                    "'{{{{' at character {at} is never closed with '}}}}'"
                )));
            };
            let path = DataPath::parse(inside[..end].trim()).map_err(|error| {
                TemplateError(format!("placeholder at character {at}: {error}"))
            })?;
            parts.push(TemplatePart::Placeholder(path));
            rest = &inside[end + 2..];
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Literal text and placeholders, in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// The paths of the placeholders, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &DataPath> {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Placeholder(path) => Some(path),
            TemplatePart::Text(_) => None,
        })
    }
}

/// The 1-based character position in `source` of byte `offset` of its suffix `rest`.
fn char_position(source: &str, rest: &str, offset: usize) -> usize {
    let consumed = source.len() - rest.len();
    source[..consumed + offset].chars().count() + 1
}

impl TryFrom<String> for Template {
    type Error = TemplateError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Template::parse(&source)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A dotted path into JSON data, with array indexes: `record.items[0].sku`. Names are letters,
/// digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct DataPath {
    source: String,
    segments: Vec<PathSegment>,
}

/// One step along a [`DataPath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    /// A member of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

impl DataPath {
    /// Parses a path such as `record.items[0].sku`.
    pub fn parse(source: &str) -> Result<DataPath, TemplateError> {
        let invalid = || {
            TemplateError(format!(
                "'{source}' is not a valid path: write names separated by '.', with [n] for \
                 array elements, such as 'record.items[0].sku'"
            ))
        };
        let mut segments = Vec::new();
        for piece in source.split('.') {
            let (key, mut indexes) = piece.split_at(piece.find('[').unwrap_or(piece.len()));
            if key.is_empty() || !key.chars().all(is_name_char) {
                return Err(invalid());
            }
            segments.push(PathSegment::Key(key.to_owned()));
            while !indexes.is_empty() {
                let (digits, after) = indexes
                    .strip_prefix('[')
                    .and_then(|inner| inner.split_once(']'))
                    .ok_or_else(invalid)?;
                if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(invalid());
                }
                let index = digits.parse().map_err(|_| invalid())?;
                segments.push(PathSegment::Index(index));
                indexes = after;
            }
        }
        Ok(DataPath {
            source: source.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The keys and indexes of the path, from the root.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

impl TryFrom<String> for DataPath {
    type Error = TemplateError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        DataPath::parse(&source)
    }
}

impl Serialize for DataPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Any JSON value whose strings, at any depth, are templates: an `http` body, a
/// `keystore.put` value. Object keys are literal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct JsonTemplate(Value);

impl JsonTemplate {
    /// Checks every string in `value` as a template.
    pub fn parse(value: Value) -> Result<JsonTemplate, TemplateError> {
        check_strings(&value, "")?;
        Ok(JsonTemplate(value))
    }

    /// The value as written.
    pub fn value(&self) -> &Value {
        &self.0
    }
}

/// Checks the strings of `value`, which sits at the JSON pointer `pointer`.
fn check_strings(value: &Value, pointer: &str) -> Result<(), TemplateError> {
    match value {
        Value::String(text) => match Template::parse(text) {
            Ok(_) => Ok(()),
            Err(error) if pointer.is_empty() => Err(error),
            Err(TemplateError(message)) => Err(TemplateError(format!("at {pointer}: {message}"))),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_strings(item, &format!("{pointer}/{index}"))),
        Value::Object(members) => members.iter().try_for_each(|(key, member)| {
            let key = key.replace('~', "~0").replace('/', "~1");
            check_strings(member, &format!("{pointer}/{key}"))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

impl TryFrom<Value> for JsonTemplate {
    type Error = TemplateError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        JsonTemplate::parse(value)
    }
}

impl Serialize for JsonTemplate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn error(source: &str) -> String {
        Template::parse(source).unwrap_err().to_string()
    }

    #[test]
    fn placeholders_are_found_in_order() {
        let template =
            Template::parse("Hi {{ record.client.name }}, item {{record.items[0].sku}}!").unwrap();
        let paths: Vec<_> = template.placeholders().map(DataPath::as_str).collect();
        assert_eq!(paths, ["record.client.name", "record.items[0].sku"]);
        assert_eq!(template.parts().len(), 5);
        assert_eq!(
            template.placeholders().nth(1).unwrap().segments(),
            [
                PathSegment::Key("record".to_owned()),
                PathSegment::Key("items".to_owned()),
                PathSegment::Index(0),
                PathSegment::Key("sku".to_owned()),
            ]
        );
    }

    #[test]
    fn the_documented_paths_are_accepted() {
        for path in [
            "record",
            "record.client.name",
            "steps.notify.body.id",
            "env.API_URL",
            "record.items[0].sku",
            "record.matrix[1][2]",
            "steps.fetch-user.body",
        ] {
            let template = Template::parse(&format!("{{{{ {path} }}}}")).unwrap();
            assert_eq!(template.placeholders().next().unwrap().as_str(), path);
        }
    }

    #[test]
    fn text_without_placeholders_is_literal() {
        let template = Template::parse("plain { text } here").unwrap();
        assert_eq!(
            template.parts(),
            [TemplatePart::Text("plain { text } here".to_owned())]
        );
        assert_eq!(Template::parse("").unwrap().parts(), []);
    }

    #[test]
    fn unbalanced_braces_are_refused_with_their_position() {
        assert_eq!(
            error("Hello {{ record.name"),
            "'{{' at character 7 is never closed with '}}'"
        );
        assert_eq!(
            error("Hello record.name }}"),
            "'}}' at character 19 has no matching '{{'"
        );
        assert_eq!(
            error("ok {{ a }} then {{ b"),
            "'{{' at character 17 is never closed with '}}'"
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in [
            "{{ }}",
            "{{ record..name }}",
            "{{ .record }}",
            "{{ record. }}",
            "{{ record name }}",
            "{{ record.items[] }}",
            "{{ record.items[x] }}",
            "{{ record.items[0 }}",
            "{{ [0] }}",
            "{{ record.items[-1] }}",
            "{{ a {{ b }}",
            "{{{ record }}}",
        ] {
            let message = error(bad);
            assert!(message.contains("is not a valid path"), "{bad}: {message}");
        }
    }

    #[test]
    fn json_templates_check_every_string() {
        let value = serde_json::json!({"a": ["{{ record.x }}", 1, null], "b": {"c": "text"}});
        assert_eq!(JsonTemplate::parse(value.clone()).unwrap().value(), &value);
        let bad = serde_json::json!({"a": ["fine", {"b/c": "{{ oops"}]});
        assert_eq!(
            JsonTemplate::parse(bad).unwrap_err().to_string(),
            "at /a/1/b~1c: '{{' at character 1 is never closed with '}}'"
        );
    }
}
