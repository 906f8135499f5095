//! What operators do: create organizations (with their default environment and keys), list
//! them, and create applications. Secrets are returned once, here, and stored as digests.

use crate::ip::AllowList;
use crate::secrets::{digest, new_public_id, new_secret};
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error, OrgId, Scopes};
use flowline_db::PgConnection;
use serde::Serialize;
use sqlx::Connection;

pub const DEFAULT_ENVIRONMENT_NAME: &str = "production";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CreatedOrganization {
    pub org_id: OrgId,
    pub name: String,
    /// The key clients send as `X-Apikey` together with `X-App`.
    pub api_key: String,
    /// The key of the organization API (environments).
    pub organization_api_key: String,
    pub environment_id: EnvironmentId,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrganizationSummary {
    pub org_id: OrgId,
    pub name: String,
    pub environment_id: EnvironmentId,
    #[serde(serialize_with = "serialize_api_date")]
    pub created_at: DateTime<Utc>,
}

fn serialize_api_date<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

#[derive(Debug, Clone, Default)]
pub struct NewApplication {
    pub name: String,
    pub environment_id: Option<EnvironmentId>,
    /// Granted scopes; empty means every scope.
    pub scopes: Scopes,
    pub allowed_ips: AllowList,
    pub oauth2: bool,
    pub rate_limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CreatedApplication {
    pub app_key: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub environment_id: EnvironmentId,
}

pub async fn create_organization(
    conn: &mut PgConnection,
    name: &str,
) -> Result<CreatedOrganization, Error> {
    let name = parse_organization_name(name)?;
    let mut tx = conn.begin().await?;
    let org_id: OrgId =
        sqlx::query_scalar("INSERT INTO organizations (name) VALUES ($1) RETURNING org_id")
            .bind(&name)
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| {
                let error = Error::from(error);
                if error.is_unique_violation("organizations_name_key") {
                    Error::conflict(format!("An organization named '{name}' already exists"))
                } else {
                    error
                }
            })?;
    let environment_id: EnvironmentId = sqlx::query_scalar(
        "INSERT INTO environments (org_id, name, is_default) VALUES ($1, $2, true) \
         RETURNING environment_id",
    )
    .bind(org_id)
    .bind(DEFAULT_ENVIRONMENT_NAME)
    .fetch_one(&mut *tx)
    .await?;
    let api_key = new_secret();
    let organization_api_key = new_secret();
    sqlx::query(
        "INSERT INTO org_api_keys (org_id, kind, key_hash) VALUES ($1, 'api', $2), ($1, 'organization', $3)",
    )
    .bind(org_id)
    .bind(digest(&api_key))
    .bind(digest(&organization_api_key))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CreatedOrganization {
        org_id,
        name,
        api_key,
        organization_api_key,
        environment_id,
    })
}

fn parse_organization_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "name",
            "must be 1 to 128 printable characters",
        ));
    }
    Ok(name.to_owned())
}

pub async fn list_organizations(
    conn: &mut PgConnection,
) -> Result<Vec<OrganizationSummary>, Error> {
    let rows: Vec<(OrgId, String, EnvironmentId, DateTime<Utc>)> = sqlx::query_as(
        "SELECT o.org_id, o.name, e.environment_id, o.created_at FROM organizations o \
         JOIN environments e ON e.org_id = o.org_id AND e.is_default ORDER BY o.org_id",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(org_id, name, environment_id, created_at)| OrganizationSummary {
                org_id,
                name,
                environment_id,
                created_at,
            },
        )
        .collect())
}

/// An organization by its numeric id or its name (case-insensitive).
pub async fn find_organization(conn: &mut PgConnection, name_or_id: &str) -> Result<OrgId, Error> {
    let found: Option<OrgId> = match name_or_id.parse::<i64>() {
        Ok(id) => {
            sqlx::query_scalar("SELECT org_id FROM organizations WHERE org_id = $1")
                .bind(id)
                .fetch_optional(conn)
                .await?
        }
        Err(_) => {
            sqlx::query_scalar("SELECT org_id FROM organizations WHERE lower(name) = lower($1)")
                .bind(name_or_id)
                .fetch_optional(conn)
                .await?
        }
    };
    found.ok_or_else(|| Error::not_found(format!("No organization '{name_or_id}'")))
}

pub async fn create_application(
    conn: &mut PgConnection,
    org_id: OrgId,
    app: NewApplication,
) -> Result<CreatedApplication, Error> {
    let app_key = parse_app_key(&app.name)?;
    let scopes = if app.scopes.is_empty() {
        Scopes::all()
    } else {
        app.scopes
    };
    let rate_limit = app
        .rate_limit
        .map(|limit| i32::try_from(limit).ok().filter(|limit| *limit > 0))
        .map(|limit| {
            limit.ok_or_else(|| {
                Error::invalid_field("rate_limit", "must be between 1 and 2147483647")
            })
        })
        .transpose()?;
    let environment_id = resolve_environment(conn, org_id, app.environment_id).await?;
    let client_id = new_public_id();
    let client_secret = new_secret();
    sqlx::query(
        "INSERT INTO applications (org_id, environment_id, app_key, scopes, allowed_ips, oauth2, \
         rate_limit, client_id, client_secret_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(org_id)
    .bind(environment_id)
    .bind(&app_key)
    .bind(scopes.to_strings())
    .bind(app.allowed_ips.to_strings())
    .bind(app.oauth2)
    .bind(rate_limit)
    .bind(&client_id)
    .bind(digest(&client_secret))
    .execute(conn)
    .await
    .map_err(|error| {
        let error = Error::from(error);
        if error.is_unique_violation("applications_app_key_key") {
            Error::conflict(format!("An application named '{app_key}' already exists"))
        } else {
            error
        }
    })?;
    Ok(CreatedApplication {
        app_key,
        client_id,
        client_secret,
        scopes: scopes.to_strings(),
        environment_id,
    })
}

/// The app key is the application's name as clients send it in `X-App`.
fn parse_app_key(name: &str) -> Result<String, Error> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid_field(
            "name",
            "must be 1 to 128 characters of letters, digits, '_', '-' and '.'",
        ))
    }
}

async fn resolve_environment(
    conn: &mut PgConnection,
    org_id: OrgId,
    requested: Option<EnvironmentId>,
) -> Result<EnvironmentId, Error> {
    let found: Option<EnvironmentId> =
        match requested {
            Some(environment_id) => sqlx::query_scalar(
                "SELECT environment_id FROM environments WHERE org_id = $1 AND environment_id = $2",
            )
            .bind(org_id)
            .bind(environment_id)
            .fetch_optional(conn)
            .await?,
            None => {
                sqlx::query_scalar(
                    "SELECT environment_id FROM environments WHERE org_id = $1 AND is_default",
                )
                .bind(org_id)
                .fetch_optional(conn)
                .await?
            }
        };
    found.ok_or_else(|| match requested {
        Some(id) => Error::not_found(format!("No environment {id} in this organization")),
        None => Error::internal(format!("organization {org_id} has no default environment")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_keys_are_interface_names() {
        assert!(parse_app_key("crm-sync_2.0").is_ok());
        assert!(parse_app_key("").is_err());
        assert!(parse_app_key("bad name").is_err());
        assert!(parse_app_key("x'; DROP TABLE applications; --").is_err());
    }

    #[test]
    fn organization_names_are_trimmed_and_bounded() {
        assert_eq!(
            parse_organization_name("  Acme  ").ok(),
            Some("Acme".to_owned())
        );
        assert!(parse_organization_name("   ").is_err());
        assert!(parse_organization_name(&"x".repeat(129)).is_err());
    }
}
