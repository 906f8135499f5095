//! Tenants and their credentials: organizations, environments, applications, API keys, OAuth2
//! client credentials with JWT access tokens and single-use refresh tokens, scopes, IP
//! allow-lists and rate limits.
//!
//! It turns what a request presents into a [`flowline_core::Principal`], or refuses. It never
//! stores a secret in clear and never logs one.

mod admin;
mod applications;
mod cache;
mod ip;
mod oauth;
mod org_keys;
mod rate_limit;
mod secrets;
mod service;
mod token;

pub use admin::{
    CreatedApplication, CreatedOrganization, NewApplication, OrganizationSummary,
    create_application, create_organization, find_organization, list_organizations,
};
pub use applications::Application;
pub use ip::{AllowList, parse_cidr};
pub use oauth::{RefreshedToken, TokenGrant};
pub use rate_limit::{RateDecision, RateKey, RateLimiter};
pub use service::{
    AuthConfig, AuthService, Authenticated, Credentials, application_credentials_refused,
};
pub use token::TokenSigner;
