//! Bithumb spot (KRW).
//!
//! Tickers, two APIs chosen by [`BithumbApi`]:
//! - [`BithumbApi::V1`] (default): `GET /v1/ticker?markets=KRW-BTC,KRW-ETH`, the
//!   Upbit-compatible format in [`crate::krw_v1`], at most [`MAX_MARKETS_PER_REQUEST`] markets a
//!   request (the venue rejects more), so a poll of n listings is ⌈n/200⌉ requests
//!   ([`VenueClient::requests_per_fetch`]). Errors come as HTTP 200 `{"error":{…}}` bodies, and
//!   one unlisted market fails its whole request ("Code not found"): that chunk's coins become
//!   unknown-symbol failures, the other chunks stand.
//! - [`BithumbApi::Legacy`]: `GET /public/ticker/ALL_KRW`, every coin in one body, every value a
//!   string, errors as HTTP 200 with `status != "0000"`.
//!
//! Books (either API): `GET /v1/orderbook?markets=…` for the priced markets, in requests of
//! at most [`MAX_MARKETS_PER_REQUEST`] like the v1 tickers (15 units a market when several
//! are asked); a failing one leaves the prices, the tickers' `book_error` says why. Depth:
//! `GET /v1/orderbook?markets=KRW-X` (30 units for one market).
//!
//! Markets: three requests that must all succeed (else the refresh is an error, so a caller
//! keeps its last set with flags rather than one without):
//! `GET /v1/market/all?isDetails=true` (KRW markets; `market_warning: "CAUTION"` is
//! [`MarketFlag::Warning`], 유의 종목), `GET /v1/market/virtual_asset_warning` (each row's market
//! is [`MarketFlag::Caution`], 주의 종목) and `GET /public/assetsstatus/ALL` (`deposit_status` /
//! `withdrawal_status` 0 are [`MarketFlag::DepositSuspended`] /
//! [`MarketFlag::WithdrawalSuspended`]).
//!
//! Bithumb's REST ticker times have been seen 9 h ahead (KST wall time written as epoch ms);
//! the crate's clock check (see the crate docs) catches that.
//!
//! Limits: ≤ 15 req/s in total; going over gets a temporary IP block, and failed calls count.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{Depth, Instrument, Listing, MarketFlag, MarketStatus, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    BithumbApi, ClientConfig, FetchError, TickerBatch, VenueClient,
    clock::VenueClock,
    http::{ApiError, Endpoint},
    krw_v1,
    wire::{Quote, WireNumber, assemble, millis_field, price_field},
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Bithumb).default_base_url();

/// Markets per `/v1/ticker` request: above it Bithumb answers 400 "Parameter 'markets' must be
/// less than or equal to 200 items."
pub const MAX_MARKETS_PER_REQUEST: usize = 200;

const VENUE: &str = Venue::Bithumb.as_str();
const LEGACY_PATH: &str = "/public/ticker/ALL_KRW";
const MARKETS_QUERY: &str = "isDetails=true";
const WARNINGS_PATH: &str = "/v1/market/virtual_asset_warning";
const ASSETS_STATUS_PATH: &str = "/public/assetsstatus/ALL";
const OK_STATUS: &str = "0000";

/// One row of `GET /v1/market/all?isDetails=true` (fields this crate reads).
///
/// Docs: <https://apidocs.bithumb.com/reference/거래-대상-목록-조회>.
///
/// ```json
/// [{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin","market_warning":"NONE"}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BithumbMarket {
    pub market: String,
    #[serde(default)]
    pub english_name: Option<String>,
    /// `"NONE"` or `"CAUTION"` (유의 종목).
    #[serde(default)]
    pub market_warning: Option<String>,
}

/// One row of `GET /v1/market/virtual_asset_warning` (경보제).
///
/// Docs: <https://apidocs.bithumb.com/reference/경보제>.
///
/// ```json
/// [{"market":"KRW-BCH","warning_type":"PRICE_DIFFERENCE_HIGH","warning_step":"CAUTION",
///   "end_date":"2026-09-24 01:59:59"}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VirtualAssetWarning {
    pub market: String,
}

/// `GET /public/assetsstatus/ALL`: per coin, JSON integers, 1 open and 0 closed.
///
/// Docs: <https://apidocs.bithumb.com/v1.2.0/reference/입출금-지원-현황>.
///
/// ```json
/// {"status":"0000","data":{"BTC":{"withdrawal_status":1,"deposit_status":1},
///   "ETH":{"withdrawal_status":1,"deposit_status":0}}}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct AssetsStatus {
    // `status` was already checked by `api_error`.
    pub data: HashMap<String, AssetStatus>,
}

/// One coin of [`AssetsStatus`].
///
/// ```json
/// {"withdrawal_status":1,"deposit_status":0}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct AssetStatus {
    pub withdrawal_status: Option<WireNumber>,
    pub deposit_status: Option<WireNumber>,
}

impl AssetStatus {
    fn flags(&self) -> impl Iterator<Item = MarketFlag> {
        let closed = |v: &Option<WireNumber>| v.as_ref().and_then(WireNumber::to_i64) == Some(0);
        [
            closed(&self.deposit_status).then_some(MarketFlag::DepositSuspended),
            closed(&self.withdrawal_status).then_some(MarketFlag::WithdrawalSuspended),
        ]
        .into_iter()
        .flatten()
    }
}

/// The KRW instruments of a market list, flagged from the warning list and the asset status.
pub(crate) fn instruments(
    markets: Vec<BithumbMarket>,
    warnings: &[VirtualAssetWarning],
    assets: &AssetsStatus,
) -> Vec<Instrument> {
    let cautioned: BTreeSet<String> = warnings
        .iter()
        .map(|w| w.market.to_ascii_uppercase())
        .collect();
    markets
        .into_iter()
        .filter_map(|m| {
            let market = m.market.to_ascii_uppercase();
            let base = market.strip_prefix("KRW-")?.to_string();
            let mut flags = BTreeSet::new();
            if m.market_warning.as_deref() == Some("CAUTION") {
                flags.insert(MarketFlag::Warning);
            }
            if cautioned.contains(&market) {
                flags.insert(MarketFlag::Caution);
            }
            if let Some(a) = assets.data.get(&base) {
                flags.extend(a.flags());
            }
            Some(Instrument {
                venue: Venue::Bithumb,
                symbol: market,
                base,
                status: MarketStatus::Trading,
                english_name: m.english_name,
                contract_value: None,
                flags: flags.into_iter().collect(),
            })
        })
        .collect()
}

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

/// Either error body: v1 `{"error":{…}}` or legacy `status != "0000"` (both with HTTP 200).
fn api_error(body: &[u8]) -> Option<ApiError> {
    krw_v1::api_error(body).or_else(|| legacy_api_error(body))
}

/// `{COIN}_KRW`, the legacy symbol of a `KRW-{COIN}` listing.
fn legacy_symbol(listing: &Listing) -> String {
    let symbol = listing.instrument.symbol.as_str();
    let coin = symbol.strip_prefix("KRW-").unwrap_or(symbol);
    format!("{coin}_KRW")
}

impl LegacyAllKrw {
    fn into_batch(
        self,
        listings: &[Listing],
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
            listings,
            fetched_at,
            &rows,
            legacy_symbol,
            |sym, v| {
                let t = LegacyTicker::deserialize(v)
                    .map_err(|e| FetchError::malformed(VENUE, format!("{sym}: {e}")))?;
                let price = price_field(VENUE, sym, "closing_price", t.closing_price.as_ref())?;
                Ok(Quote::new(price, observed_at))
            },
        ))
    }
}

/// Bithumb's ticker client.
#[derive(Debug, Clone)]
pub struct BithumbClient {
    ep: Endpoint,
    api: BithumbApi,
    clock: VenueClock,
}

impl BithumbClient {
    pub fn new(cfg: &ClientConfig, api: BithumbApi) -> Self {
        BithumbClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
            api,
            clock: VenueClock::default(),
        }
    }
}

#[async_trait]
impl VenueClient for BithumbClient {
    fn venue(&self) -> Venue {
        Venue::Bithumb
    }

    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError> {
        let body = self.ep.get(krw_v1::MARKETS_PATH, MARKETS_QUERY).await?;
        let markets: Vec<BithumbMarket> = self.ep.parse(&body)?;
        let body = self.ep.get(WARNINGS_PATH, "").await?;
        let warnings: Vec<VirtualAssetWarning> = self.ep.parse(&body)?;
        let body = self.ep.get(ASSETS_STATUS_PATH, "").await?;
        let assets: AssetsStatus = self.ep.parse(&body)?;
        Ok(instruments(markets, &warnings, &assets))
    }

    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError> {
        if listings.is_empty() {
            return Ok(TickerBatch::default());
        }
        let mut batch = match self.api {
            BithumbApi::V1 => {
                krw_v1::fetch_markets(&self.ep, Venue::Bithumb, listings, MAX_MARKETS_PER_REQUEST)
                    .await?
            }
            BithumbApi::Legacy => {
                let body = self.ep.get(LEGACY_PATH, "").await?;
                let fetched_at = Utc::now();
                self.ep
                    .parse::<LegacyAllKrw>(&body)?
                    .into_batch(listings, fetched_at)?
            }
        };
        self.clock.settle(&mut batch);
        krw_v1::add_books(&self.ep, &mut batch, listings, MAX_MARKETS_PER_REQUEST).await;
        Ok(batch)
    }

    /// Tickers (⌈n/200⌉ on v1, one on legacy) plus ⌈n/200⌉ order book requests.
    fn requests_per_fetch(&self, n: usize) -> u32 {
        let chunks = u32::try_from(n.div_ceil(MAX_MARKETS_PER_REQUEST))
            .unwrap_or(u32::MAX)
            .max(1);
        match self.api {
            BithumbApi::V1 => chunks.saturating_mul(2),
            BithumbApi::Legacy => chunks.saturating_add(1),
        }
    }

    async fn fetch_depth(&self, listing: &Listing, levels: usize) -> Result<Depth, FetchError> {
        krw_v1::fetch_depth(&self.ep, listing, levels).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn listings(list: &[&str]) -> Vec<Listing> {
        list.iter()
            .map(|c| crate::plain_listing(Venue::Bithumb, &domain::Coin::parse(c).unwrap()))
            .collect()
    }

    #[test]
    fn all_krw_shares_one_date_and_reads_closing_price() {
        let all: LegacyAllKrw =
            serde_json::from_str(include_str!("../tests/fixtures/bithumb_legacy/ok.json")).unwrap();
        let batch = all
            .into_batch(&listings(&["BTC", "USDT", "NOPE"]), Utc::now())
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
