//! Upbit spot (KRW).
//!
//! - Tickers: `GET /v1/ticker/all?quote_currencies=KRW`, every KRW market in one request, from
//!   which the requested listings are picked (a missing one is an unknown symbol). The wire
//!   format is shared with Bithumb's current API and lives in [`crate::krw_v1`].
//! - Books: one more request per poll, `GET /v1/orderbook?markets=…` with every priced market
//!   (the whole universe fits one call); a failing one leaves the prices, each ticker's
//!   `book_error` says why. Depth: `GET /v1/orderbook?markets=KRW-X` (30 units).
//! - Markets: `GET /v1/market/all?is_details=true`, KRW markets only; `market_event.warning`
//!   is [`MarketFlag::Warning`] (유의 종목), any `market_event.caution.*` is
//!   [`MarketFlag::Caution`] (주의 종목). Upbit lists only trading markets.
//!
//! Limits: 10 req/s per IP for the ticker group (`remaining-req` header); 429 over it, 418
//! for repeated violations.

use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::{Depth, Instrument, Listing, MarketFlag, MarketStatus, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, TickerBatch, VenueClient, clock::VenueClock, http::Endpoint, krw_v1,
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Upbit).default_base_url();

const MARKETS_QUERY: &str = "is_details=true";

/// One row of `GET /v1/market/all?is_details=true` (fields this crate reads).
///
/// Docs: <https://docs.upbit.com/kr/reference/list-trading-pairs>.
///
/// ```json
/// [{"market":"KRW-BTC","korean_name":"비트코인","english_name":"Bitcoin",
///   "market_event":{"warning":false,"caution":{"PRICE_FLUCTUATIONS":false,
///   "TRADING_VOLUME_SOARING":false,"DEPOSIT_AMOUNT_SOARING":false,
///   "GLOBAL_PRICE_DIFFERENCES":false,"CONCENTRATION_OF_SMALL_ACCOUNTS":false}}}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UpbitMarket {
    pub market: String,
    #[serde(default)]
    pub english_name: Option<String>,
    #[serde(default)]
    pub market_event: Option<MarketEvent>,
}

/// `market_event`: `warning` (유의 종목) and five `caution` alarms (주의 종목).
///
/// ```json
/// {"warning":false,"caution":{"PRICE_FLUCTUATIONS":false,"GLOBAL_PRICE_DIFFERENCES":true}}
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct MarketEvent {
    #[serde(default)]
    pub warning: bool,
    /// Keyed by alarm type; kept open so a new alarm type still counts.
    #[serde(default)]
    pub caution: BTreeMap<String, bool>,
}

impl UpbitMarket {
    /// The instrument of a `KRW-` market; `None` for BTC-/USDT- markets.
    fn instrument(self) -> Option<Instrument> {
        let base = self.market.strip_prefix("KRW-")?.to_ascii_uppercase();
        let event = self.market_event.unwrap_or_default();
        let mut flags = Vec::new();
        if event.warning {
            flags.push(MarketFlag::Warning);
        }
        if event.caution.values().any(|&on| on) {
            flags.push(MarketFlag::Caution);
        }
        Some(Instrument {
            venue: Venue::Upbit,
            symbol: self.market,
            base,
            status: MarketStatus::Trading,
            english_name: self.english_name,
            contract_value: None,
            flags,
        })
    }
}

/// Upbit's client.
#[derive(Debug, Clone)]
pub struct UpbitClient {
    ep: Endpoint,
    clock: VenueClock,
}

impl UpbitClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        UpbitClient {
            ep: Endpoint::new(Venue::Upbit.as_str(), cfg, krw_v1::api_error),
            clock: VenueClock::default(),
        }
    }
}

#[async_trait]
impl VenueClient for UpbitClient {
    fn venue(&self) -> Venue {
        Venue::Upbit
    }

    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError> {
        let body = self.ep.get(krw_v1::MARKETS_PATH, MARKETS_QUERY).await?;
        let rows: Vec<UpbitMarket> = self.ep.parse(&body)?;
        Ok(rows
            .into_iter()
            .filter_map(UpbitMarket::instrument)
            .collect())
    }

    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError> {
        if listings.is_empty() {
            return Ok(TickerBatch::default());
        }
        let mut batch = krw_v1::fetch_all(&self.ep, Venue::Upbit, listings).await?;
        self.clock.settle(&mut batch);
        krw_v1::add_books(&self.ep, &mut batch, listings, usize::MAX).await;
        Ok(batch)
    }

    /// The ticker and, for the priced markets, `GET /v1/orderbook?markets=…` (one request for
    /// the whole universe).
    fn requests_per_fetch(&self, n: usize) -> u32 {
        let _ = n;
        2
    }

    async fn fetch_depth(&self, listing: &Listing, levels: usize) -> Result<Depth, FetchError> {
        krw_v1::fetch_depth(&self.ep, listing, levels).await
    }
}
