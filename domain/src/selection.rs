//! Which inputs a premium is computed from, and why a premium is skipped: the pure half of
//! `compute-premium` (the worker reads the cache, calls these, writes the results).

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Coin, FxRate, FxSource, Premium, PremiumInputs, Ticker, Venue, VenuePair};

/// Which input of a premium was unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipInput {
    /// A venue's ticker of the coin (`upbit BTC ticker`).
    Ticker { venue: Venue, coin: Coin },
    /// The USD/KRW rate (`usd/krw`).
    UsdKrw,
    /// The premium formula itself (`arithmetic`).
    Arithmetic,
}

impl fmt::Display for SkipInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipInput::Ticker { venue, coin } => write!(f, "{venue} {coin} ticker"),
            SkipInput::UsdKrw => f.write_str("usd/krw"),
            SkipInput::Arithmetic => f.write_str("arithmetic"),
        }
    }
}

impl FromStr for SkipInput {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "usd/krw" => return Ok(SkipInput::UsdKrw),
            "arithmetic" => return Ok(SkipInput::Arithmetic),
            _ => {}
        }
        let parts: Vec<&str> = s.split(' ').collect();
        match parts.as_slice() {
            [venue, coin, "ticker"] => Ok(SkipInput::Ticker {
                venue: venue.parse().map_err(|e| format!("{e}"))?,
                coin: Coin::parse(coin).map_err(|e| e.to_string())?,
            }),
            _ => Err(format!("unknown skip input `{s}`")),
        }
    }
}

/// Why that input was unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipCause {
    /// Not in the cache (never fetched, rejected, or expired).
    Missing,
    /// Older than its freshness limit.
    Stale,
    /// No FX source had a fresh rate; the text says what each source had.
    NoFreshRate(String),
    /// The formula refused the inputs.
    Invalid(String),
}

impl fmt::Display for SkipCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipCause::Missing => f.write_str("missing"),
            SkipCause::Stale => f.write_str("stale"),
            SkipCause::NoFreshRate(why) => write!(f, "no fresh rate: {why}"),
            SkipCause::Invalid(why) => f.write_str(why),
        }
    }
}

impl From<&str> for SkipCause {
    fn from(s: &str) -> Self {
        s.to_string().into()
    }
}

impl From<String> for SkipCause {
    fn from(s: String) -> Self {
        match s.as_str() {
            "missing" => SkipCause::Missing,
            "stale" => SkipCause::Stale,
            _ => match s.strip_prefix("no fresh rate: ") {
                Some(why) => SkipCause::NoFreshRate(why.to_string()),
                None => SkipCause::Invalid(s),
            },
        }
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                // Comparison by the text form, as stored and shown (tests compare with it).
                *other == self.to_string().as_str()
            }
        }
    };
}
string_serde!(SkipInput);
string_serde!(SkipCause);

impl<'de> Deserialize<'de> for SkipInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for SkipCause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(String::deserialize(d)?.into())
    }
}

/// Why a premium was not computed. Stored as JSON with `input` and `reason` as text
/// (`"upbit BTC ticker"`, `"stale"`), which is also what the API shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReason {
    pub coin: Coin,
    pub pair: VenuePair,
    pub input: SkipInput,
    pub reason: SkipCause,
    /// Age of a stale input, milliseconds.
    pub age_ms: Option<i64>,
    pub limit_ms: Option<i64>,
    pub at: DateTime<Utc>,
}

/// The FX sources in fallback order, each with its freshness limit.
pub type FxPolicy = [(FxSource, Duration)];

/// The first FX rate, in fallback order, within its source's freshness limit; otherwise what
/// each source had (`dunamu stale (… ms > … ms), erapi missing`).
pub fn pick_fx(
    order: &FxPolicy,
    rates: &[Option<FxRate>],
    now: DateTime<Utc>,
) -> Result<FxRate, String> {
    let mut why = Vec::new();
    for (source, limit) in order {
        let limit = limit.as_millis() as i64;
        match rates.iter().flatten().find(|r| r.source == *source) {
            Some(r) if r.age_ms(now) <= limit => return Ok(r.clone()),
            Some(r) => why.push(format!(
                "{source} stale ({} ms > {limit} ms)",
                r.age_ms(now)
            )),
            None => why.push(format!("{source} missing")),
        }
    }
    Err(why.join(", "))
}

/// What a premium computation covers: the pairs, the coins, and the oldest usable ticker.
pub struct Universe<'a> {
    pub pairs: &'a [VenuePair],
    pub coins: &'a [Coin],
    pub ticker_limit_ms: i64,
}

type Unusable = (SkipInput, SkipCause, Option<i64>);

/// Checks one ticker input: present and within the freshness limit.
fn fresh(
    t: Option<&Ticker>,
    input: SkipInput,
    limit_ms: i64,
    now: DateTime<Utc>,
) -> Result<&Ticker, Unusable> {
    match t {
        None => Err((input, SkipCause::Missing, None)),
        Some(t) if t.age_ms(now) > limit_ms => Err((input, SkipCause::Stale, Some(t.age_ms(now)))),
        Some(t) => Ok(t),
    }
}

/// Premiums of every (coin, pair) of `universe` from the given tickers and FX, or the reason
/// each could not be computed.
pub fn premiums_from(
    universe: &Universe<'_>,
    tickers: &HashMap<(Venue, Coin), Ticker>,
    fx: Result<FxRate, String>,
    now: DateTime<Utc>,
) -> (Vec<Premium>, Vec<SkipReason>) {
    let limit = universe.ticker_limit_ms;
    let mut premiums = Vec::new();
    let mut skips = Vec::new();
    let get = |v: Venue, c: &Coin| tickers.get(&(v, c.clone()));
    for pair in universe.pairs {
        let usdt = fresh(
            get(pair.korea, &Coin::usdt()),
            SkipInput::UsdKrw,
            limit,
            now,
        )
        .ok();
        for coin in universe.coins {
            let skip = |(input, reason, age): Unusable, lim: Option<i64>| SkipReason {
                coin: coin.clone(),
                pair: *pair,
                input,
                reason,
                age_ms: age,
                limit_ms: lim,
                at: now,
            };
            let fx = match &fx {
                Ok(fx) => fx,
                Err(why) => {
                    skips.push(skip(
                        (SkipInput::UsdKrw, SkipCause::NoFreshRate(why.clone()), None),
                        None,
                    ));
                    continue;
                }
            };
            // Both sides present and fresh, or the first reason why not.
            let sides = [pair.korea, pair.foreign].map(|venue| {
                let input = SkipInput::Ticker {
                    venue,
                    coin: coin.clone(),
                };
                fresh(get(venue, coin), input, limit, now)
            });
            let (k, f) = match sides {
                [Ok(k), Ok(f)] => (k, f),
                [Err(e), _] | [_, Err(e)] => {
                    skips.push(skip(e, Some(limit)));
                    continue;
                }
            };
            let inputs = PremiumInputs {
                coin: coin.clone(),
                pair: *pair,
                korea_krw: k.price,
                korea_observed_at: k.observed_at,
                foreign_usd: f.price,
                foreign_observed_at: f.observed_at,
                usd_krw: fx.usd_krw,
                fx_source: fx.source,
                fx_observed_at: fx.observed_at,
                usdt_krw: usdt.map(|u| u.price),
                usdt_observed_at: usdt.map(|u| u.observed_at),
                foreign_symbol: None,
                foreign_multiplier: None,
                korea_last_trade_at: k.last_trade_at,
            };
            match Premium::compute(inputs, now) {
                Ok(p) => premiums.push(p),
                Err(e) => skips.push(skip(
                    (
                        SkipInput::Arithmetic,
                        SkipCause::Invalid(e.to_string()),
                        None,
                    ),
                    None,
                )),
            }
        }
    }
    (premiums, skips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_inputs_and_causes_read_back_from_their_text() {
        for s in ["upbit BTC ticker", "usd/krw", "arithmetic"] {
            assert_eq!(s.parse::<SkipInput>().unwrap().to_string(), s);
        }
        for s in [
            "missing",
            "stale",
            "no fresh rate: dunamu missing",
            "division by zero",
        ] {
            assert_eq!(SkipCause::from(s.to_string()).to_string(), s);
        }
        assert_eq!(SkipCause::from("stale".to_string()), SkipCause::Stale);
    }
}
