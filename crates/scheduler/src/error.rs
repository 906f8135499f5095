//! Why a step failed. The message is what the step log and the record show.

/// A step's failure: a message for the step log. Database errors that are not the step's fault
/// (a lost connection) are kept apart so that the run is abandoned and retried, not failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The step cannot do what it says with this record: it fails (or goes to `on_error`).
    #[error("{0}")]
    Failed(String),
    /// The database failed under the step; the whole run is rolled back.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StepError {
    pub(crate) fn failed(message: impl Into<String>) -> StepError {
        StepError::Failed(message.into())
    }
}

impl From<flowline_core::Error> for StepError {
    fn from(error: flowline_core::Error) -> StepError {
        match error {
            flowline_core::Error::Database(error) => StepError::Database(error),
            other => StepError::Failed(other.public_message()),
        }
    }
}

impl From<flowline_keystores::KeystoreError> for StepError {
    fn from(error: flowline_keystores::KeystoreError) -> StepError {
        match error {
            flowline_keystores::KeystoreError::Database(error) => StepError::Database(error),
            other => StepError::Failed(other.to_string()),
        }
    }
}

/// Why the scheduler itself failed (not a step): the database, or the listener.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The outbound HTTP client could not be built.
    #[error("http client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The certificate authorities configured for `https` calls are not valid PEM.
    #[error("certificate authorities for https calls: {0}")]
    HttpRoots(String),
}
