//! The base URL of every venue and FX source (`urls`, a top-level field of `Settings`): the keys,
//! their production defaults and the check. `sim_url` rewrites them all at load (`load.rs`).

use std::collections::BTreeMap;

use domain::venue::{UPSTREAMS, Upstream};

use crate::{
    check::is_http_url,
    error::{SettingsError, invalid},
};

/// Every base-URL key: the five venues and the three FX sources, in the order of
/// [`domain::venue::UPSTREAMS`]. These are also the simulator's path prefixes.
pub const URL_KEYS: [&str; UPSTREAMS.len()] = Upstream::NAMES;

/// Every URL key with its production base URL, from [`domain::venue::UPSTREAMS`].
pub(crate) fn defaults() -> BTreeMap<String, String> {
    UPSTREAMS
        .iter()
        .map(|u| (u.upstream.to_string(), u.default_base_url.to_string()))
        .collect()
}

/// Every key present with an `http(s)://` URL, and no other key.
pub(crate) fn validate(urls: &BTreeMap<String, String>) -> Result<(), SettingsError> {
    for k in URL_KEYS {
        match urls.get(k) {
            None => return invalid(format!("urls.{k} is missing")),
            Some(u) if !is_http_url(u) => {
                return invalid(format!(
                    "urls.{k} `{u}` must start with http:// or https://"
                ));
            }
            _ => {}
        }
    }
    if let Some(k) = urls.keys().find(|k| !URL_KEYS.contains(&k.as_str())) {
        return invalid(format!(
            "urls.{k}: unknown key, expected one of {}",
            URL_KEYS.join(", ")
        ));
    }
    Ok(())
}
