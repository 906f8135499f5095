//! The authentication service: from what a request presents to a [`Principal`].

use crate::applications::{self, Application};
use crate::cache::TtlCache;
use crate::oauth::{self, RefreshedToken, TokenGrant};
use crate::org_keys::{self, KeyKind};
use crate::rate_limit::{RateDecision, RateKey, RateLimiter};
use crate::secrets::{digest, digests_match};
use crate::token::{TokenSigner, TokenSubject};
use chrono::Utc;
use flowline_core::{AppId, Error, OrgId, OrgPrincipal, Principal, Scopes};
use flowline_db::PgPool;
use std::net::IpAddr;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a resolved credential is reused without asking the database again.
    pub credential_cache_ttl: Duration,
    pub rate_limit_window: Duration,
    /// Requests per window of applications created without an explicit limit.
    pub default_app_rate_limit: u32,
    /// Requests per window and client address for requests that carry no valid credentials.
    pub anonymous_rate_limit: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            credential_cache_ttl: Duration::from_secs(10),
            rate_limit_window: Duration::from_secs(60),
            default_app_rate_limit: 6000,
            anonymous_rate_limit: 600,
        }
    }
}

/// What a request presented to prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Bearer <access token>`.
    Bearer(String),
    /// `X-Apikey` + `X-App`, or `api_key` + `app_key` in the URL.
    ApiKey { api_key: String, app_key: String },
    /// `client_id` + `client_secret` headers, as some reference examples send them.
    ClientSecret {
        client_id: String,
        client_secret: String,
    },
}

/// A request whose credentials were accepted.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// The application's requests per window.
    pub rate_limit: u32,
    /// All applications of the environment together, per window (its package's rate).
    pub environment_rate_limit: u32,
    /// The environment is over its storage: writes are refused.
    pub over_storage: bool,
}

pub struct AuthService {
    pool: PgPool,
    signer: TokenSigner,
    config: AuthConfig,
    by_api_key: TtlCache<(Vec<u8>, String), Application>,
    by_id: TtlCache<(OrgId, AppId), Application>,
    org_keys: TtlCache<Vec<u8>, (OrgId, KeyKind)>,
    limiter: RateLimiter,
}

const CACHE_CAPACITY: usize = 10_000;

impl AuthService {
    pub fn new(pool: PgPool, jwt_secret: &[u8], config: AuthConfig) -> AuthService {
        AuthService {
            signer: TokenSigner::new(jwt_secret, config.access_token_ttl),
            by_api_key: TtlCache::new(config.credential_cache_ttl, CACHE_CAPACITY),
            by_id: TtlCache::new(config.credential_cache_ttl, CACHE_CAPACITY),
            org_keys: TtlCache::new(config.credential_cache_ttl, CACHE_CAPACITY),
            limiter: RateLimiter::new(config.rate_limit_window),
            pool,
            config,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Resolves credentials to a principal: the application exists, may be used from `ip`, and
    /// holds every scope in `requested_scopes` (when given; otherwise all its grants apply).
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
        requested_scopes: Option<&str>,
        ip: IpAddr,
    ) -> Result<Authenticated, Error> {
        let (application, granted) = match credentials {
            Credentials::Bearer(token) => self.application_of_token(token).await?,
            Credentials::ApiKey { api_key, app_key } => {
                let application = self.application_of_api_key(api_key, app_key).await?;
                let granted = application.scopes.clone();
                (application, granted)
            }
            Credentials::ClientSecret {
                client_id,
                client_secret,
            } => {
                let application = self.application_of_client(client_id, client_secret).await?;
                let granted = application.scopes.clone();
                (application, granted)
            }
        };
        if !application.allowed_ips.allows(ip) {
            return Err(Error::ip_not_allowed());
        }
        let scopes = effective_scopes(&granted, requested_scopes)?;
        Ok(Authenticated {
            environment_rate_limit: self.per_window(application.environment_requests_per_minute),
            over_storage: application.environment_over_storage,
            rate_limit: application
                .rate_limit
                .unwrap_or(self.config.default_app_rate_limit),
            principal: Principal {
                org_id: application.org_id,
                environment_id: application.environment_id,
                app_id: application.app_id,
                app_key: application.app_key,
                scopes,
            },
        })
    }

    /// Resolves the organization API key of the environment endpoints. The applications'
    /// `X-Apikey` is a valid key that opens something else: 403, not 401.
    pub async fn authenticate_organization(&self, api_key: &str) -> Result<OrgPrincipal, Error> {
        let key_digest = digest(api_key);
        let found = match self.org_keys.get(&key_digest) {
            Some(found) => found,
            None => {
                let mut conn = self.pool.acquire().await?;
                let found = org_keys::by_digest(&mut conn, &key_digest)
                    .await?
                    .ok_or_else(|| Error::unauthorized("The credentials are not valid"))?;
                self.org_keys.insert(key_digest, found);
                found
            }
        };
        match found {
            (org_id, KeyKind::Organization) => Ok(OrgPrincipal { org_id }),
            (_, KeyKind::Applications) => Err(application_credentials_refused()),
        }
    }

    /// A per-minute rate as requests per rate-limit window (at least one).
    pub fn per_window(&self, per_minute: u32) -> u32 {
        let window_secs = self.config.rate_limit_window.as_secs_f64();
        ((f64::from(per_minute) * window_secs / 60.0).round() as u32).max(1)
    }

    /// Counts one request against the application's (or the anonymous address's) window.
    pub fn charge(&self, key: RateKey, limit: Option<u32>) -> RateDecision {
        let limit = limit.unwrap_or(self.config.anonymous_rate_limit);
        self.limiter.charge(key, limit)
    }

    /// `GET /v1/checkauthentication`: client credentials in, access and refresh tokens out.
    pub async fn check_authentication(
        &self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        grant_type: Option<&str>,
        ip: IpAddr,
    ) -> Result<TokenGrant, Error> {
        oauth::check_grant_type(grant_type)?;
        let application = self.oauth_client(client_id, client_secret, ip).await?;
        let access = self
            .signer
            .issue(&token_subject(&application, &application.scopes))?;
        let mut conn = self.pool.acquire().await?;
        let refresh_token = oauth::store_refresh_token(
            &mut conn,
            application.org_id,
            application.app_id,
            Uuid::new_v4(),
            self.refresh_expiry()?,
        )
        .await?;
        Ok(TokenGrant {
            access_token: access.token,
            refresh_token,
            expires_in: access.expires_at.timestamp(),
        })
    }

    /// `GET /v1/refreshtoken`: a live refresh token is exchanged, once, for a new access token
    /// and its successor refresh token.
    pub async fn refresh(
        &self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        refresh_token: Option<&str>,
        grant_type: Option<&str>,
        ip: IpAddr,
    ) -> Result<RefreshedToken, Error> {
        oauth::check_grant_type(grant_type)?;
        let refresh_token = required_header("refresh_token", refresh_token)?;
        let application = self.oauth_client(client_id, client_secret, ip).await?;
        let mut tx = self.pool.begin().await?;
        let family = oauth::consume_refresh_token(
            &mut tx,
            application.org_id,
            application.app_id,
            refresh_token,
        )
        .await;
        let family = match family {
            Ok(family) => family,
            Err(error) => {
                // The revocation of a reused token's family must stick even though we refuse.
                tx.commit().await?;
                return Err(error);
            }
        };
        let successor = oauth::store_refresh_token(
            &mut tx,
            application.org_id,
            application.app_id,
            family,
            self.refresh_expiry()?,
        )
        .await?;
        let access = self
            .signer
            .issue(&token_subject(&application, &application.scopes))?;
        tx.commit().await?;
        Ok(RefreshedToken {
            access_token: access.token,
            refresh_token: successor,
            expires_at: access.expires_at.timestamp(),
        })
    }

    /// Revokes a refresh token and every token issued from the same grant.
    pub async fn revoke(
        &self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        refresh_token: Option<&str>,
        ip: IpAddr,
    ) -> Result<(), Error> {
        let refresh_token = required_header("refresh_token", refresh_token)?;
        let application = self.oauth_client(client_id, client_secret, ip).await?;
        let mut conn = self.pool.acquire().await?;
        let found = oauth::revoke_family_of(
            &mut conn,
            application.org_id,
            application.app_id,
            &digest(refresh_token),
        )
        .await?;
        if found {
            Ok(())
        } else {
            Err(Error::new(
                flowline_core::ErrorKind::InvalidToken,
                "Refresh token not valid",
            ))
        }
    }

    fn refresh_expiry(&self) -> Result<chrono::DateTime<Utc>, Error> {
        chrono::Duration::from_std(self.config.refresh_token_ttl)
            .map(|ttl| Utc::now() + ttl)
            .map_err(|error| Error::internal(format!("refresh token ttl: {error}")))
    }

    /// The OAuth2-enabled application these client credentials belong to, usable from `ip`.
    async fn oauth_client(
        &self,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        ip: IpAddr,
    ) -> Result<Application, Error> {
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(Error::unauthorized(
                "Credentials are required: send the client_id and client_secret headers",
            ));
        };
        let application = self.application_of_client(client_id, client_secret).await?;
        if !application.oauth2 {
            return Err(Error::unauthorized(
                "OAuth 2.0 is not enabled for this application: use X-Apikey and X-App",
            ));
        }
        if !application.allowed_ips.allows(ip) {
            return Err(Error::ip_not_allowed());
        }
        Ok(application)
    }

    async fn application_of_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Application, Error> {
        let mut conn = self.pool.acquire().await?;
        match applications::by_client_id(&mut conn, client_id).await? {
            Some((application, secret_digest))
                if digests_match(&secret_digest, &digest(client_secret)) =>
            {
                Ok(application)
            }
            _ => Err(Error::unauthorized("The credentials are not valid")),
        }
    }

    async fn application_of_api_key(
        &self,
        api_key: &str,
        app_key: &str,
    ) -> Result<Application, Error> {
        let cache_key = (digest(api_key), app_key.to_owned());
        let application = match self.by_api_key.get(&cache_key) {
            Some(application) => application,
            None => {
                let mut conn = self.pool.acquire().await?;
                let found = applications::by_api_key(&mut conn, &cache_key.0, app_key).await?;
                let application =
                    found.ok_or_else(|| Error::unauthorized("The credentials are not valid"))?;
                self.by_api_key.insert(cache_key, application.clone());
                application
            }
        };
        if application.oauth2 {
            return Err(Error::unauthorized(
                "This application uses OAuth 2.0: authenticate with a bearer access token",
            ));
        }
        Ok(application)
    }

    /// The application a valid access token was issued to, with the scopes the token carries
    /// that the application still holds.
    async fn application_of_token(&self, token: &str) -> Result<(Application, Scopes), Error> {
        let claims = self.signer.verify(token)?;
        let key = (claims.org, claims.app);
        let application = match self.by_id.get(&key) {
            Some(application) => application,
            None => {
                let mut conn = self.pool.acquire().await?;
                let found = applications::by_id(&mut conn, claims.org, claims.app).await?;
                let application = found.ok_or_else(Error::invalid_token)?;
                self.by_id.insert(key, application.clone());
                application
            }
        };
        if !application.oauth2 || application.environment_id != claims.env {
            return Err(Error::invalid_token());
        }
        let token_scopes =
            Scopes::parse_list(&claims.scopes.join(",")).map_err(|_| Error::invalid_token())?;
        let still_granted = token_scopes
            .iter()
            .copied()
            .filter(|scope| application.scopes.allows(*scope))
            .collect();
        Ok((application, Scopes::new(still_granted)))
    }
}

/// The answer to application credentials on the organization endpoints.
pub fn application_credentials_refused() -> Error {
    Error::forbidden(
        "Application credentials cannot call the organization endpoints: \
         send the organization API key in X-Apikey",
    )
}

fn token_subject<'a>(application: &'a Application, scopes: &'a Scopes) -> TokenSubject<'a> {
    TokenSubject {
        org_id: application.org_id,
        environment_id: application.environment_id,
        app_id: application.app_id,
        app_key: &application.app_key,
        scopes,
    }
}

fn required_header<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, Error> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::invalid_field(name, "header is required"))
}

/// The scopes a request may use: those it asks for, each of which must be granted, or every
/// grant when it asks for none.
fn effective_scopes(granted: &Scopes, requested: Option<&str>) -> Result<Scopes, Error> {
    let Some(requested) = requested.filter(|text| !text.trim().is_empty()) else {
        return Ok(granted.clone());
    };
    let requested = Scopes::parse_list(requested)
        .map_err(|error| Error::forbidden(format!("Scope not allowed: {error}")))?;
    match granted.first_not_covering(&requested) {
        Some(scope) => Err(Error::forbidden(format!(
            "Scope '{scope}' is not granted to this application"
        ))),
        None => Ok(requested),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requested_scopes_must_be_granted_and_narrow_the_request() {
        let granted = Scopes::parse_list("schema,record.read").unwrap();
        assert_eq!(effective_scopes(&granted, None).unwrap(), granted);
        let narrowed = effective_scopes(&granted, Some("schema.read")).unwrap();
        assert_eq!(narrowed.to_strings(), vec!["schema.read"]);
        let refused = effective_scopes(&granted, Some("record")).unwrap_err();
        assert_eq!(refused.kind().status(), 403);
        assert!(effective_scopes(&granted, Some("nonsense")).is_err());
    }
}
