//! The events of a premium stream (`GET /api/v1/premiums/stream`).

use poem_openapi::{Enum, Object, Union};

use crate::views::premium::PremiumView;

/// The data of a stream event: a premium (`event: premium`) or why the stream ends
/// (`event: error`).
#[derive(Debug, Union)]
#[oai(one_of)]
pub enum StreamEvent {
    Premium(Box<PremiumView>),
    End(StreamEnd),
}

/// Why the server ended a premium stream; the last event of the stream.
#[derive(Debug, Clone, Object)]
pub struct StreamEnd {
    pub code: StreamEndCode,
    /// For people: what happened and what to do.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StreamEndCode {
    /// The client read too slowly and missed updates; reconnect.
    Lagged,
}
