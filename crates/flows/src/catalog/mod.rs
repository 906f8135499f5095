//! The step catalog: every step type a flow may use, with its fields, its checks and the steps it
//! may continue with. A new step type is one line in [`step_catalog!`]'s invocation below plus a
//! struct implementing [`StepFields`]; parsing, `type_name`, serialization and the graph checks
//! follow from it.

mod control;
mod data;
mod http;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::field_error::{FieldError, from_value};

pub use control::{
    ConditionStep, DelayStep, EndStatus, EndStep, MoveToFlowStep, SetStep, SwitchCase, SwitchStep,
    TransformStep,
};
pub use data::{
    KeystoreDeleteStep, KeystoreGetStep, KeystorePutStep, OrderType, TableInsertStep,
    TableSearchStep, TableUpdateStep,
};
pub use http::{HttpMethod, HttpStep};

/// A step's reference to a step it may continue with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor<'a> {
    /// The field that names it, within the step: `next`, `then`, `cases[2].next`, …
    pub field: String,
    /// The id of the step it names.
    pub step: &'a str,
}

impl<'a> Successor<'a> {
    pub(crate) fn new(field: impl Into<String>, step: &'a str) -> Successor<'a> {
        Successor {
            field: field.into(),
            step,
        }
    }
}

/// What the fields of each step type know about themselves, beyond their serde shape.
pub(crate) trait StepFields: DeserializeOwned {
    /// Checks what the types cannot say (bounds, fields that exclude each other); an error names
    /// the field within the step.
    fn check(&self) -> Result<(), FieldError> {
        Ok(())
    }

    /// The steps this one may continue with; none for a step that ends the flow.
    fn successors(&self) -> Vec<Successor<'_>>;
}

/// Declares [`StepKind`] from `"type" => Variant(Fields)` lines, so that the type names, the
/// parser and the serializer cannot disagree.
macro_rules! step_catalog {
    ($($(#[$doc:meta])* $type_name:literal => $variant:ident($fields:ty),)+) => {
        /// What a step does: one variant per step type, named by the step's `type` field.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum StepKind {
            $($(#[$doc])* #[serde(rename = $type_name)] $variant($fields),)+
        }

        impl StepKind {
            /// Every step type, as written in a definition.
            pub const TYPE_NAMES: &'static [&'static str] = &[$($type_name),+];

            /// The step's `type`, as written in a definition.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(StepKind::$variant(_) => $type_name,)+
                }
            }

            /// The steps this one may continue with (not counting the step's `on_error`); none
            /// for a step that ends the flow.
            pub fn successors(&self) -> Vec<Successor<'_>> {
                match self {
                    $(StepKind::$variant(fields) => fields.successors(),)+
                }
            }

            /// Parses the fields of a step of type `type_name` (all but `type`, `retry` and
            /// `on_error`); `None` when no step type has that name.
            pub(crate) fn parse(
                type_name: &str,
                fields: Value,
            ) -> Option<Result<StepKind, FieldError>> {
                match type_name {
                    $($type_name => Some(parse_fields(fields).map(StepKind::$variant)),)+
                    _ => None,
                }
            }
        }
    };
}

step_catalog! {
    /// Writes templates into paths of the record.
    "set" => Set(SetStep),
    /// Applies a jq filter to the record.
    "transform" => Transform(TransformStep),
    /// Goes to `then` or `else` depending on where-rules.
    "condition" => Condition(ConditionStep),
    /// Goes to the first case whose where-rules match, else to `default`.
    "switch" => Switch(SwitchStep),
    /// Reads a key from a keystore.
    "keystore.get" => KeystoreGet(KeystoreGetStep),
    /// Writes a key of a keystore.
    "keystore.put" => KeystorePut(KeystorePutStep),
    /// Deletes a key from a keystore.
    "keystore.delete" => KeystoreDelete(KeystoreDeleteStep),
    /// Inserts a row into a table.
    "table.insert" => TableInsert(TableInsertStep),
    /// Updates the rows of a table that match where-rules.
    "table.update" => TableUpdate(TableUpdateStep),
    /// Searches a table.
    "table.search" => TableSearch(TableSearchStep),
    /// Calls an HTTP endpoint.
    "http" => Http(HttpStep),
    /// Waits for a duration or until a time; the only step a cycle may pass through.
    "delay" => Delay(DelayStep),
    /// Moves the record to another flow; ends it in this one.
    "move_to_flow" => MoveToFlow(MoveToFlowStep),
    /// Ends the flow.
    "end" => End(EndStep),
}

impl StepKind {
    /// Whether the flow ends at this step (`end`, `move_to_flow`).
    pub fn is_terminal(&self) -> bool {
        self.successors().is_empty()
    }
}

fn parse_fields<T: StepFields>(fields: Value) -> Result<T, FieldError> {
    let parsed: T = from_value(fields)?;
    parsed.check()?;
    Ok(parsed)
}

/// Checks a `save_as` name: it becomes a path segment of later templates (`steps.NAME…`).
pub(crate) fn check_save_as(save_as: Option<&str>) -> Result<(), FieldError> {
    match save_as {
        Some(name) if !is_save_as_name(name) => Err(FieldError::new(
            "save_as",
            "must be 1 to 64 characters of letters, digits, '_' and '-'",
        )),
        _ => Ok(()),
    }
}

fn is_save_as_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Checks a field that names a keystore, a table or a column: it must not be blank.
pub(crate) fn check_not_blank(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}
