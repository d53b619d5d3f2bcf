//! Upbit spot (KRW): `GET /v1/ticker?markets=KRW-BTC,KRW-USDT`, all coins in one request.
//!
//! The wire format is shared with Bithumb's current API and lives in [`crate::krw_v1`].
//! Limits: 10 req/s per IP for the ticker group (`remaining-req` header); 429 over it, 418
//! for repeated violations.

use async_trait::async_trait;
use domain::{Coin, Venue, venue::Upstream};

use crate::{ClientConfig, FetchError, TickerBatch, VenueClient, http::Endpoint, krw_v1};

pub const BASE_URL: &str = Upstream::Venue(Venue::Upbit).default_base_url();

/// Upbit's ticker client.
#[derive(Debug, Clone)]
pub struct UpbitClient {
    ep: Endpoint,
}

impl UpbitClient {
    pub fn new(cfg: &ClientConfig) -> Self {
        UpbitClient {
            ep: Endpoint::new(Venue::Upbit.as_str(), cfg, krw_v1::api_error),
        }
    }
}

#[async_trait]
impl VenueClient for UpbitClient {
    fn venue(&self) -> Venue {
        Venue::Upbit
    }

    async fn fetch_tickers(&self, coins: &[Coin]) -> Result<TickerBatch, FetchError> {
        krw_v1::fetch(&self.ep, Venue::Upbit, coins).await
    }
}
