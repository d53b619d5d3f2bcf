//! Order books and funding rates: pure functions of a quote (its price, liquidity class and a
//! key drawn from the seed, venue, symbol and step), so a book is as deterministic as the price
//! it brackets. No clock, no I/O.
//!
//! A synthetic book always brackets the last price: `best bid ≤ last ≤ best ask`, `bid < ask`,
//! both on the quote's tick grid. The spread depends on the liquidity class: majors ~0.1–2 bp
//! (at least one tick), the realistic universe's next most popular coins 1.5–8 bp, the long
//! tail 8–60 bp, illiquid Korean coins 80–400 bp, centred on the price (within a tick), with
//! only a few live levels per side. Sizes grow away from the top. Each side draws from its own generator,
//! so asking for fewer levels gives a prefix of the full book (tickers show the same top).

use rand::{Rng, SeedableRng, rngs::SmallRng};
use rust_decimal::{
    Decimal,
    prelude::{FromPrimitive, ToPrimitive},
};

use crate::hash::{fnv, mix, unit};

/// Levels per side of a full synthetic book.
pub(crate) const LEVELS: usize = 30;

/// How liquid an instrument is: sets its spread, depth and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liquidity {
    /// The configured coins (BTC, ETH, …) and Korean KRW-USDT.
    Major,
    /// The realistic universe's most popular coins after the majors (SOL-, PEPE-like).
    Liquid,
    /// Everything else.
    Tail,
    /// Korean coins the universe marks illiquid: wide, thin, padded with zero slots.
    Illiquid,
}

/// (price, size) levels, best first; sizes in the venue's units (OKX: contracts).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Book {
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
}

impl Book {
    pub(crate) fn best_bid(&self) -> Option<(Decimal, Decimal)> {
        self.bids.first().copied()
    }

    pub(crate) fn best_ask(&self) -> Option<(Decimal, Decimal)> {
        self.asks.first().copied()
    }

    /// `(bid + ask) / 2` when both sides have a level.
    pub(crate) fn mid(&self) -> Option<Decimal> {
        Some(((self.best_bid()?.0 + self.best_ask()?.0) / Decimal::TWO).normalize())
    }

    pub(crate) fn truncated(&self, levels: usize) -> Book {
        Book {
            bids: self.bids.iter().take(levels).copied().collect(),
            asks: self.asks.iter().take(levels).copied().collect(),
        }
    }

    /// Bids strictly descending, asks strictly ascending, every price and size positive, and
    /// (unless `allow_crossed`) best bid below best ask.
    pub(crate) fn validate(&self, allow_crossed: bool) -> Result<(), String> {
        if self.bids.is_empty() || self.asks.is_empty() {
            return Err("a pinned book needs at least one bid and one ask".into());
        }
        if self.bids.len() > 1000 || self.asks.len() > 1000 {
            return Err("a pinned book has at most 1000 levels per side".into());
        }
        for (side, levels) in [("bids", &self.bids), ("asks", &self.asks)] {
            for (i, (p, s)) in levels.iter().enumerate() {
                if *p <= Decimal::ZERO || *s <= Decimal::ZERO {
                    return Err(format!("{side}[{i}]: price and size must be positive"));
                }
            }
        }
        if self.bids.windows(2).any(|w| w[1].0 >= w[0].0) {
            return Err("bids must be strictly descending by price".into());
        }
        if self.asks.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err("asks must be strictly ascending by price".into());
        }
        if !allow_crossed && self.bids[0].0 >= self.asks[0].0 {
            return Err(format!(
                "crossed book: best bid {} >= best ask {} (send \"allow_crossed\": true to pin it anyway)",
                self.bids[0].0, self.asks[0].0
            ));
        }
        Ok(())
    }
}

/// What a synthetic book is drawn from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Seed × venue × symbol × step.
    pub key: u64,
    /// The last price it brackets; zero gives an empty book.
    pub price: Decimal,
    /// Decimals of the price (one tick is `10^-dp`).
    pub dp: u32,
    /// 24 h volume in price units (coins × multiplier).
    pub volume: Decimal,
    pub liquidity: Liquidity,
    /// Decimals of a size in price units.
    pub size_dp: u32,
    /// Price units per size unit: OKX `ctVal` (sizes in contracts), else 1.
    pub contract: Decimal,
    /// A Korean venue: thinner books, and a dust level (a size far below 0.0001) in some.
    pub korean: bool,
}

/// The first `levels` levels per side of the synthetic book of `spec`.
pub(crate) fn synth(spec: &Spec, levels: usize) -> Book {
    if spec.price <= Decimal::ZERO || levels == 0 {
        return Book::default();
    }
    let tick = Decimal::new(1, spec.dp);
    let price_ticks = (spec.price / tick).floor().to_i64().unwrap_or(i64::MAX);
    let mut rng = SmallRng::seed_from_u64(spec.key);
    let (lo, hi) = match spec.liquidity {
        Liquidity::Major => (0.1, 2.0),
        Liquidity::Liquid => (1.5, 8.0),
        Liquidity::Tail => (8.0, 60.0),
        Liquidity::Illiquid => (80.0, 400.0),
    };
    let bp: f64 = rng.random_range(lo..hi);
    let price_f = spec.price.to_f64().unwrap_or(1.0);
    let tick_f = tick.to_f64().unwrap_or(1.0);
    let spread = ((price_f * bp / 1e4 / tick_f).round() as i64).clamp(1, 1 << 40);
    // Where the last trade sits inside the spread; the bid stays at one tick or more. An
    // illiquid coin's book is centred on its price: its last trade is old, so premiums are
    // priced from the book's mid, which must stay the simulated price (the truth).
    let drawn = rng.random_range(0..=spread);
    let k = match spec.liquidity {
        Liquidity::Illiquid => spread / 2,
        _ => drawn,
    };
    let k = k.min(price_ticks - 1).max(0);
    let bid = spec.price - tick * Decimal::from(k);
    let ask = bid + tick * Decimal::from(spread);
    let live = |rng: &mut SmallRng| match spec.liquidity {
        Liquidity::Illiquid => rng.random_range(3..=12usize),
        _ => LEVELS,
    };
    let live_bids = live(&mut rng);
    let live_asks = live(&mut rng);
    let gap_max = match spec.liquidity {
        Liquidity::Major => (spread / 2).max(1),
        _ => (spread / 3).max(1),
    };
    let top_frac = match spec.liquidity {
        Liquidity::Major => 1.0 / 1_000.0,
        Liquidity::Liquid => 1.0 / 1_500.0,
        Liquidity::Tail => 1.0 / 2_000.0,
        Liquidity::Illiquid => 1.0 / 20_000.0,
    };
    // Korean books are thinner than the big perp venues'.
    let venue_frac = if spec.korean { 0.25 } else { 1.0 };
    let top = spec.volume.to_f64().unwrap_or(1.0) * top_frac * venue_frac;
    let dust_at = |rng: &mut SmallRng| {
        let at = rng.random_range(2..12usize);
        (spec.korean && rng.random_bool(0.35)).then_some(at)
    };
    let dust_bid = dust_at(&mut rng);
    let dust_ask = dust_at(&mut rng);
    let side = |start: Decimal, dir: i64, live: usize, dust: Option<usize>, salt: u64| {
        let mut rng = SmallRng::seed_from_u64(mix(&[spec.key, salt]));
        let mut out = Vec::with_capacity(levels.min(live));
        let mut px = start;
        for i in 0..levels.min(live) {
            if i > 0 {
                let gap = rng.random_range(1..=gap_max);
                px += tick * Decimal::from(gap * dir);
            }
            let grow = 1.0 + 0.25 * i as f64;
            let wiggle: f64 = rng.random_range(0.4..1.6);
            if px <= Decimal::ZERO {
                break;
            }
            let size = if dust == Some(i) {
                Decimal::new(rng.random_range(1..5), 5)
            } else {
                let raw = Decimal::from_f64(top * grow * wiggle).unwrap_or(Decimal::ONE);
                to_units(raw, spec)
            };
            out.push((px, size));
        }
        out
    };
    let bids = side(bid, -1, live_bids, dust_bid, 0xb1d);
    let asks = side(ask, 1, live_asks, dust_ask, 0xa5c);
    Book { bids, asks }
}

/// A size in price units → the venue's size units, at least one step.
fn to_units(raw: Decimal, spec: &Spec) -> Decimal {
    if spec.contract != Decimal::ONE && spec.contract > Decimal::ZERO {
        return (raw / spec.contract).round().max(Decimal::ONE);
    }
    let step = Decimal::new(1, spec.size_dp);
    raw.round_dp(spec.size_dp).max(step)
}

/// Decimals of a foreign contract size: about one unit of 1–10 USD per step (BTC 0.001, a
/// one-cent coin whole units).
pub(crate) fn foreign_size_dp(price: Decimal) -> u32 {
    let p = price.to_f64().unwrap_or(1.0).max(1e-12);
    (p.log10().ceil() as i32 - 2).clamp(0, 3) as u32
}

/// A perpetual's funding: the rate to be settled at `next_ms`, the interval and the cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Funding {
    pub rate: Decimal,
    pub interval_h: i64,
    /// The next settlement, on the interval's boundary (UTC).
    pub next_ms: i64,
    pub cap: Decimal,
}

/// Symbols that never get an extreme funding rate or a short interval.
const MAJORS: [&str; 5] = ["BTC", "ETH", "XRP", "SOL", "DOGE"];

/// How many steps one funding estimate lasts (a minute at the default 250 ms step).
const FUNDING_STEPS: u64 = 240;

/// Funding of `symbol` (the venue's native base, `1000PEPE`) on the venue named `venue`, at
/// `step` and wall-clock `now_ms`. Typical rates are around +0.01 % with a small spread (some
/// negative); about one symbol in twenty-five (never BTC, ETH, XRP, SOL, DOGE) sits at an
/// extreme (±0.05–0.3 %).
pub(crate) fn funding(seed: u64, venue: &str, symbol: &str, step: u64, now_ms: i64) -> Funding {
    let id = fnv(symbol);
    let interval_h = interval_hours(venue, symbol);
    let period = interval_h * 3_600_000;
    let next_ms = (now_ms.div_euclid(period) + 1) * period;
    let v = fnv(venue);
    let drift = unit(mix(&[seed, v, id, step / FUNDING_STEPS])) - 0.5;
    let base = unit(mix(&[seed, v, id, 0xf0]));
    let extreme = !MAJORS.contains(&symbol) && unit(mix(&[seed, id, 0xe7])) < 0.04;
    let rate = if extreme {
        let sign = if unit(mix(&[seed, id, 0x5])) < 0.5 {
            -1.0
        } else {
            1.0
        };
        sign * (0.0005 + 0.0025 * base) + 0.00002 * drift
    } else {
        0.0001 * (1.0 - 1.5 * base * base) + 0.00001 * drift
    };
    let cap = if interval_h < 8 { 0.02 } else { 0.00375 };
    let rate = rate.clamp(-cap, cap);
    Funding {
        rate: Decimal::from_f64(rate).unwrap_or_default().round_dp(8),
        interval_h,
        next_ms,
        cap: Decimal::from_f64(cap).unwrap_or_default().normalize(),
    }
}

/// The funding interval (hours) of a symbol on a venue. Binance: the symbols `fundingInfo`
/// lists (byte sum divisible by 7) are 4 h; Bybit and OKX: a stable one in eight is 4 h, and a
/// few Bybit ones 1 h; everything else 8 h.
pub(crate) fn interval_hours(venue: &str, symbol: &str) -> i64 {
    if venue == "binance" {
        return if symbol.bytes().map(u64::from).sum::<u64>() % 7 == 0 {
            4
        } else {
            8
        };
    }
    if MAJORS.contains(&symbol) {
        return 8;
    }
    match mix(&[fnv(venue), fnv(symbol)]) % 16 {
        0 if venue == "bybit" => 1,
        0..=1 => 4,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(liquidity: Liquidity, key: u64) -> Spec {
        Spec {
            key,
            price: Decimal::new(12_345_678, 2),
            dp: 2,
            volume: Decimal::from(5_000_000),
            liquidity,
            size_dp: 3,
            contract: Decimal::ONE,
            korean: true,
        }
    }

    #[test]
    fn books_bracket_the_price_and_grow_away_from_it() {
        for key in 0..300 {
            for liq in [
                Liquidity::Major,
                Liquidity::Liquid,
                Liquidity::Tail,
                Liquidity::Illiquid,
            ] {
                let s = spec(liq, key);
                let b = synth(&s, LEVELS);
                let (bid, ask) = (b.best_bid().unwrap().0, b.best_ask().unwrap().0);
                assert!(
                    bid <= s.price && s.price <= ask && bid < ask,
                    "{key} {liq:?}"
                );
                b.validate(false).unwrap();
                if liq != Liquidity::Illiquid {
                    assert_eq!(b.bids.len(), LEVELS);
                    assert_eq!(b.asks.len(), LEVELS);
                } else {
                    assert!(b.bids.len() < LEVELS);
                    // Centred: the mid is the price within a tick.
                    let off = (b.mid().unwrap() - s.price).abs();
                    assert!(off <= Decimal::new(1, s.dp), "{key}: mid off by {off}");
                }
                assert_eq!(synth(&s, 5), b.truncated(5), "prefix of the full book");
            }
        }
    }

    #[test]
    fn funding_is_small_and_on_the_interval_boundary() {
        let now = 1_790_000_123_456;
        for (i, sym) in ["BTC", "ETH", "1000PEPE", "ABC", "XYZ", "SIM001"]
            .iter()
            .enumerate()
        {
            for venue in ["binance", "bybit", "okx"] {
                let f = funding(7, venue, sym, i as u64, now);
                assert!(f.rate.abs() <= f.cap, "{venue} {sym} {}", f.rate);
                assert_eq!(f.next_ms % (f.interval_h * 3_600_000), 0);
                assert!(f.next_ms > now && f.next_ms - now <= f.interval_h * 3_600_000);
            }
        }
    }
}
