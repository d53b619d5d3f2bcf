//! Job records: what the API shows about a job.
//!
//! apalis-redis keeps its own task metadata, but its listing reads every task on every call and
//! its "Failed" status also means "retry pending", so this system keeps one record per logical
//! job (all attempts) in `{p}:job:{id}` and indexes it in sorted sets `{p}:jobs:{kind}:{state}`,
//! `{p}:jobs:{kind}:all`, `{p}:jobs:all:{state}`, `{p}:jobs:all:all` scored by creation time. A
//! state change moves the id between sets atomically (one Lua script), so a listing filtered by
//! kind and state is one `ZREVRANGEBYSCORE … LIMIT`: O(log n + page). Finished records expire
//! after the retention window and the janitor trims the indexes, so memory stays flat.

use std::{collections::HashMap, sync::LazyLock};

use domain::{FailureClass, JobKind, JobState, Venue};
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use keyspace::{Keys, RedisConn};

use crate::Job;

/// One job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: JobKind,
    pub venue: Option<Venue>,
    pub tick: i64,
    pub manual: bool,
    pub state: JobState,
    /// The attempt running or last run (1-based).
    pub attempts: u32,
    pub max_attempts: u32,
    /// How many times an attempt was started (more than `attempts` means a re-run after a
    /// worker died).
    pub runs: u32,
    pub last_error: Option<String>,
    pub error_class: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub next_run_ms: Option<i64>,
    pub worker: Option<String>,
    pub summary: Option<String>,
}

impl JobRecord {
    fn from_hash(h: HashMap<String, String>) -> Option<Self> {
        let get = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
        let num = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        Some(JobRecord {
            id: get("id")?,
            kind: get("kind")?.parse().ok()?,
            venue: get("venue").and_then(|v| v.parse().ok()),
            tick: num("tick").unwrap_or(0),
            manual: get("manual").as_deref() == Some("1"),
            state: get("state")?.parse().ok()?,
            attempts: num("attempts").unwrap_or(0) as u32,
            max_attempts: num("max_attempts").unwrap_or(0) as u32,
            runs: num("runs").unwrap_or(0) as u32,
            last_error: get("last_error"),
            error_class: get("error_class"),
            created_ms: num("created_ms").unwrap_or(0),
            updated_ms: num("updated_ms").unwrap_or(0),
            started_ms: num("started_ms"),
            finished_ms: num("finished_ms"),
            next_run_ms: num("next_run_ms"),
            worker: get("worker"),
            summary: get("summary"),
        })
    }
}

/// A change to a record; `None` fields are left as they are.
#[derive(Debug, Default, Clone)]
pub struct Update<'a> {
    pub attempts: Option<u32>,
    pub max_attempts: Option<u32>,
    pub last_error: Option<&'a str>,
    pub error_class: Option<FailureClass>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// `Some(None)` clears it.
    pub next_run_ms: Option<Option<i64>>,
    pub worker: Option<&'a str>,
    pub summary: Option<&'a str>,
    /// Count one more run (set when an attempt starts).
    pub count_run: bool,
}

/// Records a newly pushed job as queued unless its record exists (`lua/create_record.lua`).
static CREATE_RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/create_record.lua"),
    ))
});

/// Moves a record to a state, creating it when missing, guarded by a [`Fence`]
/// (`lua/transition_record.lua`, which documents its keys and arguments). Returns the previous
/// state ('' if none), or '!fenced' when the fence refused the change (counted in the counters
/// hash as `fenced_writes`).
static TRANSITION_RECORD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/index.lua"),
        include_str!("lua/record_write.lua"),
        include_str!("lua/transition_record.lua"),
    ))
});

/// Which run of a job may change its record. Every run of a job (one apalis delivery of one
/// attempt) carries a token; a worker declared dead while it was only stopped can come back after
/// another worker re-ran its job, and its late writes must not overwrite the re-run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence<'a> {
    /// No check (operator actions, record creation).
    None,
    /// A run starts: it becomes the current run unless the job has already ended.
    Claim(&'a str),
    /// Only the current run may write.
    Own(&'a str),
}

/// What a transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transitioned {
    /// Applied; the previous state, if the record existed.
    Applied(Option<JobState>),
    /// Refused by the fence: the writer is no longer the job's current run.
    Fenced,
}

/// The record store.
#[derive(Clone)]
pub struct Records {
    conn: RedisConn,
    keys: Keys,
    /// How long finished records are kept, seconds.
    retention_secs: u64,
}

/// A page of records and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<JobRecord>,
    pub next_cursor: Option<String>,
}

impl Records {
    pub fn new(conn: RedisConn, keys: Keys, retention_secs: u64) -> Self {
        Records {
            conn,
            keys,
            retention_secs,
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn base_fields(job: &Job, max_attempts: u32) -> Vec<(&'static str, String)> {
        vec![
            ("tick", job.tick.to_string()),
            (
                "venue",
                job.venue.map(|v| v.to_string()).unwrap_or_default(),
            ),
            ("manual", if job.manual { "1" } else { "0" }.into()),
            ("attempts", job.attempt.to_string()),
            ("max_attempts", max_attempts.to_string()),
            ("runs", "0".into()),
        ]
    }

    /// Records a newly pushed job as queued. Returns false when the record already existed.
    pub async fn create(
        &self,
        job: &Job,
        max_attempts: u32,
        now_ms: i64,
    ) -> Result<bool, redis::RedisError> {
        let mut inv = CREATE_RECORD.key(self.keys.job(&job.id));
        inv.arg(self.keys.prefix())
            .arg(&job.id)
            .arg(job.kind.as_str())
            .arg(now_ms);
        for (k, v) in Self::base_fields(job, max_attempts) {
            inv.arg(k).arg(v);
        }
        inv.arg("state")
            .arg("queued")
            .arg("updated_ms")
            .arg(now_ms)
            .arg("id")
            .arg(&job.id)
            .arg("kind")
            .arg(job.kind.as_str())
            .arg("created_ms")
            .arg(now_ms);
        let created: i32 = inv.invoke_async(&mut self.conn.clone()).await?;
        Ok(created == 1)
    }

    /// Moves `job`'s record to `state`, creating it if it is missing. Returns the previous state.
    pub async fn transition(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
    ) -> Result<Option<JobState>, redis::RedisError> {
        match self
            .transition_fenced(job, max_attempts, state, now_ms, update, Fence::None)
            .await?
        {
            Transitioned::Applied(old) => Ok(old),
            Transitioned::Fenced => Ok(None),
        }
    }

    /// [`Records::transition`] guarded by `fence`.
    pub async fn transition_fenced(
        &self,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: Update<'_>,
        fence: Fence<'_>,
    ) -> Result<Transitioned, redis::RedisError> {
        let mut inv = TRANSITION_RECORD.key(self.keys.job(&job.id));
        inv.key(self.keys.counters());
        self.transition_args(&mut inv, job, max_attempts, state, now_ms, &update, fence);
        let old: String = inv.invoke_async(&mut self.conn.clone()).await?;
        if old == "!fenced" {
            return Ok(Transitioned::Fenced);
        }
        Ok(Transitioned::Applied(old.parse().ok()))
    }

    /// Appends the arguments of one record write, laid out as `lua/record_write.lua` reads
    /// them, to a script invocation (the transition script's, or the finish script's after its
    /// own arguments).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn transition_args(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        job: &Job,
        max_attempts: u32,
        state: JobState,
        now_ms: i64,
        update: &Update<'_>,
        fence: Fence<'_>,
    ) {
        inv.arg(self.keys.prefix())
            .arg(&job.id)
            .arg(state.as_str())
            .arg(now_ms)
            .arg(self.retention_secs)
            .arg(if update.count_run { "1" } else { "0" })
            .arg(match fence {
                Fence::None => String::new(),
                Fence::Claim(t) => format!("c:{t}"),
                Fence::Own(t) => format!("o:{t}"),
            })
            .arg(job.kind.as_str())
            .arg(now_ms);
        for (k, v) in Self::base_fields(job, max_attempts) {
            inv.arg(k).arg(v);
        }
        inv.arg("--");
        let mut set = |k: &str, v: String| {
            inv.arg(k).arg(v);
        };
        if let Some(a) = update.attempts {
            set("attempts", a.to_string());
        }
        if let Some(m) = update.max_attempts {
            set("max_attempts", m.to_string());
        }
        if let Some(e) = update.last_error {
            set("last_error", e.to_string());
        }
        if let Some(c) = update.error_class {
            set("error_class", c.to_string());
        }
        if let Some(t) = update.started_ms {
            set("started_ms", t.to_string());
        }
        if let Some(t) = update.finished_ms {
            set("finished_ms", t.to_string());
        }
        match update.next_run_ms {
            Some(Some(t)) => set("next_run_ms", t.to_string()),
            Some(None) => set("next_run_ms", "\0".into()),
            None => {}
        }
        if let Some(w) = update.worker {
            set("worker", w.to_string());
        }
        if let Some(s) = update.summary {
            set("summary", s.to_string());
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, redis::RedisError> {
        let h: HashMap<String, String> = self.conn.clone().hgetall(self.keys.job(id)).await?;
        Ok(JobRecord::from_hash(h))
    }

    /// Newest first. `cursor` is the `next_cursor` of the previous page.
    pub async fn list(
        &self,
        kind: Option<JobKind>,
        state: Option<JobState>,
        page_size: usize,
        cursor: Option<&str>,
    ) -> Result<Page, redis::RedisError> {
        let idx = self.keys.jobs_index(kind, state);
        let (max, after_id) = match cursor.and_then(parse_cursor) {
            Some((score, id)) => (score.to_string(), Some(id)),
            None => ("+inf".to_string(), None),
        };
        let mut conn = self.conn.clone();
        let mut items = Vec::with_capacity(page_size);
        let mut offset = 0usize;
        let mut last: Option<(i64, String)> = None;
        let mut stale = Vec::new();
        // Ties on the cursor's score and records that expired since they were indexed are
        // skipped; both are rare, so this loop almost always runs once.
        'outer: loop {
            let batch = page_size + 16;
            let rows: Vec<(String, f64)> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(&idx)
                .arg(&max)
                .arg("-inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(offset)
                .arg(batch)
                .query_async(&mut conn)
                .await?;
            let n = rows.len();
            let mut pipe = redis::pipe();
            for (id, _) in &rows {
                pipe.hgetall(self.keys.job(id));
            }
            let hashes: Vec<HashMap<String, String>> = if n == 0 {
                vec![]
            } else {
                pipe.query_async(&mut conn).await?
            };
            for ((id, score), h) in rows.into_iter().zip(hashes) {
                let score = score as i64;
                if let Some(after) = &after_id
                    && max == score.to_string()
                    && id.as_str() >= after.as_str()
                {
                    continue;
                }
                match JobRecord::from_hash(h) {
                    Some(r) => {
                        if items.len() == page_size {
                            break 'outer;
                        }
                        last = Some((score, id));
                        items.push(r);
                    }
                    None => stale.push(id),
                }
            }
            if n < batch {
                last = None;
                break;
            }
            offset += n;
        }
        if !stale.is_empty() {
            let _: Result<(), _> = conn.zrem(&idx, &stale).await;
        }
        let next_cursor = if items.len() == page_size {
            last.map(|(s, id)| format!("{s}:{id}"))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Records per state for a kind (within the retention window).
    pub async fn counts(
        &self,
        kind: Option<JobKind>,
    ) -> Result<Vec<(JobState, u64)>, redis::RedisError> {
        let mut pipe = redis::pipe();
        for s in JobState::ALL {
            pipe.zcard(self.keys.jobs_index(kind, Some(s)));
        }
        let n: Vec<u64> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(JobState::ALL.into_iter().zip(n).collect())
    }
}

/// `"<score>:<id>"` → (score, id).
fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (s, id) = c.split_once(':')?;
    Some((s.parse().ok()?, id.to_string()))
}

/// Whether a cursor string is well formed (for the API's 400).
pub fn valid_cursor(c: &str) -> bool {
    parse_cursor(c).is_some()
}
