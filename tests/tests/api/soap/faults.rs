//! Faults: wrong or missing credentials, missing scopes, unknown operations, malformed and
//! hostile XML, oversized messages, the REST twins' own errors — each a Fault sent with HTTP
//! 500 in the request's SOAP version, and none of them changing anything.

use super::*;
use crate::records::onboarding;
use crate::support::Settings;

async fn records(app: &TestApp) -> i64 {
    count_rows(app, "SELECT count(*) FROM records").await
}

fn insert_record(auth: &str, data: &str) -> String {
    envelope(
        "insertRecord",
        "InsertRecordRequest",
        &format!(
            "{auth}{}{}",
            data_record_object("", "", data),
            flow_diagram_object("onboarding", "", "")
        ),
    )
}

#[tokio::test]
async fn wrong_credentials_get_the_references_fault_with_the_request_id_as_actor() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let wrong = format!(
        r#"<AuthenticationObject xsi:type="mym:AuthenticationObject"><Apikey xsi:type="xsd:string">not-a-key</Apikey><Appkey xsi:type="xsd:string">{}</Appkey><Version xsi:type="xsd:string">1</Version></AuthenticationObject>"#,
        app.app.app_key
    );
    let response = app
        .anonymous(Method::POST, "/v1/soap")
        .header("Content-Type", SOAP11_TYPE)
        .header("X-Request-Id", "4835673853764648792b3169")
        .body(insert_record(&wrong, "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().contains_key("x-ratelimit-limit"));
    let text = response.text().await.unwrap();
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>404</faultcode>\
         <faultstring>The credentials are not correct.</faultstring>\
         <faultactor>4835673853764648792b3169</faultactor><detail>\
         <item><key>code</key><value>404</value></item>\
         <item><key>message</key><value>The credentials are not correct.</value></item>\
         </detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    );
    assert_eq!(records(&app).await, 0);

    let other_org = create_org(&app.pool, "Other").await;
    let mismatched = authentication(&other_org, &app.app);
    post11(&app, insert_record(&mismatched, "{}"))
        .await
        .assert_fault("404", 404, "The credentials are not correct.");
    assert_eq!(records(&app).await, 0);
}

#[tokio::test]
async fn missing_credentials_and_half_credentials_are_named() {
    let app = spawn_app().await;
    post11(&app, envelope("getSchema", "GetSchemaRequest", ""))
        .await
        .assert_fault("401", 401, "Credentials are required");
    let half = format!(
        "<AuthenticationObject><Apikey>{}</Apikey></AuthenticationObject>",
        app.org.api_key
    );
    post11(&app, envelope("getSchema", "GetSchemaRequest", &half))
        .await
        .assert_fault("401", 401, "AuthenticationObject/Appkey: is required");
    // Credentials in HTTP headers are not SOAP's: the envelope must carry them.
    let response = app
        .request(Method::POST, "/v1/soap")
        .header("Content-Type", SOAP11_TYPE)
        .body(envelope("getSchema", "GetSchemaRequest", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn access_tokens_in_the_soap_header_authenticate_and_bad_ones_get_436() {
    let app = spawn_app().await;
    let oauth = create_app(&app.pool, &app.org, oauth_application("mobile")).await;
    let tokens = app.tokens(&oauth).await;
    let token = tokens["access_token"].as_str().unwrap();
    let with_header = |token: &str, name: &str| {
        envelope("getSchema", "GetSchemaRequest", "").replace(
            "<soapenv:Header/>",
            &format!(
                r#"<soapenv:Header>
        <tns:AuthenticationHeader>
        <{name} xsi:type="xsd:string">{token}</{name}>
        </tns:AuthenticationHeader>
        </soapenv:Header>"#
            ),
        )
    };
    // No schema yet: the token was accepted, and the REST twin answers 404.
    post11(&app, with_header(token, "AccessToken"))
        .await
        .assert_fault("404", 404, "schema");
    post11(&app, with_header(token, "SessionID"))
        .await
        .assert_fault("404", 404, "schema");
    post11(&app, with_header("not.a.token", "AccessToken"))
        .await
        .assert_fault("403", 436, "Access token not valid");
}

#[tokio::test]
async fn a_missing_scope_is_a_403_fault_and_changes_nothing() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let reader = create_app(
        &app.pool,
        &app.org,
        with_scopes(application("reader"), "record.read"),
    )
    .await;
    let auth = authentication(&app.org, &reader);
    post11(&app, insert_record(&auth, r#"{"a":1}"#))
        .await
        .assert_fault("403", 403, "The scope 'record' is required");
    assert_eq!(records(&app).await, 0);
}

#[tokio::test]
async fn the_rest_twins_errors_name_the_soap_fields() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let auth = authentication(&app.org, &app.app);
    let get = |uuid: &str| {
        envelope(
            "getRecord",
            "GetRecordRequest",
            &format!("{auth}{}", data_record_object(uuid, "", "")),
        )
    };
    post11(&app, get("not-a-uuid")).await.assert_fault(
        "400",
        400,
        "DataRecordObject/Uuid: 'not-a-uuid' is not a valid UUID",
    );
    post11(&app, get("6f1c1b7e-8d7a-4c55-9a4b-3d2f1e0a9b8c"))
        .await
        .assert_fault("404", 404, "");
    post11(&app, insert_record(&auth, "not json"))
        .await
        .assert_fault("400", 400, "DataRecordObject/Data: malformed JSON");
    let unknown_flow = envelope(
        "insertRecord",
        "InsertRecordRequest",
        &format!(
            "{auth}{}{}",
            data_record_object("", "", "{}"),
            flow_diagram_object("nope", "", "")
        ),
    );
    post11(&app, unknown_flow)
        .await
        .assert_fault("404", 404, "nope");
    let late = envelope(
        "insertRecord",
        "InsertRecordRequest",
        &format!(
            "{auth}{}{}",
            data_record_object("", "tomorrow", "{}"),
            flow_diagram_object("onboarding", "", "")
        ),
    );
    post11(&app, late).await.assert_fault(
        "400",
        400,
        "DataRecordObject/ExecutionTime: 'tomorrow' is not an ATOM date",
    );
    let bad_status = envelope(
        "changeFlowStatus",
        "ChangeFlowDiagramStatusRequest",
        &format!("{auth}{}", flow_diagram_object("", "1", "sideways")),
    );
    post11(&app, bad_status)
        .await
        .assert_fault("400", 400, "FlowDiagramObject/Status: 'sideways'");
    let bad_schema = envelope(
        "insertSchema",
        "InsertSchemaRequest",
        &format!("{auth}{}", schema_object("[1]", "{}")),
    );
    post11(&app, bad_schema).await.assert_fault(
        "400",
        400,
        "SchemaObject/Schema: must be a JSON object",
    );
    assert_eq!(records(&app).await, 0);
}

#[tokio::test]
async fn unreadable_and_hostile_messages_get_client_faults() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let auth = authentication(&app.org, &app.app);
    let valid = insert_record(&auth, r#"{"a":1}"#);
    let cases = [
        (
            envelope("postRecord", "X", &auth),
            "unknown operation 'postRecord'",
        ),
        (
            valid.replace("</soapenv:Envelope>", ""),
            "ends before the element 'Envelope'",
        ),
        (
            valid.replace("</soapenv:Body>", "</soapenv:Bodi>"),
            "malformed XML",
        ),
        ("just text".to_owned(), "text outside its root element"),
        (String::new(), "the message is empty"),
        (
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>{}",
                valid.replace(
                    "<Version xsi:type=\"xsd:string\">1</Version>",
                    "<Version>&lol2;</Version>"
                )
            ),
            "DOCTYPE",
        ),
        (
            format!("<?php system('id'); ?>{valid}"),
            "processing instructions",
        ),
        (
            valid.replace(
                "<Version xsi:type=\"xsd:string\">1</Version>",
                "<Version>&xxe;</Version>",
            ),
            "entity reference '&xxe;'",
        ),
        (
            envelope(
                "getRecord",
                "GetRecordRequest",
                &format!(r##"{auth}<DataRecordObject href="#id1"/>"##),
            )
            .replace(
                "</soapenv:Body>",
                r#"<multiRef id="id1"><Uuid>x</Uuid></multiRef></soapenv:Body>"#,
            ),
            "references",
        ),
        (
            envelope(
                "getRecord",
                "GetRecordRequest",
                &format!("{auth}{}{}", "<x>".repeat(40), "</x>".repeat(40)),
            ),
            "deeper than 32 levels",
        ),
        (
            envelope("getSchema", "GetRecordRequest", &auth),
            "input: xsi:type is '{Flowize}GetRecordRequest', expected {Flowize}GetSchemaRequest",
        ),
        (
            envelope(
                "getSchema",
                "GetSchemaRequest",
                &format!("{auth}<Extra>1</Extra>"),
            ),
            "getSchema: unexpected element 'Extra'",
        ),
        (
            r#"<soap:Envelope xmlns:soap="urn:not-soap"><soap:Body/></soap:Envelope>"#.to_owned(),
            "expected http://schemas.xmlsoap.org/soap/envelope/",
        ),
    ];
    for (xml, needle) in cases {
        let answer = post11(&app, xml).await;
        assert_eq!(answer.status, 500, "{needle}: {}", answer.text);
        let faultcode = answer.field("faultcode");
        assert!(
            faultcode == "SOAP-ENV:Client" || faultcode == "SOAP-ENV:VersionMismatch",
            "{needle}: {}",
            answer.text
        );
        assert!(
            answer.field("faultstring").contains(needle),
            "{needle}: {}",
            answer.text
        );
        assert!(
            answer
                .text
                .contains("<item><key>code</key><value>400</value></item>")
        );
    }
    assert_eq!(records(&app).await, 0, "nothing was stored");
}

#[tokio::test]
async fn soap12_requests_get_soap12_faults() {
    let app = spawn_app().await;
    let answer = post(&app, SOAP12_TYPE, "<broken").await;
    answer.assert_fault12("Sender", 400, "malformed XML");
    let wrong = literal12(
        "getSchema",
        "<AuthenticationObject><Apikey>x</Apikey><Appkey>y</Appkey></AuthenticationObject>",
    );
    post(&app, SOAP12_TYPE, wrong).await.assert_fault12(
        "Sender",
        404,
        "The credentials are not correct.",
    );
    let unknown = literal12("launchRocket", "");
    post(&app, SOAP12_TYPE, unknown).await.assert_fault12(
        "Sender",
        400,
        "unknown operation 'launchRocket'",
    );
}

#[tokio::test]
async fn oversized_messages_are_refused_before_they_are_read() {
    let mut settings = Settings::default();
    settings.gateway.body_limit_bytes = 64 * 1024;
    let app = spawn_app_with(settings).await;
    publish_flow(&app, onboarding()).await;
    let auth = authentication(&app.org, &app.app);
    let big = format!(r#"{{"blob":"{}"}}"#, "a".repeat(100 * 1024));
    post11(&app, insert_record(&auth, &big)).await.assert_fault(
        "SOAP-ENV:Client",
        400,
        "larger than 65536 bytes",
    );
    assert_eq!(records(&app).await, 0);
    let crowded = format!("{auth}{}", "<x/>".repeat(10_001));
    post11(&app, envelope("getSchema", "GetSchemaRequest", &crowded))
        .await
        .assert_fault("SOAP-ENV:Client", 400, "more than 10000 elements");
}
