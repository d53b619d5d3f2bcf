//! The price model: seeded, mean-reverting random walks. Pure: no clock, no I/O.
//!
//! Every coin has one global USD walk (its own `SmallRng`, seeded from the seed and the coin's
//! symbol), and one USD/KRW walk is shared by the FX sources. A price at step `n` depends only on
//! the seed and `n`, so two simulators with the same seed quote the same path. Per-venue noise is
//! drawn afresh every step from a `SmallRng` seeded by (seed, coin, venue, step), so it needs no
//! state and never accumulates:
//!
//! - foreign venue (USDT) = `usd × (1 + noise)`
//! - Korean venue (KRW)   = `usd × fx(dunamu) × (1 + premium_pct/100) × (1 + noise)`
//! - Korean KRW-USDT      = `fx(dunamu) × (1 + usdt_premium_pct/100) × (1 + noise)`
//! - FX source            = `usd_krw × walk × (1 + fixed per-source offset)`, 2 dp.

use std::collections::HashMap;

use domain::{Coin, FxSource, Venue};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use rust_decimal::{
    Decimal, RoundingStrategy,
    prelude::{FromPrimitive, ToPrimitive},
};

use crate::{
    config::SimConfig,
    hash::{fnv, mix, unit},
};

/// Per-step pull back towards the base price; keeps a long run within a few % of it.
const REVERSION: f64 = 0.001;
/// Largest uniform step of a coin's walk (relative), and of the FX walk.
const COIN_SIGMA: f64 = 0.0004;
const FX_SIGMA: f64 = 0.0001;
/// After an idle gap longer than this many steps a walk skips ahead instead of replaying every
/// step: the reversion has long forgotten the past by then.
const MAX_GAP: u64 = 50_000;
/// Significant digits a generated price keeps.
const SIG_DIGITS: i32 = 6;
/// Decimals of FX rates and of Korean KRW-USDT.
pub(crate) const FX_DP: u32 = 2;
pub(crate) const USDT_DP: u32 = 1;

/// A coin the simulator quotes on every venue.
#[derive(Debug, Clone)]
pub(crate) struct CoinInfo {
    pub symbol: String,
    pub base_usd: Decimal,
    /// Decimals of its USDT price on foreign venues.
    pub usd_dp: u32,
    /// Decimals of its KRW price on Korean venues.
    pub krw_dp: u32,
    /// 24 h turnover in USD, for volume fields.
    pub turnover_usd: Decimal,
    id: u64,
}

/// The runtime-adjustable part of the model (`POST /_sim/config`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    pub premium_pct: Decimal,
    pub usdt_premium_pct: Decimal,
    pub noise_pct: Decimal,
    /// Added to Bithumb's REST ticker `timestamp`/`trade_timestamp` (the real one has been seen
    /// +9 h: KST wall time written as epoch); `trade_date`/`trade_time` stay true UTC.
    pub bithumb_clock_skew_ms: i64,
    /// The date the simulated Frankfurter answers instead of the last ECB publication's.
    pub frankfurter_date: Option<chrono::NaiveDate>,
}

#[derive(Debug)]
struct Walk {
    step: u64,
    x: f64,
    sigma: f64,
    rng: SmallRng,
}

impl Walk {
    fn new(seed: u64, sigma: f64) -> Self {
        Walk {
            step: 0,
            x: 0.0,
            sigma,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The relative deviation from the base at `step`. Asking for an older step than the last
    /// one answers the last one (steps only move forward).
    fn at(&mut self, step: u64) -> f64 {
        if step > self.step + MAX_GAP {
            self.step = step - MAX_GAP;
        }
        while self.step < step {
            let e: f64 = self.rng.random_range(-1.0..=1.0);
            self.x = self.x * (1.0 - REVERSION) + self.sigma * e;
            self.step += 1;
        }
        self.x
    }
}

/// All coins and walks of one simulator.
#[derive(Debug)]
pub(crate) struct PriceModel {
    seed: u64,
    usd_krw: Decimal,
    coins: Vec<CoinInfo>,
    by_symbol: HashMap<String, usize>,
    walks: Vec<Walk>,
    fx_walk: Walk,
}

impl PriceModel {
    /// The configured coins, then `extra_coins` synthetic ones (`SIM001`, …).
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        let synthetic = (1..=cfg.extra_coins).map(|i| (format!("SIM{i:03}"), synthetic_base(i)));
        PriceModel::with_coins(cfg, cfg.coins.iter().cloned().chain(synthetic))
    }

    /// Exactly `coins` (symbol, base USD price), in that order.
    pub(crate) fn with_coins(
        cfg: &SimConfig,
        coins: impl IntoIterator<Item = (String, Decimal)>,
    ) -> Self {
        let mut m = PriceModel {
            seed: cfg.seed,
            usd_krw: cfg.usd_krw,
            fx_walk: Walk::new(mix(&[cfg.seed, fnv("USD/KRW")]), FX_SIGMA),
            coins: Vec::new(),
            by_symbol: HashMap::new(),
            walks: Vec::new(),
        };
        for (symbol, base) in coins {
            m.add(&symbol, base);
        }
        m
    }

    /// Adds a coin (skipping invalid, duplicate, USDT or non-positive ones); its index.
    pub(crate) fn add(&mut self, symbol: &str, base: Decimal) -> Option<usize> {
        let Ok(coin) = Coin::parse(symbol) else {
            tracing::warn!(%symbol, "sim: skipping an invalid coin symbol");
            return None;
        };
        let symbol = coin.as_str().to_string();
        if symbol == "USDT" || base <= Decimal::ZERO || self.by_symbol.contains_key(&symbol) {
            tracing::warn!(%symbol, %base, "sim: skipping a duplicate, USDT or non-positive coin");
            return None;
        }
        let id = fnv(&symbol);
        let turnover = 1_000_000.0 * 10f64.powf(3.0 * unit(mix(&[id, 7])));
        let idx = self.coins.len();
        self.by_symbol.insert(symbol.clone(), idx);
        self.coins.push(CoinInfo {
            usd_dp: decimals(base, 2, 8),
            krw_dp: decimals(base * self.usd_krw, 0, 12),
            turnover_usd: dec(turnover).round_dp(0),
            base_usd: base,
            symbol,
            id,
        });
        self.walks
            .push(Walk::new(mix(&[self.seed, id]), COIN_SIGMA));
        Some(idx)
    }

    pub(crate) fn coins(&self) -> &[CoinInfo] {
        &self.coins
    }

    pub(crate) fn find(&self, symbol: &str) -> Option<usize> {
        self.by_symbol.get(symbol).copied()
    }

    /// The global (venue-free) USD price of a coin, unrounded.
    fn usd(&mut self, idx: usize, step: u64) -> Decimal {
        let x = self.walks[idx].at(step);
        self.coins[idx].base_usd * factor(x)
    }

    /// USD/KRW as `source` posts it at `step`.
    pub(crate) fn fx(&mut self, source: FxSource, step: u64) -> Decimal {
        let x = self.fx_walk.at(step);
        round(self.usd_krw * factor(x) * factor(fx_offset(source)), FX_DP)
    }

    /// USD/KRW of `source` before any walk (the "opening" rate).
    pub(crate) fn fx_open(&self, source: FxSource) -> Decimal {
        round(self.usd_krw * factor(fx_offset(source)), FX_DP)
    }

    /// A foreign venue's USDT price.
    #[cfg(test)]
    pub(crate) fn foreign(&mut self, venue: Venue, idx: usize, step: u64, p: &Params) -> Decimal {
        let usd = self.usd(idx, step);
        let noise = self.noise(self.coins[idx].id, venue, step, p);
        round(usd * noise, self.coins[idx].usd_dp)
    }

    /// A foreign venue's USDT price of `mult` coins, at `dp` decimals.
    pub(crate) fn foreign_scaled(
        &mut self,
        venue: Venue,
        idx: usize,
        step: u64,
        p: &Params,
        mult: Decimal,
        dp: u32,
    ) -> Decimal {
        let usd = self.usd(idx, step);
        let noise = self.noise(self.coins[idx].id, venue, step, p);
        round(usd * mult * noise, dp)
    }

    /// A Korean venue's KRW price.
    pub(crate) fn korea(&mut self, venue: Venue, idx: usize, step: u64, p: &Params) -> Decimal {
        let usd = self.usd(idx, step);
        let fx = self.fx(FxSource::Dunamu, step);
        let noise = self.noise(self.coins[idx].id, venue, step, p);
        round(
            usd * fx * pct(p.premium_pct) * noise,
            self.coins[idx].krw_dp,
        )
    }

    /// A Korean venue's KRW-USDT price (the "crypto FX").
    pub(crate) fn korea_usdt(&mut self, venue: Venue, step: u64, p: &Params) -> Decimal {
        let fx = self.fx(FxSource::Dunamu, step);
        let noise = self.noise(fnv("USDT"), venue, step, p);
        round(fx * pct(p.usdt_premium_pct) * noise, USDT_DP)
    }

    /// Step-0 prices without noise: what "opening" and "previous close" fields show.
    pub(crate) fn korea_open(&self, idx: usize, p: &Params) -> Decimal {
        let c = &self.coins[idx];
        let fx = self.fx_open(FxSource::Dunamu);
        round(c.base_usd * fx * pct(p.premium_pct), c.krw_dp)
    }

    pub(crate) fn korea_usdt_open(&self, p: &Params) -> Decimal {
        round(
            self.fx_open(FxSource::Dunamu) * pct(p.usdt_premium_pct),
            USDT_DP,
        )
    }

    /// `1 + noise_pct/100 × u`, `u` uniform in [-1, 1], fresh for every (coin, venue, step).
    fn noise(&self, coin_id: u64, venue: Venue, step: u64, p: &Params) -> Decimal {
        let mut rng =
            SmallRng::seed_from_u64(mix(&[self.seed, coin_id, fnv(venue.as_str()), step]));
        let u: f64 = rng.random_range(-1.0..=1.0);
        Decimal::ONE + p.noise_pct / Decimal::ONE_HUNDRED * dec(u)
    }
}

/// Small fixed differences between FX sources, as between real providers.
fn fx_offset(source: FxSource) -> f64 {
    match source {
        FxSource::Dunamu => 0.0,
        FxSource::Erapi => -0.0004,
        FxSource::Frankfurter => 0.0006,
    }
}

/// A deterministic base price for synthetic coin `i`: log-uniform between 0.001 and ~5,000 USD.
fn synthetic_base(i: usize) -> Decimal {
    let u = unit(mix(&[0x5155_4c41_5445, i as u64]));
    let usd = 10f64.powf(-3.0 + 6.7 * u);
    let d = dec(usd);
    round(d, decimals(d, 0, 10))
}

/// Decimals that keep `SIG_DIGITS` significant digits of `price`, within `[min, max]`.
pub(crate) fn decimals(price: Decimal, min: i32, max: i32) -> u32 {
    let magnitude = price
        .to_f64()
        .unwrap_or(1.0)
        .abs()
        .max(1e-12)
        .log10()
        .floor() as i32;
    (SIG_DIGITS - 1 - magnitude).clamp(min, max) as u32
}

/// Rounds half away from zero and pads to exactly `dp` decimals, as venues print prices.
pub(crate) fn round(value: Decimal, dp: u32) -> Decimal {
    let mut r = value.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

fn pct(p: Decimal) -> Decimal {
    Decimal::ONE + p / Decimal::ONE_HUNDRED
}

fn factor(x: f64) -> Decimal {
    dec(1.0 + x)
}

fn dec(v: f64) -> Decimal {
    Decimal::from_f64(v).unwrap_or(Decimal::ONE).round_dp(12)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        let cfg = SimConfig::default();
        Params {
            premium_pct: cfg.premium_pct,
            usdt_premium_pct: cfg.usdt_premium_pct,
            noise_pct: cfg.noise_pct,
            bithumb_clock_skew_ms: 0,
            frankfurter_date: None,
        }
    }

    fn path(seed: u64, steps: u64) -> Vec<Decimal> {
        let mut m = PriceModel::new(&SimConfig {
            seed,
            ..SimConfig::default()
        });
        let p = params();
        (0..steps)
            .flat_map(|s| {
                [
                    m.korea(Venue::Upbit, 0, s, &p),
                    m.foreign(Venue::Binance, 0, s, &p),
                ]
            })
            .collect()
    }

    #[test]
    fn the_same_seed_walks_the_same_path() {
        assert_eq!(path(7, 200), path(7, 200));
        assert_ne!(path(7, 200), path(8, 200));
    }

    #[test]
    fn premium_stays_near_the_configured_one_over_a_long_run() {
        let mut m = PriceModel::new(&SimConfig::default());
        let p = params();
        for step in (0..20_000).step_by(97) {
            let fx = m.fx(FxSource::Dunamu, step);
            for idx in 0..m.coins().len() {
                let k = domain::Price::new(m.korea(Venue::Upbit, idx, step, &p)).unwrap();
                let f = domain::Price::new(m.foreign(Venue::Binance, idx, step, &p)).unwrap();
                let rate = domain::premium_rate(k, f, domain::Price::new(fx).unwrap()).unwrap();
                assert!(
                    (rate - p.premium_pct).abs() < Decimal::new(2, 1),
                    "{} at step {step}: {rate}",
                    m.coins()[idx].symbol
                );
            }
        }
    }

    #[test]
    fn prices_stay_within_a_few_percent_of_base() {
        let mut m = PriceModel::new(&SimConfig::default());
        let base = m.coins()[0].base_usd;
        let p = params();
        for step in [0, 10, 1_000, 100_000, 10_000_000] {
            let price = m.foreign(Venue::Binance, 0, step, &p);
            let dev = ((price - base) / base).abs();
            assert!(dev < Decimal::new(5, 2), "step {step}: {price}");
        }
    }

    #[test]
    fn synthetic_coins_have_positive_deterministic_bases() {
        let m = PriceModel::new(&SimConfig::default());
        assert_eq!(m.coins().len(), 305);
        assert_eq!(m.coins()[5].symbol, "SIM001");
        assert_eq!(m.coins()[304].symbol, "SIM300");
        for c in m.coins() {
            assert!(c.base_usd > Decimal::ZERO, "{}", c.symbol);
        }
        assert_eq!(synthetic_base(42), synthetic_base(42));
    }

    #[test]
    fn rounding_pads_to_the_coins_decimals() {
        assert_eq!(round(Decimal::new(900001, 1), 2).to_string(), "90000.10");
        assert_eq!(decimals(Decimal::new(90_000, 0), 2, 8), 2);
        assert_eq!(decimals(Decimal::new(16, 2), 2, 8), 6);
        assert_eq!(decimals(Decimal::new(125_000_000, 0), 0, 8), 0);
    }
}
