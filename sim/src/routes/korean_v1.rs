//! The Upbit-compatible `/v1` API that Upbit and Bithumb both serve (numbers as JSON numbers).

use std::sync::Arc;

use domain::Venue;
use poem::{
    Response, Route, get, handler,
    http::StatusCode,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{change_rate, high_low, kst, num};
use crate::{
    price_model::round,
    quote::Quote,
    reply::{json_response, ok},
    state::Sim,
    universe::{CAUTION, WARNING},
};

#[derive(Debug, Deserialize)]
struct MarketsQuery {
    markets: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DetailsQuery {
    is_details: Option<String>,
    #[serde(rename = "isDetails")]
    is_details_camel: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QuoteCurrencies {
    quote_currencies: Option<String>,
}

/// The `/v1` routes; the venue they quote comes from request data (`.data(Venue::Upbit)`).
pub(super) fn routes() -> Route {
    Route::new()
        .at("/v1/ticker", get(ticker))
        .at("/v1/ticker/all", get(ticker_all))
        .at("/v1/market/all", get(market_all))
        .at("/v1/orderbook", get(orderbook))
}

#[derive(Debug, Deserialize)]
struct OrderbookQuery {
    markets: Option<String>,
    count: Option<String>,
    level: Option<String>,
}

/// Upbit's `count` bounds and default.
const UPBIT_MAX_UNITS: usize = 30;
/// Bithumb: 30 units for one market, 15 when several are asked for.
const BITHUMB_UNITS_ONE: usize = 30;
const BITHUMB_UNITS_MANY: usize = 15;
/// Bithumb prints book sizes with 4 decimals.
const BITHUMB_SIZE_DP: u32 = 4;

/// `GET /v1/orderbook?markets=KRW-BTC,KRW-ETH[&count=N]`: one book per market, in request order,
/// each with `orderbook_units` pairing the i-th ask with the i-th bid; a side thinner than the
/// unit count is padded with zero slots. Upbit: `count` 1–30 (default 30; out of range →
/// default; not a number → 400). Bithumb: 30 units for one market, 15 for several, sizes at 4
/// decimals (a dust level shows 0), at most 200 markets. Upbit `level` other than 0 → `[]`. Unknown markets fail the call as on
/// `/v1/ticker`.
#[handler]
fn orderbook(sim: Data<&Arc<Sim>>, venue: Data<&Venue>, q: Query<OrderbookQuery>) -> Response {
    let venue = **venue;
    let coins = match requested_coins(venue, q.markets.as_deref()) {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let units = match venue {
        Venue::Bithumb if coins.len() > 1 => BITHUMB_UNITS_MANY,
        Venue::Bithumb => BITHUMB_UNITS_ONE,
        _ => match q.count.as_deref().map(|c| c.trim().parse::<i64>()) {
            None => UPBIT_MAX_UNITS,
            Some(Ok(n)) if (1..=UPBIT_MAX_UNITS as i64).contains(&n) => n as usize,
            Some(Ok(_)) => UPBIT_MAX_UNITS,
            Some(Err(_)) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": {"name": 400, "message": "Type mismatch error. Check the parameters type!"}}),
                );
            }
        },
    };
    let board = sim.board(venue, Some(&coins));
    if board.quotes.is_empty() || board.quotes.len() < coins.len() {
        return unknown_market(venue);
    }
    // Only the native grouping (`level=0`) is simulated; Upbit answers an unsupported level
    // with an empty list.
    if venue == Venue::Upbit
        && q.level
            .as_deref()
            .is_some_and(|l| l.trim().parse::<f64>() != Ok(0.0))
    {
        return ok(&Value::Array(Vec::new()));
    }
    let ms = board.now.timestamp_millis();
    let size = |s: Decimal| match venue {
        Venue::Bithumb => s.round_dp(BITHUMB_SIZE_DP),
        _ => s,
    };
    let items: Vec<Value> = board
        .quotes
        .iter()
        .map(|q| {
            let book = q.book(units);
            let zero = (Decimal::ZERO, Decimal::ZERO);
            let slots: Vec<Value> = (0..units)
                .map(|i| {
                    let (ap, asz) = book.asks.get(i).copied().unwrap_or(zero);
                    let (bp, bsz) = book.bids.get(i).copied().unwrap_or(zero);
                    json!({
                        "ask_price": num(ap),
                        "bid_price": num(bp),
                        "ask_size": num(size(asz)),
                        "bid_size": num(size(bsz)),
                    })
                })
                .collect();
            let total =
                |side: &[(Decimal, Decimal)]| side.iter().map(|l| size(l.1)).sum::<Decimal>();
            json!({
                "market": format!("KRW-{}", q.symbol),
                "timestamp": ms,
                "total_ask_size": num(total(&book.asks)),
                "total_bid_size": num(total(&book.bids)),
                "orderbook_units": slots,
                "level": 0,
            })
        })
        .collect();
    ok(&Value::Array(items))
}

/// The coins of a `markets=` list (KRW markets, deduplicated, in order), or the venue's error.
fn requested_coins(venue: Venue, markets: Option<&str>) -> Result<Vec<String>, Box<Response>> {
    let Some(markets) = markets.filter(|m| !m.trim().is_empty()) else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "markets is required",
        )));
    };
    let mut coins: Vec<String> = Vec::new();
    for market in markets.split(',') {
        let market = market.trim().to_ascii_uppercase();
        if let Some(coin) = market.strip_prefix("KRW-")
            && !coins.iter().any(|c| c == coin)
        {
            coins.push(coin.to_string());
        }
    }
    if venue == Venue::Bithumb && coins.len() > BITHUMB_MAX_MARKETS {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "400",
            "Parameter 'markets' must be less than or equal to 200 items.",
        )));
    }
    Ok(coins)
}

/// One unknown market fails the whole call: Upbit 404, Bithumb HTTP 200 with the error body.
fn unknown_market(venue: Venue) -> Response {
    let status = match venue {
        Venue::Bithumb => StatusCode::OK,
        _ => StatusCode::NOT_FOUND,
    };
    json_response(
        status,
        &json!({"error": {"name": 404, "message": "Code not found"}}),
    )
}

#[handler]
fn ticker(sim: Data<&Arc<Sim>>, venue: Data<&Venue>, q: Query<MarketsQuery>) -> Response {
    tickers(&sim, **venue, q.markets.as_deref())
}

#[handler]
fn ticker_all(sim: Data<&Arc<Sim>>, venue: Data<&Venue>, q: Query<QuoteCurrencies>) -> Response {
    all_tickers(&sim, **venue, q.quote_currencies.as_deref())
}

#[handler]
fn market_all(sim: Data<&Arc<Sim>>, venue: Data<&Venue>, q: Query<DetailsQuery>) -> Response {
    let details = [&q.is_details, &q.is_details_camel]
        .into_iter()
        .flatten()
        .any(|v| v.trim().eq_ignore_ascii_case("true"));
    markets(&sim, **venue, details)
}

fn error(status: StatusCode, name: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"name": name, "message": message}}),
    )
}

/// Bithumb answers 400 to a `/v1/ticker` call naming more markets than this (since 2026-10-13).
const BITHUMB_MAX_MARKETS: usize = 200;

/// `GET /v1/ticker?markets=KRW-BTC,KRW-ETH`: the markets in request order. As on the real venues,
/// one unknown market fails the whole call: Upbit with HTTP 404, Bithumb with its error body
/// (`{"error":{"name":404,"message":"Code not found"}}`, HTTP 200). Bithumb also refuses more
/// than 200 markets (HTTP 400).
fn tickers(sim: &Sim, venue: Venue, markets: Option<&str>) -> Response {
    let coins = match requested_coins(venue, markets) {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let board = sim.board(venue, Some(&coins));
    if board.quotes.is_empty() || board.quotes.len() < coins.len() {
        return unknown_market(venue);
    }
    render(sim, venue, &board.quotes, board.now)
}

/// `GET /v1/ticker/all?quote_currencies=KRW`.
fn all_tickers(sim: &Sim, venue: Venue, quotes: Option<&str>) -> Response {
    let krw = quotes.is_none_or(|q| q.split(',').any(|c| c.trim().eq_ignore_ascii_case("KRW")));
    if !krw {
        return error(StatusCode::NOT_FOUND, "Code not found", "Code not found");
    }
    let board = sim.board(venue, None);
    render(sim, venue, &board.quotes, board.now)
}

fn render(
    sim: &Sim,
    venue: Venue,
    quotes: &[Quote],
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    let skew_ms = match venue {
        Venue::Bithumb => sim.params().bithumb_clock_skew_ms,
        _ => 0,
    };
    let items: Vec<Value> = quotes
        .iter()
        .map(|q| {
            let mut row = item(q, now);
            if skew_ms != 0 {
                for field in ["timestamp", "trade_timestamp"] {
                    if let Some(ms) = row[field].as_i64() {
                        row[field] = json!(ms + skew_ms);
                    }
                }
            }
            row
        })
        .collect();
    ok(&Value::Array(items))
}

/// `GET /v1/market/all[?is_details=true]`: every KRW market. With details, Upbit adds
/// `market_event` (`warning`, five `caution` bools) and Bithumb adds `market_warning`
/// (`NONE`/`CAUTION`).
fn markets(sim: &Sim, venue: Venue, details: bool) -> Response {
    let board = sim.board(venue, None);
    let u = sim.universe();
    let items: Vec<Value> = board
        .quotes
        .iter()
        .map(|q| {
            let listing = u.find(venue, &q.symbol);
            let meta = listing.and_then(|l| u.meta(&l.asset));
            let (english, korean) = match (q.symbol.as_str(), meta) {
                ("USDT", _) => ("Tether".to_string(), "테더".to_string()),
                (_, Some(m)) => (m.english.clone(), m.korean.clone()),
                (s, None) => (s.to_string(), s.to_string()),
            };
            let mut row = json!({
                "market": format!("KRW-{}", q.symbol),
                "korean_name": korean,
                "english_name": english,
            });
            if details {
                let flags = u.flagged.get(&q.symbol).map(Vec::as_slice).unwrap_or(&[]);
                let warning = flags.contains(&WARNING);
                let caution = flags.contains(&CAUTION);
                if venue == Venue::Upbit {
                    row["market_event"] = json!({
                        "warning": warning,
                        "caution": {
                            "PRICE_FLUCTUATIONS": false,
                            "TRADING_VOLUME_SOARING": false,
                            "DEPOSIT_AMOUNT_SOARING": false,
                            "GLOBAL_PRICE_DIFFERENCES": caution,
                            "CONCENTRATION_OF_SMALL_ACCOUNTS": false,
                        },
                    });
                } else {
                    row["market_warning"] = json!(if warning { "CAUTION" } else { "NONE" });
                }
            }
            row
        })
        .collect();
    ok(&Value::Array(items))
}

/// One ticker, as in Upbit's real capture.
pub(super) fn item(q: &Quote, now: chrono::DateTime<chrono::Utc>) -> Value {
    let ms = now.timestamp_millis();
    // An illiquid coin's last trade is minutes old; the snapshot time is still now.
    let traded = now - chrono::Duration::milliseconds(q.lag_ms);
    let local = kst(traded);
    let (high, low) = high_low(q.price, q.open, q.dp);
    let diff = q.price - q.open;
    let rate = change_rate(q.price, q.open);
    let change = match diff.cmp(&Decimal::ZERO) {
        std::cmp::Ordering::Greater => "RISE",
        std::cmp::Ordering::Less => "FALL",
        std::cmp::Ordering::Equal => "EVEN",
    };
    let today = (q.volume * Decimal::new(6, 1)).round_dp(8);
    json!({
        "market": format!("KRW-{}", q.symbol),
        "trade_date": traded.format("%Y%m%d").to_string(),
        "trade_time": traded.format("%H%M%S").to_string(),
        "trade_date_kst": local.format("%Y%m%d").to_string(),
        "trade_time_kst": local.format("%H%M%S").to_string(),
        "trade_timestamp": traded.timestamp_millis(),
        "opening_price": num(q.open),
        "high_price": num(high),
        "low_price": num(low),
        "trade_price": num(q.price),
        "prev_closing_price": num(q.open),
        "change": change,
        "change_price": num(diff.abs()),
        "change_rate": num(rate.abs()),
        "signed_change_price": num(diff),
        "signed_change_rate": num(rate),
        "trade_volume": num((q.volume / Decimal::from(50_000)).round_dp(8)),
        "acc_trade_price": num((today * q.price).round_dp(5)),
        "acc_trade_price_24h": num((q.volume * q.price).round_dp(5)),
        "acc_trade_volume": num(today),
        "acc_trade_volume_24h": num(q.volume),
        "highest_52_week_price": num(round(q.open * Decimal::new(135, 2), q.dp)),
        "highest_52_week_date": "2025-01-20",
        "lowest_52_week_price": num(round(q.open * Decimal::new(6, 1), q.dp)),
        "lowest_52_week_date": "2024-08-05",
        "timestamp": ms,
    })
}
