//! OKX v5 (`https://www.okx.com`): `/api/v5/market/tickers?instType=SWAP` and
//! `/api/v5/market/ticker?instId=BTC-USDT-SWAP`. Every value is a string; errors are HTTP 200
//! with a non-zero `code` (51001 for an unknown instrument). Metadata:
//! `/api/v5/public/instruments?instType=SWAP[&instId=…]` (`ctVal` in coins, `ctMult` 1, `state`
//! `live`/`suspend`/`preopen`, empty `baseCcy`/`quoteCcy` as on real SWAP rows); prices are per
//! one coin, the multiplier is `ctVal`.

use std::{collections::HashMap, sync::Arc};

use domain::Venue;
use poem::{
    EndpointExt, Response, Route, get, handler,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Routes, bid_ask, high_low, ok, text};
use crate::{
    prefix::okx_error,
    state::{Board, Quote, Sim},
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/api/v5/market/tickers", get(tickers))
        .at("/api/v5/market/ticker", get(ticker))
        .at("/api/v5/public/instruments", get(instruments))
        .map_to_response()
        .boxed()
}

#[derive(Debug, Deserialize)]
struct TickersQuery {
    #[serde(rename = "instType")]
    inst_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TickerQuery {
    #[serde(rename = "instId")]
    inst_id: Option<String>,
}

#[handler]
fn tickers(sim: Data<&Arc<Sim>>, q: Query<TickersQuery>) -> Response {
    match q.inst_type.as_deref().map(str::trim) {
        None | Some("") => ok(&okx_error("50014", "Parameter instType can not be empty.")),
        Some(t) if t.eq_ignore_ascii_case("SWAP") => render(&sim.board(Venue::Okx, None)),
        Some(_) => ok(&okx_error("51000", "Parameter instType error")),
    }
}

#[handler]
fn ticker(sim: Data<&Arc<Sim>>, q: Query<TickerQuery>) -> Response {
    let Some(id) = q
        .inst_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return ok(&okx_error("50014", "Parameter instId can not be empty."));
    };
    let upper = id.to_ascii_uppercase();
    let coin = upper
        .strip_suffix("-USDT-SWAP")
        .unwrap_or_default()
        .to_string();
    let board = sim.board(Venue::Okx, Some(&[coin]));
    if board.quotes.is_empty() {
        return ok(&okx_error("51001", "Instrument ID does not exist"));
    }
    render(&board)
}

#[derive(Debug, Deserialize)]
struct InstrumentsQuery {
    #[serde(rename = "instType")]
    inst_type: Option<String>,
    #[serde(rename = "instId")]
    inst_id: Option<String>,
}

#[handler]
fn instruments(sim: Data<&Arc<Sim>>, q: Query<InstrumentsQuery>) -> Response {
    match q.inst_type.as_deref().map(str::trim) {
        None | Some("") => return ok(&okx_error("50014", "instType cannot be empty")),
        Some(t) if t.eq_ignore_ascii_case("SWAP") => {}
        Some(_) => return ok(&okx_error("51000", "Parameter instType error")),
    }
    let board = sim.board(Venue::Okx, None);
    let dps: HashMap<&str, u32> = board
        .quotes
        .iter()
        .map(|q| (q.symbol.as_str(), q.dp))
        .collect();
    let wanted = q.inst_id.as_deref().map(|s| s.trim().to_ascii_uppercase());
    let data: Vec<Value> = sim
        .listings(Venue::Okx)
        .iter()
        .filter(|l| {
            wanted
                .as_deref()
                .is_none_or(|w| w == format!("{}-USDT-SWAP", l.native))
        })
        .map(|l| {
            let dp = dps.get(l.native.as_str()).copied().unwrap_or(2);
            let family = format!("{}-USDT", l.native);
            json!({
                "alias": "",
                "baseCcy": "",
                "category": "1",
                "ctMult": "1",
                "ctType": "linear",
                "ctVal": l.ct_val.normalize().to_string(),
                "ctValCcy": l.native,
                "expTime": "",
                "instFamily": family,
                "instId": format!("{family}-SWAP"),
                "instType": "SWAP",
                "lever": "50",
                "listTime": l.onboard_ms.to_string(),
                "lotSz": "1",
                "maxLmtSz": "100000000",
                "maxMktSz": "50000",
                "minSz": "1",
                "optType": "",
                "quoteCcy": "",
                "ruleType": "normal",
                "settleCcy": "USDT",
                "state": l.status.okx(),
                "stk": "",
                "tickSz": Decimal::new(1, dp).to_string(),
                "uly": family,
            })
        })
        .collect();
    if wanted.is_some() && data.is_empty() {
        return ok(&okx_error("51001", "Instrument ID does not exist"));
    }
    ok(&json!({"code": "0", "msg": "", "data": data}))
}

fn render(board: &Board) -> Response {
    let ts = board.now.timestamp_millis().to_string();
    let data: Vec<Value> = board.quotes.iter().map(|q| item(q, &ts)).collect();
    ok(&json!({"code": "0", "msg": "", "data": data}))
}

fn item(q: &Quote, ts: &str) -> Value {
    let (high, low) = high_low(q.price, q.open, q.dp);
    let (bid, ask) = bid_ask(q.price, q.dp);
    let size = text((q.volume / Decimal::from(3_000)).round_dp(2));
    json!({
        "instType": "SWAP",
        "instId": format!("{}-USDT-SWAP", q.symbol),
        "last": text(q.price),
        "lastSz": "1",
        "askPx": text(ask),
        "askSz": size,
        "bidPx": text(bid),
        "bidSz": size,
        "open24h": text(q.open),
        "high24h": text(high),
        "low24h": text(low),
        "volCcy24h": text(q.volume),
        "vol24h": text((q.volume * Decimal::TEN).round_dp(0)),
        "sodUtc0": text(q.open),
        "sodUtc8": text(q.open),
        "ts": ts,
    })
}
