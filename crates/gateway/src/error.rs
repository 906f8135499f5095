//! The gateway's error: a service error on its way to becoming an error envelope.

use crate::reply::{Envelope, PendingEnvelope};
use axum::response::{IntoResponse, Response};
use flowline_core::{Error, ErrorKind};
use http::StatusCode;

/// Any error a handler or extractor returns. Internal detail is logged here, once, and never
/// sent: the client reads a generic sentence.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError(Error::from(error))
    }
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError(Error::new(kind, message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        if kind == ErrorKind::Internal {
            tracing::error!(error = %self.0, "request failed");
        }
        error_response(kind, self.0.public_message())
    }
}

pub fn error_response(kind: ErrorKind, message: String) -> Response {
    let status = StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    response
        .extensions_mut()
        .insert(PendingEnvelope(Envelope::Error {
            id: kind.id(),
            internal_code: kind.internal_code(),
            message,
        }));
    response
}
