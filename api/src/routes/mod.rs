//! The operations, one module per resource: premiums (current, stream, history), quotes
//! (tickers and USD/KRW), markets (the registry in force), jobs, positions, alerts and ops
//! (health, readiness, metrics). Every module groups its operations under a tag of [`tags`].

pub mod alerts;
pub mod jobs;
pub mod markets;
pub mod ops;
pub mod position_entry;
pub mod positions;
pub mod premiums;
pub mod quotes;
pub mod tags;

pub use tags::ApiTags;
