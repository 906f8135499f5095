//! From the answer of an operation's REST twin to the SOAP `Response` or Fault.
//!
//! The REST handler's envelope is read back (its status, resource and message, or its error),
//! so that both APIs say the same thing. Where the reference's SOAP section prints its own
//! `Id`, `Code`, message or `Error` for an operation, those are used; `Resource` is the REST
//! resource as JSON text — base64 for the two record writes, whose reference answers print
//! `base64_encode({{data_record}})`, and empty where the reference prints it empty.

use crate::reply::{Envelope, PendingEnvelope};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flowline_core::ErrorKind;
use flowline_soap::{Fault, Operation};
use serde_json::Value;

/// What the SOAP `Response` of a successful operation carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    pub id: &'static str,
    pub code: u16,
    pub resource: String,
    pub message: String,
    pub error: &'static str,
}

/// How an operation's `Resource` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResourceForm {
    /// The reference prints it empty.
    Empty,
    /// The REST resource as JSON text.
    Json,
    /// The REST resource as base64 of its JSON text.
    Base64,
}

/// The reference's SOAP answer of each operation: `Id`/`Code`, its message when the SOAP
/// section prints one of its own (otherwise the REST twin's), `Error`, and the resource's form.
struct Acknowledgement {
    code: u16,
    message: Option<&'static str>,
    error: &'static str,
    resource: ResourceForm,
}

fn acknowledgement(operation: Operation) -> Acknowledgement {
    let ack = |code, message, resource| Acknowledgement {
        code,
        message,
        error: "null",
        resource,
    };
    match operation {
        Operation::InsertSchema => ack(
            201,
            Some("Data Schema is created successfully."),
            ResourceForm::Empty,
        ),
        Operation::InsertRecord => ack(
            201,
            Some("Data Record is created successfully and it is included in the queue."),
            ResourceForm::Base64,
        ),
        // The reference answers a webhook with a "fault" of code 201; every SOAP client would
        // raise it as an error, so a webhook is answered like the other operations.
        Operation::Webhook => ack(
            201,
            Some("Webhook response has been saved successfully"),
            ResourceForm::Json,
        ),
        Operation::GetRecord | Operation::GetSchema | Operation::GetFlowDiagram => {
            ack(200, None, ResourceForm::Json)
        }
        Operation::UpdateRecord => ack(
            201,
            Some("Data Record is updated successfully."),
            ResourceForm::Base64,
        ),
        Operation::UpdateSchema => ack(
            201,
            Some("Schema structure is created successfully"),
            ResourceForm::Json,
        ),
        // The message names the transition (published, paused, …), as REST's does.
        Operation::ChangeFlowStatus => Acknowledgement {
            code: 201,
            message: None,
            error: "false",
            resource: ResourceForm::Json,
        },
        Operation::DeleteSchema => ack(200, None, ResourceForm::Empty),
        Operation::DeleteRecord => ack(
            201,
            Some("Data Record is deleted successfully."),
            ResourceForm::Empty,
        ),
    }
}

/// The SOAP answer of `operation`, from its REST twin's response.
pub fn from_rest(operation: Operation, mut response: Response) -> Result<Success, Fault> {
    let status = response.status().as_u16();
    let Some(PendingEnvelope(envelope)) = response.extensions_mut().remove::<PendingEnvelope>()
    else {
        return Err(Fault::server(
            "We had a problem with our server. Try again later.",
        ));
    };
    let (resource, message) = match envelope {
        Envelope::Error {
            internal_code,
            message,
            ..
        } => {
            return Err(Fault::status(
                status,
                internal_code,
                soap_message(operation, &message),
            ));
        }
        Envelope::Short { resource, message }
        | Envelope::Full { resource, message }
        | Envelope::Tagged {
            resource, message, ..
        } => (json_text(&resource), message),
        Envelope::ShortText { resource, message } => (resource.get().to_owned(), message),
        Envelope::Raw(value) => (json_text(&value), String::new()),
        Envelope::Document { body, .. } => {
            (String::from_utf8_lossy(&body).into_owned(), String::new())
        }
    };
    let ack = acknowledgement(operation);
    Ok(Success {
        id: if ack.code == 201 { "created" } else { "ok" },
        code: ack.code,
        resource: match ack.resource {
            ResourceForm::Empty => String::new(),
            ResourceForm::Json => resource,
            ResourceForm::Base64 => STANDARD.encode(resource),
        },
        message: ack.message.map_or(message, str::to_owned),
        error: ack.error,
    })
}

/// JSON text of a resource; nothing at all for an empty one (`{}`, `""`, `[]`, null).
fn json_text(resource: &Value) -> String {
    let empty = match resource {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        String::new()
    } else {
        resource.to_string()
    }
}

/// An error of the REST twin names its REST parameters (`uuid: …`, `X-Flow: …`); the SOAP
/// client sent envelope fields, so the message names those instead.
pub fn soap_message(operation: Operation, message: &str) -> String {
    let Some((field, rest)) = message.split_once(':') else {
        return message.to_owned();
    };
    let soap_field = match field {
        "uuid" | "X-Uuid" => "DataRecordObject/Uuid",
        "executiontime" | "X-Executiontime" => "DataRecordObject/ExecutionTime",
        "flow_name" | "X-Flow" => "FlowDiagramObject/Flow",
        "flow_id" | "X-Flow-Id" => "FlowDiagramObject/FlowId",
        "status" | "X-Status" => "FlowDiagramObject/Status",
        "schema" => "SchemaObject/Schema",
        "data_record" if !operation_reads_records(operation) => "SchemaObject/DataRecord",
        "url" => "SchemaObject/Url",
        "body" if operation == Operation::Webhook => "Payload",
        "body" => "DataRecordObject/Data",
        _ => return message.to_owned(),
    };
    format!("{soap_field}:{rest}")
}

fn operation_reads_records(operation: Operation) -> bool {
    matches!(
        operation,
        Operation::InsertRecord
            | Operation::GetRecord
            | Operation::UpdateRecord
            | Operation::DeleteRecord
    )
}

/// The fault of a failed authentication. A credential that is wrong answers as the reference
/// prints it for every operation (404, "The credentials are not correct."); an expired token,
/// a refused address and a missing scope keep their REST codes.
pub fn authentication_fault(kind: ErrorKind, message: String) -> Fault {
    if kind == ErrorKind::Unauthorized {
        Fault::status(404, 404, "The credentials are not correct.")
    } else {
        Fault::status(kind.status(), kind.internal_code(), message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reply::Reply;
    use axum::response::IntoResponse;
    use http::StatusCode;
    use serde_json::json;

    #[test]
    fn record_writes_carry_base64_resources_and_the_references_messages() {
        let reply = Reply::short(StatusCode::CREATED, json!({"uuid": "u"}), "REST message");
        let success = from_rest(Operation::InsertRecord, reply.into_response()).unwrap();
        assert_eq!(success.id, "created");
        assert_eq!(success.code, 201);
        assert_eq!(success.resource, STANDARD.encode(r#"{"uuid":"u"}"#));
        assert_eq!(
            success.message,
            "Data Record is created successfully and it is included in the queue."
        );
        assert_eq!(success.error, "null");
    }

    #[test]
    fn reads_keep_the_rest_message_and_json_resource() {
        let reply = Reply::short(
            StatusCode::OK,
            json!({"url": ""}),
            "Schema structure is retrieving successfully",
        );
        let success = from_rest(Operation::GetSchema, reply.into_response()).unwrap();
        assert_eq!((success.id, success.code), ("ok", 200));
        assert_eq!(success.resource, r#"{"url":""}"#);
        assert_eq!(
            success.message,
            "Schema structure is retrieving successfully"
        );
        let emptied = from_rest(
            Operation::DeleteSchema,
            Reply::short(StatusCode::OK, json!({}), "gone").into_response(),
        )
        .unwrap();
        assert_eq!(emptied.resource, "");
    }

    #[test]
    fn errors_become_faults_naming_soap_fields() {
        let error = crate::error::ApiError(flowline_core::Error::invalid_field(
            "uuid",
            "'x' is not a valid UUID",
        ));
        let fault = from_rest(Operation::GetRecord, error.into_response()).unwrap_err();
        assert_eq!(fault.code, flowline_soap::FaultCode::Status(400));
        assert_eq!(fault.detail_code, 400);
        assert_eq!(
            fault.message,
            "DataRecordObject/Uuid: 'x' is not a valid UUID"
        );
        assert_eq!(
            soap_message(Operation::InsertSchema, "data_record: must be an object"),
            "SchemaObject/DataRecord: must be an object"
        );
        assert_eq!(
            soap_message(Operation::Webhook, "body: malformed JSON"),
            "Payload: malformed JSON"
        );
        assert_eq!(
            soap_message(Operation::GetRecord, "no field here"),
            "no field here"
        );
    }

    #[test]
    fn wrong_credentials_answer_as_the_reference_prints() {
        let fault = authentication_fault(ErrorKind::Unauthorized, "x".into());
        assert_eq!(fault.code, flowline_soap::FaultCode::Status(404));
        assert_eq!(fault.message, "The credentials are not correct.");
        let token = authentication_fault(ErrorKind::InvalidToken, "Access token not valid".into());
        assert_eq!(token.code, flowline_soap::FaultCode::Status(403));
        assert_eq!(token.detail_code, 436);
    }
}
