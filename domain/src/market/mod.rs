//! Markets: what each venue lists (an [`Instrument`], as its metadata endpoint says it), which
//! coin and price unit that is (a [`Listing`]), and the per-venue set in force (a [`Registry`]).
//!
//! Venues name coins their own way: Binance quotes PEPE only as `1000PEPEUSDT` (a price per
//! 1,000 PEPE), Bybit as `SHIB1000USDT`, OKX prices one coin and puts the contract size in
//! `ctVal`, Korean venues always quote one coin. A premium compares prices of one coin, so a
//! foreign price is divided by its listing's `multiplier` before it is used.
//!
//! Submodules: [`mapping`] (instruments to listings under [`MappingRules`]), [`universe`]
//! (which coins a pair computes and a fetch requests, [`CoinSelection`], refusing a glitched
//! refresh), [`sanity`] (refusing unit errors, flagging premiums far from their pair's median),
//! [`identity`] (refusing a venue whose price of a coin is far from what its other venues agree on).

pub mod identity;
pub mod mapping;
pub mod sanity;
pub mod universe;

pub use identity::odd_venues;
pub use mapping::{Collision, MappingRules, Override, map_foreign, map_korean};
pub use sanity::{Verdict, judge};
pub use universe::{CoinSelection, accept_refresh, check_selection};

use std::{collections::BTreeMap, fmt, str::FromStr};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Coin, Venue};

/// Whether a market can be traded now, folded from each venue's own states (Binance `TRADING`
/// / `SETTLING` / …, Bybit `Trading` / `PreLaunch` / …, OKX `live` / `suspend` / `preopen`).
/// Korean venues list only trading markets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    Trading,
    /// Listed but halted or suspended (OKX `suspend`, Binance `TRADING_HALT`, Bybit `Delivering`).
    Halted,
    /// Announced, not trading yet (OKX `preopen`, Binance `PENDING_TRADING`, Bybit `PreLaunch`).
    PreOpen,
    /// Delisted but still in the venue's list (Binance `SETTLING`/`CLOSE`, Bybit `Closed`).
    Delisted,
}

impl MarketStatus {
    pub fn is_trading(self) -> bool {
        self == MarketStatus::Trading
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            MarketStatus::Trading => "trading",
            MarketStatus::Halted => "halted",
            MarketStatus::PreOpen => "pre_open",
            MarketStatus::Delisted => "delisted",
        }
    }
}

/// What a trader must know before acting on a premium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketFlag {
    /// Korean investment warning (Upbit `market_event.warning`, Bithumb `market_warning:
    /// "CAUTION"`: 유의 종목).
    Warning,
    /// Korean caution alarm (Upbit `market_event.caution.*`, Bithumb
    /// `/v1/market/virtual_asset_warning`: 주의 종목).
    Caution,
    /// Deposits of the coin are suspended on the Korean venue.
    DepositSuspended,
    /// Withdrawals of the coin are suspended on the Korean venue.
    WithdrawalSuspended,
    /// The premium sits far from its pair's median: a market event or a mapping error (two
    /// coins under one ticker); served with the reason (`Premium::suspect`), the trader decides.
    Suspect,
}

impl MarketFlag {
    pub const ALL: [MarketFlag; 5] = [
        MarketFlag::Warning,
        MarketFlag::Caution,
        MarketFlag::DepositSuspended,
        MarketFlag::WithdrawalSuspended,
        MarketFlag::Suspect,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            MarketFlag::Warning => "warning",
            MarketFlag::Caution => "caution",
            MarketFlag::DepositSuspended => "deposit_suspended",
            MarketFlag::WithdrawalSuspended => "withdrawal_suspended",
            MarketFlag::Suspect => "suspect",
        }
    }
}

impl fmt::Display for MarketFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MarketFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MarketFlag::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = MarketFlag::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown flag `{s}`: expected one of {}", names.join(", "))
            })
    }
}

/// One market of one venue exactly as its metadata endpoint describes it, before any mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub venue: Venue,
    /// The symbol a ticker request names: `KRW-BTC`, `1000PEPEUSDT`, `PEPE-USDT-SWAP`.
    pub symbol: String,
    /// The base as the venue spells it, upper-case: `BTC`, `1000PEPE`, `SHIB1000`, `PEPE`.
    pub base: String,
    pub status: MarketStatus,
    /// The venue's English name of the coin (Korean venues), used to tell apart two coins
    /// under one ticker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    /// Coins per contract (OKX `ctVal`); sizes only, the price is per coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_value: Option<Decimal>,
    /// Flags the venue publishes for this market (Korean warning/caution, suspended deposits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<MarketFlag>,
}

/// An instrument mapped to the coin it is and the unit it is priced in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The coin as premium-spread names it (after multipliers and aliases): `PEPE`, `POL`.
    pub coin: Coin,
    /// Coins per quoted price unit: 1,000 for `1000PEPEUSDT`, 1 for Korean venues and OKX. A
    /// per-coin price is the quoted price ÷ this.
    pub multiplier: Decimal,
    pub instrument: Instrument,
    /// Why this listing is not paired although its ticker matches (a known collision), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

/// One venue's listings in force, and how fresh they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueMarkets {
    pub venue: Venue,
    pub listings: Vec<Listing>,
    /// When this set was fetched (the last good refresh).
    pub refreshed_at: DateTime<Utc>,
    /// The last refresh that was refused (unparsable, or lacking most markets), if it came after
    /// the good one: the set above stayed in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<RefreshFailure>,
}

/// A refused refresh of one venue's markets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFailure {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// Every venue's markets in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub venues: BTreeMap<Venue, VenueMarkets>,
}
