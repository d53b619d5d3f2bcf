//! open.er-api.com (ExchangeRate-API's free tier, daily): `GET /v6/latest/USD`.
//! Polling more often than hourly gets HTTP 429 for 20 minutes; attribution is required.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::DateTime;
use domain::{FxRate, FxSource, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, FxClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, price_field},
};

pub const BASE_URL: &str = Upstream::Fx(FxSource::Erapi).default_base_url();

const SOURCE: &str = FxSource::Erapi.as_str();
const PATH: &str = "/v6/latest/USD";
const SUCCESS: &str = "success";

/// `GET /v6/latest/USD` (fields this crate reads).
///
/// Docs: <https://www.exchangerate-api.com/docs/free>.
///
/// ```json
/// {"result":"success","time_last_update_unix":1757462551,"time_next_update_unix":1757550141,
///  "base_code":"USD","rates":{"USD":1,"KRW":1391.2}}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Latest {
    /// Seconds since the epoch.
    pub time_last_update_unix: i64,
    pub rates: HashMap<String, WireNumber>,
}

impl TryFrom<&Latest> for Quote {
    type Error = FetchError;
    fn try_from(l: &Latest) -> Result<Self, FetchError> {
        Ok(Quote {
            last_trade_at: None,
            price: price_field(SOURCE, "USD/KRW", "rates.KRW", l.rates.get("KRW"))?,
            observed_at: DateTime::from_timestamp(l.time_last_update_unix, 0).ok_or_else(|| {
                FetchError::malformed(SOURCE, "time_last_update_unix is out of range")
            })?,
        })
    }
}

/// The error body, sent with HTTP 200.
///
/// ```json
/// {"result":"error","error-type":"unsupported-code"}
/// ```
#[derive(Debug, Deserialize)]
struct Status {
    result: String,
    #[serde(rename = "error-type", default)]
    error_type: Option<String>,
}

/// `result != "success"` is an error. Permanent (unsupported code, bad key, inactive account,
/// exhausted quota) unless the error type reads like a transient condition.
fn api_error(body: &[u8]) -> Option<ApiError> {
    let s = serde_json::from_slice::<Status>(body).ok()?;
    if s.result == SUCCESS {
        return None;
    }
    let error_type = s.error_type.unwrap_or_else(|| "unknown".to_string());
    let retryable = ["rate", "too-many", "timeout", "unavailable"]
        .iter()
        .any(|t| error_type.contains(t));
    Some(ApiError::new(s.result, error_type, retryable))
}

/// open.er-api's USD/KRW client.
#[derive(Debug, Clone)]
pub struct ErapiClient {
    ep: Endpoint,
}

impl ErapiClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        ErapiClient {
            ep: Endpoint::new(SOURCE, cfg, api_error),
        }
    }
}

#[async_trait]
impl FxClient for ErapiClient {
    fn source(&self) -> FxSource {
        FxSource::Erapi
    }

    async fn fetch_usd_krw(&self) -> Result<FxRate, FetchError> {
        let body = self.ep.get(PATH, "").await?;
        let latest: Latest = self.ep.parse(&body)?;
        Ok(super::rate(FxSource::Erapi, Quote::try_from(&latest)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn krw_rate_and_update_time_are_read() {
        let l: Latest =
            serde_json::from_str(include_str!("../../tests/fixtures/erapi/ok.json")).unwrap();
        let q = Quote::try_from(&l).unwrap();
        assert_eq!(q.price.value(), dec!(1391.2));
        assert_eq!(q.observed_at.timestamp(), 1757462551);
    }

    #[test]
    fn error_results_are_permanent_unless_transient() {
        let e = api_error(br#"{"result":"error","error-type":"unsupported-code"}"#).unwrap();
        assert_eq!(e, ApiError::new("error", "unsupported-code", false));
        assert!(api_error(br#"{"result":"success","rates":{}}"#).is_none());
    }
}
