//! The `http` step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{StepFields, Successor, check_save_as};
use crate::field_error::FieldError;
use crate::template::{JsonTemplate, Template, TemplatePart};

/// The longest `timeout_ms`: five minutes, as a worker slot is held meanwhile.
const MAX_TIMEOUT_MS: u64 = 300_000;

/// `http`: calls `url` and saves the response under `save_as`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub method: HttpMethod,
    pub url: Template,
    /// Header name → the template of its value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Template>,
    /// A template string, or JSON whose strings are templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<JsonTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    pub next: String,
}

/// The methods an `http` step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl HttpMethod {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
        }
    }
}

impl StepFields for HttpStep {
    fn check(&self) -> Result<(), FieldError> {
        check_url(&self.url)?;
        if let Some(name) = self.headers.keys().find(|name| !is_header_name(name)) {
            return Err(FieldError::new(
                "headers",
                format!("'{name}' is not a valid header name"),
            ));
        }
        if let Some(timeout_ms) = self.timeout_ms
            && !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms)
        {
            return Err(FieldError::new(
                "timeout_ms",
                format!("must be between 1 and {MAX_TIMEOUT_MS}"),
            ));
        }
        check_save_as(self.save_as.as_deref())
    }

    fn successors(&self) -> Vec<Successor<'_>> {
        vec![Successor::new("next", &self.next)]
    }
}

/// A URL must be http(s); when it starts with a placeholder (`{{ env.API_URL }}/hook`), the
/// scheduler checks what it renders to.
fn check_url(url: &Template) -> Result<(), FieldError> {
    match url.parts().first() {
        None => Err(FieldError::new("url", "must not be empty")),
        Some(TemplatePart::Text(text)) => {
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                Ok(())
            } else {
                Err(FieldError::new(
                    "url",
                    "must start with http:// or https://",
                ))
            }
        }
        Some(TemplatePart::Placeholder(_)) => Ok(()),
    }
}

/// An HTTP token (RFC 9110 §5.6.2).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}
