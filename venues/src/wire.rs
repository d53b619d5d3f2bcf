//! Wire helpers shared by the venue modules: numbers that may come as JSON numbers or strings,
//! venue timestamps, and the validated [`Quote`] every wire ticker converts into.

use std::{collections::HashMap, str::FromStr};

use chrono::{DateTime, Utc};
use domain::{Coin, Decimal, Price, PriceError, Ticker, Venue};
use serde::Deserialize;

use crate::{FetchError, TickerBatch};

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

/// A validated price with the venue's time for it: what every wire ticker converts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quote {
    pub price: Price,
    pub observed_at: DateTime<Utc>,
}

/// Picks `coins` out of an all-symbols response keyed by the venue's symbol. Coins missing
/// from `rows` become [`FetchError::UnknownSymbol`] and rows that do not convert become their
/// own error, each in `failures`, without failing the other coins.
pub(crate) fn assemble<R>(
    venue: Venue,
    coins: &[Coin],
    fetched_at: DateTime<Utc>,
    rows: &HashMap<String, R>,
    symbol: impl Fn(&Coin) -> String,
    convert: impl Fn(&str, &R) -> Result<Quote, FetchError>,
) -> TickerBatch {
    let mut batch = TickerBatch {
        tickers: Vec::with_capacity(coins.len()),
        failures: Vec::new(),
    };
    for coin in coins {
        let sym = symbol(coin);
        let quote = rows
            .get(&sym)
            .ok_or_else(|| FetchError::unknown_symbol(venue.as_str(), &sym))
            .and_then(|row| convert(&sym, row));
        match quote {
            Ok(q) => batch.tickers.push(Ticker {
                venue,
                coin: coin.clone(),
                price: q.price,
                observed_at: q.observed_at,
                fetched_at,
                last_trade_at: None,
            }),
            Err(e) => {
                tracing::debug!(%venue, coin = %coin, error = %e, "coin skipped");
                batch.failures.push((coin.clone(), e));
            }
        }
    }
    batch
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
}
