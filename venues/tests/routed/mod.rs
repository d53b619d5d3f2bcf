//! A local server that answers by path (canned bodies, or bodies built for the request) and
//! records what it was asked, plus the helpers `books.rs` and `markets.rs` share. (`support/`
//! serves one canned answer to every request for `clients.rs`.)

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use domain::{Coin, Decimal, Listing, Venue};
use poem::{Request, Response, Server, endpoint::make, http::StatusCode, listener::TcpAcceptor};
use venues::{
    ClientConfig, ErrorClass, FetchError, VenueClient, VenueOptions, plain_listing, venue_client,
};

const PREFIX: &str = "/sim";

/// Answers a request (path and query, without the base URL's prefix) with a status and body.
type Handler = Arc<dyn Fn(&str) -> (u16, String) + Send + Sync>;

pub struct TestServer {
    pub base_url: String,
    /// Paths and queries seen, without the prefix.
    seen: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Answers each request (path and query, without the prefix) with `handler`.
pub async fn serve(handler: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> TestServer {
    let handler: Handler = Arc::new(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = make(move |req: Request| {
        let handler = handler.clone();
        let log = log.clone();
        async move {
            let full = req.original_uri().to_string();
            let path = full.strip_prefix(PREFIX).unwrap_or(&full).to_string();
            log.lock().unwrap().push(path.clone());
            let (status, body) = handler(&path);
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json")
                .body(body)
        }
    });
    let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    TestServer {
        base_url: format!("http://{addr}{PREFIX}/"),
        seen,
    }
}

/// Serves `routes` by path (the query is ignored); anything else is 404.
pub async fn serve_routes(routes: &[(&'static str, u16, String)]) -> TestServer {
    let routes: BTreeMap<&'static str, (u16, String)> = routes
        .iter()
        .map(|(p, s, b)| (*p, (*s, b.clone())))
        .collect();
    serve(move |path| {
        let bare = path.split('?').next().unwrap_or(path);
        routes
            .get(bare)
            .cloned()
            .unwrap_or((404, r#"{"name":"not_found","message":"no Route"}"#.into()))
    })
    .await
}

/// `tests/fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> String {
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

pub fn client(venue: Venue, server: &TestServer) -> Box<dyn VenueClient> {
    client_with(venue, server, VenueOptions::default())
}

pub fn client_with(venue: Venue, server: &TestServer, opts: VenueOptions) -> Box<dyn VenueClient> {
    let cfg = ClientConfig {
        base_url: server.base_url.clone(),
        timeout: Duration::from_secs(5),
        user_agent: "premium-spread-test/1".into(),
    };
    venue_client(venue, cfg, &opts)
}

/// The error's class and retryability, and no URL or query string in its text.
pub fn assert_class(err: &FetchError, class: ErrorClass, retryable: bool) {
    assert_eq!(err.class(), class, "{err}");
    assert_eq!(err.is_retryable(), retryable, "{err}");
    let text = err.to_string();
    assert!(
        !text.contains('?') && !text.contains("http://"),
        "error messages carry no URL or query string: {text}"
    );
}

pub fn coin(c: &str) -> Coin {
    Coin::parse(c).unwrap()
}

/// A listing of `coin` under `symbol` at `multiplier`.
pub fn listing(venue: Venue, c: &str, symbol: &str, multiplier: Decimal) -> Listing {
    let mut l = plain_listing(venue, &coin(c));
    l.instrument.symbol = symbol.to_string();
    l.multiplier = multiplier;
    l
}
