//! JSON by default, XML when the request asks for it: content negotiation and the conversion
//! between JSON values and the XML form of the same envelope.
//!
//! XML input is read with quick-xml, which expands no entities; a DOCTYPE or a processing
//! instruction is refused outright, and depth and size are bounded.

use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_TYPE};
use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// The response format: what `Accept` prefers among JSON and XML, else the request body's
    /// own format, else JSON.
    pub fn negotiate(headers: &HeaderMap) -> Format {
        let accept = headers
            .get(ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        for media in accept.split(',') {
            match media_format(media) {
                Some(format) => return format,
                None => continue,
            }
        }
        Format::of_body(headers).unwrap_or(Format::Json)
    }

    /// The format of the request body by its `Content-Type`, when it is JSON or XML.
    pub fn of_body(headers: &HeaderMap) -> Option<Format> {
        headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(media_format)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }
}

/// The format a media type (`application/json; charset=utf-8`, `text/xml`, `*+json`) names,
/// if it is JSON or XML.
pub(crate) fn media_format(media: &str) -> Option<Format> {
    let essence = media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        other if other.ends_with("+json") => Some(Format::Json),
        other if other.ends_with("+xml") => Some(Format::Xml),
        _ => None,
    }
}

/// The root element of every XML envelope.
pub const XML_ROOT: &str = "response";

/// Writes `value` as an XML document under `root`: object keys become elements, array items
/// become `<item>` elements, null becomes an empty element. A key that is not a valid XML name
/// is written as `<item key="…">`.
pub fn to_xml(root: &str, value: &Value) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    write_element(&mut writer, root, None, value);
    writer.into_inner()
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, key: Option<&str>, value: &Value) {
    let (name, key) = if is_xml_name(name) {
        (name, key)
    } else {
        ("item", Some(name))
    };
    let mut start = BytesStart::new(name);
    if let Some(key) = key {
        start.push_attribute(("key", key));
    }
    let end = BytesEnd::new(name);
    match value {
        Value::Null => {
            let _ = writer.write_event(Event::Empty(start));
        }
        Value::Object(map) => {
            let _ = writer.write_event(Event::Start(start));
            for (child, child_value) in map {
                write_element(writer, child, None, child_value);
            }
            let _ = writer.write_event(Event::End(end));
        }
        Value::Array(items) => {
            let _ = writer.write_event(Event::Start(start));
            for item in items {
                write_element(writer, "item", None, item);
            }
            let _ = writer.write_event(Event::End(end));
        }
        scalar => {
            let text = match scalar {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let _ = writer.write_event(Event::Start(start));
            let _ = writer.write_event(Event::Text(BytesText::new(&text)));
            let _ = writer.write_event(Event::End(end));
        }
    }
}

fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

/// Bounds on XML input.
const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 100_000;

/// Reads an XML document into a JSON value: the root element's content becomes the value;
/// elements with children become objects (a repeated name becomes an array), elements whose
/// children are all `<item>` become arrays, leaf elements become strings.
pub fn from_xml(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "XML must be UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = Vec::new();
    let mut elements = 0usize;
    let mut root: Option<Value> = None;
    loop {
        let event = reader.read_event().map_err(|error| {
            format!("malformed XML at byte {}: {error}", reader.error_position())
        })?;
        match event {
            Event::Start(start) => {
                elements += 1;
                if stack.len() >= MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err("XML is nested too deeply or has too many elements".into());
                }
                if root.is_some() {
                    return Err("XML has content after the root element".into());
                }
                stack.push(Node::new(local_name(start.name().as_ref())));
            }
            Event::Empty(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err("XML has too many elements".into());
                }
                let node = Node::new(local_name(start.name().as_ref()));
                close(node, &mut stack, &mut root)?;
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced XML end tag")?;
                close(node, &mut stack, &mut root)?;
            }
            Event::Text(text) => {
                append_text(&mut stack, &text.xml10_content())?;
            }
            Event::GeneralRef(reference) => {
                let name = reference.into_inner();
                let resolved = resolve_reference(&name)
                    .ok_or_else(|| format!("XML entity '&{name};' is not allowed"))?;
                append_text(&mut stack, &resolved)?;
            }
            Event::CData(data) => {
                append_text(&mut stack, &data.into_inner())?;
            }
            Event::DocType(_) => return Err("XML with a DOCTYPE is not accepted".into()),
            Event::PI(_) => return Err("XML processing instructions are not accepted".into()),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("XML ends before its root element is closed".into());
    }
    root.ok_or_else(|| "XML has no root element".into())
}

/// The five predefined entities and character references; nothing else is expanded.
fn resolve_reference(name: &str) -> Option<String> {
    let predefined = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    };
    if let Some(c) = predefined {
        return Some(c.to_string());
    }
    let code = name.strip_prefix('#')?;
    let value = match code.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => code.parse().ok()?,
    };
    char::from_u32(value).map(String::from)
}

fn append_text(stack: &mut [Node], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(node) => {
            node.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("XML has text outside the root element".into()),
    }
}

struct Node {
    name: String,
    children: Vec<(String, Value)>,
    text: String,
}

impl Node {
    fn new(name: String) -> Node {
        Node {
            name,
            children: Vec::new(),
            text: String::new(),
        }
    }

    fn into_value(self) -> Value {
        if self.children.is_empty() {
            return Value::String(self.text);
        }
        if self.children.iter().all(|(name, _)| name == "item") {
            return Value::Array(self.children.into_iter().map(|(_, value)| value).collect());
        }
        let mut map = Map::new();
        for (name, value) in self.children {
            match map.get_mut(&name) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    map.insert(name, value);
                }
            }
        }
        Value::Object(map)
    }
}

fn close(node: Node, stack: &mut [Node], root: &mut Option<Value>) -> Result<(), String> {
    let name = node.name.clone();
    let value = node.into_value();
    match stack.last_mut() {
        Some(parent) => parent.children.push((name, value)),
        None if root.is_none() => *root = Some(value),
        None => return Err("XML has more than one root element".into()),
    }
    Ok(())
}

fn local_name(qualified: &str) -> String {
    qualified.rsplit(':').next().unwrap_or(qualified).to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    #[test]
    fn negotiates_accept_first_then_body_type() {
        let mut headers = HeaderMap::new();
        assert_eq!(Format::negotiate(&headers), Format::Json);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        assert_eq!(Format::negotiate(&headers), Format::Xml);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(Format::negotiate(&headers), Format::Json);
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("text/html, text/xml;q=0.9"),
        );
        assert_eq!(Format::negotiate(&headers), Format::Xml);
    }

    #[test]
    fn writes_envelopes_with_items_and_escaping() {
        let xml = to_xml(
            "response",
            &json!({"resource": {"list": [1, "a<b"], "9lives": null}, "message": "x & y"}),
        );
        let text = String::from_utf8(xml).unwrap();
        assert!(
            text.contains("<list><item>1</item><item>a&lt;b</item></list>"),
            "{text}"
        );
        assert!(text.contains("<item key=\"9lives\"/>"), "{text}");
        assert!(text.contains("<message>x &amp; y</message>"), "{text}");
    }

    #[test]
    fn reads_documents_into_json() {
        let value = from_xml(
            br#"<?xml version="1.0"?><request><schema>abc</schema><tags><item>a</item><item>b</item></tags><n>1</n><n>2</n><amp>a &amp; b &#65;</amp></request>"#,
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"schema": "abc", "tags": ["a", "b"], "n": ["1", "2"], "amp": "a & b A"})
        );
    }

    #[test]
    fn refuses_doctypes_entities_and_malformed_input() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><r>&lol;</r>"#;
        assert!(from_xml(bomb).unwrap_err().contains("DOCTYPE"));
        assert!(from_xml(b"<r>&ext;</r>").unwrap_err().contains("entity"));
        assert!(from_xml(b"<r><a></r>").is_err());
        assert!(from_xml(b"").is_err());
        assert!(from_xml(b"<a/><b/>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(from_xml(deep.as_bytes()).is_err());
    }
}
