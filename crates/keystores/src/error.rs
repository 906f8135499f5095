//! What can go wrong with a keystore, and the Flowize status each failure answers with.

use flowline_core::{Error, ErrorKind};

/// The keystores service's error. Every client error names what is at fault; database errors
/// stay internal (logged by the gateway, a generic 500 for the client).
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("Keystore '{0}' does not exist")]
    UnknownKeystore(String),
    #[error("Keystore '{0}' already exists")]
    KeystoreExists(String),
    #[error("Key '{key}' does not exist in keystore '{keystore}'")]
    UnknownKey { keystore: String, key: String },
    #[error("Key '{key}' already exists in keystore '{keystore}'")]
    KeyExists { keystore: String, key: String },
    /// A read that had to create the key kept meeting concurrent deletions of it.
    #[error("Key '{key}' of keystore '{keystore}' changed while it was read; try again")]
    Contended { keystore: String, key: String },
    /// Bad input: `field` is where it is (`keystore_key`, `body`, `select[1].field`, …).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// A search answer would exceed its byte budget.
    #[error("{0}")]
    TooLarge(String),
    /// An error of the where-rules DSL, already shaped for the client.
    #[error(transparent)]
    Rules(Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl KeystoreError {
    pub(crate) fn invalid(field: &str, problem: impl Into<String>) -> KeystoreError {
        KeystoreError::Invalid {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// The Flowize status this error answers with.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KeystoreError::UnknownKeystore(_) | KeystoreError::UnknownKey { .. } => {
                ErrorKind::NotFound
            }
            KeystoreError::KeystoreExists(_)
            | KeystoreError::KeyExists { .. }
            | KeystoreError::Contended { .. } => ErrorKind::Conflict,
            KeystoreError::Invalid { .. } | KeystoreError::TooLarge(_) => ErrorKind::BadRequest,
            KeystoreError::Rules(error) => error.kind(),
            KeystoreError::Database(_) => ErrorKind::Internal,
        }
    }
}

impl From<KeystoreError> for Error {
    fn from(error: KeystoreError) -> Error {
        match error {
            KeystoreError::Rules(error) => error,
            KeystoreError::Database(error) => Error::Database(error),
            client => Error::new(client.kind(), client.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_their_message_and_status() {
        let error = Error::from(KeystoreError::KeyExists {
            keystore: "weather".into(),
            key: "london".into(),
        });
        assert_eq!(error.kind().status(), 409);
        assert_eq!(
            error.public_message(),
            "Key 'london' already exists in keystore 'weather'"
        );
        let error = Error::from(KeystoreError::invalid("keystore_key", "is too long"));
        assert_eq!(error.kind().status(), 400);
        assert_eq!(error.public_message(), "keystore_key: is too long");
        let error = Error::from(KeystoreError::Database(sqlx::Error::RowNotFound));
        assert_eq!(error.kind().status(), 500);
    }
}
