//! Which inputs a premium is computed from, and why a premium is skipped: the pure half of
//! `compute-premium` (the worker reads the cache, calls these, writes the results).

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Coin, Decimal, FxRate, FxSource, MarketFlag, Premium, PremiumInputs, PriceSource, Registry,
    Ticker, Venue, VenuePair,
};

/// Which input of a premium was unusable. Stored in its serde form (`{"ticker":{"venue":"upbit",
/// "coin":"BTC"}}`, `"usd_krw"`, `"arithmetic"`); shown as text (`upbit BTC ticker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// Why that input was unusable. Stored in its serde form (`"stale"`,
/// `{"no_fresh_rate":"dunamu missing"}`); shown as text (`no fresh rate: dunamu missing`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipCause {
    /// Not in the cache (never fetched, rejected, or expired).
    Missing,
    /// Older than its freshness limit.
    Stale,
    /// No FX source had a fresh rate; the text says what each source had.
    NoFreshRate(String),
    /// The formula refused the inputs.
    Invalid(String),
    /// Written by earlier versions for a premium far from its pair's median; such premiums are
    /// now served with the `suspect` flag. Still read (a skip key lives a few seconds).
    Suspect(String),
    /// The sanity gate found a price unit or multiplier error (a power of ten off its pair's
    /// median): never served as a premium. The text says which power and why.
    UnitError(String),
    /// The Korean last trade is older than the freshness limit and no book gives a mid to price
    /// the coin by ([`crate::OldTrade`]); the text says how old and why there is no book.
    OldTrade(String),
    /// The cross-venue identity check ([`crate::market::identity`]): this venue's price of the
    /// coin is far from what the other venues of its side agree on, so it is quoting another
    /// coin. The text names the coin, the odd venue and the agreeing ones.
    IdentityError(String),
}

impl fmt::Display for SkipCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipCause::Missing => f.write_str("missing"),
            SkipCause::Stale => f.write_str("stale"),
            SkipCause::NoFreshRate(why) => write!(f, "no fresh rate: {why}"),
            SkipCause::Invalid(why) => f.write_str(why),
            SkipCause::Suspect(why) => write!(f, "suspect: {why}"),
            SkipCause::UnitError(why)
            | SkipCause::OldTrade(why)
            | SkipCause::IdentityError(why) => f.write_str(why),
        }
    }
}

/// Earlier versions stored skip inputs and causes as their display text; such values still live
/// in Redis for a few seconds after an upgrade (a skip key's TTL), so they are still read.
trait StoredAsText: Sized {
    fn from_text(s: &str) -> Result<Self, String>;
}

impl StoredAsText for SkipInput {
    fn from_text(s: &str) -> Result<Self, String> {
        match s {
            "usd/krw" => return Ok(SkipInput::UsdKrw),
            "arithmetic" => return Ok(SkipInput::Arithmetic),
            _ => {}
        }
        match s.split(' ').collect::<Vec<_>>().as_slice() {
            [venue, coin, "ticker"] => Ok(SkipInput::Ticker {
                venue: venue.parse().map_err(|e| format!("{e}"))?,
                coin: Coin::parse(coin).map_err(|e| e.to_string())?,
            }),
            _ => Err(format!("unknown skip input `{s}`")),
        }
    }
}

impl StoredAsText for SkipCause {
    fn from_text(s: &str) -> Result<Self, String> {
        Ok(match s {
            "missing" => SkipCause::Missing,
            "stale" => SkipCause::Stale,
            _ => {
                if let Some(why) = s.strip_prefix("no fresh rate: ") {
                    SkipCause::NoFreshRate(why.to_string())
                } else if let Some(why) = s.strip_prefix("suspect: ") {
                    SkipCause::Suspect(why.to_string())
                } else {
                    SkipCause::Invalid(s.to_string())
                }
            }
        })
    }
}

/// Reads a field in its serde form, or as the display text older versions stored.
fn typed_or_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + StoredAsText,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored<T> {
        Typed(T),
        Text(String),
    }
    match Stored::<T>::deserialize(d)? {
        Stored::Typed(t) => Ok(t),
        Stored::Text(s) => T::from_text(&s).map_err(serde::de::Error::custom),
    }
}

macro_rules! eq_text {
    ($t:ty) => {
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                // Comparison by the text form, as shown (tests compare with it).
                *other == self.to_string().as_str()
            }
        }
    };
}
eq_text!(SkipInput);
eq_text!(SkipCause);

/// Why a premium was not computed. Stored as JSON with `input` and `reason` in their serde form
/// (older text values still read); the API shows them as text (`"upbit BTC ticker"`, `"stale"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReason {
    pub coin: Coin,
    pub pair: VenuePair,
    #[serde(deserialize_with = "typed_or_text")]
    pub input: SkipInput,
    #[serde(deserialize_with = "typed_or_text")]
    pub reason: SkipCause,
    /// Age of a stale input, milliseconds.
    pub age_ms: Option<i64>,
    pub limit_ms: Option<i64>,
    pub at: DateTime<Utc>,
}

/// The FX sources in fallback order, each with its freshness limit.
pub type FxPolicy = [(FxSource, Duration)];

/// The first FX rate, in fallback order, within its source's freshness limit (ECB working days
/// only for Frankfurter, [`FxSource::fresh_until`]); otherwise what
/// each source had (`dunamu stale (… ms > … ms), erapi missing`).
pub fn pick_fx(
    order: &FxPolicy,
    rates: &[Option<FxRate>],
    now: DateTime<Utc>,
) -> Result<FxRate, String> {
    let mut why = Vec::new();
    for (source, limit) in order {
        match rates.iter().flatten().find(|r| r.source == *source) {
            Some(r) if r.is_fresh(*limit, now) => return Ok(r.clone()),
            Some(r) => why.push(format!(
                "{source} stale ({} ms > {} ms)",
                r.age_ms(now),
                r.limit_ms(*limit)
            )),
            None => why.push(format!("{source} missing")),
        }
    }
    Err(why.join(", "))
}

/// What a premium computation covers: the coins of each pair, the oldest usable ticker, the
/// market registry (each premium's instrument and flags) and the sanity gate.
pub struct Scope<'a> {
    pub pairs: &'a BTreeMap<VenuePair, Vec<Coin>>,
    pub ticker_limit_ms: i64,
    /// Fills `inputs.foreign_symbol`, `inputs.foreign_multiplier` and `flags` (Korean warning,
    /// caution, suspended deposits or withdrawals; foreign market not trading).
    pub registry: Option<&'a Registry>,
    /// The sanity gate: a premium further than this (percentage points) from the median of its
    /// pair is flagged `suspect`; one a power of ten off is a unit-error skip; `None` turns the
    /// gate off.
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

/// Premiums of every (coin, pair) of `scope` from the given tickers and FX, or the reason
/// each could not be computed.
pub fn premiums_from(
    scope: &Scope<'_>,
    tickers: &HashMap<(Venue, Coin), Ticker>,
    fx: Result<FxRate, String>,
    now: DateTime<Utc>,
) -> (Vec<Premium>, Vec<SkipReason>) {
    let limit = scope.ticker_limit_ms;
    let mut premiums = Vec::new();
    let mut skips = Vec::new();
    let get = |v: Venue, c: &Coin| tickers.get(&(v, c.clone()));
    for (pair, coins) in scope.pairs {
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
            // A quote can be current while its last trade is minutes old (an illiquid coin):
            // such a price is priced from the book, or not served.
            let (korea_krw, source) = match k.premium_price(now, limit) {
                Ok(priced) => priced,
                Err(old) => {
                    let input = SkipInput::Ticker {
                        venue: pair.korea,
                        coin: coin.clone(),
                    };
                    let cause = SkipCause::OldTrade(old.to_string());
                    skips.push(skip((input, cause, Some(old.age_ms)), Some(limit)));
                    continue;
                }
            };
            let inputs = PremiumInputs {
                coin: coin.clone(),
                pair: *pair,
                korea_krw,
                korea_price_source: source,
                korea_trade_krw: (source == PriceSource::BookMid).then_some(k.price),
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
                korea: scope.fees.get(&pair.korea).copied().unwrap_or_default(),
                foreign: scope.fees.get(&pair.foreign).copied().unwrap_or_default(),
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
                    if let Some(r) = scope.registry {
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
    if let Some(limit) = scope.max_deviation_pct {
        premiums = gate(premiums, limit, &mut skips, now);
    }
    (premiums, skips)
}

/// The sanity gate ([`crate::market::sanity`], [`crate::market::identity`]): a unit error or a
/// venue quoting another coin than its side's majority becomes a skip, a suspect premium is kept
/// with the `suspect` flag and the reason.
fn gate(
    premiums: Vec<Premium>,
    limit: Decimal,
    skips: &mut Vec<SkipReason>,
    now: DateTime<Utc>,
) -> Vec<Premium> {
    use crate::market::Verdict;
    let rates: Vec<(VenuePair, Decimal)> =
        premiums.iter().map(|p| (p.inputs.pair, p.rate)).collect();
    let verdicts = crate::market::judge(&rates, limit);
    let prices: Vec<(Coin, Venue, Decimal)> = premiums
        .iter()
        .flat_map(|p| {
            let i = &p.inputs;
            [
                (i.coin.clone(), i.pair.korea, i.korea_krw.value()),
                (i.coin.clone(), i.pair.foreign, i.foreign_usd.value()),
            ]
        })
        .collect();
    let odd = crate::market::odd_venues(&prices, limit);
    let mut kept = Vec::with_capacity(premiums.len());
    for (mut p, verdict) in premiums.into_iter().zip(verdicts) {
        let coin = p.inputs.coin.clone();
        let identity = [p.inputs.pair.korea, p.inputs.pair.foreign]
            .into_iter()
            .find_map(|v| odd.get(&(coin.clone(), v)).map(|why| (v, why.clone())));
        let refused = match (verdict, identity) {
            (Verdict::UnitError(why), _) => (p.inputs.pair.foreign, SkipCause::UnitError(why)),
            (_, Some((venue, why))) => (venue, SkipCause::IdentityError(why)),
            (Verdict::Normal, None) => {
                kept.push(p);
                continue;
            }
            (Verdict::Suspect(why), None) => {
                p.flags.push(MarketFlag::Suspect);
                p.flags.sort();
                p.flags.dedup();
                p.suspect = Some(why);
                kept.push(p);
                continue;
            }
        };
        let (venue, reason) = refused;
        skips.push(SkipReason {
            input: SkipInput::Ticker {
                venue,
                coin: coin.clone(),
            },
            coin,
            pair: p.inputs.pair,
            reason,
            age_ms: None,
            limit_ms: None,
            at: now,
        });
    }
    kept
}

/// The instrument a premium's foreign price came from, and the Korean leg's flags. (A foreign
/// market that is not trading has no premium: a pair's universe holds only coins trading on
/// both venues.)
fn describe(p: &mut Premium, registry: &Registry) {
    let coin = &p.inputs.coin;
    if let Some(f) = registry.listing(p.inputs.pair.foreign, coin) {
        p.inputs.foreign_symbol = Some(f.instrument.symbol.clone());
        p.inputs.foreign_multiplier = Some(f.multiplier);
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
    use crate::{Instrument, MarketFlag, MarketStatus};

    fn stored_skip(input: &str, reason: &str) -> String {
        format!(
            r#"{{"coin":"BTC","pair":{{"korea":"upbit","foreign":"binance"}},"input":{input},"reason":{reason},"age_ms":null,"limit_ms":null,"at":"2026-12-07T00:00:00Z"}}"#
        )
    }

    fn skip(input: SkipInput, reason: SkipCause) -> SkipReason {
        SkipReason {
            coin: Coin::parse("BTC").unwrap(),
            pair: "upbit-binance".parse().unwrap(),
            input,
            reason,
            age_ms: None,
            limit_ms: None,
            at: "2026-12-07T00:00:00Z".parse().unwrap(),
        }
    }

    fn ticker_input(venue: Venue, coin: &str) -> SkipInput {
        SkipInput::Ticker {
            venue,
            coin: Coin::parse(coin).unwrap(),
        }
    }

    #[test]
    fn skip_reasons_are_stored_as_tagged_values_and_read_back() {
        let cases = [
            (
                ticker_input(Venue::Upbit, "BTC"),
                SkipCause::Missing,
                r#"{"ticker":{"venue":"upbit","coin":"BTC"}}"#,
                r#""missing""#,
            ),
            (
                SkipInput::UsdKrw,
                SkipCause::NoFreshRate("dunamu missing".into()),
                r#""usd_krw""#,
                r#"{"no_fresh_rate":"dunamu missing"}"#,
            ),
            (
                SkipInput::Arithmetic,
                SkipCause::Invalid("division by zero".into()),
                r#""arithmetic""#,
                r#"{"invalid":"division by zero"}"#,
            ),
            (
                ticker_input(Venue::Binance, "XRP"),
                SkipCause::Suspect("85.71 points from the median".into()),
                r#"{"ticker":{"venue":"binance","coin":"XRP"}}"#,
                r#"{"suspect":"85.71 points from the median"}"#,
            ),
            (
                ticker_input(Venue::Bybit, "ETH"),
                SkipCause::Stale,
                r#"{"ticker":{"venue":"bybit","coin":"ETH"}}"#,
                r#""stale""#,
            ),
        ];
        for (input, reason, input_json, reason_json) in cases {
            let s = skip(input, reason);
            let written: serde_json::Value = serde_json::to_value(&s).unwrap();
            let expected: serde_json::Value =
                serde_json::from_str(&stored_skip(input_json, reason_json)).unwrap();
            assert_eq!(written, expected);
            let read: SkipReason = serde_json::from_value(written).unwrap();
            assert_eq!(read, s);
        }
    }

    #[test]
    fn skip_reasons_stored_as_text_by_older_versions_still_read() {
        let cases = [
            ("upbit BTC ticker", "missing", ticker_input(Venue::Upbit, "BTC"), SkipCause::Missing),
            ("bithumb ETH ticker", "stale", ticker_input(Venue::Bithumb, "ETH"), SkipCause::Stale),
            (
                "usd/krw",
                "no fresh rate: dunamu missing",
                SkipInput::UsdKrw,
                SkipCause::NoFreshRate("dunamu missing".into()),
            ),
            (
                "arithmetic",
                "division by zero",
                SkipInput::Arithmetic,
                SkipCause::Invalid("division by zero".into()),
            ),
            (
                "okx SOL ticker",
                "suspect: premium -84.21 % is 85.71 points from the upbit-binance median 1.50 (limit 20)",
                ticker_input(Venue::Okx, "SOL"),
                SkipCause::Suspect(
                    "premium -84.21 % is 85.71 points from the upbit-binance median 1.50 (limit 20)"
                        .into(),
                ),
            ),
        ];
        for (input_text, reason_text, input, reason) in cases {
            let json = stored_skip(&format!("{input_text:?}"), &format!("{reason_text:?}"));
            let read: SkipReason = serde_json::from_str(&json).unwrap();
            assert_eq!(read, skip(input, reason));
            // What the API shows is the same text as before.
            assert_eq!(read.input.to_string(), input_text);
            assert_eq!(read.reason.to_string(), reason_text);
        }
        let bad = stored_skip(r#""upbit BTC""#, r#""stale""#);
        let err = serde_json::from_str::<SkipReason>(&bad).unwrap_err();
        assert!(
            err.to_string().contains("unknown skip input `upbit BTC`"),
            "{err}"
        );
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
    /// median is served flagged `suspect` with the reason; one a power of ten off is refused.
    #[test]
    fn premiums_carry_instruments_and_flags_a_collision_is_suspect_and_a_unit_error_refused() {
        let now = Utc::now();
        let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        let fx = FxRate {
            source: FxSource::Dunamu,
            usd_krw: crate::Price::parse("1000").unwrap(),
            observed_at: now,
            fetched_at: now,
        };
        // Korean price = 1.01 × foreign price × 1000, except TON (another coin, 0.16×) and SHIB
        // (its foreign price read per 1,000 coins).
        let coins = [
            ("BTC", "101000000", "100000", "BTCUSDT", "BTC"),
            ("ETH", "3030000", "3000", "ETHUSDT", "ETH"),
            ("XRP", "2020", "2", "XRPUSDT", "XRP"),
            ("SOL", "151500", "150", "SOLUSDT", "SOL"),
            ("PEPE", "0.0101", "0.00001", "1000PEPEUSDT", "1000PEPE"),
            ("TON", "520", "3.21", "TONUSDT", "TON"),
            ("SHIB", "0.0202", "0.02", "SHIBUSDT", "SHIB"),
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
        let scope = Scope {
            pairs: &pairs,
            ticker_limit_ms: 5_000,
            registry: Some(&registry),
            max_deviation_pct: Some(Decimal::from(20)),
            fees: &BTreeMap::new(),
        };
        let (premiums, skips) = premiums_from(&scope, &tickers, Ok(fx), now);
        assert_eq!(premiums.len(), 6, "{skips:?}");
        for p in premiums.iter().filter(|p| p.inputs.coin.as_str() != "TON") {
            assert_eq!(p.rate.round_dp(6), Decimal::ONE, "{}", p.inputs.coin);
            assert_eq!(p.suspect, None);
        }
        let ton = premiums
            .iter()
            .find(|p| p.inputs.coin.as_str() == "TON")
            .unwrap();
        assert_eq!(ton.flags, [MarketFlag::Suspect]);
        assert!(
            ton.suspect.as_deref().is_some_and(|w| w.contains("median")),
            "{ton:?}"
        );
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
        assert_eq!(skips[0].coin.as_str(), "SHIB");
        assert!(
            matches!(&skips[0].reason, SkipCause::UnitError(why) if why.contains("÷1000")),
            "{:?}",
            skips[0]
        );
    }
}
