//! Tests of the runner.

use super::{Failure, Handler, run};
use crate::{Enqueuer, Job};

fn assert_send<T: Send>(_: &T) {}

struct Noop;
impl Handler for Noop {
    async fn execute(&self, _: &Job) -> Result<String, Failure> {
        Ok(String::new())
    }
}

/// Compiles only if the runner's future can move between threads (apalis needs that).
#[allow(dead_code)]
fn run_future_is_send(q: &Enqueuer, job: Job) {
    assert_send(&run(q, &Noop, job, "w"));
}
