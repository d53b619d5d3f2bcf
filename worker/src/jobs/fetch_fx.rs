//! `fetch-fx(tick)`: USD/KRW from the first FX source of the fallback chain that answers, into
//! the hot cache and the history.

use std::time::Instant;

use domain::FxSource;
use queue::{Job, metrics_names as m};
use venues::FetchError;

use super::context::{Ctx, JobError, JobResult, observe_fetch};

pub async fn run(ctx: &Ctx, _job: &Job) -> JobResult {
    let mut errors = Vec::new();
    for client in &ctx.fx {
        let started = Instant::now();
        let source = client.source();
        match client.fetch_usd_krw().await {
            Ok(rate) => {
                observe_fetch(source.as_str(), started, None);
                ctx.cache.put_fx(&rate).await?;
                metrics::gauge!(m::FX_RATE, "source" => source.as_str())
                    .set(rate.usd_krw.value().try_into().unwrap_or(0.0));
                ctx.spool
                    .write(&crate::spool::Batch::Fx(vec![rate.clone()]))
                    .await;
                let fell_back = if errors.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", describe(&errors))
                };
                return Ok(format!("{source} usd/krw {}{fell_back}", rate.usd_krw));
            }
            Err(e) => {
                observe_fetch(source.as_str(), started, Some(&e));
                tracing::warn!(%source, error = %e, "fx source failed");
                errors.push((source, e));
            }
        }
    }
    let retryable = errors.iter().any(|(_, e)| e.is_retryable());
    let retry_after = errors.iter().filter_map(|(_, e)| e.retry_after()).max();
    let class = errors.first().map(|(_, e)| e.class());
    Err(JobError::AllFxFailed {
        message: describe(&errors),
        retryable,
        retry_after,
        class,
    })
}

fn describe(errors: &[(FxSource, FetchError)]) -> String {
    errors
        .iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}
