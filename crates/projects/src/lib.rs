//! The projects service: versioned bundles of flows, keystores (definitions and entries),
//! tables (definitions and rows), websites and hosted pages that an organization keeps
//! ([`bundle`], [`store`]), deployed into its environments in one transaction each ([`deploy`])
//! with the reference's actions (`insert`, `insert or update`, `delete and insert`), and the
//! URL mappings ([`urls`]) through which an environment's public site ([`site`]) serves them.
//!
//! A version is immutable: a deploy copies its flows, keystores and tables into the
//! environment's own runtime data through the flows, keystores and tables services (whose
//! functions run in the deploy's transaction as savepoints), and its files by reference to
//! content stored once per organization. This crate never touches another environment's or
//! organization's rows: every function takes the organization (and environment) it acts for.
//! It knows nothing of HTTP and never logs file contents or data.

pub mod bundle;
pub mod deploy;
pub mod environments;
mod model;
pub mod request;
pub mod site;
pub mod store;
pub mod urls;

pub use bundle::{Bundle, XmlReader, read_project_dir};
pub use deploy::{DeployTarget, Deployed, deploy};
pub use environments::{HostedProject, hosted_project_ids, hosted_projects, remove_project};
pub use model::{Action, ProjectId, SiteKind, check_slug, positive_integer};
pub use request::{Choice, Chosen, DeployRequest};
pub use site::{SiteAnswer, SiteFileInfo};
pub use store::{CreatedVersion, create_version};
pub use urls::{NewMapping, Removal, UrlMapping, canonical_url};
