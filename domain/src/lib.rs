//! The domain of premium-spread, free of I/O.
//!
//! Everything that talks to a network or a database depends on this crate, never the other way
//! round. Types are parsed at the boundary: a [`Coin`], a [`Price`] or a [`Venue`] that exists is
//! valid. Money is [`rust_decimal::Decimal`], never `f64`.
//!
//! Layout: [`age`] (how old a premium is, FX included, and which inputs are stale), [`alert`] (premium alert rules: metric, op, threshold, hysteresis), [`venue`]
//! (exchanges and their region), [`coin`], [`price`], [`ticker`], [`fx`] (USD/KRW rates and their
//! sources), [`rate`] (the premium formula, docs/formulas.md), [`premium`] (a premium and its
//! executable rates), [`book`] (book tops, depth, funding, `at_size`), [`position`] (hedged
//! positions and their PnL), [`market`] (what venues list, mapped to coins and price units under
//! configurable mapping rules, the coin universe of each pair, and the sanity gate on premiums),
//! [`job`] (job kinds, states and failure classes shared by the worker, the queue layer and the
//! API), [`selection`] (a computation's [`Scope`](selection::Scope): which inputs a premium uses,
//! which FX rate is in force, and why a premium is skipped).

pub mod age;
pub mod alert;
pub mod book;
pub mod coin;
pub mod fx;
pub mod job;
pub mod market;
pub mod position;
pub mod premium;
pub mod price;
pub mod rate;
pub mod selection;
pub mod ticker;
pub mod venue;

pub use alert::{
    CoinFilter, DEFAULT_COOLDOWN_SECS as DEFAULT_ALERT_COOLDOWN_SECS,
    DEFAULT_HYSTERESIS as DEFAULT_ALERT_HYSTERESIS, Decision, Firing, Language, Metric, Op,
    Rule as AlertRule,
};
pub use book::{AtSize, AtSizeError, BookError, BookTop, Depth, Fill, Funding, Level, at_size};
pub use coin::{Coin, CoinError};
pub use fx::{FxRate, FxSource};
pub use job::{ErrorClass, FailureClass, JobKind, JobState};
pub use market::{
    CoinSelection, Collision, Instrument, Listing, MappingRules, MarketFlag, MarketStatus,
    Override, RefreshFailure, Registry, VenueMarkets, accept_refresh, check_selection, map_foreign,
    map_korean,
};
pub use position::{
    Contract, MAX_ENTRY_DEVIATION, Pnl, Position, PositionError, PositionSide, Units,
    entry_deviation,
};
pub use premium::{Executable, Fees, Premium, PremiumInputs};
pub use price::{Price, PriceError};
pub use rate::{PremiumError, display_rate, premium_rate};
pub use selection::{SkipCause, SkipInput, SkipReason};
pub use ticker::{OldTrade, PriceSource, Ticker};
pub use venue::{Region, Venue, VenueError, VenuePair};

/// Re-exported so downstream crates name one `Decimal`.
pub use rust_decimal::Decimal;
