//! The worker process (`[worker]`): concurrency, polling, heartbeats, timeouts, cron, metrics.

use serde::{Deserialize, Serialize};

use crate::{
    check::is_socket_addr,
    error::{SettingsError, invalid},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Jobs run at once per queue in one replica.
    pub concurrency: usize,
    /// Idle poll interval of a queue, milliseconds: a safety net. Pickup relies on the
    /// wake-on-push (`queue::wake`); the poll finds what nobody announces (a durable retry
    /// coming due, a task re-queued from a dead worker, a lost wake subscription), so those
    /// wait up to one interval. Each poll is one fetch script per job kind.
    pub poll_interval_ms: u64,
    /// Heartbeat of a worker, milliseconds; a worker silent for
    /// `heartbeat_ms × missed_heartbeats` is dead and its in-flight jobs are re-queued.
    pub heartbeat_ms: u64,
    pub missed_heartbeats: u32,
    /// Longest a single job may run before it is cancelled, milliseconds.
    pub job_timeout_ms: u64,
    /// How long shutdown waits for running jobs, milliseconds.
    pub shutdown_timeout_ms: u64,
    /// A tick job (1 s cadence) not started within this many seconds of its tick is dropped
    /// instead of run late.
    pub max_tick_lag_secs: u64,
    /// Run the cron sources in this replica (default true; false makes a consume-only replica).
    pub cron: bool,
    /// Where this replica serves its own Prometheus metrics (fetch latency and errors per
    /// venue, jobs per kind and state); none by default.
    pub metrics_addr: Option<String>,
    /// Append every completed execution of a job body to the execution ledger
    /// (`{p}:executions`, a stream capped near 100,000 entries): one `XADD` per execution, so
    /// off in production and on in the soak, whose duplicate detector reads it.
    pub execution_ledger: bool,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 8,
            poll_interval_ms: 1_000,
            heartbeat_ms: 1_000,
            missed_heartbeats: 3,
            job_timeout_ms: 10_000,
            shutdown_timeout_ms: 10_000,
            max_tick_lag_secs: 30,
            cron: true,
            metrics_addr: None,
            execution_ledger: false,
        }
    }
}

impl WorkerSettings {
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.concurrency == 0 || self.poll_interval_ms == 0 {
            return invalid("worker.concurrency and worker.poll_interval_ms must be positive");
        }
        if self.heartbeat_ms < 100 || self.missed_heartbeats == 0 {
            return invalid("worker.heartbeat_ms must be ≥ 100 and worker.missed_heartbeats ≥ 1");
        }
        if let Some(a) = &self.metrics_addr
            && !is_socket_addr(a)
        {
            return invalid(format!("worker.metrics_addr `{a}` is not host:port"));
        }
        Ok(())
    }
}
