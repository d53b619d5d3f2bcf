//! What a deployment tracks, computed from its settings: the venues enabled in a region, the
//! default pair, and the coins tracked on each pair.

use std::collections::BTreeMap;

use domain::{Coin, Region, Registry, Venue, VenuePair};

use crate::Settings;

impl Settings {
    /// Venues enabled in a region.
    pub fn venues_in(&self, region: Region) -> Vec<Venue> {
        self.venues
            .iter()
            .copied()
            .filter(|v| v.region() == region)
            .collect()
    }

    /// The pair the API uses when none is given.
    pub fn default_pair(&self) -> VenuePair {
        self.pairs[0]
    }

    /// The coins tracked on each configured pair, from the venues' market lists in force:
    /// `coins` (auto or the list) minus `coins_exclude`, trading on both sides.
    pub fn universe_of(&self, registry: &Registry) -> BTreeMap<VenuePair, Vec<Coin>> {
        registry.universe(
            &self.pairs,
            &self.coins,
            &self.coins_exclude,
            &self.mapping.rules(),
        )
    }
}
