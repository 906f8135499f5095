//! One step of a flow: its kind, and what every step may add (`retry`, `on_error`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{StepKind, Successor};
use crate::field_error::{FieldError, from_value};

/// The most retries a step may ask for.
const MAX_RETRIES: u32 = 100;

/// A step of a flow, under its id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The step's id: its key in the definition's `steps`.
    #[serde(skip)]
    pub id: String,
    /// What the step does, with its fields.
    #[serde(flatten)]
    pub kind: StepKind,
    /// How often and how soon a failed step is tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// The step to go to when this one fails for good (after its retries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

impl Step {
    /// Every step this one may continue with: its kind's successors, then `on_error`.
    pub fn successors(&self) -> Vec<Successor<'_>> {
        let mut successors = self.kind.successors();
        if let Some(on_error) = &self.on_error {
            successors.push(Successor::new("on_error", on_error));
        }
        successors
    }

    /// Parses the step `id` from its JSON; errors name `steps.ID.FIELD`.
    pub(crate) fn parse(id: &str, value: Value) -> Result<Step, FieldError> {
        Step::parse_fields(value)
            .map_err(|error| error.within(&format!("steps.{id}")))
            .map(|(kind, retry, on_error)| Step {
                id: id.to_owned(),
                kind,
                retry,
                on_error,
            })
    }

    fn parse_fields(
        value: Value,
    ) -> Result<(StepKind, Option<RetryPolicy>, Option<String>), FieldError> {
        let Value::Object(mut fields) = value else {
            return Err(FieldError::new("", "must be an object with a \"type\""));
        };
        let type_name = match fields.remove("type") {
            Some(Value::String(type_name)) => type_name,
            Some(_) => return Err(FieldError::new("type", "must be a string")),
            None => {
                return Err(FieldError::new(
                    "type",
                    format!("is required: one of {}", StepKind::TYPE_NAMES.join(", ")),
                ));
            }
        };
        let retry = match fields.remove("retry") {
            Some(retry) => {
                let retry: Option<RetryPolicy> =
                    from_value(retry).map_err(|error| error.within("retry"))?;
                if let Some(retry) = &retry {
                    retry.check().map_err(|error| error.within("retry"))?;
                }
                retry
            }
            None => None,
        };
        let on_error = match fields.remove("on_error") {
            Some(on_error) => from_value(on_error).map_err(|error| error.within("on_error"))?,
            None => None,
        };
        let kind = StepKind::parse(&type_name, Value::Object(fields)).ok_or_else(|| {
            FieldError::new(
                "type",
                format!(
                    "unknown step type '{type_name}': expected one of {}",
                    StepKind::TYPE_NAMES.join(", ")
                ),
            )
        })??;
        Ok((kind, retry, on_error))
    }
}

/// How a failed step is tried again: up to `max` more times, waiting `initial_ms` and then,
/// with exponential backoff, twice as long each time, never more than `max_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt, 0 to 100.
    pub max: u32,
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
}

/// How the wait between retries grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// The same wait each time.
    Fixed,
    /// Twice the previous wait each time.
    #[default]
    Exponential,
}

impl RetryPolicy {
    fn check(&self) -> Result<(), FieldError> {
        if self.max > MAX_RETRIES {
            return Err(FieldError::new(
                "max",
                format!("must be between 0 and {MAX_RETRIES}"),
            ));
        }
        if self.initial_ms == Some(0) {
            return Err(FieldError::new("initial_ms", "must be a positive integer"));
        }
        if self.max_ms == Some(0) {
            return Err(FieldError::new("max_ms", "must be a positive integer"));
        }
        if let (Some(initial_ms), Some(max_ms)) = (self.initial_ms, self.max_ms)
            && initial_ms > max_ms
        {
            return Err(FieldError::new(
                "max_ms",
                "must not be less than initial_ms",
            ));
        }
        Ok(())
    }
}
