//! An environment's public site: finding what a request path serves, through the URL mappings,
//! among the website files and hosted pages the environment holds. Only stored paths are ever
//! served, so no request path can reach outside the website its URL maps.

use crate::bundle::check_path_segment;
use crate::model::{ProjectId, SiteKind};
use chrono::{DateTime, Utc};
use flowline_core::{EnvironmentId, Error, OrgId};
use flowline_db::PgConnection;

/// What a request path of the site resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteAnswer {
    /// A file: its metadata (its content is read with [`content`] once it is needed).
    File(SiteFileInfo),
    /// The path names a directory (a mapped URL or a website's directory) without its trailing
    /// slash: the same path with one, relative to the site's root.
    AddSlash(String),
    NotFound,
}

/// A file as the site serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFileInfo {
    pub org_id: OrgId,
    pub content_type: String,
    /// SHA-256 of the content: the strong `ETag`.
    pub content_hash: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

impl SiteFileInfo {
    /// The `ETag`: the content's digest, quoted.
    pub fn etag(&self) -> String {
        let hex: String = self
            .content_hash
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("\"{hex}\"")
    }
}

/// The most segments a site path may have.
const MAX_SEGMENTS: usize = 64;

#[derive(sqlx::FromRow)]
struct Target {
    url: String,
    org_id: OrgId,
    project_id: ProjectId,
    kind: String,
    name: String,
}

/// Resolves `path` (percent-decoded, relative to the site's root, without its leading slash)
/// in the environment's site.
pub async fn resolve(
    conn: &mut PgConnection,
    environment_id: EnvironmentId,
    path: &str,
) -> Result<SiteAnswer, Error> {
    let trailing_slash = path.is_empty() || path.ends_with('/');
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    if segments.len() > MAX_SEGMENTS
        || segments
            .iter()
            .any(|segment| check_path_segment(segment).is_err())
    {
        return Ok(SiteAnswer::NotFound);
    }
    // Every prefix of the path is a URL that could be mapped; the longest mapped one wins.
    let candidates: Vec<String> = (0..=segments.len())
        .map(|count| {
            let mut url = String::from("/");
            for segment in &segments[..count] {
                url.push_str(segment);
                url.push('/');
            }
            url
        })
        .collect();
    let target: Option<Target> = sqlx::query_as(
        "SELECT url, org_id, project_id, kind, name FROM environment_urls \
         WHERE environment_id = $1 AND url = ANY($2::text[]) \
         ORDER BY length(url) DESC LIMIT 1",
    )
    .bind(environment_id)
    .bind(&candidates)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(target) = target else {
        return Ok(SiteAnswer::NotFound);
    };
    let mapped_segments = target.url.matches('/').count() - 1;
    let rest = &segments[mapped_segments..];
    if rest.is_empty() && !trailing_slash {
        return Ok(SiteAnswer::AddSlash(format!("{trimmed}/")));
    }
    let kind = SiteKind::from_stored(&target.kind)?;
    let file_path = match kind {
        SiteKind::HostedPage if rest.is_empty() => "index.html".to_owned(),
        SiteKind::HostedPage => return Ok(SiteAnswer::NotFound),
        SiteKind::Website if trailing_slash => {
            let mut path = rest.join("/");
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str("index.html");
            path
        }
        SiteKind::Website => rest.join("/"),
    };
    if let Some(file) = file_info(conn, environment_id, &target, &file_path).await? {
        return Ok(SiteAnswer::File(file));
    }
    // A website's directory named without its slash: its index, through a redirect so that
    // the page's relative links resolve.
    if kind == SiteKind::Website && !trailing_slash {
        let index = format!("{file_path}/index.html");
        if file_info(conn, environment_id, &target, &index)
            .await?
            .is_some()
        {
            return Ok(SiteAnswer::AddSlash(format!("{trimmed}/")));
        }
    }
    Ok(SiteAnswer::NotFound)
}

async fn file_info(
    conn: &mut PgConnection,
    environment_id: EnvironmentId,
    target: &Target,
    path: &str,
) -> Result<Option<SiteFileInfo>, Error> {
    let found: Option<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT content_type, content_hash, updated_at FROM environment_site_files \
         WHERE org_id = $1 AND environment_id = $2 AND project_id = $3 AND kind = $4 \
         AND name = $5 AND path = $6",
    )
    .bind(target.org_id)
    .bind(environment_id)
    .bind(target.project_id)
    .bind(&target.kind)
    .bind(&target.name)
    .bind(path)
    .fetch_optional(conn)
    .await?;
    Ok(
        found.map(|(content_type, content_hash, updated_at)| SiteFileInfo {
            org_id: target.org_id,
            content_type,
            content_hash,
            updated_at,
        }),
    )
}

/// A file's bytes.
pub async fn content(conn: &mut PgConnection, file: &SiteFileInfo) -> Result<Vec<u8>, Error> {
    sqlx::query_scalar("SELECT content FROM project_blobs WHERE org_id = $1 AND content_hash = $2")
        .bind(file.org_id)
        .bind(&file.content_hash)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::internal("a site file's content is missing"))
}
