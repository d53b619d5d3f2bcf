//! Exchanges ("venues") and the region that decides their role in a premium.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Where a venue trades: Korean venues quote coins in KRW (spot), foreign venues in USDT
/// (perpetual futures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Korea,
    Foreign,
}

/// A supported exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    Bithumb,
    Upbit,
    Binance,
    Bybit,
    Okx,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown venue `{0}`: expected one of bithumb, upbit, binance, bybit, okx")]
pub struct VenueError(pub String);

impl Venue {
    pub const ALL: [Venue; 5] = [
        Venue::Bithumb,
        Venue::Upbit,
        Venue::Binance,
        Venue::Bybit,
        Venue::Okx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Bithumb => "bithumb",
            Venue::Upbit => "upbit",
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
            Venue::Okx => "okx",
        }
    }

    pub fn region(self) -> Region {
        match self {
            Venue::Bithumb | Venue::Upbit => Region::Korea,
            Venue::Binance | Venue::Bybit | Venue::Okx => Region::Foreign,
        }
    }

    /// The currency prices on this venue are quoted in.
    pub fn quote(self) -> &'static str {
        match self.region() {
            Region::Korea => "KRW",
            Region::Foreign => "USDT",
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = VenueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| VenueError(s.to_string()))
    }
}

/// A (Korean venue, foreign venue) pair a premium is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VenuePair {
    pub korea: Venue,
    pub foreign: Venue,
}

impl VenuePair {
    /// Builds a pair, checking each side is in the right region.
    pub fn new(korea: Venue, foreign: Venue) -> Result<Self, String> {
        if korea.region() != Region::Korea {
            return Err(format!("`{korea}` is not a Korean venue (bithumb, upbit)"));
        }
        if foreign.region() != Region::Foreign {
            return Err(format!(
                "`{foreign}` is not a foreign venue (binance, bybit, okx)"
            ));
        }
        Ok(Self { korea, foreign })
    }
}

impl fmt::Display for VenuePair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.korea, self.foreign)
    }
}

impl FromStr for VenuePair {
    type Err = String;
    /// Parses `korea-foreign` or `korea:foreign`, e.g. `upbit-binance`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, f) = s
            .split_once(['-', ':', '/'])
            .ok_or_else(|| format!("venue pair `{s}` must look like `upbit-binance`"))?;
        let k: Venue = k.parse().map_err(|e: VenueError| e.to_string())?;
        let f: Venue = f.parse().map_err(|e: VenueError| e.to_string())?;
        VenuePair::new(k, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_parse_case_insensitively_and_round_trip() {
        for v in Venue::ALL {
            assert_eq!(v.as_str().parse::<Venue>().unwrap(), v);
            assert_eq!(v.as_str().to_uppercase().parse::<Venue>().unwrap(), v);
        }
        assert!("kraken".parse::<Venue>().is_err());
    }

    #[test]
    fn a_pair_needs_a_korean_and_a_foreign_venue() {
        assert!("upbit-binance".parse::<VenuePair>().is_ok());
        assert!("binance-upbit".parse::<VenuePair>().is_err());
        assert!("upbit-bithumb".parse::<VenuePair>().is_err());
    }
}
