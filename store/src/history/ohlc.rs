//! The OHLC shape every history step shares, as SQL fragments (macros, so that statements
//! stay `&'static str` by `concat!`): raw rows and rolled rows read alike, and one aggregate
//! makes a bucket of them, whether a rollup writes it or an answer groups it. Also
//! [`trunc_to`], a time's bucket boundary in Rust.

use chrono::{DateTime, TimeZone, Utc};

/// `t` truncated to a multiple of `secs` seconds since the epoch.
pub(crate) fn trunc_to(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let s = t.timestamp().div_euclid(secs) * secs;
    Utc.timestamp_opt(s, 0).single().unwrap_or(t)
}

/// Raw premium rows in the shape every OHLC step reads (`n, open, high, low, close,
/// usdt_open, usdt_high, usdt_low, usdt_close, entry_close, exit_close`, after the bucket and
/// any key columns): a raw row is a bucket of one. Read by `Store::rollup` (minutes) and the
/// raw tiers of `Store::premium_ohlc`.
macro_rules! raw_ohlc_columns {
    () => {
        "1::bigint AS n, rate AS open, rate AS high, rate AS low, rate AS close,
         usdt_rate AS usdt_open, usdt_rate AS usdt_high, usdt_rate AS usdt_low,
         usdt_rate AS usdt_close, entry_rate AS entry_close, exit_rate AS exit_close"
    };
}

/// A rollup's rows (`premium_1m`, `premium_1h`) in the same shape.
macro_rules! rolled_ohlc_columns {
    () => {
        "count::bigint AS n, open, high, low, close, usdt_open, usdt_high, usdt_low,
         usdt_close, entry_close, exit_close"
    };
}

/// The OHLC of such rows, per group: rows counted, first open, highest high, lowest low, last
/// close (the USDT rate's likewise, over the rows that had one), last entry and exit. One
/// definition for the rollups (minutes from raw rows, hours from minutes) and for the history
/// answers that group (`1m`'s raw tail, `1d`), so a bucket is the same whichever way it is made.
macro_rules! ohlc_of_rows {
    () => {
        "sum(n)::bigint AS n,
         (array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
         (array_agg(close ORDER BY bucket DESC))[1] AS close,
         (array_agg(usdt_open ORDER BY bucket) FILTER (WHERE usdt_open IS NOT NULL))[1] AS usdt_open,
         max(usdt_high) AS usdt_high, min(usdt_low) AS usdt_low,
         (array_agg(usdt_close ORDER BY bucket DESC) FILTER (WHERE usdt_close IS NOT NULL))[1] AS usdt_close,
         (array_agg(entry_close ORDER BY bucket DESC) FILTER (WHERE entry_close IS NOT NULL))[1] AS entry_close,
         (array_agg(exit_close ORDER BY bucket DESC) FILTER (WHERE exit_close IS NOT NULL))[1] AS exit_close"
    };
}

pub(crate) use {ohlc_of_rows, raw_ohlc_columns, rolled_ohlc_columns};
