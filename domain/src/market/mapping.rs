//! From instruments to listings: which coin a venue's market is, and in which unit it is priced.
//!
//! Symbols lie in both directions: a digit prefix is a price unit on `1000PEPE` but part of
//! the name on `1INCH`, and one ticker can name two coins (`TON` is Tokamak Network in Korea,
//! Toncoin abroad). So nothing is guessed: a multiplier is read only by an explicit rule and
//! only when the stripped coin trades in Korea, and every exception is a [`MappingRules`] entry
//! in configuration, not code.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Instrument, Listing};
use crate::{Coin, Venue};

/// A Korean listing whose ticker names another coin abroad: a Korean market of ticker `coin`
/// whose English name is `english_name` (case-insensitive) is coin `is`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collision {
    pub coin: String,
    pub english_name: String,
    pub is: String,
}

/// A hand fix: `symbol` on `venue` is `coin`, priced per `multiplier` coins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub venue: Venue,
    pub symbol: String,
    pub coin: String,
    pub multiplier: Decimal,
}

/// The configurable exceptions of symbol mapping (see `shared/notes/market-metadata.md` §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingRules {
    /// A venue's base → the coin it is, on every venue (`MATIC` → `POL`).
    pub aliases: BTreeMap<String, String>,
    /// Korean tickers that are another coin than the same ticker abroad.
    pub collisions: Vec<Collision>,
    /// Digit-led bases that are real tokens, never a multiplier (`1INCH`).
    pub not_multipliers: BTreeSet<String>,
    /// Coins that are the FX leg, never premium candidates.
    pub stablecoins: BTreeSet<String>,
    /// Hand fixes, applied before any rule.
    pub overrides: Vec<Override>,
}

fn strings<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

impl Default for MappingRules {
    fn default() -> Self {
        Self {
            aliases: [("MATIC", "POL"), ("BEAMX", "BEAM"), ("LUNA2", "LUNA")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            collisions: vec![Collision {
                coin: "TON".to_string(),
                english_name: "Tokamak Network".to_string(),
                is: "TOKAMAK".to_string(),
            }],
            not_multipliers: strings(["1INCH", "0G", "2Z", "4", "42"]),
            stablecoins: strings([
                "USDT", "USDC", "USDE", "USD1", "DAI", "FDUSD", "TUSD", "USDS", "PYUSD",
            ]),
            overrides: Vec::new(),
        }
    }
}

/// Multiplier prefixes, longest first, and the coins per price unit each means.
const PREFIXES: [(&str, i64); 7] = [
    ("1000000", 1_000_000),
    ("100000", 100_000),
    ("10000", 10_000),
    ("1000", 1_000),
    ("100", 100),
    ("10", 10),
    ("1M", 1_000_000),
];

/// Multiplier suffixes (Bybit `SHIB1000`).
const SUFFIXES: [(&str, i64); 1] = [("1000", 1_000)];

fn check_coin(what: &str, s: &str) -> Result<(), String> {
    Coin::parse(s)
        .map(|_| ())
        .map_err(|e| format!("mapping rules: {what}: {e}"))
}

impl MappingRules {
    /// Checks every entry names valid coins and that no entry contradicts another; the error
    /// names the bad entry.
    pub fn validate(&self) -> Result<(), String> {
        for (from, to) in &self.aliases {
            check_coin(&format!("alias `{from}` → `{to}`"), from)?;
            check_coin(&format!("alias `{from}` → `{to}`"), to)?;
            if from.eq_ignore_ascii_case(to) {
                return Err(format!(
                    "mapping rules: alias `{from}` → `{to}` maps a coin to itself"
                ));
            }
            if self.aliases.keys().any(|k| k.eq_ignore_ascii_case(to)) {
                return Err(format!(
                    "mapping rules: alias `{from}` → `{to}` leads to another alias: map `{from}` to the final coin"
                ));
            }
        }
        for c in &self.collisions {
            let what = format!(
                "collision `{}` / \"{}\" → `{}`",
                c.coin, c.english_name, c.is
            );
            check_coin(&what, &c.coin)?;
            check_coin(&what, &c.is)?;
            if c.english_name.trim().is_empty() {
                return Err(format!("mapping rules: {what}: the English name is empty"));
            }
            if c.coin.eq_ignore_ascii_case(&c.is) {
                return Err(format!(
                    "mapping rules: {what}: a collision must map to another coin"
                ));
            }
        }
        for s in &self.not_multipliers {
            check_coin(&format!("not_multipliers `{s}`"), s)?;
        }
        for s in &self.stablecoins {
            check_coin(&format!("stablecoins `{s}`"), s)?;
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let what = format!(
                "override {} `{}` → `{}` × {}",
                o.venue, o.symbol, o.coin, o.multiplier
            );
            check_coin(&what, &o.coin)?;
            if o.symbol.trim().is_empty() {
                return Err(format!("mapping rules: {what}: the symbol is empty"));
            }
            if o.multiplier <= Decimal::ZERO {
                return Err(format!(
                    "mapping rules: {what}: the multiplier must be positive"
                ));
            }
            if self.overrides[..i]
                .iter()
                .any(|p| p.venue == o.venue && p.symbol.eq_ignore_ascii_case(&o.symbol))
            {
                return Err(format!(
                    "mapping rules: {what}: {} `{}` is overridden twice",
                    o.venue, o.symbol
                ));
            }
        }
        Ok(())
    }

    /// The coin name `base` is an alias of, or `base` itself; upper-case.
    pub fn alias(&self, base: &str) -> String {
        let base = base.trim().to_ascii_uppercase();
        self.aliases
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&base))
            .map_or(base, |(_, v)| v.to_ascii_uppercase())
    }

    /// Whether `coin` is a stablecoin (the FX leg, never a premium candidate).
    pub fn is_stablecoin(&self, coin: &Coin) -> bool {
        self.stablecoins
            .iter()
            .any(|s| s.eq_ignore_ascii_case(coin.as_str()))
    }

    /// Whether the digit-led `base` is a real token's name.
    pub fn is_not_multiplier(&self, base: &str) -> bool {
        self.not_multipliers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(base))
    }

    fn override_for(&self, instrument: &Instrument) -> Option<&Override> {
        self.overrides.iter().find(|o| {
            o.venue == instrument.venue && o.symbol.eq_ignore_ascii_case(&instrument.symbol)
        })
    }

    fn collision_for(&self, instrument: &Instrument) -> Option<&Collision> {
        let name = instrument.english_name.as_deref()?.trim();
        self.collisions.iter().find(|c| {
            c.coin.eq_ignore_ascii_case(&instrument.base)
                && c.english_name.trim().eq_ignore_ascii_case(name)
        })
    }
}

fn listing(coin: Coin, multiplier: Decimal, instrument: &Instrument) -> Listing {
    Listing {
        coin,
        multiplier,
        instrument: instrument.clone(),
        excluded: None,
    }
}

fn overridden(instrument: &Instrument, rules: &MappingRules) -> Option<Option<Listing>> {
    rules.override_for(instrument).map(|o| {
        Coin::parse(&o.coin)
            .ok()
            .map(|c| listing(c, o.multiplier, instrument))
    })
}

/// Maps Korean instruments (always one coin per price unit): a known collision's English name
/// gives its own coin, else the alias of the base, else the base. Overrides come first; bases
/// that are not a valid [`Coin`] are skipped.
pub fn map_korean(instruments: &[Instrument], rules: &MappingRules) -> Vec<Listing> {
    instruments
        .iter()
        .filter_map(|i| {
            if let Some(o) = overridden(i, rules) {
                return o;
            }
            let name = match rules.collision_for(i) {
                Some(c) => c.is.to_ascii_uppercase(),
                None => rules.alias(&i.base),
            };
            Coin::parse(&name).ok().map(|c| listing(c, Decimal::ONE, i))
        })
        .collect()
}

/// Maps foreign instruments given the coins the Korean venues list.
///
/// Overrides first. An instrument with a `contract_value` (OKX) is priced per coin. Otherwise
/// a multiplier is read only from an explicit prefix (`1000000`, `100000`, `10000`, `1000`,
/// `100`, `10`, `1M`) or suffix (`1000`), and only when the stripped base (after aliases) is a
/// Korean coin, the full base is neither in `not_multipliers` nor a Korean coin itself, and the
/// venue does not also list the stripped base plainly (then the plain one is the coin and the
/// multiplied one stays a coin of its own name, which pairs with nothing). Aliases apply to the
/// final base; bases that are not a valid [`Coin`] are skipped.
pub fn map_foreign(
    instruments: &[Instrument],
    korean_coins: &BTreeSet<Coin>,
    rules: &MappingRules,
) -> Vec<Listing> {
    let plain: BTreeSet<(Venue, String)> = instruments
        .iter()
        .map(|i| (i.venue, rules.alias(&i.base)))
        .collect();
    let is_korean = |name: &str| Coin::parse(name).is_ok_and(|c| korean_coins.contains(&c));
    instruments
        .iter()
        .filter_map(|i| {
            if let Some(o) = overridden(i, rules) {
                return o;
            }
            let base = i.base.trim().to_ascii_uppercase();
            let full = rules.alias(&base);
            let per_coin = i.contract_value.is_some() || i.venue == Venue::Okx;
            let may_multiply = !per_coin
                && !rules.is_not_multiplier(&base)
                && !is_korean(&base)
                && !is_korean(&full);
            let multiplied = may_multiply
                .then(|| {
                    let prefixed = PREFIXES
                        .iter()
                        .filter_map(|(p, m)| base.strip_prefix(p).map(|rest| (rest, *m)));
                    let suffixed = SUFFIXES
                        .iter()
                        .filter_map(|(s, m)| base.strip_suffix(s).map(|rest| (rest, *m)));
                    prefixed.chain(suffixed).find_map(|(rest, m)| {
                        let coin = rules.alias(rest);
                        (!rest.is_empty()
                            && is_korean(&coin)
                            && !plain.contains(&(i.venue, coin.clone())))
                        .then_some((coin, Decimal::from(m)))
                    })
                })
                .flatten();
            let (name, multiplier) = multiplied.unwrap_or((full, Decimal::ONE));
            Coin::parse(&name).ok().map(|c| listing(c, multiplier, i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::MarketStatus;

    fn inst(venue: Venue, base: &str, status: MarketStatus) -> Instrument {
        let symbol = match venue {
            Venue::Upbit | Venue::Bithumb => format!("KRW-{base}"),
            Venue::Okx => format!("{base}-USDT-SWAP"),
            Venue::Binance | Venue::Bybit => format!("{base}USDT"),
        };
        Instrument {
            venue,
            symbol,
            base: base.to_string(),
            status,
            english_name: None,
            contract_value: (venue == Venue::Okx).then_some(dec!(10)),
            flags: Vec::new(),
        }
    }

    fn trading(venue: Venue, bases: &[&str]) -> Vec<Instrument> {
        bases
            .iter()
            .map(|b| inst(venue, b, MarketStatus::Trading))
            .collect()
    }

    fn coins(names: &[&str]) -> BTreeSet<Coin> {
        names.iter().map(|n| Coin::parse(n).unwrap()).collect()
    }

    /// (symbol, coin, multiplier) of each listing.
    fn mapped(listings: &[Listing]) -> Vec<(String, String, Decimal)> {
        listings
            .iter()
            .map(|l| {
                (
                    l.instrument.symbol.clone(),
                    l.coin.to_string(),
                    l.multiplier,
                )
            })
            .collect()
    }

    fn row(symbol: &str, coin: &str, m: Decimal) -> (String, String, Decimal) {
        (symbol.to_string(), coin.to_string(), m)
    }

    #[test]
    fn the_defaults_are_valid_and_round_trip() {
        let rules = MappingRules::default();
        rules.validate().unwrap();
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<MappingRules>(&json).unwrap(), rules);
        let partial: MappingRules = serde_json::from_str(r#"{"aliases": {}}"#).unwrap();
        assert!(partial.aliases.is_empty());
        assert_eq!(partial.stablecoins, rules.stablecoins);
        assert!(serde_json::from_str::<MappingRules>(r#"{"alias": {}}"#).is_err());
    }

    #[test]
    fn a_configured_override_reads_a_venue_name_and_a_number() {
        let rules: MappingRules = serde_json::from_str(
            r#"{"overrides": [
                {"venue": "bybit", "symbol": "1000BTTUSDT", "coin": "BTT", "multiplier": 1000},
                {"venue": "binance", "symbol": "BTTCUSDT", "coin": "BTT", "multiplier": "1"}
            ]}"#,
        )
        .unwrap();
        rules.validate().unwrap();
        assert_eq!(rules.overrides[0].venue, Venue::Bybit);
        assert_eq!(rules.overrides[0].multiplier, dec!(1000));
        assert_eq!(rules.overrides[1].multiplier, dec!(1));
        assert_eq!(rules.aliases, MappingRules::default().aliases);
        let typo = r#"{"overrides": [{"venue": "bybit", "symbol": "X", "coin": "X", "multiplier": 1, "mult": 2}]}"#;
        assert!(serde_json::from_str::<MappingRules>(typo).is_err());
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let mut rules = MappingRules::default();
        rules
            .aliases
            .insert("FOO-BAR".to_string(), "FOO".to_string());
        assert!(
            rules
                .validate()
                .unwrap_err()
                .contains("alias `FOO-BAR` → `FOO`")
        );

        let mut rules = MappingRules::default();
        rules
            .aliases
            .insert("POLY".to_string(), "MATIC".to_string());
        assert!(
            rules
                .validate()
                .unwrap_err()
                .contains("alias `POLY` → `MATIC`")
        );

        let mut rules = MappingRules::default();
        rules.overrides.push(Override {
            venue: Venue::Bybit,
            symbol: "SHIB1000USDT".to_string(),
            coin: "SHIB".to_string(),
            multiplier: dec!(0),
        });
        let err = rules.validate().unwrap_err();
        assert!(err.contains("override bybit `SHIB1000USDT`"), "{err}");
        assert!(err.contains("positive"), "{err}");

        let mut rules = MappingRules::default();
        rules.collisions[0].is = "ton".to_string();
        assert!(rules.validate().unwrap_err().contains("collision `TON`"));
    }

    #[test]
    fn korean_markets_are_one_coin_with_aliases_and_the_ton_collision() {
        let mut upbit = trading(Venue::Upbit, &["BTC", "TON", "MATIC", "LUNC", "BAD-ONE"]);
        upbit[1].english_name = Some("tokamak network".to_string());
        let listings = map_korean(&upbit, &MappingRules::default());
        assert_eq!(
            mapped(&listings),
            vec![
                row("KRW-BTC", "BTC", dec!(1)),
                row("KRW-TON", "TOKAMAK", dec!(1)),
                row("KRW-MATIC", "POL", dec!(1)),
                row("KRW-LUNC", "LUNC", dec!(1)),
            ]
        );
        assert!(listings.iter().all(|l| l.excluded.is_none()));

        // Another English name under TON is the ticker itself.
        let mut toncoin = trading(Venue::Bithumb, &["TON"]);
        toncoin[0].english_name = Some("Toncoin".to_string());
        assert_eq!(
            mapped(&map_korean(&toncoin, &MappingRules::default())),
            vec![row("KRW-TON", "TON", dec!(1))]
        );
    }

    #[test]
    fn prefix_and_suffix_multipliers_need_the_coin_in_korea() {
        let korea = coins(&["PEPE", "SHIB", "BABYDOGE", "SATS", "MOG", "LUNC", "BTC"]);
        let binance = trading(
            Venue::Binance,
            &[
                "1000PEPE",
                "1MBABYDOGE",
                "1000000MOG",
                "1000LUNC",
                "1000BONK",
                "BTC",
            ],
        );
        assert_eq!(
            mapped(&map_foreign(&binance, &korea, &MappingRules::default())),
            vec![
                row("1000PEPEUSDT", "PEPE", dec!(1000)),
                row("1MBABYDOGEUSDT", "BABYDOGE", dec!(1000000)),
                row("1000000MOGUSDT", "MOG", dec!(1000000)),
                row("1000LUNCUSDT", "LUNC", dec!(1000)),
                // BONK is not a Korean coin here: no multiplier is guessed.
                row("1000BONKUSDT", "1000BONK", dec!(1)),
                row("BTCUSDT", "BTC", dec!(1)),
            ]
        );
        let bybit = trading(Venue::Bybit, &["SHIB1000", "10000SATS", "1000000BABYDOGE"]);
        assert_eq!(
            mapped(&map_foreign(&bybit, &korea, &MappingRules::default())),
            vec![
                row("SHIB1000USDT", "SHIB", dec!(1000)),
                row("10000SATSUSDT", "SATS", dec!(10000)),
                row("1000000BABYDOGEUSDT", "BABYDOGE", dec!(1000000)),
            ]
        );
    }

    #[test]
    fn digit_led_tokens_and_digits_inside_names_are_not_multipliers() {
        // Even with INCH, G, Z… listed in Korea, the real tokens keep their names.
        let korea = coins(&["INCH", "G", "Z", "HPOS10I", "HPOS"]);
        let binance = trading(Venue::Binance, &["1INCH", "0G", "2Z", "4", "42", "HPOS10I"]);
        assert_eq!(
            mapped(&map_foreign(&binance, &korea, &MappingRules::default())),
            vec![
                row("1INCHUSDT", "1INCH", dec!(1)),
                row("0GUSDT", "0G", dec!(1)),
                row("2ZUSDT", "2Z", dec!(1)),
                row("4USDT", "4", dec!(1)),
                row("42USDT", "42", dec!(1)),
                row("HPOS10IUSDT", "HPOS10I", dec!(1)),
            ]
        );
        // A digit-led base that is itself a Korean coin is that coin.
        let korea = coins(&["1000X", "X"]);
        let binance = trading(Venue::Binance, &["1000X"]);
        assert_eq!(
            mapped(&map_foreign(&binance, &korea, &MappingRules::default())),
            vec![row("1000XUSDT", "1000X", dec!(1))]
        );
    }

    #[test]
    fn a_plain_listing_next_to_a_multiplied_one_wins() {
        let korea = coins(&["CAT"]);
        let binance = trading(Venue::Binance, &["1000CAT", "CAT"]);
        assert_eq!(
            mapped(&map_foreign(&binance, &korea, &MappingRules::default())),
            vec![
                row("1000CATUSDT", "1000CAT", dec!(1)),
                row("CATUSDT", "CAT", dec!(1)),
            ]
        );
        // On another venue, the multiplied form alone is CAT.
        let bybit = trading(Venue::Bybit, &["1000CAT"]);
        assert_eq!(
            mapped(&map_foreign(&bybit, &korea, &MappingRules::default())),
            vec![row("1000CATUSDT", "CAT", dec!(1000))]
        );
    }

    #[test]
    fn okx_prices_one_coin_whatever_its_contract_value() {
        let korea = coins(&["PEPE", "POL"]);
        let okx = trading(Venue::Okx, &["PEPE", "1000PEPE", "MATIC"]);
        assert_eq!(
            mapped(&map_foreign(&okx, &korea, &MappingRules::default())),
            vec![
                row("PEPE-USDT-SWAP", "PEPE", dec!(1)),
                row("1000PEPE-USDT-SWAP", "1000PEPE", dec!(1)),
                row("MATIC-USDT-SWAP", "POL", dec!(1)),
            ]
        );
    }

    #[test]
    fn aliases_apply_to_the_final_base_and_keep_every_listing() {
        let korea = coins(&["POL", "BEAM", "LUNA"]);
        let binance = vec![
            inst(Venue::Binance, "MATIC", MarketStatus::Delisted),
            inst(Venue::Binance, "POL", MarketStatus::Trading),
            inst(Venue::Binance, "BEAMX", MarketStatus::Trading),
            inst(Venue::Binance, "LUNA2", MarketStatus::Trading),
            inst(Venue::Binance, "BAD_BASE", MarketStatus::Trading),
        ];
        assert_eq!(
            mapped(&map_foreign(&binance, &korea, &MappingRules::default())),
            vec![
                row("MATICUSDT", "POL", dec!(1)),
                row("POLUSDT", "POL", dec!(1)),
                row("BEAMXUSDT", "BEAM", dec!(1)),
                row("LUNA2USDT", "LUNA", dec!(1)),
            ]
        );
    }

    #[test]
    fn overrides_come_first() {
        let mut rules = MappingRules::default();
        rules.overrides.push(Override {
            venue: Venue::Bybit,
            symbol: "1000BTTUSDT".to_string(),
            coin: "BTT".to_string(),
            multiplier: dec!(1000),
        });
        rules.overrides.push(Override {
            venue: Venue::Binance,
            symbol: "1000PEPEUSDT".to_string(),
            coin: "PEPE".to_string(),
            multiplier: dec!(100),
        });
        // BTT is not Korean here: only the override makes it a multiplier.
        let mut listed = trading(Venue::Bybit, &["1000BTT"]);
        listed.extend(trading(Venue::Binance, &["1000PEPE"]));
        assert_eq!(
            mapped(&map_foreign(&listed, &coins(&["PEPE"]), &rules)),
            vec![
                row("1000BTTUSDT", "BTT", dec!(1000)),
                row("1000PEPEUSDT", "PEPE", dec!(100)),
            ]
        );
    }
}
