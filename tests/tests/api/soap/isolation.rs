//! Another organization's credentials see and change nothing of this one's data through SOAP.

use super::*;
use crate::records::onboarding;
use crate::schema::{RECORD, SCHEMA};

#[tokio::test]
async fn another_organization_sees_and_changes_nothing() {
    let app = spawn_app().await;
    let flow_id = publish_flow(&app, onboarding()).await;
    let owner = authentication(&app.org, &app.app);
    post11(
        &app,
        envelope(
            "insertSchema",
            "InsertSchemaRequest",
            &format!("{owner}{}", schema_object(SCHEMA, RECORD)),
        ),
    )
    .await
    .assert_success("insertSchema", "created", 201);
    let uuid = "0b9b5d1c-1c1d-4c55-9a4b-3d2f1e0a9b8c";
    post11(
        &app,
        envelope(
            "insertRecord",
            "InsertRecordRequest",
            &format!(
                "{owner}{}{}",
                data_record_object(uuid, "", RECORD),
                flow_diagram_object("onboarding", "", "")
            ),
        ),
    )
    .await
    .assert_success("insertRecord", "created", 201);

    let intruder_org = create_org(&app.pool, "Intruder").await;
    let intruder_app = create_app(&app.pool, &intruder_org, application("crm")).await;
    let intruder = authentication(&intruder_org, &intruder_app);
    let record = data_record_object(uuid, "", r#"{"client":{"name":"Mallory","age":1}}"#);
    let attempts = [
        envelope(
            "getRecord",
            "GetRecordRequest",
            &format!("{intruder}{record}"),
        ),
        envelope(
            "updateRecord",
            "UpdateRecordRequest",
            &format!("{intruder}{record}"),
        ),
        envelope(
            "deleteRecord",
            "DeleteRecordRequest",
            &format!("{intruder}{record}"),
        ),
        envelope("getSchema", "GetSchemaRequest", &intruder),
        envelope("deleteSchema", "DeleteSchemaRequest", &intruder),
        envelope(
            "getFlowDiagram",
            "GetFlowDiagramRequest",
            &format!(
                "{intruder}{}",
                flow_diagram_object("", &flow_id.to_string(), "")
            ),
        ),
        envelope(
            "changeFlowStatus",
            "ChangeFlowDiagramStatusRequest",
            &format!(
                "{intruder}{}",
                flow_diagram_object("", &flow_id.to_string(), "paused")
            ),
        ),
        envelope(
            "insertRecord",
            "InsertRecordRequest",
            &format!(
                "{intruder}{}{}",
                data_record_object("", "", RECORD),
                flow_diagram_object("", &flow_id.to_string(), "")
            ),
        ),
    ];
    for attempt in attempts {
        post11(&app, attempt).await.assert_fault("404", 404, "");
    }

    let got = post11(
        &app,
        envelope(
            "getRecord",
            "GetRecordRequest",
            &format!("{owner}{}", data_record_object(uuid, "", "")),
        ),
    )
    .await;
    got.assert_success("getRecord", "ok", 200);
    assert_eq!(got.json_resource()["data_record"]["client"]["name"], "Ada");
    let schema = post11(&app, envelope("getSchema", "GetSchemaRequest", &owner)).await;
    schema.assert_success("getSchema", "ok", 200);
    let diagram = post11(
        &app,
        envelope(
            "getFlowDiagram",
            "GetFlowDiagramRequest",
            &format!("{owner}{}", flow_diagram_object("onboarding", "", "")),
        ),
    )
    .await;
    diagram.assert_success("getFlowDiagram", "ok", 200);
    assert_eq!(diagram.json_resource()["status"], "public");
    assert_eq!(count_rows(&app, "SELECT count(*) FROM records").await, 1);
}
