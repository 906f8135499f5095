//! A whole flow definition: its name, start, options and steps.

use std::collections::HashMap;
use std::num::NonZeroU32;

use flowline_core::Error;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::field_error::{FieldError, from_json};
use crate::graph;
use crate::step::Step;

/// The most steps a definition may hold.
pub const MAX_STEPS: usize = 1000;

/// A flow definition that passed every check when it was parsed. Its steps keep the order in
/// which the JSON listed them.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDefinition {
    name: String,
    description: Option<String>,
    start: String,
    concurrency: Option<NonZeroU32>,
    steps: Vec<Step>,
    index: HashMap<String, usize>,
}

/// The definition's JSON before its steps are parsed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: String,
    #[serde(default)]
    description: Option<String>,
    start: String,
    #[serde(default)]
    concurrency: Option<u32>,
    steps: Map<String, Value>,
}

impl FlowDefinition {
    /// Parses and validates a definition. The error is a 400 whose message starts with the
    /// field at fault, such as `steps.save.next: refers to unknown step 'notfy'`.
    ///
    /// ```
    /// use flowline_flows::FlowDefinition;
    /// use serde_json::json;
    ///
    /// let definition = FlowDefinition::parse(&json!({
    ///     "name": "greet", "start": "hello",
    ///     "steps": {
    ///         "hello": {"type": "set", "fields": {"greeting": "Hi {{ record.name }}"},
    ///                   "next": "done"},
    ///         "done": {"type": "end"}
    ///     }
    /// }))?;
    /// assert_eq!(definition.step("hello").map(|step| step.kind.type_name()), Some("set"));
    ///
    /// let refused = FlowDefinition::parse(&json!({
    ///     "name": "greet", "start": "hello",
    ///     "steps": {"hello": {"type": "set", "fields": {"a": "b"}, "next": "don"}}
    /// }));
    /// assert_eq!(
    ///     refused.map_err(|error| error.public_message()).err().as_deref(),
    ///     Some("steps.hello.next: refers to unknown step 'don'")
    /// );
    /// # Ok::<(), flowline_core::Error>(())
    /// ```
    pub fn parse(json: &Value) -> Result<FlowDefinition, Error> {
        FlowDefinition::parse_fields(json).map_err(Error::from)
    }

    fn parse_fields(json: &Value) -> Result<FlowDefinition, FieldError> {
        if !json.is_object() {
            return Err(FieldError::new("definition", "must be a JSON object"));
        }
        let raw: RawDefinition = from_json(json)?;
        check_flow_name(&raw.name).map_err(|message| FieldError::new("name", message))?;
        let concurrency = match raw.concurrency {
            Some(limit) => Some(
                NonZeroU32::new(limit)
                    .ok_or_else(|| FieldError::new("concurrency", "must be a positive integer"))?,
            ),
            None => None,
        };
        if raw.steps.is_empty() {
            return Err(FieldError::new("steps", "must hold at least one step"));
        }
        if raw.steps.len() > MAX_STEPS {
            return Err(FieldError::new(
                "steps",
                format!(
                    "holds {} steps; at most {MAX_STEPS} are allowed",
                    raw.steps.len()
                ),
            ));
        }
        let mut steps = Vec::with_capacity(raw.steps.len());
        let mut index = HashMap::with_capacity(raw.steps.len());
        for (id, value) in raw.steps {
            if !is_step_id(&id) {
                return Err(FieldError::new(
                    "steps",
                    format!(
                        "step id {id:?} must be 1 to 64 characters of letters, digits, '_', '.' \
                         and '-'"
                    ),
                ));
            }
            steps.push(Step::parse(&id, value)?);
            index.insert(id, steps.len() - 1);
        }
        graph::check(&raw.start, &steps, &index)?;
        Ok(FlowDefinition {
            name: raw.name,
            description: raw.description,
            start: raw.start,
            concurrency,
            steps,
            index,
        })
    }

    /// The definition as JSON, in the form [`FlowDefinition::parse`] reads.
    pub fn to_json(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(json) => json,
            // Serializing into a `Value` fails only on a map key that is not a string or a
            // `Serialize` impl that reports an error, and a definition holds neither.
            Err(error) => unreachable!("a flow definition always serializes: {error}"),
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The flow's description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The id of the step a record starts at.
    pub fn start(&self) -> &str {
        &self.start
    }

    /// How many records of the flow may run at once (1: one after the other); `None`: no limit
    /// of its own.
    pub fn concurrency(&self) -> Option<NonZeroU32> {
        self.concurrency
    }

    /// The step with id `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).and_then(|&at| self.steps.get(at))
    }

    /// Every step, in the order the definition lists them.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

impl Serialize for FlowDefinition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        if let Some(description) = &self.description {
            map.serialize_entry("description", description)?;
        }
        map.serialize_entry("start", &self.start)?;
        if let Some(concurrency) = self.concurrency {
            map.serialize_entry("concurrency", &concurrency)?;
        }
        map.serialize_entry("steps", &StepsById(&self.steps))?;
        map.end()
    }
}

/// Steps serialized as the definition's `steps` object: id → step.
struct StepsById<'a>(&'a [Step]);

impl Serialize for StepsById<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|step| (&step.id, step)))
    }
}

/// Checks a flow name: 1 to 128 letters, digits, `_`, `-`, `.` and spaces, not starting or
/// ending with a space.
pub(crate) fn check_flow_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ');
    if !(1..=128).contains(&length) || !name.chars().all(allowed) {
        return Err(
            "must be 1 to 128 characters of letters, digits, '_', '-', '.' and spaces".to_owned(),
        );
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err("must not start or end with a space".to_owned());
    }
    Ok(())
}

fn is_step_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}
