pub mod admin;
pub mod auth;
pub mod flowdiagram;
pub mod options;
pub mod record_queries;
pub mod records;
pub mod schema;
pub mod webhooks;
