//! Wire types: decimals and times as JSON strings, and the enums clients see.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use domain::JobState;
use domain::{FxSource, JobKind, MarketFlag, Venue};
use poem_openapi::{
    Enum,
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use rust_decimal::Decimal;
use serde_json::Value;
use store::Interval;

/// Implements poem-openapi's `Type` for a newtype carried as a JSON string of a given format.
macro_rules! string_type {
    ($ty:ty, $name:literal, $format:literal) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", $format)))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

/// A decimal as a JSON string with its scale kept (`"1.30"`, never `1.3` or a float).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dec(pub Decimal);

string_type!(Dec, "string_decimal", "decimal");

impl ParseFromJSON for Dec {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Decimal::from_str_exact(s.trim())
                .map(Dec)
                .map_err(|_| ParseError::custom(format!("`{s}` is not a decimal number"))),
            _ => Err(ParseError::custom(
                "expected a decimal as a JSON string, e.g. \"0.5\"",
            )),
        }
    }
}

impl ToJSON for Dec {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Self {
        Dec(d)
    }
}

impl From<domain::Price> for Dec {
    fn from(p: domain::Price) -> Self {
        Dec(p.value())
    }
}

/// A decimal already in its text form (PostgreSQL's, scale kept: [`store::Bucket`]), on the
/// wire exactly like [`Dec`]: history buckets pass rates through without parsing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecText(pub String);

string_type!(DecText, "string_decimal", "decimal");

impl ParseFromJSON for DecText {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Dec::parse_from_json(value)
            .map(|d| DecText(d.0.to_string()))
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for DecText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A decimal in a request body, as received: the handler parses it so that errors name the
/// field. Documented as a decimal string; a JSON number is kept as `Err` and rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecInput(pub Result<String, Value>);

string_type!(DecInput, "string_decimal", "decimal");

impl ParseFromJSON for DecInput {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(DecInput(Ok(s))),
            Some(Value::Null) | None => Err(ParseError::custom("a decimal string is required")),
            Some(other) => Ok(DecInput(Err(other))),
        }
    }
}

impl ToJSON for DecInput {
    fn to_json(&self) -> Option<Value> {
        Some(match &self.0 {
            Ok(s) => Value::String(s.clone()),
            Err(v) => v.clone(),
        })
    }
}

impl DecInput {
    /// The decimal, or why not, naming `field`.
    pub fn parse(&self, field: &str) -> Result<Decimal, String> {
        match &self.0 {
            Ok(raw) => Decimal::from_str_exact(raw.trim())
                .map_err(|_| format!("{field}: `{raw}` is not a decimal number, e.g. \"0.5\"")),
            Err(v) => Err(format!(
                "{field}: decimals are JSON strings (\"{v}\"), not numbers, so no precision is lost"
            )),
        }
    }
}

/// An instant as RFC 3339 UTC with milliseconds (`2025-11-25T21:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub DateTime<Utc>);

string_type!(Time, "string_date-time", "date-time");

impl ParseFromJSON for Time {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Time(t.with_timezone(&Utc)))
                .map_err(|e| ParseError::custom(format!("`{s}` is not an RFC 3339 time: {e}"))),
            _ => Err(ParseError::custom("expected an RFC 3339 time string")),
        }
    }
}

impl ToJSON for Time {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(
            self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        ))
    }
}

/// The same text as [`ToJSON`] (`2025-11-22T08:30:00.123Z`), written without chrono's
/// format-string interpreter, whose cost shows on history answers of many buckets.
impl serde::Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return s.collect_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        // A leap second (nanosecond ≥ 1e9) prints as 60, like chrono.
        let nanos = t.nanosecond();
        put(17, 2, t.second() + nanos / 1_000_000_000);
        put(20, 3, (nanos % 1_000_000_000) / 1_000_000);
        s.serialize_str(std::str::from_utf8(&b).expect("ASCII digits"))
    }
}

/// `#[serde(serialize_with)]` for a field whose wire form only poem-openapi knows (an `Enum`):
/// its [`ToJSON`] value, so serde and the documented schema cannot disagree.
pub fn as_to_json<T: ToJSON, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&v.to_json(), s)
}

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Self {
        Time(t)
    }
}

impl Time {
    /// From unix milliseconds; `None` when out of range.
    pub fn from_ms(ms: i64) -> Option<Time> {
        Utc.timestamp_millis_opt(ms).single().map(Time)
    }
}

/// A supported exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum VenueName {
    Bithumb,
    Upbit,
    Binance,
    Bybit,
    Okx,
}

impl From<Venue> for VenueName {
    fn from(v: Venue) -> Self {
        match v {
            Venue::Bithumb => VenueName::Bithumb,
            Venue::Upbit => VenueName::Upbit,
            Venue::Binance => VenueName::Binance,
            Venue::Bybit => VenueName::Bybit,
            Venue::Okx => VenueName::Okx,
        }
    }
}

/// What a trader must know before acting on a premium (either leg of its pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum MarketFlagName {
    /// Korean investment warning (유의 종목).
    Warning,
    /// Korean caution alarm (주의 종목).
    Caution,
    /// Deposits of the coin are suspended on the Korean venue.
    DepositSuspended,
    /// Withdrawals of the coin are suspended on the Korean venue.
    WithdrawalSuspended,
    /// The premium sits far from its pair's median (`suspect_reason` says how far): a market
    /// event or a mapping error, served all the same.
    Suspect,
}

impl From<MarketFlag> for MarketFlagName {
    fn from(f: MarketFlag) -> Self {
        match f {
            MarketFlag::Warning => MarketFlagName::Warning,
            MarketFlag::Caution => MarketFlagName::Caution,
            MarketFlag::DepositSuspended => MarketFlagName::DepositSuspended,
            MarketFlag::WithdrawalSuspended => MarketFlagName::WithdrawalSuspended,
            MarketFlag::Suspect => MarketFlagName::Suspect,
        }
    }
}

/// Which price a premium's `korea_krw` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum PriceSourceName {
    /// The last trade, within the price freshness limit (or the venue gives no trade time).
    LastTrade,
    /// The middle of the best bid and ask: the last trade is older than the price freshness
    /// limit (an illiquid coin), so it no longer says what the coin is worth.
    BookMid,
}

impl From<domain::PriceSource> for PriceSourceName {
    fn from(s: domain::PriceSource) -> Self {
        match s {
            domain::PriceSource::LastTrade => PriceSourceName::LastTrade,
            domain::PriceSource::BookMid => PriceSourceName::BookMid,
        }
    }
}

/// A USD/KRW source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum FxSourceName {
    Dunamu,
    Erapi,
    Frankfurter,
}

impl From<FxSource> for FxSourceName {
    fn from(s: FxSource) -> Self {
        match s {
            FxSource::Dunamu => FxSourceName::Dunamu,
            FxSource::Erapi => FxSourceName::Erapi,
            FxSource::Frankfurter => FxSourceName::Frankfurter,
        }
    }
}

/// A job kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum JobKindName {
    FetchTicker,
    FetchFx,
    ComputePremium,
    RefreshMarkets,
    DeliverAlert,
    MaintainHistory,
    RollupHistory,
}

impl From<JobKind> for JobKindName {
    fn from(k: JobKind) -> Self {
        match k {
            JobKind::FetchTicker => JobKindName::FetchTicker,
            JobKind::FetchFx => JobKindName::FetchFx,
            JobKind::ComputePremium => JobKindName::ComputePremium,
            JobKind::RefreshMarkets => JobKindName::RefreshMarkets,
            JobKind::DeliverAlert => JobKindName::DeliverAlert,
            JobKind::MaintainHistory => JobKindName::MaintainHistory,
            JobKind::RollupHistory => JobKindName::RollupHistory,
        }
    }
}

impl From<JobKindName> for JobKind {
    fn from(k: JobKindName) -> Self {
        match k {
            JobKindName::FetchTicker => JobKind::FetchTicker,
            JobKindName::FetchFx => JobKind::FetchFx,
            JobKindName::ComputePremium => JobKind::ComputePremium,
            JobKindName::RefreshMarkets => JobKind::RefreshMarkets,
            JobKindName::DeliverAlert => JobKind::DeliverAlert,
            JobKindName::MaintainHistory => JobKind::MaintainHistory,
            JobKindName::RollupHistory => JobKind::RollupHistory,
        }
    }
}

/// A job's state: queued → running → done, or failed (permanent error or too late), or
/// scheduled (a retry is pending) → … → dead (every attempt failed); abandoned when no run of it
/// was alive for longer than the abandon bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum JobStateName {
    Queued,
    Scheduled,
    Running,
    Done,
    Failed,
    Dead,
    Abandoned,
}

impl From<JobState> for JobStateName {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Queued => JobStateName::Queued,
            JobState::Scheduled => JobStateName::Scheduled,
            JobState::Running => JobStateName::Running,
            JobState::Done => JobStateName::Done,
            JobState::Failed => JobStateName::Failed,
            JobState::Dead => JobStateName::Dead,
            JobState::Abandoned => JobStateName::Abandoned,
        }
    }
}

impl From<JobStateName> for JobState {
    fn from(s: JobStateName) -> Self {
        match s {
            JobStateName::Queued => JobState::Queued,
            JobStateName::Scheduled => JobState::Scheduled,
            JobStateName::Running => JobState::Running,
            JobStateName::Done => JobState::Done,
            JobStateName::Failed => JobState::Failed,
            JobStateName::Dead => JobState::Dead,
            JobStateName::Abandoned => JobState::Abandoned,
        }
    }
}

/// OHLC bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum IntervalName {
    #[oai(rename = "1s")]
    OneSecond,
    #[oai(rename = "1m")]
    OneMinute,
    #[oai(rename = "1h")]
    OneHour,
    #[oai(rename = "1d")]
    OneDay,
}

impl From<IntervalName> for Interval {
    fn from(i: IntervalName) -> Self {
        match i {
            IntervalName::OneSecond => Interval::Second,
            IntervalName::OneMinute => Interval::Minute,
            IntervalName::OneHour => Interval::Hour,
            IntervalName::OneDay => Interval::Day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn decimals_keep_their_scale_as_strings() {
        assert_eq!(
            Dec(dec!(1.30)).to_json(),
            Some(Value::String("1.30".into()))
        );
        assert!(Dec::parse_from_json(Some(serde_json::json!(0.5))).is_err());
        assert_eq!(
            Dec::parse_from_json(Some(serde_json::json!("0.50"))).unwrap(),
            Dec(dec!(0.50))
        );
    }

    #[test]
    fn times_written_by_serde_match_to_json() {
        for ms in [
            0,
            1_763_800_200_123,
            1_763_800_200_999,
            -1,
            253_402_300_799_999, // 9999-12-31T23:59:59.999Z
            253_402_300_800_000, // year 10000: chrono's form
        ] {
            let t = Time::from_ms(ms).unwrap();
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                t.to_json().unwrap(),
                "{ms}"
            );
        }
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let t = Time::from_ms(1_763_800_200_123).unwrap();
        assert_eq!(
            t.to_json(),
            Some(Value::String("2025-11-22T08:30:00.123Z".into()))
        );
    }
}
