//! premium-spread's queue layer on apalis-redis: everything about a job that is not what the job
//! does. "How is a job retried?" is [`runner`] and [`retry`]; "how is it deduplicated?" is
//! [`enqueue`]; "what does the API show?" is [`records`]; "why does Redis stay flat?" is
//! [`janitor`]; "why does a backlog not wedge apalis?" is [`drain`]; "why is pickup fast?" is
//! [`wake`].
//!
//! - [`payload`]: the one job payload every queue carries, with deterministic ids per tick.
//! - [`enqueue`]: pushing into the apalis-redis queues (dedup by task id), manual triggers,
//!   re-runs, queue depth; [`enqueue::queue_config`] is the one apalis configuration.
//! - [`runner`]: one attempt of a job with its record, timeout, panic guard and retry decision;
//!   it runs any [`runner::Handler`] (the worker's job bodies).
//! - [`retry`]: exponential backoff with equal jitter (the formula is written there).
//! - [`records`]: job records (state, attempts, last error, timings) with O(page) listings.
//! - [`janitor`]: removes finished task data and trims indexes after the retention window.
//! - [`drain`]: moves a pile-up of due tasks to the active list in chunks.
//! - [`wake`]: wake-on-push, so idle workers pick up a due task at once.
//! - [`consumers`]: the apalis workers of a process, built one way for the worker and the bench.
//! - [`metrics_names`]: the metric names the queue and the worker publish.
//! - `src/lua/`: the Redis scripts the modules run, one file per script named after what it
//!   does (`transition_record.lua`, `claim_trigger.lua`, …), each opening with its KEYS and ARGV.
//!   `index.lua` (a record's key and index sets, the index move of a state change) and
//!   `task_id.lua` (an attempt's task id, as [`payload::task_id`]) are helpers prepended at
//!   compile time to the scripts that need them.
//!
//! The janitor, the drain and the repair read apalis-redis' private keys and statuses; the
//! dependency is pinned to `=1.0.0` and `tests/apalis_contract.rs` fails when they change.

pub mod consumers;
pub mod drain;
pub mod enqueue;
pub mod janitor;
pub mod metrics_names;
pub mod payload;
pub mod records;
pub mod retry;
pub mod runner;
pub mod wake;

pub use enqueue::{Enqueuer, PushOutcome, QueueError, Triggered, queue_config};
pub use payload::Job;
pub use records::{JobRecord, Records};
pub use runner::{Failure, Handler};
