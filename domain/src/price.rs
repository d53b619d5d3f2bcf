//! Prices: strictly positive decimals.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A strictly positive price. Zero, negative, missing and non-numeric prices never become a
/// `Price`, so they can never reach a premium (a zero Korean price would give exactly −100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Price(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("price must be positive, got {0}")]
    NotPositive(Decimal),
    #[error("price is not a number: `{0}`")]
    NotNumeric(String),
}

impl Price {
    pub fn new(value: Decimal) -> Result<Self, PriceError> {
        if value <= Decimal::ZERO {
            return Err(PriceError::NotPositive(value));
        }
        Ok(Price(value.normalize()))
    }

    /// Parses a decimal string as venues send them (`"11793.63104562"`, `"1e-3"` is rejected).
    pub fn parse(s: &str) -> Result<Self, PriceError> {
        let t = s.trim();
        let d = Decimal::from_str_exact(t)
            .or_else(|_| Decimal::from_str(t))
            .map_err(|_| PriceError::NotNumeric(s.to_string()))?;
        Price::new(d)
    }

    /// Converts a JSON float as a venue sent it. The shortest decimal that round-trips the
    /// float is used (what the venue wrote, e.g. `163248000.0` or `0.001728386`), not the
    /// float's exact binary expansion.
    pub fn from_f64(v: f64) -> Result<Self, PriceError> {
        if !v.is_finite() {
            return Err(PriceError::NotNumeric(v.to_string()));
        }
        Price::parse(&format!("{v}"))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Price {
    type Error = PriceError;
    fn try_from(d: Decimal) -> Result<Self, Self::Error> {
        Price::new(d)
    }
}

impl From<Price> for Decimal {
    fn from(p: Price) -> Decimal {
        p.0
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn only_positive_numbers_are_prices() {
        assert_eq!(
            Price::parse("11793.63104562").unwrap().value(),
            dec!(11793.63104562)
        );
        assert_eq!(
            Price::from_f64(163248000.0).unwrap().value(),
            dec!(163248000)
        );
        assert_eq!(Price::from_f64(0.1).unwrap().value(), dec!(0.1));
        assert!(matches!(Price::parse("0"), Err(PriceError::NotPositive(_))));
        assert!(matches!(
            Price::parse("0.000"),
            Err(PriceError::NotPositive(_))
        ));
        assert!(matches!(
            Price::parse("-1"),
            Err(PriceError::NotPositive(_))
        ));
        assert!(matches!(
            Price::parse("abc"),
            Err(PriceError::NotNumeric(_))
        ));
        assert!(matches!(Price::parse(""), Err(PriceError::NotNumeric(_))));
        assert!(Price::from_f64(f64::NAN).is_err());
    }

    #[test]
    fn prices_serialize_as_strings() {
        let p = Price::parse("89277.1").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"89277.1\"");
        let back: Price = serde_json::from_str("\"89277.1\"").unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<Price>("\"0\"").is_err());
    }
}
