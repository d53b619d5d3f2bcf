//! The one error type of this crate, with the behaviour the worker needs on it: whether to
//! retry, how long to wait, and a stable class for metrics labels.
//!
//! Messages name the venue (or FX source) and the request *path*, never the full URL: query
//! strings stay out of errors and logs.

use std::{fmt, time::Duration};

pub use domain::ErrorClass;

/// A failed fetch. `venue` holds the venue name (`upbit`) or the FX source name (`erapi`);
/// `path` is the request path without its query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{venue} {path}: rate limited (HTTP {status}){}", fmt_retry_after(*retry_after))]
    RateLimited {
        venue: String,
        path: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{venue} {path}: server error HTTP {status}: {detail}")]
    Server {
        venue: String,
        path: String,
        status: u16,
        detail: String,
    },
    #[error("{venue} {path}: timed out")]
    Timeout { venue: String, path: String },
    #[error("{venue} {path}: connection failed: {detail}")]
    Connect {
        venue: String,
        path: String,
        detail: String,
    },
    /// A 4xx that retrying will not fix. `detail` carries the venue's error name/message when
    /// the body had one (`-1121: Invalid symbol.`).
    #[error("{venue} {path}: rejected with HTTP {status}: {detail}")]
    Client {
        venue: String,
        path: String,
        status: u16,
        detail: String,
    },
    /// The venue's own error body (Bithumb `status`, Bybit `retCode`, OKX `code`, open.er-api
    /// `result`). `retryable` is decided per code (rate-limit codes are retryable).
    #[error("{venue} error {code}: {message}")]
    Api {
        venue: String,
        code: String,
        message: String,
        retryable: bool,
    },
    #[error("{venue}: malformed response: {detail}")]
    Malformed { venue: String, detail: String },
    /// `coin` is the venue's symbol (`KRW-BTC`, `BTCUSDT`, `FRX.KRWUSD`), `field` the wire field.
    #[error("{venue} {coin} {field}: {reason}")]
    InvalidPrice {
        venue: String,
        coin: String,
        field: &'static str,
        reason: String,
    },
    #[error("{venue}: {symbol} is not listed")]
    UnknownSymbol { venue: String, symbol: String },
}

fn fmt_retry_after(d: Option<Duration>) -> String {
    d.map(|d| format!(", retry after {}s", d.as_secs()))
        .unwrap_or_default()
}

impl FetchError {
    /// Whether the same request may succeed later.
    ///
    /// Malformed bodies count as retryable: an overloaded venue or a proxy in front of it
    /// sometimes answers with an HTML page or a truncated body, and the next poll is fine.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::RateLimited { .. }
            | FetchError::Server { .. }
            | FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Malformed { .. } => true,
            FetchError::Api { retryable, .. } => *retryable,
            FetchError::Client { .. }
            | FetchError::InvalidPrice { .. }
            | FetchError::UnknownSymbol { .. } => false,
        }
    }

    /// How long the venue asked us to wait (from `Retry-After`, or Bybit's documented 10 min).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            FetchError::RateLimited { .. } => ErrorClass::RateLimited,
            FetchError::Server { .. } => ErrorClass::Server,
            FetchError::Timeout { .. } => ErrorClass::Timeout,
            FetchError::Connect { .. } => ErrorClass::Connect,
            FetchError::Client { .. } => ErrorClass::Client,
            FetchError::Api { .. } => ErrorClass::Api,
            FetchError::Malformed { .. } => ErrorClass::Malformed,
            FetchError::InvalidPrice { .. } => ErrorClass::InvalidPrice,
            FetchError::UnknownSymbol { .. } => ErrorClass::UnknownSymbol,
        }
    }

    pub(crate) fn malformed(venue: &str, detail: impl fmt::Display) -> Self {
        FetchError::Malformed {
            venue: venue.to_string(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn invalid_price(
        venue: &str,
        coin: &str,
        field: &'static str,
        reason: impl fmt::Display,
    ) -> Self {
        FetchError::InvalidPrice {
            venue: venue.to_string(),
            coin: coin.to_string(),
            field,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn unknown_symbol(venue: &str, symbol: &str) -> Self {
        FetchError::UnknownSymbol {
            venue: venue.to_string(),
            symbol: symbol.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_have_distinct_labels() {
        let labels: std::collections::HashSet<_> =
            ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(labels.len(), ErrorClass::ALL.len());
    }

    #[test]
    fn invalid_price_names_venue_coin_and_field() {
        let e = FetchError::invalid_price(
            "upbit",
            "KRW-BTC",
            "trade_price",
            "price must be positive, got 0",
        );
        assert_eq!(
            e.to_string(),
            "upbit KRW-BTC trade_price: price must be positive, got 0"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn rate_limits_carry_their_wait() {
        let e = FetchError::RateLimited {
            venue: "binance".into(),
            path: "/fapi/v1/premiumIndex".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(
            e.to_string(),
            "binance /fapi/v1/premiumIndex: rate limited (HTTP 429), retry after 3s"
        );
    }
}
