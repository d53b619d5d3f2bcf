//! Redis: how it is reached (`redis_url`, or Sentinel mode with `redis_sentinels`,
//! `redis_master_name` and the passwords) and the prefix of every key written (`redis_prefix`).
//! The keys are top-level fields of `Settings`; this module holds their defaults and checks.

use crate::{
    error::{SettingsError, invalid},
    secret::Secret,
};

pub(crate) const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";
pub(crate) const DEFAULT_PREFIX: &str = "ps";

/// The Sentinel addresses as (host, port), or which entry is not `host:port`.
pub(crate) fn sentinel_addrs(sentinels: &[String]) -> Result<Vec<(String, u16)>, String> {
    sentinels
        .iter()
        .map(|a| {
            a.rsplit_once(':')
                .filter(|(h, _)| !h.is_empty())
                .and_then(|(h, p)| Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)))
                .filter(|(_, p)| *p != 0)
                .ok_or_else(|| {
                    format!("redis_sentinels: `{a}` is not host:port, e.g. 10.0.0.5:26379")
                })
        })
        .collect()
}

/// Plain mode (`url` alone) or Sentinel mode (`sentinels` and `master_name` together, the
/// passwords only there); in both, a `redis://` or `rediss://` URL.
pub(crate) fn validate_connection(
    url: &str,
    sentinels: &[String],
    master_name: Option<&str>,
    password: Option<&Secret>,
    sentinel_password: Option<&Secret>,
) -> Result<(), SettingsError> {
    // Empty is unset (docker-compose passes `REDIS_MASTER_NAME=` when it is not given).
    let name = master_name.map(str::trim).filter(|n| !n.is_empty());
    match (sentinels.is_empty(), name) {
        (true, None) => {
            if password.is_some() || sentinel_password.is_some() {
                return invalid(
                    "redis_password and redis_sentinel_password apply to Sentinel mode (redis_sentinels); with redis_url alone put the password in the URL",
                );
            }
        }
        (true, Some(_)) => {
            return invalid(
                "redis_master_name is set but redis_sentinels is empty: give the Sentinels as host:port,host:port",
            );
        }
        (false, None) => {
            return invalid(
                "redis_sentinels is set but redis_master_name is missing: give the master name the Sentinels monitor, e.g. mymaster",
            );
        }
        (false, Some(_)) => {
            sentinel_addrs(sentinels).map_err(SettingsError::Invalid)?;
        }
    }
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return invalid("redis_url must start with redis:// or rediss://");
    }
    Ok(())
}

pub(crate) fn validate_prefix(prefix: &str) -> Result<(), SettingsError> {
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        return invalid("redis_prefix must be a non-empty word");
    }
    Ok(())
}
