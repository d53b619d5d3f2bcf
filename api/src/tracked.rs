//! What the API tracks: the market registry in force, and the parsing of the coins, venues and
//! pairs a request names against it and the settings (404 saying why a coin is not tracked).

use std::sync::Arc;

use cache::{Markets, MarketsNow};
use domain::{Coin, CoinSelection, Venue, VenuePair, check_selection};
use settings::Settings;

use crate::{
    deadline::{Service, io},
    error::{ApiError, ErrorCode},
};

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The market registry and the coins tracked per pair, or 503 while no worker has put one in
/// force yet.
pub(crate) async fn markets_now(markets: &Markets) -> Result<Arc<MarketsNow>, ApiError> {
    io(Service::Redis, markets.current()).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "no market registry yet: no worker has fetched the venues' market lists (start one)",
        )
    })
}

/// A coin tracked on at least one pair, or 404 `unknown_coin` saying why not.
pub(crate) fn tracked_coin(
    markets: &MarketsNow,
    settings: &Settings,
    raw: &str,
) -> Result<Coin, ApiError> {
    let coin =
        Coin::parse(raw).map_err(|e| ApiError::new(ErrorCode::UnknownCoin, e.to_string()))?;
    if markets.tracked().contains(&coin) {
        return Ok(coin);
    }
    Err(ApiError::new(
        ErrorCode::UnknownCoin,
        format!(
            "coin `{coin}` is not tracked: {}",
            untracked(markets, settings, &coin)
        ),
    ))
}

/// Why `coin` is not tracked, per configured pair: tracked there (when asked about another
/// pair), not listed on a side, listed but not trading, a known collision or another stated
/// exclusion, a stablecoin, not in the configured list; for a former name (`mapping.aliases`)
/// the coin it now is; for a coin no venue lists, the closest listed names.
pub(crate) fn untracked(markets: &MarketsNow, settings: &Settings, coin: &Coin) -> String {
    let rules = settings.mapping.rules();
    let now_named = rules.alias(coin.as_str());
    if now_named != coin.as_str() {
        return format!(
            "`{coin}` is another name of `{now_named}` (mapping.aliases): ask for `{now_named}`"
        );
    }
    if let Err(why) = check_selection(&markets.registry, std::slice::from_ref(coin)) {
        return why;
    }
    if settings.coins_exclude.contains(coin) {
        return "excluded by coins_exclude".into();
    }
    let reasons: Vec<String> = settings
        .pairs
        .iter()
        .map(|&p| {
            if markets.tracks(coin, p) {
                return format!("{p}: tracked");
            }
            let why: Vec<String> = [p.korea, p.foreign]
                .into_iter()
                .filter_map(|v| side(markets, v, coin))
                .collect();
            let why = if !why.is_empty() {
                why.join(", ")
            } else if rules.is_stablecoin(coin) {
                "a stablecoin (the FX leg, never a premium)".into()
            } else {
                match &settings.coins {
                    CoinSelection::List(_) => "not in the configured coins list".into(),
                    CoinSelection::Auto => "trading on both venues but not in the universe in \
                        force yet (the next refresh-markets adds it)"
                        .into(),
                }
            };
            format!("{p}: {why}")
        })
        .collect();
    reasons.join("; ")
}

/// Why `venue` gives no price for `coin`: not listed, every listing excluded (with the stated
/// reason), or the listing a premium would use is not trading; `None` when it trades.
fn side(markets: &MarketsNow, venue: Venue, coin: &Coin) -> Option<String> {
    let registry = &markets.registry;
    match registry.listing(venue, coin) {
        Some(l) if l.instrument.status.is_trading() => None,
        Some(l) => Some(format!(
            "{venue} {} is {}",
            l.instrument.symbol,
            l.instrument.status.as_str()
        )),
        None => match registry.listings(venue).iter().find(|l| &l.coin == coin) {
            Some(l) => Some(format!(
                "{venue} {}: {}",
                l.instrument.symbol,
                l.excluded.as_deref().unwrap_or("excluded")
            )),
            None => Some(format!("not listed on {venue}")),
        },
    }
}

/// An enabled venue, or 404 `unknown_venue` naming the enabled ones.
pub(crate) fn enabled_venue(settings: &Settings, raw: &str) -> Result<Venue, ApiError> {
    raw.parse::<Venue>()
        .ok()
        .filter(|v| settings.venues.contains(v))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownVenue,
                format!(
                    "venue `{raw}` is not enabled; enabled venues: {}",
                    join(&settings.venues)
                ),
            )
        })
}

/// The configured pair picked by optional `korea` and `foreign` parameters (each defaults to
/// its side of the default pair): 404 for an unknown venue or an unconfigured pair, 400 for a
/// venue on the wrong side.
pub(crate) fn configured_pair(
    settings: &Settings,
    korea: Option<&str>,
    foreign: Option<&str>,
) -> Result<VenuePair, ApiError> {
    let default = settings.default_pair();
    let korea = korea
        .map(|k| enabled_venue(settings, k))
        .transpose()?
        .unwrap_or(default.korea);
    let foreign = foreign
        .map(|f| enabled_venue(settings, f))
        .transpose()?
        .unwrap_or(default.foreign);
    let pair = VenuePair::new(korea, foreign).map_err(ApiError::bad_request)?;
    if !settings.pairs.contains(&pair) {
        return Err(ApiError::new(
            ErrorCode::UnknownPair,
            format!(
                "pair `{pair}` is not configured; configured pairs: {}",
                join(&settings.pairs)
            ),
        ));
    }
    Ok(pair)
}
