//! End-to-end tests of the job pipeline against the real local Redis and PostgreSQL and the
//! market simulator. Each test has its own Redis key prefix and its own database.

mod alerts;
mod answers;
mod cache;
// The DevTools protocol client is the bench's (`premium-bench dashboard` uses it too).
#[path = "../../bench/src/cdp.rs"]
mod cdp;
mod chaos;
mod clients;
mod dashboard;
mod ecb;
mod executable;
mod faults;
mod freshness;
mod gate;
mod history;
mod illiquid;
mod ops;
mod pipeline;
mod processes;
mod reliability;
mod sentinel;
mod spool;
mod status_strip;
mod support;
mod triggers;
mod try_it;
mod universe;
mod up;

// Dependencies of the binary, not of these tests.
use clap as _;
use reqwest as _;
