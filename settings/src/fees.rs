//! Taker fees per venue in basis points (`fees`, a top-level field of `Settings`): the default
//! table and its check. Their fractions for a premium are in `premium.rs`.

use std::collections::BTreeMap;

use domain::{Decimal, Venue};

use crate::error::{SettingsError, invalid};

/// Standard taker fees (no discounts, no VIP tier).
pub(crate) fn defaults() -> BTreeMap<Venue, Decimal> {
    BTreeMap::from([
        (Venue::Upbit, Decimal::new(5, 0)),
        (Venue::Bithumb, Decimal::new(25, 0)),
        (Venue::Binance, Decimal::new(5, 0)),
        (Venue::Bybit, Decimal::new(55, 1)),
        (Venue::Okx, Decimal::new(5, 0)),
    ])
}

pub(crate) fn validate(fees: &BTreeMap<Venue, Decimal>) -> Result<(), SettingsError> {
    if let Some((v, bp)) = fees
        .iter()
        .find(|(_, bp)| **bp < Decimal::ZERO || **bp >= Decimal::from(1_000))
    {
        return invalid(format!(
            "fees.{v} = {bp} bp: expected 0 ≤ fee < 1000 basis points"
        ));
    }
    Ok(())
}
