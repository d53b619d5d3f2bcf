//! The sanity gate: a premium far from its pair's median is far more likely a mapping error (a
//! wrong multiplier, two coins under one ticker) than a real premium, so it is flagged
//! [`MarketFlag::Suspect`](super::MarketFlag::Suspect) instead of served as normal.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{VenuePair, display_rate};

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

/// For each `(pair, premium rate in percent)`, why it is suspect: `Some(reason)` when it is
/// more than `max_deviation_pct` points from the median of that pair's rates.
pub fn suspects(rates: &[(VenuePair, Decimal)], max_deviation_pct: Decimal) -> Vec<Option<String>> {
    let mut by_pair: BTreeMap<VenuePair, Vec<Decimal>> = BTreeMap::new();
    for (pair, rate) in rates {
        by_pair.entry(*pair).or_default().push(*rate);
    }
    let medians: BTreeMap<VenuePair, Decimal> = by_pair
        .into_iter()
        .filter_map(|(pair, values)| median(values).map(|m| (pair, m)))
        .collect();
    rates
        .iter()
        .map(|(pair, rate)| {
            let median = medians[pair];
            let deviation = (*rate - median).abs();
            (deviation > max_deviation_pct).then(|| {
                format!(
                    "premium {:.2} % is {:.2} points from the {pair} median {:.2} (limit {})",
                    display_rate(*rate),
                    display_rate(deviation),
                    display_rate(median),
                    max_deviation_pct.normalize(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::Venue;

    #[test]
    fn a_premium_far_from_its_pairs_median_is_suspect() {
        let ub = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        let bb = VenuePair::new(Venue::Bithumb, Venue::Bybit).unwrap();
        let rates = [
            (ub, dec!(1.2)),
            (ub, dec!(1.5)),
            (ub, dec!(-84.2109)),
            (ub, dec!(2.1)),
            (ub, dec!(1.8)),
            // Another pair's median is its own: -60 is normal there.
            (bb, dec!(-60)),
            (bb, dec!(-59)),
            (bb, dec!(-61)),
        ];
        let verdicts = suspects(&rates, dec!(20));
        assert_eq!(
            verdicts,
            vec![
                None,
                None,
                Some(
                    "premium -84.21 % is 85.71 points from the upbit-binance median 1.50 (limit 20)"
                        .to_string()
                ),
                None,
                None,
                None,
                None,
                None,
            ]
        );
        assert!(suspects(&[], dec!(20)).is_empty());
    }

    #[test]
    fn an_even_count_takes_the_mean_of_the_middle_two() {
        assert_eq!(
            median(vec![dec!(4), dec!(1), dec!(3), dec!(2)]),
            Some(dec!(2.5))
        );
        assert_eq!(median(vec![]), None);
        let ub = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
        // Exactly at the limit is not suspect.
        let verdicts = suspects(&[(ub, dec!(0)), (ub, dec!(10))], dec!(5));
        assert_eq!(verdicts, vec![None, None]);
        let verdicts = suspects(&[(ub, dec!(0)), (ub, dec!(10.02))], dec!(5));
        assert!(verdicts.iter().all(Option::is_some));
    }
}
