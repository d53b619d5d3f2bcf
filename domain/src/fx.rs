//! USD/KRW rates and where they come from.

use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::Price;

/// A USD/KRW source. Each has its own cadence, so each has its own freshness limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FxSource {
    /// Dunamu's quotation API (Hana Bank posted rate), intraday.
    Dunamu,
    /// open.er-api.com (ExchangeRate-API free tier), daily.
    Erapi,
    /// Frankfurter (ECB reference rate), ECB working days.
    Frankfurter,
}

impl FxSource {
    pub const ALL: [FxSource; 3] = [FxSource::Dunamu, FxSource::Erapi, FxSource::Frankfurter];

    pub const fn as_str(self) -> &'static str {
        match self {
            FxSource::Dunamu => "dunamu",
            FxSource::Erapi => "erapi",
            FxSource::Frankfurter => "frankfurter",
        }
    }
}

impl FxSource {
    /// When a rate observed at `observed_at` stops being fresh under `limit`.
    ///
    /// Dunamu and open.er-api age by the wall clock. Frankfurter's ECB reference rate is
    /// published on TARGET working days only, so only those days count: Friday's rate with a
    /// 26-hour limit is still the latest one until Monday's publication is due (plus the
    /// remaining margin), not stale all weekend.
    pub fn fresh_until(self, observed_at: DateTime<Utc>, limit: Duration) -> DateTime<Utc> {
        let limit = TimeDelta::from_std(limit).unwrap_or(TimeDelta::MAX);
        match self {
            FxSource::Dunamu | FxSource::Erapi => observed_at
                .checked_add_signed(limit)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            FxSource::Frankfurter => add_working_time(observed_at, limit),
        }
    }
}

/// `start + left`, counting only the time of ECB working days (UTC days).
fn add_working_time(start: DateTime<Utc>, mut left: TimeDelta) -> DateTime<Utc> {
    let mut t = start;
    // A limit beyond a few years is "never stale"; the bound keeps the walk finite.
    for _ in 0..2_000 {
        let Some(midnight) = t
            .date_naive()
            .succ_opt()
            .map(|d| d.and_hms_opt(0, 0, 0).expect("valid time").and_utc())
        else {
            break;
        };
        if ecb_working_day(t.date_naive()) {
            let rest = midnight - t;
            if left <= rest {
                return t + left;
            }
            left -= rest;
        }
        t = midnight;
    }
    DateTime::<Utc>::MAX_UTC
}

/// Whether the ECB publishes reference rates on `d`: not on weekends nor on the TARGET closing
/// days (1 January, Good Friday, Easter Monday, 1 May, 25 and 26 December).
pub fn ecb_working_day(d: NaiveDate) -> bool {
    if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
        return false;
    }
    if matches!((d.month(), d.day()), (1, 1) | (5, 1) | (12, 25) | (12, 26)) {
        return false;
    }
    let easter = easter_sunday(d.year());
    !(easter.is_some_and(|e| d == e - TimeDelta::days(2) || d == e + TimeDelta::days(1)))
}

/// Easter Sunday of the Gregorian calendar (the anonymous Gregorian computus).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

impl fmt::Display for FxSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FxSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FxSource::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown FX source `{s}`: expected one of {}",
                    FxSource::ALL.map(FxSource::as_str).join(", ")
                )
            })
    }
}

/// KRW per USD from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRate {
    pub source: FxSource,
    pub usd_krw: Price,
    /// The source's own time for this rate.
    pub observed_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

impl FxRate {
    pub fn age_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.observed_at).num_milliseconds().max(0)
    }

    /// How old this rate may get under its source's `limit`, milliseconds of wall-clock time
    /// (longer than `limit` for a Frankfurter rate across a weekend or holiday).
    pub fn limit_ms(&self, limit: Duration) -> i64 {
        let until = self.source.fresh_until(self.observed_at, limit);
        (until - self.observed_at).num_milliseconds()
    }

    /// Whether the rate is still within its source's `limit` at `now`.
    pub fn is_fresh(&self, limit: Duration, now: DateTime<Utc>) -> bool {
        self.age_ms(now) <= self.limit_ms(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const LIMIT_26H: Duration = Duration::from_secs(26 * 3600);

    #[test]
    fn live_and_daily_sources_age_by_the_wall_clock() {
        let fri = at("2026-12-04T15:00:00Z");
        for source in [FxSource::Dunamu, FxSource::Erapi] {
            assert_eq!(
                source.fresh_until(fri, LIMIT_26H),
                at("2026-12-05T17:00:00Z")
            );
        }
    }

    /// Wednesday's ECB rate is superseded on Thursday; Friday's is the latest until Monday's
    /// publication.
    #[test]
    fn an_ecb_rate_counts_working_days_only() {
        let f = FxSource::Frankfurter;
        assert_eq!(
            f.fresh_until(at("2026-12-02T15:00:00Z"), LIMIT_26H),
            at("2026-12-03T17:00:00Z")
        );
        assert_eq!(
            f.fresh_until(at("2026-12-04T15:00:00Z"), LIMIT_26H),
            at("2026-12-07T17:00:00Z")
        );
        // A rate dated on a weekend starts counting on Monday.
        assert_eq!(
            f.fresh_until(at("2026-12-05T15:00:00Z"), DAY),
            at("2026-12-08T00:00:00Z")
        );
    }

    #[test]
    fn an_ecb_rate_spans_the_target_holidays() {
        let f = FxSource::Frankfurter;
        // Easter 2026 is 5 April: Thursday's rate holds over Good Friday to Easter Monday.
        assert_eq!(
            f.fresh_until(at("2026-04-02T15:00:00Z"), LIMIT_26H),
            at("2026-04-07T17:00:00Z")
        );
        // 24 December 2026 is a Thursday; 25 and 26 December and the weekend are closed.
        assert_eq!(
            f.fresh_until(at("2026-12-24T15:00:00Z"), LIMIT_26H),
            at("2026-12-28T17:00:00Z")
        );
        // 1 January and 1 May.
        assert!(!ecb_working_day("2027-01-01".parse().unwrap()));
        assert!(!ecb_working_day("2025-05-01".parse().unwrap()));
        assert!(ecb_working_day("2025-05-02".parse().unwrap()));
        // Easter 2025 is 20 April, 2027 is 28 March.
        for d in ["2025-04-18", "2025-04-21", "2027-03-26", "2027-03-29"] {
            assert!(!ecb_working_day(d.parse().unwrap()), "{d}");
        }
        assert!(ecb_working_day("2027-03-30".parse().unwrap()));
    }

    #[test]
    fn a_rate_is_fresh_up_to_its_limit_and_says_how_long_that_is() {
        let rate = FxRate {
            source: FxSource::Frankfurter,
            usd_krw: Price::parse("1400").unwrap(),
            observed_at: at("2026-12-04T15:00:00Z"),
            fetched_at: at("2026-12-04T15:05:00Z"),
        };
        assert_eq!(rate.limit_ms(LIMIT_26H), (72 + 2) * 3_600_000);
        assert!(rate.is_fresh(LIMIT_26H, at("2026-12-07T16:59:59Z")));
        assert!(!rate.is_fresh(LIMIT_26H, at("2026-12-07T17:00:01Z")));
        let dunamu = FxRate {
            source: FxSource::Dunamu,
            ..rate
        };
        assert!(!dunamu.is_fresh(LIMIT_26H, at("2026-12-07T16:59:59Z")));
    }

    #[test]
    fn an_unknown_source_lists_the_known_ones() {
        assert_eq!(
            "ecb".parse::<FxSource>().unwrap_err(),
            "unknown FX source `ecb`: expected one of dunamu, erapi, frankfurter"
        );
        for s in FxSource::ALL {
            assert_eq!(s.as_str().parse::<FxSource>().unwrap(), s);
        }
    }
}
