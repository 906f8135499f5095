//! The webhooks service: endpoints through which outside services push data into a flow, and
//! the events they receive.
//!
//! A webhook belongs to one environment of one organization and feeds one flow. Its uri is the
//! only credential a sender needs, so it is 192 random bits, stored as a digest and shown once;
//! an optional secret makes the sender sign each payload with HMAC-SHA256, and an optional
//! mapping builds the record from chosen paths of the payload. [`receive`] stores an event and
//! queues its record in one transaction, and answers a retry carrying the same idempotency key
//! with the first answer, creating nothing.
//!
//! This crate owns the `webhooks` and `webhook_events` tables. It knows nothing of HTTP: the
//! gateway reads and parses bodies, and hands over the raw bytes and the parsed value. It never
//! logs a uri, a secret or a payload.

mod event;
mod mapping;
mod payload;
mod signature;
mod store;
mod uri;

pub use event::{Event, IdempotencyKey, Receipt, receive};
pub use mapping::Mapping;
pub use signature::{SIGNATURE_HEADER, WebhookSecret};
pub use store::{
    CreatedWebhook, Endpoint, NewWebhook, Webhook, WebhookId, create, delete, find_by_uri, get,
    list, list_for_org, tenant_of_org,
};
pub use uri::{WEBHOOK_PATH_PREFIX, WebhookUri};
