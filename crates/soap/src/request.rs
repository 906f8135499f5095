//! From an envelope to a typed request: the SOAP version, the operation (the first child of
//! Body, by namespace and local name — never by SOAPAction), the caller's credentials and the
//! operation's fields.
//!
//! Requests are read as the reference prints them and as generated clients write them: the
//! `input` wrapper, children in any order, any prefixes, `xsi:type` optional but checked when
//! present (by namespace URI, not prefix), `encodingStyle` ignored, `xsi:nil` meaning absent.

use crate::fault::{Fault, FaultCode};
use crate::operation::{Operation, Part, operation_names};
use crate::tree::{self, Element, Name, Namespace, SOAP11_ENC_NS, SOAP11_ENV_NS, SOAP12_ENV_NS};
use crate::{FLOWIZE_NAMESPACE, Limits, SoapVersion, Style};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
/// The reference's introduction spells the SOAP 1.2 namespace with a trailing slash.
const SOAP12_ENV_NS_SLASH: &str = "http://www.w3.org/2003/05/soap-envelope/";

/// A request read from an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub version: SoapVersion,
    pub style: Style,
    pub credentials: Option<Credentials>,
    pub call: Call,
}

impl Request {
    pub fn operation(&self) -> Operation {
        self.call.operation()
    }
}

/// What the caller presented to prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An `AuthenticationObject` in the body. Either key may be missing; the caller says which.
    ApiKey {
        api_key: Option<String>,
        app_key: Option<String>,
    },
    /// `AccessToken` or `SessionID` of an `AuthenticationHeader` in the SOAP Header.
    AccessToken(String),
}

/// A `SchemaObject`: the base64 texts exactly as sent (the schema service decodes them, as it
/// does for REST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaObject {
    pub url: Option<String>,
    pub schema: Option<String>,
    pub data_record: Option<String>,
}

/// A record to insert: `Data` decoded from base64 into the JSON text it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub data: String,
    pub uuid: Option<String>,
    pub execution_time: Option<String>,
    /// The flow's id (`FlowId`) or, without one, its name (`Flow`).
    pub flow: String,
}

/// An operation with its fields, required ones present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    InsertSchema(SchemaObject),
    InsertRecord(NewRecord),
    Webhook { uri: String, payload: String },
    GetRecord { uuid: String },
    GetSchema,
    GetFlowDiagram { flow: String },
    UpdateRecord { uuid: String, data: String },
    UpdateSchema(SchemaObject),
    ChangeFlowStatus { flow_id: String, status: String },
    DeleteSchema,
    DeleteRecord { uuid: String },
}

impl Call {
    pub fn operation(&self) -> Operation {
        match self {
            Call::InsertSchema(_) => Operation::InsertSchema,
            Call::InsertRecord(_) => Operation::InsertRecord,
            Call::Webhook { .. } => Operation::Webhook,
            Call::GetRecord { .. } => Operation::GetRecord,
            Call::GetSchema => Operation::GetSchema,
            Call::GetFlowDiagram { .. } => Operation::GetFlowDiagram,
            Call::UpdateRecord { .. } => Operation::UpdateRecord,
            Call::UpdateSchema(_) => Operation::UpdateSchema,
            Call::ChangeFlowStatus { .. } => Operation::ChangeFlowStatus,
            Call::DeleteSchema => Operation::DeleteSchema,
            Call::DeleteRecord { .. } => Operation::DeleteRecord,
        }
    }
}

/// A message that could not be read as a request: the fault to answer, and the SOAP version
/// to answer it in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{fault}")]
pub struct Rejection {
    pub version: SoapVersion,
    pub fault: Fault,
}

/// Reads a request. `hint` is the version the transport suggests (SOAP 1.2's media type),
/// used for faults about messages too broken to tell their own version.
pub fn parse(bytes: &[u8], hint: SoapVersion, limits: &Limits) -> Result<Request, Rejection> {
    let reject = |version: SoapVersion| move |fault: Fault| Rejection { version, fault };
    let document = tree::read(bytes, limits)
        .map_err(|malformed| Fault::client(malformed.0))
        .map_err(reject(hint))?;
    let version = envelope_version(&document.root).map_err(reject(hint))?;
    let style = if document.encoded {
        Style::Encoded
    } else {
        Style::Literal
    };
    let (header, body) = header_and_body(&document.root, version).map_err(reject(version))?;
    read_request(header, body, version, style).map_err(reject(version))
}

fn envelope_version(root: &Element) -> Result<SoapVersion, Fault> {
    if root.name.local != "Envelope" {
        return Err(Fault::client(format!(
            "the root element is '{}', not a SOAP Envelope",
            root.name
        )));
    }
    match root.name.namespace.uri() {
        Some(SOAP11_ENV_NS) => Ok(SoapVersion::Soap11),
        Some(SOAP12_ENV_NS | SOAP12_ENV_NS_SLASH) => Ok(SoapVersion::Soap12),
        _ => Err(Fault::client(format!(
            "the Envelope is in the namespace '{}': expected {SOAP11_ENV_NS} (SOAP 1.1) or \
             {SOAP12_ENV_NS} (SOAP 1.2)",
            namespace_text(&root.name.namespace)
        ))
        .with_code(FaultCode::VersionMismatch)),
    }
}

fn namespace_text(namespace: &Namespace) -> String {
    match namespace {
        Namespace::None => String::new(),
        Namespace::Uri(uri) => uri.clone(),
        Namespace::Undeclared(prefix) => format!("{prefix}: (undeclared)"),
    }
}

fn is_envelope_element(element: &Element, local: &str) -> bool {
    element.name.local == local
        && matches!(
            element.name.namespace.uri(),
            Some(SOAP11_ENV_NS | SOAP12_ENV_NS | SOAP12_ENV_NS_SLASH)
        )
}

/// The Envelope's optional Header and its Body, in that order, and nothing else.
fn header_and_body(
    envelope: &Element,
    version: SoapVersion,
) -> Result<(Option<&Element>, &Element), Fault> {
    if envelope.has_text() {
        return Err(Fault::client(
            "the Envelope holds text outside its Header and Body",
        ));
    }
    let namespace = envelope.name.namespace.uri().unwrap_or_default();
    let mut header = None;
    let mut body = None;
    for child in &envelope.children {
        let in_envelope = child.name.namespace.uri() == Some(namespace);
        match child.name.local.as_str() {
            "Header" if in_envelope && header.is_none() && body.is_none() => header = Some(child),
            "Body" if in_envelope && body.is_none() => body = Some(child),
            _ => {
                return Err(Fault::client(format!(
                    "unexpected element '{}' in the Envelope: a SOAP {} Envelope holds an \
                     optional Header and one Body",
                    child.name,
                    version.number()
                )));
            }
        }
    }
    let body = body.ok_or_else(|| Fault::client("the Envelope has no Body"))?;
    Ok((header, body))
}

fn read_request(
    header: Option<&Element>,
    body: &Element,
    version: SoapVersion,
    style: Style,
) -> Result<Request, Fault> {
    let mut token = match header {
        Some(header) => header_token(header)?,
        None => None,
    };
    if body.has_text() {
        return Err(Fault::client(
            "the Body holds text outside its operation element",
        ));
    }
    let operation_element = match body.children.as_slice() {
        [] => {
            return Err(Fault::client(format!(
                "the Body is empty: expected one of {}",
                operation_names()
            )));
        }
        [single] => single,
        [_, second, ..] => {
            return Err(Fault::client(format!(
                "the Body holds more than one element ('{}' follows the operation)",
                second.name
            )));
        }
    };
    let operation = operation_of(operation_element)?;
    let input = input_of(operation_element, operation)?;
    let mut fields = InputFields::default();
    for child in &input.children {
        read_part(child, operation, &mut fields, &mut token)?;
    }
    let credentials = match (token, fields.authentication) {
        (Some(token), _) => Some(Credentials::AccessToken(token)),
        (None, Some(object)) => Some(api_key_credentials(&object)?),
        (None, None) => None,
    };
    let call = build_call(operation, fields.objects)?;
    Ok(Request {
        version,
        style,
        credentials,
        call,
    })
}

/// The access token of an `AuthenticationHeader`, if the Header has one. A header block
/// marked `mustUnderstand` that is not ours is refused, as SOAP requires.
fn header_token(header: &Element) -> Result<Option<String>, Fault> {
    let mut token = None;
    for block in &header.children {
        if block.name.local == "AuthenticationHeader" {
            token = authentication_header_token(block)?.or(token);
        } else if block.must_understand {
            return Err(Fault::client(format!(
                "the header '{}' is marked mustUnderstand, and this server does not \
                 understand it",
                block.name
            ))
            .with_code(FaultCode::MustUnderstand));
        }
    }
    Ok(token)
}

/// `AccessToken` (or the reference's other name for it, `SessionID`).
fn authentication_header_token(block: &Element) -> Result<Option<String>, Fault> {
    let mut access_token = None;
    let mut session_id = None;
    for child in &block.children {
        let slot = match child.name.local.as_str() {
            "AccessToken" => &mut access_token,
            "SessionID" => &mut session_id,
            _ => {
                return Err(Fault::client(format!(
                    "AuthenticationHeader: unexpected element '{}'; expected AccessToken or \
                     SessionID",
                    child.name.local
                )));
            }
        };
        *slot = leaf_text("AuthenticationHeader", child)?;
    }
    Ok(access_token.or(session_id))
}

fn operation_of(element: &Element) -> Result<Operation, Fault> {
    match &element.name.namespace {
        Namespace::None => {}
        Namespace::Uri(uri) if uri == FLOWIZE_NAMESPACE => {}
        Namespace::Undeclared(prefix) => {
            return Err(Fault::client(format!(
                "the prefix '{prefix}' of the operation element '{}' is not declared: \
                 declare xmlns:{prefix}=\"{FLOWIZE_NAMESPACE}\"",
                element.name.local
            )));
        }
        Namespace::Uri(_) => {
            return Err(Fault::client(format!(
                "unknown operation '{}': operations are in the namespace \
                 '{FLOWIZE_NAMESPACE}'",
                element.name
            )));
        }
    }
    Operation::from_name(&element.name.local).ok_or_else(|| {
        Fault::client(format!(
            "unknown operation '{}': expected one of {}",
            element.name.local,
            operation_names()
        ))
    })
}

/// The element whose children are the operation's fields: its `input` part, or the operation
/// element itself when a hand-written request leaves the wrapper out.
fn input_of(element: &Element, operation: Operation) -> Result<&Element, Fault> {
    if element.has_text() {
        return Err(Fault::client(format!(
            "{operation}: the operation element holds text; expected its 'input'"
        )));
    }
    let input = match element.children.as_slice() {
        [input] if input.name.local == "input" => input,
        _ => return Ok(element),
    };
    check_type(input, "input", &[flowize_type(operation.request_type())])?;
    if input.has_text() {
        return Err(Fault::client(format!(
            "{operation}: 'input' holds text; expected {}",
            expected_parts(operation)
        )));
    }
    Ok(input)
}

fn expected_parts(operation: Operation) -> String {
    operation
        .parts()
        .iter()
        .map(|part| part.element())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The fields of an `input`, as read so far.
#[derive(Default)]
struct InputFields {
    authentication: Option<Object>,
    objects: Vec<(Part, Object)>,
}

/// An object's fields by name; a plain field is an object with one field named after it.
#[derive(Default, Debug)]
struct Object(Vec<(&'static str, String)>);

impl Object {
    fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

fn read_part(
    element: &Element,
    operation: Operation,
    fields: &mut InputFields,
    token: &mut Option<String>,
) -> Result<(), Fault> {
    let local = element.name.local.as_str();
    // The reference's introduction puts the SOAP Header, or its AuthenticationHeader, inside
    // `input`.
    if local == "AuthenticationHeader" {
        *token = authentication_header_token(element)?.or(token.take());
        return Ok(());
    }
    if is_envelope_element(element, "Header") {
        *token = header_token(element)?.or(token.take());
        return Ok(());
    }
    if local == Part::Authentication.element() {
        if fields.authentication.is_some() {
            return Err(repeated(operation, local));
        }
        fields.authentication = Some(read_object(element, Part::Authentication)?);
        return Ok(());
    }
    let part = operation
        .parts()
        .iter()
        .copied()
        .find(|part| part.element() == local)
        .ok_or_else(|| {
            Fault::client(format!(
                "{operation}: unexpected element '{local}'; expected {}",
                expected_parts(operation)
            ))
        })?;
    if fields.objects.iter().any(|(seen, _)| *seen == part) {
        return Err(repeated(operation, local));
    }
    if element.nil {
        return Ok(());
    }
    let object = if part.fields().is_empty() {
        let value = leaf_text(operation.name(), element)?.unwrap_or_default();
        Object(vec![(part.element(), value)])
    } else {
        read_object(element, part)?
    };
    fields.objects.push((part, object));
    Ok(())
}

fn repeated(operation: Operation, local: &str) -> Fault {
    Fault::client(format!("{operation}: '{local}' appears more than once"))
}

fn read_object(element: &Element, part: Part) -> Result<Object, Fault> {
    let name = part.element();
    check_type(element, name, &[flowize_type(name)])?;
    if element.has_text() {
        return Err(Fault::client(format!(
            "{name}: holds text; expected the elements {}",
            part.fields().join(", ")
        )));
    }
    let mut object = Object::default();
    for child in &element.children {
        let field = part
            .fields()
            .iter()
            .copied()
            .find(|field| *field == child.name.local)
            .ok_or_else(|| {
                Fault::client(format!(
                    "{name}: unexpected element '{}'; expected {}",
                    child.name.local,
                    part.fields().join(", ")
                ))
            })?;
        if object.0.iter().any(|(seen, _)| *seen == field) {
            return Err(Fault::client(format!(
                "{name}: '{field}' appears more than once"
            )));
        }
        if let Some(value) = leaf_text(name, child)? {
            object.0.push((field, value));
        }
    }
    Ok(object)
}

/// A leaf's trimmed text; `None` when it is `xsi:nil`.
fn leaf_text(parent: &str, element: &Element) -> Result<Option<String>, Fault> {
    let path = format!("{parent}/{}", element.name.local);
    check_type(element, &path, &string_types())?;
    if let Some(child) = element.children.first() {
        return Err(Fault::client(format!(
            "{path}: expected text, found the element '{}'",
            child.name.local
        )));
    }
    if element.nil {
        return Ok(None);
    }
    Ok(Some(element.text.trim().to_owned()))
}

fn flowize_type(local: &'static str) -> (&'static str, &'static str) {
    (FLOWIZE_NAMESPACE, local)
}

/// The simple types a field may declare: the reference's `xsd:string`, SOAP encoding's own
/// string, and the integer types generated clients use for `Version` and `FlowId`.
fn string_types() -> [(&'static str, &'static str); 7] {
    [
        (XSD_NS, "string"),
        (SOAP11_ENC_NS, "string"),
        (XSD_NS, "int"),
        (XSD_NS, "integer"),
        (XSD_NS, "long"),
        (XSD_NS, "anyURI"),
        (XSD_NS, "base64Binary"),
    ]
}

/// An `xsi:type`, when there is one, must name one of the expected types — by namespace URI,
/// whatever the prefix.
fn check_type(element: &Element, path: &str, expected: &[(&str, &str)]) -> Result<(), Fault> {
    let Some(declared) = &element.xsi_type else {
        return Ok(());
    };
    let matches = |(namespace, local): &(&str, &str)| {
        declared.local == *local && declared.namespace.uri() == Some(*namespace)
    };
    if expected.iter().any(matches) {
        return Ok(());
    }
    let expected = expected
        .iter()
        .map(|(namespace, local)| format!("{{{namespace}}}{local}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(Fault::client(format!(
        "{path}: xsi:type is '{}', expected {expected}",
        type_text(declared)
    )))
}

fn type_text(name: &Name) -> String {
    match &name.namespace {
        Namespace::Undeclared(prefix) => format!("{prefix}:{} (undeclared prefix)", name.local),
        _ => name.to_string(),
    }
}

fn api_key_credentials(object: &Object) -> Result<Credentials, Fault> {
    if let Some(version) = object.get("Version")
        && !matches!(version, "1" | "1.0")
    {
        return Err(Fault::client(format!(
            "AuthenticationObject/Version: '{version}' is not supported; send 1"
        )));
    }
    Ok(Credentials::ApiKey {
        api_key: object.get("Apikey").map(str::to_owned),
        app_key: object.get("Appkey").map(str::to_owned),
    })
}

/// The object of `part` that the request sent (an empty one when it sent none).
fn object_of(objects: &[(Part, Object)], part: Part) -> &Object {
    static EMPTY: Object = Object(Vec::new());
    objects
        .iter()
        .find(|(seen, _)| *seen == part)
        .map_or(&EMPTY, |(_, object)| object)
}

fn required(object: &Object, part: Part, field: &str, what: &str) -> Result<String, Fault> {
    object.get(field).map(str::to_owned).ok_or_else(|| {
        let path = if part.fields().is_empty() {
            field.to_owned()
        } else {
            format!("{}/{field}", part.element())
        };
        Fault::client(format!("{path}: is required ({what})"))
    })
}

fn build_call(operation: Operation, objects: Vec<(Part, Object)>) -> Result<Call, Fault> {
    let record = object_of(&objects, Part::DataRecord);
    let flow = object_of(&objects, Part::FlowDiagram);
    let uuid = || required(record, Part::DataRecord, "Uuid", "the data record's uuid");
    let data = || {
        let text = required(record, Part::DataRecord, "Data", "base64-encoded JSON")?;
        decode_data(&text)
    };
    let schema = || {
        let object = object_of(&objects, Part::Schema);
        SchemaObject {
            url: object.get("Url").map(str::to_owned),
            schema: object.get("Schema").map(str::to_owned),
            data_record: object.get("DataRecord").map(str::to_owned),
        }
    };
    Ok(match operation {
        Operation::InsertSchema => Call::InsertSchema(schema()),
        Operation::UpdateSchema => Call::UpdateSchema(schema()),
        Operation::InsertRecord => Call::InsertRecord(NewRecord {
            data: data()?,
            uuid: record.get("Uuid").map(str::to_owned),
            execution_time: record.get("ExecutionTime").map(str::to_owned),
            flow: flow
                .get("FlowId")
                .or_else(|| flow.get("Flow"))
                .map(str::to_owned)
                .ok_or_else(|| {
                    Fault::client(
                        "FlowDiagramObject/Flow: is required (the flow's name, or its id in \
                         FlowId)",
                    )
                })?,
        }),
        Operation::Webhook => Call::Webhook {
            uri: required(
                object_of(&objects, Part::Uri),
                Part::Uri,
                "Uri",
                "the webhook's uri",
            )?,
            payload: required(
                object_of(&objects, Part::Payload),
                Part::Payload,
                "Payload",
                "the payload, as JSON or XML text",
            )?,
        },
        Operation::GetRecord => Call::GetRecord { uuid: uuid()? },
        Operation::UpdateRecord => Call::UpdateRecord {
            uuid: uuid()?,
            data: data()?,
        },
        Operation::DeleteRecord => Call::DeleteRecord { uuid: uuid()? },
        Operation::GetSchema => Call::GetSchema,
        Operation::DeleteSchema => Call::DeleteSchema,
        Operation::GetFlowDiagram => Call::GetFlowDiagram {
            flow: flow
                .get("FlowId")
                .or_else(|| flow.get("Flow"))
                .map(str::to_owned)
                .ok_or_else(|| {
                    Fault::client(
                        "FlowDiagramObject/Flow: is required (the flow's name, or its id in \
                         FlowId)",
                    )
                })?,
        },
        Operation::ChangeFlowStatus => Call::ChangeFlowStatus {
            flow_id: required(flow, Part::FlowDiagram, "FlowId", "the flow diagram's id")?,
            status: required(flow, Part::FlowDiagram, "Status", "the status to change to")?,
        },
    })
}

/// Base64 as clients write it: padded or not, possibly wrapped in lines.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `Data`: base64 of the record's JSON text (UTF-8).
fn decode_data(text: &str) -> Result<String, Fault> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = LENIENT_BASE64
        .decode(compact.as_bytes())
        .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(compact.trim_end_matches('=')))
        .map_err(|error| {
            Fault::client(format!(
                "DataRecordObject/Data: is not valid base64: {error}"
            ))
        })?;
    String::from_utf8(bytes)
        .map_err(|_| Fault::client("DataRecordObject/Data: the decoded data is not UTF-8 text"))
}
