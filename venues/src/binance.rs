//! Binance USDⓈ-M perpetuals (USDT), all symbols in one request, chosen by [`BinancePrice`]:
//!
//! - [`BinancePrice::Mark`] (default): `GET /fapi/v1/premiumIndex`, `markPrice`, time `time`.
//! - [`BinancePrice::Last`]: `GET /fapi/v1/ticker/price`, `price`, time `time`.
//!
//! Without `symbol` both return an array of every symbol, from which the listings' symbols
//! (`BTCUSDT`, `1000PEPEUSDT`) are picked. Limits: 2400 weight/min per IP; 429 then 418 bans,
//! both with `Retry-After`; 451 from restricted regions.
//!
//! Markets: `GET /fapi/v1/exchangeInfo`, kept when `contractType == "PERPETUAL"`,
//! `quoteAsset == marginAsset == "USDT"` and `underlyingType == "COIN"` (dropping USDC perps,
//! quarterlies, index and TradFi perps); delisted perpetuals stay listed as `SETTLING`.

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

pub const BASE_URL: &str = Upstream::Venue(Venue::Binance).default_base_url();

const VENUE: &str = Venue::Binance.as_str();
const PREMIUM_INDEX_PATH: &str = "/fapi/v1/premiumIndex";
const TICKER_PRICE_PATH: &str = "/fapi/v1/ticker/price";
const EXCHANGE_INFO_PATH: &str = "/fapi/v1/exchangeInfo";
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
    pub time: Option<WireNumber>,
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
}

impl BinanceClient {
    pub fn new(cfg: &ClientConfig, price: BinancePrice) -> Self {
        BinanceClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
            price,
        }
    }

    async fn fetch<R>(
        &self,
        path: &str,
        listings: &[Listing],
        key: fn(&R) -> &str,
    ) -> Result<TickerBatch, FetchError>
    where
        R: serde::de::DeserializeOwned,
        for<'a> Quote: TryFrom<&'a R, Error = FetchError>,
    {
        let body = self.ep.get(path, "").await?;
        let fetched_at = Utc::now();
        let rows: Vec<R> = self.ep.parse(&body)?;
        let rows: HashMap<String, R> = rows.into_iter().map(|r| (key(&r).to_string(), r)).collect();
        let mut batch = assemble(
            Venue::Binance,
            listings,
            fetched_at,
            &rows,
            |l| l.instrument.symbol.clone(),
            |_, r| Quote::try_from(r),
        );
        settle_clock(&mut batch);
        Ok(batch)
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
        match self.price {
            BinancePrice::Mark => {
                self.fetch::<PremiumIndex>(PREMIUM_INDEX_PATH, listings, |r| &r.symbol)
                    .await
            }
            BinancePrice::Last => {
                self.fetch::<TickerPrice>(TICKER_PRICE_PATH, listings, |r| &r.symbol)
                    .await
            }
        }
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
