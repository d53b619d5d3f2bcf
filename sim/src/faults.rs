//! Switchable faults (`POST /_sim/faults`) and the endpoint wrapper that applies them.
//!
//! Order of checks per request: `outage` (503 at once), `hang` (no answer until the simulator
//! shuts down, at most an hour), `latency_ms`, `rate_limit_retry_after` (429 + `Retry-After`),
//! `error_rate` (`status`, default 503), `http_error_body` (the venue's HTTP-200 error body);
//! then the normal handler runs, with `zero_price` applied to its prices, and `malformed`
//! truncates its body. A real refused connection is not possible from inside a poem handler, so
//! `outage` is an instant 503.

use std::{sync::Arc, time::Duration};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{StatusCode, header},
};
use serde::{Deserialize, Serialize};

use crate::{
    prefix::{self, ErrorBodies, Prefix},
    routes::json_response,
    state::Sim,
};

/// The longest a `hang` holds a request when the simulator is not shut down.
const MAX_HANG: Duration = Duration::from_secs(3600);
const MAX_LATENCY_MS: u64 = 600_000;

/// `zero_price` as sent: `true`/`false`, or a coin symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ZeroPriceField {
    Flag(bool),
    Coin(String),
}

impl Default for ZeroPriceField {
    fn default() -> Self {
        ZeroPriceField::Flag(false)
    }
}

/// Which prices a `zero_price` fault zeroes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum ZeroPrice {
    #[default]
    None,
    All,
    Coin(String),
}

impl ZeroPrice {
    /// Whether the price of `symbol` is zeroed; FX sources ask with `""` and are zeroed by any
    /// `zero_price` setting.
    pub(crate) fn applies_to(&self, symbol: &str) -> bool {
        match self {
            ZeroPrice::None => false,
            ZeroPrice::All => true,
            ZeroPrice::Coin(c) => symbol.is_empty() || c == symbol,
        }
    }
}

/// The faults of one prefix. Fields left out are off; posting again replaces the whole set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultSpec {
    /// A venue or FX source name (`fx` and `prefix` are accepted too).
    #[serde(alias = "fx", alias = "prefix")]
    pub venue: String,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub hang: bool,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub rate_limit_retry_after: Option<u64>,
    #[serde(default)]
    pub malformed: bool,
    #[serde(default)]
    pub zero_price: ZeroPriceField,
    #[serde(default)]
    pub zero_coin: Option<String>,
    #[serde(default)]
    pub outage: bool,
    #[serde(default)]
    pub http_error_body: bool,
    #[serde(skip)]
    pub zero: ZeroPrice,
}

impl FaultSpec {
    /// Checks the values and resolves the prefix and the `zero_price`/`zero_coin` pair.
    pub(crate) fn validate(mut self) -> Result<(Prefix, FaultSpec), String> {
        let prefix = prefix::parse(&self.venue)?;
        self.venue = prefix.as_str().to_string();
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be within 0..=1, got {}",
                self.error_rate
            ));
        }
        if let Some(s) = self.status {
            match StatusCode::from_u16(s) {
                Ok(code) if code.is_client_error() || code.is_server_error() => {}
                _ => return Err(format!("status must be a 4xx or 5xx code, got {s}")),
            }
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!("latency_ms must be at most {MAX_LATENCY_MS}"));
        }
        let coin = self.zero_coin.as_deref().map(str::to_ascii_uppercase);
        self.zero = match (&self.zero_price, coin) {
            (ZeroPriceField::Coin(c), _) => ZeroPrice::Coin(c.to_ascii_uppercase()),
            (ZeroPriceField::Flag(_), Some(c)) => ZeroPrice::Coin(c),
            (ZeroPriceField::Flag(true), None) => ZeroPrice::All,
            (ZeroPriceField::Flag(false), None) => ZeroPrice::None,
        };
        Ok((prefix, self))
    }
}

/// Wraps one prefix's routes: counts requests and applies that prefix's faults.
pub(crate) struct Faulted<E> {
    pub prefix: Prefix,
    pub inner: E,
    pub sim: Arc<Sim>,
}

impl<E: Endpoint> Endpoint for Faulted<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        self.sim.record(self.prefix, req.original_uri().path());
        let Some(fault) = self.sim.fault(self.prefix) else {
            return Ok(self.inner.get_response(req).await);
        };
        if let Some(resp) = self.intercept(&fault).await {
            self.sim.record_fault(self.prefix);
            return Ok(resp);
        }
        let resp = self.inner.get_response(req).await;
        if fault.malformed {
            self.sim.record_fault(self.prefix);
            return Ok(garble(resp).await);
        }
        Ok(resp)
    }
}

impl<E> Faulted<E> {
    /// The fault's answer in place of the venue's, if a fault takes the request.
    async fn intercept(&self, f: &FaultSpec) -> Option<Response> {
        if f.outage {
            return Some(self.error(StatusCode::SERVICE_UNAVAILABLE));
        }
        if f.hang {
            tokio::select! {
                _ = self.sim.until_shutdown() => {}
                _ = tokio::time::sleep(MAX_HANG) => {}
            }
            return Some(self.error(StatusCode::SERVICE_UNAVAILABLE));
        }
        if f.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
        }
        if let Some(secs) = f.rate_limit_retry_after {
            let mut resp = self.error(StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, secs.to_string().parse().ok()?);
            return Some(resp);
        }
        if self.sim.roll(f.error_rate) {
            let status = f
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(self.error(status));
        }
        if f.http_error_body {
            return Some(json_response(StatusCode::OK, &self.prefix.ok_error_body()));
        }
        None
    }

    fn error(&self, status: StatusCode) -> Response {
        json_response(status, &self.prefix.status_body(status))
    }
}

/// Keeps the status and headers, cuts the body in half and appends an HTML error page, as a
/// proxy dying mid-response would.
async fn garble(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    cut.extend_from_slice(b"<html><body>502 Bad Gateway");
    let mut resp = Response::from_parts(parts, cut.into());
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<(Prefix, FaultSpec), String> {
        serde_json::from_value::<FaultSpec>(json)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn zero_price_accepts_a_flag_or_a_coin() {
        let cases = [
            (serde_json::json!({"venue": "upbit"}), ZeroPrice::None),
            (
                serde_json::json!({"venue": "upbit", "zero_price": true}),
                ZeroPrice::All,
            ),
            (
                serde_json::json!({"venue": "upbit", "zero_price": "btc"}),
                ZeroPrice::Coin("BTC".into()),
            ),
            (
                serde_json::json!({"venue": "upbit", "zero_price": true, "zero_coin": "ETH"}),
                ZeroPrice::Coin("ETH".into()),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(spec(json.clone()).unwrap().1.zero, want, "{json}");
        }
    }

    #[test]
    fn bad_specs_are_rejected() {
        for json in [
            serde_json::json!({"venue": "kraken"}),
            serde_json::json!({"venue": "upbit", "error_rate": 1.5}),
            serde_json::json!({"venue": "upbit", "status": 200}),
            serde_json::json!({"venue": "upbit", "latncy_ms": 5}),
        ] {
            assert!(spec(json.clone()).is_err(), "{json}");
        }
        assert_eq!(
            spec(serde_json::json!({"fx": "dunamu"}))
                .unwrap()
                .0
                .as_str(),
            "dunamu"
        );
    }
}
