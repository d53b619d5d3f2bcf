//! Wake-on-push for the apalis workers of a process.
//!
//! apalis-redis 1.0 has no blocking fetch: an idle worker finds a new task on its next poll, so
//! pickup latency is about one poll interval (README.md has the figure), and shorter intervals
//! stall in 1.0 (bench/README.md). Its own pub/sub wake-up never fires on push
//! (ARCHITECTURE.md, "Why not apalis' own …"). So every push of a task that is due now is
//! followed by a `PUBLISH {p}:wake:{kind}` (see [`crate::enqueue::Enqueuer::push_task`]); one
//! subscriber per process turns those messages into a `watch` signal per kind, and each worker's
//! poll strategy wakes on it (and still on its poll interval, `worker.poll_interval_ms`, 1 s, a
//! safety net for retries coming due, orphans re-queued and a lost subscription).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use domain::JobKind;
use futures::StreamExt;
use keyspace::{Keys, RedisTarget};
use tokio::sync::watch;

/// One `watch` channel per job kind; the value is a counter of wake-ups.
#[derive(Clone)]
pub struct Wakers {
    senders: Arc<Vec<(JobKind, watch::Sender<u64>)>>,
}

impl Wakers {
    pub fn new() -> Self {
        Wakers {
            senders: Arc::new(
                JobKind::ALL
                    .into_iter()
                    .map(|k| (k, watch::channel(0u64).0))
                    .collect(),
            ),
        }
    }

    fn wake(&self, kind: JobKind) {
        if let Some((_, tx)) = self.senders.iter().find(|(k, _)| *k == kind) {
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The poll strategy of a worker of `kind`.
    pub fn strategy(&self, kind: JobKind) -> WakeOnSignal {
        let rx = self
            .senders
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, tx)| tx.subscribe())
            .expect("a channel per kind");
        WakeOnSignal {
            rx,
            pending: None,
            owed: 0,
            later: None,
        }
    }
}

impl Default for Wakers {
    fn default() -> Self {
        Self::new()
    }
}

type Changed = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;
type Later = Pin<Box<tokio::time::Sleep>>;

/// Polls of the worker after a wake-up that wake it once more (see [`WakeOnSignal`]).
const OWED_POLLS: u8 = 2;
/// A last wake-up this long after the signal, for a fetch that outlived the owed polls.
const FOLLOW_UP: Duration = Duration::from_millis(50);

/// Ready whenever the kind's wake-up counter changes.
///
/// A wake-up only makes the worker poll its backend, and apalis starts a fetch on a poll only
/// when none is in flight (`apalis_core::backend::persistence`): a signal that lands while a
/// fetch which began before the push is still running is spent on that fetch, which comes back
/// empty, and the task would wait for the poll interval (1 s). So after a signal the strategy
/// wakes the worker again on its next [`OWED_POLLS`] polls and once more [`FOLLOW_UP`] later:
/// a fetch begun after the push always follows, at the price of one or two extra fetches per
/// signal.
pub struct WakeOnSignal {
    rx: watch::Receiver<u64>,
    pending: Option<Changed>,
    owed: u8,
    later: Option<Later>,
}

impl PollStrategy for WakeOnSignal {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        if self.owed > 0 {
            self.owed -= 1;
            cx.waker().wake_by_ref();
        }
        if let Some(later) = self.later.as_mut()
            && later.as_mut().poll(cx).is_ready()
        {
            self.later = None;
            return Poll::Ready(Some(()));
        }
        let fut = self.pending.get_or_insert_with(|| {
            let mut rx = self.rx.clone();
            Box::pin(async move {
                if rx.changed().await.is_err() {
                    // The process is shutting down: never wake again.
                    std::future::pending::<()>().await;
                }
            })
        });
        match fut.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.rx.mark_unchanged();
                self.pending = None;
                self.owed = OWED_POLLS;
                let mut later = Box::pin(tokio::time::sleep(FOLLOW_UP));
                // Registers this task's waker with the timer.
                let _ = later.as_mut().poll(cx);
                self.later = Some(later);
                Poll::Ready(Some(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// How often the wake subscription checks that its connection is alive, and how long a ping
/// may take.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Subscribes to the wake channels until `stop` turns true, reconnecting after errors (in
/// Sentinel mode, to the master in force then).
pub async fn subscribe(
    target: RedisTarget,
    keys: Keys,
    wakers: Wakers,
    mut stop: watch::Receiver<bool>,
) {
    let channels: Vec<(String, JobKind)> = JobKind::ALL
        .into_iter()
        .map(|k| (keys.wake_channel(k), k))
        .collect();
    loop {
        let session = async {
            // In Sentinel mode this resolves the master in force now: after a failover the
            // subscription moves to the new master.
            let mut pubsub = target.pubsub(PING_TIMEOUT).await?;
            let names: Vec<&str> = channels.iter().map(|(c, _)| c.as_str()).collect();
            tokio::time::timeout(PING_TIMEOUT, pubsub.subscribe(&names))
                .await
                .map_err(|_| {
                    redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no answer to SUBSCRIBE",
                    ))
                })??;
            // A ping now and then: a master that died without closing the connection (a lost
            // machine) ends the session instead of leaving it silent for good.
            let (mut sink, mut messages) = pubsub.split();
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.tick().await;
            loop {
                tokio::select! {
                    msg = messages.next() => {
                        let Some(msg) = msg else { break };
                        let name = msg.get_channel_name();
                        if let Some((_, kind)) = channels.iter().find(|(c, _)| c == name) {
                            wakers.wake(*kind);
                        }
                    }
                    _ = ping.tick() => {
                        tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>())
                            .await
                            .map_err(|_| {
                                redis::RedisError::from(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "no answer to a ping",
                                ))
                            })??;
                    }
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        tokio::select! {
            r = session => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "wake-up subscription lost; polling meanwhile");
                }
            }
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}
