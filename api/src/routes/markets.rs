//! The market registry in force: what every venue lists, mapped to coins and price units, and
//! which coins are tracked on which pair (`refresh-markets` writes it to Redis).

use std::collections::BTreeMap;

use domain::{Coin, Listing};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};

use crate::{
    deadline::{Service, io},
    error::ApiError,
    routes::tags::ApiTags,
    state::AppState,
    tracked::markets_now,
    wire::{Dec, Time, VenueName},
};

/// One venue's market list.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VenueMarketsView {
    pub venue: VenueName,
    /// When the list in force was fetched (the last good refresh); the Unix epoch when never.
    pub refreshed_at: Time,
    /// Instruments listed (every status).
    pub listings: usize,
    /// The last refresh that was refused (failed, unparsable, or lacking most markets) after
    /// the one in force, which stayed.
    pub last_failure: Option<RefreshFailureView>,
    /// The venue's clock minus ours in its last ticker batch, milliseconds. Beyond 5 s its times
    /// are not used for freshness (receipt times are).
    pub clock_skew_ms: Option<i64>,
}

#[derive(Debug, Object)]
pub struct RefreshFailureView {
    pub at: Time,
    pub reason: String,
}

/// One instrument of one venue, as mapped.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct InstrumentView {
    pub venue: VenueName,
    /// The venue's symbol (`KRW-PEPE`, `1000PEPEUSDT`, `PEPE-USDT-SWAP`).
    pub symbol: String,
    /// Coins per quoted price unit: the per-coin price is the quoted one ÷ this.
    pub multiplier: Dec,
    /// `trading`, `halted`, `pre_open` or `delisted`.
    pub status: String,
    /// `warning`, `caution`, `deposit_suspended`, `withdrawal_suspended`.
    pub flags: Vec<String>,
    /// Why this listing is not paired although its ticker matches (a known collision).
    pub excluded: Option<String>,
    /// The venue's English name of the coin (Korean venues).
    pub english_name: Option<String>,
    /// Coins per contract (OKX `ctVal`).
    pub contract_value: Option<Dec>,
}

impl From<&Listing> for InstrumentView {
    fn from(l: &Listing) -> Self {
        let i = &l.instrument;
        InstrumentView {
            venue: i.venue.into(),
            symbol: i.symbol.clone(),
            multiplier: l.multiplier.normalize().into(),
            status: i.status.as_str().into(),
            flags: i.flags.iter().map(|f| f.to_string()).collect(),
            excluded: l.excluded.clone(),
            english_name: i.english_name.clone(),
            contract_value: i.contract_value.map(|d| d.normalize().into()),
        }
    }
}

/// A coin: its instruments on every venue and the pairs it is tracked on.
#[derive(Debug, Object)]
pub struct CoinMarketsView {
    pub coin: String,
    /// Configured pairs this coin's premium is computed on.
    pub tracked_pairs: Vec<String>,
    pub instruments: Vec<InstrumentView>,
}

#[derive(Debug, Object)]
pub struct MarketsView {
    /// Bumped by every refresh.
    pub version: u64,
    pub venues: Vec<VenueMarketsView>,
    /// (coin, pair) combinations tracked.
    pub tracked: usize,
    /// Every coin listed on a configured venue, by name.
    pub coins: Vec<CoinMarketsView>,
}

#[derive(ApiResponse)]
pub enum MarketsResponse {
    #[oai(status = 200)]
    Ok(Json<MarketsView>),
}

pub struct MarketsApi;

#[OpenApi(tag = "ApiTags::Market")]
impl MarketsApi {
    /// The market registry: every venue's instruments mapped to coins
    ///
    /// Per coin, its instrument on each venue (symbol, price multiplier, status, flags) and the
    /// pairs it is tracked on; per venue, when its list was refreshed, the last refused refresh,
    /// and its clock skew. 503 until a worker has fetched the lists.
    #[oai(
        path = "/api/v1/markets",
        method = "get",
        operation_id = "list_markets"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Only these coins (comma-separated, e.g. `PEPE,BTC`).
        coin: Query<Option<String>>,
        /// Only coins tracked on at least one pair (`true`) or on none (`false`).
        tracked: Query<Option<bool>>,
    ) -> Result<MarketsResponse, ApiError> {
        let markets = markets_now(&state.markets).await?;
        let skews = io(Service::Redis, state.markets.clock_skews()).await?;
        let only: Option<Vec<Coin>> = coin
            .0
            .as_deref()
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        Coin::parse(c).map_err(|e| ApiError::bad_request(format!("coin: {e}")))
                    })
                    .collect()
            })
            .transpose()?;
        let venues = markets
            .registry
            .venues
            .values()
            .map(|v| VenueMarketsView {
                venue: v.venue.into(),
                refreshed_at: v.refreshed_at.into(),
                listings: v.listings.len(),
                last_failure: v.last_failure.as_ref().map(|f| RefreshFailureView {
                    at: f.at.into(),
                    reason: f.reason.clone(),
                }),
                clock_skew_ms: skews.get(v.venue.as_str()).copied(),
            })
            .collect();
        let mut coins: BTreeMap<&Coin, CoinMarketsView> = BTreeMap::new();
        for v in markets.registry.venues.values() {
            for l in &v.listings {
                if only.as_ref().is_some_and(|o| !o.contains(&l.coin)) {
                    continue;
                }
                coins
                    .entry(&l.coin)
                    .or_insert_with(|| CoinMarketsView {
                        coin: l.coin.to_string(),
                        tracked_pairs: markets
                            .universe
                            .iter()
                            .filter(|(_, c)| c.contains(&l.coin))
                            .map(|(p, _)| p.to_string())
                            .collect(),
                        instruments: Vec::new(),
                    })
                    .instruments
                    .push(l.into());
            }
        }
        let coins = coins
            .into_values()
            .filter(|c| tracked.0.is_none_or(|t| t != c.tracked_pairs.is_empty()))
            .collect();
        Ok(MarketsResponse::Ok(Json(MarketsView {
            version: markets.version,
            venues,
            tracked: markets.universe.values().map(Vec::len).sum(),
            coins,
        })))
    }
}
