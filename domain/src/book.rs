//! Order books and funding: what a trader can actually get.
//!
//! A last-trade premium is not executable. Entering the hedge buys Korea at the ask and shorts
//! abroad at the bid; exiting sells Korea at the bid and covers abroad at the ask. [`BookTop`] is
//! the best bid and ask of one market, [`Depth`] its levels (for a premium at a size), both per
//! coin: a venue's quoted prices are divided by the listing's multiplier and its quantities
//! multiplied by it before they get here. [`Funding`] is the foreign perpetual's funding.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Price;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// The best bid is at or above the best ask (pre-open books, a stale side).
    #[error("crossed book: bid {bid} ≥ ask {ask}")]
    Crossed { bid: Decimal, ask: Decimal },
    #[error("{side} price must be positive, got {value}")]
    NotPositive { side: &'static str, value: Decimal },
    #[error("{side} quantity must not be negative, got {value}")]
    NegativeQuantity { side: &'static str, value: Decimal },
    #[error("{side} side is empty")]
    Empty { side: &'static str },
    #[error("{side} levels are not in price order at level {level}")]
    Unordered { side: &'static str, level: usize },
}

/// The best bid and ask of one market, per coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookTop {
    pub bid: Price,
    /// Coins available at `bid`.
    pub bid_qty: Decimal,
    pub ask: Price,
    pub ask_qty: Decimal,
}

impl BookTop {
    /// Validates a top of book: positive prices, non-negative quantities, `bid < ask`.
    pub fn new(
        bid: Decimal,
        bid_qty: Decimal,
        ask: Decimal,
        ask_qty: Decimal,
    ) -> Result<Self, BookError> {
        let price = |side, value: Decimal| {
            Price::new(value).map_err(|_| BookError::NotPositive { side, value })
        };
        let (bid_p, ask_p) = (price("bid", bid)?, price("ask", ask)?);
        for (side, value) in [("bid", bid_qty), ("ask", ask_qty)] {
            if value < Decimal::ZERO {
                return Err(BookError::NegativeQuantity { side, value });
            }
        }
        if bid >= ask {
            return Err(BookError::Crossed { bid, ask });
        }
        Ok(BookTop {
            bid: bid_p,
            bid_qty: bid_qty.normalize(),
            ask: ask_p,
            ask_qty: ask_qty.normalize(),
        })
    }

    /// The same book quoted per `multiplier` coins (`1000PEPEUSDT`), per coin: prices ÷ the
    /// multiplier, quantities × it.
    pub fn per_coin(
        bid: Decimal,
        bid_qty: Decimal,
        ask: Decimal,
        ask_qty: Decimal,
        multiplier: Decimal,
    ) -> Result<Self, BookError> {
        if multiplier == Decimal::ONE {
            return BookTop::new(bid, bid_qty, ask, ask_qty);
        }
        BookTop::new(
            bid / multiplier,
            bid_qty * multiplier,
            ask / multiplier,
            ask_qty * multiplier,
        )
    }
}

/// One price level: a price and the coins offered at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub price: Price,
    pub qty: Decimal,
}

/// Levels of one market's book, best first on each side, per coin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub observed_at: DateTime<Utc>,
}

/// The average price of a fill, and how much it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Coins filled.
    pub qty: Decimal,
    /// Quote currency spent or received.
    pub notional: Decimal,
    /// `notional / qty`.
    pub avg_price: Price,
}

impl Depth {
    /// Builds a book from raw levels (best first), dropping zero-price or zero-size padding (the
    /// Korean venues pad thin sides with zeros), and checking order and that it is uncrossed.
    pub fn new(
        bids: impl IntoIterator<Item = (Decimal, Decimal)>,
        asks: impl IntoIterator<Item = (Decimal, Decimal)>,
        observed_at: DateTime<Utc>,
    ) -> Result<Self, BookError> {
        let side = |name: &'static str,
                    raw: &mut dyn Iterator<Item = (Decimal, Decimal)>,
                    better: fn(Decimal, Decimal) -> bool|
         -> Result<Vec<Level>, BookError> {
            let mut out: Vec<Level> = Vec::new();
            for (price, qty) in raw {
                if price.is_zero() || qty.is_zero() {
                    continue;
                }
                if qty < Decimal::ZERO {
                    return Err(BookError::NegativeQuantity {
                        side: name,
                        value: qty,
                    });
                }
                let p = Price::new(price).map_err(|_| BookError::NotPositive {
                    side: name,
                    value: price,
                })?;
                if let Some(last) = out.last()
                    && !better(last.price.value(), price)
                {
                    return Err(BookError::Unordered {
                        side: name,
                        level: out.len(),
                    });
                }
                out.push(Level { price: p, qty });
            }
            if out.is_empty() {
                return Err(BookError::Empty { side: name });
            }
            Ok(out)
        };
        let bids = side("bid", &mut bids.into_iter(), |prev, next| prev > next)?;
        let asks = side("ask", &mut asks.into_iter(), |prev, next| prev < next)?;
        if bids[0].price >= asks[0].price {
            return Err(BookError::Crossed {
                bid: bids[0].price.value(),
                ask: asks[0].price.value(),
            });
        }
        Ok(Depth {
            bids,
            asks,
            observed_at,
        })
    }

    /// The same book quoted per `multiplier` coins, per coin.
    pub fn per_coin(mut self, multiplier: Decimal) -> Self {
        if multiplier != Decimal::ONE {
            for l in self.bids.iter_mut().chain(self.asks.iter_mut()) {
                l.price = Price::new(l.price.value() / multiplier).unwrap_or(l.price);
                l.qty *= multiplier;
            }
        }
        self
    }

    pub fn top(&self) -> BookTop {
        BookTop {
            bid: self.bids[0].price,
            bid_qty: self.bids[0].qty,
            ask: self.asks[0].price,
            ask_qty: self.asks[0].qty,
        }
    }

    /// Buying coins for `notional` quote currency, walking the asks: `None` when the book
    /// holds less than that.
    pub fn buy_notional(&self, notional: Decimal) -> Option<Fill> {
        walk_notional(&self.asks, notional)
    }

    /// Selling `qty` coins into the bids: `None` when the book holds fewer.
    pub fn sell_qty(&self, qty: Decimal) -> Option<Fill> {
        walk_qty(&self.bids, qty)
    }

    /// Buying `qty` coins from the asks: `None` when the book holds fewer.
    pub fn buy_qty(&self, qty: Decimal) -> Option<Fill> {
        walk_qty(&self.asks, qty)
    }

    /// Quote currency the side holds in total.
    pub fn notional(levels: &[Level]) -> Decimal {
        levels.iter().map(|l| l.price.value() * l.qty).sum()
    }
}

fn fill(qty: Decimal, notional: Decimal) -> Option<Fill> {
    Some(Fill {
        qty,
        notional,
        avg_price: Price::new(notional.checked_div(qty)?).ok()?,
    })
}

fn walk_notional(levels: &[Level], notional: Decimal) -> Option<Fill> {
    if notional <= Decimal::ZERO {
        return None;
    }
    let (mut left, mut qty) = (notional, Decimal::ZERO);
    for l in levels {
        let here = l.price.value() * l.qty;
        if here >= left {
            qty += left / l.price.value();
            return fill(qty, notional);
        }
        qty += l.qty;
        left -= here;
    }
    None
}

fn walk_qty(levels: &[Level], qty: Decimal) -> Option<Fill> {
    if qty <= Decimal::ZERO {
        return None;
    }
    let (mut left, mut notional) = (qty, Decimal::ZERO);
    for l in levels {
        if l.qty >= left {
            notional += left * l.price.value();
            return fill(qty, notional);
        }
        notional += l.qty * l.price.value();
        left -= l.qty;
    }
    None
}

/// A premium at a size: both legs filled through the fetched books for `size_krw` KRW of the
/// Korean leg (the foreign leg hedges the same coins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtSize {
    pub size_krw: Decimal,
    /// Coins bought in Korea (and shorted abroad) for `size_krw`.
    pub qty: Decimal,
    /// Entry: buy Korea through the asks, short abroad through the bids.
    pub korea_avg_ask: Price,
    pub foreign_avg_bid: Price,
    pub entry_rate: Decimal,
    /// Exit of the same coins: sell Korea through the bids, cover abroad through the asks.
    pub korea_avg_bid: Price,
    pub foreign_avg_ask: Price,
    pub exit_rate: Decimal,
    /// The top-of-book entry rate the slippage is measured from.
    pub top_entry_rate: Decimal,
    /// The largest size (KRW) whose entry rate stays within the slippage of the top-of-book
    /// entry rate.
    pub max_size_krw: Decimal,
    /// The largest size the fetched books can fill at all (both legs, entry and exit).
    pub depth_krw: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtSizeError {
    #[error("size_krw must be positive, got {0}")]
    NotPositive(Decimal),
    #[error(
        "size_krw {size} exceeds the fetched depth: at most {depth_krw} KRW can be filled on both legs"
    )]
    BeyondDepth { size: Decimal, depth_krw: Decimal },
    #[error("premium arithmetic failed")]
    Arithmetic,
}

/// Entry and exit rates for `size_krw` KRW through both books at `usd_krw`, and the largest
/// size within `slippage_bp` basis points (of rate: 10 bp = 0.10 percentage points) of the
/// top-of-book entry rate. Never extrapolates beyond the fetched levels.
pub fn at_size(
    korea: &Depth,
    foreign: &Depth,
    usd_krw: Price,
    size_krw: Decimal,
    slippage_bp: Decimal,
) -> Result<AtSize, AtSizeError> {
    if size_krw <= Decimal::ZERO {
        return Err(AtSizeError::NotPositive(size_krw));
    }
    let depth_krw = depth_krw(korea, foreign);
    if size_krw > depth_krw {
        return Err(AtSizeError::BeyondDepth {
            size: size_krw,
            depth_krw: depth_krw.round_dp(0),
        });
    }
    let rate = |k: Price, f: Price| {
        crate::premium_rate(k, f, usd_krw).map_err(|_| AtSizeError::Arithmetic)
    };
    let entry = |n: Decimal| -> Result<(Fill, Fill, Decimal), AtSizeError> {
        let buy = korea
            .buy_notional(n)
            .ok_or(AtSizeError::BeyondDepth { size: n, depth_krw })?;
        let short = foreign
            .sell_qty(buy.qty)
            .ok_or(AtSizeError::BeyondDepth { size: n, depth_krw })?;
        Ok((buy, short, rate(buy.avg_price, short.avg_price)?))
    };
    let (buy, short, entry_rate) = entry(size_krw)?;
    let sell = korea.sell_qty(buy.qty).ok_or(AtSizeError::BeyondDepth {
        size: size_krw,
        depth_krw,
    })?;
    let cover = foreign.buy_qty(buy.qty).ok_or(AtSizeError::BeyondDepth {
        size: size_krw,
        depth_krw,
    })?;
    let exit_rate = rate(sell.avg_price, cover.avg_price)?;
    let top_entry_rate = rate(korea.asks[0].price, foreign.bids[0].price)?;
    let limit = top_entry_rate + slippage_bp / Decimal::ONE_HUNDRED;
    // The entry rate only rises with size (asks go up, bids go down): bisect.
    let (mut lo, mut hi) = (Decimal::ZERO, depth_krw);
    if entry(hi)?.2 <= limit {
        lo = hi;
    } else {
        for _ in 0..60 {
            let mid = (lo + hi) / Decimal::TWO;
            if mid <= lo || mid >= hi {
                break;
            }
            if entry(mid)?.2 <= limit {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    Ok(AtSize {
        size_krw,
        qty: buy.qty,
        korea_avg_ask: buy.avg_price,
        foreign_avg_bid: short.avg_price,
        entry_rate,
        korea_avg_bid: sell.avg_price,
        foreign_avg_ask: cover.avg_price,
        exit_rate,
        top_entry_rate,
        max_size_krw: lo.round_dp(0),
        depth_krw,
    })
}

/// The largest KRW size both legs can fill, entering and exiting: the Korean asks' notional,
/// or the KRW that buys as many coins as the thinnest of the other three sides holds.
fn depth_krw(korea: &Depth, foreign: &Depth) -> Decimal {
    let qty = |levels: &[Level]| levels.iter().map(|l| l.qty).sum::<Decimal>();
    let asks_krw = Depth::notional(&korea.asks);
    let max_qty = qty(&foreign.bids)
        .min(qty(&korea.bids))
        .min(qty(&foreign.asks));
    match korea.buy_qty(max_qty) {
        Some(f) => f.notional.min(asks_krw),
        None => asks_krw,
    }
}

/// A perpetual's funding: the rate to be settled at `next_funding_at`, and the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    /// A fraction per interval (`0.0001` = 0.01 %); longs pay shorts when positive.
    pub rate: Decimal,
    pub next_funding_at: DateTime<Utc>,
    pub interval_hours: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_crossed_zero_or_negative_top_is_refused() {
        assert!(BookTop::new(dec!(100), dec!(1), dec!(101), dec!(2)).is_ok());
        assert!(matches!(
            BookTop::new(dec!(101), dec!(1), dec!(101), dec!(2)),
            Err(BookError::Crossed { .. })
        ));
        assert!(matches!(
            BookTop::new(dec!(0), dec!(1), dec!(101), dec!(2)),
            Err(BookError::NotPositive { side: "bid", .. })
        ));
        assert!(matches!(
            BookTop::new(dec!(100), dec!(-1), dec!(101), dec!(2)),
            Err(BookError::NegativeQuantity { .. })
        ));
    }

    #[test]
    fn multiplier_books_are_per_coin() {
        let t = BookTop::per_coin(
            dec!(0.0098940),
            dec!(804200),
            dec!(0.0098950),
            dec!(1460100),
            dec!(1000),
        )
        .unwrap();
        assert_eq!(t.bid.value(), dec!(0.000009894));
        assert_eq!(t.ask.value(), dec!(0.000009895));
        assert_eq!(t.bid_qty, dec!(804200000));
    }

    #[test]
    fn a_premium_at_a_size_walks_both_books_and_never_extrapolates() {
        let now = Utc::now();
        // Korea: asks 100 (1 coin), 110 (1 coin); bids 99 (2), 90 (5). Foreign (USD, fx 1): bids
        // 0.09 … scaled: foreign prices are per coin in USD; fx = 1000.
        let korea = Depth::new(
            [(dec!(99000), dec!(2)), (dec!(90000), dec!(5))],
            [(dec!(100000), dec!(1)), (dec!(110000), dec!(1))],
            now,
        )
        .unwrap();
        let foreign = Depth::new(
            [(dec!(98), dec!(1.5)), (dec!(97), dec!(5))],
            [(dec!(99), dec!(3)), (dec!(100), dec!(5))],
            now,
        )
        .unwrap();
        let fx = Price::new(dec!(1000)).unwrap();
        // 155,000 KRW buys 1 coin at 100,000 and 0.5 at 110,000: 1.5 coins, avg 103,333.33…
        let a = at_size(&korea, &foreign, fx, dec!(155000), dec!(10)).unwrap();
        assert_eq!(a.qty, dec!(1.5));
        assert_eq!(a.korea_avg_ask.value(), dec!(155000) / dec!(1.5));
        // Short 1.5 coins abroad: all at 98.
        assert_eq!(a.foreign_avg_bid.value(), dec!(98));
        let rate = |k: Decimal, f: Decimal| (k - f * dec!(1000)) / (f * dec!(1000)) * dec!(100);
        assert_eq!(a.entry_rate, rate(dec!(155000) / dec!(1.5), dec!(98)));
        // Exit: sell 1.5 at 99,000; cover 1.5 at 99.
        assert_eq!(a.exit_rate, rate(dec!(99000), dec!(99)));
        assert_eq!(a.top_entry_rate, rate(dec!(100000), dec!(98)));
        // Within 10 bp (0.10 points) of the top entry rate: 100,000 KRW at the first level plus
        // x of the second, where (100,000 + x) / (1 + x / 110,000) = 98,000 × (1 + limit / 100);
        // by hand x ≈ 1,088.7, so ≈ 101,089 KRW. The bound holds there and breaks just above.
        assert_eq!(a.max_size_krw, dec!(101089), "{}", a.max_size_krw);
        let limit = a.top_entry_rate + dec!(0.10);
        let at = |n| {
            at_size(&korea, &foreign, fx, n, dec!(10))
                .unwrap()
                .entry_rate
        };
        assert!(at(dec!(101088)) <= limit);
        assert!(at(dec!(101091)) > limit);
        // Depth: Korean asks hold 210,000 KRW (2 coins); every other side holds ≥ 2 coins.
        assert_eq!(a.depth_krw, dec!(210000));
        assert!(matches!(
            at_size(&korea, &foreign, fx, dec!(210001), dec!(10)),
            Err(AtSizeError::BeyondDepth { .. })
        ));
        assert!(at_size(&korea, &foreign, fx, dec!(0), dec!(10)).is_err());
    }

    #[test]
    fn padding_is_dropped_and_fills_walk_the_levels() {
        let d = Depth::new(
            [(dec!(99), dec!(1)), (dec!(98), dec!(2)), (dec!(0), dec!(0))],
            [
                (dec!(101), dec!(1)),
                (dec!(0), dec!(5)),
                (dec!(102), dec!(2)),
            ],
            Utc::now(),
        )
        .unwrap();
        assert_eq!(d.bids.len(), 2);
        assert_eq!(d.asks.len(), 2);
        // 101 + 2 × 102 = 305 buys 3 coins: average 101.666…
        let f = d.buy_notional(dec!(305)).unwrap();
        assert_eq!(f.qty, dec!(3));
        assert_eq!(f.avg_price.value(), dec!(305) / dec!(3));
        // Half of the second level.
        let f = d.buy_notional(dec!(203)).unwrap();
        assert_eq!(f.qty, dec!(2));
        assert!(d.buy_notional(dec!(306)).is_none(), "beyond the book");
        let f = d.sell_qty(dec!(2)).unwrap();
        assert_eq!(f.notional, dec!(197));
        assert!(d.sell_qty(dec!(3.5)).is_none());
        assert!(Depth::new([(dec!(99), dec!(1))], [(dec!(99), dec!(1))], Utc::now()).is_err());
        assert!(matches!(
            Depth::new(
                [(dec!(98), dec!(1)), (dec!(99), dec!(1))],
                [(dec!(101), dec!(1))],
                Utc::now()
            ),
            Err(BookError::Unordered {
                side: "bid",
                level: 1
            })
        ));
    }
}
