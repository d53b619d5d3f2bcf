//! The bodies of the job kinds, one module each: [`fetch_ticker`], [`fetch_fx`],
//! [`compute_premium`], [`refresh_markets`], [`deliver_alert`], [`maintain_history`],
//! [`rollup_history`]. What they share is in `context` ([`Ctx`], [`JobError`]); here [`Ctx`]
//! implements [`queue::Handler`] by dispatching on the job kind, so the queue's runner wraps
//! every body with its record, timeout and retry decision.

mod context;

pub mod compute_premium;
pub mod deliver_alert;
pub mod fetch_fx;
pub mod fetch_ticker;
pub mod maintain_history;
pub mod refresh_markets;
pub mod rollup_history;

pub use context::{Ctx, JobError, JobResult};

use domain::JobKind;
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
        r.map_err(Failure::from)
    }
}
