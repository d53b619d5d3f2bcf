//! Binance USDⓈ-M futures (`https://fapi.binance.com`): `premiumIndex`, `ticker/price`,
//! `ticker/bookTicker` (the top of `/fapi/v1/depth?symbol=…&limit=N`), `depth`. With `symbol` an object, without it an array of all; an unknown symbol is
//! HTTP 400 `{"code":-1121,"msg":"Invalid symbol."}`. Every answer carries
//! `X-MBX-USED-WEIGHT-1M`. Metadata: `/fapi/v1/exchangeInfo` (every listed perpetual, delisted
//! ones as `SETTLING`; `baseAsset` carries the multiplier, `1000PEPE`) and `/fapi/v1/fundingInfo`
//! (only the symbols whose funding interval was adjusted).

use std::{collections::HashMap, sync::Arc};

use domain::Venue;
use poem::{
    EndpointExt, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Routes, text};
use crate::{
    book::funding,
    price_model::round,
    quote::{Board, Quote},
    reply::json_response,
    state::Sim,
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/fapi/v1/premiumIndex", get(premium_index))
        .at("/fapi/v1/ticker/price", get(price))
        .at("/fapi/v1/ticker/bookTicker", get(book_ticker))
        .at("/fapi/v1/depth", get(depth))
        .at("/fapi/v1/exchangeInfo", get(exchange_info))
        .at("/fapi/v1/fundingInfo", get(funding_info))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct SymbolQuery {
    symbol: Option<String>,
}

/// How one endpoint renders a quote, and its request weight (one symbol, all symbols).
struct Kind {
    render: fn(&Quote, &Ctx) -> Value,
    weight: (u64, u64),
}

/// What a rendering needs besides the quote.
struct Ctx {
    ms: i64,
    seed: u64,
    step: u64,
}

#[handler]
fn premium_index(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, c| {
            let index = round(q.price * Decimal::new(9998, 4), q.dp);
            let f = funding(c.seed, "binance", &q.symbol, c.step, c.ms);
            let mut rate = f.rate;
            rate.rescale(8);
            json!({
                "symbol": symbol(q),
                "markPrice": text(q.price),
                "indexPrice": text(index),
                "estimatedSettlePrice": text(index),
                "lastFundingRate": text(rate),
                "interestRate": "0.00010000",
                "nextFundingTime": f.next_ms,
                "time": c.ms,
            })
        },
        weight: (1, 10),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

#[handler]
fn price(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, c| json!({"symbol": symbol(q), "price": text(q.price), "time": c.ms}),
        weight: (1, 2),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

#[handler]
fn book_ticker(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, c| {
            let ((bid, bid_qty), (ask, ask_qty)) = q.top();
            json!({
                "symbol": symbol(q),
                "bidPrice": text(bid),
                "bidQty": text(bid_qty),
                "askPrice": text(ask),
                "askQty": text(ask_qty),
                "time": c.ms,
            })
        },
        weight: (2, 5),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

#[handler]
fn exchange_info(sim: Data<&Arc<Sim>>) -> Response {
    let board = sim.board(Venue::Binance, None);
    let dps: HashMap<&str, (u32, u32)> = board
        .quotes
        .iter()
        .map(|q| (q.symbol.as_str(), (q.dp, q.size_dp)))
        .collect();
    let symbols: Vec<Value> = sim
        .listings(Venue::Binance)
        .iter()
        .map(|l| {
            let (dp, qty_dp) = dps.get(l.native.as_str()).copied().unwrap_or((2, 0));
            let tick = Decimal::new(1, dp);
            // The book's sizes are multiples of this step.
            let step = text(Decimal::new(1, qty_dp));
            let sym = format!("{}USDT", l.native);
            json!({
                "symbol": sym,
                "pair": sym,
                "contractType": "PERPETUAL",
                "deliveryDate": 4_133_404_800_000_i64,
                "onboardDate": l.onboard_ms,
                "status": l.status.binance(),
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": l.native,
                "quoteAsset": "USDT",
                "marginAsset": "USDT",
                "pricePrecision": dp,
                "quantityPrecision": qty_dp,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "filters": [
                    {"minPrice": text(tick), "maxPrice": "1000000", "filterType": "PRICE_FILTER", "tickSize": text(tick)},
                    {"stepSize": step, "filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": step},
                    {"stepSize": step, "filterType": "MARKET_LOT_SIZE", "maxQty": "1000000", "minQty": step},
                    {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
                    {"limit": 10, "filterType": "MAX_NUM_ALGO_ORDERS"},
                    {"notional": "5", "filterType": "MIN_NOTIONAL"},
                    {"multiplierDown": "0.9500", "multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE"},
                ],
                "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            })
        })
        .collect();
    let body = json!({
        "timezone": "UTC",
        "serverTime": board.now.timestamp_millis(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"},
        ],
        "symbols": symbols,
    });
    weighted(&sim, json_response(StatusCode::OK, &body), 1)
}

/// Every seventh trading perpetual (by a stable hash) has a 4 h funding interval.
#[handler]
fn funding_info(sim: Data<&Arc<Sim>>) -> Response {
    let rows: Vec<Value> = sim
        .listings(Venue::Binance)
        .iter()
        .filter(|l| l.status.trading() && crate::book::interval_hours("binance", &l.native) == 4)
        .map(|l| {
            json!({
                "symbol": format!("{}USDT", l.native),
                "adjustedFundingRateCap": "0.02000000",
                "adjustedFundingRateFloor": "-0.02000000",
                "fundingIntervalHours": 4,
                "disclaimer": false,
            })
        })
        .collect();
    weighted(&sim, json_response(StatusCode::OK, &Value::Array(rows)), 0)
}

fn weighted(sim: &Sim, mut resp: Response, weight: u64) -> Response {
    let used = sim.binance_weight(weight);
    if let Ok(v) = used.to_string().parse() {
        resp.headers_mut().insert("x-mbx-used-weight-1m", v);
    }
    resp
}

fn ctx(sim: &Sim, board: &Board) -> Ctx {
    Ctx {
        ms: board.now.timestamp_millis(),
        seed: sim.seed,
        step: board.step,
    }
}

/// The board of one `symbol=` (empty when it is not listed).
fn one(sim: &Sim, symbol: &str) -> Board {
    let upper = symbol.trim().to_ascii_uppercase();
    let coin = upper.strip_suffix("USDT").unwrap_or_default().to_string();
    sim.board(Venue::Binance, Some(&[coin]))
}

#[derive(Debug, Deserialize)]
struct DepthQuery {
    symbol: Option<String>,
    limit: Option<String>,
}

/// `GET /fapi/v1/depth?symbol=BTCUSDT[&limit=N]`: `limit` one of 5, 10, 20, 50, 100, 500, 1000
/// (default 500; the synthetic book has 30 levels a side, a pinned one what was pinned).
/// Weight 2 up to 50 levels, 5 for 100, 10 for 500, 20 for 1000.
#[handler]
fn depth(sim: Data<&Arc<Sim>>, q: Query<DepthQuery>) -> Response {
    let limit = match q.limit.as_deref().map(|l| l.trim().parse::<usize>()) {
        None => 500,
        Some(Ok(n)) if [5, 10, 20, 50, 100, 500, 1000].contains(&n) => n,
        Some(_) => {
            let body =
                json!({"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."});
            return weighted(&sim, json_response(StatusCode::BAD_REQUEST, &body), 2);
        }
    };
    let weight = match limit {
        0..=50 => 2,
        100 => 5,
        500 => 10,
        _ => 20,
    };
    let Some(s) = q.symbol.as_deref().filter(|s| !s.trim().is_empty()) else {
        let body = json!({"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."});
        return weighted(&sim, json_response(StatusCode::BAD_REQUEST, &body), weight);
    };
    let board = one(&sim, s);
    let Some(quote) = board.quotes.first() else {
        let body = json!({"code": -1121, "msg": "Invalid symbol."});
        return weighted(&sim, json_response(StatusCode::BAD_REQUEST, &body), weight);
    };
    let book = quote.book(limit);
    let ms = board.now.timestamp_millis();
    let levels = |side: &[(Decimal, Decimal)]| -> Vec<Value> {
        side.iter()
            .map(|(p, s)| json!([text(*p), text(*s)]))
            .collect()
    };
    let body = json!({
        "lastUpdateId": update_id(&board),
        "E": ms,
        "T": ms - 3,
        "bids": levels(&book.bids),
        "asks": levels(&book.asks),
    });
    weighted(&sim, json_response(StatusCode::OK, &body), weight)
}

/// A book update id that grows with the step.
fn update_id(board: &Board) -> u64 {
    9_000_000_000 + board.step * 37 + (board.now.timestamp_millis() as u64 % 7)
}

fn symbol(q: &Quote) -> String {
    format!("{}USDT", q.symbol)
}

fn answer(sim: &Sim, symbol: Option<&str>, kind: &Kind) -> Response {
    let (body, status, weight) = match symbol {
        None => {
            let board = sim.board(Venue::Binance, None);
            let ctx = ctx(sim, &board);
            let items = board
                .quotes
                .iter()
                .map(|q| (kind.render)(q, &ctx))
                .collect();
            (Value::Array(items), StatusCode::OK, kind.weight.1)
        }
        Some(s) => {
            let board = one(sim, s);
            match board.quotes.first() {
                Some(q) => (
                    (kind.render)(q, &ctx(sim, &board)),
                    StatusCode::OK,
                    kind.weight.0,
                ),
                None => (
                    json!({"code": -1121, "msg": "Invalid symbol."}),
                    StatusCode::BAD_REQUEST,
                    kind.weight.0,
                ),
            }
        }
    };
    weighted(sim, json_response(status, &body), weight)
}
