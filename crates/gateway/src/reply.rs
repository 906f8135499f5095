//! What handlers return: an envelope waiting to be rendered in the negotiated format.
//!
//! Handlers never serialize; the `render` middleware does, once it knows the request's format
//! and client address. That keeps JSON and XML answers field-for-field identical.

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The envelopes of the Flowize API.
#[derive(Debug, Clone)]
pub enum Envelope {
    /// `{"resource": …, "message": …}`: the data-schema and authentication calls.
    Short { resource: Value, message: String },
    /// `Short` with a resource that is JSON text already (records echoed as they were sent),
    /// written out without being built into a tree.
    ShortText {
        resource: Box<RawValue>,
        message: String,
    },
    /// `{"id": "ok", "code": …, "request-ip": …, "resource": …, "message": …, "error": null}`:
    /// the record, keystore and table calls.
    Full { resource: Value, message: String },
    /// `{"id": …, "resource": …, "message": …}`: the flow-diagram calls, whose reference
    /// bodies carry an `id` but no `code`, `request-ip` or `error`.
    Tagged {
        id: EnvelopeId,
        resource: Value,
        message: String,
    },
    /// A body that is not an envelope (the admin API answers as `flowline admin --json` does).
    Raw(Value),
    /// Bytes sent as they are, in a format the handler negotiated itself (a keystore entry,
    /// which may be plain text, and is returned exactly as it was saved).
    Document {
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// `{"id": …, "code": …, "request-ip": …, "resource": [], "message": …,
    /// "error": {"code": …, "message": …}}`: every error.
    Error {
        id: &'static str,
        internal_code: u16,
        message: String,
    },
}

impl Envelope {
    /// The envelope as JSON, with the client's address where the envelope carries one.
    pub fn into_value(self, status: StatusCode, request_ip: &str) -> Value {
        match self {
            // The resource is moved into the envelope: `json!` would deep-copy it, and it can
            // hold a hundred records.
            Envelope::Short { resource, message } => {
                object([("resource", resource), ("message", Value::String(message))])
            }
            Envelope::ShortText { resource, message } => {
                // Only an XML answer needs the tree; the text is this server's own JSON.
                let resource = serde_json::from_str(resource.get()).unwrap_or(Value::Null);
                object([("resource", resource), ("message", Value::String(message))])
            }
            Envelope::Full { resource, message } => object([
                ("id", Value::from("ok")),
                ("code", Value::from(status.as_u16())),
                ("request-ip", Value::from(request_ip)),
                ("resource", resource),
                ("message", Value::String(message)),
                ("error", Value::Null),
            ]),
            Envelope::Tagged {
                id,
                resource,
                message,
            } => json!({
                "id": match id {
                    EnvelopeId::Ok => json!("ok"),
                    EnvelopeId::Status => json!(status.as_u16()),
                },
                "resource": resource,
                "message": message,
            }),
            Envelope::Raw(value) => value,
            Envelope::Document { body, .. } => {
                Value::String(String::from_utf8_lossy(&body).into_owned())
            }
            Envelope::Error {
                id,
                internal_code,
                message,
            } => json!({
                "id": id,
                "code": status.as_u16(),
                "request-ip": request_ip,
                "resource": [],
                "message": message,
                "error": {"code": internal_code, "message": message},
            }),
        }
    }
}

impl Envelope {
    /// The envelope as JSON text.
    pub fn into_json(self, status: StatusCode, request_ip: &str) -> Vec<u8> {
        match self {
            Envelope::ShortText { resource, message } => {
                let short = ShortBody {
                    resource: &resource,
                    message: &message,
                };
                serde_json::to_vec(&short).unwrap_or_default()
            }
            envelope => {
                serde_json::to_vec(&envelope.into_value(status, request_ip)).unwrap_or_default()
            }
        }
    }
}

#[derive(serde::Serialize)]
struct ShortBody<'a> {
    resource: &'a RawValue,
    message: &'a str,
}

/// What the `id` of an [`Envelope::Tagged`] holds: the reference prints `"ok"` in some answers
/// and the HTTP status in others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeId {
    Ok,
    Status,
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    )
}

/// A successful answer: status, envelope, and the modification time of what it shows.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    envelope: Envelope,
    last_modified: Option<DateTime<Utc>>,
    uncacheable: bool,
}

impl Reply {
    pub fn short(status: StatusCode, resource: Value, message: impl Into<String>) -> Reply {
        Reply::new(
            status,
            Envelope::Short {
                resource,
                message: message.into(),
            },
        )
    }

    /// A `Short` answer whose resource is JSON text.
    pub fn short_text(
        status: StatusCode,
        resource: Box<RawValue>,
        message: impl Into<String>,
    ) -> Reply {
        Reply::new(
            status,
            Envelope::ShortText {
                resource,
                message: message.into(),
            },
        )
    }

    pub fn full(status: StatusCode, resource: Value, message: impl Into<String>) -> Reply {
        Reply::new(
            status,
            Envelope::Full {
                resource,
                message: message.into(),
            },
        )
    }

    pub fn tagged(
        status: StatusCode,
        id: EnvelopeId,
        resource: Value,
        message: impl Into<String>,
    ) -> Reply {
        Reply::new(
            status,
            Envelope::Tagged {
                id,
                resource,
                message: message.into(),
            },
        )
    }

    pub fn raw(status: StatusCode, value: Value) -> Reply {
        Reply::new(status, Envelope::Raw(value))
    }

    pub fn new(status: StatusCode, envelope: Envelope) -> Reply {
        Reply {
            status,
            envelope,
            last_modified: None,
            uncacheable: false,
        }
    }

    /// An answer that must never be revalidated into a 304 (minted tokens, for one).
    pub fn uncacheable(mut self) -> Reply {
        self.uncacheable = true;
        self
    }

    pub fn last_modified(mut self, at: DateTime<Utc>) -> Reply {
        self.last_modified = Some(at);
        self
    }
}

/// The envelope a response carries until the render middleware serializes it.
#[derive(Debug, Clone)]
pub struct PendingEnvelope(pub Envelope);

/// The modification time a response's resource carries, for `Last-Modified`.
#[derive(Debug, Clone, Copy)]
pub struct ModifiedAt(pub DateTime<Utc>);

/// Marks a response that gets no `ETag` and is never answered with 304.
#[derive(Debug, Clone, Copy)]
pub struct Uncacheable;

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response
            .extensions_mut()
            .insert(PendingEnvelope(self.envelope));
        if let Some(at) = self.last_modified {
            response.extensions_mut().insert(ModifiedAt(at));
        }
        if self.uncacheable {
            response.extensions_mut().insert(Uncacheable);
        }
        response
    }
}
