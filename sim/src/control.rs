//! The control API under `/_sim`, for tests and humans. JSON in, JSON out; a bad request is
//! HTTP 400 `{"error": "..."}`.
//!
//! The paths and bodies are listed in the crate docs (`lib.rs`).

use std::sync::Arc;

use domain::{Region, Venue};
use poem::{
    Response, Route, get, handler,
    http::StatusCode,
    post,
    web::{Data, Query},
};
use rust_decimal::Decimal;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{
    book::Book,
    faults::FaultSpec,
    prefix::{self, Prefix},
    price_model::Params,
    reply::{json_response, ok},
    state::{BookPin, Sim},
    universe::Change,
};

pub(crate) fn routes() -> Route {
    Route::new()
        .at(
            "/faults",
            get(list_faults).post(set_fault).delete(clear_faults),
        )
        .at("/prices", get(list_pins).post(pin_price).delete(clear_pins))
        .at("/config", get(get_config).post(set_config))
        .at("/advance", post(advance))
        .at("/stats", get(stats).delete(reset_stats))
        .at("/health", get(health).head(health))
        .at("/universe", get(universe))
        .at("/listings", post(change_listing))
        .at("/illiquid", post(set_illiquid))
}

fn bad_request(msg: impl Into<String>) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": msg.into()}))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// ---- faults ----

#[handler]
fn set_fault(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    match spec.validate() {
        Ok((prefix, spec)) => {
            let answer = to_json(&spec);
            sim.set_fault(prefix, spec);
            ok(&answer)
        }
        Err(e) => bad_request(e),
    }
}

#[handler]
fn list_faults(sim: Data<&Arc<Sim>>) -> Response {
    ok(&to_json(&sim.faults()))
}

#[derive(Debug, Deserialize)]
struct PrefixQuery {
    #[serde(alias = "fx", alias = "prefix")]
    venue: Option<String>,
}

#[handler]
fn clear_faults(sim: Data<&Arc<Sim>>, q: Query<PrefixQuery>) -> Response {
    let prefix = match q.venue.as_deref().map(prefix::parse).transpose() {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    sim.clear_faults(prefix);
    ok(&to_json(&sim.faults()))
}

// ---- pinned prices ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinBody {
    venue: Option<String>,
    fx: Option<String>,
    coin: Option<String>,
    price: Option<Decimal>,
    /// A whole book instead of a price: `{"bids":[["price","size"],…],"asks":[…]}`.
    book: Option<BookBody>,
    /// Lets a pinned book be crossed (best bid ≥ best ask).
    #[serde(default)]
    allow_crossed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookBody {
    bids: Vec<(Decimal, Decimal)>,
    asks: Vec<(Decimal, Decimal)>,
}

#[handler]
fn pin_price(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    let mut pin: PinBody = match parse(&body) {
        Ok(p) => p,
        Err(e) => return bad_request(e),
    };
    if let Some(book) = pin.book.take() {
        if pin.price.is_some() {
            return bad_request("give either `price` or `book`, not both");
        }
        let book = Book {
            bids: book.bids,
            asks: book.asks,
        };
        if let Err(e) = book.validate(pin.allow_crossed) {
            return bad_request(e);
        }
        if pin.fx.is_some() {
            return bad_request("a book can only be pinned on a venue, not an FX source");
        }
        let allow_crossed = pin.allow_crossed;
        pin.price = Some(Decimal::ZERO);
        return match resolve_pin(&sim, pin) {
            Ok((prefix, coin, _)) => {
                let book = Arc::new(book);
                sim.pin_book(
                    prefix,
                    coin,
                    BookPin {
                        book,
                        allow_crossed,
                    },
                );
                ok(&pins_json(&sim))
            }
            Err(e) => bad_request(e),
        };
    }
    if pin.allow_crossed {
        return bad_request("`allow_crossed` goes with `book`");
    }
    match resolve_pin(&sim, pin) {
        Ok((prefix, coin, price)) => {
            sim.pin(prefix, coin, price);
            ok(&pins_json(&sim))
        }
        Err(e) => bad_request(e),
    }
}

fn resolve_pin(sim: &Sim, pin: PinBody) -> Result<(Prefix, String, Decimal), String> {
    let Some(price) = pin.price else {
        return Err("give `price` or `book`".into());
    };
    if price < Decimal::ZERO {
        return Err(format!("price must not be negative, got {price}"));
    }
    let name = match (&pin.venue, &pin.fx) {
        (Some(v), None) | (None, Some(v)) => v,
        _ => return Err("give exactly one of `venue` and `fx`".into()),
    };
    let prefix = prefix::parse(name)?;
    match (prefix, pin.coin) {
        (Prefix::Fx(_), None) => Ok((prefix, String::new(), price)),
        (Prefix::Fx(_), Some(_)) => Err(format!("`{prefix}` is an FX source: leave out `coin`")),
        (Prefix::Venue(_), None) => Err(format!("`{prefix}` is a venue: `coin` is required")),
        (Prefix::Venue(venue), Some(coin)) => {
            let mut coin = coin.trim().to_ascii_uppercase();
            // A multiplier listing may be named by its coin (`PEPE` → `1000PEPE`).
            if let Some(l) = sim.universe().find(venue, &coin) {
                coin = l.native.clone();
            }
            if sim
                .board(venue, Some(std::slice::from_ref(&coin)))
                .quotes
                .is_empty()
            {
                let hint = if venue.region() == Region::Foreign && coin == "USDT" {
                    " (USDT is only quoted on Korean venues)"
                } else {
                    ""
                };
                return Err(format!("`{venue}` does not list `{coin}`{hint}"));
            }
            Ok((prefix, coin, price))
        }
    }
}

fn pins_json(sim: &Sim) -> Value {
    let pins: Vec<Value> = sim
        .pins()
        .into_iter()
        .map(|(prefix, coin, price)| match prefix {
            Prefix::Fx(_) => json!({"fx": prefix.as_str(), "price": price}),
            Prefix::Venue(_) => json!({"venue": prefix.as_str(), "coin": coin, "price": price}),
        })
        .collect();
    let levels = |side: &[(Decimal, Decimal)]| -> Vec<Value> {
        side.iter()
            .map(|(p, s)| json!([p.to_string(), s.to_string()]))
            .collect()
    };
    let books = sim.book_pins().into_iter().map(|(prefix, coin, pin)| {
        json!({
            "venue": prefix.as_str(),
            "coin": coin,
            "book": {"bids": levels(&pin.book.bids), "asks": levels(&pin.book.asks)},
            "allow_crossed": pin.allow_crossed,
        })
    });
    Value::Array(pins.into_iter().chain(books).collect())
}

#[handler]
fn list_pins(sim: Data<&Arc<Sim>>) -> Response {
    ok(&pins_json(&sim))
}

#[handler]
fn clear_pins(sim: Data<&Arc<Sim>>) -> Response {
    sim.clear_pins();
    ok(&pins_json(&sim))
}

// ---- config and clock ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    premium_pct: Option<Decimal>,
    usdt_premium_pct: Option<Decimal>,
    noise_pct: Option<Decimal>,
    bithumb_clock_skew_ms: Option<i64>,
    /// `"YYYY-MM-DD"` pins the Frankfurter date; `"calendar"` returns to the last publication's.
    frankfurter_date: Option<String>,
}

fn config_json(sim: &Sim) -> Value {
    let p = sim.params();
    json!({
        "seed": sim.seed,
        "premium_pct": p.premium_pct,
        "usdt_premium_pct": p.usdt_premium_pct,
        "noise_pct": p.noise_pct,
        "bithumb_clock_skew_ms": p.bithumb_clock_skew_ms,
        "frankfurter_date": p.frankfurter_date.map_or("calendar".to_string(), |d| d.to_string()),
        "usd_krw": sim.usd_krw,
        "extra_coins": sim.extra_coins,
        "step_ms": sim.step.as_millis() as u64,
        "step": sim.current_step(),
    })
}

#[handler]
fn get_config(sim: Data<&Arc<Sim>>) -> Response {
    ok(&config_json(&sim))
}

#[handler]
fn set_config(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    let change: ConfigBody = match parse(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    let old = sim.params();
    let frankfurter_date = match change.frankfurter_date.as_deref() {
        None => old.frankfurter_date,
        Some("calendar") => None,
        Some(d) => match d.parse() {
            Ok(d) => Some(d),
            Err(_) => return bad_request("frankfurter_date must be YYYY-MM-DD or \"calendar\""),
        },
    };
    let new = Params {
        premium_pct: change.premium_pct.unwrap_or(old.premium_pct),
        usdt_premium_pct: change.usdt_premium_pct.unwrap_or(old.usdt_premium_pct),
        noise_pct: change.noise_pct.unwrap_or(old.noise_pct),
        bithumb_clock_skew_ms: change
            .bithumb_clock_skew_ms
            .unwrap_or(old.bithumb_clock_skew_ms),
        frankfurter_date,
    };
    let hundred = Decimal::ONE_HUNDRED;
    if new.premium_pct.abs() >= hundred || new.usdt_premium_pct.abs() >= hundred {
        return bad_request("premiums must be within (-100, 100) percent");
    }
    if new.noise_pct < Decimal::ZERO || new.noise_pct > Decimal::TEN {
        return bad_request("noise_pct must be within 0..=10");
    }
    if new.bithumb_clock_skew_ms.abs() > 86_400_000 {
        return bad_request("bithumb_clock_skew_ms must be within ±1 day");
    }
    sim.set_params(new);
    ok(&config_json(&sim))
}

/// More than a century of 250 ms steps in one call is a typo.
const MAX_ADVANCE: u64 = 1_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    steps: u64,
}

#[handler]
fn advance(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    match parse::<AdvanceBody>(&body) {
        Ok(a) if a.steps > MAX_ADVANCE => {
            bad_request(format!("steps must be at most {MAX_ADVANCE}"))
        }
        Ok(a) => ok(&json!({"step": sim.advance(a.steps)})),
        Err(e) => bad_request(e),
    }
}

// ---- listings and ground truth ----

#[handler]
fn universe(sim: Data<&Arc<Sim>>) -> Response {
    ok(&sim.universe().truth())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListingBody {
    venue: String,
    coin: String,
    action: String,
    /// Coins per price unit of a new foreign listing (`1000` → `1000NEWCUSDT`; OKX: `ctVal`).
    multiplier: Option<Decimal>,
}

#[handler]
fn change_listing(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    let b: ListingBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let venue = match prefix::parse(&b.venue) {
        Ok(Prefix::Venue(v)) => v,
        Ok(p) => return bad_request(format!("`{p}` is an FX source, not a venue")),
        Err(e) => return bad_request(e),
    };
    let coin = match domain::Coin::parse(&b.coin) {
        Ok(c) if c.as_str() != "USDT" => c.as_str().to_string(),
        _ => return bad_request(format!("invalid coin `{}`", b.coin)),
    };
    let list = match b.action.trim().to_ascii_lowercase().as_str() {
        "list" => true,
        "delist" => false,
        other => return bad_request(format!("action must be `list` or `delist`, got `{other}`")),
    };
    let mult = b.multiplier.unwrap_or(Decimal::ONE);
    if mult <= Decimal::ZERO {
        return bad_request("multiplier must be positive");
    }
    match sim.change_listing(venue, &coin, list, mult) {
        Ok(change) => {
            let (action, l) = match change {
                Change::Listed(l) => ("list", l),
                Change::Delisted(l) => ("delist", l),
            };
            let symbol = match venue {
                Venue::Upbit | Venue::Bithumb => format!("KRW-{}", l.native),
                Venue::Binance | Venue::Bybit => format!("{}USDT", l.native),
                Venue::Okx => format!("{}-USDT-SWAP", l.native),
            };
            ok(&json!({
                "venue": venue.as_str(),
                "action": action,
                "coin": l.coin,
                "symbol": symbol,
                "status": l.status.binance(),
            }))
        }
        Err(e) => bad_request(e),
    }
}

// ---- stats and health ----

#[handler]
fn stats(sim: Data<&Arc<Sim>>) -> Response {
    ok(&to_json(&sim.stats()))
}

#[handler]
fn reset_stats(sim: Data<&Arc<Sim>>) -> Response {
    sim.reset_stats();
    ok(&to_json(&sim.stats()))
}

#[handler]
fn health() -> Response {
    ok(&json!({"status": "ok"}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IlliquidBody {
    coin: String,
    trade_lag_ms: i64,
}

/// Makes a Korean-listed coin illiquid (its last trade `trade_lag_ms` old on every Korean
/// venue; its quote stays current) or, with 0, liquid again.
#[handler]
fn set_illiquid(sim: Data<&Arc<Sim>>, body: Vec<u8>) -> Response {
    let b: IlliquidBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    if b.trade_lag_ms < 0 {
        return bad_request(format!(
            "trade_lag_ms must not be negative, got {}",
            b.trade_lag_ms
        ));
    }
    let coin = b.coin.trim().to_ascii_uppercase();
    let listed = [Venue::Upbit, Venue::Bithumb]
        .into_iter()
        .any(|v| sim.universe().listings(v).iter().any(|l| l.coin == coin));
    if !listed {
        return bad_request(format!("no Korean venue lists `{coin}`"));
    }
    ok(&json!({"illiquid": sim.set_trade_lag(&coin, b.trade_lag_ms)}))
}
