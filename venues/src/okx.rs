//! OKX perpetual swaps (USDT): `GET /api/v5/market/tickers?instType=SWAP`, all instruments in
//! one request; coins are `{COIN}-USDT-SWAP`, the price is `last`, its time `ts`.
//!
//! Limits: 20 req / 2 s; `code 50011` is the rate limit, `51001` an unknown instrument.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use domain::{Coin, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, TickerBatch, VenueClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Okx).default_base_url();

const VENUE: &str = Venue::Okx.as_str();
const PATH: &str = "/api/v5/market/tickers";
const QUERY: &str = "instType=SWAP";
const OK_CODE: &str = "0";

/// `GET /api/v5/market/tickers?instType=SWAP`.
///
/// Docs: <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-tickers>.
///
/// ```json
/// {"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","last":"9999.99",
///   "lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88","bidSz":"5",
///   "open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222",
///   "sodUtc0":"0.1","sodUtc8":"0.1","ts":"1597026383085"}]}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Tickers {
    pub data: Vec<SwapTicker>,
}

/// One element of `data` (fields this crate reads).
///
/// ```json
/// {"instType":"SWAP","instId":"BTC-USDT-SWAP","last":"9999.99","ts":"1597026383085"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct SwapTicker {
    #[serde(rename = "instId")]
    pub inst_id: String,
    pub last: Option<WireNumber>,
    /// ms, as a string.
    pub ts: Option<WireNumber>,
}

impl TryFrom<&SwapTicker> for Quote {
    type Error = FetchError;
    fn try_from(t: &SwapTicker) -> Result<Self, FetchError> {
        Ok(Quote {
            price: price_field(VENUE, &t.inst_id, "last", t.last.as_ref())?,
            observed_at: millis_field(VENUE, &t.inst_id, "ts", t.ts.as_ref())?,
        })
    }
}

/// The envelope of every OKX response; `code != "0"` is an error, even with HTTP 200.
///
/// ```json
/// {"code":"50011","msg":"Too Many Requests","data":[]}
/// ```
#[derive(Debug, Deserialize)]
struct Envelope {
    code: String,
    #[serde(default)]
    msg: String,
}

/// 50011 is the rate limit; 50001 (service unavailable), 50004 (endpoint timeout) and 50013
/// (system busy) are transient; everything else (51001 unknown instrument, …) is permanent.
fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<Envelope>(body).ok()?;
    (e.code != OK_CODE).then(|| {
        let retryable = matches!(e.code.as_str(), "50011" | "50001" | "50004" | "50013");
        ApiError::new(e.code, e.msg, retryable)
    })
}

/// `{COIN}-USDT-SWAP`.
fn inst_id(coin: &Coin) -> String {
    format!("{coin}-USDT-SWAP")
}

/// OKX's ticker client.
#[derive(Debug, Clone)]
pub struct OkxClient {
    ep: Endpoint,
}

impl OkxClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        OkxClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
        }
    }
}

#[async_trait]
impl VenueClient for OkxClient {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    async fn fetch_tickers(&self, coins: &[Coin]) -> Result<TickerBatch, FetchError> {
        if coins.is_empty() {
            return Ok(TickerBatch::default());
        }
        let body = self.ep.get(PATH, QUERY).await?;
        let fetched_at = Utc::now();
        let rows: HashMap<String, SwapTicker> = self
            .ep
            .parse::<Tickers>(&body)?
            .data
            .into_iter()
            .map(|t| (t.inst_id.clone(), t))
            .collect();
        Ok(assemble(
            Venue::Okx,
            coins,
            fetched_at,
            &rows,
            inst_id,
            |_, t| Quote::try_from(t),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn last_and_ts_are_read_from_strings() {
        let t: Tickers =
            serde_json::from_str(include_str!("../tests/fixtures/okx/ok.json")).unwrap();
        let q = Quote::try_from(&t.data[0]).unwrap();
        assert_eq!(q.price.value(), dec!(9999.99));
        assert_eq!(q.observed_at.timestamp_millis(), 1597026383085);
    }

    #[test]
    fn codes_decide_retryability() {
        assert!(
            api_error(br#"{"code":"50011","msg":"Too Many Requests","data":[]}"#)
                .unwrap()
                .retryable
        );
        assert!(
            !api_error(br#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#)
                .unwrap()
                .retryable
        );
        assert!(api_error(br#"{"code":"0","msg":"","data":[]}"#).is_none());
    }
}
