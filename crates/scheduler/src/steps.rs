//! What each internal step does, inside the run's transaction. Every tenant access goes through
//! the record's own tenant: a definition can name a keystore or a table, never an organization.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use flowline_core::Tenant;
use flowline_db::PgConnection;
use flowline_flows::{
    DelayStep, EndStatus, KeystoreDeleteStep, KeystoreGetStep, KeystorePutStep, OrderType, Step,
    StepKind, TableInsertStep, TableSearchStep, TableUpdateStep,
};
use flowline_keystores::{EntryAddress, EntryKey, EntryValue, KeystoreId, KeystoreType};
use serde_json::{Value, json};

use crate::error::StepError;
use crate::jq;
use crate::render::{Scope, write_path};

/// Where a step leaves the run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Next {
    /// Go on with this step.
    Step(String),
    /// Wait until then, and go on with `step`.
    Wait { until: DateTime<Utc>, step: String },
    /// The flow ended.
    End(EndStatus),
    /// The record moves to this flow and version, and starts over there.
    Moved { flow_id: i64, version: i32 },
}

/// What a step needs to run: nothing but the run's state, the run's transaction, or a call
/// made outside any transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Memory,
    Database,
    Call,
}

pub(crate) fn place(kind: &StepKind) -> Place {
    match kind {
        StepKind::Set(_)
        | StepKind::Transform(_)
        | StepKind::Condition(_)
        | StepKind::Switch(_)
        | StepKind::Delay(_)
        | StepKind::End(_) => Place::Memory,
        StepKind::KeystoreGet(_)
        | StepKind::KeystorePut(_)
        | StepKind::KeystoreDelete(_)
        | StepKind::TableInsert(_)
        | StepKind::TableUpdate(_)
        | StepKind::TableSearch(_)
        | StepKind::MoveToFlow(_) => Place::Database,
        StepKind::Http(_) => Place::Call,
    }
}

/// A run's state: the record's data and the outputs saved so far.
pub(crate) struct RunState {
    pub tenant: Tenant,
    pub data: Value,
    pub saved: HashMap<String, Value>,
}

impl RunState {
    pub(crate) fn scope(&self) -> Scope<'_> {
        Scope {
            record: &self.data,
            saved: &self.saved,
        }
    }

    pub(crate) fn save(&mut self, name: Option<&String>, value: Value) {
        if let Some(name) = name {
            self.saved.insert(name.clone(), value);
        }
    }
}

/// Runs a step that needs nothing but the run's state. A failed step leaves the state as it
/// was.
pub(crate) fn run_in_memory(state: &mut RunState, step: &Step) -> Result<Next, StepError> {
    let next = |id: &String| Ok(Next::Step(id.clone()));
    match &step.kind {
        StepKind::Set(set) => {
            let mut rendered = Vec::with_capacity(set.fields.len());
            for (path, template) in &set.fields {
                rendered.push((path, state.scope().render(template)?));
            }
            // Written into a copy: a path that cannot be written must not leave the fields
            // before it written.
            let mut data = state.data.clone();
            for (path, value) in rendered {
                write_path(&mut data, path, value)?;
            }
            state.data = data;
            next(&set.next)
        }
        StepKind::Transform(transform) => {
            state.data = jq::transform(&transform.jq, &state.data)?;
            next(&transform.next)
        }
        StepKind::Condition(condition) => {
            if condition.rules.rules().matches(&state.data) {
                next(&condition.then)
            } else {
                next(&condition.otherwise)
            }
        }
        StepKind::Switch(switch) => {
            let case = switch
                .cases
                .iter()
                .find(|case| case.rules.rules().matches(&state.data));
            next(case.map_or(&switch.default, |case| &case.next))
        }
        StepKind::Delay(delay) => delay_until(state, delay),
        StepKind::End(end) => Ok(Next::End(end.status)),
        _ => Err(StepError::failed(format!(
            "a {} step cannot run without the database",
            step.kind.type_name()
        ))),
    }
}

/// Runs a step that reads or writes the tenant's data, in the run's transaction. A step that
/// fails writes nothing and leaves the state as it was; a database error leaves the
/// transaction to the caller.
pub(crate) async fn run_in_database(
    tx: &mut PgConnection,
    state: &mut RunState,
    step: &Step,
) -> Result<Next, StepError> {
    match &step.kind {
        StepKind::KeystoreGet(get) => keystore_get(tx, state, get).await,
        StepKind::KeystorePut(put) => keystore_put(tx, state, put).await,
        StepKind::KeystoreDelete(delete) => keystore_delete(tx, state, delete).await,
        StepKind::TableInsert(insert) => table_insert(tx, state, insert).await,
        StepKind::TableUpdate(update) => table_update(tx, state, update).await,
        StepKind::TableSearch(search) => table_search(tx, state, search).await,
        StepKind::MoveToFlow(target) => move_to_flow(tx, state, &target.flow).await,
        _ => Err(StepError::failed(format!(
            "a {} step does not run in the database",
            step.kind.type_name()
        ))),
    }
}

/// The flow and version a record moving to `flow` starts on.
async fn move_to_flow(
    tx: &mut PgConnection,
    state: &RunState,
    flow: &str,
) -> Result<Next, StepError> {
    match flowline_flows::store::find(&mut *tx, state.tenant, flow, true).await? {
        Some(found) => {
            let version = found.version_for_new_records()?;
            Ok(Next::Moved {
                flow_id: found.flow_id,
                version,
            })
        }
        None => Err(StepError::failed(format!("flow '{flow}' does not exist"))),
    }
}

fn delay_until(state: &RunState, delay: &DelayStep) -> Result<Next, StepError> {
    let until = match (delay.seconds, &delay.until) {
        (Some(seconds), _) => {
            Utc::now() + Duration::milliseconds((seconds * 1000.0).round() as i64)
        }
        (None, Some(until)) => {
            let text = state.scope().render_text(until)?;
            DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| {
                    StepError::failed(format!(
                        "until: '{text}' is not an RFC 3339 date-time (2026-01-31T12:00:00Z)"
                    ))
                })?
                .with_timezone(&Utc)
        }
        (None, None) => Utc::now(),
    };
    Ok(Next::Wait {
        until,
        step: delay.next.clone(),
    })
}

pub(crate) fn keystore_id(name: &str) -> Result<KeystoreId, StepError> {
    Ok(KeystoreId::parse(name, "keystore")?)
}

fn entry_key(state: &RunState, template: &flowline_flows::Template) -> Result<EntryKey, StepError> {
    let key = state.scope().render_text(template)?;
    Ok(EntryKey::parse(&key, "key")?)
}

async fn keystore_get(
    tx: &mut PgConnection,
    state: &mut RunState,
    get: &KeystoreGetStep,
) -> Result<Next, StepError> {
    let keystore = keystore_id(&get.keystore)?;
    let key = entry_key(state, &get.key)?;
    let at = EntryAddress {
        tenant: state.tenant,
        keystore_id: &keystore,
        key: &key,
    };
    let entry = flowline_keystores::entries::read(tx, at).await?;
    let value = match entry.data_type {
        KeystoreType::Json => serde_json::from_str(&entry.value).unwrap_or(Value::Null),
        KeystoreType::Xml | KeystoreType::Raw => Value::String(entry.value),
    };
    state.save(get.save_as.as_ref(), value);
    Ok(Next::Step(get.next.clone()))
}

async fn keystore_put(
    tx: &mut PgConnection,
    state: &mut RunState,
    put: &KeystorePutStep,
) -> Result<Next, StepError> {
    let keystore = keystore_id(&put.keystore)?;
    let data_type = flowline_keystores::definitions::data_type(tx, state.tenant, &keystore).await?;
    let (key, value) = keystore_entry(state, put, &keystore, data_type)?;
    let at = EntryAddress {
        tenant: state.tenant,
        keystore_id: &keystore,
        key: &key,
    };
    flowline_keystores::entries::upsert(tx, at, &value).await?;
    Ok(Next::Step(put.next.clone()))
}

/// The key and value a `keystore.put` step writes, rendered for the run and checked against
/// the keystore's type.
pub(crate) fn keystore_entry(
    state: &RunState,
    put: &KeystorePutStep,
    keystore: &KeystoreId,
    data_type: KeystoreType,
) -> Result<(EntryKey, EntryValue), StepError> {
    let key = entry_key(state, &put.key)?;
    let rendered = state.scope().render_json(&put.value)?;
    let value = match (data_type, rendered) {
        (KeystoreType::Json, value) => EntryValue::from_json(value, "value")?,
        (KeystoreType::Raw, Value::String(text)) => EntryValue::parse(
            KeystoreType::Raw,
            text.as_bytes(),
            |_| Ok(Value::Null),
            "value",
        )?,
        (KeystoreType::Raw, other) => EntryValue::parse(
            KeystoreType::Raw,
            other.to_string().as_bytes(),
            |_| Ok(Value::Null),
            "value",
        )?,
        (KeystoreType::Xml, _) => {
            return Err(StepError::failed(format!(
                "keystore '{keystore}' holds XML values, which flows cannot write yet"
            )));
        }
    };
    Ok((key, value))
}

async fn keystore_delete(
    tx: &mut PgConnection,
    state: &mut RunState,
    delete: &KeystoreDeleteStep,
) -> Result<Next, StepError> {
    let keystore = keystore_id(&delete.keystore)?;
    let key = entry_key(state, &delete.key)?;
    let at = EntryAddress {
        tenant: state.tenant,
        keystore_id: &keystore,
        key: &key,
    };
    flowline_keystores::entries::delete(tx, at).await?;
    Ok(Next::Step(delete.next.clone()))
}

fn rendered_columns(
    state: &RunState,
    columns: &std::collections::BTreeMap<String, flowline_flows::Template>,
) -> Result<serde_json::Map<String, Value>, StepError> {
    columns
        .iter()
        .map(|(column, template)| Ok((column.clone(), state.scope().render(template)?)))
        .collect()
}

async fn table_insert(
    tx: &mut PgConnection,
    state: &mut RunState,
    insert: &TableInsertStep,
) -> Result<Next, StepError> {
    let request = insert_request(state, insert)?;
    let row = flowline_tables::insert_row(tx, state.tenant, &insert.table, &request, None).await?;
    state.save(insert.save_as.as_ref(), row);
    Ok(Next::Step(insert.next.clone()))
}

/// The row a `table.insert` step writes, rendered for the run.
pub(crate) fn insert_request(
    state: &RunState,
    insert: &TableInsertStep,
) -> Result<flowline_tables::InsertRequest, StepError> {
    let values = rendered_columns(state, &insert.columns)?;
    Ok(flowline_tables::InsertRequest::parse(&Value::Object(
        values,
    ))?)
}

async fn table_update(
    tx: &mut PgConnection,
    state: &mut RunState,
    update: &TableUpdateStep,
) -> Result<Next, StepError> {
    let columns: Vec<Value> = rendered_columns(state, &update.columns)?
        .into_iter()
        .map(|(name, value)| json!({"column_name": name, "column_value": value}))
        .collect();
    let body = json!({"columns": columns, "where": update.rules.value()});
    let request = flowline_tables::UpdateRequest::parse(&body, false)?;
    let rows = flowline_tables::update_rows(tx, state.tenant, &update.table, &request).await?;
    state.save(update.save_as.as_ref(), Value::Array(rows));
    Ok(Next::Step(update.next.clone()))
}

async fn table_search(
    tx: &mut PgConnection,
    state: &mut RunState,
    search: &TableSearchStep,
) -> Result<Next, StepError> {
    let mut body = serde_json::Map::new();
    if let Some(rules) = &search.rules {
        body.insert("where".to_owned(), rules.value().clone());
    }
    if let Some(limit) = search.limit {
        body.insert("limit".to_owned(), json!(limit));
    }
    if let Some(field) = &search.order_field {
        body.insert("order_field".to_owned(), json!(field));
    }
    if let Some(order) = search.order_type {
        let order = match order {
            OrderType::Asc => "asc",
            OrderType::Desc => "desc",
        };
        body.insert("order_type".to_owned(), json!(order));
    }
    let selection = flowline_tables::Selection::parse(Some(&Value::Object(body)))?;
    let page = flowline_tables::search(tx, state.tenant, &search.table, &selection).await?;
    state.save(search.save_as.as_ref(), Value::Array(page.rows));
    Ok(Next::Step(search.next.clone()))
}
