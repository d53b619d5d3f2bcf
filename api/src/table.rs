//! The premium table behind `GET /api/v1/premiums`: serialized once per tick, served as the same
//! bytes (and the same precompressed bytes) to every reader of that tick.
//!
//! # Change detection
//!
//! Every write of current premiums or skip reasons (`cache::Cache::put_tick`) ends its Redis
//! pipeline with `INCR {p}:premium-version`. Redis runs one connection's commands in order, so whoever reads a new version reads the data written before it.
//!
//! Each request does one `GET` of that small key (a round trip far cheaper than an `HMGET` of
//! every pair's premiums and a serialization of the whole table). The process's
//! [`Snapshot`] is used as it is when it was built from the same version **and** its version
//! was read less than [`MAX_AGE`] (one tick, 1 s) ago. Otherwise the request rebuilds it (one
//! rebuild at a time) and answers from the new one, so a client that wrote premiums and then
//! asks sees them. Requests that arrive while another request rebuilds are answered from the
//! previous snapshot if its version was read less than [`REBUILD_GRACE`] ago, else they wait
//! for the rebuild: the worker writes once a tick, so the previous snapshot is then one version
//! behind at most, for the few milliseconds of the rebuild. The grace is longer than one tick
//! because with a bound of one tick the previous snapshot is usually just past it when the next
//! tick's version arrives, and every reader would queue behind each rebuild. The version is read
//! *before* the premiums, so a snapshot is never older than its version says. The age bound covers what bumps no
//! version: premiums expiring (`cache.premium_secs`) when the worker stops, and
//! `age_ms`/`stale`, which are as of the snapshot's `as_of`. So an answer is never more than one
//! tick behind the cache.
//!
//! Several API replicas each keep their own snapshot and all read the one shared version key:
//! nothing is coordinated between them and none can miss a change. (The pub/sub subscription
//! of `streams.rs` is not used for this: it exists only while a stream is open, and messages
//! published while it reconnects are lost, which would leave a snapshot stale until the age
//! bound.)
//!
//! # Variants, ETags and encodings
//!
//! A snapshot keeps every row's JSON once. An answer for a set of filters (a [`Filter`]; the
//! full table is the empty filter) is the rows that match, joined: a [`Variant`], cached in the
//! snapshot (at most [`MAX_VARIANTS`] per snapshot, beyond that built per request), with its
//! gzip and brotli bodies compressed on first demand, once per snapshot. The full table is
//! precompressed while the snapshot is built in each encoding the previous snapshot was asked
//! for, so readers of a new tick do not wait for compression.
//!
//! The `ETag` is weak (`W/"…"`) and the same for every encoding: a hash of the snapshot's
//! version, its `as_of` and the canonical filter, so equal answers of one snapshot share it and
//! any rebuild changes it. Weak, because the gzip, brotli and identity bodies of one answer are
//! different bytes of the same content (RFC 9110 §8.8.1), and `If-None-Match` compares weakly.

use std::{
    collections::HashMap,
    fmt::Write as _,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use cache::{Cache, Markets};
use chrono::{DateTime, Utc};
use domain::{Coin, MarketFlag, Premium, SkipReason, VenuePair};
use poem_openapi::types::ToJSON;
use settings::Settings;
use tokio::sync::OnceCell;

use crate::{
    deadline::{Service, io},
    encoding::{Encoding, compress},
    error::{ApiError, ErrorCode},
    tracked::markets_now,
    views::premium::PremiumView,
    wire::Time,
};

/// A snapshot older than this is rebuilt even when the version did not change (one tick).
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// How old (since its version was read) the previous snapshot may be for readers that arrive
/// while another request rebuilds.
pub const REBUILD_GRACE: Duration = Duration::from_secs(2);
/// Filtered answers cached per snapshot; more distinct filters within one tick are built per
/// request.
pub const MAX_VARIANTS: usize = 64;
/// Bodies smaller than this are sent uncompressed whatever the client accepts.
pub const MIN_COMPRESS: usize = 512;
/// The premium tables of one API process; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Tables {
    inner: Arc<TablesInner>,
}

#[derive(Default)]
struct TablesInner {
    current: RwLock<Option<Arc<Snapshot>>>,
    rebuild: tokio::sync::Mutex<()>,
}

/// One premium table as built from the cache at one instant.
pub(crate) struct Snapshot {
    /// `{p}:premium-version` as read before the premiums.
    version: Option<String>,
    /// When that version was read.
    read_at: Instant,
    /// Unique per build: hash of the version and `as_of`.
    id: u64,
    /// `as_of` as a JSON string (with its quotes).
    as_of: String,
    rows: Vec<Row>,
    /// The whole table's JSON: the unfiltered answer, and the rows' bytes for filtered ones.
    full: Bytes,
    variants: Mutex<HashMap<String, Arc<Variant>>>,
    /// Encodings asked of this snapshot: the next one precompresses its full table in them.
    wanted: Arc<Wanted>,
}

#[derive(Default)]
struct Wanted {
    gzip: AtomicBool,
    br: AtomicBool,
}

struct Row {
    coin: Coin,
    pair: VenuePair,
    available: bool,
    flags: Vec<MarketFlag>,
    /// Where this row's JSON is in [`Snapshot::full`].
    span: std::ops::Range<usize>,
}

/// One answer of one snapshot: its ETag and its bodies per encoding.
pub(crate) struct Variant {
    pub etag: String,
    identity: Bytes,
    gzip: OnceCell<Bytes>,
    br: OnceCell<Bytes>,
    wanted: Arc<Wanted>,
}

/// Filters of `GET /api/v1/premiums`, validated against the settings. `None` = no filter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pairs: Option<Vec<VenuePair>>,
    coins: Option<Vec<Coin>>,
    flags: Option<Vec<MarketFlag>>,
    available: Option<bool>,
}

/// A filter value: one item or a comma-separated list, each parsed by `parse` (its error
/// names the item), sorted and deduplicated so every spelling of a filter is the same.
fn parse_list<T: Ord>(
    param: &str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ApiError> {
    let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "{param}: `{raw}` has an empty value; give one value or a comma-separated list"
        )));
    }
    let mut out = parts
        .into_iter()
        .map(|p| parse(p).map_err(|why| ApiError::bad_request(format!("{param}: {why}"))))
        .collect::<Result<Vec<T>, ApiError>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn names<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Filter {
    pub fn parse(
        settings: &Settings,
        markets: &cache::MarketsNow,
        pair: Option<&str>,
        coin: Option<&str>,
        flag: Option<&str>,
        available: Option<bool>,
    ) -> Result<Filter, ApiError> {
        let pairs = pair
            .map(|raw| {
                parse_list("pair", raw, |p| {
                    p.parse::<VenuePair>()
                        .ok()
                        .filter(|vp| settings.pairs.contains(vp))
                        .ok_or_else(|| {
                            format!(
                                "`{p}` is not a configured pair; configured pairs: {}",
                                names(&settings.pairs)
                            )
                        })
                })
            })
            .transpose()?;
        let coins = coin
            .map(|raw| {
                let tracked = markets.tracked();
                parse_list("coin", raw, |c| {
                    Coin::parse(c)
                        .ok()
                        .filter(|c| tracked.contains(c))
                        .ok_or_else(|| {
                            format!(
                                "`{c}` is not a tracked coin ({} are; see /api/v1/markets)",
                                tracked.len()
                            )
                        })
                })
            })
            .transpose()?;
        let flags = flag
            .map(|raw| {
                parse_list("flag", raw, |f| {
                    f.to_ascii_lowercase().parse::<MarketFlag>()
                })
            })
            .transpose()?;
        Ok(Filter {
            pairs,
            coins,
            flags,
            available,
        })
    }

    /// The same string for every spelling of the same filter.
    fn key(&self) -> String {
        let mut k = String::new();
        if let Some(p) = &self.pairs {
            let _ = write!(k, "pair={};", names(p));
        }
        if let Some(c) = &self.coins {
            let _ = write!(k, "coin={};", names(c));
        }
        if let Some(f) = &self.flags {
            let _ = write!(k, "flag={};", names(f));
        }
        if let Some(a) = self.available {
            let _ = write!(k, "available={a};");
        }
        k
    }

    fn matches(&self, row: &Row) -> bool {
        self.pairs.as_ref().is_none_or(|p| p.contains(&row.pair))
            && self.coins.as_ref().is_none_or(|c| c.contains(&row.coin))
            && self
                .flags
                .as_ref()
                .is_none_or(|f| f.iter().any(|f| row.flags.contains(f)))
            && self.available.is_none_or(|a| a == row.available)
    }
}

impl Snapshot {
    /// The ETag of this snapshot's answer for `filter` (no body is built).
    pub fn etag(&self, filter: &Filter) -> String {
        etag(self.id, &filter.key())
    }

    /// The answer for `filter`, from the snapshot's cache or built now.
    pub fn variant(&self, filter: &Filter) -> Arc<Variant> {
        let key = filter.key();
        if let Some(v) = self.variants.lock().expect("variants lock").get(&key) {
            return v.clone();
        }
        let variant = Arc::new(self.render(filter, key.clone()));
        let mut cached = self.variants.lock().expect("variants lock");
        if cached.len() < MAX_VARIANTS {
            return cached.entry(key).or_insert(variant).clone();
        }
        variant
    }

    fn render(&self, filter: &Filter, key: String) -> Variant {
        let identity = if *filter == Filter::default() {
            self.full.clone()
        } else {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| filter.matches(r)).collect();
            let mut body = Vec::with_capacity(
                32 + self.as_of.len() + rows.iter().map(|r| r.span.len() + 1).sum::<usize>(),
            );
            open_table(&mut body, &self.as_of);
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&self.full[row.span.clone()]);
            }
            body.extend_from_slice(b"]}");
            Bytes::from(body)
        };
        Variant {
            etag: etag(self.id, &key),
            identity,
            gzip: OnceCell::new(),
            br: OnceCell::new(),
            wanted: self.wanted.clone(),
        }
    }
}

/// `{"as_of":…,"premiums":[`
fn open_table(body: &mut Vec<u8>, as_of: &str) {
    body.extend_from_slice(b"{\"as_of\":");
    body.extend_from_slice(as_of.as_bytes());
    body.extend_from_slice(b",\"premiums\":[");
}

fn etag(id: u64, filter_key: &str) -> String {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    filter_key.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

impl Variant {
    /// The body in `encoding` and the coding actually used (identity for small bodies).
    /// Compression runs once per variant, off the async threads.
    pub async fn body(&self, encoding: Encoding) -> (Bytes, Encoding) {
        if self.identity.len() < MIN_COMPRESS {
            return (self.identity.clone(), Encoding::Identity);
        }
        let (cell, wanted) = match encoding {
            Encoding::Identity => return (self.identity.clone(), Encoding::Identity),
            Encoding::Gzip => (&self.gzip, &self.wanted.gzip),
            Encoding::Br => (&self.br, &self.wanted.br),
        };
        wanted.store(true, Ordering::Relaxed);
        let identity = self.identity.clone();
        let compressed = cell
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || compress(&identity, encoding)).await
            })
            .await;
        match compressed {
            Ok(b) => (b.clone(), encoding),
            // The blocking pool is gone (shutdown): answer uncompressed.
            Err(_) => (self.identity.clone(), Encoding::Identity),
        }
    }
}

impl Tables {
    /// The current snapshot: the cached one when it is current (see the module doc), otherwise
    /// a new one.
    pub async fn current(
        &self,
        cache: &Cache,
        markets: &Markets,
        settings: &Settings,
    ) -> Result<Arc<Snapshot>, ApiError> {
        let read_at = Instant::now();
        let version = io(Service::Redis, cache.premium_version()).await?;
        if let Some(s) = self.usable(&version, None) {
            return Ok(s);
        }
        let _one_at_a_time = match self.inner.rebuild.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another request is rebuilding: the previous table, if recent enough.
                if let Some(s) = self.recent() {
                    return Ok(s);
                }
                self.inner.rebuild.lock().await
            }
        };
        if let Some(s) = self.usable(&version, Some(read_at)) {
            return Ok(s);
        }
        let precompress = self
            .inner
            .current
            .read()
            .expect("tables lock")
            .as_ref()
            .map(|s| {
                (
                    s.wanted.gzip.load(Ordering::Relaxed),
                    s.wanted.br.load(Ordering::Relaxed),
                )
            })
            .unwrap_or_default();
        let snapshot =
            Arc::new(build(cache, markets, settings, version, read_at, precompress).await?);
        *self.inner.current.write().expect("tables lock") = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The cached snapshot if its version was read less than [`REBUILD_GRACE`] ago, whatever it
    /// is (a rebuild is under way).
    fn recent(&self) -> Option<Arc<Snapshot>> {
        let current = self.inner.current.read().expect("tables lock");
        current
            .as_ref()
            .filter(|s| s.read_at.elapsed() < REBUILD_GRACE)
            .cloned()
    }

    /// The cached snapshot if it has `version` and is younger than [`MAX_AGE`], or (after
    /// waiting for a rebuild) if its version was read after `read_at`.
    fn usable(&self, version: &Option<String>, read_at: Option<Instant>) -> Option<Arc<Snapshot>> {
        let current = self.inner.current.read().expect("tables lock");
        let s = current.as_ref()?;
        let young = s.read_at.elapsed() < MAX_AGE;
        let same = s.version == *version && young;
        let newer = read_at.is_some_and(|t| s.read_at >= t) && young;
        (same || newer).then(|| s.clone())
    }
}

/// Reads every tracked (coin, pair) of the universe in force (one `HMGET` per pair in one round
/// trip, one more for the skip reasons of
/// the missing and stale ones) and serializes each row once.
async fn build(
    cache: &Cache,
    markets: &Markets,
    settings: &Settings,
    version: Option<String>,
    read_at: Instant,
    precompress: (bool, bool),
) -> Result<Snapshot, ApiError> {
    let s = settings;
    let markets = markets_now(markets).await?;
    // By coin, then in the order of the configured pairs.
    let mut wanted: Vec<(Coin, VenuePair)> = markets
        .universe
        .iter()
        .flat_map(|(p, coins)| coins.iter().map(move |c| (c.clone(), *p)))
        .collect();
    let rank = |p: &VenuePair| s.pairs.iter().position(|q| q == p).unwrap_or(usize::MAX);
    wanted.sort_by(|a, b| a.0.cmp(&b.0).then(rank(&a.1).cmp(&rank(&b.1))));
    let started = Instant::now();
    let premiums = io(Service::Redis, cache.premiums(&wanted)).await?;
    let read_us = started.elapsed().as_micros() as u64;
    let limit = s.freshness.ticker_ms;
    let now = Utc::now();
    let missing: Vec<(Coin, VenuePair)> = wanted
        .iter()
        .zip(&premiums)
        .filter(|(_, p)| !is_fresh(p.as_ref(), now, limit))
        .map(|(w, _)| w.clone())
        .collect();
    let skips = if missing.is_empty() {
        Vec::new()
    } else {
        io(Service::Redis, cache.skips(&missing)).await?
    };
    let freshness = s.freshness.clone();
    let skips_us = (started.elapsed().as_micros() as u64).saturating_sub(read_us);
    tokio::task::spawn_blocking(move || {
        let serializing = Instant::now();
        let rows = wanted.len();
        let snapshot = serialize(wanted, premiums, skips, now, &freshness, version, read_at);
        let serialize_us = serializing.elapsed().as_micros() as u64;
        let (gzip, br) = precompress;
        if gzip || br {
            let full = snapshot.variant(&Filter::default());
            if gzip {
                let _ = full.gzip.set(compress(&full.identity, Encoding::Gzip));
            }
            if br {
                let _ = full.br.set(compress(&full.identity, Encoding::Br));
            }
        }
        // Where a rebuild's time goes (`RUST_LOG=api::table=debug`): the HMGETs and parsing run
        // on an async thread, serializing and precompressing on the blocking pool.
        tracing::debug!(
            rows,
            read_us,
            skips_us,
            serialize_us,
            compress_us = (serializing.elapsed().as_micros() as u64).saturating_sub(serialize_us),
            "premium table rebuilt"
        );
        snapshot
    })
    .await
    .map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("building the table failed: {e}"),
        )
    })
}

/// A premium cached and within the freshness limit: its row needs no skip reason.
fn is_fresh(p: Option<&Premium>, now: DateTime<Utc>, limit_ms: u64) -> bool {
    p.is_some_and(|p| (now - p.observed_at).num_milliseconds() <= limit_ms as i64)
}

fn serialize(
    wanted: Vec<(Coin, VenuePair)>,
    premiums: Vec<Option<Premium>>,
    skips: Vec<Option<SkipReason>>,
    now: DateTime<Utc>,
    freshness: &settings::Freshness,
    version: Option<String>,
    read_at: Instant,
) -> Snapshot {
    let as_of = Time::from(now)
        .to_json()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "null".into());
    let mut full = Vec::with_capacity(wanted.len() * 640);
    open_table(&mut full, &as_of);
    let mut skips = skips.into_iter();
    let rows = wanted
        .into_iter()
        .zip(premiums)
        .enumerate()
        .map(|(i, ((coin, pair), premium))| {
            let skip = if !is_fresh(premium.as_ref(), now, freshness.ticker_ms) {
                skips.next().flatten()
            } else {
                None
            };
            let flags = premium
                .as_ref()
                .map(|p| p.flags.clone())
                .unwrap_or_default();
            let view = PremiumView::build(&coin, pair, premium, skip, now, freshness);
            if i > 0 {
                full.push(b',');
            }
            let start = full.len();
            serde_json::to_writer(&mut full, &view.to_json().unwrap_or_default())
                .expect("writing to memory");
            Row {
                coin,
                pair,
                available: view.available,
                flags,
                span: start..full.len(),
            }
        })
        .collect();
    full.extend_from_slice(b"]}");
    let mut h = DefaultHasher::new();
    version.hash(&mut h);
    as_of.hash(&mut h);
    Snapshot {
        version,
        read_at,
        id: h.finish(),
        as_of,
        rows,
        full: Bytes::from(full),
        variants: Mutex::new(HashMap::new()),
        wanted: Arc::default(),
    }
}
