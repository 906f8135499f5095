//! One record's way through its flow inside a run's transaction. A walk runs the steps that
//! need nothing but the record itself on its own, stops at each step that needs the database
//! (the batch runs it, for all the records waiting at such steps together) and ends when the
//! flow ends, waits, moves the record, fails, or reaches an `http` step.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, OrgId, Tenant};
use flowline_flows::{EndStatus, FlowDefinition, Step, StepKind};
use serde_json::Value;
use uuid::Uuid;

use super::{Called, MAX_CLAIMS};
use crate::claim::Claimed;
use crate::retry::backoff;
use crate::steps::{Next, Place, RunState, place, run_in_memory};

/// Record status codes (the Flowize codes).
pub(super) const NEW: i16 = 0;
pub(super) const PROCESSING: i16 = 1;
pub(super) const FINISHED: i16 = 2;
pub(super) const FINISHED_WITH_ERRORS: i16 = 3;
pub(super) const SCHEDULED: i16 = 4;

/// One step execution, for the step log.
pub(super) struct LogEntry {
    pub step_id: String,
    pub step_type: &'static str,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// How a run leaves the record.
pub(super) enum Outcome {
    Finished {
        status: i16,
        step: String,
    },
    Wait {
        until: DateTime<Utc>,
        step: String,
    },
    Moved {
        flow_id: i64,
        version: i32,
    },
    /// The run reached an `http` step: commit, call outside the transaction, come back.
    Call {
        step: String,
        attempt: i32,
    },
}

/// A record as the run's transaction locked it, with its latest step-log entry when that was
/// a retry (the attempt its step goes on with).
#[derive(sqlx::FromRow)]
pub(super) struct LoadedRecord {
    pub org_id: OrgId,
    pub record_id: i64,
    pub uuid: Uuid,
    pub environment_id: EnvironmentId,
    pub flow_id: i64,
    pub flow_version: i32,
    pub data: Value,
    pub current_step: Option<String>,
    pub step_outputs: Option<Value>,
    pub last_step: Option<String>,
    pub last_outcome: Option<String>,
    pub last_attempt: Option<i32>,
}

/// The database step a walk waits at, and the attempt it will be.
pub(super) struct Waiting {
    pub definition: Arc<FlowDefinition>,
    pub step: String,
    pub attempt: i32,
}

impl Waiting {
    pub fn step(&self) -> Option<&Step> {
        self.definition.step(&self.step)
    }
}

pub(super) struct Walk {
    pub claimed: Claimed,
    pub uuid: Uuid,
    pub state: RunState,
    pub definition: Option<Arc<FlowDefinition>>,
    at: String,
    steps_left: usize,
    /// The step the previous run asked to retry, and its attempt; used by the first step only.
    retrying: Option<(String, i32)>,
    called: Option<Called>,
    pub log: Vec<LogEntry>,
    pub outcome: Option<Outcome>,
}

impl Walk {
    pub fn new(
        claimed: Claimed,
        record: LoadedRecord,
        definition: Result<Arc<FlowDefinition>, String>,
        called: Option<Called>,
    ) -> Walk {
        let retrying = match (record.last_step, record.last_outcome, record.last_attempt) {
            (Some(step), Some(outcome), Some(attempt)) if outcome == "retry" => {
                Some((step, attempt))
            }
            _ => None,
        };
        let saved: HashMap<String, Value> = match record.step_outputs {
            Some(Value::Object(outputs)) => outputs.into_iter().collect(),
            _ => HashMap::new(),
        };
        let state = RunState {
            tenant: Tenant {
                org_id: record.org_id,
                environment_id: record.environment_id,
            },
            data: record.data,
            saved,
        };
        let mut walk = Walk {
            claimed,
            uuid: record.uuid,
            state,
            definition: None,
            at: record.current_step.clone().unwrap_or_default(),
            steps_left: 0,
            retrying,
            called,
            log: Vec::new(),
            outcome: None,
        };
        if claimed.attempts > MAX_CLAIMS {
            let step = walk.at.clone();
            walk.fail(
                step,
                "lease",
                claimed.attempts,
                format!(
                    "the record was claimed {MAX_CLAIMS} times without finishing (its worker \
                     stopped or lost its lease each time); it is failed instead of being tried \
                     again"
                ),
            );
            return walk;
        }
        match definition {
            Ok(definition) => {
                if record.current_step.is_none() {
                    walk.at = definition.start().to_owned();
                }
                // Cycles pass through a delay, which ends the run: a run executes each step at
                // most a few times, and this bound only guards against a definition the checks
                // let through.
                walk.steps_left = definition.steps().len() * 4 + 16;
                walk.definition = Some(definition);
            }
            Err(message) => {
                let step = walk.at.clone();
                walk.fail(step, "flow", 1, message);
            }
        }
        walk
    }

    pub fn tenant(&self) -> Tenant {
        self.state.tenant
    }

    /// Runs the steps that need only the record until the walk ends or waits at a database
    /// step, which it returns.
    pub fn advance(&mut self) -> Option<Waiting> {
        loop {
            if self.outcome.is_some() {
                return None;
            }
            let definition = self.definition.clone()?;
            if self.steps_left == 0 {
                let at = self.at.clone();
                self.fail(at, "flow", 1, "the run took too many steps".to_owned());
                return None;
            }
            self.steps_left -= 1;
            let Some(step) = definition.step(&self.at) else {
                let at = self.at.clone();
                self.fail(at.clone(), "flow", 1, format!("step '{at}' does not exist"));
                return None;
            };
            let attempt = self.attempt_of(&step.id);
            match place(&step.kind) {
                Place::Database => {
                    return Some(Waiting {
                        step: step.id.clone(),
                        definition,
                        attempt,
                    });
                }
                Place::Memory => {
                    let started_at = Utc::now();
                    let result = run_in_memory(&mut self.state, step).map_err(|error| {
                        // In-memory steps have no database to fail on.
                        error.to_string()
                    });
                    self.apply(step, attempt, started_at, Utc::now(), result);
                }
                Place::Call => self.resume_or_call(step, attempt),
            }
        }
    }

    /// Applies the response of the call the walk resumes from, or stops the walk to make the
    /// call.
    fn resume_or_call(&mut self, step: &Step, attempt: i32) {
        let StepKind::Http(http) = &step.kind else {
            return;
        };
        match self.called.take() {
            Some(call) if call.step == step.id => {
                let result = call.result.map(|response| {
                    self.state.save(http.save_as.as_ref(), response);
                    Next::Step(http.next.clone())
                });
                self.apply(
                    step,
                    call.attempt,
                    call.started_at,
                    call.finished_at,
                    result,
                );
            }
            _ => {
                self.outcome = Some(Outcome::Call {
                    step: step.id.clone(),
                    attempt,
                });
            }
        }
    }

    /// The attempt `step` is: the one after the previous run's retry of it, if the walk starts
    /// there; else the first.
    fn attempt_of(&mut self, step: &str) -> i32 {
        match self.retrying.take() {
            Some((retried, attempt)) if retried == step && self.log.is_empty() => attempt + 1,
            _ => 1,
        }
    }

    /// Records how a step ended and where the walk goes: on, to a wait, a retry, `on_error`,
    /// or the end.
    pub fn apply(
        &mut self,
        step: &Step,
        attempt: i32,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        result: Result<Next, String>,
    ) {
        let entry = |outcome, error| LogEntry {
            step_id: step.id.clone(),
            step_type: step.kind.type_name(),
            attempt,
            started_at,
            finished_at,
            outcome,
            error,
        };
        match result {
            Ok(next) => {
                self.log.push(entry("ok", None));
                match next {
                    Next::Step(next) => self.at = next,
                    Next::Wait { until, step } => {
                        self.outcome = Some(Outcome::Wait { until, step })
                    }
                    Next::End(status) => {
                        let status = match status {
                            EndStatus::Finished => FINISHED,
                            EndStatus::FinishedWithErrors => FINISHED_WITH_ERRORS,
                        };
                        self.outcome = Some(Outcome::Finished {
                            status,
                            step: step.id.clone(),
                        });
                    }
                    Next::Moved { flow_id, version } => {
                        self.outcome = Some(Outcome::Moved { flow_id, version });
                    }
                }
            }
            Err(message) => {
                if let Some(retry) = &step.retry
                    && attempt <= retry.max as i32
                {
                    self.log.push(entry("retry", Some(message)));
                    self.outcome = Some(Outcome::Wait {
                        until: Utc::now() + backoff(retry, attempt as u32),
                        step: step.id.clone(),
                    });
                    return;
                }
                self.log.push(entry("error", Some(message)));
                match &step.on_error {
                    Some(on_error) => self.at = on_error.clone(),
                    None => {
                        self.outcome = Some(Outcome::Finished {
                            status: FINISHED_WITH_ERRORS,
                            step: step.id.clone(),
                        });
                    }
                }
            }
        }
    }

    /// Ends the walk failed at `step`, for a reason that is not a step's.
    pub fn fail(&mut self, step: String, step_type: &'static str, attempt: i32, message: String) {
        let now = Utc::now();
        self.log.push(LogEntry {
            step_id: step.clone(),
            step_type,
            attempt,
            started_at: now,
            finished_at: now,
            outcome: "error",
            error: Some(message),
        });
        self.outcome = Some(Outcome::Finished {
            status: FINISHED_WITH_ERRORS,
            step,
        });
    }

    /// The step the walk stands at.
    pub fn at(&self) -> &str {
        &self.at
    }
}
