//! flowline-soap: the envelope codec of the Flowize SOAP API, over quick-xml.
//!
//! It reads a SOAP 1.1 or 1.2 envelope into a typed [`Request`] — one of the eleven
//! [`Operation`]s with its fields and the caller's [`Credentials`] — and writes typed answers
//! ([`write_answer`]) and [`Fault`]s ([`write_fault`]) in the request's SOAP version and style.
//!
//! It knows XML, not HTTP, and nothing of the services behind the operations: it never
//! authenticates, never touches a database, and never decides what an operation does. It
//! must never expand an entity, read a DTD, or let a message's size, depth, element count or
//! text length grow without bound; anything it cannot read becomes a Client fault that names
//! the problem.

mod fault;
mod operation;
mod request;
mod tree;
mod write;

#[cfg(test)]
mod tests;

pub use fault::{Fault, FaultCode};
pub use operation::Operation;
pub use request::{Call, Credentials, NewRecord, Rejection, Request, SchemaObject, parse};
pub use write::{Answer, write_answer, write_fault};

/// The namespace of the Flowize operations and types, as the reference's envelopes declare it
/// (`xmlns:mym="Flowize"`).
pub const FLOWIZE_NAMESPACE: &str = "Flowize";

/// The SOAP version of a message; an answer is always in its request's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    Soap11,
    Soap12,
}

impl SoapVersion {
    pub fn envelope_namespace(self) -> &'static str {
        match self {
            SoapVersion::Soap11 => tree::SOAP11_ENV_NS,
            SoapVersion::Soap12 => tree::SOAP12_ENV_NS,
        }
    }

    /// The media type of the version's messages.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::Soap11 => "text/xml; charset=utf-8",
            SoapVersion::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The version a media type suggests: SOAP 1.2 travels as `application/soap+xml`.
    pub fn from_media_type(media_type: &str) -> SoapVersion {
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/soap+xml") {
            SoapVersion::Soap12
        } else {
            SoapVersion::Soap11
        }
    }

    pub(crate) fn number(self) -> &'static str {
        match self {
            SoapVersion::Soap11 => "1.1",
            SoapVersion::Soap12 => "1.2",
        }
    }
}

/// How a request was written, and so how its answer is: rpc/encoded requests (those that
/// carry `xsi:type` or `encodingStyle`) get `xsi:type` annotations back, document/literal ones
/// get plain elements, as their WSDLs describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Encoded,
    Literal,
}

/// Bounds on what a message may cost to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
    /// The longest text of one element (a base64 `Data` field holds a whole batch).
    pub max_text_bytes: usize,
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 32,
            max_elements: 10_000,
            max_text_bytes: 8 * 1024 * 1024,
            max_attributes: 32,
        }
    }
}
