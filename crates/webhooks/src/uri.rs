//! The webhook uri: the secret part of `/v1/webhook/{uri}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Where webhooks receive: `/v1/webhook/` followed by the uri.
pub const WEBHOOK_PATH_PREFIX: &str = "/v1/webhook/";

/// Random bytes in a uri: 192 bits, far past guessing even at a billion tries a second.
const RANDOM_BYTES: usize = 24;
/// Its length in URL-safe base64 without padding.
const ENCODED_LEN: usize = RANDOM_BYTES * 4 / 3;
/// How many of its characters listings show.
const PREFIX_LEN: usize = 6;

/// A webhook uri as a sender presents it, or a new one.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUri(String);

impl std::fmt::Debug for WebhookUri {
    /// The uri is a credential: debug output, and so logs, show only its prefix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUri({}…)", self.prefix())
    }
}

impl WebhookUri {
    pub fn generate() -> WebhookUri {
        let mut bytes = [0u8; RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        WebhookUri(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A uri as a request carries it; `None` when it cannot be one that this server made, so
    /// that such requests are answered without asking the database.
    pub fn parse(text: &str) -> Option<WebhookUri> {
        let plausible = text.len() == ENCODED_LEN
            && text
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        plausible.then(|| WebhookUri(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path senders post to.
    pub fn path(&self) -> String {
        format!("{WEBHOOK_PATH_PREFIX}{}", self.0)
    }

    pub(crate) fn digest(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }

    pub(crate) fn prefix(&self) -> &str {
        self.0.get(..PREFIX_LEN).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_uris_are_url_safe_unique_and_parse_back() {
        let a = WebhookUri::generate();
        let b = WebhookUri::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(WebhookUri::parse(a.as_str()), Some(a.clone()));
        assert!(a.path().starts_with("/v1/webhook/"));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn implausible_uris_are_refused_without_a_lookup() {
        assert_eq!(WebhookUri::parse(""), None);
        assert_eq!(WebhookUri::parse("short"), None);
        assert_eq!(WebhookUri::parse(&"a".repeat(31)), None);
        assert_eq!(WebhookUri::parse(&format!("{}%", "a".repeat(31))), None);
        assert!(WebhookUri::parse(&format!("{}-_", "A".repeat(30))).is_some());
    }
}
