//! Bybit v5 linear perpetuals (USDT): `GET /v5/market/tickers?category=linear`, all symbols in
//! one request, from which the listings' symbols (`BTCUSDT`, `SHIB1000USDT`) are picked.
//!
//! The price follows the Binance choice so that both foreign legs of a comparison mean the same
//! thing: `markPrice` for [`BinancePrice::Mark`] (default), `lastPrice` for
//! [`BinancePrice::Last`]. The observation time is the response's top-level `time`.
//!
//! Limits: 600 req / 5 s per IP; over it Bybit answers HTTP 403 "access too frequent" and wants
//! ≥ 10 minutes of quiet (a rate limit here, not a permanent 403); `retCode 10006` is the
//! per-account limit.
//!
//! Markets: `GET /v5/market/instruments-info?category=linear&limit=1000`, paged by passing
//! `result.nextPageCursor` as `cursor` until it is empty or a page is empty (at most
//! [`MAX_INSTRUMENT_PAGES`] pages, else an error); kept when `contractType ==
//! "LinearPerpetual"`, `quoteCoin == settleCoin == "USDT"` and `symbolType` is empty (dropping
//! dated futures, USDC `…PERP` and stock/commodity perps). Without a `status` parameter Bybit
//! lists only `Trading` rows.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use domain::{Instrument, Listing, MarketStatus, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    BinancePrice, ClientConfig, FetchError, TickerBatch, VenueClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, assemble, millis_field, price_field, settle_clock},
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Bybit).default_base_url();

const VENUE: &str = Venue::Bybit.as_str();
const PATH: &str = "/v5/market/tickers";
const QUERY: &str = "category=linear";
const INSTRUMENTS_PATH: &str = "/v5/market/instruments-info";
const INSTRUMENTS_QUERY: &str = "category=linear&limit=1000";
/// Pages of 1,000 instruments read before giving up on a cursor that never ends.
pub const MAX_INSTRUMENT_PAGES: usize = 20;

/// `GET /v5/market/instruments-info?category=linear&limit=1000` (fields this crate reads).
///
/// Docs: <https://bybit-exchange.github.io/docs/v5/market/instrument>.
///
/// ```json
/// {"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT",
///   "contractType":"LinearPerpetual","status":"Trading","baseCoin":"BTC","quoteCoin":"USDT",
///   "settleCoin":"USDT","symbolType":"","launchTime":"1585526400000","deliveryTime":"0",
///   "priceFilter":{"tickSize":"0.10"},"fundingInterval":480}],"nextPageCursor":""},
///   "retExtInfo":{},"time":1735809771618}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct InstrumentsInfo {
    pub result: InstrumentsResult,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstrumentsResult {
    pub list: Vec<LinearInstrument>,
    /// Opaque (`first%3DBIOUSDT%26last%3DBIOUSDT`), `""` on the last page.
    #[serde(rename = "nextPageCursor", default)]
    pub next_page_cursor: Option<String>,
}

/// One element of `result.list` (fields this crate reads).
///
/// ```json
/// {"symbol":"SHIB1000USDT","contractType":"LinearPerpetual","status":"Trading",
///  "baseCoin":"SHIB1000","quoteCoin":"USDT","settleCoin":"USDT","symbolType":""}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct LinearInstrument {
    pub symbol: String,
    #[serde(rename = "contractType", default)]
    pub contract_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(rename = "baseCoin", default)]
    pub base_coin: String,
    #[serde(rename = "quoteCoin", default)]
    pub quote_coin: String,
    #[serde(rename = "settleCoin", default)]
    pub settle_coin: String,
    /// `""` for normal contracts; `innovation`, `commodity`, `stock`, `forex` otherwise.
    #[serde(rename = "symbolType", default)]
    pub symbol_type: Option<String>,
}

impl LinearInstrument {
    fn instrument(self) -> Option<Instrument> {
        let keep = self.contract_type == "LinearPerpetual"
            && self.quote_coin == "USDT"
            && self.settle_coin == "USDT"
            && self.symbol_type.as_deref().unwrap_or("").is_empty()
            && !self.base_coin.is_empty();
        keep.then(|| Instrument {
            venue: Venue::Bybit,
            status: status(&self.status),
            symbol: self.symbol,
            base: self.base_coin.to_ascii_uppercase(),
            english_name: None,
            contract_value: None,
            flags: Vec::new(),
        })
    }
}

/// `Trading`; `PreLaunch` is pre-open; `Closed` delisted; `Delivering` and anything else halted.
fn status(s: &str) -> MarketStatus {
    match s {
        "Trading" => MarketStatus::Trading,
        "PreLaunch" => MarketStatus::PreOpen,
        "Closed" => MarketStatus::Delisted,
        _ => MarketStatus::Halted,
    }
}

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
        listings: &[Listing],
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
        let mut batch = assemble(
            Venue::Bybit,
            listings,
            fetched_at,
            &rows,
            |l| l.instrument.symbol.clone(),
            |sym, t| {
                let price = match price {
                    BinancePrice::Mark => {
                        price_field(VENUE, sym, "markPrice", t.mark_price.as_ref())
                    }
                    BinancePrice::Last => {
                        price_field(VENUE, sym, "lastPrice", t.last_price.as_ref())
                    }
                }?;
                Ok(Quote::new(price, observed_at))
            },
        );
        settle_clock(&mut batch);
        Ok(batch)
    }
}

#[async_trait]
impl VenueClient for BybitClient {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_INSTRUMENT_PAGES {
            let query = match &cursor {
                // The cursor comes percent-encoded (`first%3D…`): sent as is.
                Some(c) => format!("{INSTRUMENTS_QUERY}&cursor={c}"),
                None => INSTRUMENTS_QUERY.to_string(),
            };
            let body = self.ep.get(INSTRUMENTS_PATH, &query).await?;
            let page = self.ep.parse::<InstrumentsInfo>(&body)?.result;
            let empty = page.list.is_empty();
            out.extend(
                page.list
                    .into_iter()
                    .filter_map(LinearInstrument::instrument),
            );
            match page.next_page_cursor.filter(|c| !c.is_empty()) {
                Some(next) if !empty => cursor = Some(next),
                _ => return Ok(out),
            }
        }
        Err(FetchError::malformed(
            VENUE,
            format!("instruments-info did not end within {MAX_INSTRUMENT_PAGES} pages"),
        ))
    }

    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError> {
        if listings.is_empty() {
            return Ok(TickerBatch::default());
        }
        let body = self.ep.get(PATH, QUERY).await?;
        let fetched_at = Utc::now();
        self.ep
            .parse::<Tickers>(&body)?
            .into_batch(listings, self.price, fetched_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_price_field_follows_the_binance_choice() {
        let coins = [crate::plain_listing(
            Venue::Bybit,
            &domain::Coin::parse("BTC").unwrap(),
        )];
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
        // The fixture's `time` is years old: beyond the skew limit, receipt time is used.
        assert_eq!(mark.clock_skew_ms.map(|s| s < 0), Some(true));
        assert_eq!(mark.tickers[0].observed_at, mark.tickers[0].fetched_at);
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
