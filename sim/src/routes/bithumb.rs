//! Bithumb (`https://api.bithumb.com`): the Upbit-compatible `/v1` API and the legacy
//! `/public/ticker/{COIN}_KRW` / `ALL_KRW`, whose values are all strings.

use std::sync::Arc;

use domain::Venue;
use poem::{
    EndpointExt, Response, get, handler,
    web::{Data, Path},
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{Routes, change_rate, high_low, korea, ok, text};
use crate::state::{Quote, Sim};

pub(super) fn routes() -> Routes {
    korea::v1_routes()
        .at("/public/ticker/:pair", get(legacy_ticker))
        .data(Venue::Bithumb)
        .map_to_response()
        .boxed()
}

/// `GET /public/ticker/BTC_KRW` (one coin, `data.date` inside) or `ALL_KRW` (`data.{COIN}` plus
/// one shared `data.date`). An unknown coin or a payment currency other than KRW is status 5500.
#[handler]
fn legacy_ticker(sim: Data<&Arc<Sim>>, Path(pair): Path<String>) -> Response {
    let pair = pair.to_ascii_uppercase();
    let (coin, payment) = pair.split_once('_').unwrap_or((pair.as_str(), "KRW"));
    if payment != "KRW" || coin.is_empty() {
        return invalid();
    }
    let all = coin == "ALL";
    let only = [coin.to_string()];
    let board = sim.board(Venue::Bithumb, (!all).then_some(&only[..]));
    let date = Value::String(board.now.timestamp_millis().to_string());
    let data = if all {
        let mut data: Map<String, Value> = board
            .quotes
            .iter()
            .map(|q| (q.symbol.clone(), Value::Object(item(q))))
            .collect();
        data.insert("date".into(), date);
        data
    } else {
        let Some(q) = board.quotes.first() else {
            return invalid();
        };
        let mut data = item(q);
        data.insert("date".into(), date);
        data
    };
    ok(&json!({"status": "0000", "data": data}))
}

fn invalid() -> Response {
    ok(&json!({"status": "5500", "message": "Invalid Parameter"}))
}

fn item(q: &Quote) -> Map<String, Value> {
    let (high, low) = high_low(q.price, q.open, q.dp);
    let today = (q.volume * Decimal::new(6, 1)).round_dp(8);
    let rate_pct = (change_rate(q.price, q.open) * Decimal::ONE_HUNDRED).round_dp(2);
    let fields = [
        ("opening_price", text(q.open)),
        ("closing_price", text(q.price)),
        ("min_price", text(low)),
        ("max_price", text(high)),
        ("units_traded", text(today)),
        ("acc_trade_value", text((today * q.price).round_dp(4))),
        ("prev_closing_price", text(q.open)),
        ("units_traded_24H", text(q.volume.round_dp(8))),
        (
            "acc_trade_value_24H",
            text((q.volume * q.price).round_dp(4)),
        ),
        ("fluctate_24H", text(q.price - q.open)),
        ("fluctate_rate_24H", text(rate_pct)),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}
