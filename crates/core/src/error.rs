//! The error every service returns, and how it maps onto the Flowize API's statuses.

/// What went wrong, in the terms of the public API. Each kind has one HTTP status, one Flowize
/// internal code (`error.code` in the envelope) and one stable snake_case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    /// 403 with internal code 436.
    InvalidToken,
    /// 403 with internal code 437.
    IpNotAllowed,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    /// 507: the environment uses more storage than its package and add-ons allow.
    InsufficientStorage,
    Internal,
    Unavailable,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::InvalidToken | ErrorKind::IpNotAllowed | ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::RequestTimeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::InsufficientStorage => 507,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }

    /// Flowize's internal error code: 436 and 437 refine a 403; otherwise the status itself.
    pub fn internal_code(self) -> u16 {
        match self {
            ErrorKind::InvalidToken => 436,
            ErrorKind::IpNotAllowed => 437,
            other => other.status(),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::InvalidToken => "access_token_not_valid",
            ErrorKind::IpNotAllowed => "ip_not_valid",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::InsufficientStorage => "insufficient_storage",
            ErrorKind::Internal => "internal_error",
            ErrorKind::Unavailable => "service_unavailable",
        }
    }
}

/// The one error type of the service layer. Client errors carry a message meant for the
/// client; internal errors carry detail meant for the log, never for the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Client { kind: ErrorKind, message: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::Client {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, message)
    }

    /// A 400 that names the offending field first, so that clients can tell which one it was.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Error {
        Error::bad_request(format!("{field}: {problem}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unauthorized, message)
    }

    pub fn invalid_token() -> Error {
        Error::new(ErrorKind::InvalidToken, "Access token not valid")
    }

    pub fn ip_not_allowed() -> Error {
        Error::new(ErrorKind::IpNotAllowed, "Ip not valid")
    }

    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    pub fn internal(detail: impl Into<String>) -> Error {
        Error::Internal(detail.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Client { kind, .. } => *kind,
            Error::Database(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// What the client may read: the message of a client error, a generic sentence otherwise.
    pub fn public_message(&self) -> String {
        match self {
            Error::Client { message, .. } => message.clone(),
            Error::Database(_) | Error::Internal(_) => {
                "We had a problem with our server. Try again later.".to_owned()
            }
        }
    }

    /// Whether this error is a unique-key violation of the named constraint.
    pub fn is_unique_violation(&self, constraint: &str) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(db)) => {
                db.is_unique_violation() && db.constraint() == Some(constraint)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_ip_errors_are_403_with_flowize_internal_codes() {
        assert_eq!(Error::invalid_token().kind().status(), 403);
        assert_eq!(Error::invalid_token().kind().internal_code(), 436);
        assert_eq!(Error::ip_not_allowed().kind().status(), 403);
        assert_eq!(Error::ip_not_allowed().kind().internal_code(), 437);
        assert_eq!(ErrorKind::NotFound.internal_code(), 404);
    }

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let error = Error::internal("connection to 10.0.0.5 refused");
        assert!(!error.public_message().contains("10.0.0.5"));
        assert_eq!(error.kind().status(), 500);
    }
}
