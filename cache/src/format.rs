//! How cached values are written and read across releases.
//!
//! Every string value of the cache (ticker, depth, FX rate, premium, skip reason) is its type's
//! JSON object with one more field first, `"_v"`: the [`FORMAT`] of the release that wrote it.
//! The field is beside the value's own, not around them, so a reader ignores it: during a rolling
//! deploy, replicas of the previous release read this release's values and this release reads
//! theirs (values without `_v` are format 0, written before the field existed).
//!
//! That holds while a change of a cached type stays readable both ways: new fields optional or
//! `#[serde(default)]`, nothing renamed or retyped. A change that cannot bumps [`FORMAT`], and
//! [`decode`] must then read the previous format too until no replica writes it (values live
//! seconds, FX rates minutes).
//!
//! Fields of the per-venue and per-pair hashes (tickers, premiums, skip reasons) carry one more
//! field, `"_w"`: when the writer wrote them (Unix ms, its clock). A hash holds a field per coin
//! and its TTL is renewed by every write, so a field no longer written (a coin the venue stopped
//! answering for, a premium now skipped) would outlive the per-key TTL it replaces: [`decode_fresh`]
//! reads a field older than that TTL as absent, which is what the expired key used to be.
//!
//! A value that is present but does not decode is read as absent (the caller treats it as a
//! missing input), but never silently: it is counted
//! (`premium_cache_decode_errors_total{kind}`) and logged, at most once per [`LOG_EVERY_MS`]
//! per process, with the format that wrote it and how many more failed since the last line.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use queue::metrics_names as m;

/// The format this release writes.
pub const FORMAT: u32 = 1;

/// At most one log line per this many milliseconds about values that do not decode.
pub const LOG_EVERY_MS: i64 = 10_000;

static LAST_LOG_MS: AtomicI64 = AtomicI64::new(0);
static UNLOGGED: AtomicU64 = AtomicU64::new(0);

/// The value's JSON with `"_v":FORMAT` first.
pub fn encode<T: Serialize>(value: &T) -> String {
    stamp(&serde_json::to_string(value).expect("cache values serialize"))
}

/// `body` (a JSON object, as serialized) with `"_v":FORMAT` first.
pub fn stamp(body: &str) -> String {
    let fields = body
        .strip_prefix('{')
        .expect("cached values are JSON objects");
    let sep = if fields.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    format!("{{\"_v\":{FORMAT}{sep}{fields}")
}

/// The value's JSON with `"_v":FORMAT,"_w":written_ms` first (a field of a hash, see the module
/// doc).
pub fn encode_written<T: Serialize>(value: &T, written_ms: i64) -> String {
    stamp_written(
        &serde_json::to_string(value).expect("cache values serialize"),
        written_ms,
    )
}

/// `body` (a JSON object, as serialized) with `"_v":FORMAT,"_w":written_ms` first.
pub fn stamp_written(body: &str, written_ms: i64) -> String {
    let stamped = stamp(body);
    let rest = &stamped[format!("{{\"_v\":{FORMAT}").len()..];
    format!("{{\"_v\":{FORMAT},\"_w\":{written_ms}{rest}")
}

/// A hash field of `kind`: `None` when it was written more than `ttl_ms` before `now_ms` (what
/// the per-key TTL used to expire), otherwise as [`decode`]. A field without `_w` is judged by
/// its decoding alone.
pub fn decode_fresh<T: DeserializeOwned>(
    kind: &'static str,
    raw: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Option<T> {
    if written_at(raw).is_some_and(|w| now_ms - w > ttl_ms) {
        return None;
    }
    decode(kind, raw)
}

/// `_w` of a value this release wrote: read from the prefix it is written in, so an expired
/// field costs no parse.
fn written_at(raw: &str) -> Option<i64> {
    let rest = raw.strip_prefix("{\"_v\":")?;
    let rest = &rest[rest.find(',')? + 1..];
    let rest = rest.strip_prefix("\"_w\":")?;
    let end = rest.find([',', '}'])?;
    rest[..end].parse().ok()
}

/// A cached value of `kind` (the metric's label), or `None`, counted and logged, when it does not
/// decode.
pub fn decode<T: DeserializeOwned>(kind: &'static str, raw: &str) -> Option<T> {
    match serde_json::from_str(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            report(kind, written_by(raw), &e);
            None
        }
    }
}

/// The format a raw value says it was written in (0 without `_v`); `None` when it is not even a
/// JSON object.
fn written_by(raw: &str) -> Option<u32> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "_v", default)]
        v: u32,
    }
    serde_json::from_str::<Head>(raw).ok().map(|h| h.v)
}

fn report(kind: &'static str, written_by: Option<u32>, error: &serde_json::Error) {
    metrics::counter!(m::CACHE_DECODE_ERRORS_TOTAL, "kind" => kind).increment(1);
    let now = chrono::Utc::now().timestamp_millis();
    let last = LAST_LOG_MS.load(Ordering::Relaxed);
    if now - last < LOG_EVERY_MS
        || LAST_LOG_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        UNLOGGED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let unlogged = UNLOGGED.swap(0, Ordering::Relaxed);
    tracing::warn!(
        kind,
        written_by = ?written_by,
        reads = FORMAT,
        %error,
        failed_since_last_line = unlogged,
        "a cached value does not decode; read as absent (premium_cache_decode_errors_total)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Now {
        price: String,
        #[serde(default)]
        added: Option<u32>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Empty {}

    #[test]
    fn values_carry_the_format_first_and_read_back() {
        let v = Now {
            price: "1.5".into(),
            added: Some(2),
        };
        let raw = encode(&v);
        assert_eq!(raw, r#"{"_v":1,"price":"1.5","added":2}"#);
        assert_eq!(decode::<Now>("test", &raw), Some(v));
        assert_eq!(encode(&Empty {}), r#"{"_v":1}"#);
        assert_eq!(decode::<Empty>("test", r#"{"_v":1}"#), Some(Empty {}));
    }

    #[test]
    fn the_previous_format_and_an_additive_change_read_both_ways() {
        // Written before `_v` existed, and before `added`.
        assert_eq!(
            decode::<Now>("test", r#"{"price":"1.5"}"#),
            Some(Now {
                price: "1.5".into(),
                added: None
            })
        );
        // A newer release's value with a field this one does not know.
        assert_eq!(
            decode::<Now>("test", r#"{"_v":2,"price":"1.5","later":true}"#).map(|n| n.price),
            Some("1.5".into())
        );
    }

    #[test]
    fn hash_fields_carry_their_write_time_and_expire_by_it() {
        let v = Now {
            price: "1.5".into(),
            added: None,
        };
        let raw = encode_written(&v, 1_000);
        assert_eq!(raw, r#"{"_v":1,"_w":1000,"price":"1.5","added":null}"#);
        assert_eq!(written_at(&raw), Some(1_000));
        assert_eq!(decode_fresh::<Now>("test", &raw, 6_000, 5_000), Some(v));
        assert_eq!(decode_fresh::<Now>("test", &raw, 6_001, 5_000), None);
        assert_eq!(stamp_written("{}", 7), r#"{"_v":1,"_w":7}"#);
        // Without `_w` (a plain stamped value): judged by decoding alone.
        assert_eq!(written_at(&encode(&Empty {})), None);
        assert_eq!(
            decode_fresh::<Now>("test", r#"{"_v":1,"price":"2"}"#, i64::MAX, 0).map(|n| n.price),
            Some("2".into())
        );
    }

    #[test]
    fn what_does_not_decode_is_absent_and_says_which_format_wrote_it() {
        assert_eq!(decode::<Now>("test", r#"{"_v":1,"price":7}"#), None);
        assert_eq!(written_by(r#"{"_v":3,"price":7}"#), Some(3));
        assert_eq!(written_by(r#"{"price":7}"#), Some(0));
        assert_eq!(written_by("garbage"), None);
    }
}
