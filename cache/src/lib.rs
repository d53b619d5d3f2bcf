//! The hot cache in Redis: latest tickers, FX rates, premiums, recent premium history and why a
//! premium was skipped ([`Cache`]), the market registry in force ([`markets`]), and the
//! positions ([`positions`], kept in PostgreSQL). Key names and TTLs are listed in
//! [`keyspace::keys`]. Values are JSON and carry
//! their observation time and source. What is computed lives in `domain`; this crate only stores
//! and reads it. How cached values survive a change of their types: [`format`].

pub mod format;
pub mod markets;
pub mod positions;

pub use markets::{Markets, MarketsError, MarketsNow};
pub use positions::{Closed, Positions, PositionsError};

use domain::{Coin, FxRate, FxSource, Premium, SkipReason, Ticker, Venue, VenuePair};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use format::{decode, encode, stamp};
use settings::Settings;

use keyspace::{Keys, RedisConn};

/// One entry of the recent premium history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub t: i64,
    pub rate: rust_decimal::Decimal,
    pub usdt_rate: Option<rust_decimal::Decimal>,
}

/// Reads and writes the hot cache; cheap to clone.
#[derive(Clone)]
pub struct Cache {
    conn: RedisConn,
    keys: Keys,
    ticker_ttl: u64,
    premium_ttl: u64,
    history_len: usize,
    fx_limits: Vec<(FxSource, std::time::Duration)>,
}

impl Cache {
    pub fn new(conn: RedisConn, settings: &Settings) -> Self {
        Cache {
            conn,
            keys: Keys::new(&settings.redis_prefix),
            ticker_ttl: settings.cache.ticker_secs.max(1),
            premium_ttl: settings.cache.premium_secs.max(1),
            history_len: settings.cache.history_len.max(1),
            fx_limits: FxSource::ALL
                .into_iter()
                .map(|s| (s, settings.freshness.fx_limit(s)))
                .collect(),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    pub async fn put_tickers(&self, tickers: &[Ticker]) -> Result<(), redis::RedisError> {
        if tickers.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for t in tickers {
            pipe.set_ex(
                self.keys.ticker(t.venue, &t.coin),
                encode(t),
                self.ticker_ttl,
            )
            .ignore();
        }
        pipe.exec_async(&mut self.conn.clone()).await
    }

    /// Order books (levels, per coin) of the depth coins, as fresh as the tickers.
    pub async fn put_depths(
        &self,
        venue: Venue,
        depths: &[(Coin, domain::Depth)],
    ) -> Result<(), redis::RedisError> {
        if depths.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (coin, d) in depths {
            pipe.set_ex(self.keys.depth(venue, coin), encode(d), self.ticker_ttl)
                .ignore();
        }
        pipe.exec_async(&mut self.conn.clone()).await
    }

    pub async fn depth(
        &self,
        venue: Venue,
        coin: &Coin,
    ) -> Result<Option<domain::Depth>, redis::RedisError> {
        self.get_json("depth", self.keys.depth(venue, coin)).await
    }

    pub async fn put_fx(&self, rate: &FxRate) -> Result<(), redis::RedisError> {
        // An FX rate stays cached as long as it is usable (a Friday ECB rate until Monday's is
        // due), and at least the original design's 15 minutes.
        let ttl = self
            .fx_limits
            .iter()
            .find(|(s, _)| *s == rate.source)
            .map(|(_, limit)| (rate.limit_ms(*limit) / 1000).max(0) as u64)
            .unwrap_or(0)
            .max(15 * 60);
        self.conn
            .clone()
            .set_ex(self.keys.fx(rate.source), encode(rate), ttl)
            .await
    }

    /// Writes current premiums ([`Cache::put_tick`] without skip reasons).
    pub async fn put_premiums(&self, premiums: &[Premium]) -> Result<(), redis::RedisError> {
        self.put_tick(premiums, &[]).await
    }

    /// Records why a premium was not computed ([`Cache::put_tick`] with that reason alone).
    pub async fn put_skip(&self, skip: &SkipReason) -> Result<(), redis::RedisError> {
        self.put_tick(&[], std::slice::from_ref(skip)).await
    }

    /// Writes one computation's outcome in one pipeline: the current premiums (appended to the
    /// capped history, published, their pairs' skip reasons dropped) and why the other pairs
    /// were skipped, then bumps the premium version once (last, so whoever reads the new
    /// version reads all of it). One round trip: the outcome is written whole or not at all,
    /// and no write of a skip reason can fail apart from the premiums.
    pub async fn put_tick(
        &self,
        premiums: &[Premium],
        skips: &[SkipReason],
    ) -> Result<(), redis::RedisError> {
        if premiums.is_empty() && skips.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for p in premiums {
            let coin = &p.inputs.coin;
            let pair = p.inputs.pair;
            let body = json(p);
            pipe.set_ex(
                self.keys.premium(coin, pair),
                stamp(&body),
                self.premium_ttl,
            )
            .ignore();
            let hist = self.keys.premium_history(coin, pair);
            let point = HistoryPoint {
                t: p.observed_at.timestamp_millis(),
                rate: p.rate,
                usdt_rate: p.usdt_rate,
            };
            pipe.zadd(&hist, json(&point), point.t).ignore();
            pipe.zremrangebyrank(&hist, 0, -(self.history_len as isize) - 1)
                .ignore();
            pipe.del(self.keys.premium_skip(coin, pair)).ignore();
            pipe.publish(self.keys.premium_channel(), &body).ignore();
        }
        for skip in skips {
            pipe.set_ex(
                self.keys.premium_skip(&skip.coin, skip.pair),
                encode(skip),
                60,
            )
            .ignore();
        }
        pipe.incr(self.keys.premium_version(), 1).ignore();
        pipe.exec_async(&mut self.conn.clone()).await
    }

    /// The premium version ([`Keys::premium_version`]): changes after every premium or skip
    /// write; `None` when nothing was written since Redis was emptied.
    pub async fn premium_version(&self) -> Result<Option<String>, redis::RedisError> {
        self.conn.clone().get(self.keys.premium_version()).await
    }

    pub async fn ticker(
        &self,
        venue: Venue,
        coin: &Coin,
    ) -> Result<Option<Ticker>, redis::RedisError> {
        self.get_json("ticker", self.keys.ticker(venue, coin)).await
    }

    /// Many tickers in one round trip, in the order asked.
    pub async fn tickers(
        &self,
        wanted: &[(Venue, Coin)],
    ) -> Result<Vec<Option<Ticker>>, redis::RedisError> {
        let keys: Vec<String> = wanted
            .iter()
            .map(|(v, c)| self.keys.ticker(*v, c))
            .collect();
        self.mget_json("ticker", &keys).await
    }

    pub async fn fx_all(&self) -> Result<Vec<Option<FxRate>>, redis::RedisError> {
        let keys: Vec<String> = FxSource::ALL.iter().map(|s| self.keys.fx(*s)).collect();
        self.mget_json("fx", &keys).await
    }

    pub async fn fx(&self, source: FxSource) -> Result<Option<FxRate>, redis::RedisError> {
        self.get_json("fx", self.keys.fx(source)).await
    }

    pub async fn premium(
        &self,
        coin: &Coin,
        pair: VenuePair,
    ) -> Result<Option<Premium>, redis::RedisError> {
        self.get_json("premium", self.keys.premium(coin, pair))
            .await
    }

    pub async fn premiums(
        &self,
        wanted: &[(Coin, VenuePair)],
    ) -> Result<Vec<Option<Premium>>, redis::RedisError> {
        let keys: Vec<String> = wanted
            .iter()
            .map(|(c, p)| self.keys.premium(c, *p))
            .collect();
        self.mget_json("premium", &keys).await
    }

    pub async fn skip(
        &self,
        coin: &Coin,
        pair: VenuePair,
    ) -> Result<Option<SkipReason>, redis::RedisError> {
        self.get_json("premium-skip", self.keys.premium_skip(coin, pair))
            .await
    }

    /// Many skip reasons in one round trip, in the order asked.
    pub async fn skips(
        &self,
        wanted: &[(Coin, VenuePair)],
    ) -> Result<Vec<Option<SkipReason>>, redis::RedisError> {
        let keys: Vec<String> = wanted
            .iter()
            .map(|(c, p)| self.keys.premium_skip(c, *p))
            .collect();
        self.mget_json("premium-skip", &keys).await
    }

    /// A value of `kind` (the metric's label); one that is present but does not decode is
    /// counted and logged by [`decode`], and read as absent.
    async fn get_json<T: DeserializeOwned>(
        &self,
        kind: &'static str,
        key: String,
    ) -> Result<Option<T>, redis::RedisError> {
        let raw: Option<String> = self.conn.clone().get(key).await?;
        Ok(raw.and_then(|s| decode(kind, &s)))
    }

    async fn mget_json<T: DeserializeOwned>(
        &self,
        kind: &'static str,
        keys: &[String],
    ) -> Result<Vec<Option<T>>, redis::RedisError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let raw: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(raw
            .into_iter()
            .map(|r| r.and_then(|s| decode(kind, &s)))
            .collect())
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("cache values serialize")
}
