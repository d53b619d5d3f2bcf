//! Current premiums (Redis), their live stream (Redis pub/sub) and their OHLC history
//! (PostgreSQL).

use std::marker::PhantomData;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::SkipReason;
use domain::{Coin, Premium, VenuePair, display_rate};
use futures::{StreamExt, stream::BoxStream};
use poem::{
    IntoResponse,
    web::{Data, sse::Event},
};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, Union,
    param::{Header, Path, Query},
    payload::{EventStream, Json, Payload},
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use rust_decimal::Decimal;
use store::{Bucket, HistoryQuery, Interval};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    AppState,
    error::{ApiError, ErrorBody, ErrorCode},
    routes::{ApiTags, configured_pair, markets_now, tracked_coin, untracked},
    state::{Service, io},
    table::{Encoding, Filter, none_match_hits},
    types::{
        Dec, DecText, FxSourceName, IntervalName, MarketFlagName, Time, VenueName, as_to_json,
    },
};

/// At most this many buckets per history answer (7 days of minutes).
pub const MAX_BUCKETS: i64 = 10_080;

/// Buckets of a history answer without `limit`.
pub const DEFAULT_BUCKETS: i64 = 500;

/// Why the worker did not compute a premium (a missing or stale input).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SkipView {
    /// Which input, e.g. `upbit BTC ticker` or `usd/krw`.
    pub input: String,
    /// `missing`, `stale`, or why no FX rate was usable.
    pub reason: String,
    /// Age of a stale input, milliseconds.
    pub age_ms: Option<i64>,
    /// Its freshness limit, milliseconds.
    pub limit_ms: Option<i64>,
    /// When the worker recorded this.
    pub at: Time,
}

impl From<SkipReason> for SkipView {
    fn from(s: SkipReason) -> Self {
        SkipView {
            input: s.input.to_string(),
            reason: s.reason.to_string(),
            age_ms: s.age_ms,
            limit_ms: s.limit_ms,
            at: s.at.into(),
        }
    }
}

/// The prices and FX a premium was computed from.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct InputsView {
    /// Korean venue's price, KRW.
    pub korea_krw: Dec,
    pub korea_observed_at: Time,
    /// Foreign venue's price, USD(T).
    pub foreign_usd: Dec,
    pub foreign_observed_at: Time,
    /// USD/KRW in use.
    pub usd_krw: Dec,
    pub fx_source: FxSourceName,
    pub fx_observed_at: Time,
    /// The Korean venue's own USDT/KRW price (basis of `usdt_rate`), when available.
    pub usdt_krw: Option<Dec>,
    /// The foreign instrument the price came from, e.g. `1000PEPEUSDT`.
    pub foreign_symbol: Option<String>,
    /// Coins per quoted unit of that instrument (1000 for `1000PEPEUSDT`); `foreign_usd` is
    /// already per coin.
    pub foreign_multiplier: Option<Dec>,
    /// When the coin last traded on the Korean venue. Freshness is judged on the quote time
    /// (`korea_observed_at`), so an illiquid coin with a current quote still has a premium.
    pub korea_last_trade_at: Option<Time>,
    /// Best bid and ask of the Korean market, KRW per coin.
    pub korea_bid: Option<Dec>,
    pub korea_ask: Option<Dec>,
    /// Best bid and ask of the foreign market, USDT per coin (after the multiplier).
    pub foreign_bid: Option<Dec>,
    pub foreign_ask: Option<Dec>,
}

/// The premium of one coin on one pair. When no premium is cached, `available` is false, the
/// numbers are null and `skip` says why when the worker recorded it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PremiumView {
    pub coin: String,
    pub korea_venue: VenueName,
    pub foreign_venue: VenueName,
    /// Whether a current premium is cached.
    pub available: bool,
    /// True when missing or older than `freshness.ticker_ms`.
    pub stale: bool,
    /// `(korea_krw − foreign_usd × usd_krw) / (foreign_usd × usd_krw) × 100`, full precision.
    pub rate: Option<Dec>,
    /// `rate` rounded half-up to 2 decimal places.
    pub rate_display: Option<Dec>,
    /// The same with USD/KRW replaced by the Korean venue's USDT/KRW ("tether premium").
    pub usdt_rate: Option<Dec>,
    pub usdt_rate_display: Option<Dec>,
    /// `foreign_usd × usd_krw`.
    pub foreign_krw: Option<Dec>,
    pub inputs: Option<InputsView>,
    /// The oldest price observation the premium is built on.
    pub observed_at: Option<Time>,
    pub computed_at: Option<Time>,
    /// `now − observed_at`, milliseconds.
    pub age_ms: Option<i64>,
    pub skip: Option<SkipView>,
    /// Market flags of either leg (warning, caution, suspended deposits or withdrawals, foreign
    /// market not trading, suspect); empty when none or when no premium is cached.
    pub flags: Vec<MarketFlagName>,
    /// Entering the hedge: buy Korea at its ask, short abroad at its bid:
    /// `(korea_ask − foreign_bid × usd_krw) / (foreign_bid × usd_krw) × 100`.
    pub entry_rate: Option<Dec>,
    /// Exiting it: sell Korea at its bid, cover abroad at its ask:
    /// `(korea_bid − foreign_ask × usd_krw) / (foreign_ask × usd_krw) × 100`.
    pub exit_rate: Option<Dec>,
    /// The same after both venues' taker fees (`fees.<venue>`): Korean price × (1 ± fee),
    /// foreign price × (1 ∓ fee).
    pub entry_rate_net: Option<Dec>,
    pub exit_rate_net: Option<Dec>,
    /// The four above with the Korean venue's USDT/KRW in place of USD/KRW.
    pub usdt_entry_rate: Option<Dec>,
    pub usdt_exit_rate: Option<Dec>,
    pub usdt_entry_rate_net: Option<Dec>,
    pub usdt_exit_rate_net: Option<Dec>,
    /// Why the entry and exit rates are missing (a crossed, zero or missing book).
    pub executable_skip: Option<String>,
    /// The foreign perpetual's funding rate for the next settlement, a fraction (`0.0001` =
    /// 0.01 %); longs pay shorts when positive.
    pub funding_rate: Option<Dec>,
    pub next_funding_at: Option<Time>,
    pub funding_interval_hours: Option<u32>,
    /// `?size_krw=N` only: both legs filled through the fetched books for N KRW.
    pub at_size: Option<AtSizeView>,
}

/// A premium at a size: average fills of both legs through the books.
#[derive(Debug, Clone, Object)]
pub struct AtSizeView {
    pub size_krw: Dec,
    /// Coins bought in Korea and shorted abroad.
    pub qty: Dec,
    pub korea_avg_ask: Dec,
    pub foreign_avg_bid: Dec,
    pub entry_rate: Dec,
    pub korea_avg_bid: Dec,
    pub foreign_avg_ask: Dec,
    pub exit_rate: Dec,
    /// The top-of-book entry rate (from these books).
    pub top_entry_rate: Dec,
    /// The largest size whose entry rate stays within `depth.slippage_bp` of the top-of-book
    /// entry rate.
    pub max_size_krw: Dec,
    pub slippage_bp: Dec,
    /// The largest size the fetched books can fill on both legs.
    pub depth_krw: Dec,
}

impl PremiumView {
    pub(crate) fn build(
        coin: &Coin,
        pair: VenuePair,
        premium: Option<Premium>,
        skip: Option<SkipReason>,
        now: DateTime<Utc>,
        limit_ms: u64,
    ) -> Self {
        let mut view = PremiumView {
            coin: coin.to_string(),
            korea_venue: pair.korea.into(),
            foreign_venue: pair.foreign.into(),
            available: false,
            stale: true,
            rate: None,
            rate_display: None,
            usdt_rate: None,
            usdt_rate_display: None,
            foreign_krw: None,
            inputs: None,
            observed_at: None,
            computed_at: None,
            age_ms: None,
            skip: skip.map(SkipView::from),
            flags: Vec::new(),
            entry_rate: None,
            exit_rate: None,
            entry_rate_net: None,
            exit_rate_net: None,
            usdt_entry_rate: None,
            usdt_exit_rate: None,
            usdt_entry_rate_net: None,
            usdt_exit_rate_net: None,
            executable_skip: None,
            funding_rate: None,
            next_funding_at: None,
            funding_interval_hours: None,
            at_size: None,
        };
        if let Some(p) = premium {
            let age = (now - p.observed_at).num_milliseconds().max(0);
            let i = p.inputs;
            view.available = true;
            view.stale = age > limit_ms as i64;
            view.rate = Some(p.rate.into());
            view.rate_display = Some(display_rate(p.rate).into());
            view.usdt_rate = p.usdt_rate.map(Dec);
            view.usdt_rate_display = p.usdt_rate.map(|r| Dec(display_rate(r)));
            view.foreign_krw = Some(p.foreign_krw.into());
            view.observed_at = Some(p.observed_at.into());
            view.computed_at = Some(p.computed_at.into());
            view.age_ms = Some(age);
            view.flags = p.flags.iter().map(|f| MarketFlagName::from(*f)).collect();
            if let Some(e) = p.executable {
                view.entry_rate = Some(e.entry_rate.into());
                view.exit_rate = Some(e.exit_rate.into());
                view.entry_rate_net = Some(e.entry_rate_net.into());
                view.exit_rate_net = Some(e.exit_rate_net.into());
                view.usdt_entry_rate = e.usdt_entry_rate.map(Dec);
                view.usdt_exit_rate = e.usdt_exit_rate.map(Dec);
                view.usdt_entry_rate_net = e.usdt_entry_rate_net.map(Dec);
                view.usdt_exit_rate_net = e.usdt_exit_rate_net.map(Dec);
            }
            view.executable_skip = p.executable_skip.clone();
            if let Some(f) = i.funding {
                view.funding_rate = Some(f.rate.into());
                view.next_funding_at = Some(f.next_funding_at.into());
                view.funding_interval_hours = f.interval_hours;
            }
            view.inputs = Some(InputsView {
                korea_krw: i.korea_krw.into(),
                korea_observed_at: i.korea_observed_at.into(),
                foreign_usd: i.foreign_usd.into(),
                foreign_observed_at: i.foreign_observed_at.into(),
                usd_krw: i.usd_krw.into(),
                fx_source: i.fx_source.into(),
                fx_observed_at: i.fx_observed_at.into(),
                usdt_krw: i.usdt_krw.map(Dec::from),
                foreign_symbol: i.foreign_symbol.clone(),
                foreign_multiplier: i.foreign_multiplier.map(|m| m.normalize().into()),
                korea_last_trade_at: i.korea_last_trade_at.map(Time::from),
                korea_bid: i.korea_book.map(|b| b.bid.into()),
                korea_ask: i.korea_book.map(|b| b.ask.into()),
                foreign_bid: i.foreign_book.map(|b| b.bid.into()),
                foreign_ask: i.foreign_book.map(|b| b.ask.into()),
            });
        }
        view
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PremiumsView {
    /// When this answer was assembled.
    pub as_of: Time,
    /// One entry per tracked coin × configured pair, coins in the configured order.
    pub premiums: Vec<PremiumView>,
}

#[derive(ApiResponse)]
pub enum PremiumsResponse {
    /// Every tracked coin × configured pair that passes the filters, available or not.
    #[oai(status = 200)]
    Ok(
        JsonBytes<PremiumsView>,
        /// Strong validator of this answer, the same for every encoding; send it back in
        /// `If-None-Match`.
        #[oai(header = "ETag")]
        String,
        /// `Accept-Encoding`: the body depends on it.
        #[oai(header = "Vary")]
        String,
        /// `gzip` or `br` when the body is compressed; absent when not.
        #[oai(header = "Content-Encoding")]
        Option<String>,
    ),
    /// `If-None-Match` names the current `ETag`: the answer would be the same; no body.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "ETag")] String,
        #[oai(header = "Vary")] String,
    ),
}

/// A JSON answer already serialized (and possibly compressed), documented as `T`: the premium
/// table (built once per tick and shared by every reader) and history answers (written with
/// serde straight into bytes: poem-openapi's `Json` first builds a `serde_json::Value` tree,
/// which for 10,080 buckets was most of the answer's time).
pub struct JsonBytes<T>(pub Bytes, PhantomData<fn() -> T>);

impl<T> JsonBytes<T> {
    pub fn new(body: Bytes) -> Self {
        JsonBytes(body, PhantomData)
    }
}

impl<T: Type + Send> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum PremiumResponse {
    /// The cached premium; `stale` is true when it is older than `freshness.ticker_ms`.
    #[oai(status = 200)]
    Ok(Json<PremiumView>),
}

// The schema of a bucket; answers are written from `BucketOut` (the test
// `history_answers_written_by_serde_match_their_schema` keeps the two equal).
/// One OHLC bucket of the premium rate.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BucketView {
    /// Start of the bucket.
    pub start: Time,
    pub open: DecText,
    pub high: DecText,
    pub low: DecText,
    pub close: DecText,
    /// OHLC of the USDT-basis rate (absent when no row of the bucket had one).
    pub usdt_open: Option<DecText>,
    pub usdt_high: Option<DecText>,
    pub usdt_low: Option<DecText>,
    pub usdt_close: Option<DecText>,
    /// Last entry rate (buy Korea at the ask, short abroad at the bid) in the bucket.
    pub entry_close: Option<DecText>,
    /// Last exit rate (sell Korea at the bid, cover abroad at the ask) in the bucket.
    pub exit_close: Option<DecText>,
    /// Rows (ticks) in the bucket.
    pub count: i64,
}

/// A bucket as a history answer writes it: [`BucketView`]'s JSON, the rates borrowed from the
/// database row (PostgreSQL's text, passed through).
#[derive(serde::Serialize)]
struct BucketOut<'r> {
    start: Time,
    open: &'r str,
    high: &'r str,
    low: &'r str,
    close: &'r str,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_open: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_high: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_low: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usdt_close: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry_close: Option<&'r str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_close: Option<&'r str>,
    count: i64,
}

impl<'r> From<Bucket<'r>> for BucketOut<'r> {
    fn from(b: Bucket<'r>) -> Self {
        BucketOut {
            start: b.start.into(),
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            usdt_open: b.usdt_open,
            usdt_high: b.usdt_high,
            usdt_low: b.usdt_low,
            usdt_close: b.usdt_close,
            entry_close: b.entry_close,
            exit_close: b.exit_close,
            count: b.count,
        }
    }
}

/// The JSON of a history answer: `head` (every field but the buckets), then the buckets'
/// objects, written one after the other into `buckets` as their rows arrived (`ends[i]`: where
/// bucket i ends), oldest first (reversed when they came newest first).
fn history_json(
    head: &HistoryView,
    buckets: &[u8],
    ends: &[usize],
    newest_first: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(512 + buckets.len() + ends.len());
    serde_json::to_writer(&mut out, head)?;
    out.pop(); // the object's closing brace: the buckets follow
    out.extend_from_slice(b",\"buckets\":[");
    let bucket = |i: usize| &buckets[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
    for k in 0..ends.len() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(bucket(if newest_first { ends.len() - 1 - k } else { k }));
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct HistoryView {
    pub coin: String,
    #[serde(serialize_with = "as_to_json")]
    pub korea_venue: VenueName,
    #[serde(serialize_with = "as_to_json")]
    pub foreign_venue: VenueName,
    #[serde(serialize_with = "as_to_json")]
    pub interval: IntervalName,
    /// The time zone of `1d` buckets (UTC for the other intervals).
    pub tz: String,
    /// The range answered: as asked, or, without `from`, the start of the oldest bucket
    /// answered (`to` minus the interval's longest range when there is none).
    pub from: Time,
    /// End (exclusive): as asked, or now.
    pub to: Time,
    /// Oldest first; buckets without rows are absent.
    #[serde(skip)] // written by `history_json`
    pub buckets: Vec<BucketView>,
}

#[derive(ApiResponse)]
pub enum HistoryResponse {
    #[oai(status = 200)]
    Ok(JsonBytes<HistoryView>),
}

#[derive(ApiResponse)]
pub enum StreamResponse {
    /// `text/event-stream`: one `premium` event per update, its data a premium as JSON. A
    /// client that falls more than `api.stream_buffer` updates behind gets one last `error`
    /// event (`{code: "lagged", message}`) and the stream ends; reconnect.
    #[oai(status = 200)]
    Ok(EventStream<BoxStream<'static, StreamEvent>>),
}

/// The data of a stream event: a premium (`event: premium`) or why the stream ends
/// (`event: error`).
#[derive(Debug, Union)]
#[oai(one_of)]
pub enum StreamEvent {
    Premium(Box<PremiumView>),
    End(StreamEnd),
}

/// Why the server ended a premium stream; the last event of the stream.
#[derive(Debug, Clone, Object)]
pub struct StreamEnd {
    pub code: StreamEndCode,
    /// For people: what happened and what to do.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StreamEndCode {
    /// The client read too slowly and missed updates; reconnect.
    Lagged,
}

/// Checks a history range: `from < to`, within the interval's maximum range and at most
/// [`MAX_BUCKETS`] buckets.
pub(crate) fn check_range(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Interval,
) -> Result<(), String> {
    if from >= to {
        return Err(format!(
            "`from` ({}) must be before `to` ({})",
            from.to_rfc3339(),
            to.to_rfc3339()
        ));
    }
    let range = to - from;
    let max = interval.max_range();
    if range > max {
        return Err(format!(
            "range of {} h is too long for interval {}: at most {} h ({} d); use a wider interval",
            range.num_hours(),
            interval.as_str(),
            max.num_hours(),
            max.num_days()
        ));
    }
    let step = interval.duration().num_milliseconds();
    let buckets = (range.num_milliseconds() + step - 1) / step;
    if buckets > MAX_BUCKETS {
        return Err(format!(
            "range covers {buckets} buckets of {}; at most {MAX_BUCKETS}: narrow the range or use a wider interval",
            interval.as_str()
        ));
    }
    Ok(())
}

/// `size_krw` applies to the coins whose books are fetched (`depth.coins`).
fn check_depth_coin(settings: &settings::Settings, coin: &Coin) -> Result<(), ApiError> {
    if settings.depth.coins.contains(coin) {
        return Ok(());
    }
    let names: Vec<String> = settings
        .depth
        .coins
        .iter()
        .map(ToString::to_string)
        .collect();
    Err(ApiError::bad_request(format!(
        "size_krw: order books are fetched for depth.coins only ({}), not {coin}",
        names.join(", ")
    )))
}

/// `at_size` for `size` KRW of `coin` on `pair`, from the cached books of both legs.
async fn at_size_view(
    state: &AppState,
    coin: &Coin,
    pair: VenuePair,
    usd_krw: domain::Price,
    size: Decimal,
) -> Result<AtSizeView, ApiError> {
    let s = &state.settings;
    let (korea, foreign) = io(Service::Redis, async {
        tokio::try_join!(
            state.cache.depth(pair.korea, coin),
            state.cache.depth(pair.foreign, coin)
        )
    })
    .await?;
    let (Some(korea), Some(foreign)) = (korea, foreign) else {
        return Err(ApiError::new(
            ErrorCode::PremiumUnavailable,
            format!("no current order book of {coin} on both sides of {pair}"),
        ));
    };
    let slippage = s.depth.slippage_bp;
    let a = domain::at_size(&korea, &foreign, usd_krw, size, slippage)
        .map_err(|e| ApiError::bad_request(format!("size_krw: {e}")))?;
    Ok(AtSizeView {
        size_krw: a.size_krw.into(),
        qty: a.qty.into(),
        korea_avg_ask: a.korea_avg_ask.into(),
        foreign_avg_bid: a.foreign_avg_bid.into(),
        entry_rate: a.entry_rate.into(),
        korea_avg_bid: a.korea_avg_bid.into(),
        foreign_avg_ask: a.foreign_avg_ask.into(),
        exit_rate: a.exit_rate.into(),
        top_entry_rate: a.top_entry_rate.into(),
        max_size_krw: a.max_size_krw.into(),
        slippage_bp: slippage.into(),
        depth_krw: a.depth_krw.into(),
    })
}

pub struct PremiumsApi;

#[OpenApi(tag = "ApiTags::Premiums")]
impl PremiumsApi {
    /// Current premium of every tracked coin on every configured pair
    ///
    /// From the Redis hot cache. Entries without a current premium have `available: false` and
    /// the worker's skip reason. The table is built once per tick per server (when the cache's
    /// premiums change, and at least every second): `as_of` is when it was built, and
    /// `age_ms`/`stale` are as of `as_of`. Filters narrow the rows (all given filters must
    /// match; a list matches any of its values); an invalid value is 400 `bad_request` naming
    /// the parameter. The answer is gzip- or brotli-compressed when `Accept-Encoding` allows
    /// (`br` preferred), and carries a weak `ETag` (the same for every encoding; it changes
    /// with the data and the filters): sending it back in `If-None-Match` answers 304 without a
    /// body while the table is unchanged.
    #[oai(
        path = "/api/v1/premiums",
        method = "get",
        operation_id = "list_premiums"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Only these pairs: one configured pair or a comma-separated list, e.g.
        /// `upbit-binance,upbit-okx`.
        pair: Query<Option<String>>,
        /// Only these coins: one tracked coin or a comma-separated list, case-insensitive,
        /// e.g. `btc,ETH`.
        coin: Query<Option<String>>,
        /// Only rows whose `flags` contain this flag (a comma-separated list: any of them):
        /// warning, caution, deposit_suspended, withdrawal_suspended, foreign_not_trading,
        /// suspect.
        flag: Query<Option<String>>,
        /// Only rows with (true) or without (false) a current premium.
        available: Query<Option<bool>>,
        /// An `ETag` of an earlier answer (or a list of them, or `*`): 304 when it is still
        /// the current one.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        /// `br` and `gzip` are supported (by q-value, `br` on a tie); otherwise uncompressed.
        #[oai(name = "Accept-Encoding")]
        accept_encoding: Header<Option<String>>,
    ) -> Result<PremiumsResponse, ApiError> {
        let markets = markets_now(&state).await?;
        let filter = Filter::parse(
            &state.settings,
            &markets,
            pair.0.as_deref(),
            coin.0.as_deref(),
            flag.0.as_deref(),
            available.0,
        )?;
        let snapshot = state.tables.current(&state).await?;
        let vary = "Accept-Encoding".to_string();
        if let Some(inm) = if_none_match.0.as_deref() {
            let etag = snapshot.etag(&filter);
            if none_match_hits(inm, &etag) {
                return Ok(PremiumsResponse::NotModified(etag, vary));
            }
        }
        let variant = snapshot.variant(&filter);
        let (body, used) = variant
            .body(Encoding::negotiate(accept_encoding.0.as_deref()))
            .await;
        Ok(PremiumsResponse::Ok(
            JsonBytes::new(body),
            variant.etag.clone(),
            vary,
            used.header().map(str::to_string),
        ))
    }

    /// Live premiums as Server-Sent Events
    ///
    /// One `premium` event per update (every second per coin and pair while the worker runs),
    /// its data a premium as JSON. Keep-alive comments every 15 s. Every stream of a server is
    /// fed from its one Redis subscription: a client that falls more than `api.stream_buffer`
    /// updates behind gets a last `error` event with code `lagged` and the stream ends. Beyond
    /// `api.max_streams` open streams, or while the server has no Redis subscription, the
    /// answer is 503 `unavailable`; open streams outlive a Redis outage (keep-alives only) and
    /// resume when the subscription is back.
    #[oai(
        path = "/api/v1/premiums/stream",
        method = "get",
        operation_id = "stream_premiums"
    )]
    async fn stream(
        &self,
        state: Data<&AppState>,
        /// Only this coin's premiums (any tracked coin); all coins when absent.
        coin: Query<Option<String>>,
    ) -> Result<StreamResponse, ApiError> {
        let filter = match coin.0.as_deref() {
            Some(c) => {
                let markets = markets_now(&state).await?;
                Some(tracked_coin(&markets, &state.settings, c)?)
            }
            None => None,
        };
        let (rx, slot) = state.streams.open().await?;
        let limit = state.settings.freshness.ticker_ms;
        let stream = futures::stream::unfold(Some((rx, slot)), move |open| {
            let filter = filter.clone();
            async move {
                let (mut rx, slot) = open?;
                loop {
                    match rx.recv().await {
                        Ok(p) if filter.as_ref().is_none_or(|c| *c == p.inputs.coin) => {
                            let p = Premium::clone(&p);
                            let (coin, pair) = (p.inputs.coin.clone(), p.inputs.pair);
                            let view =
                                PremiumView::build(&coin, pair, Some(p), None, Utc::now(), limit);
                            return Some((StreamEvent::Premium(Box::new(view)), Some((rx, slot))));
                        }
                        Ok(_) => {}
                        Err(RecvError::Lagged(n)) => {
                            let end = StreamEnd {
                                code: StreamEndCode::Lagged,
                                message: format!("client fell behind by {n} updates; reconnect"),
                            };
                            // The slot is given back with this last event.
                            return Some((StreamEvent::End(end), None));
                        }
                        // The server is stopping.
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        })
        .boxed();
        Ok(StreamResponse::Ok(
            EventStream::new(stream)
                .keep_alive(std::time::Duration::from_secs(15))
                .to_event(|event| {
                    let kind = match &event {
                        StreamEvent::Premium(_) => "premium",
                        StreamEvent::End(_) => "error",
                    };
                    let json = poem_openapi::types::ToJSON::to_json(&event)
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    Event::message(json).event_type(kind)
                }),
        ))
    }

    /// Current premium of one coin
    ///
    /// From the Redis hot cache, on the pair picked by `korea` and `foreign` (default: the
    /// first configured pair). When no premium is cached the answer is 404
    /// `premium_unavailable` with the worker's skip reason; a cached premium older than
    /// `freshness.ticker_ms` is answered with `stale: true`.
    #[oai(
        path = "/api/v1/premiums/:coin",
        method = "get",
        operation_id = "get_premium"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        /// A tracked coin, e.g. `BTC` (case-insensitive).
        coin: Path<String>,
        /// Korean venue of the pair (bithumb, upbit); default: the default pair's.
        korea: Query<Option<String>>,
        /// Foreign venue of the pair (binance, bybit, okx); default: the default pair's.
        foreign: Query<Option<String>>,
        /// A size in KRW (a decimal string, e.g. `50000000`): adds `at_size`, both legs filled
        /// through the fetched order books (coins of `depth.coins` only). Beyond the fetched
        /// depth the answer is 400 with the depth available.
        size_krw: Query<Option<String>>,
    ) -> Result<PremiumResponse, ApiError> {
        let s = &state.settings;
        let size = size_krw
            .0
            .as_deref()
            .map(|raw| {
                Decimal::from_str_exact(raw.trim())
                    .ok()
                    .filter(|d| *d > Decimal::ZERO)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "size_krw: `{raw}` is not a positive decimal number of KRW"
                        ))
                    })
            })
            .transpose()?;
        let markets = markets_now(&state).await?;
        let coin = tracked_coin(&markets, s, &coin.0)?;
        if size.is_some() {
            check_depth_coin(s, &coin)?;
        }
        let pair = configured_pair(s, korea.0.as_deref(), foreign.0.as_deref())?;
        if !markets.tracks(&coin, pair) {
            return Err(ApiError::new(
                ErrorCode::UnknownCoin,
                format!(
                    "coin `{coin}` is not tracked on {pair}: {}",
                    untracked(&markets, s, &coin)
                ),
            ));
        }
        let premium = io(Service::Redis, state.cache.premium(&coin, pair)).await?;
        let now = Utc::now();
        match premium {
            Some(p) => {
                let usd_krw = p.inputs.usd_krw;
                let mut view =
                    PremiumView::build(&coin, pair, Some(p), None, now, s.freshness.ticker_ms);
                if let Some(size) = size {
                    view.at_size = Some(at_size_view(&state, &coin, pair, usd_krw, size).await?);
                }
                Ok(PremiumResponse::Ok(Json(view)))
            }
            None => {
                let skip = io(Service::Redis, state.cache.skip(&coin, pair)).await?;
                let why = match &skip {
                    Some(k) => format!(": {} {}", k.input, k.reason),
                    None => String::new(),
                };
                Err(ApiError::with_body(ErrorBody {
                    code: ErrorCode::PremiumUnavailable,
                    message: format!("no current premium for {coin} on {pair}{why}"),
                    skip: skip.map(|k| Box::new(SkipView::from(k))),
                }))
            }
        }
    }

    /// Premium history of one coin as OHLC buckets
    ///
    /// From PostgreSQL, from the tier that fits the interval: `1s` from raw rows (kept
    /// `retention.raw_hours`, 48 h by default), `1m` from the 1-minute rollups (kept
    /// `retention.minute_days`, 90 days; the minutes not rolled yet come from raw rows), `1h`
    /// from the 1-hour rollups (kept `retention.hour_days`, forever by default), `1d` from the
    /// 1-hour rollups grouped by day in `tz` (from the 1-minute ones for a zone whose offset is
    /// not whole hours). With `from` and `to`: the buckets of `[from, to)`, limits 1s ≤ 1 hour,
    /// 1m ≤ 7 days, 1h ≤ 90 days, 1d ≤ 3 years, beyond them the answer is 400. With `from`
    /// only: up to `limit` buckets from `from`. Without `from`: the latest `limit` buckets before
    /// `to` (default now) within the interval's longest range, like exchange kline APIs.
    #[oai(
        path = "/api/v1/premiums/:coin/history",
        method = "get",
        operation_id = "premium_history"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn history(
        &self,
        state: Data<&AppState>,
        /// A tracked coin, e.g. `BTC`.
        coin: Path<String>,
        /// Start, RFC 3339 (inclusive); default: `limit` buckets before `to`.
        from: Query<Option<DateTime<Utc>>>,
        /// End, RFC 3339 (exclusive); default: now.
        to: Query<Option<DateTime<Utc>>>,
        /// Bucket width.
        interval: Query<IntervalName>,
        /// Korean venue of the pair; default: the default pair's.
        korea: Query<Option<String>>,
        /// Foreign venue of the pair; default: the default pair's.
        foreign: Query<Option<String>>,
        /// Buckets at most, 1–10080; default 500.
        limit: Query<Option<i64>>,
        /// Time zone of `1d` buckets, an IANA name such as `Asia/Seoul` (Korean days start at
        /// 15:00 UTC); default `UTC`. The other intervals are UTC buckets.
        tz: Query<Option<String>>,
    ) -> Result<HistoryResponse, ApiError> {
        let s = &state.settings;
        let markets = markets_now(&state).await?;
        // History outlives a listing: any coin a venue lists (or listed) is accepted.
        let coin = match Coin::parse(&coin.0) {
            Ok(c) if markets.registry.known_coins().contains(&c) => c,
            _ => tracked_coin(&markets, s, &coin.0)?,
        };
        let pair = configured_pair(s, korea.0.as_deref(), foreign.0.as_deref())?;
        let iv: Interval = interval.0.into();
        let limit = limit.0.unwrap_or(DEFAULT_BUCKETS);
        if !(1..=MAX_BUCKETS).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit: {limit} is out of range: 1 to {MAX_BUCKETS} buckets"
            )));
        }
        match (from.0, to.0) {
            (Some(f), Some(t)) => check_range(f, t, iv).map_err(ApiError::bad_request)?,
            (Some(f), None) if f >= Utc::now() => {
                return Err(ApiError::bad_request(format!(
                    "`from` ({}) is in the future",
                    f.to_rfc3339()
                )));
            }
            _ => {}
        }
        let tz = tz.0.unwrap_or_else(|| "UTC".to_string());
        // `UTC` (the default) needs no round trip to ask PostgreSQL whether it knows it.
        if tz != "UTC" && !io(Service::Postgres, state.store.time_zone_known(&tz)).await? {
            return Err(ApiError::bad_request(format!(
                "tz: unknown time zone `{tz}`: expected an IANA name such as `Asia/Seoul` or `UTC`"
            )));
        }
        let q = HistoryQuery {
            coin: &coin,
            pair,
            from: from.0,
            to: to.0,
            interval: iv,
            limit,
            tz: &tz,
        };
        // Each bucket is written as its row arrives (no owned copy of any value), into a
        // buffer sized up front: growing a multi-megabyte buffer copies it and faults pages in.
        let mut buckets = Vec::with_capacity(q.limit.min(MAX_BUCKETS) as usize * 300);
        let mut ends = Vec::new();
        let mut failed = None;
        let h = io(
            Service::Postgres,
            state.store.premium_ohlc(&q, |b| {
                if let Err(e) = serde_json::to_writer(&mut buckets, &BucketOut::from(b)) {
                    failed.get_or_insert(e);
                }
                ends.push(buckets.len());
            }),
        )
        .await?;
        let head = HistoryView {
            coin: coin.to_string(),
            korea_venue: pair.korea.into(),
            foreign_venue: pair.foreign.into(),
            interval: interval.0,
            tz: if iv == Interval::Day {
                tz
            } else {
                "UTC".into()
            },
            from: h.from.into(),
            to: h.to.into(),
            buckets: Vec::new(),
        };
        let body = match failed {
            Some(e) => Err(e),
            None => history_json(&head, &buckets, &ends, h.newest_first),
        }
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("history answer: {e}")))?;
        Ok(HistoryResponse::Ok(JsonBytes::new(body.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn history_answers_written_by_serde_match_their_schema() {
        use poem_openapi::types::ToJSON;
        let bucket = |start: &str, entry: Option<&'static str>| Bucket {
            start: t(start),
            open: "1.25000000",
            high: "1.3",
            low: "-0.5",
            close: "1.2",
            usdt_open: Some("0.95"),
            usdt_high: None,
            usdt_low: Some("0.9"),
            usdt_close: None,
            entry_close: entry,
            exit_close: None,
            count: 60,
        };
        let rows = [
            bucket("2026-11-30T12:34:00.120Z", Some("1.40")),
            bucket("2026-11-30T12:35:00Z", None),
            bucket("2026-11-30T12:36:00Z", Some("-0.01")),
        ];
        let view = |buckets: Vec<BucketView>| HistoryView {
            coin: "BTC".into(),
            korea_venue: domain::Venue::Upbit.into(),
            foreign_venue: domain::Venue::Binance.into(),
            interval: IntervalName::OneMinute,
            tz: "UTC".into(),
            from: Time(t("2026-11-30T00:00:00Z")),
            to: Time(t("2026-12-01T00:00:00.999Z")),
            buckets,
        };
        let d = |s: &str| DecText(s.into());
        let schema_form = view(
            rows.iter()
                .map(|b| BucketView {
                    start: b.start.into(),
                    open: d(b.open),
                    high: d(b.high),
                    low: d(b.low),
                    close: d(b.close),
                    usdt_open: b.usdt_open.map(d),
                    usdt_high: b.usdt_high.map(d),
                    usdt_low: b.usdt_low.map(d),
                    usdt_close: b.usdt_close.map(d),
                    entry_close: b.entry_close.map(d),
                    exit_close: b.exit_close.map(d),
                    count: b.count,
                })
                .collect(),
        )
        .to_json();
        for newest_first in [false, true] {
            let (mut buckets, mut ends) = (Vec::new(), Vec::new());
            let arrived: Vec<&Bucket> = if newest_first {
                rows.iter().rev().collect()
            } else {
                rows.iter().collect()
            };
            for b in arrived {
                serde_json::to_writer(&mut buckets, &BucketOut::from(*b)).unwrap();
                ends.push(buckets.len());
            }
            let written = history_json(&view(vec![]), &buckets, &ends, newest_first).unwrap();
            let parsed: serde_json::Value = serde_json::from_slice(&written).unwrap();
            assert_eq!(Some(parsed), schema_form, "newest_first {newest_first}");
        }
        let empty = history_json(&view(vec![]), &[], &[], false).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(Some(parsed), view(vec![]).to_json());
    }

    #[test]
    fn history_ranges_are_bounded_per_interval() {
        let from = t("2025-01-01T00:00:00Z");
        assert!(check_range(from, t("2025-01-01T01:00:00Z"), Interval::Second).is_ok());
        assert!(check_range(from, t("2025-01-01T01:00:01Z"), Interval::Second).is_err());
        assert!(check_range(from, from, Interval::Minute).is_err());
        // 7 days of minutes is 10080 buckets: the most of both limits.
        assert!(check_range(from, t("2025-01-08T00:00:00Z"), Interval::Minute).is_ok());
        let e = check_range(from, t("2025-01-08T00:01:00Z"), Interval::Minute).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        assert!(check_range(from, t("2027-12-31T00:00:00Z"), Interval::Day).is_ok());
        assert!(check_range(from, t("2028-02-01T00:00:00Z"), Interval::Day).is_err());
    }
}
