//! One venue's instrument ([`Listing`]), its trading state ([`Status`], spelled as each venue
//! spells it), an asset's names ([`AssetMeta`]), the Korean coin flags, and how a venue spells a
//! coin's symbol.

use domain::{Region, Venue};
use rust_decimal::Decimal;

use super::data::{FIRST_LISTING_MS, POOL};
use crate::hash::{fnv, mix, unit};

/// A listing's trading state, spelled per venue by [`Status::binance`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Trading,
    /// Delisted perpetual that stays in Binance's list (`SETTLING`).
    Settling,
    /// OKX `suspend`.
    Suspend,
    /// OKX `preopen` (announced, not trading yet).
    Preopen,
}

impl Status {
    pub(crate) fn trading(self) -> bool {
        self == Status::Trading
    }

    pub(crate) fn binance(self) -> &'static str {
        match self {
            Status::Trading => "TRADING",
            Status::Settling => "SETTLING",
            Status::Suspend => "TRADING_HALT",
            Status::Preopen => "PENDING_TRADING",
        }
    }

    pub(crate) fn bybit(self) -> &'static str {
        match self {
            Status::Trading => "Trading",
            Status::Settling => "Closed",
            Status::Suspend => "Delivering",
            Status::Preopen => "PreLaunch",
        }
    }

    pub(crate) fn okx(self) -> &'static str {
        match self {
            Status::Trading => "live",
            Status::Settling | Status::Suspend => "suspend",
            Status::Preopen => "preopen",
        }
    }
}

/// One instrument of one venue.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// The base as the venue spells it: `1000PEPE`, `SHIB1000`, `PEPE`, `TON`.
    pub native: String,
    /// The coin's ticker on this venue with any multiplier stripped (`PEPE`).
    pub coin: String,
    /// The asset it really is: the price-model coin it is priced from.
    pub asset: String,
    /// Coins per quoted price unit (1000 for `1000PEPEUSDT`); 1 on Korean venues and OKX.
    pub mult: Decimal,
    /// OKX contract value in coins (`ctVal`); 1 elsewhere.
    pub ct_val: Decimal,
    pub status: Status,
    pub onboard_ms: i64,
}

/// Names and per-coin Korean-side facts of an asset.
#[derive(Debug, Clone)]
pub(crate) struct AssetMeta {
    pub english: String,
    pub korean: String,
}

/// A Korean coin's flags (truth `flagged`).
pub(crate) const WARNING: &str = "warning";
pub(crate) const CAUTION: &str = "caution";
pub(crate) const DEPOSIT_SUSPENDED: &str = "deposit_suspended";

/// A venue's base symbol for `coin` at `mult` (`1000PEPE`, `1MBABYDOGE`, `SHIB1000`, `PEPE`).
pub(super) fn native_symbol(venue: Venue, coin: &str, mult: Decimal) -> String {
    if mult == Decimal::ONE || venue == Venue::Okx || venue.region() == Region::Korea {
        return coin.to_string();
    }
    let m = mult.normalize().to_string();
    if venue == Venue::Binance && m == "1000000" && coin == "BABYDOGE" {
        return format!("1M{coin}");
    }
    format!("{m}{coin}")
}

/// A trading one-to-one listing of `coin`, priced from the asset of that name.
pub(super) fn plain(native: &str, coin: &str, onboard_ms: i64) -> Listing {
    Listing {
        native: native.to_string(),
        coin: coin.to_string(),
        asset: coin.to_string(),
        mult: Decimal::ONE,
        ct_val: Decimal::ONE,
        status: Status::Trading,
        onboard_ms,
    }
}

/// A deterministic listing date between 2019-09 and 2026-01.
pub(super) fn listed_ms(coin: &str, rank: usize) -> i64 {
    let span = 6.3 * 365.0 * 86_400_000.0;
    let u = unit(mix(&[fnv(coin), 0x11]));
    let bias = (rank as f64 / POOL as f64).min(1.0);
    let days = ((u * 0.4 + bias * 0.6) * span / 86_400_000.0).floor() as i64;
    FIRST_LISTING_MS + days * 86_400_000
}

/// `PEPE` → `Pepe`: the name a coin without a known name gets.
pub(super) fn title(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
