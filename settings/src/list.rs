//! The list format of settings (coins, venues, pairs, FX sources, Sentinels): a TOML array or
//! one comma-separated string, so that a list can be given in a single environment variable.
//! Used as `#[serde(with = "crate::list")]`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serializer};

/// Accepts a list or a comma-separated string of parseable items.
pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Raw::Many(v) => v,
    };
    items
        .iter()
        .map(|s| s.parse::<T>().map_err(serde::de::Error::custom))
        .collect()
}

/// Writes the list as an array of the items' display forms.
pub(crate) fn serialize<S: Serializer, T: fmt::Display>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|t| t.to_string()))
}
