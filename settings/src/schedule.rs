//! When each cron source enqueues its job (`[schedule]`).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

/// Cron expressions (6 fields, seconds first, e.g. `*/1 * * * * *`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedules {
    pub ticker: String,
    pub premium: String,
    pub fx: String,
    /// `refresh-markets`: every venue's market list (listings, delistings, flags).
    pub markets: String,
    /// `maintain-history`: history partitions created ahead and dropped at retention (hourly).
    pub history: String,
    /// `rollup-history`: the closed minutes rolled into the 1-minute and 1-hour tables.
    pub rollup: String,
}

impl Default for Schedules {
    fn default() -> Self {
        Schedules {
            ticker: "*/1 * * * * *".into(),
            premium: "*/1 * * * * *".into(),
            fx: "0 */10 * * * *".into(),
            markets: "0 0 * * * *".into(),
            history: "0 7 * * * *".into(),
            rollup: "5 * * * * *".into(),
        }
    }
}

impl Schedules {
    /// Every expression parses; the first that does not is the error.
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        for (name, expr) in [
            ("schedule.ticker", &self.ticker),
            ("schedule.premium", &self.premium),
            ("schedule.fx", &self.fx),
            ("schedule.markets", &self.markets),
            ("schedule.history", &self.history),
            ("schedule.rollup", &self.rollup),
        ] {
            if let Err(e) = cron::Schedule::from_str(expr) {
                return invalid(format!(
                    "{name} `{expr}` is not a valid cron expression (6 fields, seconds first, e.g. `*/1 * * * * *`): {e}"
                ));
            }
        }
        Ok(())
    }
}
