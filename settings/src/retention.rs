//! How long things are kept (`[retention]`): the history tiers, the history spool, job records.

use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

/// How long things are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Not a setting: history is kept in tiers (`raw_hours`, `minute_days`, `hour_days`). Still
    /// read so that a configuration that sets it fails with a clear error instead of an unknown
    /// key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_days: Option<u32>,
    /// Raw history (1 s premium rows, their ticks, tickers), hours. Dropped by whole UTC days
    /// (`maintain-history`): a day goes once all of it is older than this.
    pub raw_hours: u32,
    /// 1-minute rollups (and FX rates), days.
    pub minute_days: u32,
    /// 1-hour rollups, days; 0 keeps them forever.
    pub hour_days: u32,
    /// Statement and lock timeout of `maintain-history`'s statements, milliseconds.
    pub maintain_timeout_ms: u64,
    /// Finished job records in Redis, seconds. Longer than any dedup window.
    pub job_records_secs: u64,
    /// A queued, scheduled or running job record untouched this long, whose task is no longer
    /// pending in its queue, is moved to `abandoned`, seconds.
    pub abandon_after_secs: u64,
    /// History batches (one failed insert of one job: a venue's tickers, a tick's premiums, an
    /// FX rate) spooled in Redis while PostgreSQL cannot take them, at most. Beyond it a new
    /// batch is dropped and counted as lost. 0 turns the spool off.
    pub spool_max_entries: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            history_days: None,
            raw_hours: 48,
            minute_days: 90,
            hour_days: 0,
            maintain_timeout_ms: 8_000,
            job_records_secs: 3_600,
            abandon_after_secs: 300,
            // 10 minutes of a 1 s cadence with five venues: 5 ticker batches + 1 premium batch
            // per second.
            spool_max_entries: 3_600,
        }
    }
}

impl Retention {
    /// The history tiers: `history_days` refused, raw and minute tiers kept a while, and
    /// `maintain-history` bounded in time.
    pub(crate) fn validate_history(&self) -> Result<(), SettingsError> {
        if let Some(days) = self.history_days {
            return invalid(format!(
                "retention.history_days = {days} is no longer read: history is kept in tiers; set retention.raw_hours (1 s rows, default 48), retention.minute_days (1 m rollups, default 90) and retention.hour_days (1 h rollups, default 0 = forever) instead"
            ));
        }
        if self.raw_hours == 0 || self.minute_days == 0 {
            return invalid(
                "retention.raw_hours and retention.minute_days must be positive (hour_days may be 0: kept)",
            );
        }
        if self.maintain_timeout_ms == 0 {
            return invalid("retention.maintain_timeout_ms must be positive");
        }
        Ok(())
    }

    /// Job records outlive the dedup window and a job's retries in place.
    pub(crate) fn validate_job_records(&self) -> Result<(), SettingsError> {
        if self.job_records_secs < 60 {
            return invalid(
                "retention.job_records_secs must be ≥ 60 (it is also the dedup window)",
            );
        }
        if self.abandon_after_secs < 60 {
            return invalid(
                "retention.abandon_after_secs must be ≥ 60 (longer than a job's retries in place)",
            );
        }
        Ok(())
    }
}
