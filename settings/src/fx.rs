//! The USD/KRW sources (`fx_sources`, a top-level field of `Settings`), in fallback order: their
//! check. How fresh each must be is `[freshness]` (`freshness.rs`); the two together make the FX
//! policy (`premium.rs`).

use domain::FxSource;

use crate::error::{SettingsError, invalid};

pub(crate) fn validate(sources: &[FxSource]) -> Result<(), SettingsError> {
    if sources.is_empty() {
        return invalid(format!(
            "fx_sources is empty: give at least one of {}",
            FxSource::ALL.map(FxSource::as_str).join(", ")
        ));
    }
    Ok(())
}
