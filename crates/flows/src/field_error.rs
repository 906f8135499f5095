//! The one shape of a validation problem inside this crate: the path of the field at fault and
//! what is wrong with it. It becomes a `flowline_core::Error` (a 400) at the crate's boundary.

use std::fmt::Display;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};

/// A problem with one field of a definition, such as `steps.save.next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    field: String,
    message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Display) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The same problem seen from the enclosing value: `next` within `steps.save` becomes
    /// `steps.save.next`.
    pub(crate) fn within(self, parent: &str) -> FieldError {
        let field = if parent.is_empty() {
            self.field
        } else if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        FieldError { field, ..self }
    }
}

impl From<FieldError> for flowline_core::Error {
    fn from(error: FieldError) -> Self {
        flowline_core::Error::invalid_field(&error.field, error.message)
    }
}

/// Deserializes `input` with serde, naming the field at fault when it does not fit: the path
/// that serde took, or the missing field itself.
pub(crate) fn from_json<'de, T, D>(input: D) -> Result<T, FieldError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = error.into_inner().to_string();
        match missing_field(&message) {
            Some(missing) => FieldError::new(missing, "is required").within(&path),
            None => FieldError::new(path, message),
        }
    })
}

/// Deserializes an owned JSON value; see [`from_json`].
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    from_json(value)
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .strip_suffix('`')
        .filter(|field| !field.is_empty())
}
