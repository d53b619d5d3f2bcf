//! Redis connections with timeouts that suit this workload, to a plain Redis or to the master a
//! set of Redis Sentinels names.
//!
//! `apalis_redis::connect` keeps redis-rs's 500 ms response timeout, which turns one slow Redis
//! reply into a fatal worker-stream error (apalis-redis issue #76); we build the connections
//! ourselves.
//!
//! Plain mode (`REDIS_URL`) is a redis-rs `ConnectionManager`, as it always was: it reconnects to
//! the same address. Sentinel mode (`REDIS_SENTINELS` + `REDIS_MASTER_NAME`) resolves the master
//! with `SENTINEL get-master-addr-by-name`, checks it with `ROLE`, and re-resolves after a
//! connection error, a timeout or a `READONLY`/`MASTERDOWN` answer, so every component follows a
//! failover without a restart. redis-rs' own `SentinelClient` is not used: it opens its Sentinel
//! and master connections without a connect or response timeout (one black-holed Sentinel stalls
//! the whole lookup), and it does not re-resolve an open connection; the lookup is two commands.
//! Every step here has a bound, so a caller gets an answer or an error within
//! [`RESOLVE_BUDGET`] plus its response timeout, never a hang. As with a `ConnectionManager`, the
//! command that meets a dead connection fails and is not retried (it may have run); the next
//! one goes to the master in force.

use std::{
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::{
    Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisConnectionInfo, RedisError,
    RedisFuture, RedisResult, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
};
use settings::Settings;

/// Longest a Sentinel lookup (every Sentinel asked in turn, the master connected and its `ROLE`
/// checked) may take before the caller gets an error.
pub const RESOLVE_BUDGET: Duration = Duration::from_secs(3);
/// Bound on each step of a lookup: connecting, and each answer.
const STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed lookup, callers fail at once for this long instead of each asking again.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Where Redis is: a URL, or a master name resolved through Sentinels.
#[derive(Clone)]
pub enum RedisTarget {
    Url(String),
    Sentinel(Arc<SentinelTarget>),
}

/// A master name and the Sentinels that know where it is.
pub struct SentinelTarget {
    pub sentinels: Vec<(String, u16)>,
    pub master_name: String,
    pub sentinel_password: Option<String>,
    pub master_password: Option<String>,
}

impl fmt::Debug for SentinelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SentinelTarget {
    fn describe(&self) -> String {
        let addrs: Vec<String> = self
            .sentinels
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect();
        format!(
            "master `{}` via Sentinels {}",
            self.master_name,
            addrs.join(",")
        )
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl RedisTarget {
    /// Sentinel mode when `redis_sentinels` is set (validated settings), else `redis_url`.
    pub fn from_settings(s: &Settings) -> Self {
        match (s.redis_sentinel_addrs(), &s.redis_master_name) {
            (Ok(sentinels), Some(name)) if !sentinels.is_empty() && !name.trim().is_empty() => {
                RedisTarget::Sentinel(Arc::new(SentinelTarget {
                    sentinels,
                    master_name: name.trim().to_string(),
                    sentinel_password: s
                        .redis_sentinel_password
                        .as_ref()
                        .map(|p| p.expose().to_string()),
                    master_password: s.redis_password.as_ref().map(|p| p.expose().to_string()),
                }))
            }
            _ => RedisTarget::Url(s.redis_url.clone()),
        }
    }

    /// Where this points, without credentials: for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            RedisTarget::Url(url) => settings::redact_url(url),
            RedisTarget::Sentinel(t) => t.describe(),
        }
    }

    /// A pub/sub connection to Redis (in Sentinel mode, to the master in force now), within
    /// `timeout`.
    pub async fn pubsub(&self, timeout: Duration) -> RedisResult<redis::aio::PubSub> {
        let open = async {
            let client = match self {
                RedisTarget::Url(url) => redis::Client::open(url.as_str())?,
                RedisTarget::Sentinel(t) => {
                    let (info, _) = resolve(t, STEP_TIMEOUT).await?;
                    redis::Client::open(info)?
                }
            };
            client.get_async_pubsub().await
        };
        tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| timed_out("timed out opening a Redis pub/sub connection"))?
    }
}

/// A Redis command connection, cheap to clone; every clone shares one connection.
#[derive(Clone)]
pub struct RedisConn(Kind);

#[derive(Clone)]
enum Kind {
    Plain(ConnectionManager),
    Sentinel(Arc<SentinelConn>),
}

/// Connects to Redis at `url`, failing within 3 s when it does not answer.
pub async fn connect_redis(url: &str, response_timeout: Duration) -> RedisResult<RedisConn> {
    connect(&RedisTarget::Url(url.to_string()), response_timeout).await
}

/// Connects to `target`, failing within a bound (3 s) when it does not answer. In Sentinel mode
/// the master must be resolvable now; later failovers are followed.
pub async fn connect(target: &RedisTarget, response_timeout: Duration) -> RedisResult<RedisConn> {
    match target {
        RedisTarget::Url(url) => {
            let client = redis::Client::open(url.as_str())?;
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(response_timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            let cm = tokio::time::timeout(
                Duration::from_secs(3),
                client.get_connection_manager_with_config(cfg),
            )
            .await
            .map_err(|_| timed_out("timed out connecting to Redis"))??;
            Ok(RedisConn(Kind::Plain(cm)))
        }
        RedisTarget::Sentinel(t) => {
            let conn = Arc::new(SentinelConn {
                target: t.clone(),
                response_timeout,
                state: Mutex::new(State::default()),
                resolving: tokio::sync::Mutex::new(()),
            });
            conn.current().await?;
            Ok(RedisConn(Kind::Sentinel(conn)))
        }
    }
}

impl RedisConn {
    /// The master this connection uses now (`host:port`), in Sentinel mode; `None` in plain
    /// mode or while it is being re-resolved.
    pub fn sentinel_master(&self) -> Option<String> {
        match &self.0 {
            Kind::Plain(_) => None,
            Kind::Sentinel(s) => s
                .state
                .lock()
                .expect("redis conn lock")
                .current
                .as_ref()
                .map(|c| c.addr.clone()),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Kind::Plain(cm) => cm.req_packed_command(cmd),
            Kind::Sentinel(s) => {
                let s = s.clone();
                Box::pin(async move {
                    let (generation, mut conn) = s.current().await?;
                    let mut watch = Watch::new(&s, generation);
                    let r = conn.req_packed_command(cmd).await;
                    watch.done(r.as_ref().err());
                    r
                })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Kind::Plain(cm) => cm.req_packed_commands(pipeline, offset, count),
            Kind::Sentinel(s) => {
                let s = s.clone();
                Box::pin(async move {
                    let (generation, mut conn) = s.current().await?;
                    let mut watch = Watch::new(&s, generation);
                    let r = conn.req_packed_commands(pipeline, offset, count).await;
                    watch.done(r.as_ref().err());
                    r
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Kind::Plain(cm) => cm.get_db(),
            Kind::Sentinel(_) => 0,
        }
    }
}

/// The Sentinel-mode connection: the master connection in force, swapped after a failover.
struct SentinelConn {
    target: Arc<SentinelTarget>,
    response_timeout: Duration,
    state: Mutex<State>,
    /// Held by the one caller resolving the master; the others wait (bounded) for its result.
    resolving: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    generation: u64,
    /// When the last lookup failed, and why.
    failed: Option<(Instant, String)>,
}

#[derive(Clone)]
struct Current {
    generation: u64,
    conn: MultiplexedConnection,
    addr: String,
}

impl SentinelConn {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("redis conn lock")
    }

    fn in_force(&self) -> Option<(u64, MultiplexedConnection)> {
        self.lock()
            .current
            .as_ref()
            .map(|c| (c.generation, c.conn.clone()))
    }

    /// The master connection in force, resolving the master first when there is none.
    async fn current(&self) -> RedisResult<(u64, MultiplexedConnection)> {
        if let Some(c) = self.in_force() {
            return Ok(c);
        }
        let _guard = tokio::time::timeout(RESOLVE_BUDGET, self.resolving.lock())
            .await
            .map_err(|_| timed_out("timed out waiting for the Redis master lookup"))?;
        // Another caller may have resolved it while this one waited.
        if let Some(c) = self.in_force() {
            return Ok(c);
        }
        if let Some((at, why)) = &self.lock().failed
            && at.elapsed() < RETRY_PAUSE
        {
            return Err(unavailable(why.clone()));
        }
        let found =
            tokio::time::timeout(RESOLVE_BUDGET, resolve(&self.target, self.response_timeout))
                .await
                .unwrap_or_else(|_| {
                    Err(timed_out(
                        "timed out resolving the Redis master through Sentinel",
                    ))
                });
        let mut state = self.lock();
        match found {
            Ok((_, (conn, addr))) => {
                state.generation += 1;
                tracing::info!(master = %addr, name = %self.target.master_name, "Redis master resolved through Sentinel");
                state.failed = None;
                state.current = Some(Current {
                    generation: state.generation,
                    conn: conn.clone(),
                    addr,
                });
                Ok((state.generation, conn))
            }
            Err(e) => {
                state.failed = Some((Instant::now(), e.to_string()));
                Err(e)
            }
        }
    }

    /// Drops the connection of `generation` (if still in force) so the next call re-resolves.
    fn invalidate(&self, generation: u64, why: &str) {
        let mut state = self.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|c| c.generation == generation)
        {
            let addr = state.current.take().map(|c| c.addr).unwrap_or_default();
            tracing::warn!(master = %addr, reason = why, "Redis master connection lost; re-resolving through Sentinel");
        }
    }
}

/// Watches one command: re-resolve after an error that means "not the master (any more)", or
/// when the caller gives up on a command that had already outlived the response timeout (a
/// master gone silent, with a caller deadline shorter than ours).
struct Watch<'a> {
    conn: &'a SentinelConn,
    generation: u64,
    started: Instant,
    finished: bool,
}

impl<'a> Watch<'a> {
    fn new(conn: &'a SentinelConn, generation: u64) -> Self {
        Watch {
            conn,
            generation,
            started: Instant::now(),
            finished: false,
        }
    }

    fn done(&mut self, err: Option<&RedisError>) {
        self.finished = true;
        if let Some(e) = err
            && needs_new_master(e)
        {
            self.conn.invalidate(self.generation, e.category());
        }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if !self.finished && self.started.elapsed() >= self.conn.response_timeout * 3 / 4 {
            self.conn
                .invalidate(self.generation, "command abandoned without an answer");
        }
    }
}

/// Whether `e` means the connection no longer reaches a writable master.
fn needs_new_master(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(e.code(), Some("READONLY" | "MASTERDOWN" | "LOADING"))
}

type Resolved = (ConnectionInfo, (MultiplexedConnection, String));

/// Asks each Sentinel in turn where the master is, connects to it and checks its `ROLE`.
async fn resolve(t: &SentinelTarget, response_timeout: Duration) -> RedisResult<Resolved> {
    let mut last = String::from("no Sentinel configured");
    for (host, port) in &t.sentinels {
        match ask_one(t, host, *port, response_timeout).await {
            Ok(r) => return Ok(r),
            Err(e) => last = format!("Sentinel {host}:{port}: {e}"),
        }
    }
    Err(unavailable(format!(
        "no Sentinel named a reachable master `{}` ({last})",
        t.master_name
    )))
}

async fn ask_one(
    t: &SentinelTarget,
    host: &str,
    port: u16,
    response_timeout: Duration,
) -> RedisResult<Resolved> {
    let step = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(STEP_TIMEOUT))
        .set_response_timeout(Some(STEP_TIMEOUT));
    let mut redis = RedisConnectionInfo::default();
    if let Some(p) = &t.sentinel_password {
        redis = redis.set_password(p);
    }
    let info = (host, port)
        .into_connection_info()?
        .set_redis_settings(redis);
    let mut sentinel =
        bounded(redis::Client::open(info)?.get_multiplexed_async_connection_with_config(&step))
            .await?;
    let addr: Option<(String, u16)> = bounded(
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&t.master_name)
            .query_async(&mut sentinel),
    )
    .await?;
    let Some((mhost, mport)) = addr else {
        return Err(unavailable(format!(
            "does not monitor a master named `{}`",
            t.master_name
        )));
    };
    let mut redis = RedisConnectionInfo::default();
    if let Some(p) = &t.master_password {
        redis = redis.set_password(p);
    }
    let info = (mhost.as_str(), mport)
        .into_connection_info()?
        .set_redis_settings(redis);
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(STEP_TIMEOUT))
        .set_response_timeout(Some(response_timeout));
    let unreachable =
        |e: RedisError| unavailable(format!("names {mhost}:{mport}, which does not answer: {e}"));
    let mut master = bounded(
        redis::Client::open(info.clone())?.get_multiplexed_async_connection_with_config(&cfg),
    )
    .await
    .map_err(unreachable)?;
    let role: Vec<Value> = bounded(redis::cmd("ROLE").query_async(&mut master))
        .await
        .map_err(unreachable)?;
    let is_master = matches!(role.first(), Some(Value::BulkString(b)) if b == b"master");
    if !is_master {
        return Err(unavailable(format!(
            "names {mhost}:{mport}, which is not a master (ROLE)"
        )));
    }
    Ok((info, (master, format!("{mhost}:{mport}"))))
}

async fn bounded<T>(f: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    tokio::time::timeout(STEP_TIMEOUT, f)
        .await
        .map_err(|_| timed_out("no answer within 1 s"))?
}

fn timed_out(msg: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, msg))
}

fn unavailable(msg: String) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::NotConnected, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel_settings(sentinels: &str) -> Settings {
        Settings {
            redis_url: "redis://user:urlpw@127.0.0.1:6379/".into(),
            redis_sentinels: sentinels.split(',').map(String::from).collect(),
            redis_master_name: Some("premium".into()),
            redis_password: Some(settings::Secret::new("m4ster")),
            redis_sentinel_password: Some(settings::Secret::new("s3ntinel")),
            ..Settings::default()
        }
    }

    #[test]
    fn the_target_follows_the_settings_and_never_shows_a_password() {
        let plain = RedisTarget::from_settings(&Settings {
            redis_url: "redis://user:urlpw@127.0.0.1:6379/".into(),
            ..Settings::default()
        });
        assert!(matches!(&plain, RedisTarget::Url(u) if u.contains("urlpw")));
        assert!(!plain.describe().contains("urlpw"));

        let s = sentinel_settings("10.0.0.5:26379,10.0.0.6:26380");
        let t = RedisTarget::from_settings(&s);
        let RedisTarget::Sentinel(st) = &t else {
            panic!("sentinel mode expected: {t:?}");
        };
        assert_eq!(st.sentinels[1], ("10.0.0.6".to_string(), 26380));
        assert_eq!(st.master_password.as_deref(), Some("m4ster"));
        let shown = format!("{} {t:?}", t.describe());
        assert!(shown.contains("premium") && shown.contains("10.0.0.5:26379"));
        assert!(
            !shown.contains("m4ster") && !shown.contains("s3ntinel"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn no_reachable_sentinel_is_a_clear_error_naming_the_master() {
        // A port nobody listens on: the lookup is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = sentinel_settings(&format!("127.0.0.1:{port}"));
        let err = connect(&RedisTarget::from_settings(&s), Duration::from_secs(1))
            .await
            .err()
            .expect("no Sentinel answers");
        let msg = err.to_string();
        assert!(msg.contains("master `premium`"), "{msg}");
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        assert!(
            !msg.contains("m4ster") && !msg.contains("s3ntinel"),
            "{msg}"
        );
    }
}
