//! Every operation through raw HTTP, with envelopes as the reference prints them (SOAP 1.1,
//! rpc/encoded) and as document/literal SOAP 1.2 clients write them; each one's effect checked
//! through the REST API.

use super::*;
use crate::records::onboarding;
use crate::schema::{RECORD, SCHEMA};
use serde_json::{Value, json};

const UUID: &str = "6f1c1b7e-8d7a-4c55-9a4b-3d2f1e0a9b8c";

async fn register_webhook(app: &TestApp) -> String {
    let response = app
        .request(Method::POST, "/v1/webhooks")
        .json(&json!({"flow": "onboarding"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await["resource"]["webhook_uri"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn rest_get(app: &TestApp, path: &str, header: (&str, &str)) -> (u16, Value) {
    let response = app
        .request(Method::GET, path)
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), body(response).await)
}

#[tokio::test]
async fn every_operation_as_the_reference_prints_it() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let webhook_uri = register_webhook(&app).await;
    let auth = authentication(&app.org, &app.app);

    let inserted = post11(
        &app,
        envelope(
            "insertSchema",
            "InsertSchemaRequest",
            &format!("{auth}{}", schema_object(SCHEMA, RECORD)),
        ),
    )
    .await;
    inserted.assert_success("insertSchema", "created", 201);
    assert_eq!(
        inserted.field("Message"),
        "Data Schema is created successfully."
    );
    assert_eq!(inserted.field("Resource"), "");
    assert_eq!(inserted.field("Error"), "null");
    assert_eq!(inserted.headers["content-type"], SOAP11_TYPE);
    assert!(inserted.headers.contains_key("x-ratelimit-remaining"));
    let (status, schema) = rest_get(&app, "/v1/schema", ("X-Scopes", "schema.read")).await;
    assert_eq!(status, 200, "committed: {schema}");

    let fetched = post11(&app, envelope("getSchema", "GetSchemaRequest", &auth)).await;
    fetched.assert_success("getSchema", "ok", 200);
    assert_eq!(
        fetched.field("Message"),
        "Schema structure is retrieving successfully"
    );
    let resource = fetched.json_resource();
    assert_eq!(resource["customer"], "Acme");
    assert_eq!(resource["schema"], STANDARD.encode(SCHEMA));
    assert_eq!(resource, schema["resource"], "the REST twin's resource");

    let updated = post11(
        &app,
        envelope(
            "updateSchema",
            "UpdateSchemaRequest",
            &format!("{auth}{}", schema_object(SCHEMA, RECORD)),
        ),
    )
    .await;
    updated.assert_success("updateSchema", "created", 201);
    assert_eq!(
        updated.field("Message"),
        "Schema structure is created successfully"
    );
    assert!(updated.json_resource()["modified_date"].is_string());

    let record = r#"{"client":{"name":"Ada","age":36}}"#;
    let created = post11(
        &app,
        envelope(
            "insertRecord",
            "InsertRecordRequest",
            &format!(
                "{auth}{}{}",
                data_record_object(UUID, "", record),
                flow_diagram_object("onboarding", "", "")
            ),
        ),
    )
    .await;
    created.assert_success("insertRecord", "created", 201);
    assert_eq!(
        created.field("Message"),
        "Data Record is created successfully and it is included in the queue."
    );
    let resource = created.base64_resource();
    assert_eq!(resource["uuid"], UUID);
    assert_eq!(resource["flow_id"], flow_id.to_string());
    assert_eq!(
        resource["data_record"],
        serde_json::from_str::<Value>(record).unwrap()
    );
    let (status, rest) = rest_get(&app, "/v1/record", ("X-Uuid", UUID)).await;
    assert_eq!(status, 200, "committed: {rest}");

    let got = post11(
        &app,
        envelope(
            "getRecord",
            "GetRecordRequest",
            &format!("{auth}{}", data_record_object(UUID, "", "")),
        ),
    )
    .await;
    got.assert_success("getRecord", "ok", 200);
    assert_eq!(
        got.field("Message"),
        "Data Record structure was retrieving successfully"
    );
    assert_eq!(
        got.json_resource(),
        rest["resource"],
        "the REST twin's resource"
    );

    let replacement = r#"{"client":{"name":"Ada Lovelace","age":37}}"#;
    let replaced = post11(
        &app,
        envelope(
            "updateRecord",
            "UpdateRecordRequest",
            &format!("{auth}{}", data_record_object(UUID, "", replacement)),
        ),
    )
    .await;
    replaced.assert_success("updateRecord", "created", 201);
    assert_eq!(
        replaced.field("Message"),
        "Data Record is updated successfully."
    );
    assert_eq!(replaced.base64_resource()["uuid"], UUID);
    let (_, rest) = rest_get(&app, "/v1/record", ("X-Uuid", UUID)).await;
    assert_eq!(
        rest["resource"]["data_record"],
        serde_json::from_str::<Value>(replacement).unwrap()
    );

    for flow in [
        flow_diagram_object("onboarding", "", ""),
        flow_diagram_object("", &flow_id.to_string(), ""),
    ] {
        let diagram = post11(
            &app,
            envelope(
                "getFlowDiagram",
                "GetFlowDiagramRequest",
                &format!("{auth}{flow}"),
            ),
        )
        .await;
        diagram.assert_success("getFlowDiagram", "ok", 200);
        let resource = diagram.json_resource();
        assert_eq!(resource["flow_name"], "onboarding");
        assert_eq!(resource["flow_id"], flow_id);
    }

    let paused = post11(
        &app,
        envelope(
            "changeFlowStatus",
            "ChangeFlowDiagramStatusRequest",
            &format!(
                "{auth}{}",
                flow_diagram_object("", &flow_id.to_string(), "paused")
            ),
        ),
    )
    .await;
    paused.assert_success("changeFlowStatus", "created", 201);
    assert_eq!(
        paused.field("Message"),
        "Flow diagram has been paused successfully"
    );
    assert_eq!(paused.field("Error"), "false");
    let (_, flow) = rest_get(&app, "/v1/flowdiagram", ("X-Flow", "onboarding")).await;
    assert_eq!(flow["resource"]["status"], "paused");
    let resumed = post11(
        &app,
        envelope(
            "changeFlowStatus",
            "ChangeFlowDiagramStatusRequest",
            &format!(
                "{auth}{}",
                flow_diagram_object("", &flow_id.to_string(), "running")
            ),
        ),
    )
    .await;
    resumed.assert_success("changeFlowStatus", "created", 201);

    let delivered = post11(
        &app,
        envelope(
            "webhook",
            "WebhookRequest",
            &format!(
                r#"<!--You may enter the following 2 items in any order-->
            <Uri xsi:type="xsd:string">{webhook_uri}</Uri>
            <Payload xsi:type="xsd:string">{{"client":{{"name":"Grace","age":45}}}}</Payload>"#
            ),
        ),
    )
    .await;
    delivered.assert_success("webhook", "created", 201);
    assert_eq!(
        delivered.field("Message"),
        "Webhook response has been saved successfully"
    );
    let webhook_uuid = delivered.json_resource()["data"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, from_webhook) = rest_get(&app, "/v1/record", ("X-Uuid", &webhook_uuid)).await;
    assert_eq!(status, 200);
    assert_eq!(
        from_webhook["resource"]["data_record"]["client"]["name"],
        "Grace"
    );

    let deleted = post11(
        &app,
        envelope(
            "deleteRecord",
            "DeleteRecordRequest",
            &format!("{auth}{}", data_record_object(UUID, "", "")),
        ),
    )
    .await;
    deleted.assert_success("deleteRecord", "created", 201);
    assert_eq!(
        deleted.field("Message"),
        "Data Record is deleted successfully."
    );
    assert_eq!(deleted.field("Resource"), "");
    let (status, _) = rest_get(&app, "/v1/record", ("X-Uuid", UUID)).await;
    assert_eq!(status, 404, "deleted");

    let dropped = post11(&app, envelope("deleteSchema", "DeleteSchemaRequest", &auth)).await;
    dropped.assert_success("deleteSchema", "ok", 200);
    assert_eq!(
        dropped.field("Message"),
        "Schema has been removed successfully"
    );
    assert_eq!(dropped.field("Resource"), "");
    let (status, _) = rest_get(&app, "/v1/schema", ("X-Scopes", "schema.read")).await;
    assert_eq!(status, 404, "removed");
}

#[tokio::test]
async fn an_encoded_answer_is_the_references_byte_for_byte() {
    let app = spawn_app().await;
    let auth = authentication(&app.org, &app.app);
    let answer = post11(&app, envelope("deleteSchema", "DeleteSchemaRequest", &auth)).await;
    // No schema yet: the REST twin's 404, as the reference prints its faults.
    answer.assert_fault("404", 404, "");
    post11(
        &app,
        envelope(
            "insertSchema",
            "InsertSchemaRequest",
            &format!("{auth}{}", schema_object(SCHEMA, RECORD)),
        ),
    )
    .await
    .assert_success("insertSchema", "created", 201);
    let answer = post11(&app, envelope("deleteSchema", "DeleteSchemaRequest", &auth)).await;
    assert_eq!(
        answer.text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:ns1=\"Flowize\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:SOAP-ENC=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         SOAP-ENV:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><SOAP-ENV:Body>\
         <ns1:deleteSchemaResponse><deleteSchemaResult xsi:type=\"ns1:Response\">\
         <Id xsi:type=\"xsd:string\">ok</Id><Code xsi:type=\"xsd:string\">200</Code>\
         <RequestIP xsi:type=\"xsd:string\">127.0.0.1</RequestIP>\
         <Resource xsi:type=\"xsd:string\"></Resource>\
         <Message xsi:type=\"xsd:string\">Schema has been removed successfully</Message>\
         <Error xsi:type=\"xsd:string\">null</Error></deleteSchemaResult>\
         </ns1:deleteSchemaResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>\n"
    );
}

#[tokio::test]
async fn every_operation_in_literal_soap12() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let webhook_uri = register_webhook(&app).await;
    let auth = format!(
        "<AuthenticationObject><Apikey>{}</Apikey><Appkey>{}</Appkey></AuthenticationObject>",
        app.org.api_key, app.app.app_key
    );
    let schema = format!(
        "<SchemaObject><Schema>{}</Schema><DataRecord>{}</DataRecord></SchemaObject>",
        STANDARD.encode(SCHEMA),
        STANDARD.encode(RECORD)
    );
    let record = |data: &str| {
        format!(
            "<DataRecordObject><Uuid>{UUID}</Uuid><Data>{}</Data></DataRecordObject>",
            STANDARD.encode(data)
        )
    };
    let flow = |status: &str| {
        format!(
            "<FlowDiagramObject><FlowId>{flow_id}</FlowId><Status>{status}</Status></FlowDiagramObject>"
        )
    };
    let steps = [
        ("insertSchema", format!("{auth}{schema}"), "created"),
        ("getSchema", auth.clone(), "ok"),
        ("updateSchema", format!("{auth}{schema}"), "created"),
        (
            "insertRecord",
            format!(
                "{auth}{}<FlowDiagramObject><Flow>onboarding</Flow></FlowDiagramObject>",
                record(RECORD)
            ),
            "created",
        ),
        ("getRecord", format!("{auth}{}", record("")), "ok"),
        (
            "updateRecord",
            format!("{auth}{}", record(r#"{"client":{"name":"Ada","age":40}}"#)),
            "created",
        ),
        ("getFlowDiagram", format!("{auth}{}", flow("")), "ok"),
        (
            "changeFlowStatus",
            format!("{auth}{}", flow("paused")),
            "created",
        ),
        (
            "webhook",
            format!(
                r#"<Uri>{webhook_uri}</Uri><Payload>{{"client":{{"name":"Ada","age":3}}}}</Payload>"#
            ),
            "created",
        ),
        ("deleteRecord", format!("{auth}{}", record("")), "created"),
        ("deleteSchema", auth.clone(), "ok"),
    ];
    for (operation, fields, id) in steps {
        let answer = post(&app, SOAP12_TYPE, literal12(operation, &fields)).await;
        assert_eq!(answer.status, 200, "{operation}: {}", answer.text);
        assert_eq!(answer.headers["content-type"], SOAP12_TYPE);
        assert!(
            answer.text.contains(
                "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:ns1=\"Flowize\"><env:Body>"
            ),
            "{operation}: {}",
            answer.text
        );
        assert!(
            !answer.text.contains("xsi:type"),
            "literal: {}",
            answer.text
        );
        assert!(
            answer
                .text
                .contains(&format!("<{operation}Result><Id>{id}</Id>")),
            "{operation}: {}",
            answer.text
        );
    }
    let (status, _) = rest_get(&app, "/v1/record", ("X-Uuid", UUID)).await;
    assert_eq!(status, 404, "deleted through SOAP 1.2");
}

#[tokio::test]
async fn an_array_of_records_and_a_scheduled_record_are_inserted_in_one_call() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let auth = authentication(&app.org, &app.app);
    let created = post11(
        &app,
        envelope(
            "insertRecord",
            "InsertRecordRequest",
            &format!(
                "{auth}{}{}",
                data_record_object("", "2099-08-15T15:52:01+00:00", r#"[{"n":1},{"n":2}]"#),
                flow_diagram_object("onboarding", "", "")
            ),
        ),
    )
    .await;
    created.assert_success("insertRecord", "created", 201);
    let resource = created.base64_resource();
    assert_eq!(resource["uuid"].as_array().unwrap().len(), 2, "{resource}");
    assert_eq!(count_rows(&app, "SELECT count(*) FROM records").await, 2);
    assert_eq!(
        count_rows(
            &app,
            "SELECT count(*) FROM record_queue WHERE next_run_at > now() + interval '1 year'"
        )
        .await,
        2,
        "scheduled at ExecutionTime"
    );
}

#[tokio::test]
async fn a_webhook_payload_may_be_xml() {
    let app = spawn_app().await;
    publish_flow(&app, onboarding()).await;
    let webhook_uri = register_webhook(&app).await;
    let delivered = post11(
        &app,
        envelope(
            "webhook",
            "WebhookRequest",
            &format!(
                "<Uri>{webhook_uri}</Uri><Payload><![CDATA[<order><client><name>Ada</name></client></order>]]></Payload>"
            ),
        ),
    )
    .await;
    delivered.assert_success("webhook", "created", 201);
    let uuid = delivered.json_resource()["data"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, record) = rest_get(&app, "/v1/record", ("X-Uuid", &uuid)).await;
    assert_eq!(
        record["resource"]["data_record"],
        json!({"client": {"name": "Ada"}})
    );
    let unknown = post11(
        &app,
        envelope(
            "webhook",
            "WebhookRequest",
            "<Uri>not-a-registered-uri</Uri><Payload>{}</Payload>",
        ),
    )
    .await;
    unknown.assert_fault("404", 404, "");
}
