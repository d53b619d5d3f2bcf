//! The apalis workers of one process, built one way for the worker replica and the benchmarks:
//! one apalis worker per job kind on [`queue_config`], woken at once by [`crate::wake`] on a
//! push and polling every `worker.poll_interval_ms` as a safety net, `worker.concurrency` tasks
//! at a time, each task run through [`crate::runner::run`] with the process's [`Handler`]. Worker names carry the process
//! id and the restart count, because apalis refuses a name that heart-beat recently.

use std::{sync::Arc, time::Duration};

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollWith, Strategy};
use apalis_redis::RedisStorage;
use domain::JobKind;
use keyspace::RedisConn;
use redis::{Cmd, Pipeline, RedisFuture, Value, aio::ConnectionLike};
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
/// A worker that stops (Redis gone) is restarted, and the restarted worker's first Redis
/// command waits [`restart_pause`] ([`PausedConn`]): a persistent error does not restart it in
/// a tight loop, and nothing blocks a runtime thread meanwhile (apalis' `should_restart`
/// callback is synchronous; a sleep there would stall every task of that thread, heartbeats of
/// the process's other workers included, and make them look dead).
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
            let conn = PausedConn::new(conn.clone(), restart_pause(restarts));
            let storage = RedisStorage::<Job, PausedConn>::new(conn).with_config(cfg.clone());
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

/// How long the `restarts`-th restart of a worker waits before it talks to Redis again: none
/// for the first start, then 250 ms doubling per restart up to 4 s.
pub fn restart_pause(restarts: usize) -> Duration {
    if restarts == 0 {
        return Duration::ZERO;
    }
    let shift = (restarts - 1).min(4) as u32;
    Duration::from_millis(250 << shift)
}

/// A worker's Redis connection whose commands wait until a point in time before they are sent
/// (asynchronously: the task yields, the thread runs others). Given to a restarted worker's
/// storage, it paces the restart without blocking.
#[derive(Clone)]
pub struct PausedConn {
    inner: RedisConn,
    until: tokio::time::Instant,
}

impl PausedConn {
    pub fn new(inner: RedisConn, pause: Duration) -> Self {
        PausedConn {
            inner,
            until: tokio::time::Instant::now() + pause,
        }
    }

    async fn wait(until: tokio::time::Instant) {
        if tokio::time::Instant::now() < until {
            tokio::time::sleep_until(until).await;
        }
    }
}

impl ConnectionLike for PausedConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            Self::wait(self.until).await;
            self.inner.req_packed_command(cmd).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            Self::wait(self.until).await;
            self.inner
                .req_packed_commands(pipeline, offset, count)
                .await
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_pauses_longer_each_time_up_to_a_cap() {
        assert_eq!(restart_pause(0), Duration::ZERO);
        let pauses: Vec<u128> = (1..=8).map(|r| restart_pause(r).as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000]);
    }

    /// On a runtime with one thread, another task runs while a paused command waits: here it
    /// writes the key the paused command then reads. A pause that held the thread (a blocking
    /// sleep) would send the read before the other task ever ran.
    #[tokio::test(flavor = "current_thread")]
    async fn a_paused_command_lets_the_thread_run_other_tasks() {
        let conn = keyspace::connect_redis("redis://127.0.0.1:6379/", Duration::from_secs(5))
            .await
            .expect("Redis at 127.0.0.1:6379");
        let key = format!("test-paused-conn-{}", ulid::Ulid::generate());
        let mut paused = PausedConn::new(conn.clone(), Duration::from_millis(500));
        let (mut writer, k) = (conn.clone(), key.clone());
        let other = tokio::spawn(async move {
            let _: () = redis::AsyncCommands::set_ex(&mut writer, &k, "written", 60)
                .await
                .unwrap();
        });
        let seen: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut paused)
            .await
            .unwrap();
        assert_eq!(
            seen.as_deref(),
            Some("written"),
            "the other task ran during the pause"
        );
        other.await.unwrap();
    }
}
