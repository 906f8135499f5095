//! Signed payloads: a webhook with a secret accepts only bodies whose HMAC-SHA256, keyed with
//! that secret, the sender puts in `X-Flowline-Signature: sha256=<hex>`.

use flowline_core::Error;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Flowline-Signature";

const SCHEME: &str = "sha256=";
const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 256;

/// A webhook's signing secret, as an operator or application sets it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    /// A shorter secret would make the signature guessable; control characters would not
    /// survive the senders' configuration screens.
    pub fn parse(text: &str) -> Result<WebhookSecret, Error> {
        let length = text.chars().count();
        if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&length)
            || text.chars().any(char::is_control)
        {
            return Err(Error::invalid_field(
                "secret",
                format!("must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} printable characters"),
            ));
        }
        Ok(WebhookSecret(text.to_owned()))
    }

    pub(crate) fn from_stored(text: String) -> WebhookSecret {
        WebhookSecret(text)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `header` (the value of [`SIGNATURE_HEADER`], if sent) against `body` in constant
    /// time. Every refusal is a 401 that says what was expected.
    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), Error> {
        let Some(header) = header.map(str::trim).filter(|value| !value.is_empty()) else {
            return Err(Error::unauthorized(format!(
                "{SIGNATURE_HEADER}: this webhook requires a signature, '{SCHEME}' followed by the \
                 hex HMAC-SHA256 of the body keyed with the webhook's secret"
            )));
        };
        let presented = header
            .get(..SCHEME.len())
            .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
            .and_then(|_| header.get(SCHEME.len()..))
            .and_then(|digits| hex::decode(digits).ok())
            .filter(|bytes| bytes.len() == 32)
            .ok_or_else(|| {
                Error::unauthorized(format!(
                    "{SIGNATURE_HEADER}: expected '{SCHEME}' followed by 64 hex digits"
                ))
            })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .map_err(|error| Error::internal(format!("HMAC key: {error}")))?;
        mac.update(body);
        mac.verify_slice(&presented).map_err(|_| {
            Error::unauthorized(format!(
                "{SIGNATURE_HEADER}: the signature does not match the body"
            ))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn accepts_the_right_signature_in_either_case() {
        let secret = WebhookSecret::parse("0123456789abcdef").unwrap();
        let signature = sign("0123456789abcdef", b"{\"a\":1}");
        assert!(secret.verify(Some(&signature), b"{\"a\":1}").is_ok());
        let upper = format!("SHA256={}", signature[7..].to_ascii_uppercase());
        assert!(secret.verify(Some(&upper), b"{\"a\":1}").is_ok());
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures_with_401() {
        let secret = WebhookSecret::parse("0123456789abcdef").unwrap();
        let body = b"{\"a\":1}";
        for header in [
            None,
            Some(""),
            Some("abc"),
            Some("sha1=00"),
            Some("sha256=zz"),
            Some("sha256=00"),
        ] {
            let error = secret.verify(header, body).unwrap_err();
            assert_eq!(error.kind().status(), 401, "{header:?}");
            assert!(error.public_message().starts_with(SIGNATURE_HEADER));
        }
        let other_key = sign("another secret, 16+", body);
        let error = secret.verify(Some(&other_key), body).unwrap_err();
        assert!(error.public_message().contains("does not match"));
        let tampered = sign("0123456789abcdef", body);
        assert!(secret.verify(Some(&tampered), b"{\"a\":2}").is_err());
    }

    #[test]
    fn secrets_are_bounded_and_never_printed() {
        assert!(WebhookSecret::parse("short").is_err());
        assert!(WebhookSecret::parse(&"x".repeat(257)).is_err());
        assert!(WebhookSecret::parse("sixteen chars\n..").is_err());
        let secret = WebhookSecret::parse("a long enough secret").unwrap();
        assert!(!format!("{secret:?}").contains("long"));
    }
}
