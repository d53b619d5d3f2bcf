//! Bithumb (`https://api.bithumb.com`): the Upbit-compatible `/v1` API and the legacy
//! `/public/ticker/{COIN}_KRW` / `ALL_KRW`, whose values are all strings; the warning list
//! `/v1/market/virtual_asset_warning` and the legacy deposit/withdrawal status
//! `/public/assetsstatus/ALL` (or `/{COIN}`; JSON integers, 1 open, 0 closed).

use std::sync::Arc;

use domain::Venue;
use poem::{
    EndpointExt, Response, get, handler,
    web::{Data, Path},
};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{
    fields::{Routes, change_rate, high_low, text},
    korean_v1,
};
use crate::{
    quote::Quote,
    reply::ok,
    state::Sim,
    universe::{CAUTION, DEPOSIT_SUSPENDED},
};

pub(super) fn routes() -> Routes {
    korean_v1::routes()
        .at("/public/ticker/:pair", get(legacy_ticker))
        .at("/v1/market/virtual_asset_warning", get(warnings))
        .at("/public/assetsstatus/:currency", get(assets_status))
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

/// `GET /v1/market/virtual_asset_warning`: a `PRICE_DIFFERENCE_HIGH` / `CAUTION` row per
/// listed coin flagged `caution`.
#[handler]
fn warnings(sim: Data<&Arc<Sim>>) -> Response {
    let u = sim.universe();
    let end = super::fields::kst(chrono::Utc::now() + chrono::Duration::hours(12))
        .format("%Y-%m-%d %H:59:59")
        .to_string();
    let rows: Vec<Value> = u
        .flagged
        .iter()
        .filter(|(coin, flags)| flags.contains(&CAUTION) && u.find(Venue::Bithumb, coin).is_some())
        .map(|(coin, _)| {
            json!({
                "market": format!("KRW-{coin}"),
                "warning_type": "PRICE_DIFFERENCE_HIGH",
                "warning_step": "CAUTION",
                "end_date": end,
            })
        })
        .collect();
    ok(&Value::Array(rows))
}

/// `GET /public/assetsstatus/ALL` or `/{COIN}`: deposits closed (`0`) for coins flagged
/// `deposit_suspended`.
#[handler]
fn assets_status(sim: Data<&Arc<Sim>>, Path(currency): Path<String>) -> Response {
    let u = sim.universe();
    let status = |coin: &str| {
        let closed = u
            .flagged
            .get(coin)
            .is_some_and(|f| f.contains(&DEPOSIT_SUSPENDED));
        json!({"withdrawal_status": 1, "deposit_status": i32::from(!closed)})
    };
    let currency = currency.to_ascii_uppercase();
    let mut coins: Vec<String> = u
        .listings(Venue::Bithumb)
        .iter()
        .map(|l| l.native.clone())
        .collect();
    coins.push("USDT".into());
    if currency == "ALL" {
        let data: Map<String, Value> = coins.iter().map(|c| (c.clone(), status(c))).collect();
        return ok(&json!({"status": "0000", "data": data}));
    }
    if !coins.contains(&currency) {
        return ok(&json!({"status": "5500", "message": "Invalid Parameter"}));
    }
    ok(&json!({"status": "0000", "data": status(&currency)}))
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
