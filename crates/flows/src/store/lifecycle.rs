//! A flow's status changes (`PUT /v1/changeflowstatus`): publishing the draft as a new version,
//! pausing, resuming and deactivating.
//!
//! | from \ to | public                    | paused | running | inactive |
//! |-----------|---------------------------|--------|---------|----------|
//! | draft     | publishes → public        | 409    | 409     | 409      |
//! | public    | publishes → public        | paused | 409     | inactive |
//! | running   | publishes → public        | paused | 409     | inactive |
//! | paused    | publishes, stays paused   | 409    | running | inactive |
//! | inactive  | publishes, stays inactive | 409    | running | 409      |
//!
//! Publishing needs a pending draft (409 without one). It changes which version new records
//! start on, not whether the flow runs: a paused or inactive flow stays so until it is resumed.

use flowline_core::{AppId, Error, Tenant};
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use super::lookup::{FlowStatus, FlowSummary, find_by_id_for_update};
use super::view::unknown_flow;
use crate::FlowDefinition;

/// What a status change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The draft became `version`, the version new records start on; the flow is now `status`.
    Published { version: i32, status: FlowStatus },
    /// Records are accepted but not run.
    Paused,
    /// A paused flow runs its records again.
    Resumed,
    /// An inactive flow accepts and runs records again.
    Reactivated,
    /// The flow accepts no more records.
    Stopped,
}

/// The status a client asks for in `field` (`X-Status` or `status`). `draft` is not one: a
/// published flow cannot become unpublished.
pub fn requested_status(field: &str, text: &str) -> Result<FlowStatus, Error> {
    match FlowStatus::parse(&text.trim().to_ascii_lowercase()) {
        Some(status) if status != FlowStatus::Draft => Ok(status),
        _ => Err(Error::invalid_field(
            field,
            format!(
                "'{text}' is not a status a flow diagram can be given: use public, paused, \
                 running or inactive"
            ),
        )),
    }
}

/// Moves the flow `flow_id` to `target`, or explains with a 409 why it cannot go there. The
/// flow row is locked for the whole change, so that concurrent changes apply one after another
/// and version numbers never collide. `actor` is the application that asks (`None` for an
/// operator); it is recorded as the publisher of a new version.
pub async fn change_status(
    conn: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    flow_id: i64,
    target: FlowStatus,
) -> Result<Transition, Error> {
    let mut tx = conn.begin().await?;
    let flow = find_by_id_for_update(&mut tx, tenant, flow_id)
        .await?
        .ok_or_else(|| unknown_flow(&flow_id.to_string()))?;
    let draft = load_draft(&mut tx, tenant, flow_id).await?;
    let transition = match plan(&flow, draft.is_some(), target)? {
        Planned::Publish { status } => {
            let draft = draft.ok_or_else(|| no_draft(&flow))?;
            let version = publish(&mut tx, tenant, actor, &flow, &draft, status).await?;
            Transition::Published { version, status }
        }
        Planned::Move { status, transition } => {
            set_status(&mut tx, tenant, flow_id, status).await?;
            transition
        }
    };
    tx.commit().await?;
    Ok(transition)
}

#[derive(Debug, PartialEq, Eq)]
enum Planned {
    Publish {
        status: FlowStatus,
    },
    Move {
        status: FlowStatus,
        transition: Transition,
    },
}

/// The rules of the table in this module's documentation.
fn plan(flow: &FlowSummary, has_draft: bool, target: FlowStatus) -> Result<Planned, Error> {
    use FlowStatus::{Draft, Inactive, Paused, Public, Running};
    let name = &flow.name;
    let refused = |why: &str| Err(Error::conflict(format!("Flow diagram '{name}' {why}")));
    let moved = |status, transition| Ok(Planned::Move { status, transition });
    match (flow.status, target) {
        (_, Public) if !has_draft => Err(no_draft(flow)),
        (Paused | Inactive, Public) => Ok(Planned::Publish {
            status: flow.status,
        }),
        (_, Public) => Ok(Planned::Publish { status: Public }),
        (Draft, _) => refused(
            "has never been published: publish it first with the status 'public' (X-Status: \
             public)",
        ),
        (Public | Running, Paused) => moved(Paused, Transition::Paused),
        (Paused, Paused) => refused("is already paused"),
        (Inactive, Paused) => refused("is inactive: only a running flow diagram can be paused"),
        (Paused, Running) => moved(Running, Transition::Resumed),
        (Inactive, Running) => moved(Running, Transition::Reactivated),
        (Public | Running, Running) => refused("is not paused: it is already running"),
        (Public | Running | Paused, Inactive) => moved(Inactive, Transition::Stopped),
        (Inactive, Inactive) => refused("is already inactive"),
        (_, Draft) => Err(Error::bad_request(
            "A flow diagram cannot be given the status 'draft'",
        )),
    }
}

fn no_draft(flow: &FlowSummary) -> Error {
    let hint = match flow.status {
        FlowStatus::Paused | FlowStatus::Inactive => {
            "; to run its current version again, use the status 'running'"
        }
        _ => "",
    };
    Error::conflict(format!(
        "Flow diagram '{}' has no draft to publish: save one with PUT /v1/flowdiagram{hint}",
        flow.name
    ))
}

async fn load_draft(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<Option<Value>, Error> {
    let draft: Option<Option<Value>> = sqlx::query_scalar(
        "SELECT draft FROM flows WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_optional(conn)
    .await?;
    Ok(draft.flatten())
}

/// Turns the draft into the next version and makes it current; returns the version.
async fn publish(
    conn: &mut PgConnection,
    tenant: Tenant,
    actor: Option<AppId>,
    flow: &FlowSummary,
    draft: &Value,
    status: FlowStatus,
) -> Result<i32, Error> {
    // The draft was valid when saved; checking it again catches a step catalog that changed
    // since, before any record can start on it.
    let definition = FlowDefinition::parse(draft).map_err(|error| {
        Error::conflict(format!(
            "The draft of flow diagram '{}' is no longer valid ({}): save a corrected draft",
            flow.name,
            error.public_message()
        ))
    })?;
    let version: i32 = sqlx::query_scalar(concat!(
        "INSERT INTO flow_versions ",
        "(org_id, flow_id, version, environment_id, definition, published_by) ",
        "SELECT $1, $3, COALESCE(max(version), 0) + 1, $2, $4, $5 FROM flow_versions ",
        "WHERE org_id = $1 AND flow_id = $3 RETURNING version"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow.flow_id)
    .bind(definition.to_json())
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(concat!(
        "UPDATE flows SET status = $4, current_version = $5, description = $6, draft = NULL, ",
        "draft_saved_at = NULL, modified_at = now() ",
        "WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow.flow_id)
    .bind(status.as_str())
    .bind(version)
    .bind(definition.description().unwrap_or_default())
    .execute(conn)
    .await?;
    Ok(version)
}

async fn set_status(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
    status: FlowStatus,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE flows SET status = $4, modified_at = now() \
         WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .bind(status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use FlowStatus::{Draft, Inactive, Paused, Public, Running};

    fn flow(status: FlowStatus) -> FlowSummary {
        FlowSummary {
            flow_id: 1,
            name: "onboarding".into(),
            status,
            current_version: (status != Draft).then_some(1),
        }
    }

    fn refusal(status: FlowStatus, has_draft: bool, target: FlowStatus) -> String {
        let error = plan(&flow(status), has_draft, target).unwrap_err();
        assert_eq!(error.kind().status(), 409, "{error}");
        error.public_message()
    }

    #[test]
    fn publishing_needs_a_draft_and_keeps_a_pause_or_a_stop() {
        for (from, to) in [
            (Draft, Public),
            (Public, Public),
            (Running, Public),
            (Paused, Paused),
            (Inactive, Inactive),
        ] {
            assert_eq!(
                plan(&flow(from), true, Public).unwrap(),
                Planned::Publish { status: to },
                "{from:?}"
            );
        }
        assert!(refusal(Public, false, Public).contains("has no draft to publish"));
        assert!(refusal(Paused, false, Public).contains("use the status 'running'"));
    }

    #[test]
    fn pausing_resuming_and_stopping_follow_the_table() {
        let moved = |from, target| match plan(&flow(from), false, target).unwrap() {
            Planned::Move { status, transition } => (status, transition),
            other => panic!("{other:?}"),
        };
        assert_eq!(moved(Public, Paused), (Paused, Transition::Paused));
        assert_eq!(moved(Running, Paused), (Paused, Transition::Paused));
        assert_eq!(moved(Paused, Running), (Running, Transition::Resumed));
        assert_eq!(moved(Inactive, Running), (Running, Transition::Reactivated));
        for from in [Public, Running, Paused] {
            assert_eq!(moved(from, Inactive), (Inactive, Transition::Stopped));
        }
    }

    #[test]
    fn illegal_transitions_say_why() {
        assert!(refusal(Paused, false, Paused).ends_with("is already paused"));
        assert!(refusal(Inactive, false, Inactive).ends_with("is already inactive"));
        assert!(refusal(Public, false, Running).contains("is not paused"));
        assert!(refusal(Inactive, false, Paused).contains("is inactive"));
        for target in [Paused, Running, Inactive] {
            assert!(refusal(Draft, true, target).contains("has never been published"));
        }
    }

    #[test]
    fn requested_statuses_exclude_draft_and_name_the_field() {
        assert_eq!(requested_status("X-Status", " Paused ").unwrap(), Paused);
        let error = requested_status("X-Status", "draft").unwrap_err();
        assert!(error.public_message().starts_with("X-Status: 'draft'"));
        assert!(requested_status("status", "stopped").is_err());
    }
}
