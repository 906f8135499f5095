//! `/v1/soap`: the Flowize SOAP API over raw HTTP with envelopes exactly as the reference prints
//! them (SOAP 1.1 and 1.2, rpc/encoded and literal), its faults, isolation between
//! organizations, the WSDLs, and real SOAP clients (zeep, suds, node-soap, PHP's SoapClient)
//! driving every operation through a WSDL.

mod clients;
mod faults;
mod isolation;
mod operations;
mod oracle;
mod wsdl;

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flowline_auth::{CreatedApplication, CreatedOrganization};
use reqwest::Method;
use reqwest::header::HeaderMap;

pub const SOAP11_TYPE: &str = "text/xml; charset=utf-8";
pub const SOAP12_TYPE: &str = "application/soap+xml; charset=utf-8";

/// The reference's request envelope, verbatim but for the operation and the values.
const REFERENCE_ENVELOPE: &str = r#"<soapenv:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
   <soapenv:Header/>
   <soapenv:Body>
BODY
   </soapenv:Body>
</soapenv:Envelope>"#;

/// The reference's `AuthenticationObject`, filled in.
pub fn authentication(org: &CreatedOrganization, app: &CreatedApplication) -> String {
    format!(
        r#"<AuthenticationObject xsi:type="mym:AuthenticationObject">
               <!--You may enter the following 3 items in any order-->
               <Apikey xsi:type="xsd:string">{}</Apikey>
               <Appkey xsi:type="xsd:string">{}</Appkey>
               <Version xsi:type="xsd:string">1</Version>
            </AuthenticationObject>"#,
        org.api_key, app.app_key
    )
}

/// A reference-style (rpc/encoded, SOAP 1.1) envelope calling `operation` with `fields` inside
/// its `input`.
pub fn envelope(operation: &str, request_type: &str, fields: &str) -> String {
    REFERENCE_ENVELOPE.replace(
        "BODY",
        &format!(
            r#"      <mym:{operation}>
         <input xsi:type="mym:{request_type}">
            {fields}
         </input>
      </mym:{operation}>"#
        ),
    )
}

/// A document/literal SOAP 1.2 envelope, as zeep or .NET write one: other prefixes, no
/// `xsi:type`.
pub fn literal12(operation: &str, fields: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ns0:Envelope xmlns:ns0="http://www.w3.org/2003/05/soap-envelope" xmlns:ns1="Flowize"><ns0:Body><ns1:{operation}><input>{fields}</input></ns1:{operation}></ns0:Body></ns0:Envelope>"#
    )
}

/// `<DataRecordObject>` with the reference's three fields.
pub fn data_record_object(uuid: &str, execution_time: &str, data: &str) -> String {
    format!(
        r#"<DataRecordObject xsi:type="mym:DataRecordObject">
               <!--You may enter the following 3 items in any order-->
               <Uuid xsi:type="xsd:string">{uuid}</Uuid>
               <ExecutionTime xsi:type="xsd:string">{execution_time}</ExecutionTime>
               <Data xsi:type="xsd:string">{}</Data>
            </DataRecordObject>"#,
        STANDARD.encode(data)
    )
}

/// `<FlowDiagramObject>` with the reference's three fields.
pub fn flow_diagram_object(flow: &str, flow_id: &str, status: &str) -> String {
    format!(
        r#"<FlowDiagramObject xsi:type="mym:FlowDiagramObject">
               <!--You may enter the following 4 items in any order-->
               <Flow xsi:type="xsd:string">{flow}</Flow>
               <FlowId xsi:type="xsd:string">{flow_id}</FlowId>
               <Status xsi:type="xsd:string">{status}</Status>
            </FlowDiagramObject>"#
    )
}

/// `<SchemaObject>` with the reference's three fields, base64-encoding the two JSON texts.
pub fn schema_object(schema: &str, record: &str) -> String {
    format!(
        r#"<SchemaObject xsi:type="mym:SchemaObject">
               <!--You may enter the following 3 items in any order-->
               <Url xsi:type="xsd:string">www.example.nl</Url>
               <Schema xsi:type="xsd:string">{}</Schema>
               <DataRecord xsi:type="xsd:string">{}</DataRecord>
            </SchemaObject>"#,
        STANDARD.encode(schema),
        STANDARD.encode(record)
    )
}

/// An answer of the SOAP endpoint.
#[derive(Debug)]
pub struct Soap {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Soap {
    /// The text of the first element named `name` (any prefix), unescaped.
    pub fn field(&self, name: &str) -> String {
        field(&self.text, name).unwrap_or_else(|| panic!("no <{name}> in {}", self.text))
    }

    /// Asserts a successful answer of `operation`: HTTP 200 and the reference's `Response`.
    pub fn assert_success(&self, operation: &str, id: &str, code: u16) -> &Soap {
        assert_eq!(self.status, 200, "{}", self.text);
        assert!(
            self.text.contains(&format!(":{operation}Response")),
            "{}",
            self.text
        );
        assert!(
            self.text.contains(&format!("<{operation}Result")),
            "{}",
            self.text
        );
        assert_eq!(self.field("Id"), id, "{}", self.text);
        assert_eq!(self.field("Code"), code.to_string(), "{}", self.text);
        assert_eq!(self.field("RequestIP"), "127.0.0.1");
        self
    }

    /// Asserts a SOAP 1.1 Fault sent with HTTP 500: its `faultcode`, and a `faultstring`
    /// containing `needle` that the detail repeats.
    pub fn assert_fault(&self, faultcode: &str, detail_code: u16, needle: &str) -> &Soap {
        assert_eq!(self.status, 500, "{}", self.text);
        assert_eq!(self.headers["content-type"], SOAP11_TYPE, "{}", self.text);
        assert_eq!(self.field("faultcode"), faultcode, "{}", self.text);
        let message = self.field("faultstring");
        assert!(
            message.contains(needle),
            "faultstring {message:?} should contain {needle:?}"
        );
        assert!(
            self.text.contains(&format!(
                "<item><key>code</key><value>{detail_code}</value></item>"
            )),
            "{}",
            self.text
        );
        assert!(
            self.text.contains("<item><key>message</key><value>"),
            "{}",
            self.text
        );
        self
    }

    /// Asserts a SOAP 1.2 Fault: `env:Code/env:Value` and the detail's code.
    pub fn assert_fault12(&self, value: &str, detail_code: u16, needle: &str) -> &Soap {
        assert_eq!(self.status, 500, "{}", self.text);
        assert_eq!(self.headers["content-type"], SOAP12_TYPE);
        assert!(
            self.text
                .contains(&format!("<env:Code><env:Value>env:{value}</env:Value>")),
            "{}",
            self.text
        );
        assert!(self.field("Text").contains(needle), "{}", self.text);
        assert!(
            self.text.contains(&format!(
                "<item><key>code</key><value>{detail_code}</value></item>"
            )),
            "{}",
            self.text
        );
        self
    }

    /// The `Resource` of an answer as JSON (the read operations).
    pub fn json_resource(&self) -> serde_json::Value {
        let text = self.field("Resource");
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
    }

    /// The `Resource` of an answer as base64 of JSON (the record writes).
    pub fn base64_resource(&self) -> serde_json::Value {
        let bytes = STANDARD.decode(self.field("Resource")).expect("base64");
        serde_json::from_slice(&bytes).expect("JSON")
    }
}

/// The text of the first element whose local name is `name`, with the references this server
/// writes resolved.
pub fn field(text: &str, name: &str) -> Option<String> {
    let mut rest = text;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        let tag_end = rest.find(['>', ' ', '/'])?;
        let tag = &rest[..tag_end];
        let local = tag.rsplit(':').next().unwrap_or(tag);
        if local == name && !tag.starts_with('/') {
            let open_end = rest.find('>')?;
            if rest[..open_end].ends_with('/') {
                return Some(String::new());
            }
            let content = &rest[open_end + 1..];
            let close = content.find(&format!("</{tag}>"))?;
            return Some(unescape(&content[..close]));
        }
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#13;", "\r")
        .replace("&amp;", "&")
}

/// POSTs `xml` to `/v1/soap` with `content_type`.
pub async fn post(app: &TestApp, content_type: &str, xml: impl Into<String>) -> Soap {
    let response = app
        .anonymous(Method::POST, "/v1/soap")
        .header("Content-Type", content_type)
        .body(xml.into())
        .send()
        .await
        .expect("POST /v1/soap");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    Soap {
        status,
        headers,
        text,
    }
}

/// POSTs a SOAP 1.1 envelope, as the reference's clients do (with a SOAPAction).
pub async fn post11(app: &TestApp, xml: impl Into<String>) -> Soap {
    post(app, SOAP11_TYPE, xml).await
}
