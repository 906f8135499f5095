//! Steps that work on the record alone or steer the flow: `set`, `transform`, `condition`,
//! `switch`, `delay`, `move_to_flow`, `end`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{StepFields, Successor, check_not_blank};
use crate::definition::check_flow_name;
use crate::field_error::FieldError;
use crate::template::{DataPath, Template};
use crate::where_rules::WhereRules;

/// The longest `delay` in seconds: ten years.
const MAX_DELAY_SECONDS: f64 = 315_360_000.0;

/// `set`: writes templates into paths of the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStep {
    /// Path in the record → the template written there.
    pub fields: BTreeMap<DataPath, Template>,
    pub next: String,
}

impl StepFields for SetStep {
    fn check(&self) -> Result<(), FieldError> {
        if self.fields.is_empty() {
            return Err(FieldError::new("fields", "must set at least one path"));
        }
        Ok(())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `transform`: applies a jq filter to the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformStep {
    /// The jq filter; compiled by the scheduler, only required to be non-empty here.
    pub jq: String,
    pub next: String,
}

impl StepFields for TransformStep {
    fn check(&self) -> Result<(), FieldError> {
        check_not_blank("jq", &self.jq)
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `condition`: goes to `then` when the where-rules match the record, else to `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionStep {
    #[serde(rename = "where")]
    pub rules: WhereRules,
    pub then: String,
    #[serde(rename = "else")]
    pub otherwise: String,
}

impl StepFields for ConditionStep {
    fn successors(&self) -> Vec<Successor<'_>> {
        vec![
            Successor::new("then", &self.then),
            Successor::new("else", &self.otherwise),
        ]
    }
}

/// `switch`: goes to the `next` of the first case whose where-rules match, else to `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchStep {
    pub cases: Vec<SwitchCase>,
    pub default: String,
}

/// One case of a `switch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchCase {
    #[serde(rename = "where")]
    pub rules: WhereRules,
    pub next: String,
}

impl StepFields for SwitchStep {
    fn check(&self) -> Result<(), FieldError> {
        if self.cases.is_empty() {
            return Err(FieldError::new("cases", "must hold at least one case"));
        }
        Ok(())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        let cases = self
            .cases
            .iter()
            .enumerate()
            .map(|(index, case)| Successor::new(format!("cases[{index}].next"), &case.next));
        cases
            .chain([Successor::new("default", &self.default)])
            .collect()
    }
}

/// `delay`: waits `seconds`, or until the time `until` renders to (RFC 3339), then goes on;
/// the record frees its worker meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Template>,
    pub next: String,
}

impl StepFields for DelayStep {
    fn check(&self) -> Result<(), FieldError> {
        match (self.seconds, &self.until) {
            (Some(_), Some(_)) => Err(FieldError::new(
                "seconds",
                "give either 'seconds' or 'until', not both",
            )),
            (None, None) => Err(FieldError::new(
                "seconds",
                "is required (or 'until' instead)",
            )),
            (Some(seconds), None) if !(seconds > 0.0 && seconds <= MAX_DELAY_SECONDS) => {
                Err(FieldError::new(
                    "seconds",
                    format!("must be a positive number of at most {MAX_DELAY_SECONDS}"),
                ))
            }
            _ => Ok(()),
        }
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// `move_to_flow`: moves the record to the flow named `flow`; the record's run in this flow ends
/// here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveToFlowStep {
    pub flow: String,
}

impl StepFields for MoveToFlowStep {
    fn check(&self) -> Result<(), FieldError> {
        check_flow_name(&self.flow).map_err(|message| FieldError::new("flow", message))
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        Vec::new()
    }
}

/// `end`: ends the flow with `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndStep {
    #[serde(default)]
    pub status: EndStatus,
}

/// How a flow ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    #[default]
    Finished,
    FinishedWithErrors,
}

impl StepFields for EndStep {
    fn successors(&self) -> Vec<Successor<'_>> {
        Vec::new()
    }
}
