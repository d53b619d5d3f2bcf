//! open.er-api (`https://open.er-api.com`): `/v6/latest/USD`. Only USD is a base here; any other
//! is HTTP 404 `{"result":"error","error-type":"unsupported-code"}`.

use std::sync::Arc;

use domain::FxSource;
use poem::{
    EndpointExt, Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Path},
};
use serde_json::json;

use super::fields::{Routes, num};
use crate::{
    reply::{json_response, ok},
    state::Sim,
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/v6/latest/:base", get(latest))
        .map_to_response()
        .boxed()
}

#[handler]
fn latest(sim: Data<&Arc<Sim>>, Path(base): Path<String>) -> Response {
    if !base.eq_ignore_ascii_case("USD") {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"result": "error", "error-type": "unsupported-code"}),
        );
    }
    let (rate, _, now) = sim.fx(FxSource::Erapi);
    let updated = now.timestamp();
    let next = updated + 86_400;
    let utc = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap_or(now)
            .format("%a, %d %b %Y %H:%M:%S +0000")
            .to_string()
    };
    ok(&json!({
        "result": "success",
        "provider": "https://www.exchangerate-api.com",
        "documentation": "https://www.exchangerate-api.com/docs/free",
        "terms_of_use": "https://www.exchangerate-api.com/terms",
        "time_last_update_unix": updated,
        "time_last_update_utc": utc(updated),
        "time_next_update_unix": next,
        "time_next_update_utc": utc(next),
        "time_eol_unix": 0,
        "base_code": "USD",
        "rates": {"USD": 1, "EUR": 0.9214, "JPY": 147.35, "KRW": num(rate)},
    }))
}
