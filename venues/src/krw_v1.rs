//! The Upbit-compatible v1 API that both Upbit and Bithumb's current API serve: the ticker
//! (`GET /v1/ticker?markets=KRW-BTC,KRW-ETH`, or every KRW market at once with
//! `GET /v1/ticker/all?quote_currencies=KRW` on Upbit), prices as JSON numbers, and the market
//! list `GET /v1/market/all`.
//!
//! Times: a ticker's `timestamp` is the snapshot time, the quote's `observed_at`;
//! `trade_timestamp` is the last trade (`last_trade_at`), which may be minutes old on an
//! illiquid coin whose quote is current.

use std::collections::HashMap;

use chrono::Utc;
use domain::{Listing, Venue};
use serde::Deserialize;

use crate::{
    FetchError, TickerBatch,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub(crate) const PATH: &str = "/v1/ticker";
pub(crate) const ALL_PATH: &str = "/v1/ticker/all";
pub(crate) const ALL_QUERY: &str = "quote_currencies=KRW";
pub(crate) const MARKETS_PATH: &str = "/v1/market/all";

/// One market of `GET /v1/ticker` (fields this crate reads; the rest are ignored).
///
/// Docs: <https://global-docs.upbit.com/reference/tickers_by_pairs>,
/// <https://apidocs.bithumb.com/reference/현재가-정보>.
///
/// ```json
/// [{"market":"KRW-BTC","trade_date":"20250730","trade_time":"170315","trade_date_kst":"20250731",
///   "trade_time_kst":"020315","trade_timestamp":1753894995076,"opening_price":163248000.0,
///   "high_price":163708000.0,"low_price":162248000.0,"trade_price":162876000.0,
///   "prev_closing_price":163158000.0,"change":"FALL","signed_change_rate":-0.0017283860,
///   "trade_volume":0.02543652,"acc_trade_price_24h":167740032580.71786,
///   "acc_trade_volume_24h":1029.2736991,"timestamp":1753894995113}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct V1Ticker {
    pub market: String,
    pub trade_price: Option<WireNumber>,
    /// Time of the last trade, ms: `last_trade_at`.
    pub trade_timestamp: Option<WireNumber>,
    /// Time the ticker snapshot was taken, ms: the quote time (`observed_at`); the trade time
    /// stands in when it is absent.
    pub timestamp: Option<WireNumber>,
}

impl V1Ticker {
    /// Validates the price and picks the quote and trade times. Shared by two venues, so the
    /// venue is a parameter rather than a `TryFrom`.
    pub fn quote(&self, venue: Venue) -> Result<Quote, FetchError> {
        let v = venue.as_str();
        let price = price_field(v, &self.market, "trade_price", self.trade_price.as_ref())?;
        let last_trade_at = self
            .trade_timestamp
            .as_ref()
            .map(|ts| millis_field(v, &self.market, "trade_timestamp", Some(ts)))
            .transpose()?;
        let observed_at = match (&self.timestamp, last_trade_at) {
            (None, Some(at)) => at,
            (ts, _) => millis_field(v, &self.market, "timestamp", ts.as_ref())?,
        };
        Ok(Quote {
            price,
            observed_at,
            last_trade_at,
        })
    }
}

/// The v1 error body, sent with a 4xx status.
///
/// ```json
/// {"error":{"name":"404","message":"Code not found"}}
/// ```
#[derive(Debug, Deserialize)]
struct V1ErrorBody {
    error: V1Error,
}

#[derive(Debug, Deserialize)]
struct V1Error {
    /// A string such as `"invalid_query_payload"`, sometimes a number.
    name: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
}

pub(crate) fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<V1ErrorBody>(body).ok()?.error;
    let name = match e.name {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    Some(ApiError::new(name, e.message.unwrap_or_default(), false))
}

/// Whether an error is the v1 "Code not found" answer (an unlisted market in the request):
/// with HTTP 200 on Bithumb, 404 on Upbit.
pub(crate) fn is_code_not_found(e: &FetchError) -> bool {
    match e {
        FetchError::Api { message, .. } => message.contains("Code not found"),
        FetchError::Client { detail, .. } => detail.contains("Code not found"),
        _ => false,
    }
}

/// Fetches `listings` with `GET /v1/ticker?markets=…`, at most `chunk` markets a request, one
/// request after the other. A chunk answering "Code not found" (one unlisted market fails the
/// whole call) turns its listings into [`FetchError::UnknownSymbol`] failures without failing
/// the other chunks; any other chunk error does too, under its own class. Only when every
/// chunk fails, and not all of them with "Code not found", is the first other error the `Err`
/// (an unlisted market is a per-coin failure, so the caller can tell it from a failing venue).
pub(crate) async fn fetch_markets(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
    chunk: usize,
) -> Result<TickerBatch, FetchError> {
    let mut batch = TickerBatch::default();
    let mut first_error = None;
    let mut answered = false;
    for part in listings.chunks(chunk.max(1)) {
        match fetch_chunk(ep, venue, part).await {
            Ok(b) => {
                answered = true;
                batch.tickers.extend(b.tickers);
                batch.failures.extend(b.failures);
            }
            Err(e) => {
                tracing::debug!(%venue, markets = part.len(), error = %e, "ticker chunk failed");
                let unlisted = is_code_not_found(&e);
                for l in part {
                    let err = if unlisted {
                        FetchError::unknown_symbol(venue.as_str(), &l.instrument.symbol)
                    } else {
                        e.clone()
                    };
                    batch.failures.push((l.coin.clone(), err));
                }
                if unlisted {
                    answered = true;
                } else {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) if !answered => Err(e),
        _ => Ok(batch),
    }
}

async fn fetch_chunk(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
) -> Result<TickerBatch, FetchError> {
    let markets: Vec<&str> = listings
        .iter()
        .map(|l| l.instrument.symbol.as_str())
        .collect();
    let body = ep
        .get(PATH, &format!("markets={}", markets.join(",")))
        .await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Ticker> = ep.parse(&body)?;
    Ok(pick(venue, listings, fetched_at, rows))
}

/// Fetches every KRW market with `GET /v1/ticker/all?quote_currencies=KRW` and picks
/// `listings` out of it (Upbit).
pub(crate) async fn fetch_all(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
) -> Result<TickerBatch, FetchError> {
    let body = ep.get(ALL_PATH, ALL_QUERY).await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Ticker> = ep.parse(&body)?;
    Ok(pick(venue, listings, fetched_at, rows))
}

fn pick(
    venue: Venue,
    listings: &[Listing],
    fetched_at: chrono::DateTime<Utc>,
    rows: Vec<V1Ticker>,
) -> TickerBatch {
    let rows: HashMap<String, V1Ticker> = rows.into_iter().map(|r| (r.market.clone(), r)).collect();
    assemble(
        venue,
        listings,
        fetched_at,
        &rows,
        |l| l.instrument.symbol.clone(),
        |_, r| r.quote(venue),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_real_upbit_capture_parses_exactly() {
        let rows: Vec<V1Ticker> =
            serde_json::from_str(include_str!("../tests/fixtures/upbit/ok.json")).unwrap();
        let btc = rows.iter().find(|r| r.market == "KRW-BTC").unwrap();
        let q = btc.quote(Venue::Upbit).unwrap();
        assert_eq!(q.price.value(), dec!(162876000));
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995113);
        assert_eq!(q.last_trade_at.unwrap().timestamp_millis(), 1753894995076);
    }

    #[test]
    fn timestamp_alone_is_the_quote_time() {
        let row: V1Ticker = serde_json::from_str(
            r#"{"market":"KRW-ETH","trade_price":5000000.5,"timestamp":1753894995113}"#,
        )
        .unwrap();
        let q = row.quote(Venue::Bithumb).unwrap();
        assert_eq!(q.price.value(), dec!(5000000.5));
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995113);
        assert_eq!(q.last_trade_at, None);
    }

    #[test]
    fn a_zero_price_names_venue_market_and_field() {
        let row: V1Ticker = serde_json::from_str(
            r#"{"market":"KRW-BTC","trade_price":0,"trade_timestamp":1753894995076}"#,
        )
        .unwrap();
        let e = row.quote(Venue::Upbit).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upbit KRW-BTC trade_price: price must be positive, got 0"
        );
    }

    #[test]
    fn error_bodies_keep_name_and_message() {
        let e =
            api_error(br#"{"error":{"name":"invalid_query_payload","message":"bad"}}"#).unwrap();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("invalid_query_payload", "bad")
        );
        assert_eq!(
            api_error(br#"{"error":{"name":404,"message":"Code not found"}}"#)
                .unwrap()
                .code,
            "404"
        );
        assert!(api_error(b"[]").is_none());
    }
}
