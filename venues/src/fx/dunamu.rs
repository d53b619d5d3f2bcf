//! Dunamu's quotation API (Hana Bank's posted rate, re-posted many times a day):
//! `GET /v1/forex/recent?codes=FRX.KRWUSD`. Unofficial, no stated limits.

use async_trait::async_trait;
use domain::{FxRate, FxSource, venue::Upstream};
use serde::Deserialize;

use crate::{
    ClientConfig, FetchError, FxClient,
    http::{ApiError, Endpoint},
    wire::{Quote, WireNumber, millis_field, price_field},
};

pub const BASE_URL: &str = Upstream::Fx(FxSource::Dunamu).default_base_url();

const SOURCE: &str = FxSource::Dunamu.as_str();
const PATH: &str = "/v1/forex/recent";
const CODE: &str = "FRX.KRWUSD";

/// One element of `GET /v1/forex/recent?codes=FRX.KRWUSD` (fields this crate reads).
///
/// ```json
/// [{"code":"FRX.KRWUSD","currencyCode":"USD","date":"2023-08-02","time":"12:50:45",
///   "recurrenceCount":376,"basePrice":1304.5,"openingPrice":1297.0,"change":"RISE",
///   "currencyUnit":1,"provider":"하나은행","timestamp":1690948259137,
///   "modifiedAt":"2023-08-02T03:50:59.000+0000","signedChangeRate":0.0015}]
/// ```
#[derive(Debug, Deserialize)]
pub(crate) struct ForexRecent {
    pub code: String,
    /// KRW per USD (per `currencyUnit` USD, which is 1 for USD).
    #[serde(rename = "basePrice")]
    pub base_price: Option<WireNumber>,
    /// ms.
    pub timestamp: Option<WireNumber>,
}

impl TryFrom<&ForexRecent> for Quote {
    type Error = FetchError;
    fn try_from(f: &ForexRecent) -> Result<Self, FetchError> {
        Ok(Quote {
            last_trade_at: None,
            price: price_field(SOURCE, &f.code, "basePrice", f.base_price.as_ref())?,
            observed_at: millis_field(SOURCE, &f.code, "timestamp", f.timestamp.as_ref())?,
        })
    }
}

/// Dunamu has no documented error body: an unknown code is an empty array.
fn api_error(_: &[u8]) -> Option<ApiError> {
    None
}

/// Dunamu's USD/KRW client.
#[derive(Debug, Clone)]
pub struct DunamuClient {
    ep: Endpoint,
}

impl DunamuClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        DunamuClient {
            ep: Endpoint::new(SOURCE, cfg, api_error),
        }
    }
}

#[async_trait]
impl FxClient for DunamuClient {
    fn source(&self) -> FxSource {
        FxSource::Dunamu
    }

    async fn fetch_usd_krw(&self) -> Result<FxRate, FetchError> {
        let body = self.ep.get(PATH, &format!("codes={CODE}")).await?;
        let rows: Vec<ForexRecent> = self.ep.parse(&body)?;
        let row = rows
            .iter()
            .find(|r| r.code == CODE)
            .ok_or_else(|| FetchError::malformed(SOURCE, format!("no {CODE} in the response")))?;
        Ok(super::rate(FxSource::Dunamu, Quote::try_from(row)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn base_price_is_krw_per_usd() {
        let rows: Vec<ForexRecent> =
            serde_json::from_str(include_str!("../../tests/fixtures/dunamu/ok.json")).unwrap();
        let q = Quote::try_from(&rows[0]).unwrap();
        assert_eq!(q.price.value(), dec!(1304.5));
        assert_eq!(q.observed_at.timestamp_millis(), 1690948259137);
    }
}
