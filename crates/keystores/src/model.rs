//! The validated vocabulary of keystores: their names, their keys, their types and the values
//! their entries hold. Requests are parsed into these at the boundary; SQL only ever sees them.

use crate::error::KeystoreError;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// The longest keystore name.
pub const MAX_KEYSTORE_ID_CHARS: usize = 64;
/// The longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 512;

/// A keystore's name, as the URL carries it (`weather`): 1 to 64 ASCII letters, digits, `_`,
/// `.` and `-`, starting with a letter or a digit. Unique within an environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct KeystoreId(String);

impl KeystoreId {
    /// `field` names where the text came from (`keystore_id`, `--id`).
    pub fn parse(text: &str, field: &str) -> Result<KeystoreId, KeystoreError> {
        let bytes = text.as_bytes();
        let well_formed = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.len() <= MAX_KEYSTORE_ID_CHARS
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if well_formed {
            Ok(KeystoreId(text.to_owned()))
        } else {
            Err(KeystoreError::invalid(
                field,
                format!(
                    "expected 1 to {MAX_KEYSTORE_ID_CHARS} letters, digits, '_', '.' or '-', \
                     starting with a letter or a digit"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeystoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of an entry (`london`): any text of 1 to 512 bytes without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryKey(String);

impl EntryKey {
    pub fn parse(text: &str, field: &str) -> Result<EntryKey, KeystoreError> {
        if text.is_empty() || text.len() > MAX_KEY_BYTES || text.chars().any(char::is_control) {
            return Err(KeystoreError::invalid(
                field,
                format!("expected 1 to {MAX_KEY_BYTES} bytes of text without control characters"),
            ));
        }
        Ok(EntryKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a keystore's entries hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeystoreType {
    /// Valid JSON, searchable by JSON path.
    Json,
    /// A well-formed XML document, searchable through its JSON reading.
    Xml,
    /// Any text; only `key` and `*` mean something to a search.
    Raw,
}

impl KeystoreType {
    pub const ALL: [KeystoreType; 3] = [KeystoreType::Json, KeystoreType::Xml, KeystoreType::Raw];

    /// Reads `json`, `xml` or `raw`, in any case.
    pub fn parse(text: &str, field: &str) -> Result<KeystoreType, KeystoreError> {
        KeystoreType::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| KeystoreError::invalid(field, "expected json, xml or raw"))
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeystoreType::Json => "json",
            KeystoreType::Xml => "xml",
            KeystoreType::Raw => "raw",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Result<KeystoreType, KeystoreError> {
        KeystoreType::parse(text, "data_type").map_err(|_| {
            KeystoreError::Database(sqlx::Error::Decode(
                format!("unknown keystore type '{text}'").into(),
            ))
        })
    }

    /// The empty structure of a keystore created without one.
    pub fn default_empty(self) -> &'static str {
        match self {
            KeystoreType::Json => "{}",
            KeystoreType::Xml => "<data/>",
            KeystoreType::Raw => "",
        }
    }
}

impl Serialize for KeystoreType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A value an entry can hold, checked against its keystore's type: the text exactly as the
/// client sent it, and the JSON document a search reads (none for raw text).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryValue {
    data_type: KeystoreType,
    text: String,
    document: Option<Value>,
}

impl EntryValue {
    /// Checks `bytes` as a value of a `data_type` keystore: JSON must parse, XML must be a
    /// well-formed document that `read_xml` (the gateway's reader, which expands no entities)
    /// accepts, raw text must be UTF-8. PostgreSQL stores no NUL character, in text or in JSON,
    /// so a value holding one is refused too. `field` names the input in errors (`body`).
    pub fn parse(
        data_type: KeystoreType,
        bytes: &[u8],
        read_xml: impl FnOnce(&[u8]) -> Result<Value, String>,
        field: &str,
    ) -> Result<EntryValue, KeystoreError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| KeystoreError::invalid(field, "must be UTF-8 text"))?;
        if text.contains('\0') {
            return Err(KeystoreError::invalid(
                field,
                "may not contain NUL characters",
            ));
        }
        let document = match data_type {
            KeystoreType::Json => Some(serde_json::from_str(text).map_err(|error| {
                KeystoreError::invalid(field, format!("malformed JSON: {error}"))
            })?),
            // The reader's messages name XML themselves ("malformed XML at byte 6: …").
            KeystoreType::Xml => {
                Some(read_xml(bytes).map_err(|problem| KeystoreError::invalid(field, problem))?)
            }
            KeystoreType::Raw => None,
        };
        if document.as_ref().is_some_and(holds_nul) {
            return Err(KeystoreError::invalid(
                field,
                "may not contain NUL characters (\\u0000 or &#0;)",
            ));
        }
        Ok(EntryValue {
            data_type,
            text: text.to_owned(),
            document,
        })
    }

    /// A JSON keystore's value given as a JSON value (the `empty` field of a definition).
    pub fn from_json(value: Value, field: &str) -> Result<EntryValue, KeystoreError> {
        let text = serde_json::to_string(&value)
            .map_err(|error| KeystoreError::invalid(field, error.to_string()))?;
        EntryValue::parse(
            KeystoreType::Json,
            text.as_bytes(),
            |_| Ok(Value::Null),
            field,
        )
    }

    pub fn data_type(&self) -> KeystoreType {
        self.data_type
    }

    /// The value exactly as it was sent.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn document(&self) -> Option<&Value> {
        self.document.as_ref()
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(members) => members
            .iter()
            .any(|(name, member)| name.contains('\0') || holds_nul(member)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_xml(_: &[u8]) -> Result<Value, String> {
        Err("no XML here".into())
    }

    #[test]
    fn keystore_ids_are_plain_names() {
        for good in ["weather", "w", "Weather_2026.v1-a", &"x".repeat(64)] {
            assert!(KeystoreId::parse(good, "keystore_id").is_ok(), "{good}");
        }
        for bad in [
            "",
            "_w",
            "-w",
            "we ather",
            "we'ather",
            "w/x",
            "é",
            &"x".repeat(65),
        ] {
            assert!(KeystoreId::parse(bad, "keystore_id").is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_text_without_control_characters() {
        assert!(EntryKey::parse("London, UK / 'quoted' é", "keystore_key").is_ok());
        assert!(EntryKey::parse(&"k".repeat(512), "keystore_key").is_ok());
        for bad in ["", "a\nb", "a\0b", &"k".repeat(513)] {
            assert!(EntryKey::parse(bad, "keystore_key").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_checked_against_the_type_and_kept_verbatim() {
        let text = "{ \"temp\" : 24,\n \"city\": \"London\" }";
        let value = EntryValue::parse(KeystoreType::Json, text.as_bytes(), no_xml, "body").unwrap();
        assert_eq!(value.text(), text);
        assert_eq!(
            value.document(),
            Some(&json!({"temp": 24, "city": "London"}))
        );
        let error = EntryValue::parse(KeystoreType::Json, b"{\"a\":", no_xml, "body").unwrap_err();
        assert!(
            error.to_string().starts_with("body: malformed JSON"),
            "{error}"
        );
        let error = EntryValue::parse(KeystoreType::Xml, b"<a>", no_xml, "body").unwrap_err();
        assert_eq!(error.to_string(), "body: no XML here");
        let raw = EntryValue::parse(KeystoreType::Raw, b"", no_xml, "body").unwrap();
        assert_eq!((raw.text(), raw.document()), ("", None));
        assert!(EntryValue::parse(KeystoreType::Raw, b"\xff", no_xml, "body").is_err());
        assert!(EntryValue::parse(KeystoreType::Raw, b"a\0", no_xml, "body").is_err());
        let nul = EntryValue::parse(KeystoreType::Json, br#"{"a":"\u0000"}"#, no_xml, "body");
        assert!(nul.is_err());
    }

    #[test]
    fn types_read_in_any_case() {
        assert_eq!(
            KeystoreType::parse("JSON", "type").unwrap(),
            KeystoreType::Json
        );
        assert_eq!(
            KeystoreType::parse("raw", "type").unwrap(),
            KeystoreType::Raw
        );
        assert!(KeystoreType::parse("yaml", "type").is_err());
    }
}
