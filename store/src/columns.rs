//! How domain values are encoded in the history tables' columns: venues as small codes
//! ([`venue_code`]), premium rates at a fixed scale ([`round_rate`]).

use domain::Venue;
use rust_decimal::Decimal;

use crate::error::StoreError;

/// Decimal places premium rates (percent) are stored with: 1e-8 percentage points, far below
/// any price's resolution, and much smaller on disk than an unrounded 28-digit ratio.
pub const RATE_SCALE: u32 = 8;

/// A premium rate as stored: [`RATE_SCALE`] decimal places, half away from zero.
pub fn round_rate(r: Decimal) -> Decimal {
    r.round_dp_with_strategy(
        RATE_SCALE,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    )
}

/// The stable code of a venue in the history tables (the `venues` table of the migration).
pub fn venue_code(v: Venue) -> i16 {
    match v {
        Venue::Bithumb => 1,
        Venue::Upbit => 2,
        Venue::Binance => 3,
        Venue::Bybit => 4,
        Venue::Okx => 5,
    }
}

pub(crate) fn venue_code_of(name: &str) -> Result<i16, StoreError> {
    name.parse::<Venue>()
        .map(venue_code)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}
