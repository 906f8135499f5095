//! Scopes: what an application is granted and what a request asks for.
//!
//! A scope names a resource and an access level: `schema` is full access to the data schema,
//! `schema.read` read-only access. Full access covers read access.

use std::fmt;
use std::str::FromStr;

/// A resource of the public API that scopes guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Schema,
    Record,
    FlowDiagram,
    Keystore,
    Tables,
    Webhook,
}

impl Resource {
    pub const ALL: [Resource; 6] = [
        Resource::Schema,
        Resource::Record,
        Resource::FlowDiagram,
        Resource::Keystore,
        Resource::Tables,
        Resource::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Schema => "schema",
            Resource::Record => "record",
            Resource::FlowDiagram => "flowdiagram",
            Resource::Keystore => "keystore",
            Resource::Tables => "tables",
            Resource::Webhook => "webhook",
        }
    }
}

/// How much of a resource a scope allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Read,
    Full,
}

/// One scope, e.g. `schema` or `record.read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub resource: Resource,
    pub access: Access,
}

impl Scope {
    pub const fn full(resource: Resource) -> Scope {
        Scope {
            resource,
            access: Access::Full,
        }
    }

    pub const fn read(resource: Resource) -> Scope {
        Scope {
            resource,
            access: Access::Read,
        }
    }

    /// Whether holding `self` allows what `required` asks for.
    pub fn covers(self, required: Scope) -> bool {
        self.resource == required.resource
            && (self.access == Access::Full || required.access == Access::Read)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.access {
            Access::Full => f.write_str(self.resource.as_str()),
            Access::Read => write!(f, "{}.read", self.resource.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope '{0}'")]
pub struct ScopeParseError(pub String);

impl FromStr for Scope {
    type Err = ScopeParseError;

    fn from_str(text: &str) -> Result<Scope, ScopeParseError> {
        // The reference's delete example asks for `record.delete`: deleting needs full access.
        let (name, access) = if let Some(name) = text.strip_suffix(".read") {
            (name, Access::Read)
        } else if let Some(name) = text.strip_suffix(".delete") {
            (name, Access::Full)
        } else {
            (text, Access::Full)
        };
        Resource::ALL
            .into_iter()
            .find(|resource| resource.as_str() == name)
            .map(|resource| Scope { resource, access })
            .ok_or_else(|| ScopeParseError(text.to_owned()))
    }
}

/// A set of scopes, kept sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut scopes: Vec<Scope>) -> Scopes {
        scopes.sort();
        scopes.dedup();
        Scopes(scopes)
    }

    /// Every scope there is, with full access.
    pub fn all() -> Scopes {
        Scopes::new(Resource::ALL.into_iter().map(Scope::full).collect())
    }

    /// Parses a list separated by commas and/or spaces, as `X-Scopes` and `--scopes` give it.
    pub fn parse_list(text: &str) -> Result<Scopes, ScopeParseError> {
        text.split([',', ' '])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes::new)
    }

    pub fn allows(&self, required: Scope) -> bool {
        self.0.iter().any(|held| held.covers(required))
    }

    /// The first requested scope that these grants do not cover.
    pub fn first_not_covering<'a>(&self, requested: &'a Scopes) -> Option<&'a Scope> {
        requested.iter().find(|scope| !self.allows(**scope))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Scope::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_access_covers_read_but_not_the_reverse() {
        let full = Scope::full(Resource::Schema);
        let read = Scope::read(Resource::Schema);
        assert!(full.covers(read));
        assert!(full.covers(full));
        assert!(!read.covers(full));
        assert!(!full.covers(Scope::read(Resource::Record)));
    }

    #[test]
    fn parses_lists_with_commas_and_spaces() {
        let scopes = Scopes::parse_list("schema.read, record flowdiagram").unwrap_or_default();
        assert_eq!(
            scopes.to_strings(),
            vec!["schema.read", "record", "flowdiagram"]
        );
    }

    #[test]
    fn rejects_unknown_scopes_by_name() {
        assert_eq!(
            Scopes::parse_list("schema,admin"),
            Err(ScopeParseError("admin".into()))
        );
    }
}
