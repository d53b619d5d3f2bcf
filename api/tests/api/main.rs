//! Integration tests of the HTTP API against the real local Redis and PostgreSQL. Each test gets
//! its own Redis prefix and database (see `support::spawn_app`) and seeds the cache directly,
//! so no worker runs.

mod dashboard;
mod executable;
mod fx_age;
mod jobs;
mod ops;
mod outage;
mod positions;
mod premiums;
mod quotes;
mod streams;
mod support;
mod table;

// Dependencies of the library that these tests do not name.
use {
    base64 as _, bytes as _, futures as _, metrics_exporter_prometheus as _, poem as _,
    poem_openapi as _, queue as _, serde as _, subtle as _, thiserror as _, tracing as _,
};
