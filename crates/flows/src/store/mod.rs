//! The flows service: flows and their versions in PostgreSQL. Everything here works on
//! definitions that [`crate::FlowDefinition`] has already validated.

mod authoring;
mod lifecycle;
mod lookup;
mod removal;
mod view;

pub use authoring::{Imported, create, import, save_draft};
pub use lifecycle::{Transition, change_status, requested_status};
pub use lookup::{
    FlowStatus, FlowSummary, find, find_by_id, find_by_id_for_update, find_for_update,
};
pub use removal::{DeletedFlow, delete};
pub use view::{FlowVersionInfo, FlowView, get};
