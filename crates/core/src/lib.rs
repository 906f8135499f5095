//! Flowline's shared vocabulary: identifiers, the authenticated [`Principal`], scopes, the one
//! error type every service returns (with its Flowize status and internal codes), and the time
//! formats of the public API.
//!
//! This crate knows nothing of HTTP, SOAP or SQL statements; it must stay cheap to depend on.

mod error;
mod ids;
mod principal;
pub mod rules;
mod scope;
pub mod time;

pub use error::{Error, ErrorKind, Result};
pub use ids::{AppId, EnvironmentId, OrgId};
pub use principal::{OrgPrincipal, Principal, Tenant};
pub use scope::{Access, Resource, Scope, ScopeParseError, Scopes};
