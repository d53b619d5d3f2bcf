//! Hedged positions (PostgreSQL) with live PnL from the cached tickers and the FX in use.

use std::collections::HashMap;

use cache::Closed;
use chrono::{DateTime, Utc};
use domain::selection::pick_fx;
use domain::{Coin, Decimal, FxRate, Pnl, Position, Price, Ticker, Venue, display_rate};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use store::Idempotent;

use crate::{
    auth::AdminAuth,
    deadline::{IO_TIMEOUT, Service, io, timed, unavailable},
    error::{ApiError, ErrorCode},
    routes::{
        position_entry::{
            ContractView, Entry, Market, OpenPositionRequest, PositionUnits, check_against_market,
            contract_view, validate,
        },
        tags::ApiTags,
    },
    state::AppState,
    tracked::markets_now,
    wire::{Dec, FxSourceName, Time, VenueName},
};

/// PnL at the current cached prices and the FX in use (ARCHITECTURE.md, "The formulas"), KRW except percentages.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PnlView {
    /// KRW per coin: the price premiums use (the last trade, or the book mid when that trade is
    /// older than `freshness.ticker_ms`).
    pub korea_now: Dec,
    /// USD(T) per coin.
    pub foreign_now: Dec,
    /// `foreign_now` as the instrument quotes it (`× price_multiplier`), when the position's
    /// instrument is recorded (`foreign_contract`).
    pub foreign_now_contract: Option<Dec>,
    pub usd_krw_now: Dec,
    pub fx_source: FxSourceName,
    /// `(korea_now − korea_entry) × korea_qty`.
    pub korea_pnl: Dec,
    /// `(foreign_entry − foreign_now) × foreign_qty × usd_krw_now`.
    pub foreign_pnl_krw: Dec,
    /// `korea_pnl + foreign_pnl_krw`.
    pub total: Dec,
    /// `total / (korea_entry × korea_qty) × 100`: over the entry notional, the capital put in.
    pub total_pct: Dec,
    pub total_pct_display: Dec,
    pub premium_now: Dec,
    pub premium_now_display: Dec,
    /// `premium_now − entry_premium`.
    pub premium_diff: Dec,
    pub premium_diff_display: Dec,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PositionView {
    pub id: i64,
    pub coin: String,
    pub korea_venue: VenueName,
    pub foreign_venue: VenueName,
    pub korea_qty: Dec,
    pub korea_entry: Dec,
    /// Coins, whatever `units` the position was entered in.
    pub foreign_qty: Dec,
    /// USD(T) per coin, whatever `units` the position was entered in.
    pub foreign_entry: Dec,
    /// The units the foreign leg was entered in.
    pub units: PositionUnits,
    /// The foreign leg in its instrument's own units (contract count, quoted price), with the
    /// instrument and multiplier recorded at entry; null for positions opened before
    /// instruments were recorded.
    pub foreign_contract: Option<ContractView>,
    pub leverage: u32,
    pub entry_usd_krw: Dec,
    /// Premium at entry, percent, full precision.
    pub entry_premium: Dec,
    pub entry_premium_display: Dec,
    pub opened_at: Time,
    pub closed_at: Option<Time>,
    pub open: bool,
    /// Null when a price or the FX is unavailable, or the position is closed.
    pub pnl: Option<PnlView>,
    /// Why `pnl` is null.
    pub pnl_unavailable: Option<String>,
    /// The PnL if the hedge were closed now at executable prices: the Korean leg sold at its
    /// best bid and the short covered at the foreign best ask, each net of its venue's taker
    /// fee (`korea_now = korea_bid × (1 − fee)`, `foreign_now = foreign_ask × (1 + fee)`).
    pub pnl_at_exit: Option<PnlView>,
    /// Why `pnl_at_exit` is null (no current book, closed position, …).
    pub pnl_at_exit_unavailable: Option<String>,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PositionsView {
    pub as_of: Time,
    /// Newest first.
    pub positions: Vec<PositionView>,
}

#[derive(ApiResponse)]
pub enum PositionCreated {
    /// Opened; the entry premium is computed from the entry prices and FX.
    #[oai(status = 201)]
    Created(Json<PositionView>),
}

#[derive(ApiResponse)]
pub enum PositionResponse {
    #[oai(status = 200)]
    Ok(Json<PositionView>),
}

#[derive(ApiResponse)]
pub enum PositionsResponse {
    #[oai(status = 200)]
    Ok(Json<PositionsView>),
}

/// The cached prices and FX PnL is computed with, or why they could not be read.
struct Live {
    tickers: HashMap<(Venue, Coin), Ticker>,
    fx: Result<FxRate, String>,
    /// Taker fee per venue, as a fraction.
    fees: std::collections::BTreeMap<Venue, Decimal>,
    now: DateTime<Utc>,
    limit_ms: i64,
}

/// Reads the tickers of `positions`' legs and the FX rates in one go. Redis trouble does not
/// fail the request (positions live in PostgreSQL): PnL is then null with the reason.
async fn live(state: &AppState, positions: &[Position]) -> Result<Live, String> {
    let mut wanted: Vec<(Venue, Coin)> = Vec::new();
    for p in positions.iter().filter(|p| p.is_open()) {
        for v in [p.pair.korea, p.pair.foreign] {
            if !wanted.iter().any(|(wv, wc)| *wv == v && *wc == p.coin) {
                wanted.push((v, p.coin.clone()));
            }
        }
    }
    let read = async { tokio::try_join!(state.cache.tickers(&wanted), state.cache.fx_all()) };
    let (found, rates) = match tokio::time::timeout(IO_TIMEOUT, read).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(format!("Redis is unavailable: {e}")),
        Err(_) => return Err("Redis did not answer in time".into()),
    };
    let now = Utc::now();
    Ok(Live {
        tickers: wanted
            .into_iter()
            .zip(found)
            .filter_map(|(k, t)| t.map(|t| (k, t)))
            .collect(),
        fx: pick_fx(&state.settings.fx_policy(), &rates, now),
        fees: state.settings.fee_fractions(),
        now,
        limit_ms: state.settings.freshness.ticker_ms as i64,
    })
}

impl Live {
    /// The market `p`'s entry prices are checked against.
    fn market(&self, p: &Position) -> Market {
        let price = |venue: Venue| self.tickers.get(&(venue, p.coin.clone())).map(|t| t.price);
        Market {
            korea: price(p.pair.korea),
            foreign: price(p.pair.foreign),
            usd_krw: self.fx.as_ref().ok().map(|fx| (fx.usd_krw, fx.source)),
        }
    }

    fn price(&self, venue: Venue, coin: &Coin) -> Result<Price, String> {
        match self.tickers.get(&(venue, coin.clone())) {
            None => Err(format!("no current {venue} {coin} ticker")),
            Some(t) if t.age_ms(self.now) > self.limit_ms => Err(format!(
                "{venue} {coin} ticker is stale ({} ms)",
                t.age_ms(self.now)
            )),
            // The price premiums use: an illiquid coin's old last trade gives way to its mid.
            Some(t) => t
                .premium_price(self.now, self.limit_ms)
                .map(|(price, _)| price)
                .map_err(|e| format!("{venue} {coin} ticker: {e}")),
        }
    }

    fn pnl(&self, p: &Position) -> Result<PnlView, String> {
        let korea = self.price(p.pair.korea, &p.coin)?;
        let foreign = self.price(p.pair.foreign, &p.coin)?;
        self.pnl_at(p, korea, foreign)
    }

    /// The PnL at the prices closing the hedge would get: the Korean best bid less its fee, the
    /// foreign best ask plus its fee.
    fn pnl_at_exit(&self, p: &Position) -> Result<PnlView, String> {
        let book = |venue: Venue| -> Result<domain::BookTop, String> {
            self.price(venue, &p.coin)?;
            let t = &self.tickers[&(venue, p.coin.clone())];
            t.book.ok_or_else(|| match &t.book_error {
                Some(why) => format!("{venue} {} book: {why}", p.coin),
                None => format!("no current {venue} {} book", p.coin),
            })
        };
        let (k, f) = (book(p.pair.korea)?, book(p.pair.foreign)?);
        let fee = |v: Venue| self.fees.get(&v).copied().unwrap_or_default();
        let korea = Price::new(k.bid.value() * (Decimal::ONE - fee(p.pair.korea)))
            .map_err(|e| e.to_string())?;
        let foreign = Price::new(f.ask.value() * (Decimal::ONE + fee(p.pair.foreign)))
            .map_err(|e| e.to_string())?;
        self.pnl_at(p, korea, foreign)
    }

    fn pnl_at(&self, p: &Position, korea: Price, foreign: Price) -> Result<PnlView, String> {
        let fx = self
            .fx
            .as_ref()
            .map_err(|why| format!("no fresh USD/KRW rate: {why}"))?;
        let Pnl {
            korea_pnl,
            foreign_pnl_krw,
            total,
            total_pct,
            premium_now,
            premium_diff,
        } = p
            .pnl(korea, foreign, fx.usd_krw)
            .map_err(|e| e.to_string())?;
        let foreign_now_contract = p
            .foreign_contract
            .as_ref()
            .and_then(|c| c.quoted(foreign).ok())
            .map(Dec::from);
        Ok(PnlView {
            korea_now: korea.into(),
            foreign_now: foreign.into(),
            foreign_now_contract,
            usd_krw_now: fx.usd_krw.into(),
            fx_source: fx.source.into(),
            korea_pnl: korea_pnl.into(),
            foreign_pnl_krw: foreign_pnl_krw.into(),
            total: total.into(),
            total_pct: total_pct.into(),
            total_pct_display: display_rate(total_pct).into(),
            premium_now: premium_now.into(),
            premium_now_display: display_rate(premium_now).into(),
            premium_diff: premium_diff.into(),
            premium_diff_display: display_rate(premium_diff).into(),
        })
    }
}

fn position_view(p: Position, live: &Result<Live, String>) -> PositionView {
    let split = |r: Result<PnlView, String>| match r {
        Ok(v) => (Some(v), None),
        Err(why) => (None, Some(why)),
    };
    let valued = |f: fn(&Live, &Position) -> Result<PnlView, String>| {
        if !p.is_open() {
            Err("position is closed".to_string())
        } else {
            live.as_ref().map_err(Clone::clone).and_then(|l| f(l, &p))
        }
    };
    let (pnl, pnl_unavailable) = split(valued(Live::pnl));
    let (pnl_at_exit, pnl_at_exit_unavailable) = split(valued(Live::pnl_at_exit));
    PositionView {
        id: p.id,
        coin: p.coin.to_string(),
        korea_venue: p.pair.korea.into(),
        foreign_venue: p.pair.foreign.into(),
        korea_qty: p.korea.quantity.into(),
        korea_entry: p.korea.entry_price.into(),
        foreign_qty: p.foreign.quantity.into(),
        foreign_entry: p.foreign.entry_price.into(),
        units: p.units.into(),
        foreign_contract: contract_view(&p),
        leverage: p.leverage,
        entry_usd_krw: p.entry_usd_krw.into(),
        entry_premium: p.entry_premium.into(),
        entry_premium_display: display_rate(p.entry_premium).into(),
        opened_at: p.opened_at.into(),
        closed_at: p.closed_at.map(Time::from),
        open: p.closed_at.is_none(),
        pnl,
        pnl_unavailable,
        pnl_at_exit,
        pnl_at_exit_unavailable,
    }
}

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Checks an `Idempotency-Key`: 1 to 255 visible ASCII characters (a UUID fits).
fn idempotency_key(raw: &str) -> Result<&str, ApiError> {
    if raw.is_empty()
        || raw.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !raw.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::bad_request(format!(
            "Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters \
             (no spaces), e.g. a UUID"
        )));
    }
    Ok(raw)
}

fn position_not_found(id: i64) -> ApiError {
    ApiError::new(
        ErrorCode::PositionNotFound,
        format!("position {id} not found"),
    )
}

fn default_limit() -> u32 {
    50
}

pub struct PositionsApi;

#[OpenApi(tag = "ApiTags::Positions")]
impl PositionsApi {
    /// Open a hedged position (admin)
    ///
    /// Validates every field (400 names the field) and computes the entry premium from the
    /// entry prices and FX. The foreign leg is per coin, or with `units` = `contract` in its
    /// instrument's quote and contract count, converted with the registry's multiplier. An
    /// entry price (either leg, or `entry_usd_krw`) more than 50 % from the current market is
    /// refused: 400 naming the field, the price given and the market's.
    ///
    /// With an `Idempotency-Key` header, a repeat of the request (same key, same fields) within
    /// 24 h answers 201 with the position the first one opened instead of opening another, and
    /// the same key with different fields answers 409 `conflict`. Concurrent requests with one
    /// key open one position.
    #[oai(
        path = "/api/v1/positions",
        method = "post",
        operation_id = "open_position"
    )]
    async fn open(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// Makes retries safe: 1 to 255 visible ASCII characters (e.g. a UUID), remembered 24 h.
        #[oai(name = "Idempotency-Key")]
        idempotency: Header<Option<String>>,
        body: Json<OpenPositionRequest>,
    ) -> Result<PositionCreated, ApiError> {
        let key = idempotency.0.as_deref().map(idempotency_key).transpose()?;
        let markets = markets_now(&state.markets).await?;
        let Entry {
            position,
            canonical,
        } = validate(&state.settings, &markets, &body.0)?;
        let live = live(&state, std::slice::from_ref(&position)).await;
        match &live {
            Ok(l) => check_against_market(&position, &l.market(&position))?,
            Err(why) => tracing::warn!(%why, "entry prices accepted without a market check"),
        }
        let saved = match key {
            None => io(Service::Postgres, state.positions.open(&position)).await?,
            Some(key) => {
                match io(
                    Service::Postgres,
                    state.positions.open_idempotent(&position, key, &canonical),
                )
                .await?
                {
                    Idempotent::Created(p) => p,
                    Idempotent::Replayed(p) => {
                        tracing::info!(id = p.id, "position request replayed (Idempotency-Key)");
                        return Ok(PositionCreated::Created(Json(position_view(p, &live))));
                    }
                    Idempotent::Mismatch => {
                        return Err(ApiError::new(
                            ErrorCode::Conflict,
                            "Idempotency-Key was already used with a different request; \
                             use a new key for a new position",
                        ));
                    }
                }
            }
        };
        tracing::info!(id = saved.id, coin = %saved.coin, pair = %saved.pair, "position opened");
        Ok(PositionCreated::Created(Json(position_view(saved, &live))))
    }

    /// List positions with live PnL
    #[oai(
        path = "/api/v1/positions",
        method = "get",
        operation_id = "list_positions"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Only open positions.
        #[oai(default)]
        open_only: Query<bool>,
        /// At most this many, newest first (1 to 200).
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u32>,
    ) -> Result<PositionsResponse, ApiError> {
        let positions = io(
            Service::Postgres,
            state.store.positions(open_only.0, limit.0 as i64),
        )
        .await?;
        let live = live(&state, &positions).await;
        Ok(PositionsResponse::Ok(Json(PositionsView {
            as_of: Utc::now().into(),
            positions: positions
                .into_iter()
                .map(|p| position_view(p, &live))
                .collect(),
        })))
    }

    /// One position with live PnL
    #[oai(
        path = "/api/v1/positions/:id",
        method = "get",
        operation_id = "get_position"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        /// Position id.
        id: Path<i64>,
    ) -> Result<PositionResponse, ApiError> {
        let p = io(Service::Postgres, state.store.position(id.0))
            .await?
            .ok_or_else(|| position_not_found(id.0))?;
        let live = live(&state, std::slice::from_ref(&p)).await;
        Ok(PositionResponse::Ok(Json(position_view(p, &live))))
    }

    /// Close a position (admin)
    ///
    /// Records the PnL at the current prices when they are available. Closing a closed
    /// position answers 409.
    #[oai(
        path = "/api/v1/positions/:id/close",
        method = "post",
        operation_id = "close_position"
    )]
    async fn close(
        &self,
        state: Data<&AppState>,
        _admin: AdminAuth,
        /// Position id.
        id: Path<i64>,
    ) -> Result<PositionResponse, ApiError> {
        let id = id.0;
        let current = io(Service::Postgres, state.store.position(id))
            .await?
            .ok_or_else(|| position_not_found(id))?;
        let already_closed = |p: &Position| {
            ApiError::new(
                ErrorCode::PositionAlreadyClosed,
                format!(
                    "position {id} was already closed at {}",
                    p.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                ),
            )
        };
        if !current.is_open() {
            return Err(already_closed(&current));
        }
        let live = live(&state, std::slice::from_ref(&current)).await;
        let final_pnl = live
            .as_ref()
            .ok()
            .and_then(|l| l.pnl(&current).ok())
            .map(|v| v.total.0);
        let closed = timed(Service::Postgres, state.positions.close(id, final_pnl))
            .await?
            .map_err(|e| unavailable(Service::Postgres, e))?;
        match closed {
            Closed::Closed(p) => {
                tracing::info!(id, "position closed");
                let mut view = position_view(p, &live);
                if view.pnl.is_none()
                    && let Ok(pnl) = live
                        .as_ref()
                        .map_err(Clone::clone)
                        .and_then(|l| l.pnl(&current))
                {
                    // The final PnL, at the prices the position was closed at.
                    view.pnl = Some(pnl);
                    view.pnl_unavailable = None;
                }
                Ok(PositionResponse::Ok(Json(view)))
            }
            Closed::AlreadyClosed(p) => Err(already_closed(&p)),
            Closed::NotFound => Err(position_not_found(id)),
        }
    }
}
