//! What a simulator quotes ([`SimConfig`]) and the coins it quotes by default. A leaf: the price
//! model and the shared state read it.

use std::time::Duration;

use rust_decimal::Decimal;

/// The coins every simulator serves, with their default USD base prices.
pub(crate) const KNOWN_COINS: [(&str, i64, u32); 5] = [
    ("BTC", 90_000, 0),
    ("ETH", 3_000, 0),
    ("XRP", 22, 1),
    ("SOL", 140, 0),
    ("DOGE", 16, 2),
];

/// Default base prices, as `SimConfig::coins` holds them.
pub(crate) fn default_coins() -> Vec<(String, Decimal)> {
    KNOWN_COINS
        .iter()
        .map(|&(s, m, dp)| (s.to_string(), Decimal::new(m, dp)))
        .collect()
}

/// What the simulator quotes.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds every random walk: the same seed gives the same price path.
    pub seed: u64,
    /// Kimchi premium of Korean KRW prices over the foreign price × USD/KRW (Dunamu), percent.
    pub premium_pct: Decimal,
    /// Premium of Korean KRW-USDT over USD/KRW (Dunamu), percent.
    pub usdt_premium_pct: Decimal,
    /// Per-venue, per-step price noise, percent (uniform in ±noise_pct).
    pub noise_pct: Decimal,
    /// Base USD/KRW the FX walk moves around.
    pub usd_krw: Decimal,
    /// Synthetic coins `SIM001`, `SIM002`, … served on every venue besides [`SimConfig::coins`].
    pub extra_coins: usize,
    /// Wall-clock time per random-walk step; zero freezes prices (move them with
    /// `POST /_sim/advance`).
    pub step: Duration,
    /// Named coins and their base USD prices (BTC, ETH, XRP, SOL, DOGE by default). KRW-USDT is
    /// always quoted on Korean venues and needs no entry.
    pub coins: Vec<(String, Decimal)>,
    /// Serve the realistic universe (see the crate docs) instead of every coin on every venue;
    /// `coins` are its majors, listed everywhere, and `extra_coins` is ignored. Off by default
    /// (the tests' fixed coin set); `premium-spread sim` and `up --sim` turn it on unless given
    /// `--basic` / `--sim-basic`.
    pub realistic: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            premium_pct: Decimal::new(15, 1),
            usdt_premium_pct: Decimal::new(3, 1),
            noise_pct: Decimal::new(2, 2),
            usd_krw: Decimal::from(1_390),
            extra_coins: 300,
            step: Duration::from_millis(250),
            coins: default_coins(),
            realistic: false,
        }
    }
}
