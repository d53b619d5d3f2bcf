//! One module per resource. Shared here: the tags of the document and the parsing of coins,
//! venues and pairs against what the settings track.

pub mod jobs;
pub mod market;
pub mod ops;
pub mod positions;
pub mod premiums;

use domain::{Coin, Venue, VenuePair};
use poem_openapi::Tags;
use settings::Settings;

use crate::error::{ApiError, ErrorCode};

#[derive(Tags)]
pub enum ApiTags {
    /// Current premiums, their stream and their history.
    Premiums,
    /// Latest tickers and USD/KRW rates.
    Market,
    /// The job queue: records, stats, manual triggers and retries.
    Jobs,
    /// Hedged positions with live PnL.
    Positions,
    /// Liveness, readiness and metrics.
    Ops,
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tracked coin, or 404 `unknown_coin` naming the tracked ones.
pub(crate) fn tracked_coin(settings: &Settings, raw: &str) -> Result<Coin, ApiError> {
    Coin::parse(raw)
        .ok()
        .filter(|c| settings.coins.contains(c))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownCoin,
                format!(
                    "coin `{raw}` is not tracked; tracked coins: {}",
                    join(&settings.coins)
                ),
            )
        })
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
