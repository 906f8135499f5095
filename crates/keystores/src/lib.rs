//! The keystores service: named key/value stores of an environment (`weather` → `london` → the
//! weather of London), for clients over `/v1/keystore` and for flows' `keystore.*` steps.
//!
//! A keystore is defined once ([`definitions`]): a name, a type — JSON, XML or raw text — and
//! the empty structure that a key read before it was ever written is created with. Its
//! entries ([`entries`]) keep each value exactly as it was saved (what reads and a search's `*`
//! return) together with the JSON document that searches read, and [`search`] runs the
//! reference's `select`/`where` document in PostgreSQL through the shared where-rules compiler.
//!
//! This crate owns the `keystores` and `keystore_entries` tables. It knows nothing of HTTP or
//! of XML syntax: the gateway hands it values already read ([`EntryValue::parse`] takes the
//! gateway's XML reader), and shapes its answers. Every function takes the caller's tenant and
//! touches that tenant's rows only. It never logs a key or a value.

pub mod definitions;
pub mod entries;
mod error;
mod model;
pub mod search;

pub use definitions::{Keystore, NewKeystore};
pub use entries::{Entry, EntryAddress, Upserted};
pub use error::KeystoreError;
pub use model::{
    EntryKey, EntryValue, KeystoreId, KeystoreType, MAX_KEY_BYTES, MAX_KEYSTORE_ID_CHARS,
};
pub use search::{MAX_RESULT_BYTES, MAX_RESULTS, Search};
