//! Secrets (admin token, passwords, keys): kept out of `Debug` and serialization, read from a
//! file when given as `*_file`, and credentials masked in service URLs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{SettingsError, invalid};

/// `scheme://user:password@host/…` → `scheme://***@host/…`: a service URL fit for a message or a
/// log line (credentials in `REDIS_URL` / `DATABASE_URL` are secrets too).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// A secret string (admin token, API key): never printed by `Debug`, never serialized back.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is compared or sent, never where it is logged.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// `slot` from the file at `file` when `slot` is unset, cleaned by `clean`. A file that cannot be
/// read or is empty is an error naming the key `name` and the path (never the secret).
pub(crate) fn from_file(
    slot: &mut Option<Secret>,
    file: &Option<String>,
    name: &str,
    clean: fn(&str) -> &str,
) -> Result<(), SettingsError> {
    if slot.is_some() {
        return Ok(());
    }
    let Some(path) = file else { return Ok(()) };
    let raw = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::Invalid(format!("{name} `{path}` cannot be read: {e}")))?;
    let value = clean(&raw);
    if value.is_empty() {
        return invalid(format!("{name} `{path}` is empty"));
    }
    *slot = Some(Secret::new(value));
    Ok(())
}
