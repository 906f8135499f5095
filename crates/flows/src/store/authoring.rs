//! Writing definitions: creating a flow, and saving the draft that the next publication turns
//! into a version.

use flowline_core::{Error, Tenant};
use sqlx::{Connection, PgConnection};

use super::lifecycle::{Transition, change_status};
use super::lookup::{FlowStatus, find};
use super::view::{FlowView, load, unknown_flow};
use crate::FlowDefinition;

/// Creates a flow from a validated definition, as a draft waiting for its first publication.
/// Its name must be free in the environment (409 otherwise).
pub async fn create(
    conn: &mut PgConnection,
    tenant: Tenant,
    definition: &FlowDefinition,
) -> Result<FlowView, Error> {
    let mut tx = conn.begin().await?;
    let flow_id: Option<i64> = sqlx::query_scalar(concat!(
        "INSERT INTO flows (org_id, environment_id, name, description, draft, draft_saved_at) ",
        "VALUES ($1, $2, $3, $4, $5, now()) ",
        "ON CONFLICT ON CONSTRAINT flows_name_key DO NOTHING RETURNING flow_id"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(definition.name())
    .bind(definition.description().unwrap_or_default())
    .bind(definition.to_json())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|error| unknown_environment(error, tenant))?;
    let flow_id = flow_id.ok_or_else(|| {
        Error::conflict(format!(
            "A flow diagram named '{}' already exists: save a new draft of it with \
             PUT /v1/flowdiagram",
            definition.name()
        ))
    })?;
    let view = load(&mut tx, tenant, flow_id)
        .await?
        .ok_or_else(|| Error::internal(format!("flow {flow_id} vanished after its insert")))?;
    tx.commit().await?;
    Ok(view)
}

/// Only an operator can name an environment (the API's tenant comes from the credentials), so
/// a foreign-key failure means the operator's `--environment` is not one of the organization's.
fn unknown_environment(error: sqlx::Error, tenant: Tenant) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::not_found(format!(
            "The organization has no environment {}",
            tenant.environment_id
        )),
        _ => Error::from(error),
    }
}

/// Saves `definition` as the pending draft of the flow named by `reference` (a name or an id),
/// replacing any earlier draft. Published versions and the flow's status are untouched: the
/// draft runs nowhere until it is published.
///
/// A flow cannot be renamed: records and clients find it by name, so the definition's `name`
/// must be the flow's (400 otherwise).
pub async fn save_draft(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
    definition: &FlowDefinition,
) -> Result<FlowView, Error> {
    let mut tx = conn.begin().await?;
    let flow = find(&mut tx, tenant, reference, false)
        .await?
        .ok_or_else(|| unknown_flow(reference))?;
    if definition.name() != flow.name {
        return Err(Error::invalid_field(
            "name",
            format!(
                "must be '{}', the name of the flow diagram being updated (a flow diagram \
                 cannot be renamed)",
                flow.name
            ),
        ));
    }
    // The flow's description is its current version's; only a flow that was never published
    // takes it from the draft.
    let saved = sqlx::query(concat!(
        "UPDATE flows SET draft = $4, draft_saved_at = now(), modified_at = now(), ",
        "description = CASE WHEN status = 'draft' THEN $5 ELSE description END ",
        "WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow.flow_id)
    .bind(definition.to_json())
    .bind(definition.description().unwrap_or_default())
    .execute(&mut *tx)
    .await?;
    if saved.rows_affected() == 0 {
        return Err(unknown_flow(reference));
    }
    let view = load(&mut tx, tenant, flow.flow_id)
        .await?
        .ok_or_else(|| unknown_flow(reference))?;
    tx.commit().await?;
    Ok(view)
}

/// What importing a definition did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Whether the flow was created (else a new draft of an existing flow was saved).
    pub created: bool,
    /// The version the draft was published as, when publishing was asked for.
    pub published_version: Option<i32>,
    pub view: FlowView,
}

/// An operator's import (`flowline admin import-flow`): creates the flow, or saves the
/// definition as the new draft of the flow of the same name; then, when `publish` is set,
/// publishes that draft. All of it or nothing.
pub async fn import(
    conn: &mut PgConnection,
    tenant: Tenant,
    definition: &FlowDefinition,
    publish: bool,
) -> Result<Imported, Error> {
    let mut tx = conn.begin().await?;
    // `find` also matches ids; only a flow of the same name is the one to update.
    let created = find(&mut tx, tenant, definition.name(), false)
        .await?
        .is_none_or(|flow| flow.name != definition.name());
    let mut view = if created {
        create(&mut tx, tenant, definition).await?
    } else {
        save_draft(&mut tx, tenant, definition.name(), definition).await?
    };
    let mut published_version = None;
    if publish {
        let transition =
            change_status(&mut tx, tenant, None, view.flow_id, FlowStatus::Public).await?;
        if let Transition::Published { version, .. } = transition {
            published_version = Some(version);
        }
        view = load(&mut tx, tenant, view.flow_id)
            .await?
            .ok_or_else(|| unknown_flow(definition.name()))?;
    }
    tx.commit().await?;
    Ok(Imported {
        created,
        published_version,
        view,
    })
}
