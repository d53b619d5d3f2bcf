//! `Settings::validate`: every section's checks, in one fixed order. A start reports the first
//! problem only, so the order decides which one a configuration with several is told about.

use crate::{
    Settings, alerts, api, coins, error::SettingsError, fees, fx, pairs, postgres, rate_limits,
    redis, urls,
};

impl Settings {
    /// Checks everything that deserialization cannot; the first problem is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        coins::validate_selection(&self.coins)?;
        self.mapping.validate_rules()?;
        fees::validate(&self.fees)?;
        self.depth.validate()?;
        self.mapping.validate_gate()?;
        pairs::validate(&self.venues, &self.pairs, self.usdt_venue)?;
        fx::validate(&self.fx_sources)?;
        self.schedule.validate()?;
        urls::validate(&self.urls)?;
        redis::validate_connection(
            &self.redis_url,
            &self.redis_sentinels,
            self.redis_master_name.as_deref(),
            self.redis_password.as_ref(),
            self.redis_sentinel_password.as_ref(),
        )?;
        postgres::validate_url(&self.database_url)?;
        api::validate_addr(&self.api_addr)?;
        redis::validate_prefix(&self.redis_prefix)?;
        self.http.validate()?;
        self.retry.validate()?;
        self.retention.validate_history()?;
        self.worker.validate()?;
        self.api.validate()?;
        rate_limits::validate(&self.rate_limits)?;
        self.alerts.validate()?;
        alerts::validate_public_url(self.public_url.as_deref())?;
        self.retention.validate_job_records()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use figment::Jail;

    use crate::{Secret, Settings};

    #[test]
    fn sentinel_settings_name_the_field_that_is_wrong() {
        let mut s = Settings {
            redis_sentinels: vec!["10.0.0.5".into()],
            redis_master_name: Some("premium".into()),
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("redis_sentinels") && e.contains("10.0.0.5"),
            "{e}"
        );
        s.redis_sentinels = vec!["10.0.0.5:26379".into()];
        s.redis_master_name = None;
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("redis_master_name"), "{e}");
        s.redis_sentinels.clear();
        s.redis_master_name = Some(String::new());
        s.validate()
            .expect("empty REDIS_SENTINELS and REDIS_MASTER_NAME are plain mode");
        s.redis_password = Some(Secret::new("x"));
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("redis_password"), "{e}");
    }

    fn error_for(var: &str, value: &str) -> String {
        let mut out = String::new();
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            out = Settings::load(None).unwrap_err().to_string();
            Ok(())
        });
        out
    }

    #[test]
    fn invalid_settings_fail_with_one_clear_message() {
        let cases = [
            ("PREMIUM_VENUES", "upbit,kraken", "unknown venue `kraken`"),
            ("PREMIUM_COINS", "", "empty coin selection"),
            ("PREMIUM_COINS", "BTC-USD", "invalid coin symbol"),
            (
                "PREMIUM_SCHEDULE__FX",
                "every minute",
                "schedule.fx `every minute` is not a valid cron",
            ),
            ("PREMIUM_PAIRS", "binance-upbit", "not a Korean venue"),
            (
                "PREMIUM_VENUES",
                "upbit,bybit",
                "pair `upbit-binance` uses venue `binance`",
            ),
            ("PREMIUM_FX_SOURCES", "ecb", "unknown FX source `ecb`"),
            (
                "API_ADDR",
                "localhost",
                "api_addr `localhost` is not host:port",
            ),
            (
                "PREMIUM_API__MAX_STREAMS",
                "0",
                "api.max_streams and api.stream_buffer must be positive",
            ),
            (
                "PREMIUM_RETENTION__HISTORY_DAYS",
                "30",
                "retention.history_days = 30 is no longer read: history is kept in tiers; set retention.raw_hours",
            ),
            (
                "PREMIUM_RETENTION__RAW_HOURS",
                "0",
                "retention.raw_hours and retention.minute_days must be positive",
            ),
            (
                "PREMIUM_SCHEDULE__ROLLUP",
                "each minute",
                "schedule.rollup `each minute` is not a valid cron",
            ),
        ];
        for (var, value, expected) in cases {
            let msg = error_for(var, value);
            assert!(msg.contains(expected), "{var}={value}: got `{msg}`");
            assert!(msg.starts_with("invalid settings:"), "{msg}");
        }
    }

    #[test]
    fn messages_list_the_venues_and_sources() {
        assert_eq!(
            error_for("PREMIUM_USDT_VENUE", "binance"),
            "invalid settings: usdt_venue `binance` must be a Korean venue (bithumb, upbit)"
        );
        assert_eq!(
            error_for("PREMIUM_FX_SOURCES", ""),
            "invalid settings: fx_sources is empty: give at least one of dunamu, erapi, frankfurter"
        );
    }
}
