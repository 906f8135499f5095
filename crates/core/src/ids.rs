//! Newtype identifiers, so that an organization id can never be passed where an environment id
//! is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An organization: the tenant.
    OrgId
);
id_type!(
    /// An isolated runtime inside an organization (`production`, `staging`, …).
    EnvironmentId
);
id_type!(
    /// An API client of an organization, bound to one environment.
    AppId
);
