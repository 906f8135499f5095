//! Reading requests as the reference prints them and as clients write them; refusing the rest;
//! and a property test over random and mutated envelopes.

#![allow(clippy::unwrap_used)]

use crate::*;
use proptest::prelude::*;

const REFERENCE_ENVELOPE: &str = r#"<soapenv:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">
   <soapenv:Header/>
   <soapenv:Body>
BODY
   </soapenv:Body>
</soapenv:Envelope>"#;

const AUTHENTICATION: &str = r#"<AuthenticationObject xsi:type="mym:AuthenticationObject">
               <!--You may enter the following 3 items in any order-->
               <Apikey xsi:type="xsd:string">the-api-key</Apikey>
               <Appkey xsi:type="xsd:string">the-app</Appkey>
               <Version xsi:type="xsd:string">1</Version>
            </AuthenticationObject>"#;

fn reference(body: &str) -> String {
    REFERENCE_ENVELOPE.replace("BODY", &body.replace("AUTHENTICATION", AUTHENTICATION))
}

fn read(xml: &str) -> Result<Request, Rejection> {
    parse(xml.as_bytes(), SoapVersion::Soap11, &Limits::default())
}

fn fault_message(xml: &str) -> String {
    read(xml).unwrap_err().fault.message
}

fn api_key() -> Option<Credentials> {
    Some(Credentials::ApiKey {
        api_key: Some("the-api-key".into()),
        app_key: Some("the-app".into()),
    })
}

/// `{"name":"Ada"}`
const DATA_BASE64: &str = "eyJuYW1lIjoiQWRhIn0=";

#[test]
fn reads_the_reference_insert_schema() {
    let request = read(&reference(
        r#"<mym:insertSchema>
         <input xsi:type="mym:InsertSchemaRequest">
            <!--You may enter the following 2 items in any order-->
            AUTHENTICATION
            <SchemaObject xsi:type="mym:SchemaObject">
               <Url xsi:type="xsd:string">https://example.org/schema</Url>
               <Schema xsi:type="xsd:string">e30=</Schema>
               <DataRecord xsi:type="xsd:string">e30=</DataRecord>
            </SchemaObject>
         </input>
      </mym:insertSchema>"#,
    ))
    .unwrap();
    assert_eq!(request.version, SoapVersion::Soap11);
    assert_eq!(request.style, Style::Encoded);
    assert_eq!(request.credentials, api_key());
    assert_eq!(
        request.call,
        Call::InsertSchema(SchemaObject {
            url: Some("https://example.org/schema".into()),
            schema: Some("e30=".into()),
            data_record: Some("e30=".into()),
        })
    );
}

#[test]
fn reads_the_reference_insert_record_with_its_fields_in_any_order() {
    let request = read(&reference(&format!(
        r#"<mym:insertRecord>
         <input xsi:type="mym:InsertRecordRequest">
            <FlowDiagramObject xsi:type="mym:FlowDiagramObject">
               <Flow xsi:type="xsd:string">onboarding</Flow>
               <FlowId xsi:type="xsd:string"></FlowId>
               <Status xsi:type="xsd:string"></Status>
            </FlowDiagramObject>
            <DataRecordObject xsi:type="mym:DataRecordObject">
               <Data xsi:type="xsd:string">{DATA_BASE64}</Data>
               <ExecutionTime xsi:type="xsd:string"></ExecutionTime>
               <Uuid xsi:type="xsd:string">7c0e0d36-4a10-4a51-8a1e-2f1d3c4b5a69</Uuid>
            </DataRecordObject>
            AUTHENTICATION
         </input>
      </mym:insertRecord>"#
    )))
    .unwrap();
    assert_eq!(request.operation(), Operation::InsertRecord);
    assert_eq!(
        request.call,
        Call::InsertRecord(NewRecord {
            data: r#"{"name":"Ada"}"#.into(),
            uuid: Some("7c0e0d36-4a10-4a51-8a1e-2f1d3c4b5a69".into()),
            execution_time: None,
            flow: "onboarding".into(),
        })
    );
}

#[test]
fn reads_every_other_operation_of_the_reference() {
    let record = format!(
        r#"<DataRecordObject xsi:type="mym:DataRecordObject">
               <Uuid xsi:type="xsd:string">u-1</Uuid>
               <ExecutionTime xsi:type="xsd:string"></ExecutionTime>
               <Data xsi:type="xsd:string">{DATA_BASE64}</Data>
            </DataRecordObject>"#
    );
    let flow = r#"<FlowDiagramObject xsi:type="mym:FlowDiagramObject">
               <Flow xsi:type="xsd:string"></Flow>
               <FlowId xsi:type="xsd:string">42</FlowId>
               <Status xsi:type="xsd:string">publish</Status>
            </FlowDiagramObject>"#;
    let cases = [
        (
            "webhook",
            "WebhookRequest",
            r#"<Uri xsi:type="xsd:string">abc</Uri><Payload xsi:type="xsd:string">{"a":1}</Payload>"#.to_owned(),
            Call::Webhook {
                uri: "abc".into(),
                payload: r#"{"a":1}"#.into(),
            },
        ),
        (
            "getRecord",
            "GetRecordRequest",
            format!("AUTHENTICATION{record}"),
            Call::GetRecord { uuid: "u-1".into() },
        ),
        (
            "getSchema",
            "GetSchemaRequest",
            "AUTHENTICATION".to_owned(),
            Call::GetSchema,
        ),
        (
            "getFlowDiagram",
            "GetFlowDiagramRequest",
            format!("AUTHENTICATION{flow}"),
            Call::GetFlowDiagram { flow: "42".into() },
        ),
        (
            "updateRecord",
            "UpdateRecordRequest",
            format!("AUTHENTICATION{record}"),
            Call::UpdateRecord {
                uuid: "u-1".into(),
                data: r#"{"name":"Ada"}"#.into(),
            },
        ),
        (
            "updateSchema",
            "UpdateSchemaRequest",
            r#"AUTHENTICATION<SchemaObject xsi:type="mym:SchemaObject"><Schema xsi:type="xsd:string">e30=</Schema></SchemaObject>"#.to_owned(),
            Call::UpdateSchema(SchemaObject {
                url: None,
                schema: Some("e30=".into()),
                data_record: None,
            }),
        ),
        (
            "changeFlowStatus",
            "ChangeFlowDiagramStatusRequest",
            format!("AUTHENTICATION{flow}"),
            Call::ChangeFlowStatus {
                flow_id: "42".into(),
                status: "publish".into(),
            },
        ),
        (
            "deleteSchema",
            "DeleteSchemaRequest",
            "AUTHENTICATION".to_owned(),
            Call::DeleteSchema,
        ),
        (
            "deleteRecord",
            "DeleteRecordRequest",
            format!("AUTHENTICATION{record}"),
            Call::DeleteRecord { uuid: "u-1".into() },
        ),
    ];
    for (operation, request_type, fields, call) in cases {
        let xml = reference(&format!(
            r#"<mym:{operation}><input xsi:type="mym:{request_type}">{fields}</input></mym:{operation}>"#
        ));
        let request = read(&xml).unwrap_or_else(|error| panic!("{operation}: {error}"));
        assert_eq!(request.call, call, "{operation}");
        assert_eq!(request.operation().name(), operation);
        assert_eq!(
            request.operation().request_type(),
            request_type,
            "{operation}"
        );
    }
}

#[test]
fn reads_literal_soap12_requests_with_any_prefixes() {
    let request = read(
        r#"<?xml version="1.0" encoding="utf-8"?>
        <ns0:Envelope xmlns:ns0="http://www.w3.org/2003/05/soap-envelope">
          <ns0:Body>
            <getRecord xmlns="Flowize">
              <input xmlns="">
                <DataRecordObject><Uuid>u-2</Uuid></DataRecordObject>
                <AuthenticationObject><Appkey>the-app</Appkey><Apikey>the-api-key</Apikey></AuthenticationObject>
              </input>
            </getRecord>
          </ns0:Body>
        </ns0:Envelope>"#,
    )
    .unwrap();
    assert_eq!(request.version, SoapVersion::Soap12);
    assert_eq!(request.style, Style::Literal);
    assert_eq!(request.credentials, api_key());
    assert_eq!(request.call, Call::GetRecord { uuid: "u-2".into() });
}

#[test]
fn reads_tokens_from_the_header_even_with_the_references_undeclared_prefix() {
    let xml = REFERENCE_ENVELOPE
        .replace(
            "<soapenv:Header/>",
            r#"<soapenv:Header>
        <tns:AuthenticationHeader>
        <AccessToken xsi:type="xsd:string">the-token</AccessToken>
        </tns:AuthenticationHeader>
        </soapenv:Header>"#,
        )
        .replace("BODY", "<mym:getSchema><input/></mym:getSchema>");
    let request = read(&xml).unwrap();
    assert_eq!(
        request.credentials,
        Some(Credentials::AccessToken("the-token".into()))
    );
    let in_input = reference(
        r#"<mym:getSchema><input><soapenv:Header><tns:AuthenticationHeader>
             <SessionID xsi:type="xsd:string">the-session</SessionID>
           </tns:AuthenticationHeader></soapenv:Header>AUTHENTICATION</input></mym:getSchema>"#,
    );
    assert_eq!(
        read(&in_input).unwrap().credentials,
        Some(Credentials::AccessToken("the-session".into()))
    );
}

#[test]
fn checks_xsi_types_by_namespace_not_prefix() {
    let other_prefix = reference(
        r#"<mym:getSchema><input xmlns:f="Flowize" xsi:type="f:GetSchemaRequest">AUTHENTICATION</input></mym:getSchema>"#,
    );
    assert!(read(&other_prefix).is_ok());
    let wrong_namespace = reference(
        r#"<mym:getSchema><input xmlns:f="urn:other" xsi:type="f:GetSchemaRequest">AUTHENTICATION</input></mym:getSchema>"#,
    );
    assert!(
        fault_message(&wrong_namespace)
            .starts_with("input: xsi:type is '{urn:other}GetSchemaRequest'")
    );
    let wrong_type = reference(
        r#"<mym:getSchema><input xsi:type="mym:GetRecordRequest">AUTHENTICATION</input></mym:getSchema>"#,
    );
    assert!(fault_message(&wrong_type).contains("expected {Flowize}GetSchemaRequest"));
    let wrong_leaf = reference(
        r#"<mym:getSchema><input><AuthenticationObject><Apikey xsi:type="xsd:dateTime">k</Apikey></AuthenticationObject></input></mym:getSchema>"#,
    );
    assert!(fault_message(&wrong_leaf).starts_with("AuthenticationObject/Apikey: xsi:type"));
}

#[test]
fn refuses_unknown_operations_fields_and_graphs_with_client_faults() {
    let cases = [
        (reference("<mym:postRecord/>"), "unknown operation 'postRecord'"),
        (
            reference(r#"<x:getSchema xmlns:x="urn:x"/>"#),
            "unknown operation '{urn:x}getSchema'",
        ),
        (reference("<zz:getSchema/>"), "prefix 'zz'"),
        (reference(""), "the Body is empty"),
        (
            reference("<mym:getSchema/><mym:getSchema/>"),
            "more than one element",
        ),
        (
            reference("<mym:getSchema><input><Color>red</Color></input></mym:getSchema>"),
            "getSchema: unexpected element 'Color'",
        ),
        (
            reference(
                "<mym:getSchema><input><AuthenticationObject><Apikey>a</Apikey><Apikey>b</Apikey></AuthenticationObject></input></mym:getSchema>",
            ),
            "'Apikey' appears more than once",
        ),
        (
            reference(
                "<mym:getSchema><input><AuthenticationObject><Version>2</Version></AuthenticationObject></input></mym:getSchema>",
            ),
            "Version: '2' is not supported",
        ),
        (
            reference(
                r##"<mym:getRecord><input><DataRecordObject href="#id1"/></input></mym:getRecord><multiRef id="id1"/>"##,
            ),
            "references",
        ),
        (
            reference("<mym:getRecord><input>AUTHENTICATION</input></mym:getRecord>"),
            "DataRecordObject/Uuid: is required",
        ),
        (
            reference(
                "<mym:insertRecord><input><DataRecordObject><Data>e30=</Data></DataRecordObject></input></mym:insertRecord>",
            ),
            "FlowDiagramObject/Flow: is required",
        ),
        (
            reference(
                "<mym:updateRecord><input><DataRecordObject><Uuid>u</Uuid><Data>!!!</Data></DataRecordObject></input></mym:updateRecord>",
            ),
            "DataRecordObject/Data: is not valid base64",
        ),
        (
            reference(
                "<mym:getRecord><input><DataRecordObject><Uuid><b>u</b></Uuid></DataRecordObject></input></mym:getRecord>",
            ),
            "expected text, found the element 'b'",
        ),
        ("<Envelope/>".to_owned(), "the Envelope is in the namespace ''"),
        ("<html/>".to_owned(), "not a SOAP Envelope"),
        (
            r#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header/></e:Envelope>"#.to_owned(),
            "has no Body",
        ),
    ];
    for (xml, expected) in cases {
        let rejection = read(&xml).unwrap_err();
        assert!(
            rejection.fault.message.contains(expected),
            "{expected}: {}",
            rejection.fault.message
        );
        assert_ne!(rejection.fault.code, FaultCode::Server);
        assert_eq!(rejection.fault.detail_code, 400);
    }
}

#[test]
fn version_and_must_understand_faults_use_their_own_codes() {
    let rejection =
        read(r#"<e:Envelope xmlns:e="urn:not-soap"><e:Body/></e:Envelope>"#).unwrap_err();
    assert_eq!(rejection.fault.code, FaultCode::VersionMismatch);
    let header = REFERENCE_ENVELOPE
        .replace(
            "<soapenv:Header/>",
            r#"<soapenv:Header><t:Transaction xmlns:t="urn:t" soapenv:mustUnderstand="1">5</t:Transaction></soapenv:Header>"#,
        )
        .replace("BODY", "<mym:getSchema/>");
    assert_eq!(
        read(&header).unwrap_err().fault.code,
        FaultCode::MustUnderstand
    );
}

#[test]
fn faults_about_unreadable_messages_use_the_transports_version() {
    let rejection = parse(b"<not xml", SoapVersion::Soap12, &Limits::default()).unwrap_err();
    assert_eq!(rejection.version, SoapVersion::Soap12);
    assert!(rejection.fault.message.starts_with("malformed XML"));
    let soap11 = reference("<mym:nothing/>").replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let rejection = parse(soap11.as_bytes(), SoapVersion::Soap11, &Limits::default()).unwrap_err();
    assert_eq!(rejection.version, SoapVersion::Soap12);
}

#[test]
fn media_types_suggest_versions() {
    assert_eq!(
        SoapVersion::from_media_type("application/soap+xml; charset=utf-8; action=\"x\""),
        SoapVersion::Soap12
    );
    assert_eq!(
        SoapVersion::from_media_type("text/xml; charset=utf-8"),
        SoapVersion::Soap11
    );
}

#[test]
fn every_operation_round_trips_through_its_name() {
    for operation in Operation::ALL {
        assert_eq!(Operation::from_name(operation.name()), Some(operation));
    }
    assert_eq!(Operation::from_name("InsertSchema"), None);
}

/// A valid envelope of each operation, to mutate.
fn seeds() -> Vec<String> {
    use crate::operation::Part;
    Operation::ALL
        .iter()
        .map(|operation| {
            let fields: String = operation
                .parts()
                .iter()
                .map(|part| match part {
                    Part::Authentication => AUTHENTICATION.to_owned(),
                    Part::Schema => "<SchemaObject><Schema>e30=</Schema></SchemaObject>".to_owned(),
                    Part::DataRecord => format!(
                        "<DataRecordObject><Uuid>u</Uuid><Data>{DATA_BASE64}</Data></DataRecordObject>"
                    ),
                    Part::FlowDiagram => "<FlowDiagramObject><Flow>f</Flow><FlowId>1</FlowId>\
                                          <Status>pause</Status></FlowDiagramObject>"
                        .to_owned(),
                    Part::Uri => "<Uri>u</Uri>".to_owned(),
                    Part::Payload => "<Payload>{}</Payload>".to_owned(),
                })
                .collect();
            reference(&format!(
                "<mym:{name}><input xsi:type=\"mym:{request_type}\">{fields}</input></mym:{name}>",
                name = operation.name(),
                request_type = operation.request_type()
            ))
        })
        .collect()
}

#[test]
fn the_mutation_seeds_are_valid() {
    for seed in seeds() {
        read(&seed).unwrap_or_else(|error| panic!("{error}: {seed}"));
    }
}

/// Fragments that stress the reader when spliced anywhere.
const FRAGMENTS: [&str; 16] = [
    "<!DOCTYPE x [<!ENTITY a \"b\">]>",
    "<?pi x?>",
    "&a;",
    "&#0;",
    "&#x1F600;",
    "<![CDATA[<]]>",
    " xmlns:mym=\"urn:other\"",
    " href=\"#1\"",
    " xsi:type=\"q:x\"",
    " xsi:nil=\"true\"",
    "</soapenv:Body>",
    "<input>",
    "<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a>",
    "\u{FEFF}",
    "\u{0}",
    "<soapenv:Header><x soapenv:mustUnderstand=\"1\"/></soapenv:Header>",
];

/// Reading never panics, and whatever happens the answer written back is well-formed XML that
/// this reader accepts as a SOAP envelope.
fn check_no_panic_and_well_formed_answers(bytes: &[u8]) {
    let limits = Limits::default();
    match parse(bytes, SoapVersion::Soap11, &limits) {
        Ok(request) => {
            let answer = Answer {
                id: "ok",
                code: 200,
                request_ip: "127.0.0.1",
                resource: &format!("{request:?}"),
                message: "m",
                error: "null",
            };
            let written =
                write_answer(request.version, request.style, request.operation(), &answer);
            tree::read(&written, &limits).unwrap();
        }
        Err(rejection) => {
            let written = write_fault(rejection.version, &rejection.fault);
            let document = tree::read(&written, &limits).unwrap();
            assert_eq!(document.root.name.local, "Envelope");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_no_panic_and_well_formed_answers(&bytes);
    }

    #[test]
    fn mutated_envelopes_never_panic(
        seed in 0usize..11,
        edits in proptest::collection::vec((0usize..4, any::<usize>(), any::<usize>(), 0usize..16, any::<u8>()), 1..6),
    ) {
        let mut bytes = seeds()[seed].clone().into_bytes();
        for (kind, at, length, fragment, byte) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 => bytes.insert(at, byte),
                1 => {
                    let end = (at + length % 16).min(bytes.len());
                    bytes.drain(at..end);
                }
                2 => {
                    bytes.splice(at..at, FRAGMENTS[fragment].bytes());
                }
                _ => {
                    if at < bytes.len() {
                        bytes[at] = byte;
                    }
                }
            }
        }
        check_no_panic_and_well_formed_answers(&bytes);
    }

    #[test]
    fn any_text_survives_the_writer(resource in ".*", message in "\\PC*") {
        let answer = Answer { id: "ok", code: 200, request_ip: "::1", resource: &resource, message: &message, error: "null" };
        let written = write_answer(SoapVersion::Soap12, Style::Literal, Operation::GetRecord, &answer);
        let document = tree::read(&written, &Limits::default()).unwrap();
        let result = &document.root.children[0].children[0].children[0];
        let text_of = |name: &str| result.children.iter().find(|c| c.name.local == name).unwrap().text.clone();
        let expected: String = resource.chars().map(|c| if tree::is_xml_char(c) { c } else { '\u{FFFD}' }).collect();
        prop_assert_eq!(text_of("Resource"), expected);
        let fault = Fault::status(404, 404, message.clone()).with_actor(resource.clone());
        let written = write_fault(SoapVersion::Soap11, &fault);
        prop_assert!(tree::read(&written, &Limits::default()).is_ok());
    }
}
