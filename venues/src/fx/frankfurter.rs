//! Frankfurter (ECB reference rates, published on ECB working days around 16:00 CET):
//! `GET /v1/latest?base=USD&symbols=KRW`.
//!
//! The body only has a `date`, so the observation time is that date at 15:00 UTC (16:00 CET;
//! during CEST the rate is really an hour older, which does not matter for a daily rate).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime};
use domain::{FxRate, FxSource, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, FxClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, price_field},
};

pub const BASE_URL: &str = Upstream::Fx(FxSource::Frankfurter).default_base_url();

const SOURCE: &str = FxSource::Frankfurter.as_str();
const PATH: &str = "/v1/latest";
const QUERY: &str = "base=USD&symbols=KRW";
/// 16:00 CET, when the ECB publishes.
const PUBLISHED_AT_UTC: NaiveTime = NaiveTime::from_hms_opt(15, 0, 0).expect("valid time");

/// `GET /v1/latest?base=USD&symbols=KRW`.
///
/// Docs: <https://frankfurter.dev/>.
///
/// ```json
/// {"amount":1.0,"base":"USD","date":"2024-11-25","rates":{"KRW":1398.5}}
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct Latest {
    pub date: NaiveDate,
    pub rates: HashMap<String, WireNumber>,
}

impl TryFrom<&Latest> for Quote {
    type Error = FetchError;
    fn try_from(l: &Latest) -> Result<Self, FetchError> {
        Ok(Quote {
            last_trade_at: None,
            price: price_field(SOURCE, "USD/KRW", "rates.KRW", l.rates.get("KRW"))?,
            observed_at: l.date.and_time(PUBLISHED_AT_UTC).and_utc(),
        })
    }
}

/// Frankfurter's error body, sent with a 4xx status.
///
/// ```json
/// {"message":"not found"}
/// ```
#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
}

fn api_error(body: &[u8]) -> Option<ApiError> {
    let e = serde_json::from_slice::<ErrorBody>(body).ok()?;
    Some(ApiError::new("error", e.message, false))
}

/// Frankfurter's USD/KRW client.
#[derive(Debug, Clone)]
pub struct FrankfurterClient {
    ep: Endpoint,
}

impl FrankfurterClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        FrankfurterClient {
            ep: Endpoint::new(SOURCE, cfg, api_error),
        }
    }
}

#[async_trait]
impl FxClient for FrankfurterClient {
    fn source(&self) -> FxSource {
        FxSource::Frankfurter
    }

    async fn fetch_usd_krw(&self) -> Result<FxRate, FetchError> {
        let body = self.ep.get(PATH, QUERY).await?;
        let latest: Latest = self.ep.parse(&body)?;
        Ok(super::rate(
            FxSource::Frankfurter,
            Quote::try_from(&latest)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_date_becomes_15_00_utc() {
        let l: Latest =
            serde_json::from_str(include_str!("../../tests/fixtures/frankfurter/ok.json")).unwrap();
        let q = Quote::try_from(&l).unwrap();
        assert_eq!(q.price.value(), dec!(1398.5));
        assert_eq!(q.observed_at.to_rfc3339(), "2024-11-25T15:00:00+00:00");
    }
}
