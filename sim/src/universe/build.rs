//! The realistic shape of the [`ListingSet`]: a seeded pool of assets (the configured majors,
//! the special cases, real tickers, Korean-only real tickers, then generated ones), the special
//! cases placed by hand, every venue filled up to its size from the pool, then flags and
//! illiquidity drawn on Korean coins.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{Region, Venue};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use rust_decimal::{
    Decimal,
    prelude::{FromPrimitive, ToPrimitive},
};

use super::{
    data::{KOREAN_ONLY, MULTIPLIER_COINS, POOL, REAL, SPECIALS, SUFFIXES, TARGETS},
    listing::{
        AssetMeta, CAUTION, DEPOSIT_SUSPENDED, Listing, Status, WARNING, listed_ms, plain, title,
    },
    listing_set::ListingSet,
};
use crate::{
    hash::{fnv, mix, unit},
    price_model::decimals,
};

impl ListingSet {
    /// The realistic universe for `seed`; `majors` (the configured coins with their base
    /// prices) are listed on every venue. Returns it with every asset's base USD price.
    pub(crate) fn realistic(
        seed: u64,
        majors: &[(String, Decimal)],
    ) -> (Self, Vec<(String, Decimal)>) {
        Builder::new(seed, majors).build()
    }
}

/// A coin the builder places.
struct Entry {
    key: String,
    base: Decimal,
    english: String,
    korean: String,
    korea_only: bool,
}

struct Builder {
    seed: u64,
    majors: Vec<(String, Decimal)>,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    set: ListingSet,
}

impl Builder {
    fn new(seed: u64, majors: &[(String, Decimal)]) -> Self {
        Builder {
            seed,
            majors: majors.to_vec(),
            entries: Vec::new(),
            index: HashMap::new(),
            set: ListingSet {
                realistic: true,
                assets: BTreeMap::new(),
                listings: Venue::ALL.into_iter().map(|v| (v, Vec::new())).collect(),
                renamed: BTreeMap::new(),
                flagged: BTreeMap::new(),
                illiquid: BTreeMap::new(),
            },
        }
    }

    fn add(&mut self, key: &str, english: &str, korean: &str, base: Decimal, korea_only: bool) {
        if self.index.contains_key(key) {
            return;
        }
        self.index.insert(key.to_string(), self.entries.len());
        self.entries.push(Entry {
            key: key.to_string(),
            base,
            english: english.to_string(),
            korean: korean.to_string(),
            korea_only,
        });
    }

    /// Puts a listing on `venue` (priced from `asset`, trading).
    fn put(
        &mut self,
        venue: Venue,
        native: &str,
        coin: &str,
        asset: &str,
        mult: &str,
    ) -> &mut Listing {
        let rank = self.index.get(asset).copied().unwrap_or(POOL);
        let mut l = plain(native, coin, listed_ms(native, rank));
        l.asset = asset.to_string();
        if venue == Venue::Okx {
            l.ct_val = d(mult);
        } else {
            l.mult = d(mult);
        }
        let rows = self.set.listings.entry(venue).or_default();
        rows.push(l);
        rows.last_mut().expect("just pushed")
    }

    fn lists(&self, venue: Venue, asset: &str) -> bool {
        self.set
            .listings(venue)
            .iter()
            .any(|l| l.asset == asset || l.coin == asset)
    }

    fn build(mut self) -> (ListingSet, Vec<(String, Decimal)>) {
        // The pool, most popular first: the configured majors, the special cases, real tickers,
        // Korean-only real tickers, then generated ones.
        for (c, base) in self.majors.clone() {
            let (e, k) = names_of(&c);
            self.add(&c, &e, &k, base, false);
        }
        for &(c, e, k, p) in SPECIALS {
            self.add(c, e, k, d(p), false);
        }
        for &(c, e, k, p) in REAL {
            self.add(c, e, k, d(p), false);
        }
        for &(c, e, k, p) in KOREAN_ONLY {
            self.add(c, e, k, d(p), true);
        }
        let mut rng = SmallRng::seed_from_u64(mix(&[self.seed, 0x0001_115e]));
        let mut n = 0u64;
        while self.entries.len() < POOL {
            n += 1;
            let name = generated_name(n);
            if self.index.contains_key(&name) || name.starts_with("SIM") {
                continue;
            }
            let usd = 10f64.powf(rng.random_range(-4.0..1.8));
            let base = Decimal::from_f64(usd).unwrap_or(Decimal::ONE);
            let base = base.round_dp(decimals(base, 0, 12));
            let korea_only = rng.random_bool(0.1);
            let english = format!(
                "{} {}",
                title(&name),
                SUFFIXES[(n as usize) % SUFFIXES.len()]
            );
            self.add(&name, &english, &english, base, korea_only);
        }

        self.place_specials();
        self.fill();
        self.flag();

        let prices = self
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.base))
            .collect();
        for e in &self.entries {
            let meta = AssetMeta {
                english: e.english.clone(),
                korean: e.korean.clone(),
            };
            self.set.assets.insert(e.key.clone(), meta);
        }
        self.set.renamed.insert("MATIC".into(), "POL".into());
        (self.set, prices)
    }

    fn place_specials(&mut self) {
        use Venue::{Binance, Bithumb, Bybit, Okx, Upbit};
        for (c, _) in self.majors.clone() {
            for v in Venue::ALL {
                self.put(v, &c, &c, &c, "1");
            }
        }
        for (coin, korea, bin, byb, okx) in MULTIPLIER_COINS {
            for &k in korea {
                self.put(k, coin, coin, coin, "1");
            }
            if let Some((native, m)) = bin {
                self.put(Binance, native, coin, coin, m);
            }
            if let Some((native, m)) = byb {
                self.put(Bybit, native, coin, coin, m);
            }
            if let Some(ct) = okx {
                self.put(Okx, coin, coin, coin, ct);
            }
        }
        // Collision: Korean TON is Tokamak Network, foreign TON is Toncoin.
        for k in [Upbit, Bithumb] {
            self.put(k, "TON", "TON", "TOKAMAK", "1");
        }
        for f in [Binance, Bybit] {
            self.put(f, "TON", "TON", "TON", "1");
        }
        self.put(Okx, "TON", "TON", "TON", "1");
        // Rename: POL everywhere; Binance keeps the old MATICUSDT as SETTLING.
        for v in Venue::ALL {
            self.put(v, "POL", "POL", "POL", if v == Okx { "10" } else { "1" });
        }
        self.put(Binance, "MATIC", "MATIC", "MATIC", "1").status = Status::Settling;
        // A Korean-listed coin whose Binance perp was delisted (SETTLING) and is gone elsewhere.
        for k in [Upbit, Bithumb] {
            self.put(k, "WAVES", "WAVES", "WAVES", "1");
        }
        self.put(Binance, "WAVES", "WAVES", "WAVES", "1").status = Status::Settling;
    }

    /// Fills every venue up to its target from the pool: each coin's rank, perturbed per venue,
    /// decides; Korean-only coins never list abroad and rank higher at home.
    fn fill(&mut self) {
        for (venue, target) in TARGETS {
            let korea = venue.region() == Region::Korea;
            let have = self
                .set
                .listings(venue)
                .iter()
                .filter(|l| l.status.trading() || venue == Venue::Okx)
                .count();
            let mut scored: Vec<(f64, usize)> = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| (korea || !e.korea_only) && !self.lists(venue, &e.key))
                .filter(|(_, e)| !SPECIALS.iter().any(|sp| sp.0 == e.key))
                .filter(|(_, e)| korea || !self.majors.iter().any(|(m, _)| *m == e.key))
                .map(|(i, e)| {
                    let u = unit(mix(&[self.seed, fnv(&e.key), fnv(venue.as_str())]));
                    let home = if korea && e.korea_only { 0.35 } else { 1.0 };
                    ((i as f64 + 10.0) * home * (2.6 * (u - 0.5)).exp(), i)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0));
            let picked: Vec<usize> = scored
                .into_iter()
                .take(target.saturating_sub(have))
                .map(|(_, i)| i)
                .collect();
            for i in picked {
                let key = self.entries[i].key.clone();
                let ct = if venue == Venue::Okx {
                    okx_ct_val(self.entries[i].base)
                } else {
                    "1".to_string()
                };
                self.put(venue, &key, &key, &key, &ct);
            }
        }
        // OKX: one listed coin suspended, one announced (preopen).
        let okx_generated: Vec<String> = self
            .set
            .listings(Venue::Okx)
            .iter()
            .filter(|l| is_generated(&l.coin))
            .map(|l| l.coin.clone())
            .collect();
        let upbit = self.korean_coins(Venue::Upbit);
        if let Some(c) = okx_generated.iter().find(|c| upbit.contains(*c)) {
            self.set_status(Venue::Okx, c, Status::Suspend);
        }
        if let Some(c) = okx_generated.iter().rev().find(|c| !upbit.contains(*c)) {
            self.set_status(Venue::Okx, c, Status::Preopen);
        }
    }

    fn korean_coins(&self, venue: Venue) -> BTreeSet<String> {
        self.set
            .listings(venue)
            .iter()
            .map(|l| l.coin.clone())
            .collect()
    }

    fn set_status(&mut self, venue: Venue, coin: &str, status: Status) {
        if let Some(l) = self
            .set
            .listings
            .get_mut(&venue)
            .and_then(|rows| rows.iter_mut().find(|l| l.coin == coin))
        {
            l.status = status;
        }
    }

    /// Flags and illiquidity on coins both Korean venues list (generated ones, so the majors
    /// stay clean), chosen by the seed.
    fn flag(&mut self) {
        let both: Vec<String> = self
            .korean_coins(Venue::Upbit)
            .intersection(&self.korean_coins(Venue::Bithumb))
            .filter(|c| is_generated(c))
            .cloned()
            .collect();
        let mut order: Vec<(u64, String)> = both
            .into_iter()
            .map(|c| (mix(&[self.seed, fnv(&c), 0xf1a9]), c))
            .collect();
        order.sort();
        let mut it = order.into_iter().map(|(_, c)| c);
        let mut take = |n: usize| -> Vec<String> { it.by_ref().take(n).collect() };
        let sets = [
            (take(4), &[WARNING][..]),
            (take(9), &[CAUTION][..]),
            (take(2), &[WARNING, CAUTION][..]),
            (take(4), &[DEPOSIT_SUSPENDED][..]),
            (take(1), &[CAUTION, DEPOSIT_SUSPENDED][..]),
        ];
        let illiquid = take(8);
        for (coins, flags) in sets {
            for c in coins {
                self.set.flagged.insert(c, flags.to_vec());
            }
        }
        for (i, c) in illiquid.into_iter().enumerate() {
            let minutes = 2 + (i as i64 * 3) % 14;
            self.set.illiquid.insert(c, minutes * 60_000 + 17_000);
        }
    }
}

/// Generated tickers are 3–6 letters of alternating consonants and vowels, plus an `X`/`Z`/`R`
/// ending: unlike any real ticker in the table.
fn generated_name(n: u64) -> String {
    const C: &[u8] = b"BCDFGHJKLMNPRSTVWZ";
    const V: &[u8] = b"AEIOU";
    const END: &[u8] = b"XZR";
    let h = mix(&[0x6e61_6d65, n]);
    let syllables = 1 + (h % 3) as usize;
    let mut s = String::new();
    let mut x = h >> 2;
    for _ in 0..syllables {
        s.push(C[(x % C.len() as u64) as usize] as char);
        x /= C.len() as u64;
        s.push(V[(x % V.len() as u64) as usize] as char);
        x /= V.len() as u64;
    }
    s.push(END[(x % END.len() as u64) as usize] as char);
    s
}

fn is_generated(coin: &str) -> bool {
    !REAL.iter().any(|r| r.0 == coin)
        && !KOREAN_ONLY.iter().any(|r| r.0 == coin)
        && coin.len() >= 3
        && matches!(coin.as_bytes()[coin.len() - 1], b'X' | b'Z' | b'R')
        && coin.bytes().all(|b| b.is_ascii_uppercase())
        && !matches!(
            coin,
            "BTC" | "ETH" | "XRP" | "SOL" | "DOGE" | "TOKAMAK" | "MATIC"
        )
}

/// OKX contract value: a power of ten worth roughly 10–100 USD a contract.
fn okx_ct_val(base: Decimal) -> String {
    let p = base.to_f64().unwrap_or(1.0).max(1e-12);
    let k = (10.0 / p).log10().ceil() as i32;
    let v = Decimal::from_f64(10f64.powi(k)).unwrap_or(Decimal::ONE);
    v.round_dp(8).normalize().to_string()
}

fn names_of(coin: &str) -> (String, String) {
    match coin {
        "BTC" => ("Bitcoin".into(), "비트코인".into()),
        "ETH" => ("Ethereum".into(), "이더리움".into()),
        "XRP" => ("XRP".into(), "엑스알피(리플)".into()),
        "SOL" => ("Solana".into(), "솔라나".into()),
        "DOGE" => ("Dogecoin".into(), "도지코인".into()),
        c => (c.to_string(), c.to_string()),
    }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::ONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::universe::listing::native_symbol;

    fn majors() -> Vec<(String, Decimal)> {
        crate::config::default_coins()
    }

    #[test]
    fn the_realistic_universe_has_the_stated_sizes_and_is_seeded() {
        let (u, prices) = ListingSet::realistic(42, &majors());
        assert_eq!(prices.len(), POOL);
        for (venue, target) in TARGETS {
            let n = u.listings(venue).len();
            assert!(n >= target && n <= target + 5, "{venue}: {n}");
            let natives: BTreeSet<&str> = u
                .listings(venue)
                .iter()
                .map(|l| l.native.as_str())
                .collect();
            assert_eq!(natives.len(), n, "{venue}: duplicate symbols");
        }
        let (again, _) = ListingSet::realistic(42, &majors());
        assert_eq!(again.truth(), u.truth());
        let (other, _) = ListingSet::realistic(43, &majors());
        assert_ne!(other.truth()["pairs"], u.truth()["pairs"]);
    }

    #[test]
    fn generated_names_are_valid_and_not_digit_led() {
        for n in 1..2_000 {
            let s = generated_name(n);
            assert!(domain::Coin::parse(&s).is_ok(), "{s}");
            assert!(s.len() >= 3 && s.len() <= 7, "{s}");
            assert!(is_generated(&s), "{s}");
        }
    }

    #[test]
    fn native_symbols_follow_each_venue() {
        assert_eq!(native_symbol(Venue::Binance, "PEPE", d("1000")), "1000PEPE");
        assert_eq!(
            native_symbol(Venue::Binance, "BABYDOGE", d("1000000")),
            "1MBABYDOGE"
        );
        assert_eq!(native_symbol(Venue::Okx, "PEPE", d("1000")), "PEPE");
        assert_eq!(native_symbol(Venue::Upbit, "PEPE", d("1000")), "PEPE");
        assert_eq!(okx_ct_val(d("90000")), "0.001");
        assert_eq!(okx_ct_val(d("0.5")), "100");
    }
}
