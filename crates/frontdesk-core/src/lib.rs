//! Frontdesk's domain. Nothing in this crate performs I/O: time and randomness come in
//! through the [`ports::Clock`] and [`ports::Entropy`] ports, persistence through [`store::Store`].

pub mod analytics;
pub mod answer;
pub mod audit;
pub mod billing;
pub mod chat;
pub mod error;
pub mod events;
pub mod gaps;
pub mod group_commit;
pub mod ids;
pub mod inbox;
pub mod kb;
pub mod keys;
pub mod knowledge;
pub mod markdown;
pub mod model;
pub mod origin;
pub mod plans;
pub mod ports;
pub mod privacy;
pub mod roles;
pub mod scenarios;
pub mod status;
pub mod store;
pub mod team;
pub mod time;
pub mod validate;
pub mod webhooks;

pub use error::CoreError;
pub use ids::*;
pub use time::Timestamp;
