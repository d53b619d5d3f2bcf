//! Bybit v5 (`https://api.bybit.com`): `/v5/market/tickers?category=linear[&symbol=BTCUSDT]`.
//! Errors are HTTP 200 with a non-zero `retCode` (10001 for a bad category or symbol).

use std::sync::Arc;

use domain::Venue;
use poem::{
    EndpointExt, Response, Route, get, handler,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Routes, bid_ask, change_rate, high_low, next_funding_ms, ok, text};
use crate::{
    prefix::bybit_error,
    state::{Quote, Sim},
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/v5/market/tickers", get(tickers))
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
    let funding = next_funding_ms(board.now).to_string();
    let list: Vec<Value> = board.quotes.iter().map(|q| item(q, &funding)).collect();
    ok(&json!({
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": "linear", "list": list},
        "retExtInfo": {},
        "time": board.now.timestamp_millis(),
    }))
}

fn item(q: &Quote, next_funding: &str) -> Value {
    let (high, low) = high_low(q.price, q.open, q.dp);
    let (bid, ask) = bid_ask(q.price, q.dp);
    let size = text((q.volume / Decimal::from(1_000)).round_dp(3));
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
        "fundingRate": "0.0001",
        "nextFundingTime": next_funding,
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": size,
        "bid1Price": text(bid),
        "ask1Price": text(ask),
        "bid1Size": size,
        "basis": "",
    })
}
