//! The Upbit-compatible v1 API that both Upbit and Bithumb's current API serve: the ticker
//! (`GET /v1/ticker?markets=KRW-BTC,KRW-ETH`, or every KRW market at once with
//! `GET /v1/ticker/all?quote_currencies=KRW` on Upbit), prices as JSON numbers, and the market
//! list `GET /v1/market/all`.
//!
//! Times: a ticker's `timestamp` is the snapshot time, the quote's `observed_at`;
//! `trade_timestamp` is the last trade (`last_trade_at`), which may be minutes old on an
//! illiquid coin whose quote is current: premiums then price the coin from its book
//! (`domain::Ticker::premium_price`), which is why the book is fetched with every ticker.

use std::collections::HashMap;

use chrono::Utc;
use domain::{Decimal, Depth, Listing, Venue};
use serde::Deserialize;

use crate::{
    FetchError, TickerBatch,
    http::{ApiError, Endpoint},
    wire::{
        Quote, RawTop, WireNumber, assemble, attach_books, depth_per_coin, millis_field,
        price_field,
    },
};

pub(crate) const PATH: &str = "/v1/ticker";
pub(crate) const ALL_PATH: &str = "/v1/ticker/all";
pub(crate) const ALL_QUERY: &str = "quote_currencies=KRW";
pub(crate) const MARKETS_PATH: &str = "/v1/market/all";
pub(crate) const ORDERBOOK_PATH: &str = "/v1/orderbook";

/// One market of `GET /v1/orderbook?markets=KRW-BTC,KRW-ETH` (Upbit; Bithumb's is the same).
/// Unit i pairs the i-th bid with the i-th ask; thin sides are padded with price-0/size-0
/// units, and Bithumb prints a dust level's size as `0`.
///
/// Docs: <https://global-docs.upbit.com/reference/list-orderbooks>,
/// <https://apidocs.bithumb.com/reference/호가-정보-조회>.
///
/// ```json
/// [{"market":"KRW-BTC","timestamp":1790134742106,"total_ask_size":2.51469375,
///   "total_bid_size":1.63815297,"orderbook_units":[{"ask_price":116539000,
///   "bid_price":116538000,"ask_size":0.02054761,"bid_size":0.08120946}],"level":0}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct V1Orderbook {
    pub market: String,
    pub orderbook_units: Vec<V1Unit>,
}

/// One unit of [`V1Orderbook`].
///
/// ```json
/// {"ask_price":116539000,"bid_price":116538000,"ask_size":0.02054761,"bid_size":0.08120946}
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct V1Unit {
    pub ask_price: WireNumber,
    pub bid_price: WireNumber,
    pub ask_size: WireNumber,
    pub bid_size: WireNumber,
}

/// (price, size) levels of one side, best first.
type Side = Vec<(Decimal, Decimal)>;

impl V1Orderbook {
    /// (bids, asks) as (price, size), best first, unfiltered.
    fn sides(&self) -> Result<(Side, Side), String> {
        let num = |field: &str, n: &WireNumber| {
            n.to_decimal()
                .ok_or_else(|| format!("{}: `{field}` is not a number", self.market))
        };
        let mut bids = Vec::with_capacity(self.orderbook_units.len());
        let mut asks = Vec::with_capacity(self.orderbook_units.len());
        for u in &self.orderbook_units {
            bids.push((
                num("bid_price", &u.bid_price)?,
                num("bid_size", &u.bid_size)?,
            ));
            asks.push((
                num("ask_price", &u.ask_price)?,
                num("ask_size", &u.ask_size)?,
            ));
        }
        Ok((bids, asks))
    }

    /// The first unit with a non-zero price and size on each side (padding and size-0 dust
    /// dropped); an empty side is the error.
    pub fn top(&self) -> Result<RawTop, String> {
        let (bids, asks) = self.sides()?;
        let first = |side: &[(Decimal, Decimal)], name: &'static str| {
            side.iter()
                .copied()
                .find(|(p, q)| !p.is_zero() && !q.is_zero())
                .ok_or_else(|| domain::BookError::Empty { side: name }.to_string())
        };
        let (bid, bid_qty) = first(&bids, "bid")?;
        let (ask, ask_qty) = first(&asks, "ask")?;
        Ok(RawTop {
            bid,
            bid_qty,
            ask,
            ask_qty,
        })
    }
}

/// The top of every requested market's book, keyed by market, from
/// `GET /v1/orderbook?markets=…` in requests of at most `chunk` markets. A failing request
/// marks its markets with the error's text instead of failing the others.
pub(crate) async fn fetch_tops(
    ep: &Endpoint,
    listings: &[Listing],
    chunk: usize,
) -> HashMap<String, Result<RawTop, String>> {
    let mut out = HashMap::with_capacity(listings.len());
    for part in listings.chunks(chunk.max(1)) {
        let markets: Vec<&str> = part.iter().map(|l| l.instrument.symbol.as_str()).collect();
        let rows = match ep
            .get(ORDERBOOK_PATH, &format!("markets={}", markets.join(",")))
            .await
            .and_then(|body| ep.parse::<Vec<V1Orderbook>>(&body))
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(venue = ep.name, markets = part.len(), error = %e, "orderbook chunk failed");
                for m in markets {
                    out.insert(m.to_string(), Err(e.to_string()));
                }
                continue;
            }
        };
        for r in rows {
            out.insert(r.market.to_ascii_uppercase(), r.top());
        }
    }
    out
}

/// Adds the books of [`fetch_tops`] to `batch` (the ticker part), per coin. A market the
/// orderbook answer left out gets a `book_error` saying so.
pub(crate) async fn add_books(
    ep: &Endpoint,
    batch: &mut TickerBatch,
    listings: &[Listing],
    chunk: usize,
) {
    // Only the listings that got a price need a book.
    let priced: std::collections::HashSet<&domain::Coin> =
        batch.tickers.iter().map(|t| &t.coin).collect();
    let wanted: Vec<Listing> = listings
        .iter()
        .filter(|l| priced.contains(&l.coin))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return;
    }
    let tops = fetch_tops(ep, &wanted, chunk).await;
    attach_books(batch, &wanted, |l| {
        let symbol = l.instrument.symbol.to_ascii_uppercase();
        Some(match tops.get(&symbol) {
            Some(Ok(top)) => top.per_coin(l, Decimal::ONE),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("{symbol} is not in the order book answer")),
        })
    });
}

/// The depth of one market from `GET /v1/orderbook?markets=KRW-X` (30 units for one market),
/// up to `levels` a side, per coin, observed at its receipt (the body's `timestamp` is the
/// book's last change, not the time it was current). An answer without the market is an unknown symbol.
pub(crate) async fn fetch_depth(
    ep: &Endpoint,
    listing: &Listing,
    levels: usize,
) -> Result<Depth, FetchError> {
    let symbol = listing.instrument.symbol.as_str();
    let body = ep.get(ORDERBOOK_PATH, &format!("markets={symbol}")).await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Orderbook> = ep.parse(&body)?;
    let book = rows
        .into_iter()
        .find(|r| r.market.eq_ignore_ascii_case(symbol))
        .ok_or_else(|| FetchError::unknown_symbol(ep.name, symbol))?;
    let (bids, asks) = book
        .sides()
        .map_err(|e| FetchError::malformed(ep.name, e))?;
    // The book's `timestamp` is its last change (minutes old on a quiet book, and Bithumb's
    // clock has been off): the book is current as of its receipt.
    depth_per_coin(ep.name, listing, bids, asks, levels, fetched_at)
}

/// One market of `GET /v1/ticker` (fields this crate reads; the rest are ignored).
///
/// Docs: <https://global-docs.upbit.com/reference/tickers_by_pairs>,
/// <https://apidocs.bithumb.com/reference/현재가-정보>.
///
/// ```json
/// [{"market":"KRW-BTC","trade_date":"20250730","trade_time":"170315","trade_date_kst":"20250731",
///   "trade_time_kst":"020315","trade_timestamp":1753894995076,"opening_price":163248000.0,
///   "high_price":163708000.0,"low_price":162248000.0,"trade_price":162876000.0,
///   "prev_closing_price":163158000.0,"change":"FALL","signed_change_rate":-0.0017283860,
///   "trade_volume":0.02543652,"acc_trade_price_24h":167740032580.71786,
///   "acc_trade_volume_24h":1029.2736991,"timestamp":1753894995113}]
/// ```
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct V1Ticker {
    pub market: String,
    pub trade_price: Option<WireNumber>,
    /// Time of the last trade, ms: `last_trade_at`.
    pub trade_timestamp: Option<WireNumber>,
    /// Time the ticker snapshot was taken, ms: the quote time (`observed_at`); the trade time
    /// stands in when it is absent.
    pub timestamp: Option<WireNumber>,
}

impl V1Ticker {
    /// Validates the price and picks the quote and trade times. Shared by two venues, so the
    /// venue is a parameter rather than a `TryFrom`.
    pub fn quote(&self, venue: Venue) -> Result<Quote, FetchError> {
        let v = venue.as_str();
        let price = price_field(v, &self.market, "trade_price", self.trade_price.as_ref())?;
        let last_trade_at = self
            .trade_timestamp
            .as_ref()
            .map(|ts| millis_field(v, &self.market, "trade_timestamp", Some(ts)))
            .transpose()?;
        let observed_at = match (&self.timestamp, last_trade_at) {
            (None, Some(at)) => at,
            (ts, _) => millis_field(v, &self.market, "timestamp", ts.as_ref())?,
        };
        Ok(Quote {
            price,
            observed_at,
            last_trade_at,
        })
    }
}

/// The v1 error body, sent with a 4xx status.
///
/// ```json
/// {"error":{"name":"404","message":"Code not found"}}
/// ```
#[derive(Debug, Deserialize)]
struct V1ErrorBody {
    error: V1Error,
}

#[derive(Debug, Deserialize)]
struct V1Error {
    /// A string such as `"invalid_query_payload"`, sometimes a number.
    name: serde_json::Value,
    #[serde(default)]
    message: Option<String>,
}

pub(crate) fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<V1ErrorBody>(body).ok()?.error;
    let name = match e.name {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    Some(ApiError::new(name, e.message.unwrap_or_default(), false))
}

/// Whether an error is the v1 "Code not found" answer (an unlisted market in the request):
/// with HTTP 200 on Bithumb, 404 on Upbit.
pub(crate) fn is_code_not_found(e: &FetchError) -> bool {
    match e {
        FetchError::Api { message, .. } => message.contains("Code not found"),
        FetchError::Client { detail, .. } => detail.contains("Code not found"),
        _ => false,
    }
}

/// Fetches `listings` with `GET /v1/ticker?markets=…`, at most `chunk` markets a request, one
/// request after the other. A chunk answering "Code not found" (one unlisted market fails the
/// whole call) turns its listings into [`FetchError::UnknownSymbol`] failures without failing
/// the other chunks; any other chunk error does too, under its own class. Only when every
/// chunk fails, and not all of them with "Code not found", is the first other error the `Err`
/// (an unlisted market is a per-coin failure, so the caller can tell it from a failing venue).
pub(crate) async fn fetch_markets(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
    chunk: usize,
) -> Result<TickerBatch, FetchError> {
    let mut batch = TickerBatch::default();
    let mut first_error = None;
    let mut answered = false;
    for part in listings.chunks(chunk.max(1)) {
        match fetch_chunk(ep, venue, part).await {
            Ok(b) => {
                answered = true;
                batch.tickers.extend(b.tickers);
                batch.failures.extend(b.failures);
            }
            Err(e) => {
                tracing::debug!(%venue, markets = part.len(), error = %e, "ticker chunk failed");
                let unlisted = is_code_not_found(&e);
                for l in part {
                    let err = if unlisted {
                        FetchError::unknown_symbol(venue.as_str(), &l.instrument.symbol)
                    } else {
                        e.clone()
                    };
                    batch.failures.push((l.coin.clone(), err));
                }
                if unlisted {
                    answered = true;
                } else {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) if !answered => Err(e),
        _ => Ok(batch),
    }
}

async fn fetch_chunk(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
) -> Result<TickerBatch, FetchError> {
    let markets: Vec<&str> = listings
        .iter()
        .map(|l| l.instrument.symbol.as_str())
        .collect();
    let body = ep
        .get(PATH, &format!("markets={}", markets.join(",")))
        .await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Ticker> = ep.parse(&body)?;
    Ok(pick(venue, listings, fetched_at, rows))
}

/// Fetches every KRW market with `GET /v1/ticker/all?quote_currencies=KRW` and picks
/// `listings` out of it (Upbit).
pub(crate) async fn fetch_all(
    ep: &Endpoint,
    venue: Venue,
    listings: &[Listing],
) -> Result<TickerBatch, FetchError> {
    let body = ep.get(ALL_PATH, ALL_QUERY).await?;
    let fetched_at = Utc::now();
    let rows: Vec<V1Ticker> = ep.parse(&body)?;
    Ok(pick(venue, listings, fetched_at, rows))
}

fn pick(
    venue: Venue,
    listings: &[Listing],
    fetched_at: chrono::DateTime<Utc>,
    rows: Vec<V1Ticker>,
) -> TickerBatch {
    let rows: HashMap<String, V1Ticker> = rows.into_iter().map(|r| (r.market.clone(), r)).collect();
    assemble(
        venue,
        listings,
        fetched_at,
        &rows,
        |l| l.instrument.symbol.clone(),
        |_, r| r.quote(venue),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_real_upbit_capture_parses_exactly() {
        let rows: Vec<V1Ticker> =
            serde_json::from_str(include_str!("../tests/fixtures/upbit/ok.json")).unwrap();
        let btc = rows.iter().find(|r| r.market == "KRW-BTC").unwrap();
        let q = btc.quote(Venue::Upbit).unwrap();
        assert_eq!(q.price.value(), dec!(162876000));
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995113);
        assert_eq!(q.last_trade_at.unwrap().timestamp_millis(), 1753894995076);
    }

    #[test]
    fn timestamp_alone_is_the_quote_time() {
        let row: V1Ticker = serde_json::from_str(
            r#"{"market":"KRW-ETH","trade_price":5000000.5,"timestamp":1753894995113}"#,
        )
        .unwrap();
        let q = row.quote(Venue::Bithumb).unwrap();
        assert_eq!(q.price.value(), dec!(5000000.5));
        assert_eq!(q.observed_at.timestamp_millis(), 1753894995113);
        assert_eq!(q.last_trade_at, None);
    }

    #[test]
    fn a_zero_price_names_venue_market_and_field() {
        let row: V1Ticker = serde_json::from_str(
            r#"{"market":"KRW-BTC","trade_price":0,"trade_timestamp":1753894995076}"#,
        )
        .unwrap();
        let e = row.quote(Venue::Upbit).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upbit KRW-BTC trade_price: price must be positive, got 0"
        );
    }

    #[test]
    fn error_bodies_keep_name_and_message() {
        let e =
            api_error(br#"{"error":{"name":"invalid_query_payload","message":"bad"}}"#).unwrap();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("invalid_query_payload", "bad")
        );
        assert_eq!(
            api_error(br#"{"error":{"name":404,"message":"Code not found"}}"#)
                .unwrap()
                .code,
            "404"
        );
        assert!(api_error(b"[]").is_none());
    }
}
