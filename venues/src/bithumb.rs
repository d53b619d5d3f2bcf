//! Bithumb spot (KRW), two APIs chosen by [`BithumbApi`]:
//!
//! - [`BithumbApi::V1`] (default): `GET /v1/ticker?markets=KRW-BTC,KRW-ETH`, the
//!   Upbit-compatible format in [`crate::krw_v1`].
//! - [`BithumbApi::Legacy`]: `GET /public/ticker/ALL_KRW`, every coin in one body, every value a
//!   string, errors as HTTP 200 with `status != "0000"`.
//!
//! Limits: ≤ 15 req/s in total; going over gets a temporary IP block, and failed calls count.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Coin, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    BithumbApi, ClientConfig, FetchError, TickerBatch, VenueClient,
    http::{ApiError, Endpoint},
    krw_v1,
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Bithumb).default_base_url();

const VENUE: &str = Venue::Bithumb.as_str();
const LEGACY_PATH: &str = "/public/ticker/ALL_KRW";
const OK_STATUS: &str = "0000";

/// `GET /public/ticker/ALL_KRW`: one object per coin plus one shared `date` (ms, as a string).
///
/// Docs: <https://apidocs.bithumb.com/v1.2.0/reference/현재가-정보-조회-all>.
///
/// ```json
/// {"status":"0000","data":{"BTC":{"opening_price":"63241000","closing_price":"63651000",
///   "min_price":"62944000","max_price":"65351000","units_traded":"2715.2835537",
///   "acc_trade_value":"173294332105.4152","prev_closing_price":"63239000",
///   "units_traded_24H":"3471.39085837","acc_trade_value_24H":"221565547379.3369",
///   "fluctate_24H":"418000","fluctate_rate_24H":"0.66"},"date":"1619687597790"}}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyAllKrw {
    // `status` was already checked by `legacy_api_error` when the body got here.
    pub data: LegacyData,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LegacyData {
    /// Shared by all coins, ms since the epoch, as a string.
    pub date: WireNumber,
    /// `BTC`, `ETH`, …: kept as raw JSON so one odd coin cannot fail the others.
    #[serde(flatten)]
    pub coins: HashMap<String, serde_json::Value>,
}

/// One coin of [`LegacyAllKrw`] (fields this crate reads).
///
/// ```json
/// {"opening_price":"63241000","closing_price":"63651000","prev_closing_price":"63239000"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyTicker {
    /// The last trade price.
    pub closing_price: Option<WireNumber>,
}

/// The legacy error body, sent with HTTP 200.
///
/// ```json
/// {"status":"5300","message":"Invalid Apikey"}
/// ```
#[derive(Debug, Deserialize)]
struct LegacyStatus {
    status: String,
    #[serde(default)]
    message: Option<String>,
}

/// `status != "0000"` is an error. `5400` (database fail) and `5900` (unknown error) are
/// transient; `5600` covers many errors, so it is retryable only when the message reads like a
/// rate limit.
fn legacy_api_error(body: &[u8]) -> Option<ApiError> {
    let s = serde_json::from_slice::<LegacyStatus>(body).ok()?;
    if s.status == OK_STATUS {
        return None;
    }
    let message = s.message.unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    let retryable = matches!(s.status.as_str(), "5400" | "5900")
        || lower.contains("too many")
        || lower.contains("request limit");
    Some(ApiError::new(s.status, message, retryable))
}

/// `{COIN}_KRW`, the legacy symbol.
fn legacy_symbol(coin: &Coin) -> String {
    format!("{coin}_KRW")
}

impl LegacyAllKrw {
    fn into_batch(
        self,
        coins: &[Coin],
        fetched_at: DateTime<Utc>,
    ) -> Result<TickerBatch, FetchError> {
        let observed_at = millis_field(VENUE, "ALL_KRW", "date", Some(&self.data.date))?;
        let rows: HashMap<String, serde_json::Value> = self
            .data
            .coins
            .into_iter()
            .map(|(coin, v)| (format!("{coin}_KRW"), v))
            .collect();
        Ok(assemble(
            Venue::Bithumb,
            coins,
            fetched_at,
            &rows,
            legacy_symbol,
            |sym, v| {
                let t = LegacyTicker::deserialize(v)
                    .map_err(|e| FetchError::malformed(VENUE, format!("{sym}: {e}")))?;
                let price = price_field(VENUE, sym, "closing_price", t.closing_price.as_ref())?;
                Ok(Quote { price, observed_at })
            },
        ))
    }
}

/// Bithumb's ticker client.
#[derive(Debug, Clone)]
pub struct BithumbClient {
    ep: Endpoint,
    api: BithumbApi,
}

impl BithumbClient {
    pub fn new(cfg: &ClientConfig, api: BithumbApi) -> Self {
        let api_error = match api {
            BithumbApi::V1 => krw_v1::api_error,
            BithumbApi::Legacy => legacy_api_error,
        };
        BithumbClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
            api,
        }
    }
}

#[async_trait]
impl VenueClient for BithumbClient {
    fn venue(&self) -> Venue {
        Venue::Bithumb
    }

    async fn fetch_tickers(&self, coins: &[Coin]) -> Result<TickerBatch, FetchError> {
        match self.api {
            BithumbApi::V1 => krw_v1::fetch(&self.ep, Venue::Bithumb, coins).await,
            BithumbApi::Legacy => {
                if coins.is_empty() {
                    return Ok(TickerBatch::default());
                }
                let body = self.ep.get(LEGACY_PATH, "").await?;
                let fetched_at = Utc::now();
                self.ep
                    .parse::<LegacyAllKrw>(&body)?
                    .into_batch(coins, fetched_at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn coins(list: &[&str]) -> Vec<Coin> {
        list.iter().map(|c| Coin::parse(c).unwrap()).collect()
    }

    #[test]
    fn all_krw_shares_one_date_and_reads_closing_price() {
        let all: LegacyAllKrw =
            serde_json::from_str(include_str!("../tests/fixtures/bithumb_legacy/ok.json")).unwrap();
        let batch = all
            .into_batch(&coins(&["BTC", "USDT", "NOPE"]), Utc::now())
            .unwrap();
        assert_eq!(batch.tickers.len(), 2);
        assert_eq!(batch.tickers[0].price.value(), dec!(63651000));
        assert_eq!(
            batch.tickers[0].observed_at.timestamp_millis(),
            1619687597790
        );
        assert_eq!(batch.tickers[1].observed_at, batch.tickers[0].observed_at);
        let (coin, err) = &batch.failures[0];
        assert_eq!(coin.as_str(), "NOPE");
        assert_eq!(err.to_string(), "bithumb: NOPE_KRW is not listed");
    }

    #[test]
    fn status_other_than_0000_is_an_api_error() {
        let e = legacy_api_error(br#"{"status":"5300","message":"Invalid Apikey"}"#).unwrap();
        assert_eq!(e, ApiError::new("5300", "Invalid Apikey", false));
        assert!(
            legacy_api_error(br#"{"status":"5900","message":"Unknown Error"}"#)
                .unwrap()
                .retryable
        );
        assert!(legacy_api_error(br#"{"status":"0000","data":{}}"#).is_none());
    }
}
