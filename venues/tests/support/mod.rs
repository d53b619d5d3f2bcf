//! A canned HTTP server on 127.0.0.1:0 and a uniform way to call venue and FX clients, so each
//! behaviour is written once and checked against every client.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use domain::{Coin, Decimal, FxSource, Venue};
use poem::{Request, Response, Server, endpoint::make, http::StatusCode, listener::TcpAcceptor};
use venues::{ClientConfig, FetchError, VenueOptions, fx_client, plain_listing, venue_client};

pub const USER_AGENT: &str = "premium-spread-test/1";

/// What the server answers to every request.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Canned {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn fixture(status: u16, dir: &str, name: &str) -> Self {
        Canned::new(status, fixture(dir, name))
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

pub fn fixture(dir: &str, name: &str) -> String {
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A request the server saw: path with query, and the `User-Agent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path_and_query: String,
    pub user_agent: String,
}

pub struct TestServer {
    /// Has a path prefix and a trailing slash, as a configured base URL may.
    pub base_url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub const PREFIX: &str = "/sim";

/// Serves `canned` for any path on a fresh port. The server lives as long as the test runtime.
pub async fn serve(canned: Canned) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = make(move |req: Request| {
        let canned = canned.clone();
        let log = log.clone();
        async move {
            log.lock().unwrap().push(Seen {
                path_and_query: req.original_uri().to_string(),
                user_agent: req.header("user-agent").unwrap_or_default().to_string(),
            });
            tokio::time::sleep(canned.delay).await;
            let mut resp = Response::builder().status(StatusCode::from_u16(canned.status).unwrap());
            for (name, value) in &canned.headers {
                resp = resp.header(*name, value.as_str());
            }
            resp.body(canned.body)
        }
    });
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    TestServer {
        base_url: format!("http://{addr}{PREFIX}/"),
        seen,
    }
}

/// A base URL nothing listens on.
pub async fn refused_base_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

pub fn config(base_url: &str, timeout: Duration) -> ClientConfig {
    ClientConfig {
        base_url: base_url.to_string(),
        timeout,
        user_agent: USER_AGENT.to_string(),
    }
}

/// A venue client with its options, or an FX source.
#[derive(Debug, Clone)]
pub enum Target {
    Venue(Venue, VenueOptions),
    Fx(FxSource),
}

/// One fetched price, venue or FX, in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub coin: String,
    pub price: Decimal,
    pub observed_at: DateTime<Utc>,
    /// When the client received it (the FX observation time for FX rates).
    pub fetched_at: DateTime<Utc>,
}

/// What a fetch returned: prices and per-coin failures (always empty for FX).
#[derive(Debug)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub failures: Vec<(String, FetchError)>,
    /// The batch's venue clock skew (always `None` for FX).
    pub clock_skew_ms: Option<i64>,
}

/// FX rates are reported under this pseudo coin.
pub const FX_COIN: &str = "USD/KRW";

impl Target {
    pub async fn fetch(
        &self,
        base_url: &str,
        timeout: Duration,
        coins: &[&str],
    ) -> Result<Outcome, FetchError> {
        let cfg = config(base_url, timeout);
        match self {
            Target::Venue(venue, opts) => {
                let client = venue_client(*venue, cfg, opts);
                assert_eq!(client.venue(), *venue);
                let listings: Vec<_> = coins
                    .iter()
                    .map(|c| plain_listing(*venue, &Coin::parse(c).unwrap()))
                    .collect();
                let before = Utc::now();
                let batch = client.fetch_tickers(&listings).await?;
                for t in &batch.tickers {
                    assert_eq!(t.venue, *venue);
                    assert!(t.fetched_at >= before && t.fetched_at <= Utc::now());
                }
                Ok(Outcome {
                    rows: batch
                        .tickers
                        .into_iter()
                        .map(|t| Row {
                            coin: t.coin.to_string(),
                            price: t.price.value(),
                            observed_at: t.observed_at,
                            fetched_at: t.fetched_at,
                        })
                        .collect(),
                    failures: batch
                        .failures
                        .into_iter()
                        .map(|(c, e)| (c.to_string(), e))
                        .collect(),
                    clock_skew_ms: batch.clock_skew_ms,
                })
            }
            Target::Fx(source) => {
                let client = fx_client(*source, cfg);
                assert_eq!(client.source(), *source);
                let rate = client.fetch_usd_krw().await?;
                assert_eq!(rate.source, *source);
                Ok(Outcome {
                    rows: vec![Row {
                        coin: FX_COIN.to_string(),
                        price: rate.usd_krw.value(),
                        observed_at: rate.observed_at,
                        fetched_at: rate.observed_at,
                    }],
                    failures: Vec::new(),
                    clock_skew_ms: None,
                })
            }
        }
    }
}
