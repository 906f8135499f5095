//! The URL mappings of an environment's public site: which relative URL serves which website or
//! hosted page of a project the environment holds.

use crate::environments::{exists, lock_environment, unknown_environment};
use crate::model::{ProjectId, SiteKind, positive_integer};
use chrono::{DateTime, Utc};
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sqlx::Connection;
use std::collections::HashSet;

/// The longest relative URL.
pub const MAX_URL_BYTES: usize = 512;
/// The most mappings one request may change.
pub const MAX_MAPPINGS_PER_REQUEST: usize = 1000;

/// A mapping as the reference shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlMapping {
    pub url: String,
    pub project_id: ProjectId,
    pub name: String,
    #[serde(rename = "type", serialize_with = "kind_name")]
    pub kind: SiteKind,
    #[serde(rename = "date_created", serialize_with = "api_date")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "date_updated", serialize_with = "api_date")]
    pub updated_at: DateTime<Utc>,
}

fn kind_name<S: Serializer>(kind: &SiteKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(kind.as_str())
}

fn api_date<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&flowline_core::time::api_date(*at))
}

/// A relative URL in its one canonical form: `/`, or `/a/b/` — segments of letters, digits,
/// `.`, `_`, `~` and `-` (never `.` or `..` alone), with a slash at both ends. `/shop` and
/// `/shop/` are the same URL.
pub fn canonical_url(text: &str, field: &str) -> Result<String, Error> {
    let refuse = |problem: &str| {
        Error::invalid_field(
            field,
            format!("'{}' is not a relative URL: {problem}", text.escape_debug()),
        )
    };
    if text.len() > MAX_URL_BYTES {
        return Err(refuse(&format!("it is longer than {MAX_URL_BYTES} bytes")));
    }
    let Some(inner) = text.strip_prefix('/') else {
        return Err(refuse("it must start with '/'"));
    };
    if inner.starts_with('/') {
        return Err(refuse("its segments are separated by single slashes"));
    }
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if inner.is_empty() {
        return Ok("/".to_owned());
    }
    let mut canonical = String::from("/");
    for segment in inner.split('/') {
        let plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
        if !plain {
            return Err(refuse(
                "its segments are letters, digits, '.', '_', '~' and '-' (not '.' or '..'), \
                 separated by single slashes",
            ));
        }
        canonical.push_str(segment);
        canonical.push('/');
    }
    Ok(canonical)
}

/// A mapping to add or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMapping {
    pub project_id: ProjectId,
    pub url: String,
    pub name: String,
    pub kind: SiteKind,
    /// Where it sits in the request (`body[1]`).
    pub field: String,
}

/// A mapping to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub project_id: ProjectId,
    pub url: String,
    pub kind: SiteKind,
    pub field: String,
}

/// One item of a body, with where it sits (`body[1]`).
type Item<'a> = (String, &'a Map<String, Value>);

/// The items of a body: an array, or one object (XML reads a lone item as an object).
fn items(body: &Value) -> Result<Vec<Item<'_>>, Error> {
    let list = match body {
        Value::Array(list) => list.as_slice(),
        Value::Object(_) => std::slice::from_ref(body),
        _ => {
            return Err(Error::invalid_field(
                "body",
                "expected an array of {project_id, url, name, type}",
            ));
        }
    };
    if list.is_empty() {
        return Err(Error::invalid_field("body", "name at least one URL"));
    }
    if list.len() > MAX_MAPPINGS_PER_REQUEST {
        return Err(Error::invalid_field(
            "body",
            format!("at most {MAX_MAPPINGS_PER_REQUEST} URLs per request"),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(index, item)| {
            let field = format!("body[{index}]");
            match item {
                Value::Object(object) => Ok((field, object)),
                _ => Err(Error::invalid_field(
                    &field,
                    "expected an object {project_id, url, name, type}",
                )),
            }
        })
        .collect()
}

fn refuse_unknown(object: &Map<String, Value>, field: &str, known: &[&str]) -> Result<(), Error> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(Error::invalid_field(
            &format!("{field}.{key}"),
            format!("is not a known field (expected {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn required_text<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a str, Error> {
    let field = format!("{field}.{key}");
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(Error::invalid_field(&field, "is required")),
        Some(_) => Err(Error::invalid_field(&field, "expected a string")),
    }
}

fn project_id(object: &Map<String, Value>, field: &str) -> Result<ProjectId, Error> {
    let field = format!("{field}.project_id");
    let id = match object.get("project_id") {
        None | Some(Value::Null) => return Err(Error::invalid_field(&field, "is required")),
        Some(Value::Number(number)) => number.as_i64().filter(|id| *id > 0),
        // XML carries only text.
        Some(Value::String(text)) => positive_integer(text.trim()),
        Some(_) => None,
    };
    id.map(ProjectId).ok_or_else(|| {
        Error::invalid_field(&field, "expected the id of a project (a positive integer)")
    })
}

/// The body of `POST …/urls`.
pub fn parse_mappings(body: &Value) -> Result<Vec<NewMapping>, Error> {
    let mut seen = HashSet::new();
    items(body)?
        .into_iter()
        .map(|(field, object)| {
            refuse_unknown(object, &field, &["project_id", "url", "name", "type"])?;
            let project_id = project_id(object, &field)?;
            let url_field = format!("{field}.url");
            let url = canonical_url(required_text(object, "url", &field)?, &url_field)?;
            if !seen.insert(url.clone()) {
                return Err(Error::invalid_field(
                    &url_field,
                    format!("'{url}' is mapped twice in this request"),
                ));
            }
            let name = required_text(object, "name", &field)?.to_owned();
            let kind = SiteKind::parse(
                required_text(object, "type", &field)?,
                &format!("{field}.type"),
            )?;
            Ok(NewMapping {
                project_id,
                url,
                name,
                kind,
                field,
            })
        })
        .collect()
}

/// The body of `DELETE …/urls`.
pub fn parse_removals(body: &Value) -> Result<Vec<Removal>, Error> {
    items(body)?
        .into_iter()
        .map(|(field, object)| {
            // `name` is accepted and ignored: clients send back what GET showed them.
            refuse_unknown(object, &field, &["project_id", "url", "type", "name"])?;
            Ok(Removal {
                project_id: project_id(object, &field)?,
                url: canonical_url(
                    required_text(object, "url", &field)?,
                    &format!("{field}.url"),
                )?,
                kind: SiteKind::parse(
                    required_text(object, "type", &field)?,
                    &format!("{field}.type"),
                )?,
                field,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct MappingRow {
    url: String,
    project_id: ProjectId,
    kind: String,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The environment's mappings, by URL; 404 when the organization has no such environment.
pub async fn list(conn: &mut PgConnection, tenant: Tenant) -> Result<Vec<UrlMapping>, Error> {
    if !exists(conn, tenant).await? {
        return Err(unknown_environment(tenant.environment_id));
    }
    read_all(conn, tenant).await
}

async fn read_all(conn: &mut PgConnection, tenant: Tenant) -> Result<Vec<UrlMapping>, Error> {
    let rows: Vec<MappingRow> = sqlx::query_as(
        "SELECT url, project_id, kind, name, created_at, updated_at FROM environment_urls \
         WHERE org_id = $1 AND environment_id = $2 ORDER BY url",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(UrlMapping {
                url: row.url,
                project_id: row.project_id,
                name: row.name,
                kind: SiteKind::from_stored(&row.kind)?,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

/// Adds or changes mappings, all or none; each must name a website or hosted page that the
/// environment holds from that project. Returns every mapping of the environment.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, environment.id = %tenant.environment_id))]
pub async fn put(
    conn: &mut PgConnection,
    tenant: Tenant,
    mappings: &[NewMapping],
) -> Result<Vec<UrlMapping>, Error> {
    let mut tx = conn.begin().await?;
    lock_environment(&mut tx, tenant.org_id, tenant.environment_id).await?;
    for mapping in mappings {
        check_target(&mut tx, tenant, mapping).await?;
        sqlx::query(
            "INSERT INTO environment_urls (org_id, environment_id, url, project_id, kind, name) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, environment_id, url) \
             DO UPDATE SET project_id = EXCLUDED.project_id, kind = EXCLUDED.kind, \
             name = EXCLUDED.name, updated_at = now()",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(&mapping.url)
        .bind(mapping.project_id)
        .bind(mapping.kind.as_str())
        .bind(&mapping.name)
        .execute(&mut *tx)
        .await?;
    }
    let all = read_all(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(all)
}

async fn check_target(
    conn: &mut PgConnection,
    tenant: Tenant,
    mapping: &NewMapping,
) -> Result<(), Error> {
    let (deployed, has_site): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM environment_projects WHERE org_id = $1 \
         AND environment_id = $2 AND project_id = $3), \
         EXISTS (SELECT 1 FROM environment_site_files WHERE org_id = $1 AND environment_id = $2 \
         AND project_id = $3 AND kind = $4 AND name = $5)",
    )
    .bind(tenant.org_id)
    .bind(tenant.environment_id)
    .bind(mapping.project_id)
    .bind(mapping.kind.as_str())
    .bind(&mapping.name)
    .fetch_one(conn)
    .await?;
    if !deployed {
        return Err(Error::invalid_field(
            &format!("{}.project_id", mapping.field),
            format!(
                "project {} is not in environment {}",
                mapping.project_id, tenant.environment_id
            ),
        ));
    }
    if !has_site {
        let what = match mapping.kind {
            SiteKind::Website => "website",
            SiteKind::HostedPage => "hosted page",
        };
        return Err(Error::invalid_field(
            &format!("{}.name", mapping.field),
            format!(
                "project {} has no {what} '{}' in environment {}",
                mapping.project_id,
                mapping.name.escape_debug(),
                tenant.environment_id
            ),
        ));
    }
    Ok(())
}

/// Removes mappings, all or none: each must exist and map content of that project and type
/// (404 otherwise). Returns the mappings left.
#[tracing::instrument(skip_all, fields(org.id = %tenant.org_id, environment.id = %tenant.environment_id))]
pub async fn remove(
    conn: &mut PgConnection,
    tenant: Tenant,
    removals: &[Removal],
) -> Result<Vec<UrlMapping>, Error> {
    let mut tx = conn.begin().await?;
    lock_environment(&mut tx, tenant.org_id, tenant.environment_id).await?;
    for removal in removals {
        let removed = sqlx::query(
            "DELETE FROM environment_urls WHERE org_id = $1 AND environment_id = $2 AND url = $3 \
             AND project_id = $4 AND kind = $5",
        )
        .bind(tenant.org_id)
        .bind(tenant.environment_id)
        .bind(&removal.url)
        .bind(removal.project_id)
        .bind(removal.kind.as_str())
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() == 0 {
            return Err(Error::not_found(format!(
                "{}: the URL '{}' does not map a {} of project {} in environment {}",
                removal.field,
                removal.url,
                removal.kind.as_str(),
                removal.project_id,
                tenant.environment_id
            )));
        }
    }
    let all = read_all(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(all)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_have_one_canonical_form() {
        assert_eq!(canonical_url("/", "url").unwrap(), "/");
        assert_eq!(canonical_url("/shop", "url").unwrap(), "/shop/");
        assert_eq!(canonical_url("/shop/", "url").unwrap(), "/shop/");
        assert_eq!(canonical_url("/a/b.c/~d", "url").unwrap(), "/a/b.c/~d/");
        for bad in [
            "", "shop", "//", "/a//b", "/../etc", "/a/./b", "/a b", "/a?x=1", "/a#b", "/é",
        ] {
            let error = canonical_url(bad, "body[0].url").unwrap_err();
            assert!(
                error.public_message().starts_with("body[0].url: "),
                "{bad}: {}",
                error.public_message()
            );
        }
    }

    #[test]
    fn mapping_bodies_name_the_field() {
        let ok = parse_mappings(&json!([
            {"project_id": 3, "url": "/", "name": "site", "type": "website"},
            {"project_id": "4", "url": "/landing", "name": "l", "type": "hostedpage"},
        ]))
        .unwrap();
        assert_eq!(ok[1].project_id, ProjectId(4));
        assert_eq!(ok[1].url, "/landing/");
        let cases = [
            (json!("x"), "body: expected an array"),
            (json!([]), "body: name at least one"),
            (json!([5]), "body[0]: expected an object"),
            (
                json!([{"url": "/", "name": "a", "type": "website"}]),
                "body[0].project_id: is required",
            ),
            (
                json!([{"project_id": 0, "url": "/", "name": "a", "type": "website"}]),
                "body[0].project_id: expected",
            ),
            (
                json!([{"project_id": 1, "url": "x", "name": "a", "type": "website"}]),
                "body[0].url: 'x' is not",
            ),
            (
                json!([{"project_id": 1, "url": "/", "name": "a", "type": "page"}]),
                "body[0].type: 'page' is not",
            ),
            (
                json!([{"project_id": 1, "url": "/", "type": "website"}]),
                "body[0].name: is required",
            ),
            (
                json!([{"project_id": 1, "url": "/", "name": "a", "type": "website", "x": 1}]),
                "body[0].x: is not a known field",
            ),
            (
                json!([{"project_id": 1, "url": "/a", "name": "a", "type": "website"},
                    {"project_id": 1, "url": "/a/", "name": "b", "type": "website"}]),
                "body[1].url: '/a/' is mapped twice",
            ),
        ];
        for (body, expected) in cases {
            let message = parse_mappings(&body).unwrap_err().public_message();
            assert!(message.starts_with(expected), "{body}: {message}");
        }
    }
}
