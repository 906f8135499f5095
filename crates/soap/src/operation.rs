//! The eleven operations of the Flowize SOAP API and the objects each one's `input` holds.

/// An operation, named as the reference and the WSDLs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    InsertSchema,
    InsertRecord,
    Webhook,
    GetRecord,
    GetSchema,
    GetFlowDiagram,
    UpdateRecord,
    UpdateSchema,
    ChangeFlowStatus,
    DeleteSchema,
    DeleteRecord,
}

/// An object (or, for `webhook`, a plain field) that an operation's `input` may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Authentication,
    Schema,
    DataRecord,
    FlowDiagram,
    Uri,
    Payload,
}

impl Part {
    pub(crate) fn element(self) -> &'static str {
        match self {
            Part::Authentication => "AuthenticationObject",
            Part::Schema => "SchemaObject",
            Part::DataRecord => "DataRecordObject",
            Part::FlowDiagram => "FlowDiagramObject",
            Part::Uri => "Uri",
            Part::Payload => "Payload",
        }
    }

    /// The fields of an object part; empty for a plain field.
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Part::Authentication => &["Apikey", "Appkey", "Version"],
            Part::Schema => &["Url", "Schema", "DataRecord"],
            Part::DataRecord => &["Uuid", "ExecutionTime", "Data"],
            Part::FlowDiagram => &["Flow", "FlowId", "Status"],
            Part::Uri | Part::Payload => &[],
        }
    }
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::InsertSchema,
        Operation::InsertRecord,
        Operation::Webhook,
        Operation::GetRecord,
        Operation::GetSchema,
        Operation::GetFlowDiagram,
        Operation::UpdateRecord,
        Operation::UpdateSchema,
        Operation::ChangeFlowStatus,
        Operation::DeleteSchema,
        Operation::DeleteRecord,
    ];

    /// Whether the operation adds data to the environment: refused while the environment is
    /// over its storage (reads and deletions free or keep it).
    pub fn stores_data(self) -> bool {
        matches!(
            self,
            Operation::InsertSchema
                | Operation::InsertRecord
                | Operation::Webhook
                | Operation::UpdateRecord
                | Operation::UpdateSchema
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Operation::InsertSchema => "insertSchema",
            Operation::InsertRecord => "insertRecord",
            Operation::Webhook => "webhook",
            Operation::GetRecord => "getRecord",
            Operation::GetSchema => "getSchema",
            Operation::GetFlowDiagram => "getFlowDiagram",
            Operation::UpdateRecord => "updateRecord",
            Operation::UpdateSchema => "updateSchema",
            Operation::ChangeFlowStatus => "changeFlowStatus",
            Operation::DeleteSchema => "deleteSchema",
            Operation::DeleteRecord => "deleteRecord",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|operation| operation.name() == name)
    }

    /// The type of the `input` part, as the reference's `xsi:type` attributes and the WSDLs
    /// name it.
    pub fn request_type(self) -> &'static str {
        match self {
            Operation::InsertSchema => "InsertSchemaRequest",
            Operation::InsertRecord => "InsertRecordRequest",
            Operation::Webhook => "WebhookRequest",
            Operation::GetRecord => "GetRecordRequest",
            Operation::GetSchema => "GetSchemaRequest",
            Operation::GetFlowDiagram => "GetFlowDiagramRequest",
            Operation::UpdateRecord => "UpdateRecordRequest",
            Operation::UpdateSchema => "UpdateSchemaRequest",
            Operation::ChangeFlowStatus => "ChangeFlowDiagramStatusRequest",
            Operation::DeleteSchema => "DeleteSchemaRequest",
            Operation::DeleteRecord => "DeleteRecordRequest",
        }
    }

    /// What the operation's `input` holds.
    pub(crate) fn parts(self) -> &'static [Part] {
        match self {
            Operation::InsertSchema | Operation::UpdateSchema => {
                &[Part::Authentication, Part::Schema]
            }
            Operation::InsertRecord => &[Part::Authentication, Part::DataRecord, Part::FlowDiagram],
            Operation::Webhook => &[Part::Uri, Part::Payload],
            Operation::GetRecord | Operation::UpdateRecord | Operation::DeleteRecord => {
                &[Part::Authentication, Part::DataRecord]
            }
            Operation::GetSchema | Operation::DeleteSchema => &[Part::Authentication],
            Operation::GetFlowDiagram | Operation::ChangeFlowStatus => {
                &[Part::Authentication, Part::FlowDiagram]
            }
        }
    }

    /// Whether the caller must present credentials: every operation but `webhook`, whose uri
    /// is its credential.
    pub fn needs_credentials(self) -> bool {
        self != Operation::Webhook
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The operations' names, for messages.
pub(crate) fn operation_names() -> String {
    Operation::ALL
        .iter()
        .map(|operation| operation.name())
        .collect::<Vec<_>>()
        .join(", ")
}
