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

use super::fields::{Routes, high_low, text};
use crate::{
    book::funding,
    prefix::okx_error,
    quote::{Board, Quote},
    reply::ok,
    state::Sim,
};

pub(super) fn routes() -> Routes {
    Route::new()
        .at("/api/v5/market/tickers", get(tickers))
        .at("/api/v5/market/ticker", get(ticker))
        .at("/api/v5/public/instruments", get(instruments))
        .at("/api/v5/market/books", get(books))
        .at("/api/v5/public/funding-rate", get(funding_rate))
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

/// The coin of an `instId` (`BTC-USDT-SWAP` → `BTC`), or the venue's error.
fn coin_of(inst_id: Option<&str>) -> Result<String, Box<Response>> {
    let Some(id) = inst_id.map(str::trim).filter(|s| !s.is_empty()) else {
        let body = okx_error("50014", "Parameter instId can not be empty.");
        return Err(Box::new(ok(&body)));
    };
    Ok(id
        .to_ascii_uppercase()
        .strip_suffix("-USDT-SWAP")
        .unwrap_or_default()
        .to_string())
}

#[derive(Debug, Deserialize)]
struct BooksQuery {
    #[serde(rename = "instId")]
    inst_id: Option<String>,
    sz: Option<String>,
}

/// `GET /api/v5/market/books?instId=BTC-USDT-SWAP[&sz=N]`: `sz` 1–400 levels a side (default
/// 1); rows `[price, size in contracts, "0", orders]`.
#[handler]
fn books(sim: Data<&Arc<Sim>>, q: Query<BooksQuery>) -> Response {
    let coin = match coin_of(q.inst_id.as_deref()) {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let depth = match q.sz.as_deref().map(|s| s.trim().parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if (1..=400).contains(&n) => n,
        Some(_) => return ok(&okx_error("51000", "Parameter sz error")),
    };
    let board = sim.board(Venue::Okx, Some(&[coin]));
    let Some(quote) = board.quotes.first() else {
        return ok(&okx_error("51001", "Instrument ID does not exist"));
    };
    let book = quote.book(depth);
    let levels = |side: &[(Decimal, Decimal)]| -> Vec<Value> {
        side.iter()
            .enumerate()
            .map(|(i, (p, s))| {
                let orders = (1 + i as u64 / 2 + quote.key.rotate_left(i as u32) % 4).to_string();
                json!([text(*p), text(*s), "0", orders])
            })
            .collect()
    };
    ok(&json!({
        "code": "0",
        "msg": "",
        "data": [{
            "asks": levels(&book.asks),
            "bids": levels(&book.bids),
            "ts": board.now.timestamp_millis().to_string(),
        }],
    }))
}

/// `GET /api/v5/public/funding-rate?instId=BTC-USDT-SWAP` or `instId=ANY` (every live swap):
/// `fundingRate` for the settlement at `fundingTime` (the next interval boundary),
/// `nextFundingTime` one interval later, the last settled rate in `settFundingRate`.
#[handler]
fn funding_rate(sim: Data<&Arc<Sim>>, q: Query<TickerQuery>) -> Response {
    let any = q
        .inst_id
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("ANY"));
    let board = if any {
        let live: Vec<String> = sim
            .listings(Venue::Okx)
            .into_iter()
            .filter(|l| l.status.trading())
            .map(|l| l.native)
            .collect();
        sim.board(Venue::Okx, Some(&live))
    } else {
        let coin = match coin_of(q.inst_id.as_deref()) {
            Ok(c) => c,
            Err(resp) => return *resp,
        };
        let board = sim.board(Venue::Okx, Some(&[coin]));
        if board.quotes.is_empty() {
            return ok(&okx_error("51001", "Instrument ID does not exist"));
        }
        board
    };
    let ms = board.now.timestamp_millis();
    let data: Vec<Value> = board
        .quotes
        .iter()
        .map(|q| {
            let f = funding(sim.seed, "okx", &q.symbol, board.step, ms);
            let period = f.interval_h * 3_600_000;
            let settled = funding(
                sim.seed,
                "okx",
                &q.symbol,
                board.step.saturating_sub(2_000),
                ms,
            );
            json!({
                "formulaType": "noRate",
                "fundingRate": text(f.rate.normalize()),
                "fundingTime": f.next_ms.to_string(),
                "impactValue": "",
                "instId": format!("{}-USDT-SWAP", q.symbol),
                "instType": "SWAP",
                "interestRate": "",
                "maxFundingRate": text(f.cap),
                "method": "current_period",
                "minFundingRate": text(-f.cap),
                "nextFundingRate": "",
                "nextFundingTime": (f.next_ms + period).to_string(),
                "premium": text((f.rate - Decimal::new(1, 4)).round_dp(10).normalize()),
                "settFundingRate": text(settled.rate.normalize()),
                "settState": "settled",
                "ts": ms.to_string(),
            })
        })
        .collect();
    ok(&json!({"code": "0", "data": data, "msg": ""}))
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
    let ((bid, bid_size), (ask, ask_size)) = q.top();
    json!({
        "instType": "SWAP",
        "instId": format!("{}-USDT-SWAP", q.symbol),
        "last": text(q.price),
        "lastSz": "1",
        "askPx": text(ask),
        "askSz": text(ask_size),
        "bidPx": text(bid),
        "bidSz": text(bid_size),
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
