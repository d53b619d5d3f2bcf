//! The apalis workers of one process, built one way for the worker replica and the benchmarks:
//! one apalis worker per job kind on [`queue_config`], polling every `worker.poll_interval_ms`
//! and woken at once by [`crate::wake`], `worker.concurrency` tasks at a time, each task run
//! through [`crate::runner::run`] with the process's [`Handler`]. Worker names carry the process
//! id and the restart count, because apalis refuses a name that heart-beat recently.

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollWith, Strategy};
use apalis_redis::RedisStorage;
use domain::JobKind;
use keyspace::RedisConn;
use settings::Settings;

use crate::{Enqueuer, Handler, Job, queue_config, wake::Wakers};

/// What every task of the process runs with: the queue (records, retries) and the job bodies.
pub struct Consumer<H> {
    pub enqueuer: Enqueuer,
    pub handler: H,
}

async fn handle<H: Handler + 'static>(
    job: Job,
    worker: WorkerContext,
    c: Data<Arc<Consumer<H>>>,
) -> Result<(), BoxDynError> {
    crate::runner::run(&c.enqueuer, &c.handler, job, worker.name()).await;
    Ok(())
}

/// A monitor with this process's apalis workers registered; run it with `run_with_signal`.
/// A worker that stops (Redis gone) is restarted after a short pause.
pub fn monitor<H: Handler + 'static>(
    settings: &Settings,
    conn: RedisConn,
    consumer: Arc<Consumer<H>>,
    wakers: Wakers,
    pid: &str,
) -> Monitor {
    let w = &settings.worker;
    let poll = Duration::from_millis(w.poll_interval_ms);
    let concurrency = w.concurrency;
    let mut monitor = Monitor::new()
        .should_restart(|w, err| {
            tracing::error!(worker = w.name(), restarts = w.restarts(), error = %err, "worker stopped; restarting");
            // A persistent error (Redis gone) would otherwise restart the worker in a tight loop;
            // the callback is synchronous, so pause here briefly (well under the 3 s orphan
            // threshold of this process's other workers).
            std::thread::sleep(Duration::from_millis(250));
            true
        })
        .shutdown_timeout(Duration::from_millis(w.shutdown_timeout_ms));
    for kind in JobKind::ALL {
        let cfg = queue_config(settings, kind);
        let conn = conn.clone();
        let consumer = consumer.clone();
        let pid = pid.to_string();
        let wakers = wakers.clone();
        monitor = monitor.register(move |restarts| {
            let storage =
                RedisStorage::<Job, RedisConn>::new(conn.clone()).with_config(cfg.clone());
            // Wake on a push announced over pub/sub, and poll every `poll` regardless.
            let strategy = Strategy::new().apply(wakers.strategy(kind)).interval(poll);
            WorkerBuilder::new(format!("{kind}-{pid}-r{restarts}"))
                .backend(PollWith::new(storage, strategy))
                .data(consumer.clone())
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(handle::<H>)
        });
    }
    monitor
}
