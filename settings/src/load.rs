//! Loading: the layers a `Settings` is built from, last wins: [`Settings::default`] → the TOML
//! config file → `PREMIUM_*` variables → the plain service variables (`PLAIN_ENV`); then
//! `sim_url` rewrites every upstream URL, secrets given as files are read, and the whole is
//! validated.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

use crate::{Settings, error::SettingsError, secret, urls::URL_KEYS};

/// The plain (unprefixed) variables and the key each sets.
const PLAIN_ENV: [(&str, &str); 14] = [
    ("REDIS_URL", "redis_url"),
    ("REDIS_SENTINELS", "redis_sentinels"),
    ("REDIS_MASTER_NAME", "redis_master_name"),
    ("REDIS_PASSWORD", "redis_password"),
    ("REDIS_PASSWORD_FILE", "redis_password_file"),
    ("REDIS_SENTINEL_PASSWORD", "redis_sentinel_password"),
    (
        "REDIS_SENTINEL_PASSWORD_FILE",
        "redis_sentinel_password_file",
    ),
    ("DATABASE_URL", "database_url"),
    ("API_ADDR", "api_addr"),
    ("ADMIN_TOKEN", "admin_token"),
    ("ADMIN_TOKEN_FILE", "admin_token_file"),
    ("REDIS_PREFIX", "redis_prefix"),
    ("LOG_FORMAT", "log_format"),
    ("PREMIUM_SIM_URL", "sim_url"),
];

impl Settings {
    /// Loads defaults, then `config_file` (if any), then the environment; validates.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::from_figment(Self::figment(config_file))
    }

    /// The provider chain, exposed so tests can add to it.
    pub fn figment(config_file: Option<&Path>) -> Figment {
        let mut f = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config_file {
            f = f.merge(Toml::file_exact(path));
        }
        let plain: Vec<&str> = PLAIN_ENV.iter().map(|(v, _)| *v).collect();
        f.merge(Env::prefixed("PREMIUM_").split("__").ignore(&[
            "CONFIG",
            "SIM_URL",
            "EXIT_WITH_PARENT",
        ]))
        .merge(Env::raw().only(&plain).map(|k| {
            PLAIN_ENV
                .iter()
                .find(|(v, _)| k.as_str().eq_ignore_ascii_case(v))
                .map(|(_, key)| (*key).into())
                .unwrap_or_else(|| k.as_str().to_lowercase().into())
        }))
    }

    pub fn from_figment(f: Figment) -> Result<Self, SettingsError> {
        let mut s: Settings = f.extract().map_err(|e| {
            // figment's error names the key and the provider (file or variable) it came from.
            let mut msg = String::new();
            for (i, err) in e.into_iter().enumerate() {
                if i > 0 {
                    msg.push_str("; ");
                }
                msg.push_str(&err.to_string());
            }
            SettingsError::Load(msg)
        })?;
        s.apply_sim_url();
        s.load_secret_files()?;
        s.validate()?;
        Ok(s)
    }

    fn apply_sim_url(&mut self) {
        if let Some(sim) = self.sim_url.as_deref().map(|s| s.trim_end_matches('/')) {
            let sim = sim.to_string();
            for k in URL_KEYS {
                self.urls.insert(k.to_string(), format!("{sim}/{k}"));
            }
            self.alerts.telegram_url = format!("{sim}/telegram");
        }
    }

    /// Fills every secret given as a file (`*_file`) and not given directly. A file that cannot
    /// be read or is empty fails the start with the key's name (never the secret).
    fn load_secret_files(&mut self) -> Result<(), SettingsError> {
        let trim_all: fn(&str) -> &str = str::trim;
        // A password may end in spaces: only the line ending of the file is dropped.
        let line: fn(&str) -> &str = |s| s.trim_end_matches(['\r', '\n']);
        secret::from_file(
            &mut self.admin_token,
            &self.admin_token_file,
            "admin_token_file",
            trim_all,
        )?;
        let a = &mut self.alerts;
        secret::from_file(
            &mut a.secret_key,
            &a.secret_key_file,
            "alerts.secret_key_file",
            trim_all,
        )?;
        secret::from_file(
            &mut a.telegram_bot_token,
            &a.telegram_bot_token_file,
            "alerts.telegram_bot_token_file",
            trim_all,
        )?;
        secret::from_file(
            &mut self.redis_password,
            &self.redis_password_file,
            "redis_password_file",
            line,
        )?;
        secret::from_file(
            &mut self.redis_sentinel_password,
            &self.redis_sentinel_password_file,
            "redis_sentinel_password_file",
            line,
        )
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use std::path::Path;

    use domain::{CoinSelection, Decimal};
    use figment::Jail;

    use crate::{Settings, SettingsError};

    fn load_in_jail() -> Result<Settings, SettingsError> {
        Settings::load(None)
    }

    #[test]
    fn defaults_are_valid_and_track_every_coin() {
        Jail::expect_with(|_| {
            let s = load_in_jail().unwrap();
            assert_eq!(s.coins, CoinSelection::Auto);
            assert!(s.coins_exclude.is_empty());
            assert_eq!(s.mapping.max_deviation_pct, Decimal::from(20));
            assert_eq!(
                s.mapping.aliases.get("MATIC").map(String::as_str),
                Some("POL")
            );
            assert_eq!(s.schedule.markets, "0 0 * * * *");
            assert_eq!(s.default_pair().to_string(), "upbit-binance");
            Ok(())
        });
    }

    #[test]
    fn mapping_tables_and_exclusions_come_from_the_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "coins = \"auto\"\ncoins_exclude = \"luna, USTC\"\n[mapping]\nmax_deviation_pct = \"15\"\naliases = { NEIROCTO = \"NEIRO\" }\n",
            )?;
            let s = Settings::load(Some(Path::new("p.toml"))).unwrap();
            assert_eq!(s.coins, CoinSelection::Auto);
            assert_eq!(s.coins_exclude.len(), 2);
            assert_eq!(s.mapping.max_deviation_pct, Decimal::from(15));
            assert_eq!(s.mapping.rules().alias("NEIROCTO"), "NEIRO");
            Ok(())
        });
    }

    #[test]
    fn file_then_env_override_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "coins = [\"btc\", \"eth\"]\napi_addr = \"0.0.0.0:9000\"\n[http]\ntimeout_ms = 900\n",
            )?;
            jail.set_env("PREMIUM_HTTP__TIMEOUT_MS", "1500");
            jail.set_env("REDIS_URL", "redis://127.0.0.1:6379/3");
            jail.set_env("ADMIN_TOKEN", "s3cret");
            jail.set_env("PREMIUM_API__MAX_STREAMS", "50");
            let s = Settings::load(Some(Path::new("p.toml"))).unwrap();
            assert_eq!(s.api.max_streams, 50);
            assert_eq!(s.api.stream_buffer, 1_024);
            assert!(matches!(&s.coins, CoinSelection::List(c) if c.len() == 2));
            assert_eq!(s.api_addr, "0.0.0.0:9000");
            assert_eq!(s.http.timeout_ms, 1500);
            assert_eq!(s.redis_url, "redis://127.0.0.1:6379/3");
            assert_eq!(s.admin_token.as_ref().unwrap().expose(), "s3cret");
            assert!(!format!("{s:?}").contains("s3cret"));
            Ok(())
        });
    }

    #[test]
    fn sentinel_mode_comes_from_env_with_secret_files() {
        Jail::expect_with(|jail| {
            jail.create_file("redis.pw", "m4ster\n")?;
            jail.set_env("REDIS_SENTINELS", "10.0.0.5:26379, sentinel-b:26380");
            jail.set_env("REDIS_MASTER_NAME", "premium");
            jail.set_env("REDIS_PASSWORD_FILE", "redis.pw");
            jail.set_env("REDIS_SENTINEL_PASSWORD", "s3ntinel");
            let s = Settings::load(None).unwrap();
            assert_eq!(
                s.redis_sentinel_addrs().unwrap(),
                vec![
                    ("10.0.0.5".to_string(), 26379),
                    ("sentinel-b".to_string(), 26380)
                ]
            );
            assert_eq!(s.redis_master_name.as_deref(), Some("premium"));
            assert_eq!(s.redis_password.as_ref().unwrap().expose(), "m4ster");
            assert_eq!(
                s.redis_sentinel_password.as_ref().unwrap().expose(),
                "s3ntinel"
            );
            let shown = format!("{s:?}");
            assert!(!shown.contains("m4ster") && !shown.contains("s3ntinel"));
            Ok(())
        });
    }

    #[test]
    fn comma_separated_lists_come_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env("PREMIUM_COINS", "BTC, eth ,XRP");
            jail.set_env("PREMIUM_PAIRS", "bithumb-okx");
            let s = load_in_jail().unwrap();
            assert!(matches!(&s.coins, CoinSelection::List(c) if c.len() == 3));
            assert_eq!(s.pairs[0].to_string(), "bithumb-okx");
            Ok(())
        });
    }

    #[test]
    fn sim_url_points_every_source_at_the_simulator() {
        Jail::expect_with(|jail| {
            jail.set_env("PREMIUM_SIM_URL", "http://127.0.0.1:9999/");
            let s = load_in_jail().unwrap();
            assert_eq!(s.urls["upbit"], "http://127.0.0.1:9999/upbit");
            assert_eq!(s.urls["frankfurter"], "http://127.0.0.1:9999/frankfurter");
            assert_eq!(
                s.client_config("binance").base_url,
                "http://127.0.0.1:9999/binance"
            );
            Ok(())
        });
    }

    #[test]
    fn admin_token_file_is_read_and_trimmed() {
        Jail::expect_with(|jail| {
            jail.create_file("token", "tok-123\n")?;
            jail.set_env("ADMIN_TOKEN_FILE", "token");
            let s = load_in_jail().unwrap();
            assert_eq!(s.admin_token.unwrap().expose(), "tok-123");
            Ok(())
        });
    }
}
