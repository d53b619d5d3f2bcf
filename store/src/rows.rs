//! The rows the store writes and reads back as plain column values: [`TickerRow`] and
//! [`PremiumHistoryRow`] (what an insert writes, compact when a batch is spooled in Redis) and
//! [`PremiumRow`] (a raw premium row read back).

use chrono::{DateTime, Utc};
use domain::{Premium, Price, Ticker};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A raw premium row (tests and exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PremiumRow {
    pub ts: DateTime<Utc>,
    pub rate: Decimal,
    pub usdt_rate: Option<Decimal>,
    pub korea_krw: Decimal,
    pub foreign_usd: Decimal,
    /// KRW-USDT of the row's Korean venue (its tether premium's FX), when known.
    pub usdt_krw: Option<Decimal>,
    pub usd_krw: Decimal,
}

/// The columns of one `tickers` row: what [`Store::insert_tickers`] writes of a [`Ticker`].
/// Serializable with short names and millisecond times, so that a batch spooled in Redis during
/// a PostgreSQL outage stays small (the worker's history spool).
///
/// [`Store::insert_tickers`]: crate::Store::insert_tickers
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerRow {
    #[serde(rename = "v")]
    pub venue: String,
    #[serde(rename = "c")]
    pub coin: String,
    #[serde(rename = "p")]
    pub price: Decimal,
    #[serde(rename = "o", with = "chrono::serde::ts_milliseconds")]
    pub observed_at: DateTime<Utc>,
    #[serde(rename = "f", with = "chrono::serde::ts_milliseconds")]
    pub fetched_at: DateTime<Utc>,
}

impl From<&Ticker> for TickerRow {
    fn from(t: &Ticker) -> Self {
        TickerRow {
            venue: t.venue.to_string(),
            coin: t.coin.to_string(),
            price: t.price.value(),
            observed_at: t.observed_at,
            fetched_at: t.fetched_at,
        }
    }
}

/// The columns of one `premiums` row but its tick (`ts`, one per batch): what
/// [`Store::insert_premiums`] writes of a [`Premium`]. Compact when serialized, like
/// [`TickerRow`].
///
/// [`Store::insert_premiums`]: crate::Store::insert_premiums
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumHistoryRow {
    #[serde(rename = "c")]
    pub coin: String,
    #[serde(rename = "k")]
    pub korea: String,
    #[serde(rename = "f")]
    pub foreign: String,
    #[serde(rename = "r")]
    pub rate: Decimal,
    #[serde(rename = "ur", default, skip_serializing_if = "Option::is_none")]
    pub usdt_rate: Option<Decimal>,
    #[serde(rename = "kk")]
    pub korea_krw: Decimal,
    #[serde(rename = "fu")]
    pub foreign_usd: Decimal,
    #[serde(rename = "x")]
    pub usd_krw: Decimal,
    #[serde(rename = "xs")]
    pub fx_source: String,
    #[serde(rename = "uk", default, skip_serializing_if = "Option::is_none")]
    pub usdt_krw: Option<Decimal>,
    #[serde(rename = "o", with = "chrono::serde::ts_milliseconds")]
    pub observed_at: DateTime<Utc>,
    #[serde(rename = "t", with = "chrono::serde::ts_milliseconds")]
    pub computed_at: DateTime<Utc>,
    #[serde(rename = "en", default, skip_serializing_if = "Option::is_none")]
    pub entry_rate: Option<Decimal>,
    #[serde(rename = "ex", default, skip_serializing_if = "Option::is_none")]
    pub exit_rate: Option<Decimal>,
}

impl From<&Premium> for PremiumHistoryRow {
    fn from(p: &Premium) -> Self {
        PremiumHistoryRow {
            coin: p.inputs.coin.to_string(),
            korea: p.inputs.pair.korea.to_string(),
            foreign: p.inputs.pair.foreign.to_string(),
            rate: p.rate,
            usdt_rate: p.usdt_rate,
            korea_krw: p.inputs.korea_krw.value(),
            foreign_usd: p.inputs.foreign_usd.value(),
            usd_krw: p.inputs.usd_krw.value(),
            fx_source: p.inputs.fx_source.to_string(),
            usdt_krw: p.inputs.usdt_krw.map(Price::value),
            observed_at: p.observed_at,
            computed_at: p.computed_at,
            entry_rate: p.executable.map(|e| e.entry_rate),
            exit_rate: p.executable.map(|e| e.exit_rate),
        }
    }
}
