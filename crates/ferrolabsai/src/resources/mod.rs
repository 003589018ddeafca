//! Resource namespaces: thin views over a [`FerroClient`](crate::FerroClient)
//! (a borrowed reference, free to create) that map one call to one request.

pub mod admin;
pub mod chat;
pub mod inference;
pub mod models;
