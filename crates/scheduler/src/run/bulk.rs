//! The database steps of a batch, run together: all the records waiting at a `keystore.put`
//! of one keystore write in one statement, all those at a `table.insert` of one table in one
//! multi-row insert; other database steps run one record at a time. A step refused for one
//! record (a key or a value that does not render, a row of the wrong type) fails for that
//! record alone, before anything is written. A statement that fails makes the whole batch run
//! again carefully (`batch.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use flowline_core::Tenant;
use flowline_db::PgConnection;
use flowline_flows::{KeystorePutStep, Step, StepKind};
use flowline_keystores::{KeystoreError, KeystoreId, KeystoreType};

use super::walk::{Waiting, Walk};
use crate::error::StepError;
use crate::steps::{self, Next, run_in_database};

/// Keystore types read in this transaction.
pub(super) type KeystoreTypes = HashMap<(Tenant, String), KeystoreType>;

/// Which walks run a step together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group {
    /// Writes to one keystore.
    KeystorePut(i64, i64, String),
    /// Inserts into one table.
    TableInsert(i64, i64, String),
    /// A step run for one walk alone.
    Alone(usize),
}

/// Runs the database steps the walks wait at; false when a statement failed (the transaction
/// is then unusable and the batch must run again carefully).
pub(super) async fn run_waiting(
    tx: &mut PgConnection,
    walks: &mut [Walk],
    waiting: Vec<(usize, Waiting)>,
    keystore_types: &mut KeystoreTypes,
) -> Result<bool, sqlx::Error> {
    let mut groups: HashMap<Group, Vec<(usize, Waiting)>> = HashMap::new();
    for (index, waiting) in waiting {
        let group = group_of(walks[index].tenant(), index, &waiting);
        groups.entry(group).or_default().push((index, waiting));
    }
    // The same order in every batch: two batches never take the same locks in opposite orders.
    let mut groups: Vec<(Group, Vec<(usize, Waiting)>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    for (group, members) in groups {
        let ran = match group {
            Group::KeystorePut(..) => put_together(tx, walks, &members, keystore_types).await?,
            Group::TableInsert(..) => insert_together(tx, walks, &members).await?,
            Group::Alone(_) => run_alone(tx, walks, &members).await?,
        };
        if !ran {
            return Ok(false);
        }
    }
    Ok(true)
}

fn group_of(tenant: Tenant, index: usize, waiting: &Waiting) -> Group {
    let (org, environment) = (tenant.org_id.0, tenant.environment_id.0);
    match waiting.step().map(|step| &step.kind) {
        Some(StepKind::KeystorePut(put)) => {
            Group::KeystorePut(org, environment, put.keystore.clone())
        }
        Some(StepKind::TableInsert(insert)) => {
            Group::TableInsert(org, environment, insert.table.clone())
        }
        _ => Group::Alone(index),
    }
}

/// A step's refusal as the step log shows it; a database error is the caller's to handle.
fn refusal(error: StepError) -> Result<String, sqlx::Error> {
    match error {
        StepError::Failed(message) => Ok(message),
        StepError::Database(error) => Err(error),
    }
}

/// Steps that run one walk at a time, still without a savepoint.
async fn run_alone(
    tx: &mut PgConnection,
    walks: &mut [Walk],
    members: &[(usize, Waiting)],
) -> Result<bool, sqlx::Error> {
    for (index, waiting) in members {
        let Some(step) = waiting.step() else {
            continue;
        };
        let walk = &mut walks[*index];
        let started_at = Utc::now();
        let result = match run_in_database(tx, &mut walk.state, step).await {
            Ok(next) => Ok(next),
            Err(error) => match refusal(error) {
                Ok(message) => Err(message),
                Err(_) => return Ok(false),
            },
        };
        walk.apply(step, waiting.attempt, started_at, Utc::now(), result);
    }
    Ok(true)
}

/// The walks' `keystore.put` steps into one keystore: one statement.
async fn put_together(
    tx: &mut PgConnection,
    walks: &mut [Walk],
    members: &[(usize, Waiting)],
    keystore_types: &mut KeystoreTypes,
) -> Result<bool, sqlx::Error> {
    let started_at = Utc::now();
    let Some((first, _)) = members.first() else {
        return Ok(true);
    };
    let tenant = walks[*first].tenant();
    let puts: Vec<(usize, &Waiting, &Step, &KeystorePutStep)> = members
        .iter()
        .filter_map(|(index, waiting)| {
            let step = waiting.step()?;
            match &step.kind {
                StepKind::KeystorePut(put) => Some((*index, waiting, step, put)),
                _ => None,
            }
        })
        .collect();
    let Some(name) = puts.first().map(|(_, _, _, put)| put.keystore.clone()) else {
        return Ok(true);
    };
    let failed_all = |walks: &mut [Walk], message: String| {
        finish_all(walks, &puts, started_at, |_| Err(message.clone()));
    };
    let keystore = match steps::keystore_id(&name) {
        Ok(keystore) => keystore,
        Err(error) => {
            failed_all(walks, refusal(error)?);
            return Ok(true);
        }
    };
    let data_type = match keystore_type(tx, tenant, &keystore, keystore_types).await {
        Ok(data_type) => data_type,
        Err(KeystoreError::Database(_)) => return Ok(false),
        Err(other) => {
            failed_all(walks, other.to_string());
            return Ok(true);
        }
    };
    let mut entries = Vec::with_capacity(puts.len());
    let mut writers = Vec::with_capacity(puts.len());
    for &(index, waiting, step, put) in &puts {
        match steps::keystore_entry(&walks[index].state, put, &keystore, data_type) {
            Ok(entry) => {
                entries.push(entry);
                writers.push((index, waiting, step, put));
            }
            Err(error) => {
                let failed = Err(refusal(error)?);
                walks[index].apply(step, waiting.attempt, started_at, Utc::now(), failed);
            }
        }
    }
    if entries.is_empty() {
        return Ok(true);
    }
    let written =
        flowline_keystores::entries::upsert_many(tx, tenant, &keystore, data_type, &entries).await;
    match written {
        // Nothing written: the keystore went away since its type was read; the careful run
        // names what happened.
        Ok(0) | Err(_) => return Ok(false),
        Ok(_) => {}
    }
    let finished_at = Utc::now();
    for (index, waiting, step, put) in writers {
        let next = Ok(Next::Step(put.next.clone()));
        walks[index].apply(step, waiting.attempt, started_at, finished_at, next);
    }
    Ok(true)
}

async fn keystore_type(
    tx: &mut PgConnection,
    tenant: Tenant,
    keystore: &KeystoreId,
    keystore_types: &mut KeystoreTypes,
) -> Result<KeystoreType, KeystoreError> {
    let key = (tenant, keystore.as_str().to_owned());
    if let Some(data_type) = keystore_types.get(&key) {
        return Ok(*data_type);
    }
    let data_type = flowline_keystores::definitions::data_type(tx, tenant, keystore).await?;
    keystore_types.insert(key, data_type);
    Ok(data_type)
}

/// The walks' `table.insert` steps into one table: one multi-row insert.
async fn insert_together(
    tx: &mut PgConnection,
    walks: &mut [Walk],
    members: &[(usize, Waiting)],
) -> Result<bool, sqlx::Error> {
    let started_at = Utc::now();
    let Some((first, _)) = members.first() else {
        return Ok(true);
    };
    let tenant = walks[*first].tenant();
    let mut requests = Vec::with_capacity(members.len());
    let mut writers = Vec::with_capacity(members.len());
    let mut table = None;
    for (index, waiting) in members {
        let Some(step) = waiting.step() else {
            continue;
        };
        let StepKind::TableInsert(insert) = &step.kind else {
            continue;
        };
        table.get_or_insert_with(|| insert.table.clone());
        match steps::insert_request(&walks[*index].state, insert) {
            Ok(request) => {
                requests.push(request);
                writers.push((*index, waiting, step, insert));
            }
            Err(error) => {
                let failed = Err(refusal(error)?);
                walks[*index].apply(step, waiting.attempt, started_at, Utc::now(), failed);
            }
        }
    }
    let Some(table) = table else {
        return Ok(true);
    };
    if requests.is_empty() {
        return Ok(true);
    }
    let rows = match flowline_tables::insert_rows(tx, tenant, &table, &requests).await {
        Ok(rows) => rows,
        Err(flowline_core::Error::Database(_)) => return Ok(false),
        Err(other) => {
            let message = other.public_message();
            finish_all(walks, &writers, started_at, |_| Err(message.clone()));
            return Ok(true);
        }
    };
    let finished_at = Utc::now();
    for ((index, waiting, step, insert), row) in writers.into_iter().zip(rows) {
        let walk = &mut walks[index];
        let result = match row {
            Ok(row) => {
                walk.state.save(insert.save_as.as_ref(), row);
                Ok(Next::Step(insert.next.clone()))
            }
            Err(error) => Err(error.public_message()),
        };
        walk.apply(step, waiting.attempt, started_at, finished_at, result);
    }
    Ok(true)
}

/// Ends the step of every writer with the same result.
fn finish_all<T>(
    walks: &mut [Walk],
    writers: &[(usize, &Waiting, &Step, T)],
    started_at: DateTime<Utc>,
    result: impl Fn(usize) -> Result<Next, String>,
) {
    let finished_at = Utc::now();
    for (index, waiting, step, _) in writers {
        walks[*index].apply(
            step,
            waiting.attempt,
            started_at,
            finished_at,
            result(*index),
        );
    }
}
