//! The simulator's shared state: the price model, the listing set, the clock, faults, pinned
//! prices and counters.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use domain::{FxSource, Region, Venue};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::watch;

use crate::{
    book::{Book, Liquidity},
    config::SimConfig,
    faults::{FaultSpec, Snapshot},
    hash::{fnv, mix, unit},
    prefix::Prefix,
    price_model::{Params, PriceModel},
    quote::{Board, KOREAN_SIZE_DP, Quote},
    universe::{Change, Listing, ListingSet},
};

/// Distinct paths `/_sim/stats` keeps counts for; later new paths are only counted in totals.
const MAX_TRACKED_PATHS: usize = 10_000;

/// In the realistic universe, the coins before this rank (the most popular, after the majors)
/// have tight books.
const LIQUID_RANK: usize = 60;

/// A pinned book as `POST /_sim/prices` received it.
#[derive(Debug, Clone)]
pub(crate) struct BookPin {
    pub book: Arc<Book>,
    pub allow_crossed: bool,
}

/// Request counters (`GET /_sim/stats`).
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Stats {
    pub total: u64,
    pub requests: BTreeMap<&'static str, u64>,
    /// Requests answered by a fault instead of the venue's normal body.
    pub faulted: BTreeMap<&'static str, u64>,
    pub paths: BTreeMap<String, u64>,
}

impl Stats {
    fn empty() -> Self {
        let zeros: BTreeMap<&'static str, u64> =
            crate::prefix::PREFIXES.iter().map(|p| (*p, 0)).collect();
        Stats {
            total: 0,
            requests: zeros.clone(),
            faulted: zeros,
            paths: BTreeMap::new(),
        }
    }
}

pub(crate) struct Sim {
    pub seed: u64,
    pub usd_krw: Decimal,
    pub extra_coins: usize,
    pub step: Duration,
    started: Instant,
    manual_steps: AtomicU64,
    params: RwLock<Params>,
    prices: Mutex<PriceModel>,
    /// Who lists what; lock order: `universe`, then `prices`.
    universe: RwLock<ListingSet>,
    faults: RwLock<BTreeMap<Prefix, FaultSpec>>,
    /// The answers a `freeze` replays, by prefix and path with query; emptied for a prefix
    /// whenever its faults are set or cleared.
    frozen: Mutex<BTreeMap<(Prefix, String), Snapshot>>,
    /// Pinned prices: (prefix, coin) for venues, (prefix, "") for FX sources.
    pins: RwLock<BTreeMap<(Prefix, String), Decimal>>,
    /// Pinned books: (venue prefix, coin).
    book_pins: RwLock<BTreeMap<(Prefix, String), BookPin>>,
    /// The first `majors` coins of the price model are the configured ones (tight books).
    majors: usize,
    stats: Mutex<Stats>,
    fault_rng: Mutex<SmallRng>,
    /// Binance's `X-MBX-USED-WEIGHT-1M`: (minute, weight used in it).
    binance_weight: Mutex<(i64, u64)>,
    shutdown: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sim {
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        let (prices, universe) = if cfg.realistic {
            let (u, prices) = ListingSet::realistic(cfg.seed, &cfg.coins);
            (PriceModel::with_coins(cfg, prices), u)
        } else {
            let m = PriceModel::new(cfg);
            let coins: Vec<String> = m.coins().iter().map(|c| c.symbol.clone()).collect();
            (m, ListingSet::basic(&coins))
        };
        Sim {
            seed: cfg.seed,
            usd_krw: cfg.usd_krw,
            extra_coins: cfg.extra_coins,
            step: cfg.step,
            started: Instant::now(),
            manual_steps: AtomicU64::new(0),
            params: RwLock::new(Params {
                premium_pct: cfg.premium_pct,
                usdt_premium_pct: cfg.usdt_premium_pct,
                noise_pct: cfg.noise_pct,
                bithumb_clock_skew_ms: 0,
                frankfurter_date: None,
            }),
            prices: Mutex::new(prices),
            universe: RwLock::new(universe),
            faults: RwLock::default(),
            frozen: Mutex::default(),
            pins: RwLock::default(),
            book_pins: RwLock::default(),
            majors: cfg.coins.len(),
            stats: Mutex::new(Stats::empty()),
            fault_rng: Mutex::new(SmallRng::seed_from_u64(cfg.seed ^ 0xfa17)),
            binance_weight: Mutex::new((0, 0)),
            shutdown: watch::Sender::new(false),
        }
    }

    // ---- clock ----

    /// The current step: wall-clock steps since start (none when `step` is zero) plus manual ones.
    pub(crate) fn current_step(&self) -> u64 {
        let elapsed = if self.step.is_zero() {
            0
        } else {
            (self.started.elapsed().as_nanos() / self.step.as_nanos()) as u64
        };
        elapsed + self.manual_steps.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, steps: u64) -> u64 {
        self.manual_steps.fetch_add(steps, Ordering::Relaxed);
        self.current_step()
    }

    // ---- runtime parameters ----

    pub(crate) fn params(&self) -> Params {
        *self.params.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_params(&self, p: Params) {
        *self.params.write().unwrap_or_else(PoisonError::into_inner) = p;
    }

    // ---- prices ----

    /// Quotes of `venue` for `only` (native base symbols, in that order, unknown ones skipped),
    /// or for every instrument it lists. Korean venues also list USDT. Pins and `zero_price`
    /// apply.
    pub(crate) fn board(&self, venue: Venue, only: Option<&[String]>) -> Board {
        let prefix = Prefix::Venue(venue);
        let p = self.params();
        let pins = self.pins.read().unwrap_or_else(PoisonError::into_inner);
        let book_pins = self
            .book_pins
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let (zero, no_book) = self
            .fault(prefix)
            .map(|f| (Some(f.zero), f.no_book))
            .unwrap_or_default();
        let korea = venue.region() == Region::Korea;
        let universe = self.universe();
        let by_native: std::collections::HashMap<&str, &Listing> = universe
            .listings(venue)
            .iter()
            .map(|l| (l.native.as_str(), l))
            .collect();
        let mut m = lock(&self.prices);
        let step = self.current_step();

        let all: Vec<String>;
        let symbols: &[String] = match only {
            Some(s) => s,
            None => {
                let mut v: Vec<String> = universe
                    .listings(venue)
                    .iter()
                    .map(|l| l.native.clone())
                    .collect();
                if korea {
                    v.insert(v.len().min(crate::config::KNOWN_COINS.len()), "USDT".into());
                }
                all = v;
                &all
            }
        };

        let mut quotes = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            let quote = if korea && symbol == "USDT" {
                Quote {
                    symbol: symbol.clone(),
                    price: m.korea_usdt(venue, step, &p),
                    open: m.korea_usdt_open(&p),
                    dp: crate::price_model::USDT_DP,
                    volume: Decimal::new(250_000_000, 0),
                    lag_ms: 0,
                    key: book_key(self.seed, venue, symbol, step),
                    liquidity: Liquidity::Major,
                    size_dp: KOREAN_SIZE_DP,
                    contract: Decimal::ONE,
                    pinned_book: None,
                }
            } else if let Some(&l) = by_native.get(symbol.as_str())
                && let Some(idx) = m.find(&l.asset)
            {
                let (price, open, dp) = if korea {
                    let dp = m.coins()[idx].krw_dp;
                    (m.korea(venue, idx, step, &p), m.korea_open(idx, &p), dp)
                } else {
                    let c = &m.coins()[idx];
                    let dp = if universe.realistic {
                        crate::price_model::decimals(c.base_usd * l.mult, 2, 14)
                    } else {
                        c.usd_dp
                    };
                    let open = crate::price_model::round(c.base_usd * l.mult, dp);
                    (m.foreign_scaled(venue, idx, step, &p, l.mult, dp), open, dp)
                };
                let c = &m.coins()[idx];
                let lag_ms = if korea {
                    universe.illiquid.get(&l.coin).copied().unwrap_or(0)
                } else {
                    0
                };
                let liquidity = if idx < self.majors {
                    Liquidity::Major
                } else if korea && universe.illiquid.contains_key(&l.coin) {
                    Liquidity::Illiquid
                } else if universe.realistic && idx < LIQUID_RANK {
                    Liquidity::Liquid
                } else {
                    Liquidity::Tail
                };
                let (size_dp, contract) = match venue {
                    _ if korea => (KOREAN_SIZE_DP, Decimal::ONE),
                    Venue::Okx => (0, l.ct_val),
                    _ => (crate::book::foreign_size_dp(open), Decimal::ONE),
                };
                Quote {
                    symbol: symbol.clone(),
                    price,
                    open,
                    dp,
                    volume: (c.turnover_usd / (c.base_usd * l.mult)).round_dp(4),
                    lag_ms,
                    key: book_key(self.seed, venue, symbol, step),
                    liquidity,
                    size_dp,
                    contract,
                    pinned_book: None,
                }
            } else {
                continue;
            };
            let mut quote = self.adjust(quote, prefix, &pins, &book_pins, zero.as_ref());
            if no_book.applies_to(&quote.symbol) {
                quote.pinned_book = Some(Arc::new(crate::book::Book::default()));
            }
            quotes.push(quote);
        }
        Board {
            quotes,
            now: Utc::now(),
            step,
        }
    }

    // ---- listings ----

    pub(crate) fn universe(&self) -> std::sync::RwLockReadGuard<'_, ListingSet> {
        self.universe.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The listings of `venue`, as they are now.
    pub(crate) fn listings(&self, venue: Venue) -> Vec<Listing> {
        self.universe().listings(venue).to_vec()
    }

    /// `POST /_sim/illiquid`: the Korean venues' last trade of `coin` lags `lag_ms` behind
    /// their snapshot time (0: it trades now); the truth's `illiquid` follows. Answers the lags.
    pub(crate) fn set_trade_lag(&self, coin: &str, lag_ms: i64) -> BTreeMap<String, i64> {
        let mut u = self
            .universe
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if lag_ms > 0 {
            u.illiquid.insert(coin.to_string(), lag_ms);
        } else {
            u.illiquid.remove(coin);
        }
        u.illiquid.clone()
    }

    /// `POST /_sim/listings`: lists or delists `coin` on `venue`. A coin no venue knows becomes
    /// a new asset with a deterministic base price.
    pub(crate) fn change_listing(
        &self,
        venue: Venue,
        coin: &str,
        list: bool,
        mult: Decimal,
    ) -> Result<Change, String> {
        let mut u = self
            .universe
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !list {
            return u.delist(venue, coin);
        }
        let change = u.list(venue, coin, mult)?;
        if let Change::Listed(l) = &change {
            let mut m = lock(&self.prices);
            if m.find(&l.asset).is_none() {
                let h = unit(mix(&[self.seed, fnv(&l.asset)]));
                let usd = Decimal::from_f64_retain(10f64.powf(-2.0 + 4.0 * h))
                    .unwrap_or(Decimal::ONE)
                    .round_dp(6)
                    .max(Decimal::new(1, 6));
                m.add(&l.asset, usd);
            }
            u.add_asset(&l.asset);
        }
        Ok(change)
    }

    fn adjust(
        &self,
        mut q: Quote,
        prefix: Prefix,
        pins: &BTreeMap<(Prefix, String), Decimal>,
        book_pins: &BTreeMap<(Prefix, String), BookPin>,
        zero: Option<&crate::faults::ZeroPrice>,
    ) -> Quote {
        let key = (prefix, q.symbol.clone());
        if let Some(b) = book_pins.get(&key) {
            if let Some(mid) = b.book.mid() {
                q.price = mid;
            }
            q.pinned_book = Some(b.book.clone());
        }
        if let Some(pin) = pins.get(&key) {
            q.price = *pin;
        }
        if zero.is_some_and(|z| z.applies_to(&q.symbol)) {
            q.price = Decimal::ZERO;
            q.open = Decimal::ZERO;
        }
        q
    }

    /// (rate, opening rate, time) of an FX source. Pins and `zero_price` apply.
    pub(crate) fn fx(&self, source: FxSource) -> (Decimal, Decimal, DateTime<Utc>) {
        let prefix = Prefix::Fx(source);
        let (mut rate, mut open) = {
            let mut m = lock(&self.prices);
            let step = self.current_step();
            (m.fx(source, step), m.fx_open(source))
        };
        let pins = self.pins.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(pin) = pins.get(&(prefix, String::new())) {
            rate = *pin;
        }
        if self.fault(prefix).is_some_and(|f| f.zero.applies_to("")) {
            rate = Decimal::ZERO;
            open = Decimal::ZERO;
        }
        (rate, open, Utc::now())
    }

    // ---- pins ----

    pub(crate) fn pin(&self, prefix: Prefix, coin: String, price: Decimal) {
        self.pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((prefix, coin), price);
    }

    pub(crate) fn pins(&self) -> Vec<(Prefix, String, Decimal)> {
        self.pins
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((p, c), d)| (*p, c.clone(), *d))
            .collect()
    }

    pub(crate) fn clear_pins(&self) {
        self.pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.book_pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn pin_book(&self, prefix: Prefix, coin: String, pin: BookPin) {
        self.book_pins
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((prefix, coin), pin);
    }

    pub(crate) fn book_pins(&self) -> Vec<(Prefix, String, BookPin)> {
        self.book_pins
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((p, c), b)| (*p, c.clone(), b.clone()))
            .collect()
    }

    // ---- faults ----

    pub(crate) fn fault(&self, prefix: Prefix) -> Option<FaultSpec> {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&prefix)
            .cloned()
    }

    pub(crate) fn set_fault(&self, prefix: Prefix, spec: FaultSpec) {
        self.faults
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(prefix, spec);
        self.thaw(Some(prefix));
    }

    pub(crate) fn faults(&self) -> Vec<FaultSpec> {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Clears one prefix's faults, or all.
    pub(crate) fn clear_faults(&self, prefix: Option<Prefix>) {
        let mut f = self.faults.write().unwrap_or_else(PoisonError::into_inner);
        match prefix {
            Some(p) => {
                f.remove(&p);
            }
            None => f.clear(),
        }
        drop(f);
        self.thaw(prefix);
    }

    /// The answer a freeze of `prefix` keeps for `uri` (path and query), if one was kept.
    pub(crate) fn frozen(&self, prefix: Prefix, uri: &str) -> Option<Snapshot> {
        lock(&self.frozen).get(&(prefix, uri.to_string())).cloned()
    }

    /// Keeps `snapshot` as the answer to `uri` while `prefix` is frozen; the first one kept wins.
    pub(crate) fn freeze(&self, prefix: Prefix, uri: &str, snapshot: Snapshot) -> Snapshot {
        lock(&self.frozen)
            .entry((prefix, uri.to_string()))
            .or_insert(snapshot)
            .clone()
    }

    fn thaw(&self, prefix: Option<Prefix>) {
        let mut frozen = lock(&self.frozen);
        match prefix {
            Some(p) => frozen.retain(|(q, _), _| *q != p),
            None => frozen.clear(),
        }
    }

    /// A draw for `error_rate`: true with probability `p`.
    pub(crate) fn roll(&self, p: f64) -> bool {
        p > 0.0 && lock(&self.fault_rng).random_bool(p.clamp(0.0, 1.0))
    }

    // ---- stats ----

    pub(crate) fn record(&self, prefix: Prefix, path: &str) {
        let mut s = lock(&self.stats);
        s.total += 1;
        *s.requests.entry(prefix.as_str()).or_default() += 1;
        if let Some(n) = s.paths.get_mut(path) {
            *n += 1;
        } else if s.paths.len() < MAX_TRACKED_PATHS {
            s.paths.insert(path.to_string(), 1);
        }
    }

    pub(crate) fn record_fault(&self, prefix: Prefix) {
        *lock(&self.stats)
            .faulted
            .entry(prefix.as_str())
            .or_default() += 1;
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = Stats::empty();
    }

    /// Adds `weight` to Binance's per-minute counter and returns the minute's total.
    pub(crate) fn binance_weight(&self, weight: u64) -> u64 {
        let minute = Utc::now().timestamp() / 60;
        let mut w = lock(&self.binance_weight);
        if w.0 != minute {
            *w = (minute, 0);
        }
        w.1 += weight;
        w.1
    }

    // ---- shutdown ----

    /// Releases every hanging request (`hang` fault) so a graceful shutdown can finish.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves when the simulator shuts down.
    pub(crate) async fn until_shutdown(&self) {
        let mut rx = self.shutdown.subscribe();
        // An error means the sender is gone, which is a shutdown too.
        let _ = rx.wait_for(|down| *down).await;
    }
}

/// What a book at `step` is drawn from: the same (seed, venue, symbol, step) gives the same book.
fn book_key(seed: u64, venue: Venue, symbol: &str, step: u64) -> u64 {
    mix(&[seed, fnv(venue.as_str()), fnv(symbol), step, 0xb00c])
}
