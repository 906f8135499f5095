//! Rendering templates against what a run knows: `record.…` (the record's data), `steps.NAME…`
//! (outputs saved with `save_as` earlier in the run). A template that is exactly one
//! placeholder renders to the value itself (a number stays a number); otherwise placeholders
//! are written into the text, strings as they are and other values as JSON.

use std::collections::HashMap;

use flowline_flows::{DataPath, JsonTemplate, PathSegment, Template, TemplatePart};
use serde_json::Value;

use crate::error::StepError;

/// What templates resolve against during a run.
pub(crate) struct Scope<'a> {
    pub record: &'a Value,
    pub saved: &'a HashMap<String, Value>,
}

impl Scope<'_> {
    /// The value at `path`; `Null` when the path leads nowhere in the record or a saved output,
    /// an error when its root is unknown.
    pub fn resolve(&self, path: &DataPath) -> Result<Value, StepError> {
        let segments = path.segments();
        let (root, rest) = match segments.split_first() {
            Some((PathSegment::Key(root), rest)) => (root.as_str(), rest),
            _ => return Err(unknown_root(path)),
        };
        let (base, rest) = match root {
            "record" => (Some(self.record), rest),
            "steps" => match rest.split_first() {
                Some((PathSegment::Key(name), rest)) => (self.saved.get(name), rest),
                _ => return Err(unknown_root(path)),
            },
            _ => return Err(unknown_root(path)),
        };
        Ok(base
            .and_then(|base| walk(base, rest))
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Renders a template: the value itself for a lone placeholder, else text.
    pub fn render(&self, template: &Template) -> Result<Value, StepError> {
        if let [TemplatePart::Placeholder(path)] = template.parts() {
            return self.resolve(path);
        }
        self.render_text(template).map(Value::String)
    }

    /// Renders a template as text (a key, a URL).
    pub fn render_text(&self, template: &Template) -> Result<String, StepError> {
        let mut text = String::new();
        for part in template.parts() {
            match part {
                TemplatePart::Text(literal) => text.push_str(literal),
                TemplatePart::Placeholder(path) => match self.resolve(path)? {
                    Value::String(value) => text.push_str(&value),
                    Value::Null => {}
                    other => text.push_str(&other.to_string()),
                },
            }
        }
        Ok(text)
    }

    /// Renders every string of a JSON template.
    pub fn render_json(&self, template: &JsonTemplate) -> Result<Value, StepError> {
        self.render_value(template.value())
    }

    fn render_value(&self, value: &Value) -> Result<Value, StepError> {
        Ok(match value {
            Value::String(source) => {
                let template = Template::parse(source)
                    .map_err(|error| StepError::failed(error.to_string()))?;
                self.render(&template)?
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.render_value(item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, member)| Ok((key.clone(), self.render_value(member)?)))
                    .collect::<Result<_, StepError>>()?,
            ),
            other => other.clone(),
        })
    }
}

fn unknown_root(path: &DataPath) -> StepError {
    StepError::failed(format!(
        "'{path}' refers to nothing: templates read 'record.…' or 'steps.NAME.…' (a step's \
         save_as)"
    ))
}

fn walk<'v>(mut value: &'v Value, segments: &[PathSegment]) -> Option<&'v Value> {
    for segment in segments {
        value = match (segment, value) {
            (PathSegment::Key(key), Value::Object(members)) => members.get(key)?,
            (PathSegment::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Writes `value` at `path` (relative to the record's data: `client.name`, `items[0]`),
/// creating objects on the way; an index must name an existing element or the next one.
pub(crate) fn write_path(data: &mut Value, path: &DataPath, value: Value) -> Result<(), StepError> {
    let segments = match path.segments() {
        // `record.x` and `x` both name the record's field `x`.
        [PathSegment::Key(root), rest @ ..] if root == "record" && !rest.is_empty() => rest,
        segments => segments,
    };
    let mut slot = data;
    for segment in segments {
        slot = match segment {
            PathSegment::Key(key) => {
                if !slot.is_object() {
                    *slot = Value::Object(serde_json::Map::new());
                }
                let Value::Object(members) = slot else {
                    return Err(cannot_write(path));
                };
                members.entry(key.clone()).or_insert(Value::Null)
            }
            PathSegment::Index(index) => {
                let Value::Array(items) = slot else {
                    return Err(cannot_write(path));
                };
                if *index == items.len() {
                    items.push(Value::Null);
                }
                items.get_mut(*index).ok_or_else(|| cannot_write(path))?
            }
        };
    }
    *slot = value;
    Ok(())
}

fn cannot_write(path: &DataPath) -> StepError {
    StepError::failed(format!(
        "cannot write '{path}': an index names neither an element of an array nor the next one"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lone_placeholders_keep_their_type_and_text_concatenates() {
        let record = json!({"client": {"name": "Ann", "age": 30}, "items": [{"sku": "a"}]});
        let saved = HashMap::from([("prev".to_owned(), json!({"id": 7}))]);
        let scope = Scope {
            record: &record,
            saved: &saved,
        };
        let render = |source: &str| scope.render(&Template::parse(source).unwrap()).unwrap();
        assert_eq!(render("{{ record.client.age }}"), json!(30));
        assert_eq!(render("{{ steps.prev.id }}"), json!(7));
        assert_eq!(
            render("{{record.client.name}} is {{ record.client.age }}, {{ record.items[0].sku }}"),
            json!("Ann is 30, a")
        );
        assert_eq!(render("{{ record.missing }}"), Value::Null);
        assert!(
            scope
                .render(&Template::parse("{{ env.X }}").unwrap())
                .is_err()
        );
    }

    #[test]
    fn paths_are_written_creating_objects() {
        let mut data = json!({"a": 1, "list": [1]});
        write_path(&mut data, &DataPath::parse("b.c").unwrap(), json!(2)).unwrap();
        write_path(&mut data, &DataPath::parse("record.d").unwrap(), json!(3)).unwrap();
        write_path(&mut data, &DataPath::parse("list[1]").unwrap(), json!(4)).unwrap();
        assert_eq!(data, json!({"a": 1, "list": [1, 4], "b": {"c": 2}, "d": 3}));
        assert!(write_path(&mut data, &DataPath::parse("list[5]").unwrap(), json!(0)).is_err());
    }
}
