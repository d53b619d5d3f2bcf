//! Frankfurter (`https://api.frankfurter.dev`): `/v1/latest?base=USD&symbols=KRW`. Only USD is a
//! base here (also when `base` is left out); an unknown base or symbol is HTTP 404
//! `{"message":"not found"}`.

use std::sync::Arc;

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
        "date": now.format("%Y-%m-%d").to_string(),
        "rates": rates,
    }))
}
