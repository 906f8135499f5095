//! Deleting a flow (`DELETE /v1/flowdiagram`).

use flowline_core::{Error, Tenant};
use sqlx::{Connection, PgConnection};

use super::lookup::find_for_update;
use super::view::unknown_flow;

/// The flow that was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedFlow {
    pub flow_id: i64,
    pub name: String,
}

/// Deletes the flow named by `reference` (a name or an id), unless records of it are still
/// queued or running (409). Finished records survive with the version they ran on: the versions
/// that some record references are kept, the others go with the flow.
pub async fn delete(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
) -> Result<DeletedFlow, Error> {
    let mut tx = conn.begin().await?;
    // The exclusive lock waits for ingestions that hold the flow `FOR KEY SHARE`, and makes later
    // ones wait for this deletion, so no record can be queued into the flow once it is counted.
    let flow = find_for_update(&mut tx, tenant, reference)
        .await?
        .ok_or_else(|| unknown_flow(reference))?;
    let busy = busy_records(&mut tx, tenant, flow.flow_id).await?;
    if busy > 0 {
        return Err(Error::conflict(format!(
            "Flow diagram '{}' still has {busy} record(s) queued or running: delete it once \
             they have finished",
            flow.name
        )));
    }
    delete_unused_versions(&mut tx, tenant, flow.flow_id).await?;
    sqlx::query("DELETE FROM flows WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3")
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(flow.flow_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(DeletedFlow {
        flow_id: flow.flow_id,
        name: flow.name,
    })
}

/// Records of the flow that still have to run (in the queue) or are running.
async fn busy_records(conn: &mut PgConnection, tenant: Tenant, flow_id: i64) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT (SELECT count(*) FROM record_queue q ",
        "WHERE q.org_id = $1 AND q.environment_id = $2 AND q.flow_id = $3) + ",
        "(SELECT count(*) FROM records r ",
        "WHERE r.org_id = $1 AND r.environment_id = $2 AND r.status = 1 AND r.flow_id = $3 ",
        "AND NOT EXISTS (SELECT 1 FROM record_queue q ",
        "WHERE q.org_id = r.org_id AND q.record_id = r.record_id))"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_one(conn)
    .await?)
}

async fn delete_unused_versions(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<(), Error> {
    sqlx::query(concat!(
        "DELETE FROM flow_versions v ",
        "WHERE v.org_id = $1 AND v.environment_id = $2 AND v.flow_id = $3 ",
        "AND NOT EXISTS (SELECT 1 FROM records r WHERE r.org_id = v.org_id ",
        "AND r.environment_id = v.environment_id AND r.flow_id = v.flow_id ",
        "AND r.flow_version = v.version)"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .execute(conn)
    .await?;
    Ok(())
}
