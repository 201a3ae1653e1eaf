//! Bot scenarios ("flows"): the document schema, its validation and the interpreter.
//!
//! No storage and no sockets: the server stores documents and runs, delivers events to
//! [`drive`], and performs the effects through [`FlowHost`]. The contract is `docs/flows.md`.

mod engine;
mod expr;
mod http;
mod input;
mod path;
mod pattern;
mod schema;
mod template;
mod validate;

pub use engine::{Context, Event, FlowHost, FlowRun, Outcome, RunStatus, VisitorVars, drive};
pub use http::{
    HttpCall, HttpExecutor, HttpOutcome, MAX_RESPONSE_BYTES, describe_error, guarded_client, is_private_literal,
    is_public_ip,
};
pub use schema::*;
pub use validate::{FlowIssue, check, parse, validate};

/// The document version this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
/// Node executions allowed per external event (visitor message, timer, start).
pub const MAX_STEPS: u32 = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The host could not perform an effect (store a message, hand off…).
    #[error("host error: {0}")]
    Host(String),
}
