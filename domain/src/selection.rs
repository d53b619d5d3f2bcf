//! Which inputs a premium is computed from, and why a premium is skipped: the pure half of
//! `compute-premium` (the worker reads the cache, calls these, writes the results).

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    str::FromStr,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Coin, Decimal, FxRate, FxSource, MarketFlag, Premium, PremiumInputs, Registry, Ticker, Venue,
    VenuePair,
};

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
    /// The premium is implausibly far from its pair's median (the sanity gate): most likely a
    /// mapping error, never served as a premium. The text says by how much.
    Suspect(String),
}

impl fmt::Display for SkipCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipCause::Missing => f.write_str("missing"),
            SkipCause::Stale => f.write_str("stale"),
            SkipCause::NoFreshRate(why) => write!(f, "no fresh rate: {why}"),
            SkipCause::Invalid(why) => f.write_str(why),
            SkipCause::Suspect(why) => write!(f, "suspect: {why}"),
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
            _ => {
                if let Some(why) = s.strip_prefix("no fresh rate: ") {
                    SkipCause::NoFreshRate(why.to_string())
                } else if let Some(why) = s.strip_prefix("suspect: ") {
                    SkipCause::Suspect(why.to_string())
                } else {
                    SkipCause::Invalid(s)
                }
            }
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

/// What a premium computation covers: the coins of each pair, the oldest usable ticker, the
/// market registry (each premium's instrument and flags) and the sanity gate.
pub struct Universe<'a> {
    pub pairs: &'a BTreeMap<VenuePair, Vec<Coin>>,
    pub ticker_limit_ms: i64,
    /// Fills `inputs.foreign_symbol`, `inputs.foreign_multiplier` and `flags` (Korean warning,
    /// caution, suspended deposits or withdrawals; foreign market not trading).
    pub registry: Option<&'a Registry>,
    /// A premium further than this (percentage points) from the median of its pair is a
    /// `suspect` skip instead of a premium; `None` turns the gate off.
    pub max_deviation_pct: Option<Decimal>,
    /// Taker fee per venue, as a fraction (`0.0005` = 5 bp), for the net executable premiums.
    pub fees: &'a BTreeMap<Venue, Decimal>,
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
    for (pair, coins) in universe.pairs {
        let usdt = fresh(
            get(pair.korea, &Coin::usdt()),
            SkipInput::UsdKrw,
            limit,
            now,
        )
        .ok();
        for coin in coins {
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
                korea_book: k.book,
                foreign_book: f.book,
                funding: f.funding,
            };
            let fees = crate::Fees {
                korea: universe.fees.get(&pair.korea).copied().unwrap_or_default(),
                foreign: universe
                    .fees
                    .get(&pair.foreign)
                    .copied()
                    .unwrap_or_default(),
            };
            let book_skip = [(k, pair.korea), (f, pair.foreign)]
                .into_iter()
                .find(|(t, _)| t.book.is_none())
                .map(|(t, venue)| {
                    let why = t.book_error.as_deref().unwrap_or("missing");
                    format!("{venue} {coin} book: {why}")
                });
            match Premium::compute(inputs, now).and_then(|p| p.with_books(fees)) {
                Ok(mut p) => {
                    if let Some(r) = universe.registry {
                        describe(&mut p, r);
                    }
                    p.executable_skip = book_skip;
                    premiums.push(p)
                }
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
    if let Some(limit) = universe.max_deviation_pct {
        let rates: Vec<(VenuePair, Decimal)> =
            premiums.iter().map(|p| (p.inputs.pair, p.rate)).collect();
        let verdicts = crate::market::suspects(&rates, limit);
        let mut kept = Vec::with_capacity(premiums.len());
        for (p, verdict) in premiums.into_iter().zip(verdicts) {
            match verdict {
                None => kept.push(p),
                Some(why) => skips.push(SkipReason {
                    input: SkipInput::Ticker {
                        venue: p.inputs.pair.foreign,
                        coin: p.inputs.coin.clone(),
                    },
                    coin: p.inputs.coin,
                    pair: p.inputs.pair,
                    reason: SkipCause::Suspect(why),
                    age_ms: None,
                    limit_ms: None,
                    at: now,
                }),
            }
        }
        premiums = kept;
    }
    (premiums, skips)
}

/// The instrument a premium's foreign price came from, and the flags of both legs.
fn describe(p: &mut Premium, registry: &Registry) {
    let coin = &p.inputs.coin;
    if let Some(f) = registry.listing(p.inputs.pair.foreign, coin) {
        p.inputs.foreign_symbol = Some(f.instrument.symbol.clone());
        p.inputs.foreign_multiplier = Some(f.multiplier);
        if !f.instrument.status.is_trading() {
            p.flags.push(MarketFlag::ForeignNotTrading);
        }
    }
    if let Some(k) = registry.listing(p.inputs.pair.korea, coin) {
        p.flags.extend(k.instrument.flags.iter().copied());
    }
    p.flags.sort();
    p.flags.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instrument, MarketStatus};

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
            "suspect: premium -84.21 % is 85.71 points from the upbit-binance median 1.50 (limit 20)",
        ] {
            assert_eq!(SkipCause::from(s.to_string()).to_string(), s);
        }
        assert_eq!(SkipCause::from("stale".to_string()), SkipCause::Stale);
    }

    fn instrument(venue: Venue, symbol: &str, base: &str, flags: Vec<MarketFlag>) -> Instrument {
        Instrument {
            venue,
            symbol: symbol.into(),
            base: base.into(),
            status: MarketStatus::Trading,
            english_name: None,
            contract_value: None,
            flags,
        }
    }

    fn ticker(venue: Venue, coin: &str, price: &str, now: DateTime<Utc>) -> Ticker {
        Ticker {
            venue,
            coin: Coin::parse(coin).unwrap(),
            price: crate::Price::parse(price).unwrap(),
            observed_at: now,
            fetched_at: now,
            last_trade_at: None,
            book: None,
            book_error: None,
            funding: None,
        }
    }

    /// The registry names each premium's instrument and flags; a premium far from its pair's
    /// median is a `suspect` skip, not a premium.
    #[test]
    fn premiums_carry_instruments_and_flags_and_the_gate_catches_a_collision() {
        let now = Utc::now();
        let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        let fx = FxRate {
            source: FxSource::Dunamu,
            usd_krw: crate::Price::parse("1000").unwrap(),
            observed_at: now,
            fetched_at: now,
        };
        // Korean price = 1.01 × foreign price × 1000, except TON (another coin, 0.16×).
        let coins = [
            ("BTC", "101000000", "100000", "BTCUSDT", "BTC"),
            ("ETH", "3030000", "3000", "ETHUSDT", "ETH"),
            ("XRP", "2020", "2", "XRPUSDT", "XRP"),
            ("SOL", "151500", "150", "SOLUSDT", "SOL"),
            ("PEPE", "0.0101", "0.00001", "1000PEPEUSDT", "1000PEPE"),
            ("TON", "520", "3.21", "TONUSDT", "TON"),
        ];
        let mut tickers = HashMap::new();
        let (mut korea, mut foreign) = (Vec::new(), Vec::new());
        for (coin, krw, usd, symbol, base) in coins {
            tickers.insert(
                (Venue::Upbit, Coin::parse(coin).unwrap()),
                ticker(Venue::Upbit, coin, krw, now),
            );
            tickers.insert(
                (Venue::Binance, Coin::parse(coin).unwrap()),
                ticker(Venue::Binance, coin, usd, now),
            );
            let flags = if coin == "XRP" {
                vec![MarketFlag::Caution]
            } else {
                vec![]
            };
            korea.push(instrument(
                Venue::Upbit,
                &format!("KRW-{coin}"),
                coin,
                flags,
            ));
            foreign.push(instrument(Venue::Binance, symbol, base, vec![]));
        }
        let rules = crate::MappingRules::default();
        let korean = crate::map_korean(&korea, &rules);
        let known = korean.iter().map(|l| l.coin.clone()).collect();
        let mut registry = Registry::default();
        for (venue, listings) in [
            (Venue::Upbit, korean),
            (Venue::Binance, crate::map_foreign(&foreign, &known, &rules)),
        ] {
            registry.venues.insert(
                venue,
                crate::VenueMarkets {
                    venue,
                    listings,
                    refreshed_at: now,
                    last_failure: None,
                },
            );
        }
        let pairs = BTreeMap::from([(pair, coins.map(|c| Coin::parse(c.0).unwrap()).to_vec())]);
        let universe = Universe {
            pairs: &pairs,
            ticker_limit_ms: 5_000,
            registry: Some(&registry),
            max_deviation_pct: Some(Decimal::from(20)),
            fees: &BTreeMap::new(),
        };
        let (premiums, skips) = premiums_from(&universe, &tickers, Ok(fx), now);
        assert_eq!(premiums.len(), 5, "{skips:?}");
        for p in &premiums {
            assert_eq!(p.rate.round_dp(6), Decimal::ONE, "{}", p.inputs.coin);
        }
        let pepe = premiums
            .iter()
            .find(|p| p.inputs.coin.as_str() == "PEPE")
            .unwrap();
        assert_eq!(pepe.inputs.foreign_symbol.as_deref(), Some("1000PEPEUSDT"));
        assert_eq!(pepe.inputs.foreign_multiplier, Some(Decimal::from(1000)));
        let xrp = premiums
            .iter()
            .find(|p| p.inputs.coin.as_str() == "XRP")
            .unwrap();
        assert_eq!(xrp.flags, [MarketFlag::Caution]);
        assert_eq!(skips.len(), 1);
        assert_eq!(skips[0].coin.as_str(), "TON");
        assert!(
            matches!(&skips[0].reason, SkipCause::Suspect(why) if why.contains("median")),
            "{:?}",
            skips[0]
        );
    }
}
