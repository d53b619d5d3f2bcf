//! Bybit v5 linear perpetuals (USDT): `GET /v5/market/tickers?category=linear`, all symbols in
//! one request; coins are `{COIN}USDT`.
//!
//! The price follows the Binance choice so that both foreign legs of a comparison mean the same
//! thing: `markPrice` for [`BinancePrice::Mark`] (default), `lastPrice` for
//! [`BinancePrice::Last`]. The observation time is the response's top-level `time`.
//!
//! Limits: 600 req / 5 s per IP; over it Bybit answers HTTP 403 "access too frequent" and wants
//! ≥ 10 minutes of quiet (a rate limit here, not a permanent 403); `retCode 10006` is the
//! per-account limit.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use domain::{Coin, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    BinancePrice, ClientConfig, FetchError, TickerBatch, VenueClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Bybit).default_base_url();

const VENUE: &str = Venue::Bybit.as_str();
const PATH: &str = "/v5/market/tickers";
const QUERY: &str = "category=linear";

/// `GET /v5/market/tickers?category=linear`.
///
/// Docs: <https://bybit-exchange.github.io/docs/v5/market/tickers>.
///
/// ```json
/// {"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT",
///   "lastPrice":"16597.00","indexPrice":"16598.54","markPrice":"16596.00",
///   "fundingRate":"-0.001034","nextFundingTime":"1672387200000","bid1Price":"16596.00",
///   "ask1Price":"16597.50"}]},"retExtInfo":{},"time":1672376496682}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Tickers {
    pub result: TickersResult,
    /// Server time of the response, ms: the observation time of every ticker in it.
    pub time: WireNumber,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TickersResult {
    pub list: Vec<LinearTicker>,
}

/// One element of `result.list` (fields this crate reads).
///
/// ```json
/// {"symbol":"BTCUSDT","lastPrice":"16597.00","markPrice":"16596.00"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct LinearTicker {
    pub symbol: String,
    #[serde(rename = "lastPrice")]
    pub last_price: Option<WireNumber>,
    #[serde(rename = "markPrice")]
    pub mark_price: Option<WireNumber>,
}

/// The envelope every Bybit response has; `retCode != 0` is an error, even with HTTP 200.
///
/// ```json
/// {"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1672376496682}
/// ```
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(rename = "retMsg", default)]
    ret_msg: String,
}

/// 10006 is the rate limit; 10000 (server timeout) and 10016 (server error) are transient.
fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<Envelope>(body).ok()?;
    (e.ret_code != 0).then(|| {
        ApiError::new(
            e.ret_code,
            e.ret_msg,
            matches!(e.ret_code, 10006 | 10000 | 10016),
        )
    })
}

/// `{COIN}USDT`.
fn symbol(coin: &Coin) -> String {
    format!("{coin}USDT")
}

/// Bybit's ticker client.
#[derive(Debug, Clone)]
pub struct BybitClient {
    ep: Endpoint,
    price: BinancePrice,
}

impl BybitClient {
    pub fn new(cfg: &ClientConfig, price: BinancePrice) -> Self {
        BybitClient {
            ep: Endpoint::new(VENUE, cfg, api_error).forbidden_is_rate_limit(),
            price,
        }
    }
}

impl Tickers {
    fn into_batch(
        self,
        coins: &[Coin],
        price: BinancePrice,
        fetched_at: chrono::DateTime<Utc>,
    ) -> Result<TickerBatch, FetchError> {
        let observed_at = millis_field(VENUE, "tickers", "time", Some(&self.time))?;
        let rows: HashMap<String, LinearTicker> = self
            .result
            .list
            .into_iter()
            .map(|t| (t.symbol.clone(), t))
            .collect();
        Ok(assemble(
            Venue::Bybit,
            coins,
            fetched_at,
            &rows,
            symbol,
            |sym, t| {
                let price = match price {
                    BinancePrice::Mark => {
                        price_field(VENUE, sym, "markPrice", t.mark_price.as_ref())
                    }
                    BinancePrice::Last => {
                        price_field(VENUE, sym, "lastPrice", t.last_price.as_ref())
                    }
                }?;
                Ok(Quote { price, observed_at })
            },
        ))
    }
}

#[async_trait]
impl VenueClient for BybitClient {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    async fn fetch_tickers(&self, coins: &[Coin]) -> Result<TickerBatch, FetchError> {
        if coins.is_empty() {
            return Ok(TickerBatch::default());
        }
        let body = self.ep.get(PATH, QUERY).await?;
        let fetched_at = Utc::now();
        self.ep
            .parse::<Tickers>(&body)?
            .into_batch(coins, self.price, fetched_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_price_field_follows_the_binance_choice() {
        let coins = [Coin::parse("BTC").unwrap()];
        let body = include_str!("../tests/fixtures/bybit/ok.json");
        let parse = || serde_json::from_str::<Tickers>(body).unwrap();
        let mark = parse()
            .into_batch(&coins, BinancePrice::Mark, Utc::now())
            .unwrap();
        let last = parse()
            .into_batch(&coins, BinancePrice::Last, Utc::now())
            .unwrap();
        assert_eq!(mark.tickers[0].price.value(), dec!(16596));
        assert_eq!(last.tickers[0].price.value(), dec!(16597));
        assert_eq!(
            mark.tickers[0].observed_at.timestamp_millis(),
            1672376496682
        );
    }

    #[test]
    fn ret_codes_decide_retryability() {
        assert!(
            api_error(br#"{"retCode":10006,"retMsg":"Too many visits!"}"#)
                .unwrap()
                .retryable
        );
        assert!(
            !api_error(br#"{"retCode":10001,"retMsg":"params error"}"#)
                .unwrap()
                .retryable
        );
        assert!(api_error(br#"{"retCode":0,"retMsg":"OK"}"#).is_none());
    }
}
