//! The cross-venue identity check of the sanity gate: one venue whose price of a coin is far from
//! the price the other venues of its side agree on is quoting another coin (a different token
//! under the same ticker, a wrong mapping), not the market.
//!
//! A market move moves every venue of a side together (arbitrage keeps perpetuals of one coin
//! within a fraction of a percent); a different coin under the same ticker moves one. So a price
//! is an identity error when:
//!
//! - at least [`MIN_VENUES`] venues of one side (same quote currency: KRW, or USDT) price the
//!   coin, so that the others form a majority;
//! - the others agree with each other: all within `limit` percent of their median;
//! - the odd price is more than `limit` percent from that median.
//!
//! With two venues there is no majority: neither can be said to be the odd one, so there is no
//! verdict (the pair-median check still flags the premium `suspect`). Only same-currency prices
//! are compared: judging a Korean price against the foreign ones through the FX rate would take
//! a real Korea-only premium (a deposit halt on one Korean venue) for an identity error.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{Coin, Venue};

/// The fewest venues of one side that give a majority against an odd one.
pub const MIN_VENUES: usize = 3;

/// The median of a non-empty sorted slice.
fn median_sorted(values: &[Decimal]) -> Decimal {
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / Decimal::TWO
    }
}

/// How far `price` is from `reference`, in percent of `reference`.
fn off_pct(price: Decimal, reference: Decimal) -> Option<Decimal> {
    ((price - reference).abs() * Decimal::ONE_HUNDRED).checked_div(reference)
}

/// The venues quoting another coin than their side's majority, each with the reason, from the
/// per-coin prices `(coin, venue, price)` (one per coin and venue; later duplicates ignored).
pub fn odd_venues(
    prices: &[(Coin, Venue, Decimal)],
    limit: Decimal,
) -> BTreeMap<(Coin, Venue), String> {
    // A side is told by its quote currency (KRW or USDT).
    let mut by_side: BTreeMap<(Coin, &str), BTreeMap<Venue, Decimal>> = BTreeMap::new();
    for (coin, venue, price) in prices {
        by_side
            .entry((coin.clone(), venue.quote()))
            .or_default()
            .entry(*venue)
            .or_insert(*price);
    }
    let mut odd = BTreeMap::new();
    for ((coin, _), venues) in by_side {
        if venues.len() < MIN_VENUES || venues.values().any(|p| *p <= Decimal::ZERO) {
            continue;
        }
        for (&venue, &price) in &venues {
            let others: Vec<(Venue, Decimal)> = venues
                .iter()
                .filter(|(v, _)| **v != venue)
                .map(|(v, p)| (*v, *p))
                .collect();
            let mut values: Vec<Decimal> = others.iter().map(|(_, p)| *p).collect();
            values.sort_unstable();
            let reference = median_sorted(&values);
            let agree = values
                .iter()
                .all(|p| off_pct(*p, reference).is_some_and(|d| d <= limit));
            let Some(off) = off_pct(price, reference) else {
                continue;
            };
            if !agree || off <= limit {
                continue;
            }
            let names: Vec<&str> = others.iter().map(|(v, _)| v.as_str()).collect();
            let quote = venue.quote();
            odd.insert(
                (coin.clone(), venue),
                format!(
                    "identity error: {venue} {coin} at {} {quote} is {:.2} % from the {} \
                     {quote} that {} agree on (limit {} %): another coin under the same \
                     ticker or a mapping mistake",
                    price.normalize(),
                    off.round_dp(2),
                    reference.normalize(),
                    names.join(", "),
                    limit.normalize(),
                ),
            );
        }
    }
    odd
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn coin(s: &str) -> Coin {
        Coin::parse(s).unwrap()
    }

    #[test]
    fn one_foreign_venue_three_times_off_is_odd_and_the_reason_names_the_agreeing_ones() {
        let prices = [
            (coin("XRP"), Venue::Binance, dec!(2.2)),
            (coin("XRP"), Venue::Bybit, dec!(6.6)),
            (coin("XRP"), Venue::Okx, dec!(2.21)),
            (coin("BTC"), Venue::Binance, dec!(90000)),
            (coin("BTC"), Venue::Bybit, dec!(90010)),
            (coin("BTC"), Venue::Okx, dec!(89990)),
        ];
        let odd = odd_venues(&prices, dec!(20));
        assert_eq!(odd.len(), 1, "{odd:?}");
        assert_eq!(
            odd[&(coin("XRP"), Venue::Bybit)],
            "identity error: bybit XRP at 6.6 USDT is 199.32 % from the 2.205 USDT that binance, \
             okx agree on (limit 20 %): another coin under the same ticker or a mapping mistake"
        );
        // A third of the price is as odd as three times it.
        let prices = [
            (coin("XRP"), Venue::Binance, dec!(0.7333)),
            (coin("XRP"), Venue::Bybit, dec!(2.2)),
            (coin("XRP"), Venue::Okx, dec!(2.2)),
        ];
        let odd = odd_venues(&prices, dec!(20));
        assert_eq!(
            odd.keys().collect::<Vec<_>>(),
            [&(coin("XRP"), Venue::Binance)]
        );
        assert!(odd[&(coin("XRP"), Venue::Binance)].contains("is 66.67 % from the 2.2 USDT"));
    }

    #[test]
    fn a_move_of_every_venue_two_venues_or_no_agreeing_majority_give_no_verdict() {
        // Everyone moved together: a market event.
        let all_moved = [
            (coin("XRP"), Venue::Binance, dec!(6.6)),
            (coin("XRP"), Venue::Bybit, dec!(6.5)),
            (coin("XRP"), Venue::Okx, dec!(6.7)),
        ];
        assert!(odd_venues(&all_moved, dec!(20)).is_empty());
        // Two venues: which one is odd is unknown. Both Korean venues are only two.
        let two = [
            (coin("XRP"), Venue::Binance, dec!(2.2)),
            (coin("XRP"), Venue::Bybit, dec!(6.6)),
            (coin("XRP"), Venue::Upbit, dec!(3000)),
            (coin("XRP"), Venue::Bithumb, dec!(9000)),
        ];
        assert!(odd_venues(&two, dec!(20)).is_empty());
        // The others disagree among themselves too: no majority to be odd against.
        let scattered = [
            (coin("XRP"), Venue::Binance, dec!(2.2)),
            (coin("XRP"), Venue::Bybit, dec!(6.6)),
            (coin("XRP"), Venue::Okx, dec!(4)),
        ];
        assert!(odd_venues(&scattered, dec!(20)).is_empty());
        // Prices of different coins or different sides are never compared.
        let sides = [
            (coin("XRP"), Venue::Binance, dec!(2.2)),
            (coin("XRP"), Venue::Bybit, dec!(2.2)),
            (coin("ETH"), Venue::Okx, dec!(3000)),
            (coin("XRP"), Venue::Upbit, dec!(3000)),
        ];
        assert!(odd_venues(&sides, dec!(20)).is_empty());
    }

    #[test]
    fn the_limit_is_inclusive_and_a_repeated_venue_counts_once() {
        let at_limit = [
            (coin("XRP"), Venue::Binance, dec!(120)),
            (coin("XRP"), Venue::Bybit, dec!(100)),
            (coin("XRP"), Venue::Okx, dec!(100)),
            // The same venue again in another pair's premium: not a fourth voter.
            (coin("XRP"), Venue::Okx, dec!(500)),
        ];
        assert!(odd_venues(&at_limit, dec!(20)).is_empty());
        let past = [
            (coin("XRP"), Venue::Binance, dec!(120.01)),
            (coin("XRP"), Venue::Bybit, dec!(100)),
            (coin("XRP"), Venue::Okx, dec!(100)),
        ];
        assert_eq!(odd_venues(&past, dec!(20)).len(), 1);
    }
}
