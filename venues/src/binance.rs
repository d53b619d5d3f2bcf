//! Binance USDⓈ-M perpetuals (USDT), all symbols in one request, chosen by [`BinancePrice`]:
//!
//! - [`BinancePrice::Mark`] (default): `GET /fapi/v1/premiumIndex`, `markPrice`, time `time`.
//! - [`BinancePrice::Last`]: `GET /fapi/v1/ticker/price`, `price`, time `time`.
//!
//! Books: `GET /fapi/v1/ticker/bookTicker` (all symbols, weight 5), one more request per poll.
//! Funding: `lastFundingRate` / `nextFundingTime` of `premiumIndex` (in `last` mode that is a
//! third request per poll, weight 10); the interval from `GET /fapi/v1/fundingInfo` (only
//! adjusted symbols, default 8 h), read with the markets in [`VenueClient::fetch_markets`] and
//! kept in the client (unknown, `None`, until the client's first market refresh). Depth:
//! `GET /fapi/v1/depth?symbol=…&limit=…` with the smallest allowed limit ≥ the levels asked.
//!
//! Without `symbol` both return an array of every symbol, from which the listings' symbols
//! (`BTCUSDT`, `1000PEPEUSDT`) are picked. Limits: 2400 weight/min per IP; 429 then 418 bans,
//! both with `Retry-After`; 451 from restricted regions.
//!
//! Markets: `GET /fapi/v1/exchangeInfo`, kept when `contractType == "PERPETUAL"`,
//! `quoteAsset == marginAsset == "USDT"` and `underlyingType == "COIN"` (dropping USDC perps,
//! quarterlies, index and TradFi perps); delisted perpetuals stay listed as `SETTLING`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Depth, Instrument, Listing, MarketStatus, Venue, venue::Upstream};
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

pub const BASE_URL: &str = Upstream::Venue(Venue::Binance).default_base_url();

const VENUE: &str = Venue::Binance.as_str();
const PREMIUM_INDEX_PATH: &str = "/fapi/v1/premiumIndex";
const TICKER_PRICE_PATH: &str = "/fapi/v1/ticker/price";
const EXCHANGE_INFO_PATH: &str = "/fapi/v1/exchangeInfo";
const BOOK_TICKER_PATH: &str = "/fapi/v1/ticker/bookTicker";
const FUNDING_INFO_PATH: &str = "/fapi/v1/fundingInfo";
const DEPTH_PATH: &str = "/fapi/v1/depth";
/// The `limit`s `/fapi/v1/depth` accepts.
pub const DEPTH_LIMITS: [usize; 7] = [5, 10, 20, 50, 100, 500, 1000];
/// The funding interval of a symbol `/fapi/v1/fundingInfo` does not list.
pub const DEFAULT_FUNDING_INTERVAL_HOURS: u32 = 8;
/// "Too many requests": a rate limit whatever the status it comes with.
const RATE_LIMIT_CODE: i64 = -1003;

/// One element of `GET /fapi/v1/premiumIndex` (fields this crate reads).
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price>.
///
/// ```json
/// {"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":"11781.80495970",
///  "estimatedSettlePrice":"11781.16138815","lastFundingRate":"0.00038246",
///  "nextFundingTime":1597392000000,"interestRate":"0.00010000","time":1597370495002}
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PremiumIndex {
    pub symbol: String,
    #[serde(rename = "markPrice")]
    pub mark_price: Option<WireNumber>,
    /// The rate to be settled at `nextFundingTime` (`""` on delivery contracts).
    #[serde(rename = "lastFundingRate", default)]
    pub last_funding_rate: Option<WireNumber>,
    /// ms (0 on delivery contracts).
    #[serde(rename = "nextFundingTime", default)]
    pub next_funding_time: Option<WireNumber>,
    pub time: Option<WireNumber>,
}

/// One element of `GET /fapi/v1/ticker/bookTicker` (no `symbol`: every symbol; weight 5).
/// Quantities in the contract's base unit (1000PEPE units for `1000PEPEUSDT`).
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Symbol-Order-Book-Ticker>.
///
/// ```json
/// {"symbol":"BTCUSDT","bidPrice":"4.00000000","bidQty":"431.00000000",
///  "askPrice":"4.00000200","askQty":"9.00000000","time":1589437530011}
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BookTicker {
    pub symbol: String,
    #[serde(rename = "bidPrice")]
    pub bid_price: Option<WireNumber>,
    #[serde(rename = "bidQty")]
    pub bid_qty: Option<WireNumber>,
    #[serde(rename = "askPrice")]
    pub ask_price: Option<WireNumber>,
    #[serde(rename = "askQty")]
    pub ask_qty: Option<WireNumber>,
}

impl BookTicker {
    fn top(&self) -> Result<RawTop, String> {
        RawTop::parse([
            ("bidPrice", self.bid_price.as_ref()),
            ("bidQty", self.bid_qty.as_ref()),
            ("askPrice", self.ask_price.as_ref()),
            ("askQty", self.ask_qty.as_ref()),
        ])
    }
}

/// One element of `GET /fapi/v1/fundingInfo`: only symbols whose cap, floor or interval was
/// adjusted; an absent symbol has the default 8 h.
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-Info>.
///
/// ```json
/// [{"symbol":"BLZUSDT","adjustedFundingRateCap":"0.02500000",
///   "adjustedFundingRateFloor":"-0.02500000","fundingIntervalHours":8,"disclaimer":false}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FundingInfo {
    pub symbol: String,
    #[serde(rename = "fundingIntervalHours", default)]
    pub funding_interval_hours: Option<WireNumber>,
}

/// `GET /fapi/v1/depth?symbol=BTCUSDT&limit=5`.
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book>.
///
/// ```json
/// {"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,
///  "bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BinanceDepth {
    /// Transaction time, ms.
    #[serde(rename = "T", default)]
    pub time: Option<WireNumber>,
    pub bids: Vec<Vec<WireNumber>>,
    pub asks: Vec<Vec<WireNumber>>,
}

/// The smallest `limit` `/fapi/v1/depth` accepts that is ≥ `levels` (1000 at most).
pub fn depth_limit(levels: usize) -> usize {
    DEPTH_LIMITS
        .into_iter()
        .find(|l| *l >= levels)
        .unwrap_or(DEPTH_LIMITS[DEPTH_LIMITS.len() - 1])
}

impl TryFrom<&PremiumIndex> for Quote {
    type Error = FetchError;
    fn try_from(p: &PremiumIndex) -> Result<Self, FetchError> {
        Ok(Quote::new(
            price_field(VENUE, &p.symbol, "markPrice", p.mark_price.as_ref())?,
            millis_field(VENUE, &p.symbol, "time", p.time.as_ref())?,
        ))
    }
}

/// One element of `GET /fapi/v1/ticker/price`.
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Symbol-Price-Ticker>.
///
/// ```json
/// {"symbol":"BTCUSDT","price":"6000.01","time":1589437530011}
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TickerPrice {
    pub symbol: String,
    pub price: Option<WireNumber>,
    pub time: Option<WireNumber>,
}

impl TryFrom<&TickerPrice> for Quote {
    type Error = FetchError;
    fn try_from(p: &TickerPrice) -> Result<Self, FetchError> {
        Ok(Quote::new(
            price_field(VENUE, &p.symbol, "price", p.price.as_ref())?,
            millis_field(VENUE, &p.symbol, "time", p.time.as_ref())?,
        ))
    }
}

/// `GET /fapi/v1/exchangeInfo` (fields this crate reads).
///
/// Docs: <https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information>.
///
/// ```json
/// {"timezone":"UTC","serverTime":1565246363776,"rateLimits":[],"exchangeFilters":[],
///  "assets":[],"symbols":[{"symbol":"BTCUSDT","pair":"BTCUSDT","contractType":"PERPETUAL",
///  "deliveryDate":4133404800000,"onboardDate":1569398400000,"status":"TRADING",
///  "baseAsset":"BTC","quoteAsset":"USDT","marginAsset":"USDT","underlyingType":"COIN",
///  "pricePrecision":2,"filters":[]}]}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct ExchangeInfo {
    pub symbols: Vec<ExchangeSymbol>,
}

/// One element of `symbols` (fields this crate reads).
///
/// ```json
/// {"symbol":"1000PEPEUSDT","pair":"1000PEPEUSDT","contractType":"PERPETUAL","status":"TRADING",
///  "baseAsset":"1000PEPE","quoteAsset":"USDT","marginAsset":"USDT","underlyingType":"COIN"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct ExchangeSymbol {
    pub symbol: String,
    #[serde(rename = "contractType", default)]
    pub contract_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(rename = "baseAsset", default)]
    pub base_asset: String,
    #[serde(rename = "quoteAsset", default)]
    pub quote_asset: String,
    #[serde(rename = "marginAsset", default)]
    pub margin_asset: String,
    #[serde(rename = "underlyingType", default)]
    pub underlying_type: String,
}

impl ExchangeSymbol {
    /// USDT-margined coin perpetuals only.
    fn is_usdt_perpetual(&self) -> bool {
        self.contract_type == "PERPETUAL"
            && self.quote_asset == "USDT"
            && self.margin_asset == "USDT"
            && self.underlying_type == "COIN"
    }

    fn instrument(self) -> Option<Instrument> {
        if !self.is_usdt_perpetual() || self.base_asset.is_empty() {
            return None;
        }
        Some(Instrument {
            venue: Venue::Binance,
            status: status(&self.status),
            symbol: self.symbol,
            base: self.base_asset.to_ascii_uppercase(),
            english_name: None,
            contract_value: None,
            flags: Vec::new(),
        })
    }
}

/// `TRADING`; `PENDING_TRADING` is pre-open; the delivery/settlement states are delisted (a
/// delisted perpetual stays as `SETTLING`); anything else (`TRADING_HALT`, …) is halted.
fn status(s: &str) -> MarketStatus {
    match s {
        "TRADING" => MarketStatus::Trading,
        "PENDING_TRADING" => MarketStatus::PreOpen,
        "SETTLING" | "CLOSE" | "DELIVERED" | "DELIVERING" | "PRE_DELIVERING" | "PRE_SETTLE" => {
            MarketStatus::Delisted
        }
        _ => MarketStatus::Halted,
    }
}

/// Binance's error body, usually with a 4xx status.
///
/// ```json
/// {"code":-1121,"msg":"Invalid symbol."}
/// ```
#[derive(Debug, Deserialize)]
struct BinanceError {
    code: i64,
    msg: String,
}

fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<BinanceError>(body).ok()?;
    Some(ApiError::new(e.code, e.msg, e.code == RATE_LIMIT_CODE))
}

/// Binance's ticker client.
#[derive(Debug, Clone)]
pub struct BinanceClient {
    ep: Endpoint,
    price: BinancePrice,
    /// Funding intervals from `/fapi/v1/fundingInfo`, refreshed by
    /// [`VenueClient::fetch_markets`]; `None` until the first refresh (intervals unknown).
    funding_intervals: Arc<Mutex<Option<HashMap<String, u32>>>>,
    clock: VenueClock,
}

impl BinanceClient {
    pub fn new(cfg: &ClientConfig, price: BinancePrice) -> Self {
        BinanceClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
            price,
            funding_intervals: Arc::new(Mutex::new(None)),
            clock: VenueClock::default(),
        }
    }

    async fn rows<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(Vec<R>, DateTime<Utc>), FetchError> {
        let body = self.ep.get(path, "").await?;
        let fetched_at = Utc::now();
        Ok((self.ep.parse(&body)?, fetched_at))
    }

    fn batch<R>(
        listings: &[Listing],
        rows: &[R],
        fetched_at: DateTime<Utc>,
        key: fn(&R) -> &str,
    ) -> TickerBatch
    where
        for<'a> Quote: TryFrom<&'a R, Error = FetchError>,
    {
        let rows: HashMap<String, &R> = rows.iter().map(|r| (key(r).to_string(), r)).collect();
        assemble(
            Venue::Binance,
            listings,
            fetched_at,
            &rows,
            |l| l.instrument.symbol.clone(),
            |_, r| Quote::try_from(*r),
        )
    }

    /// The interval of `symbol`: listed in fundingInfo, else 8 h; `None` before the first
    /// market refresh.
    fn interval(&self, symbol: &str) -> Option<u32> {
        let guard = self
            .funding_intervals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(|m| {
            m.get(symbol)
                .copied()
                .unwrap_or(DEFAULT_FUNDING_INTERVAL_HOURS)
        })
    }

    fn add_funding(&self, batch: &mut TickerBatch, listings: &[Listing], rows: &[PremiumIndex]) {
        let rows: HashMap<&str, &PremiumIndex> =
            rows.iter().map(|r| (r.symbol.as_str(), r)).collect();
        attach_funding(batch, listings, |l| {
            let symbol = l.instrument.symbol.as_str();
            let r = rows.get(symbol)?;
            funding(
                r.last_funding_rate.as_ref(),
                r.next_funding_time.as_ref(),
                self.interval(symbol),
            )
        });
    }

    /// Adds `bookTicker` to `batch`; a failing request leaves the prices and says why.
    async fn add_books(&self, batch: &mut TickerBatch, listings: &[Listing]) {
        let rows = self.rows::<BookTicker>(BOOK_TICKER_PATH).await;
        match rows {
            Ok((rows, _)) => {
                let rows: HashMap<&str, &BookTicker> =
                    rows.iter().map(|r| (r.symbol.as_str(), r)).collect();
                attach_books(batch, listings, |l| {
                    let symbol = l.instrument.symbol.as_str();
                    Some(match rows.get(symbol) {
                        Some(r) => r.top().and_then(|t| t.per_coin(l, domain::Decimal::ONE)),
                        None => Err(format!("{symbol} is not in the book ticker answer")),
                    })
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "binance book ticker failed");
                let reason = e.to_string();
                attach_books(batch, listings, |_| Some(Err(reason.clone())));
            }
        }
    }

    /// `/fapi/v1/fundingInfo` into the interval map; a failure keeps the previous map.
    async fn refresh_funding_intervals(&self) {
        match self.rows::<FundingInfo>(FUNDING_INFO_PATH).await {
            Ok((rows, _)) => {
                let map: HashMap<String, u32> = rows
                    .into_iter()
                    .filter_map(|r| {
                        let h = r.funding_interval_hours.as_ref()?.to_i64()?;
                        Some((r.symbol, u32::try_from(h).ok().filter(|h| *h > 0)?))
                    })
                    .collect();
                *self
                    .funding_intervals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(map);
            }
            Err(e) => {
                tracing::warn!(error = %e, "binance fundingInfo failed, keeping the last intervals")
            }
        }
    }
}

#[async_trait]
impl VenueClient for BinanceClient {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError> {
        let body = self.ep.get(EXCHANGE_INFO_PATH, "").await?;
        let info: ExchangeInfo = self.ep.parse(&body)?;
        self.refresh_funding_intervals().await;
        Ok(info
            .symbols
            .into_iter()
            .filter_map(ExchangeSymbol::instrument)
            .collect())
    }

    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError> {
        if listings.is_empty() {
            return Ok(TickerBatch::default());
        }
        let mut batch = match self.price {
            BinancePrice::Mark => {
                let (rows, at) = self.rows::<PremiumIndex>(PREMIUM_INDEX_PATH).await?;
                let mut batch = Self::batch(listings, &rows, at, |r| &r.symbol);
                self.add_funding(&mut batch, listings, &rows);
                batch
            }
            BinancePrice::Last => {
                let (rows, at) = self.rows::<TickerPrice>(TICKER_PRICE_PATH).await?;
                Self::batch(listings, &rows, at, |r| &r.symbol)
            }
        };
        self.clock.settle(&mut batch);
        if batch.tickers.is_empty() {
            return Ok(batch);
        }
        self.add_books(&mut batch, listings).await;
        if self.price == BinancePrice::Last {
            match self.rows::<PremiumIndex>(PREMIUM_INDEX_PATH).await {
                Ok((rows, _)) => self.add_funding(&mut batch, listings, &rows),
                Err(e) => tracing::debug!(error = %e, "binance premiumIndex (funding) failed"),
            }
        }
        Ok(batch)
    }

    /// The price request, `bookTicker`, and in `last` mode `premiumIndex` for the funding.
    fn requests_per_fetch(&self, n: usize) -> u32 {
        let _ = n;
        match self.price {
            BinancePrice::Mark => 2,
            BinancePrice::Last => 3,
        }
    }

    async fn fetch_depth(
        &self,
        listing: &Listing,
        levels_wanted: usize,
    ) -> Result<Depth, FetchError> {
        let symbol = listing.instrument.symbol.as_str();
        let query = format!("symbol={symbol}&limit={}", depth_limit(levels_wanted));
        let body = self.ep.get(DEPTH_PATH, &query).await?;
        let fetched_at = Utc::now();
        let d: BinanceDepth = self.ep.parse(&body)?;
        let observed_at = book_time(d.time.as_ref().and_then(WireNumber::to_i64), fetched_at);
        depth_per_coin(
            VENUE,
            listing,
            levels(VENUE, "bids", &d.bids)?,
            levels(VENUE, "asks", &d.asks)?,
            levels_wanted,
            observed_at,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn mark_price_and_time_come_from_premium_index() {
        let rows: Vec<PremiumIndex> =
            serde_json::from_str(include_str!("../tests/fixtures/binance_mark/ok.json")).unwrap();
        let q = Quote::try_from(&rows[0]).unwrap();
        assert_eq!(q.price.value(), dec!(11793.63104562));
        assert_eq!(q.observed_at.timestamp_millis(), 1597370495002);
    }

    #[test]
    fn error_codes_decide_retryability() {
        assert!(
            !api_error(br#"{"code":-1121,"msg":"Invalid symbol."}"#)
                .unwrap()
                .retryable
        );
        assert!(
            api_error(br#"{"code":-1003,"msg":"Too many requests."}"#)
                .unwrap()
                .retryable
        );
        assert!(api_error(br#"[{"symbol":"BTCUSDT"}]"#).is_none());
    }
}
