//! Requests per second allowed on each venue, shared by all replicas (`rate_limits`, a
//! top-level field of `Settings`): the default table and its check.

use std::collections::BTreeMap;

use domain::Venue;

use crate::error::{SettingsError, invalid};

pub(crate) fn defaults() -> BTreeMap<Venue, u32> {
    // Below each venue's documented limit (Bithumb ≤ 15/s, Upbit 10/s, Binance
    // 2400 weight/min, Bybit 600/5 s, OKX 20/2 s).
    BTreeMap::from([
        (Venue::Bithumb, 10),
        (Venue::Upbit, 8),
        (Venue::Binance, 20),
        (Venue::Bybit, 50),
        (Venue::Okx, 8),
    ])
}

pub(crate) fn validate(rate_limits: &BTreeMap<Venue, u32>) -> Result<(), SettingsError> {
    if let Some((v, _)) = rate_limits.iter().find(|(_, n)| **n == 0) {
        return invalid(format!("rate_limits.{v} must be positive"));
    }
    Ok(())
}
