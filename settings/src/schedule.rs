//! When each cron source enqueues its job (`[schedule]`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use domain::JobKind;
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

/// Where a scheduled kind stands against its schedule at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between its next two fire times (1 000 for every second, 3 600 000 hourly).
    pub every_ms: i64,
    /// Its latest fire time at or before the moment asked about.
    pub last_due: DateTime<Utc>,
}

impl Schedules {
    /// The cron expression of `kind`'s source; `None` for `deliver-alert`, which alert rules
    /// enqueue.
    pub fn expr(&self, kind: JobKind) -> Option<&str> {
        Some(match kind {
            JobKind::FetchTicker => &self.ticker,
            JobKind::FetchFx => &self.fx,
            JobKind::ComputePremium => &self.premium,
            JobKind::RefreshMarkets => &self.markets,
            JobKind::MaintainHistory => &self.history,
            JobKind::RollupHistory => &self.rollup,
            JobKind::DeliverAlert => return None,
        })
    }

    /// `kind`'s cadence at `at`; `None` when it has no schedule (or, for an expression that
    /// never fires, nothing to be late against).
    pub fn cadence(&self, kind: JobKind, at: DateTime<Utc>) -> Option<Cadence> {
        let schedule = cron::Schedule::from_str(self.expr(kind)?).ok()?;
        let mut next = schedule.after(&at);
        let (a, b) = (next.next()?, next.next()?);
        // `after` is exclusive: the latest fire time at or before `at` is the one before `at`+1 ms.
        let last_due = schedule
            .after(&(at + chrono::Duration::milliseconds(1)))
            .next_back()?;
        Some(Cadence {
            every_ms: (b - a).num_milliseconds(),
            last_due,
        })
    }

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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_cadence_of_a_kind_is_its_own_schedules_interval_and_latest_fire_time() {
        let s = Schedules::default();
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 10, 30, 20).unwrap();
        let ticker = s.cadence(JobKind::FetchTicker, at).unwrap();
        assert_eq!(ticker.every_ms, 1_000);
        assert_eq!(ticker.last_due, at);
        let history = s.cadence(JobKind::MaintainHistory, at).unwrap();
        assert_eq!(history.every_ms, 3_600_000);
        assert_eq!(
            history.last_due,
            Utc.with_ymd_and_hms(2026, 1, 5, 10, 7, 0).unwrap()
        );
        let markets = s.cadence(JobKind::RefreshMarkets, at).unwrap();
        assert_eq!(
            markets.last_due,
            Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
        );
        assert_eq!(s.cadence(JobKind::DeliverAlert, at), None);
    }
}
