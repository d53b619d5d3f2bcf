//! Writing a history answer: each bucket's JSON as its row arrives from PostgreSQL
//! ([`BucketsJson::push`], through [`BucketOut`], the rates borrowed from the row), then the
//! answer joined behind its head ([`BucketsJson::answer`], through [`history_json`]).

use store::Bucket;

use crate::{views::history::HistoryView, wire::Time};

/// The buckets of one history answer, each written as its row arrives (no owned copy of any
/// value) into one buffer.
pub(crate) struct BucketsJson {
    bytes: Vec<u8>,
    /// `ends[i]`: where bucket i ends in `bytes`.
    ends: Vec<usize>,
    /// The first bucket that could not be written.
    failed: Option<serde_json::Error>,
}

impl BucketsJson {
    /// A buffer sized up front for `buckets` buckets: growing a multi-megabyte buffer copies it
    /// and faults pages in.
    pub fn with_room_for(buckets: usize) -> Self {
        BucketsJson {
            bytes: Vec::with_capacity(buckets * 300),
            ends: Vec::new(),
            failed: None,
        }
    }

    /// Writes one bucket after the others.
    pub fn push(&mut self, b: Bucket<'_>) {
        if let Err(e) = serde_json::to_writer(&mut self.bytes, &BucketOut::from(b)) {
            self.failed.get_or_insert(e);
        }
        self.ends.push(self.bytes.len());
    }

    /// The whole answer: `head` and the buckets, oldest first (see [`history_json`]).
    pub fn answer(
        self,
        head: &HistoryView,
        newest_first: bool,
    ) -> Result<Vec<u8>, serde_json::Error> {
        match self.failed {
            Some(e) => Err(e),
            None => history_json(head, &self.bytes, &self.ends, newest_first),
        }
    }
}

/// A bucket as a history answer writes it: [`BucketView`]'s JSON, the rates borrowed from the
/// database row (PostgreSQL's text, passed through).
#[derive(serde::Serialize)]
struct BucketOut<'r> {
    start: Time,
    open: &'r str,
    high: &'r str,
    low: &'r str,
    close: &'r str,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_open: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_high: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_low: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_close: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_close: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_close: Option<&'r str>,
    count: i64,
}

impl<'r> From<Bucket<'r>> for BucketOut<'r> {
    fn from(b: Bucket<'r>) -> Self {
        BucketOut {
            start: b.start.into(),
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            usdt_open: b.usdt_open,
            usdt_high: b.usdt_high,
            usdt_low: b.usdt_low,
            usdt_close: b.usdt_close,
            entry_close: b.entry_close,
            exit_close: b.exit_close,
            count: b.count,
        }
    }
}

/// The JSON of a history answer: `head` (every field but the buckets), then the buckets'
/// objects, written one after the other into `buckets` as their rows arrived (`ends[i]`: where
/// bucket i ends), oldest first (reversed when they came newest first).
fn history_json(
    head: &HistoryView,
    buckets: &[u8],
    ends: &[usize],
    newest_first: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(512 + buckets.len() + ends.len());
    serde_json::to_writer(&mut out, head)?;
    out.pop(); // the object's closing brace: the buckets follow
    out.extend_from_slice(b",\"buckets\":[");
    let bucket = |i: usize| &buckets[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
    for k in 0..ends.len() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(bucket(if newest_first { ends.len() - 1 - k } else { k }));
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{
        views::history::BucketView,
        wire::{DecText, IntervalName},
    };

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn history_answers_written_by_serde_match_their_schema() {
        use poem_openapi::types::ToJSON;
        let bucket = |start: &str, entry: Option<&'static str>| Bucket {
            start: t(start),
            open: "1.25000000",
            high: "1.3",
            low: "-0.5",
            close: "1.2",
            usdt_open: Some("0.95"),
            usdt_high: None,
            usdt_low: Some("0.9"),
            usdt_close: None,
            entry_close: entry,
            exit_close: None,
            count: 60,
        };
        let rows = [
            bucket("2026-11-30T12:34:00.120Z", Some("1.40")),
            bucket("2026-11-30T12:35:00Z", None),
            bucket("2026-11-30T12:36:00Z", Some("-0.01")),
        ];
        let view = |buckets: Vec<BucketView>| HistoryView {
            coin: "BTC".into(),
            korea_venue: domain::Venue::Upbit.into(),
            foreign_venue: domain::Venue::Binance.into(),
            interval: IntervalName::OneMinute,
            tz: "UTC".into(),
            from: Time(t("2026-11-30T00:00:00Z")),
            to: Time(t("2026-12-01T00:00:00.999Z")),
            buckets,
        };
        let d = |s: &str| DecText(s.into());
        let schema_form = view(
            rows.iter()
                .map(|b| BucketView {
                    start: b.start.into(),
                    open: d(b.open),
                    high: d(b.high),
                    low: d(b.low),
                    close: d(b.close),
                    usdt_open: b.usdt_open.map(d),
                    usdt_high: b.usdt_high.map(d),
                    usdt_low: b.usdt_low.map(d),
                    usdt_close: b.usdt_close.map(d),
                    entry_close: b.entry_close.map(d),
                    exit_close: b.exit_close.map(d),
                    count: b.count,
                })
                .collect(),
        )
        .to_json();
        for newest_first in [false, true] {
            let mut buckets = BucketsJson::with_room_for(rows.len());
            let arrived: Vec<&Bucket> = if newest_first {
                rows.iter().rev().collect()
            } else {
                rows.iter().collect()
            };
            for b in arrived {
                buckets.push(*b);
            }
            let written = buckets.answer(&view(vec![]), newest_first).unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&written).unwrap();
            assert_eq!(Some(parsed), schema_form, "newest_first {newest_first}");
        }
        let empty = BucketsJson::with_room_for(0)
            .answer(&view(vec![]), false)
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(Some(parsed), view(vec![]).to_json());
    }
}
