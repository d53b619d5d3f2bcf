//! The sanity gate: tells a premium that is provably a unit error (a price read per 1,000 coins,
//! a multiplier applied twice) from one that is merely extreme.
//!
//! - **Unit error** (refused): divided by a power of ten (10 to 10⁹, or multiplied), the price
//!   ratio falls back within `max_deviation_pct` points of its pair's reference premium. A
//!   market does not move by a power of ten while the other coins stay put; a mapping does.
//! - **Suspect** (served, flagged [`MarketFlag::Suspect`](super::MarketFlag::Suspect), with the
//!   reason): more than `max_deviation_pct` points from the median of its pair. It may be a
//!   mapping error, or exactly the market event a trader looks for; the trader decides.
//!
//! The reference is the pair's median when the pair has at least [`MIN_PEERS`] premiums; with
//! fewer, no premium has a majority to deviate from, so none is suspect, and unit errors are
//! judged against parity (0 %).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{VenuePair, display_rate};

/// The fewest premiums of a pair whose median says what is normal on it: with two, the median
/// is their mean and one odd coin would make both look odd.
pub const MIN_PEERS: usize = 3;

/// The largest power of ten a unit error is looked for at (`1MBABYDOGE` is 10⁶).
const MAX_POWER: u32 = 9;

/// What the gate says of one premium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Normal,
    /// Served with the `suspect` flag and this reason.
    Suspect(String),
    /// Refused: a unit or multiplier error, for this reason.
    UnitError(String),
}

/// The median of `values` (the mean of the two middle ones for an even count); `None` if empty.
fn median(mut values: Vec<Decimal>) -> Option<Decimal> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / Decimal::TWO),
    }
}

/// The premium `rate` would have with one side's price divided by `factor`.
fn rescaled(rate: Decimal, factor: Decimal, divide: bool) -> Option<Decimal> {
    let ratio = Decimal::ONE + rate / Decimal::ONE_HUNDRED;
    let r = if divide {
        ratio.checked_div(factor)?
    } else {
        ratio.checked_mul(factor)?
    };
    Some((r - Decimal::ONE) * Decimal::ONE_HUNDRED)
}

/// Why `rate` is a unit error against `reference`: the power of ten that brings it back within
/// `limit` points of it, if any.
fn unit_error(rate: Decimal, reference: Decimal, limit: Decimal) -> Option<(String, Decimal)> {
    let mut factor = Decimal::ONE;
    for _ in 0..MAX_POWER {
        factor *= Decimal::TEN;
        for divide in [true, false] {
            let Some(fixed) = rescaled(rate, factor, divide) else {
                continue;
            };
            if (fixed - reference).abs() <= limit {
                let how = if divide { "×" } else { "÷" };
                return Some((format!("{how}{}", factor.normalize()), fixed));
            }
        }
    }
    None
}

/// The gate's verdict on each `(pair, premium rate in percent)`.
pub fn judge(rates: &[(VenuePair, Decimal)], max_deviation_pct: Decimal) -> Vec<Verdict> {
    let mut by_pair: BTreeMap<VenuePair, Vec<Decimal>> = BTreeMap::new();
    for (pair, rate) in rates {
        by_pair.entry(*pair).or_default().push(*rate);
    }
    let medians: BTreeMap<VenuePair, Option<Decimal>> = by_pair
        .into_iter()
        .map(|(pair, values)| {
            let enough = values.len() >= MIN_PEERS;
            (pair, median(values).filter(|_| enough))
        })
        .collect();
    let limit = max_deviation_pct;
    rates
        .iter()
        .map(|(pair, rate)| {
            let median = medians[pair];
            let (reference, what) = match median {
                Some(m) => (m, format!("the {pair} median {:.2} %", display_rate(m))),
                None => (
                    Decimal::ZERO,
                    "parity (too few coins for a median)".to_string(),
                ),
            };
            if let Some((off, fixed)) = unit_error(*rate, reference, limit) {
                return Verdict::UnitError(format!(
                    "unit error: premium {:.2} % is {what} with one price {off} ({:.2} % once \
                     corrected, limit {}): a price unit or multiplier mistake",
                    display_rate(*rate),
                    display_rate(fixed),
                    limit.normalize(),
                ));
            }
            match median {
                Some(m) if (*rate - m).abs() > limit => Verdict::Suspect(format!(
                    "premium {:.2} % is {:.2} points from the {pair} median {:.2} (limit {})",
                    display_rate(*rate),
                    display_rate((*rate - m).abs()),
                    display_rate(m),
                    limit.normalize(),
                )),
                _ => Verdict::Normal,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::Venue;

    fn ub() -> VenuePair {
        VenuePair::new(Venue::Upbit, Venue::Binance).unwrap()
    }

    #[test]
    fn a_premium_far_from_its_pairs_median_is_suspect_not_refused() {
        let bb = VenuePair::new(Venue::Bithumb, Venue::Bybit).unwrap();
        let rates = [
            (ub(), dec!(1.2)),
            (ub(), dec!(1.5)),
            (ub(), dec!(-84.2109)),
            (ub(), dec!(2.1)),
            (ub(), dec!(51)),
            // Another pair's median is its own: -60 is normal there.
            (bb, dec!(-60)),
            (bb, dec!(-59)),
            (bb, dec!(-61)),
        ];
        let verdicts = judge(&rates, dec!(20));
        assert_eq!(
            verdicts,
            vec![
                Verdict::Normal,
                Verdict::Normal,
                Verdict::Suspect(
                    "premium -84.21 % is 85.71 points from the upbit-binance median 1.50 (limit 20)"
                        .to_string()
                ),
                Verdict::Normal,
                Verdict::Suspect(
                    "premium 51.00 % is 49.50 points from the upbit-binance median 1.50 (limit 20)"
                        .to_string()
                ),
                Verdict::Normal,
                Verdict::Normal,
                Verdict::Normal,
            ]
        );
        assert!(judge(&[], dec!(20)).is_empty());
    }

    #[test]
    fn a_power_of_ten_off_the_median_is_a_refused_unit_error() {
        // Korean price per coin against a foreign price per 1,000 coins: ×1000 off (and the
        // other way round, and a ×10 with a 3 % premium besides).
        let rates = [
            (ub(), dec!(1.2)),
            (ub(), dec!(1.5)),
            (ub(), dec!(2.1)),
            (ub(), dec!(101300)),
            (ub(), dec!(-99.8985)),
            (ub(), dec!(930)),
        ];
        let verdicts = judge(&rates, dec!(20));
        assert_eq!(
            verdicts[..3],
            [Verdict::Normal, Verdict::Normal, Verdict::Normal]
        );
        let Verdict::UnitError(why) = &verdicts[3] else {
            panic!("{:?}", verdicts[3]);
        };
        assert_eq!(
            why,
            "unit error: premium 101300.00 % is the upbit-binance median 1.80 % with one price \
             ×1000 (1.40 % once corrected, limit 20): a price unit or multiplier mistake"
        );
        assert!(matches!(&verdicts[4], Verdict::UnitError(w) if w.contains("÷1000")));
        assert!(matches!(&verdicts[5], Verdict::UnitError(w) if w.contains("×10 (3.00 %")));
    }

    #[test]
    fn two_coins_are_never_suspect_of_each_other_but_a_unit_error_still_is_one() {
        let verdicts = judge(&[(ub(), dec!(1.5)), (ub(), dec!(51))], dec!(20));
        assert_eq!(verdicts, vec![Verdict::Normal, Verdict::Normal]);
        let verdicts = judge(&[(ub(), dec!(1.5)), (ub(), dec!(102500))], dec!(20));
        assert_eq!(verdicts[0], Verdict::Normal);
        assert!(
            matches!(&verdicts[1], Verdict::UnitError(w) if w.contains("parity") && w.contains("×1000")),
            "{:?}",
            verdicts[1]
        );
    }

    #[test]
    fn an_even_count_takes_the_mean_of_the_middle_two_and_the_limit_is_inclusive() {
        assert_eq!(
            median(vec![dec!(4), dec!(1), dec!(3), dec!(2)]),
            Some(dec!(2.5))
        );
        assert_eq!(median(vec![]), None);
        let verdicts = judge(
            &[(ub(), dec!(0)), (ub(), dec!(0)), (ub(), dec!(5))],
            dec!(5),
        );
        assert!(verdicts.iter().all(|v| *v == Verdict::Normal));
        let verdicts = judge(
            &[(ub(), dec!(0)), (ub(), dec!(0)), (ub(), dec!(5.01))],
            dec!(5),
        );
        assert!(matches!(verdicts[2], Verdict::Suspect(_)));
    }
}
