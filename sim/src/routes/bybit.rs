//! Bybit v5 (`https://api.bybit.com`): `/v5/market/tickers?category=linear[&symbol=BTCUSDT]`.
//! Errors are HTTP 200 with a non-zero `retCode` (10001 for a bad category or symbol).
//! Metadata: `/v5/market/instruments-info?category=linear[&limit=N][&cursor=C][&status=S]
//! [&symbol=S]`, sorted by symbol, `limit` 1–1000 (default 500), paged by the opaque
//! `nextPageCursor` (`first%3D…%26last%3D…`, `""` on the last page); only `Trading` rows unless
//! `status` asks otherwise.

use std::{collections::HashMap, sync::Arc};

use domain::Venue;
use poem::{
    EndpointExt, Response, Route, get, handler,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Routes, change_rate, high_low, text};
use crate::{
    book::{Funding, funding, interval_hours},
    prefix::bybit_error,
    quote::Quote,
    reply::ok,
    state::Sim,
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/v5/market/tickers", get(tickers))
        .at("/v5/market/instruments-info", get(instruments))
        .at("/v5/market/orderbook", get(orderbook))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct TickersQuery {
    category: Option<String>,
    symbol: Option<String>,
}

#[handler]
fn tickers(sim: Data<&Arc<Sim>>, q: Query<TickersQuery>) -> Response {
    if q.category.as_deref() != Some("linear") {
        return ok(&bybit_error(10001, "params error: category is invalid"));
    }
    let only = q.symbol.as_deref().map(|s| {
        let upper = s.trim().to_ascii_uppercase();
        [upper.strip_suffix("USDT").unwrap_or_default().to_string()]
    });
    let board = sim.board(Venue::Bybit, only.as_ref().map(|o| &o[..]));
    if only.is_some() && board.quotes.is_empty() {
        return ok(&bybit_error(10001, "params error: symbol invalid"));
    }
    let (seed, step, ms) = (sim.seed, board.step, board.now.timestamp_millis());
    let list: Vec<Value> = board
        .quotes
        .iter()
        .map(|q| item(q, &funding(seed, "bybit", &q.symbol, step, ms)))
        .collect();
    ok(&json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": list},
        "retExtInfo": {},
        "time": board.now.timestamp_millis(),
    }))
}

#[derive(Debug, Deserialize)]
struct OrderbookQuery {
    category: Option<String>,
    symbol: Option<String>,
    limit: Option<String>,
}

/// `GET /v5/market/orderbook?category=linear&symbol=BTCUSDT[&limit=N]`: `limit` 1–500, default
/// 25 (the synthetic book has 30 levels a side).
#[handler]
fn orderbook(sim: Data<&Arc<Sim>>, q: Query<OrderbookQuery>) -> Response {
    if q.category.as_deref() != Some("linear") {
        return ok(&bybit_error(10001, "params error: category is invalid"));
    }
    let limit = match q.limit.as_deref().map(|l| l.trim().parse::<usize>()) {
        None => 25,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => return ok(&bybit_error(10001, "params error: limit is invalid")),
    };
    let Some(sym) = q.symbol.as_deref().filter(|s| !s.trim().is_empty()) else {
        return ok(&bybit_error(10001, "params error: symbol invalid"));
    };
    let upper = sym.trim().to_ascii_uppercase();
    let coin = upper.strip_suffix("USDT").unwrap_or_default().to_string();
    let board = sim.board(Venue::Bybit, Some(&[coin]));
    let Some(quote) = board.quotes.first() else {
        return ok(&bybit_error(10001, "params error: symbol invalid"));
    };
    let book = quote.book(limit);
    let ms = board.now.timestamp_millis();
    let levels = |side: &[(Decimal, Decimal)]| -> Vec<Value> {
        side.iter()
            .map(|(p, s)| json!([text(*p), text(*s)]))
            .collect()
    };
    ok(&json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "s": upper,
            "b": levels(&book.bids),
            "a": levels(&book.asks),
            "ts": ms,
            "u": 5_000_000 + board.step * 11,
            "seq": 70_000_000_000_u64 + board.step * 53,
            "cts": ms - 5,
        },
        "retExtInfo": {},
        "time": ms,
    }))
}

#[derive(Debug, Deserialize)]
struct InstrumentsQuery {
    category: Option<String>,
    symbol: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[handler]
fn instruments(sim: Data<&Arc<Sim>>, q: Query<InstrumentsQuery>) -> Response {
    if q.category.as_deref() != Some("linear") {
        return ok(&bybit_error(10001, "params error: category is invalid"));
    }
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 500,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return ok(&bybit_error(10001, "params error: limit is invalid")),
    };
    let board = sim.board(Venue::Bybit, None);
    let dps: HashMap<&str, (u32, u32)> = board
        .quotes
        .iter()
        .map(|q| (q.symbol.as_str(), (q.dp, q.size_dp)))
        .collect();
    let mut rows = sim.listings(Venue::Bybit);
    rows.sort_by_key(|l| format!("{}USDT", l.native));
    let want_status = q.status.as_deref().unwrap_or("Trading");
    rows.retain(|l| l.status.bybit() == want_status);
    if let Some(sym) = q.symbol.as_deref() {
        let sym = sym.trim().to_ascii_uppercase();
        rows.retain(|l| format!("{}USDT", l.native) == sym);
    }
    // Resume after the last symbol of the previous page.
    if let Some(cursor) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        let decoded = cursor.replace("%3D", "=").replace("%26", "&");
        let Some(last) = decoded.split('&').find_map(|kv| kv.strip_prefix("last=")) else {
            return ok(&bybit_error(10001, "params error: cursor is invalid"));
        };
        rows.retain(|l| format!("{}USDT", l.native).as_str() > last);
    }
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match (more, rows.first(), rows.last()) {
        (true, Some(f), Some(l)) => format!("first%3D{}USDT%26last%3D{}USDT", f.native, l.native),
        _ => String::new(),
    };
    let list: Vec<Value> = rows
        .iter()
        .map(|l| {
            let (dp, qty_dp) = dps.get(l.native.as_str()).copied().unwrap_or((2, 0));
            let tick = text(Decimal::new(1, dp));
            // The book's sizes are multiples of this step.
            let step = text(Decimal::new(1, qty_dp));
            let cap = funding(sim.seed, "bybit", &l.native, 0, 0).cap;
            json!({
                "symbol": format!("{}USDT", l.native),
                "contractType": "LinearPerpetual",
                "status": l.status.bybit(),
                "baseCoin": l.native,
                "quoteCoin": "USDT",
                "launchTime": l.onboard_ms.to_string(),
                "deliveryTime": "0",
                "deliveryFeeRate": "",
                "priceScale": dp.to_string(),
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "25.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
                "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": step, "qtyStep": step, "postOnlyMaxOrderQty": "1000000", "maxMktOrderQty": "200000", "minNotionalValue": "5"},
                "unifiedMarginTrade": true,
                "fundingInterval": interval_hours("bybit", &l.native) * 60,
                "settleCoin": "USDT",
                "copyTrading": "both",
                "upperFundingRate": text(cap),
                "lowerFundingRate": text(-cap),
                "isPreListing": false,
                "preListingInfo": null,
                "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
                "symbolType": "",
            })
        })
        .collect();
    ok(&json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": list, "nextPageCursor": next},
        "retExtInfo": {},
        "time": board.now.timestamp_millis(),
    }))
}

fn item(q: &Quote, f: &Funding) -> Value {
    let (high, low) = high_low(q.price, q.open, q.dp);
    let ((bid, bid_size), (ask, ask_size)) = q.top();
    let oi = (q.volume * Decimal::new(3, 1)).round_dp(3);
    json!({
        "symbol": format!("{}USDT", q.symbol),
        "lastPrice": text(q.price),
        "indexPrice": text(q.price),
        "markPrice": text(q.price),
        "prevPrice24h": text(q.open),
        "price24hPcnt": text(change_rate(q.price, q.open).round_dp(6)),
        "highPrice24h": text(high),
        "lowPrice24h": text(low),
        "prevPrice1h": text(q.open),
        "openInterest": text(oi),
        "openInterestValue": text((oi * q.price).round_dp(2)),
        "turnover24h": text((q.volume * q.price).round_dp(4)),
        "volume24h": text(q.volume),
        "fundingRate": text(f.rate.round_dp(6).normalize()),
        "nextFundingTime": f.next_ms.to_string(),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": text(ask_size),
        "bid1Price": text(bid),
        "ask1Price": text(ask),
        "bid1Size": text(bid_size),
        "basis": "",
        "preOpenPrice": "",
        "preQty": "",
        "curPreListingPhase": "",
        "fundingIntervalHour": f.interval_h.to_string(),
        "basisRateYear": "",
        "fundingCap": text(f.cap),
    })
}
