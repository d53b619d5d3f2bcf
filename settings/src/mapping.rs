//! How venue instruments map to coins, and the sanity gate on premiums (`[mapping]`).

use std::collections::{BTreeMap, BTreeSet};

use domain::{Collision, Decimal, MappingRules, Override};
use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

/// How venue instruments map to coins (`[mapping]`), and the sanity gate. The lists default to
/// [`MappingRules::default`]: renames (MATIC → POL), the known Korean ticker collision (Upbit's
/// and Bithumb's TON is Tokamak Network), digit-led coins that are not multipliers (1INCH), the
/// stablecoins that are never premium candidates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// A pairing whose premium sits more than this many percentage points from the median
    /// premium of its pair is served flagged `suspect` with the reason; one that a power of ten
    /// brings back within this many points is refused as a unit error.
    pub max_deviation_pct: Decimal,
    /// A venue's base → the coin it is, on every venue (`{ MATIC = "POL" }`).
    pub aliases: BTreeMap<String, String>,
    /// Korean listings that are another coin than the global one of the same ticker, told apart
    /// by the venue's English name.
    pub collisions: Vec<Collision>,
    /// Digit-led bases that are coins, never a multiplier prefix.
    pub not_multipliers: BTreeSet<String>,
    pub stablecoins: BTreeSet<String>,
    /// Hand fixes: `{ venue = "bybit", symbol = "SHIB1000USDT", coin = "SHIB", multiplier = "1000" }`.
    pub overrides: Vec<Override>,
}

impl Default for Mapping {
    fn default() -> Self {
        let r = MappingRules::default();
        Mapping {
            max_deviation_pct: Decimal::from(20),
            aliases: r.aliases,
            collisions: r.collisions,
            not_multipliers: r.not_multipliers,
            stablecoins: r.stablecoins,
            overrides: r.overrides,
        }
    }
}

impl Mapping {
    pub fn rules(&self) -> MappingRules {
        MappingRules {
            aliases: self.aliases.clone(),
            collisions: self.collisions.clone(),
            not_multipliers: self.not_multipliers.clone(),
            stablecoins: self.stablecoins.clone(),
            overrides: self.overrides.clone(),
        }
    }

    /// The tables are consistent (as [`MappingRules::validate`] judges them).
    pub(crate) fn validate_rules(&self) -> Result<(), SettingsError> {
        if let Err(e) = self.rules().validate() {
            return invalid(format!("mapping: {e}"));
        }
        Ok(())
    }

    /// The sanity gate lets some deviation through.
    pub(crate) fn validate_gate(&self) -> Result<(), SettingsError> {
        if self.max_deviation_pct <= Decimal::ZERO {
            return invalid("mapping.max_deviation_pct must be positive (percentage points)");
        }
        Ok(())
    }
}
