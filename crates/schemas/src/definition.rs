//! Parsing and checking a schema definition as the API receives it.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use flowline_core::Error;
use serde_json::Value;

/// Standard base64 that tolerates missing padding, as clients produce both.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A JSON Schema that compiled as draft 4.
pub struct CompiledSchema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

impl CompiledSchema {
    /// Compiles `schema` as a draft 4 JSON Schema; a bad schema is a 400 naming `field`.
    pub fn compile(field: &str, schema: &Value) -> Result<CompiledSchema, Error> {
        jsonschema::draft4::options()
            .build(schema)
            .map(|validator| CompiledSchema { validator })
            .map_err(|error| Error::invalid_field(field, format!("invalid JSON Schema: {error}")))
    }

    /// Checks a data record; the error names the JSON path that fails and why.
    pub fn validate(&self, field: &str, record: &Value) -> Result<(), Error> {
        match self.validator.iter_errors(record).next() {
            None => Ok(()),
            Some(violation) => {
                let pointer = violation.instance_path().to_string();
                let path = if pointer.is_empty() {
                    "/".to_owned()
                } else {
                    pointer
                };
                Err(Error::invalid_field(
                    field,
                    format!("does not match the data schema at {path}: {violation}"),
                ))
            }
        }
    }
}

/// A schema definition that passed every check: valid base64, valid JSON, a schema that
/// compiles, and a sample record that satisfies it.
#[derive(Debug)]
pub struct SchemaDefinition {
    pub schema_text: String,
    pub data_record_text: String,
    pub url: String,
}

impl SchemaDefinition {
    pub fn parse(
        schema_base64: Option<&str>,
        data_record_base64: Option<&str>,
        url: Option<&str>,
    ) -> Result<SchemaDefinition, Error> {
        let schema_text = decode_base64_text("schema", schema_base64)?;
        let schema = parse_json("schema", &schema_text)?;
        if !schema.is_object() {
            return Err(Error::invalid_field("schema", "must be a JSON object"));
        }
        let compiled = CompiledSchema::compile("schema", &schema)?;
        let data_record_text = decode_base64_text("data_record", data_record_base64)?;
        let data_record = parse_json("data_record", &data_record_text)?;
        compiled.validate("data_record", &data_record)?;
        let url = url.unwrap_or_default();
        if url.len() > 2048 {
            return Err(Error::invalid_field(
                "url",
                "must be at most 2048 characters",
            ));
        }
        Ok(SchemaDefinition {
            schema_text,
            data_record_text,
            url: url.to_owned(),
        })
    }

    pub fn schema_base64(schema_text: &str) -> String {
        general_purpose::STANDARD.encode(schema_text)
    }
}

fn decode_base64_text(field: &str, value: Option<&str>) -> Result<String, Error> {
    let value = value
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| Error::invalid_field(field, "is required (base64-encoded JSON)"))?;
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = LENIENT_BASE64
        .decode(compact.as_bytes())
        .map_err(|error| Error::invalid_field(field, format!("is not valid base64: {error}")))?;
    String::from_utf8(bytes)
        .map_err(|_| Error::invalid_field(field, "does not decode to UTF-8 text"))
}

fn parse_json(field: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|error| Error::invalid_field(field, format!("is not valid JSON: {error}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        general_purpose::STANDARD.encode(text)
    }

    const SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",
        "properties":{"client":{"type":"object","properties":{"age":{"type":"integer"}},
        "required":["age"]}},"required":["client"]}"#;

    #[test]
    fn accepts_a_schema_with_a_matching_record() {
        let definition = SchemaDefinition::parse(
            Some(&b64(SCHEMA)),
            Some(&b64(r#"{"client":{"age":30}}"#)),
            Some("www.example.nl"),
        )
        .unwrap();
        assert_eq!(definition.url, "www.example.nl");
        assert_eq!(definition.schema_text, SCHEMA);
    }

    #[test]
    fn names_the_failing_path_of_the_sample_record() {
        let error = SchemaDefinition::parse(
            Some(&b64(SCHEMA)),
            Some(&b64(r#"{"client":{"age":"thirty"}}"#)),
            None,
        )
        .unwrap_err();
        let message = error.public_message();
        assert!(message.starts_with("data_record:"), "{message}");
        assert!(message.contains("/client/age"), "{message}");
    }

    #[test]
    fn refuses_bad_base64_bad_json_and_bad_schemas_by_field() {
        let message =
            |result: Result<SchemaDefinition, Error>| result.unwrap_err().public_message();
        assert!(
            message(SchemaDefinition::parse(Some("%%%"), Some(&b64("{}")), None))
                .starts_with("schema: is not valid base64")
        );
        assert!(
            message(SchemaDefinition::parse(
                Some(&b64("{nope")),
                Some(&b64("{}")),
                None
            ))
            .starts_with("schema: is not valid JSON")
        );
        assert!(
            message(SchemaDefinition::parse(
                Some(&b64(r#"{"type":12}"#)),
                Some(&b64("{}")),
                None
            ))
            .starts_with("schema: invalid JSON Schema")
        );
        assert!(
            message(SchemaDefinition::parse(None, Some(&b64("{}")), None))
                .starts_with("schema: is required")
        );
        assert!(
            message(SchemaDefinition::parse(Some(&b64(SCHEMA)), None, None))
                .starts_with("data_record: is required")
        );
    }

    #[test]
    fn tolerates_missing_padding_and_line_breaks() {
        let encoded = b64(r#"{"type":"object"}"#);
        let unpadded = encoded.trim_end_matches('=');
        let wrapped = format!("{}\n{}", &unpadded[..4], &unpadded[4..]);
        assert!(SchemaDefinition::parse(Some(&wrapped), Some(&b64("{}")), None).is_ok());
    }
}
