//! The data schema of an environment (Flowize: "the customer Data Schema"): a JSON Schema
//! (draft 4) and a sample data record, both sent base64-encoded. It is compiled and checked
//! when saved; records pushed into the environment are validated against it with
//! [`CompiledSchema::validate`].
//!
//! This crate owns the `data_schemas` table and nothing else.

mod cache;
mod definition;
mod store;

pub use cache::{SchemaCache, SchemaState};

pub use definition::{CompiledSchema, SchemaDefinition};
pub use store::{SchemaTimes, StoredSchema, create, delete, get, load_compiled, update};
