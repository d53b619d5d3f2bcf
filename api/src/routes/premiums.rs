//! The premium operations: the table of current premiums, one coin's current premium (Redis),
//! their live stream (Redis pub/sub) and one coin's OHLC history (PostgreSQL).

use chrono::{DateTime, Utc};
use domain::{Coin, Premium, VenuePair};
use futures::{StreamExt, stream::BoxStream};
use poem::web::{Data, sse::Event};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::{EventStream, Json},
};
use rust_decimal::Decimal;
use store::{HistoryQuery, Interval};
use tokio::sync::broadcast::error::RecvError;

use crate::{
    deadline::{Service, io},
    encoding::Encoding,
    error::{ApiError, ErrorBody, ErrorCode},
    etag::none_match_hits,
    history_json::BucketsJson,
    json_bytes::JsonBytes,
    routes::tags::ApiTags,
    state::AppState,
    table::Filter,
    tracked::{configured_pair, markets_now, tracked_coin, untracked},
    views::{
        history::HistoryView,
        premium::{AtSizeView, PremiumView, PremiumsView, SkipView},
        stream::{StreamEnd, StreamEndCode, StreamEvent},
    },
    wire::IntervalName,
};

/// At most this many buckets per history answer (7 days of minutes).
pub const MAX_BUCKETS: i64 = 10_080;

/// Buckets of a history answer without `limit`.
pub const DEFAULT_BUCKETS: i64 = 500;

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
#[derive(ApiResponse)]
pub enum PremiumResponse {
    /// The cached premium; `stale` is true when any input is older than its freshness limit.
    #[oai(status = 200)]
    Ok(Json<PremiumView>),
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
        /// warning, caution, deposit_suspended, withdrawal_suspended, suspect.
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
        let markets = markets_now(&state.markets).await?;
        let filter = Filter::parse(
            &state.settings,
            &markets,
            pair.0.as_deref(),
            coin.0.as_deref(),
            flag.0.as_deref(),
            available.0,
        )?;
        let snapshot = state
            .tables
            .current(&state.cache, &state.markets, &state.settings)
            .await?;
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
                let markets = markets_now(&state.markets).await?;
                Some(tracked_coin(&markets, &state.settings, c)?)
            }
            None => None,
        };
        let (rx, slot) = state.streams.open().await?;
        let settings = state.settings.clone();
        let stream = futures::stream::unfold(Some((rx, slot)), move |open| {
            let filter = filter.clone();
            let settings = settings.clone();
            async move {
                let (mut rx, slot) = open?;
                loop {
                    match rx.recv().await {
                        Ok(p) if filter.as_ref().is_none_or(|c| *c == p.inputs.coin) => {
                            let p = Premium::clone(&p);
                            let (coin, pair) = (p.inputs.coin.clone(), p.inputs.pair);
                            let view = PremiumView::build(
                                &coin,
                                pair,
                                Some(p),
                                None,
                                Utc::now(),
                                &settings.freshness,
                            );
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
    /// `premium_unavailable` with the worker's skip reason; a cached premium with an input older
    /// than its freshness limit (a price `freshness.ticker_ms`, the FX rate its source's
    /// `freshness.fx_secs`) is answered with `stale: true`, the input named in `stale_inputs`
    /// and, when the worker recorded why since, its skip reason.
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
        let markets = markets_now(&state.markets).await?;
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
                let age = (now - p.observed_at).num_milliseconds();
                let skip = if age > s.freshness.ticker_ms as i64 {
                    io(Service::Redis, state.cache.skip(&coin, pair)).await?
                } else {
                    None
                };
                let mut view = PremiumView::build(&coin, pair, Some(p), skip, now, &s.freshness);
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
        let markets = markets_now(&state.markets).await?;
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
        let mut buckets = BucketsJson::with_room_for(q.limit.min(MAX_BUCKETS) as usize);
        let h = io(
            Service::Postgres,
            state.store.premium_ohlc(&q, |b| buckets.push(b)),
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
        let body = buckets
            .answer(&head, h.newest_first)
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
