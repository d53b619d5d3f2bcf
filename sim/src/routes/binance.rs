//! Binance USDⓈ-M futures (`https://fapi.binance.com`): `premiumIndex`, `ticker/price`,
//! `ticker/bookTicker`. With `symbol` an object, without it an array of all; an unknown symbol is
//! HTTP 400 `{"code":-1121,"msg":"Invalid symbol."}`. Every answer carries
//! `X-MBX-USED-WEIGHT-1M`.

use std::sync::Arc;

use domain::Venue;
use poem::{
    EndpointExt, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Routes, bid_ask, json_response, next_funding_ms, text};
use crate::{
    market::round,
    state::{Quote, Sim},
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/fapi/v1/premiumIndex", get(premium_index))
        .at("/fapi/v1/ticker/price", get(price))
        .at("/fapi/v1/ticker/bookTicker", get(book_ticker))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct SymbolQuery {
    symbol: Option<String>,
}

/// How one endpoint renders a quote, and its request weight (one symbol, all symbols).
struct Kind {
    render: fn(&Quote, i64) -> Value,
    weight: (u64, u64),
}

#[handler]
fn premium_index(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, ms| {
            let index = round(q.price * Decimal::new(9998, 4), q.dp);
            json!({
                "symbol": symbol(q),
                "markPrice": text(q.price),
                "indexPrice": text(index),
                "estimatedSettlePrice": text(index),
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": next_funding_ms(chrono::Utc::now()),
                "time": ms,
            })
        },
        weight: (1, 10),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

#[handler]
fn price(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, ms| json!({"symbol": symbol(q), "price": text(q.price), "time": ms}),
        weight: (1, 2),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

#[handler]
fn book_ticker(sim: Data<&Arc<Sim>>, q: Query<SymbolQuery>) -> Response {
    let kind = Kind {
        render: |q, ms| {
            let (bid, ask) = bid_ask(q.price, q.dp);
            let qty = (q.volume / Decimal::from(2_000)).round_dp(3);
            json!({
                "symbol": symbol(q),
                "bidPrice": text(bid),
                "bidQty": text(qty),
                "askPrice": text(ask),
                "askQty": text(qty),
                "time": ms,
            })
        },
        weight: (2, 5),
    };
    answer(&sim, q.symbol.as_deref(), &kind)
}

fn symbol(q: &Quote) -> String {
    format!("{}USDT", q.symbol)
}

fn answer(sim: &Sim, symbol: Option<&str>, kind: &Kind) -> Response {
    let (body, status, weight) = match symbol {
        None => {
            let board = sim.board(Venue::Binance, None);
            let ms = board.now.timestamp_millis();
            let items = board.quotes.iter().map(|q| (kind.render)(q, ms)).collect();
            (Value::Array(items), StatusCode::OK, kind.weight.1)
        }
        Some(s) => {
            let upper = s.trim().to_ascii_uppercase();
            let coin = upper.strip_suffix("USDT").unwrap_or_default().to_string();
            let board = sim.board(Venue::Binance, Some(&[coin]));
            match board.quotes.first() {
                Some(q) => (
                    (kind.render)(q, board.now.timestamp_millis()),
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
    let mut resp = json_response(status, &body);
    let used = sim.binance_weight(weight);
    if let Ok(v) = used.to_string().parse() {
        resp.headers_mut().insert("x-mbx-used-weight-1m", v);
    }
    resp
}
