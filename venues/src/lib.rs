//! HTTP clients for the venues premium-spread reads prices from and the USD/KRW sources it
//! converts them with.
//!
//! Everything here turns a venue's REST response into the domain's [`Instrument`]s,
//! [`Ticker`]s and [`FxRate`]s, or into a [`FetchError`] that says whether and when to retry.
//!
//! Layout: one module per venue with the same shape ([`bithumb`], [`upbit`], [`binance`],
//! [`bybit`], [`okx`]) and one per FX source under [`fx`]. Each holds the venue's base URL,
//! its wire structs (venue field names, a raw payload in each doc comment), the conversion
//! into a validated quote (where prices are checked) and into an [`Instrument`] (where the
//! market list is filtered and the venue's states and flags are mapped), its error-body rules
//! and a client type. Venue clients implement [`VenueClient`] and are built by
//! [`venue_client`]; FX clients implement [`FxClient`] and are built by [`fx_client`]. Shared
//! pieces: `http` (one `reqwest::Client` builder and the GET path mapping statuses to errors),
//! `wire` (numbers, timestamps, picking requested listings out of all-symbols responses),
//! `clock` (skewed venue clocks told from frozen data), `krw_v1` (the Upbit-compatible API Upbit and Bithumb both serve) and
//! [`error`].
//!
//! # Markets
//!
//! [`VenueClient::fetch_markets`] lists what a venue trades, as the venue spells it: Korean KRW
//! markets with their warning / caution / deposit and withdrawal flags, foreign USDT-margined
//! linear perpetuals with their status (trading, halted, pre-open, delisted-but-listed) and,
//! on OKX, the contract value. Mapping an instrument to a coin and a multiplier (a
//! [`Listing`]) is the caller's job. A refresh is all or nothing: a failed page or flag source
//! is an `Err`.
//!
//! # Tickers
//!
//! [`VenueClient::fetch_tickers`] takes [`Listing`]s, requests their
//! `instrument.symbol`s and returns each ticker under `listing.coin`, priced per coin (the
//! quoted price ÷ `listing.multiplier`, so `1000PEPEUSDT` at 0.0098950 is PEPE at
//! 0.000009895). Callers without a registry use [`plain_listing`]. The price request comes
//! first (Korean venues: Upbit `ticker/all`, Bithumb the listed markets, at most 200 a
//! request on its v1 API; foreign venues all symbols); its failure is the `Err`.
//!
//! # Books and funding with every ticker
//!
//! Each ticker also carries its best bid and ask (`Ticker.book`, per coin: prices ÷
//! `listing.multiplier`, sizes × it, OKX sizes in contracts × `contract_value`) and, on the
//! foreign venues, the perpetual's funding (`Ticker.funding`). When the venue answered but
//! the book is crossed (OKX's pre-open BBO), zero or has an empty side, `book` is `None` and
//! `book_error` says why (the [`domain::BookError`] text); a failing book request leaves the
//! prices and sets every `book_error` to the error. A failing funding request leaves
//! `funding` empty. Requests a poll sends, all counted by [`VenueClient::requests_per_fetch`]
//! (n = listings):
//!
//! | venue | price | book | funding | per poll |
//! | --- | --- | --- | --- | --- |
//! | Upbit | `/v1/ticker/all` | `/v1/orderbook?markets=…` (priced markets, one call; first non-zero unit a side) | — | 2 |
//! | Bithumb v1 | `/v1/ticker?markets=…` ×⌈n/200⌉ | `/v1/orderbook?markets=…` ×⌈n/200⌉ | — | 2⌈n/200⌉ |
//! | Bithumb legacy | `/public/ticker/ALL_KRW` | as v1 | — | 1 + ⌈n/200⌉ |
//! | Binance `mark` | `/fapi/v1/premiumIndex` | `/fapi/v1/ticker/bookTicker` | `lastFundingRate`, `nextFundingTime` of premiumIndex | 2 |
//! | Binance `last` | `/fapi/v1/ticker/price` | `/fapi/v1/ticker/bookTicker` | `/fapi/v1/premiumIndex` (weight 10) | 3 |
//! | Bybit | `/v5/market/tickers` | `bid1Price`/`bid1Size`/`ask1Price`/`ask1Size` of the rows | `fundingRate`, `nextFundingTime`, `fundingIntervalHour` of the rows | 1 |
//! | OKX | `/api/v5/market/tickers` | `bidPx`/`bidSz`/`askPx`/`askSz` of the rows | `/api/v5/public/funding-rate?instId=ANY` | 2 |
//!
//! Binance's funding interval comes from `/fapi/v1/fundingInfo` (only adjusted symbols;
//! absent = 8 h), read by [`VenueClient::fetch_markets`] and kept in the client: until that
//! client's first market refresh the interval is `None` (unknown); a failing fundingInfo
//! keeps the last map and does not fail the refresh. OKX's interval is `nextFundingTime −
//! fundingTime` and its next settlement `fundingTime`.
//!
//! # Depth
//!
//! [`VenueClient::fetch_depth`] reads up to `levels` levels a side of one listing's book, per
//! coin, for a premium at a size: Upbit/Bithumb `GET /v1/orderbook?markets=KRW-X` (30 units),
//! Binance `GET /fapi/v1/depth?symbol=…&limit=…` (the smallest allowed limit ≥ `levels`, see
//! [`binance::depth_limit`]), Bybit `GET /v5/market/orderbook?category=linear&symbol=…&limit=…`
//! (≤ 500), OKX `GET /api/v5/market/books?instId=…&sz=…` (≤ 400, contracts × ctVal). Errors are
//! classified like the ticker paths; a crossed or empty book is
//! [`FetchError::InvalidPrice`]. The depth's `observed_at` is the venue's book time when it is
//! within [`MAX_CLOCK_SKEW_MS`] of the receipt, else (and always on the Korean venues) the
//! receipt time.
//!
//! # Times and venue clocks
//!
//! A ticker's `observed_at` is when the quote was current by the venue: the Korean v1
//! snapshot `timestamp` (not the last trade; that is `last_trade_at`, from
//! `trade_timestamp`), Bithumb legacy `data.date`, Binance the row's `time`, Bybit the
//! response's `time`, OKX `ts`. `fetched_at` is when we received it.
//!
//! Venue clocks are checked per batch (`clock`): a clock is skewed when its times advance with
//! ours at a steady offset, data is stale when its times stop advancing.
//! [`TickerBatch::clock_skew_ms`] is the median of (venue time − receipt time) over the quotes
//! whose venue time advanced with our clock since the client's previous fetch (the last
//! measurement stands while none does; on first sight only a clock ahead of ours is taken as
//! skew). When its magnitude exceeds [`MAX_CLOCK_SKEW_MS`] (Bithumb's REST has been seen writing
//! Korean wall time as epoch ms, +9 h) the skew is taken off every `observed_at` and
//! `last_trade_at`. A quote whose venue time stopped advancing keeps its old time, so it goes
//! stale after the freshness limit instead of looking as fresh as its receipt. Independently,
//! a single venue time more than [`MAX_CLOCK_SKEW_MS`] in the future is clamped to
//! `fetched_at`, so no ticker looks fresher than it can be.

pub mod binance;
pub mod bithumb;
pub mod bybit;
mod clock;
pub mod error;
pub mod fx;
mod http;
mod krw_v1;
pub mod okx;
pub mod upbit;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use domain::{
    Coin, Decimal, Depth, FxRate, FxSource, Instrument, Listing, MarketStatus, Ticker, Venue,
    venue::Upstream,
};
use serde::{Deserialize, Serialize};

pub use error::{ErrorClass, FetchError};
pub use http::build_http_client;

/// Where and how to reach one venue or FX source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Scheme, host and optional path prefix, e.g. `https://api.upbit.com` or
    /// `http://127.0.0.1:9000/upbit`; a trailing slash is ignored.
    pub base_url: String,
    /// Total time for one request, also used as the connect timeout.
    pub timeout: Duration,
    pub user_agent: String,
}

impl ClientConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_USER_AGENT: &'static str =
        concat!("premium-spread/", env!("CARGO_PKG_VERSION"));

    /// A config with the default timeout and user agent.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            user_agent: Self::DEFAULT_USER_AGENT.to_string(),
        }
    }
}

/// Which Binance price is the foreign leg. Bybit follows the same choice (mark or last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BinancePrice {
    /// `GET /fapi/v1/premiumIndex` (`markPrice`).
    #[default]
    Mark,
    /// `GET /fapi/v1/ticker/price` (`price`, the last trade).
    Last,
}

/// Which Bithumb API to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BithumbApi {
    /// `GET /v1/ticker?markets=KRW-BTC,...`.
    #[default]
    V1,
    /// `GET /public/ticker/ALL_KRW`.
    Legacy,
}

/// Per-venue choices for [`venue_client`].
#[derive(Debug, Clone, Default)]
pub struct VenueOptions {
    pub binance_price: BinancePrice,
    pub bithumb_api: BithumbApi,
}

/// How far (either way) a venue's clock may stray from ours before its skew is taken off its
/// times: see [`TickerBatch::clock_skew_ms`].
pub const MAX_CLOCK_SKEW_MS: i64 = 5_000;

/// The result of one poll of one venue: the coins that worked and, per coin, why the others
/// did not.
#[derive(Debug, Default)]
pub struct TickerBatch {
    /// One per listing that worked, under the listing's coin, priced per coin.
    pub tickers: Vec<Ticker>,
    pub failures: Vec<(Coin, FetchError)>,
    /// The venue's clock minus ours, ms, as measured from quotes advancing with our clock (see
    /// the crate docs); `None` before a measurement. Beyond ±[`MAX_CLOCK_SKEW_MS`] it was taken
    /// off the venue's times.
    pub clock_skew_ms: Option<i64>,
}

/// A venue's market-metadata and ticker client.
#[async_trait]
pub trait VenueClient: Send + Sync {
    fn venue(&self) -> Venue;

    /// Every market of the venue the tracker can use, as its metadata endpoint(s) describe it:
    /// KRW markets on Korean venues (with their warning/caution/deposit flags), USDT-margined
    /// linear perpetuals on foreign ones (in any status). Anything short of a complete answer
    /// (a failed page or a failed flag source) is an `Err`, so that the caller keeps its last
    /// good set rather than one with markets or flags missing.
    async fn fetch_markets(&self) -> Result<Vec<Instrument>, FetchError>;

    /// Fetch the tickers of `listings` (by `listing.instrument.symbol`), in as few requests as
    /// the venue allows. Each ticker comes back under `listing.coin`, priced per coin (quoted
    /// price ÷ `listing.multiplier`). Listings the venue does not quote or whose price is bad
    /// go to `failures` under their coin without failing the others; a request-level error
    /// (HTTP status, timeout, malformed body, HTTP-200 error body) of the price request is the
    /// `Err`. Tickers also carry their book (or `book_error`) and funding (see the crate docs);
    /// a failing book or funding request never fails the tickers.
    async fn fetch_tickers(&self, listings: &[Listing]) -> Result<TickerBatch, FetchError>;

    /// How many requests (rate-limit tokens) [`VenueClient::fetch_tickers`] of `n` listings
    /// sends at most, books and funding included (see the crate docs' table).
    fn requests_per_fetch(&self, n: usize) -> u32 {
        let _ = n;
        1
    }

    /// Up to `levels` levels a side of `listing`'s book, per coin (prices ÷ the multiplier,
    /// sizes × it, OKX contracts × `contract_value`), zero padding dropped. Errors are
    /// classified like the ticker paths (statuses, HTTP-200 error bodies); a crossed or empty
    /// book is [`FetchError::InvalidPrice`], a market the venue does not know
    /// [`FetchError::UnknownSymbol`] or its error body.
    async fn fetch_depth(&self, listing: &Listing, levels: usize) -> Result<Depth, FetchError>;
}

/// The listing of a plain `coin` on `venue` for callers without a market registry: multiplier
/// 1, the symbol the venue uses for a coin without a multiplier (`KRW-BTC`, `BTCUSDT`,
/// `BTC-USDT-SWAP`), status trading, no flags.
pub fn plain_listing(venue: Venue, coin: &Coin) -> Listing {
    let symbol = match venue {
        Venue::Upbit | Venue::Bithumb => format!("KRW-{coin}"),
        Venue::Binance | Venue::Bybit => format!("{coin}USDT"),
        Venue::Okx => format!("{coin}-USDT-SWAP"),
    };
    Listing {
        coin: coin.clone(),
        multiplier: Decimal::ONE,
        instrument: Instrument {
            venue,
            symbol,
            base: coin.as_str().to_ascii_uppercase(),
            status: MarketStatus::Trading,
            english_name: None,
            contract_value: None,
            flags: Vec::new(),
        },
        excluded: None,
    }
}

/// Builds the client for `venue`.
pub fn venue_client(venue: Venue, cfg: ClientConfig, opts: &VenueOptions) -> Box<dyn VenueClient> {
    match venue {
        Venue::Bithumb => Box::new(bithumb::BithumbClient::new(&cfg, opts.bithumb_api)),
        Venue::Upbit => Box::new(upbit::UpbitClient::new(&cfg)),
        Venue::Binance => Box::new(binance::BinanceClient::new(&cfg, opts.binance_price)),
        Venue::Bybit => Box::new(bybit::BybitClient::new(&cfg, opts.binance_price)),
        Venue::Okx => Box::new(okx::OkxClient::new(&cfg)),
    }
}

/// The production base URL of `venue` (from [`domain::venue::UPSTREAMS`]).
pub fn default_base_url(venue: Venue) -> &'static str {
    Upstream::Venue(venue).default_base_url()
}

/// A USD/KRW client.
#[async_trait]
pub trait FxClient: Send + Sync {
    fn source(&self) -> FxSource;
    async fn fetch_usd_krw(&self) -> Result<FxRate, FetchError>;
}

/// Builds the client for `source`.
pub fn fx_client(source: FxSource, cfg: ClientConfig) -> Box<dyn FxClient> {
    match source {
        FxSource::Dunamu => Box::new(fx::dunamu::DunamuClient::new(&cfg)),
        FxSource::Erapi => Box::new(fx::erapi::ErapiClient::new(&cfg)),
        FxSource::Frankfurter => Box::new(fx::frankfurter::FrankfurterClient::new(&cfg)),
    }
}

/// The production base URL of `source` (from [`domain::venue::UPSTREAMS`]).
pub fn default_fx_base_url(source: FxSource) -> &'static str {
    Upstream::Fx(source).default_base_url()
}

#[cfg(test)]
mod tests {
    // Dev-dependencies used only by the integration tests.
    use poem as _;
    use rust_decimal as _;
    use tokio as _;

    use super::*;

    #[test]
    fn options_deserialize_from_lowercase_names() {
        assert_eq!(
            serde_json::from_str::<BinancePrice>("\"last\"").unwrap(),
            BinancePrice::Last
        );
        assert_eq!(
            serde_json::from_str::<BithumbApi>("\"legacy\"").unwrap(),
            BithumbApi::Legacy
        );
        assert_eq!(VenueOptions::default().binance_price, BinancePrice::Mark);
        assert_eq!(VenueOptions::default().bithumb_api, BithumbApi::V1);
    }

    #[test]
    fn factories_build_the_requested_client() {
        for venue in Venue::ALL {
            let cfg = ClientConfig::new(default_base_url(venue));
            assert_eq!(
                venue_client(venue, cfg, &VenueOptions::default()).venue(),
                venue
            );
        }
        for source in FxSource::ALL {
            let cfg = ClientConfig::new(default_fx_base_url(source));
            assert_eq!(fx_client(source, cfg).source(), source);
        }
    }
}
