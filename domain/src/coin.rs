//! Coin symbols.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A coin symbol such as `BTC`: 1 to 15 ASCII letters or digits, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Coin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid coin symbol `{0}`: expected 1-15 ASCII letters or digits, e.g. BTC")]
pub struct CoinError(pub String);

impl Coin {
    pub fn parse(s: &str) -> Result<Self, CoinError> {
        let t = s.trim();
        if t.is_empty() || t.len() > 15 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(CoinError(s.to_string()));
        }
        Ok(Coin(t.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The coin used as the "crypto FX" rate (KRW-USDT on a Korean venue).
    pub fn usdt() -> Self {
        Coin("USDT".to_string())
    }
}

impl fmt::Display for Coin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Coin {
    type Err = CoinError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Coin::parse(s)
    }
}

impl TryFrom<String> for Coin {
    type Error = CoinError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Coin::parse(&s)
    }
}

impl From<Coin> for String {
    fn from(c: Coin) -> String {
        c.0
    }
}

impl AsRef<str> for Coin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_upper_cased_and_validated() {
        assert_eq!(Coin::parse(" btc ").unwrap().as_str(), "BTC");
        assert_eq!(Coin::parse("1000PEPE").unwrap().as_str(), "1000PEPE");
        assert!(Coin::parse("").is_err());
        assert!(Coin::parse("BTC-USDT").is_err());
        assert!(Coin::parse("ABCDEFGHIJKLMNOP").is_err());
    }
}
