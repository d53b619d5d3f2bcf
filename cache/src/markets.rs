//! The market registry in force and the coins tracked per pair (`{p}:markets`, `{p}:universe`),
//! written by `refresh-markets` and read every tick by `fetch-ticker`, `compute-premium` and the
//! API.
//!
//! The registry is a few hundred KB of JSON at the full universe, so readers do not parse it
//! every tick: each write bumps `{p}:markets:version`, and [`Markets::current`] reads only that
//! integer while it matches the copy it holds. Both keys and the version are written in one
//! `MULTI`, and read with one `MGET`, so a reader never pairs a registry with another write's
//! universe.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, PoisonError},
};

use domain::{Coin, Listing, Registry, Venue, VenuePair};
use keyspace::{Keys, RedisConn};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// What is tracked now: the registry and, per pair, its coins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketsNow {
    pub version: u64,
    pub registry: Registry,
    pub universe: BTreeMap<VenuePair, Vec<Coin>>,
}

impl MarketsNow {
    /// The coins `venue` must be fetched for: those of every tracked pair it is part of.
    pub fn coins_of(&self, venue: Venue) -> BTreeSet<Coin> {
        self.universe
            .iter()
            .filter(|(p, _)| p.korea == venue || p.foreign == venue)
            .flat_map(|(_, coins)| coins.iter().cloned())
            .collect()
    }

    /// The instruments one ticker fetch of `venue` requests (KRW-USDT included on Korean
    /// venues: it is the tether premium's FX).
    pub fn fetch_list(&self, venue: Venue) -> Vec<Listing> {
        self.registry.fetch_list(venue, &self.coins_of(venue))
    }

    /// Every tracked coin, on any pair.
    pub fn tracked(&self) -> BTreeSet<Coin> {
        self.universe.values().flatten().cloned().collect()
    }

    /// Whether `coin` is tracked on `pair`.
    pub fn tracks(&self, coin: &Coin, pair: VenuePair) -> bool {
        self.universe.get(&pair).is_some_and(|c| c.contains(coin))
    }
}

/// The universe as stored: JSON maps need string keys, so pairs are a list.
#[derive(Serialize, Deserialize)]
struct StoredUniverse {
    pairs: Vec<(VenuePair, Vec<Coin>)>,
}

/// Reads and writes the registry; cheap to clone (clones share the memo).
#[derive(Clone)]
pub struct Markets {
    conn: RedisConn,
    keys: Keys,
    memo: Arc<Mutex<Option<Arc<MarketsNow>>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MarketsError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("the stored market registry does not parse: {0}")]
    Corrupt(#[from] serde_json::Error),
}

impl Markets {
    pub fn new(conn: RedisConn, keys: Keys) -> Self {
        Markets {
            conn,
            keys,
            memo: Arc::default(),
        }
    }

    /// The registry in force, or `None` before the first refresh wrote one.
    pub async fn current(&self) -> Result<Option<Arc<MarketsNow>>, MarketsError> {
        let mut conn = self.conn.clone();
        let version: Option<u64> = conn.get(self.keys.markets_version()).await?;
        let Some(version) = version else {
            return Ok(None);
        };
        if let Some(m) = self.memoized().filter(|m| m.version == version) {
            return Ok(Some(m));
        }
        let (registry, universe, version): (Option<String>, Option<String>, Option<u64>) =
            redis::cmd("MGET")
                .arg(self.keys.markets())
                .arg(self.keys.universe())
                .arg(self.keys.markets_version())
                .query_async(&mut conn)
                .await?;
        let (Some(registry), Some(universe), Some(version)) = (registry, universe, version) else {
            return Ok(None);
        };
        let universe: StoredUniverse = serde_json::from_str(&universe)?;
        let now = Arc::new(MarketsNow {
            version,
            registry: serde_json::from_str(&registry)?,
            universe: universe.pairs.into_iter().collect(),
        });
        *self.memo.lock().unwrap_or_else(PoisonError::into_inner) = Some(now.clone());
        Ok(Some(now))
    }

    fn memoized(&self) -> Option<Arc<MarketsNow>> {
        self.memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts a registry and its universe in force; returns the new version.
    pub async fn put(
        &self,
        registry: &Registry,
        universe: &BTreeMap<VenuePair, Vec<Coin>>,
    ) -> Result<u64, MarketsError> {
        let stored = StoredUniverse {
            pairs: universe.iter().map(|(p, c)| (*p, c.clone())).collect(),
        };
        let (version,): (u64,) = redis::pipe()
            .atomic()
            .set(self.keys.markets(), serde_json::to_string(registry)?)
            .ignore()
            .set(self.keys.universe(), serde_json::to_string(&stored)?)
            .ignore()
            .incr(self.keys.markets_version(), 1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(version)
    }

    /// Records a venue's measured clock skew (its clock minus ours, ms).
    pub async fn put_clock_skew(&self, venue: Venue, skew_ms: i64) -> Result<(), MarketsError> {
        let _: () = self
            .conn
            .clone()
            .hset(self.keys.clock_skew(), venue.as_str(), skew_ms)
            .await?;
        Ok(())
    }

    /// The last measured clock skew per venue.
    pub async fn clock_skews(&self) -> Result<BTreeMap<String, i64>, MarketsError> {
        Ok(self.conn.clone().hgetall(self.keys.clock_skew()).await?)
    }
}
