//! The fault switches of `POST /_sim/faults`: one [`FaultSpec`] per prefix, checked and
//! resolved here. A leaf: the shared state stores them, [`crate::faulted`] applies them.

use poem::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::prefix::{self, Prefix};

/// The longest `latency_ms` accepted.
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
    /// The venue keeps serving its last snapshot, timestamps included: the first answer to
    /// each path and query after the switch is replayed until the freeze is lifted.
    #[serde(default)]
    pub freeze: bool,
    /// `true` (every coin) or a coin: the venue's book of it is empty (both sides), on every
    /// book path and in the tickers' best bid/ask; the price stays.
    #[serde(default)]
    pub empty_book: ZeroPriceField,
    #[serde(skip)]
    pub zero: ZeroPrice,
    /// `empty_book`, resolved.
    #[serde(skip)]
    pub no_book: ZeroPrice,
}

/// One answer kept by a `freeze`: replayed as it was (status, headers, body).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub status: StatusCode,
    pub headers: poem::http::HeaderMap,
    pub body: Vec<u8>,
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
        self.no_book = match &self.empty_book {
            ZeroPriceField::Coin(c) => ZeroPrice::Coin(c.to_ascii_uppercase()),
            ZeroPriceField::Flag(true) => ZeroPrice::All,
            ZeroPriceField::Flag(false) => ZeroPrice::None,
        };
        Ok((prefix, self))
    }
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
    fn empty_book_accepts_a_flag_or_a_coin() {
        let one = spec(serde_json::json!({"venue": "upbit", "empty_book": "xrp"})).unwrap();
        assert_eq!(one.1.no_book, ZeroPrice::Coin("XRP".into()));
        assert_eq!(one.1.zero, ZeroPrice::None, "the price stays");
        let all = spec(serde_json::json!({"venue": "upbit", "empty_book": true})).unwrap();
        assert_eq!(all.1.no_book, ZeroPrice::All);
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
