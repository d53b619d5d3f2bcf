//! Frankfurter (`https://api.frankfurter.dev`): `/v1/latest?base=USD&symbols=KRW`. Only USD is a
//! base here (also when `base` is left out); an unknown base or symbol is HTTP 404
//! `{"message":"not found"}`.
//!
//! A reference rate, not a live one: its `date` is the last ECB publication's (TARGET working
//! days at 16:00 CET, 15:00 UTC as the client reads it), so on a weekend or a Monday morning it
//! is Friday's; `POST /_sim/config {"frankfurter_date": "…"}` pins another.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use domain::FxSource;
use poem::{
    EndpointExt, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Query},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::fields::{Routes, num};
use crate::{
    reply::{json_response, ok},
    state::Sim,
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/v1/latest", get(latest))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct LatestQuery {
    base: Option<String>,
    symbols: Option<String>,
}

#[handler]
fn latest(sim: Data<&Arc<Sim>>, q: Query<LatestQuery>) -> Response {
    let not_found = || json_response(StatusCode::NOT_FOUND, &json!({"message": "not found"}));
    if !q
        .base
        .as_deref()
        .unwrap_or("USD")
        .eq_ignore_ascii_case("USD")
    {
        return not_found();
    }
    let (rate, _, now) = sim.fx(FxSource::Frankfurter);
    let date = sim
        .params()
        .frankfurter_date
        .unwrap_or_else(|| last_publication(now));
    let all = [
        ("EUR", json!(0.9208)),
        ("JPY", json!(147.12)),
        ("KRW", num(rate)),
    ];
    let rates: Map<String, Value> = match q.symbols.as_deref().filter(|s| !s.trim().is_empty()) {
        None => all.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        Some(symbols) => {
            let mut rates = Map::new();
            for symbol in symbols.split(',').map(|s| s.trim().to_ascii_uppercase()) {
                let Some((k, v)) = all.iter().find(|(k, _)| *k == symbol) else {
                    return not_found();
                };
                rates.insert(k.to_string(), v.clone());
            }
            rates
        }
    };
    ok(&json!({
        "amount": 1.0,
        "base": "USD",
        "date": date.to_string(),
        "rates": rates,
    }))
}

/// When the ECB publishes, in UTC (16:00 CET), as the Frankfurter client dates a rate.
const PUBLISHED_AT: NaiveTime = NaiveTime::from_hms_opt(15, 0, 0).expect("valid time");

/// The date of the latest ECB reference rate at `now`: today once published, else the working
/// day before (weekends and TARGET closing days have none).
fn last_publication(now: DateTime<Utc>) -> NaiveDate {
    let mut d = now.date_naive();
    if now.time() < PUBLISHED_AT {
        d = d.pred_opt().unwrap_or(d);
    }
    // A working day comes within a week; the bound keeps the walk finite.
    for _ in 0..10 {
        if domain::fx::ecb_working_day(d) {
            break;
        }
        d = d.pred_opt().unwrap_or(d);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_the_last_ecb_publication_not_today() {
        let at = |t: &str| last_publication(t.parse().unwrap()).to_string();
        // Monday 7 December 2026: Friday's rate until 15:00 UTC, Monday's after.
        assert_eq!(at("2026-12-07T14:59:59Z"), "2026-12-04");
        assert_eq!(at("2026-12-07T15:00:00Z"), "2026-12-07");
        // A weekend has Friday's.
        assert_eq!(at("2026-12-05T20:00:00Z"), "2026-12-04");
        assert_eq!(at("2026-12-06T09:00:00Z"), "2026-12-04");
        // TARGET closing days: 25 and 26 December 2026 (Friday, Saturday), Easter 2027.
        assert_eq!(at("2026-12-28T10:00:00Z"), "2026-12-24");
        assert_eq!(at("2027-03-29T16:00:00Z"), "2027-03-25");
    }
}
