//! The job payload. All three queues carry the same struct; `kind` says which body runs.
//!
//! Ids are deterministic per (kind, params, tick): `fetch-ticker:upbit:1763800200`,
//! `fetch-fx:1763800200`, `compute-premium:1763800200`, so the cron sources of N replicas
//! produce one job per tick. Manual triggers get `fetch-fx:manual:<ulid>`. Retry attempt `n > 1`
//! of a job runs as the apalis task `<id>~<n>` (see [`crate::runner`]); the job id stays the same.

use chrono::{DateTime, Utc};
use domain::{JobKind, Venue};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Logical job id, stable across attempts.
    pub id: String,
    pub kind: JobKind,
    /// The venue of a `fetch-ticker` job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<Venue>,
    /// Nominal tick (unix seconds) this job belongs to; for manual jobs, the trigger time.
    pub tick: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Triggered by an operator rather than by cron (never dropped as late).
    #[serde(default)]
    pub manual: bool,
    /// Attempts allowed in all; 0 means the kind's policy (`retry.*.max_attempts`).
    #[serde(default)]
    pub max_attempts: u32,
}

impl Job {
    pub fn for_tick(kind: JobKind, venue: Option<Venue>, tick: i64) -> Self {
        let id = match (kind, venue) {
            (JobKind::FetchTicker, Some(v)) => format!("{kind}:{v}:{tick}"),
            _ => format!("{kind}:{tick}"),
        };
        Job {
            id,
            kind,
            venue,
            tick,
            attempt: 1,
            manual: false,
            max_attempts: 0,
        }
    }

    pub fn manual(kind: JobKind, venue: Option<Venue>, now: DateTime<Utc>) -> Self {
        let ulid = ulid::Ulid::generate();
        let id = match venue {
            Some(v) => format!("{kind}:{v}:manual:{ulid}"),
            None => format!("{kind}:manual:{ulid}"),
        };
        Job {
            id,
            kind,
            venue,
            tick: now.timestamp(),
            attempt: 1,
            manual: true,
            max_attempts: 0,
        }
    }

    /// The apalis task id of this attempt.
    pub fn task_id(&self) -> String {
        task_id(&self.id, self.attempt)
    }

    /// The same job, one attempt later.
    pub fn next_attempt(&self) -> Job {
        Job {
            attempt: self.attempt + 1,
            ..self.clone()
        }
    }
}

/// The apalis task id of attempt `attempt` of job `job_id`: the job id for the first attempt,
/// `<id>~<n>` for attempt n > 1. The scripts that look a task up from a record in Redis use the
/// same rule in Lua (`lua/task_id.lua`); a test below checks that both agree.
pub fn task_id(job_id: &str, attempt: u32) -> String {
    if attempt <= 1 {
        job_id.to_string()
    } else {
        format!("{job_id}~{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_ids_are_deterministic() {
        let a = Job::for_tick(JobKind::FetchTicker, Some(Venue::Upbit), 1763800200);
        let b = Job::for_tick(JobKind::FetchTicker, Some(Venue::Upbit), 1763800200);
        assert_eq!(a, b);
        assert_eq!(a.id, "fetch-ticker:upbit:1763800200");
        assert_eq!(
            Job::for_tick(JobKind::FetchFx, None, 1763800200).id,
            "fetch-fx:1763800200"
        );
        assert_eq!(
            a.next_attempt().task_id(),
            "fetch-ticker:upbit:1763800200~2"
        );
    }

    #[test]
    fn a_successor_task_id_is_the_job_id_and_its_attempt() {
        assert_eq!(task_id("fetch-fx:7", 0), "fetch-fx:7");
        assert_eq!(task_id("fetch-fx:7", 1), "fetch-fx:7");
        assert_eq!(task_id("fetch-fx:7", 2), "fetch-fx:7~2");
        assert_eq!(task_id("fetch-fx:7", 12), "fetch-fx:7~12");
    }

    /// The Lua helper prepended to the trigger and abandon scripts, run in Redis.
    #[test]
    fn the_lua_task_id_agrees_with_this_one() {
        let script = redis::Script::new(concat!(
            include_str!("lua/task_id.lua"),
            "return task_id(ARGV[1], tonumber(ARGV[2]))",
        ));
        let mut conn = redis::Client::open("redis://127.0.0.1:6379/")
            .and_then(|c| c.get_connection())
            .expect("Redis at 127.0.0.1:6379");
        for id in [
            "fetch-fx:7",
            "fetch-ticker:upbit:manual:01JC0000000000000000000000",
        ] {
            for attempt in [0, 1, 2, 3, 12, 1_000_000] {
                let lua: String = script
                    .arg(id)
                    .arg(attempt)
                    .invoke(&mut conn)
                    .expect("the script runs");
                assert_eq!(lua, task_id(id, attempt), "attempt {attempt}");
            }
        }
    }

    #[test]
    fn manual_ids_are_unique() {
        let now = Utc::now();
        let a = Job::manual(JobKind::FetchFx, None, now);
        let b = Job::manual(JobKind::FetchFx, None, now);
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("fetch-fx:manual:"));
    }
}
