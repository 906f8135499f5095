//! SOAP Faults: what went wrong, in the terms both SOAP versions can carry.

/// The fault's code. SOAP 1.1 writes it as `faultcode`; SOAP 1.2 as `env:Code/env:Value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The envelope is not in a SOAP namespace this server speaks.
    VersionMismatch,
    /// A header marked `mustUnderstand` that this server does not understand.
    MustUnderstand,
    /// The message is at fault (malformed, an unknown operation, a missing field).
    Client,
    /// The server is at fault.
    Server,
    /// A Flowize status, as the reference prints it in `faultcode` (`404`, `403`, …): the
    /// errors of the operations themselves. SOAP 1.2 writes it as `env:Sender` (4xx) or
    /// `env:Receiver` (5xx), with the status in the detail.
    Status(u16),
}

/// A SOAP Fault. Its detail carries `code` and `message` items, as the reference shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Fault {
    pub code: FaultCode,
    /// `faultstring` (1.1), `env:Reason/env:Text` (1.2), and the detail's `message`.
    pub message: String,
    /// `faultactor` (1.1), `env:Role` (1.2): what the reference fills with an opaque request
    /// identifier.
    pub actor: Option<String>,
    /// The detail's `code`.
    pub detail_code: u16,
}

impl Fault {
    /// A Client fault: the message at fault, detail code 400.
    pub fn client(message: impl Into<String>) -> Fault {
        Fault {
            code: FaultCode::Client,
            message: message.into(),
            actor: None,
            detail_code: 400,
        }
    }

    /// A Server fault, detail code 500.
    pub fn server(message: impl Into<String>) -> Fault {
        Fault {
            code: FaultCode::Server,
            message: message.into(),
            actor: None,
            detail_code: 500,
        }
    }

    /// An operation's error: `faultcode` is the status, the detail carries `detail_code`
    /// (Flowize's internal code, which refines some statuses: 436, 437).
    pub fn status(status: u16, detail_code: u16, message: impl Into<String>) -> Fault {
        Fault {
            code: FaultCode::Status(status),
            message: message.into(),
            actor: None,
            detail_code,
        }
    }

    pub(crate) fn with_code(mut self, code: FaultCode) -> Fault {
        self.code = code;
        self
    }

    pub fn with_actor(mut self, actor: impl Into<String>) -> Fault {
        self.actor = Some(actor.into());
        self
    }
}
