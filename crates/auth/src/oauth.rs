//! OAuth2 client credentials: the grants `checkauthentication` and `refreshtoken` hand out, and
//! the single-use refresh tokens behind them.

use crate::secrets::{digest, new_secret};
use chrono::{DateTime, Utc};
use flowline_core::{AppId, Error, OrgId};
use flowline_db::PgConnection;
use uuid::Uuid;

/// The body of a successful `checkauthentication`.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix time at which the access token expires.
    pub expires_in: i64,
}

/// The body of a successful `refreshtoken`: a new access token and the refresh token that
/// replaces the one just used.
#[derive(Debug, Clone)]
pub struct RefreshedToken {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

/// Checks the grant type the reference requires on both token calls.
pub fn check_grant_type(grant_type: Option<&str>) -> Result<(), Error> {
    match grant_type {
        None | Some("") => Err(Error::invalid_field(
            "grant_type",
            "is required and must be client_credentials",
        )),
        Some("client_credentials") => Ok(()),
        Some(other) => Err(Error::invalid_field(
            "grant_type",
            format!("'{other}' is not supported; Flowline only allows client_credentials"),
        )),
    }
}

/// Stores a new refresh token of `family` and returns it in clear, the only time it is seen.
pub async fn store_refresh_token(
    conn: &mut PgConnection,
    org_id: OrgId,
    app_id: AppId,
    family: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<String, Error> {
    let token = new_secret();
    sqlx::query(
        "INSERT INTO oauth_refresh_tokens (org_id, app_id, family, token_hash, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(family)
    .bind(digest(&token))
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(token)
}

/// Marks a live refresh token of this application used and returns its family. A token that
/// was already used is evidence of theft: its whole family is revoked.
pub async fn consume_refresh_token(
    conn: &mut PgConnection,
    org_id: OrgId,
    app_id: AppId,
    token: &str,
) -> Result<Uuid, Error> {
    let token_digest = digest(token);
    let consumed: Option<Uuid> = sqlx::query_scalar(
        "UPDATE oauth_refresh_tokens SET used_at = now() \
         WHERE org_id = $1 AND app_id = $2 AND token_hash = $3 \
           AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now() \
         RETURNING family",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(&token_digest)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(family) = consumed {
        return Ok(family);
    }
    revoke_family_of(conn, org_id, app_id, &token_digest).await?;
    Err(Error::new(
        flowline_core::ErrorKind::InvalidToken,
        "Refresh token not valid",
    ))
}

/// Revokes every token of the family that the token with this digest belongs to. Returns
/// whether such a token exists.
pub async fn revoke_family_of(
    conn: &mut PgConnection,
    org_id: OrgId,
    app_id: AppId,
    token_digest: &[u8],
) -> Result<bool, Error> {
    let revoked = sqlx::query(
        "UPDATE oauth_refresh_tokens SET revoked_at = coalesce(revoked_at, now()) \
         WHERE org_id = $1 AND family IN ( \
           SELECT family FROM oauth_refresh_tokens \
           WHERE org_id = $1 AND app_id = $2 AND token_hash = $3)",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(token_digest)
    .execute(conn)
    .await?;
    Ok(revoked.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_client_credentials_is_a_grant_type() {
        assert!(check_grant_type(Some("client_credentials")).is_ok());
        let missing = check_grant_type(None).err().map(|e| e.public_message());
        assert!(missing.is_some_and(|m| m.starts_with("grant_type")));
        assert!(check_grant_type(Some("password")).is_err());
    }
}
