//! The premium rate formula and its display rounding: what a premium, a book walk
//! ([`crate::at_size`]) and the sanity gate all compute with (docs/formulas.md).
//!
//! `foreign_krw = foreign_usd × usd_krw`,
//! `premium_rate = (korea_krw − foreign_krw) / foreign_krw × 100`.
//! Full precision is kept; [`display_rate`] rounds half-up to 2 dp for display only.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::Price;

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    pub(crate) fn p(d: Decimal) -> Price {
        Price::new(d).unwrap()
    }

    pub(crate) fn price() -> impl Strategy<Value = Decimal> {
        // 0.0001 .. 10^9 with 4 decimals
        (1i64..10_000_000_000_000).prop_map(|n| Decimal::new(n, 4))
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
