//! The shared harness: `spawn_app()` starts the API on port 0 with a unique Redis prefix, a
//! fresh database and the admin token `test-token`; seeding helpers write the hot cache and
//! history the way the worker would; request helpers assert status and error code.

use std::{sync::Arc, time::Duration};

use cache::Cache;
use chrono::{DateTime, Utc};
use domain::{Coin, FxRate, FxSource, Premium, PremiumInputs, Price, Ticker, Venue, VenuePair};
use keyspace::{Keys, RedisConn};
use redis::AsyncCommands;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use settings::{Secret, Settings};
use store::Store;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";
pub const TOKEN: &str = "test-token";

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub http: reqwest::Client,
    pub settings: Arc<Settings>,
    pub cache: Cache,
    pub store: Store,
    pub conn: RedisConn,
    pub keys: Keys,
    db_name: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Settings of a test: its own prefix and database, the admin token `test-token`.
pub fn test_settings() -> (Settings, String) {
    let id = ulid::Ulid::generate().to_string().to_lowercase();
    let db_name = format!("ps_test_{id}");
    let s = Settings {
        redis_url: REDIS_URL.into(),
        database_url: format!("postgres://postgres@127.0.0.1:5432/{db_name}"),
        redis_prefix: format!("test-{id}"),
        admin_token: Some(Secret::new(TOKEN)),
        coins: domain::CoinSelection::List(
            ["BTC", "ETH", "XRP", "SOL", "DOGE"]
                .iter()
                .map(|c| domain::Coin::parse(c).unwrap())
                .collect(),
        ),
        ..Default::default()
    };
    (s, db_name)
}

/// Puts a market registry in force as `refresh-markets` would: every configured venue lists
/// every coin of the settings' list plainly (multiplier 1), and every pair tracks them all.
pub async fn put_plain_markets(conn: &RedisConn, settings: &Settings) {
    let domain::CoinSelection::List(coins) = &settings.coins else {
        panic!("API tests use an explicit coin list");
    };
    let now = chrono::Utc::now();
    let mut registry = domain::Registry::default();
    for venue in &settings.venues {
        let listings = coins
            .iter()
            .chain(
                std::iter::once(&domain::Coin::usdt())
                    .filter(|_| venue.region() == domain::Region::Korea),
            )
            .map(|c| domain::Listing {
                coin: c.clone(),
                multiplier: rust_decimal::Decimal::ONE,
                instrument: domain::Instrument {
                    venue: *venue,
                    symbol: c.to_string(),
                    base: c.to_string(),
                    status: domain::MarketStatus::Trading,
                    english_name: None,
                    contract_value: None,
                    flags: Vec::new(),
                },
                excluded: None,
            })
            .collect();
        registry.venues.insert(
            *venue,
            domain::VenueMarkets {
                venue: *venue,
                listings,
                refreshed_at: now,
                last_failure: None,
            },
        );
    }
    let universe = settings.pairs.iter().map(|p| (*p, coins.clone())).collect();
    cache::Markets::new(conn.clone(), Keys::new(&settings.redis_prefix))
        .put(&registry, &universe)
        .await
        .expect("registry written");
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the settings adjusted first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (mut s, db_name) = test_settings();
    tweak(&mut s);
    s.validate().expect("test settings are valid");
    let settings = Arc::new(s);
    let store = Store::connect(&settings.database_url)
        .await
        .expect("local PostgreSQL answers");
    let conn = keyspace::connect_redis(REDIS_URL, Duration::from_secs(5))
        .await
        .expect("local Redis answers");
    put_plain_markets(&conn, &settings).await;
    let state = api::AppState::new(settings.clone(), conn.clone(), store.clone(), None);
    start(state, settings, conn, store, db_name).await
}

/// Serves `state` on port 0 and returns the handle tests talk to.
pub async fn start(
    state: api::AppState,
    settings: Arc<Settings>,
    conn: RedisConn,
    store: Store,
    db_name: String,
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        cache: Cache::new(conn.clone(), &settings),
        keys: Keys::new(&settings.redis_prefix),
        settings,
        store,
        conn,
        db_name,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl Drop for TestApp {
    /// Stops the server, drops the database and deletes the test's Redis keys (also when the
    /// test panicked).
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
        }
        let db = self.db_name.clone();
        let prefix = self.keys.prefix().to_string();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(cleanup(&db, &prefix));
        })
        .join();
    }
}

async fn cleanup(db: &str, prefix: &str) {
    use sqlx::Connection;
    if let Ok(mut pg) =
        sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .execute(&mut pg)
            .await;
    }
    if let Ok(client) = redis::Client::open(REDIS_URL)
        && let Ok(mut conn) = client.get_multiplexed_async_connection().await
    {
        let keys: Vec<String> = conn.keys(format!("{prefix}:*")).await.unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = conn.del(keys).await;
        }
    }
}

// ----- requests -----

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, None).await
    }

    /// POST with the admin token.
    pub async fn admin_post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(TOKEN), body).await
    }

    /// GETs `path`, asserts `status`, and returns the body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

/// Asserts an error answer: the status and the `code` of the JSON body; returns the message.
pub fn assert_error(answer: &(StatusCode, Value), status: u16, code: &str) -> String {
    let (s, body) = answer;
    assert_eq!(s.as_u16(), status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().expect("a message").to_string();
    assert!(!message.is_empty());
    message
}

// ----- seeding -----

pub fn coin(s: &str) -> Coin {
    Coin::parse(s).unwrap()
}

pub fn price(s: &str) -> Price {
    Price::parse(s).unwrap()
}

pub fn pair(korea: Venue, foreign: Venue) -> VenuePair {
    VenuePair::new(korea, foreign).unwrap()
}

pub fn ago(ms: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::milliseconds(ms)
}

pub fn ticker(venue: Venue, c: &str, p: &str, age_ms: i64) -> Ticker {
    Ticker {
        venue,
        coin: coin(c),
        price: price(p),
        observed_at: ago(age_ms),
        fetched_at: ago(age_ms),
        last_trade_at: None,
        book: None,
        book_error: None,
        funding: None,
    }
}

pub fn fx(source: FxSource, rate: &str, age_ms: i64) -> FxRate {
    FxRate {
        source,
        usd_krw: price(rate),
        observed_at: ago(age_ms),
        fetched_at: ago(age_ms),
    }
}

/// A premium as the worker computes it, observed `age_ms` ago.
pub fn premium(
    c: &str,
    pair: VenuePair,
    korea_krw: &str,
    foreign_usd: &str,
    usd_krw: &str,
    usdt_krw: Option<&str>,
    age_ms: i64,
) -> Premium {
    let at = ago(age_ms);
    Premium::compute(
        PremiumInputs {
            coin: coin(c),
            pair,
            korea_krw: price(korea_krw),
            korea_price_source: domain::PriceSource::LastTrade,
            korea_trade_krw: None,
            korea_observed_at: at,
            foreign_usd: price(foreign_usd),
            foreign_observed_at: at,
            usd_krw: price(usd_krw),
            fx_source: FxSource::Dunamu,
            fx_observed_at: at,
            usdt_krw: usdt_krw.map(price),
            usdt_observed_at: usdt_krw.map(|_| at),
            foreign_symbol: None,
            foreign_multiplier: None,
            korea_last_trade_at: None,
            korea_book: None,
            foreign_book: None,
            funding: None,
        },
        at,
    )
    .unwrap()
}

/// The worked example of ARCHITECTURE.md: 1.2953… %, displayed 1.30.
pub fn worked_example(c: &str, age_ms: i64) -> Premium {
    premium(
        c,
        pair(Venue::Upbit, Venue::Binance),
        "129555000",
        "89277.1",
        "1432.6",
        Some("1450"),
        age_ms,
    )
}

impl TestApp {
    pub async fn put_premiums(&self, premiums: &[Premium]) {
        self.cache.put_premiums(premiums).await.unwrap();
    }

    pub async fn put_tickers(&self, tickers: &[Ticker]) {
        self.cache.put_tickers(tickers).await.unwrap();
    }

    pub async fn put_fx(&self, rate: &FxRate) {
        self.cache.put_fx(rate).await.unwrap();
    }

    /// Marks every job kind as having succeeded `age_ms` ago.
    pub async fn set_last_success(&self, kind: &str, age_ms: i64) {
        let _: () = self
            .conn
            .clone()
            .hset(
                self.keys.last_success(),
                kind,
                ago(age_ms).timestamp_millis(),
            )
            .await
            .unwrap();
    }
}
