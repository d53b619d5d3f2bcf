//! The error a start fails with when its settings cannot be loaded or are wrong.

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Load(String),
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// A validation's answer for a wrong setting: the message names the key and what is expected.
pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError::Invalid(msg.into()))
}
