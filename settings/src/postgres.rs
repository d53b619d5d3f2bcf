//! PostgreSQL, where the history is kept: `database_url` (a top-level field of `Settings`), its
//! default and its check.

use crate::error::{SettingsError, invalid};

pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/premium_spread";

pub(crate) fn validate_url(url: &str) -> Result<(), SettingsError> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return invalid("database_url must start with postgres://");
    }
    Ok(())
}
