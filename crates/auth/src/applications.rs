//! Applications as authentication sees them, and the lookups that find one from credentials.

use crate::ip::{AllowList, parse_cidr};
use flowline_core::{AppId, EnvironmentId, Error, OrgId, Scopes};
use flowline_db::PgConnection;

/// An application: an API client of one organization, bound to one environment.
#[derive(Debug, Clone)]
pub struct Application {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
    pub app_id: AppId,
    pub app_key: String,
    pub scopes: Scopes,
    pub allowed_ips: AllowList,
    pub oauth2: bool,
    /// Requests per window; `None` means the server's default.
    pub rate_limit: Option<u32>,
    /// The environment's package: application requests per minute, all applications together.
    pub environment_requests_per_minute: u32,
    /// The environment uses more storage than it may (as last measured): writes are refused.
    pub environment_over_storage: bool,
}

#[derive(sqlx::FromRow)]
struct ApplicationRow {
    org_id: OrgId,
    environment_id: EnvironmentId,
    app_id: AppId,
    app_key: String,
    scopes: Vec<String>,
    allowed_ips: Vec<String>,
    oauth2: bool,
    rate_limit: Option<i32>,
    requests_per_minute: i32,
    over_storage: bool,
}

impl TryFrom<ApplicationRow> for Application {
    type Error = Error;

    fn try_from(row: ApplicationRow) -> Result<Application, Error> {
        let scopes = Scopes::parse_list(&row.scopes.join(",")).map_err(|error| {
            Error::internal(format!("stored scopes of app {}: {error}", row.app_id))
        })?;
        let allowed_ips = row
            .allowed_ips
            .iter()
            .map(|cidr| {
                parse_cidr(cidr).ok_or_else(|| {
                    Error::internal(format!("stored network of app {}: {cidr}", row.app_id))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Application {
            org_id: row.org_id,
            environment_id: row.environment_id,
            app_id: row.app_id,
            app_key: row.app_key,
            scopes,
            allowed_ips: AllowList::new(allowed_ips),
            oauth2: row.oauth2,
            rate_limit: row.rate_limit.and_then(|limit| u32::try_from(limit).ok()),
            environment_requests_per_minute: u32::try_from(row.requests_per_minute).unwrap_or(1),
            environment_over_storage: row.over_storage,
        })
    }
}

/// A static query that selects an application's columns (sqlx wants `&'static str` SQL), with
/// its environment's quotas. An environment being deleted authenticates no one.
macro_rules! select_application {
    ($($rest:expr),+) => {
        concat!(
            "SELECT a.org_id, a.environment_id, a.app_id, a.app_key, a.scopes, a.allowed_ips, \
             a.oauth2, a.rate_limit, e.requests_per_minute, e.over_storage",
            $($rest),+
        )
    };
}

/// Joins the application's environment (`e`), unless it is being deleted.
macro_rules! join_environment {
    () => {
        " JOIN environments e ON e.org_id = a.org_id AND e.environment_id = a.environment_id \
         AND e.status <> 'deleting'"
    };
}

/// The application `app_key` of the organization whose (unrevoked) API key has this digest.
pub async fn by_api_key(
    conn: &mut PgConnection,
    key_digest: &[u8],
    app_key: &str,
) -> Result<Option<Application>, Error> {
    let sql = select_application!(
        " FROM org_api_keys k JOIN applications a ON a.org_id = k.org_id AND a.app_key = $2",
        join_environment!(),
        " WHERE k.key_hash = $1 AND k.kind = 'api' AND k.revoked_at IS NULL"
    );
    let row: Option<ApplicationRow> = sqlx::query_as(sql)
        .bind(key_digest)
        .bind(app_key)
        .fetch_optional(conn)
        .await?;
    row.map(Application::try_from).transpose()
}

/// The application with this client id, and the digest of its client secret.
pub async fn by_client_id(
    conn: &mut PgConnection,
    client_id: &str,
) -> Result<Option<(Application, Vec<u8>)>, Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        application: ApplicationRow,
        client_secret_hash: Vec<u8>,
    }
    let sql = select_application!(
        ", a.client_secret_hash FROM applications a",
        join_environment!(),
        " WHERE a.client_id = $1"
    );
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(client_id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        Ok((
            Application::try_from(row.application)?,
            row.client_secret_hash,
        ))
    })
    .transpose()
}

pub async fn by_id(
    conn: &mut PgConnection,
    org_id: OrgId,
    app_id: AppId,
) -> Result<Option<Application>, Error> {
    let sql = select_application!(
        " FROM applications a",
        join_environment!(),
        " WHERE a.org_id = $1 AND a.app_id = $2"
    );
    let row: Option<ApplicationRow> = sqlx::query_as(sql)
        .bind(org_id)
        .bind(app_id)
        .fetch_optional(conn)
        .await?;
    row.map(Application::try_from).transpose()
}
