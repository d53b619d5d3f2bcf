//! Binance USDⓈ-M perpetuals (USDT), all symbols in one request, chosen by [`BinancePrice`]:
//!
//! - [`BinancePrice::Mark`] (default): `GET /fapi/v1/premiumIndex`, `markPrice`, time `time`.
//! - [`BinancePrice::Last`]: `GET /fapi/v1/ticker/price`, `price`, time `time`.
//!
//! Without `symbol` both return an array of every symbol; coins are `{COIN}USDT`. Limits: 2400
//! weight/min per IP; 429 then 418 bans, both with `Retry-After`; 451 from restricted regions.

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

pub const BASE_URL: &str = Upstream::Venue(Venue::Binance).default_base_url();

const VENUE: &str = Venue::Binance.as_str();
const PREMIUM_INDEX_PATH: &str = "/fapi/v1/premiumIndex";
const TICKER_PRICE_PATH: &str = "/fapi/v1/ticker/price";
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
        Ok(Quote {
            price: price_field(VENUE, &p.symbol, "markPrice", p.mark_price.as_ref())?,
            observed_at: millis_field(VENUE, &p.symbol, "time", p.time.as_ref())?,
        })
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
        Ok(Quote {
            price: price_field(VENUE, &p.symbol, "price", p.price.as_ref())?,
            observed_at: millis_field(VENUE, &p.symbol, "time", p.time.as_ref())?,
        })
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

/// `{COIN}USDT`.
fn symbol(coin: &Coin) -> String {
    format!("{coin}USDT")
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
        coins: &[Coin],
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
        Ok(assemble(
            Venue::Binance,
            coins,
            fetched_at,
            &rows,
            symbol,
            |_, r| Quote::try_from(r),
        ))
    }
}

#[async_trait]
impl VenueClient for BinanceClient {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    async fn fetch_tickers(&self, coins: &[Coin]) -> Result<TickerBatch, FetchError> {
        if coins.is_empty() {
            return Ok(TickerBatch::default());
        }
        match self.price {
            BinancePrice::Mark => {
                self.fetch::<PremiumIndex>(PREMIUM_INDEX_PATH, coins, |r| &r.symbol)
                    .await
            }
            BinancePrice::Last => {
                self.fetch::<TickerPrice>(TICKER_PRICE_PATH, coins, |r| &r.symbol)
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
