#![recursion_limit = "256"]
//! The Docker Engine API: the router (method + path → [`router::Endpoint`]),
//! the server that dispatches endpoints to the engine, Docker's JSON wire
//! shapes, and a small client for the `berth` CLI.
//!
//! Architecture invariant: this is the only crate that knows Docker's JSON
//! wire types and HTTP status codes; the engine below it speaks Rust types.

pub mod body;
pub mod client;
mod detach;
mod error;
mod handlers;
mod hijack;
pub mod router;
pub mod server;
pub mod units;
mod websocket;

pub use error::ApiError;

/// The API version berth implements and reports.
pub const API_VERSION: &str = "1.50";
/// The oldest API version berth still answers.
pub const MIN_API_VERSION: &str = "1.24";
