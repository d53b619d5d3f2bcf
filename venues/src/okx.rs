//! OKX perpetual swaps (USDT): `GET /api/v5/market/tickers?instType=SWAP`, all instruments in
//! one request, from which the listings' symbols (`BTC-USDT-SWAP`) are picked; the price is
//! `last` (per one coin), its time `ts`.
//!
//! Markets: `GET /api/v5/public/instruments?instType=SWAP`, kept when `ctType == "linear"`,
//! `settleCcy == "USDT"` and `instId` ends in `-USDT-SWAP`; the base is `instFamily` (or `uly`)
//! before `-USDT` (`baseCcy` is empty on swaps), the contract value `ctVal × ctMult`.
//!
//! Books: `bidPx`/`bidSz`/`askPx`/`askSz` of the same ticker rows, sizes in contracts × the
//! listing's `contract_value` (ctVal); a crossed pre-open BBO is no book. Funding: one more
//! request per poll, `GET /api/v5/public/funding-rate?instId=ANY` (every swap; interval =
//! `nextFundingTime − fundingTime`, the next settlement `fundingTime`); a failing one leaves
//! `funding` empty. Depth: `GET /api/v5/market/books?instId=…&sz=…` (≤ 400 levels).
//!
//! Limits: 20 req / 2 s; `code 50011` is the rate limit, `51001` an unknown instrument.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use domain::{Depth, Instrument, Listing, MarketStatus, Venue, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, TickerBatch, VenueClient,
    clock::VenueClock,
    http::{ApiError, Endpoint},
    wire::{
        Quote, RawTop, WireNumber, assemble, attach_books, attach_funding, book_time,
        depth_per_coin, funding, levels, millis_field, price_field, size_unit,
    },
};

pub const BASE_URL: &str = Upstream::Venue(Venue::Okx).default_base_url();

const VENUE: &str = Venue::Okx.as_str();
const PATH: &str = "/api/v5/market/tickers";
const QUERY: &str = "instType=SWAP";
const OK_CODE: &str = "0";
const FUNDING_PATH: &str = "/api/v5/public/funding-rate";
/// Every swap's funding in one answer.
const FUNDING_QUERY: &str = "instId=ANY";
const BOOKS_PATH: &str = "/api/v5/market/books";
/// The most levels `/api/v5/market/books` returns.
pub const MAX_DEPTH_LEVELS: usize = 400;
const INSTRUMENTS_PATH: &str = "/api/v5/public/instruments";
const INSTRUMENT_SUFFIX: &str = "-USDT-SWAP";

/// `GET /api/v5/public/instruments?instType=SWAP` (fields this crate reads).
///
/// Docs: <https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments>.
///
/// ```json
/// {"code":"0","msg":"","data":[{"alias":"","baseCcy":"","category":"1","ctMult":"1",
///   "ctType":"linear","ctVal":"0.01","ctValCcy":"BTC","expTime":"","instFamily":"BTC-USDT",
///   "instId":"BTC-USDT-SWAP","instType":"SWAP","lever":"100","listTime":"1611916828000",
///   "lotSz":"0.1","minSz":"0.1","quoteCcy":"","ruleType":"normal","settleCcy":"USDT",
///   "state":"live","tickSz":"0.1","uly":"BTC-USDT"}]}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Instruments {
    pub data: Vec<SwapInstrument>,
}

/// One element of `data` (fields this crate reads).
///
/// ```json
/// {"instId":"PEPE-USDT-SWAP","instFamily":"PEPE-USDT","uly":"PEPE-USDT","ctType":"linear",
///  "ctVal":"10000000","ctMult":"1","settleCcy":"USDT","state":"live","baseCcy":""}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct SwapInstrument {
    #[serde(rename = "instId")]
    pub inst_id: String,
    #[serde(rename = "instFamily", default)]
    pub inst_family: Option<String>,
    #[serde(default)]
    pub uly: Option<String>,
    #[serde(rename = "ctType", default)]
    pub ct_type: String,
    #[serde(rename = "ctVal", default)]
    pub ct_val: Option<WireNumber>,
    #[serde(rename = "ctMult", default)]
    pub ct_mult: Option<WireNumber>,
    #[serde(rename = "settleCcy", default)]
    pub settle_ccy: String,
    #[serde(default)]
    pub state: String,
}

impl SwapInstrument {
    fn instrument(self) -> Option<Instrument> {
        if self.ct_type != "linear"
            || self.settle_ccy != "USDT"
            || !self.inst_id.ends_with(INSTRUMENT_SUFFIX)
        {
            return None;
        }
        let family = [&self.inst_family, &self.uly]
            .into_iter()
            .flatten()
            .find(|f| !f.is_empty())?;
        let base = family.strip_suffix("-USDT")?.to_ascii_uppercase();
        if base.is_empty() {
            return None;
        }
        let decimal = |v: &Option<WireNumber>| v.as_ref().and_then(|n| n.to_price().ok());
        let contract_value = match (decimal(&self.ct_val), decimal(&self.ct_mult)) {
            (Some(v), Some(m)) => v.value().checked_mul(m.value()),
            (Some(v), None) => Some(v.value()),
            _ => None,
        }
        .map(|d| d.normalize());
        Some(Instrument {
            venue: Venue::Okx,
            status: status(&self.state),
            symbol: self.inst_id,
            base,
            english_name: None,
            contract_value,
            flags: Vec::new(),
        })
    }
}

/// `live`; `preopen` is pre-open; `suspend`, `rebase` and anything else halted (OKX drops
/// delisted instruments from the list).
fn status(s: &str) -> MarketStatus {
    match s {
        "live" => MarketStatus::Trading,
        "preopen" => MarketStatus::PreOpen,
        _ => MarketStatus::Halted,
    }
}

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

/// One element of `data` (fields this crate reads). `bidSz`/`askSz` are contracts (× `ctVal`
/// coins); the BBO may be crossed during pre-open (rejected as a book).
///
/// ```json
/// {"instType":"SWAP","instId":"BTC-USDT-SWAP","last":"9999.99","askPx":"9999.99",
///  "askSz":"11","bidPx":"8888.88","bidSz":"5","ts":"1597026383085"}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct SwapTicker {
    #[serde(rename = "instId")]
    pub inst_id: String,
    pub last: Option<WireNumber>,
    #[serde(rename = "bidPx", default)]
    pub bid_px: Option<WireNumber>,
    #[serde(rename = "bidSz", default)]
    pub bid_sz: Option<WireNumber>,
    #[serde(rename = "askPx", default)]
    pub ask_px: Option<WireNumber>,
    #[serde(rename = "askSz", default)]
    pub ask_sz: Option<WireNumber>,
    /// ms, as a string.
    pub ts: Option<WireNumber>,
}

impl SwapTicker {
    fn top(&self) -> Result<RawTop, String> {
        RawTop::parse([
            ("bidPx", self.bid_px.as_ref()),
            ("bidSz", self.bid_sz.as_ref()),
            ("askPx", self.ask_px.as_ref()),
            ("askSz", self.ask_sz.as_ref()),
        ])
    }
}

/// `GET /api/v5/public/funding-rate?instId=ANY`: every swap's funding.
///
/// Docs: <https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate>.
///
/// ```json
/// {"code":"0","data":[{"formulaType":"noRate","fundingRate":"0.0000182221218054",
///   "fundingTime":"1743609600000","instId":"BTC-USDT-SWAP","instType":"SWAP",
///   "method":"current_period","nextFundingTime":"1743638400000",
///   "settFundingRate":"0.0000145824401745","settState":"settled","ts":"1743588686291"}],
///   "msg":""}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct FundingRates {
    pub data: Vec<FundingRate>,
}

/// One element of [`FundingRates`]: `fundingRate` settles at `fundingTime` (the next
/// settlement); `nextFundingTime` is the one after, so the interval is their difference.
#[derive(Debug, Deserialize)]
pub(crate) struct FundingRate {
    #[serde(rename = "instId")]
    pub inst_id: String,
    #[serde(rename = "fundingRate", default)]
    pub funding_rate: Option<WireNumber>,
    #[serde(rename = "fundingTime", default)]
    pub funding_time: Option<WireNumber>,
    #[serde(rename = "nextFundingTime", default)]
    pub next_funding_time: Option<WireNumber>,
}

impl FundingRate {
    fn funding(&self) -> Option<domain::Funding> {
        let at = self.funding_time.as_ref().and_then(WireNumber::to_i64);
        let after = self.next_funding_time.as_ref().and_then(WireNumber::to_i64);
        let interval = match (at, after) {
            (Some(a), Some(b)) if b > a && (b - a) % 3_600_000 == 0 => {
                u32::try_from((b - a) / 3_600_000).ok()
            }
            _ => None,
        };
        funding(
            self.funding_rate.as_ref(),
            self.funding_time.as_ref(),
            interval,
        )
    }
}

/// `GET /api/v5/market/books?instId=BTC-USDT-SWAP&sz=50`: `[price, contracts, "0", orders]`.
///
/// Docs: <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-order-book>.
///
/// ```json
/// {"code":"0","msg":"","data":[{"asks":[["41006.8","0.60038921","0","1"]],
///   "bids":[["41006.3","0.30178218","0","2"]],"ts":"1629966436396"}]}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Books {
    pub data: Vec<Book>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Book {
    pub asks: Vec<Vec<WireNumber>>,
    pub bids: Vec<Vec<WireNumber>>,
    #[serde(default)]
    pub ts: Option<WireNumber>,
}

impl TryFrom<&SwapTicker> for Quote {
    type Error = FetchError;
    fn try_from(t: &SwapTicker) -> Result<Self, FetchError> {
        Ok(Quote::new(
            price_field(VENUE, &t.inst_id, "last", t.last.as_ref())?,
            millis_field(VENUE, &t.inst_id, "ts", t.ts.as_ref())?,
        ))
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

/// OKX's ticker client.
#[derive(Debug, Clone)]
pub struct OkxClient {
    ep: Endpoint,
    clock: VenueClock,
}

impl OkxClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        OkxClient {
            ep: Endpoint::new(VENUE, cfg, api_error),
            clock: VenueClock::default(),
        }
    }
}

#[async_trait]
impl VenueClient for OkxClient {
    fn venue(&self) -> Venue {
        Venue::Okx
    }

    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError> {
        let body = self.ep.get(INSTRUMENTS_PATH, QUERY).await?;
        let rows: Instruments = self.ep.parse(&body)?;
        Ok(rows
            .data
            .into_iter()
            .filter_map(SwapInstrument::instrument)
            .collect())
    }

    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError> {
        if listings.is_empty() {
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
        let mut batch = assemble(
            Venue::Okx,
            listings,
            fetched_at,
            &rows,
            |l| l.instrument.symbol.clone(),
            |_, t| Quote::try_from(t),
        );
        self.clock.settle(&mut batch);
        attach_books(&mut batch, listings, |l| {
            let row = rows.get(&l.instrument.symbol)?;
            Some(row.top().and_then(|t| t.per_coin(l, size_unit(l))))
        });
        if batch.tickers.is_empty() {
            return Ok(batch);
        }
        // Funding is best effort: a failing call leaves the prices and books.
        match self
            .ep
            .get(FUNDING_PATH, FUNDING_QUERY)
            .await
            .and_then(|body| self.ep.parse::<FundingRates>(&body))
        {
            Ok(rates) => {
                let rates: HashMap<&str, &FundingRate> =
                    rates.data.iter().map(|r| (r.inst_id.as_str(), r)).collect();
                attach_funding(&mut batch, listings, |l| {
                    rates.get(l.instrument.symbol.as_str())?.funding()
                });
            }
            Err(e) => tracing::debug!(error = %e, "okx funding-rate failed"),
        }
        Ok(batch)
    }

    /// The tickers and `funding-rate?instId=ANY`.
    fn requests_per_fetch(&self, n: usize) -> u32 {
        let _ = n;
        2
    }

    async fn fetch_depth(&self, listing: &Listing, wanted: usize) -> Result<Depth, FetchError> {
        let symbol = listing.instrument.symbol.as_str();
        let sz = wanted.clamp(1, MAX_DEPTH_LEVELS);
        let body = self
            .ep
            .get(BOOKS_PATH, &format!("instId={symbol}&sz={sz}"))
            .await?;
        let fetched_at = Utc::now();
        let book = self
            .ep
            .parse::<Books>(&body)?
            .data
            .into_iter()
            .next()
            .ok_or_else(|| FetchError::unknown_symbol(VENUE, symbol))?;
        let observed_at = book_time(book.ts.as_ref().and_then(WireNumber::to_i64), fetched_at);
        depth_per_coin(
            VENUE,
            listing,
            levels(VENUE, "bids", &book.bids)?,
            levels(VENUE, "asks", &book.asks)?,
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
