//! The hot cache in Redis: latest tickers, FX rates, premiums, recent premium history and why a
//! premium was skipped ([`Cache`]), the market registry in force ([`markets`]), and the
//! positions ([`positions`], kept in PostgreSQL). Key names and TTLs are listed in
//! [`keyspace::keys`]. Values are JSON and carry
//! their observation time and source. What is computed lives in `domain`; this crate only stores
//! and reads it. How cached values survive a change of their types: [`format`].
//!
//! Tickers, premiums and skip reasons are written a venue's or a pair's at a time: a hash per
//! venue (`{p}:tickers:{venue}`) or pair (`{p}:premiums:{pair}`, `{p}:premium-skips:{pair}`),
//! field per coin, so a tick costs a few commands per venue and per pair whatever the number of
//! coins (ADR 0028). Each field carries its write time; one written longer ago than the TTL it
//! replaces reads as absent ([`format::decode_fresh`]). [`Cache::tick_fetched`] and
//! [`Cache::wait_for_tick`] hand a tick's prices from its fetches to its computation.

pub mod format;
pub mod markets;
pub mod positions;
mod ticks;

pub use markets::{Markets, MarketsError, MarketsNow};
pub use positions::{Closed, Positions, PositionsError};

use domain::{Coin, FxRate, FxSource, Premium, SkipReason, Ticker, Venue, VenuePair};
use std::collections::BTreeMap;

use chrono::Utc;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use format::{decode, decode_fresh, encode, encode_written, stamp_written};
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

    /// One fetch's tickers: one `HSET` per venue (a field per coin) and the hash's TTL renewed.
    pub async fn put_tickers(&self, tickers: &[Ticker]) -> Result<(), redis::RedisError> {
        if tickers.is_empty() {
            return Ok(());
        }
        let now = Utc::now().timestamp_millis();
        let mut by_venue: BTreeMap<Venue, Vec<(String, String)>> = BTreeMap::new();
        for t in tickers {
            by_venue
                .entry(t.venue)
                .or_default()
                .push((t.coin.to_string(), encode_written(t, now)));
        }
        let mut pipe = redis::pipe();
        for (venue, fields) in by_venue {
            let key = self.keys.tickers(venue);
            pipe.hset_multiple(&key, &fields).ignore();
            pipe.expire(&key, self.ticker_ttl as i64).ignore();
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

    /// Writes one computation's outcome in one pipeline, a few commands per pair whatever the
    /// number of coins: per pair, its premiums in one `HSET` (TTL renewed), their coins' skip
    /// reasons dropped in one `HDEL`, one entry of the capped recent history (`XADD`), its skip
    /// reasons in one `HSET`; then one `PUBLISH` of every premium (a JSON array) and the premium
    /// version bumped once (last, so whoever reads the new version reads all of it). One round
    /// trip: the outcome is written whole or not at all.
    pub async fn put_tick(
        &self,
        premiums: &[Premium],
        skips: &[SkipReason],
    ) -> Result<(), redis::RedisError> {
        if premiums.is_empty() && skips.is_empty() {
            return Ok(());
        }
        let now = Utc::now().timestamp_millis();
        let mut by_pair: BTreeMap<VenuePair, PairWrite> = BTreeMap::new();
        let mut bodies = Vec::with_capacity(premiums.len());
        for p in premiums {
            let coin = p.inputs.coin.to_string();
            let body = json(p);
            let w = by_pair.entry(p.inputs.pair).or_default();
            w.premiums.push((coin.clone(), stamp_written(&body, now)));
            let point = HistoryPoint {
                t: p.observed_at.timestamp_millis(),
                rate: p.rate,
                usdt_rate: p.usdt_rate,
            };
            w.history.push((coin, json(&point)));
            bodies.push(body);
        }
        for skip in skips {
            by_pair
                .entry(skip.pair)
                .or_default()
                .skips
                .push((skip.coin.to_string(), encode_written(skip, now)));
        }
        let mut pipe = redis::pipe();
        for (pair, w) in &by_pair {
            if !w.premiums.is_empty() {
                let key = self.keys.premiums(*pair);
                pipe.hset_multiple(&key, &w.premiums).ignore();
                pipe.expire(&key, self.premium_ttl as i64).ignore();
                let coins: Vec<&String> = w.premiums.iter().map(|(c, _)| c).collect();
                pipe.hdel(self.keys.premium_skips(*pair), coins).ignore();
                pipe.cmd("XADD")
                    .arg(self.keys.premium_history(*pair))
                    .arg("MAXLEN")
                    .arg(self.history_len)
                    .arg("*")
                    .arg(&w.history)
                    .ignore();
            }
            if !w.skips.is_empty() {
                let key = self.keys.premium_skips(*pair);
                pipe.hset_multiple(&key, &w.skips).ignore();
                pipe.expire(&key, SKIP_SECS).ignore();
            }
        }
        if !bodies.is_empty() {
            pipe.publish(
                self.keys.premium_channel(),
                format!("[{}]", bodies.join(",")),
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

    /// One `HGET`.
    pub async fn ticker(
        &self,
        venue: Venue,
        coin: &Coin,
    ) -> Result<Option<Ticker>, redis::RedisError> {
        let mut one = self
            .hash_fields(
                "ticker",
                self.ticker_ttl,
                vec![(self.keys.tickers(venue), coin.to_string())],
            )
            .await?;
        Ok(one.pop().flatten())
    }

    /// Many tickers in one round trip (one `HMGET` per venue), in the order asked.
    pub async fn tickers(
        &self,
        wanted: &[(Venue, Coin)],
    ) -> Result<Vec<Option<Ticker>>, redis::RedisError> {
        let fields = wanted
            .iter()
            .map(|(v, c)| (self.keys.tickers(*v), c.to_string()))
            .collect();
        self.hash_fields("ticker", self.ticker_ttl, fields).await
    }

    pub async fn fx_all(&self) -> Result<Vec<Option<FxRate>>, redis::RedisError> {
        let keys: Vec<String> = FxSource::ALL.iter().map(|s| self.keys.fx(*s)).collect();
        self.mget_json("fx", &keys).await
    }

    pub async fn fx(&self, source: FxSource) -> Result<Option<FxRate>, redis::RedisError> {
        self.get_json("fx", self.keys.fx(source)).await
    }

    /// One `HGET`.
    pub async fn premium(
        &self,
        coin: &Coin,
        pair: VenuePair,
    ) -> Result<Option<Premium>, redis::RedisError> {
        let mut one = self
            .hash_fields(
                "premium",
                self.premium_ttl,
                vec![(self.keys.premiums(pair), coin.to_string())],
            )
            .await?;
        Ok(one.pop().flatten())
    }

    /// Many premiums in one round trip (one `HMGET` per pair), in the order asked.
    pub async fn premiums(
        &self,
        wanted: &[(Coin, VenuePair)],
    ) -> Result<Vec<Option<Premium>>, redis::RedisError> {
        let fields = wanted
            .iter()
            .map(|(c, p)| (self.keys.premiums(*p), c.to_string()))
            .collect();
        self.hash_fields("premium", self.premium_ttl, fields).await
    }

    /// One `HGET`.
    pub async fn skip(
        &self,
        coin: &Coin,
        pair: VenuePair,
    ) -> Result<Option<SkipReason>, redis::RedisError> {
        let mut one = self.skips(&[(coin.clone(), pair)]).await?;
        Ok(one.pop().flatten())
    }

    /// Many skip reasons in one round trip (one `HMGET` per pair), in the order asked.
    pub async fn skips(
        &self,
        wanted: &[(Coin, VenuePair)],
    ) -> Result<Vec<Option<SkipReason>>, redis::RedisError> {
        let fields = wanted
            .iter()
            .map(|(c, p)| (self.keys.premium_skips(*p), c.to_string()))
            .collect();
        self.hash_fields("premium-skip", SKIP_SECS as u64, fields)
            .await
    }

    /// Hash fields `(key, field)` in the order asked, in one round trip: one `HGET` for one
    /// field, else one `HMGET` per hash. A field written more than `ttl_secs` ago reads as
    /// absent ([`decode_fresh`]); one that does not decode is counted and logged.
    async fn hash_fields<T: DeserializeOwned>(
        &self,
        kind: &'static str,
        ttl_secs: u64,
        wanted: Vec<(String, String)>,
    ) -> Result<Vec<Option<T>>, redis::RedisError> {
        let raw: Vec<Option<String>> = match wanted.as_slice() {
            [] => return Ok(vec![]),
            [(key, field)] => vec![self.conn.clone().hget(key, field).await?],
            _ => {
                let mut groups: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
                for (i, (key, field)) in wanted.iter().enumerate() {
                    groups.entry(key).or_default().push((i, field));
                }
                let mut pipe = redis::pipe();
                for (key, fields) in &groups {
                    pipe.cmd("HMGET")
                        .arg(*key)
                        .arg(fields.iter().map(|(_, f)| *f).collect::<Vec<_>>());
                }
                let answers: Vec<Vec<Option<String>>> =
                    pipe.query_async(&mut self.conn.clone()).await?;
                let mut raw = vec![None; wanted.len()];
                for ((_, fields), values) in groups.iter().zip(answers) {
                    for ((i, _), v) in fields.iter().zip(values) {
                        raw[*i] = v;
                    }
                }
                raw
            }
        };
        let now = Utc::now().timestamp_millis();
        let ttl_ms = ttl_secs as i64 * 1000;
        Ok(raw
            .into_iter()
            .map(|r| r.and_then(|s| decode_fresh(kind, &s, now, ttl_ms)))
            .collect())
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

/// How long a skip reason is kept (it says why the premium is missing, so it outlives it).
const SKIP_SECS: i64 = 60;

/// What one computation writes for one pair.
#[derive(Default)]
struct PairWrite {
    premiums: Vec<(String, String)>,
    history: Vec<(String, String)>,
    skips: Vec<(String, String)>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("cache values serialize")
}
