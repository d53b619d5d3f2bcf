//! Hedged positions: long the coin on a Korean spot venue, short it on a foreign perpetual.
//!
//! PnL (docs/formulas.md):
//! `korea_pnl = (korea_now − korea_entry) × q_k`,
//! `foreign_pnl_krw = (foreign_entry − foreign_now) × q_f × usd_krw_now`,
//! `total = korea_pnl + foreign_pnl_krw`, `total_pct = total / (korea_entry × q_k) × 100`,
//! `premium_diff = premium_now − premium_entry`.
//!
//! Every quantity and price of a [`Position`] is per coin. A foreign leg entered in its
//! instrument's own units (a `1000PEPEUSDT` quote and contract count) is converted once, at
//! entry, with the instrument's [`Contract`]; the contract is kept so the leg can be shown in
//! both units.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Coin, Listing, Price, VenuePair, premium_rate};

/// How far an entry price may be from the current market price before it is refused as a unit
/// or typing error, as a fraction: 0.5 is 50 %.
pub const MAX_ENTRY_DEVIATION: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("{field} must be positive, got {value}")]
    NotPositive { field: &'static str, value: Decimal },
    #[error("leverage must be between 1 and 125, got {0}")]
    Leverage(u32),
    #[error("PnL arithmetic overflowed")]
    Overflow,
    #[error("{field} is too large to convert between coins and contracts")]
    ConversionOverflow { field: &'static str },
}

/// The units a foreign leg is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Coins and USD(T) per coin.
    #[default]
    Coin,
    /// The instrument's own: its quoted price (per `price_multiplier` coins) and its contract
    /// count (of `coins_per_contract` coins), as the venue shows them.
    Contract,
}

impl Units {
    pub const ALL: [Units; 2] = [Units::Coin, Units::Contract];

    pub fn as_str(self) -> &'static str {
        match self {
            Units::Coin => "coin",
            Units::Contract => "contract",
        }
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Units {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Units::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or_else(|| format!("unknown units `{s}`: expected coin or contract"))
    }
}

/// A foreign instrument's units relative to coins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// The venue's symbol: `1000PEPEUSDT`, `PEPE-USDT-SWAP`.
    pub instrument: String,
    /// Coins one quoted price is for: 1,000 for `1000PEPEUSDT`, 1 on OKX.
    pub price_multiplier: Decimal,
    /// Coins one unit of the venue's quantity holds: the multiplier times OKX's contract value
    /// (1,000 for `1000PEPEUSDT`, `ctVal` for `PEPE-USDT-SWAP`).
    pub coins_per_contract: Decimal,
}

impl Contract {
    /// The units of `listing`'s instrument, as the venues' prices and books are converted.
    pub fn of(listing: &Listing) -> Contract {
        let size = listing
            .instrument
            .contract_value
            .filter(|v| *v > Decimal::ZERO)
            .unwrap_or(Decimal::ONE);
        Contract {
            instrument: listing.instrument.symbol.clone(),
            price_multiplier: listing.multiplier.normalize(),
            coins_per_contract: (listing.multiplier * size).normalize(),
        }
    }

    /// A leg written in the instrument's units, per coin.
    pub fn per_coin(&self, leg: &PositionSide) -> Result<PositionSide, PositionError> {
        let price = leg
            .entry_price
            .value()
            .checked_div(self.price_multiplier)
            .and_then(|p| Price::new(p).ok())
            .ok_or(PositionError::ConversionOverflow {
                field: "foreign_entry",
            })?;
        let quantity = leg.quantity.checked_mul(self.coins_per_contract).ok_or(
            PositionError::ConversionOverflow {
                field: "foreign_qty",
            },
        )?;
        Ok(PositionSide {
            quantity: quantity.normalize(),
            entry_price: price,
        })
    }

    /// A per-coin leg in the instrument's units.
    pub fn in_contracts(&self, leg: &PositionSide) -> Result<PositionSide, PositionError> {
        let quantity = leg.quantity.checked_div(self.coins_per_contract).ok_or(
            PositionError::ConversionOverflow {
                field: "foreign_qty",
            },
        )?;
        Ok(PositionSide {
            quantity: quantity.normalize(),
            entry_price: self.quoted(leg.entry_price)?,
        })
    }

    /// A per-coin price as the instrument quotes it.
    pub fn quoted(&self, per_coin: Price) -> Result<Price, PositionError> {
        per_coin
            .value()
            .checked_mul(self.price_multiplier)
            .and_then(|p| Price::new(p).ok())
            .ok_or(PositionError::ConversionOverflow {
                field: "foreign_entry",
            })
    }
}

/// How far `given` is from `market`, as a fraction of `market` (0.5 is 50 %), when that is
/// more than [`MAX_ENTRY_DEVIATION`]; `None` when `given` is close enough.
pub fn entry_deviation(given: Price, market: Price) -> Option<Decimal> {
    let off = (given.value() - market.value())
        .abs()
        .checked_div(market.value())
        .unwrap_or(Decimal::MAX);
    (off > MAX_ENTRY_DEVIATION).then_some(off)
}

/// One leg of a hedge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionSide {
    pub quantity: Decimal,
    pub entry_price: Price,
}

/// A hedged position. `korea` is long spot (KRW), `foreign` is short perpetual (USDT); both
/// per coin, whatever `units` the foreign leg was entered in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub id: i64,
    pub coin: Coin,
    pub pair: VenuePair,
    pub korea: PositionSide,
    pub foreign: PositionSide,
    pub leverage: u32,
    pub entry_usd_krw: Price,
    /// Premium at entry, percent, full precision.
    pub entry_premium: Decimal,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The units the foreign leg was entered in.
    #[serde(default)]
    pub units: Units,
    /// The foreign instrument and its units, as the registry had them at entry (`None` for
    /// positions opened before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_contract: Option<Contract>,
}

impl Position {
    /// Validates the parts of a new position and computes its entry premium.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        id: i64,
        coin: Coin,
        pair: VenuePair,
        korea: PositionSide,
        foreign: PositionSide,
        leverage: u32,
        entry_usd_krw: Price,
        opened_at: DateTime<Utc>,
    ) -> Result<Self, PositionError> {
        for (field, value) in [
            ("korea quantity", korea.quantity),
            ("foreign quantity", foreign.quantity),
        ] {
            if value <= Decimal::ZERO {
                return Err(PositionError::NotPositive { field, value });
            }
        }
        if !(1..=125).contains(&leverage) {
            return Err(PositionError::Leverage(leverage));
        }
        let entry_premium = premium_rate(korea.entry_price, foreign.entry_price, entry_usd_krw)
            .map_err(|_| PositionError::Overflow)?;
        Ok(Position {
            id,
            coin,
            pair,
            korea,
            foreign,
            leverage,
            entry_usd_krw,
            entry_premium,
            opened_at,
            closed_at: None,
            units: Units::Coin,
            foreign_contract: None,
        })
    }

    /// Records the foreign instrument the position is held on and the units it was entered
    /// in. The legs stay per coin: convert a leg in contracts with [`Contract::per_coin`]
    /// before [`Position::open`].
    pub fn held_on(self, units: Units, contract: Option<Contract>) -> Self {
        Position {
            units,
            foreign_contract: contract,
            ..self
        }
    }

    /// The foreign leg in its instrument's units, when the instrument is known.
    pub fn foreign_in_contracts(&self) -> Option<Result<PositionSide, PositionError>> {
        self.foreign_contract
            .as_ref()
            .map(|c| c.in_contracts(&self.foreign))
    }

    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// PnL at the given current prices and FX.
    pub fn pnl(
        &self,
        korea_now: Price,
        foreign_now: Price,
        usd_krw_now: Price,
    ) -> Result<Pnl, PositionError> {
        let o = PositionError::Overflow;
        let korea_pnl = (korea_now.value() - self.korea.entry_price.value())
            .checked_mul(self.korea.quantity)
            .ok_or(o.clone())?;
        let foreign_pnl_krw = (self.foreign.entry_price.value() - foreign_now.value())
            .checked_mul(self.foreign.quantity)
            .and_then(|v| v.checked_mul(usd_krw_now.value()))
            .ok_or(o.clone())?;
        let total = korea_pnl.checked_add(foreign_pnl_krw).ok_or(o.clone())?;
        // Over the capital put in: the entry notional stays put, so a move in the Korean price
        // does not change the percentage of a total that did not move.
        let notional = self
            .korea
            .entry_price
            .value()
            .checked_mul(self.korea.quantity)
            .ok_or(o.clone())?;
        let total_pct = total
            .checked_div(notional)
            .and_then(|v| v.checked_mul(Decimal::ONE_HUNDRED))
            .ok_or(o.clone())?;
        let premium_now = premium_rate(korea_now, foreign_now, usd_krw_now).map_err(|_| o)?;
        Ok(Pnl {
            korea_pnl,
            foreign_pnl_krw,
            total,
            total_pct,
            premium_now,
            premium_diff: premium_now - self.entry_premium,
        })
    }
}

/// PnL of a position, all in KRW except the percentages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pnl {
    pub korea_pnl: Decimal,
    pub foreign_pnl_krw: Decimal,
    pub total: Decimal,
    pub total_pct: Decimal,
    pub premium_now: Decimal,
    pub premium_diff: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Venue;
    use rust_decimal_macros::dec;

    fn price(d: Decimal) -> Price {
        Price::new(d).unwrap()
    }

    fn position() -> Position {
        Position::open(
            1,
            Coin::parse("BTC").unwrap(),
            VenuePair::new(Venue::Upbit, Venue::Binance).unwrap(),
            PositionSide {
                quantity: dec!(0.5),
                entry_price: price(dec!(129555000)),
            },
            PositionSide {
                quantity: dec!(0.5),
                entry_price: price(dec!(89277.1)),
            },
            3,
            price(dec!(1432.6)),
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn pnl_follows_the_design_formulas() {
        let pos = position();
        assert_eq!(crate::display_rate(pos.entry_premium), dec!(1.30));
        let pnl = pos
            .pnl(
                price(dec!(130000000)),
                price(dec!(89000)),
                price(dec!(1440)),
            )
            .unwrap();
        assert_eq!(pnl.korea_pnl, dec!(222500)); // (130,000,000 − 129,555,000) × 0.5
        assert_eq!(pnl.foreign_pnl_krw, dec!(199512.0)); // (89,277.1 − 89,000) × 0.5 × 1,440
        assert_eq!(pnl.total, dec!(422012.0));
        // Over the entry notional, 129,555,000 × 0.5.
        assert_eq!(pnl.total_pct, dec!(422012.0) / dec!(64777500) * dec!(100));
        assert_eq!(pnl.premium_diff, pnl.premium_now - pos.entry_premium);
    }

    #[test]
    fn bad_positions_are_rejected() {
        let k = PositionSide {
            quantity: dec!(0),
            entry_price: price(dec!(1)),
        };
        let f = PositionSide {
            quantity: dec!(1),
            entry_price: price(dec!(1)),
        };
        let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        let coin = Coin::parse("BTC").unwrap();
        assert!(matches!(
            Position::open(
                1,
                coin.clone(),
                pair,
                k,
                f.clone(),
                1,
                price(dec!(1400)),
                Utc::now()
            ),
            Err(PositionError::NotPositive { .. })
        ));
        let k = f.clone();
        assert!(matches!(
            Position::open(1, coin, pair, k, f, 126, price(dec!(1400)), Utc::now()),
            Err(PositionError::Leverage(126))
        ));
    }

    fn listing(symbol: &str, multiplier: Decimal, contract_value: Option<Decimal>) -> Listing {
        Listing {
            coin: Coin::parse("PEPE").unwrap(),
            multiplier,
            instrument: crate::Instrument {
                venue: Venue::Binance,
                symbol: symbol.into(),
                base: "PEPE".into(),
                status: crate::MarketStatus::Trading,
                english_name: None,
                contract_value,
                flags: Vec::new(),
            },
            excluded: None,
        }
    }

    fn pepe(foreign: PositionSide) -> Position {
        Position::open(
            1,
            Coin::parse("PEPE").unwrap(),
            VenuePair::new(Venue::Upbit, Venue::Binance).unwrap(),
            PositionSide {
                quantity: dec!(10000000),
                entry_price: price(dec!(0.0151)),
            },
            foreign,
            2,
            price(dec!(1432.6)),
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn a_leg_in_contracts_of_a_multiplier_instrument_is_valued_like_the_same_leg_per_coin() {
        // 10,000 contracts of 1000PEPEUSDT at 0.0104 USDT per 1,000 PEPE are 10,000,000 PEPE
        // at 0.0000104 USDT each.
        let contract = Contract::of(&listing("1000PEPEUSDT", dec!(1000), None));
        let in_contracts = PositionSide {
            quantity: dec!(10000),
            entry_price: price(dec!(0.0104)),
        };
        let per_coin = PositionSide {
            quantity: dec!(10000000),
            entry_price: price(dec!(0.0000104)),
        };
        assert_eq!(contract.per_coin(&in_contracts).unwrap(), per_coin);
        assert_eq!(contract.in_contracts(&per_coin).unwrap(), in_contracts);

        let entered = pepe(contract.per_coin(&in_contracts).unwrap())
            .held_on(Units::Contract, Some(contract.clone()));
        let plain = pepe(per_coin);
        assert_eq!(entered.entry_premium, plain.entry_premium);
        let now = |p: &Position| {
            p.pnl(
                price(dec!(0.0149)),
                price(dec!(0.0000102)),
                price(dec!(1440)),
            )
            .unwrap()
        };
        assert_eq!(now(&entered), now(&plain));
        // (0.0000104 − 0.0000102) × 10,000,000 × 1,440 KRW on the short leg.
        assert_eq!(now(&entered).foreign_pnl_krw, dec!(2880));
        assert_eq!(
            entered.foreign_in_contracts().unwrap().unwrap(),
            in_contracts
        );
        assert_eq!(
            contract.quoted(price(dec!(0.0000102))).unwrap(),
            price(dec!(0.0102))
        );
    }

    #[test]
    fn okx_contracts_hold_the_contract_value_and_are_priced_per_coin() {
        let contract = Contract::of(&listing("PEPE-USDT-SWAP", dec!(1), Some(dec!(10000000))));
        assert_eq!(contract.price_multiplier, dec!(1));
        assert_eq!(contract.coins_per_contract, dec!(10000000));
        let leg = contract
            .per_coin(&PositionSide {
                quantity: dec!(3),
                entry_price: price(dec!(0.0000104)),
            })
            .unwrap();
        assert_eq!(leg.quantity, dec!(30000000));
        assert_eq!(leg.entry_price, price(dec!(0.0000104)));
    }

    #[test]
    fn total_pct_is_over_the_entry_notional_not_the_current_one() {
        let pos = position();
        // The Korean price doubles while the foreign one holds: the hedge made 100 % of its
        // entry notional (50 % of the current one).
        let pnl = pos
            .pnl(
                price(dec!(259110000)),
                price(dec!(89277.1)),
                price(dec!(1432.6)),
            )
            .unwrap();
        let entry_notional = dec!(129555000) * dec!(0.5);
        assert_eq!(pnl.total, entry_notional);
        assert_eq!(pnl.total_pct, dec!(100));
    }

    #[test]
    fn an_entry_price_more_than_half_off_the_market_is_flagged() {
        let market = price(dec!(0.0000104));
        assert_eq!(entry_deviation(price(dec!(0.0000104)), market), None);
        assert_eq!(entry_deviation(price(dec!(0.0000156)), market), None); // +50 %
        assert_eq!(entry_deviation(price(dec!(0.0000052)), market), None); // −50 %
        assert!(entry_deviation(price(dec!(0.0000157)), market).is_some());
        assert!(entry_deviation(price(dec!(0.0000051)), market).is_some());
        // The 1000PEPEUSDT quote written per coin is 999 times the market away.
        assert_eq!(
            entry_deviation(price(dec!(0.0104)), market),
            Some(dec!(999))
        );
    }

    #[test]
    fn units_read_and_write_as_their_names() {
        for u in Units::ALL {
            assert_eq!(u.as_str().parse::<Units>(), Ok(u));
            assert_eq!(serde_json::to_value(u).unwrap(), u.as_str());
        }
        assert!("contracts".parse::<Units>().is_err());
        // A position cached before units were recorded reads as per coin.
        let mut old = serde_json::to_value(position()).unwrap();
        old.as_object_mut().unwrap().remove("units");
        let read: Position = serde_json::from_value(old).unwrap();
        assert_eq!(read.units, Units::Coin);
        assert_eq!(read.foreign_contract, None);
    }
}
