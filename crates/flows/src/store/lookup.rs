//! Finding a flow by the reference a client sends (`X-Flow`: a name or a numeric id).

use flowline_core::{Error, Tenant};
use sqlx::PgConnection;

/// A flow's lifecycle (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStatus {
    /// Never published.
    Draft,
    /// Published and running.
    Public,
    /// Resumed after a pause.
    Running,
    /// Accepts records but runs none.
    Paused,
    /// Accepts no records.
    Inactive,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Draft => "draft",
            FlowStatus::Public => "public",
            FlowStatus::Running => "running",
            FlowStatus::Paused => "paused",
            FlowStatus::Inactive => "inactive",
        }
    }

    pub fn parse(text: &str) -> Option<FlowStatus> {
        Some(match text {
            "draft" => FlowStatus::Draft,
            "public" => FlowStatus::Public,
            "running" => FlowStatus::Running,
            "paused" => FlowStatus::Paused,
            "inactive" => FlowStatus::Inactive,
            _ => return None,
        })
    }

    /// Whether new records may be queued into a flow in this status, and why not.
    pub fn refusal_of_records(self, name: &str) -> Option<String> {
        match self {
            FlowStatus::Draft => Some(format!(
                "Flow diagram '{name}' has never been published: publish it with \
                 PUT /v1/changeflowstatus (X-Status: public) before sending records"
            )),
            FlowStatus::Inactive => Some(format!(
                "Flow diagram '{name}' is inactive and accepts no records"
            )),
            FlowStatus::Public | FlowStatus::Running | FlowStatus::Paused => None,
        }
    }
}

/// What the record service needs to know of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSummary {
    pub flow_id: i64,
    pub name: String,
    pub status: FlowStatus,
    /// The published version new records start on; `None` while the flow is a draft.
    pub current_version: Option<i32>,
}

impl FlowSummary {
    /// The version a new record starts on, or the 409 that explains why it cannot be queued.
    pub fn version_for_new_records(&self) -> Result<i32, Error> {
        if let Some(refusal) = self.status.refusal_of_records(&self.name) {
            return Err(Error::conflict(refusal));
        }
        self.current_version.ok_or_else(|| {
            Error::internal(format!(
                "flow {} is published without a version",
                self.flow_id
            ))
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    flow_id: i64,
    name: String,
    status: String,
    current_version: Option<i32>,
}

impl TryFrom<SummaryRow> for FlowSummary {
    type Error = Error;

    fn try_from(row: SummaryRow) -> Result<FlowSummary, Error> {
        let status = FlowStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("unknown flow status '{}'", row.status)))?;
        Ok(FlowSummary {
            flow_id: row.flow_id,
            name: row.name,
            status,
            current_version: row.current_version,
        })
    }
}

/// The flow a client names: by name first, then, when the reference is a number, by id.
/// `FOR KEY SHARE` when `lock` is set, so that the flow cannot be deleted or deactivated before the
/// caller's transaction commits the records it queues into it.
pub async fn find(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
    lock: bool,
) -> Result<Option<FlowSummary>, Error> {
    let id: Option<i64> = reference.parse().ok();
    let query = if lock {
        concat!(
            "SELECT flow_id, name, status, current_version FROM flows ",
            "WHERE org_id = $1 AND environment_id = $2 AND (name = $3 OR flow_id = $4) ",
            "ORDER BY name = $3 DESC LIMIT 1 FOR KEY SHARE"
        )
    } else {
        concat!(
            "SELECT flow_id, name, status, current_version FROM flows ",
            "WHERE org_id = $1 AND environment_id = $2 AND (name = $3 OR flow_id = $4) ",
            "ORDER BY name = $3 DESC LIMIT 1"
        )
    };
    let row: Option<SummaryRow> = sqlx::query_as(query)
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(reference)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(FlowSummary::try_from).transpose()
}

/// The flow with this id, if the tenant owns it.
pub async fn find_by_id(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<Option<FlowSummary>, Error> {
    let row: Option<SummaryRow> = sqlx::query_as(
        "SELECT flow_id, name, status, current_version FROM flows \
         WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_optional(conn)
    .await?;
    row.map(FlowSummary::try_from).transpose()
}

/// The flow a client names (as [`find`] reads it), locked `FOR UPDATE` until the caller's
/// transaction ends: for changes that must not interleave with records being queued into it,
/// since ingestion holds the row `FOR KEY SHARE` while it queues them.
pub async fn find_for_update(
    conn: &mut PgConnection,
    tenant: Tenant,
    reference: &str,
) -> Result<Option<FlowSummary>, Error> {
    let row: Option<SummaryRow> = sqlx::query_as(concat!(
        "SELECT flow_id, name, status, current_version FROM flows ",
        "WHERE org_id = $1 AND environment_id = $2 AND (name = $3 OR flow_id = $4) ",
        "ORDER BY name = $3 DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(reference)
    .bind(reference.parse::<i64>().ok())
    .fetch_optional(conn)
    .await?;
    row.map(FlowSummary::try_from).transpose()
}

/// The flow with this id, locked `FOR UPDATE` (see [`find_for_update`]).
pub async fn find_by_id_for_update(
    conn: &mut PgConnection,
    tenant: Tenant,
    flow_id: i64,
) -> Result<Option<FlowSummary>, Error> {
    let row: Option<SummaryRow> = sqlx::query_as(
        "SELECT flow_id, name, status, current_version FROM flows \
         WHERE org_id = $1 AND environment_id = $2 AND flow_id = $3 FOR UPDATE",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(flow_id)
    .fetch_optional(conn)
    .await?;
    row.map(FlowSummary::try_from).transpose()
}
