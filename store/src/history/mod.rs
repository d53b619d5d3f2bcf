//! The premium history, in daily partitions of raw rows with minute and hour rollups:
//!
//! - `ingest`: inserting tickers and premiums (idempotent, one statement per batch).
//! - `query`: the history query, OHLC buckets from the tier that fits ([`Store::premium_ohlc`]).
//! - `rollup`: raw rows into minutes, minutes into hours ([`Store::rollup`]).
//! - `partitions`: partitions created ahead and on demand, and retention
//!   ([`Store::maintain_history`]).
//! - `ohlc`: the OHLC SQL the rollups and the query share.
//!
//! [`Store::premium_ohlc`]: crate::Store::premium_ohlc
//! [`Store::rollup`]: crate::Store::rollup
//! [`Store::maintain_history`]: crate::Store::maintain_history

mod ingest;
mod ohlc;
pub(crate) mod partitions;
mod query;
mod rollup;

pub use partitions::{Maintained, PARTITIONS_AHEAD_DAYS, Tiers};
pub use query::{Bucket, History, HistoryQuery, Interval};
