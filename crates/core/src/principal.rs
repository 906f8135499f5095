use crate::{AppId, EnvironmentId, OrgId, Scopes};

/// Who is calling: the one organization, environment and application a request's credentials
/// resolve to, and the scopes it may use. Every service function that touches tenant data takes
/// one, and filters by its `org_id` and `environment_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
    pub app_id: AppId,
    /// The application's `app_key` (Flowize's "interface name").
    pub app_key: String,
    /// The scopes this request may use: the requested ones, already checked against the grants.
    pub scopes: Scopes,
}

/// The organization and environment that own a piece of runtime data. Webhooks and the
/// scheduler act for a tenant without a request's [`Principal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
}

/// A caller of the organization endpoints (`/v1/environment…`): whoever presents the
/// organization API key acts for the whole organization, across its environments, and for no
/// other. It never carries an application, so it can never reach an application's data routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgPrincipal {
    pub org_id: OrgId,
}

impl Principal {
    pub fn tenant(&self) -> Tenant {
        Tenant {
            org_id: self.org_id,
            environment_id: self.environment_id,
        }
    }
}
