//! The bodies of the job kinds, one module each: [`fetch_ticker`], [`fetch_fx`],
//! [`compute_premium`], [`refresh_markets`], [`deliver_alert`], [`maintain_history`],
//! [`rollup_history`]. What they share is in `context` ([`Ctx`], [`JobError`]); here [`Ctx`]
//! implements [`queue::Handler`] by dispatching on the job kind, so the queue's runner wraps
//! every body with its record, timeout and retry decision. With `worker.execution_ledger` on,
//! every execution that completes (success or failure; one cut short by a timeout or a kill
//! does not) is appended to the execution ledger ([`ledger_key`]), so that a body run twice for
//! the same attempt can be counted (the soak's duplicate detector).

mod context;

pub mod compute_premium;
pub mod deliver_alert;
pub mod fetch_fx;
pub mod fetch_ticker;
pub mod maintain_history;
pub mod refresh_markets;
pub mod rollup_history;

pub use context::{Ctx, JobError, JobResult};

use std::time::Duration;

use domain::JobKind;
use keyspace::Keys;
use queue::{Failure, Handler, Job};

impl Handler for Ctx {
    async fn execute(&self, job: &Job) -> Result<String, Failure> {
        let r = match job.kind {
            JobKind::FetchTicker => fetch_ticker::run(self, job).await,
            JobKind::FetchFx => fetch_fx::run(self, job).await,
            JobKind::ComputePremium => compute_premium::run(self, job).await,
            JobKind::RefreshMarkets => refresh_markets::run(self, job).await,
            JobKind::DeliverAlert => deliver_alert::run(self, job).await,
            JobKind::MaintainHistory => maintain_history::run(self, job).await,
            JobKind::RollupHistory => rollup_history::run(self, job).await,
        };
        if self.settings.worker.execution_ledger {
            append_execution(self, job, r.is_ok()).await;
        }
        r.map_err(Failure::from)
    }
}

/// The execution ledger: a stream of `job`, `attempt`, `pid`, `ok` (1/0), `at_ms` entries.
pub fn ledger_key(keys: &Keys) -> String {
    format!("{}:executions", keys.prefix())
}

/// Entries kept (approximately: `MAXLEN ~` trims whole stream nodes).
const LEDGER_LEN: usize = 100_000;

async fn append_execution(ctx: &Ctx, job: &Job, ok: bool) {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(ledger_key(&ctx.keys))
        .arg("MAXLEN")
        .arg("~")
        .arg(LEDGER_LEN)
        .arg("*")
        .arg("job")
        .arg(&job.id)
        .arg("attempt")
        .arg(job.attempt)
        .arg("pid")
        .arg(std::process::id())
        .arg("ok")
        .arg(u8::from(ok))
        .arg("at_ms")
        .arg(chrono::Utc::now().timestamp_millis());
    let mut conn = ctx.conn.clone();
    match tokio::time::timeout(Duration::from_secs(1), cmd.query_async::<String>(&mut conn)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = %job.id, error = %e, "could not append to the execution ledger")
        }
        Err(_) => tracing::warn!(job = %job.id, "the execution ledger append timed out"),
    }
}
