//! Signed access tokens: HS256 JWTs that carry the organization, environment, application,
//! scopes and expiry, so that a bearer request is authenticated without a database lookup of the
//! token itself.

use chrono::{DateTime, Utc};
use flowline_core::{AppId, EnvironmentId, Error, OrgId, Scopes};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const ISSUER: &str = "flowline";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The application id.
    pub sub: String,
    pub org: OrgId,
    pub env: EnvironmentId,
    pub app: AppId,
    pub app_key: String,
    pub scopes: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// An access token and when it expires.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub struct TokenSubject<'a> {
    pub org_id: OrgId,
    pub environment_id: EnvironmentId,
    pub app_id: AppId,
    pub app_key: &'a str,
    pub scopes: &'a Scopes,
}

impl TokenSigner {
    pub fn new(secret: &[u8], ttl: Duration) -> TokenSigner {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, subject: &TokenSubject<'_>) -> Result<IssuedToken, Error> {
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.ttl)
            .map_err(|error| Error::internal(format!("token ttl: {error}")))?;
        let expires_at = now + ttl;
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            sub: subject.app_id.to_string(),
            org: subject.org_id,
            env: subject.environment_id,
            app: subject.app_id,
            app_key: subject.app_key.to_owned(),
            scopes: subject.scopes.to_strings(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| Error::internal(format!("signing a token: {error}")))?;
        Ok(IssuedToken { token, expires_at })
    }

    /// The claims of a valid, unexpired token signed by this server; 403/436 otherwise.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| Error::invalid_token())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subject(scopes: &Scopes) -> TokenSubject<'_> {
        TokenSubject {
            org_id: OrgId(7),
            environment_id: EnvironmentId(8),
            app_id: AppId(9),
            app_key: "crm",
            scopes,
        }
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_principal() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let scopes = Scopes::parse_list("schema,record.read").unwrap();
        let issued = signer.issue(&subject(&scopes)).unwrap();
        let claims = signer.verify(&issued.token).unwrap();
        assert_eq!(claims.org, OrgId(7));
        assert_eq!(claims.env, EnvironmentId(8));
        assert_eq!(claims.app, AppId(9));
        assert_eq!(claims.scopes, vec!["schema", "record.read"]);
    }

    #[test]
    fn tokens_of_another_key_or_tampered_ones_are_refused_with_436() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let other = TokenSigner::new(b"fedcba9876543210fedcba9876543210", Duration::from_secs(60));
        let scopes = Scopes::all();
        let issued = other.issue(&subject(&scopes)).unwrap();
        let refused = signer.verify(&issued.token).unwrap_err();
        assert_eq!(refused.kind().internal_code(), 436);
        assert!(signer.verify("not.a.token").is_err());
    }
}
