//! Hedged positions: long the coin on a Korean spot venue, short it on a foreign perpetual.
//!
//! PnL (docs/formulas.md):
//! `korea_pnl = (korea_now − korea_entry) × q_k`,
//! `foreign_pnl_krw = (foreign_entry − foreign_now) × q_f × usd_krw_now`,
//! `total = korea_pnl + foreign_pnl_krw`, `total_pct = total / (korea_now × q_k) × 100`,
//! `premium_diff = premium_now − premium_entry`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Coin, Price, VenuePair, premium_rate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("{field} must be positive, got {value}")]
    NotPositive { field: &'static str, value: Decimal },
    #[error("leverage must be between 1 and 125, got {0}")]
    Leverage(u32),
    #[error("PnL arithmetic overflowed")]
    Overflow,
}

/// One leg of a hedge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionSide {
    pub quantity: Decimal,
    pub entry_price: Price,
}

/// A hedged position. `korea` is long spot (KRW), `foreign` is short perpetual (USDT).
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
        })
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
        let notional = korea_now
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
        assert_eq!(pnl.total_pct, dec!(422012.0) / dec!(65000000) * dec!(100));
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
}
