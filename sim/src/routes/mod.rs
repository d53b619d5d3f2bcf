//! The upstreams' request paths, one module per venue or FX provider, each mounted under its
//! prefix. Bodies keep the upstream's field names and JSON types (see
//! `shared/notes/market-apis.md`): strings where the venue sends strings, numbers where it sends
//! numbers.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use domain::{FxSource, Venue};
use poem::{Endpoint, EndpointExt, Response, Route, http::StatusCode};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde_json::Value;

use crate::{faults::Faulted, market::round, prefix::Prefix, state::Sim};

mod binance;
mod bithumb;
mod bybit;
mod dunamu;
mod erapi;
mod frankfurter;
mod korea;
mod okx;
mod upbit;

/// Every prefix's routes behind its fault wrapper, plus the control API under `/_sim`.
pub(crate) fn build(sim: Arc<Sim>) -> impl Endpoint<Output = Response> {
    let mut route = Route::new();
    for prefix in Prefix::ALL {
        let inner = match prefix {
            Prefix::Venue(Venue::Bithumb) => bithumb::routes(),
            Prefix::Venue(Venue::Upbit) => upbit::routes(),
            Prefix::Venue(Venue::Binance) => binance::routes(),
            Prefix::Venue(Venue::Bybit) => bybit::routes(),
            Prefix::Venue(Venue::Okx) => okx::routes(),
            Prefix::Fx(FxSource::Dunamu) => dunamu::routes(),
            Prefix::Fx(FxSource::Erapi) => erapi::routes(),
            Prefix::Fx(FxSource::Frankfurter) => frankfurter::routes(),
        };
        let faulted = Faulted {
            prefix,
            inner,
            sim: sim.clone(),
        };
        route = route.nest(format!("/{prefix}"), faulted);
    }
    let bot = crate::telegram::Bot::default();
    route
        .nest("/telegram", crate::telegram::routes())
        .nest(
            "/_sim",
            crate::control::routes().nest("/telegram", crate::telegram::control_routes()),
        )
        .data(sim)
        .data(bot)
}

/// One prefix's routes.
pub(crate) type Routes = poem::endpoint::BoxEndpoint<'static, Response>;

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}

pub(crate) fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body)
}

/// A JSON number (Upbit/Bithumb v1, Dunamu, FX rates).
pub(crate) fn num(d: Decimal) -> Value {
    d.to_f64().map(Value::from).unwrap_or(Value::Null)
}

/// A JSON string (Binance, Bybit, OKX, Bithumb legacy).
pub(crate) fn text(d: Decimal) -> Value {
    Value::String(d.to_string())
}

/// `(price − open) / open`, or zero when there is no opening price.
pub(crate) fn change_rate(price: Decimal, open: Decimal) -> Decimal {
    if open.is_zero() {
        Decimal::ZERO
    } else {
        ((price - open) / open).round_dp(10)
    }
}

/// A day's high and low around the opening and current price.
pub(crate) fn high_low(price: Decimal, open: Decimal, dp: u32) -> (Decimal, Decimal) {
    let high = price.max(open) * Decimal::new(1004, 3);
    let low = price.min(open) * Decimal::new(996, 3);
    (round(high, dp), round(low, dp))
}

pub(crate) fn kst(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    now.with_timezone(&offset)
}
