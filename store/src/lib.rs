//! premium-spread's PostgreSQL store: history (tickers, FX rates, premiums), the market
//! registry's history (`market_listings`, with validity times), positions, alert rules,
//! retention. Nothing here knows about Redis or the queue.
//!
//! The database named in `DATABASE_URL` is created if missing and `migrations/` are applied on
//! start. Every insert is one statement per tick (`UNNEST` of arrays), idempotent by primary
//! key. Queries are checked at run time (`sqlx::query`), so building needs no database.
//!
//! Layout: [`Store`] (its pool and coin-id cache) is in `handle`; each concern adds its own
//! `impl Store` block in its module.
//!
//! - `error`: [`StoreError`], and [`is_transient`] (whether a failed write is worth retrying).
//! - `rows`: the row types written and read back ([`TickerRow`], [`PremiumHistoryRow`],
//!   [`PremiumRow`]).
//! - `columns`: how values are encoded in columns ([`venue_code`], [`round_rate`]).
//! - `connect`: [`Store::connect`]: database creation, [`MIGRATOR`], first partitions.
//! - `history`: the premium history: `ingest` (inserts), `query` (the history query,
//!   [`Store::premium_ohlc`]), `rollup` (minutes and hours), `partitions` (daily partitions,
//!   retention), `ohlc` (the OHLC SQL they share).
//! - `listings`: the market registry's history. `fx`: FX rates. `positions`: positions and
//!   their idempotency keys. [`alerts`]: alert rules, firings, sealed webhook secrets.
//!
//! No module imports from a module that uses it: `error`, `rows` and `history::ohlc` import no
//! other module of the crate, `columns` and `handle` only `error`, and every module imports an
//! item from the module that defines it, never through the re-exports here.

pub mod alerts;
mod columns;
mod connect;
mod error;
mod fx;
mod handle;
mod history;
mod listings;
mod positions;
mod rows;

pub use alerts::{AlertTarget, FiringRow, NewAlertRule, SecretBox, StoredAlertRule};
pub use columns::{RATE_SCALE, round_rate, venue_code};
pub use connect::MIGRATOR;
pub use error::{SqlxError, StoreError, is_transient};
pub use handle::Store;
pub use history::{
    Bucket, History, HistoryQuery, Interval, Maintained, PARTITIONS_AHEAD_DAYS, Tiers,
};
pub use positions::{IDEMPOTENCY_TTL_HOURS, Idempotent};
pub use rows::{PremiumHistoryRow, PremiumRow, TickerRow};
