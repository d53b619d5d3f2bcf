//! What the venue and FX modules share: the type of one prefix's routes and the way prices,
//! rates and times are written into their bodies. A leaf below every module of `routes/`.

use chrono::{DateTime, FixedOffset, Utc};
use poem::Response;
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde_json::Value;

use crate::price_model::round;

/// One prefix's routes.
pub(crate) type Routes = poem::endpoint::BoxEndpoint<'static, Response>;

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

/// `now` in Korean time (+09:00), as the Korean venues and Dunamu write their dates.
pub(crate) fn kst(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    now.with_timezone(&offset)
}
