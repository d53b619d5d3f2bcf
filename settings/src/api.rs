//! The HTTP API process: where it listens (`api_addr`, a top-level field of `Settings`) and its
//! streams (`[api]`). The admin token (`admin_token`, `admin_token_file`) needs no check beyond
//! being read (see `load.rs`).

use serde::{Deserialize, Serialize};

use crate::{
    check::is_socket_addr,
    error::{SettingsError, invalid},
};

pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The HTTP API process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Premium streams (Server-Sent Events) open at once per API process; one more answers 503.
    pub max_streams: usize,
    /// Updates buffered per API process between its one Redis subscription and its streams; a
    /// stream that falls further behind is ended with a `lagged` event.
    pub stream_buffer: usize,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_streams: 2_000,
            stream_buffer: 1_024,
        }
    }
}

impl ApiSettings {
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.max_streams == 0 || self.stream_buffer == 0 {
            return invalid("api.max_streams and api.stream_buffer must be positive");
        }
        Ok(())
    }
}

pub(crate) fn validate_addr(addr: &str) -> Result<(), SettingsError> {
    if !is_socket_addr(addr) {
        return invalid(format!(
            "api_addr `{addr}` is not host:port, e.g. 127.0.0.1:8080"
        ));
    }
    Ok(())
}
