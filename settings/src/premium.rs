//! What a premium computation takes from the settings: the FX policy (sources in fallback order
//! with their freshness) and the taker fees as fractions.

use std::{collections::BTreeMap, time::Duration};

use domain::{Decimal, FxSource, Venue};

use crate::Settings;

impl Settings {
    /// The FX sources in fallback order, each with its freshness limit (what
    /// `domain::selection::pick_fx` takes).
    pub fn fx_policy(&self) -> Vec<(FxSource, Duration)> {
        self.fx_sources
            .iter()
            .map(|s| (*s, self.freshness.fx_limit(*s)))
            .collect()
    }

    /// Taker fees per venue as fractions (`5` bp → `0.0005`).
    pub fn fee_fractions(&self) -> BTreeMap<Venue, Decimal> {
        self.fees
            .iter()
            .map(|(v, bp)| (*v, *bp / Decimal::from(10_000)))
            .collect()
    }
}
