//! The offline market simulator: one local HTTP server that answers every supported
//! exchange's and FX provider's real request paths with their real response bodies, each under
//! its own prefix, so a client whose base URL is `http://127.0.0.1:PORT/<prefix>` works
//! unchanged (`/upbit/v1/ticker?markets=KRW-BTC`, `/binance/fapi/v1/premiumIndex`, …).
//!
//! # Layout
//!
//! Each module uses only modules listed before it, so there is no import cycle:
//!
//! - `hash`: the stable hashes every seeded draw goes through.
//! - `config`: [`SimConfig`] and the coins quoted by default.
//! - `price_model`: the prices, seeded random walks (pure: no clock, no I/O).
//! - `book`: order books and funding rates drawn around a price (pure).
//! - `universe/`: the simulated market's ground truth listing set, i.e. which venue lists which
//!   coin under which symbol (`data` its tables, `listing` one instrument, `listing_set` the set
//!   and its changes, `truth` the `/_sim/universe` answer, `build` the realistic shape).
//! - `prefix`: the served prefixes ([`PREFIXES`]) and each upstream's error bodies.
//! - `faults`: the fault switches set through `/_sim/faults`.
//! - `quote`: one coin's quote and one venue's board, as the handlers render them.
//! - `state`: the shared simulator state (clock, parameters, listings, pins, faults, counters).
//! - `reply`: how a JSON answer is written.
//! - `faulted`: the endpoint wrapper that counts each prefix's requests and applies its faults.
//! - `control`: the `/_sim` control API.
//! - `telegram`: the fake Telegram Bot API and its `/_sim/telegram` control.
//! - `routes/`: one module per venue or FX provider (`fields` what they share, `korean_v1` the
//!   v1 API Upbit and Bithumb have in common), each behind its fault wrapper, with `control`
//!   and `telegram` mounted beside them.
//! - `server`: [`app`], [`serve`], [`spawn`] and [`SimHandle`].
//!
//! # Prices, faults and the control API
//!
//! Prices are seeded random walks around configurable base prices, advanced one step every
//! [`SimConfig::step`] of wall-clock time (computed lazily when asked), with a configurable
//! kimchi premium on the Korean venues. Faults (latency, hangs, 5xx, 429 with `Retry-After`,
//! malformed bodies, zero prices, outages, HTTP-200 error bodies, a frozen snapshot) are switched per prefix through
//! the control API under `/_sim`:
//!
//! | path | method | body / answer |
//! | --- | --- | --- |
//! | `/_sim/faults` | POST | `{"venue":"upbit","latency_ms":0,"hang":false,"error_rate":0.0,"status":503,"rate_limit_retry_after":null,"malformed":false,"zero_price":false,"zero_coin":null,"outage":false,"http_error_body":false,"freeze":false,"empty_book":false}`: replaces that prefix's faults; left-out fields are off; `zero_price` is `true` (all coins) or a coin, or give `zero_coin`; `freeze` keeps serving the prefix's last snapshot, timestamps included (the first answer to each path and query after the switch, replayed byte for byte), until the freeze is lifted by a new POST or a DELETE; `empty_book` is `true` (all coins) or a coin whose book is served empty on every book path and in the tickers' best bid/ask (the price stays) |
//! | `/_sim/faults` | GET / DELETE | the list / clears all (`?venue=upbit`: just one) |
//! | `/_sim/prices` | POST | `{"venue":"upbit","coin":"BTC","price":"129555000"}` or `{"fx":"dunamu","price":"1432.6"}`: pinned until cleared; or a whole book `{"venue":"upbit","coin":"BTC","book":{"bids":[["129550000","0.5"],["129540000","1.2"]],"asks":[["129560000","0.3"]]},"allow_crossed":false}` (`coin` is the venue's base, `1000PEPE`, or the coin, `PEPE`; prices per the venue's quote unit, per multiplier unit on `1000PEPEUSDT`; sizes in the venue's units, OKX contracts; bids strictly descending, asks strictly ascending, all positive, both sides non-empty; crossed only with `"allow_crossed":true`): served exactly on every book path and as the tickers' best bid/ask, the last price is the mid unless a price pin exists |
//! | `/_sim/prices` | GET / DELETE | the pins (price pins, then book pins `{"venue","coin","book":{"bids","asks"},"allow_crossed"}`) / clears all of them |
//! | `/_sim/config` | GET / POST | `{"premium_pct":"1.5","usdt_premium_pct":"0.3","noise_pct":"0.02","bithumb_clock_skew_ms":0,"frankfurter_date":"calendar"}` (any subset; the skew is added to Bithumb's REST ticker `timestamp`/`trade_timestamp`, as the real one has been seen +9 h, `trade_date`/`trade_time` stay UTC; `frankfurter_date` `YYYY-MM-DD` pins the ECB date, `calendar` is the last publication's) |
//! | `/_sim/advance` | POST | `{"steps":10}`: moves the walks on by hand → `{"step":N}` |
//! | `/_sim/stats` | GET / DELETE | `{"total":N,"requests":{"upbit":N,…},"faulted":{…},"paths":{"/upbit/v1/ticker":N}}` / reset |
//! | `/_sim/health` | GET | `{"status":"ok"}` |
//! | `/_sim/universe` | GET | the ground truth: `{"pairs":{"upbit-binance":["BTC","PEPE",…],…},"collisions":["TON"],"renamed":{"MATIC":"POL"},"flagged":{"<coin>":["warning"\|"caution"\|"deposit_suspended",…]},"illiquid":[…],"multiplied":{"binance":{"PEPE":"1000"},"bybit":{…},"okx":{}},"contract_values":{"okx":{"PEPE":"10000000"}},"listings":{"upbit":N,…},"realistic":true}`; `pairs` has all six Korean × foreign combinations: coins that are the same asset, trading on both sides |
//! | `/_sim/telegram` | POST | `{"valid_token":"123456:test-bot-token","fail_status":503,"fail_count":2,"retry_after":1,"latency_ms":0}` (any subset): the token the fake Bot API accepts, the next `fail_count` calls answer `fail_status` (429: with `parameters.retry_after` and a `Retry-After` header), and every call is answered (its message accepted) after `latency_ms` |
//! | `/_sim/telegram/messages` | GET / DELETE | `{"messages":[{"message_id","chat_id","text","date"}],"unauthorized":N,"in_flight":N}` (what the fake Bot API accepted, the calls it refused for a bad token, and the calls not answered yet) / clears them |
//! | `/_sim/illiquid` | POST | `{"coin":"XRP","trade_lag_ms":300000}`: the coin's last trade on both Korean venues lags that far behind the snapshot `timestamp` (its quote stays current; `0` makes it liquid again); the truth's `illiquid` follows → `{"illiquid":{"XRP":300000}}` |
//! | `/_sim/listings` | POST | `{"venue":"upbit","coin":"NEWC","action":"list"}` (or `"delist"`; optional `"multiplier":"1000"` → `1000NEWCUSDT`, on OKX the `ctVal`): changes that venue's listings and the truth → `{"venue","action","coin","symbol"}`. Delisting on Binance leaves the perp as `SETTLING`; elsewhere it disappears |
//!
//! **Listings.** Every venue serves its metadata endpoints from one listing set
//! (`universe/`): Upbit and Bithumb `/v1/market/all` (`is_details`/`isDetails` → Upbit
//! `market_event`, Bithumb `market_warning`), Bithumb `/v1/market/virtual_asset_warning` and
//! `/public/assetsstatus/ALL`, Binance `/fapi/v1/exchangeInfo` and `/fapi/v1/fundingInfo`, Bybit
//! `/v5/market/instruments-info?category=linear` (cursor paging), OKX
//! `/api/v5/public/instruments?instType=SWAP`; the ticker paths serve the same instruments.
//! By default ([`SimConfig::realistic`] off) every venue lists the configured coins and the
//! `SIM001…` ones one to one, the fixed coin set the integration tests rely on. With `realistic`
//! on, the simulator serves a realistic universe instead: ~230 Upbit KRW markets, ~400 Bithumb,
//! ~520 Binance perps (plus SETTLING ones), ~500 Bybit, ~250 OKX, with real overlaps; multiplier
//! contracts (`1000PEPEUSDT`, `SHIB1000USDT`, `1MBABYDOGEUSDT`, `10000SATSUSDT`; OKX prices one
//! coin and carries the multiplier in `ctVal`), priced at multiplier × the coin's price; a ticker
//! collision (Korean `TON` is Tokamak Network, several times cheaper than foreign Toncoin); a
//! rename (`MATIC` → `POL`); coins under warning / caution / suspended deposits; a SETTLING Binance
//! perp of a Korean-listed coin; OKX `suspend`/`preopen` rows; illiquid Korean coins whose
//! `trade_timestamp` is minutes old (their price is current). The configured premium applies to
//! every Korean listing that is the same asset as the foreign one. Same seed, same universe. The
//! field defaults to off for the tests' fixed coin set; `premium-spread sim` and `up --sim` turn it
//! on (`--basic` / `--sim-basic` for the basic shape).
//! The app tracks its configured coins (BTC…DOGE by default), which both shapes quote alike.
//!
//! **Books and funding** (`book.rs`). Every listing has an order book drawn around its current
//! price, deterministic per (seed, venue, symbol, step) like the prices: the last price lies in
//! [best bid, best ask], bid < ask, both on the tick grid; spreads ~0.1–2 bp for the configured
//! majors (and KRW-USDT), 1.5–8 bp for the realistic universe's next ~55 most popular coins,
//! 8–60 bp for the long tail, 80–400 bp for the universe's `illiquid`
//! Korean coins, centred on the price (a premium prices them from the mid), which also have only 3–12 live levels a side; otherwise 30 levels a side with
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

// The integration tests' HTTP client; unit tests see dev-dependencies too.
#[cfg(test)]
use reqwest as _;

mod book;
mod config;
mod control;
mod faulted;
mod faults;
mod hash;
mod prefix;
mod price_model;
mod quote;
mod reply;
mod routes;
mod server;
mod state;
pub mod telegram;
mod universe;

pub use config::SimConfig;
pub use prefix::PREFIXES;
pub use server::{SimHandle, app, serve, spawn};
