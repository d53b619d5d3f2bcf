//! The offline market simulator: one local HTTP server that answers every supported
//! exchange's and FX provider's real request paths with their real response bodies, each under
//! its own prefix, so a client whose base URL is `http://127.0.0.1:PORT/<prefix>` works
//! unchanged (`/upbit/v1/ticker?markets=KRW-BTC`, `/binance/fapi/v1/premiumIndex`, …).
//!
//! Prices are seeded random walks around configurable base prices, advanced one step every
//! [`SimConfig::step`] of wall-clock time (computed lazily when asked), with a configurable
//! kimchi premium on the Korean venues. Faults (latency, hangs, 5xx, 429 with `Retry-After`,
//! malformed bodies, zero prices, outages, HTTP-200 error bodies) are switched per prefix through
//! the control API under `/_sim`:
//!
//! | path | method | body / answer |
//! | --- | --- | --- |
//! | `/_sim/faults` | POST | `{"venue":"upbit","latency_ms":0,"hang":false,"error_rate":0.0,"status":503,"rate_limit_retry_after":null,"malformed":false,"zero_price":false,"zero_coin":null,"outage":false,"http_error_body":false}`: replaces that prefix's faults; left-out fields are off; `zero_price` is `true` (all coins) or a coin, or give `zero_coin` |
//! | `/_sim/faults` | GET / DELETE | the list / clears all (`?venue=upbit`: just one) |
//! | `/_sim/prices` | POST | `{"venue":"upbit","coin":"BTC","price":"129555000"}` or `{"fx":"dunamu","price":"1432.6"}`: pinned until cleared |
//! | `/_sim/prices` | GET / DELETE | the pins / clears them |
//! | `/_sim/config` | GET / POST | `{"premium_pct":"1.5","usdt_premium_pct":"0.3","noise_pct":"0.02","bithumb_clock_skew_ms":0}` (any subset; the skew is added to Bithumb's REST ticker `timestamp`/`trade_timestamp`, as the real one has been seen +9 h, `trade_date`/`trade_time` stay UTC) |
//! | `/_sim/advance` | POST | `{"steps":10}`: moves the walks on by hand → `{"step":N}` |
//! | `/_sim/stats` | GET / DELETE | `{"total":N,"requests":{"upbit":N,…},"faulted":{…},"paths":{"/upbit/v1/ticker":N}}` / reset |
//! | `/_sim/health` | GET | `{"status":"ok"}` |
//! | `/_sim/universe` | GET | the ground truth: `{"pairs":{"upbit-binance":["BTC","PEPE",…],…},"collisions":["TON"],"renamed":{"MATIC":"POL"},"flagged":{"<coin>":["warning"\|"caution"\|"deposit_suspended",…]},"illiquid":[…],"multiplied":{"binance":{"PEPE":"1000"},"bybit":{…},"okx":{}},"contract_values":{"okx":{"PEPE":"10000000"}},"listings":{"upbit":N,…},"realistic":true}`; `pairs` has all six Korean × foreign combinations: coins that are the same asset, trading on both sides |
//! | `/_sim/listings` | POST | `{"venue":"upbit","coin":"NEWC","action":"list"}` (or `"delist"`; optional `"multiplier":"1000"` → `1000NEWCUSDT`, on OKX the `ctVal`): changes that venue's listings and the truth → `{"venue","action","coin","symbol"}`. Delisting on Binance leaves the perp as `SETTLING`; elsewhere it disappears |
//!
//! **Listings.** Every venue serves its metadata endpoints from one listings model
//! (`universe.rs`): Upbit and Bithumb `/v1/market/all` (`is_details`/`isDetails` → Upbit
//! `market_event`, Bithumb `market_warning`), Bithumb `/v1/market/virtual_asset_warning` and
//! `/public/assetsstatus/ALL`, Binance `/fapi/v1/exchangeInfo` and `/fapi/v1/fundingInfo`, Bybit
//! `/v5/market/instruments-info?category=linear` (cursor paging), OKX
//! `/api/v5/public/instruments?instType=SWAP`; the ticker paths serve the same instruments.
//! By default ([`SimConfig::realistic`] off) every venue lists the configured coins and the
//! `SIM001…` ones one to one, as the tests have always expected. With `realistic` on, the
//! simulator serves a realistic universe instead: ~230 Upbit KRW markets, ~400 Bithumb, ~520
//! Binance perps (plus SETTLING ones), ~500 Bybit, ~250 OKX, with real overlaps; multiplier
//! contracts (`1000PEPEUSDT`, `SHIB1000USDT`, `1MBABYDOGEUSDT`, `10000SATSUSDT`; OKX prices one
//! coin and carries the multiplier in `ctVal`), priced at multiplier × the coin's price; a ticker
//! collision (Korean `TON` is Tokamak Network, several times cheaper than foreign Toncoin); a
//! rename (`MATIC` → `POL`); coins under warning / caution / suspended deposits; a SETTLING
//! Binance perp of a Korean-listed coin; OKX `suspend`/`preopen` rows; illiquid Korean coins
//! whose `trade_timestamp` is minutes old (their price is current). The configured premium
//! applies to every Korean listing that is the same asset as the foreign one. Same seed, same
//! universe. The field defaults to off so the tests' fixed coin set stays as it was;
//! `premium-spread sim` and `up --sim` turn it on (`--basic` / `--sim-basic` for the old shape).
//! The app tracks its configured coins (BTC…DOGE by default), which both shapes quote alike.
//!
//! Korean `/v1/ticker` is as strict as the real venues: one unknown market fails the whole call
//! (Upbit HTTP 404, Bithumb HTTP 200 with `{"error":{"name":404,"message":"Code not found"}}`), and
//! Bithumb refuses more than 200 markets per call (HTTP 400).
//!
//! `outage` answers 503 at once: a refused connection cannot be made from inside a handler.
//!
//! Layout: `market` is the pure price model, `universe` the listings and ground truth, `state`
//! the shared simulator state (clock, faults, pins, counters, listings), `faults` the fault switches and the endpoint wrapper that applies them,
//! `routes/` one module per venue or FX provider, `control` the `/_sim` API.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use poem::{Endpoint, Response, Server, listener::TcpAcceptor};
use rust_decimal::Decimal;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

// The integration tests' HTTP client; unit tests see dev-dependencies too.
#[cfg(test)]
use reqwest as _;

mod book;
mod control;
mod faults;
mod market;
mod prefix;
mod routes;
mod state;
mod universe;

/// The URL prefixes served: the five venues, then the three FX sources (the names of
/// [`domain::venue::UPSTREAMS`], in its order).
pub const PREFIXES: [&str; domain::venue::UPSTREAMS.len()] = domain::venue::Upstream::NAMES;

/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

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
            coins: market::default_coins(),
            realistic: false,
        }
    }
}

/// The simulator as a poem endpoint: every prefix's routes and the `/_sim` control API.
///
/// A `hang` fault served through this endpoint is released after an hour at most; [`serve`]
/// releases it at shutdown.
pub fn app(cfg: SimConfig) -> impl Endpoint<Output = Response> {
    routes::build(Arc::new(state::Sim::new(&cfg)))
}

/// Serves the simulator on `listener` until `shutdown` resolves, then drains requests in flight
/// (hanging ones are released) for up to two seconds.
pub async fn serve(
    listener: TcpListener,
    cfg: SimConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let sim = Arc::new(state::Sim::new(&cfg));
    let app = routes::build(sim.clone());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, seed = cfg.seed, "market simulator listening");
    }
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    let signal = async move {
        shutdown.await;
        sim.shut_down();
    };
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, signal, Some(SHUTDOWN_GRACE))
        .await
}

/// A simulator running in the background; dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`; a venue's base URL is `{base_url}/{prefix}`.
    pub base_url: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// The base URL a client of `prefix` (one of [`PREFIXES`]) should use.
    pub fn prefix_url(&self, prefix: &str) -> String {
        format!("{}/{prefix}", self.base_url)
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the simulator on `127.0.0.1:0` in the background (for tests).
pub async fn spawn(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, cfg, async move {
        let _ = stopped.await;
    }));
    Ok(SimHandle {
        base_url: format!("http://{addr}"),
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
