//! What is compared: the venues enabled (`venues`), the (Korean, foreign) pairs of them
//! (`pairs`), and the Korean venue whose KRW-USDT price is the crypto FX (`usdt_venue`). The keys
//! are top-level fields of `Settings`; this module holds the default pairs and the checks.

use domain::{Region, Venue, VenuePair};

use crate::error::{SettingsError, invalid};

pub(crate) fn default_pairs() -> Vec<VenuePair> {
    vec![
        VenuePair::new(Venue::Upbit, Venue::Binance).expect("valid pair"),
        VenuePair::new(Venue::Bithumb, Venue::Binance).expect("valid pair"),
        VenuePair::new(Venue::Upbit, Venue::Bybit).expect("valid pair"),
        VenuePair::new(Venue::Upbit, Venue::Okx).expect("valid pair"),
    ]
}

/// At least one venue and one pair, every pair's venues enabled, and `usdt_venue` an enabled
/// Korean venue.
pub(crate) fn validate(
    venues: &[Venue],
    pairs: &[VenuePair],
    usdt_venue: Venue,
) -> Result<(), SettingsError> {
    if venues.is_empty() {
        return invalid("venues is empty: enable at least one Korean and one foreign venue");
    }
    if pairs.is_empty() {
        return invalid("pairs is empty: give at least one pair, e.g. pairs = \"upbit-binance\"");
    }
    for pair in pairs {
        for v in [pair.korea, pair.foreign] {
            if !venues.contains(&v) {
                return invalid(format!(
                    "pair `{pair}` uses venue `{v}`, which is not in venues"
                ));
            }
        }
    }
    if usdt_venue.region() != Region::Korea {
        return invalid(format!(
            "usdt_venue `{}` must be a Korean venue ({})",
            usdt_venue,
            Region::Korea.venue_names()
        ));
    }
    if !venues.contains(&usdt_venue) {
        return invalid(format!("usdt_venue `{usdt_venue}` is not in venues"));
    }
    Ok(())
}
