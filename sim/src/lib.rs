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
//! | `/_sim/prices` | POST | `{"venue":"upbit","coin":"BTC","price":"129555000"}` or `{"fx":"dunamu","price":"1432.6"}`: pinned until cleared; or a whole book `{"venue":"upbit","coin":"BTC","book":{"bids":[["129550000","0.5"],["129540000","1.2"]],"asks":[["129560000","0.3"]]},"allow_crossed":false}` (`coin` is the venue's base, `1000PEPE`, or the coin, `PEPE`; prices per the venue's quote unit, per multiplier unit on `1000PEPEUSDT`; sizes in the venue's units, OKX contracts; bids strictly descending, asks strictly ascending, all positive, both sides non-empty; crossed only with `"allow_crossed":true`): served exactly on every book path and as the tickers' best bid/ask, the last price is the mid unless a price pin exists |
//! | `/_sim/prices` | GET / DELETE | the pins (price pins, then book pins `{"venue","coin","book":{"bids","asks"},"allow_crossed"}`) / clears all of them |
//! | `/_sim/config` | GET / POST | `{"premium_pct":"1.5","usdt_premium_pct":"0.3","noise_pct":"0.02","bithumb_clock_skew_ms":0}` (any subset; the skew is added to Bithumb's REST ticker `timestamp`/`trade_timestamp`, as the real one has been seen +9 h, `trade_date`/`trade_time` stay UTC) |
//! | `/_sim/advance` | POST | `{"steps":10}`: moves the walks on by hand → `{"step":N}` |
//! | `/_sim/stats` | GET / DELETE | `{"total":N,"requests":{"upbit":N,…},"faulted":{…},"paths":{"/upbit/v1/ticker":N}}` / reset |
//! | `/_sim/health` | GET | `{"status":"ok"}` |
//! | `/_sim/universe` | GET | the ground truth: `{"pairs":{"upbit-binance":["BTC","PEPE",…],…},"collisions":["TON"],"renamed":{"MATIC":"POL"},"flagged":{"<coin>":["warning"\|"caution"\|"deposit_suspended",…]},"illiquid":[…],"multiplied":{"binance":{"PEPE":"1000"},"bybit":{…},"okx":{}},"contract_values":{"okx":{"PEPE":"10000000"}},"listings":{"upbit":N,…},"realistic":true}`; `pairs` has all six Korean × foreign combinations: coins that are the same asset, trading on both sides |
//! | `/_sim/telegram` | POST | `{"valid_token":"123456:test-bot-token","fail_status":503,"fail_count":2,"retry_after":1}` (any subset): the token the fake Bot API accepts, and the next `fail_count` calls answer `fail_status` (429: with `parameters.retry_after` and a `Retry-After` header) |
//! | `/_sim/telegram/messages` | GET / DELETE | `{"messages":[{"message_id","chat_id","text","date"}],"unauthorized":N}` (what the fake Bot API accepted, and the calls it refused for a bad token) / clears them |
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
//! **Books and funding** (`book.rs`). Every listing has an order book drawn around its current
//! price, deterministic per (seed, venue, symbol, step) like the prices: the last price lies in
//! [best bid, best ask], bid < ask, both on the tick grid; spreads ~0.1–2 bp for the configured
//! majors (and KRW-USDT), 1.5–8 bp for the realistic universe's next ~55 most popular coins,
//! 8–60 bp for the long tail, 80–400 bp for the universe's `illiquid`
//! Korean coins, which also have only 3–12 live levels a side; otherwise 30 levels a side with
//! sizes growing away from the top. Multiplier listings quote per multiplier unit; OKX sizes are
//! whole contracts (`ctVal` coins). Korean books sometimes hold a dust level (< 0.00005), which
//! Bithumb, printing sizes with 4 decimals, shows as size 0. The tickers' best bid/ask (Binance
//! `bookTicker`, Bybit `bid1Price…ask1Size`, OKX `bidPx…askSz`) are the book's top.
//!
//! | path | query | answer |
//! | --- | --- | --- |
//! | Upbit, Bithumb `/v1/orderbook` | `markets=KRW-BTC,KRW-ETH`, Upbit `count` 1–30 (default 30, out of range → 30, not a number → 400), Upbit `level` (only `0` is simulated; another → `[]`) | `[{"market","timestamp","total_ask_size","total_bid_size","orderbook_units":[{"ask_price","bid_price","ask_size","bid_size"}],"level":0}]`, JSON numbers; thin sides padded with zero slots; Bithumb 30 units for one market, 15 for several, ≤ 200 markets (400), sizes at 4 decimals; an unknown market fails the call as on `/v1/ticker` |
//! | Binance `/fapi/v1/depth` | `symbol`, `limit` 5/10/20/50/100/500/1000 (default 500; other → 400 `-1130`) | `{"lastUpdateId","E","T","bids":[["price","qty"]],"asks":[…]}` |
//! | Bybit `/v5/market/orderbook` | `category=linear`, `symbol`, `limit` 1–500 (default 25) | `{"retCode":0,"retMsg":"OK","result":{"s","b":[["price","size"]],"a":[…],"ts","u","seq","cts"},"retExtInfo":{},"time"}` |
//! | OKX `/api/v5/market/books` | `instId`, `sz` 1–400 (default 1) | `{"code":"0","msg":"","data":[{"asks":[["price","contracts","0","orders"]],"bids":[…],"ts"}]}` |
//! | OKX `/api/v5/public/funding-rate` | `instId=BTC-USDT-SWAP` or `ANY` (every live swap) | `{"code":"0","data":[{"formulaType","fundingRate","fundingTime","impactValue","instId","instType","interestRate","maxFundingRate","method","minFundingRate","nextFundingRate":"","nextFundingTime","premium","settFundingRate","settState","ts"}],"msg":""}` |
//!
//! Funding is per symbol and deterministic (seed, venue, symbol, and the step / 240): mostly
//! around +0.01 % (−0.005…+0.01 %), about one symbol in twenty-five (never the five majors) at
//! ±0.05–0.3 %, within the cap. Binance `premiumIndex` `lastFundingRate`/`nextFundingTime` (4 h for the symbols
//! `fundingInfo` lists, else 8 h), Bybit tickers `fundingRate`, `nextFundingTime`,
//! `fundingIntervalHour`, `fundingCap` (instruments-info `fundingInterval` agrees; a few 1 h and
//! 4 h symbols), OKX `fundingTime` = the next boundary and `nextFundingTime` one interval later;
//! every next funding time sits on the venue's interval boundary (UTC).
//!
//! Korean `/v1/ticker` is as strict as the real venues: one unknown market fails the whole call
//! (Upbit HTTP 404, Bithumb HTTP 200 with `{"error":{"name":404,"message":"Code not found"}}`), and
//! Bithumb refuses more than 200 markets per call (HTTP 400).
//!
//! **Telegram.** `POST /telegram/bot<token>/sendMessage` (`{"chat_id","text"}`) is a fake Bot
//! API (`telegram.rs`): it accepts the valid token only (HTTP 401 `Unauthorized` otherwise, as
//! Telegram), records the messages, and fails on demand.
//!
//! `outage` answers 503 at once: a refused connection cannot be made from inside a handler.
//!
//! Layout: `market` is the pure price model, `book` the books and funding drawn from it, `universe` the listings and ground truth, `state`
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
pub mod telegram;
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
