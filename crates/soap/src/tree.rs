//! A bounded, namespace-aware element tree read with quick-xml.
//!
//! An envelope is small and its fields may come in any order, so it is read whole into a tree
//! before it is interpreted. Reading refuses what a SOAP message must not hold (a DOCTYPE,
//! processing instructions — WS-I BP R1008/R1009 — entities other than the five predefined
//! ones, SOAP-encoding multi-reference graphs) and bounds everything that could make it costly:
//! size, depth, element and attribute counts, and text length. Memory stays proportional to the
//! input, since nothing is ever expanded.

use crate::Limits;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

pub(crate) const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub(crate) const SOAP11_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const SOAP12_ENV_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub(crate) const SOAP11_ENC_NS: &str = "http://schemas.xmlsoap.org/soap/encoding/";
pub(crate) const SOAP12_ENC_NS: &str = "http://www.w3.org/2003/05/soap-encoding";

/// The most namespace declarations in scope at once.
const MAX_NAMESPACE_BINDINGS: usize = 64;

/// The namespace of an element or type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// No namespace: an unprefixed name with no default namespace in scope.
    None,
    Uri(String),
    /// A prefix that no `xmlns:` declares. The reference's own examples use such prefixes
    /// (`tns:AuthenticationHeader`), so it is kept for the interpreter to judge.
    Undeclared(String),
}

impl Namespace {
    fn resolved(result: ResolveResult<'_>) -> Namespace {
        match result {
            ResolveResult::Unbound => Namespace::None,
            ResolveResult::Bound(namespace) => Namespace::Uri(namespace.0.to_owned()),
            ResolveResult::Unknown(prefix) => Namespace::Undeclared(prefix),
        }
    }

    pub(crate) fn uri(&self) -> Option<&str> {
        match self {
            Namespace::Uri(uri) => Some(uri),
            _ => None,
        }
    }
}

/// A namespace-qualified name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub namespace: Namespace,
    pub local: String,
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Namespace::Uri(uri) => write!(f, "{{{uri}}}{}", self.local),
            Namespace::Undeclared(prefix) => write!(f, "{prefix}:{}", self.local),
            Namespace::None => f.write_str(&self.local),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub name: Name,
    /// `xsi:type`, its QName resolved against the namespaces in scope.
    pub xsi_type: Option<Name>,
    /// `xsi:nil="true"`.
    pub nil: bool,
    /// `mustUnderstand="1"` (or `true`) in either SOAP envelope namespace.
    pub must_understand: bool,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    fn new(name: Name) -> Element {
        Element {
            name,
            xsi_type: None,
            nil: false,
            must_understand: false,
            children: Vec::new(),
            text: String::new(),
        }
    }

    /// Whether the element holds text other than whitespace.
    pub(crate) fn has_text(&self) -> bool {
        !self.text.trim().is_empty()
    }
}

/// A document read whole.
#[derive(Debug)]
pub(crate) struct Document {
    pub root: Element,
    /// Whether the sender wrote SOAP encoding: an `xsi:type` or an `encodingStyle` anywhere.
    pub encoded: bool,
}

/// Why a document could not be read; the message names the problem for a Client fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

fn malformed(message: impl Into<String>) -> Malformed {
    Malformed(message.into())
}

pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Result<Document, Malformed> {
    if bytes.len() > limits.max_bytes {
        return Err(malformed(format!(
            "the message is larger than {} bytes",
            limits.max_bytes
        )));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFE\xFF") || bytes.starts_with(b"\xFF\xFE") {
        return Err(malformed(
            "the message must be encoded in UTF-8, not UTF-16",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        malformed(format!(
            "the message is not valid UTF-8 (at byte {})",
            error.valid_up_to()
        ))
    })?;
    TreeReader::new(text, limits).read()
}

struct TreeReader<'a> {
    reader: NsReader<&'a [u8]>,
    limits: &'a Limits,
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    encoded: bool,
}

impl<'a> TreeReader<'a> {
    fn new(text: &'a str, limits: &'a Limits) -> TreeReader<'a> {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = true;
        config.check_end_names = true;
        reader
            .resolver_mut()
            .set_max_namespace_bindings(MAX_NAMESPACE_BINDINGS);
        TreeReader {
            reader,
            limits,
            open: Vec::new(),
            root: None,
            elements: 0,
            encoded: false,
        }
    }

    fn read(mut self) -> Result<Document, Malformed> {
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(error) => {
                    return Err(malformed(format!(
                        "malformed XML at byte {}: {error}",
                        self.reader.error_position()
                    )));
                }
            };
            match event {
                Event::Start(start) => self.open_element(&start)?,
                Event::End(_) => self.close_element()?,
                Event::Empty(start) => {
                    // Not produced while empty elements are expanded; handled all the same.
                    self.open_element(&start)?;
                    self.close_element()?;
                }
                Event::Text(text) => self.append_text(&text.xml10_content())?,
                Event::CData(data) => self.append_text(&data.into_inner())?,
                Event::GeneralRef(reference) => {
                    let name = reference.into_inner();
                    let character = resolve_reference(&name).ok_or_else(|| {
                        malformed(format!(
                            "the entity reference '&{name};' is not allowed: only &lt; &gt; \
                             &amp; &apos; &quot; and character references are"
                        ))
                    })?;
                    self.append_text(character.encode_utf8(&mut [0; 4]))?;
                }
                Event::DocType(_) => {
                    return Err(malformed(
                        "a DOCTYPE is not allowed in a SOAP message (WS-I BP R1008)",
                    ));
                }
                Event::PI(_) => {
                    return Err(malformed(
                        "processing instructions are not allowed in a SOAP message \
                         (WS-I BP R1009)",
                    ));
                }
                Event::Decl(declaration) => check_declaration(&declaration)?,
                Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = self.open.last() {
            return Err(malformed(format!(
                "the message ends before the element '{}' is closed",
                open.name.local
            )));
        }
        let root = self.root.ok_or_else(|| malformed("the message is empty"))?;
        Ok(Document {
            root,
            encoded: self.encoded,
        })
    }

    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<(), Malformed> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(malformed(format!(
                "the message has more than {} elements",
                self.limits.max_elements
            )));
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(malformed(format!(
                "the message nests elements deeper than {} levels",
                self.limits.max_depth
            )));
        }
        if self.root.is_some() {
            return Err(malformed("the message has content after its root element"));
        }
        let resolver = self.reader.resolver();
        let (namespace, local) = resolver.resolve_element(start.name());
        let mut element = Element::new(Name {
            namespace: Namespace::resolved(namespace),
            local: local.as_ref().to_owned(),
        });
        self.read_attributes(start, &mut element)?;
        self.open.push(element);
        Ok(())
    }

    fn read_attributes(
        &mut self,
        start: &BytesStart<'_>,
        element: &mut Element,
    ) -> Result<(), Malformed> {
        let resolver = self.reader.resolver();
        for (index, attribute) in start.attributes().with_checks(true).enumerate() {
            if index >= self.limits.max_attributes {
                return Err(malformed(format!(
                    "the element '{}' has more than {} attributes",
                    element.name.local, self.limits.max_attributes
                )));
            }
            let attribute = attribute.map_err(|error| {
                malformed(format!(
                    "malformed attribute in the element '{}': {error}",
                    element.name.local
                ))
            })?;
            let key = attribute.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let (namespace, local) = resolver.resolve_attribute(attribute.key);
            let namespace = Namespace::resolved(namespace);
            let local = local.as_ref();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|error| {
                    malformed(format!(
                        "malformed value of the attribute '{key}' in the element '{}': {error}",
                        element.name.local
                    ))
                })?;
            match (namespace.uri(), local) {
                (Some(XSI_NS), "type") => {
                    self.encoded = true;
                    let (type_namespace, type_local) = resolver.resolve(QName(value.trim()), true);
                    element.xsi_type = Some(Name {
                        namespace: Namespace::resolved(type_namespace),
                        local: type_local.as_ref().to_owned(),
                    });
                }
                (Some(XSI_NS), "nil") => element.nil = matches!(value.trim(), "true" | "1"),
                (Some(SOAP11_ENV_NS | SOAP12_ENV_NS), "encodingStyle") => self.encoded = true,
                (Some(SOAP11_ENV_NS | SOAP12_ENV_NS), "mustUnderstand") => {
                    element.must_understand = matches!(value.trim(), "true" | "1");
                }
                (None, "href" | "id") | (Some(SOAP12_ENC_NS), "ref" | "id") => {
                    return Err(malformed(format!(
                        "SOAP-encoding references ('{key}' on the element '{}') are not \
                         accepted: send every value in place",
                        element.name.local
                    )));
                }
                (Some(SOAP11_ENC_NS), "arrayType" | "offset" | "position") => {
                    return Err(malformed(format!(
                        "SOAP-encoded arrays ('{key}' on the element '{}') are not accepted",
                        element.name.local
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn close_element(&mut self) -> Result<(), Malformed> {
        let element = self
            .open
            .pop()
            .ok_or_else(|| malformed("an end tag closes no element"))?;
        match self.open.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn append_text(&mut self, text: &str) -> Result<(), Malformed> {
        let Some(element) = self.open.last_mut() else {
            return if text.trim().is_empty() {
                Ok(())
            } else {
                Err(malformed("the message has text outside its root element"))
            };
        };
        if element.text.len() + text.len() > self.limits.max_text_bytes {
            return Err(malformed(format!(
                "the text of the element '{}' is longer than {} bytes",
                element.name.local, self.limits.max_text_bytes
            )));
        }
        element.text.push_str(text);
        Ok(())
    }
}

/// Only UTF-8 documents are read: a declaration that names another encoding is refused rather
/// than misread.
fn check_declaration(declaration: &quick_xml::events::BytesDecl<'_>) -> Result<(), Malformed> {
    let Some(encoding) = declaration.encoding() else {
        return Ok(());
    };
    let encoding = encoding
        .map_err(|error| malformed(format!("malformed XML declaration: {error}")))?
        .to_ascii_lowercase();
    if encoding == "utf-8" || encoding == "utf8" {
        Ok(())
    } else {
        Err(malformed(format!(
            "the XML declaration names the encoding '{encoding}': only UTF-8 is accepted"
        )))
    }
}

/// The five predefined entities and character references of characters XML allows.
fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "amp" => return Some('&'),
        "apos" => return Some('\''),
        "quot" => return Some('"'),
        _ => {}
    }
    let code = name.strip_prefix('#')?;
    let value = match code.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => code.parse().ok()?,
    };
    char::from_u32(value).filter(|character| is_xml_char(*character))
}

/// XML 1.0's `Char` production.
pub(crate) fn is_xml_char(character: char) -> bool {
    matches!(character,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tree(xml: &str) -> Result<Document, Malformed> {
        read(xml.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_prefixes_and_xsi_types_by_namespace() {
        let document = tree(
            r#"<a:root xmlns:a="urn:a" xmlns:t="urn:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
                 <child xsi:type="t:Thing">x &amp; y &#65;<![CDATA[<z>]]></child><b:other/></a:root>"#,
        )
        .unwrap();
        assert_eq!(document.root.name.namespace, Namespace::Uri("urn:a".into()));
        let child = &document.root.children[0];
        assert_eq!(child.text, "x & y A<z>");
        assert_eq!(
            child.xsi_type,
            Some(Name {
                namespace: Namespace::Uri("urn:t".into()),
                local: "Thing".into()
            })
        );
        assert!(document.encoded);
        assert_eq!(
            document.root.children[1].name.namespace,
            Namespace::Undeclared("b".into())
        );
    }

    #[test]
    fn refuses_what_a_soap_message_must_not_hold() {
        let refused = |xml: &str| tree(xml).unwrap_err().0;
        assert!(refused(r#"<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>"#).contains("DOCTYPE"));
        assert!(refused("<?php echo 1; ?><r/>").contains("processing instructions"));
        assert!(refused("<r>&x;</r>").contains("entity reference"));
        assert!(refused("<r>&#0;</r>").contains("entity reference"));
        assert!(refused(r##"<r><a href="#id1"/></r>"##).contains("references"));
        assert!(refused(r#"<r><a id="id1"/></r>"#).contains("references"));
        assert!(refused("<r><a></r>").contains("malformed XML"));
        assert!(refused("<r/><s/>").contains("after its root"));
        assert!(refused("").contains("empty"));
        assert!(refused("<r>").contains("before the element 'r' is closed"));
        assert!(refused(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#).contains("UTF-8"));
        assert!(
            read(b"<r>\xff</r>", &Limits::default())
                .unwrap_err()
                .0
                .contains("UTF-8")
        );
    }

    #[test]
    fn bounds_depth_elements_text_and_size() {
        let limits = Limits {
            max_bytes: 200,
            max_depth: 3,
            max_elements: 4,
            max_text_bytes: 5,
            max_attributes: 2,
        };
        let refused = |xml: &str| read(xml.as_bytes(), &limits).unwrap_err().0;
        assert!(refused("<a><b><c><d/></c></b></a>").contains("deeper than 3"));
        assert!(refused("<a><b/><b/><b/><b/></a>").contains("more than 4 elements"));
        assert!(refused("<a>123456</a>").contains("longer than 5 bytes"));
        assert!(refused(r#"<a x="1" y="2" z="3"/>"#).contains("more than 2 attributes"));
        assert!(refused(&format!("<a>{}</a>", " ".repeat(300))).contains("larger than 200"));
        assert!(read(b"<a><b><c/></b></a>", &limits).is_ok());
    }
}
