//! The fan-out behind `GET /api/v1/premiums/stream`: one Redis subscription per API process,
//! shared by every stream through a bounded broadcast channel.
//!
//! The worker publishes one message per computation, the JSON array of its premiums; each is
//! forwarded as one update (a message of the previous release, one premium, is read too).
//!
//! A background task (started by the first stream, stopped by [`Streams::stop`] when the server
//! shuts down or when the last `AppState` is dropped) subscribes to the
//! premium channel, parses each message once and sends it to the broadcast channel of
//! `api.stream_buffer` updates. When the subscription fails it is re-made after a backoff
//! (0.1 s doubling, at most 5 s); meanwhile open streams stay open (keep-alives only, no
//! updates) and new streams answer 503.
//!
//! Each stream holds a slot of `api.max_streams` (one more answers 503) and a receiver of the
//! broadcast. A stream that falls more than `api.stream_buffer` updates behind is sent one
//! final `error` event with code `lagged` and ended: it is never buffered without bound.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use domain::Premium;
use futures::StreamExt;
use keyspace::RedisTarget;
use tokio::{
    sync::{broadcast, watch},
    task::AbortHandle,
};

use crate::{
    deadline::IO_TIMEOUT,
    error::{ApiError, ErrorCode},
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A subscription whose connection does not answer a ping within [`IO_TIMEOUT`] is re-made.
const PING_EVERY: Duration = Duration::from_secs(10);

/// The premium streams of one API process; cheap to clone.
#[derive(Clone)]
pub(crate) struct Streams {
    inner: Arc<Inner>,
}

struct Inner {
    target: RedisTarget,
    channel: String,
    max: usize,
    open: Arc<AtomicUsize>,
    /// Taken (and so closed, ending every stream) by [`Streams::stop`].
    tx: Mutex<Option<broadcast::Sender<Arc<Premium>>>>,
    up: watch::Receiver<bool>,
    up_tx: watch::Sender<bool>,
    task: Mutex<Option<AbortHandle>>,
    stopped: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

/// One open stream's place among `api.max_streams`; given back when dropped.
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Streams {
    pub(crate) fn new(target: RedisTarget, channel: String, max: usize, buffer: usize) -> Self {
        let (tx, _) = broadcast::channel(buffer.max(1));
        let (up_tx, up) = watch::channel(false);
        Streams {
            inner: Arc::new(Inner {
                target,
                channel,
                max,
                open: Arc::new(AtomicUsize::new(0)),
                tx: Mutex::new(Some(tx)),
                up,
                up_tx,
                task: Mutex::new(None),
                stopped: AtomicBool::new(false),
            }),
        }
    }

    /// A receiver of every premium update and the slot it holds. 503 when `api.max_streams`
    /// are open, when the server is stopping, or when the subscription is not up within
    /// [`IO_TIMEOUT`].
    pub(crate) async fn open(&self) -> Result<(broadcast::Receiver<Arc<Premium>>, Slot), ApiError> {
        let inner = &self.inner;
        let taken = inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.max).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "{} premium streams are open, the most this server allows (api.max_streams); try again shortly",
                    inner.max
                ),
            ));
        }
        let slot = Slot(inner.open.clone());
        let rx = {
            let tx = inner.tx.lock().expect("streams lock");
            let tx = tx
                .as_ref()
                .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the server is stopping"))?;
            let mut task = inner.task.lock().expect("streams lock");
            if task.is_none() {
                let run = subscribe_forever(
                    inner.target.clone(),
                    inner.channel.clone(),
                    tx.clone(),
                    inner.up_tx.clone(),
                );
                *task = Some(tokio::spawn(run).abort_handle());
            }
            tx.subscribe()
        };
        let mut up = inner.up.clone();
        match tokio::time::timeout(IO_TIMEOUT, up.wait_for(|up| *up)).await {
            Ok(Ok(_)) => Ok((rx, slot)),
            _ => Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "Redis is unavailable: no subscription to premium updates within {} ms; try again shortly",
                    IO_TIMEOUT.as_millis()
                ),
            )),
        }
    }

    /// Stops the subscription and ends every open stream. Idempotent.
    pub(crate) fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.tx.lock().expect("streams lock").take();
        if let Some(task) = self.inner.task.lock().expect("streams lock").take() {
            task.abort();
        }
        self.inner.up_tx.send_replace(false);
    }
}

/// Subscribes to `channel` and forwards every premium to `tx`, re-subscribing after a backoff
/// whenever the subscription fails. Runs until aborted.
async fn subscribe_forever(
    target: RedisTarget,
    channel: String,
    tx: broadcast::Sender<Arc<Premium>>,
    up: watch::Sender<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    loop {
        match subscribe(&target, &channel).await {
            Ok(pubsub) => {
                tracing::debug!(%channel, "subscribed to premium updates");
                up.send_replace(true);
                backoff = MIN_BACKOFF;
                failures = 0;
                let why = forward(pubsub, &tx).await;
                up.send_replace(false);
                tracing::warn!(%channel, %why, "premium subscription lost; re-subscribing");
            }
            Err(e) => {
                failures += 1;
                // The first failure of an outage is a warning; the retries are noise.
                if failures == 1 {
                    tracing::warn!(%channel, error = %e, "cannot subscribe to premium updates; retrying");
                } else {
                    tracing::debug!(%channel, error = %e, failures, "cannot subscribe to premium updates; retrying");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn subscribe(target: &RedisTarget, channel: &str) -> Result<redis::aio::PubSub, String> {
    let connect = async {
        // In Sentinel mode: the master in force now, so a failover moves the subscription.
        let mut pubsub = target.pubsub(IO_TIMEOUT).await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(IO_TIMEOUT, connect).await {
        Ok(Ok(pubsub)) => Ok(pubsub),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "Redis did not answer within {} ms",
            IO_TIMEOUT.as_millis()
        )),
    }
}

/// Forwards messages until the connection fails; returns why.
async fn forward(pubsub: redis::aio::PubSub, tx: &broadcast::Sender<Arc<Premium>>) -> String {
    let (mut sink, mut messages) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else {
                    return "connection closed".into();
                };
                match msg.get_payload::<String>().ok().and_then(|s| parse(&s)) {
                    // No receiver (no stream open) is not an error.
                    Some(premiums) => {
                        for p in premiums {
                            drop(tx.send(Arc::new(p)));
                        }
                    }
                    None => tracing::debug!("ignored a premium update that does not parse"),
                }
            }
            _ = ping.tick() => {
                match tokio::time::timeout(IO_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return format!("ping failed: {e}"),
                    Err(_) => return format!("no answer to a ping within {} ms", IO_TIMEOUT.as_millis()),
                }
            }
        }
    }
}

/// A message of the premium channel: one computation's premiums (a JSON array), or one premium
/// (what the previous release published, one message per premium, during a rolling deploy).
fn parse(payload: &str) -> Option<Vec<Premium>> {
    if payload.trim_start().starts_with('[') {
        serde_json::from_str(payload).ok()
    } else {
        serde_json::from_str::<Premium>(payload)
            .ok()
            .map(|p| vec![p])
    }
}
