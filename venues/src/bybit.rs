//! Bybit v5 linear perpetuals (USDT): `GET /v5/market/tickers?category=linear`, all symbols in
//! one request, from which the listings' symbols (`BTCUSDT`, `SHIB1000USDT`) are picked.
//!
//! The price follows the Binance choice so that both foreign legs of a comparison mean the same
//! thing: `markPrice` for [`BinancePrice::Mark`] (default), `lastPrice` for
//! [`BinancePrice::Last`]. The observation time is the response's top-level `time`.
//!
//! Books (`bid1Price`/`bid1Size`/`ask1Price`/`ask1Size`) and funding (`fundingRate`,
//! `nextFundingTime`, `fundingIntervalHour`) come from the same ticker rows: no extra request.
//! Depth: `GET /v5/market/orderbook?category=linear&symbol=…&limit=…` (≤ 500 levels).
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
use domain::{Decimal, Depth, Instrument, Listing, MarketStatus, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    BinancePrice, ClientConfig, FetchError, TickerBatch, VenueClient,
    clock::VenueClock,
    http::{ApiError, Endpoint},
    wire::{
        Quote, RawTop, WireNumber, assemble, attach_books, attach_funding, book_time,
        depth_per_coin, funding, levels, millis_field, price_field,
    },
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Bybit).default_base_url();

const VENUE: &str = Venue::Bybit.as_str();
const PATH: &str = "/v5/market/tickers";
const QUERY: &str = "category=linear";
const ORDERBOOK_PATH: &str = "/v5/market/orderbook";
/// The most levels `/v5/market/orderbook` returns for linear contracts.
pub const MAX_DEPTH_LEVELS: usize = 500;
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

/// One element of `result.list` (fields this crate reads). Book sizes are in the contract's
/// base unit (1000PEPE units for `1000PEPEUSDT`).
///
/// ```json
/// {"symbol":"BTCUSDT","lastPrice":"16597.00","markPrice":"16596.00","fundingRate":"0.0001",
///  "nextFundingTime":"1760371200000","fundingIntervalHour":"8","bid1Price":"16596.00",
///  "bid1Size":"1.5","ask1Price":"16597.50","ask1Size":"2"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct LinearTicker {
    pub symbol: String,
    #[serde(rename = "lastPrice")]
    pub last_price: Option<WireNumber>,
    #[serde(rename = "markPrice")]
    pub mark_price: Option<WireNumber>,
    #[serde(rename = "bid1Price", default)]
    pub bid1_price: Option<WireNumber>,
    #[serde(rename = "bid1Size", default)]
    pub bid1_size: Option<WireNumber>,
    #[serde(rename = "ask1Price", default)]
    pub ask1_price: Option<WireNumber>,
    #[serde(rename = "ask1Size", default)]
    pub ask1_size: Option<WireNumber>,
    /// The predicted rate for `nextFundingTime`.
    #[serde(rename = "fundingRate", default)]
    pub funding_rate: Option<WireNumber>,
    /// ms, as a string.
    #[serde(rename = "nextFundingTime", default)]
    pub next_funding_time: Option<WireNumber>,
    /// Whole hours, as a string.
    #[serde(rename = "fundingIntervalHour", default)]
    pub funding_interval_hour: Option<WireNumber>,
}

impl LinearTicker {
    fn top(&self) -> Result<RawTop, String> {
        RawTop::parse([
            ("bid1Price", self.bid1_price.as_ref()),
            ("bid1Size", self.bid1_size.as_ref()),
            ("ask1Price", self.ask1_price.as_ref()),
            ("ask1Size", self.ask1_size.as_ref()),
        ])
    }

    fn funding(&self) -> Option<domain::Funding> {
        let interval = self
            .funding_interval_hour
            .as_ref()
            .and_then(WireNumber::to_i64)
            .and_then(|h| u32::try_from(h).ok())
            .filter(|h| *h > 0);
        funding(
            self.funding_rate.as_ref(),
            self.next_funding_time.as_ref(),
            interval,
        )
    }
}

/// `GET /v5/market/orderbook?category=linear&symbol=BTCUSDT&limit=50`: `b` bids, `a` asks as
/// `[price, size]` strings, best first; `ts` the data time.
///
/// Docs: <https://bybit-exchange.github.io/docs/v5/market/orderbook>.
///
/// ```json
/// {"retCode":0,"retMsg":"OK","result":{"s":"BTCUSDT","b":[["65485.47","47.081829"]],
///   "a":[["65557.7","16.606555"]],"ts":1716863719031,"u":230704,"seq":1432604333,
///   "cts":1716863718905},"retExtInfo":{},"time":1716863719382}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Orderbook {
    pub result: OrderbookResult,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrderbookResult {
    pub b: Vec<Vec<WireNumber>>,
    pub a: Vec<Vec<WireNumber>>,
    #[serde(default)]
    pub ts: Option<WireNumber>,
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
    clock: VenueClock,
}

impl BybitClient {
    pub fn new(cfg: &ClientConfig, price: BinancePrice) -> Self {
        BybitClient {
            ep: Endpoint::new(VENUE, cfg, api_error).forbidden_is_rate_limit(),
            price,
            clock: VenueClock::default(),
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
        attach_books(&mut batch, listings, |l| {
            let row = rows.get(&l.instrument.symbol)?;
            Some(row.top().and_then(|t| t.per_coin(l, Decimal::ONE)))
        });
        attach_funding(&mut batch, listings, |l| {
            rows.get(&l.instrument.symbol)?.funding()
        });
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
        let mut batch = self
            .ep
            .parse::<Tickers>(&body)?
            .into_batch(listings, self.price, fetched_at)?;
        self.clock.settle(&mut batch);
        Ok(batch)
    }

    async fn fetch_depth(&self, listing: &Listing, wanted: usize) -> Result<Depth, FetchError> {
        let symbol = listing.instrument.symbol.as_str();
        let limit = wanted.clamp(1, MAX_DEPTH_LEVELS);
        let query = format!("category=linear&symbol={symbol}&limit={limit}");
        let body = self.ep.get(ORDERBOOK_PATH, &query).await?;
        let fetched_at = Utc::now();
        let book = self.ep.parse::<Orderbook>(&body)?.result;
        let observed_at = book_time(book.ts.as_ref().and_then(WireNumber::to_i64), fetched_at);
        depth_per_coin(
            VENUE,
            listing,
            levels(VENUE, "b", &book.b)?,
            levels(VENUE, "a", &book.a)?,
            wanted,
            observed_at,
        )
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
        let mut mark = parse()
            .into_batch(&coins, BinancePrice::Mark, Utc::now())
            .unwrap();
        let last = parse()
            .into_batch(&coins, BinancePrice::Last, Utc::now())
            .unwrap();
        assert_eq!(mark.tickers[0].price.value(), dec!(16596));
        assert_eq!(last.tickers[0].price.value(), dec!(16597));
        // The fixture's `time` is years old: seen once, that is old data, not a skewed clock.
        let venue_time = mark.tickers[0].observed_at;
        VenueClock::default().settle(&mut mark);
        assert_eq!(mark.clock_skew_ms, None);
        assert_eq!(mark.tickers[0].observed_at, venue_time);
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
