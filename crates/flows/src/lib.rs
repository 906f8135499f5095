//! Flow definitions: the JSON a flow is written in (DESIGN.md §4), parsed into typed values and
//! validated as a whole when a definition is saved. A [`FlowDefinition`] that exists has passed
//! every check: a valid name, known step types with known, well-typed fields, well-formed
//! templates, no dangling or unreachable steps, no cycle without a `delay`, and no step from
//! which the flow can never end. Every error is a 400 naming the field at fault, such as
//! `steps.save.next: refers to unknown step 'notfy'`.
//!
//! This crate owns the step catalog ([`StepKind`]): each step type, its fields, its checks and
//! its successors are declared in `catalog/`, and nowhere else. The definition model never
//! touches a database, the network, the clock or the environment, and never executes a step.
//! [`store`] is the flows service: flows, drafts and published versions in PostgreSQL. Running
//! records through flows belongs to the scheduler.

mod catalog;
mod definition;
mod field_error;
mod graph;
mod step;
mod template;
mod where_rules;

pub mod store;

pub use catalog::{
    ConditionStep, DelayStep, EndStatus, EndStep, HttpMethod, HttpStep, KeystoreDeleteStep,
    KeystoreGetStep, KeystorePutStep, MoveToFlowStep, OrderType, SetStep, StepKind, Successor,
    SwitchCase, SwitchStep, TableInsertStep, TableSearchStep, TableUpdateStep, TransformStep,
};
pub use definition::{FlowDefinition, MAX_STEPS};
pub use step::{Backoff, RetryPolicy, Step};
pub use template::{DataPath, JsonTemplate, PathSegment, Template, TemplateError, TemplatePart};
pub use where_rules::WhereRules;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
mod tests;
