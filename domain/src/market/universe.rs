//! Which coins premium-spread computes: the coins trading on both sides of a pair, narrowed by
//! the configured [`CoinSelection`], and which listings a ticker fetch requests.
//!
//! A refresh of a venue's markets replaces what is in force, so [`accept_refresh`] refuses an
//! answer that looks like a glitch (empty, or missing most markets): a bad answer must never
//! delist a market.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    str::FromStr,
};

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Instrument, Listing, MappingRules, Registry, VenueMarkets};
use crate::{Coin, Region, Venue, VenuePair};

impl Registry {
    /// The listings of `venue` in force (none when the venue was never refreshed).
    pub fn listings(&self, venue: Venue) -> &[Listing] {
        self.venues
            .get(&venue)
            .map_or(&[], |m| m.listings.as_slice())
    }

    /// The listing of `coin` on `venue` a premium uses: not excluded, preferring a trading one,
    /// then a per-coin price (multiplier 1), then the venue's order.
    pub fn listing(&self, venue: Venue, coin: &Coin) -> Option<&Listing> {
        self.listings(venue)
            .iter()
            .filter(|l| &l.coin == coin && l.excluded.is_none())
            .min_by_key(|l| {
                (
                    !l.instrument.status.is_trading(),
                    l.multiplier != Decimal::ONE,
                )
            })
    }

    /// The coins trading on `venue`, stablecoins and excluded listings left out.
    pub fn coins(&self, venue: Venue, rules: &MappingRules) -> BTreeSet<Coin> {
        self.listings(venue)
            .iter()
            .filter(|l| {
                l.instrument.status.is_trading()
                    && l.excluded.is_none()
                    && !rules.is_stablecoin(&l.coin)
            })
            .map(|l| l.coin.clone())
            .collect()
    }

    /// The coins trading on both venues of `pair`, stablecoins excluded.
    pub fn pair_coins(&self, pair: VenuePair, rules: &MappingRules) -> BTreeSet<Coin> {
        let foreign = self.coins(pair.foreign, rules);
        self.coins(pair.korea, rules)
            .into_iter()
            .filter(|c| foreign.contains(c))
            .collect()
    }

    /// The coins each pair computes: all its [`pair_coins`](Self::pair_coins) (`Auto`) or the
    /// listed ones among them, in the list's order (`List`), less `exclude`.
    pub fn universe(
        &self,
        pairs: &[VenuePair],
        selection: &CoinSelection,
        exclude: &[Coin],
        rules: &MappingRules,
    ) -> BTreeMap<VenuePair, Vec<Coin>> {
        pairs
            .iter()
            .map(|&pair| {
                let available = self.pair_coins(pair, rules);
                let candidates: Vec<Coin> = match selection {
                    CoinSelection::Auto => available.into_iter().collect(),
                    CoinSelection::List(list) => {
                        let mut seen = BTreeSet::new();
                        list.iter()
                            .filter(|c| available.contains(*c) && seen.insert(*c))
                            .cloned()
                            .collect()
                    }
                };
                let coins = candidates
                    .into_iter()
                    .filter(|c| !exclude.contains(c))
                    .collect();
                (pair, coins)
            })
            .collect()
    }

    /// The listings a ticker fetch of `venue` requests: the chosen listing of each of `coins`
    /// listed there, and on a Korean venue KRW-USDT (the FX leg) when listed. One per symbol.
    pub fn fetch_list(&self, venue: Venue, coins: &BTreeSet<Coin>) -> Vec<Listing> {
        let usdt = Coin::usdt();
        let fx_leg = (venue.region() == Region::Korea).then_some(&usdt);
        let mut symbols = BTreeSet::new();
        coins
            .iter()
            .chain(fx_leg)
            .filter_map(|c| self.listing(venue, c))
            .filter(|l| symbols.insert(l.instrument.symbol.clone()))
            .cloned()
            .collect()
    }

    /// Every coin listed on any venue in force, whatever its status.
    pub fn known_coins(&self) -> BTreeSet<Coin> {
        self.venues
            .values()
            .flat_map(|m| m.listings.iter().map(|l| l.coin.clone()))
            .collect()
    }
}

/// Which coins to compute: every coin a pair has (`auto`) or a fixed list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CoinSelection {
    #[default]
    Auto,
    List(Vec<Coin>),
}

impl FromStr for CoinSelection {
    type Err = String;
    /// Parses `auto` or a comma-separated list of coins, `BTC, eth`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(CoinSelection::Auto);
        }
        CoinSelection::list(s.split(','))
    }
}

impl CoinSelection {
    fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let coins = items
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Coin::parse(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if coins.is_empty() {
            return Err("empty coin selection: expected `auto` or coins such as `BTC, ETH`".into());
        }
        Ok(CoinSelection::List(coins))
    }
}

impl fmt::Display for CoinSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoinSelection::Auto => f.write_str("auto"),
            CoinSelection::List(coins) => {
                let names: Vec<&str> = coins.iter().map(Coin::as_str).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl Serialize for CoinSelection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CoinSelection::Auto => serializer.serialize_str("auto"),
            CoinSelection::List(coins) => coins.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for CoinSelection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(Vec<String>),
        }
        let raw = Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected `auto`, a comma-separated string of coins or a list of coins",
            )
        })?;
        match raw {
            Raw::Text(s) => s.parse(),
            Raw::List(items) => CoinSelection::list(items.iter().map(String::as_str)),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Levenshtein distance over bytes (coin symbols are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Checks every coin of a configured list is listed on some venue; the error names each unknown
/// coin with up to 3 closest known names.
pub fn check_selection(registry: &Registry, list: &[Coin]) -> Result<(), String> {
    let known = registry.known_coins();
    let errors: Vec<String> = list
        .iter()
        .filter(|c| !known.contains(*c))
        .map(|c| {
            let limit = 2.max(c.as_str().len() / 2);
            let mut near: Vec<(usize, &Coin)> = known
                .iter()
                .map(|k| (edit_distance(c.as_str(), k.as_str()), k))
                .filter(|(d, _)| *d <= limit)
                .collect();
            near.sort();
            let names: Vec<&str> = near.iter().take(3).map(|(_, k)| k.as_str()).collect();
            let hint = if names.is_empty() {
                String::new()
            } else {
                format!(" (closest: {})", names.join(", "))
            };
            format!("unknown coin `{c}`: not listed on any configured venue{hint}")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Below this many trading markets a shrinking refresh is accepted (a small venue may lose
/// half its markets for real).
const MIN_GUARDED: usize = 20;

/// Whether a fresh market list may replace `previous`: refused when empty, or when it has fewer
/// than half the trading markets of a previous list of at least 20.
pub fn accept_refresh(previous: Option<&VenueMarkets>, fresh: &[Instrument]) -> Result<(), String> {
    if fresh.is_empty() {
        return Err("the venue listed no markets".to_string());
    }
    let Some(previous) = previous else {
        return Ok(());
    };
    let before = previous
        .listings
        .iter()
        .filter(|l| l.instrument.status.is_trading())
        .count();
    let now = fresh.iter().filter(|i| i.status.is_trading()).count();
    if before >= MIN_GUARDED && now * 2 < before {
        return Err(format!(
            "only {now} trading markets against {before} before: fewer than half, kept the previous list"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    use super::*;
    use crate::{MarketStatus, market::map_foreign, market::map_korean};

    fn inst(venue: Venue, base: &str, status: MarketStatus) -> Instrument {
        let symbol = match venue.region() {
            Region::Korea => format!("KRW-{base}"),
            Region::Foreign => format!("{base}USDT"),
        };
        Instrument {
            venue,
            symbol,
            base: base.to_string(),
            status,
            english_name: None,
            contract_value: None,
            flags: Vec::new(),
        }
    }

    fn markets(venue: Venue, listings: Vec<Listing>) -> VenueMarkets {
        VenueMarkets {
            venue,
            listings,
            refreshed_at: Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap(),
            last_failure: None,
        }
    }

    fn coin(s: &str) -> Coin {
        Coin::parse(s).unwrap()
    }

    fn coins(names: &[&str]) -> Vec<Coin> {
        names.iter().map(|n| coin(n)).collect()
    }

    const UPBIT_BINANCE: VenuePair = VenuePair {
        korea: Venue::Upbit,
        foreign: Venue::Binance,
    };
    const UPBIT_BYBIT: VenuePair = VenuePair {
        korea: Venue::Upbit,
        foreign: Venue::Bybit,
    };

    /// Upbit lists BTC, ETH, PEPE, POL, TON (Tokamak), USDT, USDC; Binance BTC, ETH, 1000PEPE,
    /// a settling MATIC next to POL, TON (Toncoin), USDC; Bybit BTC only.
    fn registry(rules: &MappingRules) -> Registry {
        let mut upbit: Vec<Instrument> = ["BTC", "ETH", "PEPE", "POL", "TON", "USDT", "USDC"]
            .iter()
            .map(|b| inst(Venue::Upbit, b, MarketStatus::Trading))
            .collect();
        upbit[4].english_name = Some("Tokamak Network".to_string());
        let upbit = map_korean(&upbit, rules);
        let korean: BTreeSet<Coin> = upbit.iter().map(|l| l.coin.clone()).collect();
        let binance: Vec<Instrument> = [
            ("BTC", MarketStatus::Trading),
            ("ETH", MarketStatus::Trading),
            ("1000PEPE", MarketStatus::Trading),
            ("MATIC", MarketStatus::Delisted),
            ("POL", MarketStatus::Trading),
            ("TON", MarketStatus::Trading),
            ("USDC", MarketStatus::Trading),
        ]
        .iter()
        .map(|(b, s)| inst(Venue::Binance, b, *s))
        .collect();
        let binance = map_foreign(&binance, &korean, rules);
        let bybit = map_foreign(
            &[inst(Venue::Bybit, "BTC", MarketStatus::Trading)],
            &korean,
            rules,
        );
        Registry {
            venues: [
                (Venue::Upbit, markets(Venue::Upbit, upbit)),
                (Venue::Binance, markets(Venue::Binance, binance)),
                (Venue::Bybit, markets(Venue::Bybit, bybit)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn a_trading_listing_is_preferred_over_a_settling_one_of_the_same_coin() {
        let rules = MappingRules::default();
        let registry = registry(&rules);
        let pol = registry.listing(Venue::Binance, &coin("POL")).unwrap();
        assert_eq!(pol.instrument.symbol, "POLUSDT");
        assert_eq!(
            registry
                .listing(Venue::Binance, &coin("PEPE"))
                .unwrap()
                .multiplier,
            dec!(1000)
        );
        assert!(registry.listing(Venue::Bybit, &coin("ETH")).is_none());
        assert!(registry.listing(Venue::Okx, &coin("BTC")).is_none());
    }

    #[test]
    fn pairs_have_the_coins_trading_on_both_sides_without_stablecoins_or_the_collision() {
        let rules = MappingRules::default();
        let registry = registry(&rules);
        assert_eq!(
            registry.pair_coins(UPBIT_BINANCE, &rules),
            coins(&["BTC", "ETH", "PEPE", "POL"]).into_iter().collect()
        );
        // Upbit's TON is TOKAMAK, Binance's TON is Toncoin: never paired.
        assert!(
            registry
                .coins(Venue::Upbit, &rules)
                .contains(&coin("TOKAMAK"))
        );
        assert!(
            registry
                .coins(Venue::Binance, &rules)
                .contains(&coin("TON"))
        );
        assert!(!registry.coins(Venue::Upbit, &rules).contains(&coin("USDT")));
        assert_eq!(
            registry.known_coins(),
            coins(&[
                "BTC", "ETH", "PEPE", "POL", "TOKAMAK", "TON", "USDC", "USDT"
            ])
            .into_iter()
            .collect()
        );
    }

    #[test]
    fn the_universe_is_auto_or_the_listed_coins_less_the_excluded() {
        let rules = MappingRules::default();
        let registry = registry(&rules);
        let pairs = [UPBIT_BINANCE, UPBIT_BYBIT];
        let auto = registry.universe(&pairs, &CoinSelection::Auto, &[], &rules);
        assert_eq!(auto[&UPBIT_BINANCE], coins(&["BTC", "ETH", "PEPE", "POL"]));
        assert_eq!(auto[&UPBIT_BYBIT], coins(&["BTC"]));

        let list = CoinSelection::List(coins(&["PEPE", "BTC", "USDT", "PEPE", "TOKAMAK"]));
        let listed = registry.universe(&pairs, &list, &[], &rules);
        assert_eq!(listed[&UPBIT_BINANCE], coins(&["PEPE", "BTC"]));
        assert_eq!(listed[&UPBIT_BYBIT], coins(&["BTC"]));

        let excluded = registry.universe(
            &pairs,
            &CoinSelection::Auto,
            &coins(&["ETH", "BTC"]),
            &rules,
        );
        assert_eq!(excluded[&UPBIT_BINANCE], coins(&["PEPE", "POL"]));
        assert!(excluded[&UPBIT_BYBIT].is_empty());
    }

    #[test]
    fn a_korean_fetch_includes_krw_usdt_and_a_foreign_one_the_chosen_listings() {
        let rules = MappingRules::default();
        let registry = registry(&rules);
        let wanted: BTreeSet<Coin> = coins(&["BTC", "PEPE", "POL", "DOGE"]).into_iter().collect();
        let symbols = |venue| {
            registry
                .fetch_list(venue, &wanted)
                .into_iter()
                .map(|l| l.instrument.symbol)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            symbols(Venue::Upbit),
            ["KRW-BTC", "KRW-PEPE", "KRW-POL", "KRW-USDT"]
        );
        assert_eq!(
            symbols(Venue::Binance),
            ["BTCUSDT", "1000PEPEUSDT", "POLUSDT"]
        );
        assert_eq!(symbols(Venue::Bybit), ["BTCUSDT"]);
    }

    #[test]
    fn selections_parse_from_auto_a_string_or_a_list() {
        assert_eq!(
            "auto".parse::<CoinSelection>().unwrap(),
            CoinSelection::Auto
        );
        assert_eq!(
            " AUTO ".parse::<CoinSelection>().unwrap(),
            CoinSelection::Auto
        );
        assert_eq!(
            "BTC, eth".parse::<CoinSelection>().unwrap(),
            CoinSelection::List(coins(&["BTC", "ETH"]))
        );
        assert!("".parse::<CoinSelection>().is_err());
        assert!(
            "BTC, ET-H"
                .parse::<CoinSelection>()
                .unwrap_err()
                .contains("ET-H")
        );

        let from = |json: &str| serde_json::from_str::<CoinSelection>(json);
        assert_eq!(from(r#""auto""#).unwrap(), CoinSelection::Auto);
        assert_eq!(
            from(r#""BTC, eth""#).unwrap(),
            CoinSelection::List(coins(&["BTC", "ETH"]))
        );
        assert_eq!(
            from(r#"["BTC","ETH"]"#).unwrap(),
            CoinSelection::List(coins(&["BTC", "ETH"]))
        );
        assert!(from("[]").is_err());
        assert!(from("3").is_err());
        assert_eq!(CoinSelection::default(), CoinSelection::Auto);

        assert_eq!(
            serde_json::to_string(&CoinSelection::Auto).unwrap(),
            r#""auto""#
        );
        assert_eq!(
            serde_json::to_string(&CoinSelection::List(coins(&["BTC", "ETH"]))).unwrap(),
            r#"["BTC","ETH"]"#
        );
    }

    #[test]
    fn unknown_coins_are_named_with_the_closest_known_ones() {
        let mut registry = Registry::default();
        let listings = map_korean(
            &["BTC", "BTT", "ETC", "ETH", "XRP", "DOGE"]
                .map(|b| inst(Venue::Upbit, b, MarketStatus::Trading)),
            &MappingRules::default(),
        );
        registry
            .venues
            .insert(Venue::Upbit, markets(Venue::Upbit, listings));
        check_selection(&registry, &coins(&["BTC", "DOGE"])).unwrap();
        assert_eq!(
            check_selection(&registry, &coins(&["BTX", "ETH", "ZZZZZZZZ"])).unwrap_err(),
            "unknown coin `BTX`: not listed on any configured venue (closest: BTC, BTT, ETC); \
             unknown coin `ZZZZZZZZ`: not listed on any configured venue"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn a_refresh_that_is_empty_or_loses_most_markets_is_refused() {
        let many: Vec<Instrument> = (0..40)
            .map(|i| inst(Venue::Binance, &format!("C{i}"), MarketStatus::Trading))
            .collect();
        let previous = markets(
            Venue::Binance,
            map_foreign(&many, &BTreeSet::new(), &MappingRules::default()),
        );
        assert!(accept_refresh(Some(&previous), &[]).is_err());
        assert!(accept_refresh(None, &[]).is_err());
        assert!(accept_refresh(None, &many[..1]).is_ok());
        assert!(accept_refresh(Some(&previous), &many[..20]).is_ok());
        assert_eq!(
            accept_refresh(Some(&previous), &many[..19]).unwrap_err(),
            "only 19 trading markets against 40 before: fewer than half, kept the previous list"
        );
        // Listed but halted markets do not count as trading.
        let mut halted = many.clone();
        for i in &mut halted[..30] {
            i.status = MarketStatus::Halted;
        }
        assert!(
            accept_refresh(Some(&previous), &halted)
                .unwrap_err()
                .contains("only 10")
        );
        // A small venue may shrink.
        let small = markets(Venue::Binance, previous.listings[..19].to_vec());
        assert!(accept_refresh(Some(&small), &many[..2]).is_ok());
    }
}
