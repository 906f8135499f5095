//! Request bodies: JSON or XML by `Content-Type`, bounded in size, parsed into a typed value
//! whose errors name the offending field.

use crate::error::ApiError;
use crate::format::{Format, from_xml};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use flowline_core::{Error, ErrorKind};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// A request body of type `T`, from a JSON object or an XML document.
#[derive(Debug)]
pub struct Payload<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Payload<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(value) = Body::from_request(request, state).await?;
        if !value.is_object() {
            return Err(ApiError(Error::invalid_field(
                "body",
                "must be a JSON object",
            )));
        }
        serde_path_to_error::deserialize(value)
            .map(Payload)
            .map_err(|error| {
                let path = error.path().to_string();
                let field = if path == "." { "body".to_owned() } else { path };
                ApiError(Error::invalid_field(&field, error.into_inner()))
            })
    }
}

/// A request body of any JSON shape (object, array, …), from JSON or an XML document.
#[derive(Debug)]
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (format, bytes) = read_body(request, state).await?;
        parse_body(format, &bytes).map(Body)
    }
}

/// A request body that may be left out: `None` when there is none (or only whitespace),
/// otherwise any JSON shape, from JSON or an XML document.
#[derive(Debug)]
pub struct OptionalBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (format, bytes) = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        parse_body(format, &bytes).map(|value| OptionalBody(Some(value)))
    }
}

/// The body's bytes, bounded by the body limit, and the format it declares.
async fn read_body<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<(Format, Bytes), ApiError> {
    let format = body_format(&request)?;
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                ErrorKind::PayloadTooLarge,
                "The request body is larger than this server accepts",
            ),
            _ => ApiError(Error::bad_request(format!("body: {rejection}"))),
        })?;
    Ok((format, bytes))
}

/// JSON unless the body says XML; a body of any other declared type is refused.
fn body_format(request: &Request) -> Result<Format, ApiError> {
    match Format::of_body(request.headers()) {
        Some(format) => Ok(format),
        None => match request.headers().get(CONTENT_TYPE) {
            None => Ok(Format::Json),
            Some(other) => Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                format!(
                    "Content-Type: '{}' is not supported; send application/json or application/xml",
                    other.to_str().unwrap_or("?")
                ),
            )),
        },
    }
}

pub fn parse_body(format: Format, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(Error::invalid_field("body", "is required")));
    }
    match format {
        Format::Json => serde_json::from_slice(bytes).map_err(|error| {
            ApiError(Error::invalid_field(
                "body",
                format!("malformed JSON: {error}"),
            ))
        }),
        Format::Xml => {
            from_xml(bytes).map_err(|error| ApiError(Error::invalid_field("body", error)))
        }
    }
}

/// The body of `POST /v1/record`: one JSON object or an array of them, each kept as the JSON
/// text the client sent (an XML body is converted). Records are stored as text and echoed
/// back as text, so a large array is never built into a tree and serialized again.
#[derive(Debug)]
pub struct RecordsBody {
    /// Whether the body was one record rather than an array.
    pub single: bool,
    pub records: Vec<Box<RawValue>>,
}

impl<S: Send + Sync> FromRequest<S> for RecordsBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (format, bytes) = read_body(request, state).await?;
        match format {
            Format::Json => json_records(&bytes),
            Format::Xml => parse_body(format, &bytes).and_then(tree_records),
        }
    }
}

/// Records from JSON text: one object, or an array of them (SOAP's base64 `Data` decodes to
/// the same text).
pub(crate) fn json_records(bytes: &[u8]) -> Result<RecordsBody, ApiError> {
    let malformed = |error: serde_json::Error| {
        ApiError(Error::invalid_field(
            "body",
            format!("malformed JSON: {error}"),
        ))
    };
    match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => Err(ApiError(Error::invalid_field("body", "is required"))),
        Some(b'[') => Ok(RecordsBody {
            single: false,
            records: serde_json::from_slice(bytes).map_err(malformed)?,
        }),
        Some(_) => Ok(RecordsBody {
            single: true,
            records: vec![serde_json::from_slice(bytes).map_err(malformed)?],
        }),
    }
}

fn tree_records(body: Value) -> Result<RecordsBody, ApiError> {
    let text = |record: &Value| {
        serde_json::value::to_raw_value(record)
            .map_err(|error| ApiError(Error::internal(format!("re-encoding a record: {error}"))))
    };
    match body {
        Value::Array(records) => Ok(RecordsBody {
            single: false,
            records: records.iter().map(text).collect::<Result<_, _>>()?,
        }),
        record => Ok(RecordsBody {
            single: true,
            records: vec![text(&record)?],
        }),
    }
}
