//! Writing answers and faults, in the request's SOAP version and style.
//!
//! The encoded (rpc) form is byte for byte what PHP's SoapServer writes for the rpc/encoded
//! WSDL — the reference's server — and what the reference prints, minus its indentation; the
//! literal form is the same elements without SOAP encoding's `xsi:type` annotations. Every
//! value is escaped; characters XML cannot carry are replaced with U+FFFD.

use crate::fault::{Fault, FaultCode};
use crate::operation::Operation;
use crate::tree::{SOAP11_ENC_NS, SOAP12_ENC_NS, XSI_NS, is_xml_char};
use crate::{FLOWIZE_NAMESPACE, SoapVersion, Style};

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
const SOAP12_RPC_NS: &str = "http://www.w3.org/2003/05/soap-rpc";
const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The `Response` an operation returns: the reference's six fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'a> {
    /// `created` or `ok`.
    pub id: &'a str,
    pub code: u16,
    pub request_ip: &'a str,
    pub resource: &'a str,
    pub message: &'a str,
    /// `null`, as the reference prints it for a success (`false` for changeFlowStatus).
    pub error: &'a str,
}

fn envelope_prefix(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::Soap11 => "SOAP-ENV",
        SoapVersion::Soap12 => "env",
    }
}

/// `<ns1:{op}Response><{op}Result>` with the answer's fields.
pub fn write_answer(
    version: SoapVersion,
    style: Style,
    operation: Operation,
    answer: &Answer<'_>,
) -> Vec<u8> {
    let env = envelope_prefix(version);
    let mut out = String::with_capacity(768 + answer.resource.len());
    out.push_str(DECLARATION);
    out.push_str(&format!(
        "<{env}:Envelope xmlns:{env}=\"{}\" xmlns:ns1=\"{FLOWIZE_NAMESPACE}\"",
        version.envelope_namespace()
    ));
    let encoded = style == Style::Encoded;
    if encoded {
        out.push_str(&format!(" xmlns:xsd=\"{XSD_NS}\" xmlns:xsi=\"{XSI_NS}\""));
        match version {
            SoapVersion::Soap11 => out.push_str(&format!(
                " xmlns:SOAP-ENC=\"{SOAP11_ENC_NS}\" SOAP-ENV:encodingStyle=\"{SOAP11_ENC_NS}\""
            )),
            SoapVersion::Soap12 => out.push_str(&format!(" xmlns:enc=\"{SOAP12_ENC_NS}\"")),
        }
    }
    out.push('>');
    let name = operation.name();
    match (encoded, version) {
        (true, SoapVersion::Soap12) => out.push_str(&format!(
            "<env:Body xmlns:rpc=\"{SOAP12_RPC_NS}\"><ns1:{name}Response \
             env:encodingStyle=\"{SOAP12_ENC_NS}\"><rpc:result>{name}Result</rpc:result>"
        )),
        _ => out.push_str(&format!("<{env}:Body><ns1:{name}Response>")),
    }
    if encoded {
        out.push_str(&format!("<{name}Result xsi:type=\"ns1:Response\">"));
    } else {
        out.push_str(&format!("<{name}Result>"));
    }
    let code = answer.code.to_string();
    let fields = [
        ("Id", answer.id),
        ("Code", code.as_str()),
        ("RequestIP", answer.request_ip),
        ("Resource", answer.resource),
        ("Message", answer.message),
        ("Error", answer.error),
    ];
    for (field, value) in fields {
        if encoded {
            out.push_str(&format!("<{field} xsi:type=\"xsd:string\">"));
        } else {
            out.push_str(&format!("<{field}>"));
        }
        push_text(&mut out, value);
        out.push_str(&format!("</{field}>"));
    }
    out.push_str(&format!(
        "</{name}Result></ns1:{name}Response></{env}:Body></{env}:Envelope>\n"
    ));
    out.into_bytes()
}

/// A Fault, as the reference prints it for SOAP 1.1 (`faultcode`, `faultstring`,
/// `faultactor`, `detail/item/key/value`), or its SOAP 1.2 equivalent.
pub fn write_fault(version: SoapVersion, fault: &Fault) -> Vec<u8> {
    let env = envelope_prefix(version);
    let mut out = String::with_capacity(512 + 2 * fault.message.len());
    out.push_str(DECLARATION);
    out.push_str(&format!(
        "<{env}:Envelope xmlns:{env}=\"{}\"><{env}:Body><{env}:Fault>",
        version.envelope_namespace()
    ));
    match version {
        SoapVersion::Soap11 => {
            out.push_str("<faultcode>");
            push_text(&mut out, &soap11_code(fault.code));
            out.push_str("</faultcode><faultstring>");
            push_text(&mut out, &fault.message);
            out.push_str("</faultstring>");
            if let Some(actor) = &fault.actor {
                out.push_str("<faultactor>");
                push_text(&mut out, actor);
                out.push_str("</faultactor>");
            }
            out.push_str("<detail>");
            push_detail(&mut out, fault);
            out.push_str("</detail>");
        }
        SoapVersion::Soap12 => {
            out.push_str(&format!(
                "<env:Code><env:Value>env:{}</env:Value></env:Code>\
                 <env:Reason><env:Text xml:lang=\"en\">",
                soap12_code(fault.code)
            ));
            push_text(&mut out, &fault.message);
            out.push_str("</env:Text></env:Reason>");
            if let Some(actor) = &fault.actor {
                out.push_str("<env:Role>");
                push_text(&mut out, actor);
                out.push_str("</env:Role>");
            }
            out.push_str("<env:Detail>");
            push_detail(&mut out, fault);
            out.push_str("</env:Detail>");
        }
    }
    out.push_str(&format!("</{env}:Fault></{env}:Body></{env}:Envelope>\n"));
    out.into_bytes()
}

fn push_detail(out: &mut String, fault: &Fault) {
    out.push_str(&format!(
        "<item><key>code</key><value>{}</value></item><item><key>message</key><value>",
        fault.detail_code
    ));
    push_text(out, &fault.message);
    out.push_str("</value></item>");
}

fn soap11_code(code: FaultCode) -> String {
    match code {
        FaultCode::VersionMismatch => "SOAP-ENV:VersionMismatch".to_owned(),
        FaultCode::MustUnderstand => "SOAP-ENV:MustUnderstand".to_owned(),
        FaultCode::Client => "SOAP-ENV:Client".to_owned(),
        FaultCode::Server => "SOAP-ENV:Server".to_owned(),
        FaultCode::Status(status) => status.to_string(),
    }
}

fn soap12_code(code: FaultCode) -> &'static str {
    match code {
        FaultCode::VersionMismatch => "VersionMismatch",
        FaultCode::MustUnderstand => "MustUnderstand",
        FaultCode::Client => "Sender",
        FaultCode::Status(status) if status < 500 => "Sender",
        FaultCode::Server | FaultCode::Status(_) => "Receiver",
    }
}

/// Escapes `text` as element content: markup characters become references, a carriage return
/// becomes `&#13;` (so that it survives line-end normalization), and what XML cannot carry
/// becomes U+FFFD.
pub(crate) fn push_text(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            character if is_xml_char(character) => out.push(character),
            _ => out.push('\u{FFFD}'),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn answer<'a>(resource: &'a str, message: &'a str) -> Answer<'a> {
        Answer {
            id: "created",
            code: 201,
            request_ip: "127.0.0.1",
            resource,
            message,
            error: "null",
        }
    }

    #[test]
    fn encoded_answers_are_those_of_the_reference() {
        let body = write_answer(
            SoapVersion::Soap11,
            Style::Encoded,
            Operation::InsertRecord,
            &answer(
                "eyJhIjoxfQ==",
                "Data Record is created successfully and it is included in the queue.",
            ),
        );
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:ns1=\"Flowize\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" \
             SOAP-ENV:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">\
             <SOAP-ENV:Body><ns1:insertRecordResponse>\
             <insertRecordResult xsi:type=\"ns1:Response\">\
             <Id xsi:type=\"xsd:string\">created</Id>\
             <Code xsi:type=\"xsd:string\">201</Code>\
             <RequestIP xsi:type=\"xsd:string\">127.0.0.1</RequestIP>\
             <Resource xsi:type=\"xsd:string\">eyJhIjoxfQ==</Resource>\
             <Message xsi:type=\"xsd:string\">Data Record is created successfully and it is \
             included in the queue.</Message>\
             <Error xsi:type=\"xsd:string\">null</Error>\
             </insertRecordResult></ns1:insertRecordResponse></SOAP-ENV:Body>\
             </SOAP-ENV:Envelope>\n"
        );
    }

    #[test]
    fn literal_and_soap12_answers_drop_encoding_and_change_the_envelope() {
        let literal = String::from_utf8(write_answer(
            SoapVersion::Soap11,
            Style::Literal,
            Operation::GetSchema,
            &answer("{}", "ok"),
        ))
        .unwrap();
        assert!(!literal.contains("xsi:type"));
        assert!(literal.contains("<ns1:getSchemaResponse><getSchemaResult><Id>created</Id>"));
        let soap12 = String::from_utf8(write_answer(
            SoapVersion::Soap12,
            Style::Literal,
            Operation::GetSchema,
            &answer("{}", "ok"),
        ))
        .unwrap();
        assert!(soap12.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope \
             xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\""
        ));
    }

    #[test]
    fn values_are_escaped() {
        let text = String::from_utf8(write_answer(
            SoapVersion::Soap11,
            Style::Literal,
            Operation::GetRecord,
            &answer("{\"a\":\"<b>&</b>\"}", "x\r\ny\u{1}"),
        ))
        .unwrap();
        assert!(text.contains("<Resource>{\"a\":\"&lt;b&gt;&amp;&lt;/b&gt;\"}</Resource>"));
        assert!(text.contains("<Message>x&#13;\ny\u{FFFD}</Message>"));
    }

    #[test]
    fn faults_are_those_of_the_reference() {
        let fault = Fault::status(404, 404, "The credentials are not correct.")
            .with_actor("4835673853764648");
        let text = String::from_utf8(write_fault(SoapVersion::Soap11, &fault)).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\
             <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>404</faultcode>\
             <faultstring>The credentials are not correct.</faultstring>\
             <faultactor>4835673853764648</faultactor><detail>\
             <item><key>code</key><value>404</value></item>\
             <item><key>message</key><value>The credentials are not correct.</value></item>\
             </detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
        );
        let client = String::from_utf8(write_fault(
            SoapVersion::Soap11,
            &Fault::client("a <bad> message"),
        ))
        .unwrap();
        assert!(client.contains("<faultcode>SOAP-ENV:Client</faultcode>"));
        assert!(client.contains("<faultstring>a &lt;bad&gt; message</faultstring>"));
        assert!(!client.contains("faultactor"));
    }

    #[test]
    fn soap12_faults_use_codes_and_reasons() {
        let text = String::from_utf8(write_fault(
            SoapVersion::Soap12,
            &Fault::status(403, 436, "Access token not valid"),
        ))
        .unwrap();
        assert!(text.contains("<env:Code><env:Value>env:Sender</env:Value></env:Code>"));
        assert!(text.contains(
            "<env:Reason><env:Text xml:lang=\"en\">Access token not valid</env:Text></env:Reason>"
        ));
        assert!(text.contains("<env:Detail><item><key>code</key><value>436</value></item>"));
        let server =
            String::from_utf8(write_fault(SoapVersion::Soap12, &Fault::server("x"))).unwrap();
        assert!(server.contains("env:Receiver"));
    }
}
