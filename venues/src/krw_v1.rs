//! The Upbit-compatible v1 ticker that both Upbit and Bithumb's current API serve:
//! `GET /v1/ticker?markets=KRW-BTC,KRW-ETH`, prices as JSON numbers.

use std::collections::HashMap;

use chrono::Utc;
use domain::{Coin, Venue};
use serde::Deserialize;

use crate::{
    FetchError, TickerBatch,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub(crate) const PATH: &str = "/v1/ticker";

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
    /// Time of the last trade, ms; the price's own time.
    pub trade_timestamp: Option<WireNumber>,
    /// Time the ticker was generated, ms; used when `trade_timestamp` is absent.
    pub timestamp: Option<WireNumber>,
}

impl V1Ticker {
    /// Validates the price and picks the observation time. Shared by two venues, so the venue
    /// is a parameter rather than a `TryFrom`.
    pub fn quote(&self, venue: Venue) -> Result<Quote, FetchError> {
        let v = venue.as_str();
        let price = price_field(v, &self.market, "trade_price", self.trade_price.as_ref())?;
        let observed_at = match &self.trade_timestamp {
            Some(ts) => millis_field(v, &self.market, "trade_timestamp", Some(ts))?,
            None => millis_field(v, &self.market, "timestamp", self.timestamp.as_ref())?,
        };
        Ok(Quote { price, observed_at })
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

/// `KRW-{COIN}`.
pub(crate) fn market(coin: &Coin) -> String {
    format!("KRW-{coin}")
}

/// Fetches all `coins` in one request.
pub(crate) async fn fetch(
    ep: &Endpoint,
    venue: Venue,
    coins: &[Coin],
) -> Result<TickerBatch, FetchError> {
    if coins.is_empty() {
        return Ok(TickerBatch::default());
    }
    let markets: Vec<String> = coins.iter().map(market).collect();
    let body = ep
        .get(PATH, &format!("markets={}", markets.join(",")))
        .await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Ticker> = ep.parse(&body)?;
    let rows: HashMap<String, V1Ticker> = rows.into_iter().map(|r| (r.market.clone(), r)).collect();
    Ok(assemble(venue, coins, fetched_at, &rows, market, |_, r| {
        r.quote(venue)
    }))
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
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995076);
    }

    #[test]
    fn timestamp_is_the_fallback_time() {
        let row: V1Ticker = serde_json::from_str(
            r#"{"market":"KRW-ETH","trade_price":5000000.5,"timestamp":1753894995113}"#,
        )
        .unwrap();
        let q = row.quote(Venue::Bithumb).unwrap();
        assert_eq!(q.price.value(), dec!(5000000.5));
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995113);
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
