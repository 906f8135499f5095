//! The organization's keys as authentication sees them: which organization a presented key
//! belongs to, and whether it is the organization API key or the applications' `X-Apikey`.

use flowline_core::{Error, OrgId};
use flowline_db::PgConnection;

/// What an unrevoked key opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The `X-Apikey` that applications present together with `X-App`.
    Applications,
    /// The organization API key of the environment endpoints.
    Organization,
}

/// The organization and kind of the unrevoked key with this digest.
pub async fn by_digest(
    conn: &mut PgConnection,
    key_digest: &[u8],
) -> Result<Option<(OrgId, KeyKind)>, Error> {
    let row: Option<(OrgId, String)> = sqlx::query_as(
        "SELECT org_id, kind FROM org_api_keys WHERE key_hash = $1 AND revoked_at IS NULL \
         ORDER BY kind = 'organization' DESC LIMIT 1",
    )
    .bind(key_digest)
    .fetch_optional(conn)
    .await?;
    row.map(|(org_id, kind)| match kind.as_str() {
        "organization" => Ok((org_id, KeyKind::Organization)),
        "api" => Ok((org_id, KeyKind::Applications)),
        other => Err(Error::internal(format!("unknown key kind {other}"))),
    })
    .transpose()
}
