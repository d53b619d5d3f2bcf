//! Wire helpers shared by the venue modules: numbers that may come as JSON numbers or strings,
//! venue timestamps, and the validated [`Quote`] every wire ticker converts into.

use std::{collections::HashMap, str::FromStr};

use chrono::{DateTime, Utc};
use domain::{BookTop, Coin, Decimal, Depth, Funding, Listing, Price, PriceError, Ticker, Venue};
use serde::Deserialize;

use crate::{FetchError, MAX_CLOCK_SKEW_MS, TickerBatch};

/// A number as a venue sends it: a JSON number (`163248000.0`, Upbit/Bithumb v1, Dunamu) or a
/// decimal string (`"11793.63104562"`, everyone else).
///
/// JSON numbers are kept as their shortest round-tripping decimal text, never as the float's
/// exact binary expansion, so `163248000.0` becomes exactly `163248000`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireNumber {
    Number(serde_json::Number),
    Text(String),
}

impl WireNumber {
    pub fn to_price(&self) -> Result<Price, PriceError> {
        match self {
            WireNumber::Text(s) => Price::parse(s),
            WireNumber::Number(n) => {
                let s = n.to_string();
                if s.contains(['e', 'E']) {
                    let d = Decimal::from_scientific(&s).map_err(|_| PriceError::NotNumeric(s))?;
                    Price::new(d)
                } else {
                    Price::parse(&s)
                }
            }
        }
    }

    /// As a decimal of any sign (sizes, funding rates); `None` when not numeric or empty.
    pub fn to_decimal(&self) -> Option<Decimal> {
        let s = match self {
            WireNumber::Text(s) => s.trim().to_string(),
            WireNumber::Number(n) => n.to_string(),
        };
        if s.contains(['e', 'E']) {
            Decimal::from_scientific(&s).ok()
        } else {
            Decimal::from_str(&s).ok()
        }
    }

    /// As an integer (millisecond timestamps sent as numbers or strings).
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            WireNumber::Number(n) => n.as_i64(),
            WireNumber::Text(s) => i64::from_str(s.trim()).ok(),
        }
    }
}

/// A price field that must be present and positive; the error names venue, symbol and field.
pub(crate) fn price_field(
    venue: &str,
    symbol: &str,
    field: &'static str,
    value: Option<&WireNumber>,
) -> Result<Price, FetchError> {
    let value = value.ok_or_else(|| FetchError::invalid_price(venue, symbol, field, "missing"))?;
    value
        .to_price()
        .map_err(|e| FetchError::invalid_price(venue, symbol, field, e))
}

/// A millisecond Unix timestamp field.
pub(crate) fn millis_field(
    venue: &str,
    symbol: &str,
    field: &'static str,
    value: Option<&WireNumber>,
) -> Result<DateTime<Utc>, FetchError> {
    value
        .and_then(WireNumber::to_i64)
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| {
            FetchError::malformed(
                venue,
                format!("{symbol}: `{field}` is missing or not a millisecond timestamp"),
            )
        })
}

/// A validated price with the venue's times for it: what every wire ticker converts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quote {
    pub price: Price,
    /// The venue's time of the quote (snapshot / generation time), before any clock check.
    pub observed_at: DateTime<Utc>,
    /// The venue's time of the last trade, where it says so (Korean v1 `trade_timestamp`).
    pub last_trade_at: Option<DateTime<Utc>>,
}

impl Quote {
    pub fn new(price: Price, observed_at: DateTime<Utc>) -> Self {
        Quote {
            price,
            observed_at,
            last_trade_at: None,
        }
    }
}

/// The per-coin price of a quote of `listing`: the quoted price ÷ `listing.multiplier`.
pub(crate) fn per_coin(venue: &str, listing: &Listing, price: Price) -> Result<Price, FetchError> {
    let symbol = listing.instrument.symbol.as_str();
    if listing.multiplier <= Decimal::ZERO {
        return Err(FetchError::invalid_price(
            venue,
            symbol,
            "multiplier",
            format!("multiplier must be positive, got {}", listing.multiplier),
        ));
    }
    if listing.multiplier == Decimal::ONE {
        return Ok(price);
    }
    let value = price
        .value()
        .checked_div(listing.multiplier)
        .ok_or_else(|| FetchError::invalid_price(venue, symbol, "multiplier", "overflow"))?;
    Price::new(value.normalize()).map_err(|e| FetchError::invalid_price(venue, symbol, "price", e))
}

/// Picks `listings` out of an all-symbols response keyed by the venue's symbol
/// (`symbol(listing)`, usually `listing.instrument.symbol`). Listings missing from `rows`
/// become [`FetchError::UnknownSymbol`] and rows that do not convert become their own error,
/// each in `failures` under the listing's coin, without failing the others. Prices are divided
/// by the listing's multiplier; times are the venue's, unchecked: settle them with
/// [`crate::clock::VenueClock::settle`] on the final batch.
pub(crate) fn assemble<R>(
    venue: Venue,
    listings: &[Listing],
    fetched_at: DateTime<Utc>,
    rows: &HashMap<String, R>,
    symbol: impl Fn(&Listing) -> String,
    convert: impl Fn(&str, &R) -> Result<Quote, FetchError>,
) -> TickerBatch {
    let mut batch = TickerBatch {
        tickers: Vec::with_capacity(listings.len()),
        ..TickerBatch::default()
    };
    for listing in listings {
        let sym = symbol(listing);
        let quote = rows
            .get(&sym)
            .ok_or_else(|| FetchError::unknown_symbol(venue.as_str(), &sym))
            .and_then(|row| convert(&sym, row))
            .and_then(|q| {
                Ok(Quote {
                    price: per_coin(venue.as_str(), listing, q.price)?,
                    ..q
                })
            });
        match quote {
            Ok(q) => batch.tickers.push(Ticker {
                venue,
                coin: listing.coin.clone(),
                price: q.price,
                observed_at: q.observed_at,
                fetched_at,
                last_trade_at: q.last_trade_at,
                book: None,
                book_error: None,
                funding: None,
            }),
            Err(e) => {
                tracing::debug!(%venue, coin = %listing.coin, error = %e, "coin skipped");
                batch.failures.push((listing.coin.clone(), e));
            }
        }
    }
    batch
}

/// A number field that must be present (a book price or size, a funding rate); the error text
/// names the field.
pub(crate) fn decimal_field(field: &str, value: Option<&WireNumber>) -> Result<Decimal, String> {
    value
        .and_then(WireNumber::to_decimal)
        .ok_or_else(|| format!("`{field}` is missing or not a number"))
}

/// A venue's best bid and ask as quoted (per quoted unit, sizes in the venue's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTop {
    pub bid: Decimal,
    pub bid_qty: Decimal,
    pub ask: Decimal,
    pub ask_qty: Decimal,
}

impl RawTop {
    /// Reads the four fields of a top of book; a missing or non-numeric one is the error.
    pub fn parse(fields: [(&str, Option<&WireNumber>); 4]) -> Result<RawTop, String> {
        let [bid, bid_qty, ask, ask_qty] = fields;
        Ok(RawTop {
            bid: decimal_field(bid.0, bid.1)?,
            bid_qty: decimal_field(bid_qty.0, bid_qty.1)?,
            ask: decimal_field(ask.0, ask.1)?,
            ask_qty: decimal_field(ask_qty.0, ask_qty.1)?,
        })
    }

    /// Per coin for `listing`: prices ÷ `listing.multiplier`, sizes × it and × `size_unit`
    /// (coins per contract on OKX, else 1). Crossed, zero or negative books are the error.
    pub fn per_coin(&self, listing: &Listing, size_unit: Decimal) -> Result<BookTop, String> {
        BookTop::per_coin(
            self.bid,
            self.bid_qty * size_unit,
            self.ask,
            self.ask_qty * size_unit,
            listing.multiplier,
        )
        .map_err(|e| e.to_string())
    }
}

/// Coins per size unit of `listing`'s book: OKX sizes are contracts of `contract_value` coins.
pub(crate) fn size_unit(listing: &Listing) -> Decimal {
    listing
        .instrument
        .contract_value
        .filter(|v| *v > Decimal::ZERO)
        .unwrap_or(Decimal::ONE)
}

/// A depth of raw levels (best first; zero padding dropped) for `listing`, per coin.
pub(crate) fn depth_per_coin(
    venue: &str,
    listing: &Listing,
    bids: Vec<(Decimal, Decimal)>,
    asks: Vec<(Decimal, Decimal)>,
    levels: usize,
    observed_at: DateTime<Utc>,
) -> Result<Depth, FetchError> {
    let unit = size_unit(listing);
    let scale = |side: Vec<(Decimal, Decimal)>| -> Vec<(Decimal, Decimal)> {
        side.into_iter()
            .filter(|(p, q)| !p.is_zero() && !q.is_zero())
            .take(levels.max(1))
            .map(|(p, q)| (p, q * unit))
            .collect()
    };
    if listing.multiplier <= Decimal::ZERO {
        return Err(FetchError::invalid_price(
            venue,
            &listing.instrument.symbol,
            "multiplier",
            format!("multiplier must be positive, got {}", listing.multiplier),
        ));
    }
    Depth::new(scale(bids), scale(asks), observed_at)
        .map(|d| d.per_coin(listing.multiplier))
        .map_err(|e| FetchError::invalid_price(venue, &listing.instrument.symbol, "book", e))
}

/// The venue's time of a book when it is within [`MAX_CLOCK_SKEW_MS`] of its receipt, else
/// the receipt time.
pub(crate) fn book_time(venue_ms: Option<i64>, fetched_at: DateTime<Utc>) -> DateTime<Utc> {
    venue_ms
        .and_then(DateTime::from_timestamp_millis)
        .filter(|at| (*at - fetched_at).num_milliseconds().abs() <= MAX_CLOCK_SKEW_MS)
        .unwrap_or(fetched_at)
}

/// Levels sent as `[["price","size"],…]` (Binance, Bybit) or `[["px","sz","0","n"],…]` (OKX):
/// the first two entries of each.
pub(crate) fn levels(
    venue: &str,
    side: &str,
    raw: &[Vec<WireNumber>],
) -> Result<Vec<(Decimal, Decimal)>, FetchError> {
    raw.iter()
        .enumerate()
        .map(|(i, l)| {
            let n = |j: usize| l.get(j).and_then(WireNumber::to_decimal);
            match (n(0), n(1)) {
                (Some(p), Some(q)) => Ok((p, q)),
                _ => Err(FetchError::malformed(
                    venue,
                    format!("{side}[{i}] is not a [price, size] pair"),
                )),
            }
        })
        .collect()
}

/// Fills `book` (or `book_error`) of every ticker in `batch` from `book(listing)`: `None`
/// leaves the ticker without a book and without a reason.
pub(crate) fn attach_books(
    batch: &mut TickerBatch,
    listings: &[Listing],
    book: impl Fn(&Listing) -> Option<Result<BookTop, String>>,
) {
    let by_coin: HashMap<&Coin, &Listing> = listings.iter().map(|l| (&l.coin, l)).collect();
    for t in &mut batch.tickers {
        let Some(listing) = by_coin.get(&t.coin) else {
            continue;
        };
        match book(listing) {
            Some(Ok(top)) => {
                t.book = Some(top);
                t.book_error = None;
            }
            Some(Err(reason)) => {
                tracing::debug!(venue = %t.venue, coin = %t.coin, %reason, "no book");
                t.book = None;
                t.book_error = Some(reason);
            }
            None => {}
        }
    }
}

/// Fills `funding` of every ticker in `batch` from `funding(listing)`.
pub(crate) fn attach_funding(
    batch: &mut TickerBatch,
    listings: &[Listing],
    funding: impl Fn(&Listing) -> Option<Funding>,
) {
    let by_coin: HashMap<&Coin, &Listing> = listings.iter().map(|l| (&l.coin, l)).collect();
    for t in &mut batch.tickers {
        if let Some(listing) = by_coin.get(&t.coin) {
            t.funding = funding(listing);
        }
    }
}

/// A funding from a rate and a next-funding time in ms; `None` when either is missing or
/// empty (delivery contracts send `""` and 0).
pub(crate) fn funding(
    rate: Option<&WireNumber>,
    next_ms: Option<&WireNumber>,
    interval_hours: Option<u32>,
) -> Option<Funding> {
    let rate = rate?.to_decimal()?;
    let next = next_ms?.to_i64().filter(|ms| *ms > 0)?;
    Some(Funding {
        rate: rate.normalize(),
        next_funding_at: DateTime::from_timestamp_millis(next)?,
        interval_hours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn num(json: &str) -> WireNumber {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn json_numbers_become_the_decimal_the_venue_wrote() {
        assert_eq!(
            num("163248000.0").to_price().unwrap().value(),
            dec!(163248000)
        );
        assert_eq!(num("37000000").to_price().unwrap().value(), dec!(37000000));
        assert_eq!(num("1304.5").to_price().unwrap().value(), dec!(1304.5));
        assert_eq!(num("0.1").to_price().unwrap().value(), dec!(0.1));
        assert_eq!(
            num("1e20").to_price().unwrap().value(),
            dec!(100000000000000000000)
        );
        assert_eq!(
            num("\"9999.99\"").to_price().unwrap().value(),
            dec!(9999.99)
        );
        assert!(num("0").to_price().is_err());
        assert!(num("-1.5").to_price().is_err());
        assert!(num("\"abc\"").to_price().is_err());
    }

    #[test]
    fn timestamps_come_as_numbers_or_strings() {
        assert_eq!(num("1597026383085").to_i64(), Some(1597026383085));
        assert_eq!(num("\"1597026383085\"").to_i64(), Some(1597026383085));
        assert_eq!(num("1.5").to_i64(), None);
    }

    #[test]
    fn missing_prices_are_invalid_not_malformed() {
        let e = price_field("okx", "BTC-USDT-SWAP", "last", None).unwrap_err();
        assert_eq!(e.to_string(), "okx BTC-USDT-SWAP last: missing");
    }

    #[test]
    fn per_coin_prices_divide_by_the_multiplier() {
        let mut l = crate::plain_listing(Venue::Binance, &domain::Coin::parse("PEPE").unwrap());
        l.instrument.symbol = "1000PEPEUSDT".into();
        l.multiplier = dec!(1000);
        let p = per_coin("binance", &l, Price::parse("0.0098950").unwrap()).unwrap();
        assert_eq!(p.value(), dec!(0.000009895));
        l.multiplier = Decimal::ZERO;
        let e = per_coin("binance", &l, Price::parse("1").unwrap()).unwrap_err();
        assert_eq!(e.class(), crate::ErrorClass::InvalidPrice);
    }
}
