//! The kimchi premium (ARCHITECTURE.md, "The formulas").
//!
//! `foreign_krw = foreign_usd × usd_krw`,
//! `premium_rate = (korea_krw − foreign_krw) / foreign_krw × 100`.
//! Full precision is kept; [`display_rate`] rounds half-up to 2 dp for display only.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::{Coin, FxSource, Price, VenuePair};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PremiumError {
    #[error("premium arithmetic overflowed")]
    Overflow,
}

/// The premium of `korea_krw` over `foreign_usd` converted at `usd_krw`, in percent, at full
/// precision. Inputs are [`Price`]s, so they are positive by construction.
pub fn premium_rate(
    korea_krw: Price,
    foreign_usd: Price,
    usd_krw: Price,
) -> Result<Decimal, PremiumError> {
    let foreign_krw = foreign_usd
        .value()
        .checked_mul(usd_krw.value())
        .ok_or(PremiumError::Overflow)?;
    let diff = korea_krw
        .value()
        .checked_sub(foreign_krw)
        .ok_or(PremiumError::Overflow)?;
    let ratio = diff
        .checked_div(foreign_krw)
        .ok_or(PremiumError::Overflow)?;
    ratio
        .checked_mul(Decimal::ONE_HUNDRED)
        .ok_or(PremiumError::Overflow)
}

/// A rate rounded half-up (away from zero at the midpoint) to 2 decimal places, for display.
pub fn display_rate(rate: Decimal) -> Decimal {
    rate.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Everything a premium is computed from, with the times the inputs were observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumInputs {
    pub coin: Coin,
    pub pair: VenuePair,
    pub korea_krw: Price,
    pub korea_observed_at: DateTime<Utc>,
    pub foreign_usd: Price,
    pub foreign_observed_at: DateTime<Utc>,
    pub usd_krw: Price,
    pub fx_source: FxSource,
    pub fx_observed_at: DateTime<Utc>,
    /// The Korean venue's own KRW-USDT price, for the tether premium; `None` when unavailable.
    pub usdt_krw: Option<Price>,
    pub usdt_observed_at: Option<DateTime<Utc>>,
    /// The foreign instrument the price came from (`1000PEPEUSDT`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_symbol: Option<String>,
    /// Coins per quoted unit of that instrument; `foreign_usd` is already per coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_multiplier: Option<Decimal>,
    /// When the coin last traded on the Korean venue, where the venue says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub korea_last_trade_at: Option<DateTime<Utc>>,
}

/// A computed premium on both bases, with its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Premium {
    #[serde(flatten)]
    pub inputs: PremiumInputs,
    /// `foreign_usd × usd_krw`.
    pub foreign_krw: Decimal,
    /// Premium on the official FX basis, percent, full precision.
    pub rate: Decimal,
    /// Premium on the USDT basis ("tether premium"), percent, full precision.
    pub usdt_rate: Option<Decimal>,
    /// The oldest observation time among the price inputs (the premium is as old as that).
    pub observed_at: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
    /// Market flags of both legs (warning, caution, suspended deposits, foreign not trading,
    /// suspect). A `suspect` premium is never served as a normal one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<crate::MarketFlag>,
}

impl Premium {
    pub fn compute(
        inputs: PremiumInputs,
        computed_at: DateTime<Utc>,
    ) -> Result<Self, PremiumError> {
        let rate = premium_rate(inputs.korea_krw, inputs.foreign_usd, inputs.usd_krw)?;
        let usdt_rate = match inputs.usdt_krw {
            Some(u) => Some(premium_rate(inputs.korea_krw, inputs.foreign_usd, u)?),
            None => None,
        };
        let foreign_krw = inputs
            .foreign_usd
            .value()
            .checked_mul(inputs.usd_krw.value())
            .ok_or(PremiumError::Overflow)?;
        let observed_at = inputs.korea_observed_at.min(inputs.foreign_observed_at);
        Ok(Premium {
            inputs,
            foreign_krw,
            rate,
            usdt_rate,
            observed_at,
            computed_at,
            flags: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn p(d: Decimal) -> Price {
        Price::new(d).unwrap()
    }

    #[test]
    fn worked_example_is_1_30_percent_not_1_28() {
        let rate = premium_rate(p(dec!(129555000)), p(dec!(89277.1)), p(dec!(1432.6))).unwrap();
        assert_eq!(dec!(89277.1) * dec!(1432.6), dec!(127898373.46));
        assert_eq!(rate.round_dp(4), dec!(1.2953), "{rate}");
        assert_eq!(display_rate(rate), dec!(1.30));
        assert_ne!(display_rate(rate), dec!(1.28));
    }

    #[test]
    fn display_rounds_half_up() {
        assert_eq!(display_rate(dec!(1.295)), dec!(1.30));
        assert_eq!(display_rate(dec!(-1.295)), dec!(-1.30));
        assert_eq!(display_rate(dec!(1.2949)), dec!(1.29));
    }

    fn price() -> impl Strategy<Value = Decimal> {
        // 0.0001 .. 10^9 with 4 decimals
        (1i64..10_000_000_000_000).prop_map(|n| Decimal::new(n, 4))
    }

    proptest! {
        #[test]
        fn matching_converted_prices_give_zero(foreign in price(), fx in price()) {
            let korea = foreign * fx;
            let rate = premium_rate(p(korea), p(foreign), p(fx)).unwrap();
            prop_assert_eq!(rate, Decimal::ZERO);
        }

        #[test]
        fn sign_follows_which_side_is_dearer(foreign in price(), fx in (1i64..200_000).prop_map(|n| Decimal::new(n, 2)), bump in 1i64..10_000) {
            let fair = foreign * fx;
            let delta = fair * Decimal::new(bump, 6);
            prop_assume!(delta > Decimal::ZERO && fair - delta > Decimal::ZERO);
            prop_assert!(premium_rate(p(fair + delta), p(foreign), p(fx)).unwrap() > Decimal::ZERO);
            prop_assert!(premium_rate(p(fair - delta), p(foreign), p(fx)).unwrap() < Decimal::ZERO);
        }

        #[test]
        fn scaling_both_prices_keeps_the_rate(korea in price(), foreign in price(), fx in (1i64..200_000).prop_map(|n| Decimal::new(n, 2)), k in 1i64..1000) {
            let k = Decimal::from(k);
            let a = premium_rate(p(korea), p(foreign), p(fx)).unwrap();
            let b = premium_rate(p(korea * k), p(foreign * k), p(fx)).unwrap();
            // Equal up to the last representable digits.
            prop_assert!((a - b).abs() < dec!(0.000000001), "{} vs {}", a, b);
        }

        #[test]
        fn non_positive_inputs_never_become_prices(n in -1_000_000i64..=0) {
            prop_assert!(Price::new(Decimal::new(n, 3)).is_err());
        }
    }
}
