//! Latest tickers and USD/KRW rates, from the Redis hot cache.

use std::collections::BTreeSet;

use cache::MarketsNow;
use chrono::{DateTime, Utc};
use domain::selection::pick_fx;
use domain::{Coin, FxRate, FxSource, Ticker, Venue};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use crate::{
    deadline::{Service, io},
    error::{ApiError, ErrorCode},
    routes::tags::ApiTags,
    state::AppState,
    tracked::{enabled_venue, markets_now},
    wire::{Dec, FxSourceName, Time, VenueName},
};

/// The latest price of a coin on a venue.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TickerView {
    pub venue: VenueName,
    pub coin: String,
    /// `KRW` on Korean venues, `USDT` on foreign ones.
    pub quote: String,
    pub price: Dec,
    /// The venue's own time for this price.
    pub observed_at: Time,
    /// When premium-spread received it.
    pub fetched_at: Time,
    /// `now − observed_at`, milliseconds.
    pub age_ms: i64,
    /// Older than `freshness.ticker_ms`: not used for premiums.
    pub stale: bool,
    /// When the coin last traded on the venue, where the venue says so (Korean venues).
    pub last_trade_at: Option<Time>,
    /// `now − last_trade_at`, milliseconds. Past `freshness.ticker_ms`, premiums use the book
    /// mid instead of `price`.
    pub last_trade_age_ms: Option<i64>,
}

impl TickerView {
    fn build(t: Ticker, now: DateTime<Utc>, limit_ms: u64) -> Self {
        let age_ms = t.age_ms(now);
        TickerView {
            venue: t.venue.into(),
            quote: t.venue.quote().to_string(),
            coin: t.coin.to_string(),
            price: t.price.into(),
            observed_at: t.observed_at.into(),
            fetched_at: t.fetched_at.into(),
            age_ms,
            stale: age_ms > limit_ms as i64,
            last_trade_at: t.last_trade_at.map(Time::from),
            last_trade_age_ms: t.last_trade_age_ms(now),
        }
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TickersView {
    pub as_of: Time,
    /// Every cached ticker of the enabled venues and tracked coins (plus USDT on the USDT
    /// venue).
    pub tickers: Vec<TickerView>,
    /// `venue/coin` pairs with no cached ticker (never fetched, or expired).
    pub missing: Vec<String>,
}

#[derive(ApiResponse)]
pub enum TickersResponse {
    #[oai(status = 200)]
    Ok(Json<TickersView>),
}

#[derive(ApiResponse)]
pub enum TickerResponse {
    #[oai(status = 200)]
    Ok(Json<TickerView>),
}

/// The latest USD/KRW of one source.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FxSourceView {
    pub source: FxSourceName,
    /// Whether the source is in `fx_sources` (the fallback chain).
    pub configured: bool,
    /// Null when nothing is cached for this source.
    pub usd_krw: Option<Dec>,
    pub observed_at: Option<Time>,
    pub fetched_at: Option<Time>,
    pub age_ms: Option<i64>,
    /// The source's freshness limit (`freshness.fx_secs`) for the cached rate, milliseconds of
    /// wall-clock time: Frankfurter's counts ECB working days only, so a Friday rate's limit
    /// spans the weekend. The plain limit when nothing is cached.
    pub limit_ms: i64,
    /// Cached and within its freshness limit.
    pub fresh: bool,
}

/// The rate premiums are computed with right now.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FxInUseView {
    pub source: FxSourceName,
    pub usd_krw: Dec,
    pub observed_at: Time,
    pub age_ms: i64,
}

/// The USDT/KRW price of the USDT venue (the "crypto FX" of the tether premium).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UsdtView {
    pub venue: VenueName,
    /// Null when no ticker is cached.
    pub usdt_krw: Option<Dec>,
    pub observed_at: Option<Time>,
    pub age_ms: Option<i64>,
    pub fresh: bool,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FxView {
    pub as_of: Time,
    /// Every source, in the order dunamu, erapi, frankfurter.
    pub sources: Vec<FxSourceView>,
    /// The first fresh rate in fallback order; null when none is usable.
    pub in_use: Option<FxInUseView>,
    /// Why no rate is usable, when `in_use` is null.
    pub in_use_error: Option<String>,
    pub usdt: UsdtView,
}

#[derive(ApiResponse)]
pub enum FxResponse {
    #[oai(status = 200)]
    Ok(Json<FxView>),
}

fn fx_source_view(
    source: FxSource,
    rate: Option<FxRate>,
    state: &AppState,
    now: DateTime<Utc>,
) -> FxSourceView {
    let s = &state.settings;
    let limit = s.freshness.fx_limit(source);
    let limit_ms = rate
        .as_ref()
        .map_or(limit.as_millis() as i64, |r| r.limit_ms(limit));
    let age_ms = rate.as_ref().map(|r| r.age_ms(now));
    FxSourceView {
        source: source.into(),
        configured: s.fx_sources.contains(&source),
        usd_krw: rate.as_ref().map(|r| r.usd_krw.into()),
        observed_at: rate.as_ref().map(|r| r.observed_at.into()),
        fetched_at: rate.as_ref().map(|r| r.fetched_at.into()),
        fresh: age_ms.is_some_and(|a| a <= limit_ms),
        age_ms,
        limit_ms,
    }
}

/// The coins fetch-ticker requests from `venue` (its tracked pairs' coins, and KRW-USDT on
/// Korean venues).
fn fetched_coins(markets: &MarketsNow, venue: Venue) -> BTreeSet<Coin> {
    markets
        .fetch_list(venue)
        .into_iter()
        .map(|l| l.coin)
        .collect()
}

pub struct QuotesApi;

#[OpenApi(tag = "ApiTags::Market")]
impl QuotesApi {
    /// Latest tickers of every enabled venue and tracked coin
    #[oai(
        path = "/api/v1/tickers",
        method = "get",
        operation_id = "list_tickers"
    )]
    async fn tickers(&self, state: Data<&AppState>) -> Result<TickersResponse, ApiError> {
        let s = &state.settings;
        let markets = markets_now(&state.markets).await?;
        let wanted: Vec<(Venue, Coin)> = s
            .venues
            .iter()
            .flat_map(|v| {
                fetched_coins(&markets, *v)
                    .into_iter()
                    .map(move |c| (*v, c))
            })
            .collect();
        let found = io(Service::Redis, state.cache.tickers(&wanted)).await?;
        let now = Utc::now();
        let mut tickers = Vec::new();
        let mut missing = Vec::new();
        for ((venue, coin), t) in wanted.into_iter().zip(found) {
            match t {
                Some(t) => tickers.push(TickerView::build(t, now, s.freshness.ticker_ms)),
                None => missing.push(format!("{venue}/{coin}")),
            }
        }
        Ok(TickersResponse::Ok(Json(TickersView {
            as_of: now.into(),
            tickers,
            missing,
        })))
    }

    /// Latest ticker of one coin on one venue
    #[oai(
        path = "/api/v1/tickers/:venue/:coin",
        method = "get",
        operation_id = "get_ticker"
    )]
    async fn ticker(
        &self,
        state: Data<&AppState>,
        /// An enabled venue, e.g. `upbit`.
        venue: Path<String>,
        /// A coin fetched from that venue, e.g. `BTC` (`USDT` on the USDT venue).
        coin: Path<String>,
    ) -> Result<TickerResponse, ApiError> {
        let s = &state.settings;
        let venue = enabled_venue(s, &venue.0)?;
        let markets = markets_now(&state.markets).await?;
        let fetched = fetched_coins(&markets, venue);
        let coin = Coin::parse(&coin.0)
            .ok()
            .filter(|c| fetched.contains(c))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownCoin,
                    format!(
                        "coin `{}` is not fetched from {venue} ({} coins are; see /api/v1/markets)",
                        coin.0,
                        fetched.len()
                    ),
                )
            })?;
        match io(Service::Redis, state.cache.ticker(venue, &coin)).await? {
            Some(t) => Ok(TickerResponse::Ok(Json(TickerView::build(
                t,
                Utc::now(),
                s.freshness.ticker_ms,
            )))),
            None => Err(ApiError::new(
                ErrorCode::TickerUnavailable,
                format!("no current ticker for {coin} on {venue} (expired or never fetched)"),
            )),
        }
    }

    /// USD/KRW per source, the rate in use, and USDT/KRW
    ///
    /// `in_use` is what premiums are computed with: the first source of the fallback chain
    /// (`fx_sources`) whose rate is within its freshness limit.
    #[oai(path = "/api/v1/fx", method = "get", operation_id = "get_fx")]
    async fn fx(&self, state: Data<&AppState>) -> Result<FxResponse, ApiError> {
        let s = &state.settings;
        let usdt_venue = s.usdt_venue;
        let usdt_coin = Coin::usdt();
        let (rates, usdt) = io(Service::Redis, async {
            tokio::try_join!(
                state.cache.fx_all(),
                state.cache.ticker(usdt_venue, &usdt_coin)
            )
        })
        .await?;
        let now = Utc::now();
        let (in_use, in_use_error) = match pick_fx(&s.fx_policy(), &rates, now) {
            Ok(r) => (
                Some(FxInUseView {
                    source: r.source.into(),
                    usd_krw: r.usd_krw.into(),
                    observed_at: r.observed_at.into(),
                    age_ms: r.age_ms(now),
                }),
                None,
            ),
            Err(why) => (None, Some(format!("no fresh USD/KRW rate: {why}"))),
        };
        let sources = FxSource::ALL
            .into_iter()
            .zip(rates)
            .map(|(src, rate)| fx_source_view(src, rate, &state, now))
            .collect();
        let usdt_age = usdt.as_ref().map(|t| t.age_ms(now));
        Ok(FxResponse::Ok(Json(FxView {
            as_of: now.into(),
            sources,
            in_use,
            in_use_error,
            usdt: UsdtView {
                venue: usdt_venue.into(),
                usdt_krw: usdt.as_ref().map(|t| t.price.into()),
                observed_at: usdt.as_ref().map(|t| t.observed_at.into()),
                fresh: usdt_age.is_some_and(|a| a <= s.freshness.ticker_ms as i64),
                age_ms: usdt_age,
            },
        })))
    }
}
