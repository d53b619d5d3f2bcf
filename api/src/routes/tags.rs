//! The tags that group the operations of the OpenAPI document.

use poem_openapi::Tags;

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
    /// Premium alert rules, delivered by webhook or Telegram.
    Alerts,
    /// Liveness, readiness and metrics.
    Ops,
}
