pub mod admin;
pub mod auth;
pub mod options;
pub mod schema;
