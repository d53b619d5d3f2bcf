//! Exchanges ("venues") and the region that decides their role in a premium, and
//! [`UPSTREAMS`], the one table of every service premium-spread reads (venues and FX sources).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::FxSource;

/// Where a venue trades: Korean venues quote coins in KRW (spot), foreign venues in USDT
/// (perpetual futures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Korea,
    Foreign,
}

impl Region {
    /// The names of this region's venues, e.g. `bithumb, upbit`.
    pub fn venue_names(self) -> String {
        Venue::ALL
            .into_iter()
            .filter(|v| v.region() == self)
            .map(Venue::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
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
#[error("unknown venue `{0}`: expected one of {names}", names = Venue::ALL.map(Venue::as_str).join(", "))]
pub struct VenueError(pub String);

impl Venue {
    pub const ALL: [Venue; 5] = [
        Venue::Bithumb,
        Venue::Upbit,
        Venue::Binance,
        Venue::Bybit,
        Venue::Okx,
    ];

    pub const fn as_str(self) -> &'static str {
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

/// A service premium-spread reads from: a venue (tickers) or an FX source (USD/KRW).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Upstream {
    Venue(Venue),
    Fx(FxSource),
}

/// One row of [`UPSTREAMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamSpec {
    pub upstream: Upstream,
    /// The production base URL: scheme and host, without a trailing slash.
    pub default_base_url: &'static str,
}

/// Every upstream exactly once: the five venues, then the three FX sources.
///
/// The one list of upstreams: the settings' `urls.<key>` keys and their default URLs, the
/// clients' default base URLs and the simulator's prefixes all derive from it (the key and the
/// prefix are [`Upstream::as_str`]). A venue or FX source missing here fails to compile.
pub const UPSTREAMS: [UpstreamSpec; 8] = [
    UpstreamSpec {
        upstream: Upstream::Venue(Venue::Bithumb),
        default_base_url: "https://api.bithumb.com",
    },
    UpstreamSpec {
        upstream: Upstream::Venue(Venue::Upbit),
        default_base_url: "https://api.upbit.com",
    },
    UpstreamSpec {
        upstream: Upstream::Venue(Venue::Binance),
        default_base_url: "https://fapi.binance.com",
    },
    UpstreamSpec {
        upstream: Upstream::Venue(Venue::Bybit),
        default_base_url: "https://api.bybit.com",
    },
    UpstreamSpec {
        upstream: Upstream::Venue(Venue::Okx),
        default_base_url: "https://www.okx.com",
    },
    UpstreamSpec {
        upstream: Upstream::Fx(FxSource::Dunamu),
        default_base_url: "https://quotation-api-cdn.dunamu.com",
    },
    UpstreamSpec {
        upstream: Upstream::Fx(FxSource::Erapi),
        default_base_url: "https://open.er-api.com",
    },
    UpstreamSpec {
        upstream: Upstream::Fx(FxSource::Frankfurter),
        default_base_url: "https://api.frankfurter.dev",
    },
];

// Every venue and FX source is in the table exactly once, and nothing else is.
const _: () = {
    assert!(UPSTREAMS.len() == Venue::ALL.len() + FxSource::ALL.len());
    let mut i = 0;
    while i < Venue::ALL.len() {
        assert!(
            Upstream::Venue(Venue::ALL[i]).rows() == 1,
            "a venue is not in UPSTREAMS exactly once"
        );
        i += 1;
    }
    let mut i = 0;
    while i < FxSource::ALL.len() {
        assert!(
            Upstream::Fx(FxSource::ALL[i]).rows() == 1,
            "an FX source is not in UPSTREAMS exactly once"
        );
        i += 1;
    }
};

impl Upstream {
    /// Every upstream, in [`UPSTREAMS`] order.
    pub const ALL: [Upstream; UPSTREAMS.len()] = {
        let mut all = [UPSTREAMS[0].upstream; UPSTREAMS.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = UPSTREAMS[i].upstream;
            i += 1;
        }
        all
    };

    /// Every upstream's name, in [`UPSTREAMS`] order: the settings' URL keys and the
    /// simulator's prefixes.
    pub const NAMES: [&'static str; UPSTREAMS.len()] = {
        let mut names = [""; UPSTREAMS.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = UPSTREAMS[i].upstream.as_str();
            i += 1;
        }
        names
    };

    /// The venue's or FX source's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Upstream::Venue(v) => v.as_str(),
            Upstream::Fx(s) => s.as_str(),
        }
    }

    /// This upstream's row of [`UPSTREAMS`].
    pub const fn spec(self) -> &'static UpstreamSpec {
        let mut i = 0;
        while i < UPSTREAMS.len() {
            if self.same(UPSTREAMS[i].upstream) {
                return &UPSTREAMS[i];
            }
            i += 1;
        }
        // Unreachable: the assertion after UPSTREAMS checks every upstream has a row.
        panic!("upstream missing from UPSTREAMS")
    }

    /// The production base URL.
    pub const fn default_base_url(self) -> &'static str {
        self.spec().default_base_url
    }

    /// `==` usable in a `const` (derived `PartialEq` is not).
    const fn same(self, other: Upstream) -> bool {
        match (self, other) {
            (Upstream::Venue(a), Upstream::Venue(b)) => a as u8 == b as u8,
            (Upstream::Fx(a), Upstream::Fx(b)) => a as u8 == b as u8,
            _ => false,
        }
    }

    /// How many rows of [`UPSTREAMS`] are this upstream.
    const fn rows(self) -> usize {
        let (mut i, mut n) = (0, 0);
        while i < UPSTREAMS.len() {
            if self.same(UPSTREAMS[i].upstream) {
                n += 1;
            }
            i += 1;
        }
        n
    }
}

impl From<Venue> for Upstream {
    fn from(v: Venue) -> Self {
        Upstream::Venue(v)
    }
}

impl From<FxSource> for Upstream {
    fn from(s: FxSource) -> Self {
        Upstream::Fx(s)
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A (Korean venue, foreign venue) pair a premium is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VenuePair {
    pub korea: Venue,
    pub foreign: Venue,
}

impl VenuePair {
    /// Builds a pair, checking each side is in the right region.
    pub fn new(korea: Venue, foreign: Venue) -> Result<Self, String> {
        if korea.region() != Region::Korea {
            return Err(format!(
                "`{korea}` is not a Korean venue ({})",
                Region::Korea.venue_names()
            ));
        }
        if foreign.region() != Region::Foreign {
            return Err(format!(
                "`{foreign}` is not a foreign venue ({})",
                Region::Foreign.venue_names()
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

    #[test]
    fn errors_list_the_venues() {
        assert_eq!(
            "kraken".parse::<Venue>().unwrap_err().to_string(),
            "unknown venue `kraken`: expected one of bithumb, upbit, binance, bybit, okx"
        );
        assert_eq!(
            "binance-okx".parse::<VenuePair>().unwrap_err(),
            "`binance` is not a Korean venue (bithumb, upbit)"
        );
        assert_eq!(
            "upbit-bithumb".parse::<VenuePair>().unwrap_err(),
            "`bithumb` is not a foreign venue (binance, bybit, okx)"
        );
    }

    #[test]
    fn every_venue_and_fx_source_is_in_the_upstream_table_exactly_once() {
        let count = |u: Upstream| UPSTREAMS.iter().filter(|s| s.upstream == u).count();
        for v in Venue::ALL {
            assert_eq!(count(Upstream::Venue(v)), 1, "{v}");
        }
        for s in FxSource::ALL {
            assert_eq!(count(Upstream::Fx(s)), 1, "{s}");
        }
        assert_eq!(UPSTREAMS.len(), Venue::ALL.len() + FxSource::ALL.len());
    }

    #[test]
    fn upstreams_list_venues_then_fx_sources_with_unique_names_and_https_urls() {
        let expected: Vec<Upstream> = Venue::ALL
            .into_iter()
            .map(Upstream::from)
            .chain(FxSource::ALL.into_iter().map(Upstream::from))
            .collect();
        assert_eq!(Upstream::ALL.to_vec(), expected);
        for (i, u) in Upstream::ALL.into_iter().enumerate() {
            assert_eq!(Upstream::NAMES[i], u.as_str());
            assert_eq!(u.to_string(), u.as_str());
            assert_eq!(u.spec().upstream, u);
            let url = u.default_base_url();
            assert!(url.starts_with("https://") && !url.ends_with('/'), "{url}");
        }
        let mut names = Upstream::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), UPSTREAMS.len());
    }
}
