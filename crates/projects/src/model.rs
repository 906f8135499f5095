//! The vocabulary of projects: their ids, the names of their websites and hosted pages, the
//! kinds of content a URL can map, and the three actions a deploy applies to data.

use flowline_core::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A project of an organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct ProjectId(pub i64);

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ProjectId {
    /// A project id from a path segment: digits of a positive 64-bit integer.
    pub fn parse(text: &str) -> Option<ProjectId> {
        positive_integer(text).map(ProjectId)
    }
}

/// Digits of a positive 64-bit integer, and nothing else.
pub fn positive_integer(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|id| *id > 0)
}

/// The longest website slug or hosted-page name.
pub const MAX_SLUG_CHARS: usize = 64;

/// A website's slug or a hosted page's name: 1 to 64 ASCII letters, digits, `_`, `.` and `-`,
/// starting with a letter or a digit (a directory name under `websites/`).
pub fn check_slug(text: &str, field: &str) -> Result<(), Error> {
    let bytes = text.as_bytes();
    let well_formed = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.len() <= MAX_SLUG_CHARS
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if well_formed {
        Ok(())
    } else {
        Err(Error::invalid_field(
            field,
            format!(
                "'{}' is not a valid name: expected 1 to {MAX_SLUG_CHARS} letters, digits, '_', \
                 '.' or '-', starting with a letter or a digit",
                text.escape_debug()
            ),
        ))
    }
}

/// What a URL of an environment's site serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteKind {
    /// A static website of a project (`websites/<slug>/…`).
    Website,
    /// One page of a project (`hostedpages/<name>.html`).
    HostedPage,
}

impl SiteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::Website => "website",
            SiteKind::HostedPage => "hostedpage",
        }
    }

    pub fn parse(text: &str, field: &str) -> Result<SiteKind, Error> {
        match text {
            "website" => Ok(SiteKind::Website),
            "hostedpage" => Ok(SiteKind::HostedPage),
            _ => Err(Error::invalid_field(
                field,
                format!(
                    "'{}' is not a type of content: expected website or hostedpage",
                    text.escape_debug()
                ),
            )),
        }
    }

    pub(crate) fn from_stored(text: &str) -> Result<SiteKind, Error> {
        SiteKind::parse(text, "kind")
            .map_err(|_| Error::internal(format!("unknown site kind '{text}' in the database")))
    }
}

/// What a deploy does with a keystore's, a table's or a website's data (the reference's
/// "action").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Adds what the environment lacks; changes and deletes nothing.
    Insert,
    /// Adds what the environment lacks and overwrites what it has; deletes nothing.
    InsertOrUpdate,
    /// Deletes what the environment has, then adds the project's.
    DeleteAndInsert,
}

impl Action {
    pub fn parse(text: &str, field: &str) -> Result<Action, Error> {
        match text.trim().to_ascii_lowercase().as_str() {
            "insert" => Ok(Action::Insert),
            "insert or update" => Ok(Action::InsertOrUpdate),
            "delete and insert" => Ok(Action::DeleteAndInsert),
            _ => Err(Error::invalid_field(
                field,
                format!(
                    "'{}' is not an action: expected 'insert', 'insert or update' or 'delete \
                     and insert'",
                    text.escape_debug()
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Insert => "insert",
            Action::InsertOrUpdate => "insert or update",
            Action::DeleteAndInsert => "delete and insert",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_the_three_of_the_reference() {
        assert_eq!(Action::parse("insert", "a").unwrap(), Action::Insert);
        assert_eq!(
            Action::parse("Insert or Update", "a").unwrap(),
            Action::InsertOrUpdate
        );
        assert_eq!(
            Action::parse("delete and insert", "a").unwrap(),
            Action::DeleteAndInsert
        );
        let error = Action::parse("upsert", "tables[0].action").unwrap_err();
        assert!(
            error
                .public_message()
                .starts_with("tables[0].action: 'upsert' is not an action")
        );
    }

    #[test]
    fn slugs_are_plain_names() {
        for good in ["shop", "my_site-2.0", "A"] {
            assert!(check_slug(good, "slug").is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(check_slug(bad, "slug").is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(ProjectId::parse("12"), Some(ProjectId(12)));
        for bad in ["0", "-1", "1.0", "", "x", "99999999999999999999"] {
            assert_eq!(ProjectId::parse(bad), None, "{bad}");
        }
    }
}
