//! Tickers: one venue's price of one coin at one time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use rust_decimal::Decimal;

use crate::{BookTop, Coin, Funding, Price, Venue};

/// The latest price of `coin` on `venue`. Korean venues quote KRW, foreign venues USDT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticker {
    pub venue: Venue,
    pub coin: Coin,
    pub price: Price,
    /// When the quote was current: the venue's snapshot time where its clock is sane,
    /// otherwise when premium-spread received it. Freshness is measured from this, not from the
    /// last trade; a premium prices a coin whose last trade is older than the limit from its book
    /// instead ([`Ticker::premium_price`]).
    pub observed_at: DateTime<Utc>,
    /// When premium-spread received it.
    pub fetched_at: DateTime<Utc>,
    /// When the coin last traded on the venue, where the venue says so (Korean venues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trade_at: Option<DateTime<Utc>>,
    /// Best bid and ask (per coin), fetched with the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<BookTop>,
    /// Why `book` is missing although the venue answered (crossed, zero, empty side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_error: Option<String>,
    /// The perpetual's funding (foreign venues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Funding>,
}

impl Ticker {
    /// Age at `now`, measured from the venue's observation time (never negative).
    pub fn age_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.observed_at).num_milliseconds().max(0)
    }
}

/// Where a premium's Korean price comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The last trade (`trade_price`): the quote's price, with a recent trade behind it.
    #[default]
    LastTrade,
    /// The middle of the best bid and ask, because the last trade is older than the freshness
    /// limit: an old trade says what the coin was worth then, the book what it is worth now.
    BookMid,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::LastTrade => "last_trade",
            PriceSource::BookMid => "book_mid",
        }
    }
}

/// Why a ticker has no price a premium may use: its last trade is older than the freshness
/// limit and its book gives no mid to stand in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldTrade {
    /// `now − last_trade_at`, milliseconds.
    pub age_ms: i64,
    /// Why there is no book (`ask side is empty`, `missing`).
    pub book: String,
}

impl std::fmt::Display for OldTrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "last trade {} ms old and no book to price it: {}",
            self.age_ms, self.book
        )
    }
}

impl Ticker {
    /// `now − last_trade_at`, milliseconds (never negative), where the venue gives a trade time.
    pub fn last_trade_age_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        self.last_trade_at
            .map(|at| (now - at).num_milliseconds().max(0))
    }

    /// The price a premium is built on, judged at `now` against the price freshness limit: the
    /// last trade while it is within the limit (or the venue gives no trade time), else the
    /// book's mid `(bid + ask) / 2`; an old trade without a book is refused. Only the trade's
    /// age is judged here; the quote's own age is the caller's check.
    pub fn premium_price(
        &self,
        now: DateTime<Utc>,
        limit_ms: i64,
    ) -> Result<(Price, PriceSource), OldTrade> {
        let Some(age_ms) = self.last_trade_age_ms(now).filter(|a| *a > limit_ms) else {
            return Ok((self.price, PriceSource::LastTrade));
        };
        let mid = self.book.and_then(|b| {
            let sum = b.bid.value().checked_add(b.ask.value())?;
            Price::new(sum / Decimal::TWO).ok()
        });
        match mid {
            Some(mid) => Ok((mid, PriceSource::BookMid)),
            None => Err(OldTrade {
                age_ms,
                book: self.book_error.clone().unwrap_or_else(|| "missing".into()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::{
        FxRate, FxSource, SkipCause, VenuePair,
        selection::{Scope, premiums_from},
    };
    use rust_decimal_macros::dec;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ticker(traded: Option<&str>, book: Option<(Decimal, Decimal)>) -> Ticker {
        let now = at("2026-12-07T10:00:00Z");
        Ticker {
            venue: Venue::Upbit,
            coin: Coin::parse("XRP").unwrap(),
            price: Price::new(dec!(900)).unwrap(),
            observed_at: now,
            fetched_at: now,
            last_trade_at: traded.map(at),
            book: book.map(|(b, a)| BookTop::new(b, dec!(1), a, dec!(1)).unwrap()),
            book_error: book.is_none().then(|| "ask side is empty".to_string()),
            funding: None,
        }
    }

    fn quote(venue: Venue, coin: &str, price: &str, now: DateTime<Utc>) -> Ticker {
        Ticker {
            venue,
            coin: Coin::parse(coin).unwrap(),
            price: Price::parse(price).unwrap(),
            observed_at: now,
            fetched_at: now,
            last_trade_at: None,
            book: None,
            book_error: None,
            funding: None,
        }
    }

    const NOW: &str = "2026-12-07T10:00:01Z";

    #[test]
    fn a_recent_trade_or_none_at_all_is_the_price() {
        for t in [
            ticker(Some("2026-12-07T09:59:57Z"), Some((dec!(990), dec!(1010)))),
            ticker(None, Some((dec!(990), dec!(1010)))),
            ticker(Some("2026-12-07T09:59:56Z"), None),
        ] {
            assert_eq!(
                t.premium_price(at(NOW), 5_000),
                Ok((Price::new(dec!(900)).unwrap(), PriceSource::LastTrade)),
                "{t:?}"
            );
        }
    }

    #[test]
    fn a_trade_older_than_the_limit_gives_way_to_the_book_mid() {
        let t = ticker(Some("2026-12-07T09:55:00Z"), Some((dec!(990), dec!(1011))));
        assert_eq!(t.last_trade_age_ms(at(NOW)), Some(301_000));
        assert_eq!(
            t.premium_price(at(NOW), 5_000),
            Ok((Price::new(dec!(1000.5)).unwrap(), PriceSource::BookMid))
        );
        // One millisecond past the limit is already too old.
        let t = ticker(
            Some("2026-12-07T09:59:55.999Z"),
            Some((dec!(990), dec!(1010))),
        );
        assert_eq!(
            t.premium_price(at(NOW), 5_000).unwrap().1,
            PriceSource::BookMid
        );
    }

    #[test]
    fn an_old_trade_without_a_book_is_refused_with_its_age_and_why() {
        let t = ticker(Some("2026-12-07T09:55:00Z"), None);
        let err = t.premium_price(at(NOW), 5_000).unwrap_err();
        assert_eq!(
            err,
            OldTrade {
                age_ms: 301_000,
                book: "ask side is empty".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "last trade 301000 ms old and no book to price it: ask side is empty"
        );
    }

    /// An illiquid coin's minutes-old trade is priced from its book mid, and refused without
    /// a book, the skip naming the Korean ticker and the trade's age.
    #[test]
    fn an_old_korean_trade_is_priced_from_the_book_mid_or_refused() {
        let now = Utc::now();
        let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        let (xrp, ada) = (Coin::parse("XRP").unwrap(), Coin::parse("ADA").unwrap());
        let mut tickers = HashMap::new();
        for (coin, book) in [(&xrp, Some(("1990", "2030"))), (&ada, None)] {
            let mut k = quote(Venue::Upbit, coin.as_str(), "1900", now);
            k.last_trade_at = Some(now - chrono::Duration::minutes(5));
            k.book = book.map(|(b, a)| {
                BookTop::new(
                    b.parse().unwrap(),
                    Decimal::ONE,
                    a.parse().unwrap(),
                    Decimal::ONE,
                )
                .unwrap()
            });
            tickers.insert((Venue::Upbit, coin.clone()), k);
            let f = quote(Venue::Binance, coin.as_str(), "2", now);
            tickers.insert((Venue::Binance, coin.clone()), f);
        }
        let fx = FxRate {
            source: FxSource::Dunamu,
            usd_krw: Price::parse("1000").unwrap(),
            observed_at: now,
            fetched_at: now,
        };
        let pairs = BTreeMap::from([(pair, vec![xrp, ada])]);
        let scope = Scope {
            pairs: &pairs,
            ticker_limit_ms: 5_000,
            registry: None,
            max_deviation_pct: None,
            fees: &BTreeMap::new(),
        };
        let (premiums, skips) = premiums_from(&scope, &tickers, Ok(fx), now);
        let [p] = premiums.as_slice() else {
            panic!("{premiums:?} {skips:?}")
        };
        assert_eq!(
            (p.inputs.korea_krw.value(), p.inputs.korea_price_source),
            (Decimal::from(2010), PriceSource::BookMid)
        );
        assert_eq!(
            p.inputs.korea_trade_krw,
            Some(Price::parse("1900").unwrap())
        );
        assert_eq!(p.rate, Decimal::new(5, 1), "(2010 − 2000) / 2000");
        let [s] = skips.as_slice() else {
            panic!("{skips:?}")
        };
        assert_eq!(
            (s.coin.as_str(), s.input.to_string()),
            ("ADA", "upbit ADA ticker".into())
        );
        assert!(
            matches!(&s.reason, SkipCause::OldTrade(w) if w.ends_with("no book to price it: missing")),
            "{s:?}"
        );
        assert!(
            s.age_ms.is_some_and(|a| a >= 300_000) && s.limit_ms == Some(5_000),
            "{s:?}"
        );
    }
}
