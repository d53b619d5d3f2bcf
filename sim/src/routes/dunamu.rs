//! Dunamu quotation API (`https://quotation-api-cdn.dunamu.com`):
//! `/v1/forex/recent?codes=FRX.KRWUSD`, an array (empty for unknown codes). `basePrice` is KRW
//! per USD as a JSON number; `date`/`time` are Korean time.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::FxSource;
use poem::{
    EndpointExt, Response, Route, get, handler,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Routes, change_rate, kst, num};
use crate::{
    price_model::{FX_DP, round},
    reply::ok,
    state::Sim,
};

const CODE: &str = "FRX.KRWUSD";

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/v1/forex/recent", get(recent))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct CodesQuery {
    codes: Option<String>,
}

#[handler]
fn recent(sim: Data<&Arc<Sim>>, q: Query<CodesQuery>) -> Response {
    let wanted = q
        .codes
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .any(|c| c.trim().eq_ignore_ascii_case(CODE));
    if !wanted {
        return ok(&json!([]));
    }
    let (rate, open, now) = sim.fx(FxSource::Dunamu);
    ok(&json!([item(rate, open, now)]))
}

fn item(rate: Decimal, open: Decimal, now: DateTime<Utc>) -> Value {
    let local = kst(now);
    let diff = rate - open;
    let signed_rate = change_rate(rate, open);
    let change = if diff > Decimal::ZERO {
        "RISE"
    } else if diff < Decimal::ZERO {
        "FALL"
    } else {
        "EVEN"
    };
    let spread = |bp: i64| num(round(rate * Decimal::new(10_000 + bp, 4), FX_DP));
    let stamp = now.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    // Hana Bank re-posts the rate through the day; count the posts since 09:00 KST, one a minute.
    let posts = (local.timestamp() / 60).rem_euclid(24 * 60) + 1;
    json!({
        "code": CODE,
        "currencyCode": "USD",
        "currencyName": "달러",
        "country": "미국",
        "name": "미국 (USD/KRW)",
        "date": local.format("%Y-%m-%d").to_string(),
        "time": local.format("%H:%M:%S").to_string(),
        "recurrenceCount": posts,
        "basePrice": num(rate),
        "openingPrice": num(open),
        "highPrice": num(rate.max(open)),
        "lowPrice": num(rate.min(open)),
        "change": change,
        "changePrice": num(diff.abs()),
        "cashBuyingPrice": spread(175),
        "cashSellingPrice": spread(-175),
        "ttBuyingPrice": spread(-100),
        "ttSellingPrice": spread(100),
        "tcBuyingPrice": null,
        "fcSellingPrice": null,
        "exchangeCommission": 5.4406,
        "usDollarRate": 1.0,
        "high52wPrice": num(round(open * Decimal::new(106, 2), FX_DP)),
        "high52wDate": "2025-04-09",
        "low52wPrice": num(round(open * Decimal::new(94, 2), FX_DP)),
        "low52wDate": "2024-09-30",
        "currencyUnit": 1,
        "provider": "하나은행",
        "timestamp": now.timestamp_millis(),
        "id": 79,
        "createdAt": stamp,
        "modifiedAt": stamp,
        "signedChangePrice": num(diff),
        "signedChangeRate": num(signed_rate),
        "changeRate": num(signed_rate.abs()),
    })
}
