//! How old a premium is: as old as its oldest input, FX (and the USDT/KRW of the tether premium)
//! included, and stale as soon as any input is older than its own freshness limit.

use std::{fmt, time::Duration};

use chrono::{DateTime, Utc};

use crate::{FxRate, Premium, Venue};

/// The freshness limits a premium's inputs are judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Prices, the Korean venue's USDT/KRW included.
    pub ticker: Duration,
    /// The limit of the premium's FX source (`freshness.fx_secs`).
    pub fx: Duration,
}

/// One input of a premium, named as in skip reasons (`upbit BTC ticker`, `usd/krw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Korea,
    Foreign,
    UsdKrw,
    UsdtKrw,
}

/// A premium's age at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    /// The oldest input's observation time.
    pub observed_at: DateTime<Utc>,
    /// `now − observed_at`, milliseconds.
    pub age_ms: i64,
    /// Which input is the oldest.
    pub oldest: Input,
    /// The inputs older than their limits, in the order of [`Input`]; empty when fresh.
    pub stale: Vec<Input>,
    /// The FX rate's age and the wall-clock length of its source's limit, milliseconds.
    pub fx_age_ms: i64,
    pub fx_limit_ms: i64,
    /// The USDT/KRW's age, when the premium has a tether rate.
    pub usdt_age_ms: Option<i64>,
}

impl Age {
    pub fn is_stale(&self) -> bool {
        !self.stale.is_empty()
    }
}

fn ms(now: DateTime<Utc>, at: DateTime<Utc>) -> i64 {
    (now - at).num_milliseconds().max(0)
}

impl Premium {
    /// How old the premium is at `now`, and which inputs are past their limits.
    pub fn age(&self, now: DateTime<Utc>, limits: Limits) -> Age {
        let i = &self.inputs;
        let fx = FxRate {
            source: i.fx_source,
            usd_krw: i.usd_krw,
            observed_at: i.fx_observed_at,
            fetched_at: i.fx_observed_at,
        };
        let ticker_ms = limits.ticker.as_millis() as i64;
        let usdt_at = i.usdt_observed_at.filter(|_| self.usdt_rate.is_some());
        let mut times = vec![
            (Input::Korea, i.korea_observed_at, ticker_ms),
            (Input::Foreign, i.foreign_observed_at, ticker_ms),
            (Input::UsdKrw, i.fx_observed_at, fx.limit_ms(limits.fx)),
        ];
        if let Some(at) = usdt_at {
            times.push((Input::UsdtKrw, at, ticker_ms));
        }
        let (oldest, observed_at, _) = *times
            .iter()
            .min_by_key(|(_, at, _)| *at)
            .expect("a premium has inputs");
        Age {
            observed_at,
            age_ms: ms(now, observed_at),
            oldest,
            stale: times
                .iter()
                .filter(|(_, at, limit)| ms(now, *at) > *limit)
                .map(|(input, _, _)| *input)
                .collect(),
            fx_age_ms: fx.age_ms(now),
            fx_limit_ms: fx.limit_ms(limits.fx),
            usdt_age_ms: usdt_at.map(|at| ms(now, at)),
        }
    }
}

/// An input with the premium it belongs to, for display (`upbit BTC ticker`, `usd/krw
/// (dunamu)`, `upbit USDT ticker`).
pub struct Named<'a>(pub Input, pub &'a Premium);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.1.inputs;
        let ticker = |f: &mut fmt::Formatter<'_>, v: Venue, c: &str| write!(f, "{v} {c} ticker");
        match self.0 {
            Input::Korea => ticker(f, i.pair.korea, i.coin.as_str()),
            Input::Foreign => ticker(f, i.pair.foreign, i.coin.as_str()),
            Input::UsdKrw => write!(f, "usd/krw ({})", i.fx_source),
            Input::UsdtKrw => ticker(f, i.pair.korea, "USDT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Coin, FxSource, PremiumInputs, Price, VenuePair};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn premium(prices: &str, fx: (FxSource, &str), usdt: Option<&str>) -> Premium {
        Premium::compute(
            PremiumInputs {
                coin: Coin::parse("BTC").unwrap(),
                pair: "upbit-binance".parse::<VenuePair>().unwrap(),
                korea_krw: Price::parse("140000000").unwrap(),
                korea_price_source: crate::PriceSource::LastTrade,
                korea_trade_krw: None,
                korea_observed_at: at(prices),
                foreign_usd: Price::parse("100000").unwrap(),
                foreign_observed_at: at(prices),
                usd_krw: Price::parse("1380").unwrap(),
                fx_source: fx.0,
                fx_observed_at: at(fx.1),
                usdt_krw: usdt.map(|_| Price::parse("1400").unwrap()),
                usdt_observed_at: usdt.map(at),
                foreign_symbol: None,
                foreign_multiplier: None,
                korea_last_trade_at: None,
                korea_book: None,
                foreign_book: None,
                funding: None,
            },
            at(prices),
        )
        .unwrap()
    }

    const LIMITS: Limits = Limits {
        ticker: Duration::from_secs(5),
        fx: Duration::from_secs(15 * 60),
    };

    #[test]
    fn a_premium_is_as_old_as_its_fx_and_fresh_while_each_input_is_within_its_limit() {
        let p = premium(
            "2026-12-07T10:00:00Z",
            (FxSource::Dunamu, "2026-12-07T09:50:00Z"),
            Some("2026-12-07T10:00:00Z"),
        );
        let age = p.age(at("2026-12-07T10:00:01Z"), LIMITS);
        assert_eq!(age.observed_at, at("2026-12-07T09:50:00Z"));
        assert_eq!(age.age_ms, 601_000);
        assert_eq!(age.oldest, Input::UsdKrw);
        assert_eq!(Named(age.oldest, &p).to_string(), "usd/krw (dunamu)");
        assert!(!age.is_stale(), "{age:?}");
        assert_eq!((age.fx_age_ms, age.fx_limit_ms), (601_000, 900_000));
        assert_eq!(age.usdt_age_ms, Some(1_000));
    }

    #[test]
    fn an_fx_rate_past_its_source_limit_makes_the_premium_stale_even_with_live_prices() {
        let p = premium(
            "2026-12-07T10:00:00Z",
            (FxSource::Dunamu, "2026-12-07T09:44:00Z"),
            None,
        );
        let age = p.age(at("2026-12-07T10:00:01Z"), LIMITS);
        assert_eq!(age.stale, [Input::UsdKrw]);
        assert_eq!(age.usdt_age_ms, None);
    }

    #[test]
    fn a_friday_ecb_rate_is_not_stale_on_monday_morning_but_a_wednesday_one_is_on_friday() {
        let limits = Limits {
            fx: Duration::from_secs(26 * 3600),
            ..LIMITS
        };
        let monday = premium(
            "2026-12-07T08:00:00Z",
            (FxSource::Frankfurter, "2026-12-04T15:00:00Z"),
            None,
        );
        let age = monday.age(at("2026-12-07T08:00:00Z"), limits);
        assert!(!age.is_stale(), "{age:?}");
        assert_eq!(age.fx_age_ms, 65 * 3_600_000);
        let friday = premium(
            "2026-12-04T08:00:00Z",
            (FxSource::Frankfurter, "2026-12-02T15:00:00Z"),
            None,
        );
        assert_eq!(
            friday.age(at("2026-12-04T08:00:00Z"), limits).stale,
            [Input::UsdKrw]
        );
    }

    #[test]
    fn stale_prices_and_a_stale_usdt_rate_are_named() {
        let p = premium(
            "2026-12-07T10:00:00Z",
            (FxSource::Dunamu, "2026-12-07T09:59:00Z"),
            Some("2026-12-07T09:59:59Z"),
        );
        let age = p.age(at("2026-12-07T10:00:05.500Z"), LIMITS);
        assert_eq!(age.stale, [Input::Korea, Input::Foreign, Input::UsdtKrw]);
        assert_eq!(age.oldest, Input::UsdKrw);
        let names: Vec<String> = age
            .stale
            .iter()
            .map(|i| Named(*i, &p).to_string())
            .collect();
        assert_eq!(
            names,
            [
                "upbit BTC ticker",
                "binance BTC ticker",
                "upbit USDT ticker"
            ]
        );
    }
}
